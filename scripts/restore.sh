#!/usr/bin/env bash
# scripts/restore.sh BACKUP: puts back what scripts/backup.sh saved in the
# folder BACKUP. Stop every globalchat instance first, and start them
# again after.
#   MySQL: the dump is loaded into the database it came from (created if
#   missing, its tables replaced), through the MySQL client.
#   Redis: Redis must be stopped. The snapshot becomes REDIS_DIR's dump
#   file, and its append-only file is made from it: Redis with `appendonly
#   yes` loads only its append-only file at start, and ignores a dump
#   file when that is missing. So a redis-server of the script's own (on a
#   Unix socket, no TCP port) loads the snapshot, turns appendonly on
#   (which writes the new append-only folder) and stops; the old folder is
#   moved aside first. Start Redis after. Run it as Redis's user (as root,
#   the new files are given to the owner of REDIS_DIR).
#
# Settings, from the environment: MYSQL_HOST (127.0.0.1), MYSQL_PORT
# (3306), MYSQL_USER (root: the dump creates the database), MYSQL_PWD;
# REDIS_DIR (Redis's `dir`, e.g. /var/lib/redis), REDIS_DBFILENAME
# (dump.rdb) and REDIS_AOF_DIRNAME (appendonlydir) as in Redis's config;
# RESTORE_SKIP_REDIS=1 leaves Redis alone.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BACKUP-FOLDER" >&2
  exit 2
fi
backup=$1
mysql_host=${MYSQL_HOST:-127.0.0.1}
mysql_port=${MYSQL_PORT:-3306}
mysql_user=${MYSQL_USER:-root}

(cd "$backup" && sha256sum --check --quiet SHA256SUMS) || {
  echo "restore: $backup does not match its SHA256SUMS" >&2
  exit 1
}
client=$(command -v mariadb || command -v mysql || true)
if [ -z "$client" ]; then
  echo "restore: neither mariadb nor mysql (the client) is installed" >&2
  exit 1
fi

if [ "${RESTORE_SKIP_REDIS:-}" != 1 ]; then
  if [ -z "${REDIS_DIR:-}" ] || [ ! -f "$backup/redis.rdb" ]; then
    echo "restore: set REDIS_DIR to Redis's folder (and stop Redis), or RESTORE_SKIP_REDIS=1" >&2
    exit 1
  fi
fi

echo "restore: MySQL $mysql_host:$mysql_port" >&2
gunzip -c "$backup/mysql.sql.gz" |
  "$client" --no-defaults --host="$mysql_host" --port="$mysql_port" --user="$mysql_user" --default-character-set=utf8mb4

if [ "${RESTORE_SKIP_REDIS:-}" != 1 ]; then
  dbname=${REDIS_DBFILENAME:-dump.rdb}
  aofname=${REDIS_AOF_DIRNAME:-appendonlydir}
  if [ -e "$REDIS_DIR/$aofname" ]; then
    aside="$REDIS_DIR/$aofname.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
    mv "$REDIS_DIR/$aofname" "$aside"
    echo "restore: Redis's append-only folder moved to $aside" >&2
  fi
  cp "$backup/redis.rdb" "$REDIS_DIR/$dbname.restoring"
  mv "$REDIS_DIR/$dbname.restoring" "$REDIS_DIR/$dbname"
  sockdir=$(mktemp -d)
  sock="$sockdir/redis.sock"
  redis-server --port 0 --unixsocket "$sock" --dir "$REDIS_DIR" --dbfilename "$dbname" \
    --appenddirname "$aofname" --appendonly no --save "" --daemonize no >"$sockdir/redis.log" 2>&1 &
  pid=$!
  # The server of its own has no password: the one for the real Redis must
  # not be sent to it.
  rcli() { env -u REDISCLI_AUTH redis-cli -s "$sock" "$@"; }
  for _ in $(seq 300); do
    [ "$(rcli PING 2>/dev/null)" = PONG ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$sockdir/redis.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "restore: Redis snapshot loaded: $(rcli DBSIZE) keys; writing the append-only file" >&2
  rcli CONFIG SET appendonly yes >/dev/null
  # The rewrite is scheduled, runs, and reports; wait for all three.
  for _ in $(seq 3000); do
    info=$(rcli INFO persistence | tr -d '\r')
    if grep -q '^aof_rewrite_in_progress:0' <<<"$info" && grep -q '^aof_rewrite_scheduled:0' <<<"$info" &&
      grep -q '^aof_enabled:1' <<<"$info"; then
      break
    fi
    sleep 0.1
  done
  if ! grep -q '^aof_last_bgrewrite_status:ok' <<<"$info"; then
    echo "restore: Redis could not write its append-only file:" >&2
    cat "$sockdir/redis.log" >&2
    rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    exit 1
  fi
  rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$pid" || true
  rm -rf "$sockdir"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R --reference="$REDIS_DIR" "$REDIS_DIR/$dbname" "$REDIS_DIR/$aofname"
  fi
  echo "restore: Redis's $REDIS_DIR/$aofname made from the snapshot: start Redis now" >&2
fi
echo "restore: done; start the instances" >&2

#!/usr/bin/env bash
# scripts/backup.sh DEST: a backup of globalchat's state into a new folder
# DEST/globalchat-<UTC time>/, printed at the end:
#   mysql.sql.gz  every table of the database, one consistent snapshot
#                 (mariadb-dump or mysqldump --single-transaction: InnoDB
#                 reads one point in time, without locking the writers)
#   redis.rdb     a snapshot of Redis (redis-cli --rdb, over the network):
#                 the spool (messages acknowledged while MySQL was away,
#                 not in MySQL yet), the seq counter, recovery sessions
#   SHA256SUMS    the files' checksums, which restore.sh checks
# MySQL is dumped first, Redis second: the Redis snapshot's counter is then
# at or above every seq in the dump, and its spool holds every message
# acknowledged but not yet in MySQL at the dump (some may be in both: the
# store takes a message once, by id).
#
# Settings, from the environment (the clients' own variables for the
# passwords, so that they never show in the process list):
#   MYSQL_HOST (127.0.0.1), MYSQL_PORT (3306), MYSQL_USER (globalchat),
#   MYSQL_PWD, MYSQL_DATABASE (globalchat);
#   REDIS_HOST (127.0.0.1), REDIS_PORT (6379), REDISCLI_AUTH (the password),
#   REDIS_USER (an ACL user, if any); BACKUP_SKIP_REDIS=1 leaves Redis out
#   (a deployment without Redis).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DEST-FOLDER" >&2
  exit 2
fi
mysql_host=${MYSQL_HOST:-127.0.0.1}
mysql_port=${MYSQL_PORT:-3306}
mysql_user=${MYSQL_USER:-globalchat}
database=${MYSQL_DATABASE:-globalchat}
redis_host=${REDIS_HOST:-127.0.0.1}
redis_port=${REDIS_PORT:-6379}

dump=$(command -v mariadb-dump || command -v mysqldump || true)
if [ -z "$dump" ]; then
  echo "backup: neither mariadb-dump nor mysqldump is installed" >&2
  exit 1
fi

out="$1/globalchat-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
# A backup that fails half-way must not look like one.
trap 'rm -rf "$out"' ERR

echo "backup: MySQL $mysql_host:$mysql_port/$database" >&2
"$dump" --no-defaults --host="$mysql_host" --port="$mysql_port" --user="$mysql_user" \
  --single-transaction --quick --hex-blob --routines --triggers --events \
  --default-character-set=utf8mb4 --databases "$database" | gzip >"$out/mysql.sql.gz"

if [ "${BACKUP_SKIP_REDIS:-}" != 1 ]; then
  echo "backup: Redis $redis_host:$redis_port" >&2
  user=()
  if [ -n "${REDIS_USER:-}" ]; then user=(--user "$REDIS_USER"); fi
  redis-cli -h "$redis_host" -p "$redis_port" "${user[@]}" --no-auth-warning --rdb "$out/redis.rdb" >&2
fi

(cd "$out" && sha256sum -- * >SHA256SUMS)
echo "$out"

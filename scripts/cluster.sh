#!/usr/bin/env bash
# make cluster: the production shape on one machine, for a person to try,
# from the files in deploy/ as shipped: Redis (deploy/redis.conf), MariaDB
# (deploy/mariadb.cnf), globalchat instances (the settings of
# deploy/globalchat.env.example, secrets generated) and nginx
# (deploy/nginx.conf), all in a temporary folder; Ctrl-C stops everything.
#
# Everything listens on CLUSTER_HOST (default 127.0.0.1: nothing reachable
# from the network). Ports: CLUSTER_PORT (nginx), CLUSTER_REDIS_PORT,
# CLUSTER_MYSQL_PORT and CLUSTER_PORTS (the instances', comma-separated;
# how many there are is how many instances run, default 3); each one not
# given is a free port picked at start. For example:
#   make cluster CLUSTER_PORT=8080 CLUSTER_PORTS=3000,3001,3002
set -euo pipefail
cd "$(dirname "$0")/.."
host=${CLUSTER_HOST:-127.0.0.1}
dir=$(mktemp -d /tmp/globalchat-cluster.XXXX)
pids=()  # Redis and MariaDB
front=() # the instances and nginx

cleanup() {
  echo
  echo "cluster: stopping"
  # The instances first, so that they drain while Redis and MariaDB still
  # answer; then those.
  for pid in "${front[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${front[@]}"; do wait "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# freeport prints a port nothing listens on now.
freeport() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

port=${CLUSTER_PORT:-$(freeport)}
redis_port=${CLUSTER_REDIS_PORT:-$(freeport)}
mysql_port=${CLUSTER_MYSQL_PORT:-$(freeport)}
if [ -n "${CLUSTER_PORTS:-}" ]; then
  IFS=, read -r -a ports <<<"$CLUSTER_PORTS"
else
  ports=("$(freeport)" "$(freeport)" "$(freeport)")
fi
redis_password=$(secret)
mysql_password=$(secret)

go build -o "$dir/globalchat" ./cmd/globalchat

# Redis as deploy/redis.conf has it; only where it listens, its folder and
# its password change.
mkdir -p "$dir/redis"
redis-server deploy/redis.conf --port "$redis_port" --bind "$host" --dir "$dir/redis" \
  --requirepass "$redis_password" --daemonize no >"$dir/redis.log" 2>&1 &
pids+=($!)

# MariaDB with deploy/mariadb.cnf; the folders and the port are this
# cluster's.
mkdir -p "$dir/mysql"
mariadb-install-db --no-defaults --datadir="$dir/mysql" --auth-root-authentication-method=normal \
  --skip-test-db >"$dir/mariadb-install.log" 2>&1
mariadbd --defaults-file=deploy/mariadb.cnf --datadir="$dir/mysql" --port="$mysql_port" \
  --bind-address="$host" --socket="$dir/mysql.sock" --pid-file="$dir/mysql.pid" \
  --user="$(id -un)" >"$dir/mariadb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  mariadb --no-defaults -h"$host" -P"$mysql_port" -uroot -e 'select 1' >/dev/null 2>&1 && break
  sleep 0.2
done
mariadb --no-defaults -h"$host" -P"$mysql_port" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS globalchat CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'globalchat'@'%' IDENTIFIED BY '$mysql_password';
GRANT ALL ON globalchat.* TO 'globalchat'@'%';
SQL

# The instances' settings: deploy/globalchat.env.example, its secrets and
# addresses replaced.
sed -e "s|^MYSQL_DSN=.*|MYSQL_DSN=globalchat:$mysql_password@tcp($host:$mysql_port)/globalchat|" \
  -e "s|^REDIS_URL=.*|REDIS_URL=redis://:$redis_password@$host:$redis_port/0|" \
  -e "s|^GUEST_SECRET=.*|GUEST_SECRET=$(secret)|" \
  -e "s|^ADMIN_TOKEN=.*|ADMIN_TOKEN=$(secret)|" \
  -e "s|^TRUSTED_PROXIES=.*|TRUSTED_PROXIES=$host|" \
  -e "s|^CORS_ORIGINS=.*|CORS_ORIGINS=http://$host:$port|" \
  -e "s|^LOG_FORMAT=.*|LOG_FORMAT=text|" \
  deploy/globalchat.env.example >"$dir/globalchat.env"
for i in "${!ports[@]}"; do
  (
    # As systemd's EnvironmentFile reads it: one NAME=value a line.
    while IFS= read -r line; do
      case $line in '' | '#'*) continue ;; esac
      export "${line?}"
    done <"$dir/globalchat.env"
    export PORT="${ports[$i]}" HOST="$host" INSTANCE_ID="local-$i"
    exec "$dir/globalchat" 2>"$dir/instance-$i.log"
  ) &
  front+=($!)
done

# nginx with deploy/nginx.conf: its upstream servers become the
# instances, its listen this cluster's address.
servers=""
for p in "${ports[@]}"; do servers+="    server $host:$p max_fails=0;\\n"; done
awk -v servers="$servers" '
  /^[[:space:]]*server 127\.0\.0\.1:300[0-9]/ { if (!done) { printf "%s", servers; done = 1 } next }
  { print }
' deploy/nginx.conf | sed "s/^\(\s*\)listen 80;/\1listen $host:$port;/" >"$dir/site.conf"
cat >"$dir/nginx.conf" <<CONF
$([ "$(id -u)" -eq 0 ] && echo "user root;")
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/site.conf;
}
CONF
nginx -p "$dir" -c "$dir/nginx.conf" &
front+=($!)

instances=$(printf "$host:%s " "${ports[@]}")
echo "cluster: open http://$host:$port/ (instances on ${instances% }, Redis on $host:$redis_port, MariaDB on $host:$mysql_port)"
echo "cluster: logs and settings (globalchat.env: the admin token, the passwords) in $dir"
echo "cluster: try: redis-cli -h $host -p $redis_port --askpass SMEMBERS global-chat:online-users"
echo "cluster: Ctrl-C stops everything"
wait

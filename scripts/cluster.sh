#!/usr/bin/env bash
# make cluster: the production shape on one machine, for a person to try.
# Starts Redis, MariaDB, three globalchat instances (3000-3002) and nginx
# (deploy/nginx.conf, on port 8080) from Debian's packages, all in a
# temporary folder; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=$(mktemp -d /tmp/globalchat-cluster.XXXX)
port=${CLUSTER_PORT:-8080}
redis_port=${CLUSTER_REDIS_PORT:-6380}
mysql_port=${CLUSTER_MYSQL_PORT:-3307}
pids=()

cleanup() {
  echo
  echo "cluster: stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$dir/globalchat" ./cmd/globalchat

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly yes \
  --maxmemory 256mb --maxmemory-policy noeviction >"$dir/redis.log" 2>&1 &
pids+=($!)

mkdir -p "$dir/mysql"
mariadb-install-db --no-defaults --datadir="$dir/mysql" --auth-root-authentication-method=normal --skip-test-db >"$dir/mariadb-install.log" 2>&1
mariadbd --no-defaults --datadir="$dir/mysql" --port="$mysql_port" --bind-address=127.0.0.1 \
  --socket="$dir/mysql.sock" --user="$(id -un)" >"$dir/mariadb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do mariadb -h127.0.0.1 -P"$mysql_port" -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
mariadb -h127.0.0.1 -P"$mysql_port" -uroot -e 'CREATE DATABASE IF NOT EXISTS globalchat CHARACTER SET utf8mb4'

for i in 0 1 2; do
  PORT=$((3000 + i)) INSTANCE_ID="local-$i" REDIS_URL="redis://127.0.0.1:$redis_port/0" \
    MYSQL_DSN="root@tcp(127.0.0.1:$mysql_port)/globalchat" LOG_FORMAT=text \
    "$dir/globalchat" 2>"$dir/instance-$i.log" &
  pids+=($!)
done

sed "s/listen 80;/listen 127.0.0.1:$port;/" deploy/nginx.conf >"$dir/site.conf"
cat >"$dir/nginx.conf" <<CONF
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
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
pids+=($!)

echo "cluster: open http://127.0.0.1:$port/ (instances on 3000-3002, Redis on $redis_port, MariaDB on $mysql_port)"
echo "cluster: logs in $dir; try: redis-cli -p $redis_port SMEMBERS global-chat:online-users"
echo "cluster: Ctrl-C stops everything"
wait

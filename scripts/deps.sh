#!/usr/bin/env bash
# Installs what building and testing globalchat needs and is missing: Debian
# packages (redis-server, mariadb-server, nginx, chromium, python3-socketio, systemd), the npm packages
# of jstest/ and web/, and the Go modules. Safe to run again: it installs
# only what is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null || need+=(mariadb-client)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs npm)
# systemd-analyze checks the shipped unit (deploy/globalchat@.service).
command -v systemd-analyze >/dev/null || need+=(systemd)
# The Python client of the tests (pyclient/) runs on Debian's interpreter,
# which these packages install into.
/usr/bin/python3 -c 'import socketio, requests, websocket' 2>/dev/null ||
  need+=(python3 python3-socketio python3-requests python3-websocket)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

for dir in jstest web; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

go mod download
# staticcheck, at the version the Makefile pins, built once into Go's cache.
go run "$(sed -n 's/^STATICCHECK = //p' Makefile)" -version >/dev/null

#!/usr/bin/env bash
# make bench: measures globalchat ("project") and the reference design in
# Node.js (bench/reference-node, "reference") side by side with
# cmd/chatbench, on one Redis and one MariaDB started here on free loopback
# ports in a temporary folder, then prints one table and writes it into
# docs/benchmarks.md (between its bench:begin/end markers).
#
# Scenarios, each run on a fresh server (and fresh Redis and database):
#   fanout      2 instances, BENCH_FANOUT_CLIENTS receivers, BENCH_FANOUT_RATE msg/s
#   fanout-max  2 instances, stepping through BENCH_MAX_RATES until p99 > 100 ms
#   storm       1 instance, BENCH_STORM_CLIENTS connect at once, a probe chats
#   idle        1 instance, BENCH_IDLE_CLIENTS idle connections: memory, CPU
#   ingest      1 instance, BENCH_INGEST_SENDERS senders as fast as acks allow
#   churn       1 instance, BENCH_CHURN_CLIENTS receivers, each cut every
#               BENCH_CHURN_CUT for BENCH_CHURN_AWAY and coming back with
#               recovery, while BENCH_CHURN_MESSAGES go out at BENCH_CHURN_RATE/s
#   redeploy    2 instances behind nginx (deploy/nginx.conf: ip_hash),
#               BENCH_REDEPLOY_CLIENTS receivers and a sender at
#               BENCH_REDEPLOY_RATE/s; chatbench restarts each instance in
#               turn with restart.sh (SIGTERM, exit, start again)
#
# BENCH_SCALE=small runs everything small (about 3 minutes); the default
# sizes are the targets in docs/benchmarks.md (about 27 minutes: churn and
# redeploy take 10 of them, the reference most).
# BENCH_ONLY="fanout idle" runs only those scenarios; BENCH_TARGETS="project"
# only that target. Results (JSON), logs and profiles stay in BENCH_OUT when
# set. BENCH_PROFILE=1 builds the project with net/http/pprof (bench/pprof,
# added at build time, not in the product) on every instance (its address
# is PPROF_ADDR in $dir/instance-I.sh, for profiles and traces taken by
# hand) and has chatbench take CPU and heap profiles of its first instance
# into BENCH_OUT, and one of itself; such a run does not touch the doc.
# BENCH_DOC= (empty) leaves the doc alone too. BENCH_ENV="MAX_OPENING=512"
# adds to the environment of the project's instances (words, no spaces in
# a value).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=$(mktemp -d /tmp/globalchat-bench.XXXX)
out=${BENCH_OUT:-$dir/results}
mkdir -p "$out"
pids=() # everything this script started, but the servers (instance-*.pid)

cleanup() {
  stop 2>/dev/null || true # not yet defined when the build fails
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${BENCH_OUT:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sizes: the targets by default, a quick run with BENCH_SCALE=small.
if [ "${BENCH_SCALE:-}" = small ]; then
  : "${BENCH_FANOUT_CLIENTS:=200}" "${BENCH_FANOUT_RATE:=50}" "${BENCH_FANOUT_SECONDS:=5}"
  : "${BENCH_MAX_CLIENTS:=200}" "${BENCH_MAX_RATES:=10,25,50,100,200,400,800}" "${BENCH_MAX_SECONDS:=3}"
  : "${BENCH_STORM_CLIENTS:=1000}" "${BENCH_IDLE_CLIENTS:=1000}" "${BENCH_IDLE_SECONDS:=5}"
  : "${BENCH_INGEST_SENDERS:=20}" "${BENCH_INGEST_SECONDS:=5}" "${BENCH_TIMEOUT:=30s}"
  : "${BENCH_CHURN_CLIENTS:=200}" "${BENCH_CHURN_MESSAGES:=40}" "${BENCH_CHURN_RATE:=4}" "${BENCH_CHURN_CUT:=3s}" "${BENCH_CHURN_AWAY:=500ms}"
  : "${BENCH_REDEPLOY_CLIENTS:=200}" "${BENCH_REDEPLOY_RATE:=4}"
else
  : "${BENCH_FANOUT_CLIENTS:=1000}" "${BENCH_FANOUT_RATE:=100}" "${BENCH_FANOUT_SECONDS:=30}"
  : "${BENCH_MAX_CLIENTS:=1000}" "${BENCH_MAX_RATES:=5,10,15,20,30,40,60,80,100,120,150,200,250,300,400,600,800,1000,1200,1600}" "${BENCH_MAX_SECONDS:=10}"
  : "${BENCH_STORM_CLIENTS:=15000}" "${BENCH_IDLE_CLIENTS:=15000}" "${BENCH_IDLE_SECONDS:=20}"
  : "${BENCH_INGEST_SENDERS:=50}" "${BENCH_INGEST_SECONDS:=20}" "${BENCH_TIMEOUT:=90s}"
  # The published dropped-connection test: 10,000 clients, 120 broadcasts
  # at 2 a second, each connection cut every 15 s for about 2 s.
  : "${BENCH_CHURN_CLIENTS:=10000}" "${BENCH_CHURN_MESSAGES:=120}" "${BENCH_CHURN_RATE:=2}" "${BENCH_CHURN_CUT:=15s}" "${BENCH_CHURN_AWAY:=2s}"
  # The published redeploy test: 10,000 clients, a message every 0.5 s.
  : "${BENCH_REDEPLOY_CLIENTS:=10000}" "${BENCH_REDEPLOY_RATE:=2}"
fi
: "${BENCH_SENDERS:=10}" "${BENCH_PROBE_EVERY:=1s}" "${BENCH_ONLY:=fanout fanout-max storm idle ingest churn redeploy}" "${BENCH_TARGETS:=project reference}"
# The servers' per-user limit; chatbench spreads its sends over enough users.
rate_limit=10000

# free_port prints a loopback port nobody listens on, below the ephemeral
# range so that the load generator's own connections cannot take it.
used_ports=" "
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    case "$used_ports" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports+="$p "
      echo "$p"
      return
    fi
  done
  echo "bench: no free port" >&2
  exit 1
}

# wait_port waits until something listens on the port (at most 30 s).
wait_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: nothing listens on $1; logs in $dir" >&2
  exit 1
}

sbin() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

echo "bench: building into $dir"
if [ "${BENCH_PROFILE:-}" = 1 ]; then
  printf '{"Replace":{"%s/cmd/globalchat/zz_bench_pprof.go":"%s/bench/pprof/pprof.go"}}' "$root" "$root" >"$dir/overlay.json"
  go build -tags benchpprof -overlay "$dir/overlay.json" -o "$dir/globalchat" ./cmd/globalchat
  BENCH_DOC=""
else
  go build -o "$dir/globalchat" ./cmd/globalchat
fi
go build -o "$dir/chatbench" ./cmd/chatbench
if [[ " $BENCH_TARGETS " == *" reference "* ]]; then
  if [ ! -d bench/reference-node/node_modules ] ||
    [ bench/reference-node/package-lock.json -nt bench/reference-node/node_modules/.package-lock.json ]; then
    (cd bench/reference-node && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

# Redis and MariaDB as internal/testenv starts them (no persistence for
# Redis; MariaDB with a bigger buffer pool, and durable commits by default:
# BENCH_MYSQL_FLUSH=2 trades that for speed).
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
  --daemonize no --maxclients 20000 >"$dir/redis.log" 2>&1 &
pids+=($!)
infra_pids=$!
mysql_port=$(free_port)
mkdir -p "$dir/mysql"
maria_opts=(--innodb-buffer-pool-size=256M --innodb-log-file-size=64M
  "--innodb-flush-log-at-trx-commit=${BENCH_MYSQL_FLUSH:-1}" --skip-log-bin
  --performance-schema=OFF --skip-name-resolve --max-connections=500)
"$(sbin mariadb-install-db)" --no-defaults --datadir="$dir/mysql" --auth-root-authentication-method=normal \
  --skip-test-db "${maria_opts[@]}" >"$dir/mariadb-install.log" 2>&1
"$(sbin mariadbd)" --no-defaults --datadir="$dir/mysql" --port="$mysql_port" --bind-address=127.0.0.1 \
  --socket="$dir/mysql.sock" --pid-file="$dir/mariadbd.pid" --tmpdir="$dir" --user="$(id -un)" \
  "${maria_opts[@]}" >"$dir/mariadb.log" 2>&1 &
pids+=($!)
infra_pids+=",$!"
wait_port "$redis_port"
wait_port "$mysql_port"
for _ in $(seq 100); do mariadb -h127.0.0.1 -P"$mysql_port" -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
sql() { mariadb -h127.0.0.1 -P"$mysql_port" -uroot -e "$1"; }

# reset empties Redis and both databases, so each run starts alike.
reset() {
  redis-cli -p "$redis_port" FLUSHALL >/dev/null
  sql 'DROP DATABASE IF EXISTS globalchat; DROP DATABASE IF EXISTS reference;
       CREATE DATABASE globalchat CHARACTER SET utf8mb4; CREATE DATABASE reference CHARACTER SET utf8mb4;'
}

# launcher TARGET I PORT: the script that runs instance I of the target
# on PORT (exec: its pid is the server's), appending to its log.
launcher() {
  local target=$1 i=$2 port=$3 env cmd
  if [ "$target" = project ]; then
    env=(PPROF_ADDR="$pprof" PORT="$port" HOST=127.0.0.1 INSTANCE_ID="bench-$i" REDIS_URL="redis://127.0.0.1:$redis_port/0"
      MYSQL_DSN="root@tcp(127.0.0.1:$mysql_port)/globalchat" RATE_LIMIT_PER_MINUTE=$rate_limit
      RATE_LIMIT_PER_ADDRESS_PER_MINUTE=$rate_limit LOG_LEVEL=warn ${BENCH_ENV:-})
    # Behind nginx the client is named in X-Forwarded-For: the server's
    # per-address bounds then count each client's own address.
    [ "$front" != nginx ] || env+=(TRUSTED_PROXIES=127.0.0.1)
    cmd=("$dir/globalchat")
  else
    env=(PORT="$port" HOST=127.0.0.1 REDIS_URL="redis://127.0.0.1:$redis_port/0" MYSQL_HOST=127.0.0.1
      MYSQL_PORT="$mysql_port" MYSQL_USER=root MYSQL_DATABASE=reference RATE_LIMIT_PER_MINUTE=$rate_limit)
    cmd=(node "$root/bench/reference-node/server.js")
  fi
  printf '#!/usr/bin/env bash\ncd %q || exit 1\nexec env' "$root"
  printf ' %q' "${env[@]}" "${cmd[@]}"
  printf ' >>%q 2>&1 </dev/null\n' "$dir/$target-$i.log"
}

# start TARGET N: N instances of the target, each from its launcher
# ($dir/instance-I.sh, its pid in instance-I.pid, its port in
# instance-I.port: what restart.sh needs); sets urls and server_pids.
start() {
  local target=$1 n=$2 i port
  urls="" server_pids="" pprof_args=() pprof=""
  for i in $(seq "$n"); do
    port=$(free_port)
    if [ "$target" = project ] && [ "${BENCH_PROFILE:-}" = 1 ]; then
      pprof=127.0.0.1:$(free_port)
      [ "$i" != 1 ] || pprof_args=(-pprof "http://$pprof" -profile-dir "$out")
    fi
    launcher "$target" "$i" "$port" >"$dir/instance-$i.sh"
    pprof=""
    chmod +x "$dir/instance-$i.sh"
    echo "$port" >"$dir/instance-$i.port"
    launch "$i"
    urls+="${urls:+,}http://127.0.0.1:$port"
    server_pids+="${server_pids:+,}$(cat "$dir/instance-$i.pid")"
    wait_port "$port"
  done
}

# launch I: runs instance I's launcher in the background.
launch() {
  "$dir/instance-$1.sh" &
  echo $! >"$dir/instance-$1.pid"
}

# alive PID: the process runs (a zombie does not count).
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ]
}

# stop_pid PID SIGNAL: sends it and waits for the exit (30 s, then SIGKILL).
stop_pid() {
  kill "-$2" "$1" 2>/dev/null || return 0
  for _ in $(seq 300); do alive "$1" || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

# stop ends the current run's servers (restarted ones included) and nginx.
stop() {
  local f
  for f in "$dir"/instance-*.pid "$dir"/nginx.pid; do
    [ -e "$f" ] || continue
    stop_pid "$(cat "$f")" "$([ "$f" = "$dir/nginx.pid" ] && echo QUIT || echo TERM)"
    rm -f "$f"
  done
}

# restart.sh I (0-based, as chatbench counts): SIGTERM to instance I+1,
# wait for its exit (the project drains first), start it again from its
# launcher on the same port, wait for the port. chatbench -restart runs it
# and takes its start as the moment of the SIGTERM. It uses this script's
# functions, which chatbench passes on in the environment (export -f).
export dir
export -f alive stop_pid launch wait_port
cat >"$dir/restart.sh" <<'EOF_RESTART'
#!/usr/bin/env bash
set -euo pipefail
i=$(($1 + 1))
stop_pid "$(cat "$dir/instance-$i.pid")" TERM
launch "$i"
wait_port "$(cat "$dir/instance-$i.port")"
EOF_RESTART
chmod +x "$dir/restart.sh"

# start_nginx: nginx in front of the instances (urls), with the deploy
# config (ip_hash by the client's /24, max_fails=0, a refused connection
# or a 503 passed to the next instance), on a free port; sets urls to it.
# Each client is 2 descriptors in nginx (its own and the upstream's) and a
# process may hold 20,000: one worker per 5,000 clients and one more
# (reuseport spreads connections evenly), so none holds more than 10,000.
start_nginx() {
  local port workers servers="" u
  port=$(free_port)
  workers=$((BENCH_REDEPLOY_CLIENTS / 5000 + 1))
  [ "$workers" -ge 2 ] || workers=2
  for u in ${urls//,/ }; do servers+="    server ${u#http://} max_fails=0;\n"; done
  mkdir -p "$dir/nginx"
  awk -v servers="$servers" -v listen="listen 127.0.0.1:$port reuseport;" '
    /^[ \t]*server 127\.0\.0\.1:300[0-9]/ { next }
    /^[ \t]*listen 80;/ { sub(/listen 80;/, listen) }
    { print }
    /^[ \t]*ip_hash;/ { printf "%s", servers }' deploy/nginx.conf >"$dir/nginx/site.conf"
  cat >"$dir/nginx/nginx.conf" <<EOF_NGINX
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes $workers;
worker_rlimit_nofile 19000;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 18000; }
http {
    access_log off;
    client_body_temp_path $dir/nginx/body;
    proxy_temp_path $dir/nginx/proxy;
    fastcgi_temp_path $dir/nginx/fastcgi;
    uwsgi_temp_path $dir/nginx/uwsgi;
    scgi_temp_path $dir/nginx/scgi;
    include $dir/nginx/site.conf;
}
EOF_NGINX
  "$(sbin nginx)" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" >>"$dir/nginx/error.log" 2>&1 &
  echo $! >"$dir/nginx.pid"
  wait_port "$port"
  urls=http://127.0.0.1:$port
}

# scenario NAME INSTANCES chatbench-args...: runs it on every target, the
# clients connecting to the instances, or to nginx in front of them when
# front=nginx.
front=direct
n=0
scenario() {
  local name=$1 instances=$2 target self
  shift 2
  [[ " $BENCH_ONLY " == *" $name "* ]] || return 0
  n=$((n + 1))
  for target in $BENCH_TARGETS; do
    echo "bench: $name on $target"
    reset
    start "$target" "$instances"
    [ "$front" != nginx ] || start_nginx
    self=()
    [ "${#pprof_args[@]}" = 0 ] || self=(-self-profile "$out/$name.chatbench.cpu.pb.gz")
    "$dir/chatbench" -name "$name" -target "$target" -url "$urls" -pid "$server_pids" -infra-pid "$infra_pids" \
      -timeout "$BENCH_TIMEOUT" -json "$out/$n-$name.$target.json" "${pprof_args[@]}" "${self[@]}" "$@" 2>>"$dir/chatbench.log" ||
      echo "bench: $name on $target failed (see $dir/chatbench.log)"
    stop
  done
}

scenario fanout 2 -scenario fanout -clients "$BENCH_FANOUT_CLIENTS" -senders "$BENCH_SENDERS" \
  -rate "$BENCH_FANOUT_RATE" -duration "${BENCH_FANOUT_SECONDS}s"
scenario fanout-max 2 -scenario fanout -clients "$BENCH_MAX_CLIENTS" -senders "$BENCH_SENDERS" \
  -rate "$BENCH_MAX_RATES" -duration "${BENCH_MAX_SECONDS}s" -p99-max 100ms
scenario storm 1 -scenario storm -clients "$BENCH_STORM_CLIENTS" -probe-every "$BENCH_PROBE_EVERY"
scenario idle 1 -scenario idle -settle 5s -clients "$BENCH_IDLE_CLIENTS" -duration "${BENCH_IDLE_SECONDS}s"
scenario ingest 1 -scenario ingest -senders "$BENCH_INGEST_SENDERS" -duration "${BENCH_INGEST_SECONDS}s"
scenario churn 1 -scenario churn -clients "$BENCH_CHURN_CLIENTS" -messages "$BENCH_CHURN_MESSAGES" \
  -rate "$BENCH_CHURN_RATE" -cut-every "$BENCH_CHURN_CUT" -away "$BENCH_CHURN_AWAY"
# The instances' processes change at each restart: no server CPU (-pid "").
front=nginx scenario redeploy 2 -scenario redeploy -clients "$BENCH_REDEPLOY_CLIENTS" -rate "$BENCH_REDEPLOY_RATE" \
  -instances 2 -restart "$dir/restart.sh" -pid ""

echo
doc=${BENCH_DOC-docs/benchmarks.md}
"$dir/chatbench" -report "$out" ${doc:+-md "$doc"}
echo
[ -z "$doc" ] || echo "bench: table written into $doc"
[ -z "${BENCH_OUT:-}" ] || echo "bench: results, logs and profiles in $out and $dir"

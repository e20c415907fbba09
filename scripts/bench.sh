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
#
# BENCH_SCALE=small runs everything small (about 3 minutes); the default
# sizes are the targets in docs/benchmarks.md (about 17 minutes).
# BENCH_ONLY="fanout idle" runs only those scenarios; BENCH_TARGETS="project"
# only that target. Results (JSON), logs and profiles stay in BENCH_OUT when
# set. BENCH_PROFILE=1 builds the project with net/http/pprof (bench/pprof,
# added at build time, not in the product) and has chatbench take CPU and
# heap profiles of its first instance into BENCH_OUT; such a run does not
# touch the doc. BENCH_DOC= (empty) leaves the doc alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=$(mktemp -d /tmp/globalchat-bench.XXXX)
out=${BENCH_OUT:-$dir/results}
mkdir -p "$out"
pids=()   # everything this script started
servers=() # the server processes of the current run

cleanup() {
  for pid in "${servers[@]}" "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
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
else
  : "${BENCH_FANOUT_CLIENTS:=1000}" "${BENCH_FANOUT_RATE:=100}" "${BENCH_FANOUT_SECONDS:=30}"
  : "${BENCH_MAX_CLIENTS:=1000}" "${BENCH_MAX_RATES:=5,10,15,20,30,40,60,80,100,120,150,200,250,300,400,600,800,1000,1200,1600}" "${BENCH_MAX_SECONDS:=10}"
  : "${BENCH_STORM_CLIENTS:=15000}" "${BENCH_IDLE_CLIENTS:=15000}" "${BENCH_IDLE_SECONDS:=20}"
  : "${BENCH_INGEST_SENDERS:=50}" "${BENCH_INGEST_SECONDS:=20}" "${BENCH_TIMEOUT:=90s}"
  # The published dropped-connection test: 10,000 clients, 120 broadcasts
  # at 2 a second, each connection cut every 15 s for about 2 s.
  : "${BENCH_CHURN_CLIENTS:=10000}" "${BENCH_CHURN_MESSAGES:=120}" "${BENCH_CHURN_RATE:=2}" "${BENCH_CHURN_CUT:=15s}" "${BENCH_CHURN_AWAY:=2s}"
fi
: "${BENCH_SENDERS:=10}" "${BENCH_PROBE_EVERY:=1s}" "${BENCH_ONLY:=fanout fanout-max storm idle ingest churn}" "${BENCH_TARGETS:=project reference}"
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

# start TARGET N: N instances of the target; sets urls and server_pids.
start() {
  local target=$1 n=$2 i port
  urls="" server_pids="" pprof_args=()
  servers=()
  for i in $(seq "$n"); do
    port=$(free_port)
    if [ "$target" = project ]; then
      pprof=""
      if [ "${BENCH_PROFILE:-}" = 1 ] && [ "$i" = 1 ]; then
        pprof=127.0.0.1:$(free_port)
        pprof_args=(-pprof "http://$pprof" -profile-dir "$out")
      fi
      PPROF_ADDR=$pprof PORT=$port HOST=127.0.0.1 INSTANCE_ID="bench-$i" REDIS_URL="redis://127.0.0.1:$redis_port/0" \
        MYSQL_DSN="root@tcp(127.0.0.1:$mysql_port)/globalchat" RATE_LIMIT_PER_MINUTE=$rate_limit \
        RATE_LIMIT_PER_ADDRESS_PER_MINUTE=$rate_limit LOG_LEVEL=warn "$dir/globalchat" >>"$dir/project-$i.log" 2>&1 &
    else
      PORT=$port HOST=127.0.0.1 REDIS_URL="redis://127.0.0.1:$redis_port/0" MYSQL_HOST=127.0.0.1 \
        MYSQL_PORT=$mysql_port MYSQL_USER=root MYSQL_DATABASE=reference RATE_LIMIT_PER_MINUTE=$rate_limit \
        node bench/reference-node/server.js >>"$dir/reference-$i.log" 2>&1 &
    fi
    servers+=($!)
    urls+="${urls:+,}http://127.0.0.1:$port"
    server_pids+="${server_pids:+,}$!"
    wait_port "$port"
  done
}

stop() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
  servers=()
}

# scenario NAME INSTANCES chatbench-args...: runs it on every target.
n=0
scenario() {
  local name=$1 instances=$2 target
  shift 2
  [[ " $BENCH_ONLY " == *" $name "* ]] || return 0
  n=$((n + 1))
  for target in $BENCH_TARGETS; do
    echo "bench: $name on $target"
    reset
    start "$target" "$instances"
    "$dir/chatbench" -name "$name" -target "$target" -url "$urls" -pid "$server_pids" -infra-pid "$infra_pids" \
      -timeout "$BENCH_TIMEOUT" -json "$out/$n-$name.$target.json" "${pprof_args[@]}" "$@" 2>>"$dir/chatbench.log" ||
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

echo
doc=${BENCH_DOC-docs/benchmarks.md}
"$dir/chatbench" -report "$out" ${doc:+-md "$doc"}
echo
[ -z "$doc" ] || echo "bench: table written into $doc"
[ -z "${BENCH_OUT:-}" ] || echo "bench: results, logs and profiles in $out and $dir"

#!/usr/bin/env bash
# The cost of the traffic accounting (BANDWIDTH_ACCOUNTING): the fanout
# scenario of scripts/bench.sh on the project alone, BENCH_ROUNDS rounds
# (default 3) of one run with the accounting on and one with it off, in
# alternating order (on-off, off-on, …) so that a machine growing busier
# does not favour one side; then one line per run (fanout p99, server
# cores) and the spread of each side. BENCH_SCALE=small unless set; other
# BENCH_* variables as scripts/bench.sh takes them. Leaves the doc alone.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${BENCH_ROUNDS:-3}
out=$(mktemp -d /tmp/globalchat-accounting.XXXX)
order=(on off)
for r in $(seq "$rounds"); do
  for mode in "${order[@]}"; do
    echo "accounting: round $r, accounting $mode" >&2
    BENCH_SCALE=${BENCH_SCALE:-small} BENCH_ONLY=fanout BENCH_TARGETS=project BENCH_DOC= \
      BENCH_OUT="$out/$r-$mode" BANDWIDTH_ACCOUNTING=$mode ./scripts/bench.sh >"$out/$r-$mode.log" 2>&1
  done
  order=("${order[1]}" "${order[0]}")
done
node - "$out" <<'JS'
const fs = require("node:fs");
const path = require("node:path");
const dir = process.argv[2];
const runs = { on: [], off: [] };
for (const run of fs.readdirSync(dir).filter((d) => fs.statSync(path.join(dir, d)).isDirectory()).sort()) {
  const file = fs.readdirSync(path.join(dir, run)).find((f) => f.endsWith("fanout.project.json"));
  if (!file) { console.log(`${run}: no result (see ${dir}/${run}.log)`); continue; }
  const r = JSON.parse(fs.readFileSync(path.join(dir, run, file), "utf8"));
  const p99 = r.metrics.find((m) => m.name === "latency p99")?.value;
  const mode = run.split("-")[1];
  runs[mode].push({ p99, cores: r.serverCores });
  console.log(`${run.padEnd(6)} accounting ${mode.padEnd(3)}  fanout p99 ${p99.toFixed(1).padStart(6)} ms  servers ${r.serverCores.toFixed(3)} cores  (machine load ${r.load1[0].toFixed(1)}, other work ${r.otherCores.toFixed(2)} cores)`);
}
const span = (xs) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)} (mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2)})`;
for (const mode of ["on", "off"]) {
  const rs = runs[mode];
  if (rs.length) console.log(`accounting ${mode}: p99 ${span(rs.map((x) => x.p99))} ms, servers ${span(rs.map((x) => x.cores))} cores`);
}
JS
echo "results in $out" >&2

#!/usr/bin/env bash
# make bench: slotline bench beside redis-benchmark, same server, same parameters; the table
# goes into BENCHMARKS.md between the bench markers.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/topology.sh
cargo build -q --release -p slotline -p slotline-testbed
start_topology standalone
ADDR=$(topology_nodes master)
PORT=${ADDR##*:}
N=${N:-1000000}
SL=target/release/slotline

REDIS_PID=$(pgrep -f "redis-server 127.0.0.1:$PORT" | head -1)

rows=()
# run_pair LABEL PLACEMENT PARAMS...: PLACEMENT is "unpinned", "same core" (server and
# client on CPU 0) or "split cores" (server on CPU 0, client on CPU 1).
run_pair() {
  local label=$1 placement=$2; shift 2
  local pin=()
  case $placement in
    "same core") taskset -cp 0 "$REDIS_PID" >/dev/null; pin=(taskset -c 0) ;;
    "split cores") taskset -cp 0 "$REDIS_PID" >/dev/null; pin=(taskset -c 1) ;;
    *) taskset -cp 0-$(($(nproc) - 1)) "$REDIS_PID" >/dev/null ;;
  esac
  local rb sl
  rb=$("${pin[@]}" redis-benchmark -p "$PORT" "$@" --csv | awk -F'","' 'NR==2 {print $2}')
  sl=$("${pin[@]}" "$SL" bench -p "$PORT" "$@" -q)
  local sl_rps sl_cpu ratio
  sl_rps=$(sed -E 's/^[A-Z]+: ([0-9.]+) requests.*/\1/' <<<"$sl")
  sl_cpu=$(sed -nE 's/.*client cpu=([0-9.]+) usec.*/\1/p' <<<"$sl")
  ratio=$(python3 -c "print(f'{$sl_rps/$rb:.2f}')")
  rows+=("| $label | $placement | \`$*\` | ${rb%.*} | ${sl_rps%.*} | ${ratio}x | ${sl_cpu:-n/a} |")
  echo "$label ($placement): redis-benchmark $rb/s, slotline $sl_rps/s (${ratio}x), client cpu ${sl_cpu:-?} us/req" >&2
}

run_pair "GET, 50 callers" unpinned -c 50 -n "$N" -t get
run_pair "GET, 50 callers" "same core" -c 50 -n "$N" -t get
run_pair "GET, 50 callers" "split cores" -c 50 -n "$N" -t get
run_pair "SET, 50 callers" unpinned -c 50 -n "$N" -t set
run_pair "GET, 50 callers, pipeline 16" unpinned -c 50 -n $((N * 4)) -t get -P 16
run_pair "SET, 50 callers, pipeline 16" unpinned -c 50 -n $((N * 4)) -t set -P 16
run_pair "GET, 50 callers, pipeline 16" "split cores" -c 50 -n $((N * 4)) -t get -P 16

{
  echo "<!-- bench:begin -->"
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, $(redis-server --version | sed -E 's/.*v=([^ ]+).*/Redis \1/'), with \`make bench\`"
  echo "(\`scripts/bench.sh\`). redis-benchmark opens one connection per client (\`-c\`);"
  echo "\`slotline bench\` runs \`-c\` tasks on ONE shared \`Client\` (one socket, implicit pipelining),"
  echo "on one thread (\`--threads 1\`), as redis-benchmark runs one event loop. Placement: where the"
  echo "scheduler or \`taskset\` puts the server and the client on this 2-vCPU guest."
  echo
  echo "| workload | placement | parameters | redis-benchmark req/s | slotline req/s | ratio | slotline client CPU µs/req |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo "<!-- bench:end -->"
} >/tmp/slotline-bench-table.md

if [ -f BENCHMARKS.md ] && grep -q '<!-- bench:begin -->' BENCHMARKS.md; then
  python3 - <<'PY'
import re
doc = open("BENCHMARKS.md").read()
table = open("/tmp/slotline-bench-table.md").read().strip()
doc = re.sub(r"<!-- bench:begin -->.*?<!-- bench:end -->", lambda _: table, doc, flags=re.S)
open("BENCHMARKS.md", "w").write(doc)
PY
else
  { echo; echo "## End to end against one local redis-server"; echo; cat /tmp/slotline-bench-table.md; } >>BENCHMARKS.md
fi
cat /tmp/slotline-bench-table.md

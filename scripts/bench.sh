#!/usr/bin/env bash
# make bench: slotline bench beside redis-benchmark, same servers, same parameters, taken
# alternately; each topology's table goes into BENCHMARKS.md between its markers.
#
#   scripts/bench.sh [standalone|cluster]...   (default: both)
#
# N (requests per run, default 1000000 standalone, 300000 cluster) and REPEAT (alternating
# runs per row, the median is kept; default 1 standalone, 3 cluster) can be set in the
# environment.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/topology.sh
cargo build -q --release -p slotline -p slotline-testbed
SL=target/release/slotline

# median V...: the middle value.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# server_ticks: the CPU time (user + system, in clock ticks) the servers in SERVER_PIDS
# have used so far.
server_ticks() {
  local pid total=0
  for pid in $SERVER_PIDS; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

# server_pids PORT...: the pids of the local redis-servers listening on these ports.
server_pids() {
  local port
  for port in "$@"; do pgrep -f "redis-server 127.0.0.1:$port" | head -1; done
}

# per_request TICKS N: CPU microseconds per request.
per_request() { python3 -c "print(f'{$1 * 1e6 / $(getconf CLK_TCK) / $2:.2f}')"; }

# run_pair LABEL PLACEMENT RUNTIME PARAMS...: PLACEMENT is "unpinned", "same core" (servers
# and client on CPU 0) or "split cores" (servers on CPU 0, client on CPU 1); RUNTIME is
# slotline bench's --runtime (current, multi:1, multi). Uses SERVER_PIDS, TARGET (the
# connection flags) and REPEAT; appends a table row to ROWS.
run_pair() {
  local label=$1 placement=$2 runtime=$3; shift 3
  local pin=() cpus pid
  case $placement in
    "same core") cpus=0; pin=(taskset -c 0) ;;
    "split cores") cpus=0; pin=(taskset -c 1) ;;
    *) cpus=0-$(($(nproc) - 1)) ;;
  esac
  for pid in $SERVER_PIDS; do taskset -cp "$cpus" "$pid" >/dev/null; done
  local n
  n=$(sed -nE 's/.*-n ([0-9]+).*/\1/p' <<<"$*")
  local rbs=() sls=() cpus_used=() writes=() rb_servers=() sl_servers=() i out before
  for ((i = 0; i < REPEAT; i++)); do
    before=$(server_ticks)
    rbs+=("$("${pin[@]}" redis-benchmark $TARGET "$@" --csv | awk -F'","' '/^"[A-Z]/ && !/^"test"/ {print $2; exit}')")
    rb_servers+=("$(per_request $(($(server_ticks) - before)) "$n")")
    before=$(server_ticks)
    out=$("${pin[@]}" "$SL" bench $TARGET --runtime "$runtime" ${SL_FLAGS:-} "$@" -q)
    sl_servers+=("$(per_request $(($(server_ticks) - before)) "$n")")
    sls+=("$(sed -E 's/^[A-Z]+: ([0-9.]+) requests.*/\1/' <<<"$out")")
    cpus_used+=("$(sed -nE 's/.*client cpu=([0-9.]+) usec.*/\1/p' <<<"$out")")
    writes+=("$(sed -nE 's/.*writes=([0-9.]+)\/req.*/\1/p' <<<"$out")")
  done
  local rb sl cpu ratio rb_server sl_server write
  rb=$(median "${rbs[@]}")
  sl=$(median "${sls[@]}")
  cpu=$(median "${cpus_used[@]}")
  write=$(median "${writes[@]}")
  rb_server=$(median "${rb_servers[@]}")
  sl_server=$(median "${sl_servers[@]}")
  ratio=$(python3 -c "print(f'{$sl/$rb:.2f}')")
  local runs=""
  if ((REPEAT > 1)); then
    runs=" | $(printf '%.0fk ' "${rbs[@]/%/e-3}")/ $(printf '%.0fk ' "${sls[@]/%/e-3}")"
  fi
  ROWS+=("| $label | $placement | $runtime | \`$*\`${SL_FLAGS:+ (slotline: \`$SL_FLAGS\`)} | ${rb%.*} | ${sl%.*} | ${ratio}x | ${cpu:-n/a} | ${write:-n/a} | $rb_server / $sl_server${runs} |")
  echo "$label ($placement, $runtime): redis-benchmark $rb/s, slotline $sl/s (${ratio}x), client cpu ${cpu:-?} us/req, ${write:-?} writes/req, server cpu $rb_server / $sl_server us/req" >&2
}

# write_table MARKER HEADING INTRO: replaces BENCHMARKS.md's text between the markers
# <!-- MARKER:begin --> and <!-- MARKER:end --> with ROWS' table, or appends it.
write_table() {
  local marker=$1 heading=$2 intro=$3 extra_head="" extra_rule=""
  if ((REPEAT > 1)); then
    extra_head=" | each run: redis-benchmark / slotline"
    extra_rule="|---"
  fi
  {
    echo "<!-- $marker:begin -->"
    echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, $(redis-server --version | sed -E 's/.*v=([^ ]+).*/Redis \1/'), with \`make bench\`"
    echo "(\`scripts/bench.sh\`). $intro"
    echo "Runtime: the tokio runtime \`slotline bench\` runs its callers on (\`--runtime\`): \`multi\` is \`#[tokio::main]\`'s (a worker per core),"
    echo "\`multi:1\` one worker, \`current\` a current-thread runtime. Writes: socket write calls (\`send\`) per request, as \`slotline bench\` counts them."
    echo "Placement: where the scheduler or \`taskset\` puts the servers and the client on this"
    echo "guest. Each row is the median of $REPEAT run(s) taken alternately with redis-benchmark."
    echo "Server CPU: the CPU time (user + system, from \`/proc/PID/stat\`) all the topology's"
    echo "redis-server processes used during the run, per request."
    echo
    echo "| workload | placement | runtime | parameters | redis-benchmark req/s | slotline req/s | ratio | slotline client CPU µs/req | slotline writes/req | server CPU µs/req: redis-benchmark / slotline$extra_head |"
    echo "|---|---|---|---|---|---|---|---|---|---$extra_rule|"
    printf '%s\n' "${ROWS[@]}"
    echo "<!-- $marker:end -->"
  } >/tmp/slotline-bench-table.md
  if [ -f BENCHMARKS.md ] && grep -q "<!-- $marker:begin -->" BENCHMARKS.md; then
    MARKER=$marker python3 - <<'PY'
import os, re
marker = os.environ["MARKER"]
doc = open("BENCHMARKS.md").read()
table = open("/tmp/slotline-bench-table.md").read().strip()
pattern = rf"<!-- {marker}:begin -->.*?<!-- {marker}:end -->"
doc = re.sub(pattern, lambda _: table, doc, flags=re.S)
open("BENCHMARKS.md", "w").write(doc)
PY
  else
    { echo; echo "## $heading"; echo; cat /tmp/slotline-bench-table.md; } >>BENCHMARKS.md
  fi
  cat /tmp/slotline-bench-table.md
}

bench_standalone() {
  start_topology standalone
  local addr
  addr=$(topology_nodes master)
  TARGET="-p ${addr##*:}"
  SERVER_PIDS=$(server_pids "${addr##*:}")
  local n=${N:-1000000} REPEAT=${REPEAT:-1}
  ROWS=()
  local runtime
  for runtime in multi multi:1 current; do
    run_pair "GET, 50 callers" unpinned "$runtime" -c 50 -n "$n" -t get
  done
  run_pair "GET, 50 callers" "same core" multi -c 50 -n "$n" -t get
  run_pair "GET, 50 callers" "split cores" multi -c 50 -n "$n" -t get
  run_pair "SET, 50 callers" unpinned multi -c 50 -n "$n" -t set
  run_pair "SET, 50 callers" unpinned current -c 50 -n "$n" -t set
  run_pair "GET, 50 callers, pipeline 16" unpinned multi -c 50 -n $((n * 4)) -t get -P 16
  run_pair "SET, 50 callers, pipeline 16" unpinned multi -c 50 -n $((n * 4)) -t set -P 16
  run_pair "GET, 50 callers, pipeline 16" "split cores" multi -c 50 -n $((n * 4)) -t get -P 16
  write_table bench "End to end against one local redis-server" \
    "redis-benchmark opens one connection per client (\`-c\`); \`slotline bench\` runs \`-c\` tasks on ONE shared \`Client\` (one socket, implicit pipelining)."
  stop_topologies
}

bench_cluster() {
  start_topology cluster
  local addr ports
  ports=$(for addr in $(topology_nodes master) $(topology_nodes replica); do echo "${addr##*:}"; done)
  addr=$(topology_nodes master | awk '{print $1}')
  TARGET="--cluster -p ${addr##*:}"
  SERVER_PIDS=$(server_pids $ports)
  local n=${N:-300000} REPEAT=${REPEAT:-3}
  ROWS=()
  local placement runtime
  for runtime in multi multi:1 current; do
    run_pair "GET, 50 callers" unpinned "$runtime" -c 50 -n "$n" -t get -r 100000
    run_pair "SET, 50 callers" unpinned "$runtime" -c 50 -n "$n" -t set -r 100000
  done
  for placement in "same core" "split cores"; do
    run_pair "GET, 50 callers" "$placement" multi -c 50 -n "$n" -t get -r 100000
    run_pair "SET, 50 callers" "$placement" multi -c 50 -n "$n" -t set -r 100000
  done
  run_pair "GET, 50 callers, pipeline 16" unpinned multi -c 50 -n $((n * 4)) -t get -r 100000 -P 16
  # redis-benchmark --cluster gives each connection one master's hash tag: the same key
  # layout for slotline.
  SL_FLAGS=--tagged run_pair "GET, 50 callers, keys tagged per master" unpinned multi -c 50 -n "$n" -t get -r 100000
  SL_FLAGS=--tagged run_pair "SET, 50 callers, keys tagged per master" unpinned multi -c 50 -n "$n" -t set -r 100000
  SL_FLAGS=--tagged run_pair "GET, 50 callers, pipeline 16, keys tagged per master" unpinned multi -c 50 -n $((n * 4)) -t get -r 100000 -P 16
  write_table bench-cluster "End to end against a local Redis Cluster (3 masters × 1 replica)" \
    "Cluster from \`slotline-testbed up cluster\` (3 masters, 1 replica each: 6 redis-server processes); both tools get \`--cluster -p\` one master's port. redis-benchmark opens \`-c\` connections to every master; \`slotline bench\` runs \`-c\` tasks on one \`ClusterClient\` (one shared client per node)."
  stop_topologies
}

(($#)) || set -- standalone cluster
for topology in "$@"; do "bench_$topology"; done

# Sourced by the demo and bench scripts: start_topology NAME [ARGS...] starts a test-bed
# topology in the background and sets TOPO_JSON (its ready line) and TOPO_PID; the
# topology is torn down when the calling script exits, however it exits.
TESTBED=${TESTBED:-target/release/slotline-testbed}
TOPO_PIDS=()

stop_topologies() {
  local pid
  for pid in "${TOPO_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${TOPO_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  TOPO_PIDS=()
}
trap stop_topologies EXIT INT TERM

start_topology() {
  local fifo
  fifo=$(mktemp -u) && mkfifo "$fifo"
  "$TESTBED" up "$@" --json >"$fifo" &
  TOPO_PID=$!
  TOPO_PIDS+=("$TOPO_PID")
  exec {TOPO_FD}<"$fifo"
  rm -f "$fifo"
  if ! IFS= read -r -t 60 -u "$TOPO_FD" TOPO_JSON; then
    echo "topology $1 did not come up within 60 s" >&2
    return 1
  fi
}

# The addresses of the nodes with a role ("master" or "replica") in TOPO_JSON.
topology_nodes() {
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(" ".join(n["addr"] for n in d["nodes"] if n["role"]==sys.argv[2]))' "$TOPO_JSON" "$1"
}

topology_sentinels() {
  python3 -c 'import json,sys; print(",".join(json.loads(sys.argv[1]).get("sentinels",[])))' "$TOPO_JSON"
}

# The CA certificate of a TLS topology (started with --tls) in TOPO_JSON.
topology_ca() {
  python3 -c 'import json,sys; print(json.loads(sys.argv[1])["tls"]["ca_cert"])' "$TOPO_JSON"
}

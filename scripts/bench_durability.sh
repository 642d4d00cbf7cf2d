#!/usr/bin/env bash
# make bench-durability: the cost of durability=replicas:1, SET against plain SET, one
# master with one replica of the test bed, the same client and load (slotline bench,
# 50 callers, current-thread runtime), alternating ROUNDS times so drift hits both alike.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/topology.sh
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-200000}
cargo build -q --release -p slotline-testbed -p slotline --bins
start_topology replication --replicas 1
master=$(topology_nodes master)
run() {
  target/release/slotline --url "redis://$master$1" bench -t set -c 50 -n "$REQUESTS" \
    --runtime current -q
}
for round in $(seq "$ROUNDS"); do
  echo "round $round: plain SET:            $(run "")"
  echo "round $round: durability=replicas:1: $(run "?durability=replicas:1")"
done

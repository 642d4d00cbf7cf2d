#!/usr/bin/env bash
# make demo: every deployment mode slotline serves, against local Redis topologies
# that the test bed starts and tears down.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/topology.sh
cargo build -q --release -p slotline-testbed -p slotline --bins --examples
EX=target/release/examples

echo "### single node"
start_topology standalone
"$EX/single_node" "redis://$(topology_nodes master)"
stop_topologies

echo
echo "### master with replicas"
start_topology replication
replicas=()
for r in $(topology_nodes replica); do replicas+=("redis://$r"); done
"$EX/replication" "redis://$(topology_nodes master)" "${replicas[@]}"
stop_topologies

echo
echo "### master with replicas watched by Sentinel (a live failover in the middle)"
start_topology sentinel
"$EX/sentinel" "redis+sentinel://$(topology_sentinels)/mymaster"
stop_topologies

echo
echo "### sharding with Sentinel: 3 services (svc1..svc3, a master and a replica each), keys on a ketama ring"
start_topology sharded-sentinel
"$EX/sharded_sentinel" "redis+sentinel://$(topology_sentinels)/svc1,svc2,svc3"
echo "-- slotline topology --url redis+sentinel://<sentinels>/svc1,svc2,svc3"
target/release/slotline topology --url "redis+sentinel://$(topology_sentinels)/svc1,svc2,svc3"
stop_topologies

echo
echo "### Redis Cluster, 3 masters x 1 replica (sharding with failover)"
start_topology cluster
seeds=$(topology_nodes master | tr ' ' ',')
"$EX/cluster" "redis+cluster://$seeds"
echo "-- slotline topology --url redis+cluster://$seeds"
target/release/slotline topology --url "redis+cluster://$seeds"
stop_topologies

echo
echo "### single node over TLS (certificates made for the run; rustls, verified against its CA)"
start_topology standalone --tls
addr=$(topology_nodes master)
ca=$(topology_ca)
"$EX/single_node" "rediss://$addr?ssl_ca_certs=$ca"
echo "-- slotline --tls --cacert <ca> --url redis://$addr GET demo:greeting"
target/release/slotline --tls --cacert "$ca" --url "redis://$addr" GET demo:greeting
echo "-- the same without the CA is refused, and says why:"
target/release/slotline --tls --url "redis://$addr" PING 2>&1 || true
stop_topologies

echo
echo "demo done: every topology was torn down"

//! No refresh storm: after a burst of 1,000 `MOVED`s (1,000 slots moved behind the
//! client's back, then 1,000 commands at once, one per slot), the client asked the
//! servers for the topology only a few times (counted on the servers with `INFO
//! commandstats`). And the destructive fan-out commands (`FLUSHALL`, `DBSIZE` summed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotline_cluster::{slot, ClusterClient, ClusterConfig};
use slotline_conn::{cmd, pipe, Client, Commands, Frame, Query};
use slotline_testbed::Cluster;
use support::{calls, cluster};

/// Topology requests served by every node so far.
fn topology_calls(c: &Cluster) -> i64 {
    c.addrs()
        .into_iter()
        .map(|node| calls(&(c, node), "cluster|shards") + calls(&(c, node), "cluster|slots"))
        .sum()
}

/// Moves empty `slots` from `source` to `target` in bulk (`SETSLOT` pipelines: importing,
/// migrating, then the new owner on every master) and waits until the cluster agrees.
async fn move_empty_slots(c: &Cluster, slots: &[u16], source: SocketAddr, target: SocketAddr) {
    let source_id = c.node_id(source).unwrap();
    let target_id = c.node_id(target).unwrap();
    let client = |a: SocketAddr| Client::connect(format!("redis://{a}"));
    let (src, tgt) = (client(source).await.unwrap(), client(target).await.unwrap());
    let setslot = |state: &str, id: &str| {
        let mut p = pipe();
        for s in slots {
            p.cmd("CLUSTER").arg("SETSLOT").arg(*s).arg(state).arg(id);
        }
        p
    };
    let ok = |replies: Vec<Frame>| assert!(replies.iter().all(|f| !f.is_error()), "{replies:?}");
    ok(tgt
        .send_pipeline(&setslot("IMPORTING", &source_id))
        .await
        .unwrap());
    ok(src
        .send_pipeline(&setslot("MIGRATING", &target_id))
        .await
        .unwrap());
    ok(tgt
        .send_pipeline(&setslot("NODE", &target_id))
        .await
        .unwrap());
    ok(src
        .send_pipeline(&setslot("NODE", &target_id))
        .await
        .unwrap());
    for m in c.masters().unwrap() {
        if m != source && m != target {
            let other = client(m).await.unwrap();
            ok(other
                .send_pipeline(&setslot("NODE", &target_id))
                .await
                .unwrap());
        }
    }
    c.wait_stable(Duration::from_secs(20)).unwrap();
    for s in slots {
        assert_eq!(c.slot_owner(*s).unwrap(), target);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_moved_costs_a_few_topology_queries() {
    let c = cluster();
    let map = c.slot_map().unwrap();
    let (source, first) = (map[0].master, map[0].start);
    let target = map[1].master;
    let slots: Vec<u16> = (first..first + 1000).collect();
    // One key per moved slot.
    let keys: Vec<String> = slots
        .iter()
        .map(|&s| {
            (0u64..)
                .map(|n| format!("storm:{n}"))
                .find(|k| slot(k.as_bytes()) == s)
                .unwrap()
        })
        .collect();
    let cl = ClusterClient::connect(c.seed_addrs(), ClusterConfig::default())
        .await
        .unwrap();
    // Connections up, map loaded: the client still believes `source` serves the slots.
    let _: Option<String> = cl.get(&keys[0]).await.unwrap();
    move_empty_slots(c, &slots, source, target).await;

    let before = topology_calls(c);
    let stats_before = cl.stats();
    // The burst: 10 concurrent callers, each with a pipeline of 100 GETs (one write each,
    // so all 1,000 reach the old owner before its first MOVED comes back).
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = keys
        .chunks(100)
        .map(|chunk| {
            let (cl, barrier) = (cl.clone(), barrier.clone());
            let mut p = pipe();
            for k in chunk {
                p.get(k);
            }
            tokio::spawn(async move {
                barrier.wait().await;
                cl.pipeline::<Vec<Option<String>>>(&p).await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), vec![None; 100]);
    }
    // Let any refresh the burst scheduled run (refreshes are at least 250 ms apart): wait
    // until none has completed for a while.
    let start = Instant::now();
    let mut last = cl.stats().refreshes;
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(800) {
        assert!(start.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = cl.stats().refreshes;
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
    let after = topology_calls(c);
    let stats = cl.stats();
    let moved = stats.moved - stats_before.moved;
    eprintln!(
        "{moved} MOVED replies -> {} topology requests on the servers; {stats:?}",
        after - before
    );
    assert_eq!(moved, 1000, "the whole burst hit the old owner");
    assert!(
        after - before <= 3,
        "a refresh storm: {} topology requests after {moved} MOVED",
        after - before
    );
    // Everything goes straight to the new owner now.
    let again = cl.stats().moved;
    for k in &keys[..100] {
        let _: Option<String> = cl.get(k).await.unwrap();
    }
    assert_eq!(cl.stats().moved, again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushall_and_dbsize_fan_out_to_every_master() {
    let c = cluster();
    let cl = ClusterClient::connect(c.seed_addrs(), ClusterConfig::default())
        .await
        .unwrap();
    let mut p = pipe();
    for i in 0..500 {
        p.set(format!("fan:{i}"), i).ignore();
    }
    let () = cl.pipeline(&p).await.unwrap();
    assert_eq!(cl.dbsize().await.unwrap(), 500);
    let mut per_master = Vec::new();
    for m in cl.masters() {
        per_master.push(cl.node(m).await.unwrap().dbsize().await.unwrap());
    }
    assert_eq!(per_master.len(), 3);
    assert!(per_master.iter().all(|n| *n > 0), "{per_master:?}");
    assert_eq!(per_master.iter().sum::<i64>(), 500);
    let () = cl.query(&cmd("FLUSHALL")).await.unwrap();
    assert_eq!(cl.dbsize().await.unwrap(), 0);
    cl.set("fan:again", 1).await.unwrap();
    cl.flushdb().await.unwrap();
    assert_eq!(cl.dbsize().await.unwrap(), 0);
}

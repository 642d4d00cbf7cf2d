//! Live resharding against a real 3 × 1 Redis Cluster: slots (with their keys) move from one
//! master to another while tasks (or threads) read and write keys in them; no error reaches
//! the callers and every value is right. And the `ASK` path, taken mid-migration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotline_cluster::{blocking, slot, ClusterClient, ClusterConfig};
use slotline_conn::{Addr, Commands, Query};
use slotline_testbed::Cluster;
use support::{addr, calls, wait_for, DEADLINE};

/// `per_slot` keys in each of `slots`.
fn keys_in(slots: &[u16], per_slot: usize, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for &s in slots {
        let mut found = 0;
        let mut n = 0u64;
        while found < per_slot {
            let k = format!("{prefix}{s}:{n}");
            if slot(k.as_bytes()) == s {
                out.push(k);
                found += 1;
            }
            n += 1;
        }
    }
    out
}

/// `slot(...)` brute force needs a few thousand tries per key; fine for tests.
fn slots_of(c: &Cluster, master: SocketAddr, n: usize) -> Vec<u16> {
    let map = c.slot_map().unwrap();
    let range = map.iter().find(|r| r.master == master).unwrap();
    (range.start..=range.end).take(n).collect()
}

/// A source master, a target master, and `n` slots of the source.
fn plan(c: &Cluster, n: usize) -> (SocketAddr, SocketAddr, Vec<u16>) {
    let masters = c.masters().unwrap();
    let (source, target) = (masters[0], masters[1]);
    (source, target, slots_of(c, source, n))
}

/// Moves `slots` to `target` one by one, each with a pause mid-migration (some keys moved,
/// others not: the owner answers `ASK` for the moved ones) while traffic runs.
fn reshard(c: &Cluster, slots: &[u16], target: SocketAddr) {
    for &s in slots {
        let m = c.begin_migration(s, target).unwrap();
        c.migrate_keys(&m, 3).unwrap();
        // Let the callers run against the half-migrated slot for a moment.
        std::thread::sleep(Duration::from_millis(15));
        c.migrate_keys(&m, 2).unwrap();
        c.finish_migration(m).unwrap();
    }
}

async fn wait_for_owner(cl: &ClusterClient, s: u16, owner: &Addr) {
    let start = Instant::now();
    while cl.master_for_slot(s).as_ref() != Some(owner) {
        assert!(
            start.elapsed() < DEADLINE,
            "the client never learned the owner of {s}"
        );
        let _ = cl.refresh().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_resharding_under_load_is_a_non_event() {
    let c = Arc::new(Cluster::start().unwrap());
    let (source, target, slots) = plan(&c, 12);
    let keys = keys_in(&slots, 10, "rs:");
    let cl = ClusterClient::connect(c.seed_addrs(), ClusterConfig::default())
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..4usize {
        let (cl, stop, ops) = (cl.clone(), stop.clone(), ops.clone());
        let mine: Vec<String> = keys.iter().skip(t).step_by(4).cloned().collect();
        tasks.push(tokio::spawn(async move {
            let mut counts = vec![0i64; mine.len()];
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) || round < 2 {
                for (i, k) in mine.iter().enumerate() {
                    let n = cl.incr(k).await.unwrap_or_else(|e| panic!("INCR {k}: {e}"));
                    counts[i] += 1;
                    assert_eq!(n, counts[i], "{k}");
                    let vk = format!("{k}:v");
                    let value = format!("{t}:{round}:{i}");
                    cl.set(&vk, &value)
                        .await
                        .unwrap_or_else(|e| panic!("SET {vk}: {e}"));
                    let got: String = cl
                        .get(&vk)
                        .await
                        .unwrap_or_else(|e| panic!("GET {vk}: {e}"));
                    assert_eq!(got, value, "{vk}");
                    ops.fetch_add(3, Ordering::Relaxed);
                }
                round += 1;
            }
            (mine, counts)
        }));
    }
    // Move the slots while the tasks run.
    let started = Instant::now();
    let mover = {
        let (c, slots) = (c.clone(), slots.clone());
        tokio::task::spawn_blocking(move || reshard(&c, &slots, target))
    };
    mover.await.unwrap();
    let moved_in = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let (mine, counts) = t.await.expect("no error reached a caller");
        for (k, n) in mine.iter().zip(counts) {
            let v: i64 = cl.get(k).await.unwrap();
            assert_eq!(v, n, "{k}");
        }
    }
    for &s in &slots {
        assert_eq!(c.slot_owner(s).unwrap(), target);
        wait_for_owner(&cl, s, &addr(target)).await;
    }
    let stats = cl.stats();
    eprintln!(
        "moved {} slots ({} keys) {source} -> {target} in {moved_in:?} under {} ops; {stats:?}",
        slots.len(),
        keys.len() * 2,
        ops.load(Ordering::Relaxed)
    );
    assert!(stats.moved > 0 && stats.ask > 0, "{stats:?}");
}

async fn client(c: &Cluster) -> ClusterClient {
    ClusterClient::connect(c.seed_addrs(), ClusterConfig::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_is_followed_mid_migration_and_the_map_stays() {
    let c = Cluster::start().unwrap();
    let s = slot(b"ask");
    let (source, target) = support::owner_and_other(&c, s);
    let cl = client(&c).await;
    let keys: Vec<String> = (0..20).map(|i| format!("{{ask}}:{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        cl.set(k, i).await.unwrap();
    }
    // A shard channel of the slot, subscribed on its owner: it must follow the slot.
    let mut sub = cl.pubsub().await.unwrap();
    sub.ssubscribe("{ask}:events").await.unwrap();
    let m = c.begin_migration(s, target).unwrap();
    assert_eq!(c.migrate_keys(&m, 10).unwrap(), 10);
    let asking_before = calls(&(&c, target), "asking");
    let before = cl.stats();
    // Every key reads right: 10 from the source, 10 through ASK to the target.
    for (i, k) in keys.iter().enumerate() {
        let v: usize = cl.get(k).await.unwrap();
        assert_eq!(v, i, "{k}");
    }
    // A new key of the slot is created on the target (the source no longer has it).
    cl.set("{ask}:new", "fresh").await.unwrap();
    let after = cl.stats();
    let asks = after.ask - before.ask;
    assert_eq!(asks, 11, "10 moved keys + 1 new key went through ASK");
    assert_eq!(calls(&(&c, target), "asking") - asking_before, 11);
    assert_eq!(after.moved, before.moved, "ASK does not patch the map");
    assert_eq!(
        cl.master_for_slot(s),
        Some(addr(source)),
        "the map is unchanged"
    );
    let on_target = c
        .cmd(target, &["CLUSTER", "COUNTKEYSINSLOT", &s.to_string()])
        .unwrap();
    assert_eq!(on_target.as_int(), Some(11));
    // A multi-key command over keys split between the two nodes: TRYAGAIN, retried until
    // the migration ends.
    let finisher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        c.finish_migration(m).unwrap();
        c
    });
    let all: Vec<Option<usize>> = cl.mget(&keys).await.unwrap();
    assert_eq!(all, (0..20).map(Some).collect::<Vec<_>>());
    let _c = finisher.join().unwrap();
    // After the migration: MOVED, and the map follows.
    let v: String = cl.get("{ask}:new").await.unwrap();
    assert_eq!(v, "fresh");
    assert_eq!(cl.master_for_slot(s), Some(addr(target)));
    assert!(cl.stats().retries > after.retries, "TRYAGAIN was retried");
    // The subscriber was told the slot left its node, and subscribed again on the new owner.
    let start = Instant::now();
    loop {
        let n: i64 = cl
            .query(
                &slotline_conn::cmd("SPUBLISH")
                    .arg("{ask}:events")
                    .arg("moved"),
            )
            .await
            .unwrap();
        if n == 1 {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the shard channel was not resubscribed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let m = sub
        .next_message_timeout(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the message published on the new owner");
    assert_eq!(m.payload::<String>().unwrap(), "moved");
}

/// Shard channels placed through the client's dispatch, in the middle of a slot migration:
/// subscribed while the slot migrates (Redis keeps serving `SSUBSCRIBE` on the source until
/// the migration completes), they get what is published; when the slot moves, they follow
/// it; and a subscription made by a client whose map is stale is answered `MOVED` by the
/// old owner and placed on the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_channels_placed_mid_migration_follow_the_slot_and_moved() {
    let c = Arc::new(Cluster::start().unwrap());
    let s = slot(b"mid");
    let (source, target) = support::owner_and_other(&c, s);
    let cl = client(&c).await;
    // A client that will not hear of the move before it subscribes.
    let stale = client(&c).await;
    let numsub = |node: SocketAddr, channel: &str| -> i64 {
        let reply = c.cmd(node, &["PUBSUB", "SHARDNUMSUB", channel]).unwrap();
        reply
            .as_array()
            .and_then(|a| a.get(1))
            .and_then(|n| n.as_int())
            .unwrap_or(0)
    };
    let publish = |cl: &ClusterClient, channel: &'static str| {
        let cl = cl.clone();
        async move {
            let n: i64 = cl
                .query(&slotline_conn::cmd("SPUBLISH").arg(channel).arg("hi"))
                .await
                .unwrap();
            n
        }
    };

    let m = c.begin_migration(s, target).unwrap();
    let mut sub = cl.pubsub().await.unwrap();
    sub.ssubscribe("{mid}:a").await.unwrap();
    assert_eq!(
        numsub(source, "{mid}:a"),
        1,
        "placed on the source mid-migration"
    );
    assert_eq!(numsub(target, "{mid}:a"), 0);
    assert_eq!(publish(&cl, "{mid}:a").await, 1);
    let msg = sub.next_message_timeout(DEADLINE).await.unwrap().unwrap();
    assert_eq!(msg.channel_str(), Some("{mid}:a"));

    // The migration completes: the source ends the subscription, the subscriber places
    // it again, now on the target.
    let finisher = c.clone();
    tokio::task::spawn_blocking(move || finisher.finish_migration(m).unwrap())
        .await
        .unwrap();
    wait_for("the subscription to follow the slot", || {
        numsub(target, "{mid}:a") == 1
    })
    .await;
    let start = Instant::now();
    while publish(&cl, "{mid}:a").await != 1 {
        assert!(
            start.elapsed() < DEADLINE,
            "SPUBLISH never reached the target"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let msg = sub.next_message_timeout(DEADLINE).await.unwrap().unwrap();
    assert_eq!(msg.payload::<String>().unwrap(), "hi");

    // The stale client still maps the slot to the source: MOVED, patched, placed.
    assert_eq!(stale.master_for_slot(s), Some(addr(source)));
    let moved_before = stale.stats().moved;
    let late = stale.pubsub().await.unwrap();
    late.ssubscribe("{mid}:b").await.unwrap();
    assert!(
        stale.stats().moved > moved_before,
        "the old owner answered MOVED"
    );
    assert_eq!(stale.master_for_slot(s), Some(addr(target)));
    assert_eq!(numsub(target, "{mid}:b"), 1);
    assert_eq!(numsub(source, "{mid}:b"), 0);
}

#[test]
fn blocking_live_resharding_under_load() {
    use slotline_conn::blocking::Commands as _;
    let c = Cluster::start().unwrap();
    let (_, target, slots) = plan(&c, 8);
    let keys = keys_in(&slots, 10, "brs:");
    let cl = blocking::ClusterClient::connect(c.seed_addrs(), ClusterConfig::default()).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let mut threads = Vec::new();
        for t in 0..4usize {
            let (cl, stop) = (&cl, &stop);
            let mine: Vec<String> = keys.iter().skip(t).step_by(4).cloned().collect();
            threads.push(scope.spawn(move || {
                let mut counts = vec![0i64; mine.len()];
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) || round < 2 {
                    for (i, k) in mine.iter().enumerate() {
                        let n = cl.incr(k).unwrap_or_else(|e| panic!("INCR {k}: {e}"));
                        counts[i] += 1;
                        assert_eq!(n, counts[i], "{k}");
                        let value = format!("{t}:{round}");
                        cl.set(format!("{k}:v"), &value).unwrap();
                        let got: String = cl.get(format!("{k}:v")).unwrap();
                        assert_eq!(got, value);
                    }
                    round += 1;
                }
                (mine, counts)
            }));
        }
        reshard(&c, &slots, target);
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            let (mine, counts) = t.join().expect("no error reached a caller");
            for (k, n) in mine.iter().zip(counts) {
                let v: i64 = cl.get(k).unwrap();
                assert_eq!(v, n, "{k}");
            }
        }
    });
    assert!(
        cl.stats().moved > 0 && cl.stats().ask > 0,
        "{:?}",
        cl.stats()
    );
}

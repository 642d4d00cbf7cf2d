//! The cluster client against a real 3 × 1 Redis Cluster (the test bed): hash slots,
//! commands on keys in every slot, multi-key commands split per slot, a 10,000-command
//! pipeline across slots, the cluster SCAN, keyless fan-out, transactions, sharded pub/sub
//! and the blocking twin.
//!
//! These tests share one cluster and never change its topology; each uses keys of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use slotline_cluster::{blocking, slot, ClusterClient, ClusterConfig, ReadFrom, SLOTS};
use slotline_conn::{cmd, pipe, Commands, ErrorKind, Frame, Query, ScanOptions};
use support::{calls, cluster};

async fn client() -> ClusterClient {
    ClusterClient::connect(cluster().seed_addrs(), ClusterConfig::default())
        .await
        .unwrap()
}

/// One key per slot: `keys[s]` hashes to slot `s`.
fn keys_for_every_slot(prefix: &str) -> Vec<String> {
    let mut keys: Vec<Option<String>> = vec![None; SLOTS as usize];
    let mut left = SLOTS as usize;
    let mut n = 0u64;
    while left > 0 {
        let k = format!("{prefix}{n}");
        let s = slot(k.as_bytes()) as usize;
        if keys[s].is_none() {
            keys[s] = Some(k);
            left -= 1;
        }
        n += 1;
    }
    keys.into_iter().map(Option::unwrap).collect()
}

#[test]
fn slot_known_values() {
    assert_eq!(slot(b"123456789"), 12739);
    // Hash tags: the first `{`, the first `}` after it, non-empty in between.
    assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
    assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
    assert_eq!(slot(b"foo{}{bar}"), crc16_xmodem(b"foo{}{bar}"));
    assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
    assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
    // And as the server computes them.
    let c = cluster();
    for key in [
        "123456789",
        "{user1000}.following",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "foo{bar}{zap}",
        "",
        "{}",
        "}{",
    ] {
        assert_eq!(slot(key.as_bytes()), c.keyslot(key).unwrap(), "{key:?}");
    }
}

fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % SLOTS
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_on_keys_in_every_slot() {
    let cl = client().await;
    let keys = keys_for_every_slot("every:");
    // The server agrees with our slots (one pipelined CLUSTER KEYSLOT per key).
    let node = cl.node(cluster().seed_addrs()[0]).await.unwrap();
    let mut p = pipe();
    for k in &keys {
        p.cmd("CLUSTER").arg("KEYSLOT").arg(k);
    }
    let server_slots: Vec<u16> = node.pipeline(&p).await.unwrap();
    assert_eq!(server_slots, (0..SLOTS).collect::<Vec<_>>());

    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..32usize {
        let cl = cl.clone();
        let keys = keys.clone();
        tasks.push(tokio::spawn(async move {
            for s in (t..SLOTS as usize).step_by(32) {
                let k = &keys[s];
                cl.set(k, format!("v{s}")).await.unwrap();
                let v: String = cl.get(k).await.unwrap();
                assert_eq!(v, format!("v{s}"));
                assert_eq!(cl.incr(format!("{k}:n")).await.unwrap_or(1), 1);
                assert_eq!(cl.del(k).await.unwrap(), 1);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The client sent each command straight to its owner: no redirect was needed.
    assert_eq!(cl.stats().moved, 0);
    assert_eq!(cl.stats().ask, 0);
    eprintln!(
        "{} commands on all 16384 slots in {:?}",
        4 * SLOTS as usize,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_slot_multi_key_commands_are_split_and_merged() {
    let cl = client().await;
    let keys: Vec<String> = (0..100).map(|i| format!("multi:{i}")).collect();
    let slots: HashSet<u16> = keys.iter().map(|k| slot(k.as_bytes())).collect();
    assert!(slots.len() > 50, "keys spread over many slots");
    let pairs: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), format!("={k}"))).collect();
    cl.mset(&pairs).await.unwrap();

    // MGET in the caller's order, with missing keys in between.
    let mut asked = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        asked.push(k.clone());
        if i % 10 == 0 {
            asked.push(format!("multi:missing:{i}"));
        }
    }
    let got: Vec<Option<String>> = cl.mget(&asked).await.unwrap();
    assert_eq!(got.len(), asked.len());
    for (k, v) in asked.iter().zip(&got) {
        if k.contains("missing") {
            assert_eq!(v, &None);
        } else {
            assert_eq!(v.as_deref(), Some(format!("={k}").as_str()));
        }
    }
    // The merged reply, read in place, is the merged frame.
    let mget = cmd("MGET").arg(&asked);
    let reply = cl.send_command_reply(&mget).await.unwrap();
    let frame = cl.send_command(&mget).await.unwrap();
    assert_eq!(reply.view().to_frame(), frame);
    assert_eq!(reply.view().array_len(), Some(asked.len()));
    // Counts are summed.
    assert_eq!(cl.exists(&asked).await.unwrap(), 100);
    assert_eq!(cl.touch(&asked).await.unwrap(), 100);
    assert_eq!(cl.del(&keys[..50]).await.unwrap(), 50);
    assert_eq!(cl.unlink(&keys[50..]).await.unwrap(), 50);
    assert_eq!(cl.exists(&keys).await.unwrap(), 0);

    // Other commands over several slots are refused before anything is sent.
    let e = cl
        .query::<Vec<String>>(&cmd("SUNION").arg("a").arg("b"))
        .await
        .unwrap_err();
    assert!(
        e.kind() == ErrorKind::Refused(slotline_conn::RefusedKind::CrossSlot)
            && e.to_string().contains("CROSSSLOT"),
        "{e}"
    );
    // Transactions: one slot works, several are refused client side.
    let mut tx = pipe();
    tx.set("{tx}a", 1).ignore().incr("{tx}a").get("{tx}a");
    let (n, v): (i64, i64) = cl.transaction(&tx).await.unwrap().unwrap();
    assert_eq!((n, v), (2, 2));
    let mut tx = pipe();
    tx.set("tx:a", 1).set("tx:b", 2);
    let e = cl.transaction::<()>(&tx).await.unwrap_err();
    assert!(
        e.kind() == ErrorKind::Refused(slotline_conn::RefusedKind::CrossSlot)
            && e.to_string().contains("one slot"),
        "{e}"
    );
    let _: i64 = cl.del(&["{tx}a"]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_of_10000_commands_across_slots_comes_back_in_order() {
    let cl = client().await;
    let mut p = pipe();
    for i in 0..5000 {
        p.set(format!("pipe:{i}"), format!("value:{i}"));
        p.get(format!("pipe:{i}"));
    }
    assert_eq!(p.len(), 10_000);
    let started = Instant::now();
    let replies: Vec<Frame> = cl.send_pipeline(&p).await.unwrap();
    eprintln!("10,000-command pipeline in {:?}", started.elapsed());
    assert_eq!(replies.len(), 10_000);
    for (i, pair) in replies.chunks(2).enumerate() {
        assert_eq!(pair[0], Frame::simple("OK"), "SET #{i}");
        assert_eq!(pair[1], Frame::bulk(format!("value:{i}")), "GET #{i}");
    }
    // Mixed with split and fan-out commands, still in order.
    let mut p = pipe();
    p.cmd("MGET").arg("pipe:1").arg("pipe:2").arg("pipe:nope");
    p.cmd("PING");
    p.cmd("DEL").arg("pipe:1").arg("pipe:2");
    p.get("pipe:3");
    let (mget, pong, deleted, three): (Vec<Option<String>>, String, i64, String) =
        cl.pipeline(&p).await.unwrap();
    assert_eq!(
        mget,
        vec![Some("value:1".into()), Some("value:2".into()), None]
    );
    assert_eq!(
        (pong.as_str(), deleted, three.as_str()),
        ("PONG", 2, "value:3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_scan_returns_every_key_once() {
    let cl = client().await;
    let mut p = pipe();
    for i in 0..3000 {
        p.set(format!("scan:{i}"), i).ignore();
    }
    let () = cl.pipeline(&p).await.unwrap();
    let found: Vec<String> = cl
        .scan(ScanOptions::keys().pattern("scan:*").count(200))
        .collect_all()
        .await
        .unwrap();
    let unique: HashSet<&String> = found.iter().collect();
    assert_eq!(found.len(), 3000, "every key exactly once");
    assert_eq!(unique.len(), 3000);
    // Keyed scans go by key.
    cl.hset_multiple("scan:hash", &[("a", 1), ("b", 2)])
        .await
        .unwrap();
    let fields: Vec<(String, i64)> = cl
        .scan(ScanOptions::hash("scan:hash"))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(fields.len(), 2);
    // KEYS is fanned out to every master and concatenated.
    let keys: Vec<String> = cl.keys("scan:1??").await.unwrap();
    assert_eq!(keys.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_commands_fan_out() {
    let cl = client().await;
    assert_eq!(cl.ping().await.unwrap(), "PONG");
    let size = cl.dbsize().await.unwrap();
    let mut per_node = 0;
    for m in cl.masters() {
        per_node += cl.node(m).await.unwrap().dbsize().await.unwrap();
    }
    // Other tests write meanwhile: the sum is near, and at least what the nodes held then.
    assert!(size >= 0 && per_node >= 0);
    // SCRIPT LOAD reaches every node (all must agree on the SHA1), so EVALSHA works on
    // keys of any slot.
    let sha: String = cl
        .query(
            &cmd("SCRIPT")
                .arg("LOAD")
                .arg("return redis.call('GET', KEYS[1])"),
        )
        .await
        .unwrap();
    assert_eq!(sha.len(), 40);
    for i in 0..20 {
        let k = format!("script:{i}");
        cl.set(&k, i).await.unwrap();
        let v: i64 = cl
            .query(&cmd("EVALSHA").arg(&sha).arg(1).arg(&k))
            .await
            .unwrap();
        assert_eq!(v, i);
    }
    let exists: Vec<bool> = cl
        .query(&cmd("SCRIPT").arg("EXISTS").arg(&sha).arg("0000"))
        .await
        .unwrap();
    assert_eq!(exists, vec![true, false]);
    // A plain SCAN would only see one node: refused with a pointer to the cluster scan.
    let e = cl.query::<Frame>(&cmd("SCAN").arg(0)).await.unwrap_err();
    assert!(e.to_string().contains("Query::scan"), "{e}");
    assert!(
        e.kind() == ErrorKind::Refused(slotline_conn::RefusedKind::Invalid),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_classic_and_sharded() {
    let cl = client().await;
    let mut sub = cl.pubsub().await.unwrap();
    let shard_channels: Vec<String> = (0..6).map(|i| format!("news:{i}")).collect();
    let slots: HashSet<u16> = shard_channels.iter().map(|c| slot(c.as_bytes())).collect();
    assert!(slots.len() > 1);
    sub.ssubscribe(&shard_channels).await.unwrap();
    sub.subscribe("broadcast").await.unwrap();
    for c in &shard_channels {
        let n: i64 = cl
            .query(&cmd("SPUBLISH").arg(c).arg(format!("hello {c}")))
            .await
            .unwrap();
        assert_eq!(n, 1, "{c}");
    }
    let n = cl.publish("broadcast", "to all").await.unwrap();
    assert_eq!(n, 1);
    let mut got = HashSet::new();
    while got.len() < shard_channels.len() + 1 {
        let m = sub
            .next_message_timeout(Duration::from_secs(5))
            .await
            .unwrap()
            .expect("a message within 5 s");
        got.insert(m.channel_str().unwrap().to_string());
    }
    assert!(got.contains("broadcast"));
    assert_eq!(sub.subscriptions().shard_channels.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_replicas_when_asked() {
    let c = cluster();
    let config = ClusterConfig::default().with_read_from(ReadFrom::Replica);
    let cl = ClusterClient::connect(c.seed_addrs(), config)
        .await
        .unwrap();
    let replicas = c.replicas().unwrap();
    assert_eq!(replicas.len(), 3);
    let before: i64 = replicas
        .iter()
        .map(|r| calls(&(cluster(), *r), "strlen"))
        .sum();
    for i in 0..60 {
        let k = format!("ro:{i}");
        cl.set(&k, "abc").await.unwrap(); // to the master
                                          // Replication is asynchronous: poll the replica (bounded) until it has the write.
        let start = Instant::now();
        while cl.strlen(&k).await.unwrap() != 3 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{k} never replicated"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let after: i64 = replicas
        .iter()
        .map(|r| calls(&(cluster(), *r), "strlen"))
        .sum();
    assert!(
        after - before >= 60,
        "STRLEN served by the replicas ({})",
        after - before
    );
    assert_eq!(
        cl.stats().moved,
        0,
        "READONLY replica links serve their slots' reads"
    );
}

#[test]
fn blocking_twin_basics() {
    use slotline_conn::blocking::{Commands as _, Query as _};
    let cl =
        blocking::ClusterClient::connect(cluster().seed_addrs(), ClusterConfig::default()).unwrap();
    // Every slot, from 8 threads.
    let keys = keys_for_every_slot("bevery:");
    std::thread::scope(|s| {
        for t in 0..8usize {
            let (cl, keys) = (&cl, &keys);
            s.spawn(move || {
                for slot in (t..SLOTS as usize).step_by(8) {
                    cl.set(&keys[slot], slot).unwrap();
                    let v: usize = cl.get(&keys[slot]).unwrap();
                    assert_eq!(v, slot);
                }
            });
        }
    });
    assert_eq!(cl.stats().moved, 0);
    // Split multi-key commands.
    let got: Vec<usize> = cl.mget(&keys[..500]).unwrap();
    assert_eq!(got, (0..500).collect::<Vec<_>>());
    assert_eq!(cl.del(&keys).unwrap(), SLOTS as i64);
    // A 10,000-command pipeline.
    let mut p = pipe();
    for i in 0..10_000 {
        p.incr_by(format!("bpipe:{}", i % 1000), 1);
    }
    let counts: Vec<i64> = cl.pipeline(&p).unwrap();
    assert_eq!(counts.len(), 10_000);
    for (i, n) in counts.iter().enumerate() {
        assert_eq!(*n, (i / 1000 + 1) as i64);
    }
    // SCAN over every master.
    let found: Vec<String> = cl
        .scan(ScanOptions::keys().pattern("bpipe:*").count(100))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(found.len(), 1000);
    assert_eq!(found.iter().collect::<HashSet<_>>().len(), 1000);
    // Transactions and pub/sub.
    let mut tx = pipe();
    tx.set("{btx}a", 1).ignore().incr("{btx}a");
    let (n,): (i64,) = cl.transaction(&tx).unwrap().unwrap();
    assert_eq!(n, 2);
    let mut sub = cl.pubsub().unwrap();
    sub.ssubscribe("bnews").unwrap();
    let n: i64 = cl.query(&cmd("SPUBLISH").arg("bnews").arg("hi")).unwrap();
    assert_eq!(n, 1);
    let m = sub
        .next_message_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(m.payload::<String>().unwrap(), "hi");
}

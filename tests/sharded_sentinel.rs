//! Sharding with sentinel: `ShardedClient` over the test bed's `sharded-sentinel` topology
//! (services `svc1`..`svc3`, a master and a replica each, 3 sentinels watching all three).
//!
//! - Placement agrees with twemproxy itself: Debian's `nutcracker`, configured with
//!   ketama/md5 over the three masters named as the services, receives 10,000 SETs; each
//!   key is then found, read directly from the masters, on the one slotline's ring names.
//! - Distribution: 100,000 keys through nutcracker land on each shard in the numbers the
//!   ring gives, and no shard gets more than 1.5 × the mean.
//! - Cross-shard MGET/MSET/DEL/EXISTS split and merge in order, fan-outs aggregate, scan
//!   returns every key exactly once, async and blocking; a transaction or script over two
//!   shards is refused before anything is sent; reads on replicas with `role=replica`.
//! - kill -9 of one shard's master under load from 4 tasks: the other shards see no error;
//!   that shard's writes resume within 2 s of the sentinels naming its new master (they
//!   take about 3 s after the kill here: 1 s to detect, then election and promotion);
//!   every acknowledged write reads back, but those the dead master acknowledged before it
//!   died and had not replicated yet (counted).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slotline::{pipe, Commands, Query};
use slotline_conn::blocking::{Commands as _, Connection, Query as _};
use slotline_conn::{cmd, ConnectionConfig, ErrorKind, Frame, RefusedKind, ScanOptions};
use slotline_sentinel::{Ring, Sentinel, SentinelConfig, ShardedClient};
use slotline_testbed::{SentinelTopology, SHARDED_SERVICES};
use support::{addr, bounded, sharded, Nutcracker};

/// A connection straight to a data node of the shared topology.
fn direct(a: SocketAddr) -> Connection {
    Connection::connect(ConnectionConfig::new(addr(a))).unwrap()
}

fn ring() -> Ring {
    Ring::new(SHARDED_SERVICES).unwrap()
}

/// The current master of each service, in ring order.
fn masters(t: &SentinelTopology) -> Vec<SocketAddr> {
    t.services()
        .iter()
        .map(|s| t.master_addr_of(s).unwrap())
        .collect()
}

async fn client(t: &SentinelTopology) -> ShardedClient {
    Sentinel::new(t.sentinel_addrs().to_vec(), SentinelConfig::default())
        .unwrap()
        .sharded_for(t.services())
        .await
        .unwrap()
}

/// The masters of the shared topology, and a nutcracker over them, each named after its
/// service.
fn nutcracker_over_the_masters() -> (Vec<SocketAddr>, Nutcracker) {
    let masters = masters(sharded());
    let named: Vec<(SocketAddr, &str)> = masters.iter().copied().zip(SHARDED_SERVICES).collect();
    let proxy = Nutcracker::start(&named);
    (masters, proxy)
}

/// Sends `keys` as SETs (value = key) through nutcracker, pipelined in chunks.
fn set_through(proxy: &Nutcracker, keys: &[String]) {
    let con = direct(proxy.addr());
    for chunk in keys.chunks(500) {
        let mut p = pipe();
        for k in chunk {
            p.add(cmd("SET").arg(k).arg(k));
        }
        for reply in con.send_pipeline(&p).unwrap() {
            assert_eq!(reply, Frame::simple("OK"), "nutcracker refused a SET");
        }
    }
}

/// For each key, which masters hold it (read with EXISTS on each, pipelined).
fn holders(masters: &[SocketAddr], keys: &[String]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); keys.len()];
    for (shard, &m) in masters.iter().enumerate() {
        let con = direct(m);
        for (c, chunk) in keys.chunks(1000).enumerate() {
            let mut p = pipe();
            for k in chunk {
                p.add(cmd("EXISTS").arg(k));
            }
            for (i, reply) in con.send_pipeline(&p).unwrap().into_iter().enumerate() {
                if reply.as_int() == Some(1) {
                    out[c * 1000 + i].push(shard);
                }
            }
        }
    }
    out
}

#[test]
fn the_topology_lists_every_service_and_the_sentinels_watch_them_all() {
    let t = sharded();
    let d = t.describe();
    assert_eq!(d.topology, "sharded-sentinel");
    assert_eq!(d.sentinels.len(), 3);
    let names: Vec<&str> = d.services.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, SHARDED_SERVICES);
    for (name, nodes) in &d.services {
        assert_eq!(nodes.len(), 2, "{name}: a master and a replica");
        for &s in t.sentinel_addrs() {
            let reply = t
                .sentinel_conn(s)
                .unwrap()
                .cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name.as_str()])
                .unwrap();
            assert!(
                reply.as_array().is_some(),
                "sentinel {s} does not watch {name}"
            );
        }
    }
    let json = d.to_json();
    assert!(json.contains(r#""topology":"sharded-sentinel""#), "{json}");
    for name in SHARDED_SERVICES {
        assert!(
            json.contains(&format!(r#"{{"name":"{name}","nodes":["#)),
            "{json}"
        );
    }
}

#[test]
fn nutcracker_places_every_key_on_the_shard_the_ring_names() {
    let (masters, proxy) = nutcracker_over_the_masters();
    let mut keys: Vec<String> = (0..10_000).map(|i| format!("nc:place:{i}")).collect();
    // Hash tags: twemproxy's `hash_tag: "{}"` and the ring hash the same bytes.
    keys.extend((0..200).map(|i| format!("nc:{{tag{}}}:{i}", i % 7)));
    set_through(&proxy, &keys);
    let ring = ring();
    let found = holders(&masters, &keys);
    for (key, on) in keys.iter().zip(&found) {
        assert_eq!(
            on,
            &vec![ring.shard_of(key.as_bytes())],
            "{key}: nutcracker put it on {on:?}, the ring names shard {}",
            ring.shard_of(key.as_bytes())
        );
    }
}

#[test]
fn the_ring_shares_keys_as_nutcracker_does_and_within_bounds() {
    let (masters, proxy) = nutcracker_over_the_masters();
    let keys: Vec<String> = (0..100_000).map(|i| format!("nc:share:{i}")).collect();
    set_through(&proxy, &keys);
    let mut theirs = [0usize; 3];
    for on in holders(&masters, &keys) {
        assert_eq!(on.len(), 1, "a key on {on:?}");
        theirs[on[0]] += 1;
    }
    let ring = ring();
    let mut ours = [0usize; 3];
    for k in &keys {
        ours[ring.shard_of(k.as_bytes())] += 1;
    }
    assert_eq!(ours, theirs, "slotline's ring and nutcracker's differ");
    let mean = keys.len() as f64 / 3.0;
    for (i, n) in ours.iter().enumerate() {
        assert!(
            (*n as f64) <= 1.5 * mean,
            "shard {i} got {n} of {} keys, over 1.5 x the mean",
            keys.len()
        );
    }
    eprintln!("100,000 keys over svc1..svc3: {ours:?} (nutcracker: {theirs:?})");
}

/// Keys of a test, spread over every shard (at least `per_shard` on each).
fn spread(prefix: &str, per_shard: usize) -> Vec<String> {
    let ring = ring();
    let mut counts = [0usize; 3];
    let mut keys = Vec::new();
    for i in 0.. {
        if counts.iter().all(|&c| c >= per_shard) {
            break;
        }
        let k = format!("{prefix}:{i}");
        counts[ring.shard_of(k.as_bytes())] += 1;
        keys.push(k);
    }
    keys
}

on_both_runtimes! {
    /// MSET/MGET/EXISTS/DEL across shards, fan-outs, scan, and refusals, through the
    /// async client; each key checked on the master the ring names.
    async fn cross_shard_commands_split_and_merge() {
        let t = sharded();
        let c = client(t).await;
        let flavour = format!("{:?}", std::thread::current().id());
        let keys = spread(&format!("x:{flavour}"), 5);
        let pairs: Vec<(String, usize)> = keys.iter().cloned().zip(0..).collect();
        c.mset(&pairs).await.unwrap();
        let masters = masters(t);
        for (k, i) in &pairs {
            let shard = c.ring().shard_of(k.as_bytes());
            let on: Option<String> = direct(masters[shard]).get(k).unwrap();
            assert_eq!(on, Some(i.to_string()), "{k} is not on shard {shard}");
        }
        let mut asked: Vec<String> = keys.iter().rev().cloned().collect();
        asked.insert(2, format!("x:{flavour}:missing"));
        let got: Vec<Option<usize>> = c.mget(&asked).await.unwrap();
        let mut want: Vec<Option<usize>> = (0..keys.len()).rev().map(Some).collect();
        want.insert(2, None);
        assert_eq!(got, want, "MGET over shards out of order");
        assert_eq!(c.exists(&asked).await.unwrap(), keys.len() as i64);

        // A pipeline over every shard: replies in order.
        let mut p = pipe();
        for k in &keys {
            p.incr(k);
        }
        let incremented: Vec<i64> = c.pipeline(&p).await.unwrap();
        assert_eq!(incremented, (1..=keys.len() as i64).collect::<Vec<_>>());

        // Fan-outs: DBSIZE is the sum of the masters'.
        let total: i64 = c.dbsize().await.unwrap();
        let by_hand: i64 = masters.iter().map(|&m| direct(m).dbsize().unwrap()).sum();
        assert!((total - by_hand).abs() <= 50, "DBSIZE {total}, masters {by_hand}");

        // KEYS: every shard's, concatenated.
        let listed: Vec<String> = c.keys(format!("x:{flavour}:*")).await.unwrap();
        assert_eq!(
            listed.into_iter().collect::<BTreeSet<_>>(),
            keys.iter().cloned().collect::<BTreeSet<_>>()
        );

        // Scan: each key exactly once, from every shard.
        let pattern = format!("x:{flavour}:*");
        let found: Vec<String> = c
            .scan(ScanOptions::keys().pattern(&pattern).count(3))
            .collect_all()
            .await
            .unwrap();
        assert_eq!(found.len(), keys.len(), "a key came twice or not at all");
        assert_eq!(
            found.into_iter().collect::<BTreeSet<_>>(),
            keys.iter().cloned().collect::<BTreeSet<_>>()
        );

        // One shard or a clear refusal, with nothing sent.
        let shard_of = |k: &String| c.ring().shard_of(k.as_bytes());
        let a = &keys[0];
        let b = keys.iter().find(|k| shard_of(k) != shard_of(a)).unwrap();
        let marker = format!("x:{flavour}:tx-marker");
        let refused = c
            .transaction::<Option<()>>(pipe().set(a, "tx").set(b, "tx").set(&marker, 1))
            .await
            .unwrap_err();
        assert!(
            refused.kind() == ErrorKind::Refused(RefusedKind::CrossSlot),
            "{refused}"
        );
        let eval = cmd("EVAL").arg("return 1").arg(2).arg(a).arg(b);
        let refused = c.send_command(&eval).await.unwrap_err();
        assert!(refused.to_string().contains("different shards"), "{refused}");
        assert_eq!(c.get::<Option<String>>(&marker).await.unwrap(), None);
        let tag = format!("{{x:{flavour}}}");
        let got: Option<(i64, i64)> = c
            .transaction(
                pipe()
                    .set(format!("{tag}:a"), 1)
                    .ignore()
                    .incr(format!("{tag}:a"))
                    .incr(format!("{tag}:a")),
            )
            .await
            .unwrap();
        assert_eq!(got, Some((2, 3)));

        assert_eq!(c.del(&asked).await.unwrap(), keys.len() as i64);
        assert_eq!(c.exists(&keys).await.unwrap(), 0);
    }
}

/// The same through the blocking client, from a plain thread.
#[test]
fn cross_shard_commands_split_and_merge_blocking() {
    use slotline_conn::blocking::{Commands, Query};
    let t = sharded();
    let sentinel = slotline_sentinel::blocking::Sentinel::new(
        t.sentinel_addrs().to_vec(),
        SentinelConfig::default(),
    )
    .unwrap();
    let c = sentinel.sharded_for(t.services()).unwrap();
    let keys = spread("xb", 4);
    let pairs: Vec<(String, usize)> = keys.iter().cloned().zip(0..).collect();
    c.mset(&pairs).unwrap();
    let got: Vec<Option<usize>> = c.mget(&keys).unwrap();
    assert_eq!(got, (0..keys.len()).map(Some).collect::<Vec<_>>());
    let masters = masters(t);
    assert_eq!(c.master_addrs().len(), 3);
    for (k, i) in &pairs {
        let shard = c.ring().shard_of(k.as_bytes());
        let on: Option<String> = direct(masters[shard]).get(k).unwrap();
        assert_eq!(on, Some(i.to_string()), "{k} is not on shard {shard}");
    }
    let found: Vec<String> = c
        .scan::<String>(ScanOptions::keys().pattern("xb:*").count(2))
        .map(|k| k.unwrap())
        .collect();
    assert_eq!(found.len(), keys.len(), "a key came twice or not at all");
    assert_eq!(
        found.into_iter().collect::<BTreeSet<_>>(),
        keys.iter().cloned().collect::<BTreeSet<_>>()
    );
    assert_eq!(c.del(&keys).unwrap(), keys.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_pop_waits_on_its_shard_without_holding_up_the_others() {
    let t = sharded();
    let c = client(t).await;
    let list = spread("bl", 1)
        .into_iter()
        .find(|k| c.ring().shard_of(k.as_bytes()) == 2)
        .unwrap();
    let neighbour = format!("{{{list}}}:other");
    c.set(&neighbour, "free").await.unwrap();
    let waiting = {
        let (c, list) = (c.clone(), list.clone());
        tokio::spawn(async move {
            c.send_command(&cmd("BLPOP").arg(&list).arg(10))
                .await
                .unwrap()
        })
    };
    // The shared connection of the same shard still answers while BLPOP waits.
    support::wait_for("BLPOP to wait on its shard's master", || {
        support::info_int(&(t, masters(t)[2]), "clients", "blocked_clients") >= 1
    })
    .await;
    let v: Option<String> = support::bounded_within(
        Duration::from_secs(1),
        "a GET beside BLPOP",
        c.get(&neighbour),
    )
    .await
    .unwrap();
    assert_eq!(v.as_deref(), Some("free"));
    let _: i64 = c.query(&cmd("LPUSH").arg(&list).arg("item")).await.unwrap();
    let popped = bounded("BLPOP to return", waiting).await.unwrap();
    assert_eq!(
        popped,
        Frame::Array(vec![Frame::bulk(list.clone()), Frame::bulk("item")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_replica_reads_from_each_shards_replica() {
    let t = sharded();
    let url = support::sharded_url_of(t, "?role=replica");
    let c = slotline::Client::open(&url).await.unwrap();
    assert_eq!(c.mode(), "sharded-sentinel");
    let keys = spread("rr", 2);
    for k in &keys {
        c.set(k, "v").await.unwrap(); // writes go to the masters
    }
    let replica_gets = |svc: &str| -> i64 {
        let replicas = t.replica_addrs_of(svc).unwrap();
        replicas
            .iter()
            .map(|&r| support::calls(&(t, r), "get"))
            .sum()
    };
    let before: Vec<i64> = SHARDED_SERVICES.iter().map(|s| replica_gets(s)).collect();
    for k in &keys {
        let v: Option<String> = bounded("a replica read", async {
            loop {
                if let Some(v) = c.get::<Option<String>>(k).await.unwrap() {
                    return Some(v);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert_eq!(v.as_deref(), Some("v"));
    }
    let after: Vec<i64> = SHARDED_SERVICES.iter().map(|s| replica_gets(s)).collect();
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(a > b, "shard {i}'s replica served no GET ({b} then {a})");
    }
}

/// What the load saw of one key: acknowledged (with when) or failed.
#[derive(Default)]
struct Ledger {
    acked: Vec<(String, usize, Instant)>,
    errors: Vec<(usize, Instant, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_in_one_shard_moves_only_that_shard() {
    one_shard_fails_over(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_failover_of_one_shard_loses_no_write() {
    one_shard_fails_over(true).await;
}

/// One shard's master replaced under load, killed or by `SENTINEL FAILOVER` (`graceful`):
/// only that shard moves; the others see no error; every acknowledged write reads back,
/// but, after a kill, those the dead master acknowledged before it died; after a graceful
/// failover, every one, and no call failed.
async fn one_shard_fails_over(graceful: bool) {
    // A topology of its own: this test replaces a master.
    let t = Arc::new(support::off_runtime(|| SentinelTopology::sharded().start().unwrap()).await);
    let c = client(&t).await;
    if graceful {
        let t2 = t.clone();
        support::off_runtime(move || support::wait_failover_followers(&t2, SHARDED_SERVICES.len()))
            .await;
    }
    let ring = c.ring().clone();
    let victim = 1; // svc2
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (c, ledger, stop, ring) = (c.clone(), ledger.clone(), stop.clone(), ring.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = format!("load:{w}:{i}");
                i += 1;
                let shard = ring.shard_of(key.as_bytes());
                let r = c.set(&key, &key).await;
                let now = Instant::now();
                {
                    let mut l = ledger.lock().unwrap();
                    match r {
                        Ok(()) => l.acked.push((key, shard, now)),
                        Err(e) => l.errors.push((shard, now, e.to_string())),
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    let started = Instant::now();
    support::wait_for("writes on every shard", || {
        let l = ledger.lock().unwrap();
        (0..3).all(|s| l.acked.iter().filter(|a| a.1 == s).count() > 20)
    })
    .await;
    let svc = SHARDED_SERVICES[victim];
    let t2 = t.clone();
    let (old, killed_at, new, switched_at) = support::off_runtime(move || {
        let old = t2.master_addr_of(svc).unwrap();
        let killed_at = Instant::now();
        let new = match graceful {
            true => t2.failover_of(svc).unwrap(),
            false => {
                t2.kill_master_of(svc).unwrap();
                t2.wait_for_new_master_of(svc, old, Duration::from_secs(30))
                    .unwrap()
            }
        };
        (old, killed_at, new, Instant::now())
    })
    .await;
    assert_ne!(old, new);
    support::wait_for_within(
        Duration::from_secs(30),
        "writes to resume on the failed shard",
        || {
            let l = ledger.lock().unwrap();
            l.acked.iter().any(|a| a.1 == victim && a.2 > switched_at)
        },
    )
    .await;
    // Some more load after the recovery, then stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        bounded("a load task to end", w).await.unwrap();
    }
    let l = ledger.lock().unwrap();
    let others: Vec<&(usize, Instant, String)> =
        l.errors.iter().filter(|e| e.0 != victim).collect();
    assert!(others.is_empty(), "other shards saw errors: {others:?}");
    let resumed = l
        .acked
        .iter()
        .filter(|a| a.1 == victim && a.2 > killed_at)
        .map(|a| a.2)
        .min()
        .unwrap();
    let last_error = l.errors.iter().map(|e| e.1).max();
    assert!(
        resumed <= switched_at + Duration::from_secs(2),
        "the shard's writes resumed {:?} after the sentinels named {new}",
        resumed.saturating_duration_since(switched_at)
    );
    // Every acknowledged write reads back from the masters; the only ones allowed to be
    // missing were acknowledged by the killed master before it died (asynchronous
    // replication), and they are counted.
    let masters = masters(&t);
    let mut per_master: BTreeMap<usize, Vec<&(String, usize, Instant)>> = BTreeMap::new();
    for a in &l.acked {
        per_master.entry(a.1).or_default().push(a);
    }
    let mut lost_at_failover = 0;
    for (shard, acked) in per_master {
        let con = direct(masters[shard]);
        for chunk in acked.chunks(500) {
            let mut p = pipe();
            for (k, _, _) in chunk {
                p.get(k);
            }
            let values = con.send_pipeline(&p).unwrap();
            for ((k, _, at), v) in chunk.iter().zip(values) {
                if v.as_str() == Some(k.as_str()) {
                    continue;
                }
                assert!(
                    !graceful && shard == victim && *at <= killed_at,
                    "{k} (shard {shard}), acknowledged {:?} after the kill, was lost",
                    at.saturating_duration_since(killed_at)
                );
                lost_at_failover += 1;
            }
        }
    }
    if graceful {
        assert!(l.errors.is_empty(), "calls failed: {:?}", l.errors);
    }
    eprintln!(
        "replaced {old} ({svc}); sentinels named {new} after {:?}; writes resumed {:?} after \
         the kill; {} errors, all on {svc} (last {:?} after the kill); {} writes acknowledged, \
         all read back but {} acknowledged by {old} before it died (asynchronous \
         replication); test took {:?}",
        switched_at - killed_at,
        resumed - killed_at,
        l.errors.len(),
        last_error.map(|e| e.saturating_duration_since(killed_at)),
        l.acked.len(),
        lost_at_failover,
        started.elapsed()
    );
}

//! The chaos soak: a 3 × 1 cluster and a sentinel group (a master, 2 replicas, 3 sentinels)
//! under steady mixed load (SET of unique values, INCR counters, RPUSH of unique items,
//! pipelines, GET and MGET checks) while a scheduler injects, in turn, kill -9, SIGSTOP
//! (a latency spike below the failure timeouts), partitions (nftables, in a network
//! namespace of the soak's own), a live reshard and manual failovers. A checker records
//! every acknowledged write and every error with its `may_have_run()`, and then verifies:
//!
//! - no write applied twice: each counter ≤ its acknowledged + possibly-run increments; no
//!   list item appears twice;
//! - every acknowledged write reads back, except those lost to Redis' asynchronous
//!   replication at a failover that was not graceful (kill -9, partition: acknowledged by
//!   the old master in the moments before it was replaced), counted and attributed to
//!   their failover separately; a write lost outside such a failover fails the soak, and
//!   so does one lost at a graceful failover (`SENTINEL FAILOVER`, `CLUSTER FAILOVER`:
//!   the clients hold or the cluster pauses writes until the new master serves);
//! - half the workers write with `durability=replicas:1` (each write followed by `WAIT`):
//!   none of their acknowledged writes may be lost, at any fault;
//! - no caller waited longer than its response timeout + 1 s;
//! - the client's memory stays bounded (RSS sampled);
//! - cached readers (a client-side cache on clients of their own) read the counters the
//!   whole time: no read goes back below one the reader saw before, except at a failover
//!   that may lose writes (as above); once the load stops, every cached read equals the
//!   server's value (how soon is reported).
//!
//! `SLOTLINE_CHAOS_SECS` sets the length (default 60: the short variant `make test` runs);
//! `make chaos` runs it for 300 s and writes the figures into RELIABILITY.md
//! (`SLOTLINE_CHAOS_REPORT`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slotline_conn::{pipe, Commands, ConnectionConfig, Execute, Query};
use slotline_testbed::{Cluster, Direction, Role, SentinelTopology};
use support::staleness::{settle, spawn_reader};
use support::{addr, isolated, runtime};

/// The clients' response timeout.
const RESPONSE: Duration = Duration::from_secs(1);
/// A caller may wait at most its timeout and this.
const SLACK: Duration = Duration::from_secs(1);
/// Workers per deployment, and as many again writing with durability.
const WORKERS: usize = 3;
/// The durable workers' wait for a replica's acknowledgement.
const DURABILITY: &str = "replicas:1";
const DURABILITY_TIMEOUT: Duration = Duration::from_millis(300);
/// A write acknowledged this long before a failover began may still be lost to it.
const REPLICATION_WINDOW: Duration = Duration::from_secs(2);
/// Cached readers per deployment, and each one's cache.
const CACHED_READERS: usize = 2;
const CACHE_BYTES: usize = 1 << 20;
/// A cached reader's pause between reads (as the workers pause between operations).
const PACE: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Deployment {
    Cluster,
    Sentinel,
}

/// One injected fault: what, where, when, and whether it replaced a master.
#[derive(Debug, Clone)]
struct Fault {
    kind: &'static str,
    on: Deployment,
    started: Instant,
    ended: Instant,
    failover: bool,
}

/// Everything the load saw, per deployment and worker.
#[derive(Default)]
struct Ledger {
    /// (deployment, worker) → (acknowledged, possibly run) increments.
    counters: BTreeMap<(Deployment, usize), (u64, u64)>,
    /// (deployment, worker) → acknowledged list items, with when.
    pushed: BTreeMap<(Deployment, usize), Vec<(u64, Instant)>>,
    /// Acknowledged unique SETs: deployment, worker, key, when.
    sets: Vec<(Deployment, usize, String, Instant)>,
    /// Errors by deployment and message kind.
    errors: BTreeMap<(Deployment, String), u64>,
    /// Reads that returned a value nobody wrote there (must stay 0).
    wrong_reads: Vec<String>,
    operations: u64,
    longest: Duration,
}

impl Ledger {
    fn error(&mut self, on: Deployment, e: &slotline_conn::Error) {
        let text = e.to_string();
        if matches!(
            e.kind(),
            slotline_conn::ErrorKind::Server | slotline_conn::ErrorKind::NotDurable
        ) {
            // Rare, and worth reading whole.
            eprintln!("{on:?}: {text}");
        }
        // The kind of error, without the numbers (slots, addresses, durations) in it.
        let kind: String = text
            .split([':', '('])
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(60)
            .map(|c| if c.is_ascii_digit() { 'N' } else { c })
            .collect();
        *self.errors.entry((on, kind)).or_default() += 1;
    }
}

/// One worker's loop over the op mix, until `stop`.
async fn work<C>(c: C, on: Deployment, w: usize, stop: Arc<AtomicBool>, ledger: Arc<Mutex<Ledger>>)
where
    C: Execute + Send + Sync,
{
    let tag = format!("{on:?}").to_lowercase();
    let counter = format!("chaos:{tag}:counter:{w}");
    let list = format!("chaos:{tag}:list:{w}");
    let mut i = 0u64;
    let mut written: Vec<String> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let key = format!("chaos:{tag}:{w}:{i}");
        let started = Instant::now();
        match i % 5 {
            0 => {
                let r = c.set(&key, &key).await;
                let now = Instant::now();
                let mut l = ledger.lock().unwrap();
                match r {
                    Ok(()) => {
                        l.sets.push((on, w, key.clone(), now));
                        written.push(key);
                    }
                    Err(e) => l.error(on, &e),
                }
            }
            1 => {
                let r = c.incr(&counter).await;
                let mut l = ledger.lock().unwrap();
                let entry = l.counters.entry((on, w)).or_default();
                match r {
                    Ok(_) => entry.0 += 1,
                    Err(e) => {
                        entry.1 += u64::from(e.may_have_run());
                        l.error(on, &e);
                    }
                }
            }
            2 => {
                let r: slotline_conn::Result<i64> = c
                    .query(&slotline_conn::cmd("RPUSH").arg(&list).arg(i))
                    .await;
                let now = Instant::now();
                let mut l = ledger.lock().unwrap();
                match r {
                    Ok(_) => l.pushed.entry((on, w)).or_default().push((i, now)),
                    Err(e) => l.error(on, &e),
                }
            }
            3 => {
                // A pipeline: a unique SET and an increment, on whichever nodes they live.
                let r: slotline_conn::Result<((), i64)> =
                    c.pipeline(pipe().set(&key, &key).incr(&counter)).await;
                let now = Instant::now();
                let mut l = ledger.lock().unwrap();
                match r {
                    Ok(((), _)) => {
                        l.sets.push((on, w, key.clone(), now));
                        l.counters.entry((on, w)).or_default().0 += 1;
                        written.push(key);
                    }
                    Err(e) => {
                        // Either part may have run.
                        l.counters.entry((on, w)).or_default().1 += 1;
                        l.error(on, &e);
                    }
                }
            }
            _ => {
                // Reads of earlier writes: a value is either the one written or missing
                // (lost at a failover, checked at the end); never another.
                let picks: Vec<&String> = written.iter().rev().step_by(7).take(3).collect();
                if !picks.is_empty() {
                    let r: slotline_conn::Result<Vec<Option<String>>> = c.mget(&picks).await;
                    let mut l = ledger.lock().unwrap();
                    match r {
                        Ok(values) => {
                            for (k, v) in picks.iter().zip(values) {
                                if v.as_ref().is_some_and(|v| v != *k) {
                                    l.wrong_reads.push(format!("{k} read {v:?}"));
                                }
                            }
                        }
                        Err(e) => l.error(on, &e),
                    }
                }
            }
        }
        let waited = started.elapsed();
        {
            let mut l = ledger.lock().unwrap();
            l.operations += 1;
            l.longest = l.longest.max(waited);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// This process's resident set size, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The faults, in the order the scheduler injects them (round and round).
const PLAN: [(&str, Deployment); 10] = [
    ("kill -9 master", Deployment::Cluster),
    ("kill -9 master", Deployment::Sentinel),
    ("partition master", Deployment::Cluster),
    ("partition master", Deployment::Sentinel),
    ("SIGSTOP master 500 ms", Deployment::Cluster),
    ("SIGSTOP master 500 ms", Deployment::Sentinel),
    ("live reshard", Deployment::Cluster),
    ("manual failover", Deployment::Sentinel),
    ("manual failover", Deployment::Cluster),
    ("partition replica", Deployment::Sentinel),
];

const RECOVER: Duration = Duration::from_secs(40);

/// Whether a fault is a graceful failover (the old master alive and reachable throughout).
fn graceful(kind: &str) -> bool {
    kind == "manual failover"
}

/// Injects one fault and waits until the deployment is whole again.
fn inject(
    kind: &str,
    on: Deployment,
    cluster: &Cluster,
    sentinel: &SentinelTopology,
    round: usize,
) -> bool {
    match (kind, on) {
        ("kill -9 master", Deployment::Cluster) => {
            let m = cluster.masters().unwrap()[round % 3];
            cluster.kill(m).unwrap();
            cluster.wait_for_failover(m, RECOVER).unwrap();
            cluster.restart(m).unwrap();
            cluster.wait_stable(RECOVER).unwrap();
            true
        }
        ("kill -9 master", Deployment::Sentinel) => {
            let m = sentinel.kill_master().unwrap();
            sentinel.wait_for_new_master(m, RECOVER).unwrap();
            sentinel.restart(m).unwrap();
            sentinel.wait_ready(RECOVER).unwrap();
            true
        }
        ("partition master", Deployment::Cluster) => {
            let m = cluster.masters().unwrap()[round % 3];
            cluster.partition(m, Direction::Both).unwrap();
            cluster.wait_for_failover(m, RECOVER).unwrap();
            cluster.heal(m).unwrap();
            cluster.wait_stable(RECOVER).unwrap();
            true
        }
        ("partition master", Deployment::Sentinel) => {
            let m = sentinel.master_addr().unwrap();
            sentinel
                .process(m)
                .unwrap()
                .partition(Direction::Both)
                .unwrap();
            sentinel.wait_for_new_master(m, RECOVER).unwrap();
            sentinel.process(m).unwrap().heal().unwrap();
            sentinel.wait_ready(RECOVER).unwrap();
            true
        }
        ("SIGSTOP master 500 ms", Deployment::Cluster) => {
            let m = cluster.masters().unwrap()[round % 3];
            let p = cluster.process(m).unwrap();
            p.stop().unwrap();
            std::thread::sleep(Duration::from_millis(500));
            p.cont().unwrap();
            cluster.wait_stable(RECOVER).unwrap();
            false
        }
        ("SIGSTOP master 500 ms", Deployment::Sentinel) => {
            let m = sentinel.master_addr().unwrap();
            sentinel.stop(m).unwrap();
            std::thread::sleep(Duration::from_millis(500));
            sentinel.cont(m).unwrap();
            sentinel.wait_ready(RECOVER).unwrap();
            false
        }
        ("live reshard", Deployment::Cluster) => {
            // A slot the load writes to, moved key by key to another master.
            let slot = cluster
                .keyslot(format!("chaos:cluster:counter:{}", round % WORKERS))
                .unwrap();
            let (_, to) = support::owner_and_other(cluster, slot);
            let m = cluster.begin_migration(slot, to).unwrap();
            while cluster.migrate_keys(&m, 20).unwrap() > 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
            cluster.finish_migration(m).unwrap();
            false
        }
        ("manual failover", Deployment::Cluster) => {
            let m = cluster.masters().unwrap()[round % 3];
            cluster.failover_master(m).unwrap();
            cluster.wait_stable(RECOVER).unwrap();
            true
        }
        ("manual failover", Deployment::Sentinel) => {
            sentinel.failover().unwrap();
            sentinel.wait_ready(RECOVER).unwrap();
            true
        }
        ("partition replica", Deployment::Sentinel) => {
            let r = *sentinel.replica_addrs().unwrap().first().unwrap();
            sentinel
                .process(r)
                .unwrap()
                .partition(Direction::Both)
                .unwrap();
            std::thread::sleep(Duration::from_secs(2));
            sentinel.process(r).unwrap().heal().unwrap();
            let _ = sentinel.role(r).map(|role| assert_eq!(role, Role::Replica));
            sentinel.wait_ready(RECOVER).unwrap();
            false
        }
        _ => unreachable!("a fault of the plan"),
    }
}

#[test]
fn chaos_soak() {
    if !isolated("chaos_soak") {
        return;
    }
    let secs: u64 = std::env::var("SLOTLINE_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let cluster = Arc::new(Cluster::builder().local().start().unwrap());
    let sentinel = Arc::new(SentinelTopology::builder().local().start().unwrap());
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let rss_max = Arc::new(AtomicU64::new(0));
    let rt = runtime();
    // Plain clients (workers 0..WORKERS), durable ones (WORKERS..2 × WORKERS), then the
    // cached readers' own.
    let mut clients = rt.block_on(async {
        let mut clients = Vec::new();
        for kind in 0..2 + CACHED_READERS {
            let node = |a: slotline_conn::Addr| {
                let c = support::short_timeouts(RESPONSE, ConnectionConfig::new(a));
                match kind {
                    0 => c,
                    1 => c.with_durability(
                        DURABILITY
                            .parse::<slotline_conn::Durability>()
                            .unwrap()
                            .with_timeout(DURABILITY_TIMEOUT),
                    ),
                    _ => c.with_cache(slotline_conn::cache::CacheConfig::new(CACHE_BYTES)),
                }
            };
            let seeds: Vec<slotline_conn::Addr> =
                cluster.seed_addrs().into_iter().map(addr).collect();
            let config =
                slotline_cluster::ClusterConfig::default().with_connection(node(seeds[0].clone()));
            let cc = slotline_cluster::ClusterClient::connect(seeds, config)
                .await
                .unwrap();
            let sconfig = slotline_sentinel::SentinelConfig::default()
                .with_node_config(node(addr(sentinel.initial_master())));
            let s = slotline_sentinel::Sentinel::new(sentinel.sentinel_addrs().to_vec(), sconfig)
                .unwrap();
            let sc = s.master_for(sentinel.service()).await.unwrap();
            clients.push((cc, sc));
        }
        clients
    });
    let cached = clients.split_off(2);
    let counters = |on: Deployment| -> Arc<Vec<String>> {
        let tag = format!("{on:?}").to_lowercase();
        Arc::new(
            (0..2 * WORKERS)
                .map(|w| format!("chaos:{tag}:counter:{w}"))
                .collect(),
        )
    };
    let (cluster_readers, sentinel_readers): (Vec<_>, Vec<_>) = {
        let _runtime = rt.enter();
        cached
            .iter()
            .enumerate()
            .map(|(r, (cc, sc))| {
                let (cluster_keys, sentinel_keys) = (
                    counters(Deployment::Cluster),
                    counters(Deployment::Sentinel),
                );
                (
                    spawn_reader(cc.clone(), cluster_keys, stop.clone(), r, true, false, PACE),
                    spawn_reader(
                        sc.clone(),
                        sentinel_keys,
                        stop.clone(),
                        r,
                        true,
                        false,
                        PACE,
                    ),
                )
            })
            .unzip()
    };
    let mut tasks = Vec::new();
    for (i, (cluster_client, sentinel_client)) in clients.iter().enumerate() {
        for w in i * WORKERS..(i + 1) * WORKERS {
            tasks.push(rt.spawn(work(
                cluster_client.clone(),
                Deployment::Cluster,
                w,
                stop.clone(),
                ledger.clone(),
            )));
            tasks.push(rt.spawn(work(
                sentinel_client.clone(),
                Deployment::Sentinel,
                w,
                stop.clone(),
                ledger.clone(),
            )));
        }
    }
    // RSS: sampled every 250 ms from a second in (the load's buffers warmed up).
    std::thread::sleep(Duration::from_secs(1));
    let rss_first = rss_kib();
    let sampler = {
        let (stop, rss_max) = (stop.clone(), rss_max.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                rss_max.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };

    let started = Instant::now();
    let mut faults: Vec<Fault> = Vec::new();
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        let (kind, on) = PLAN[round % PLAN.len()];
        let at = Instant::now();
        let failover = inject(kind, on, &cluster, &sentinel, round / PLAN.len());
        faults.push(Fault {
            kind,
            on,
            started: at,
            ended: Instant::now(),
            failover,
        });
        round += 1;
        // Steady load between faults.
        std::thread::sleep(Duration::from_millis(500));
    }
    let ran_for = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (cluster_readings, sentinel_readings) = rt.block_on(async {
        for t in tasks {
            support::bounded("a worker to end", t).await.unwrap();
        }
        let (mut on_cluster, mut on_sentinel) = (Vec::new(), Vec::new());
        for t in cluster_readers {
            on_cluster.push(support::bounded("a cached reader to end", t).await.unwrap());
        }
        for t in sentinel_readers {
            on_sentinel.push(support::bounded("a cached reader to end", t).await.unwrap());
        }
        (on_cluster, on_sentinel)
    });
    // Every cached read comes to equal the server's (read through a plain client), each
    // reader checked at once from the moment the last write was answered.
    let stopped = Instant::now();
    let (plain_cluster, plain_sentinel) = clients[0].clone();
    let settling: Vec<_> = {
        let _runtime = rt.enter();
        let on_cluster = cluster_readings.iter().map(|r| {
            let (c, plain, keys) = (
                r.client.clone(),
                plain_cluster.clone(),
                counters(Deployment::Cluster),
            );
            tokio::spawn(async move { settle(&c, &plain, &keys, stopped).await })
        });
        let on_sentinel = sentinel_readings.iter().map(|r| {
            let (c, plain, keys) = (
                r.client.clone(),
                plain_sentinel.clone(),
                counters(Deployment::Sentinel),
            );
            tokio::spawn(async move { settle(&c, &plain, &keys, stopped).await })
        });
        on_cluster.chain(on_sentinel).collect()
    };
    let settled = rt.block_on(async {
        let mut longest = Duration::ZERO;
        for t in settling {
            longest = longest.max(t.await.unwrap());
        }
        longest
    });
    sampler.join().unwrap();
    cluster.wait_stable(RECOVER).unwrap();
    sentinel.wait_ready(RECOVER).unwrap();
    let mut cache_stats: Vec<_> = cluster_readings
        .iter()
        .map(|r| r.client.cache_stats())
        .collect();
    cache_stats.extend(
        sentinel_readings
            .iter()
            .map(|r| r.client.client().cache_stats()),
    );
    let mut regressions: Vec<(Deployment, Instant, String)> = Vec::new();
    let mut cached_reads = 0;
    for (on, readings) in [
        (
            Deployment::Cluster,
            cluster_readings
                .iter()
                .map(|r| (r.reads, &r.regressions))
                .collect::<Vec<_>>(),
        ),
        (
            Deployment::Sentinel,
            sentinel_readings
                .iter()
                .map(|r| (r.reads, &r.regressions))
                .collect(),
        ),
    ] {
        for (reads, list) in readings {
            cached_reads += reads;
            regressions.extend(list.iter().map(|(at, _, what)| (on, *at, what.clone())));
        }
    }
    let cache = slotline_conn::cache::CacheStats::total(cache_stats).unwrap_or_default();

    // ---- the checker ----
    let l = ledger.lock().unwrap();
    let read = |on: Deployment, key: &str| -> Option<String> {
        match on {
            Deployment::Cluster => {
                let owner = cluster.slot_owner(cluster.keyslot(key).unwrap()).unwrap();
                cluster
                    .cmd(owner, &["GET", key])
                    .unwrap()
                    .as_str()
                    .map(str::to_string)
            }
            Deployment::Sentinel => {
                let m = sentinel.master_addr().unwrap();
                sentinel
                    .conn(m)
                    .unwrap()
                    .cmd(&["GET", key])
                    .unwrap()
                    .as_str()
                    .map(str::to_string)
            }
        }
    };
    let lrange = |on: Deployment, key: &str| -> Vec<u64> {
        let reply = match on {
            Deployment::Cluster => {
                let owner = cluster.slot_owner(cluster.keyslot(key).unwrap()).unwrap();
                cluster.cmd(owner, &["LRANGE", key, "0", "-1"]).unwrap()
            }
            Deployment::Sentinel => {
                let m = sentinel.master_addr().unwrap();
                sentinel
                    .conn(m)
                    .unwrap()
                    .cmd(&["LRANGE", key, "0", "-1"])
                    .unwrap()
            }
        };
        reply
            .iter()
            .filter_map(|f| f.as_str()?.parse().ok())
            .collect()
    };
    // A lost write is explained by a failover of its deployment that began within the
    // replication window after it was acknowledged, or while it was under way; unless it
    // was graceful (nothing may be lost then) or the write was durable.
    let explained_by = |on: Deployment, w: usize, at: Instant| -> Option<&Fault> {
        faults.iter().find(|f| {
            f.on == on
                && f.failover
                && !graceful(f.kind)
                && w < WORKERS
                && at + REPLICATION_WINDOW >= f.started
                && at <= f.ended
        })
    };
    let mut lost: BTreeMap<String, u64> = BTreeMap::new();
    let mut unexplained: Vec<String> = Vec::new();
    let mut note_loss =
        |on: Deployment, w: usize, at: Instant, what: String| match explained_by(on, w, at) {
            Some(f) => *lost.entry(format!("{} ({:?})", f.kind, f.on)).or_default() += 1,
            None => {
                let during = faults
                    .iter()
                    .find(|f| f.on == on && at + REPLICATION_WINDOW >= f.started && at <= f.ended)
                    .map(|f| format!(" (during {})", f.kind))
                    .unwrap_or_default();
                let durable = if w >= WORKERS { " durable" } else { "" };
                unexplained.push(format!("{on:?}{durable} {what}{during}"));
            }
        };
    let mut duplicates = 0u64;
    let mut over_applied: Vec<String> = Vec::new();
    for &(on, w, ref key, at) in &l.sets {
        if read(on, key).as_deref() != Some(key.as_str()) {
            note_loss(on, w, at, format!("SET {key}"));
        }
    }
    for (&(on, w), items) in &l.pushed {
        let tag = format!("{on:?}").to_lowercase();
        let present = lrange(on, &format!("chaos:{tag}:list:{w}"));
        let unique: BTreeSet<u64> = present.iter().copied().collect();
        duplicates += (present.len() - unique.len()) as u64;
        for &(item, at) in items {
            if !unique.contains(&item) {
                note_loss(on, w, at, format!("RPUSH {item} on list {w}"));
            }
        }
    }
    let mut counter_losses = 0u64;
    let mut durable_counter_losses = 0u64;
    for (&(on, w), &(acked, maybe)) in &l.counters {
        let tag = format!("{on:?}").to_lowercase();
        let value: u64 = read(on, &format!("chaos:{tag}:counter:{w}"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if value > acked + maybe {
            over_applied.push(format!("{on:?} counter {w}: {value} > {acked} + {maybe}"));
        }
        match w < WORKERS {
            true => counter_losses += acked.saturating_sub(value),
            false => durable_counter_losses += acked.saturating_sub(value),
        }
    }
    // A cached read lower than one seen before is explained only by a failover that may
    // lose writes (the reader saw a write the new master never had).
    let (explained_regressions, unexplained_regressions): (Vec<_>, Vec<_>) =
        regressions.iter().partition(|(on, at, _)| {
            faults.iter().any(|f| {
                f.on == *on
                    && f.failover
                    && !graceful(f.kind)
                    && *at >= f.started
                    && *at <= f.ended + REPLICATION_WINDOW
            })
        });
    let rss_peak = rss_max.load(Ordering::Relaxed);
    let mut injected: BTreeMap<String, u64> = BTreeMap::new();
    for f in &faults {
        *injected
            .entry(format!("{} ({:?})", f.kind, f.on))
            .or_default() += 1;
    }
    let acknowledged = l.sets.len() as u64 + l.pushed.values().map(|v| v.len() as u64).sum::<u64>();
    let report = format!(
        "| figure | value |\n|---|---|\n\
         | length | {ran_for:.0?} ({} faults, {} rounds of the plan) |\n\
         | operations | {} ({} unique writes and list items acknowledged) |\n\
         | faults injected | {} |\n\
         | writes applied twice | {} counters over their acknowledged + possibly-run increments, {duplicates} duplicate list items |\n\
         | hung callers (over the 1 s response timeout + 1 s) | {} |\n\
         | longest caller wait | {:.0?} |\n\
         | acknowledged, then lost at a failover (kill -9, partition) | {} (by failover: {}); counters {counter_losses} increments short |\n\
         | acknowledged, then lost at a graceful failover or outside any failover | {} |\n\
         | acknowledged with durability={DURABILITY}, then lost | {} writes; counters {durable_counter_losses} increments short |\n\
         | wrong values read | {} |\n\
         | errors returned | {} |\n\
         | client RSS | {} MiB after warm-up, {} MiB at most |\n\
         | cached reads ({CACHED_READERS} readers per deployment, caches of {} KiB) | {cached_reads} ({} hits, {} invalidations, {} flushes, {} replies kept out as invalidated in flight) |\n\
         | cached reads below one the reader saw before | {} at a failover that may lose writes, {} otherwise |\n\
         | cached reads equal the server's, after the load stopped | within {settled:.0?} |\n",
        faults.len(),
        faults.len().div_ceil(PLAN.len()),
        l.operations,
        acknowledged,
        injected.iter().map(|(k, n)| format!("{k} ×{n}")).collect::<Vec<_>>().join(", "),
        over_applied.len(),
        u64::from(l.longest > RESPONSE + SLACK),
        l.longest,
        lost.values().sum::<u64>(),
        lost.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
        unexplained.iter().filter(|u| !u.contains(" durable ")).count(),
        unexplained.iter().filter(|u| u.contains(" durable ")).count(),
        l.wrong_reads.len(),
        l.errors
            .iter()
            .map(|((on, kind), n)| format!("{on:?} `{kind}` ×{n}"))
            .collect::<Vec<_>>()
            .join(", "),
        rss_first / 1024,
        rss_peak / 1024,
        CACHE_BYTES / 1024,
        cache.hits,
        cache.invalidations,
        cache.flushes,
        cache.discarded,
        explained_regressions.len(),
        unexplained_regressions.len(),
    );
    eprintln!("{report}");
    if let Ok(path) = std::env::var("SLOTLINE_CHAOS_REPORT") {
        std::fs::write(&path, &report).unwrap();
    }
    assert!(
        over_applied.is_empty(),
        "writes applied twice: {over_applied:?}"
    );
    assert_eq!(duplicates, 0, "list items pushed twice");
    assert!(
        unexplained.is_empty(),
        "lost at a graceful failover, outside any failover or despite durability: {unexplained:?}"
    );
    assert_eq!(durable_counter_losses, 0, "durable increments lost");
    assert!(
        unexplained_regressions.is_empty(),
        "cached reads went back in time: {unexplained_regressions:?}"
    );
    assert!(
        cache.hits > 0,
        "the cached readers were never served from their caches"
    );
    assert!(
        l.wrong_reads.is_empty(),
        "wrong values: {:?}",
        l.wrong_reads
    );
    assert!(
        l.longest <= RESPONSE + SLACK,
        "a caller waited {:?}, over its timeout + 1 s",
        l.longest
    );
    assert!(
        rss_peak <= rss_first * 2 + 64 * 1024,
        "RSS grew from {rss_first} KiB to {rss_peak} KiB"
    );
    assert!(
        faults.len() >= 4,
        "only {} faults in {ran_for:?}",
        faults.len()
    );
}

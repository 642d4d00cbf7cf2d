//! Failover with the test bed's sentinel topology (3 sentinels, a master, 2 replicas,
//! down-after 1 s): writes under load through one `master_for` client while the master is
//! killed with SIGKILL (async and blocking), and a graceful `SENTINEL FAILOVER` with an
//! idle client, which must follow `+switch-master` at once.
//!
//! Under load, checked: writes resume on the new master, through the same client, within
//! 2 s of `+switch-master`; every write the new master acknowledged after the master died
//! reads back from it (one that another node acknowledged while the sentinels were still
//! switching, a replica promoted and then left for another, may be lost by Redis itself,
//! and is reported); no write is applied twice (each counter moves by exactly one per
//! acknowledged `INCR`, or by one more per `INCR` that failed and may have run); the only
//! errors are writes in flight when the master died (one per worker at most), reported as
//! may-have-run, none for a write never sent (it waits for the new master within its
//! response timeout); no panic, no hang. (If the sentinels fail over a second time, see
//! `verify`.)
//!
//! Graceful `SENTINEL FAILOVER` under 50 writing tasks: no acknowledged write lost (writes
//! are held from the failover's first step until the client is on the new master), no
//! call fails, none waits longer than the failover.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use slotline_conn::{Addr, ConnectionConfig};
use slotline_sentinel::{blocking, Sentinel, SentinelConfig};
use slotline_testbed::SentinelTopology;
use support::addr;

const WORKERS: usize = 8;
/// Each worker's pause between rounds of writes (the load stays well under what the
/// machine can serve, so that sentinels keep their pace).
const PACE: Duration = Duration::from_millis(4);
/// Writes resume within this long after `+switch-master`.
const RESUME_WITHIN: Duration = Duration::from_secs(2);
/// The graceful switch is followed within this long.
const FOLLOW_WITHIN: Duration = Duration::from_secs(1);
/// Bound on any wait of the tests themselves.
const DEADLINE: Duration = Duration::from_secs(30);
/// Replies a dead master sent before it died are read well within this (after it, every
/// acknowledgement comes from the new master).
const DRAIN: Duration = Duration::from_millis(300);

/// Records every switch the sentinels announce (`+switch-master`, first seen from any
/// sentinel; each sentinel announces each switch).
struct SwitchWatch {
    switches: Arc<Mutex<Vec<(Instant, Addr)>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl SwitchWatch {
    /// Subscribed on every sentinel when this returns.
    fn start(t: &SentinelTopology) -> SwitchWatch {
        let switches = Arc::new(Mutex::new(Vec::<(Instant, Addr)>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for &s in t.sentinel_addrs() {
            let mut ps =
                slotline_conn::blocking::PubSub::connect(ConnectionConfig::new(addr(s))).unwrap();
            ps.subscribe("+switch-master").unwrap();
            let (switches, stop) = (switches.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match ps.next_message_timeout(Duration::from_millis(50)) {
                        Ok(Some(msg)) => {
                            let text: String = msg.payload().unwrap();
                            let words: Vec<&str> = text.split(' ').collect();
                            let new = Addr::tcp(words[3], words[4].parse().unwrap());
                            let mut switches = switches.lock().unwrap();
                            if switches.last().map(|(_, a)| a) != Some(&new) {
                                switches.push((Instant::now(), new));
                            }
                        }
                        Ok(None) => {}
                        Err(_) => return,
                    }
                }
            }));
        }
        SwitchWatch {
            switches,
            stop,
            threads,
        }
    }

    /// The switches seen so far, in order.
    fn switches(&self) -> Vec<(Instant, Addr)> {
        self.switches.lock().unwrap().clone()
    }

    /// When the first `+switch-master` came, and the new master it named.
    fn wait(&self) -> (Instant, Addr) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(first) = self.switches().first() {
                return first.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no +switch-master in {DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for SwitchWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Incr,
    Set,
}

/// What one worker saw, in order. `node`: where the client sent the write that was
/// acknowledged (its address read at once after the acknowledgement).
#[derive(Debug)]
enum Event {
    Incr {
        at: Instant,
        node: Addr,
        value: i64,
    },
    Set {
        at: Instant,
        node: Addr,
        key: String,
        value: u64,
    },
    Failed {
        at: Instant,
        op: Op,
        may_have_run: bool,
        error: String,
    },
}

impl Event {
    fn at(&self) -> Instant {
        match self {
            Event::Incr { at, .. } | Event::Set { at, .. } | Event::Failed { at, .. } => *at,
        }
    }
}

fn failed(op: Op, e: &slotline_conn::Error) -> Event {
    Event::Failed {
        at: Instant::now(),
        op,
        may_have_run: e.may_have_run(),
        error: e.to_string(),
    }
}

fn counter_key(w: usize) -> String {
    format!("fo:{w}:n")
}

/// Kills the master while the workers write, keeps the load on until the sentinels and the
/// client settled on the new master, stops the workers (`stop`, then `join`), and checks
/// the rules above.
fn kill_under_load(
    t: &SentinelTopology,
    watch: &SwitchWatch,
    stop: &AtomicBool,
    client_addr: &dyn Fn() -> Addr,
    join: &mut dyn FnMut() -> Vec<Vec<Event>>,
) {
    std::thread::sleep(Duration::from_millis(500));
    let old = t.master_addr().unwrap();
    assert_eq!(client_addr(), addr(old));
    let killed_at = Instant::now();
    assert_eq!(t.kill_master().unwrap(), old);
    let (first_at, _) = watch.wait();
    t.wait_for_new_master(old, DEADLINE).unwrap();

    // The load goes on past the resume bound, and until the sentinels agree on the master
    // the last switch named and the client is on it.
    let deadline = Instant::now() + DEADLINE;
    let final_master = loop {
        let switches = watch.switches();
        let (last_at, last_new) = switches[switches.len() - 1].clone();
        let now = Instant::now();
        let settled = t.master_addr().ok().filter(|m| addr(*m) == last_new);
        if let Some(m) = settled {
            if now >= first_at + RESUME_WITHIN + Duration::from_millis(500)
                && now >= last_at + Duration::from_secs(1)
                && client_addr() == last_new
            {
                break m;
            }
        }
        if now > deadline {
            let roles: Vec<_> = t
                .data_addrs()
                .iter()
                .map(|&a| (a, t.role(a).ok()))
                .collect();
            panic!(
                "not settled: switches {switches:?}, the sentinels say {:?}, the client is on \
                 {}, roles {roles:?}",
                t.master_addr(),
                client_addr()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, Ordering::SeqCst);
    let logs = join();
    verify(t, final_master, killed_at, &watch.switches(), &logs);
}

/// Checks the rules above on the workers' logs, against the final master's data.
///
/// Sentinels at this test bed's pace (down-after 1 s) on a loaded machine sometimes find
/// the new master down right after switching to it and fail over a second time, from a
/// live master (seen 1 run in 3 with other topologies busy on 2 cores). The client follows
/// that one too; but writes the intermediate master acknowledged after the second
/// promotion are lost by Redis itself (asynchronous replication), so then the read-back
/// checks cover the writes acknowledged after the last switch.
fn verify(
    t: &SentinelTopology,
    final_master: SocketAddr,
    killed_at: Instant,
    switches: &[(Instant, Addr)],
    logs: &[Vec<Event>],
) {
    let switched_at = switches[0].0;
    let last_switch = switches[switches.len() - 1].0;
    let drained = killed_at + DRAIN;
    let from = if switches.len() == 1 {
        drained
    } else {
        println!(
            "note: the sentinels failed over {} times: {:?}",
            switches.len(),
            switches
                .iter()
                .map(|(at, a)| (at.saturating_duration_since(killed_at), a))
                .collect::<Vec<_>>()
        );
        last_switch + DRAIN
    };
    // Writes resumed in time.
    let resumed = logs
        .iter()
        .flatten()
        .filter(|e| !matches!(e, Event::Failed { .. }) && e.at() > drained)
        .map(Event::at)
        .min()
        .expect("no write succeeded after the master died");
    let after_switch = resumed.saturating_duration_since(switched_at);
    println!(
        "+switch-master {:?} after the kill; writes resumed {:?} after the kill ({:?} after the switch)",
        switched_at - killed_at,
        resumed - killed_at,
        after_switch
    );
    assert!(
        after_switch <= RESUME_WITHIN,
        "writes resumed {after_switch:?} after +switch-master"
    );

    // Errors: the writes in flight when a master went (one per worker at most, per
    // failover), which may have run.
    let errors: Vec<&Event> = logs
        .iter()
        .flatten()
        .filter(|e| matches!(e, Event::Failed { .. }))
        .collect();
    let may_have_run = errors
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Failed {
                    may_have_run: true,
                    ..
                }
            )
        })
        .count();
    println!(
        "{} writes acknowledged, {} errors ({} may have run, {} refused): {:?}",
        logs.iter().flatten().count() - errors.len(),
        errors.len(),
        may_have_run,
        errors.len() - may_have_run,
        errors
            .iter()
            .filter_map(|e| match e {
                Event::Failed { error, .. } => Some(error.as_str()),
                _ => None,
            })
            .collect::<std::collections::BTreeSet<_>>()
    );
    // A request never sent waits for the new master within its response timeout (5 s,
    // longer than the failover): none fails.
    assert_eq!(
        may_have_run,
        errors.len(),
        "requests never sent failed: {errors:?}"
    );
    let in_flight = logs.len() * switches.len();
    assert!(
        may_have_run <= in_flight,
        "{may_have_run} errors may have hidden a write, with {in_flight} writes in flight"
    );
    for e in &errors {
        assert!(
            e.at() > killed_at && e.at() < last_switch + RESUME_WITHIN + Duration::from_secs(5),
            "an error outside the outage: {e:?}"
        );
    }

    // A write another node acknowledged after the kill (a replica promoted, then left for
    // another in a failover the sentinels started again) may be lost by Redis itself
    // (asynchronous replication): allowed only while the sentinels were still switching.
    let final_node = addr(final_master);
    let elsewhere: Vec<&Event> = logs
        .iter()
        .flatten()
        .filter(|e| e.at() > drained)
        .filter(|e| match e {
            Event::Incr { node, .. } | Event::Set { node, .. } => *node != final_node,
            Event::Failed { .. } => false,
        })
        .collect();
    if let Some(late) = elsewhere
        .iter()
        .find(|e| e.at() > last_switch + RESUME_WITHIN)
    {
        panic!(
            "a write acknowledged by a node other than the master long after the switch: {late:?}"
        );
    }
    if !elsewhere.is_empty() {
        println!(
            "note: {} writes were acknowledged by another node than the final master during the \
             failover (not required to read back): {:?}",
            elsewhere.len(),
            elsewhere
                .iter()
                .filter_map(|e| match e {
                    Event::Incr { node, .. } | Event::Set { node, .. } => Some(node.to_string()),
                    Event::Failed { .. } => None,
                })
                .collect::<std::collections::BTreeSet<_>>()
        );
    }

    // Every write the final master acknowledged after that reads back; counters never moved
    // by more than the INCRs that may have run.
    let mut con = t.conn(final_master).unwrap();
    let mut sets = Vec::new();
    for (w, log) in logs.iter().enumerate() {
        let mut last: Option<i64> = None;
        let mut unknown = 0;
        for e in log.iter().filter(|e| e.at() > from) {
            match e {
                Event::Incr { node, .. } | Event::Set { node, .. } if *node != final_node => {}
                Event::Incr { value, .. } => {
                    if let Some(prev) = last {
                        let step = value - prev;
                        assert!(
                            (1..=1 + unknown).contains(&step),
                            "worker {w}: counter went from {prev} to {value} with {unknown} \
                             INCRs of unknown outcome between: a write applied twice?"
                        );
                    }
                    last = Some(*value);
                    unknown = 0;
                }
                Event::Failed {
                    op: Op::Incr,
                    may_have_run: true,
                    ..
                } => unknown += 1,
                Event::Set { key, value, .. } => sets.push((key.clone(), *value)),
                Event::Failed { .. } => {}
            }
        }
        let last = last.unwrap_or_else(|| panic!("worker {w} made no write after the switch"));
        let stored: i64 = con
            .cmd(&["GET", &counter_key(w)])
            .unwrap()
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (last..=last + unknown).contains(&stored),
            "worker {w}: counter is {stored}, last acknowledged {last} ({unknown} of unknown outcome after)"
        );
    }
    assert!(!sets.is_empty());
    assert_sets_read_back(&mut con, &sets);
    println!("{} acknowledged SETs read back", sets.len());
}

/// Every acknowledged SET `(key, value)` reads back from the node of `con`.
fn assert_sets_read_back(con: &mut slotline_testbed::Conn, sets: &[(String, u64)]) {
    for chunk in sets.chunks(500) {
        let mut args = vec!["MGET".to_string()];
        args.extend(chunk.iter().map(|(k, _)| k.clone()));
        let values = con.cmd(&args).unwrap();
        for ((key, value), got) in chunk.iter().zip(values.iter()) {
            assert_eq!(
                got.as_str(),
                Some(value.to_string().as_str()),
                "acknowledged SET {key} = {value} is lost"
            );
        }
    }
}

async fn async_worker(
    c: slotline_sentinel::SentinelClient,
    w: usize,
    stop: Arc<AtomicBool>,
) -> Vec<Event> {
    use slotline_conn::Commands;
    let mut log = Vec::new();
    let mut seq = 0u64;
    while !stop.load(Ordering::SeqCst) {
        seq += 1;
        log.push(match c.incr(counter_key(w)).await {
            Ok(value) => Event::Incr {
                at: Instant::now(),
                node: c.addr(),
                value,
            },
            Err(e) => failed(Op::Incr, &e),
        });
        let key = format!("fo:{w}:s:{seq}");
        log.push(match c.set(&key, seq).await {
            Ok(()) => Event::Set {
                at: Instant::now(),
                node: c.addr(),
                key,
                value: seq,
            },
            Err(e) => failed(Op::Set, &e),
        });
        tokio::time::sleep(PACE).await;
    }
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_master_under_load_async() {
    kill_master_under_load(WORKERS, SentinelConfig::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_master_under_load_with_a_long_timeout_fails_only_requests_in_flight() {
    let node = ConnectionConfig::new(Addr::tcp("127.0.0.1", 6379))
        .with_response_timeout(Some(Duration::from_secs(10)));
    kill_master_under_load(50, SentinelConfig::default().with_node_config(node)).await;
}

/// The master killed under `workers` async callers of one client made with `config`.
async fn kill_master_under_load(workers: usize, config: SentinelConfig) {
    let t = Arc::new(SentinelTopology::builder().local().start().unwrap());
    let sentinel = Sentinel::new(t.sentinel_addrs(), config).unwrap();
    let client = sentinel.master_for(t.service()).await.unwrap();
    let watch = SwitchWatch::start(&t);
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers: Vec<_> = (0..workers)
        .map(|w| tokio::spawn(async_worker(client.clone(), w, stop.clone())))
        .collect();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        kill_under_load(&t, &watch, &stop, &|| client.addr(), &mut || {
            workers
                .drain(..)
                .map(|w| {
                    runtime
                        .block_on(tokio::time::timeout(DEADLINE, w))
                        .expect("a worker hangs")
                        .unwrap()
                })
                .collect()
        })
    })
    .await
    .unwrap();
}

#[test]
fn kill_master_under_load_blocking() {
    use slotline_conn::blocking::Commands;
    let t = SentinelTopology::builder().local().start().unwrap();
    let sentinel = blocking::Sentinel::new(t.sentinel_addrs(), SentinelConfig::default()).unwrap();
    let client = sentinel.master_for(t.service()).unwrap();
    let watch = SwitchWatch::start(&t);
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (c, stop) = (client.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut log = Vec::new();
                let mut seq = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    seq += 1;
                    log.push(match c.incr(counter_key(w)) {
                        Ok(value) => Event::Incr {
                            at: Instant::now(),
                            node: c.addr(),
                            value,
                        },
                        Err(e) => failed(Op::Incr, &e),
                    });
                    let key = format!("fo:{w}:s:{seq}");
                    log.push(match c.set(&key, seq) {
                        Ok(()) => Event::Set {
                            at: Instant::now(),
                            node: c.addr(),
                            key,
                            value: seq,
                        },
                        Err(e) => failed(Op::Set, &e),
                    });
                    std::thread::sleep(PACE);
                }
                log
            })
        })
        .collect();
    kill_under_load(&t, &watch, &stop, &|| client.addr(), &mut || {
        // Joined within a bound: a worker that hangs fails the test instead of hanging it.
        let deadline = Instant::now() + DEADLINE;
        workers
            .drain(..)
            .map(|w| {
                while !w.is_finished() {
                    assert!(Instant::now() < deadline, "a worker hangs");
                    std::thread::sleep(Duration::from_millis(10));
                }
                w.join().unwrap()
            })
            .collect()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_failover_is_followed_at_once_by_an_idle_client() {
    use slotline_conn::Commands;
    let t = Arc::new(SentinelTopology::builder().local().start().unwrap());
    let sentinel = Sentinel::new(t.sentinel_addrs(), SentinelConfig::default()).unwrap();
    let client = sentinel.master_for(t.service()).await.unwrap();
    let old = t.master_addr().unwrap();
    assert_eq!(client.addr(), addr(old));
    client.set("graceful:k", 1).await.unwrap();
    // The client follows failovers once every sentinel lists its subscription.
    let t2 = t.clone();
    support::off_runtime(move || support::wait_failover_followers(&t2, 1)).await;
    let watch = SwitchWatch::start(&t);

    let t2 = t.clone();
    let failover = tokio::task::spawn_blocking(move || t2.failover().unwrap());
    let (switched_at, new) = tokio::task::spawn_blocking(move || watch.wait())
        .await
        .unwrap();
    // Idle: the client learns of the switch only from the sentinels' pub/sub (the old
    // master is alive and still answers as a master until the sentinels demote it).
    let deadline = switched_at + DEADLINE;
    while client.addr() != new {
        assert!(Instant::now() < deadline, "the client never moved to {new}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let moved_at = Instant::now();
    let t2 = t.clone();
    let old_role = tokio::task::spawn_blocking(move || t2.role(old).ok())
        .await
        .unwrap();
    let took = moved_at.saturating_duration_since(switched_at);
    println!(
        "the client moved {took:?} after +switch-master; the old master then was {old_role:?}"
    );
    assert!(
        took < FOLLOW_WITHIN,
        "the client moved {took:?} after +switch-master"
    );
    let new_master = failover.await.unwrap();
    assert_eq!(addr(new_master), new);

    // It works there.
    assert_eq!(client.incr("graceful:k").await.unwrap(), 2);
    let mut con = t.conn(new_master).unwrap();
    assert_eq!(con.cmd(&["GET", "graceful:k"]).unwrap().as_str(), Some("2"));
}

/// Tasks writing at once in the graceful failover test.
const GRACEFUL_TASKS: usize = 50;

/// What one writer saw in a graceful failover: its acknowledged INCRs (the last value),
/// its acknowledged SETs, its failures, and its slowest call.
#[derive(Debug, Default)]
struct Writes {
    last: i64,
    sets: Vec<(String, u64)>,
    failures: Vec<String>,
    slowest: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_failover_under_load_loses_no_acknowledged_write() {
    use slotline_conn::Commands;
    let t = Arc::new(SentinelTopology::builder().local().start().unwrap());
    let sentinel = Sentinel::new(t.sentinel_addrs(), SentinelConfig::default()).unwrap();
    let client = sentinel.master_for(t.service()).await.unwrap();
    let old = t.master_addr().unwrap();
    let t2 = t.clone();
    support::off_runtime(move || support::wait_failover_followers(&t2, 1)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..GRACEFUL_TASKS)
        .map(|w| {
            let (c, stop) = (client.clone(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Writes::default();
                let mut seq = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    seq += 1;
                    let began = Instant::now();
                    match c.incr(format!("gfo:{w}:n")).await {
                        Ok(value) => seen.last = value,
                        Err(e) => seen.failures.push(e.to_string()),
                    }
                    seen.slowest = seen.slowest.max(began.elapsed());
                    let key = format!("gfo:{w}:s:{seq}");
                    let began = Instant::now();
                    match c.set(&key, seq).await {
                        Ok(()) => seen.sets.push((key, seq)),
                        Err(e) => seen.failures.push(e.to_string()),
                    }
                    seen.slowest = seen.slowest.max(began.elapsed());
                    tokio::time::sleep(PACE).await;
                }
                seen
            })
        })
        .collect();
    // Under load for a while, then the failover, then a while on the new master.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let watch = SwitchWatch::start(&t);
    let began = Instant::now();
    let t2 = t.clone();
    let new = tokio::task::spawn_blocking(move || t2.failover().unwrap())
        .await
        .unwrap();
    let (switched_at, _) = tokio::task::spawn_blocking(move || watch.wait())
        .await
        .unwrap();
    let length = switched_at - began;
    support::wait_for("the client to be on the new master", || {
        client.addr() == addr(new)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut logs = Vec::new();
    for w in workers {
        logs.push(
            tokio::time::timeout(DEADLINE, w)
                .await
                .expect("a worker hangs")
                .unwrap(),
        );
    }

    // No call failed, none waited longer than the failover took (and 100 ms).
    let failures: Vec<&String> = logs.iter().flat_map(|l| &l.failures).collect();
    assert!(failures.is_empty(), "calls failed: {failures:?}");
    let slowest = logs.iter().map(|l| l.slowest).max().unwrap_or_default();
    println!(
        "failover {old} -> {new}: +switch-master {length:?} after SENTINEL FAILOVER; the \
         slowest call took {slowest:?}"
    );
    assert!(
        slowest <= length + Duration::from_millis(100),
        "a call waited {slowest:?} in a failover of {length:?}"
    );
    // Every acknowledged write is on the new master: each counter is exactly its last
    // acknowledged value (no INCR lost, none applied twice), every SET reads back.
    let mut con = t.conn(new).unwrap();
    let mut acknowledged = 0;
    for (w, seen) in logs.iter().enumerate() {
        assert!(seen.last > 0, "worker {w} wrote nothing");
        let stored = con.cmd(&["GET", &format!("gfo:{w}:n")]).unwrap();
        assert_eq!(
            stored.as_str(),
            Some(seen.last.to_string().as_str()),
            "worker {w}: acknowledged INCRs lost"
        );
        acknowledged += seen.last as usize + seen.sets.len();
        assert_sets_read_back(&mut con, &seen.sets);
    }
    println!("{acknowledged} acknowledged writes, all on the new master");
}

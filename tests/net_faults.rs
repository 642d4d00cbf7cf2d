//! Faults a network makes. Slow, silent and reset links through the test bed's fault proxy
//! (a TCP relay that delays, stalls, cuts or resets): a delay under the response timeout
//! only slows calls, one over it times them out; a stalled link times callers out within
//! the response timeout, and the client works again once the link does; a reset or a cut
//! is reported at once and the client reconnects by itself.
//!
//! Partitions: a node cut off the network (every packet to and from its ports dropped by
//! nftables, silently: no reset, no acknowledgement), each test alone in a network namespace
//! of its own. Unlike a killed or frozen process, a partitioned node tells the client
//! nothing; only the client's own timeouts do.
//!
//! - One node: callers get a timeout within the response timeout (+1 s), never hang; the
//!   increment that timed out is reported as possibly run; after the heal the same client
//!   works again, and no increment was applied twice. An idle client finds its dead link
//!   by itself (keepalive, `TCP_USER_TIMEOUT`).
//! - One way: with only the replies dropped, an INCR runs and its caller is told it may
//!   have; with only the requests dropped, it is told the same (TCP delivers the request
//!   late, once healed, and it may run then); neither is sent twice.
//! - Sentinel: the master is partitioned under load; its callers time out within the
//!   response timeout; the sentinels promote the replica and the client moves there by
//!   itself; after the heal the old master comes back as a replica and the client stays
//!   on the new one; no increment applied twice, every write acknowledged after the
//!   partition reads back.
//! - Cluster: one master (and its bus port) partitioned under load; the same promises, the
//!   cluster's replica taking over its slots.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slotline_conn::{Commands, ConnectionConfig, Execute};
use slotline_testbed::{Cluster, Direction, FaultProxy, LinkMode, SentinelTopology, Standalone};
use support::{addr, isolated, runtime};

/// The client's response timeout in these tests.
const RESPONSE: Duration = Duration::from_millis(500);
/// A caller may wait at most its timeout and this.
const SLACK: Duration = Duration::from_secs(1);

/// What the load saw: per counter, increments acknowledged and those that failed but may
/// have run; every acknowledged unique write; every error; the longest wait of a call.
#[derive(Default)]
struct Ledger {
    acked_incrs: Vec<u64>,
    maybe_incrs: Vec<u64>,
    acked_sets: Vec<(String, Instant)>,
    /// When, what, and whether it may have run.
    errors: Vec<(Instant, String, bool)>,
    longest: Duration,
}

/// Runs `workers` tasks, each INCR-ing its counter and SET-ting a unique key in turn,
/// until `stop`; records everything in the ledger.
fn load<C>(
    client: &C,
    prefix: &str,
    workers: usize,
    stop: &Arc<AtomicBool>,
    ledger: &Arc<Mutex<Ledger>>,
) -> Vec<tokio::task::JoinHandle<()>>
where
    C: Execute + Clone + Send + Sync + 'static,
{
    ledger.lock().unwrap().acked_incrs = vec![0; workers];
    ledger.lock().unwrap().maybe_incrs = vec![0; workers];
    (0..workers)
        .map(|w| {
            let (c, stop, ledger) = (client.clone(), stop.clone(), ledger.clone());
            let counter = format!("{prefix}:counter:{w}");
            let prefix = prefix.to_string();
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let incr = c.incr(&counter).await;
                    let waited = started.elapsed();
                    let key = format!("{prefix}:{w}:{i}");
                    i += 1;
                    let started = Instant::now();
                    let set = c.set(&key, &key).await;
                    let waited = waited.max(started.elapsed());
                    let now = Instant::now();
                    {
                        let mut l = ledger.lock().unwrap();
                        l.longest = l.longest.max(waited);
                        match incr {
                            Ok(_) => l.acked_incrs[w] += 1,
                            Err(e) => {
                                if e.may_have_run() {
                                    l.maybe_incrs[w] += 1;
                                }
                                l.errors.push((now, e.to_string(), e.may_have_run()));
                            }
                        }
                        match set {
                            Ok(()) => l.acked_sets.push((key, now)),
                            Err(e) => l.errors.push((now, e.to_string(), e.may_have_run())),
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        })
        .collect()
}

/// No caller waited longer than its timeout + 1 s; no counter moved by more than its
/// acknowledged and possibly-run increments. Returns how many increments were lost
/// (acknowledged, yet missing: asynchronous replication at a failover).
fn check_counters(ledger: &Ledger, response: Duration, mut read: impl FnMut(usize) -> u64) -> u64 {
    assert!(
        ledger.longest <= response + SLACK,
        "a caller waited {:?}, over its timeout + 1 s",
        ledger.longest
    );
    let mut lost = 0;
    for (w, (&acked, &maybe)) in ledger
        .acked_incrs
        .iter()
        .zip(&ledger.maybe_incrs)
        .enumerate()
    {
        let value = read(w);
        assert!(
            value <= acked + maybe,
            "counter {w} is {value}: more than {acked} acknowledged + {maybe} possibly run \
             increments (one ran twice)"
        );
        lost += acked.saturating_sub(value);
    }
    lost
}

async fn wait_for_writes(ledger: &Arc<Mutex<Ledger>>, after: Instant, what: &str) {
    support::wait_for_within(Duration::from_secs(30), what, || {
        ledger
            .lock()
            .unwrap()
            .acked_sets
            .iter()
            .any(|(_, at)| *at > after)
    })
    .await;
}

#[test]
fn a_partitioned_node_times_out_and_the_client_recovers_after_the_heal() {
    if !isolated("a_partitioned_node_times_out_and_the_client_recovers_after_the_heal") {
        return;
    }
    let node = Standalone::builder().local().start().unwrap();
    runtime().block_on(async {
        let config = support::short_timeouts(RESPONSE, ConnectionConfig::new(addr(node.addr())));
        let c = slotline_conn::Client::connect(config).await.unwrap();
        c.set("p:n", 0).await.unwrap();
        assert_eq!(c.incr("p:n").await.unwrap(), 1);

        node.process().unwrap().partition(Direction::Both).unwrap();
        let started = Instant::now();
        let e = c.incr("p:n").await.unwrap_err();
        let waited = started.elapsed();
        assert!(waited <= RESPONSE + SLACK, "INCR waited {waited:?}: {e}");
        assert!(
            e.may_have_run(),
            "the INCR was written, it may have run: {e}"
        );
        // While cut off, every call fails within its timeout (a reconnect that gets no
        // answer to its SYN included).
        for _ in 0..3 {
            let started = Instant::now();
            let r = c.get::<Option<i64>>("p:n").await;
            assert!(r.is_err(), "a partitioned node answered");
            assert!(
                started.elapsed() <= RESPONSE + SLACK,
                "GET waited {:?}",
                started.elapsed()
            );
        }

        node.process().unwrap().heal().unwrap();
        let v = support::bounded("the client to work again after the heal", async {
            loop {
                if let Ok(v) = c.get::<i64>("p:n").await {
                    return v;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        // 1 acknowledged, 1 timed out (ran or not): never 3.
        assert!((1..=2).contains(&v), "the counter is {v}");
        assert_eq!(c.incr("p:n").await.unwrap(), v + 1);

        // An idle client finds the dead link by itself (keepalive probes, cut short by
        // TCP_USER_TIMEOUT), with no request to time out.
        let idle = slotline_conn::Client::connect(support::short_timeouts(
            RESPONSE,
            ConnectionConfig::new(addr(node.addr())),
        ))
        .await
        .unwrap();
        let _: Option<i64> = idle.get("p:n").await.unwrap();
        assert!(idle.is_connected());
        node.process().unwrap().partition(Direction::Both).unwrap();
        let cut = Instant::now();
        support::wait_for_within(
            Duration::from_secs(10),
            "the idle client to find its link dead",
            || !idle.is_connected(),
        )
        .await;
        eprintln!(
            "an idle client found its link dead {:?} after the cut",
            cut.elapsed()
        );
        node.process().unwrap().heal().unwrap();
    });
}

#[test]
fn one_way_partitions_report_possibly_run_and_never_resend() {
    if !isolated("one_way_partitions_report_possibly_run_and_never_resend") {
        return;
    }
    let node = Standalone::builder().local().start().unwrap();
    runtime().block_on(async {
        let c = slotline_conn::Client::connect(support::short_timeouts(
            RESPONSE,
            ConnectionConfig::new(addr(node.addr())),
        ))
        .await
        .unwrap();
        c.set("ow:n", 0).await.unwrap();
        let process = node.process().unwrap();
        let counter = || node.process().unwrap().cmd(&["GET", "ow:n"]).unwrap();
        // Replies lost: the INCR ran, the caller cannot know, and is told it may have.
        process.partition(Direction::FromNode).unwrap();
        let e = c.incr("ow:n").await.unwrap_err();
        assert!(e.may_have_run(), "{e}");
        process.heal().unwrap();
        assert_eq!(
            counter().as_str(),
            Some("1"),
            "the INCR whose reply was lost did run"
        );
        // Requests dropped: reported as possibly run too, rightly: TCP retransmits the
        // request when the link heals, even after the client gave up on it, and it may run
        // then. Never sent twice by the client.
        answers_again_plain(&c).await;
        process.partition(Direction::ToNode).unwrap();
        let e = c.incr("ow:n").await.unwrap_err();
        assert!(e.may_have_run(), "{e}");
        process.heal().unwrap();
        answers_again_plain(&c).await;
        let after: i64 = counter().as_str().unwrap().parse().unwrap();
        assert!(
            (1..=2).contains(&after),
            "the counter is {after}: an INCR ran twice"
        );
        eprintln!(
            "the INCR sent into a one-way partition ran late: {}",
            after == 2
        );
    });
}

/// Waits until `c` answers a PING again (bounded).
async fn answers_again_plain(c: &slotline_conn::Client) {
    support::bounded("the client to answer again", async {
        while c.ping().await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[test]
fn a_partitioned_sentinel_master_is_left_for_the_promoted_replica() {
    if !isolated("a_partitioned_sentinel_master_is_left_for_the_promoted_replica") {
        return;
    }
    partitioned_sentinel_master(RESPONSE, 3);
}

#[test]
fn a_partitioned_sentinel_master_with_a_long_timeout_fails_no_request_never_sent() {
    if !isolated("a_partitioned_sentinel_master_with_a_long_timeout_fails_no_request_never_sent") {
        return;
    }
    partitioned_sentinel_master(LONG_RESPONSE, LONG_WORKERS);
}

/// A response timeout longer than any failover here, and the callers of that test.
const LONG_RESPONSE: Duration = Duration::from_secs(10);
const LONG_WORKERS: usize = 50;

/// The errors of a run whose response timeout outlasts the failover: only requests that
/// may have run (in flight on the node when it was cut off); none never sent.
fn only_in_flight_errors(ledger: &Ledger, response: Duration) {
    if response < LONG_RESPONSE {
        return;
    }
    let never_sent: Vec<&String> = ledger
        .errors
        .iter()
        .filter(|(_, _, may_have_run)| !may_have_run)
        .map(|(_, e, _)| e)
        .collect();
    assert!(
        never_sent.is_empty(),
        "requests never sent failed within their deadline: {never_sent:?}"
    );
}

/// A sentinel master partitioned (both ways) under `workers` callers with a `response`
/// timeout: the client moves to the promoted replica and stays there after the heal.
fn partitioned_sentinel_master(response: Duration, workers: usize) {
    let t = Arc::new(
        SentinelTopology::builder()
            .local()
            .replicas(1)
            .start()
            .unwrap(),
    );
    runtime().block_on(async {
        let config = slotline_sentinel::SentinelConfig::default().with_node_config(
            support::short_timeouts(response, ConnectionConfig::new(addr(t.initial_master()))),
        );
        let sentinel =
            slotline_sentinel::Sentinel::new(t.sentinel_addrs().to_vec(), config).unwrap();
        let c = sentinel.master_for(t.service()).await.unwrap();
        let (stop, ledger) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(Mutex::new(Ledger::default())),
        );
        let workers = load(&c, "ps", workers, &stop, &ledger);
        wait_for_writes(&ledger, Instant::now(), "writes before the partition").await;

        let old = t.master_addr().unwrap();
        t.process(old).unwrap().partition(Direction::Both).unwrap();
        let cut_at = Instant::now();
        let t2 = t.clone();
        let new = support::off_runtime(move || {
            t2.wait_for_new_master(old, Duration::from_secs(30))
                .unwrap()
        })
        .await;
        let promoted_at = Instant::now();
        wait_for_writes(&ledger, promoted_at, "writes on the promoted replica").await;
        let resumed = Instant::now();
        assert_eq!(
            c.addr(),
            addr(new),
            "the client is not on the promoted replica"
        );

        // Heal: the sentinels turn the old master into a replica of the new one; the
        // client must not go back to it.
        t.process(old).unwrap().heal().unwrap();
        let t3 = t.clone();
        support::off_runtime(move || {
            support::wait_until_within(
                Duration::from_secs(30),
                "the old master to rejoin as a replica",
                || {
                    t3.role(old)
                        .is_ok_and(|r| r == slotline_testbed::Role::Replica)
                },
            )
        })
        .await;
        let healed_at = Instant::now();
        wait_for_writes(&ledger, healed_at, "writes after the heal").await;
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            support::bounded("a load task to end", w).await.unwrap();
        }
        assert_eq!(
            c.addr(),
            addr(new),
            "the client went back to the old master"
        );

        let l = ledger.lock().unwrap();
        only_in_flight_errors(&l, response);
        let mut master = t.conn(new).unwrap();
        let lost = check_counters(&l, response, |w| {
            master
                .cmd(&["GET", &format!("ps:counter:{w}")])
                .ok()
                .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or(0)
        });
        // Every write acknowledged after the partition was acknowledged by the new master.
        for (key, at) in l.acked_sets.iter().filter(|(_, at)| *at > cut_at) {
            let v = master.cmd(&["GET", key]).unwrap();
            assert_eq!(
                v.as_str(),
                Some(key.as_str()),
                "{key}, acknowledged {:?} after the cut, was lost",
                *at - cut_at
            );
        }
        eprintln!(
            "partitioned {old}; sentinels promoted {new} {:?} after the cut; writes resumed \
             {:?} after the promotion; {} errors; longest call {:?}; {lost} increments lost \
             (acknowledged by {old} before the cut and not replicated)",
            promoted_at - cut_at,
            resumed - promoted_at,
            l.errors.len(),
            l.longest
        );
    });
}

#[test]
fn a_partitioned_cluster_master_is_left_for_its_promoted_replica() {
    if !isolated("a_partitioned_cluster_master_is_left_for_its_promoted_replica") {
        return;
    }
    partitioned_cluster_master(RESPONSE, 3);
}

#[test]
fn a_partitioned_cluster_master_with_a_long_timeout_fails_no_request_never_sent() {
    if !isolated("a_partitioned_cluster_master_with_a_long_timeout_fails_no_request_never_sent") {
        return;
    }
    partitioned_cluster_master(LONG_RESPONSE, LONG_WORKERS);
}

/// A cluster master (and its bus) partitioned both ways under `workers` callers with a
/// `response` timeout: its replica takes over, the healed old master rejoins as a replica.
fn partitioned_cluster_master(response: Duration, workers: usize) {
    let cluster = Arc::new(Cluster::builder().local().start().unwrap());
    runtime().block_on(async {
        let seeds: Vec<slotline_conn::Addr> = cluster.seed_addrs().into_iter().map(addr).collect();
        let config = slotline_cluster::ClusterConfig::default().with_connection(
            support::short_timeouts(response, ConnectionConfig::new(seeds[0].clone())),
        );
        let c = slotline_cluster::ClusterClient::connect(seeds, config)
            .await
            .unwrap();
        // Keys of the victim's slots: the workers' counters are tagged onto it.
        let victim: SocketAddr = cluster.masters().unwrap()[0];
        let tag = (0..)
            .map(|i| format!("{{pc{i}}}"))
            .find(|t| cluster.slot_owner(cluster.keyslot(t).unwrap()).unwrap() == victim)
            .unwrap();
        let (stop, ledger) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(Mutex::new(Ledger::default())),
        );
        let prefix = format!("{tag}:pc");
        let workers = load(&c, &prefix, workers, &stop, &ledger);
        wait_for_writes(&ledger, Instant::now(), "writes before the partition").await;

        cluster.partition(victim, Direction::Both).unwrap();
        let cut_at = Instant::now();
        let cl = cluster.clone();
        let new = support::off_runtime(move || {
            cl.wait_for_failover(victim, Duration::from_secs(30))
                .unwrap()
        })
        .await;
        let promoted_at = Instant::now();
        wait_for_writes(&ledger, promoted_at, "writes on the promoted replica").await;
        let resumed = Instant::now();

        cluster.heal(victim).unwrap();
        let cl = cluster.clone();
        support::off_runtime(move || {
            support::wait_until_within(
                Duration::from_secs(30),
                "the old master to rejoin as a replica",
                || cl.replicas_of(new).is_ok_and(|r| r.contains(&victim)),
            )
        })
        .await;
        wait_for_writes(&ledger, Instant::now(), "writes after the heal").await;
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            support::bounded("a load task to end", w).await.unwrap();
        }

        let l = ledger.lock().unwrap();
        only_in_flight_errors(&l, response);
        let lost = check_counters(&l, response, |w| {
            cluster
                .cmd(new, &["GET", &format!("{prefix}:counter:{w}")])
                .ok()
                .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or(0)
        });
        for (key, at) in l.acked_sets.iter().filter(|(_, at)| *at > cut_at) {
            let v = cluster.cmd(new, &["GET", key]).unwrap();
            assert_eq!(
                v.as_str(),
                Some(key.as_str()),
                "{key}, acknowledged {:?} after the cut, was lost",
                *at - cut_at
            );
        }
        eprintln!(
            "partitioned {victim}; the cluster promoted {new} {:?} after the cut; writes \
             resumed {:?} after the promotion; {} errors; longest call {:?}; {lost} \
             increments lost",
            promoted_at - cut_at,
            resumed - promoted_at,
            l.errors.len(),
            l.longest
        );
    });
}

/// A client of the shared node through a fault proxy of its own.
async fn through_proxy() -> (FaultProxy, slotline_conn::Client) {
    let proxy = FaultProxy::start(support::standalone().addr()).unwrap();
    let config = support::short_timeouts(RESPONSE, ConnectionConfig::new(addr(proxy.addr())));
    let c = slotline_conn::Client::connect(config).await.unwrap();
    (proxy, c)
}

/// Polls with `GET` until the client answers again (bounded).
async fn answers_again(c: &slotline_conn::Client, key: &str) -> Option<String> {
    support::bounded("the client to answer again", async {
        loop {
            if let Ok(v) = c.get::<Option<String>>(key).await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

on_both_runtimes! {
    async fn a_slow_link_slows_calls_and_a_slower_one_times_them_out() {
        let (proxy, c) = through_proxy().await;
        c.set("nf:slow", "v").await.unwrap();
        proxy.set_mode(LinkMode::Delay(Duration::from_millis(150)));
        let started = Instant::now();
        assert_eq!(c.get::<Option<String>>("nf:slow").await.unwrap().as_deref(), Some("v"));
        let took = started.elapsed();
        // 150 ms each way.
        assert!(took >= Duration::from_millis(300), "a delayed GET took {took:?}");
        proxy.set_mode(LinkMode::Delay(Duration::from_millis(400)));
        let started = Instant::now();
        let e = c.get::<Option<String>>("nf:slow").await.unwrap_err();
        assert!(started.elapsed() <= RESPONSE + SLACK, "waited {:?}: {e}", started.elapsed());
        proxy.set_mode(LinkMode::Pass);
        assert_eq!(answers_again(&c, "nf:slow").await.as_deref(), Some("v"));
    }
}

on_both_runtimes! {
    async fn a_stalled_link_times_callers_out_and_the_client_recovers() {
        let (proxy, c) = through_proxy().await;
        // Both runtime flavours run at once: a key each.
        let key = format!("nf:stall:{:?}", std::thread::current().id());
        c.set(&key, 0).await.unwrap();
        proxy.set_mode(LinkMode::Stall);
        let calls: Vec<_> = (0..10)
            .map(|_| {
                let (c, key) = (c.clone(), key.clone());
                tokio::spawn(async move {
                    let started = Instant::now();
                    let r = c.incr(&key).await;
                    (r, started.elapsed())
                })
            })
            .collect();
        let mut maybe = 0;
        for call in calls {
            let (r, waited) = call.await.unwrap();
            let e = r.expect_err("a stalled link answered");
            assert!(waited <= RESPONSE + SLACK, "a caller waited {waited:?}: {e}");
            maybe += u64::from(e.may_have_run());
        }
        proxy.set_mode(LinkMode::Pass);
        let v: i64 = answers_again(&c, &key).await.unwrap().parse().unwrap();
        // The stalled bytes were relayed once the link moved again: some increments may
        // have run; never more than were sent.
        assert!(v as u64 <= maybe, "{v} increments ran, at most {maybe} could have");
    }
}

on_both_runtimes! {
    async fn a_reset_or_a_cut_link_is_reported_and_the_client_reconnects() {
        let (proxy, c) = through_proxy().await;
        c.set("nf:reset", "v").await.unwrap();
        for (what, fault) in [("reset", FaultProxy::reset as fn(&FaultProxy)), ("cut", FaultProxy::cut)] {
            assert_eq!(proxy.open_connections(), 1, "{what}");
            fault(&proxy);
            // The client learns of it from the socket (no timeout needed) and reconnects.
            support::wait_for_within(Duration::from_secs(2), "the client to notice", || {
                !c.is_connected() || proxy.open_connections() == 1
            })
            .await;
            let started = Instant::now();
            assert_eq!(answers_again(&c, "nf:reset").await.as_deref(), Some("v"), "{what}");
            assert!(started.elapsed() < RESPONSE, "{what}: recovered in {:?}", started.elapsed());
        }
    }
}

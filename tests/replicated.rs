//! `Replicated` against the test bed's replication topology (a master and 2 replicas):
//! where reads and writes land (checked with each node's `INFO commandstats`), the
//! `ReadOnly` error of a write sent to a replica, discovery with `ROLE`, replicas going down
//! and coming back, and reads a replica refuses (`MASTERDOWN`) going elsewhere.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotline_conn::{pipe, Commands, ErrorKind, Query, ReadFrom, Replicated, ServerErrorKind};
use slotline_testbed::Replication;

#[macro_use]
mod support;
use support::{calls, off_runtime, wait_for, DEADLINE};

const N: usize = 100;

fn start() -> Arc<Replication> {
    Arc::new(Replication::builder().local().start().unwrap())
}

/// GET calls on the master and on each replica.
fn gets(t: &Replication) -> (i64, Vec<i64>) {
    (
        calls(&(t, t.master_addr()), "get"),
        t.replica_addrs()
            .iter()
            .map(|&a| calls(&(t, a), "get"))
            .collect(),
    )
}

fn delta(before: &(i64, Vec<i64>), after: &(i64, Vec<i64>)) -> (i64, Vec<i64>) {
    (
        after.0 - before.0,
        after.1.iter().zip(&before.1).map(|(a, b)| a - b).collect(),
    )
}

async fn connect(t: &Replication, read_from: ReadFrom) -> Replicated {
    Replicated::connect(
        t.url_for(t.master_addr()),
        t.replica_addrs().iter().map(|&a| t.url_for(a)),
        read_from,
    )
    .await
    .unwrap()
}

async fn synced(t: &Arc<Replication>) {
    let t = t.clone();
    off_runtime(move || t.wait_synced(DEADLINE).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_land_on_replicas_and_writes_on_the_master() {
    let t = start();
    let m = t.master_addr();
    let r = connect(&t, ReadFrom::Replica).await;
    // A read right after connecting already finds a replica.
    let none: Option<String> = r.get("nothing").await.unwrap();
    assert_eq!(none, None);

    // Writes: the master, whatever the read policy.
    let sets = calls(&(&*t, m), "set");
    for i in 0..N {
        r.set(format!("k{i}"), i).await.unwrap();
    }
    assert_eq!(calls(&(&*t, m), "set") - sets, N as i64);
    synced(&t).await;

    // Reads: the replicas only, round robin.
    let before = gets(&t);
    for i in 0..N {
        let v: i64 = r.get(format!("k{i}")).await.unwrap();
        assert_eq!(v, i as i64);
    }
    let (on_master, on_replicas) = delta(&before, &gets(&t));
    assert_eq!(on_master, 0);
    assert_eq!(on_replicas.iter().sum::<i64>(), N as i64);
    assert!(on_replicas.iter().all(|&n| n > 0), "{on_replicas:?}");

    // A read-only pipeline goes to a replica, one with a write to the master.
    let before = gets(&t);
    let (a, b): (i64, i64) = r
        .pipeline(pipe().cmd("GET").arg("k1").cmd("GET").arg("k2"))
        .await
        .unwrap();
    assert_eq!((a, b), (1, 2));
    let (on_master, on_replicas) = delta(&before, &gets(&t));
    assert_eq!((on_master, on_replicas.iter().sum::<i64>()), (0, 2));
    let before = gets(&t);
    let (_, c): ((), i64) = r
        .pipeline(pipe().cmd("SET").arg("p3").arg(33).cmd("GET").arg("p3"))
        .await
        .unwrap();
    assert_eq!(c, 33);
    let (on_master, on_replicas) = delta(&before, &gets(&t));
    assert_eq!((on_master, on_replicas.iter().sum::<i64>()), (1, 0));

    // A write sent to a replica by hand: the ReadOnly kind.
    let err = r.replicas()[0].set("k0", "no").await.unwrap_err();
    match err.server_kind() {
        Some(kind) => assert_eq!(kind, &ServerErrorKind::ReadOnly, "{err:?}"),
        None => panic!("expected READONLY, got {err:?}"),
    }
    assert!(err.is_retryable() && !err.may_have_run());

    // ReadFrom::Primary: reads on the master.
    let p = connect(&t, ReadFrom::Primary).await;
    let before = gets(&t);
    for i in 0..N {
        let v: i64 = p.get(format!("k{i}")).await.unwrap();
        assert_eq!(v, i as i64);
    }
    let (on_master, on_replicas) = delta(&before, &gets(&t));
    assert_eq!(on_master, N as i64);
    assert!(on_replicas.iter().all(|&n| n == 0), "{on_replicas:?}");

    // Discovery with ROLE finds both replicas, and reads go to them.
    let d = Replicated::discover(t.url_for(m), ReadFrom::Replica)
        .await
        .unwrap();
    let mut found: Vec<String> = d
        .replicas()
        .iter()
        .map(|c| c.config().addr.to_string())
        .collect();
    let mut expected: Vec<String> = t.replica_addrs().iter().map(|a| a.to_string()).collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
    let before = gets(&t);
    for i in 0..10 {
        let v: i64 = d.get(format!("k{i}")).await.unwrap();
        assert_eq!(v, i as i64);
    }
    let (on_master, on_replicas) = delta(&before, &gets(&t));
    assert_eq!((on_master, on_replicas.iter().sum::<i64>()), (0, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_going_down_and_coming_back() {
    let t = start();
    let (r0, r1) = (t.replica_addrs()[0], t.replica_addrs()[1]);
    let r = connect(&t, ReadFrom::Replica).await;
    let pr = connect(&t, ReadFrom::PreferReplica).await;
    r.set("k", "v").await.unwrap();
    synced(&t).await;
    let read = |v: Option<String>| assert_eq!(v.as_deref(), Some("v"));

    // One replica down: reads keep working through the other.
    let tt = t.clone();
    off_runtime(move || tt.kill(r0).unwrap()).await;
    wait_for("the clients to notice replica 0 is down", || {
        !r.replicas()[0].is_connected() && !pr.replicas()[0].is_connected()
    })
    .await;
    let m = t.master_addr();
    let before = calls(&(&*t, m), "get");
    let before_r1 = calls(&(&*t, r1), "get");
    for _ in 0..N {
        read(r.get("k").await.unwrap());
    }
    assert_eq!(calls(&(&*t, r1), "get") - before_r1, N as i64);
    assert_eq!(calls(&(&*t, m), "get"), before);

    // Both down: PreferReplica falls back to the master, Replica refuses.
    let tt = t.clone();
    off_runtime(move || tt.kill(r1).unwrap()).await;
    wait_for("the clients to notice replica 1 is down", || {
        !r.replicas()[1].is_connected() && !pr.replicas()[1].is_connected()
    })
    .await;
    let before = calls(&(&*t, m), "get");
    for _ in 0..N {
        read(pr.get("k").await.unwrap());
    }
    assert_eq!(calls(&(&*t, m), "get") - before, N as i64);
    let err = r.get::<Option<String>>("k").await.unwrap_err();
    assert!(
        err.kind() == ErrorKind::Unavailable(slotline_conn::UnavailableKind::NoReplica),
        "{err:?}"
    );
    // Writes never needed a replica.
    r.set("k2", "w").await.unwrap();

    // Replica 0 back: it is used again (its GET count grows from 0 after the restart).
    let tt = t.clone();
    off_runtime(move || tt.restart(r0).unwrap()).await;
    let start = Instant::now();
    while calls(&(&*t, r0), "get") == 0 {
        assert!(start.elapsed() < DEADLINE, "replica 0 never came back");
        // Until its client reconnects, there is no replica to read from.
        let _ = r.get::<Option<String>>("k").await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Back in rotation (the only replica up), with the data once it has resynced.
    let start = Instant::now();
    while r.get::<Option<String>>("k").await.unwrap().is_none() {
        assert!(start.elapsed() < DEADLINE, "replica 0 never resynced");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..10 {
        read(r.get("k").await.unwrap());
    }

    // Replica 1 back too: both serve reads again, the master none.
    let tt = t.clone();
    off_runtime(move || tt.restart(r1).unwrap()).await;
    wait_for("the clients to reconnect to replica 1", || {
        r.replicas()[1].is_connected() && pr.replicas()[1].is_connected()
    })
    .await;
    synced(&t).await;
    let before = gets(&t);
    for _ in 0..N {
        read(r.get("k").await.unwrap());
        read(pr.get("k").await.unwrap());
    }
    let (on_master, on_replicas) = delta(&before, &gets(&t));
    assert_eq!(on_master, 0);
    assert_eq!(on_replicas.iter().sum::<i64>(), 2 * N as i64);
    assert!(on_replicas.iter().all(|&n| n > 0), "{on_replicas:?}");
}

/// `blocking::Replicated`, from plain threads: the same routing, the `ReadOnly` error,
/// discovery, and a replica down and back.
#[test]
fn blocking_replicated_routes_reads_and_follows_a_replica_down_and_up() {
    use slotline_conn::blocking::{self, Commands as _};

    let t = start();
    let m = t.master_addr();
    let (r0, r1) = (t.replica_addrs()[0], t.replica_addrs()[1]);
    let r = blocking::Replicated::connect(
        t.url_for(m),
        t.replica_addrs().iter().map(|&a| t.url_for(a)),
        ReadFrom::Replica,
    )
    .unwrap();
    assert_eq!(r.read_from(), ReadFrom::Replica);
    let none: Option<String> = r.get("nothing").unwrap();
    assert_eq!(none, None);

    let sets = calls(&(&*t, m), "set");
    for i in 0..N {
        r.set(format!("k{i}"), i).unwrap();
    }
    assert_eq!(calls(&(&*t, m), "set") - sets, N as i64);
    t.wait_synced(DEADLINE).unwrap();

    // Reads from several threads at once: replicas only, both of them.
    let before = gets(&t);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for i in 0..N {
                    let v: i64 = r.get(format!("k{i}")).unwrap();
                    assert_eq!(v, i as i64);
                }
            });
        }
    });
    let (on_master, on_replicas) = delta(&before, &gets(&t));
    assert_eq!(on_master, 0);
    assert_eq!(on_replicas.iter().sum::<i64>(), 4 * N as i64);
    assert!(on_replicas.iter().all(|&n| n > 0), "{on_replicas:?}");

    let err = r.replicas()[1].set("k0", "no").unwrap_err();
    assert_eq!(
        err.server_kind(),
        Some(&ServerErrorKind::ReadOnly),
        "{err:?}"
    );
    let v: i64 = r.master().get("k5").unwrap();
    assert_eq!(v, 5);

    let p = blocking::Replicated::connect(
        t.url_for(m),
        t.replica_addrs().iter().map(|&a| t.url_for(a)),
        ReadFrom::Primary,
    )
    .unwrap();
    let before = calls(&(&*t, m), "get");
    for i in 0..10 {
        let v: i64 = p.get(format!("k{i}")).unwrap();
        assert_eq!(v, i as i64);
    }
    assert_eq!(calls(&(&*t, m), "get") - before, 10);

    let d = blocking::Replicated::discover(t.url_for(m), ReadFrom::PreferReplica).unwrap();
    assert_eq!(d.replicas().len(), 2);

    // Replica 0 down: reads go to replica 1; back up: replica 0 is read from again.
    t.kill(r0).unwrap();
    let start = Instant::now();
    while r.replicas()[0].is_connected() {
        assert!(start.elapsed() < DEADLINE, "the kill went unnoticed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let before_r1 = calls(&(&*t, r1), "get");
    for _ in 0..N {
        let v: i64 = r.get("k1").unwrap();
        assert_eq!(v, 1);
    }
    assert_eq!(calls(&(&*t, r1), "get") - before_r1, N as i64);
    t.restart(r0).unwrap();
    let start = Instant::now();
    while calls(&(&*t, r0), "get") == 0 {
        assert!(start.elapsed() < DEADLINE, "replica 0 never came back");
        let _ = r.get::<Option<String>>("k1");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads the key `refused` ten times through `r`, checking each value; how many of the
/// reads the master served.
async fn reads_on_master(t: &Replication, r: &Replicated) -> i64 {
    let before = gets(t);
    for _ in 0..10 {
        let v: String = r.get("refused").await.unwrap();
        assert_eq!(v, "v");
    }
    delta(&before, &gets(t)).0
}

/// A replica that cannot serve (its link to the master is down and it is told not to serve
/// stale data: `MASTERDOWN`) passes each read on: to another replica, or to the master
/// under `PreferReplica`; under `Replica` with no other replica, the caller gets the
/// refusal as a server error, not a hang or a wrong value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_refused_by_a_replica_go_elsewhere() {
    let t = start();
    let m = t.master_addr();
    let (stale, good) = (t.replica_addrs()[0], t.replica_addrs()[1]);
    connect(&t, ReadFrom::Primary)
        .await
        .set("refused", "v")
        .await
        .unwrap();
    synced(&t).await;
    let node = t.process(stale).unwrap();
    node.cmd(&["CONFIG", "SET", "replica-serve-stale-data", "no"])
        .unwrap();
    // A master nobody listens on: the link stays down.
    node.cmd(&["REPLICAOF", "127.0.0.1", "1"]).unwrap();
    let masterdown = |addr: SocketAddr| match t.process(addr).unwrap().cmd(&["GET", "refused"]) {
        Err(e) => e.to_string().contains("MASTERDOWN"),
        Ok(_) => false,
    };
    wait_for("the replica to refuse reads", || masterdown(stale)).await;
    // GETs the refusing replica turned away.
    let refused = || support::command_stat(&(&*t, stale), "get", "rejected_calls");

    // Two replicas, one refusing: every read is answered, by the other one.
    let both = Replicated::connect(
        t.url_for(m),
        [t.url_for(stale), t.url_for(good)],
        ReadFrom::Replica,
    )
    .await
    .unwrap();
    let before = refused();
    assert_eq!(
        reads_on_master(&t, &both).await,
        0,
        "ReadFrom::Replica read on the master"
    );
    assert!(refused() > before, "the refusing replica was never asked");

    // The refusing replica alone: PreferReplica falls back to the master ...
    let prefer = Replicated::connect(t.url_for(m), [t.url_for(stale)], ReadFrom::PreferReplica)
        .await
        .unwrap();
    let before = refused();
    assert_eq!(reads_on_master(&t, &prefer).await, 10);
    assert_eq!(refused() - before, 10, "each read asked the replica first");
    // ... and Replica reports the refusal.
    let only = Replicated::connect(t.url_for(m), [t.url_for(stale)], ReadFrom::Replica)
        .await
        .unwrap();
    match only.get::<Option<String>>("refused").await {
        Err(e) if e.kind() == ErrorKind::Server => {
            assert_eq!(e.server_kind(), Some(&ServerErrorKind::MasterDown), "{e:?}")
        }
        other => panic!("expected MASTERDOWN, got {other:?}"),
    }
    // The blocking twin asks elsewhere too.
    let (m_url, stale_url, good_url) = (t.url_for(m), t.url_for(stale), t.url_for(good));
    let (before, before_refused) = (gets(&t), refused());
    let v = off_runtime(move || {
        use slotline_conn::blocking::Commands as _;
        let b = slotline_conn::blocking::Replicated::connect(
            m_url,
            [stale_url, good_url],
            ReadFrom::Replica,
        )
        .unwrap();
        (0..10)
            .map(|_| b.get::<String>("refused").unwrap())
            .collect::<Vec<_>>()
    })
    .await;
    assert!(v.iter().all(|s| s == "v"), "{v:?}");
    assert_eq!(
        delta(&before, &gets(&t)).0,
        0,
        "blocking: read on the master"
    );
    assert!(
        refused() > before_refused,
        "blocking: the refusing replica was never asked"
    );
}

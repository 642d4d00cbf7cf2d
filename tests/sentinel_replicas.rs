//! `replica_for` against the test bed's sentinel topology (a master, 2 replicas, 3
//! sentinels): reads spread over the replicas and keep working, without an error, while a
//! replica is killed and restarted; the restarted replica is used again once it is in
//! sync; with no replica left, reads fall back to the master (or fail, if so configured).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slotline_conn::Commands;
use slotline_sentinel::{ReplicaFallback, Sentinel, SentinelConfig};
use slotline_testbed::SentinelTopology;
use support::{addr, calls};

const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `check` every 20 ms until it holds, or fails the test after `DEADLINE`.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_keep_working_while_a_replica_is_killed_and_restarted() {
    let t = Arc::new(SentinelTopology::builder().local().start().unwrap());
    let service = t.service().to_string();
    let master = t.master_addr().unwrap();
    let replicas = t.replica_addrs().unwrap();
    let config = SentinelConfig::default().with_replica_refresh(Duration::from_millis(500));
    let sentinel = Sentinel::new(t.sentinel_addrs(), config).unwrap();
    let writer = sentinel.master_for(&service).await.unwrap();
    writer.set("rep:k", "v").await.unwrap();
    let client = sentinel.replica_for(&service).await.unwrap();
    assert_eq!(client.connected_replica_addrs().len(), 2);
    until("both replicas to have the key", || {
        replicas.iter().all(|&r| {
            t.conn(r)
                .and_then(|mut c| c.cmd(&["GET", "rep:k"]))
                .is_ok_and(|v| v.as_str() == Some("v"))
        })
    })
    .await;

    // Readers, counting what they get.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let bad = Arc::new(Mutex::new(Vec::<String>::new()));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (c, stop, ok, bad) = (client.clone(), stop.clone(), ok.clone(), bad.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    match c.get::<Option<String>>("rep:k").await {
                        Ok(Some(v)) if v == "v" => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        other => bad.lock().unwrap().push(format!("{other:?}")),
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        })
        .collect();

    // Reads spread over both replicas, none to the master.
    let before: Vec<i64> = replicas.iter().map(|&r| calls(&(&*t, r), "get")).collect();
    let master_before = calls(&(&*t, master), "get");
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, &r) in replicas.iter().enumerate() {
        assert!(
            calls(&(&*t, r), "get") > before[i] + 10,
            "replica {r} got no reads"
        );
    }
    // (INFO itself is not a GET; the master serves none.)
    assert_eq!(
        calls(&(&*t, master), "get"),
        master_before,
        "reads went to the master"
    );

    // Kill one replica: reads go on, on the other.
    let (victim, other) = (replicas[0], replicas[1]);
    t.kill(victim).unwrap();
    until("the client to drop the dead replica", || {
        !client.connected_replica_addrs().contains(&addr(victim))
    })
    .await;
    let n = ok.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(ok.load(Ordering::SeqCst) > n + 100, "reads stalled");

    // Restart it: once it is in sync (and the sentinels see it healthy again), it serves
    // reads again.
    let t2 = t.clone();
    tokio::task::spawn_blocking(move || t2.restart(victim).unwrap())
        .await
        .unwrap();
    until("the client to use the restarted replica again", || {
        client.connected_replica_addrs().contains(&addr(victim))
    })
    .await;
    let victim_before = calls(&(&*t, victim), "get");
    until("reads on the restarted replica", || {
        calls(&(&*t, victim), "get") > victim_before + 10
    })
    .await;
    assert!(client.connected_replica_addrs().contains(&addr(other)));

    stop.store(true, Ordering::SeqCst);
    for r in readers {
        tokio::time::timeout(DEADLINE, r)
            .await
            .expect("a reader hangs")
            .unwrap();
    }
    let bad = bad.lock().unwrap().clone();
    println!(
        "{} reads, {} bad: {:?}",
        ok.load(Ordering::SeqCst),
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    assert!(
        bad.is_empty(),
        "reads failed or were wrong: {:?}",
        &bad[..bad.len().min(5)]
    );

    // No replica left: reads fall back to the master, or fail when told to.
    let strict = Sentinel::new(
        t.sentinel_addrs(),
        SentinelConfig::default().with_replica_fallback(ReplicaFallback::Error),
    )
    .unwrap()
    .replica_for(&service)
    .await
    .unwrap();
    for &r in &replicas {
        t.kill(r).unwrap();
    }
    until("both replicas to be seen down", || {
        client.connected_replica_addrs().is_empty() && strict.connected_replica_addrs().is_empty()
    })
    .await;
    let master_before = calls(&(&*t, master), "get");
    let v: Option<String> = client.get("rep:k").await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    assert!(
        calls(&(&*t, master), "get") > master_before,
        "the read did not go to the master"
    );
    let err = strict.get::<Option<String>>("rep:k").await.unwrap_err();
    assert!(!err.may_have_run(), "{err}");
    assert!(err.to_string().contains("no healthy replica"), "{err}");
}

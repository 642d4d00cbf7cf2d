//! Durability on request (`durability=replicas:1`), against a master with one replica of
//! the test bed: an acknowledged write is on the replica already; with the replica stopped
//! (SIGSTOP), a write comes back as `NotDurable` (it ran on the master: may have run)
//! after the durability timeout, and callers on the same client are answered; per request
//! over the connection's setting; pipelines and transactions wait once; `WAITAOF` on a
//! server without it (Redis 7.0) is a clear error, not a hang.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use slotline_conn::{cmd, pipe, Client, Commands, ConnectionConfig, Durability, ErrorKind, Query};
use slotline_testbed::Replication;

#[macro_use]
mod support;
use support::{addr, calls};

/// A client of `t`'s master whose writes wait for `durability`.
async fn client(t: &Replication, durability: &str) -> Client {
    let url = support::with_option(
        &t.url_for(t.master_addr()),
        &format!("durability={durability}"),
    );
    Client::connect(url.as_str()).await.unwrap()
}

#[tokio::test]
async fn an_acknowledged_write_is_on_the_replica_already() {
    let t = Replication::builder().replicas(1).local().start().unwrap();
    let c = client(&t, "replicas:1").await;
    let replica = t.replica_addrs()[0];
    let waits = calls(&(&t, t.master_addr()), "wait");
    for i in 0..50 {
        c.set(format!("dur:{i}"), i).await.unwrap();
        // No wait for replication: the acknowledgement said it is there.
        let mut r = t.conn(replica).unwrap();
        let got = r.cmd(&["GET", &format!("dur:{i}")]).unwrap();
        assert_eq!(got.as_str(), Some(i.to_string().as_str()), "write {i}");
    }
    // Reads wait for nothing.
    let _: Option<String> = c.get("dur:0").await.unwrap();
    assert_eq!(calls(&(&t, t.master_addr()), "wait") - waits, 50);

    // A pipeline and a transaction wait once, after their last command.
    let mut p = pipe();
    p.add(cmd("SET").arg("dur:p1").arg(1));
    p.add(cmd("GET").arg("dur:p1"));
    p.add(cmd("INCR").arg("dur:p2"));
    let (ok, v, n): (String, String, i64) = c.pipeline(&p).await.unwrap();
    assert_eq!((ok.as_str(), v.as_str(), n), ("OK", "1", 1));
    let mut tx = pipe();
    tx.atomic();
    tx.add(cmd("INCR").arg("dur:p2"));
    tx.add(cmd("INCR").arg("dur:p2"));
    let (a, b): (i64, i64) = c.transaction(&tx).await.unwrap().expect("no WATCH");
    assert_eq!((a, b), (2, 3));
    assert_eq!(calls(&(&t, t.master_addr()), "wait") - waits, 52);
    let mut r = t.conn(replica).unwrap();
    assert_eq!(r.cmd(&["GET", "dur:p2"]).unwrap().as_str(), Some("3"));
}

#[tokio::test]
async fn a_write_no_replica_acknowledged_is_reported_as_may_have_run() {
    let t = Replication::builder().replicas(1).local().start().unwrap();
    let c = client(&t, "replicas:1&durability_timeout=200ms").await;
    c.set("dur:before", 1).await.unwrap();
    let replica = t.replica_addrs()[0];
    t.stop(replica).unwrap();
    let began = Instant::now();
    let e = c.set("dur:k", "v").await.unwrap_err();
    let took = began.elapsed();
    t.cont(replica).unwrap();
    assert!(e.kind() == ErrorKind::NotDurable, "{e:?}");
    assert!(e.may_have_run(), "it ran on the master");
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("0 replicas"), "{e}");
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // It ran on the master; the client goes on; reads never waited.
    let v: Option<String> = c.get("dur:k").await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    // A write's own error reply is its answer, whatever the copies.
    let wrong = c.incr("dur:k").await.unwrap_err();
    assert!(wrong.kind() == ErrorKind::Server, "{wrong:?}");
}

#[tokio::test]
async fn durability_per_request_and_waitaof_on_a_server_without_it() {
    let t = Replication::builder().replicas(1).local().start().unwrap();
    let c = Client::connect(ConnectionConfig::new(addr(t.master_addr())))
        .await
        .unwrap();
    let waits = calls(&(&t, t.master_addr()), "wait");
    c.set("plain", 1).await.unwrap();
    assert_eq!(calls(&(&t, t.master_addr()), "wait"), waits, "none asked");
    let durable = cmd("SET")
        .arg("one")
        .arg(1)
        .durable(Durability::replicas(1));
    let ok: String = c.query(&durable).await.unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(calls(&(&t, t.master_addr()), "wait"), waits + 1);
    // More replicas than there are: not durable, after the timeout asked.
    let three = Durability::replicas(3).with_timeout(Duration::from_millis(50));
    let e = c
        .query::<String>(&cmd("SET").arg("three").arg(1).durable(three))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("1 replicas"), "{e}");
    // WAITAOF needs Redis 7.2: on an older server a clear error, and the write ran.
    let aof = cmd("SET")
        .arg("aof")
        .arg(1)
        .durable(Durability::aof_local());
    match c.query::<String>(&aof).await {
        Ok(_) => println!("this server has WAITAOF"),
        Err(e) => {
            assert!(e.kind() == ErrorKind::NotDurable, "{e:?}");
            assert!(e.to_string().contains("WAITAOF"), "{e}");
        }
    }
    let v: Option<i64> = c.get("aof").await.unwrap();
    assert_eq!(v, Some(1));
    // A bad setting in a URL is refused with the way out.
    let bad = support::with_option(&t.url_for(t.master_addr()), "durability=replicas");
    let e = Client::connect(bad.as_str()).await.unwrap_err();
    assert!(e.to_string().contains("replicas:N"), "{e}");
}

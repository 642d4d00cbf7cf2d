//! The shared `Client`'s bound on queued and in-flight requests, against a real
//! `redis-server` frozen with `SIGSTOP`: at most `max_in_flight` requests are queued or on
//! the wire (callers beyond wait for a slot and time out, never sent), memory stays
//! bounded however many requests are made, and the client works again once the server
//! runs again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Instant;

use slotline_conn::{Client, ClientOptions, Commands, ErrorKind};
use slotline_testbed::Standalone;
use support::{bounded, calls, wait_for, DEADLINE};

fn start_server() -> Arc<Standalone> {
    Arc::new(Standalone::builder().local().start().unwrap())
}

/// This process's resident set size, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

on_both_runtimes! {
    /// 1,000 GETs at once on a frozen server with `max_in_flight = 64`: exactly 64 are queued
    /// and written (their callers time out waiting for the reply: they may have run); the
    /// other 936 wait for a slot, time out, and are never sent. After `SIGCONT` the server has
    /// run exactly those 64, and the client works again, its replies still in step.
    async fn at_most_max_in_flight_requests_are_queued() {
        let server = start_server();
        let p = server.process().unwrap();
        let client = Client::connect_with(
            support::with_option(&server.url(), "response_timeout=1s"),
            ClientOptions::default().with_max_in_flight(64),
        )
        .await
        .unwrap();
        client.set("key", "before").await.unwrap();
        let gets_before = calls(p, "get");

        server.stop().unwrap();
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let c = client.clone();
                tokio::spawn(async move { c.get::<Option<String>>("key").await })
            })
            .collect();
        let (mut sent, mut unsent) = (0, 0);
        for t in tasks {
            let result = bounded("a GET", t).await.unwrap();
            match result {
                Err(ref e) if e.kind() == ErrorKind::Timeout && e.may_have_run() => sent += 1,
                Err(e) if e.kind() == ErrorKind::Timeout && !e.may_have_run() => {
                    assert!(e.is_retryable() && !e.may_have_run());
                    unsent += 1;
                }
                other => panic!("a GET on a frozen server returned {other:?}"),
            }
        }
        assert_eq!((sent, unsent), (64, 936));

        server.cont().unwrap();
        wait_for("the server to run the queued GETs", || {
            calls(p, "get") - gets_before >= 64
        })
        .await;
        // The stale replies to the 64 are dropped; new requests get their own.
        client.set("key", "after").await.unwrap();
        let v: Option<String> = client.get("key").await.unwrap();
        assert_eq!(v.as_deref(), Some("after"));
        // The 64, plus the one just made: nothing else was ever sent.
        assert_eq!(calls(p, "get") - gets_before, 65);
        assert!(client.is_connected());
    }
}

on_both_runtimes! {
    /// 50,000 SETs of 8 KiB values (400 MiB of requests) against a frozen server, in waves of
    /// 5,000 concurrent callers with a 100 ms response timeout: the process's memory grows by
    /// far less than queueing them would take (the callers' own commands, 40 MiB a wave, are
    /// most of it), and at most `max_in_flight` of them ever reach the server. The client
    /// works again after `SIGCONT`.
    async fn stalled_server_does_not_grow_memory() {
        const MAX_IN_FLIGHT: usize = 256;
        // The process's RSS is measured: not while the other runtime's run allocates too.
        static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _alone = ALONE.lock().await;
        let server = start_server();
        let p = server.process().unwrap();
        let client = Client::connect_with(
            support::with_option(&server.url(), "response_timeout=100ms"),
            ClientOptions::default().with_max_in_flight(MAX_IN_FLIGHT),
        )
        .await
        .unwrap();
        client.set("warm-up", "x").await.unwrap();
        let sets_before = calls(p, "set");
        let value = Arc::new(vec![b'v'; 8 * 1024]);

        server.stop().unwrap();
        let baseline = rss();
        let mut peak = baseline;
        for wave in 0..10 {
            let tasks: Vec<_> = (0..5000)
                .map(|i| {
                    let c = client.clone();
                    let value = value.clone();
                    tokio::spawn(async move { c.set(format!("k:{wave}:{i}"), &value[..]).await })
                })
                .collect();
            for t in tasks {
                let result = bounded("a SET", t).await.unwrap();
                assert!(
                    matches!(result, Err(ref e) if e.kind() == ErrorKind::Timeout),
                    "a SET on a frozen server returned {result:?}"
                );
            }
            peak = peak.max(rss());
        }
        let grown = peak.saturating_sub(baseline);
        eprintln!(
            "RSS grew by {} KiB over 50,000 requests on a frozen server",
            grown / 1024
        );
        assert!(
            grown < 200 << 20,
            "RSS grew by {} MiB on a frozen server",
            grown >> 20
        );

        server.cont().unwrap();
        // Once the server runs again, a request's reply comes after those of every request
        // sent before it: then the server has run all it will ever get from the frozen phase.
        let start = Instant::now();
        loop {
            match client.get::<Option<String>>("probe").await {
                Ok(_) => break,
                Err(e) => assert!(start.elapsed() < DEADLINE, "no recovery: {e:?}"),
            }
        }
        let reached = calls(p, "set") - sets_before;
        eprintln!("{reached} of 50,000 SETs reached the server");
        assert!(
            (1..=MAX_IN_FLIGHT as i64).contains(&reached),
            "{reached} SETs reached the server, more than max_in_flight = {MAX_IN_FLIGHT}"
        );
        client.set("after", "ok").await.unwrap();
        let v: Option<String> = client.get("after").await.unwrap();
        assert_eq!(v.as_deref(), Some("ok"));
    }
}

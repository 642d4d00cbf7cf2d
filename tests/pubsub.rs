//! Pub/sub against a real `redis-server` from the test bed: async [`PubSub`] and blocking
//! [`blocking::PubSub`], messages of every kind in order, binary payloads, unsubscribing,
//! `PING` while subscribed, sharded pub/sub, back-pressure, and connection loss (the stream
//! yields an error, then ends, and nothing hangs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use slotline_conn::{
    blocking, cmd, pipe, Commands, Connection, ErrorKind, Message, MessageKind, PubSub, Query,
};
use slotline_testbed::Standalone;
use support::bounded;

/// Longest wait for anything that should happen.
const WAIT: Duration = Duration::from_secs(10);

fn binary() -> Vec<u8> {
    (0..=255u8).collect()
}

fn local_server() -> Standalone {
    Standalone::builder().local().start().expect("redis-server")
}

/// The next item of a stream, bounded.
async fn next<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    bounded(
        "stream item",
        std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)),
    )
    .await
}

async fn recv(ps: &mut PubSub) -> Message {
    bounded("message", ps.next_message())
        .await
        .expect("stream ended")
        .expect("connection failed")
}

fn check(m: &Message, kind: MessageKind, channel: &str, pattern: Option<&str>, payload: &[u8]) {
    assert_eq!(m.kind, kind, "{m:?}");
    assert_eq!(m.channel_str(), Some(channel), "{m:?}");
    assert_eq!(m.pattern_str(), pattern, "{m:?}");
    assert_eq!(&m.payload[..], payload, "{m:?}");
}

fn names(list: &[&str]) -> Vec<Bytes> {
    list.iter()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect()
}

/// `CLIENT KILL TYPE pubsub` from another connection; how many were killed.
async fn kill_subscribers(con: &Connection) -> i64 {
    con.query(&cmd("CLIENT").arg(["KILL", "TYPE", "pubsub"]))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_channels_patterns_binary_in_order() {
    let server = Standalone::start().unwrap();
    let publisher = Connection::connect(server.url()).await.unwrap();
    let mut ps = PubSub::connect(server.url()).await.unwrap();
    bounded("subscribe", ps.subscribe(["ch:a", "ch:b"]))
        .await
        .unwrap();
    bounded("psubscribe", ps.psubscribe("pat:*")).await.unwrap();
    assert_eq!(ps.channels(), names(&["ch:a", "ch:b"]));
    assert_eq!(ps.patterns(), names(&["pat:*"]));

    let bin = binary();
    assert_eq!(publisher.publish("ch:a", "one").await.unwrap(), 1);
    assert_eq!(publisher.publish("ch:b", &bin[..]).await.unwrap(), 1);
    assert_eq!(publisher.publish("pat:x", "three").await.unwrap(), 1);
    assert_eq!(publisher.publish("ch:a", 4).await.unwrap(), 1);

    check(
        &recv(&mut ps).await,
        MessageKind::Message,
        "ch:a",
        None,
        b"one",
    );
    let m = recv(&mut ps).await;
    check(&m, MessageKind::Message, "ch:b", None, &bin);
    assert_eq!(m.payload::<Vec<u8>>().unwrap(), bin);
    check(
        &recv(&mut ps).await,
        MessageKind::PMessage,
        "pat:x",
        Some("pat:*"),
        b"three",
    );
    let m = recv(&mut ps).await;
    assert_eq!(m.payload::<i64>().unwrap(), 4);

    // Unsubscribed from ch:a: what is published there no longer arrives. ch:b's message,
    // published after it, is the next one.
    bounded("unsubscribe", ps.unsubscribe("ch:a"))
        .await
        .unwrap();
    assert_eq!(ps.channels(), names(&["ch:b"]));
    assert_eq!(publisher.publish("ch:a", "lost").await.unwrap(), 0);
    publisher.publish("ch:b", "kept").await.unwrap();
    check(
        &recv(&mut ps).await,
        MessageKind::Message,
        "ch:b",
        None,
        b"kept",
    );
    assert!(ps
        .next_message_timeout(Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());

    // PING while subscribed; then everything published before it is queued already.
    publisher.publish("pat:y", "before ping").await.unwrap();
    bounded("ping", ps.ping()).await.unwrap();
    let m = ps.next_message_timeout(Duration::ZERO).await.unwrap();
    check(
        &m.expect("queued before the pong"),
        MessageKind::PMessage,
        "pat:y",
        Some("pat:*"),
        b"before ping",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_sharded_unsubscribe_all_and_concurrent_requests() {
    let server = Standalone::start().unwrap();
    let publisher = Connection::connect(server.url()).await.unwrap();
    let ps = Arc::new(PubSub::connect(server.url()).await.unwrap());

    // Several requests in flight at once, from concurrent callers.
    let (a, b, c, d) = bounded("concurrent requests", async {
        tokio::join!(
            ps.subscribe(("c1", "c2", "c3")),
            ps.psubscribe(["p1*", "p2*"]),
            ps.ping(),
            ps.ssubscribe("shard:{1}")
        )
    })
    .await;
    a.unwrap();
    b.unwrap();
    c.unwrap();
    d.unwrap();
    assert_eq!(ps.channels(), names(&["c1", "c2", "c3"]));
    assert_eq!(ps.patterns(), names(&["p1*", "p2*"]));
    assert_eq!(ps.shard_channels(), names(&["shard:{1}"]));
    assert_eq!(ps.subscriptions().len(), 6);
    let mut ps = Arc::try_unwrap(ps).unwrap();

    // Sharded pub/sub on a standalone server (Redis 7).
    let n: i64 = publisher
        .query(&cmd("SPUBLISH").arg("shard:{1}").arg(&binary()[..]))
        .await
        .unwrap();
    assert_eq!(n, 1);
    check(
        &recv(&mut ps).await,
        MessageKind::SMessage,
        "shard:{1}",
        None,
        &binary(),
    );

    // Unsubscribe from all channels: every confirmation is in when it returns.
    bounded("unsubscribe all", ps.unsubscribe(()))
        .await
        .unwrap();
    assert!(ps.channels().is_empty());
    assert_eq!(ps.patterns().len(), 2);
    // Nothing left to unsubscribe from: the server answers once, with a null channel.
    bounded("unsubscribe none", ps.unsubscribe(()))
        .await
        .unwrap();
    bounded("punsubscribe all", ps.punsubscribe(()))
        .await
        .unwrap();
    bounded("sunsubscribe", ps.sunsubscribe("shard:{1}"))
        .await
        .unwrap();
    assert!(ps.subscriptions().is_empty());
    // Not subscribed to anything: PING answers `+PONG`.
    bounded("ping unsubscribed", ps.ping()).await.unwrap();
    assert_eq!(publisher.publish("c1", "x").await.unwrap(), 0);

    // The connection stays usable: subscribe again, via the owned stream.
    bounded("subscribe none", async {
        assert!(matches!(
            ps.subscribe(Vec::<String>::new()).await,
            Err(ref e) if e.kind() == ErrorKind::Refused(slotline_conn::RefusedKind::Invalid)));
    })
    .await;
    let mut stream = ps.into_stream();
    bounded("subscribe again", stream.get_ref().subscribe("again"))
        .await
        .unwrap();
    publisher.publish("again", "yes").await.unwrap();
    let m = next(&mut stream).await.unwrap().unwrap();
    check(&m, MessageKind::Message, "again", None, b"yes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_messages_stream_and_into_pubsub() {
    let server = Standalone::start().unwrap();
    let publisher = Connection::connect(server.url()).await.unwrap();
    let con = Connection::connect(server.url()).await.unwrap();
    con.set("k", "v").await.unwrap();
    let mut ps = con.into_pubsub().await.unwrap();
    bounded("subscribe", ps.subscribe("s")).await.unwrap();
    for i in 0..100 {
        publisher.publish("s", i).await.unwrap();
    }
    let mut messages = ps.messages();
    for i in 0..100 {
        let m = next(&mut messages).await.unwrap().unwrap();
        assert_eq!(m.payload::<i64>().unwrap(), i);
    }

    // Dropping the PubSub closes its connection (its task ends).
    drop(ps);
    let deadline = Instant::now() + WAIT;
    loop {
        let list: String = publisher
            .query(&cmd("CLIENT").arg(["LIST", "TYPE", "pubsub"]))
            .await
            .unwrap();
        if list.trim().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still connected: {list}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_kill_ends_stream_and_reconnect_resubscribes() {
    let server = local_server();
    let publisher = Connection::connect(server.url()).await.unwrap();
    let mut ps = PubSub::connect(server.url()).await.unwrap();
    bounded("subscribe", ps.subscribe(["k1", "k2"]))
        .await
        .unwrap();
    bounded("psubscribe", ps.psubscribe("kp*")).await.unwrap();
    publisher.publish("k1", "before").await.unwrap();
    bounded("ping", ps.ping()).await.unwrap();

    assert_eq!(kill_subscribers(&publisher).await, 1);
    // The message received before the loss, then the error, then the end.
    check(
        &recv(&mut ps).await,
        MessageKind::Message,
        "k1",
        None,
        b"before",
    );
    let err = bounded("error", ps.next_message())
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_connection_lost(), "{err:?}");
    assert!(bounded("end", ps.next_message()).await.is_none());
    assert!(bounded("end again", ps.next_message()).await.is_none());
    assert!(ps.is_closed());
    let err = bounded("ping after loss", ps.ping()).await.unwrap_err();
    assert!(err.kind() == ErrorKind::Closed, "{err:?}");

    // The subscriptions outlive the connection; a new one gets them all back.
    assert_eq!(ps.channels(), names(&["k1", "k2"]));
    let mut fresh = bounded("reconnect", ps.reconnect()).await.unwrap();
    assert_eq!(fresh.subscriptions(), ps.subscriptions());
    publisher.publish("k2", "after").await.unwrap();
    publisher.publish("kpx", "after p").await.unwrap();
    check(
        &recv(&mut fresh).await,
        MessageKind::Message,
        "k2",
        None,
        b"after",
    );
    check(
        &recv(&mut fresh).await,
        MessageKind::PMessage,
        "kpx",
        Some("kp*"),
        b"after p",
    );

    // resubscribe_on: the same subscriptions on another connection.
    let mut third = PubSub::connect(server.url()).await.unwrap();
    bounded("resubscribe_on", fresh.resubscribe_on(&third))
        .await
        .unwrap();
    assert_eq!(third.subscriptions(), fresh.subscriptions());
    assert_eq!(publisher.publish("k1", "both").await.unwrap(), 2);
    check(
        &recv(&mut third).await,
        MessageKind::Message,
        "k1",
        None,
        b"both",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_server_killed_stream_errors_then_ends() {
    let server = local_server();
    let ps = PubSub::connect(server.url()).await.unwrap();
    bounded("subscribe", ps.subscribe("x")).await.unwrap();
    let mut stream = ps.into_stream();
    let started = Instant::now();
    server.kill().unwrap();
    let err = next(&mut stream).await.unwrap().unwrap_err();
    assert!(err.is_connection_lost(), "{err:?}");
    assert!(next(&mut stream).await.is_none());
    assert!(started.elapsed() < WAIT);
    let err = bounded("subscribe after loss", stream.get_ref().subscribe("y"))
        .await
        .unwrap_err();
    assert!(err.kind() == ErrorKind::Closed, "{err:?}");
}

/// Reads `CLIENT LIST TYPE pubsub` and returns the largest `omem` (output buffer bytes).
async fn pubsub_omem(con: &Connection) -> u64 {
    let list: String = con
        .query(&cmd("CLIENT").arg(["LIST", "TYPE", "pubsub"]))
        .await
        .unwrap();
    list.split_whitespace()
        .filter_map(|f| f.strip_prefix("omem="))
        .filter_map(|n| n.parse().ok())
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_backpressure_keeps_messages_in_the_server() {
    const COUNT: u64 = 8_000;
    const SIZE: usize = 8 * 1024;
    let server = Standalone::builder()
        .local()
        .config("client-output-buffer-limit pubsub 0 0 0")
        .start()
        .unwrap();
    let publisher = Connection::connect(server.url()).await.unwrap();
    let mut ps = PubSub::connect(server.url()).await.unwrap();
    bounded("subscribe", ps.subscribe("bp")).await.unwrap();

    // 64 MiB published, nothing read: the queue (1024 messages) and the socket buffers
    // fill up, the task stops reading, and the rest waits in the server.
    for batch in 0..COUNT / 500 {
        let mut p = pipe();
        for i in batch * 500..(batch + 1) * 500 {
            let mut payload = vec![b'.'; SIZE];
            payload[..8].copy_from_slice(&i.to_be_bytes());
            p.add(cmd("PUBLISH").arg("bp").arg(payload)).ignore();
        }
        bounded("publish", publisher.send_pipeline(&p))
            .await
            .unwrap();
    }
    let deadline = Instant::now() + WAIT;
    let mut omem = 0;
    while Instant::now() < deadline {
        omem = pubsub_omem(&publisher).await;
        if omem > 16 << 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("pubsub client output buffer after publishing: {omem} bytes");
    assert!(
        omem > 16 << 20,
        "server output buffer only {omem} bytes: the client read everything"
    );

    // A control request still completes while the queue is full.
    bounded("subscribe while full", ps.subscribe("late"))
        .await
        .unwrap();
    publisher.publish("late", "last").await.unwrap();
    for i in 0..COUNT {
        let m = recv(&mut ps).await;
        assert_eq!(m.payload.len(), SIZE);
        assert_eq!(u64::from_be_bytes(m.payload[..8].try_into().unwrap()), i);
    }
    check(
        &recv(&mut ps).await,
        MessageKind::Message,
        "late",
        None,
        b"last",
    );
}

#[path = "pubsub/blocking_pubsub.rs"]
mod blocking_pubsub;

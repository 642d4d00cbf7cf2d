//! The blocking subscriber.

use super::*;
use slotline_conn::ErrorKind;

// ---------------------------------------------------------------------------------------
// Blocking

fn brecv(ps: &mut blocking::PubSub) -> Message {
    ps.next_message_timeout(WAIT)
        .expect("connection failed")
        .expect("no message in time")
}

#[test]
fn blocking_channels_patterns_binary_in_order() {
    use slotline_conn::blocking::Commands as _;
    let server = Standalone::start().unwrap();
    let publisher = blocking::Connection::connect(server.url()).unwrap();
    let mut ps = blocking::PubSub::connect(server.url()).unwrap();
    ps.subscribe(["ch:a", "ch:b"]).unwrap();
    ps.psubscribe("pat:*").unwrap();
    assert_eq!(ps.channels(), names(&["ch:a", "ch:b"]));
    assert_eq!(ps.patterns(), names(&["pat:*"]));

    let bin = binary();
    assert_eq!(publisher.publish("ch:a", "one").unwrap(), 1);
    assert_eq!(publisher.publish("ch:b", &bin[..]).unwrap(), 1);
    assert_eq!(publisher.publish("pat:x", "three").unwrap(), 1);
    check(&brecv(&mut ps), MessageKind::Message, "ch:a", None, b"one");
    check(&brecv(&mut ps), MessageKind::Message, "ch:b", None, &bin);
    check(
        &brecv(&mut ps),
        MessageKind::PMessage,
        "pat:x",
        Some("pat:*"),
        b"three",
    );

    // Messages published before a control request are queued by it, in order.
    publisher.publish("ch:a", "queued").unwrap();
    ps.unsubscribe("ch:a").unwrap();
    assert_eq!(ps.channels(), names(&["ch:b"]));
    assert_eq!(publisher.publish("ch:a", "lost").unwrap(), 0);
    publisher.publish("ch:b", "kept").unwrap();
    check(
        &brecv(&mut ps),
        MessageKind::Message,
        "ch:a",
        None,
        b"queued",
    );
    check(&brecv(&mut ps), MessageKind::Message, "ch:b", None, b"kept");
    assert!(ps
        .next_message_timeout(Duration::from_millis(200))
        .unwrap()
        .is_none());

    // PING while subscribed.
    publisher.publish("pat:y", "before ping").unwrap();
    ps.ping().unwrap();
    let m = ps.next_message_timeout(Duration::ZERO).unwrap();
    check(
        &m.expect("queued before the pong"),
        MessageKind::PMessage,
        "pat:y",
        Some("pat:*"),
        b"before ping",
    );

    // The iterator.
    for i in 0..50 {
        publisher.publish("ch:b", i).unwrap();
    }
    let got: Vec<i64> = ps
        .messages()
        .take(50)
        .map(|m| m.unwrap().payload().unwrap())
        .collect();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
}

#[test]
fn blocking_sharded_and_unsubscribe_all() {
    use slotline_conn::blocking::{Commands as _, Query as _};
    let server = Standalone::start().unwrap();
    let publisher = blocking::Connection::connect(server.url()).unwrap();
    let con = blocking::Connection::connect(server.url()).unwrap();
    con.set("k", "v").unwrap();
    let mut ps = con.into_pubsub().unwrap();
    ps.subscribe(("c1", "c2")).unwrap();
    ps.psubscribe("p*").unwrap();
    ps.ssubscribe("shard:{1}").unwrap();
    assert_eq!(ps.subscriptions().len(), 4);

    let n: i64 = publisher
        .query(&cmd("SPUBLISH").arg("shard:{1}").arg(&binary()[..]))
        .unwrap();
    assert_eq!(n, 1);
    check(
        &brecv(&mut ps),
        MessageKind::SMessage,
        "shard:{1}",
        None,
        &binary(),
    );

    ps.unsubscribe(()).unwrap();
    assert!(ps.channels().is_empty());
    ps.unsubscribe(()).unwrap();
    ps.punsubscribe(()).unwrap();
    ps.sunsubscribe(()).unwrap();
    assert!(ps.subscriptions().is_empty());
    ps.ping().unwrap();
    assert!(matches!(
        ps.psubscribe(Vec::<String>::new()),
        Err(ref e) if e.kind() == ErrorKind::Refused(slotline_conn::RefusedKind::Invalid)));
    ps.subscribe("again").unwrap();
    publisher.publish("again", "yes").unwrap();
    let mut owned = ps.into_iter();
    check(
        &owned.next().unwrap().unwrap(),
        MessageKind::Message,
        "again",
        None,
        b"yes",
    );
}

#[test]
fn blocking_client_kill_errors_then_ends_and_reconnect() {
    use slotline_conn::blocking::{Commands as _, Query as _};
    let server = local_server();
    let publisher = blocking::Connection::connect(server.url()).unwrap();
    let mut ps = blocking::PubSub::connect(server.url()).unwrap();
    ps.subscribe("k1").unwrap();
    ps.psubscribe("kp*").unwrap();
    publisher.publish("k1", "before").unwrap();
    ps.ping().unwrap();

    let killed: i64 = publisher
        .query(&cmd("CLIENT").arg(["KILL", "TYPE", "pubsub"]))
        .unwrap();
    assert_eq!(killed, 1);
    check(&brecv(&mut ps), MessageKind::Message, "k1", None, b"before");
    let started = Instant::now();
    let err = ps.next_message_timeout(WAIT).unwrap_err();
    assert!(err.is_connection_lost(), "{err:?}");
    assert!(started.elapsed() < WAIT);
    assert!(ps.next_message().is_none());
    assert!(ps.messages().next().is_none());
    assert!(matches!(
        ps.next_message_timeout(WAIT),
        Err(ref e) if e.kind() == ErrorKind::Closed));
    assert!(matches!(ps.ping(), Err(ref e) if e.kind() == ErrorKind::Closed));

    let mut fresh = ps.reconnect().unwrap();
    assert_eq!(fresh.subscriptions(), ps.subscriptions());
    publisher.publish("kpz", "after").unwrap();
    check(
        &brecv(&mut fresh),
        MessageKind::PMessage,
        "kpz",
        Some("kp*"),
        b"after",
    );
    let mut third = blocking::PubSub::connect(server.url()).unwrap();
    fresh.resubscribe_on(&mut third).unwrap();
    assert_eq!(third.subscriptions(), fresh.subscriptions());
}

#[test]
fn blocking_server_killed_errors_then_ends() {
    let server = local_server();
    let mut ps = blocking::PubSub::connect(server.url()).unwrap();
    ps.subscribe("x").unwrap();
    server.kill().unwrap();
    let started = Instant::now();
    let err = ps.next_message_timeout(WAIT).unwrap_err();
    assert!(err.is_connection_lost(), "{err:?}");
    assert!(ps.messages().next().is_none());
    assert!(started.elapsed() < WAIT);
    assert!(matches!(ps.subscribe("y"), Err(ref e) if e.kind() == ErrorKind::Closed));
}

#[test]
fn blocking_control_request_meets_the_loss() {
    let server = local_server();
    let mut ps = blocking::PubSub::connect(server.url()).unwrap();
    ps.subscribe("x").unwrap();
    server.kill().unwrap();
    // The kill is seen by the request, or by the write: an error either way, no hang.
    let started = Instant::now();
    let err = ps.ping().unwrap_err();
    assert!(err.is_connection_lost(), "{err:?}");
    assert!(started.elapsed() < WAIT);
    // The message reader is told too, then the end.
    assert!(ps.next_message().unwrap().is_err());
    assert!(ps.next_message().is_none());
}

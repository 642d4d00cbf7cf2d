use super::*;

fn names(list: &[&str]) -> Vec<Bytes> {
    list.iter()
        .map(|n| Bytes::copy_from_slice(n.as_bytes()))
        .collect()
}

fn push(items: &[&str]) -> Frame {
    Frame::Push(items.iter().map(|i| Frame::bulk(i.to_string())).collect())
}

/// Routes `frame`, returning (sink, kind, channel) for each delivery, and what was given
/// back.
fn route(
    r: &mut Registry<&'static str>,
    frame: Frame,
) -> (Vec<(&'static str, MessageKind, Bytes)>, Option<Frame>) {
    let mut got = Vec::new();
    let back = r.route(frame, |sink, m| got.push((*sink, m.kind, m.channel)));
    got.sort_by_key(|g| g.0);
    (got, back)
}

#[test]
fn the_server_is_asked_once_and_told_to_stop_by_the_last_subscriber() {
    let mut r = Registry::default();
    let a = r.join("a");
    let b = r.join("b");
    r.add(a, Family::Channel, &names(&["news", "sport"]));
    r.add(b, Family::Channel, &names(&["news"]));
    // A name asked for twice by one subscriber counts once.
    assert_eq!(r.add(b, Family::Channel, &names(&["news"])), names(&[]));
    assert!(r.is_wanted(Family::Channel, &"news".into()));
    assert!(!r.is_wanted(Family::Pattern, &"news".into()));
    assert_eq!(r.remove(a, Family::Channel, &names(&["news"])), names(&[]));
    assert_eq!(
        r.remove(b, Family::Channel, &names(&["news"])),
        names(&["news"])
    );
    // Not subscribed: nothing to tell the server.
    assert_eq!(r.remove(b, Family::Channel, &names(&["sport"])), names(&[]));
    // No names: all of that family.
    assert_eq!(r.remove(a, Family::Channel, &[]), names(&["sport"]));
    assert!(r.is_empty());
}

#[test]
fn a_subscriber_that_leaves_releases_only_what_nobody_else_wants() {
    let mut r = Registry::default();
    let a = r.join("a");
    let b = r.join("b");
    r.add(a, Family::Channel, &names(&["x", "y"]));
    r.add(a, Family::Pattern, &names(&["p*"]));
    r.add(a, Family::Shard, &names(&["s{1}"]));
    r.add(b, Family::Channel, &names(&["y"]));
    let mut left = r.leave(a);
    left.sort_by_key(|(f, _)| *f as usize);
    assert_eq!(
        left,
        vec![
            (Family::Channel, names(&["x"])),
            (Family::Pattern, names(&["p*"])),
            (Family::Shard, names(&["s{1}"])),
        ]
    );
    assert_eq!(r.leave(a), vec![]);
    assert_eq!(r.subscriptions(b).channels.len(), 1);
    assert_eq!(r.subscriptions(a), Subscriptions::default());
}

#[test]
fn messages_go_to_each_subscriber_that_wants_them() {
    let mut r = Registry::default();
    let a = r.join("a");
    let b = r.join("b");
    r.add(a, Family::Channel, &names(&["news"]));
    r.add(b, Family::Channel, &names(&["news"]));
    r.add(b, Family::Pattern, &names(&["n*"]));
    r.add(a, Family::Shard, &names(&["s"]));

    let (got, back) = route(&mut r, push(&["message", "news", "hi"]));
    assert_eq!(back, None);
    assert_eq!(
        got,
        vec![
            ("a", MessageKind::Message, "news".into()),
            ("b", MessageKind::Message, "news".into())
        ]
    );
    let (got, _) = route(&mut r, push(&["pmessage", "n*", "news", "hi"]));
    assert_eq!(got, vec![("b", MessageKind::PMessage, "news".into())]);
    let (got, _) = route(&mut r, push(&["smessage", "s", "hi"]));
    assert_eq!(got, vec![("a", MessageKind::SMessage, "s".into())]);
    // Nobody wants it (a late message after the last unsubscribe): dropped.
    let (got, back) = route(&mut r, push(&["message", "other", "hi"]));
    assert!(got.is_empty() && back.is_none());
    // A late confirmation is pub/sub, dropped too.
    let (got, back) = route(&mut r, push(&["subscribe", "news", "1"]));
    assert!(got.is_empty() && back.is_none());
}

#[test]
fn a_shard_channel_the_server_ends_is_forgotten_and_told() {
    let mut r = Registry::default();
    let a = r.join("a");
    r.add(a, Family::Shard, &names(&["s", "t"]));
    let frame = Frame::Push(vec![
        Frame::bulk("sunsubscribe"),
        Frame::bulk("s"),
        Frame::Integer(1),
    ]);
    let (got, _) = route(&mut r, frame);
    assert_eq!(got, vec![("a", MessageKind::ShardUnsubscribed, "s".into())]);
    assert!(!r.is_wanted(Family::Shard, &"s".into()));
    assert_eq!(r.resubscribe().len(), 1);
}

#[test]
fn other_pushes_are_given_back() {
    let mut r: Registry<&'static str> = Registry::default();
    let invalidate = Frame::Push(vec![
        Frame::bulk("invalidate"),
        Frame::Array(vec![Frame::bulk("k")]),
    ]);
    let (got, back) = route(&mut r, invalidate.clone());
    assert!(got.is_empty());
    assert_eq!(back, Some(invalidate));
    assert_eq!(route(&mut r, Frame::Integer(1)).1, Some(Frame::Integer(1)));
}

#[test]
fn resubscribing_names_every_wanted_subscription_once_one_per_command() {
    let mut r = Registry::default();
    assert!(r.resubscribe().is_empty());
    let a = r.join("a");
    let b = r.join("b");
    r.add(a, Family::Channel, &names(&["b", "a"]));
    r.add(b, Family::Channel, &names(&["a"]));
    r.add(b, Family::Pattern, &names(&["p*"]));
    let cmds: Vec<Vec<Vec<u8>>> = r
        .resubscribe()
        .iter()
        .map(|c| c.args().map(<[u8]>::to_vec).collect())
        .collect();
    assert_eq!(
        cmds,
        vec![
            vec![b"SUBSCRIBE".to_vec(), b"a".to_vec()],
            vec![b"SUBSCRIBE".to_vec(), b"b".to_vec()],
            vec![b"PSUBSCRIBE".to_vec(), b"p*".to_vec()],
        ]
    );
}

#[test]
fn confirmation_kinds() {
    for kind in [
        "subscribe",
        "PSUBSCRIBE",
        "ssubscribe",
        "unsubscribe",
        "sunsubscribe",
    ] {
        assert!(is_confirmation(kind.as_bytes()), "{kind}");
    }
    for kind in ["message", "invalidate", "pong", ""] {
        assert!(!is_confirmation(kind.as_bytes()), "{kind}");
    }
}

#[test]
fn one_command_per_name() {
    let op = Op::unsubscribe(Family::Shard, ["x", "y"]);
    let cmds = op.one_per_name();
    assert_eq!(cmds.len(), 2);
    assert_eq!(cmds[1].args().next(), Some(&b"SUNSUBSCRIBE"[..]));
    assert_eq!(
        op.names().map(|(f, n)| (f, n.len())),
        Some((Family::Shard, 2))
    );
}

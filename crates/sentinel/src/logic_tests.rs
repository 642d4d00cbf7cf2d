//! Tests of the module that includes this file.

use super::*;

fn a(port: u16) -> Addr {
    Addr::tcp("127.0.0.1", port)
}

fn master_reply(port: u16) -> Frame {
    Frame::Array(vec![
        Frame::bulk("127.0.0.1"),
        Frame::bulk(port.to_string()),
    ])
}

fn entry(port: u16, flags: &str, link: &str) -> Frame {
    let kv = [
        ("name", format!("127.0.0.1:{port}")),
        ("ip", "127.0.0.1".to_string()),
        ("port", port.to_string()),
        ("flags", flags.to_string()),
        ("master-link-status", link.to_string()),
    ];
    Frame::Array(
        kv.iter()
            .flat_map(|(k, v)| [Frame::bulk(k.to_string()), Frame::bulk(v.clone())])
            .collect(),
    )
}

fn role(name: &str) -> Frame {
    match name {
        "master" => Frame::Array(vec![
            Frame::bulk("master"),
            Frame::Integer(0),
            Frame::Array(vec![]),
        ]),
        _ => Frame::Array(vec![
            Frame::bulk("slave"),
            Frame::bulk("127.0.0.1"),
            Frame::Integer(1),
            Frame::bulk("connected"),
            Frame::Integer(0),
        ]),
    }
}

fn down() -> slotline_conn::Error {
    slotline_conn::Error::io(std::io::ErrorKind::ConnectionRefused.into(), false)
}

fn expect_send(step: Step) -> Ask {
    match step {
        Step::Send(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn expect_done(step: Step) -> Finished {
    match step {
        Step::Done(f) => f,
        other => panic!("expected the end, got {other:?}"),
    }
}

fn master_discovery(sentinels: &[u16]) -> Discovery {
    Discovery::new(
        "svc",
        Want::Master,
        sentinels.iter().map(|&p| a(p)).collect(),
        3,
        Duration::from_millis(10),
    )
}

#[test]
fn dead_sentinel_then_master_with_role_check() {
    let mut d = master_discovery(&[1, 2]);
    let r = expect_send(d.step(Input::Start));
    assert_eq!(r.peer, Peer::Sentinel(a(1)));
    assert_eq!(r.pipe.len(), 2);
    let r = expect_send(d.step(Input::Replies(Err(down()))));
    assert_eq!(r.peer, Peer::Sentinel(a(2)));
    let sentinels = Frame::Array(vec![
        entry(3, "sentinel", "ok"),
        entry(4, "s_down,sentinel", "ok"),
    ]);
    let r = expect_send(d.step(Input::Replies(Ok(vec![master_reply(10), sentinels]))));
    assert_eq!(r.peer, Peer::Node(a(10)));
    let f = expect_done(d.step(Input::Replies(Ok(vec![role("master")]))));
    assert_eq!(f.result.unwrap(), Found::Master(a(10)));
    assert_eq!(f.responder, Some(a(2)));
    assert_eq!(f.learned, vec![a(3)]);
}

#[test]
fn a_named_replica_sends_discovery_on() {
    let mut d = master_discovery(&[1, 2]);
    expect_send(d.step(Input::Start));
    let r = expect_send(d.step(Input::Replies(Ok(vec![master_reply(11)]))));
    assert_eq!(r.peer, Peer::Node(a(11)));
    let r = expect_send(d.step(Input::Replies(Ok(vec![role("slave")]))));
    assert_eq!(r.peer, Peer::Sentinel(a(2)));
    expect_send(d.step(Input::Replies(Ok(vec![master_reply(10)]))));
    let f = expect_done(d.step(Input::Replies(Ok(vec![role("master")]))));
    assert_eq!(f.result.unwrap(), Found::Master(a(10)));
    assert_eq!(f.responder, Some(a(2)));
}

#[test]
fn a_replica_named_by_every_sentinel_is_retried_then_refused() {
    let mut d = master_discovery(&[1, 2]);
    let mut step = d.step(Input::Start);
    let mut sleeps = 0;
    let mut roles = 0;
    let finished = loop {
        step = match step {
            Step::Send(Ask {
                peer: Peer::Sentinel(_),
                ..
            }) => d.step(Input::Replies(Ok(vec![master_reply(11)]))),
            Step::Send(Ask {
                peer: Peer::Node(_),
                ..
            }) => {
                roles += 1;
                d.step(Input::Replies(Ok(vec![role("slave")])))
            }
            Step::Sleep(_) => {
                sleeps += 1;
                d.step(Input::Slept)
            }
            Step::Done(f) => break f,
        };
    };
    assert_eq!(sleeps, 2, "3 rounds");
    assert_eq!(roles, 3, "one ROLE per round for the same node");
    match finished.result {
        Err(Error::NotMaster { addr, role, .. }) => {
            assert_eq!(addr, a(11));
            assert_eq!(role, "slave");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn distinct_errors() {
    // Nobody answers.
    let mut d = master_discovery(&[1, 2]);
    expect_send(d.step(Input::Start));
    expect_send(d.step(Input::Replies(Err(down()))));
    let f = expect_done(d.step(Input::Replies(Err(down()))));
    match f.result {
        Err(Error::NoSentinelReachable { failures }) => assert_eq!(failures.len(), 2),
        other => panic!("{other:?}"),
    }
    // One is down, the other does not know the service.
    let mut d = master_discovery(&[1, 2]);
    expect_send(d.step(Input::Start));
    expect_send(d.step(Input::Replies(Err(down()))));
    let f = expect_done(d.step(Input::Replies(Ok(vec![
        Frame::Null,
        Frame::error("ERR No such master with that name"),
    ]))));
    assert!(
        matches!(f.result, Err(Error::UnknownService { ref asked, .. }) if asked == &vec![a(2)])
    );
    // The named master is dead.
    let mut d = master_discovery(&[1]);
    expect_send(d.step(Input::Start));
    expect_send(d.step(Input::Replies(Ok(vec![master_reply(10)]))));
    let f = expect_done(d.step(Input::Replies(Err(down()))));
    assert!(matches!(f.result, Err(Error::MasterUnreachable { .. })));
    // Wrong data password: reported at once.
    let mut d = master_discovery(&[1, 2]);
    expect_send(d.step(Input::Start));
    expect_send(d.step(Input::Replies(Ok(vec![master_reply(10)]))));
    let f = expect_done(d.step(Input::Replies(Ok(vec![Frame::error(
        "NOAUTH Authentication required.",
    )]))));
    assert!(matches!(f.result, Err(Error::Conn(_))));
}

#[test]
fn replicas_skip_unhealthy_ones() {
    let mut d = Discovery::new("svc", Want::Replicas, vec![a(1)], 3, Duration::ZERO);
    let r = expect_send(d.step(Input::Start));
    assert_eq!(r.peer, Peer::Sentinel(a(1)));
    let list = Frame::Array(vec![
        entry(20, "slave", "ok"),
        entry(21, "s_down,slave", "ok"),
        entry(22, "slave,disconnected", "ok"),
        entry(23, "slave", "err"),
        entry(24, "slave,o_down", "ok"),
        entry(25, "slave", "ok"),
    ]);
    let f = expect_done(d.step(Input::Replies(Ok(vec![list, Frame::Array(vec![])]))));
    assert_eq!(f.result.unwrap(), Found::Replicas(vec![a(20), a(25)]));
    assert_eq!(f.responder, Some(a(1)));
}

#[test]
fn out_of_order_input_is_an_error_not_a_panic() {
    let mut d = master_discovery(&[1]);
    let f = expect_done(d.step(Input::Slept));
    assert!(f.result.is_err());
}

#[test]
fn switch_messages_and_roles() {
    let s = parse_switch(b"mymaster 127.0.0.1 6379 127.0.0.1 6380").unwrap();
    assert_eq!(s.service, "mymaster");
    assert_eq!(s.old, a(6379));
    assert_eq!(s.new, a(6380));
    assert!(parse_switch(b"mymaster 127.0.0.1").is_none());
    assert_eq!(parse_role(&role("master")), Some(Role::Master));
    assert!(replica_ready(&role("slave")).is_ok());
    assert!(replica_ready(&role("master")).is_err());
    let syncing = Frame::Array(vec![
        Frame::bulk("slave"),
        Frame::bulk("127.0.0.1"),
        Frame::Integer(1),
        Frame::bulk("sync"),
        Frame::Integer(-1),
    ]);
    assert!(replica_ready(&syncing).is_err());
}

#[test]
fn refused_pipelines() {
    let refused = |p: &Pipeline, replies: &[Frame]| {
        let refs: Vec<&Frame> = replies.iter().collect();
        pipeline_refused_by_replica(p, &refs)
    };
    let ro = || Frame::error("READONLY You can't write against a read only replica.");
    let mut p = pipe();
    p.cmd("GET")
        .arg("a")
        .cmd("SET")
        .arg("a")
        .arg(1)
        .cmd("INCR")
        .arg("n");
    assert!(refused(&p, &[Frame::Null, ro(), ro()]));
    assert!(!refused(&p, &[Frame::Null, ro(), Frame::Integer(1)]));
    assert!(!refused(
        &p,
        &[Frame::Null, Frame::simple("OK"), Frame::Integer(1)]
    ));
    p.atomic();
    let queued = || Frame::simple("QUEUED");
    assert!(refused(
        &p,
        &[
            Frame::simple("OK"),
            queued(),
            ro(),
            ro(),
            Frame::error("EXECABORT Transaction discarded")
        ]
    ));
    assert!(!refused(
        &p,
        &[
            Frame::simple("OK"),
            queued(),
            queued(),
            queued(),
            Frame::Array(vec![])
        ]
    ));
    assert!(is_readonly_error(&ro()));
    // Views of the received bytes read the same; only the whole first word counts.
    let view = |wire: &[u8]| {
        slotline_resp::Decoder::default()
            .decode_reply(&mut bytes::BytesMut::from(wire))
            .unwrap()
            .unwrap()
    };
    assert!(is_readonly_error(
        view(b"-READONLY You can't write against a read only replica.\r\n").view()
    ));
    assert!(is_readonly_error(view(b"-READONLY\r\n").view()));
    assert!(!is_readonly_error(view(b"-READONLYX no\r\n").view()));
    assert!(!is_readonly_error(view(b"+READONLY\r\n").view()));
}

#[test]
fn list_order() {
    let list = SentinelList::new(vec![a(1), a(2), a(1), a(3)]);
    assert_eq!(list.snapshot(), vec![a(1), a(2), a(3)]);
    list.apply(&Finished {
        result: Ok(Found::Master(a(9))),
        responder: Some(a(3)),
        learned: vec![a(4), a(2)],
    });
    assert_eq!(list.snapshot(), vec![a(3), a(1), a(2), a(4)]);
}

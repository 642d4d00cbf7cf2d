//! The failover follower alone: the sentinels' messages as Redis 7.0 publishes them, and
//! what the follower answers to each, without sockets.

use std::time::{Duration, Instant};

use slotline_conn::Addr;

use super::*;

fn old() -> Addr {
    Addr::tcp("127.0.0.1", 6379)
}

fn new() -> Addr {
    Addr::tcp("127.0.0.1", 6380)
}

fn leader() -> Addr {
    Addr::tcp("127.0.0.1", 26379)
}

/// The news in a message, for `mymaster`.
fn news(channel: &str, payload: &str) -> News {
    let (service, news) = parse_news(channel.as_bytes(), payload.as_bytes())
        .unwrap_or_else(|| panic!("{channel} {payload} is news"));
    assert_eq!(service, "mymaster");
    news
}

const MASTER: &str = "master mymaster 127.0.0.1 6379";
const REPLICA: &str = "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379";

#[test]
fn messages_are_read_as_the_sentinels_publish_them() {
    assert_eq!(news("+try-failover", MASTER), News::Started);
    assert_eq!(news("+elected-leader", MASTER), News::Leading);
    assert_eq!(news("+failover-state-select-slave", MASTER), News::Leading);
    assert_eq!(news("+selected-slave", REPLICA), News::Promoting(new()));
    assert_eq!(
        news("+failover-state-send-slaveof-noone", REPLICA),
        News::Promoting(new())
    );
    assert_eq!(
        news("+failover-state-wait-promotion", REPLICA),
        News::Promoting(new())
    );
    assert_eq!(news("+promoted-slave", REPLICA), News::Promoted(new()));
    assert_eq!(
        news("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380"),
        News::Promoted(new())
    );
    assert_eq!(news("-failover-abort-not-elected", MASTER), News::Aborted);
    assert_eq!(news("-failover-abort-no-good-slave", MASTER), News::Aborted);
    assert_eq!(news("-failover-abort-slave-timeout", MASTER), News::Aborted);
    // The end of the replicas' reconfiguration by timeout is not news: the switch follows.
    assert_eq!(
        parse_news(b"+failover-end-for-timeout", MASTER.as_bytes()),
        None
    );
    // Another service is named as such.
    let other = parse_news(b"+try-failover", b"master other 10.0.0.1 6379");
    assert_eq!(other, Some(("other".to_string(), News::Started)));
    // Malformed payloads are no news, never a panic.
    for bad in [
        "",
        "master",
        "slave 1 2",
        "slave a b notaport @ mymaster x 1",
        "\u{0}",
    ] {
        assert_eq!(
            parse_news(b"+selected-slave", bad.as_bytes()),
            None,
            "{bad:?}"
        );
    }
    assert_eq!(parse_news(b"+promoted-slave", MASTER.as_bytes()), None);
    assert_eq!(parse_news(b"+switch-master", b"mymaster 1 2"), None);
    assert_eq!(parse_news(b"+sdown", MASTER.as_bytes()), None);
    assert_eq!(parse_news(b"+try-failover", &[0xff, 0xfe]), None);
}

#[test]
fn a_graceful_failover_holds_writes_from_its_first_step_until_the_client_is_at_the_new_master() {
    let t0 = Instant::now();
    let mut f = Failover::default();
    assert!(!f.holds_writes());
    let steps = [
        ("+try-failover", MASTER, Action::HoldWrites),
        ("+elected-leader", MASTER, Action::Nothing),
        ("+failover-state-select-slave", MASTER, Action::Nothing),
        ("+selected-slave", REPLICA, Action::Nothing),
        (
            "+failover-state-send-slaveof-noone",
            REPLICA,
            Action::Nothing,
        ),
        ("+failover-state-wait-promotion", REPLICA, Action::Nothing),
    ];
    for (channel, payload, want) in steps {
        assert_eq!(
            f.hear(news(channel, payload), &leader(), &old(), t0),
            want,
            "{channel}"
        );
        assert!(f.holds_writes(), "{channel}");
        assert_eq!(f.moving_to(), None, "{channel}: not a master yet");
    }
    assert_eq!(
        f.hear(news("+promoted-slave", REPLICA), &leader(), &old(), t0),
        Action::MoveTo(new())
    );
    assert!(f.holds_writes(), "until the client is there");
    assert_eq!(f.moving_to(), Some(&new()));
    // The switch, announced by every sentinel in turn, while moving and once there.
    let switch = "mymaster 127.0.0.1 6379 127.0.0.1 6380";
    assert_eq!(
        f.hear(news("+switch-master", switch), &leader(), &old(), t0),
        Action::Nothing
    );
    assert_eq!(f.arrived(), Action::Release);
    assert!(!f.holds_writes());
    assert_eq!(
        f.hear(news("+switch-master", switch), &leader(), &new(), t0),
        Action::Nothing,
        "a sentinel that learned of the switch later"
    );
    assert_eq!(f.arrived(), Action::Nothing, "a reconnect later");
}

#[test]
fn a_switch_heard_without_its_steps_moves_the_client_with_writes_held() {
    let mut f = Failover::default();
    let switch = news("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380");
    assert_eq!(
        f.hear(switch, &leader(), &old(), Instant::now()),
        Action::MoveTo(new())
    );
    assert!(f.holds_writes());
    assert_eq!(f.arrived(), Action::Release);
}

#[test]
fn an_aborted_failover_lets_the_writes_go_to_the_old_master() {
    let t0 = Instant::now();
    let mut f = Failover::default();
    assert_eq!(
        f.hear(news("+try-failover", MASTER), &leader(), &old(), t0),
        Action::HoldWrites
    );
    assert_eq!(
        f.hear(
            news("-failover-abort-no-good-slave", MASTER),
            &leader(),
            &old(),
            t0
        ),
        Action::Release
    );
    assert!(!f.holds_writes());
    assert_eq!(
        f.hear(
            news("-failover-abort-not-elected", MASTER),
            &leader(),
            &old(),
            t0
        ),
        Action::Nothing,
        "an abort with no failover held is nothing"
    );
}

#[test]
fn a_promotion_of_the_node_the_client_is_at_ends_the_hold_there() {
    let t0 = Instant::now();
    let mut f = Failover::default();
    f.hear(news("+try-failover", MASTER), &leader(), &old(), t0);
    // The client had already moved to the replica (a reconnect asked the sentinels).
    assert_eq!(
        f.hear(news("+promoted-slave", REPLICA), &leader(), &new(), t0),
        Action::Release
    );
    assert!(!f.holds_writes());
}

#[test]
fn a_quiet_failover_is_checked_and_released_when_no_sentinel_answers() {
    let t0 = Instant::now();
    let mut f = Failover::default();
    assert_eq!(f.check_due(t0), None);
    f.hear(news("+try-failover", MASTER), &leader(), &old(), t0);
    assert_eq!(f.check_due(t0 + QUIET / 2), None, "heard of lately");
    let mut now = t0 + QUIET;
    assert_eq!(f.check_due(now), Some(leader()));
    assert_eq!(f.checked(Checked::UnderWay, &old(), now), Action::Nothing);
    assert_eq!(f.check_due(now), None, "checked just now");
    for _ in 0..UNANSWERED_CHECKS - 1 {
        now += QUIET;
        assert_eq!(f.checked(Checked::Unanswered, &old(), now), Action::Nothing);
        assert!(f.holds_writes());
    }
    now += QUIET;
    assert_eq!(f.checked(Checked::Unanswered, &old(), now), Action::Release);
    assert!(!f.holds_writes());
    assert_eq!(
        f.checked(Checked::Unanswered, &old(), now),
        Action::Nothing,
        "a late check changes nothing"
    );
}

#[test]
fn a_check_that_finds_the_failover_over_moves_or_releases() {
    let t0 = Instant::now();
    let later = t0 + QUIET + Duration::from_millis(1);
    let mut f = Failover::default();
    f.hear(news("+try-failover", MASTER), &leader(), &old(), t0);
    assert_eq!(
        f.checked(Checked::Over(old()), &old(), later),
        Action::Release
    );
    let mut f = Failover::default();
    f.hear(news("+try-failover", MASTER), &leader(), &old(), t0);
    assert_eq!(
        f.checked(Checked::Over(new()), &old(), later),
        Action::MoveTo(new()),
        "the promotion was missed"
    );
    assert_eq!(f.moving_to(), Some(&new()));
    assert_eq!(f.check_due(later + QUIET), None, "a move is not checked");
}

#[test]
fn steps_heard_while_moving_change_nothing() {
    let t0 = Instant::now();
    let mut f = Failover::default();
    f.hear(news("+promoted-slave", REPLICA), &leader(), &old(), t0);
    for (channel, payload) in [
        ("+try-failover", MASTER),
        ("+selected-slave", REPLICA),
        ("-failover-abort-slave-timeout", MASTER),
    ] {
        assert_eq!(
            f.hear(news(channel, payload), &leader(), &old(), t0),
            Action::Nothing,
            "{channel}"
        );
        assert_eq!(f.moving_to(), Some(&new()));
    }
    // A second failover, to another node, while moving: follow the latest.
    let third = Addr::tcp("127.0.0.1", 6381);
    let again = news("+switch-master", "mymaster 127.0.0.1 6380 127.0.0.1 6381");
    assert_eq!(
        f.hear(again, &leader(), &old(), t0),
        Action::MoveTo(third.clone())
    );
    assert_eq!(f.moving_to(), Some(&third));
}

#[test]
fn only_the_leaders_abort_ends_the_hold() {
    let t0 = Instant::now();
    let other = Addr::tcp("127.0.0.1", 26380);
    let mut f = Failover::default();
    // Two sentinels try; the second is elected and leads.
    assert_eq!(
        f.hear(news("+try-failover", MASTER), &other, &old(), t0),
        Action::HoldWrites
    );
    f.hear(news("+try-failover", MASTER), &leader(), &old(), t0);
    f.hear(news("+selected-slave", REPLICA), &leader(), &old(), t0);
    assert_eq!(
        f.hear(
            news("-failover-abort-not-elected", MASTER),
            &other,
            &old(),
            t0
        ),
        Action::Nothing,
        "the one not elected gives up; the failover goes on"
    );
    assert!(f.holds_writes());
    assert_eq!(
        f.check_due(t0 + QUIET),
        Some(leader()),
        "the leader is asked"
    );
    assert_eq!(
        f.hear(
            news("-failover-abort-slave-timeout", MASTER),
            &leader(),
            &old(),
            t0
        ),
        Action::Release
    );
}

#[test]
fn sentinel_master_replies_are_read_for_the_failover_state() {
    let reply = |flags: &str| {
        Frame::Array(
            [
                "name",
                "mymaster",
                "ip",
                "127.0.0.1",
                "port",
                "6380",
                "flags",
                flags,
            ]
            .iter()
            .map(|s| Frame::Bulk(bytes::Bytes::copy_from_slice(s.as_bytes())))
            .collect(),
        )
    };
    assert_eq!(
        read_master_state(&reply("master,failover_in_progress")),
        Checked::UnderWay
    );
    assert_eq!(read_master_state(&reply("master")), Checked::Over(new()));
    assert_eq!(
        read_master_state(&Frame::error("ERR No such master with that name")),
        Checked::Unanswered
    );
    assert_eq!(read_master_state(&Frame::Null), Checked::Unanswered);
}

#[test]
fn the_elected_leader_is_the_one_asked_and_whose_abort_counts() {
    let t0 = Instant::now();
    let other = Addr::tcp("127.0.0.1", 26380);
    let mut f = Failover::default();
    f.hear(news("+try-failover", MASTER), &other, &old(), t0);
    f.hear(news("+elected-leader", MASTER), &leader(), &old(), t0);
    assert_eq!(f.check_due(t0 + QUIET), Some(leader()));
    assert_eq!(
        f.hear(
            news("-failover-abort-no-good-slave", MASTER),
            &leader(),
            &old(),
            t0
        ),
        Action::Release,
        "the leader gave up before choosing a replica"
    );
}

#[test]
fn asking_the_sentinels_again_moves_only_a_steady_client() {
    let t0 = Instant::now();
    let mut f = Failover::default();
    assert_eq!(f.resolved(old(), &old()), Action::Nothing, "already there");
    f.hear(news("+try-failover", MASTER), &leader(), &old(), t0);
    // Until the switch the sentinels still name the old master: no release, no move.
    assert_eq!(f.resolved(old(), &old()), Action::Nothing);
    assert!(f.holds_writes());
    f.hear(news("+promoted-slave", REPLICA), &leader(), &old(), t0);
    assert_eq!(
        f.resolved(old(), &old()),
        Action::Nothing,
        "not back to the old one"
    );
    assert_eq!(f.moving_to(), Some(&new()));
    f.arrived();
    // Steady: a switch missed while a subscription was down.
    let third = Addr::tcp("127.0.0.1", 6381);
    assert_eq!(f.resolved(third.clone(), &new()), Action::MoveTo(third));
    assert!(f.holds_writes());
}

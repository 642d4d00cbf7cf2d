//! The queue alone, no sockets, no tasks: each test drives it as the client's shell would
//! and checks what it answers.

use std::time::Duration;

use bytes::BytesMut;
use slotline_resp::{Frame, Reply};
use tokio::time::Instant;

use super::{Answer, Queue, Write};
use crate::client::write_policy::WritePolicy;
use crate::ErrorKind;

/// A request's bytes: its name and a newline.
fn bytes(name: &'static str) -> impl FnOnce(&mut BytesMut) {
    move |out: &mut BytesMut| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\n")
    }
}

fn int(n: i64) -> Reply {
    Reply::from_frame(Frame::Integer(n)).expect("an integer reply")
}

/// A batched policy after a read that answered several callers: callers never write,
/// not even a lone request (every batch through the writer).
fn writer_only() -> WritePolicy {
    let mut policy = WritePolicy::batched();
    policy.answered(2, std::time::Instant::now());
    policy
}

/// A queue of ten, connected, writing by `policy`.
fn queue_with(policy: WritePolicy) -> Queue<&'static str> {
    let mut q = Queue::new(10, policy.clone());
    q.up(policy, |_| false);
    q
}

/// A queue of `capacity` whose callers never write.
fn queue(capacity: usize) -> Queue<&'static str> {
    let mut q = Queue::new(capacity, writer_only());
    q.up(writer_only(), |_| false);
    q
}

/// Pushes a one-reply request named `name` (its sink is its name), no deadline.
fn push(q: &mut Queue<&'static str>, name: &'static str) -> u64 {
    q.push(bytes(name), 1, None, Duration::ZERO, name, false).id
}

/// What the writer task takes now, as text.
fn take(q: &mut Queue<&'static str>) -> Option<String> {
    let taken = q.take_for_writer(&mut BytesMut::new())?;
    q.writer_wrote();
    Some(String::from_utf8(taken.to_vec()).expect("text"))
}

/// Pushes a one-reply request named `a` whose bytes `encode` writes, which its caller is
/// to write at once (else the test fails with `why`); the bytes it takes.
fn caller_writes(
    q: &mut Queue<&'static str>,
    encode: impl FnOnce(&mut BytesMut),
    why: &str,
) -> super::Taken {
    match q.push(encode, 1, None, Duration::ZERO, "a", false).write {
        Write::Caller(taken) => taken,
        other => panic!("{why}: {other:?}"),
    }
}

/// Delivers integer replies; returns the names answered, with their answers' integers.
fn deliver(q: &mut Queue<&'static str>, replies: &[i64]) -> Vec<(&'static str, Vec<i64>)> {
    let mut replies: Vec<Reply> = replies.iter().map(|&n| int(n)).collect();
    let mut done = Vec::new();
    q.deliver(
        &mut replies,
        &mut done,
        &mut Vec::new(),
        std::time::Instant::now(),
    )
    .expect("replies awaited");
    done.into_iter()
        .map(|(name, answer)| {
            let ints = match answer {
                Answer::One(r) => vec![r.view().as_int().expect("int")],
                Answer::Many(rs) => rs.iter().map(|r| r.view().as_int().expect("int")).collect(),
            };
            (name, ints)
        })
        .collect()
}

#[test]
fn replies_answer_written_requests_in_order() {
    let mut q = queue(10);
    push(&mut q, "a");
    push(&mut q, "b");
    assert_eq!(
        take(&mut q).as_deref(),
        Some("a\nb\n"),
        "one write for both"
    );
    push(&mut q, "c");
    assert_eq!(q.in_flight(), 2, "c is queued, not written");
    assert_eq!(deliver(&mut q, &[1]), vec![("a", vec![1])]);
    assert_eq!(deliver(&mut q, &[2]), vec![("b", vec![2])]);
    let mut extra = vec![int(3)];
    let err = q
        .deliver(
            &mut extra,
            &mut Vec::new(),
            &mut Vec::new(),
            std::time::Instant::now(),
        )
        .unwrap_err();
    assert_eq!(
        err.type_name, "integer",
        "c was never written: nobody awaits a reply"
    );
}

#[test]
fn a_pipeline_is_answered_once_all_its_replies_are_in() {
    let mut q = queue(10);
    q.push(bytes("p"), 3, None, Duration::ZERO, "p", false);
    push(&mut q, "x");
    take(&mut q);
    assert_eq!(deliver(&mut q, &[1, 2]), vec![], "two of three");
    assert_eq!(
        deliver(&mut q, &[3, 4]),
        vec![("p", vec![1, 2, 3]), ("x", vec![4])],
        "the third completes it, the fourth is the next request's"
    );
    assert_eq!(q.in_flight(), 0);
}

#[test]
fn a_caller_giving_up_mid_pipeline_leaves_its_replies_to_be_dropped() {
    let mut q = queue(10);
    let p = q.push(bytes("p"), 2, None, Duration::ZERO, "p", false).id;
    push(&mut q, "x");
    take(&mut q);
    assert_eq!(deliver(&mut q, &[1]), vec![]);
    assert!(q.withdraw(p).is_none(), "written: it stays to be matched");
    assert_eq!(
        deliver(&mut q, &[2, 3]),
        vec![("p", vec![1, 2]), ("x", vec![3])],
        "the pipeline's second reply is still its own, not x's"
    );
}

#[test]
fn withdrawing_an_unwritten_request_takes_its_bytes_out() {
    let mut q = queue(3);
    push(&mut q, "a");
    let b = push(&mut q, "bb");
    push(&mut q, "c");
    assert!(!q.has_room(), "full at capacity");
    assert_eq!(q.withdraw(b).map(|(s, _)| s), Some("bb"));
    assert!(q.has_room(), "its place is free at once");
    push(&mut q, "d");
    assert_eq!(
        take(&mut q).as_deref(),
        Some("a\nc\nd\n"),
        "never sent late"
    );
    assert_eq!(
        deliver(&mut q, &[1, 3, 4]),
        vec![("a", vec![1]), ("c", vec![3]), ("d", vec![4])]
    );
    assert!(q.withdraw(b).is_none(), "gone already");
}

#[test]
fn back_pressure_counts_queued_and_written_requests() {
    let mut q = queue(3);
    push(&mut q, "a");
    push(&mut q, "b");
    take(&mut q);
    push(&mut q, "c");
    assert!(!q.has_room(), "two in flight and one queued fill three");
    deliver(&mut q, &[1]);
    assert!(q.has_room(), "an answer frees a place");
    assert!(
        Queue::<()>::new(0, writer_only()).has_room(),
        "at least one"
    );
}

#[test]
fn a_deadline_passing_while_the_reply_is_due_fails_the_caller_and_keeps_the_entry() {
    let mut q = queue(10);
    let now = Instant::now();
    let t = Duration::from_millis(100);
    let first = q.push(bytes("a"), 1, Some(now + t), t, "a", false);
    assert!(
        first.earlier_deadline,
        "the first deadline wakes the sweeper"
    );
    let later = q.push(bytes("b"), 1, Some(now + 2 * t), 2 * t, "b", false);
    assert!(!later.earlier_deadline, "a later one need not");
    take(&mut q);
    push(&mut q, "c");
    assert!(q.expire(now).is_empty(), "nothing due yet");
    assert_eq!(q.next_deadline(), Some(now + t));
    let failed = q.expire(now + t);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "a");
    assert!(
        failed[0].1.kind() == ErrorKind::Timeout && failed[0].1.may_have_run(),
        "written: it may have run ({:?})",
        failed[0].1
    );
    assert_eq!(q.next_deadline(), Some(now + 2 * t), "b's deadline is next");
    assert_eq!(
        deliver(&mut q, &[1, 2]),
        vec![("b", vec![2])],
        "a's late reply is matched with its entry and dropped, not given to b"
    );
}

#[test]
fn an_unwritten_request_whose_deadline_passes_is_never_sent() {
    let mut q = queue(10);
    let now = Instant::now();
    let t = Duration::from_millis(5);
    q.push(bytes("a"), 1, Some(now + t), t, "a", false);
    push(&mut q, "b");
    let failed = q.expire(now + t);
    assert_eq!(failed.len(), 1);
    assert!(failed[0].1.kind() == ErrorKind::Timeout && !failed[0].1.may_have_run());
    assert_eq!(take(&mut q).as_deref(), Some("b\n"), "only b leaves");
    assert_eq!(q.next_deadline(), None);

    q.lose();
    q.push(bytes("c"), 1, Some(now + t), t, "c", false);
    let failed = q.expire(now + t);
    assert!(
        failed[0].1.kind() == ErrorKind::Timeout && !failed[0].1.may_have_run(),
        "down: it waited for a connection ({:?})",
        failed[0].1
    );
}

#[test]
fn a_lost_connection_fails_written_requests_and_keeps_unwritten_ones() {
    let mut q = queue(10);
    push(&mut q, "a");
    push(&mut q, "b");
    take(&mut q);
    push(&mut q, "c");
    assert_eq!(q.lose(), vec!["a", "b"], "written: they may have run");
    assert_eq!(q.in_flight(), 0);
    assert_eq!(take(&mut q), None, "nothing is written while down");
    push(&mut q, "d");
    assert!(q.up(writer_only(), |_| false), "c and d wait");
    assert_eq!(take(&mut q).as_deref(), Some("c\nd\n"));
    assert_eq!(
        deliver(&mut q, &[3, 4]),
        vec![("c", vec![3]), ("d", vec![4])]
    );
}

#[test]
fn requests_whose_callers_left_while_down_are_dropped_when_a_connection_comes_up() {
    let mut q = queue(10);
    q.lose();
    push(&mut q, "a");
    push(&mut q, "gone");
    push(&mut q, "c");
    assert!(q.up(writer_only(), |name| *name == "gone"));
    assert_eq!(take(&mut q).as_deref(), Some("a\nc\n"));
    assert_eq!(
        deliver(&mut q, &[1, 3]),
        vec![("a", vec![1]), ("c", vec![3])]
    );
    q.lose();
    push(&mut q, "gone");
    assert!(
        !q.up(writer_only(), |name| *name == "gone"),
        "nothing waits"
    );
}

#[test]
fn fail_all_takes_every_request() {
    let mut q = queue(10);
    push(&mut q, "a");
    take(&mut q);
    push(&mut q, "b");
    assert_eq!(q.fail_all(), vec!["a", "b"]);
    assert!(!q.up(writer_only(), |_| false), "no bytes left");
    assert_eq!(take(&mut q), None);
}

#[test]
fn the_writer_is_woken_for_the_first_bytes_only() {
    let mut q = queue(10);
    assert!(matches!(
        q.push(bytes("a"), 1, None, Duration::ZERO, "a", false)
            .write,
        Write::WakeWriter
    ));
    assert!(matches!(
        q.push(bytes("b"), 1, None, Duration::ZERO, "b", false)
            .write,
        Write::Nothing
    ));
    take(&mut q);
    assert!(
        matches!(
            q.push(bytes("c"), 1, None, Duration::ZERO, "c", false)
                .write,
            Write::WakeWriter
        ),
        "taken: the next bytes need a wake-up again"
    );
}

#[test]
fn a_lone_request_is_written_by_its_caller_at_once() {
    let mut q = queue_with(WritePolicy::overlapped(4));
    let taken = caller_writes(&mut q, bytes("a"), "nothing in flight: the caller writes");
    assert_eq!(&taken.bytes[..], b"a\n");
    assert_eq!(q.in_flight(), 1);
    assert!(
        matches!(
            q.push(bytes("b"), 1, None, Duration::ZERO, "b", false)
                .write,
            Write::WakeWriter
        ),
        "one writer at a time: the first caller is still writing"
    );
    assert!(
        q.caller_wrote(&taken, BytesMut::new()),
        "b waits for the writer"
    );
    assert_eq!(take(&mut q).as_deref(), Some("b\n"));
}

#[test]
fn under_load_a_caller_writes_once_its_share_has_queued() {
    let mut q = queue(100);
    for name in ["a", "b", "c", "d", "e", "f", "g", "h"] {
        push(&mut q, name);
    }
    take(&mut q);
    q.policy = WritePolicy::overlapped(4);
    assert_eq!(q.in_flight(), 8);
    assert!(matches!(
        q.push(bytes("i"), 1, None, Duration::ZERO, "i", false)
            .write,
        Write::WakeWriter
    ));
    let w = q
        .push(bytes("j"), 1, None, Duration::ZERO, "j", false)
        .write;
    let Write::Caller(taken) = w else {
        panic!("two queued against eight in flight is a quarter: {w:?}");
    };
    assert_eq!(&taken.bytes[..], b"i\nj\n");
    assert_eq!(q.in_flight(), 10);
    assert!(!q.caller_wrote(&taken, BytesMut::new()));
    let busy = q.push(bytes("k"), 1, None, Duration::ZERO, "k", true).write;
    assert!(
        matches!(busy, Write::WakeWriter),
        "with another link busy, only a lone request is written at once: {busy:?}"
    );
}

#[test]
fn what_a_caller_could_not_write_leaves_first() {
    let mut q = queue_with(WritePolicy::overlapped(2));
    let taken = caller_writes(&mut q, bytes("aaaa"), "a lone request");
    q.push(bytes("b"), 1, None, Duration::ZERO, "b", false);
    assert!(q.caller_wrote(&taken, BytesMut::from(&b"aa\n"[..])));
    assert_eq!(take(&mut q).as_deref(), Some("aa\n"), "the rest of a first");
    assert_eq!(take(&mut q).as_deref(), Some("b\n"));
}

#[test]
fn a_caller_write_that_ends_after_its_connection_went_counts_for_nothing() {
    let mut q = queue_with(WritePolicy::overlapped(2));
    let taken = caller_writes(&mut q, bytes("a"), "a lone request");
    assert_eq!(q.lose(), vec!["a"]);
    q.up(WritePolicy::overlapped(2), |_| false);
    let Write::Caller(next) = q
        .push(bytes("b"), 1, None, Duration::ZERO, "b", false)
        .write
    else {
        panic!("a lone request on the new connection");
    };
    assert!(
        !q.caller_wrote(&taken, BytesMut::from(&b"a\n"[..])),
        "the old connection's rest is not written on the new one"
    );
    assert!(!q.caller_wrote(&next, BytesMut::new()));
    assert_eq!(take(&mut q), None);
}

#[test]
fn nobody_writes_while_down() {
    let mut q = Queue::new(10, WritePolicy::overlapped(2));
    let w = q
        .push(bytes("a"), 1, None, Duration::ZERO, "a", false)
        .write;
    assert!(!matches!(w, Write::Caller(_)), "down: {w:?}");
    assert_eq!(take(&mut q), None);
    assert!(q.up(WritePolicy::overlapped(2), |_| false));
    assert_eq!(take(&mut q).as_deref(), Some("a\n"));
}

#[test]
fn batched_a_caller_on_its_own_writes_at_once_and_the_first_of_many_does_not() {
    let mut q = queue_with(WritePolicy::batched());
    let taken = caller_writes(&mut q, bytes("a"), "a lone request on an idle link");
    q.caller_wrote(&taken, BytesMut::new());
    assert_eq!(deliver(&mut q, &[1]), vec![("a", vec![1])]);
    assert!(
        matches!(
            q.push(bytes("b"), 1, None, Duration::ZERO, "b", false)
                .write,
            Write::Caller(_)
        ),
        "the last read answered one caller: this one is on its own"
    );
    let mut q = queue(10);
    push(&mut q, "x");
    push(&mut q, "y");
    take(&mut q);
    deliver(&mut q, &[1, 2]);
    assert!(
        matches!(
            q.push(bytes("x"), 1, None, Duration::ZERO, "x", false)
                .write,
            Write::WakeWriter
        ),
        "the first of the callers a read woke leaves its request to the writer task"
    );
}

#[test]
fn a_connection_being_left_answers_what_it_carries_and_writes_nothing_more() {
    let mut q = queue(10);
    push(&mut q, "a");
    push(&mut q, "b");
    take(&mut q);
    assert!(!q.leave(), "a and b are in flight");
    push(&mut q, "c");
    assert_eq!(take(&mut q), None, "c waits for the next connection");
    assert_eq!(deliver(&mut q, &[1]), vec![("a", vec![1])]);
    assert!(!q.is_left());
    assert_eq!(deliver(&mut q, &[2]), vec![("b", vec![2])]);
    assert!(q.is_left(), "nothing in flight: the connection may go");
    assert_eq!(q.lose(), Vec::<&str>::new(), "nobody is failed");
    assert!(q.up(writer_only(), |_| false), "c waits");
    assert!(!q.is_left(), "the new connection is not being left");
    assert_eq!(take(&mut q).as_deref(), Some("c\n"));
}

#[test]
fn a_connection_being_left_still_finishes_a_callers_cut_write() {
    let mut q = queue_with(WritePolicy::overlapped(2));
    let taken = caller_writes(&mut q, bytes("aaaa"), "a lone request");
    assert!(!q.leave());
    assert!(
        matches!(
            q.push(bytes("b"), 1, None, Duration::ZERO, "b", false)
                .write,
            Write::Nothing | Write::WakeWriter
        ),
        "no caller writes on a connection being left"
    );
    assert!(q.caller_wrote(&taken, BytesMut::from(&b"aa\n"[..])));
    assert_eq!(take(&mut q).as_deref(), Some("aa\n"), "a is not cut in two");
    assert_eq!(take(&mut q), None, "b is not written here");
    assert_eq!(deliver(&mut q, &[1]), vec![("a", vec![1])]);
    assert!(q.is_left());
}

#[test]
fn leaving_while_down_leaves_nothing() {
    let mut q: Queue<&'static str> = Queue::new(10, writer_only());
    assert!(!q.leave(), "no connection to leave");
    assert!(!q.is_left());
}

/// A RESP3 push `[kind, name, 1]`.
fn confirmation(kind: &str, name: &str) -> Reply {
    Reply::from_frame(Frame::Push(vec![
        Frame::bulk(kind.to_string()),
        Frame::bulk(name.to_string()),
        Frame::Integer(1),
    ]))
    .expect("a push")
}

#[test]
fn pushes_answer_only_a_request_answered_by_pushes() {
    let mut q = queue(10);
    push(&mut q, "get");
    q.push(bytes("sub"), 2, None, Duration::ZERO, "sub", false);
    q.answered_by_pushes();
    push(&mut q, "after");
    take(&mut q);
    let now = std::time::Instant::now();
    let (mut done, mut unsolicited) = (Vec::new(), Vec::new());
    // A push while the oldest is a plain request: the server's own (a shard channel
    // ended), not its answer; the integer is.
    let mut replies = vec![confirmation("sunsubscribe", "s"), int(7)];
    q.deliver(&mut replies, &mut done, &mut unsolicited, now)
        .expect("awaited");
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), vec!["get"]);
    assert_eq!(unsolicited.len(), 1);
    // Now the oldest is answered by pushes: an error (a refusal) or a push answers it.
    let mut replies = vec![
        Reply::from_frame(Frame::error("NOPERM no")).expect("error"),
        confirmation("subscribe", "b"),
        int(8),
    ];
    done.clear();
    unsolicited.clear();
    q.deliver(&mut replies, &mut done, &mut unsolicited, now)
        .expect("awaited");
    assert_eq!(
        done.iter().map(|d| d.0).collect::<Vec<_>>(),
        vec!["sub", "after"]
    );
    assert!(unsolicited.is_empty());
    // A push with nothing in flight is unsolicited, not out of step.
    let mut replies = vec![confirmation("sunsubscribe", "t")];
    q.deliver(&mut replies, &mut done, &mut unsolicited, now)
        .expect("a push is never unasked");
    assert_eq!(unsolicited.len(), 1);
}

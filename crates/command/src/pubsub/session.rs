//! The sans-IO heart of pub/sub, shared by the async and the blocking drivers: what a frame
//! received on a subscribed connection means ([`interpret`]), and which of the requests in
//! flight it answers ([`Session`]).
//!
//! Replies to control commands come back in the order the commands were sent, with
//! messages interleaved anywhere, so the requests in flight are a FIFO: a confirmation or
//! a pong belongs to the oldest request that waits for one. `SUBSCRIBE a b` gets one
//! confirmation per name; `UNSUBSCRIBE` with no names gets one per subscription the server
//! had (or a single one with a null channel when it had none), so it is complete when the
//! tracked set of that kind is empty, the count reaches 0, or the null confirmation came.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;
use slotline_resp::Frame;

use super::{Message, MessageKind, Subscriptions};
use crate::error::{ServerError, TypeError};
use crate::{cmd, Cmd, Error, Result, ToArgs};

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `SUBSCRIBE` / `UNSUBSCRIBE`.
    Channel,
    /// `PSUBSCRIBE` / `PUNSUBSCRIBE`.
    Pattern,
    /// `SSUBSCRIBE` / `SUNSUBSCRIBE`.
    Shard,
}

impl Family {
    fn subscribe_cmd(self) -> &'static str {
        match self {
            Family::Channel => "SUBSCRIBE",
            Family::Pattern => "PSUBSCRIBE",
            Family::Shard => "SSUBSCRIBE",
        }
    }

    fn unsubscribe_cmd(self) -> &'static str {
        match self {
            Family::Channel => "UNSUBSCRIBE",
            Family::Pattern => "PUNSUBSCRIBE",
            Family::Shard => "SUNSUBSCRIBE",
        }
    }

    pub(crate) fn set(self, subs: &mut Subscriptions) -> &mut BTreeSet<Bytes> {
        match self {
            Family::Channel => &mut subs.channels,
            Family::Pattern => &mut subs.patterns,
            Family::Shard => &mut subs.shard_channels,
        }
    }

    pub(crate) fn set_ref(self, subs: &Subscriptions) -> &BTreeSet<Bytes> {
        match self {
            Family::Channel => &subs.channels,
            Family::Pattern => &subs.patterns,
            Family::Shard => &subs.shard_channels,
        }
    }
}

/// A control request: what is sent, and what its answer looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Subscribe to these names (never empty): one confirmation each.
    Subscribe(Family, Vec<Bytes>),
    /// Unsubscribe from these names; empty means all of this family.
    Unsubscribe(Family, Vec<Bytes>),
    /// `PING`.
    Ping,
}

/// What a completed request answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// Every confirmation came.
    Done,
    /// The pong's payload (empty for a plain `PING`).
    Pong(Bytes),
}

impl Op {
    /// `SUBSCRIBE`-like request for `names`; refused when there is no name.
    pub fn subscribe(family: Family, names: impl ToArgs) -> Result<Op> {
        let names = names_of(names);
        if names.is_empty() {
            return Err(Error::refused(
                crate::RefusedKind::Invalid,
                format!("{} needs at least one name", family.subscribe_cmd()),
            ));
        }
        Ok(Op::Subscribe(family, names))
    }

    /// `UNSUBSCRIBE`-like request; no names means all of this family.
    pub fn unsubscribe(family: Family, names: impl ToArgs) -> Op {
        Op::Unsubscribe(family, names_of(names))
    }

    /// The command that carries this request.
    pub fn to_cmd(&self) -> Cmd {
        match self {
            Op::Subscribe(family, names) => cmd(family.subscribe_cmd()).arg(names),
            Op::Unsubscribe(family, names) => cmd(family.unsubscribe_cmd()).arg(names),
            Op::Ping => cmd("PING"),
        }
    }

    /// The commands that carry this request on a connection shared with other requests:
    /// one per name, so that each has exactly one answer (its confirmation, or an error)
    /// to match by order. An unsubscribe from every name of a family has no such form
    /// (the server answers once per subscription it had): name them.
    pub fn one_per_name(&self) -> Vec<Cmd> {
        match self {
            Op::Subscribe(family, names) => names
                .iter()
                .map(|n| cmd(family.subscribe_cmd()).arg(n))
                .collect(),
            Op::Unsubscribe(family, names) => names
                .iter()
                .map(|n| cmd(family.unsubscribe_cmd()).arg(n))
                .collect(),
            Op::Ping => vec![cmd("PING")],
        }
    }

    /// The family and names of a subscribe or unsubscribe request.
    pub fn names(&self) -> Option<(Family, &[Bytes])> {
        match self {
            Op::Subscribe(family, names) | Op::Unsubscribe(family, names) => Some((*family, names)),
            Op::Ping => None,
        }
    }
}

/// The names an argument value writes (a string, a slice of them, a tuple, ...).
fn names_of(names: impl ToArgs) -> Vec<Bytes> {
    let mut c = Cmd::new();
    names.write_args(&mut c);
    c.args().map(Bytes::copy_from_slice).collect()
}

/// What one frame received on a subscribed connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Push {
    /// A published message.
    Message(Message),
    /// `subscribe` / `psubscribe` / `ssubscribe` confirmation.
    Subscribed(Family, Bytes),
    /// `unsubscribe` / `punsubscribe` / `sunsubscribe` confirmation (a null name when
    /// there was nothing to unsubscribe from), with the count of subscriptions left.
    Unsubscribed(Family, Option<Bytes>, i64),
    /// An answer to `PING`: `["pong", payload]` while subscribed, `+PONG` (or the bulk
    /// payload) when not.
    Pong(Bytes),
    /// An error reply to the oldest request.
    Error(ServerError),
}

/// Interprets one frame; an error for a frame that has no meaning on a pub/sub connection.
pub(crate) fn interpret(frame: Frame) -> Result<Push> {
    let items = match frame {
        // RESP3 sends messages and confirmations as pushes, RESP2 as arrays.
        Frame::Array(items) | Frame::Push(items) => items,
        Frame::Error(line) => return Ok(Push::Error(ServerError::parse(line))),
        Frame::Simple(s) if s.eq_ignore_ascii_case(b"PONG") => return Ok(Push::Pong(Bytes::new())),
        Frame::Bulk(payload) => return Ok(Push::Pong(payload)),
        other => return Err(unexpected(&other, "")),
    };
    let kind = match items.first() {
        Some(Frame::Bulk(k)) | Some(Frame::Simple(k)) => k.to_ascii_lowercase(),
        _ => return Err(unexpected_array(items)),
    };
    let bulk = |i: usize| match items.get(i) {
        Some(Frame::Bulk(b)) | Some(Frame::Simple(b)) => Some(b.clone()),
        _ => None,
    };
    let count = |i: usize| match items.get(i) {
        Some(Frame::Integer(n)) => Some(*n),
        _ => None,
    };
    let message = |kind, channel: Option<Bytes>, pattern, payload: Option<Bytes>| {
        Some(Push::Message(Message {
            kind,
            channel: channel?,
            pattern,
            payload: payload?,
        }))
    };
    let push = match (&kind[..], items.len()) {
        // Over RESP2, tracking's invalidations for another connection (`REDIRECT`) arrive
        // on `__redis__:invalidate` with the keys as an array (a null: every key).
        (b"message", 3) if matches!(items.get(2), Some(Frame::Array(_) | Frame::Null)) => {
            let mut keys = bytes::BytesMut::new();
            if let Some(frame) = items.get(2) {
                frame.encode(&mut keys);
            }
            message(
                MessageKind::Invalidation,
                bulk(1),
                None,
                Some(keys.freeze()),
            )
        }
        (b"message", 3) => message(MessageKind::Message, bulk(1), None, bulk(2)),
        (b"smessage", 3) => message(MessageKind::SMessage, bulk(1), None, bulk(2)),
        (b"pmessage", 4) => match bulk(1) {
            Some(pattern) => message(MessageKind::PMessage, bulk(2), Some(pattern), bulk(3)),
            None => None,
        },
        (b"subscribe", 3) => bulk(1).map(|c| Push::Subscribed(Family::Channel, c)),
        (b"psubscribe", 3) => bulk(1).map(|c| Push::Subscribed(Family::Pattern, c)),
        (b"ssubscribe", 3) => bulk(1).map(|c| Push::Subscribed(Family::Shard, c)),
        (b"unsubscribe", 3) => count(2).map(|n| Push::Unsubscribed(Family::Channel, bulk(1), n)),
        (b"punsubscribe", 3) => count(2).map(|n| Push::Unsubscribed(Family::Pattern, bulk(1), n)),
        (b"sunsubscribe", 3) => count(2).map(|n| Push::Unsubscribed(Family::Shard, bulk(1), n)),
        (b"pong", 2) => Some(Push::Pong(bulk(1).unwrap_or_default())),
        _ => None,
    };
    push.ok_or_else(|| unexpected_array(items))
}

fn unexpected(frame: &Frame, detail: &str) -> Error {
    Error::from(TypeError::new::<Message>(
        frame,
        format!("unexpected frame on a pub/sub connection{detail}"),
    ))
}

fn unexpected_array(items: Vec<Frame>) -> Error {
    let detail = format!(": {:?}", Frame::Array(items.into_iter().take(4).collect()));
    unexpected(&Frame::Array(Vec::new()), &detail)
}

/// What a frame amounts to for the driver.
#[derive(Debug)]
pub enum Event<T> {
    /// A message for the reader (including a server-side [`MessageKind::ShardUnsubscribed`]).
    Message(Message),
    /// The request with this token is complete.
    Done(T, Result<Confirmed>),
    /// Progress on a request, or a state change; nothing to hand out.
    Nothing,
}

/// One request in flight and what it still waits for.
#[derive(Debug)]
struct Pending<T> {
    op: Op,
    token: T,
}

/// The requests in flight, oldest first. `T` is how the driver finds the caller again (a
/// oneshot sender, a sequence number).
#[derive(Debug)]
pub struct Session<T> {
    pending: VecDeque<Pending<T>>,
}

impl<T> Default for Session<T> {
    fn default() -> Self {
        Session {
            pending: VecDeque::new(),
        }
    }
}

impl<T> Session<T> {
    /// Records a request that was (or is about to be) written.
    pub fn push(&mut self, op: Op, token: T) {
        self.pending.push_back(Pending { op, token });
    }

    /// Whether a request waits for its answer.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Takes every request in flight (the connection is lost: each gets the error).
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.pending.drain(..).map(|p| p.token)
    }

    /// Interprets a received frame, updates `subs` with what the server confirmed, and
    /// says what the frame means. An error is fatal: the stream is out of step.
    pub fn handle(&mut self, frame: Frame, subs: &mut Subscriptions) -> Result<Event<T>> {
        match interpret(frame)? {
            Push::Message(m) => Ok(Event::Message(m)),
            Push::Subscribed(family, name) => {
                family.set(subs).insert(name.clone());
                let (event, _) = self.confirm(|op| match op {
                    Op::Subscribe(f, names) if *f == family => take_name(names, &name),
                    _ => Matched::No,
                });
                Ok(event)
            }
            Push::Unsubscribed(family, name, count) => {
                let set = family.set(subs);
                if let Some(name) = &name {
                    set.remove(name);
                }
                let now_empty = set.is_empty();
                let (event, matched) = self.confirm(|op| match op {
                    Op::Unsubscribe(f, names) if *f == family && !names.is_empty() => match &name {
                        Some(name) => take_name(names, name),
                        None => Matched::No,
                    },
                    Op::Unsubscribe(f, _) if *f == family => {
                        if name.is_none() || count == 0 || now_empty {
                            Matched::Complete
                        } else {
                            Matched::Partial
                        }
                    }
                    _ => Matched::No,
                });
                match (matched, family, name) {
                    // Not asked for: the server dropped a shard channel (its slot moved).
                    (false, Family::Shard, Some(channel)) => Ok(Event::Message(Message {
                        kind: MessageKind::ShardUnsubscribed,
                        channel,
                        pattern: None,
                        payload: Bytes::new(),
                    })),
                    _ => Ok(event),
                }
            }
            Push::Pong(payload) => match self.pending.front() {
                Some(Pending { op: Op::Ping, .. }) => {
                    Ok(self.complete(Ok(Confirmed::Pong(payload))))
                }
                _ => Err(unexpected(
                    &Frame::Bulk(payload),
                    ": a pong nobody asked for",
                )),
            },
            Push::Error(err) => match self.pending.front() {
                Some(_) => Ok(self.complete(Err(Error::from(err)))),
                None => Err(Error::from(err)),
            },
        }
    }

    /// Applies a confirmation to the oldest request. A confirmation the oldest request
    /// does not wait for is one the server sent on its own; the subscription sets were
    /// updated already, nothing else to do.
    /// Returns the event and whether the confirmation was one the request waited for.
    fn confirm(&mut self, matches: impl FnOnce(&mut Op) -> Matched) -> (Event<T>, bool) {
        let Some(head) = self.pending.front_mut() else {
            return (Event::Nothing, false);
        };
        match matches(&mut head.op) {
            Matched::Complete => (self.complete(Ok(Confirmed::Done)), true),
            Matched::Partial => (Event::Nothing, true),
            Matched::No => (Event::Nothing, false),
        }
    }

    fn complete(&mut self, result: Result<Confirmed>) -> Event<T> {
        match self.pending.pop_front() {
            Some(p) => Event::Done(p.token, result),
            None => Event::Nothing,
        }
    }
}

/// How a confirmation relates to the oldest request.
enum Matched {
    /// It was the last one the request waited for.
    Complete,
    /// The request waits for more.
    Partial,
    /// It is not for this request.
    No,
}

/// Crosses `name` off `names`; complete when none is left.
fn take_name(names: &mut Vec<Bytes>, name: &Bytes) -> Matched {
    match names.iter().position(|n| n == name) {
        Some(i) => {
            names.remove(i);
            if names.is_empty() {
                Matched::Complete
            } else {
                Matched::Partial
            }
        }
        None => Matched::No,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn arr(items: &[&[u8]]) -> Frame {
        Frame::Array(
            items
                .iter()
                .map(|i| Frame::bulk(Bytes::copy_from_slice(i)))
                .collect(),
        )
    }

    fn confirm(kind: &str, name: Option<&str>, count: i64) -> Frame {
        Frame::Array(vec![
            Frame::bulk(kind.to_string()),
            name.map_or(Frame::Null, |n| Frame::bulk(n.to_string())),
            Frame::Integer(count),
        ])
    }

    fn done<T: std::fmt::Debug>(event: Event<T>) -> (T, Result<Confirmed>) {
        match event {
            Event::Done(t, r) => (t, r),
            other => panic!("expected a completion, got {other:?}"),
        }
    }

    #[test]
    fn interprets_messages() {
        let m = interpret(arr(&[b"message", b"ch", b"\x00\xff"])).unwrap();
        assert_eq!(
            m,
            Push::Message(Message {
                kind: MessageKind::Message,
                channel: "ch".into(),
                pattern: None,
                payload: Bytes::from_static(b"\x00\xff"),
            })
        );
        let p = interpret(arr(&[b"pmessage", b"c*", b"cat", b"x"])).unwrap();
        let Push::Message(p) = p else { panic!("{p:?}") };
        assert_eq!(p.kind, MessageKind::PMessage);
        assert_eq!(
            (p.pattern_str(), p.channel_str()),
            (Some("c*"), Some("cat"))
        );
        let s = interpret(arr(&[b"smessage", b"s", b"x"])).unwrap();
        assert!(matches!(
            s,
            Push::Message(Message {
                kind: MessageKind::SMessage,
                ..
            })
        ));
        assert_eq!(
            interpret(arr(&[b"pong", b""])).unwrap(),
            Push::Pong(Bytes::new())
        );
        assert_eq!(
            interpret(Frame::simple("PONG")).unwrap(),
            Push::Pong(Bytes::new())
        );
        assert_eq!(
            interpret(confirm("unsubscribe", None, 0)).unwrap(),
            Push::Unsubscribed(Family::Channel, None, 0)
        );
        // An invalidation redirected to a RESP2 subscriber: the keys as an array, or a
        // null for every key.
        let inv = interpret(Frame::Array(vec![
            Frame::bulk("message"),
            Frame::bulk("__redis__:invalidate"),
            Frame::Array(vec![Frame::bulk("k1"), Frame::bulk("k2")]),
        ]))
        .unwrap();
        let Push::Message(inv) = inv else {
            panic!("{inv:?}")
        };
        assert_eq!(inv.kind, MessageKind::Invalidation);
        assert_eq!(
            inv.invalidated_keys(),
            Some(vec![Bytes::from("k1"), Bytes::from("k2")])
        );
        let all = interpret(Frame::Array(vec![
            Frame::bulk("message"),
            Frame::bulk("__redis__:invalidate"),
            Frame::Null,
        ]))
        .unwrap();
        let Push::Message(all) = all else {
            panic!("{all:?}")
        };
        assert_eq!(all.invalidated_keys(), None);
        // Frames that mean nothing here.
        assert!(interpret(Frame::Integer(1)).is_err());
        assert!(interpret(arr(&[b"message", b"ch"])).is_err());
        assert!(interpret(Frame::Array(vec![
            Frame::bulk("message"),
            Frame::Integer(1),
            Frame::bulk("x")
        ]))
        .is_err());
        assert!(interpret(arr(&[b"bogus", b"a", b"b"])).is_err());
        assert!(interpret(Frame::Array(vec![])).is_err());
    }

    #[test]
    fn confirmations_complete_requests_in_order() {
        let mut s = Session::default();
        let mut subs = Subscriptions::default();
        s.push(Op::subscribe(Family::Channel, ["a", "b"]).unwrap(), 1);
        s.push(Op::Ping, 2);
        s.push(Op::subscribe(Family::Pattern, "p*").unwrap(), 3);
        assert!(matches!(
            s.handle(confirm("subscribe", Some("a"), 1), &mut subs)
                .unwrap(),
            Event::Nothing
        ));
        // A message in between is handed out and completes nothing.
        assert!(matches!(
            s.handle(arr(&[b"message", b"a", b"1"]), &mut subs).unwrap(),
            Event::Message(_)
        ));
        assert_eq!(
            done(
                s.handle(confirm("subscribe", Some("b"), 2), &mut subs)
                    .unwrap()
            )
            .0,
            1
        );
        let (t, r) = done(s.handle(arr(&[b"pong", b""]), &mut subs).unwrap());
        assert_eq!((t, r.unwrap()), (2, Confirmed::Pong(Bytes::new())));
        assert_eq!(
            done(
                s.handle(confirm("psubscribe", Some("p*"), 3), &mut subs)
                    .unwrap()
            )
            .0,
            3
        );
        assert!(!s.has_pending());
        assert_eq!(subs.len(), 3);

        // Unsubscribe all: done when the set is empty.
        s.push(Op::unsubscribe(Family::Channel, ()), 4);
        assert!(matches!(
            s.handle(confirm("unsubscribe", Some("a"), 2), &mut subs)
                .unwrap(),
            Event::Nothing
        ));
        assert_eq!(
            done(
                s.handle(confirm("unsubscribe", Some("b"), 1), &mut subs)
                    .unwrap()
            )
            .0,
            4
        );
        assert!(subs.channels.is_empty() && subs.patterns.len() == 1);
        // ... or with the null confirmation when there was nothing.
        s.push(Op::unsubscribe(Family::Channel, ()), 5);
        assert_eq!(
            done(
                s.handle(confirm("unsubscribe", None, 1), &mut subs)
                    .unwrap()
            )
            .0,
            5
        );
    }

    #[test]
    fn errors_and_unsolicited_frames() {
        let mut s = Session::default();
        let mut subs = Subscriptions::default();
        s.push(Op::subscribe(Family::Shard, ["x", "y"]).unwrap(), 1);
        let (t, r) = done(
            s.handle(
                Frame::error("CROSSSLOT Keys in request don't hash to the same slot"),
                &mut subs,
            )
            .unwrap(),
        );
        assert_eq!(t, 1);
        assert!(matches!(r, Err(ref e) if e.kind() == ErrorKind::Server));
        // The server drops a shard channel on its own (slot migrated).
        subs.shard_channels.insert("z".into());
        match s
            .handle(confirm("sunsubscribe", Some("z"), 0), &mut subs)
            .unwrap()
        {
            Event::Message(m) => {
                assert_eq!(m.kind, MessageKind::ShardUnsubscribed);
                assert_eq!(m.channel, "z");
            }
            other => panic!("{other:?}"),
        }
        assert!(subs.shard_channels.is_empty());
        // A pong or an error nobody asked for: out of step.
        assert!(s.handle(arr(&[b"pong", b""]), &mut subs).is_err());
        assert!(s.handle(Frame::error("ERR x"), &mut subs).is_err());
        assert!(Op::subscribe(Family::Channel, Vec::<String>::new()).is_err());
    }
}

//! The decisions of sentinel discovery, without I/O ("sans-IO"): which node to ask next,
//! what its reply means, when to wait and ask again, which error to report. The async
//! driver (`crate::drive`) and the blocking one (`crate::blocking`) both run the same
//! [`Discovery`] machine; they only carry its requests to the network and its replies back.
//!
//! Also here, for the same reason: parsing `ROLE` and `+switch-master`, the sentinel list
//! and its ordering, whether a reply means "sent to a replica, not run", and the round robin.

use std::sync::Mutex;
use std::time::Duration;

use slotline_conn::{cmd, command_table, pipe, Addr, Pipeline, ServerErrorKind};
use slotline_resp::{Frame, ReadReply};

use crate::{Error, Result};

/// What a discovery looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// The master, checked with `ROLE`.
    Master,
    /// The healthy replicas.
    Replicas,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peer {
    /// A sentinel (sentinel credentials, short timeouts).
    Sentinel(Addr),
    /// A data node, for a short check (data credentials, short timeouts).
    Node(Addr),
}

/// One request for the driver to carry out: open a connection to `target`, send `pipe`,
/// feed the replies (or the failure) back with [`Input::Replies`].
#[derive(Debug, Clone)]
pub(crate) struct Ask {
    pub(crate) peer: Peer,
    pub(crate) pipe: Pipeline,
}

/// What the driver does next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Carry out a request.
    Send(Ask),
    /// Wait, then feed [`Input::Slept`].
    Sleep(Duration),
    /// Discovery is over: apply the outcome to the sentinel list and return its result.
    Done(Finished),
}

/// What the driver feeds the machine.
#[derive(Debug)]
pub(crate) enum Input {
    /// The first call.
    Start,
    /// The replies to the last request, or why there are none.
    Replies(slotline_conn::Result<Vec<Frame>>),
    /// The asked-for wait is over.
    Slept,
}

/// What was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    Master(Addr),
    Replicas(Vec<Addr>),
}

/// The outcome of a discovery: its result and what it taught about the sentinels.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) result: Result<Found>,
    /// The sentinel whose answer was used: it moves to the front of the list.
    pub(crate) responder: Option<Addr>,
    /// Sentinels learned from `SENTINEL SENTINELS`, to add to the list.
    pub(crate) learned: Vec<Addr>,
}

/// What the machine waits for.
#[derive(Debug)]
enum Waiting {
    Start,
    Sentinel(usize),
    Role { sentinel: usize, node: Addr },
    Sleep,
    Over,
}

/// What the `ROLE` check of a named master said, in this round.
#[derive(Debug, Clone)]
enum Check {
    NotMaster(String),
    Unreachable(String),
}

/// One discovery: asks the sentinels in order until one gives a usable answer.
///
/// - Master: `SENTINEL GET-MASTER-ADDR-BY-NAME` (a null answer: next sentinel), then
///   `ROLE` on the node named; a node that is not a master (or cannot be reached) sends
///   discovery on to the next sentinel. When a round over every sentinel found no master
///   but some named a node that said it is a replica (a failover under way), it waits and
///   makes another round, up to a bound.
/// - Replicas: `SENTINEL REPLICAS`, minus those flagged down or disconnected or whose link
///   to the master is down.
/// - Every sentinel asked is also asked `SENTINEL SENTINELS` (same round trip), to learn
///   the sentinels not in the list.
#[derive(Debug)]
pub(crate) struct Discovery {
    service: String,
    want: Want,
    sentinels: Vec<Addr>,
    rounds: u32,
    retry_delay: Duration,
    round: u32,
    next: usize,
    waiting: Waiting,
    // This round's findings.
    failures: Vec<(Addr, String)>,
    unknown: Vec<Addr>,
    checked: Vec<(Addr, Check)>,
    // Over all rounds.
    learned: Vec<Addr>,
}

impl Discovery {
    /// A discovery of `want` for `service`, asking `sentinels` in this order.
    pub(crate) fn new(
        service: &str,
        want: Want,
        sentinels: Vec<Addr>,
        rounds: u32,
        retry_delay: Duration,
    ) -> Self {
        Discovery {
            service: service.to_string(),
            want,
            sentinels,
            rounds: rounds.max(1),
            retry_delay,
            round: 0,
            next: 0,
            waiting: Waiting::Start,
            failures: Vec::new(),
            unknown: Vec::new(),
            checked: Vec::new(),
            learned: Vec::new(),
        }
    }

    /// Advances with `input`; returns what to do next.
    pub(crate) fn step(&mut self, input: Input) -> Step {
        match (std::mem::replace(&mut self.waiting, Waiting::Over), input) {
            (Waiting::Start, Input::Start) => self.ask_next(),
            (Waiting::Sentinel(i), Input::Replies(replies)) => self.on_sentinel(i, replies),
            (Waiting::Role { sentinel, node }, Input::Replies(replies)) => {
                self.on_role(sentinel, node, replies)
            }
            (Waiting::Sleep, Input::Slept) => {
                self.round += 1;
                self.next = 0;
                self.failures.clear();
                self.unknown.clear();
                self.checked.clear();
                self.ask_next()
            }
            (waiting, input) => self.finish(
                Err(Error::Config(format!(
                    "sentinel discovery driven out of order ({input:?} while waiting for {waiting:?})"
                ))),
                None,
            ),
        }
    }

    fn ask_next(&mut self) -> Step {
        let Some(addr) = self.sentinels.get(self.next).cloned() else {
            return self.end_round();
        };
        self.waiting = Waiting::Sentinel(self.next);
        self.next += 1;
        let mut p = pipe();
        match self.want {
            Want::Master => p.add(
                cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(&self.service),
            ),
            Want::Replicas => p.add(cmd("SENTINEL").arg("REPLICAS").arg(&self.service)),
        };
        p.add(cmd("SENTINEL").arg("SENTINELS").arg(&self.service));
        Step::Send(Ask {
            peer: Peer::Sentinel(addr),
            pipe: p,
        })
    }

    fn on_sentinel(&mut self, i: usize, replies: slotline_conn::Result<Vec<Frame>>) -> Step {
        let addr = self.sentinels[i].clone();
        let frames = match replies {
            Ok(frames) => frames,
            Err(e) => {
                self.failures.push((addr, e.to_string()));
                return self.ask_next();
            }
        };
        if let Some(list) = frames.get(1) {
            self.learn(list);
        }
        let Some(first) = frames.first() else {
            self.failures.push((addr, "no reply".into()));
            return self.ask_next();
        };
        match self.want {
            Want::Master => match first {
                Frame::Null | Frame::NullArray => {
                    self.unknown.push(addr);
                    self.ask_next()
                }
                Frame::Error(_) if is_no_such_master(first) => {
                    self.unknown.push(addr);
                    self.ask_next()
                }
                reply => match parse_master_addr(reply) {
                    Some(node) => {
                        if self.checked.iter().any(|(a, _)| *a == node) {
                            // Already found not to be a master in this round.
                            return self.ask_next();
                        }
                        self.waiting = Waiting::Role {
                            sentinel: i,
                            node: node.clone(),
                        };
                        Step::Send(Ask {
                            peer: Peer::Node(node),
                            pipe: {
                                let mut p = pipe();
                                p.add(cmd("ROLE"));
                                p
                            },
                        })
                    }
                    None => {
                        self.failures
                            .push((addr, unexpected("GET-MASTER-ADDR-BY-NAME", reply)));
                        self.ask_next()
                    }
                },
            },
            Want::Replicas => match first {
                Frame::Array(_) => match parse_replicas(first) {
                    Some(replicas) => self.finish(Ok(Found::Replicas(replicas)), Some(addr)),
                    None => {
                        self.failures
                            .push((addr, unexpected("SENTINEL REPLICAS", first)));
                        self.ask_next()
                    }
                },
                Frame::Null | Frame::NullArray => {
                    self.unknown.push(addr);
                    self.ask_next()
                }
                Frame::Error(_) if is_no_such_master(first) => {
                    self.unknown.push(addr);
                    self.ask_next()
                }
                other => {
                    self.failures
                        .push((addr, unexpected("SENTINEL REPLICAS", other)));
                    self.ask_next()
                }
            },
        }
    }

    fn on_role(
        &mut self,
        sentinel: usize,
        node: Addr,
        replies: slotline_conn::Result<Vec<Frame>>,
    ) -> Step {
        let check = match replies {
            // Wrong or missing data-node credentials: no other sentinel will make them right.
            Err(e) if is_auth_error(&e) => return self.finish(Err(Error::Conn(e)), None),
            Err(e) => Check::Unreachable(e.to_string()),
            Ok(frames) => match frames.first() {
                Some(Frame::Error(line)) => {
                    let e = slotline_conn::Error::Server(slotline_conn::ServerError::parse(
                        line.clone(),
                    ));
                    if is_auth_error(&e) {
                        return self.finish(Err(Error::Conn(e)), None);
                    }
                    Check::Unreachable(e.to_string())
                }
                Some(frame) => match parse_role(frame) {
                    Some(Role::Master) => {
                        let responder = self.sentinels[sentinel].clone();
                        return self.finish(Ok(Found::Master(node)), Some(responder));
                    }
                    Some(role) => Check::NotMaster(role.name().to_string()),
                    None => Check::Unreachable(unexpected("ROLE", frame)),
                },
                None => Check::Unreachable("no reply to ROLE".into()),
            },
        };
        self.checked.push((node, check));
        self.ask_next()
    }

    /// Every sentinel was asked in this round and none gave a usable master or list.
    fn end_round(&mut self) -> Step {
        let not_master = self.checked.iter().find_map(|(addr, c)| match c {
            Check::NotMaster(role) => Some((addr.clone(), role.clone())),
            Check::Unreachable(_) => None,
        });
        let unreachable = self.checked.iter().find_map(|(addr, c)| match c {
            Check::Unreachable(why) => Some((addr.clone(), why.clone())),
            Check::NotMaster(_) => None,
        });
        let error = if let Some((addr, role)) = not_master {
            if self.round + 1 < self.rounds {
                // Probably a failover under way: the sentinels name the replica being
                // promoted before it says it is a master.
                self.waiting = Waiting::Sleep;
                return Step::Sleep(self.retry_delay);
            }
            Error::NotMaster {
                service: self.service.clone(),
                addr,
                role,
            }
        } else if let Some((addr, reason)) = unreachable {
            Error::MasterUnreachable {
                service: self.service.clone(),
                addr,
                reason,
            }
        } else if !self.unknown.is_empty() {
            Error::UnknownService {
                service: self.service.clone(),
                asked: std::mem::take(&mut self.unknown),
            }
        } else {
            Error::NoSentinelReachable {
                failures: std::mem::take(&mut self.failures),
            }
        };
        self.finish(Err(error), None)
    }

    fn finish(&mut self, result: Result<Found>, responder: Option<Addr>) -> Step {
        self.waiting = Waiting::Over;
        Step::Done(Finished {
            result,
            responder,
            learned: std::mem::take(&mut self.learned),
        })
    }

    /// Adds the sentinels of a `SENTINEL SENTINELS` reply that are not known yet, unless
    /// flagged down.
    fn learn(&mut self, reply: &Frame) {
        for entry in reply.iter() {
            let Some(addr) = entry_addr(entry) else {
                continue;
            };
            // One flagged only `disconnected` may be just connecting to the sentinel that
            // lists it.
            let down = field(entry, "flags")
                .is_some_and(|flags| flags.split(',').any(|f| matches!(f, "s_down" | "o_down")));
            if down {
                continue;
            }
            if !self.sentinels.contains(&addr) && !self.learned.contains(&addr) {
                self.learned.push(addr);
            }
        }
    }
}

fn unexpected(what: &str, reply: &Frame) -> String {
    match reply {
        Frame::Error(line) => String::from_utf8_lossy(line).into_owned(),
        other => format!("unexpected reply to {what}: {other:?}"),
    }
}

/// `-ERR No such master with that name` (what `SENTINEL REPLICAS` and `SENTINEL SENTINELS`
/// answer for an unknown service).
fn is_no_such_master(frame: &Frame) -> bool {
    frame
        .error_message()
        .is_some_and(|m| m.to_ascii_lowercase().contains("no such master"))
}

/// Whether `e` says the credentials are wrong or missing.
pub(crate) fn is_auth_error(e: &slotline_conn::Error) -> bool {
    match e.server_kind() {
        Some(ServerErrorKind::NoAuth | ServerErrorKind::WrongPass | ServerErrorKind::NoPerm) => {
            true
        }
        // `ERR AUTH <password> called without any password configured ...`
        Some(ServerErrorKind::Other(kind)) => kind == "ERR" && e.to_string().contains("AUTH"),
        _ => false,
    }
}

/// `[ip, port]` from `SENTINEL GET-MASTER-ADDR-BY-NAME`.
pub(crate) fn parse_master_addr(reply: &Frame) -> Option<Addr> {
    let items = reply.as_array()?;
    let host = items.first()?.as_str()?;
    let port = items.get(1)?.as_str()?.parse().ok()?;
    (!host.is_empty()).then(|| Addr::tcp(host, port))
}

/// A field of a sentinel's instance entry (a flat `[name, value, ...]` array in RESP2, a
/// map in RESP3 decoded as the same flat array).
fn field<'a>(entry: &'a Frame, name: &str) -> Option<&'a str> {
    let items = entry.as_array()?;
    items
        .chunks_exact(2)
        .find(|kv| kv[0].as_str() == Some(name))
        .and_then(|kv| kv[1].as_str())
}

fn entry_addr(entry: &Frame) -> Option<Addr> {
    let host = field(entry, "ip")?;
    let port = field(entry, "port")?.parse().ok()?;
    Some(Addr::tcp(host, port))
}

fn entry_flagged_down(entry: &Frame) -> bool {
    field(entry, "flags").is_some_and(|flags| {
        flags
            .split(',')
            .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"))
    })
}

/// The healthy replicas of a `SENTINEL REPLICAS` reply: not flagged `s_down`, `o_down` or
/// `disconnected`, with their link to the master up. `None` when the reply is not a list of
/// instance entries.
pub(crate) fn parse_replicas(reply: &Frame) -> Option<Vec<Addr>> {
    let entries = reply.as_array()?;
    let mut healthy = Vec::with_capacity(entries.len());
    for entry in entries {
        let addr = entry_addr(entry)?;
        let link_ok = field(entry, "master-link-status").is_none_or(|s| s == "ok");
        if link_ok && !entry_flagged_down(entry) {
            healthy.push(addr);
        }
    }
    Some(healthy)
}

/// What a node says it is (`ROLE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    Master,
    /// A replica, with its replication state (`connect`, `connecting`, `sync`,
    /// `connected`).
    Replica {
        state: String,
    },
    Other(String),
}

impl Role {
    fn name(&self) -> &str {
        match self {
            Role::Master => "master",
            Role::Replica { .. } => "slave",
            Role::Other(name) => name,
        }
    }
}

/// Parses a `ROLE` reply.
pub(crate) fn parse_role(reply: &Frame) -> Option<Role> {
    let items = reply.as_array()?;
    Some(match items.first()?.as_str()? {
        "master" => Role::Master,
        "slave" | "replica" => Role::Replica {
            state: items
                .get(3)
                .and_then(Frame::as_str)
                .unwrap_or("")
                .to_string(),
        },
        other => Role::Other(other.to_string()),
    })
}

/// Whether a `ROLE` reply is that of a replica that is in sync with its master (state
/// `connected`): one that serves reads that are not stale by a whole resync. The reason
/// when it is not.
pub(crate) fn replica_ready(reply: &Frame) -> std::result::Result<(), String> {
    match parse_role(reply) {
        Some(Role::Replica { state }) if state == "connected" => Ok(()),
        Some(Role::Replica { state }) => Err(format!(
            "the replica is not in sync with its master (state {state:?})"
        )),
        Some(role) => Err(format!(
            "the node is not a replica (ROLE says {:?})",
            role.name()
        )),
        None => Err(unexpected("ROLE", reply)),
    }
}

/// A `+switch-master` message: `<service> <old ip> <old port> <new ip> <new port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Switch {
    pub(crate) service: String,
    pub(crate) old: Addr,
    pub(crate) new: Addr,
}

/// Parses a `+switch-master` payload.
pub(crate) fn parse_switch(payload: &[u8]) -> Option<Switch> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut words = text.split_ascii_whitespace();
    let service = words.next()?.to_string();
    let old_host = words.next()?;
    let old_port = words.next()?.parse().ok()?;
    let new_host = words.next()?;
    let new_port = words.next()?.parse().ok()?;
    Some(Switch {
        service,
        old: Addr::tcp(old_host, old_port),
        new: Addr::tcp(new_host, new_port),
    })
}

/// Whether `reply` (a [`Frame`] or a view) is a `READONLY` error: the command reached a
/// replica and did not run.
pub(crate) fn is_readonly_error<'a>(reply: impl ReadReply<'a>) -> bool {
    ServerErrorKind::of_reply(reply) == Some(ServerErrorKind::ReadOnly)
}

/// Whether a pipeline's replies say it reached a replica and none of its writes ran, so
/// that it may be sent again (to the master) as a whole: some reply is `READONLY`, and
/// - in a transaction, `EXEC` was refused (`EXECABORT`): nothing ran;
/// - otherwise, every command that is not read-only was refused with `READONLY` (the
///   read-only ones ran, and running them again is harmless).
pub(crate) fn pipeline_refused_by_replica<'a, R: ReadReply<'a>>(
    p: &Pipeline,
    replies: &[R],
) -> bool {
    if !replies.iter().any(|r| is_readonly_error(*r)) || replies.len() != p.reply_count() {
        return false;
    }
    if p.is_atomic() {
        return replies.last().is_some_and(|exec| {
            ServerErrorKind::of_reply(*exec) == Some(ServerErrorKind::ExecAbort)
        });
    }
    p.cmds()
        .iter()
        .zip(replies)
        .all(|(c, reply)| command_table::is_readonly(c) || is_readonly_error(*reply))
}

/// Whether what the master client answered says the request reached a demoted master and
/// did not run: `READONLY`, for a command, a pipeline as a whole, or a scan step.
pub(crate) fn refused_by_demoted_master(
    request: &slotline_conn::Request<'_>,
    result: &slotline_conn::Result<slotline_conn::Response>,
) -> bool {
    use slotline_conn::{Request, Response};
    match (request, result) {
        (_, Err(e)) => e.server_kind() == Some(&ServerErrorKind::ReadOnly),
        (_, Ok(Response::Reply(reply))) => is_readonly_error(reply.view()),
        (Request::Pipeline(p), Ok(Response::Replies(replies))) => {
            let views: Vec<_> = replies.iter().map(|r| r.view()).collect();
            pipeline_refused_by_replica(p, &views)
        }
        _ => false,
    }
}

/// The sentinels, in the order they are asked: the last one that answered first, learned
/// ones at the end.
#[derive(Debug)]
pub(crate) struct SentinelList {
    addrs: Mutex<Vec<Addr>>,
}

impl SentinelList {
    pub(crate) fn new(addrs: Vec<Addr>) -> Self {
        let mut unique: Vec<Addr> = Vec::with_capacity(addrs.len());
        for a in addrs {
            if !unique.contains(&a) {
                unique.push(a);
            }
        }
        SentinelList {
            addrs: Mutex::new(unique),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Addr>> {
        self.addrs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The sentinels in the order to ask them.
    pub(crate) fn snapshot(&self) -> Vec<Addr> {
        self.lock().clone()
    }

    /// Moves `addr` to the front (if it is in the list).
    pub(crate) fn promote(&self, addr: &Addr) {
        let mut list = self.lock();
        if let Some(pos) = list.iter().position(|a| a == addr) {
            let a = list.remove(pos);
            list.insert(0, a);
        }
    }

    /// Applies what a discovery taught: learned sentinels join at the end, the responder
    /// moves to the front.
    pub(crate) fn apply(&self, finished: &Finished) {
        {
            let mut list = self.lock();
            for a in &finished.learned {
                if !list.contains(a) {
                    list.push(a.clone());
                }
            }
        }
        if let Some(r) = &finished.responder {
            self.promote(r);
        }
    }
}

#[cfg(test)]
mod tests {
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
}

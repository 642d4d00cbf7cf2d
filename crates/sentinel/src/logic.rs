//! The decisions of sentinel discovery, without I/O ("sans-IO"): which node to ask next,
//! what its reply means, when to wait and ask again, which error to report. The async
//! driver (`crate::drive`) and the blocking one (`crate::blocking`) both run the same
//! [`Discovery`] machine; they only carry its requests to the network and its replies back.
//!
//! Also here: the sentinel list and its ordering. What the sentinels' and nodes' replies
//! mean is [`crate::replies`].

use std::sync::Mutex;
use std::time::Duration;

use slotline_conn::{cmd, pipe, Addr, Pipeline};
use slotline_resp::Frame;

pub(crate) use crate::replies::*;
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

impl Found {
    /// The master a discovery of [`Want::Master`] found.
    pub(crate) fn into_master(self) -> Result<Addr> {
        match self {
            Found::Master(addr) => Ok(addr),
            Found::Replicas(_) => Err(internal("discovery found replicas for a master")),
        }
    }

    /// The replicas a discovery of [`Want::Replicas`] found.
    pub(crate) fn into_replicas(self) -> Result<Vec<Addr>> {
        match self {
            Found::Replicas(addrs) => Ok(addrs),
            Found::Master(_) => Err(internal("discovery found a master for replicas")),
        }
    }
}

/// A rule of discovery broken inside slotline (a bug).
fn internal(what: impl Into<String>) -> Error {
    Error::Conn(slotline_conn::Error::internal(what.into()))
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
    failures: Vec<(Addr, slotline_conn::Error)>,
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
                Err(internal(format!(
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
                self.failures.push((addr, e));
                return self.ask_next();
            }
        };
        if let Some(list) = frames.get(1) {
            self.learn(list);
        }
        let Some(first) = frames.first() else {
            let none = slotline_conn::Error::unexpected_reply("no reply");
            self.failures.push((addr, none));
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
                            .push((addr, unexpected_error("GET-MASTER-ADDR-BY-NAME", reply)));
                        self.ask_next()
                    }
                },
            },
            Want::Replicas => match first {
                Frame::Array(_) => match parse_replicas(first) {
                    Some(replicas) => self.finish(Ok(Found::Replicas(replicas)), Some(addr)),
                    None => {
                        self.failures
                            .push((addr, unexpected_error("SENTINEL REPLICAS", first)));
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
                        .push((addr, unexpected_error("SENTINEL REPLICAS", other)));
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
                    let e =
                        slotline_conn::Error::from(slotline_conn::ServerError::parse(line.clone()));
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
#[path = "logic_tests.rs"]
mod tests;

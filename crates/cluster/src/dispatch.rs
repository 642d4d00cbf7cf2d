//! One dispatch per request, whatever its shape: one command, the parts of a split
//! multi-key command, a fan-out, a pipeline's commands, a transaction, a scan step, a
//! pub/sub placement. A sans-IO machine says what to send where ([`Dispatch::round`]) and
//! takes each outcome ([`Dispatch::take`]): reply, `MOVED`, `ASK`, `TRYAGAIN`,
//! `CLUSTERDOWN`, `LOADING`, an I/O error before or after writing, a timeout. Each part
//! has its own [`Attempts`] within the client's [`RetryPolicy`]. One async driver runs it
//! for every request ([`crate::drive::run`]); it knows nothing of the rules.

use std::time::{Duration, Instant};

use slotline_conn::{Addr, Error, RetryPolicy, UnavailableKind};
use smallvec::SmallVec;

use crate::retry::{Attempts, Decision, Outcome};

/// Where a part goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// The node serving this slot: its master, or a replica for a read per the read policy.
    Slot(u16),
    /// The master of the shard serving this slot, reads included (a scan keeps to one node).
    MasterOf(u16),
    /// Any serving master (a keyless command).
    Any,
    /// This node (a replica in a fan-out to every node; a keyless command `MOVED` there).
    Node(Addr),
}

/// A node as the machine sees it: an address.
pub(crate) trait NodeAddr {
    /// Its address.
    fn node_addr(&self) -> &Addr;
}

impl NodeAddr for Addr {
    fn node_addr(&self) -> &Addr {
        self
    }
}

/// One part of a request.
#[derive(Debug)]
struct Part<W, R> {
    work: W,
    place: Place,
    readonly: bool,
    idempotent: bool,
    /// Where the next attempt is steered, apart from its place.
    steer: Steer,
    attempts: Attempts,
    result: Option<Result<R, Error>>,
}

/// Where a part's next attempt goes, apart from its place (one at a time: an `ASK` after a
/// retry forgets the node to avoid, which the importing node is not anyway).
#[derive(Debug)]
enum Steer {
    /// Where its place says.
    Nowhere,
    /// To this node, with `ASKING` first, once (an `ASK` redirect).
    Ask(Addr),
    /// Not to this node, which could not serve the last attempt, while another can.
    Avoid(Addr),
}

/// One node's share of a round: the parts that go there, in request order.
#[derive(Debug)]
pub(crate) struct Batch<N> {
    /// The node.
    pub(crate) node: N,
    /// The parts, by index.
    pub(crate) parts: SmallVec<[usize; 1]>,
}

/// The batches of one round.
pub(crate) type Batches<N> = SmallVec<[Batch<N>; 1]>;

/// What the driver applies to the cluster's state after an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Redirect {
    /// `MOVED`: the slot is served by this node now (patch the map, refresh it later).
    Moved {
        /// The slot.
        slot: u16,
        /// Its owner now.
        addr: Addr,
    },
    /// `ASK`: the next attempt goes to the importing node with `ASKING` (counted only).
    Ask {
        /// The importing node.
        addr: Addr,
    },
}

/// The state of one request's dispatch: its parts, what each still needs, and the wait
/// before the next round.
#[derive(Debug)]
pub(crate) struct Dispatch<W, R> {
    parts: SmallVec<[Part<W, R>; 1]>,
    policy: RetryPolicy,
    /// When the caller stops waiting (none: never).
    deadline: Option<Instant>,
    /// The longest backoff asked for by the parts of the last round, and whether the map
    /// should be refreshed meanwhile.
    wait: Option<(Duration, bool)>,
}

impl<W, R> Dispatch<W, R> {
    /// A dispatch with no part yet, for a caller that waits until `deadline`.
    pub(crate) fn new(policy: RetryPolicy, deadline: Option<Instant>) -> Self {
        Dispatch {
            parts: SmallVec::new(),
            policy,
            deadline,
            wait: None,
        }
    }

    /// Adds a part; its index.
    pub(crate) fn push(
        &mut self,
        work: W,
        place: Place,
        readonly: bool,
        idempotent: bool,
    ) -> usize {
        self.parts.push(Part {
            work,
            place,
            readonly,
            idempotent,
            steer: Steer::Nowhere,
            attempts: Attempts::new(),
            result: None,
        });
        self.parts.len() - 1
    }

    /// When the caller stops waiting: every send is held to it.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// How many parts.
    pub(crate) fn len(&self) -> usize {
        self.parts.len()
    }

    /// Part `i`'s work.
    pub(crate) fn work(&self, i: usize) -> &W {
        &self.parts[i].work
    }

    /// Part `i`'s work, to change (a scan's cursor picks its command per node).
    pub(crate) fn work_mut(&mut self, i: usize) -> &mut W {
        &mut self.parts[i].work
    }

    /// Whether part `i` goes with `ASKING` first this round.
    pub(crate) fn asking(&self, i: usize) -> bool {
        matches!(self.parts[i].steer, Steer::Ask(_))
    }

    /// Whether every part has its result.
    pub(crate) fn is_done(&self) -> bool {
        self.parts.iter().all(|p| p.result.is_some())
    }

    /// The next round: every part still waiting, grouped by the node `locate` names
    /// (`place`, whether it only reads, the node to avoid), batches in the order of their
    /// first part. A part with no node to go to is settled here (a retry after a refresh,
    /// or an [`Unavailable`](slotline_conn::ErrorKind::Unavailable) error when its budget is spent).
    pub(crate) fn round<N: NodeAddr>(
        &mut self,
        mut locate: impl FnMut(&Place, bool, Option<&Addr>) -> Option<N>,
    ) -> Batches<N> {
        let mut batches: Batches<N> = SmallVec::new();
        for i in 0..self.parts.len() {
            let part = &self.parts[i];
            if part.result.is_some() {
                continue;
            }
            let node = match &part.steer {
                Steer::Ask(addr) => locate(&Place::Node(addr.clone()), part.readonly, None),
                Steer::Avoid(addr) => locate(&part.place, part.readonly, Some(addr)),
                Steer::Nowhere => locate(&part.place, part.readonly, None),
            };
            let Some(node) = node else {
                let place = part.place.clone();
                self.take(i, None, Err(no_node(&place)), |_| Outcome::NoNode);
                continue;
            };
            match batches
                .iter_mut()
                .find(|b| b.node.node_addr() == node.node_addr())
            {
                Some(batch) => batch.parts.push(i),
                None => {
                    let mut parts = SmallVec::new();
                    parts.push(i);
                    batches.push(Batch { node, parts });
                }
            }
        }
        batches
    }

    /// What part `i` got from `node` (`None`: no node to send to): its result, read by
    /// `outcome` (reply or error line, failure). Applies the retry rule; returns the
    /// redirect the driver applies to the cluster's state, if any.
    pub(crate) fn take(
        &mut self,
        i: usize,
        node: Option<&Addr>,
        result: Result<R, Error>,
        outcome: impl FnOnce(&Result<R, Error>) -> Outcome<'_>,
    ) -> Option<Redirect> {
        let part = &mut self.parts[i];
        let decision = part.attempts.decide(
            &self.policy,
            outcome(&result),
            node,
            part.idempotent,
            self.deadline,
            Instant::now,
        );
        if matches!(part.steer, Steer::Ask(_)) {
            part.steer = Steer::Nowhere;
        }
        match decision {
            Decision::Done => {
                part.result = Some(result);
                None
            }
            Decision::Moved { slot, addr } => {
                // A slot's place follows the map once patched; any other goes where told.
                if !matches!(part.place, Place::Slot(_) | Place::MasterOf(_)) {
                    part.place = Place::Node(addr.clone());
                }
                Some(Redirect::Moved { slot, addr })
            }
            Decision::Ask { addr } => {
                part.steer = Steer::Ask(addr.clone());
                Some(Redirect::Ask { addr })
            }
            Decision::Retry { delay, refresh } => {
                part.steer = node.map_or(Steer::Nowhere, |n| Steer::Avoid(n.clone()));
                let (d, r) = self.wait.get_or_insert((delay, refresh));
                *d = (*d).max(delay);
                *r |= refresh;
                None
            }
        }
    }

    /// The wait the last round's retries asked for (taken), and whether to refresh the map
    /// meanwhile.
    pub(crate) fn wait(&mut self) -> Option<(Duration, bool)> {
        self.wait.take()
    }

    /// Part `i`'s result, taken (what [`Self::finish`] gives for one part, without moving
    /// the parts).
    pub(crate) fn take_result(&mut self, i: usize) -> Result<R, Error> {
        self.parts[i]
            .result
            .take()
            .unwrap_or_else(|| Err(Error::internal("a part was taken before its result")))
    }

    /// Each part's work and result, in order (a part left without a result, which a
    /// finished dispatch has not, is [`ErrorKind::Internal`](slotline_conn::ErrorKind::Internal)).
    pub(crate) fn finish(self) -> SmallVec<[(W, Result<R, Error>); 1]> {
        self.parts
            .into_iter()
            .map(|p| {
                let result = p
                    .result
                    .unwrap_or_else(|| Err(Error::internal("a part without a result")));
                (p.work, result)
            })
            .collect()
    }
}

/// Nothing serves `place` (as far as the map knows): nothing was sent.
fn no_node(place: &Place) -> Error {
    let what = match place {
        Place::Slot(s) | Place::MasterOf(s) => format!("slot {s}"),
        Place::Any => "any slot".to_string(),
        Place::Node(a) => a.to_string(),
    };
    Error::unavailable(
        UnavailableKind::NoNode,
        format!("no node serves {what} (the cluster may be down)"),
    )
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;

//! [`Queue`]: a shared client's requests as plain state, without a lock, a wake-up or a
//! socket inside: requests awaiting replies in the order their bytes were queued, the
//! bytes not yet handed to a writer, and who writes them when. The shell around it
//! ([`ClientState`](super::shared::ClientState)) locks it, wakes tasks and calls the
//! socket as the answers of these methods say.
//!
//! A request's life: [`push`](Queue::push) (its bytes go to the end of `out`), handed to a
//! writer ([`Write::Caller`] at once, or [`take_for_writer`](Queue::take_for_writer) later),
//! then answered by [`deliver`](Queue::deliver); or failed by [`expire`](Queue::expire),
//! taken back by [`withdraw`](Queue::withdraw) (while still unwritten), failed by
//! [`lose`](Queue::lose) (written on a connection that went) or by
//! [`fail_all`](Queue::fail_all).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::BytesMut;
use slotline_resp::{Reply, ReplyKind};
use tokio::time::Instant;

use super::write_policy::WritePolicy;
use crate::Error;

/// The answer to one request: one reply, or a pipeline's replies, each still in its
/// received bytes (converted by the caller, through [`ReplyRef`](slotline_resp::ReplyRef)
/// views).
#[derive(Debug)]
pub(crate) enum Answer {
    One(Reply),
    Many(Vec<Reply>),
}

/// One request whose replies have not all arrived.
#[derive(Debug)]
struct Entry<T> {
    /// Tells this request from the others, for a caller that gives up.
    id: u64,
    /// Where its answer goes; taken when its time runs out while its reply is still due
    /// (the entry stays, to be matched with that reply and dropped).
    sink: Option<T>,
    /// When its caller stops waiting (none: never).
    deadline: Option<Instant>,
    /// Its timeout, for the error message.
    timeout: Duration,
    /// Replies expected.
    want: usize,
    /// Replies received so far (pipelines only).
    got: Vec<Reply>,
    /// Its answers are subscription confirmations, which RESP3 sends as pushes
    /// ([`answered_by_pushes`](Queue::answered_by_pushes)).
    by_push: bool,
    /// Where its bytes lie in `out` while not handed to a writer.
    start: usize,
    end: usize,
}

/// Who writes what [`Queue::push`] queued.
#[derive(Debug)]
pub(crate) enum Write {
    /// The caller that pushed writes these bytes itself, now, then tells
    /// [`Queue::caller_wrote`].
    Caller(Taken),
    /// The writer task is to be woken: the queue had no bytes waiting before.
    WakeWriter,
    /// Nothing to do: the writer task was woken for the bytes before these, or the
    /// connection is down (it is woken when one comes up).
    Nothing,
}

/// Bytes handed to a caller to write, stamped with the connection they were taken for.
#[derive(Debug)]
pub(crate) struct Taken {
    /// The requests' bytes, in queue order.
    pub(crate) bytes: BytesMut,
    /// The connection they belong to (see [`Queue::caller_wrote`]).
    epoch: u64,
}

/// What [`Queue::push`] did.
#[derive(Debug)]
pub(crate) struct Pushed {
    /// The request's id, for [`Queue::withdraw`].
    pub(crate) id: u64,
    /// Its deadline is earlier than any other's: the sweeper must look again.
    pub(crate) earlier_deadline: bool,
    /// Who writes it.
    pub(crate) write: Write,
}

/// A reply came that no written request awaits: the stream is out of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unasked {
    /// The reply's type, for the error message.
    pub(crate) type_name: &'static str,
}

/// The requests of one shared client, across its connections. `T` is where an answer
/// goes (a oneshot sender in the client; anything in tests).
#[derive(Debug)]
pub(crate) struct Queue<T> {
    /// Encoded requests not yet handed to a writer.
    out: BytesMut,
    /// Requests awaiting replies: the first `handed` were handed to a writer (in order),
    /// the rest have their bytes in `out`.
    pending: VecDeque<Entry<T>>,
    handed: usize,
    /// The id of the next request.
    next_id: u64,
    /// No request's deadline is earlier than this (the sweeper's next wake-up).
    next_deadline: Option<Instant>,
    /// A connection is up to write on.
    up: bool,
    /// Someone (the writer task or a caller) has taken bytes off `out` and is writing
    /// them; nobody else writes until it is done, so bytes leave in queue order.
    writing: bool,
    /// Bytes a caller took that the socket did not accept at once; the writer task sends
    /// them before `out`.
    leftover: BytesMut,
    /// Counts connection changes, so that a caller's write that ends after its connection
    /// went is not taken for one on the next.
    epoch: u64,
    /// Most requests queued or in flight at once.
    capacity: usize,
    /// When a caller writes the queue itself.
    policy: WritePolicy,
    /// The connection is being left ([`leave`](Queue::leave)): nothing more is written on
    /// it, and the requests written on it are still answered there.
    leaving: bool,
}

impl<T> Queue<T> {
    /// An empty queue holding at most `capacity` requests (at least one), down until
    /// [`up`](Queue::up).
    pub(crate) fn new(capacity: usize, policy: WritePolicy) -> Self {
        Queue {
            out: BytesMut::with_capacity(16 * 1024),
            pending: VecDeque::new(),
            handed: 0,
            next_id: 0,
            next_deadline: None,
            up: false,
            writing: false,
            leftover: BytesMut::new(),
            epoch: 0,
            capacity: capacity.max(1),
            policy,
            leaving: false,
        }
    }

    /// Whether one more request fits.
    pub(crate) fn has_room(&self) -> bool {
        self.pending.len() < self.capacity
    }

    /// Requests written and not answered yet.
    pub(crate) fn in_flight(&self) -> usize {
        self.handed
    }

    /// Requests waiting to be written.
    pub(crate) fn queued(&self) -> usize {
        self.pending.len() - self.handed
    }

    /// No request's deadline is earlier than this.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.next_deadline
    }

    /// Queues a request (its bytes written by `encode`, `want` replies awaited, answered
    /// through `sink`) and says who writes it: the caller now, per the write policy (with
    /// `others_busy`: another link in the process has requests in flight), or the writer
    /// task.
    pub(crate) fn push(
        &mut self,
        encode: impl FnOnce(&mut BytesMut),
        want: usize,
        deadline: Option<Instant>,
        timeout: Duration,
        sink: T,
        others_busy: bool,
    ) -> Pushed {
        let id = self.next_id;
        self.next_id += 1;
        let start = self.out.len();
        encode(&mut self.out);
        let end = self.out.len();
        self.pending.push_back(Entry {
            id,
            sink: Some(sink),
            deadline,
            timeout,
            want,
            got: Vec::new(),
            by_push: false,
            start,
            end,
        });
        let earlier_deadline = match (deadline, self.next_deadline) {
            (Some(at), Some(next)) => at < next,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if earlier_deadline {
            self.next_deadline = deadline;
        }
        let write = match self.take_for_caller(others_busy) {
            Some(taken) => Write::Caller(taken),
            None if start == 0 => Write::WakeWriter,
            None => Write::Nothing,
        };
        Pushed {
            id,
            earlier_deadline,
            write,
        }
    }

    /// The request queued last is answered by pushes (RESP3 subscription confirmations,
    /// one per command): a push that comes when it is the oldest awaiting replies is its
    /// answer, not one the server sent on its own.
    pub(crate) fn answered_by_pushes(&mut self) {
        if let Some(last) = self.pending.back_mut() {
            last.by_push = true;
        }
    }

    /// The bytes the caller that just queued writes itself, when the policy says it is
    /// due and nobody else is writing.
    fn take_for_caller(&mut self, others_busy: bool) -> Option<Taken> {
        if !self.up || self.leaving || self.writing || !self.leftover.is_empty() {
            return None;
        }
        let queued = self.pending.len() - self.handed;
        if !self.policy.caller_writes(queued, self.handed, others_busy) {
            return None;
        }
        self.hand_out();
        Some(Taken {
            bytes: self.out.split(),
            epoch: self.epoch,
        })
    }

    /// A caller wrote `taken` as far as the socket took it, leaving `rest` (empty when all
    /// went). Returns whether the writer task has bytes to write now: the rest, which it
    /// sends before anything queued since, or requests queued while the caller wrote.
    pub(crate) fn caller_wrote(&mut self, epoch_of: &Taken, rest: BytesMut) -> bool {
        if self.epoch != epoch_of.epoch {
            // The connection went meanwhile, and with it the requests these bytes carried.
            return false;
        }
        self.writing = false;
        if !rest.is_empty() {
            self.leftover = rest;
        }
        !self.leftover.is_empty() || !self.out.is_empty()
    }

    /// Hands the writer task what is left to write: a caller's unwritten bytes first, then
    /// every queued request (swapped with `spare`); `None` when there is nothing, while
    /// someone else is writing, while no connection is up, or (once a caller's unwritten
    /// bytes are out) while the connection is being left. Tell
    /// [`writer_wrote`](Queue::writer_wrote) once the bytes are written.
    pub(crate) fn take_for_writer(&mut self, spare: &mut BytesMut) -> Option<BytesMut> {
        if self.writing || !self.up {
            return None;
        }
        if !self.leftover.is_empty() {
            self.writing = true;
            return Some(std::mem::take(&mut self.leftover));
        }
        if self.out.is_empty() || self.leaving {
            return None;
        }
        self.hand_out();
        Some(std::mem::replace(&mut self.out, std::mem::take(spare)))
    }

    /// The writer task has written what [`take_for_writer`](Queue::take_for_writer) gave
    /// it.
    pub(crate) fn writer_wrote(&mut self) {
        self.writing = false;
    }

    /// Marks every queued request handed to a writer, which is about to take `out`.
    fn hand_out(&mut self) {
        self.handed = self.pending.len();
        self.writing = true;
    }

    /// Matches decoded replies, read at `now`, with the oldest written requests, in order,
    /// moving each complete answer into `done` with its sink (none for a request whose
    /// caller was already told it timed out). A push among them (a subscription
    /// confirmation) answers the oldest request only when that one is
    /// [answered by pushes](Queue::answered_by_pushes); otherwise the server sent it on its
    /// own, and it goes to `unsolicited`. Returns how many written requests still await
    /// replies, or [`Unasked`] at the first reply nobody awaits (the replies before it are
    /// matched, the rest dropped: the connection must go).
    pub(crate) fn deliver(
        &mut self,
        replies: &mut Vec<Reply>,
        done: &mut Vec<(T, Answer)>,
        unsolicited: &mut Vec<Reply>,
        now: std::time::Instant,
    ) -> Result<usize, Unasked> {
        let mut answered = 0;
        for reply in replies.drain(..) {
            let front = self.pending.front_mut().filter(|_| self.handed > 0);
            if reply.view().kind() == ReplyKind::Push && !front.as_ref().is_some_and(|f| f.by_push)
            {
                unsolicited.push(reply);
                continue;
            }
            // Only written requests await replies (queued ones are not sent yet).
            let front = match front {
                Some(front) => front,
                _ => {
                    return Err(Unasked {
                        type_name: reply.view().type_name(),
                    })
                }
            };
            let answer = if front.want == 1 {
                Answer::One(reply)
            } else {
                front.got.push(reply);
                if front.got.len() < front.want {
                    continue;
                }
                Answer::Many(std::mem::take(&mut front.got))
            };
            if let Some(entry) = self.pending.pop_front() {
                self.handed -= 1;
                answered += 1;
                if let Some(sink) = entry.sink {
                    done.push((sink, answer));
                }
            }
        }
        self.policy.answered(answered, now);
        Ok(self.handed)
    }

    /// Fails what is due at `now`: a written request gets a timeout that says it may have
    /// run (its entry stays, to be matched with its reply); an unwritten one is taken out
    /// of the queue (never sent late) and told it was not sent. Returns the failed sinks
    /// with their errors; [`next_deadline`](Queue::next_deadline) is then the next due.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(T, Error)> {
        let mut failed = Vec::new();
        let mut next: Option<Instant> = None;
        let mut unsent = Vec::new();
        for (i, entry) in self.pending.iter_mut().enumerate() {
            let Some(at) = entry.deadline.filter(|_| entry.sink.is_some()) else {
                continue;
            };
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
            } else if i < self.handed {
                if let Some(sink) = entry.sink.take() {
                    failed.push((sink, Error::timeout_after(entry.timeout, "reply", true)));
                }
            } else {
                unsent.push(entry.id);
            }
        }
        self.next_deadline = next;
        let what = if self.up {
            "the request to be written (it was not sent)"
        } else {
            "a connection (the request was not sent)"
        };
        for id in unsent {
            if let Some((sink, after)) = self.withdraw(id) {
                failed.push((sink, Error::timeout_after(after, what, false)));
            }
        }
        failed
    }

    /// Takes request `id` out of the queue if it was not handed to a writer yet (its bytes
    /// too: it is never sent late, and its place is free at once); returns its sink and
    /// timeout. A request already handed out stays, to be matched with its reply.
    pub(crate) fn withdraw(&mut self, id: u64) -> Option<(T, Duration)> {
        // Unwritten requests are at the back, and a caller that gives up is most often
        // one of the last to queue.
        let pos = self.pending.iter().rposition(|e| e.id == id)?;
        if pos < self.handed {
            return None;
        }
        let mut entry = self.pending.remove(pos)?;
        // Everything from `pos` on is still in `out`, after this request's bytes.
        let len = entry.end - entry.start;
        let rest = self.out.split_off(entry.start);
        self.out.extend_from_slice(&rest[len..]);
        for later in self.pending.iter_mut().skip(pos) {
            later.start -= len;
            later.end -= len;
        }
        Some((entry.sink.take()?, entry.timeout))
    }

    /// The connection is gone: returns the sinks of the requests written on it (they may
    /// have run); unwritten ones stay queued for the next connection.
    pub(crate) fn lose(&mut self) -> Vec<T> {
        let handed = self.handed.min(self.pending.len());
        self.handed = 0;
        self.down();
        self.pending
            .drain(..handed)
            .filter_map(|entry| entry.sink)
            .collect()
    }

    /// Fails every request, written or not (nothing is left queued): the client is shut
    /// down, or a connection attempt failed and callers are not to wait.
    pub(crate) fn fail_all(&mut self) -> Vec<T> {
        self.out.clear();
        self.handed = 0;
        self.next_deadline = None;
        self.down();
        self.pending
            .drain(..)
            .filter_map(|entry| entry.sink)
            .collect()
    }

    /// The connection is to be left for another: from now on nothing more is written on it
    /// (a caller's bytes already taken still go, so no request is cut in two), requests
    /// queued meanwhile wait for the next connection, and those written are answered here.
    /// Returns whether none is in flight, so that it may go now.
    pub(crate) fn leave(&mut self) -> bool {
        self.leaving = self.up;
        self.is_left()
    }

    /// Whether the connection is being left.
    pub(crate) fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// Whether the connection being left has no request in flight any more.
    pub(crate) fn is_left(&self) -> bool {
        self.leaving && self.handed == 0
    }

    /// No connection to write on (and whatever was being written on the last is dropped).
    fn down(&mut self) {
        self.up = false;
        self.leaving = false;
        self.writing = false;
        self.leftover.clear();
        self.epoch += 1;
    }

    /// A new connection is up, with its write policy: queued requests whose callers gave
    /// up (`gone`) are dropped, their bytes compacted out of `out`, so they are not sent
    /// late. Returns whether requests wait to be written.
    pub(crate) fn up(&mut self, policy: WritePolicy, gone: impl Fn(&T) -> bool) -> bool {
        self.down();
        self.up = true;
        self.policy = policy;
        let is_gone = |e: &Entry<T>| e.sink.as_ref().is_none_or(&gone);
        if self.pending.iter().any(is_gone) {
            let old = std::mem::take(&mut self.out);
            let out = &mut self.out;
            self.pending.retain_mut(|e| {
                if is_gone(e) {
                    return false;
                }
                let start = out.len();
                out.extend_from_slice(&old[e.start..e.end]);
                e.start = start;
                e.end = out.len();
                true
            });
        }
        !self.out.is_empty()
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;

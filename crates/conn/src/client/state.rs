//! The queue of a shared client: requests awaiting replies in the order their bytes were
//! queued, the bytes not yet handed to a writer, and the connection's state; locked as one.

use std::collections::VecDeque;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use slotline_resp::Reply;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::busy_links::BusyLink;
use super::shared::ClientState;
use super::write_point::WritePoint;
use crate::stream::WriteHalf;
use crate::{Error, Result};

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
pub(crate) struct Pending {
    /// Tells this request from the others, for a caller that gives up (see `withdraw`).
    pub(super) id: u64,
    /// Where its answer goes; taken when its time runs out while its reply is still due
    /// (the entry stays, to be matched with that reply and dropped).
    pub(super) tx: Option<oneshot::Sender<Result<Answer>>>,
    /// When its caller stops waiting (none: never).
    pub(super) deadline: Option<Instant>,
    /// Its timeout, for the error message.
    pub(super) timeout: Duration,
    /// Replies expected.
    pub(super) want: usize,
    /// Replies received so far (pipelines only).
    pub(super) got: Vec<Reply>,
    /// Where its bytes lie in `State::out` while not handed to the writer.
    pub(super) start: usize,
    pub(super) end: usize,
}

/// Whether the driver has a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    Up,
    /// Reconnecting; the error that took the connection down, or the last failed attempt.
    Down(Option<String>),
}

#[derive(Debug)]
pub(crate) struct State {
    /// Encoded requests not yet handed to the writer.
    pub(crate) out: BytesMut,
    /// Requests awaiting replies: the first `handed` were handed to the writer (in order),
    /// the rest have their bytes in `out`.
    pub(super) pending: VecDeque<Pending>,
    pub(super) handed: usize,
    /// The id of the next request.
    pub(super) next_id: u64,
    /// No request's deadline is earlier than this (the sweeper's next wake-up).
    pub(super) next_deadline: Option<Instant>,
    pub(crate) link: Link,
    /// Set when the last `Client` handle is dropped.
    pub(crate) shutdown: bool,
    /// The socket's write half while connected: a caller writes through it at once when
    /// the server would otherwise sit idle (see [`ClientState::submit`]).
    pub(super) writer: Option<Arc<WriteHalf>>,
    /// Someone (the writer task or a caller) has taken bytes off `out` and is writing
    /// them; nobody else writes until it is done, so bytes leave in queue order.
    pub(super) writing: bool,
    /// Bytes a caller took that the socket did not accept at once; the writer task sends
    /// them before `out`.
    pub(super) leftover: BytesMut,
    /// Counts connection changes, so that a caller's write that ends after its connection
    /// went is not taken for one on the next.
    pub(super) epoch: u64,
    /// Callers waiting for room in the queue (it holds
    /// [`max_in_flight`](ClientOptions::max_in_flight) requests).
    pub(super) slot_waiters: usize,
    /// When a caller writes the queue itself, for the connection up now.
    pub(super) write_point: WritePoint,
    /// This link in the process's count of links with requests in flight (kept by
    /// [`StateGuard`] as it unlocks).
    pub(super) busy: BusyLink,
}

/// The locked state. When it is unlocked with room in the queue and callers waiting for
/// room, one of them is woken (it wakes the next as it unlocks in turn): every path that
/// answers, fails or withdraws requests frees their places without saying so. Likewise it
/// tells the process-wide count of busy links whether requests are in flight.
pub(crate) struct StateGuard<'a> {
    pub(super) state: MutexGuard<'a, State>,
    pub(super) shared: &'a ClientState,
}

impl std::ops::Deref for StateGuard<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

impl std::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        let in_flight = self.state.handed > 0;
        self.state.busy.set(in_flight);
        if self.state.slot_waiters > 0 && self.shared.has_room(&self.state) {
            self.shared.slot_free.notify_one();
        }
    }
}

impl State {
    /// Takes request `id`, not handed to the writer yet, out of the queue and its bytes out
    /// of `out`; returns where its answer would have gone.
    pub(super) fn take_unsent(
        &mut self,
        id: u64,
    ) -> (Option<oneshot::Sender<Result<Answer>>>, Duration) {
        let Some(pos) = self.pending.iter().position(|p| p.id == id) else {
            return (None, Duration::ZERO);
        };
        if pos < self.handed {
            return (None, Duration::ZERO);
        }
        let State { out, pending, .. } = self;
        let Some(mut p) = pending.remove(pos) else {
            return (None, Duration::ZERO);
        };
        // Everything from `pos` on is still in `out`, after this request's bytes.
        let len = p.end - p.start;
        let rest = out.split_off(p.start);
        out.extend_from_slice(&rest[len..]);
        for later in pending.iter_mut().skip(pos) {
            later.start -= len;
            later.end -= len;
        }
        (p.tx.take(), p.timeout)
    }

    /// Marks the link down and takes out the requests handed to it, to be failed.
    pub(super) fn lose_connection(&mut self, error: &Error) -> Vec<Pending> {
        let handed = self.handed.min(self.pending.len());
        self.handed = 0;
        self.link = Link::Down(Some(error.to_string()));
        self.forget_writer();
        self.pending.drain(..handed).collect()
    }

    /// Marks every queued request handed to a writer, which is about to take `out`.
    pub(super) fn hand_out_queue(&mut self) {
        self.handed = self.pending.len();
        self.writing = true;
    }

    /// Drops the connection's write half and whatever was being written on it.
    pub(super) fn forget_writer(&mut self) {
        self.writer = None;
        self.writing = false;
        self.leftover.clear();
        self.epoch += 1;
    }
}

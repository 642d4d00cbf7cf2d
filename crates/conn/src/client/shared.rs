//! [`ClientState`]: what the handles of a shared client and its driver share, and every
//! change made to it: queueing a request, writing the queue, matching replies, losing and
//! regaining the connection, expiring deadlines.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use slotline_resp::Reply;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::busy_links::BusyLink;
use super::dedicated::DedicatedPool;
use super::io::IoCounters;
use super::options::ClientOptions;
use super::state::{Answer, Link, Pending, State, StateGuard};
use super::write_point::WritePoint;
use crate::config::ConnectionConfig;
use crate::stream::WriteHalf;
use crate::{Error, Result};

/// Asked before every connection attempt for the settings to connect with (the address of
/// a sentinel-managed master can change between attempts).
pub type Resolver = Arc<
    dyn Fn()
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<ConnectionConfig>> + Send>>
        + Send
        + Sync,
>;

/// Everything shared between the `Client` handles and the driver task.
pub(crate) struct ClientState {
    /// The settings given at creation (with a resolver: the first ones it gave).
    pub(crate) config: ConnectionConfig,
    /// Where to connect next, when it can change.
    pub(crate) resolver: Option<Resolver>,
    /// The address of the current (or last) connection.
    pub(crate) current: Mutex<crate::Addr>,
    /// Tells the driver to drop the current connection and connect anew.
    pub(crate) kick: Notify,
    pub(crate) options: ClientOptions,
    state: Mutex<State>,
    /// Wakes every task waiting for a connection ([`ClientState::connected`]).
    pub(crate) link_up: Notify,
    /// Wakes the writer when `out` gets bytes or on shutdown.
    pub(crate) writer_wake: Notify,
    /// Wakes the sweeper when a request has an earlier deadline than any before, or on
    /// shutdown.
    pub(crate) sweep_wake: Notify,
    /// Wakes a caller waiting for room in the queue (see [`StateGuard`]), or all of them on
    /// shutdown.
    pub(super) slot_free: Notify,
    /// Socket calls made so far.
    pub(crate) io: IoCounters,
    /// The connections for requests the server may hold.
    pub(crate) dedicated: DedicatedPool,
}

impl std::fmt::Debug for ClientState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientState")
            .field("config", &self.config)
            .field("resolver", &self.resolver.is_some())
            .field("current", &self.current_addr())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ClientState {
    pub(crate) fn new(
        config: ConnectionConfig,
        resolver: Option<Resolver>,
        options: ClientOptions,
        link: Link,
    ) -> Self {
        ClientState {
            current: Mutex::new(config.addr.clone()),
            config,
            resolver,
            kick: Notify::new(),
            dedicated: DedicatedPool::new(options.max_dedicated, options.dedicated_idle),
            options,
            state: Mutex::new(State {
                out: BytesMut::with_capacity(16 * 1024),
                pending: VecDeque::new(),
                handed: 0,
                next_id: 0,
                next_deadline: None,
                link,
                shutdown: false,
                writer: None,
                writing: false,
                leftover: BytesMut::new(),
                epoch: 0,
                slot_waiters: 0,
                write_point: WritePoint::HALF,
                busy: BusyLink::default(),
            }),
            link_up: Notify::new(),
            writer_wake: Notify::new(),
            sweep_wake: Notify::new(),
            slot_free: Notify::new(),
            io: IoCounters::default(),
        }
    }

    /// The state, even if a panic elsewhere poisoned the lock (it holds no invariant a
    /// panic can break halfway: every change is a few field writes).
    pub(crate) fn lock(&self) -> StateGuard<'_> {
        StateGuard {
            state: self
                .state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            shared: self,
        }
    }

    /// Whether the queue has room for one more request.
    pub(super) fn has_room(&self, st: &State) -> bool {
        st.pending.len() < self.options.max_in_flight.max(1)
    }

    /// The address of the current (or last) connection.
    pub(crate) fn current_addr(&self) -> crate::Addr {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The settings for the next connection attempt.
    pub(crate) async fn next_config(&self) -> Result<ConnectionConfig> {
        let config = match &self.resolver {
            Some(resolve) => resolve().await?,
            None => self.config.clone(),
        };
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = config.addr.clone();
        Ok(config)
    }

    /// The state once the queue has room for one more request: at once, or after waiting
    /// (within the deadline) for a request to be answered or failed.
    async fn lock_with_room(
        &self,
        timeout: Option<Duration>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<StateGuard<'_>> {
        let mut waited = None;
        loop {
            let mut room = std::pin::pin!(self.slot_free.notified());
            {
                let mut st = self.lock();
                if waited.is_some() {
                    st.slot_waiters -= 1;
                }
                if st.shutdown || self.has_room(&st) {
                    return Ok(st);
                }
                if waited == Some(false) {
                    return Err(Error::Timeout {
                        after: timeout.unwrap_or_default(),
                        what: "a free slot in the client's queue",
                        written: false,
                    });
                }
                // Registered before the lock is released: a slot freed meanwhile is not
                // missed.
                room.as_mut().enable();
                st.slot_waiters += 1;
            }
            waited = Some(match deadline {
                Some(at) => tokio::time::timeout_at(at, room).await.is_ok(),
                None => {
                    room.await;
                    true
                }
            });
        }
    }

    /// The error of a request made while reconnecting, in fail-fast mode.
    fn reconnecting(&self, reason: Option<&str>) -> Error {
        Error::io(
            std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                format!(
                    "reconnecting to {}{}",
                    self.current_addr(),
                    reason.map(|r| format!(" after: {r}")).unwrap_or_default()
                ),
            ),
            false,
        )
    }

    /// Waits until the client is connected (as a queued request waits for the next
    /// connection), so that [`current_addr`](ClientState::current_addr) is where it is
    /// connected now (after a failover: the new master); in fail-fast mode, fails at once
    /// while reconnecting.
    pub(crate) async fn connected(&self) -> Result<()> {
        loop {
            let up = self.link_up.notified();
            tokio::pin!(up);
            up.as_mut().enable();
            {
                let st = self.lock();
                if st.shutdown {
                    return Err(Error::Closed { written: false });
                }
                match &st.link {
                    Link::Up => return Ok(()),
                    Link::Down(reason) if !self.options.wait_for_reconnect => {
                        return Err(self.reconnecting(reason.as_deref()))
                    }
                    Link::Down(_) => {}
                }
            }
            up.await;
        }
    }

    /// Queues one request and waits for its replies (within `timeout`).
    pub(crate) async fn submit(
        &self,
        encode: &(dyn Fn(&mut BytesMut) + Sync),
        want: usize,
        timeout: Option<Duration>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Answer> {
        let (tx, mut rx) = oneshot::channel();
        let id;
        {
            let mut st = self.lock_with_room(timeout, deadline).await?;
            if st.shutdown {
                return Err(Error::Closed { written: false });
            }
            if let Link::Down(reason) = &st.link {
                if !self.options.wait_for_reconnect {
                    return Err(self.reconnecting(reason.as_deref()));
                }
            }
            id = st.next_id;
            st.next_id += 1;
            let start = st.out.len();
            encode(&mut st.out);
            let end = st.out.len();
            st.pending.push_back(Pending {
                id,
                tx: Some(tx),
                deadline,
                timeout: timeout.unwrap_or_default(),
                want,
                got: Vec::new(),
                start,
                end,
            });
            // Deadlines are watched by one sweeper task, not by a timer per request.
            let earlier = match (deadline, st.next_deadline) {
                (Some(at), Some(next)) => at < next,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if earlier {
                st.next_deadline = deadline;
            }
            let write_now = self.take_due(&mut st);
            drop(st);
            match write_now {
                Some((chunk, writer, epoch)) => self.write_now(chunk, &writer, epoch),
                None if start == 0 => self.writer_wake.notify_one(),
                None => {}
            }
            if earlier {
                self.sweep_wake.notify_one();
            }
        }
        // If the caller drops this future (an outer `select!` or timeout), its request is
        // withdrawn too, so that it is not written after the caller gave up.
        let mut guard = WithdrawOnDrop {
            shared: self,
            id,
            armed: true,
        };
        // The answer, or the timeout error the sweeper sends when the deadline passes.
        let answer = (&mut rx).await;
        guard.armed = false;
        answer.map_err(|_| Error::Closed { written: true })?
    }

    /// Whether the caller that just queued a request writes the queue itself, now, rather
    /// than leave it to the writer task (which, once woken, first lets every task that is
    /// ready on its worker queue its request, then writes them all at once). Only with
    /// [`overlap_writes`](ClientOptions::overlap_writes), and only when nothing is being
    /// written and enough requests wait (the connection's [`WritePoint`]): a lone caller's
    /// request leaves at once, and under load a few batches overlap, so the server works on
    /// one while the callers make the next, unless another link is at work too. Takes the
    /// bytes when so.
    fn take_due(&self, st: &mut State) -> Option<(BytesMut, Arc<WriteHalf>, u64)> {
        if !self.options.overlap_writes || st.writing || !st.leftover.is_empty() {
            return None;
        }
        let queued = st.pending.len() - st.handed;
        if !st
            .write_point
            .is_due(queued, st.handed, st.busy.others_busy())
        {
            return None;
        }
        let writer = st.writer.clone()?;
        st.hand_out_queue();
        Some((st.out.split(), writer, st.epoch))
    }

    /// A caller writes the bytes it took, as far as the socket takes them without waiting;
    /// the writer task sends the rest (and meets any error again, to report it).
    fn write_now(&self, mut chunk: BytesMut, writer: &WriteHalf, epoch: u64) {
        while !chunk.is_empty() {
            self.io.count_write();
            match writer.try_write(&chunk) {
                Ok(n) if n > 0 => chunk.advance(n),
                _ => break,
            }
        }
        let mut st = self.lock();
        if st.epoch != epoch {
            // The connection went meanwhile, and with it the requests these bytes carried.
            return;
        }
        st.writing = false;
        if !chunk.is_empty() {
            st.leftover = chunk;
        }
        let wake = !st.leftover.is_empty() || !st.out.is_empty() || writer.has_unflushed();
        drop(st);
        if wake {
            self.writer_wake.notify_one();
        }
    }

    /// A caller gives up on request `id` (it dropped its future). If its bytes were not
    /// handed to the writer yet, they are taken out of the queue, so that it is never sent
    /// late and its slot is freed at once. A request already handed to the writer stays
    /// queued, to be matched with its reply.
    fn withdraw(&self, id: u64) {
        let _ = self.lock().take_unsent(id);
    }

    /// Fails the requests whose deadline has passed: one handed to the writer gets a
    /// timeout that says it may have run (its entry stays, to be matched with its reply);
    /// one still queued is taken out of the queue (never sent late) and told so. Returns
    /// when the sweeper should look again.
    pub(crate) fn expire(&self, now: Instant) -> Option<Instant> {
        let mut failed = Vec::new();
        let next = {
            let mut st = self.lock();
            let connected = st.link == Link::Up;
            let handed = st.handed;
            let mut next: Option<Instant> = None;
            let mut unsent = Vec::new();
            for (i, p) in st.pending.iter_mut().enumerate() {
                let Some(at) = p.deadline.filter(|_| p.tx.is_some()) else {
                    continue;
                };
                if at > now {
                    next = Some(next.map_or(at, |n| n.min(at)));
                } else if i < handed {
                    if let Some(tx) = p.tx.take() {
                        failed.push((
                            tx,
                            Error::Timeout {
                                after: p.timeout,
                                what: "reply",
                                written: true,
                            },
                        ));
                    }
                } else {
                    unsent.push(p.id);
                }
            }
            st.next_deadline = next;
            // Under the same lock: a writer must not hand these out in between, or they
            // would be sent late with nobody told and no deadline left to watch.
            for id in unsent {
                if let (Some(tx), after) = st.take_unsent(id) {
                    let what = if connected {
                        "the request to be written (it was not sent)"
                    } else {
                        "a connection (the request was not sent)"
                    };
                    failed.push((
                        tx,
                        Error::Timeout {
                            after,
                            what,
                            written: false,
                        },
                    ));
                }
            }
            next
        };
        for (tx, error) in failed {
            let _ = tx.send(Err(error));
        }
        next
    }

    /// Hands the writer task what is left to write: a caller's unwritten bytes first,
    /// then every queued request (swapped with `spare`); `None` when there is nothing, or
    /// while a caller is writing. Call [`ClientState::written`] once the bytes are written.
    pub(crate) fn take_out(&self, spare: &mut BytesMut) -> Option<BytesMut> {
        let mut st = self.lock();
        // Writing stops the moment the connection is given up (see `deliver`).
        if st.writing || st.writer.is_none() {
            return None;
        }
        if !st.leftover.is_empty() {
            st.writing = true;
            return Some(std::mem::take(&mut st.leftover));
        }
        if st.out.is_empty() {
            return None;
        }
        st.hand_out_queue();
        Some(std::mem::replace(&mut st.out, std::mem::take(spare)))
    }

    /// The writer task has written what [`ClientState::take_out`] gave it.
    pub(crate) fn written(&self) {
        self.lock().writing = false;
    }

    /// Matches decoded replies with the oldest requests, in order; answers the complete
    /// ones outside the lock. A reply nobody asked for is a protocol violation, and
    /// `broken` is an error met after these replies (one that could not be decoded): either
    /// way the connection is given up before any caller is answered, so that a caller
    /// woken by its reply cannot write its next request on the dying connection. Returns
    /// how many written requests still await replies.
    pub(crate) fn deliver(
        &self,
        replies: &mut Vec<Reply>,
        done: &mut Vec<(oneshot::Sender<Result<Answer>>, Answer)>,
        mut broken: Option<Error>,
    ) -> Result<usize> {
        let mut failed = Vec::new();
        let awaited = {
            let mut st = self.lock();
            for reply in replies.drain(..) {
                // Only written requests await replies (queued ones are not sent yet).
                let written = st.handed > 0;
                let complete = match st.pending.front_mut().filter(|_| written) {
                    None => {
                        // The stream is out of step: the connection must go, and requests
                        // written on it may have run (so not `Refused`, which says nothing
                        // was sent).
                        broken = Some(Error::io(
                            std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                format!(
                                    "the server sent a reply nobody asked for (a {})",
                                    reply.view().type_name()
                                ),
                            ),
                            true,
                        ));
                        break;
                    }
                    Some(front) if front.want == 1 => Answer::One(reply),
                    Some(front) => {
                        front.got.push(reply);
                        if front.got.len() < front.want {
                            continue;
                        }
                        Answer::Many(std::mem::take(&mut front.got))
                    }
                };
                if let Some(p) = st.pending.pop_front() {
                    st.handed = st.handed.saturating_sub(1);
                    // No sender: its caller was already told it timed out.
                    if let Some(tx) = p.tx {
                        done.push((tx, complete));
                    }
                }
            }
            if let Some(error) = &broken {
                failed = st.lose_connection(error);
            }
            st.handed
        };
        // Replies matched before the stream broke are still their callers'.
        for (tx, answer) in done.drain(..) {
            // The caller may have given up (timeout, cancellation); its reply is dropped.
            let _ = tx.send(Ok(answer));
        }
        match broken {
            None => Ok(awaited),
            Some(error) => {
                fail_written(failed, &error);
                Err(error)
            }
        }
    }

    /// The connection is gone: fails every request handed to it (they may have run) and
    /// marks the link down; requests still queued wait for the next connection.
    pub(crate) fn connection_lost(&self, error: &Error) {
        let failed = self.lock().lose_connection(error);
        fail_written(failed, error);
    }

    /// A connection attempt failed. In fail-fast mode, queued requests fail now (nothing
    /// was written); otherwise they keep waiting, each within its own timeout.
    pub(crate) fn connect_failed(&self, error: &Error) {
        let failed: Vec<Pending> = {
            let mut st = self.lock();
            st.link = Link::Down(Some(error.to_string()));
            if self.options.wait_for_reconnect {
                return;
            }
            st.out.clear();
            st.pending.drain(..).collect()
        };
        for tx in failed.into_iter().filter_map(|p| p.tx) {
            let _ = tx.send(Err(error.clone()));
        }
    }

    /// A new connection is up, writing through `writer`: drops queued requests whose
    /// callers gave up (so they are not sent late), compacting their bytes out of `out`.
    pub(crate) fn connection_up(&self, writer: Arc<WriteHalf>) {
        let mut st = self.lock();
        st.link = Link::Up;
        st.forget_writer();
        st.write_point = WritePoint::on_current_runtime(writer.is_tls());
        st.writer = Some(writer);
        let State { out, pending, .. } = &mut *st;
        let gone = |p: &Pending| p.tx.as_ref().is_none_or(|tx| tx.is_closed());
        if pending.iter().any(gone) {
            let old = std::mem::take(out);
            pending.retain_mut(|p| {
                if gone(p) {
                    return false;
                }
                let start = out.len();
                out.extend_from_slice(&old[p.start..p.end]);
                p.start = start;
                p.end = out.len();
                true
            });
        }
        let wake = !st.out.is_empty();
        drop(st);
        self.link_up.notify_waiters();
        if wake {
            self.writer_wake.notify_one();
        }
    }

    /// The client is being shut down: fails whatever is left.
    pub(crate) fn close_all(&self) {
        let failed: Vec<Pending> = {
            let mut st = self.lock();
            st.out.clear();
            st.handed = 0;
            st.forget_writer();
            st.pending.drain(..).collect()
        };
        for tx in failed.into_iter().filter_map(|p| p.tx) {
            let _ = tx.send(Err(Error::Closed { written: false }));
        }
        self.slot_free.notify_waiters();
    }
}

/// Fails requests that were written on a connection now gone (they may have run).
fn fail_written(failed: Vec<Pending>, error: &Error) {
    for tx in failed.into_iter().filter_map(|p| p.tx) {
        let _ = tx.send(Err(error.clone().into_written()));
    }
}

/// Withdraws a request whose caller stopped waiting for it.
struct WithdrawOnDrop<'a> {
    shared: &'a ClientState,
    id: u64,
    armed: bool,
}

impl Drop for WithdrawOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.withdraw(self.id);
        }
    }
}

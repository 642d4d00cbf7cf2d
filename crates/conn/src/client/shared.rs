//! [`ClientState`]: what the handles of a shared client and its driver share: the
//! [`Queue`] under one lock, and the thin shell around it that wakes tasks and calls the
//! socket as the queue's answers say.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use slotline_command::pubsub::{is_confirmation, Registry};
use slotline_resp::Reply;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::busy_links::BusyLink;
use super::cache::ClientCache;
use super::dedicated::DedicatedPool;
use super::options::ClientOptions;
use super::queue::{Answer, Queue, Write};
use super::subscriber::Feed;
use super::write_policy::WritePolicy;
use crate::config::ConnectionConfig;
use crate::io_stats::IoCounters;
use crate::stream::WriteHalf;
use crate::{Error, Result};

/// Where a request's answer goes.
type Sink = oneshot::Sender<Result<Answer>>;

/// Whether the driver has a connection.
#[derive(Debug, Clone)]
pub(crate) enum Link {
    Up,
    /// Reconnecting; the error that took the connection down, or the last failed attempt.
    Down(Option<Error>),
}

/// What the lock guards: the queue, and what the shell keeps beside it.
#[derive(Debug)]
pub(crate) struct Locked {
    pub(crate) queue: Queue<Sink>,
    pub(crate) link: Link,
    /// Set when the last `Client` handle is dropped.
    pub(crate) shutdown: bool,
    /// The socket's write half while connected, for a caller the queue tells to write.
    writer: Option<Arc<WriteHalf>>,
    /// Callers waiting for room in the queue.
    slot_waiters: usize,
    /// This link in the process's count of links with requests in flight (kept by
    /// [`Guard`] as it unlocks).
    busy: BusyLink,
}

/// The locked state. When it is unlocked with room in the queue and callers waiting for
/// room, one of them is woken (it wakes the next as it unlocks in turn): every path that
/// answers, fails or withdraws requests frees their places without saying so. Likewise it
/// tells the process-wide count of busy links whether requests are in flight.
pub(crate) struct Guard<'a> {
    locked: MutexGuard<'a, Locked>,
    shared: &'a ClientState,
}

impl std::ops::Deref for Guard<'_> {
    type Target = Locked;

    fn deref(&self) -> &Locked {
        &self.locked
    }
}

impl std::ops::DerefMut for Guard<'_> {
    fn deref_mut(&mut self) -> &mut Locked {
        &mut self.locked
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let in_flight = self.locked.queue.in_flight() > 0;
        self.locked.busy.set(in_flight);
        if self.locked.slot_waiters > 0 && self.locked.queue.has_room() {
            self.shared.slot_free.notify_one();
        }
    }
}

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
    /// Tells the driver to connect anew once the requests in flight are answered.
    pub(crate) leave: Notify,
    /// Wakes the driver when replies came on the connection being left.
    pub(crate) left: Notify,
    pub(crate) options: ClientOptions,
    locked: Mutex<Locked>,
    /// Wakes every task waiting for a connection ([`ClientState::connected`]).
    pub(crate) link_up: Notify,
    /// Wakes the writer when `out` gets bytes or on shutdown.
    pub(crate) writer_wake: Notify,
    /// Wakes the sweeper when a request has an earlier deadline than any before, or on
    /// shutdown.
    pub(crate) sweep_wake: Notify,
    /// Wakes a caller waiting for room in the queue (see [`Guard`]), or all of them on
    /// shutdown.
    pub(super) slot_free: Notify,
    /// Socket calls made so far.
    pub(crate) io: IoCounters,
    /// Requests, errors, latency, reconnects and resends so far.
    pub(crate) metrics: slotline_command::metrics::Recorder,
    /// Where the last connection was up (the next one is a reconnect; one elsewhere, a
    /// move).
    last_up: Mutex<Option<crate::Addr>>,
    /// The connections for requests the server may hold.
    pub(crate) dedicated: DedicatedPool,
    /// The subscribers riding this connection (RESP3), and what each wants.
    pub(crate) subscribers: Mutex<Registry<Feed>>,
    /// Held while a subscriber's request is decided and sent, so that what the registry
    /// says and the order of the commands on the wire agree.
    pub(crate) subscribing: tokio::sync::Mutex<()>,
    /// The client-side cache, when the config asks for one.
    pub(crate) cache: Option<ClientCache>,
    /// Over RESP2, the connection the cache's invalidations come on.
    pub(crate) invalidation: tokio::sync::Mutex<Option<super::invalidation_link::InvalidationLink>>,
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
        let cache = config.cache.as_ref().map(|c| ClientCache::new(c));
        ClientState {
            cache,
            current: Mutex::new(config.addr.clone()),
            config,
            resolver,
            kick: Notify::new(),
            leave: Notify::new(),
            left: Notify::new(),
            dedicated: DedicatedPool::new(options.max_dedicated, options.dedicated_idle),
            locked: Mutex::new(Locked {
                queue: Queue::new(options.max_in_flight, WritePolicy::batched()),
                link,
                shutdown: false,
                writer: None,
                slot_waiters: 0,
                busy: BusyLink::default(),
            }),
            options,
            link_up: Notify::new(),
            writer_wake: Notify::new(),
            sweep_wake: Notify::new(),
            slot_free: Notify::new(),
            io: IoCounters::default(),
            metrics: Default::default(),
            last_up: Mutex::new(None),
            subscribers: Mutex::new(Registry::default()),
            subscribing: tokio::sync::Mutex::new(()),
            invalidation: tokio::sync::Mutex::new(None),
        }
    }

    /// The state, even if a panic elsewhere poisoned the lock (the queue holds no
    /// invariant a panic can break halfway: every change is a few field writes).
    pub(crate) fn lock(&self) -> Guard<'_> {
        Guard {
            locked: self
                .locked
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            shared: self,
        }
    }

    /// The metrics now: the recorder's counters, the socket's bytes, the queue's gauges.
    pub(crate) fn metrics(&self) -> slotline_command::metrics::Metrics {
        let mut m = self.metrics.snapshot();
        (m.bytes_out, m.bytes_in) = self.io.bytes();
        let st = self.lock();
        m.in_flight = st.queue.in_flight() as u64;
        m.queued = st.queue.queued() as u64;
        m
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
        deadline: Option<Instant>,
    ) -> Result<Guard<'_>> {
        let mut waited = None;
        loop {
            let mut room = std::pin::pin!(self.slot_free.notified());
            {
                let mut st = self.lock();
                if waited.is_some() {
                    st.slot_waiters -= 1;
                }
                if st.shutdown || st.queue.has_room() {
                    return Ok(st);
                }
                if waited == Some(false) {
                    return Err(Error::timeout_after(
                        timeout.unwrap_or_default(),
                        "a free slot in the client's queue",
                        false,
                    ));
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
    fn reconnecting(&self, reason: Option<&Error>) -> Error {
        // A handshake its certificates refused is refused again: said as it is (never
        // retried), not as a reconnect under way.
        if let Some(refused) = reason {
            if refused
                .io_error()
                .is_some_and(slotline_command::RefusedHandshake::is_cause_of)
            {
                return refused.clone();
            }
        }
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
                    return Err(Error::closed(false));
                }
                match &st.link {
                    Link::Up => return Ok(()),
                    Link::Down(reason) if !self.options.wait_for_reconnect => {
                        return Err(self.reconnecting(reason.as_ref()))
                    }
                    Link::Down(_) => {}
                }
            }
            up.await;
        }
    }

    /// Queues one request and waits for its replies (within `timeout`). Whoever the queue
    /// says writes it: this caller at once, or the writer task. `by_push`: its answers are
    /// subscription confirmations (see [`Queue::answered_by_pushes`]).
    pub(crate) async fn submit(
        &self,
        encode: &(dyn Fn(&mut BytesMut) + Sync),
        want: usize,
        (timeout, deadline): (Option<Duration>, Option<Instant>),
        by_push: bool,
    ) -> Result<Answer> {
        let (tx, mut rx) = oneshot::channel();
        let id = {
            let mut st = self.lock_with_room(timeout, deadline).await?;
            if st.shutdown {
                return Err(Error::closed(false));
            }
            if let Link::Down(reason) = &st.link {
                if !self.options.wait_for_reconnect {
                    return Err(self.reconnecting(reason.as_ref()));
                }
            }
            let others_busy = st.busy.others_busy();
            let pushed = st.queue.push(
                encode,
                want,
                deadline,
                timeout.unwrap_or_default(),
                tx,
                others_busy,
            );
            if by_push {
                st.queue.answered_by_pushes();
            }
            let writer = match pushed.write {
                Write::Caller(_) => st.writer.clone(),
                _ => None,
            };
            drop(st);
            match pushed.write {
                Write::Caller(taken) => self.write_now(taken, writer.as_deref()),
                Write::WakeWriter => self.writer_wake.notify_one(),
                Write::Nothing => {}
            }
            // Deadlines are watched by one sweeper task, not by a timer per request.
            if pushed.earlier_deadline {
                self.sweep_wake.notify_one();
            }
            pushed.id
        };
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
        answer.map_err(|_| Error::closed(true))?
    }

    /// A caller writes the bytes the queue handed it, as far as the socket takes them
    /// without waiting; the writer task sends the rest (and meets any error again, to
    /// report it). The queue hands bytes to a caller only while a connection is up, and the
    /// write half is set with it; were it missing, every byte would go to the writer task.
    fn write_now(&self, mut taken: super::queue::Taken, writer: Option<&WriteHalf>) {
        let mut rest = std::mem::take(&mut taken.bytes);
        if let Some(writer) = writer {
            while !rest.is_empty() {
                self.io.count_write();
                match writer.try_write(&rest) {
                    Ok(n) if n > 0 => {
                        self.io.count_out(n);
                        rest.advance(n)
                    }
                    _ => break,
                }
            }
        }
        let unflushed = writer.is_some_and(WriteHalf::has_unflushed);
        if self.lock().queue.caller_wrote(&taken, rest) || unflushed {
            self.writer_wake.notify_one();
        }
    }

    /// A caller gives up on request `id` (it dropped its future): see [`Queue::withdraw`].
    fn withdraw(&self, id: u64) {
        let _ = self.lock().queue.withdraw(id);
    }

    /// Fails the requests whose deadline has passed (see [`Queue::expire`]); returns when
    /// the sweeper should look again.
    pub(crate) fn expire(&self, now: Instant) -> Option<Instant> {
        let (failed, next) = {
            let mut st = self.lock();
            let failed = st.queue.expire(now);
            (failed, st.queue.next_deadline())
        };
        for (tx, error) in failed {
            let _ = tx.send(Err(error));
        }
        next
    }

    /// Hands the writer task what is left to write (see [`Queue::take_for_writer`]).
    pub(crate) fn take_out(&self, spare: &mut BytesMut) -> Option<BytesMut> {
        self.lock().queue.take_for_writer(spare)
    }

    /// The writer task has written what [`ClientState::take_out`] gave it.
    pub(crate) fn written(&self) {
        self.lock().queue.writer_wrote();
    }

    /// A RESP3 push the reader met. A subscription confirmation is given back: it may be
    /// the answer to a request (the queue decides, see [`Queue::deliver`]). Anything else
    /// the server sent on its own: a message goes to the subscribers that want it, the rest
    /// to the push handler, if there is one.
    pub(crate) fn push(&self, push: Reply) -> Option<Reply> {
        let view = push.view();
        if view
            .get(0)
            .and_then(|k| k.as_bytes())
            .is_some_and(is_confirmation)
        {
            return Some(push);
        }
        self.unsolicited(push);
        None
    }

    /// A push that answers no request: to the subscribers, else to the push handler.
    fn unsolicited(&self, push: Reply) {
        let frame = push.into_frame();
        let rest = self
            .registry()
            .route(frame, |feed, message| feed.send(Ok(message)));
        if let (Some(frame), Some(cache)) = (&rest, &self.cache) {
            cache.apply_push(frame);
        }
        if let (Some(frame), Some(handler)) = (rest, &self.options.push_handler) {
            handler.call(frame);
        }
    }

    /// The subscribers, even if a panic elsewhere poisoned their lock.
    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry<Feed>> {
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        done: &mut Vec<(Sink, Answer)>,
        mut broken: Option<Error>,
    ) -> Result<usize> {
        let now = std::time::Instant::now();
        let mut failed = Vec::new();
        let mut unsolicited = Vec::new();
        let awaited = {
            let mut st = self.lock();
            let awaited = match st.queue.deliver(replies, done, &mut unsolicited, now) {
                Ok(awaited) => awaited,
                Err(unasked) => {
                    // The stream is out of step: the connection must go, and requests
                    // written on it may have run (so not `Refused`, which says nothing
                    // was sent).
                    broken = Some(Error::io(
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!(
                                "the server sent a reply nobody asked for (a {})",
                                unasked.type_name
                            ),
                        ),
                        true,
                    ));
                    0
                }
            };
            if let Some(error) = &broken {
                failed = Self::lose(&mut st, error);
            } else if st.queue.is_leaving() {
                self.left.notify_one();
            }
            awaited
        };
        // Replies matched before the stream broke are still their callers'.
        for (tx, answer) in done.drain(..) {
            // The caller may have given up (timeout, cancellation); its reply is dropped.
            let _ = tx.send(Ok(answer));
        }
        for push in unsolicited {
            self.unsolicited(push);
        }
        match broken {
            None => Ok(awaited),
            Some(error) => {
                fail_written(failed, &error);
                Err(error)
            }
        }
    }

    /// Marks the link down and takes out the requests written on it, to be failed.
    fn lose(st: &mut Locked, error: &Error) -> Vec<Sink> {
        st.link = Link::Down(Some(error.clone()));
        st.writer = None;
        st.queue.lose()
    }

    /// The connection is gone: fails every request written on it (they may have run) and
    /// marks the link down; requests still queued wait for the next connection.
    pub(crate) fn connection_lost(&self, error: &Error) {
        crate::trace::event!(WARN, server = %self.current_addr(), error = %error, "connection lost");
        let failed = Self::lose(&mut self.lock(), error);
        fail_written(failed, error);
        // Invalidations sent meanwhile are lost with the connection.
        if let Some(cache) = &self.cache {
            cache.flush();
        }
        // Messages published until the next connection subscribes again are lost: each
        // subscriber hears of the gap.
        for feed in self.registry().sinks() {
            feed.send(Err(error.clone()));
        }
    }

    /// A connection attempt failed. In fail-fast mode, queued requests fail now (nothing
    /// was written); otherwise they keep waiting, each within its own timeout.
    pub(crate) fn connect_failed(&self, error: &Error) {
        crate::trace::event!(WARN, server = %self.current_addr(), error = %error, "could not connect");
        let failed = {
            let mut st = self.lock();
            st.link = Link::Down(Some(error.clone()));
            if self.options.wait_for_reconnect {
                return;
            }
            st.queue.fail_all()
        };
        for tx in failed {
            let _ = tx.send(Err(error.clone()));
        }
    }

    /// A new connection is up, writing through `writer`: queued requests whose callers
    /// gave up are dropped (so they are not sent late), and the writer task is woken for
    /// the rest.
    pub(crate) fn connection_up(&self, writer: Arc<WriteHalf>) {
        let policy = WritePolicy::on_current_runtime(self.options.write_way, writer.is_tls());
        let here = self.current_addr();
        let before = self
            .last_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(here.clone());
        #[cfg_attr(not(feature = "tracing"), allow(clippy::single_match))]
        match before {
            Some(before) => {
                self.metrics.reconnected(before != here);
                crate::trace::event!(INFO, server = %here, before = %before, "reconnected");
            }
            None => crate::trace::event!(DEBUG, server = %here, "connected"),
        }
        let resubscribe = self.registry().resubscribe();
        let (wake, write) = {
            let mut st = self.lock();
            st.link = Link::Up;
            st.writer = Some(writer);
            let wake = st.queue.up(policy, Sink::is_closed);
            let write = (!resubscribe.is_empty()).then(|| {
                // What the subscribers want, made on this connection: nobody waits for the
                // answer (a refusal would be refused again; a loss brings the next
                // connection, which subscribes again).
                let (tx, _) = oneshot::channel();
                let encode = |out: &mut BytesMut| resubscribe.iter().for_each(|c| c.encode(out));
                let pushed =
                    st.queue
                        .push(encode, resubscribe.len(), None, Duration::ZERO, tx, false);
                st.queue.answered_by_pushes();
                (pushed.write, st.writer.clone())
            });
            (wake, write)
        };
        self.link_up.notify_waiters();
        match write {
            Some((Write::Caller(taken), writer)) => self.write_now(taken, writer.as_deref()),
            Some((Write::WakeWriter, _)) => self.writer_wake.notify_one(),
            _ if wake => self.writer_wake.notify_one(),
            _ => {}
        }
    }

    /// The client is being shut down: fails whatever is left.
    pub(crate) fn close_all(&self) {
        let failed = {
            let mut st = self.lock();
            st.writer = None;
            st.queue.fail_all()
        };
        for tx in failed {
            let _ = tx.send(Err(Error::closed(false)));
        }
        self.slot_free.notify_waiters();
    }
}

/// Fails requests that were written on a connection now gone (they may have run).
fn fail_written(failed: Vec<Sink>, error: &Error) {
    for tx in failed {
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

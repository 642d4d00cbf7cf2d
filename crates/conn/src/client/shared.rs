//! The state callers and the driver share: the outgoing buffer and the queue of requests
//! awaiting replies, in the order their bytes were queued.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use slotline_resp::Frame;
use tokio::sync::{oneshot, Notify, OwnedSemaphorePermit, Semaphore};

use super::options::ClientOptions;
use crate::config::ConnectionConfig;
use crate::{Error, Result};

/// The answer to one request: one reply, or a pipeline's replies.
#[derive(Debug)]
pub(crate) enum Reply {
    One(Frame),
    Many(Vec<Frame>),
}

/// One request whose replies have not all arrived.
#[derive(Debug)]
pub(crate) struct Pending {
    /// Tells this request from the others, for a caller that gives up (see `withdraw`).
    id: u64,
    tx: oneshot::Sender<Result<Reply>>,
    /// Replies expected.
    want: usize,
    /// Replies received so far (pipelines only).
    got: Vec<Frame>,
    /// Where its bytes lie in `State::out` while not handed to the writer.
    start: usize,
    end: usize,
    /// Its place in the bounded queue, given back when it is answered or failed.
    _permit: OwnedSemaphorePermit,
}

/// What became of a request whose caller gave up.
#[derive(Debug)]
enum Withdrawn {
    /// Its bytes were handed to the writer: it may have run.
    Sent,
    /// Taken out of the queue before being sent.
    Unsent {
        /// Whether a connection was up (the writer was behind) or not (reconnecting).
        connected: bool,
    },
    /// Not in the queue any more: its answer (or failure) was just sent.
    Answered,
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
    pending: VecDeque<Pending>,
    handed: usize,
    /// The id of the next request.
    next_id: u64,
    pub(crate) link: Link,
    /// Set when the last `Client` handle is dropped.
    pub(crate) shutdown: bool,
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
pub(crate) struct Shared {
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
    /// Wakes the writer when `out` gets bytes or on shutdown.
    pub(crate) writer_wake: Notify,
    /// Bounds queued + in-flight requests.
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("resolver", &self.resolver.is_some())
            .field("current", &self.current_addr())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(
        config: ConnectionConfig,
        resolver: Option<Resolver>,
        options: ClientOptions,
        link: Link,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
        Shared {
            current: Mutex::new(config.addr.clone()),
            config,
            resolver,
            kick: Notify::new(),
            options,
            state: Mutex::new(State {
                out: BytesMut::with_capacity(16 * 1024),
                pending: VecDeque::new(),
                handed: 0,
                next_id: 0,
                link,
                shutdown: false,
            }),
            writer_wake: Notify::new(),
            permits,
        }
    }

    /// The state, even if a panic elsewhere poisoned the lock (it holds no invariant a
    /// panic can break halfway: every change is a few field writes).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    /// Waits for a place in the bounded queue (it is full), within the deadline.
    async fn wait_for_slot(
        &self,
        timeout: Option<Duration>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<OwnedSemaphorePermit> {
        let acquire = self.permits.clone().acquire_owned();
        match deadline {
            Some(at) => tokio::time::timeout_at(at, acquire)
                .await
                .map_err(|_| Error::Timeout {
                    after: timeout.unwrap_or_default(),
                    what: "a free slot in the client's queue",
                    written: false,
                })?,
            None => acquire.await,
        }
        .map_err(|_| Error::Closed { written: false })
    }

    /// Queues one request and waits for its replies (within `timeout`).
    pub(crate) async fn submit(
        &self,
        encode: &(dyn Fn(&mut BytesMut) + Sync),
        want: usize,
        timeout: Option<Duration>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Reply> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => self.wait_for_slot(timeout, deadline).await?,
        };
        let (tx, mut rx) = oneshot::channel();
        let id;
        {
            let mut st = self.lock();
            if st.shutdown {
                return Err(Error::Closed { written: false });
            }
            if let Link::Down(reason) = &st.link {
                if !self.options.wait_for_reconnect {
                    return Err(Error::io(
                        std::io::Error::new(
                            std::io::ErrorKind::NotConnected,
                            format!(
                                "reconnecting to {}{}",
                                self.current_addr(),
                                reason
                                    .as_deref()
                                    .map(|r| format!(" after: {r}"))
                                    .unwrap_or_default()
                            ),
                        ),
                        false,
                    ));
                }
            }
            id = st.next_id;
            st.next_id += 1;
            let start = st.out.len();
            encode(&mut st.out);
            let end = st.out.len();
            st.pending.push_back(Pending {
                id,
                tx,
                want,
                got: Vec::new(),
                start,
                end,
                _permit: permit,
            });
            drop(st);
            if start == 0 {
                self.writer_wake.notify_one();
            }
        }
        // If the caller drops this future (an outer `select!` or timeout), its request is
        // withdrawn too, so that it is not written after the caller gave up.
        let mut guard = WithdrawOnDrop {
            shared: self,
            id,
            armed: true,
        };
        let answer = match deadline {
            Some(at) => match tokio::time::timeout_at(at, &mut rx).await {
                Ok(answer) => answer,
                Err(_) => {
                    guard.armed = false;
                    let after = timeout.unwrap_or_default();
                    return match self.withdraw(id) {
                        Withdrawn::Sent => Err(Error::Timeout {
                            after,
                            what: "reply",
                            written: true,
                        }),
                        Withdrawn::Unsent { connected } => Err(Error::Timeout {
                            after,
                            what: if connected {
                                "the request to be written (it was not sent)"
                            } else {
                                "a connection (the request was not sent)"
                            },
                            written: false,
                        }),
                        // Answered (or failed) just as the time ran out: take that.
                        Withdrawn::Answered => rx
                            .try_recv()
                            .unwrap_or(Err(Error::Closed { written: true })),
                    };
                }
            },
            None => (&mut rx).await,
        };
        guard.armed = false;
        answer.map_err(|_| Error::Closed { written: true })?
    }

    /// A caller gives up on request `id` (its time ran out). If its bytes were not handed
    /// to the writer yet (waiting for a connection, or behind a writer stuck on a stalled
    /// server), they are taken out of the queue, so that it is never sent late and the
    /// caller may be told it was not sent; its slot is freed at once. A request already
    /// handed to the writer stays queued, to be matched with its reply.
    fn withdraw(&self, id: u64) -> Withdrawn {
        let mut st = self.lock();
        let Some(pos) = st.pending.iter().position(|p| p.id == id) else {
            return Withdrawn::Answered;
        };
        if pos < st.handed {
            return Withdrawn::Sent;
        }
        let connected = st.link == Link::Up;
        let State { out, pending, .. } = &mut *st;
        if let Some(p) = pending.remove(pos) {
            // Everything from `pos` on is still in `out`, after this request's bytes.
            let len = p.end - p.start;
            let rest = out.split_off(p.start);
            out.extend_from_slice(&rest[len..]);
            for later in pending.iter_mut().skip(pos) {
                later.start -= len;
                later.end -= len;
            }
        }
        Withdrawn::Unsent { connected }
    }

    /// Hands every queued request to the writer: returns the bytes to write (swapped with
    /// `spare`), or `None` when there are none.
    pub(crate) fn take_out(&self, spare: &mut BytesMut) -> Option<BytesMut> {
        let mut st = self.lock();
        if st.out.is_empty() {
            return None;
        }
        st.handed = st.pending.len();
        Some(std::mem::replace(&mut st.out, std::mem::take(spare)))
    }

    /// Matches decoded replies with the oldest requests, in order; answers the complete
    /// ones outside the lock. A reply nobody asked for is a protocol violation.
    pub(crate) fn deliver(
        &self,
        frames: &mut Vec<Frame>,
        done: &mut Vec<(oneshot::Sender<Result<Reply>>, Reply)>,
    ) -> Result<()> {
        let mut unasked = None;
        {
            let mut st = self.lock();
            for frame in frames.drain(..) {
                // Only written requests await replies (queued ones are not sent yet).
                let written = st.handed > 0;
                let complete = match st.pending.front_mut().filter(|_| written) {
                    None => {
                        unasked = Some(frame);
                        break;
                    }
                    Some(front) if front.want == 1 => Reply::One(frame),
                    Some(front) => {
                        front.got.push(frame);
                        if front.got.len() < front.want {
                            continue;
                        }
                        Reply::Many(std::mem::take(&mut front.got))
                    }
                };
                if let Some(p) = st.pending.pop_front() {
                    st.handed = st.handed.saturating_sub(1);
                    done.push((p.tx, complete));
                }
            }
        }
        // Replies matched before an unasked one are still their callers'.
        for (tx, reply) in done.drain(..) {
            // The caller may have given up (timeout, cancellation); its reply is dropped.
            let _ = tx.send(Ok(reply));
        }
        match unasked {
            None => Ok(()),
            // The stream is out of step: the connection must go, and requests written on
            // it may have run (so not `Refused`, which says nothing was sent).
            Some(frame) => Err(Error::io(
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "the server sent a reply nobody asked for (a {})",
                        frame.type_name()
                    ),
                ),
                true,
            )),
        }
    }

    /// The connection is gone: fails every request handed to it (they may have run) and
    /// marks the link down; requests still queued wait for the next connection.
    pub(crate) fn connection_lost(&self, error: &Error) {
        let failed: Vec<Pending> = {
            let mut st = self.lock();
            let handed = st.handed.min(st.pending.len());
            st.handed = 0;
            st.link = Link::Down(Some(error.to_string()));
            st.pending.drain(..handed).collect()
        };
        for p in failed {
            let _ = p.tx.send(Err(error.clone().into_written()));
        }
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
        for p in failed {
            let _ = p.tx.send(Err(error.clone()));
        }
    }

    /// A new connection is up: drops queued requests whose callers gave up (so they are
    /// not sent late), compacting their bytes out of `out`.
    pub(crate) fn connection_up(&self) {
        let mut st = self.lock();
        st.link = Link::Up;
        let State { out, pending, .. } = &mut *st;
        if pending.iter().any(|p| p.tx.is_closed()) {
            let old = std::mem::take(out);
            pending.retain_mut(|p| {
                if p.tx.is_closed() {
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
            st.pending.drain(..).collect()
        };
        for p in failed {
            let _ = p.tx.send(Err(Error::Closed { written: false }));
        }
        self.permits.close();
    }
}

/// Withdraws a request whose caller stopped waiting for it.
struct WithdrawOnDrop<'a> {
    shared: &'a Shared,
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

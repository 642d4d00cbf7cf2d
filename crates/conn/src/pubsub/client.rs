//! The async [`PubSub`]: a task owns the socket; the handle sends it control requests and
//! reads messages from a bounded queue.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::DEFAULT_QUEUE_CAPACITY;
use crate::config::{ConnectionConfig, IntoConnectionConfig};
use crate::connection::with_timeout;
use crate::protocol::Inbox;
use crate::stream::Stream;
use crate::{Connection, Error, Result, ToArgs};
use crate::{Message, Subscriptions};
use slotline_command::pubsub::{Confirmed, Event, Family, Op, Session};

/// Control requests queued for the task at most (callers wait beyond that).
const REQUEST_QUEUE: usize = 64;

/// A connection in pub/sub mode, async.
///
/// A background task owns the socket. Control methods ([`subscribe`](Self::subscribe),
/// [`psubscribe`](Self::psubscribe), [`ssubscribe`](Self::ssubscribe), the unsubscribes
/// and [`ping`](Self::ping)) take `&self`, send their command through the task and wait,
/// within the config's response timeout, until the server confirmed every name; they may
/// run from several tasks at once (share the `PubSub` by reference or in an `Arc`).
/// Messages are read with [`next_message`](Self::next_message), the
/// [`messages`](Self::messages) stream, or [`into_stream`](Self::into_stream).
///
/// **Back-pressure.** Messages wait in a bounded queue (default
/// [`DEFAULT_QUEUE_CAPACITY`](crate::DEFAULT_QUEUE_CAPACITY)). When it is full the task
/// stops reading the socket, so a slow reader makes the server's output buffer grow, not
/// this process's memory (Redis disconnects a subscriber whose buffer passes its
/// `client-output-buffer-limit pubsub`). While a control request waits for its answer the
/// task keeps reading, holding the messages that come before the answer, so a
/// `subscribe` never waits for the reader.
///
/// **Failure.** When the connection is lost (closed by the server, an I/O error, a reply
/// that is not valid RESP), the messages received before are delivered, then the stream
/// yields that error once and ends. Control requests in flight get the error; later ones
/// get [`ErrorKind::Closed`](crate::ErrorKind::Closed). Nothing hangs: the task ends with the socket. A peer that
/// vanishes without a reset is noticed by TCP keepalive and `TCP_USER_TIMEOUT` (see
/// [`ConnectionConfig`]), or sooner by a periodic [`ping`](Self::ping).
///
/// **Resubscribing.** The subscriptions the server confirmed stay readable after a loss
/// ([`subscriptions`](Self::subscriptions), [`channels`](Self::channels), ...);
/// [`reconnect`](Self::reconnect) opens a new connection with the same config and
/// subscriptions, and [`resubscribe`](Self::resubscribe) replays them on any other
/// `PubSub` (a new master after a failover, the node that owns a slot now).
///
/// Dropping the `PubSub` closes the connection.
///
/// ```no_run
/// # async fn demo() -> slotline_conn::Result<()> {
/// use slotline_conn::{MessageKind, PubSub};
///
/// let mut ps = PubSub::connect("redis://127.0.0.1:6379").await?;
/// ps.subscribe(["news", "alerts"]).await?;
/// ps.psubscribe("user:*").await?;
/// while let Some(msg) = ps.next_message().await {
///     let msg = msg?;
///     match msg.kind {
///         MessageKind::PMessage => println!("{:?} via {:?}", msg.channel, msg.pattern),
///         _ => println!("{:?}: {}", msg.channel_str(), msg.payload::<String>()?),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PubSub {
    config: ConnectionConfig,
    requests: mpsc::Sender<Request>,
    messages: mpsc::Receiver<Result<Message>>,
    subs: Arc<Mutex<Subscriptions>>,
}

/// A control request on its way to the task.
#[derive(Debug)]
struct Request {
    op: Op,
    done: oneshot::Sender<Result<Confirmed>>,
}

impl Connection {
    /// Gives this connection over to pub/sub (see [`PubSub`]), with the default message
    /// queue. Must run within a tokio runtime, which runs the connection's task.
    /// A connection left unusable by an earlier failure is refused ([`ErrorKind::Closed`](crate::ErrorKind::Closed)).
    pub async fn into_pubsub(self) -> Result<PubSub> {
        self.into_pubsub_with_capacity(DEFAULT_QUEUE_CAPACITY).await
    }

    /// [`into_pubsub`](Self::into_pubsub) with a message queue of `capacity` messages
    /// (at least 1).
    pub async fn into_pubsub_with_capacity(self, capacity: usize) -> Result<PubSub> {
        if self.is_broken().await {
            return Err(Error::closed(false));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::refused(
                crate::RefusedKind::NoRuntime,
                "pub/sub needs a tokio runtime to run in",
            )
        })?;
        let (config, stream, inbox) = self.into_parts();
        let (requests, requests_rx) = mpsc::channel(REQUEST_QUEUE);
        let (messages_tx, messages) = mpsc::channel(capacity.max(1));
        let subs = Arc::new(Mutex::new(Subscriptions::default()));
        let task = Task {
            stream,
            inbox,
            out: BytesMut::with_capacity(256),
            write_timeout: config.response_timeout,
            requests: requests_rx,
            messages: messages_tx,
            subs: Arc::clone(&subs),
            session: Session::default(),
            held: VecDeque::new(),
        };
        runtime.spawn(task.run());
        Ok(PubSub {
            config,
            requests,
            messages,
            subs,
        })
    }
}

impl PubSub {
    /// Connects (with the handshake of [`Connection::connect`]) and enters pub/sub mode.
    pub async fn connect(config: impl IntoConnectionConfig) -> Result<PubSub> {
        Connection::connect(config.into_connection_config()?.without_cache())
            .await?
            .into_pubsub()
            .await
    }

    /// The config this connection was opened with.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Subscribes to one or more channels (`SUBSCRIBE`): a name, or a slice, array, `Vec`
    /// or tuple of names. Returns once the server confirmed each.
    pub fn subscribe(&self, channels: impl ToArgs) -> impl Future<Output = Result<()>> + Send + '_ {
        let op = Op::subscribe(Family::Channel, channels);
        async move { self.request(op?).await.map(drop) }
    }

    /// Subscribes to one or more glob-style patterns (`PSUBSCRIBE`).
    pub fn psubscribe(
        &self,
        patterns: impl ToArgs,
    ) -> impl Future<Output = Result<()>> + Send + '_ {
        let op = Op::subscribe(Family::Pattern, patterns);
        async move { self.request(op?).await.map(drop) }
    }

    /// Subscribes to one or more shard channels (`SSUBSCRIBE`, Redis 7). In a cluster all
    /// of them must hash to one slot, served by this node.
    pub fn ssubscribe(
        &self,
        channels: impl ToArgs,
    ) -> impl Future<Output = Result<()>> + Send + '_ {
        let op = Op::subscribe(Family::Shard, channels);
        async move { self.request(op?).await.map(drop) }
    }

    /// Unsubscribes from these channels; from every channel when given none (`()` or an
    /// empty slice).
    pub fn unsubscribe(
        &self,
        channels: impl ToArgs,
    ) -> impl Future<Output = Result<()>> + Send + '_ {
        let op = Op::unsubscribe(Family::Channel, channels);
        async move { self.request(op).await.map(drop) }
    }

    /// Unsubscribes from these patterns; from every pattern when given none.
    pub fn punsubscribe(
        &self,
        patterns: impl ToArgs,
    ) -> impl Future<Output = Result<()>> + Send + '_ {
        let op = Op::unsubscribe(Family::Pattern, patterns);
        async move { self.request(op).await.map(drop) }
    }

    /// Unsubscribes from these shard channels; from every one when given none.
    pub fn sunsubscribe(
        &self,
        channels: impl ToArgs,
    ) -> impl Future<Output = Result<()>> + Send + '_ {
        let op = Op::unsubscribe(Family::Shard, channels);
        async move { self.request(op).await.map(drop) }
    }

    /// Sends `PING` and waits for the pong (allowed while subscribed). Proves the
    /// connection is alive; every message received before the pong is already queued.
    pub async fn ping(&self) -> Result<()> {
        self.request(Op::Ping).await.map(drop)
    }

    /// Subscribes to everything in `subs` (channels, patterns, shard channels), e.g. what
    /// another connection had ([`subscriptions`](Self::subscriptions)).
    pub async fn resubscribe(&self, subs: &Subscriptions) -> Result<()> {
        for (family, names) in [
            (Family::Channel, &subs.channels),
            (Family::Pattern, &subs.patterns),
            (Family::Shard, &subs.shard_channels),
        ] {
            if !names.is_empty() {
                let names: Vec<Bytes> = names.iter().cloned().collect();
                self.request(Op::Subscribe(family, names)).await?;
            }
        }
        Ok(())
    }

    /// Subscribes `target` to everything this connection is subscribed to.
    pub async fn resubscribe_on(&self, target: &PubSub) -> Result<()> {
        target.resubscribe(&self.subscriptions()).await
    }

    /// Opens a new connection with the same config and subscribes it to everything this
    /// one is subscribed to; the way back after a connection loss.
    pub async fn reconnect(&self) -> Result<PubSub> {
        let fresh = PubSub::connect(&self.config).await?;
        fresh.resubscribe(&self.subscriptions()).await?;
        Ok(fresh)
    }

    /// The next message: `Some(Ok(_))` a message, `Some(Err(_))` the connection was lost
    /// (once), `None` afterwards: the stream has ended. Cancel-safe.
    pub async fn next_message(&mut self) -> Option<Result<Message>> {
        self.messages.recv().await
    }

    /// The next message within `timeout`: `Ok(None)` when none came in time (the
    /// connection is fine), `Err` when the connection was lost ([`ErrorKind::Closed`](crate::ErrorKind::Closed) once the
    /// loss was reported).
    pub async fn next_message_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
        match tokio::time::timeout(timeout, self.messages.recv()).await {
            Err(_) => Ok(None),
            Ok(Some(msg)) => msg.map(Some),
            Ok(None) => Err(Error::closed(false)),
        }
    }

    /// The messages as a [`Stream`](futures_core::Stream), borrowing this `PubSub`.
    pub fn messages(&mut self) -> Messages<'_> {
        Messages {
            rx: &mut self.messages,
        }
    }

    /// The messages as a [`Stream`](futures_core::Stream) that owns this `PubSub`; the
    /// `PubSub` stays reachable through [`MessageStream::get_ref`] for control requests.
    pub fn into_stream(self) -> MessageStream {
        MessageStream { pubsub: self }
    }

    /// The channels the server confirmed (`SUBSCRIBE`), in byte order.
    pub fn channels(&self) -> Vec<Bytes> {
        self.lock().channels.iter().cloned().collect()
    }

    /// The patterns the server confirmed (`PSUBSCRIBE`), in byte order.
    pub fn patterns(&self) -> Vec<Bytes> {
        self.lock().patterns.iter().cloned().collect()
    }

    /// The shard channels the server confirmed (`SSUBSCRIBE`), in byte order.
    pub fn shard_channels(&self) -> Vec<Bytes> {
        self.lock().shard_channels.iter().cloned().collect()
    }

    /// A snapshot of every subscription the server confirmed; kept after a connection
    /// loss, for [`resubscribe`](Self::resubscribe).
    pub fn subscriptions(&self) -> Subscriptions {
        self.lock().clone()
    }

    /// Whether the connection is gone (its task ended); buffered messages and the final
    /// error may still be waiting to be read.
    pub fn is_closed(&self) -> bool {
        self.requests.is_closed()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Subscriptions> {
        self.subs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `op` to the task and waits for its answer within the response timeout. A
    /// timeout leaves the request in flight (its answer will still update the tracked
    /// subscriptions) and the connection usable.
    async fn request(&self, op: Op) -> Result<Confirmed> {
        let (done, answer) = oneshot::channel();
        self.requests
            .send(Request { op, done })
            .await
            .map_err(|_| Error::closed(false))?;
        with_timeout(
            self.config.response_timeout,
            "pub/sub confirmation",
            async { answer.await.unwrap_or(Err(Error::closed(true))) },
        )
        .await
    }
}

/// The messages, as [`Messages`] yields them.
impl futures_core::Stream for PubSub {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().messages.poll_recv(cx)
    }
}

/// The messages of a [`PubSub`] as a [`Stream`](futures_core::Stream), borrowed from it
/// ([`PubSub::messages`]). Yields `Ok` messages, then at most one `Err` when the
/// connection is lost, then ends.
#[derive(Debug)]
pub struct Messages<'a> {
    rx: &'a mut mpsc::Receiver<Result<Message>>,
}

impl futures_core::Stream for Messages<'_> {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

/// The messages of a [`PubSub`] as a [`Stream`](futures_core::Stream) that owns it
/// ([`PubSub::into_stream`]). Same items as [`Messages`].
#[derive(Debug)]
pub struct MessageStream {
    pubsub: PubSub,
}

impl MessageStream {
    /// The `PubSub`, for control requests (they take `&self`) and the subscription sets.
    pub fn get_ref(&self) -> &PubSub {
        &self.pubsub
    }

    /// The `PubSub` back.
    pub fn into_inner(self) -> PubSub {
        self.pubsub
    }
}

impl futures_core::Stream for MessageStream {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().pubsub.messages.poll_recv(cx)
    }
}

/// What woke the task up.
enum Woke {
    Request(Option<Request>),
    Sent,
    Read(std::io::Result<usize>),
}

/// The task that owns the socket.
struct Task {
    stream: Stream,
    inbox: Inbox,
    out: BytesMut,
    write_timeout: Option<Duration>,
    requests: mpsc::Receiver<Request>,
    messages: mpsc::Sender<Result<Message>>,
    subs: Arc<Mutex<Subscriptions>>,
    session: Session<oneshot::Sender<Result<Confirmed>>>,
    /// Messages decoded while the queue was full (only while a request waits for its
    /// answer), delivered before anything newer.
    held: VecDeque<Message>,
}

impl Task {
    async fn run(mut self) {
        let Err(error) = self.drive().await else {
            return; // The handle is gone.
        };
        for done in self.session.drain() {
            let _ = done.send(Err(error.clone()));
        }
        self.requests.close();
        while let Ok(request) = self.requests.try_recv() {
            let _ = request.done.send(Err(Error::closed(false)));
        }
        // Close the socket now, not when the reader gets to the end.
        drop(self.stream);
        for msg in self.held.drain(..) {
            if self.messages.send(Ok(msg)).await.is_err() {
                return;
            }
        }
        let _ = self.messages.send(Err(error)).await;
    }

    /// Runs until the handle is dropped (`Ok`) or the connection fails (`Err`).
    async fn drive(&mut self) -> Result<()> {
        loop {
            if !self.process_buffered()? {
                return Ok(());
            }
            let may_read = self.held.is_empty() || self.session.has_pending();
            if may_read {
                self.inbox.reserve();
            }
            let woke = tokio::select! {
                biased;
                request = self.requests.recv() => Woke::Request(request),
                permit = self.messages.reserve(), if !self.held.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(msg) = self.held.pop_front() {
                            permit.send(Ok(msg));
                        }
                        Woke::Sent
                    }
                    Err(_) => Woke::Request(None),
                },
                read = self.stream.read_buf(&mut self.inbox.buf), if may_read => Woke::Read(read),
            };
            match woke {
                Woke::Request(Some(request)) => self.send(request).await?,
                // The handle is gone.
                Woke::Request(None) => return Ok(()),
                Woke::Sent | Woke::Read(Ok(1..)) => {}
                Woke::Read(Ok(0)) => return Err(Error::closed(true)),
                Woke::Read(Err(e)) => return Err(Error::io(e, true)),
            }
        }
    }

    /// Handles the frames already read, as far as back-pressure allows; false when the
    /// handle is gone.
    fn process_buffered(&mut self) -> Result<bool> {
        while self.held.is_empty() || self.session.has_pending() {
            let Some(frame) = self.inbox.next_frame()? else {
                break;
            };
            let event = {
                let mut subs = self.subs.lock().unwrap_or_else(PoisonError::into_inner);
                self.session.handle(frame, &mut subs)?
            };
            match event {
                Event::Message(msg) if self.held.is_empty() => {
                    match self.messages.try_send(Ok(msg)) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(Ok(msg))) => self.held.push_back(msg),
                        Err(mpsc::error::TrySendError::Full(Err(_))) => {}
                        Err(mpsc::error::TrySendError::Closed(_)) => return Ok(false),
                    }
                }
                Event::Message(msg) => self.held.push_back(msg),
                Event::Done(done, reply) => {
                    let _ = done.send(reply);
                }
                Event::Nothing => {}
            }
        }
        Ok(true)
    }

    /// Writes a request's command and records it as in flight.
    async fn send(&mut self, request: Request) -> Result<()> {
        self.out.clear();
        request.op.to_cmd().encode(&mut self.out);
        self.session.push(request.op, request.done);
        let write = async {
            self.stream
                .write_all(&self.out)
                .await
                .map_err(|e| Error::io(e, true))?;
            // Through TLS the last record may still be in the session.
            self.stream.flush().await.map_err(|e| Error::io(e, true))
        };
        with_timeout(self.write_timeout, "pub/sub write", write).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_may_move_between_tasks() {
        send_sync::<PubSub>();
        send_sync::<MessageStream>();
        send_sync::<Messages<'static>>();
        send_sync::<crate::blocking::PubSub>();
    }
}

//! The blocking [`PubSub`]: one owner, no background thread; control methods read until
//! their answer arrives, queuing the messages that come first.

use std::collections::VecDeque;
use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::stream::Stream;
use super::Connection;
use crate::config::{ConnectionConfig, IntoConnectionConfig};
use crate::protocol::Inbox;
use crate::{Error, Message, Result, Subscriptions, ToArgs};
use slotline_command::pubsub::{Confirmed, Event, Family, Op, Session};

/// A connection in pub/sub mode, blocking; the twin of the async
/// [`PubSub`](crate::PubSub), with the same method names.
///
/// It is used by one owner (`&mut self`) and runs no thread of its own: a control method
/// ([`subscribe`](Self::subscribe), [`psubscribe`](Self::psubscribe),
/// [`ssubscribe`](Self::ssubscribe), the unsubscribes, [`ping`](Self::ping)) writes its
/// command and reads until the server confirmed every name (within the config's response
/// timeout), queuing the messages that arrive first; [`next_message`](Self::next_message)
/// and the iterator ([`messages`](Self::messages), `for msg in &mut pubsub`) hand out
/// queued messages, then read the socket.
///
/// Back-pressure comes free: the socket is read only when asked to, so unread messages
/// wait in the kernel's and the server's buffers.
///
/// **Failure.** When the connection is lost the messages received before are handed out,
/// then the error once (from [`next_message`](Self::next_message) or the iterator; a
/// control method that meets the loss returns it too), then the iterator ends and
/// control methods return [`ErrorKind::Closed`](crate::ErrorKind::Closed). The subscriptions the server confirmed stay
/// readable, for [`reconnect`](Self::reconnect) and [`resubscribe`](Self::resubscribe).
///
/// A control request that times out does not break the connection: its answer, when it
/// comes, still updates the tracked subscriptions.
///
/// ```no_run
/// use std::time::Duration;
/// use slotline_conn::blocking::PubSub;
///
/// let mut ps = PubSub::connect("redis://127.0.0.1:6379")?;
/// ps.subscribe(["news", "alerts"])?;
/// if let Some(msg) = ps.next_message_timeout(Duration::from_secs(1))? {
///     println!("{:?}: {:?}", msg.channel_str(), msg.payload);
/// }
/// for msg in ps.messages() {
///     let msg = msg?;
///     println!("{:?}", msg.payload::<String>()?);
/// }
/// # Ok::<(), slotline_conn::Error>(())
/// ```
#[derive(Debug)]
pub struct PubSub {
    config: ConnectionConfig,
    stream: Stream,
    inbox: Inbox,
    out: BytesMut,
    session: Session<u64>,
    next_id: u64,
    subs: Subscriptions,
    queue: VecDeque<Message>,
    /// The socket's read/write timeout as last set (`None`: not known).
    timeout: Option<Option<Duration>>,
    state: State,
}

#[derive(Debug)]
enum State {
    Open,
    /// Lost; the error is still to be handed to the message reader.
    Failed(Error),
    /// Lost, and the reader was told.
    Ended,
}

impl Connection {
    /// Gives this connection over to pub/sub (see [`PubSub`]). A connection left unusable
    /// by an earlier failure is refused ([`ErrorKind::Closed`](crate::ErrorKind::Closed)).
    pub fn into_pubsub(self) -> Result<PubSub> {
        let (config, stream, inbox) = self.into_parts()?;
        Ok(PubSub {
            config,
            stream,
            inbox,
            out: BytesMut::with_capacity(256),
            session: Session::default(),
            next_id: 0,
            subs: Subscriptions::default(),
            queue: VecDeque::new(),
            timeout: None,
            state: State::Open,
        })
    }
}

impl PubSub {
    /// Connects (with the handshake of [`Connection::connect`]) and enters pub/sub mode.
    pub fn connect(config: impl IntoConnectionConfig) -> Result<PubSub> {
        Connection::connect(config.into_connection_config()?.without_cache())?.into_pubsub()
    }

    /// The config this connection was opened with.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Subscribes to one or more channels (`SUBSCRIBE`): a name, or a slice, array, `Vec`
    /// or tuple of names. Returns once the server confirmed each.
    pub fn subscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.request(Op::subscribe(Family::Channel, channels)?)
            .map(drop)
    }

    /// Subscribes to one or more glob-style patterns (`PSUBSCRIBE`).
    pub fn psubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.request(Op::subscribe(Family::Pattern, patterns)?)
            .map(drop)
    }

    /// Subscribes to one or more shard channels (`SSUBSCRIBE`, Redis 7). In a cluster all
    /// of them must hash to one slot, served by this node.
    pub fn ssubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.request(Op::subscribe(Family::Shard, channels)?)
            .map(drop)
    }

    /// Unsubscribes from these channels; from every channel when given none (`()` or an
    /// empty slice).
    pub fn unsubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.request(Op::unsubscribe(Family::Channel, channels))
            .map(drop)
    }

    /// Unsubscribes from these patterns; from every pattern when given none.
    pub fn punsubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.request(Op::unsubscribe(Family::Pattern, patterns))
            .map(drop)
    }

    /// Unsubscribes from these shard channels; from every one when given none.
    pub fn sunsubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.request(Op::unsubscribe(Family::Shard, channels))
            .map(drop)
    }

    /// Sends `PING` and waits for the pong (allowed while subscribed). Every message
    /// received before the pong is queued by then.
    pub fn ping(&mut self) -> Result<()> {
        self.request(Op::Ping).map(drop)
    }

    /// Subscribes to everything in `subs`, e.g. what another connection had
    /// ([`subscriptions`](Self::subscriptions)).
    pub fn resubscribe(&mut self, subs: &Subscriptions) -> Result<()> {
        for (family, names) in [
            (Family::Channel, &subs.channels),
            (Family::Pattern, &subs.patterns),
            (Family::Shard, &subs.shard_channels),
        ] {
            if !names.is_empty() {
                let names: Vec<Bytes> = names.iter().cloned().collect();
                self.request(Op::Subscribe(family, names))?;
            }
        }
        Ok(())
    }

    /// Subscribes `target` to everything this connection is subscribed to.
    pub fn resubscribe_on(&self, target: &mut PubSub) -> Result<()> {
        target.resubscribe(&self.subs)
    }

    /// Opens a new connection with the same config and subscribes it to everything this
    /// one is subscribed to; the way back after a connection loss.
    pub fn reconnect(&self) -> Result<PubSub> {
        let mut fresh = PubSub::connect(&self.config)?;
        fresh.resubscribe(&self.subs)?;
        Ok(fresh)
    }

    /// The next message, blocking until one comes: `Some(Ok(_))` a message,
    /// `Some(Err(_))` the connection was lost (once), `None` afterwards.
    pub fn next_message(&mut self) -> Option<Result<Message>> {
        match self.wait_message(None) {
            Ok(Some(msg)) => Some(Ok(msg)),
            // No deadline: `None` only after the loss was reported.
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// The next message within `timeout`: `Ok(None)` when none came in time (the
    /// connection is fine), `Err` when the connection was lost ([`ErrorKind::Closed`](crate::ErrorKind::Closed) once the
    /// loss was reported).
    pub fn next_message_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
        match self.wait_message(Some(Instant::now() + timeout)) {
            Ok(None) if matches!(self.state, State::Ended) => Err(Error::closed(false)),
            other => other,
        }
    }

    /// The messages as a blocking iterator: `Ok` messages, at most one `Err` when the
    /// connection is lost, then the end.
    pub fn messages(&mut self) -> Messages<'_> {
        Messages { pubsub: self }
    }

    /// The channels the server confirmed (`SUBSCRIBE`), in byte order.
    pub fn channels(&self) -> Vec<Bytes> {
        self.subs.channels.iter().cloned().collect()
    }

    /// The patterns the server confirmed (`PSUBSCRIBE`), in byte order.
    pub fn patterns(&self) -> Vec<Bytes> {
        self.subs.patterns.iter().cloned().collect()
    }

    /// The shard channels the server confirmed (`SSUBSCRIBE`), in byte order.
    pub fn shard_channels(&self) -> Vec<Bytes> {
        self.subs.shard_channels.iter().cloned().collect()
    }

    /// A snapshot of every subscription the server confirmed; kept after a connection
    /// loss, for [`resubscribe`](Self::resubscribe).
    pub fn subscriptions(&self) -> Subscriptions {
        self.subs.clone()
    }

    /// Whether the connection is gone; queued messages and the final error may still be
    /// waiting to be read.
    pub fn is_closed(&self) -> bool {
        !matches!(self.state, State::Open)
    }

    /// Writes `op`'s command and reads until its answer came or the response timeout
    /// passed.
    fn request(&mut self, op: Op) -> Result<Confirmed> {
        if !matches!(self.state, State::Open) {
            return Err(Error::closed(false));
        }
        let response_timeout = self.config.response_timeout;
        let id = self.next_id;
        self.next_id += 1;
        self.out.clear();
        op.to_cmd().encode(&mut self.out);
        self.session.push(op, id);
        let written = self
            .set_timeout(response_timeout)
            .and_then(|()| self.stream.write_all(&self.out))
            .map_err(|e| timeout_or_io(e, response_timeout, "pub/sub write"));
        if let Err(e) = written {
            // A partial write leaves the stream out of step.
            return Err(self.fail(e));
        }
        let deadline = response_timeout.map(|t| Instant::now() + t);
        loop {
            while let Some(event) = self.next_event()? {
                match event {
                    Event::Message(msg) => self.queue.push_back(msg),
                    Event::Done(done, reply) if done == id => return reply,
                    // The late answer of a request that timed out.
                    Event::Done(..) | Event::Nothing => {}
                }
            }
            if !self.read_more(deadline)? {
                return Err(Error::timeout_after(
                    response_timeout.unwrap_or_default(),
                    "pub/sub confirmation",
                    true,
                ));
            }
        }
    }

    /// The next queued or received message before `deadline` (`None`: no deadline).
    /// `Ok(None)`: the deadline passed, or the loss was reported already.
    fn wait_message(&mut self, deadline: Option<Instant>) -> Result<Option<Message>> {
        loop {
            if let Some(msg) = self.queue.pop_front() {
                return Ok(Some(msg));
            }
            match std::mem::replace(&mut self.state, State::Ended) {
                State::Open => self.state = State::Open,
                State::Failed(e) => return Err(e),
                State::Ended => return Ok(None),
            }
            // Whatever is buffered comes before anything read now. A failure (here or in
            // the read) is recorded and reported by the next turn.
            match self.next_event() {
                Ok(Some(Event::Message(msg))) => return Ok(Some(msg)),
                Ok(Some(Event::Done(..) | Event::Nothing)) | Err(_) => continue,
                Ok(None) => {}
            }
            if let Ok(false) = self.read_more(deadline) {
                return Ok(None);
            }
        }
    }

    /// The next event from the frames already read; `Ok(None)` when none is complete. A
    /// frame that does not fit is fatal.
    fn next_event(&mut self) -> Result<Option<Event<u64>>> {
        let decoded = self.inbox.next_frame().and_then(|frame| match frame {
            Some(frame) => self.session.handle(frame, &mut self.subs).map(Some),
            None => Ok(None),
        });
        decoded.map_err(|e| self.fail(e))
    }

    /// Reads more bytes, waiting until `deadline` at most (`None`: for ever). `Ok(false)`
    /// when the deadline passed first; an error is fatal.
    fn read_more(&mut self, deadline: Option<Instant>) -> Result<bool> {
        let wait = match deadline {
            None => None,
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Ok(false),
            },
        };
        if let Err(e) = self.set_timeout(wait) {
            return Err(self.fail(Error::io(e, true)));
        }
        let read = self.inbox.read_from(&mut self.stream);
        match read {
            Ok(0) => Err(self.fail(Error::closed(true))),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(true),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) => Err(self.fail(Error::io(e, true))),
        }
    }

    fn set_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        if self.timeout != Some(timeout) {
            self.timeout = None;
            self.stream.set_timeout(timeout)?;
            self.timeout = Some(timeout);
        }
        Ok(())
    }

    /// Marks the connection lost: the reader gets `error` after the queued messages, and
    /// the caller gets it back to return.
    fn fail(&mut self, error: Error) -> Error {
        if matches!(self.state, State::Open) {
            self.state = State::Failed(error.clone());
            self.stream.shut_down();
        }
        error
    }
}

fn timeout_or_io(e: std::io::Error, timeout: Option<Duration>, what: &'static str) -> Error {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            Error::timeout_after(timeout.unwrap_or_default(), what, true)
        }
        _ => Error::io(e, true),
    }
}

/// The messages of a blocking [`PubSub`] as an iterator ([`PubSub::messages`]).
#[derive(Debug)]
pub struct Messages<'a> {
    pubsub: &'a mut PubSub,
}

impl Iterator for Messages<'_> {
    type Item = Result<Message>;

    fn next(&mut self) -> Option<Result<Message>> {
        self.pubsub.next_message()
    }
}

impl<'a> IntoIterator for &'a mut PubSub {
    type Item = Result<Message>;
    type IntoIter = Messages<'a>;

    fn into_iter(self) -> Messages<'a> {
        self.messages()
    }
}

/// The messages of a blocking [`PubSub`] as an iterator that owns it
/// (`pubsub.into_iter()`).
#[derive(Debug)]
pub struct IntoMessages {
    pubsub: PubSub,
}

impl IntoMessages {
    /// The `PubSub` back.
    pub fn into_inner(self) -> PubSub {
        self.pubsub
    }
}

impl Iterator for IntoMessages {
    type Item = Result<Message>;

    fn next(&mut self) -> Option<Result<Message>> {
        self.pubsub.next_message()
    }
}

impl IntoIterator for PubSub {
    type Item = Result<Message>;
    type IntoIter = IntoMessages;

    fn into_iter(self) -> IntoMessages {
        IntoMessages { pubsub: self }
    }
}

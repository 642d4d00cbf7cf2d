//! The blocking [`Subscriber`]: subscriptions on a blocking shared client's connection.

use std::sync::Arc;
use std::time::Duration;

use super::{Client, Runtime};
use crate::{Message, Result, Subscriptions, ToArgs};

/// The blocking twin of [`crate::Subscriber`]: subscriptions that ride a blocking
/// [`Client`]'s connection over RESP3, with the same rules (messages beside every other
/// request, subscribed again after a reconnect or a failover, a slow reader loses what
/// does not fit in its queue). Messages come from [`next_message`](Self::next_message) or
/// as an [`Iterator`].
///
/// ```no_run
/// use slotline_conn::blocking::{Client, Commands};
/// let client = Client::connect("redis://127.0.0.1:6379/?protocol=3")?;
/// let mut news = client.subscribe("news")?;
/// client.publish("news", "hello")?;
/// if let Some(msg) = news.next_message() {
///     println!("{}", msg?.payload::<String>()?);
/// }
/// # Ok::<(), slotline_conn::Error>(())
/// ```
#[derive(Debug)]
pub struct Subscriber {
    /// Taken only when dropped, inside the runtime (which unsubscribes from there).
    inner: Option<crate::Subscriber>,
    runtime: Arc<Runtime>,
}

impl Client {
    /// A [`Subscriber`] on this client's connection, with no subscription yet (see
    /// [`crate::Client::subscriber`]; refused unless the client speaks RESP3).
    pub fn subscriber(&self) -> Result<Subscriber> {
        Ok(Subscriber::from_async(
            self.inner.subscriber()?,
            self.runtime.clone(),
        ))
    }

    /// A [`Subscriber`] to these channels (`SUBSCRIBE`), once the server confirmed them.
    pub fn subscribe(&self, channels: impl ToArgs) -> Result<Subscriber> {
        let mut sub = self.subscriber()?;
        sub.subscribe(channels)?;
        Ok(sub)
    }

    /// A [`Subscriber`] to these patterns (`PSUBSCRIBE`).
    pub fn psubscribe(&self, patterns: impl ToArgs) -> Result<Subscriber> {
        let mut sub = self.subscriber()?;
        sub.psubscribe(patterns)?;
        Ok(sub)
    }

    /// A [`Subscriber`] to these shard channels (`SSUBSCRIBE`, Redis 7).
    pub fn ssubscribe(&self, channels: impl ToArgs) -> Result<Subscriber> {
        let mut sub = self.subscriber()?;
        sub.ssubscribe(channels)?;
        Ok(sub)
    }
}

impl Subscriber {
    /// A blocking handle on an async subscriber whose client's driver runs on `runtime`
    /// (for the blocking clients of the layers above).
    pub fn from_async(inner: crate::Subscriber, runtime: Arc<Runtime>) -> Self {
        Subscriber {
            inner: Some(inner),
            runtime,
        }
    }

    fn inner(&mut self) -> Result<&mut crate::Subscriber> {
        self.inner
            .as_mut()
            .ok_or_else(|| crate::Error::closed(false))
    }

    fn run<T>(&mut self, f: impl AsyncFnOnce(&mut crate::Subscriber) -> Result<T>) -> Result<T> {
        let runtime = self.runtime.clone();
        let inner = self.inner()?;
        runtime.block_on(f(inner))
    }

    /// Subscribes to channels (`SUBSCRIBE`).
    pub fn subscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.run(async |s| s.subscribe(channels).await)
    }

    /// Subscribes to patterns (`PSUBSCRIBE`).
    pub fn psubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.run(async |s| s.psubscribe(patterns).await)
    }

    /// Subscribes to shard channels (`SSUBSCRIBE`).
    pub fn ssubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.run(async |s| s.ssubscribe(channels).await)
    }

    /// Unsubscribes from these channels (all of this subscriber's when given none).
    pub fn unsubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.run(async |s| s.unsubscribe(channels).await)
    }

    /// Unsubscribes from these patterns (all of this subscriber's when given none).
    pub fn punsubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
        self.run(async |s| s.punsubscribe(patterns).await)
    }

    /// Unsubscribes from these shard channels (all of this subscriber's when given none).
    pub fn sunsubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
        self.run(async |s| s.sunsubscribe(channels).await)
    }

    /// The next message, blocking until one comes; `Some(Err(_))` once for each
    /// connection the client lost (see [`crate::Subscriber::next_message`]).
    pub fn next_message(&mut self) -> Option<Result<Message>> {
        match self.run(async |s| Ok(s.next_message().await)) {
            Ok(item) => item,
            Err(e) => Some(Err(e)),
        }
    }

    /// The next message within `timeout`: `Ok(None)` when none came in time.
    pub fn next_message_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
        self.run(async |s| s.next_message_timeout(timeout).await)
    }

    /// What this subscriber is subscribed to.
    pub fn subscriptions(&self) -> Subscriptions {
        self.inner
            .as_ref()
            .map(crate::Subscriber::subscriptions)
            .unwrap_or_default()
    }

    /// How many messages did not fit in this subscriber's queue and were dropped.
    pub fn dropped(&self) -> u64 {
        self.inner.as_ref().map_or(0, crate::Subscriber::dropped)
    }
}

impl Drop for Subscriber {
    /// Drops the async subscriber inside the runtime, whose task tells the server.
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let _ = self.runtime.run(async move { drop(inner) });
        }
    }
}

/// Blocks for each message in turn (see [`Subscriber::next_message`]).
impl Iterator for Subscriber {
    type Item = Result<Message>;

    fn next(&mut self) -> Option<Result<Message>> {
        self.next_message()
    }
}

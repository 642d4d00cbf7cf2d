//! [`Subscriber`]: subscriptions that ride a shared client's connection (RESP3), beside
//! every other request.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use slotline_command::pubsub::{Family, Op, SubscriberId};
use tokio::sync::mpsc;

use super::{Answer, Client};
use crate::{Error, Message, Protocol, RefusedKind, Result, ServerError, Subscriptions, ToArgs};

/// Where the registry sends a subscriber's messages: a bounded queue that never waits (the
/// reader of the shared connection serves every caller), counting what did not fit.
#[derive(Debug)]
pub(crate) struct Feed {
    tx: mpsc::Sender<Result<Message>>,
    dropped: Arc<AtomicU64>,
}

impl Feed {
    /// Queues a message (or the news of a lost connection); counts it dropped when the
    /// subscriber's queue is full.
    pub(crate) fn send(&self, item: Result<Message>) {
        if self.tx.try_send(item).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Subscriptions on a shared [`Client`]'s own connection, over RESP3, where messages
/// arrive as pushes between the replies to other requests: no connection of its own.
/// Made by [`Client::subscriber`] (or [`Client::subscribe`] and its siblings); cheap,
/// make one per consumer. Over RESP2 a subscribed connection carries nothing else: use a
/// [`PubSub`](crate::PubSub) there.
///
/// - **Control.** [`subscribe`](Self::subscribe), [`psubscribe`](Self::psubscribe),
///   [`ssubscribe`](Self::ssubscribe) and the unsubscribes return once the server
///   confirmed each name (within the client's response timeout). Several subscribers may
///   want one channel: the server is asked once, and told to stop when the last of them
///   unsubscribes or is dropped.
/// - **Messages** come from [`next_message`](Self::next_message) or as a
///   [`Stream`](futures_core::Stream), each to every subscriber that wants it.
/// - **Reconnects and failovers.** When the connection is lost, each subscriber gets the
///   error once (messages published until the next connection subscribes again are lost),
///   and the client subscribes again to everything its subscribers want on its next
///   connection: after a reconnect, and, for a client that follows a master (sentinel),
///   on the new master. The stream does not end.
/// - **Slow readers.** The shared connection's reader never waits for a subscriber: a
///   subscriber whose queue is full loses the messages that do not fit, counted by
///   [`dropped`](Self::dropped). A reader that must slow the publisher down wants a
///   [`PubSub`](crate::PubSub), whose socket waits for it.
///
/// ```no_run
/// # async fn demo() -> slotline_conn::Result<()> {
/// use slotline_conn::{Client, Commands};
/// let client = Client::connect("redis://127.0.0.1:6379/?protocol=3").await?;
/// let mut news = client.subscribe("news").await?;
/// client.publish("news", "hello").await?; // the same connection
/// if let Some(msg) = news.next_message().await {
///     println!("{}", msg?.payload::<String>()?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Subscriber {
    client: Client,
    id: SubscriberId,
    messages: mpsc::Receiver<Result<Message>>,
    dropped: Arc<AtomicU64>,
}

impl Client {
    /// A [`Subscriber`] on this client's connection, with no subscription yet and a message
    /// queue of [`DEFAULT_QUEUE_CAPACITY`](crate::DEFAULT_QUEUE_CAPACITY). Refused
    /// ([`RefusedKind::OwnConnection`]) unless the client speaks RESP3.
    pub fn subscriber(&self) -> Result<Subscriber> {
        self.subscriber_with_capacity(crate::DEFAULT_QUEUE_CAPACITY)
    }

    /// [`subscriber`](Self::subscriber) whose queue holds `capacity` messages (at least 1).
    pub fn subscriber_with_capacity(&self, capacity: usize) -> Result<Subscriber> {
        if self.config().protocol != Protocol::Resp3 {
            return Err(Error::refused(
                RefusedKind::OwnConnection,
                "subscriptions ride a shared client's connection over RESP3 only \
                 (`protocol=3` in the URL); over RESP2 a subscribed connection carries \
                 nothing else: open a PubSub",
            ));
        }
        let (tx, messages) = mpsc::channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let feed = Feed {
            tx,
            dropped: dropped.clone(),
        };
        let id = self.handle.shared.registry().join(feed);
        Ok(Subscriber {
            client: self.clone(),
            id,
            messages,
            dropped,
        })
    }

    /// A [`Subscriber`] to these channels (`SUBSCRIBE`), once the server confirmed them.
    pub async fn subscribe(&self, channels: impl ToArgs) -> Result<Subscriber> {
        let sub = self.subscriber()?;
        sub.subscribe(channels).await?;
        Ok(sub)
    }

    /// A [`Subscriber`] to these patterns (`PSUBSCRIBE`).
    pub async fn psubscribe(&self, patterns: impl ToArgs) -> Result<Subscriber> {
        let sub = self.subscriber()?;
        sub.psubscribe(patterns).await?;
        Ok(sub)
    }

    /// A [`Subscriber`] to these shard channels (`SSUBSCRIBE`, Redis 7; in a cluster, the
    /// node must serve their slot).
    pub async fn ssubscribe(&self, channels: impl ToArgs) -> Result<Subscriber> {
        let sub = self.subscriber()?;
        sub.ssubscribe(channels).await?;
        Ok(sub)
    }

    /// Sends subscription commands (one name each, so one answer each: a confirmation
    /// push or an error) and waits for every answer; the first error the server gave.
    async fn confirm(&self, op: &Op) -> Result<()> {
        let cmds = op.one_per_name();
        if cmds.is_empty() {
            return Ok(());
        }
        let timeout = self.config().response_timeout;
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let encode = |out: &mut bytes::BytesMut| cmds.iter().for_each(|c| c.encode(out));
        let answers = match self
            .request(&encode, cmds.len(), (timeout, deadline), true, true)
            .await?
        {
            Answer::One(reply) => vec![reply],
            Answer::Many(replies) => replies,
        };
        match answers.iter().find_map(|r| r.view().to_error_line()) {
            Some(line) => Err(Error::from(ServerError::parse(line))),
            None => Ok(()),
        }
    }
}

impl Subscriber {
    /// Subscribes to channels (`SUBSCRIBE`): a name, or a slice, array, `Vec` or tuple of
    /// names. Returns once the server confirmed each; on an error this subscriber is not
    /// subscribed to the names it did not have before.
    pub async fn subscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.request(Op::subscribe(Family::Channel, channels)?)
            .await
    }

    /// Subscribes to glob-style patterns (`PSUBSCRIBE`).
    pub async fn psubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        self.request(Op::subscribe(Family::Pattern, patterns)?)
            .await
    }

    /// Subscribes to shard channels (`SSUBSCRIBE`, Redis 7).
    pub async fn ssubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.request(Op::subscribe(Family::Shard, channels)?).await
    }

    /// Unsubscribes from these channels; from every channel of this subscriber when given
    /// none (`()` or an empty slice). The server is told for the channels no other
    /// subscriber of the client wants.
    pub async fn unsubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.request(Op::unsubscribe(Family::Channel, channels))
            .await
    }

    /// Unsubscribes from these patterns; from every one of this subscriber when given none.
    pub async fn punsubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        self.request(Op::unsubscribe(Family::Pattern, patterns))
            .await
    }

    /// Unsubscribes from these shard channels; from every one of this subscriber when
    /// given none.
    pub async fn sunsubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.request(Op::unsubscribe(Family::Shard, channels)).await
    }

    /// The next message, or `Some(Err(_))` once for each connection the client lost
    /// (messages published until its next connection subscribed again are lost; the
    /// subscriptions stay). Cancel-safe.
    pub async fn next_message(&mut self) -> Option<Result<Message>> {
        self.messages.recv().await
    }

    /// The next message within `timeout`: `Ok(None)` when none came in time, `Err` for a
    /// lost connection (see [`next_message`](Self::next_message)).
    pub async fn next_message_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
        match tokio::time::timeout(timeout, self.messages.recv()).await {
            Err(_) => Ok(None),
            Ok(Some(item)) => item.map(Some),
            Ok(None) => Err(Error::closed(false)),
        }
    }

    /// What this subscriber is subscribed to (as asked, and confirmed by the server).
    pub fn subscriptions(&self) -> Subscriptions {
        self.client.handle.shared.registry().subscriptions(self.id)
    }

    /// How many messages (and news of lost connections) did not fit in this subscriber's
    /// queue and were dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The client whose connection this subscriber rides.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Records what `op` changes in the registry and sends what the server must hear, in
    /// the order the registry decided it (one request of the client's subscribers at a
    /// time).
    async fn request(&self, op: Op) -> Result<()> {
        let shared = &self.client.handle.shared;
        let _in_order = shared.subscribing.lock().await;
        let Some((family, names)) = op.names() else {
            return Ok(());
        };
        match op {
            Op::Subscribe(..) => {
                let new = shared.registry().add(self.id, family, names);
                let sent = self.client.confirm(&op).await;
                if sent.is_err() {
                    // Not subscribed, as far as this subscriber knows: the names it did not
                    // have are forgotten (the server, if it did subscribe, sends messages
                    // nobody takes, until the next connection).
                    shared.registry().remove(self.id, family, &new);
                }
                sent
            }
            _ => {
                let unwanted = shared.registry().remove(self.id, family, names);
                self.client
                    .confirm(&Op::Unsubscribe(family, unwanted))
                    .await
            }
        }
    }
}

impl Drop for Subscriber {
    /// Leaves the registry; the server is told to stop sending what no other subscriber
    /// wants, by a task on the current runtime (none outside one: the server then sends
    /// those messages to nobody until the next connection).
    fn drop(&mut self) {
        let shared = self.client.handle.shared.clone();
        let unwanted = shared.registry().leave(self.id);
        if unwanted.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = self.client.clone();
        runtime.spawn(async move {
            let _in_order = shared.subscribing.lock().await;
            // While reconnecting there is nothing to tell: the next connection subscribes
            // only to what is wanted.
            if !client.is_connected() {
                return;
            }
            for (family, names) in unwanted {
                // Wanted again meanwhile: kept.
                let names: Vec<Bytes> = {
                    let registry = shared.registry();
                    names
                        .into_iter()
                        .filter(|n| !registry.is_wanted(family, n))
                        .collect()
                };
                let _ = client.confirm(&Op::Unsubscribe(family, names)).await;
            }
        });
    }
}

/// The messages, as [`Subscriber::next_message`] yields them; never ends by itself.
impl futures_core::Stream for Subscriber {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().messages.poll_recv(cx)
    }
}

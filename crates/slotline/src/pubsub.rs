//! [`PubSub`]: a subscriber for whatever a [`Client`](crate::Client) serves, async and
//! blocking.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use slotline_cluster::ClusterPubSub;
use slotline_conn::{Message, Result, ToArgs};

/// A subscriber opened by [`Client::pubsub`](crate::Client::pubsub). Over RESP3
/// (`protocol=3`) on a node, a sentinel service's master or a sharded client's first
/// master, it rides the client's own shared connection ([`Subscriber`](slotline_conn::Subscriber):
/// subscribed again after a reconnect or a failover); over RESP2, and for a replica
/// client, it is a connection of its own on that node. Over a cluster it is a
/// [`ClusterPubSub`] (classic channels on one node, shard channels on their slots'
/// masters, followed as slots move; over RESP3 on the nodes' shared clients). Messages come from
/// [`next_message`](Self::next_message), or as a [`Stream`](futures_core::Stream).
///
/// ```no_run
/// # async fn demo() -> slotline::Result<()> {
/// let client = slotline::Client::open("redis+cluster://127.0.0.1:7000").await?;
/// let mut sub = client.pubsub().await?;
/// sub.subscribe("news").await?;
/// while let Some(msg) = sub.next_message().await {
///     println!("{:?}", msg?.channel_str());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum PubSub {
    /// On one node, a connection of its own.
    Node(Box<slotline_conn::PubSub>),
    /// On the client's own shared connection (RESP3).
    Shared(slotline_conn::Subscriber),
    /// Over a cluster.
    Cluster(ClusterPubSub),
}

macro_rules! each_kind {
    ($pubsub:expr, $p:ident => $body:expr) => {
        match $pubsub {
            Self::Node($p) => $body,
            Self::Shared($p) => $body,
            Self::Cluster($p) => $body,
        }
    };
}

impl PubSub {
    /// Subscribes to channels (`SUBSCRIBE`).
    pub async fn subscribe(&self, channels: impl ToArgs) -> Result<()> {
        each_kind!(self, p => p.subscribe(channels).await)
    }

    /// Subscribes to patterns (`PSUBSCRIBE`).
    pub async fn psubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        each_kind!(self, p => p.psubscribe(patterns).await)
    }

    /// Subscribes to shard channels (`SSUBSCRIBE`).
    pub async fn ssubscribe(&self, channels: impl ToArgs) -> Result<()> {
        each_kind!(self, p => p.ssubscribe(channels).await)
    }

    /// Unsubscribes from channels (all when given none).
    pub async fn unsubscribe(&self, channels: impl ToArgs) -> Result<()> {
        each_kind!(self, p => p.unsubscribe(channels).await)
    }

    /// Unsubscribes from patterns (all when given none).
    pub async fn punsubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        each_kind!(self, p => p.punsubscribe(patterns).await)
    }

    /// Unsubscribes from shard channels (all when given none).
    pub async fn sunsubscribe(&self, channels: impl ToArgs) -> Result<()> {
        each_kind!(self, p => p.sunsubscribe(channels).await)
    }

    /// The next message; `None` once the subscriber has ended.
    pub async fn next_message(&mut self) -> Option<Result<Message>> {
        each_kind!(self, p => p.next_message().await)
    }

    /// The next message within `timeout`: `Ok(None)` when none came in time.
    pub async fn next_message_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
        each_kind!(self, p => p.next_message_timeout(timeout).await)
    }
}

impl futures_core::Stream for PubSub {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Message>>> {
        match self.get_mut() {
            PubSub::Node(p) => Pin::new(&mut **p).poll_next(cx),
            PubSub::Shared(p) => Pin::new(p).poll_next(cx),
            PubSub::Cluster(p) => Pin::new(p).poll_next(cx),
        }
    }
}

/// The blocking [`PubSub`].
pub(crate) mod blocking {
    use std::time::Duration;

    use slotline_conn::{Message, Result, ToArgs};

    /// A blocking subscriber opened by [`blocking::Client::pubsub`](crate::blocking::Client::pubsub)
    /// (see [`crate::PubSub`]).
    #[derive(Debug)]
    #[non_exhaustive]
    pub enum PubSub {
        /// On one node, a connection of its own.
        Node(Box<slotline_conn::blocking::PubSub>),
        /// On the client's own shared connection (RESP3).
        Shared(slotline_conn::blocking::Subscriber),
        /// Over a cluster.
        Cluster(slotline_cluster::blocking::ClusterPubSub),
    }

    impl PubSub {
        /// Subscribes to channels (`SUBSCRIBE`).
        pub fn subscribe(&mut self, channels: impl ToArgs) -> Result<()> {
            each_kind!(self, p => p.subscribe(channels))
        }

        /// Subscribes to patterns (`PSUBSCRIBE`).
        pub fn psubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
            each_kind!(self, p => p.psubscribe(patterns))
        }

        /// Subscribes to shard channels (`SSUBSCRIBE`).
        pub fn ssubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
            each_kind!(self, p => p.ssubscribe(channels))
        }

        /// Unsubscribes from channels (all when given none).
        pub fn unsubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
            each_kind!(self, p => p.unsubscribe(channels))
        }

        /// Unsubscribes from patterns (all when given none).
        pub fn punsubscribe(&mut self, patterns: impl ToArgs) -> Result<()> {
            each_kind!(self, p => p.punsubscribe(patterns))
        }

        /// Unsubscribes from shard channels (all when given none).
        pub fn sunsubscribe(&mut self, channels: impl ToArgs) -> Result<()> {
            each_kind!(self, p => p.sunsubscribe(channels))
        }

        /// The next message; `None` once the subscriber has ended.
        pub fn next_message(&mut self) -> Option<Result<Message>> {
            each_kind!(self, p => p.next_message())
        }

        /// The next message within `timeout`: `Ok(None)` when none came in time.
        pub fn next_message_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
            each_kind!(self, p => p.next_message_timeout(timeout))
        }
    }
}

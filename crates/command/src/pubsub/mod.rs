//! Pub/sub messages and the sans-IO [`Session`] that tells what a subscribed connection's
//! frames mean (a message, a confirmation, a pong) and which request a confirmation
//! completes, and the [`Registry`] of the subscribers that share one connection with other
//! requests (the shared client over RESP3). The connections that drive them (`PubSub` and
//! `Subscriber` in `slotline-conn`, async and blocking) live above this crate.

mod registry;
mod session;

use std::collections::BTreeSet;

use bytes::Bytes;
use slotline_resp::Frame;

use crate::{FromReply, Result};

pub use registry::{is_confirmation, Registry, SubscriberId};
pub use session::{Confirmed, Event, Family, Op, Session};

/// What kind of push a [`Message`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// `message`: published to a channel subscribed with `SUBSCRIBE`.
    Message,
    /// `pmessage`: published to a channel matching a pattern subscribed with `PSUBSCRIBE`;
    /// [`Message::pattern`] holds the pattern.
    PMessage,
    /// `smessage`: published with `SPUBLISH` to a shard channel subscribed with
    /// `SSUBSCRIBE` (Redis 7).
    SMessage,
    /// The server ended a shard channel subscription on its own: in a cluster, when a
    /// channel's slot moves to another node, Redis sends an unsolicited `sunsubscribe`.
    /// [`Message::channel`] is the channel dropped (already gone from
    /// `PubSub::shard_channels`); the payload is empty. Subscribe again on the node that
    /// serves the slot now.
    ShardUnsubscribed,
    /// Over RESP2, an invalidation of client-side tracking (`CLIENT TRACKING ... REDIRECT`)
    /// on `__redis__:invalidate`: the keys are [`Message::invalidated_keys`]; the payload is
    /// their RESP encoding.
    Invalidation,
}

/// One message received on a pub/sub connection. Channel, pattern and payload are views
/// into the bytes read from the socket, not copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What kind of message this is.
    pub kind: MessageKind,
    /// The channel it was published to.
    pub channel: Bytes,
    /// The pattern that matched the channel (for [`MessageKind::PMessage`] only).
    pub pattern: Option<Bytes>,
    /// The published payload, binary-safe.
    pub payload: Bytes,
}

impl Message {
    /// The payload converted like a reply: `String`, `Vec<u8>`, integers, ...
    ///
    /// ```
    /// use slotline_command::{Message, MessageKind};
    /// let m = Message {
    ///     kind: MessageKind::Message,
    ///     channel: "ticks".into(),
    ///     pattern: None,
    ///     payload: "42".into(),
    /// };
    /// assert_eq!(m.payload::<i64>()?, 42);
    /// assert_eq!(m.channel_str(), Some("ticks"));
    /// # Ok::<(), slotline_command::Error>(())
    /// ```
    pub fn payload<T: FromReply>(&self) -> Result<T> {
        T::from_reply(Frame::Bulk(self.payload.clone()))
    }

    /// For a [`MessageKind::Invalidation`]: `Some(keys)`, or `None` for every key (the
    /// server was flushed). An empty list for any other message.
    pub fn invalidated_keys(&self) -> Option<Vec<Bytes>> {
        if self.kind != MessageKind::Invalidation {
            return Some(Vec::new());
        }
        let mut buf = bytes::BytesMut::from(&self.payload[..]);
        match slotline_resp::Decoder::default().decode(&mut buf) {
            Ok(Some(Frame::Array(keys))) => Some(
                keys.into_iter()
                    .filter_map(|k| match k {
                        Frame::Bulk(b) | Frame::Simple(b) => Some(b),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// The channel as text; `None` when it is not UTF-8.
    pub fn channel_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.channel).ok()
    }

    /// The pattern as text; `None` when there is none or it is not UTF-8.
    pub fn pattern_str(&self) -> Option<&str> {
        self.pattern
            .as_deref()
            .and_then(|p| std::str::from_utf8(p).ok())
    }
}

/// The subscriptions of a pub/sub connection, as the server confirmed them.
///
/// Take a snapshot with `PubSub::subscriptions` and replay it on a new connection with
/// `PubSub::resubscribe` (after a connection loss, a failover, or a slot move).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    /// Channels (`SUBSCRIBE`).
    pub channels: BTreeSet<Bytes>,
    /// Patterns (`PSUBSCRIBE`).
    pub patterns: BTreeSet<Bytes>,
    /// Shard channels (`SSUBSCRIBE`).
    pub shard_channels: BTreeSet<Bytes>,
}

impl Subscriptions {
    /// Whether there is no subscription at all.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty()
    }

    /// How many subscriptions there are, of all three kinds.
    pub fn len(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard_channels.len()
    }
}

//! [`Registry`]: the subscribers of one connection that also carries other requests (the
//! shared client over RESP3), as plain state. Several subscribers may want one channel;
//! the server is asked once and told to stop when the last of them leaves. Each message
//! goes to every subscriber that wants its channel, pattern or shard channel; what the
//! connection must subscribe again after a reconnect is what the registry holds.
//!
//! On a shared connection every subscription command names one channel, so that each gets
//! exactly one answer (its confirmation push, or an error): the answers are matched with
//! requests by order like any other reply ([`Op::one_per_name`]). What the server sends
//! on its own (messages, a shard channel it ends when the slot moves) comes here through
//! [`Registry::route`].

use std::collections::HashMap;

use bytes::Bytes;
use slotline_resp::Frame;

use super::session::{interpret, Push};
use super::{Family, Message, MessageKind, Op, Subscriptions};
use crate::Cmd;

/// Tells one subscriber of a [`Registry`] from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriberId(u64);

/// One subscriber: where its messages go, and what it asked for.
#[derive(Debug)]
struct Subscriber<S> {
    sink: S,
    subs: Subscriptions,
}

/// The subscribers of one shared connection and what each wants (see the module docs).
/// `S` is where a subscriber's messages go (a channel sender in the client; anything in
/// tests).
#[derive(Debug)]
pub struct Registry<S> {
    subscribers: HashMap<SubscriberId, Subscriber<S>>,
    /// How many subscribers want each subscription.
    wanted: HashMap<(Family, Bytes), usize>,
    next_id: u64,
}

impl<S> Default for Registry<S> {
    fn default() -> Self {
        Registry {
            subscribers: HashMap::new(),
            wanted: HashMap::new(),
            next_id: 0,
        }
    }
}

impl<S> Registry<S> {
    /// Adds a subscriber, with no subscription yet, whose messages go to `sink`.
    pub fn join(&mut self, sink: S) -> SubscriberId {
        let id = SubscriberId(self.next_id);
        self.next_id += 1;
        self.subscribers.insert(
            id,
            Subscriber {
                sink,
                subs: Subscriptions::default(),
            },
        );
        id
    }

    /// Records that `id` wants `names` of `family` (each name once per subscriber); returns
    /// the names it did not have (to forget again if the server refuses them).
    pub fn add(&mut self, id: SubscriberId, family: Family, names: &[Bytes]) -> Vec<Bytes> {
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return Vec::new();
        };
        let mut new = Vec::new();
        for name in names {
            if family.set(&mut sub.subs).insert(name.clone()) {
                *self.wanted.entry((family, name.clone())).or_default() += 1;
                new.push(name.clone());
            }
        }
        new
    }

    /// `id` no longer wants `names` of `family` (every one of this family when `names` is
    /// empty). Returns the names no subscriber wants any more: the server is to be told.
    pub fn remove(&mut self, id: SubscriberId, family: Family, names: &[Bytes]) -> Vec<Bytes> {
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return Vec::new();
        };
        let set = family.set(&mut sub.subs);
        let dropped: Vec<Bytes> = if names.is_empty() {
            std::mem::take(set).into_iter().collect()
        } else {
            names.iter().filter(|n| set.remove(*n)).cloned().collect()
        };
        dropped
            .into_iter()
            .filter(|name| self.release(family, name))
            .collect()
    }

    /// The subscriber is gone. Returns, by family, the names no subscriber wants any more.
    pub fn leave(&mut self, id: SubscriberId) -> Vec<(Family, Vec<Bytes>)> {
        let Some(sub) = self.subscribers.remove(&id) else {
            return Vec::new();
        };
        let Subscriptions {
            channels,
            patterns,
            shard_channels,
        } = sub.subs;
        [
            (Family::Channel, channels),
            (Family::Pattern, patterns),
            (Family::Shard, shard_channels),
        ]
        .into_iter()
        .map(|(family, names)| {
            let unwanted = names
                .into_iter()
                .filter(|name| self.release(family, name))
                .collect::<Vec<_>>();
            (family, unwanted)
        })
        .filter(|(_, names)| !names.is_empty())
        .collect()
    }

    /// One subscriber fewer wants this; true when it was the last.
    fn release(&mut self, family: Family, name: &Bytes) -> bool {
        let key = (family, name.clone());
        match self.wanted.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                self.wanted.remove(&key);
                true
            }
            None => false,
        }
    }

    /// Whether some subscriber wants this subscription.
    pub fn is_wanted(&self, family: Family, name: &Bytes) -> bool {
        self.wanted.contains_key(&(family, name.clone()))
    }

    /// What subscriber `id` asked for (empty for an unknown one).
    pub fn subscriptions(&self, id: SubscriberId) -> Subscriptions {
        self.subscribers
            .get(&id)
            .map(|s| s.subs.clone())
            .unwrap_or_default()
    }

    /// Whether no subscriber wants anything.
    pub fn is_empty(&self) -> bool {
        self.wanted.is_empty()
    }

    /// The commands that make every wanted subscription on a new connection, one per name
    /// (empty when nothing is wanted).
    pub fn resubscribe(&self) -> Vec<Cmd> {
        let mut by_family: [Vec<Bytes>; 3] = Default::default();
        for (family, name) in self.wanted.keys() {
            by_family[*family as usize].push(name.clone());
        }
        [Family::Channel, Family::Pattern, Family::Shard]
            .into_iter()
            .zip(by_family)
            .filter(|(_, names)| !names.is_empty())
            .flat_map(|(family, mut names)| {
                names.sort();
                Op::Subscribe(family, names).one_per_name()
            })
            .collect()
    }

    /// Every subscriber's sink (to tell them all of a lost connection).
    pub fn sinks(&self) -> impl Iterator<Item = &S> {
        self.subscribers.values().map(|s| &s.sink)
    }

    /// Takes a push the server sent on its own: a message goes to `deliver` once for each
    /// subscriber that wants it; a shard channel the server ended (its slot moved) is
    /// forgotten and its subscribers get a [`MessageKind::ShardUnsubscribed`] message;
    /// other pub/sub frames (a late confirmation) are dropped. A push that is not pub/sub
    /// (an invalidation, for instance) is given back.
    pub fn route(&mut self, push: Frame, mut deliver: impl FnMut(&S, Message)) -> Option<Frame> {
        if !is_pubsub(&push) {
            return Some(push);
        }
        match interpret(push) {
            Ok(Push::Message(mut message)) => {
                // Each subscriber's copy shares these few bytes, not the whole read
                // buffer: its count of owners is touched by every subscriber's thread,
                // and the connection's reader goes on reading into that buffer.
                message.channel = Bytes::copy_from_slice(&message.channel);
                message.payload = Bytes::copy_from_slice(&message.payload);
                message.pattern = message.pattern.as_deref().map(Bytes::copy_from_slice);
                let (family, name) = match message.kind {
                    MessageKind::PMessage => (Family::Pattern, message.pattern.as_ref()),
                    MessageKind::SMessage => (Family::Shard, Some(&message.channel)),
                    _ => (Family::Channel, Some(&message.channel)),
                };
                let name = name?;
                for sub in self.subscribers.values() {
                    if family.set_ref(&sub.subs).contains(name) {
                        deliver(&sub.sink, message.clone());
                    }
                }
            }
            Ok(Push::Unsubscribed(Family::Shard, Some(channel), _)) => {
                self.wanted.remove(&(Family::Shard, channel.clone()));
                for sub in self.subscribers.values_mut() {
                    if sub.subs.shard_channels.remove(&channel) {
                        let ended = Message {
                            kind: MessageKind::ShardUnsubscribed,
                            channel: channel.clone(),
                            pattern: None,
                            payload: Bytes::new(),
                        };
                        deliver(&sub.sink, ended);
                    }
                }
            }
            _ => {}
        }
        None
    }
}

/// Whether `kind` (a push's first element) names a subscription confirmation
/// (`subscribe`, `punsubscribe`, ...): on a shared connection such a push may answer a
/// request.
pub fn is_confirmation(kind: &[u8]) -> bool {
    const KINDS: [&[u8]; 6] = [
        b"subscribe",
        b"psubscribe",
        b"ssubscribe",
        b"unsubscribe",
        b"punsubscribe",
        b"sunsubscribe",
    ];
    KINDS.iter().any(|k| k.eq_ignore_ascii_case(kind))
}

/// Whether a push is a pub/sub message or confirmation.
fn is_pubsub(push: &Frame) -> bool {
    let (Frame::Push(items) | Frame::Array(items)) = push else {
        return false;
    };
    match items.first() {
        Some(Frame::Bulk(kind) | Frame::Simple(kind)) => {
            is_confirmation(kind)
                || [&b"message"[..], b"pmessage", b"smessage"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(kind))
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;

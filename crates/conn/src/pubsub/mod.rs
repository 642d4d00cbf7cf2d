//! Pub/sub: a connection given over to `SUBSCRIBE`, `PSUBSCRIBE` and `SSUBSCRIBE`, whose
//! messages arrive as a [`Stream`](futures_core::Stream) (async [`PubSub`]) or an iterator
//! ([`blocking::PubSub`](crate::blocking::PubSub)).
//!
//! What the server's push frames mean (a message, a confirmation, a pong) and which request
//! a confirmation completes is decided once, in a sans-IO state machine (`session`) that
//! both drivers feed.

mod client;

pub use client::{MessageStream, Messages, PubSub};

/// How many messages the async [`PubSub`] keeps ready for its reader by default. When the
/// queue is full the connection's task stops reading the socket, so unread messages wait
/// in the kernel's and the server's buffers, not in this process.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

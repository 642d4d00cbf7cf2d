//! The blocking API: the same names as the async one, on std threads and sockets.
//!
//! ```no_run
//! use slotline_conn::blocking::{Commands, Connection};
//! let con = Connection::connect("redis://127.0.0.1:6379/0")?;
//! con.set("foo", "bar")?;
//! let v: Option<String> = con.get("foo")?;
//! # let _ = v;
//! # Ok::<(), slotline_conn::Error>(())
//! ```

mod client;
mod connection;
mod pubsub;
mod replicated;
mod runtime;
mod stream;
mod subscriber;

pub use client::Client;
pub use connection::Connection;
pub use pubsub::{IntoMessages, Messages, PubSub};
pub use replicated::Replicated;
pub use runtime::Runtime;
pub use slotline_command::blocking::{Commands, Execute, Query, ScanIter};
pub use subscriber::Subscriber;

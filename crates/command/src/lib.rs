//! # slotline-command
//!
//! What a Redis request means, without I/O: commands, arguments, pipelines and scripts;
//! converting replies into Rust types; errors and the one rule for sending a request again;
//! the command table (keys, flags, routing tips, commands the server may hold, commands a
//! shared socket refuses); key routing and merging by shard; replica read routing; the scan
//! cursor; and the pub/sub session. Every client of slotline (`slotline-conn`,
//! `slotline-sentinel`, `slotline-cluster`) is built on it, and it needs no socket, TLS or
//! runtime: its decisions are plain state that callers drive.
//!
//! ```
//! use slotline_command::{cmd, pipe, Commands, Execute, Query, Request, Response, Result};
//!
//! // A command is bytes ready for the wire.
//! let set = cmd("SET").arg("k").arg(42);
//! assert_eq!(set.name(), "SET");
//!
//! // Any client implements `Execute`; `Query` and `Commands` come with it.
//! async fn demo(client: &impl Execute) -> Result<()> {
//!     client.set("k", 42).await?;
//!     let v: Option<i64> = client.get("k").await?;
//!     let (a, b): (i64, i64) = client.pipeline(pipe().incr("n").incr("n")).await?;
//!     # let _ = (v, a, b);
//!     Ok(())
//! }
//! ```

mod addr;
mod args;
mod backoff;
pub mod blocking;
pub mod cache;
mod cmd;
pub mod command_table;
mod commands;
mod durability;
mod error;
mod hold;
pub mod metrics;
mod pipeline;
pub mod pubsub;
mod query;
mod refusal;
mod replica_router;
mod reply;
mod retry;
mod scan;
mod script;
mod server_error;
pub mod shard;

pub use addr::{split_host_port, Addr, DEFAULT_PORT};
pub use args::ToArgs;
pub use backoff::Backoff;
pub use cmd::{cmd, Args, Cmd};
pub use durability::Durability;
pub use error::{
    Error, ErrorKind, Fate, RefusedHandshake, RefusedKind, Result, ServerError, ServerErrorKind,
    TypeError, UnavailableKind,
};
pub use hold::Hold;
pub use pipeline::{pipe, Pipeline};
pub use pubsub::{Message, MessageKind, Subscriptions};
pub use query::{Commands, Execute, Query, Request, Response};
pub use replica_router::{replica_could_not_serve, ReadFrom, ReplicaPick, ReplicaRouter};
pub use reply::{convert, convert_read, FromReply};
pub use retry::{Resends, RetryPolicy};
pub use scan::{ScanCursor, ScanOptions, ScanState, ScanStream};
pub use script::{Script, ScriptCall};
pub use slotline_resp::{Frame, ReadReply, Reply, ReplyKind, ReplyRef};

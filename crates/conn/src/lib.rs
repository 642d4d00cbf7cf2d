//! # slotline-conn
//!
//! Connections to one Redis server, async (tokio) and blocking (std), with the same names:
//! config and URLs, commands, pipelines, transactions, scripts, and typed helpers.
//!
//! ```no_run
//! # async fn demo() -> slotline_conn::Result<()> {
//! use slotline_conn::{cmd, pipe, Commands, Connection, Query};
//!
//! let con = Connection::connect("redis://127.0.0.1:6379/0").await?;
//! con.set("foo", "bar").await?;
//! let v: Option<String> = con.get("foo").await?;
//! let n: i64 = con.query(&cmd("INCR").arg("n")).await?;
//! let (a, b): (i64, i64) = con.pipeline(pipe().incr("n").incr("n")).await?;
//! # let _ = (v, n, a, b); Ok(()) }
//! ```

mod args;
pub mod blocking;
mod client;
mod cmd;
pub mod command_table;
mod commands;
mod config;
mod connection;
mod durability;
mod error;
mod hold;
mod io_stats;
mod pipeline;
mod protocol;
mod pubsub;
mod query;
mod replica_router;
mod replicated;
mod reply;
mod retry;
mod scan;
mod script;
pub mod shard;
mod socket;
mod stream;
pub mod tls;
pub mod url;

pub use args::ToArgs;
pub use client::{Client, ClientOptions, Resolver, WriteWay};
pub use cmd::{cmd, Args, Cmd};
pub use config::{Addr, ConnectionConfig, IntoConnectionConfig, DEFAULT_PORT};
pub use connection::Connection;
pub use durability::Durability;
pub use error::{
    Error, Fate, RefusedKind, Result, ServerError, ServerErrorKind, TypeError, UnavailableKind,
};
pub use hold::Hold;
pub use io_stats::IoStats;
pub use pipeline::{pipe, Pipeline};
pub use pubsub::{
    Message, MessageKind, MessageStream, Messages, PubSub, Subscriptions, DEFAULT_QUEUE_CAPACITY,
};
pub use query::{Commands, Execute, Query, Request, Response};
pub use replica_router::{replica_could_not_serve, ReplicaPick, ReplicaRouter};
pub use replicated::{replica_addrs_from_role, ReadFrom, Replicated};
pub use reply::{convert, convert_read, FromReply};
pub use retry::{random_unit, Resends, RetryPolicy};
pub use scan::{ScanCursor, ScanOptions, ScanState, ScanStream};
pub use script::{Script, ScriptCall};
pub use slotline_resp::{Frame, ReadReply, Reply, ReplyKind, ReplyRef};
pub use tls::TlsConfig;

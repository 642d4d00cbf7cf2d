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

pub mod blocking;
mod client;
mod config;
mod connection;
mod io_stats;
mod monitor;
mod protocol;
mod pubsub;
mod replicated;
mod socket;
mod stream;
pub mod tls;
mod trace;
#[cfg(feature = "tracing")]
pub use trace::spans::request_span;
pub mod url;

pub use client::{Client, ClientOptions, PushHandler, Resolver, Subscriber, WriteWay};
pub use config::{ConnectionConfig, IntoConnectionConfig, Protocol};
pub use connection::Connection;
pub use io_stats::IoStats;
pub use monitor::Monitor;
pub use pubsub::{MessageStream, Messages, PubSub, DEFAULT_QUEUE_CAPACITY};
pub use replicated::{replica_addrs_from_role, Replicated};
pub use slotline_command::{
    cache, cmd, command_table, convert, convert_read, metrics, pipe, shard, Addr, Args, Cmd,
    Commands, Durability, Error, ErrorKind, Execute, Fate, FromReply, Hold, Message, MessageKind,
    Pipeline, Query, ReadFrom, RefusedKind, Request, Response, Result, RetryPolicy, ScanCursor,
    ScanOptions, ScanState, ScanStream, Script, ScriptCall, ServerError, ServerErrorKind,
    Subscriptions, ToArgs, TypeError, UnavailableKind, DEFAULT_PORT,
};
pub use slotline_resp::{Frame, ReadReply, Reply, ReplyKind, ReplyRef};
pub use tls::TlsConfig;

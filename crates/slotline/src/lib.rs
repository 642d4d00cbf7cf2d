//! # slotline
//!
//! A Redis client for Rust, written from the wire up, for every way Redis is deployed: a
//! single node, a master with replicas, replicas watched by Sentinel, Redis Cluster, and
//! sharding with failover. Async on tokio, and blocking with the same names.
//!
//! ```no_run
//! # async fn demo() -> slotline::Result<()> {
//! use slotline::{cmd, Client, Commands, Query};
//!
//! let c = Client::open("redis+cluster://127.0.0.1:7000").await?;   // or redis://, redis+sentinel://h:p/svc[,svc2,...]
//! c.set("foo", "bar").await?;
//! let v: Option<String> = c.get("foo").await?;
//! let n: i64 = c.query(&cmd("INCR").arg("n")).await?;
//! # let _ = (v, n); Ok(()) }
//! ```
//!
//! | crate | re-exported as | what |
//! |---|---|---|
//! | `slotline-resp` | [`resp`] | zero-copy, incremental, bounded RESP2 codec |
//! | `slotline-command` | [`command`] | requests without I/O: commands, conversions, errors and the resend rule, the command table, shard routing |
//! | `slotline-conn` | [`conn`] | connections, commands, pipelines, transactions, pub/sub, the shared client, replication |
//! | `slotline-sentinel` | [`sentinel`] | sentinel discovery and clients that follow failover |
//! | `slotline-cluster` | [`cluster`] | slots, routing, redirects, the cluster client |

/// Runs `$body` with `$c` bound to the client inside whichever mode `$client` (a facade
/// `Client`, async or blocking) is in.
macro_rules! each_mode {
    ($client:expr, $c:ident => $body:expr) => {
        match $client {
            Self::Node($c) => $body,
            Self::SentinelMaster($c) => $body,
            Self::SentinelReplica($c) => $body,
            Self::ShardedSentinel($c) => $body,
            Self::Cluster($c) => $body,
        }
    };
}

pub mod blocking;
pub mod cli;
mod client;
mod pubsub;
mod target;

#[cfg(feature = "metrics")]
pub mod metrics_export;
pub use client::Client;
pub use pubsub::PubSub;
pub use slotline_cluster as cluster;
pub use slotline_command as command;
pub use slotline_conn as conn;
pub use slotline_conn::{
    cmd, pipe, Cmd, Commands, Error, ErrorKind, Frame, FromReply, Pipeline, Protocol, Query,
    ReadFrom, Result, Script, ServerErrorKind, ToArgs,
};
pub use slotline_resp as resp;
pub use slotline_sentinel as sentinel;
pub use target::Target;

/// The README's Rust examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

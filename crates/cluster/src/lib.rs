//! # slotline-cluster
//!
//! Redis Cluster, from the wire up: hash slots, the slot map, routing by key through the
//! command table, `MOVED`/`ASK` redirects, retries, failover and resharding under load,
//! multi-key commands split per slot, cluster-wide commands fanned out, pipelines split per
//! node, a cluster `SCAN`, and sharded pub/sub that follows its slots. Async on tokio
//! ([`ClusterClient`]) and blocking ([`blocking::ClusterClient`]), with the same names;
//! both implement slotline's `Query` trait, so every typed helper (`get`, `set`, `mget`,
//! `incr`, ...) works on them.
//!
//! ```no_run
//! # async fn demo() -> slotline_conn::Result<()> {
//! use slotline_cluster::{ClusterClient, ClusterConfig};
//! use slotline_conn::{pipe, Commands, Query};
//!
//! let cl = ClusterClient::connect(["127.0.0.1:7000"], ClusterConfig::default()).await?;
//! cl.set("foo", "bar").await?;
//! let slot = slotline_cluster::slot(b"foo");
//! let (a, b): (i64, i64) = cl.pipeline(pipe().incr("n:1").incr("n:2")).await?; // two slots
//! # let _ = (slot, a, b); Ok(()) }
//! ```
//!
//! ## One dispatch
//! Every request, whatever its shape (one command, the parts of a split `MGET`, a fan-out,
//! a pipeline, a transaction, a scan step, a shard channel's subscription), goes through
//! one sans-IO dispatch machine that says what to send where and takes each outcome
//! (reply, `MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, an I/O error before or
//! after writing, a timeout), and one async driver that runs it. The retry budget of a
//! request is [`ClusterConfig::retry`], once: the node clients underneath never resend.
//! Key routing and reply merging are `slotline-conn`'s [`shard`](slotline_conn::shard)
//! module, answered here with hash slots.

pub mod blocking;
mod client;
mod config;
mod dispatch;
mod drive;
mod fetch;
mod plan;
mod pubsub;
mod refresh;
mod registry;
mod retry;
mod route;
mod slot;
mod state;
mod topology;
mod trace;

pub use client::ClusterClient;
pub use config::{ClusterConfig, Credentials, IntoNodeAddr, TlsNodeName};
pub use pubsub::ClusterPubSub;
pub use slot::{hash_tag, slot, SLOTS};
pub use slotline_conn::{ReadFrom, RetryPolicy};
pub use state::ClusterStats;
pub use topology::{Shard, SlotMap};

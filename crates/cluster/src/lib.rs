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
//! The decisions are sans-IO and public, for other drivers and for tests: [`slot`],
//! [`Topology`] (parses `CLUSTER SHARDS`/`CLUSTER SLOTS`), [`SlotMap`], [`route()`] (where
//! a command goes, how to merge), [`Attempts`] (what a reply or failure means: redirect,
//! retry, or done), [`RefreshScheduler`] (coalesced, rate-limited, jittered refreshes)
//! and [`ClusterScanState`].

pub mod blocking;
mod client;
mod config;
mod node;
mod pubsub;
mod refresh;
mod retry;
mod route;
mod scan;
mod slot;
mod topology;

pub use client::{ClusterClient, ClusterStats};
pub use config::{ClusterConfig, Credentials, IntoNodeAddr};
pub use pubsub::ClusterPubSub;
pub use refresh::RefreshScheduler;
pub use retry::{
    cluster_error_kind, cluster_error_line_kind, redirect_addr, Attempts, Decision, Outcome,
    RetryPolicy,
};
pub use route::{route, Merge, Route, SPLIT_COMMANDS};
pub use scan::{ClusterScan, ClusterScanState, ScanStep};
pub use slot::{hash_tag, slot, SLOTS};
pub use slotline_conn::ReadFrom;
pub use topology::{NodeInfo, Role, Shard, ShardInfo, SlotMap, Topology, TopologySource};

//! The blocking API: the same names as the async one, for threads.
//!
//! ```no_run
//! use slotline_cluster::blocking::ClusterClient;
//! use slotline_cluster::ClusterConfig;
//! use slotline_conn::blocking::Commands;
//!
//! let cl = ClusterClient::connect(["127.0.0.1:7000"], ClusterConfig::default())?;
//! cl.set("foo", "bar")?;
//! let v: Option<String> = cl.get("foo")?;
//! # let _ = v;
//! # Ok::<(), slotline_conn::Error>(())
//! ```

use std::future::Future;
use std::sync::Arc;

use std::time::Duration;

use slotline_conn::blocking::{Execute, Runtime};
use slotline_conn::{
    Addr, Execute as AsyncExecute, Message, Request, Response, Result, Subscriptions, ToArgs,
};

use crate::config::{ClusterConfig, IntoNodeAddr};
use crate::state::ClusterStats;
use crate::topology::SlotMap;

/// The blocking twin of [`crate::ClusterClient`]: `Clone + Send + Sync`, shared by every
/// thread. It runs the async client on a small runtime of its own (one worker thread),
/// so routing, redirects, retries and refreshes are the same code; the calling thread
/// waits parked. Use [`crate::ClusterClient`] from async code.
#[derive(Debug, Clone)]
pub struct ClusterClient {
    inner: crate::ClusterClient,
    runtime: Arc<Runtime>,
}

impl ClusterClient {
    /// Connects (see [`crate::ClusterClient::connect`]).
    pub fn connect<I>(startup_nodes: I, config: ClusterConfig) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: IntoNodeAddr,
    {
        let runtime = Runtime::new("slotline-cluster")?;
        let inner = runtime.block_on(crate::ClusterClient::connect(startup_nodes, config))?;
        Ok(ClusterClient { inner, runtime })
    }

    /// Connects from a `redis+cluster://` URL.
    pub fn open(url: &str) -> Result<Self> {
        let (nodes, config) = ClusterConfig::from_url(url)?;
        ClusterClient::connect(nodes, config)
    }

    fn block_on<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.runtime.block_on(fut)
    }

    /// The async client inside (same nodes, same slot map).
    pub fn as_async(&self) -> &crate::ClusterClient {
        &self.inner
    }

    /// The settings.
    pub fn config(&self) -> &ClusterConfig {
        self.inner.config()
    }

    /// A copy of the slot map as the client knows it now.
    pub fn slot_map(&self) -> SlotMap {
        self.inner.slot_map()
    }

    /// The master serving `slot`, as the client knows it now.
    pub fn master_for_slot(&self, slot: u16) -> Option<Addr> {
        self.inner.master_for_slot(slot)
    }

    /// The masters serving slots.
    pub fn masters(&self) -> Vec<Addr> {
        self.inner.masters()
    }

    /// What the client did so far.
    pub fn stats(&self) -> ClusterStats {
        self.inner.stats()
    }

    /// Reloads the slot map now.
    pub fn refresh(&self) -> Result<()> {
        self.block_on(self.inner.refresh())
    }

    /// A blocking connection of its own to the master serving `key`'s slot.
    pub fn dedicated_for_key(
        &self,
        key: impl AsRef<[u8]>,
    ) -> Result<slotline_conn::blocking::Connection> {
        slotline_conn::blocking::Connection::connect(self.inner.dedicated_config(key.as_ref())?)
    }

    /// A blocking cluster subscriber (see [`crate::ClusterPubSub`]).
    pub fn pubsub(&self) -> Result<ClusterPubSub> {
        let inner = self.block_on(self.inner.pubsub())?;
        Ok(ClusterPubSub {
            inner,
            runtime: self.runtime.clone(),
        })
    }
}

impl Execute for ClusterClient {
    fn execute(&self, request: Request<'_>) -> Result<Response> {
        self.block_on(AsyncExecute::execute(&self.inner, request))
    }
}

/// The blocking twin of [`crate::ClusterPubSub`].
#[derive(Debug)]
pub struct ClusterPubSub {
    inner: crate::ClusterPubSub,
    runtime: Arc<Runtime>,
}

impl ClusterPubSub {
    fn block_on<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.runtime.block_on(fut)
    }

    /// Subscribes to channels.
    pub fn subscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.block_on(self.inner.subscribe(channels))
    }

    /// Subscribes to patterns.
    pub fn psubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        self.block_on(self.inner.psubscribe(patterns))
    }

    /// Subscribes to shard channels, each on the master serving its slot.
    pub fn ssubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.block_on(self.inner.ssubscribe(channels))
    }

    /// Unsubscribes from channels (all when given none).
    pub fn unsubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.block_on(self.inner.unsubscribe(channels))
    }

    /// Unsubscribes from patterns (all when given none).
    pub fn punsubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        self.block_on(self.inner.punsubscribe(patterns))
    }

    /// Unsubscribes from shard channels (all when given none).
    pub fn sunsubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.block_on(self.inner.sunsubscribe(channels))
    }

    /// The next message (`None` once the subscriber has ended).
    pub fn next_message(&mut self) -> Option<Result<Message>> {
        self.runtime.run(self.inner.next_message()).ok().flatten()
    }

    /// The next message within `timeout`: `Ok(None)` when none came in time.
    pub fn next_message_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
        self.runtime
            .block_on(self.inner.next_message_timeout(timeout))
    }

    /// What this subscriber is subscribed to.
    pub fn subscriptions(&self) -> Subscriptions {
        self.inner.subscriptions()
    }
}

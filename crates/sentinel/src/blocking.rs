//! The blocking API: the same names as the async one, for threads.
//!
//! Discovery ([`Sentinel::master_addr`], [`Sentinel::replica_addrs`]) runs on the calling
//! thread with std sockets, driving the same sans-IO machine as the async API. The clients
//! ([`SentinelClient`], [`ReplicaClient`]) are the async ones run by a small runtime of the
//! `Sentinel`'s own (one worker thread, made on first need, shared by the clients it makes),
//! so the failover rules are the same code; the calling thread waits parked. Call them
//! from any thread; from an async task, use the async API.
//!
//! ```no_run
//! use slotline_conn::blocking::Commands;
//! use slotline_sentinel::blocking::Sentinel;
//! use slotline_sentinel::SentinelConfig;
//!
//! let sentinel = Sentinel::new(["127.0.0.1:26379"], SentinelConfig::default())?;
//! let master = sentinel.master_for("mymaster")?;
//! master.set("k", "v")?;
//! let v: Option<String> = sentinel.replica_for("mymaster")?.get("k")?;
//! # let _ = v;
//! # Ok::<(), slotline_sentinel::Error>(())
//! ```

use std::sync::{Arc, Mutex};

use slotline_conn::blocking::{Execute, Query};
use slotline_conn::{Addr, Frame, Request, Response};

use crate::logic::{Ask, Discovery, Found, Input, Step, Want};
use crate::{IntoSentinelAddr, Result, SentinelConfig, SentinelState};
use slotline_conn::blocking::Runtime;

/// The blocking twin of [`crate::Sentinel`]. Cheap to clone; clones share the sentinel list
/// and the runtime of the clients.
#[derive(Debug, Clone)]
pub struct Sentinel {
    inner: crate::Sentinel,
    runtime: Arc<Mutex<Option<Arc<Runtime>>>>,
}

impl Sentinel {
    /// The sentinels at `addrs`, asked in this order. Nothing is connected yet.
    pub fn new<I>(addrs: I, config: SentinelConfig) -> Result<Sentinel>
    where
        I: IntoIterator,
        I::Item: IntoSentinelAddr,
    {
        Ok(Sentinel {
            inner: crate::Sentinel::new(addrs, config)?,
            runtime: Arc::default(),
        })
    }

    /// The async `Sentinel` underneath (sharing the same list).
    pub fn as_async(&self) -> &crate::Sentinel {
        &self.inner
    }

    /// The settings.
    pub fn config(&self) -> &SentinelConfig {
        self.inner.config()
    }

    /// The sentinels, in the order they are asked now (learned ones included).
    pub fn sentinel_addrs(&self) -> Vec<Addr> {
        self.inner.sentinel_addrs()
    }

    /// The address of the master of `service`, checked with `ROLE`.
    pub fn master_addr(&self, service: &str) -> Result<Addr> {
        let inner = self.inner.inner();
        run(inner, inner.discovery(service, Want::Master))?.into_master()
    }

    /// The addresses of the healthy replicas of `service` (possibly none).
    pub fn replica_addrs(&self, service: &str) -> Result<Vec<Addr>> {
        let inner = self.inner.inner();
        run(inner, inner.discovery(service, Want::Replicas))?.into_replicas()
    }

    /// A client of the master of `service` that follows failovers by itself.
    pub fn master_for(&self, service: &str) -> Result<SentinelClient> {
        let runtime = self.runtime()?;
        let inner = runtime.block_on(self.inner.master_for(service))?;
        Ok(SentinelClient { inner, runtime })
    }

    /// A client that spreads commands over the healthy replicas of `service`.
    pub fn replica_for(&self, service: &str) -> Result<ReplicaClient> {
        let runtime = self.runtime()?;
        let inner = runtime.block_on(self.inner.replica_for(service))?;
        Ok(ReplicaClient { inner, runtime })
    }

    /// A client over several services whose keys it spreads itself (see
    /// [`crate::ShardedClient`]): every command on the masters.
    pub fn sharded_for<I>(&self, services: I) -> Result<ShardedClient>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let runtime = self.runtime()?;
        let inner = runtime.block_on(self.inner.sharded_for(services))?;
        Ok(ShardedClient { inner, runtime })
    }

    /// [`sharded_for`](Sentinel::sharded_for), with read-only commands on each shard's
    /// replicas (see [`crate::Sentinel::sharded_replica_for`]).
    pub fn sharded_replica_for<I>(&self, services: I) -> Result<ShardedClient>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let runtime = self.runtime()?;
        let inner = runtime.block_on(self.inner.sharded_replica_for(services))?;
        Ok(ShardedClient { inner, runtime })
    }

    fn runtime(&self) -> Result<Arc<Runtime>> {
        let mut slot = self.runtime.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rt) = &*slot {
            return Ok(rt.clone());
        }
        let rt = Runtime::new("slotline-sentinel")?;
        *slot = Some(rt.clone());
        Ok(rt)
    }
}

/// The blocking driver of the discovery machine: std sockets, `thread::sleep`.
fn run(inner: &SentinelState, mut discovery: Discovery) -> Result<Found> {
    let mut input = Input::Start;
    loop {
        input = match discovery.step(input) {
            Step::Send(ask) => Input::Replies(send(inner, &ask)),
            Step::Sleep(delay) => {
                std::thread::sleep(delay);
                Input::Slept
            }
            Step::Done(finished) => return inner.finish(finished),
        };
    }
}

fn send(inner: &SentinelState, ask: &Ask) -> slotline_conn::Result<Vec<Frame>> {
    let con = slotline_conn::blocking::Connection::connect(inner.config_for(&ask.peer))?;
    con.send_pipeline(&ask.pipe)
}

/// The blocking twin of [`crate::SentinelClient`]: the master of a service, followed
/// through failovers. `Clone + Send + Sync`; implements [`Execute`], hence
/// [`Commands`](slotline_conn::blocking::Commands).
#[derive(Debug, Clone)]
pub struct SentinelClient {
    inner: crate::SentinelClient,
    runtime: Arc<Runtime>,
}

impl SentinelClient {
    /// The async client underneath (it runs on this client's runtime).
    pub fn as_async(&self) -> &crate::SentinelClient {
        &self.inner
    }

    /// The service name.
    pub fn service(&self) -> &str {
        self.inner.service()
    }

    /// The address of the master the client is connected to (or was last).
    pub fn addr(&self) -> Addr {
        self.inner.addr()
    }

    /// Whether the client has a connection right now.
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// Drops the connection and asks the sentinels for the master again, now.
    pub fn reconnect(&self) {
        self.inner.reconnect();
    }

    /// A blocking subscriber on the current master (see [`crate::SentinelClient::pubsub`]).
    pub fn pubsub(&self) -> slotline_conn::Result<slotline_conn::blocking::PubSub> {
        slotline_conn::blocking::PubSub::connect(self.inner.master_config())
    }

    /// A blocking subscriber on the shared client's own connection, following failovers
    /// (RESP3 only; see [`crate::SentinelClient::subscriber`]).
    pub fn subscriber(&self) -> slotline_conn::Result<slotline_conn::blocking::Subscriber> {
        let inner = self.inner.subscriber()?;
        Ok(slotline_conn::blocking::Subscriber::from_async(
            inner,
            self.runtime.clone(),
        ))
    }
}

impl Execute for SentinelClient {
    fn execute(&self, request: Request<'_>) -> slotline_conn::Result<Response> {
        self.runtime
            .block_on(slotline_conn::Execute::execute(&self.inner, request))
    }
}

/// The blocking twin of [`crate::ReplicaClient`]: commands spread over the healthy
/// replicas of a service. `Clone + Send + Sync`; implements [`Execute`], hence
/// [`Commands`](slotline_conn::blocking::Commands).
#[derive(Debug, Clone)]
pub struct ReplicaClient {
    inner: crate::ReplicaClient,
    runtime: Arc<Runtime>,
}

impl ReplicaClient {
    /// The async client underneath, for what has no blocking twin (stats).
    pub fn as_async(&self) -> &crate::ReplicaClient {
        &self.inner
    }

    /// The service name.
    pub fn service(&self) -> &str {
        self.inner.service()
    }

    /// The replicas in use (healthy when last listed by the sentinels).
    pub fn replica_addrs(&self) -> Vec<Addr> {
        self.inner.replica_addrs()
    }

    /// The replicas connected right now: those commands go to.
    pub fn connected_replica_addrs(&self) -> Vec<Addr> {
        self.inner.connected_replica_addrs()
    }

    /// A blocking subscriber on a connected replica (see [`crate::ReplicaClient::pubsub`]).
    pub fn pubsub(&self) -> slotline_conn::Result<slotline_conn::blocking::PubSub> {
        let config = self.runtime.block_on(self.inner.subscriber_config())?;
        slotline_conn::blocking::PubSub::connect(config)
    }

    /// Asks the sentinels for the replicas now and updates the list (returns at once if a
    /// refresh is already under way).
    pub fn refresh(&self) -> Result<()> {
        self.runtime.block_on(self.inner.refresh())
    }
}

impl Execute for ReplicaClient {
    fn execute(&self, request: Request<'_>) -> slotline_conn::Result<Response> {
        self.runtime
            .block_on(slotline_conn::Execute::execute(&self.inner, request))
    }
}

/// The blocking twin of [`crate::ShardedClient`]: keys spread over several services, each
/// shard following its own failovers; the same routing, splitting and merging code.
/// `Clone + Send + Sync`; implements [`Execute`], hence
/// [`Commands`](slotline_conn::blocking::Commands).
#[derive(Debug, Clone)]
pub struct ShardedClient {
    inner: crate::ShardedClient,
    runtime: Arc<Runtime>,
}

impl ShardedClient {
    /// The async client underneath.
    pub fn as_async(&self) -> &crate::ShardedClient {
        &self.inner
    }

    /// The ring that places keys (shard `i` is the `i`-th service).
    pub fn ring(&self) -> &crate::Ring {
        self.inner.ring()
    }

    /// The services, in shard order.
    pub fn services(&self) -> &[String] {
        self.inner.services()
    }

    /// The address of each shard's master now (or last), in shard order.
    pub fn master_addrs(&self) -> Vec<Addr> {
        self.inner
            .masters()
            .iter()
            .map(crate::SentinelClient::addr)
            .collect()
    }

    /// A blocking subscriber on the first service's master (see
    /// [`crate::ShardedClient::pubsub`]).
    pub fn pubsub(&self) -> slotline_conn::Result<slotline_conn::blocking::PubSub> {
        slotline_conn::blocking::PubSub::connect(self.inner.home_master().master_config())
    }

    /// A blocking subscriber on the first service's master client's own connection
    /// (RESP3 only; see [`crate::ShardedClient::subscriber`]).
    pub fn subscriber(&self) -> slotline_conn::Result<slotline_conn::blocking::Subscriber> {
        let inner = self.inner.subscriber()?;
        Ok(slotline_conn::blocking::Subscriber::from_async(
            inner,
            self.runtime.clone(),
        ))
    }
}

impl Execute for ShardedClient {
    fn execute(&self, request: Request<'_>) -> slotline_conn::Result<Response> {
        self.runtime
            .block_on(slotline_conn::Execute::execute(&self.inner, request))
    }
}

//! # slotline-sentinel
//!
//! Redis Sentinel for slotline: ask the sentinels which node is the master of a service
//! (and which are its healthy replicas), and get clients that follow a failover by
//! themselves. Async on tokio, and [`blocking`] twins with the same names.
//!
//! ```no_run
//! # async fn demo() -> slotline_sentinel::Result<()> {
//! use slotline_conn::Commands;
//! use slotline_sentinel::{Sentinel, SentinelConfig};
//!
//! let sentinel = Sentinel::new(["127.0.0.1:26379", "127.0.0.1:26380"], SentinelConfig::default())?;
//! let master = sentinel.master_for("mymaster").await?;   // follows failover by itself
//! master.set("k", "v").await?;
//! let replica = sentinel.replica_for("mymaster").await?; // reads spread over the replicas
//! let v: Option<String> = replica.get("k").await?;
//! # let _ = v; Ok(()) }
//! ```
//!
//! [`Sentinel::sharded_for`] gives a [`ShardedClient`]: several services, the keys spread
//! over them by the client on twemproxy's ketama ring ([`Ring`]), each shard a
//! [`SentinelClient`].
//!
//! ## Discovery
//! The sentinels are asked in order, each with a short timeout; the one that answers moves
//! to the front, so a dead sentinel costs one timeout once, not at every discovery.
//! `SENTINEL GET-MASTER-ADDR-BY-NAME` names the master (a null answer: the next sentinel
//! is asked); the node is then checked with `ROLE`. If it says it is a replica (the
//! sentinels name the replica being promoted before it is), discovery goes on to the next
//! sentinel, and after a round over all of them waits briefly and asks again, a bounded
//! number of times. Replicas come from `SENTINEL REPLICAS`, without those flagged `s_down`,
//! `o_down` or `disconnected` or whose link to the master is down. Sentinels not in the
//! list are learned from `SENTINEL SENTINELS`. Failures are distinct
//! [`Error`]s: [`NoSentinelReachable`](Error::NoSentinelReachable),
//! [`UnknownService`](Error::UnknownService), [`NotMaster`](Error::NotMaster),
//! [`MasterUnreachable`](Error::MasterUnreachable).
//!
//! The decisions (what to ask whom next, what a reply means, when to wait, which error)
//! are one sans-IO state machine that the async and the blocking drivers share.
//!
//! ## Failover
//! [`SentinelClient`] is a shared [`slotline_conn::Client`] whose address is asked of the
//! sentinels before every (re)connect. Background tasks follow each failover of the
//! service on the sentinels (each of them: the one that leads a failover announces its
//! steps, the others only the switch, about a second later): from its first step
//! (`+try-failover`) the client holds its writes, since the old master's last writes would
//! never reach the new one; once the promoted replica is a master (`+promoted-slave`) the
//! client moves there, after the requests in flight on the old master are answered, and
//! the held writes follow; an aborted failover lets them go where they were. The
//! decisions are one sans-IO follower (`failover.rs`), table-tested. A
//! connection loss or a `READONLY` reply (the old master was demoted) also re-resolves.
//! A command refused with `READONLY` did not run, and is sent again to the new master;
//! one that may have run when the connection broke is reported, never sent twice; one that
//! never ran waits for the new master within its response timeout.

mod config;
mod drive;
mod error;
mod failover;
mod logic;
mod master;
mod replica;
mod replies;
mod sharded;
mod trace;

pub mod blocking;

use std::sync::Arc;

use slotline_conn::Addr;

pub use config::{IntoSentinelAddr, ReplicaFallback, SentinelConfig, DEFAULT_SENTINEL_PORT};
pub use error::{Error, Result};
pub use master::SentinelClient;
pub use replica::ReplicaClient;
pub use sharded::{Ring, ShardedClient};

use logic::{Discovery, Finished, Found, SentinelList, Want};

/// A set of sentinels, asked for the nodes of the services they monitor. Cheap to clone;
/// clones share the list of sentinels (its order, and the sentinels learned).
#[derive(Debug, Clone)]
pub struct Sentinel {
    inner: Arc<SentinelState>,
}

/// What the clones of a `Sentinel` (and the clients it made) share.
#[derive(Debug)]
pub(crate) struct SentinelState {
    pub(crate) config: SentinelConfig,
    pub(crate) list: SentinelList,
}

impl SentinelState {
    /// A discovery of `want` for `service` over the sentinels as they are ordered now.
    pub(crate) fn discovery(&self, service: &str, want: Want) -> Discovery {
        Discovery::new(
            service,
            want,
            self.list.snapshot(),
            self.config.role_rounds,
            self.config.role_retry_delay,
        )
    }

    /// The settings for a connection that carries a discovery request.
    pub(crate) fn config_for(&self, peer: &logic::Peer) -> slotline_conn::ConnectionConfig {
        match peer {
            logic::Peer::Sentinel(addr) => self.config.sentinel_conn(addr.clone()),
            logic::Peer::Node(addr) => self.config.check_conn(addr.clone()),
        }
    }

    /// Applies a finished discovery to the list; its result.
    pub(crate) fn finish(&self, finished: Finished) -> Result<Found> {
        self.list.apply(&finished);
        finished.result
    }
}

impl Sentinel {
    /// The sentinels at `addrs` (`"host:port"` strings, socket addresses, ...), asked in
    /// this order. Nothing is connected yet.
    pub fn new<I>(addrs: I, config: SentinelConfig) -> Result<Sentinel>
    where
        I: IntoIterator,
        I::Item: IntoSentinelAddr,
    {
        let addrs = addrs
            .into_iter()
            .map(IntoSentinelAddr::into_sentinel_addr)
            .collect::<Result<Vec<_>>>()?;
        if addrs.is_empty() {
            return Err(Error::Config("no sentinel address given".into()));
        }
        config.validate()?;
        Ok(Sentinel {
            inner: Arc::new(SentinelState {
                config,
                list: SentinelList::new(addrs),
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &SentinelConfig {
        &self.inner.config
    }

    /// The sentinels, in the order they are asked now (learned ones included).
    pub fn sentinel_addrs(&self) -> Vec<Addr> {
        self.inner.list.snapshot()
    }

    /// The address of the master of `service`, checked with `ROLE`.
    pub async fn master_addr(&self, service: &str) -> Result<Addr> {
        drive::run(&self.inner, self.inner.discovery(service, Want::Master))
            .await?
            .into_master()
    }

    /// The addresses of the healthy replicas of `service` (possibly none).
    pub async fn replica_addrs(&self, service: &str) -> Result<Vec<Addr>> {
        drive::run(&self.inner, self.inner.discovery(service, Want::Replicas))
            .await?
            .into_replicas()
    }

    /// A client of the master of `service` that follows failovers by itself (see
    /// [`SentinelClient`]). Must be called within a tokio runtime.
    pub async fn master_for(&self, service: &str) -> Result<SentinelClient> {
        SentinelClient::connect(self.clone(), service).await
    }

    /// A client that spreads commands over the healthy replicas of `service` (see
    /// [`ReplicaClient`]). Must be called within a tokio runtime.
    pub async fn replica_for(&self, service: &str) -> Result<ReplicaClient> {
        ReplicaClient::connect(self.clone(), service).await
    }

    /// A client over several services whose keys it spreads itself over a ketama ring (see
    /// [`ShardedClient`]): every command on the masters. Every service must be known to
    /// the sentinels and its master reachable now. Must be called within a tokio runtime.
    pub async fn sharded_for<I>(&self, services: I) -> Result<ShardedClient>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let services = services.into_iter().map(Into::into).collect();
        ShardedClient::connect(self.clone(), services, false).await
    }

    /// [`sharded_for`](Sentinel::sharded_for), with read-only commands sent to the
    /// shard's healthy replicas (as a [`ReplicaClient`] does, falling back per
    /// [`SentinelConfig::replica_fallback`]); writes still go to the masters.
    pub async fn sharded_replica_for<I>(&self, services: I) -> Result<ShardedClient>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let services = services.into_iter().map(Into::into).collect();
        ShardedClient::connect(self.clone(), services, true).await
    }

    pub(crate) fn inner(&self) -> &SentinelState {
        &self.inner
    }
}

//! The blocking [`Client`]: the same names as [`crate::Client`], for threads.

use slotline_conn::{Request, Response, Result};

/// The blocking command traits, so that `use slotline::blocking::{Client, Commands}` works
/// as the async `use slotline::{Client, Commands}` does.
pub use slotline_conn::blocking::{Commands, Execute, Query};

pub use crate::pubsub::blocking::PubSub;

use crate::Target;

/// The blocking twin of [`crate::Client`]: one type for every deployment, opened from a
/// URL, with the blocking command trait ([`Commands`]).
///
/// ```no_run
/// use slotline::blocking::{Client, Commands};
/// let c = Client::open("redis+cluster://127.0.0.1:7000")?;
/// c.set("greeting", "hello")?;
/// # Ok::<(), slotline::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Client {
    /// One node.
    Node(slotline_conn::blocking::Client),
    /// The master of a sentinel-managed service; follows failovers.
    SentinelMaster(slotline_sentinel::blocking::SentinelClient),
    /// Replicas of a sentinel-managed service.
    SentinelReplica(slotline_sentinel::blocking::ReplicaClient),
    /// Several sentinel-managed services, the keys sharded by the client.
    ShardedSentinel(slotline_sentinel::blocking::ShardedClient),
    /// A Redis Cluster.
    Cluster(slotline_cluster::blocking::ClusterClient),
}

impl Client {
    /// Connects to what `url` names (see [`crate::Client::open`]).
    pub fn open(url: &str) -> Result<Client> {
        Client::open_target(Target::parse(url)?)
    }

    /// Connects to a parsed [`Target`].
    pub fn open_target(target: Target) -> Result<Client> {
        Ok(match target {
            Target::Node(config) => Client::Node(slotline_conn::blocking::Client::connect(config)?),
            Target::Sentinel {
                sentinels,
                service,
                config,
                replica,
            } => {
                let sentinel = slotline_sentinel::blocking::Sentinel::new(sentinels, *config)?;
                if replica {
                    Client::SentinelReplica(sentinel.replica_for(&service)?)
                } else {
                    Client::SentinelMaster(sentinel.master_for(&service)?)
                }
            }
            Target::ShardedSentinel {
                sentinels,
                services,
                config,
                replica,
            } => {
                let sentinel = slotline_sentinel::blocking::Sentinel::new(sentinels, *config)?;
                Client::ShardedSentinel(if replica {
                    sentinel.sharded_replica_for(services)?
                } else {
                    sentinel.sharded_for(services)?
                })
            }
            Target::Cluster(url) => {
                Client::Cluster(slotline_cluster::blocking::ClusterClient::open(&url)?)
            }
        })
    }

    /// A blocking subscriber (see [`crate::Client::pubsub`]).
    pub fn pubsub(&self) -> Result<crate::pubsub::blocking::PubSub> {
        use crate::pubsub::blocking::PubSub;
        Ok(match self {
            Client::Node(c) if resp3(c.config()) => PubSub::Shared(c.subscriber()?),
            Client::Node(c) => PubSub::Node(Box::new(slotline_conn::blocking::PubSub::connect(
                c.config(),
            )?)),
            Client::SentinelMaster(c) if resp3(c.as_async().client().config()) => {
                PubSub::Shared(c.subscriber()?)
            }
            Client::SentinelMaster(c) => PubSub::Node(Box::new(c.pubsub()?)),
            Client::SentinelReplica(c) => PubSub::Node(Box::new(c.pubsub()?)),
            Client::ShardedSentinel(c)
                if c.as_async()
                    .masters()
                    .first()
                    .is_some_and(|m| resp3(m.client().config())) =>
            {
                PubSub::Shared(c.subscriber()?)
            }
            Client::ShardedSentinel(c) => PubSub::Node(Box::new(c.pubsub()?)),
            Client::Cluster(c) => PubSub::Cluster(c.pubsub()?),
        })
    }

    /// What the client counted so far, node by node (see [`crate::Client::metrics`]).
    pub fn metrics(&self) -> slotline_conn::metrics::ClientMetrics {
        self.to_async().metrics()
    }

    /// The async facade over the same clients (they are shared: a clone each), which
    /// answers what has no blocking twin.
    fn to_async(&self) -> crate::Client {
        match self {
            Client::Node(c) => crate::Client::Node(c.as_async().clone()),
            Client::SentinelMaster(c) => crate::Client::SentinelMaster(c.as_async().clone()),
            Client::SentinelReplica(c) => crate::Client::SentinelReplica(c.as_async().clone()),
            Client::ShardedSentinel(c) => crate::Client::ShardedSentinel(c.as_async().clone()),
            Client::Cluster(c) => crate::Client::Cluster(c.as_async().clone()),
        }
    }

    /// What the client-side cache did so far and holds now, summed over every node (see
    /// [`crate::Client::cache_stats`]).
    pub fn cache_stats(&self) -> Option<slotline_conn::cache::CacheStats> {
        self.to_async().cache_stats()
    }

    /// Which kind of deployment this client serves: `node`, `sentinel`,
    /// `sharded-sentinel` or `cluster`.
    pub fn mode(&self) -> &'static str {
        match self {
            Client::Node(_) => "node",
            Client::SentinelMaster(_) | Client::SentinelReplica(_) => "sentinel",
            Client::ShardedSentinel(_) => "sharded-sentinel",
            Client::Cluster(_) => "cluster",
        }
    }
}

impl Execute for Client {
    /// The mode's own: the facade behaves exactly as the client it wraps.
    fn execute(&self, request: Request<'_>) -> Result<Response> {
        each_mode!(self, c => c.execute(request))
    }
}

/// Whether a client with these settings speaks RESP3, where subscriptions ride its shared
/// connection.
fn resp3(config: &slotline_conn::ConnectionConfig) -> bool {
    config.protocol == slotline_conn::Protocol::Resp3
}

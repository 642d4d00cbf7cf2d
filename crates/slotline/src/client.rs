//! [`Client`]: one type for every deployment, opened from a URL.

use slotline_cluster::ClusterClient;
use slotline_conn::{Execute, Request, Response, Result};
use slotline_sentinel::{ReplicaClient, Sentinel, SentinelClient, ShardedClient};

use crate::Target;

/// A client for whatever the URL names, with the shared command trait
/// ([`Commands`](slotline_conn::Commands)) and the same behaviour as the layer it wraps.
///
/// ```no_run
/// # async fn demo() -> slotline::Result<()> {
/// use slotline::{Client, Commands};
/// for url in [
///     "redis://127.0.0.1:6379/0",
///     "redis+sentinel://127.0.0.1:26379/mymaster",
///     "redis+sentinel://127.0.0.1:26379/svc1,svc2,svc3",
///     "redis+cluster://127.0.0.1:7000,127.0.0.1:7001",
/// ] {
///     let c = Client::open(url).await?;
///     c.set("greeting", "hello").await?;
///     let v: Option<String> = c.get("greeting").await?;
/// #   let _ = v;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Client {
    /// One node (shared, multiplexed).
    Node(slotline_conn::Client),
    /// The master of a sentinel-managed service; follows failovers.
    SentinelMaster(SentinelClient),
    /// Replicas of a sentinel-managed service (`role=replica`).
    SentinelReplica(ReplicaClient),
    /// Several sentinel-managed services, the keys sharded by the client.
    ShardedSentinel(ShardedClient),
    /// A Redis Cluster.
    Cluster(ClusterClient),
}

impl Client {
    /// Connects to what `url` names: `redis://`, `rediss://`, `redis+unix://`,
    /// `redis+sentinel://[user:pass@]h1:p1,h2:p2/service[/db][?role=replica]`,
    /// `redis+sentinel://h1:p1,h2:p2/svc1,svc2,svc3[/db][?role=replica]` (sharded),
    /// `redis+cluster://[user:pass@]h1:p1,h2:p2`.
    pub async fn open(url: &str) -> Result<Client> {
        Client::open_target(Target::parse(url)?).await
    }

    /// Connects to a parsed [`Target`].
    pub async fn open_target(target: Target) -> Result<Client> {
        Ok(match target {
            Target::Node(config) => Client::Node(slotline_conn::Client::connect(config).await?),
            Target::Sentinel {
                sentinels,
                service,
                config,
                replica,
            } => {
                let sentinel = Sentinel::new(sentinels, *config)?;
                if replica {
                    Client::SentinelReplica(sentinel.replica_for(&service).await?)
                } else {
                    Client::SentinelMaster(sentinel.master_for(&service).await?)
                }
            }
            Target::ShardedSentinel {
                sentinels,
                services,
                config,
                replica,
            } => {
                let sentinel = Sentinel::new(sentinels, *config)?;
                Client::ShardedSentinel(if replica {
                    sentinel.sharded_replica_for(services).await?
                } else {
                    sentinel.sharded_for(services).await?
                })
            }
            Target::Cluster(url) => Client::Cluster(ClusterClient::open(&url).await?),
        })
    }

    /// Its socket calls so far, over every connection of the layer it wraps (see
    /// [`IoStats`](slotline_conn::IoStats)).
    pub fn io_stats(&self) -> slotline_conn::IoStats {
        match self {
            Client::Node(c) => c.io_stats(),
            Client::SentinelMaster(c) => c.client().io_stats(),
            Client::SentinelReplica(c) => c.io_stats(),
            Client::ShardedSentinel(c) => c.io_stats(),
            Client::Cluster(c) => c.io_stats(),
        }
    }

    /// What the client counted so far, node by node, and what it decided above the nodes
    /// (redirects, slot maps, failovers followed): always on, read in one call (see
    /// [`ClientMetrics`](slotline_conn::metrics::ClientMetrics)).
    pub fn metrics(&self) -> slotline_conn::metrics::ClientMetrics {
        match self {
            Client::Node(c) => {
                slotline_conn::metrics::ClientMetrics::of_node(c.addr(), c.metrics())
            }
            Client::SentinelMaster(c) => c.metrics(),
            Client::SentinelReplica(c) => c.metrics(),
            Client::ShardedSentinel(c) => c.metrics(),
            Client::Cluster(c) => c.metrics(),
        }
    }

    /// What the client-side cache did so far and holds now, summed over every node the
    /// client uses; `None` without a cache (`cache_max_bytes=` in the URL).
    pub fn cache_stats(&self) -> Option<slotline_conn::cache::CacheStats> {
        match self {
            Client::Node(c) => c.cache_stats(),
            Client::SentinelMaster(c) => c.client().cache_stats(),
            Client::SentinelReplica(c) => c.cache_stats(),
            Client::ShardedSentinel(c) => c.cache_stats(),
            Client::Cluster(c) => c.cache_stats(),
        }
    }

    /// A subscriber: on the node, the sentinel service's master (a replica for a replica
    /// client), the first service's master of a sharded client, or over the cluster (see
    /// [`PubSub`](crate::PubSub)). Over RESP3 it rides the client's shared connection,
    /// except for a replica client.
    pub async fn pubsub(&self) -> Result<crate::PubSub> {
        use crate::PubSub;
        Ok(match self {
            Client::Node(c) if speaks_resp3(c) => PubSub::Shared(c.subscriber()?),
            Client::Node(c) => PubSub::Node(Box::new(
                slotline_conn::PubSub::connect(c.config().for_addr(c.addr())).await?,
            )),
            Client::SentinelMaster(c) if speaks_resp3(c.client()) => {
                PubSub::Shared(c.subscriber()?)
            }
            Client::SentinelMaster(c) => PubSub::Node(Box::new(c.pubsub().await?)),
            Client::SentinelReplica(c) => PubSub::Node(Box::new(c.pubsub().await?)),
            Client::ShardedSentinel(c)
                if c.masters()
                    .first()
                    .is_some_and(|m| speaks_resp3(m.client())) =>
            {
                PubSub::Shared(c.subscriber()?)
            }
            Client::ShardedSentinel(c) => PubSub::Node(Box::new(c.pubsub().await?)),
            Client::Cluster(c) => PubSub::Cluster(c.pubsub().await?),
        })
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
    /// The mode's own: the facade behaves exactly as the client it wraps (a cluster's scan
    /// visits every master, its split commands merge, ...).
    async fn execute(&self, request: Request<'_>) -> Result<Response> {
        each_mode!(self, c => c.execute(request).await)
    }
}

/// Whether a shared client speaks RESP3, where subscriptions ride its connection.
fn speaks_resp3(client: &slotline_conn::Client) -> bool {
    client.config().protocol == slotline_conn::Protocol::Resp3
}

//! [`ShardedClient`]: keys spread by the client over several sentinel-managed services
//! (twemproxy's ketama ring), each shard a master client that follows its own failovers.

mod plan;
mod ring;

use std::sync::Arc;

use futures_util::future::join_all;
use slotline_conn::{Error as ConnError, Execute, Pipeline, PubSub, Request, Response, ScanCursor};

pub use ring::Ring;

use crate::{Error, ReplicaClient, Result, Sentinel, SentinelClient};
use plan::{plan_command, plan_pipeline, Parts, Plan, Target, HOME_SHARD};

/// A client over several sentinel services whose keys it spreads itself: "sharding with
/// sentinel", as twemproxy and Jedis' sharded pools did it. Each service is one shard, a
/// [`SentinelClient`] following that service's failovers by itself.
///
/// ```no_run
/// # async fn demo() -> slotline_sentinel::Result<()> {
/// use slotline_conn::{Commands, Query, ScanOptions};
/// use slotline_sentinel::{Sentinel, SentinelConfig};
///
/// let sentinel = Sentinel::new(["127.0.0.1:26379"], SentinelConfig::default())?;
/// let sharded = sentinel.sharded_for(["svc1", "svc2", "svc3"]).await?;
/// sharded.set("user:1", "ada").await?;                   // on the shard the ring names
/// let shard = sharded.ring().shard_of(b"user:1");
/// let names: Vec<Option<String>> = sharded.mget(&["user:1", "user:2"]).await?; // split, merged
/// let keys: Vec<String> = sharded.scan(ScanOptions::keys()).collect_all().await?; // every shard
/// # let _ = (shard, names, keys); Ok(()) }
/// ```
///
/// ## Placement
/// A [`Ring`]: ketama over the service names, each of weight 1, exactly as twemproxy
/// (`distribution: ketama`, `hash: md5`, `hash_tag: "{}"`) places keys on servers named
/// after the services, so that moving from twemproxy with the same names keeps every key
/// where it was. Hash tags keep related keys on one shard. The shares are uneven by design
/// (about 29 %, 38 % and 33 % for `svc1`, `svc2`, `svc3`).
///
/// ## What goes where
/// - A command with keys: to their shard. `MGET`, `MSET`, `DEL`, `EXISTS`, `UNLINK` and
///   `TOUCH` over several shards are split per shard, sent together, and merged in the
///   caller's order. Any other command whose keys are on several shards is refused
///   ([`RefusedKind::CrossSlot`](slotline_conn::RefusedKind::CrossSlot)) before anything
///   is sent.
/// - Keyless commands that the command table sends to every shard (`DBSIZE`, `KEYS`,
///   `FLUSHALL`, `SCRIPT LOAD`, ...): to every shard's master, aggregated.
/// - Other keyless commands (`PING`, `PUBLISH`, `EVAL` with no keys, ...), keyless
///   transactions, and [`pubsub`](ShardedClient::pubsub): the first service's shard.
/// - A pipeline: one batch per shard, sent together, replies put back in order. A
///   transaction, and a script, must keep every key on one shard (refused otherwise).
/// - [`Query::scan`](slotline_conn::Query::scan) visits every shard's master in turn
///   (`SCAN` by hand is refused: it would see one shard).
///
/// ## Failures
/// A failover in one shard moves that shard only. The ring never changes: a shard that is
/// down fails its own keys (clearly, within the timeouts) and the others go on. Remapping
/// its keys to another shard would split the data silently: writes made meanwhile would be
/// hidden once it came back, and reads would miss every key written before.
///
/// Each part of a split command or pipeline is sent and retried by its shard's client as a
/// lone request would be; the first failure fails the caller's request as a whole, while
/// the parts on other shards may have run (as in Redis Cluster, a split `MSET` is not
/// atomic).
#[derive(Debug, Clone)]
pub struct ShardedClient {
    shared: Arc<Shards>,
}

#[derive(Debug)]
struct Shards {
    ring: Ring,
    masters: Vec<SentinelClient>,
    /// Per shard, when reads go to replicas.
    replicas: Option<Vec<ReplicaClient>>,
}

impl ShardedClient {
    /// Discovers every service's master (and replicas, for `replica_reads`) and connects.
    /// A service the sentinels do not know, or whose master cannot be reached, fails the
    /// whole client: the ring is fixed, and a shard missing from the start is a mistake.
    pub(crate) async fn connect(
        sentinel: Sentinel,
        services: Vec<String>,
        replica_reads: bool,
    ) -> Result<Self> {
        let ring = Ring::new(services.iter().cloned()).map_err(Error::Config)?;
        let masters = join_all(services.iter().map(|s| sentinel.master_for(s))).await;
        let masters = masters.into_iter().collect::<Result<Vec<_>>>()?;
        let replicas = if replica_reads {
            let replicas = join_all(services.iter().map(|s| sentinel.replica_for(s))).await;
            Some(replicas.into_iter().collect::<Result<Vec<_>>>()?)
        } else {
            None
        };
        Ok(ShardedClient {
            shared: Arc::new(Shards {
                ring,
                masters,
                replicas,
            }),
        })
    }

    /// The ring that places keys (shard `i` is the `i`-th service).
    pub fn ring(&self) -> &Ring {
        &self.shared.ring
    }

    /// The services, in shard order.
    pub fn services(&self) -> &[String] {
        self.shared.ring.names()
    }

    /// The master client of each shard, in shard order.
    pub fn masters(&self) -> &[SentinelClient] {
        &self.shared.masters
    }

    /// The replica client of each shard, when reads go to replicas.
    pub fn replicas(&self) -> Option<&[ReplicaClient]> {
        self.shared.replicas.as_deref()
    }

    /// The master client of the shard that owns `key`.
    pub fn master_for_key(&self, key: &[u8]) -> &SentinelClient {
        &self.shared.masters[self.shared.ring.shard_of(key)]
    }

    /// The socket calls of every shard's clients, summed (see
    /// [`IoStats`](slotline_conn::IoStats)).
    pub fn io_stats(&self) -> slotline_conn::IoStats {
        let masters: slotline_conn::IoStats = self
            .shared
            .masters
            .iter()
            .map(|m| m.client().io_stats())
            .sum();
        let replicas: slotline_conn::IoStats = self
            .replicas()
            .unwrap_or_default()
            .iter()
            .map(ReplicaClient::io_stats)
            .sum();
        masters + replicas
    }

    /// Every shard's metrics, node by node (see
    /// [`Metrics`](slotline_conn::metrics::Metrics)), with the failovers followed.
    pub fn metrics(&self) -> slotline_conn::metrics::ClientMetrics {
        let masters = self.shared.masters.iter().map(SentinelClient::metrics);
        let replicas = self
            .replicas()
            .unwrap_or_default()
            .iter()
            .map(ReplicaClient::metrics);
        masters
            .chain(replicas)
            .fold(Default::default(), |a, b| a + b)
    }

    /// What every shard's client-side caches did, summed; `None` without a cache (see
    /// [`CacheStats`](slotline_conn::cache::CacheStats)).
    pub fn cache_stats(&self) -> Option<slotline_conn::cache::CacheStats> {
        let masters = self.shared.masters.iter().map(|m| m.client().cache_stats());
        let replicas = self
            .replicas()
            .unwrap_or_default()
            .iter()
            .map(ReplicaClient::cache_stats);
        slotline_conn::cache::CacheStats::total(masters.chain(replicas))
    }

    /// A subscriber on the first service's master: pub/sub of a sharded client lives on
    /// that one shard (`PUBLISH` goes there too). After a failover of that shard, open a
    /// new one and [`resubscribe`](PubSub::resubscribe) it.
    pub async fn pubsub(&self) -> slotline_conn::Result<PubSub> {
        self.home_master().pubsub().await
    }

    /// A subscriber on the first service's master client's own connection (RESP3 only):
    /// it follows that shard's failovers (see [`SentinelClient::subscriber`]).
    pub fn subscriber(&self) -> slotline_conn::Result<slotline_conn::Subscriber> {
        self.home_master().subscriber()
    }

    /// The master client of the shard that keyless commands and pub/sub go to.
    pub(crate) fn home_master(&self) -> &SentinelClient {
        &self.shared.masters[HOME_SHARD]
    }

    /// Sends `request` whole to one target.
    async fn send(&self, target: Target, request: Request<'_>) -> slotline_conn::Result<Response> {
        match (&self.shared.replicas, target.replica) {
            (Some(replicas), true) => replicas[target.shard].execute(request).await,
            _ => self.shared.masters[target.shard].execute(request).await,
        }
    }

    /// Sends each batch of `parts` to its target, together; the caller's replies.
    async fn send_parts(
        &self,
        parts: Parts<'_>,
    ) -> slotline_conn::Result<Vec<slotline_conn::Reply>> {
        let sends = parts.batches.iter().map(|(target, cmds)| async move {
            match cmds.as_slice() {
                [one] => match self.send(*target, Request::Command(one)).await? {
                    Response::Reply(reply) => Ok(vec![reply]),
                    other => Err(unexpected(&other)),
                },
                many => {
                    let mut pipe = Pipeline::with_capacity(many.len());
                    for c in many {
                        pipe.add(c.as_ref().clone());
                    }
                    match self.send(*target, Request::Pipeline(&pipe)).await? {
                        Response::Replies(replies) => Ok(replies),
                        other => Err(unexpected(&other)),
                    }
                }
            }
        });
        let results = join_all(sends).await;
        parts.finish(results)
    }

    /// One step of a scan: the master of the current shard (a keyed scan's: its key's).
    async fn scan_step(&self, mut cursor: Box<ScanCursor>) -> slotline_conn::Result<Response> {
        if !cursor.is_planned() {
            match cursor.key().map(|k| self.shared.ring.shard_of(k)) {
                Some(shard) => cursor.plan([shard as u64]),
                None => cursor.plan(0..self.shared.ring.len() as u64),
            }
        }
        let Some(shard) = cursor.shard() else {
            return Ok(Response::Scan(cursor));
        };
        let master = &self.shared.masters[shard as usize];
        let Some(cmd) = cursor.command_for(Some(&master.addr())) else {
            return Ok(Response::Scan(cursor));
        };
        match master.execute(Request::Command(&cmd)).await {
            Ok(Response::Reply(reply)) => {
                cursor.feed(reply.into_frame())?;
                Ok(Response::Scan(cursor))
            }
            Ok(other) => Err(unexpected(&other)),
            Err(e) => {
                cursor.fail();
                Err(e)
            }
        }
    }
}

fn unexpected(response: &Response) -> ConnError {
    ConnError::unexpected_reply(format!("a shard answered {response:?}"))
}

impl Execute for ShardedClient {
    /// Routes the request over the ring (see the type's documentation) and sends it.
    async fn execute(&self, request: Request<'_>) -> slotline_conn::Result<Response> {
        let ring = &self.shared.ring;
        let replica_reads = self.shared.replicas.is_some();
        match request {
            Request::Scan(cursor) => self.scan_step(cursor).await,
            Request::Command(cmd) => match plan_command(ring, replica_reads, cmd)? {
                Plan::Whole(target) => self.send(target, request).await,
                Plan::Parts(parts) => {
                    let reply = self.send_parts(parts).await?.pop();
                    reply
                        .map(Response::Reply)
                        .ok_or_else(|| ConnError::unexpected_reply("a split command had no reply"))
                }
            },
            Request::Pipeline(pipe) => match plan_pipeline(ring, replica_reads, pipe)? {
                Plan::Whole(target) => self.send(target, request).await,
                Plan::Parts(parts) => Ok(Response::Replies(self.send_parts(parts).await?)),
            },
        }
    }
}

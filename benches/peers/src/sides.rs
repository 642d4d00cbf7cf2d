//! One measured run of one side (slotline, redis-rs or fred): its client made afresh, a
//! warm-up on it, then the measured run, with the counters of [`crate::counters`] opened
//! before any of it.

use crate::clients::{Fred, RedisRs, RedisRsSync, Slotline, SlotlineBlocking};
use crate::counters::Meter;
use crate::load::{run_tasks, run_threads, Getter, KeySet, Run};
use crate::scenario::{Flavour, Scenario};
use crate::servers::Servers;

/// A client measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// slotline: its shared client, cluster client or blocking client.
    Slotline,
    /// redis-rs 1.8: its multiplexed connection, cluster connection, or one sync
    /// connection per thread.
    RedisRs,
    /// fred 10: its client (no blocking client).
    Fred,
}

impl Side {
    /// `slotline`, `redis-rs` or `fred`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "slotline" => Ok(Side::Slotline),
            "redis-rs" => Ok(Side::RedisRs),
            "fred" => Ok(Side::Fred),
            other => Err(format!(
                "--only takes slotline, redis-rs or fred, not {other:?}"
            )),
        }
    }

    /// Whether this side has a client for `scenario`.
    pub fn serves(self, scenario: Scenario) -> bool {
        !(self == Side::Fred && matches!(scenario, Scenario::Blocking | Scenario::Fanout))
    }
}

/// One measured run of `side`, after a short warm-up on the same client; `None` if the side
/// has no client for `scenario`. Exits the process if a request fails.
pub fn run_side(
    side: Side,
    scenario: Scenario,
    flavour: Option<Flavour>,
    servers: &Servers,
    requests: u64,
) -> Option<Run> {
    if !side.serves(scenario) {
        return None;
    }
    let warm = (requests / 20).max(500);
    let n = scenario.callers();
    // Before the runtime, the client and the callers exist, so that every thread of the run
    // inherits the counters; the measured run is the difference of two readings around it.
    let meter = Meter::open(servers.pids(scenario));
    let result = match (scenario, side) {
        (Scenario::Blocking, Side::Slotline) => {
            let c = slotline_conn::blocking::Client::connect(servers.node_url().as_str())
                .expect("slotline blocking client");
            let callers = || vec![SlotlineBlocking(c.clone()); n];
            run_threads(callers(), warm, &meter)
                .and_then(|_| run_threads(callers(), requests, &meter))
        }
        (Scenario::Blocking, _) => {
            let client = redis::Client::open(servers.node_url()).expect("redis-rs client");
            let connect = || -> Vec<RedisRsSync> {
                (0..n)
                    .map(|_| RedisRsSync(client.get_connection().expect("redis-rs connection")))
                    .collect()
            };
            run_threads(connect(), warm, &meter)
                .and_then(|_| run_threads(connect(), requests, &meter))
        }
        _ => {
            let rt = flavour.unwrap_or(Flavour::Current).build();
            rt.block_on(run_async(
                side, scenario, servers, n, warm, requests, &meter,
            ))
        }
    };
    match result {
        Ok(run) => Some(run),
        Err(e) => {
            eprintln!("slotline-peers: {side:?} {scenario:?}: {e}");
            std::process::exit(1);
        }
    }
}

/// The async sides: connect, warm up, measure.
async fn run_async(
    side: Side,
    scenario: Scenario,
    servers: &Servers,
    n: usize,
    warm: u64,
    requests: u64,
    meter: &Meter,
) -> Result<Run, String> {
    match (scenario, side) {
        (Scenario::Fanout, Side::Slotline) => {
            let url = servers.node_url();
            crate::fanout::slotline(&url, warm / 50, meter).await?;
            crate::fanout::slotline(&url, requests / 50, meter).await
        }
        (Scenario::Fanout, _) => {
            let url = servers.node_url();
            crate::fanout::redis_rs(&url, warm / 50, meter).await?;
            crate::fanout::redis_rs(&url, requests / 50, meter).await
        }
        (Scenario::Cluster, Side::Slotline) => {
            let c = slotline_cluster::ClusterClient::connect(
                servers.cluster_urls(),
                slotline_cluster::ClusterConfig::default(),
            )
            .await
            .expect("slotline cluster client");
            warm_then_run(Slotline(c), scenario.keys(), n, warm, requests, meter).await
        }
        (Scenario::Cluster, Side::RedisRs) => {
            let c = redis::cluster::ClusterClient::new(servers.cluster_urls())
                .expect("redis-rs cluster client")
                .get_async_connection()
                .await
                .expect("redis-rs cluster connection");
            warm_then_run(RedisRs(c), scenario.keys(), n, warm, requests, meter).await
        }
        (_, Side::Slotline) => {
            let url = match scenario {
                Scenario::Tls => servers.tls_url(),
                Scenario::Resp3 | Scenario::Hot => format!("{}?protocol=3", servers.node_url()),
                Scenario::Cached => {
                    format!("{}?protocol=3&cache_max_bytes=64mb", servers.node_url())
                }
                _ => servers.node_url(),
            };
            let c = slotline_conn::Client::connect(url.as_str())
                .await
                .expect("slotline client");
            warm_then_run(Slotline(c), scenario.keys(), n, warm, requests, meter).await
        }
        (Scenario::Cached, Side::RedisRs) => {
            // redis-rs's experimental client-side cache (`cache-aio`, RESP3 only), sized
            // to hold every hot key.
            let client = redis::Client::open(format!("{}?protocol=resp3", servers.node_url()))
                .expect("redis-rs client");
            let size = std::num::NonZeroUsize::new(20_000).expect("non-zero");
            let config = redis::AsyncConnectionConfig::new()
                .set_cache_config(redis::caching::CacheConfig::new().set_size(size));
            let c = client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .expect("redis-rs multiplexed connection with a cache");
            warm_then_run(RedisRs(c), scenario.keys(), n, warm, requests, meter).await
        }
        (_, Side::RedisRs) => {
            let client = match scenario {
                Scenario::Tls => servers.redis_rs_tls(),
                Scenario::Resp3 | Scenario::Hot => {
                    redis::Client::open(format!("{}?protocol=resp3", servers.node_url()))
                        .expect("redis-rs client")
                }
                _ => redis::Client::open(servers.node_url()).expect("redis-rs client"),
            };
            let c = client
                .get_multiplexed_async_connection()
                .await
                .expect("redis-rs multiplexed connection");
            warm_then_run(RedisRs(c), scenario.keys(), n, warm, requests, meter).await
        }
        (_, Side::Fred) => {
            let c = Fred::connect(servers.fred_config(scenario))
                .await
                .expect("fred client");
            let run = warm_then_run(c.clone(), scenario.keys(), n, warm, requests, meter).await;
            c.quit().await;
            run
        }
    }
}

/// `warm` requests, then the measured `requests`, from `n` tasks, each with a clone of
/// `handle`.
async fn warm_then_run<G: Getter + Clone>(
    handle: G,
    set: KeySet,
    n: usize,
    warm: u64,
    requests: u64,
    meter: &Meter,
) -> Result<Run, String> {
    run_tasks(vec![handle.clone(); n], set, warm, meter).await?;
    run_tasks(vec![handle; n], set, requests, meter).await
}

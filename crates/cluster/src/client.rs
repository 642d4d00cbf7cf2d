//! [`ClusterClient`]: the async cluster client.

use std::sync::Arc;

use slotline_conn::{
    Addr, Client, Connection, Error, ErrorKind, Execute, IoStats, Request, Response, Result,
    UnavailableKind,
};

use crate::config::{ClusterConfig, IntoNodeAddr};
use crate::dispatch::{Dispatch, Place};
use crate::drive::{run, NodeCarrier, Work};
use crate::plan::{finish, finish_scan, plan_command, plan_scan, transaction_slot};
use crate::refresh::refresh_task;
use crate::registry::lock;
use crate::route::route;
use crate::slot::slot;
use crate::state::{ClusterState, ClusterStats};
use crate::topology::SlotMap;
use crate::ClusterPubSub;

/// A Redis Cluster behind one handle: cheap to clone, shared by every task.
///
/// It computes each command's slot itself ([`slot`](crate::slot())), keeps the slot map
/// (from `CLUSTER SHARDS`, or `CLUSTER SLOTS` on older servers), and sends every command to
/// the node serving its slot, over one shared [`Client`] per node (made on first use, with
/// implicit pipelining, dropped when the node leaves the cluster).
///
/// - `MOVED`: the slot is patched at once and the command resent to its new owner; one
///   full refresh follows (coalesced, rate-limited, jittered: a burst of `MOVED`s costs one
///   `CLUSTER SHARDS`).
/// - `ASK`: `ASKING` and the command go to the importing node, once; the map is unchanged.
/// - `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`: a short capped backoff, a bounded number of
///   times.
/// - A node that cannot be reached: the map is refreshed from the other nodes, then from
///   the startup nodes (names resolved anew), and the command goes where the map says.
/// - Every request, whatever its shape, goes through one dispatch (see the crate's
///   documentation), within one [`RetryPolicy`](slotline_conn::RetryPolicy)
///   ([`ClusterConfig::retry`]); the node clients underneath never resend by themselves.
/// - Only what the retry rule allows is resent: a command refused before it ran, or never
///   written; one that may have run is resent only if marked
///   [`idempotent`](slotline_conn::Cmd::idempotent).
///
/// Multi-key `MGET`, `MSET`, `DEL`, `EXISTS`, `UNLINK`, `TOUCH` over several slots are split
/// per slot and merged in order (not atomic across slots); any other command whose keys are
/// in several slots is refused before sending. Keyless cluster-wide commands (`DBSIZE`,
/// `KEYS`, `FLUSHALL`, `PING`, `SCRIPT LOAD`, ...) go to every master (or node, as the
/// command table says) and their replies are merged. Pipelines are split per node, sent
/// concurrently and answered in order; transactions must stay in one slot.
///
/// ```no_run
/// # async fn demo() -> slotline_conn::Result<()> {
/// use slotline_cluster::{ClusterClient, ClusterConfig};
/// use slotline_conn::{Commands, Query, ScanOptions};
///
/// let cl = ClusterClient::connect(["127.0.0.1:7000"], ClusterConfig::default()).await?;
/// cl.set("user:1", "ada").await?;
/// let v: Option<String> = cl.get("user:1").await?;
/// let vs: Vec<Option<String>> = cl.mget(&["user:1", "user:2"]).await?; // split per slot
/// let keys: Vec<String> = cl.scan(ScanOptions::keys().pattern("user:*")).collect_all().await?;
/// # let _ = (v, vs, keys); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClusterClient {
    state: Arc<ClusterState>,
}

impl ClusterClient {
    /// Connects: asks the startup nodes in order for the slot map (the first that answers
    /// wins) and starts the refresh task on the current tokio runtime. Node connections
    /// are opened on first use.
    pub async fn connect<I>(startup_nodes: I, config: ClusterConfig) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: IntoNodeAddr,
    {
        config.validate()?;
        let startup = startup_nodes
            .into_iter()
            .map(IntoNodeAddr::into_node_addr)
            .collect::<Result<Vec<_>>>()?;
        if startup.is_empty() {
            return Err(Error::config("a cluster client needs a startup node"));
        }
        let state = Arc::new(ClusterState::new(config, startup));
        let topology = state.fetch_topology().await.map_err(|e| match e.kind() {
            ErrorKind::Unavailable(kind) => Error::unavailable(
                kind,
                format!(
                    "cannot load the slot map: {}",
                    e.message().unwrap_or_default()
                ),
            ),
            _ => e,
        })?;
        state.install(&topology);
        tokio::spawn(refresh_task(Arc::downgrade(&state), state.wake.clone()));
        Ok(ClusterClient { state })
    }

    /// Connects from a URL: `redis+cluster://[[user]:pass@]h1:p1,h2:p2[?options]` (see
    /// [`ClusterConfig::from_url`]).
    pub async fn open(url: &str) -> Result<Self> {
        let (nodes, config) = ClusterConfig::from_url(url)?;
        ClusterClient::connect(nodes, config).await
    }

    /// The settings.
    pub fn config(&self) -> &ClusterConfig {
        &self.state.config
    }

    /// The startup nodes.
    pub fn startup_nodes(&self) -> &[Addr] {
        &self.state.startup
    }

    /// A copy of the slot map as the client knows it now.
    pub fn slot_map(&self) -> SlotMap {
        self.state.nodes.routes().map.clone()
    }

    /// The master serving `slot`, as the client knows it now.
    pub fn master_for_slot(&self, slot: u16) -> Option<Addr> {
        self.state.nodes.routes().map.master(slot).cloned()
    }

    /// The masters serving slots, as the client knows them now.
    pub fn masters(&self) -> Vec<Addr> {
        self.state
            .nodes
            .routes()
            .serving
            .iter()
            .map(|n| n.addr.clone())
            .collect()
    }

    /// What the client did so far.
    pub fn stats(&self) -> ClusterStats {
        self.state.stats()
    }

    /// The socket calls of the node clients the client holds now, summed (see
    /// [`IoStats`]).
    pub fn io_stats(&self) -> IoStats {
        self.state
            .nodes
            .clients()
            .iter()
            .map(Client::io_stats)
            .sum()
    }

    /// Each node's metrics (see [`Metrics`](slotline_conn::metrics::Metrics)) with what the
    /// cluster client decided: `MOVED` and `ASK` followed, slot maps loaded, failovers
    /// followed. Always on, read in one call.
    pub fn metrics(&self) -> slotline_conn::metrics::ClientMetrics {
        let stats = self.stats();
        let mut m = slotline_conn::metrics::ClientMetrics::default();
        m.nodes = self
            .state
            .nodes
            .clients_by_addr()
            .into_iter()
            .map(|(addr, c)| (addr, c.metrics()))
            .collect();
        m.nodes.sort_by_key(|(addr, _)| addr.to_string());
        (m.moved, m.asked, m.refreshes, m.failovers) =
            (stats.moved, stats.ask, stats.refreshes, stats.failovers);
        m
    }

    /// What the nodes' client-side caches did, summed; `None` without a cache (see
    /// [`CacheStats`](slotline_conn::cache::CacheStats)).
    pub fn cache_stats(&self) -> Option<slotline_conn::cache::CacheStats> {
        slotline_conn::cache::CacheStats::total(
            self.state.nodes.clients().iter().map(Client::cache_stats),
        )
    }

    /// Reloads the slot map now (outside the rate limit), from the known nodes, then the
    /// startup nodes. If a refresh is already running, waits for it instead of asking the
    /// nodes a second time.
    pub async fn refresh(&self) -> Result<()> {
        let state = &*self.state;
        let mut refreshed = state.refreshed.subscribe();
        if !lock(&state.scheduler).start_now(std::time::Instant::now()) {
            let _ = refreshed.changed().await;
            return Ok(());
        }
        state.run_refresh().await
    }

    /// The shared client of one node (for per-node commands: `INFO`, `CLIENT LIST`, ...).
    pub async fn node(&self, addr: impl IntoNodeAddr) -> Result<Client> {
        let addr = addr.into_node_addr()?;
        self.state.node(&addr).client().await.cloned()
    }

    /// A connection of its own to the master serving `key`'s slot, for what needs one:
    /// `WATCH`/`MULTI`/`EXEC` conversations, blocking commands held long, `MONITOR`. It
    /// does not follow redirects.
    pub async fn dedicated_for_key(&self, key: impl AsRef<[u8]>) -> Result<Connection> {
        Connection::connect(self.dedicated_config(key.as_ref())?).await
    }

    /// The settings of the master serving `key`'s slot, for a connection of its own (async
    /// and blocking `dedicated_for_key`).
    pub(crate) fn dedicated_config(&self, key: &[u8]) -> Result<slotline_conn::ConnectionConfig> {
        let slot = slot(key);
        let node = self.state.nodes.master_of(slot).ok_or_else(|| {
            Error::unavailable(
                UnavailableKind::NoNode,
                format!("no node serves slot {slot}"),
            )
        })?;
        Ok(node.config().clone())
    }

    /// A pub/sub subscriber for this cluster: classic channels and patterns on one node,
    /// shard channels (`SSUBSCRIBE`) on the node serving their slot, followed when the
    /// slot moves.
    pub async fn pubsub(&self) -> Result<ClusterPubSub> {
        ClusterPubSub::new(self.clone()).await
    }

    /// The connection settings of the node at `addr` (see [`ClusterState::node_config`]).
    pub(crate) fn node_config(&self, addr: &Addr) -> slotline_conn::ConnectionConfig {
        self.state.node_config(addr)
    }

    pub(crate) fn state(&self) -> &ClusterState {
        &self.state
    }
}

impl Execute for ClusterClient {
    /// Every request through one dispatch: a command by its slot (split, fanned out and
    /// merged when it must be), a pipeline's commands per node (sent concurrently,
    /// answered in order), a transaction whole on its slot's node, a scan step on its
    /// shard's master.
    async fn execute(&self, request: Request<'_>) -> Result<Response> {
        // One load of tracing's global level when nothing listens; the traced path boxed,
        // so that the untraced future stays as small as without the feature.
        #[cfg(feature = "tracing")]
        if tracing::level_enabled!(tracing::Level::INFO) {
            return Box::pin(self.traced_dispatch(request)).await;
        }
        self.dispatch(request).await
    }
}

impl ClusterClient {
    /// [`dispatch`](Self::dispatch) in the request's span (the parent of the node
    /// clients' spans), when a subscriber wants it.
    #[cfg(feature = "tracing")]
    async fn traced_dispatch(&self, request: Request<'_>) -> Result<Response> {
        use tracing::Instrument;
        let span = slotline_conn::request_span(&request, self.state.config.connection.db);
        if span.is_disabled() {
            return self.dispatch(request).await;
        }
        let result = self.dispatch(request).instrument(span.clone()).await;
        if let Err(e) = &result {
            span.record("error.type", slotline_conn::metrics::kind_name(e.kind()));
        }
        result
    }

    /// [`execute`](Execute::execute) without its span.
    async fn dispatch(&self, request: Request<'_>) -> Result<Response> {
        let state = &*self.state;
        let policy = state.config.retry;
        // One deadline for the whole request: resends wait for a node until it passes.
        let deadline = request
            .response_timeout(
                state.config.connection.response_timeout,
                state.config.connection.durability,
            )
            .map(|t| std::time::Instant::now() + t);
        match request {
            Request::Command(cmd) => {
                let route = route(cmd)?;
                let mut d = Dispatch::new(policy, deadline);
                let job = plan_command(state, cmd, route, &mut d);
                run(state, &mut d, &mut NodeCarrier).await;
                if d.len() == 1 && !job.merges() {
                    return d.take_result(0);
                }
                let mut replies = finish(vec![job], d)?;
                replies
                    .pop()
                    .map(Response::Reply)
                    .ok_or_else(|| Error::internal("a command's parts made no reply"))
            }
            Request::Pipeline(pipe) if pipe.is_atomic() => {
                let slot = transaction_slot(pipe)?;
                let idempotent = pipe.cmds().iter().all(slotline_conn::Cmd::is_idempotent);
                let mut d = Dispatch::new(policy, deadline);
                d.push(
                    Work::Transaction(pipe),
                    slot.map_or(Place::Any, Place::Slot),
                    false,
                    idempotent,
                );
                run(state, &mut d, &mut NodeCarrier).await;
                d.take_result(0)
            }
            Request::Pipeline(pipe) => {
                let mut d = Dispatch::new(policy, deadline);
                let mut jobs = Vec::with_capacity(pipe.len());
                for c in pipe.cmds() {
                    jobs.push(plan_command(state, c, route(c)?, &mut d));
                }
                run(state, &mut d, &mut NodeCarrier).await;
                finish(jobs, d).map(Response::Replies)
            }
            Request::Scan(cursor) => match plan_scan(state, cursor, policy, deadline) {
                Err(done) => Ok(Response::Scan(done)),
                Ok(mut d) => {
                    run(state, &mut d, &mut NodeCarrier).await;
                    finish_scan(d).map(Response::Scan)
                }
            },
        }
    }
}

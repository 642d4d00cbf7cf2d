//! [`ClusterClient`]: the async cluster client.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::task::Poll;
use std::time::Duration;

use slotline_conn::{
    cmd, convert, convert_read, Addr, Client, Cmd, Connection, Error, Frame, FromReply, Pipeline,
    Query, ReadFrom, RefusedKind, Reply, Result, ScanOptions, ServerError, ServerErrorKind,
    UnavailableKind,
};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::config::{ClusterConfig, IntoNodeAddr};
use crate::node::{lock, Node, Routes};
use crate::refresh::RefreshScheduler;
use crate::retry::{cluster_error_kind, Attempts, Decision, Outcome};
use crate::route::{route, Merge, Route};
use crate::scan::ClusterScan;
use crate::slot::slot;
use crate::topology::{SlotMap, Topology, TopologySource};
use crate::ClusterPubSub;

/// Counters of what the client did, since it was made (see [`ClusterClient::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// `MOVED` replies received.
    pub moved: u64,
    /// `ASK` replies received (each followed by `ASKING` + the command on the target).
    pub ask: u64,
    /// Resends after `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, an unreachable node, ...
    pub retries: u64,
    /// Slot map refreshes completed (successful or not).
    pub refreshes: u64,
    /// Refreshes that found no node to answer.
    pub failed_refreshes: u64,
    /// `CLUSTER SHARDS`/`CLUSTER SLOTS` requests sent.
    pub topology_queries: u64,
}

#[derive(Debug, Default)]
struct Counters {
    moved: AtomicU64,
    ask: AtomicU64,
    retries: AtomicU64,
    refreshes: AtomicU64,
    failed_refreshes: AtomicU64,
    topology_queries: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

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
/// - Only what the retry rule allows is resent: a command refused before it ran, or never
///   written; one that may have run is resent only if marked
///   [`idempotent`](Cmd::idempotent).
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
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    config: ClusterConfig,
    startup: Vec<Addr>,
    routes: RwLock<Arc<Routes>>,
    registry: Mutex<HashMap<Addr, Arc<Node>>>,
    scheduler: Mutex<RefreshScheduler>,
    wake: Arc<Notify>,
    refreshed: watch::Sender<u64>,
    next_any: AtomicUsize,
    next_replica: AtomicUsize,
    next_seed: AtomicUsize,
    slots_only: AtomicBool,
    counters: Counters,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Lets the refresh task notice that the client is gone.
        self.wake.notify_one();
    }
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
            return Err(Error::Config(
                "a cluster client needs a startup node".into(),
            ));
        }
        let scheduler = RefreshScheduler::new(config.refresh_min_interval, config.refresh_jitter);
        let inner = Arc::new(Inner {
            config,
            startup,
            routes: RwLock::new(Arc::new(Routes::default())),
            registry: Mutex::new(HashMap::new()),
            scheduler: Mutex::new(scheduler),
            wake: Arc::new(Notify::new()),
            refreshed: watch::channel(0).0,
            next_any: AtomicUsize::new(0),
            next_replica: AtomicUsize::new(0),
            next_seed: AtomicUsize::new(0),
            slots_only: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let topology = inner.fetch_topology().await.map_err(|e| match e {
            Error::Unavailable { kind, message } => {
                Error::unavailable(kind, format!("cannot load the slot map: {message}"))
            }
            other => other,
        })?;
        inner.install(&topology);
        tokio::spawn(refresh_task(Arc::downgrade(&inner), inner.wake.clone()));
        Ok(ClusterClient { inner })
    }

    /// Connects from a URL: `redis+cluster://[[user]:pass@]h1:p1,h2:p2[?options]` (see
    /// [`ClusterConfig::from_url`]).
    pub async fn open(url: &str) -> Result<Self> {
        let (nodes, config) = ClusterConfig::from_url(url)?;
        ClusterClient::connect(nodes, config).await
    }

    /// The settings.
    pub fn config(&self) -> &ClusterConfig {
        &self.inner.config
    }

    /// The startup nodes.
    pub fn startup_nodes(&self) -> &[Addr] {
        &self.inner.startup
    }

    /// A copy of the slot map as the client knows it now.
    pub fn slot_map(&self) -> SlotMap {
        self.inner.routes().map.clone()
    }

    /// The master serving `slot`, as the client knows it now.
    pub fn master_for_slot(&self, slot: u16) -> Option<Addr> {
        self.inner.routes().map.master(slot).cloned()
    }

    /// The masters serving slots, as the client knows them now.
    pub fn masters(&self) -> Vec<Addr> {
        self.inner
            .routes()
            .serving
            .iter()
            .map(|n| n.addr.clone())
            .collect()
    }

    /// What the client did so far.
    pub fn stats(&self) -> ClusterStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClusterStats {
            moved: get(&c.moved),
            ask: get(&c.ask),
            retries: get(&c.retries),
            refreshes: get(&c.refreshes),
            failed_refreshes: get(&c.failed_refreshes),
            topology_queries: get(&c.topology_queries),
        }
    }

    /// The socket calls of the node clients the client holds now, summed (see
    /// [`IoStats`](slotline_conn::IoStats)).
    pub fn io_stats(&self) -> slotline_conn::IoStats {
        lock(&self.inner.registry)
            .values()
            .filter_map(|n| n.existing_client().map(Client::io_stats))
            .sum()
    }

    /// Reloads the slot map now (outside the rate limit), from the known nodes, then the
    /// startup nodes.
    pub async fn refresh(&self) -> Result<()> {
        let topology = self.inner.fetch_topology().await;
        bump(&self.inner.counters.refreshes);
        let result = topology.map(|t| self.inner.install(&t));
        self.inner.refreshed.send_modify(|n| *n += 1);
        result
    }

    /// The shared client of one node (for per-node commands: `INFO`, `CLIENT LIST`, ...).
    pub async fn node(&self, addr: impl IntoNodeAddr) -> Result<Client> {
        let addr = addr.into_node_addr()?;
        let node = self.inner.node(&addr);
        node.client().await.cloned()
    }

    /// A connection of its own to the master serving `key`'s slot, for what needs one:
    /// `WATCH`/`MULTI`/`EXEC` conversations, blocking commands held long, `MONITOR`. It
    /// does not follow redirects.
    pub async fn dedicated_for_key(&self, key: impl AsRef<[u8]>) -> Result<Connection> {
        let slot = slot(key.as_ref());
        let node = self.inner.pick(Some(slot), false).ok_or_else(|| {
            Error::unavailable(
                UnavailableKind::NoNode,
                format!("no node serves slot {slot}"),
            )
        })?;
        Connection::connect(node.config().clone()).await
    }

    /// Iterates with a cursor. `ScanOptions::keys()` visits every master, one after the
    /// other (a key present for the whole scan is returned at least once; the cluster must
    /// not reshard meanwhile for "exactly once"); `HSCAN`/`SSCAN`/`ZSCAN` go to their key's
    /// node. (This shadows [`Query::scan`], which sends a single `SCAN` and is refused.)
    pub fn scan<T: slotline_conn::FromReply>(&self, options: ScanOptions) -> ClusterScan<'_, T> {
        ClusterScan::new(self, options)
    }

    /// A pub/sub subscriber for this cluster: classic channels and patterns on one node,
    /// shard channels (`SSUBSCRIBE`) on the node serving their slot, followed when the
    /// slot moves.
    pub async fn pubsub(&self) -> Result<ClusterPubSub> {
        ClusterPubSub::new(self.clone()).await
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

impl Inner {
    pub(crate) fn routes(&self) -> Arc<Routes> {
        self.routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn config(&self) -> &ClusterConfig {
        &self.config
    }

    fn make_node(&self, addr: &Addr) -> Node {
        Node::new(
            addr.clone(),
            self.config.node_config(addr),
            self.config.node_options(),
        )
    }

    /// The node at `addr`, known or new.
    pub(crate) fn node(&self, addr: &Addr) -> Arc<Node> {
        lock(&self.registry)
            .entry(addr.clone())
            .or_insert_with(|| Arc::new(self.make_node(addr)))
            .clone()
    }

    /// The node for a command: the master of `slot` (a replica for reads, per the read
    /// policy), or any serving master for a keyless command.
    pub(crate) fn pick(&self, slot: Option<u16>, readonly: bool) -> Option<Arc<Node>> {
        let guard = self.routes.read().unwrap_or_else(|p| p.into_inner());
        let routes = &**guard;
        let Some(slot) = slot else {
            let n = routes.serving.len();
            if n == 0 {
                return None;
            }
            let start = self.next_any.fetch_add(1, Ordering::Relaxed);
            for i in 0..n {
                let node = &routes.serving[(start + i) % n];
                if node.is_healthy() {
                    return Some(node.clone());
                }
            }
            return Some(routes.serving[start % n].clone());
        };
        let shard = routes.map.shard_index(slot)?;
        let master = routes.masters.get(shard).and_then(Option::as_ref);
        if readonly && self.config.read_from != ReadFrom::Primary {
            let replicas = routes.replicas.get(shard).map_or(&[][..], Vec::as_slice);
            let n = replicas.len();
            if n > 0 {
                let start = self.next_replica.fetch_add(1, Ordering::Relaxed);
                for i in 0..n {
                    let r = &replicas[(start + i) % n];
                    if r.is_healthy() {
                        return Some(r.clone());
                    }
                }
                if self.config.read_from == ReadFrom::Replica {
                    return Some(replicas[start % n].clone());
                }
            }
        }
        master.cloned()
    }

    /// The current master of the shard serving `slot` (for fan-out and scans).
    pub(crate) fn master_of(&self, slot: u16) -> Option<Arc<Node>> {
        let guard = self.routes.read().unwrap_or_else(|p| p.into_inner());
        let shard = guard.map.shard_index(slot)?;
        guard.masters.get(shard).cloned().flatten()
    }

    /// A `MOVED` reply: patches the slot now and schedules a refresh (unless the map says
    /// so already: many `MOVED`s for one slot cost one patch).
    pub(crate) fn on_moved(&self, slot: u16, addr: &Addr) {
        bump(&self.counters.moved);
        if self.routes().map.master(slot) == Some(addr) {
            return;
        }
        let node = self.node(addr);
        {
            let mut guard = self.routes.write().unwrap_or_else(|p| p.into_inner());
            if guard.map.master(slot) == Some(addr) {
                return;
            }
            let mut map = guard.map.clone();
            let (index, _) = map.set_master(slot, addr.clone());
            let mut routes = (**guard).clone();
            if index >= routes.masters.len() {
                routes.masters.push(Some(node.clone()));
                routes.replicas.push(Vec::new());
            }
            for list in &mut routes.replicas {
                list.retain(|r| r.addr != *addr);
            }
            if !routes.serving.iter().any(|n| n.addr == *addr) {
                routes.serving.push(node);
            }
            routes.map = map;
            *guard = Arc::new(routes);
        }
        self.request_refresh();
    }

    /// Asks the refresh task for a refresh (coalesced and rate-limited).
    pub(crate) fn request_refresh(&self) {
        let now = std::time::Instant::now();
        if lock(&self.scheduler).request(now) {
            self.wake.notify_one();
        }
    }

    /// Replaces the map with `topology`'s; nodes that left are dropped from the registry
    /// (their clients close once no request uses them).
    pub(crate) fn install(&self, topology: &Topology) {
        let map = SlotMap::new(topology);
        let routes = {
            let mut registry = lock(&self.registry);
            let mut kept: HashMap<Addr, Arc<Node>> = HashMap::new();
            for addr in map.nodes() {
                if let Some(node) = registry.remove(&addr) {
                    kept.insert(addr, node);
                }
            }
            *registry = kept;
            Routes::build(map, &mut registry, &|a| self.make_node(a))
        };
        *self.routes.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(routes);
    }

    /// Where to ask for the topology: known healthy nodes (masters first, starting at a
    /// rotating offset), then the unhealthy ones, then the startup nodes.
    fn refresh_candidates(&self) -> Vec<(Addr, Option<Arc<Node>>)> {
        let routes = self.routes();
        let mut healthy = Vec::new();
        let mut sick = Vec::new();
        let all: Vec<&Arc<Node>> = routes
            .masters
            .iter()
            .flatten()
            .chain(routes.replicas.iter().flatten())
            .collect();
        let n = all.len();
        let start = if n == 0 {
            0
        } else {
            self.next_seed.fetch_add(1, Ordering::Relaxed) % n
        };
        let masters = routes.masters.iter().flatten().count();
        for i in 0..n {
            // Rotate within masters, then within replicas.
            let node = if i < masters {
                all[(start + i) % masters.max(1)]
            } else {
                all[i]
            };
            if healthy
                .iter()
                .chain(sick.iter())
                .any(|(a, _): &(Addr, _)| *a == node.addr)
            {
                continue;
            }
            let entry = (node.addr.clone(), Some(node.clone()));
            if node.is_healthy() {
                healthy.push(entry);
            } else {
                sick.push(entry);
            }
        }
        healthy.extend(sick);
        for addr in &self.startup {
            if !healthy.iter().any(|(a, _)| a == addr) {
                healthy.push((addr.clone(), None));
            }
        }
        healthy
    }

    /// Asks the nodes in turn for the topology; the first useful answer wins.
    pub(crate) async fn fetch_topology(&self) -> Result<Topology> {
        let mut last: Option<Error> = None;
        for (addr, node) in self.refresh_candidates() {
            let ask = self.ask_topology(&addr, node.as_deref());
            match tokio::time::timeout(self.config.refresh_timeout, ask).await {
                Ok(Ok(t)) if t.covered_slots() > 0 => return Ok(t),
                Ok(Ok(_)) => {
                    last = Some(Error::unavailable(
                        UnavailableKind::NoNode,
                        format!("{addr} knows no served slot"),
                    ));
                }
                // A wrong password will not get better on another node: say so now.
                Ok(Err(e @ Error::Server(_)))
                    if matches!(
                        e.server_kind(),
                        Some(ServerErrorKind::WrongPass | ServerErrorKind::NoAuth)
                    ) =>
                {
                    return Err(e)
                }
                Ok(Err(e)) => last = Some(e),
                Err(_) => {
                    last = Some(Error::Timeout {
                        after: self.config.refresh_timeout,
                        what: "the cluster topology",
                        written: true,
                    })
                }
            }
        }
        Err(match last {
            Some(Error::Unavailable { kind, message }) => {
                Error::unavailable(kind, format!("no node could tell: {message}"))
            }
            Some(e) => e,
            None => Error::unavailable(
                UnavailableKind::NoNode,
                "no node to ask for the cluster topology",
            ),
        })
    }

    /// One node's topology: `CLUSTER SHARDS`, or `CLUSTER SLOTS` where unknown.
    async fn ask_topology(&self, addr: &Addr, node: Option<&Node>) -> Result<Topology> {
        let shared = node.and_then(Node::existing_client);
        let own = match shared {
            Some(_) => None,
            None => {
                let config = match node {
                    Some(n) => n.config().clone(),
                    None => self.config.node_config(addr),
                };
                Some(Connection::connect(config).await?)
            }
        };
        let own = own.as_ref();
        let ask = |c: Cmd| async move {
            bump(&self.counters.topology_queries);
            match (shared, own) {
                (Some(client), _) => client.send_command(&c).await,
                (None, Some(conn)) => conn.send_command(&c).await,
                (None, None) => Err(Error::Closed { written: false }),
            }
        };
        let server_error = |reply: &Frame| match ServerError::from_frame(reply) {
            Some(e) => Error::Server(e),
            None => Error::UnexpectedReply(format!("{reply:?} to CLUSTER SHARDS/SLOTS")),
        };
        if !self.slots_only.load(Ordering::Relaxed) {
            let reply = ask(cmd("CLUSTER").arg("SHARDS")).await?;
            match &reply {
                Frame::Error(line)
                    if line.starts_with(b"ERR unknown") || line.starts_with(b"ERR Unknown") =>
                {
                    self.slots_only.store(true, Ordering::Relaxed);
                }
                Frame::Error(_) => return Err(server_error(&reply)),
                _ => return Topology::parse(TopologySource::Shards, &reply, addr),
            }
        }
        let reply = ask(cmd("CLUSTER").arg("SLOTS")).await?;
        if reply.is_error() {
            return Err(server_error(&reply));
        }
        Topology::parse(TopologySource::Slots, &reply, addr)
    }

    /// Sleeps before a retry.
    /// With `refresh`, a refresh is asked for and the wait ends early when one completes
    /// (the map may say where to go now).
    pub(crate) async fn backoff(&self, delay: Duration, refresh: bool) {
        bump(&self.counters.retries);
        if !refresh {
            tokio::time::sleep(delay).await;
            return;
        }
        let mut refreshed = self.refreshed.subscribe();
        self.request_refresh();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = refreshed.changed() => {}
        }
    }

    /// Applies a redirect decision's side effects.
    fn note(&self, decision: &Decision) {
        match decision {
            Decision::Moved { slot, addr } => self.on_moved(*slot, addr),
            Decision::Ask { .. } => bump(&self.counters.ask),
            _ => {}
        }
    }
}

/// The background task that runs refreshes when they are due, until the client is gone.
async fn refresh_task(weak: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let (due, periodic) = match weak.upgrade() {
            None => return,
            Some(inner) => (lock(&inner.scheduler).due(), inner.config.periodic_refresh),
        };
        let woken = wake.notified();
        match (due, periodic) {
            (Some(at), _) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(Instant::from_std(at)) => {}
                    _ = woken => continue,
                }
            }
            (None, Some(every)) => {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {
                        if let Some(inner) = weak.upgrade() {
                            inner.request_refresh();
                        }
                    }
                    _ = woken => {}
                }
                continue;
            }
            (None, None) => {
                woken.await;
                continue;
            }
        }
        let Some(inner) = weak.upgrade() else { return };
        if !lock(&inner.scheduler).start(std::time::Instant::now()) {
            continue;
        }
        let result = inner.fetch_topology().await;
        bump(&inner.counters.refreshes);
        match result {
            Ok(topology) => inner.install(&topology),
            Err(_) => bump(&inner.counters.failed_refreshes),
        }
        lock(&inner.scheduler).finish(std::time::Instant::now());
        inner.refreshed.send_modify(|n| *n += 1);
    }
}

/// `ASKING` followed by `cmd`, as one pipeline (written contiguously: atomic on the wire).
fn asking(cmd: &Cmd) -> Pipeline {
    let mut p = Pipeline::with_capacity(2);
    p.add(Cmd::new().arg("ASKING")).add(cmd.clone());
    p
}

/// Runs futures concurrently; their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Where one part of a request goes.
#[derive(Debug, Clone)]
enum Target {
    /// The node serving this slot (a replica for reads, per the policy).
    Slot(u16),
    /// Any serving master.
    Any,
    /// This node (a replica of a fan-out to all nodes).
    Node(Addr),
}

/// One command sent to one node, as part of what the caller asked for.
#[derive(Debug)]
struct Part<'a> {
    cmd: Cow<'a, Cmd>,
    target: Target,
    readonly: bool,
    /// Send to this node with `ASKING` first, once (an `ASK` redirect).
    ask: Option<Addr>,
    attempts: Attempts,
    result: Option<Result<Frame>>,
}

impl<'a> Part<'a> {
    fn new(cmd: Cow<'a, Cmd>, target: Target, readonly: bool) -> Self {
        Part {
            cmd,
            target,
            readonly,
            ask: None,
            attempts: Attempts::new(),
            result: None,
        }
    }
}

/// What came back for one part.
enum Got {
    Reply(Frame),
    Failed(Error),
    NoNode,
}

/// One command of the caller: its parts, and how to merge them (none: one part, as is).
#[derive(Debug)]
struct Job {
    parts: std::ops::Range<usize>,
    merge: Option<Merge>,
}

impl ClusterClient {
    /// One command to one node, following redirects: the hot path.
    async fn run_single(&self, cmd: &Cmd, slot: Option<u16>, readonly: bool) -> Result<Reply> {
        let inner = &*self.inner;
        let policy = &inner.config.retry;
        let mut attempts = Attempts::new();
        let mut ask: Option<Addr> = None;
        let mut direct: Option<Addr> = None;
        loop {
            let node = match (&ask, &direct) {
                (Some(addr), _) | (None, Some(addr)) => Some(inner.node(addr)),
                (None, None) => inner.pick(slot, readonly),
            };
            let Some(node) = node else {
                match attempts.decide(policy, Outcome::NoNode, None, cmd.is_idempotent()) {
                    Decision::Retry { delay, refresh } => {
                        inner.backoff(delay, refresh).await;
                        continue;
                    }
                    _ => {
                        return Err(Error::unavailable(
                            UnavailableKind::NoNode,
                            format!(
                                "no node serves slot {} (the cluster may be down)",
                                slot.map_or_else(|| "-".to_string(), |s| s.to_string())
                            ),
                        ))
                    }
                }
            };
            let result = match node.client().await {
                Ok(client) => match ask.take() {
                    None => client.send_command_reply(cmd).await,
                    Some(_) => client
                        .send_pipeline_replies(&asking(cmd))
                        .await
                        .and_then(|mut r| r.pop().ok_or(Error::Closed { written: true })),
                },
                Err(e) => Err(e),
            };
            let outcome = match &result {
                Ok(reply) => {
                    node.set_healthy(true);
                    Outcome::Reply(reply.view().error_line())
                }
                Err(e) => {
                    if e.is_connection_lost() {
                        node.set_healthy(false);
                    }
                    Outcome::Failed(e)
                }
            };
            let decision = attempts.decide(policy, outcome, Some(&node.addr), cmd.is_idempotent());
            inner.note(&decision);
            match decision {
                Decision::Done => return result,
                Decision::Moved { addr, .. } => {
                    direct = slot.is_none().then_some(addr);
                }
                Decision::Ask { addr } => ask = Some(addr),
                Decision::Retry { delay, refresh } => {
                    direct = None;
                    inner.backoff(delay, refresh).await;
                }
            }
        }
    }

    /// Several parts, to several nodes: grouped per node into pipelines sent concurrently,
    /// each part redirected and retried on its own; the results merged per job.
    async fn run_parts(&self, parts: &mut [Part<'_>]) -> Result<()> {
        let inner = &*self.inner;
        let policy = &inner.config.retry;
        loop {
            // Which node each waiting part goes to.
            let mut groups: Vec<(Arc<Node>, Vec<usize>)> = Vec::new();
            let mut no_node: Vec<usize> = Vec::new();
            for (i, part) in parts.iter_mut().enumerate() {
                if part.result.is_some() {
                    continue;
                }
                let node = match (&part.ask, &part.target) {
                    (Some(addr), _) | (None, Target::Node(addr)) => Some(inner.node(addr)),
                    (None, Target::Slot(s)) => inner.pick(Some(*s), part.readonly),
                    (None, Target::Any) => inner.pick(None, part.readonly),
                };
                match node {
                    None => no_node.push(i),
                    Some(node) => match groups.iter_mut().find(|(n, _)| n.addr == node.addr) {
                        Some((_, list)) => list.push(i),
                        None => groups.push((node, vec![i])),
                    },
                }
            }
            if groups.is_empty() && no_node.is_empty() {
                return Ok(());
            }
            // Send each group as one pipeline, all groups at once.
            let sends = groups.iter().map(|(node, list)| {
                let mut pipe = Pipeline::with_capacity(list.len());
                for &i in list {
                    if parts[i].ask.is_some() {
                        pipe.add(Cmd::new().arg("ASKING"));
                    }
                    pipe.add(parts[i].cmd.as_ref().clone());
                }
                async move {
                    match node.client().await {
                        Ok(client) => client.send_pipeline(&pipe).await,
                        Err(e) => Err(e),
                    }
                }
            });
            let results = join_all(sends.collect()).await;
            // What each part's outcome means.
            let mut wait: Option<(Duration, bool)> = None;
            let mut decide = |part: &mut Part<'_>, node: Option<&Arc<Node>>, got: Got| {
                let outcome = match &got {
                    Got::Reply(frame) => Outcome::Reply(frame.error_line()),
                    Got::Failed(e) => Outcome::Failed(e),
                    Got::NoNode => Outcome::NoNode,
                };
                let decision = part.attempts.decide(
                    policy,
                    outcome,
                    node.map(|n| &n.addr),
                    part.cmd.is_idempotent(),
                );
                inner.note(&decision);
                part.ask = None;
                match decision {
                    Decision::Done => {
                        part.result = Some(match got {
                            Got::Reply(frame) => Ok(frame),
                            Got::Failed(e) => Err(e),
                            Got::NoNode => Err(Error::unavailable(
                                UnavailableKind::NoNode,
                                "no node serves the slot (the cluster may be down)",
                            )),
                        })
                    }
                    Decision::Moved { addr, .. } => {
                        if !matches!(part.target, Target::Slot(_)) {
                            part.target = Target::Node(addr);
                        }
                    }
                    Decision::Ask { addr } => part.ask = Some(addr),
                    Decision::Retry { delay, refresh } => {
                        let (d, r) = wait.get_or_insert((delay, refresh));
                        *d = (*d).max(delay);
                        *r |= refresh;
                    }
                }
            };
            for i in no_node {
                decide(&mut parts[i], None, Got::NoNode);
            }
            for ((node, list), result) in groups.iter().zip(results) {
                match result {
                    Ok(frames) => {
                        node.set_healthy(true);
                        let mut frames = frames.into_iter();
                        for &i in list {
                            if parts[i].ask.is_some() {
                                frames.next(); // ASKING's +OK
                            }
                            let got = match frames.next() {
                                Some(frame) => Got::Reply(frame),
                                None => Got::Failed(Error::Closed { written: true }),
                            };
                            decide(&mut parts[i], Some(node), got);
                        }
                    }
                    Err(e) => {
                        if e.is_connection_lost() {
                            node.set_healthy(false);
                        }
                        for &i in list {
                            decide(&mut parts[i], Some(node), Got::Failed(e.clone()));
                        }
                    }
                }
            }
            if let Some((delay, refresh)) = wait {
                inner.backoff(delay, refresh).await;
            }
        }
    }

    /// The parts and job of one command, per its route.
    fn plan<'a>(&self, cmd: &'a Cmd, route: Route, parts: &mut Vec<Part<'a>>) -> Job {
        let start = parts.len();
        let merge = match route {
            Route::Slot { slot, readonly } => {
                parts.push(Part::new(Cow::Borrowed(cmd), Target::Slot(slot), readonly));
                None
            }
            Route::Any { readonly } => {
                parts.push(Part::new(Cow::Borrowed(cmd), Target::Any, readonly));
                None
            }
            Route::Split {
                parts: split,
                merge,
                readonly,
            } => {
                for (s, c) in split {
                    parts.push(Part::new(Cow::Owned(c), Target::Slot(s), readonly));
                }
                Some(merge)
            }
            Route::FanOut { all_nodes, merge } => {
                let routes = self.inner.routes();
                for (_, first_slot) in routes.map.serving_masters() {
                    parts.push(Part::new(
                        Cow::Borrowed(cmd),
                        Target::Slot(first_slot),
                        false,
                    ));
                }
                if all_nodes {
                    for r in routes.replicas.iter().flatten() {
                        parts.push(Part::new(
                            Cow::Borrowed(cmd),
                            Target::Node(r.addr.clone()),
                            false,
                        ));
                    }
                }
                Some(merge)
            }
        };
        Job {
            parts: start..parts.len(),
            merge,
        }
    }

    /// The caller's replies from the parts' results.
    fn finish(jobs: Vec<Job>, parts: Vec<Part<'_>>) -> Result<Vec<Frame>> {
        let mut results: Vec<Option<Result<Frame>>> = parts.into_iter().map(|p| p.result).collect();
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let mut frames = Vec::with_capacity(job.parts.len());
            for i in job.parts {
                match results[i].take() {
                    Some(Ok(f)) => frames.push(f),
                    Some(Err(e)) => return Err(e),
                    None => return Err(Error::Closed { written: true }),
                }
            }
            out.push(match job.merge {
                Some(merge) => merge.merge(frames),
                None => frames.pop().unwrap_or(Frame::Null),
            });
        }
        Ok(out)
    }

    /// A transaction: every key in one slot, the whole `MULTI`..`EXEC` to its node,
    /// resent whole when the node refused it before running it (a redirect, `TRYAGAIN`).
    async fn run_transaction(&self, pipe: &Pipeline) -> Result<Vec<Frame>> {
        let mut slot: Option<u16> = None;
        for c in pipe.cmds() {
            match route(c)? {
                Route::Slot { slot: s, .. } => match slot {
                    Some(first) if first != s => {
                        return Err(Error::refused(RefusedKind::CrossSlot, format!(
                            "CROSSSLOT: a transaction in a cluster must keep to one slot, \
                             this one touches slots {first} and {s} ({} then {})",
                            pipe.cmds()
                                .iter()
                                .find(|c| matches!(route(c), Ok(Route::Slot { slot, .. }) if slot == first))
                                .map(Cmd::name)
                                .unwrap_or_default(),
                            c.name()
                        )))
                    }
                    _ => slot = Some(s),
                },
                Route::Any { .. } => {}
                Route::Split { .. } => {
                    return Err(Error::refused(RefusedKind::CrossSlot, format!(
                        "CROSSSLOT: a transaction in a cluster must keep to one slot; {} has keys in several",
                        c.name()
                    )))
                }
                Route::FanOut { .. } => {
                    return Err(Error::refused(RefusedKind::CrossSlot, format!(
                        "{} goes to every node and cannot be part of a cluster transaction",
                        c.name()
                    )))
                }
            }
        }
        let inner = &*self.inner;
        let policy = &inner.config.retry;
        let idempotent = pipe.cmds().iter().all(Cmd::is_idempotent);
        let mut attempts = Attempts::new();
        let mut ask: Option<Addr> = None;
        loop {
            let node = match &ask {
                Some(addr) => Some(inner.node(addr)),
                None => inner.pick(slot, false),
            };
            let Some(node) = node else {
                match attempts.decide(policy, Outcome::NoNode, None, idempotent) {
                    Decision::Retry { delay, refresh } => {
                        inner.backoff(delay, refresh).await;
                        continue;
                    }
                    _ => {
                        return Err(Error::unavailable(
                            UnavailableKind::NoNode,
                            "no node serves the transaction's slot",
                        ))
                    }
                }
            };
            let result = match node.client().await {
                Ok(client) => match ask.take() {
                    None => client.send_pipeline(pipe).await,
                    Some(_) => {
                        let mut p = Pipeline::with_capacity(pipe.len() + 3);
                        p.add(Cmd::new().arg("ASKING"));
                        p.add(Cmd::new().arg("MULTI"));
                        for c in pipe.cmds() {
                            p.add(c.clone());
                        }
                        p.add(Cmd::new().arg("EXEC"));
                        client.send_pipeline(&p).await.map(|mut r| {
                            r.remove(0);
                            r
                        })
                    }
                },
                Err(e) => Err(e),
            };
            // The refusal that decides: EXEC's own, or that of a queued command.
            let refusal = match &result {
                Ok(replies) => replies
                    .iter()
                    .rev()
                    .find(|f| cluster_error_kind(f).is_some())
                    .cloned(),
                Err(_) => None,
            };
            let outcome = match (&result, &refusal) {
                (Ok(_), Some(frame)) => Outcome::Reply(frame.error_line()),
                (Ok(_), None) => return result,
                (Err(e), _) => Outcome::Failed(e),
            };
            let decision = attempts.decide(policy, outcome, Some(&node.addr), idempotent);
            inner.note(&decision);
            match decision {
                Decision::Done => return result,
                Decision::Moved { .. } => {}
                Decision::Ask { addr } => ask = Some(addr),
                Decision::Retry { delay, refresh } => inner.backoff(delay, refresh).await,
            }
        }
    }
}

impl ClusterClient {
    /// A command split across slots or fanned out to nodes, its parts merged.
    async fn run_split(&self, cmd: &Cmd, route: Route) -> Result<Frame> {
        let mut parts = Vec::new();
        let job = self.plan(cmd, route, &mut parts);
        self.run_parts(&mut parts).await?;
        let mut out = ClusterClient::finish(vec![job], parts)?;
        out.pop().ok_or(Error::Closed { written: true })
    }
}

/// Where a routed command goes: one node (its slot's, or any for a keyless command) and
/// whether it only reads; `Err` with the route of a command split over several nodes.
fn one_node(route: Route) -> std::result::Result<(Option<u16>, bool), Route> {
    match route {
        Route::Slot { slot, readonly } => Ok((Some(slot), readonly)),
        Route::Any { readonly } => Ok((None, readonly)),
        split => Err(split),
    }
}

impl Query for ClusterClient {
    /// A command split over several nodes is merged, then read back into a `Reply`.
    async fn send_command_reply(&self, cmd: &Cmd) -> Result<Reply> {
        match one_node(route(cmd)?) {
            Ok((slot, readonly)) => self.run_single(cmd, slot, readonly).await,
            Err(split) => Ok(Reply::from_frame(self.run_split(cmd, split).await?)?),
        }
    }

    /// A split command's merged frame as it is (not read back).
    async fn send_command(&self, cmd: &Cmd) -> Result<Frame> {
        match one_node(route(cmd)?) {
            Ok((slot, readonly)) => self
                .run_single(cmd, slot, readonly)
                .await
                .map(Reply::into_frame),
            Err(split) => self.run_split(cmd, split).await,
        }
    }

    /// A command for one node converts straight from the reply's bytes, a split one from
    /// its merged frame.
    async fn query<T: FromReply>(&self, cmd: &Cmd) -> Result<T> {
        match one_node(route(cmd)?) {
            Ok((slot, readonly)) => {
                convert_read(self.run_single(cmd, slot, readonly).await?.view())
            }
            Err(split) => convert(self.run_split(cmd, split).await?),
        }
    }

    async fn send_pipeline(&self, pipe: &Pipeline) -> Result<Vec<Frame>> {
        if pipe.is_atomic() {
            return self.run_transaction(pipe).await;
        }
        let mut parts = Vec::with_capacity(pipe.len());
        let mut jobs = Vec::with_capacity(pipe.len());
        for c in pipe.cmds() {
            let r = route(c)?;
            jobs.push(self.plan(c, r, &mut parts));
        }
        self.run_parts(&mut parts).await?;
        ClusterClient::finish(jobs, parts)
    }
}

//! [`ReplicaClient`]: commands spread over the healthy replicas of a service.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use slotline_command::{replica_could_not_serve, Fate, ReplicaPick, ReplicaRouter, Resends};
use slotline_conn::{Addr, Client, ClientOptions, Execute, ReadFrom, Request, Resolver, Response};
use tokio::sync::{oneshot, OnceCell};

use crate::logic::replica_ready;
use crate::{drive, ReplicaFallback, Result, Sentinel, SentinelClient};

/// Error-driven refreshes closer than this are one refresh.
const REFRESH_COALESCE: Duration = Duration::from_millis(200);

/// A client that spreads commands over the healthy replicas of a service, round robin.
///
/// Each replica has a shared [`Client`] of its own; a replica whose connection is down is
/// skipped. Before every (re)connect to a replica, it is checked with `ROLE`: only a
/// replica in sync with its master (`connected`) is used, so one that restarted is not
/// read from while it still loads or resyncs. The list of replicas comes from the
/// sentinels (healthy ones only) and is refreshed after errors and every
/// [`replica_refresh`](crate::SentinelConfig::replica_refresh).
///
/// Requests are routed by [`ReplicaRouter`], the rule `Replicated` and a cluster's replica
/// reads follow too. A request a replica could not serve (`LOADING`, `MASTERDOWN`, or its
/// connection failed while the request had not left or only read) goes to each other
/// healthy replica once, within [`SentinelConfig::retry`](crate::SentinelConfig::retry).
/// When no replica is healthy, requests go to the master (a [`SentinelClient`], made on
/// first need) or fail, as [`replica_fallback`](crate::SentinelConfig::replica_fallback)
/// says.
///
/// Writes sent here reach a replica and fail with `READONLY`: use a
/// [`SentinelClient`] for writes.
///
/// It implements [`Execute`], hence [`Query`](slotline_conn::Query) and
/// [`Commands`](slotline_conn::Commands).
#[derive(Debug, Clone)]
pub struct ReplicaClient {
    shared: Arc<ReplicaState>,
}

#[derive(Debug)]
struct ReplicaState {
    sentinel: Sentinel,
    service: String,
    /// The replicas in use; replaced as a whole by a refresh.
    nodes: Mutex<Arc<Vec<Node>>>,
    router: ReplicaRouter,
    master: OnceCell<SentinelClient>,
    refresh: Mutex<RefreshState>,
    /// Dropped with the last clone: ends the periodic refresh.
    _stop: oneshot::Sender<()>,
}

#[derive(Debug, Clone)]
struct Node {
    addr: Addr,
    client: Client,
}

#[derive(Debug, Default)]
struct RefreshState {
    running: bool,
    last: Option<Instant>,
}

impl ReplicaClient {
    pub(crate) async fn connect(sentinel: Sentinel, service: &str) -> Result<Self> {
        let addrs = sentinel.replica_addrs(service).await?;
        let nodes = connect_nodes(&sentinel, addrs, &[]).await;
        let (stop, stopped) = oneshot::channel();
        let router = ReplicaRouter::new(match sentinel.config().replica_fallback {
            ReplicaFallback::Master => ReadFrom::PreferReplica,
            ReplicaFallback::Error => ReadFrom::Replica,
        });
        let shared = Arc::new(ReplicaState {
            sentinel,
            service: service.to_string(),
            nodes: Mutex::new(Arc::new(nodes)),
            router,
            master: OnceCell::new(),
            refresh: Mutex::new(RefreshState::default()),
            _stop: stop,
        });
        tokio::spawn(refresh_periodically(Arc::downgrade(&shared), stopped));
        Ok(ReplicaClient { shared })
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.shared.service
    }

    /// The replicas in use (healthy when last listed by the sentinels).
    pub fn replica_addrs(&self) -> Vec<Addr> {
        self.shared.nodes().iter().map(|n| n.addr.clone()).collect()
    }

    /// The replicas connected right now: those commands go to.
    pub fn connected_replica_addrs(&self) -> Vec<Addr> {
        self.shared
            .nodes()
            .iter()
            .filter(|n| n.client.is_connected())
            .map(|n| n.addr.clone())
            .collect()
    }

    /// The socket calls of the replicas in use and of the master (once used), summed (see
    /// [`IoStats`](slotline_conn::IoStats)).
    pub fn io_stats(&self) -> slotline_conn::IoStats {
        let replicas: slotline_conn::IoStats = self
            .shared
            .nodes()
            .iter()
            .map(|n| n.client.io_stats())
            .sum();
        let master = self
            .shared
            .master
            .get()
            .map(|m| m.client().io_stats())
            .unwrap_or_default();
        replicas + master
    }

    /// The metrics of the replicas in use and of the master (once used), node by node
    /// (see [`Metrics`](slotline_conn::metrics::Metrics)).
    pub fn metrics(&self) -> slotline_conn::metrics::ClientMetrics {
        let mut m = slotline_conn::metrics::ClientMetrics::default();
        m.nodes = self
            .shared
            .nodes()
            .iter()
            .map(|n| (n.addr.clone(), n.client.metrics()))
            .collect();
        match self.shared.master.get() {
            Some(master) => m + master.metrics(),
            None => m,
        }
    }

    /// What the client-side caches of the replicas in use and of the master (once used)
    /// did, summed; `None` without a cache (see
    /// [`CacheStats`](slotline_conn::cache::CacheStats)).
    pub fn cache_stats(&self) -> Option<slotline_conn::cache::CacheStats> {
        let nodes = self.shared.nodes();
        let master = self.shared.master.get().map(|m| m.client().cache_stats());
        slotline_conn::cache::CacheStats::total(
            nodes.iter().map(|n| n.client.cache_stats()).chain(master),
        )
    }

    /// Asks the sentinels for the replicas now and updates the list (returns at once if a
    /// refresh is already under way).
    pub async fn refresh(&self) -> Result<()> {
        self.shared.refresh().await
    }

    /// The settings of a connection for a subscriber: to a connected replica (messages
    /// published on the master reach its replicas), else to the master when falling back
    /// to it is on.
    pub(crate) async fn subscriber_config(
        &self,
    ) -> slotline_conn::Result<slotline_conn::ConnectionConfig> {
        let nodes = self.shared.nodes();
        match nodes.iter().find(|n| n.client.is_connected()) {
            Some(n) => Ok(n.client.config().clone()),
            None if self.shared.router.read_from() == ReadFrom::PreferReplica => {
                Ok(self.master().await?.master_config())
            }
            None => Err(slotline_conn::Error::unavailable(
                slotline_conn::UnavailableKind::NoReplica,
                format!(
                    "no healthy replica of {:?} to subscribe on",
                    self.shared.service
                ),
            )),
        }
    }

    /// A subscriber on a connected replica (see the type's documentation for the
    /// fallback).
    pub async fn pubsub(&self) -> slotline_conn::Result<slotline_conn::PubSub> {
        slotline_conn::PubSub::connect(self.subscriber_config().await?).await
    }

    /// The master client, made on first need.
    async fn master(&self) -> slotline_conn::Result<&SentinelClient> {
        self.shared
            .master
            .get_or_try_init(|| {
                SentinelClient::connect(self.shared.sentinel.clone(), &self.shared.service)
            })
            .await
            .map_err(Into::into)
    }
}

impl ReplicaState {
    fn nodes(&self) -> Arc<Vec<Node>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Starts a refresh in the background, unless one runs or ran just now.
    fn refresh_soon(self: &Arc<Self>) {
        {
            let mut st = self.refresh.lock().unwrap_or_else(|p| p.into_inner());
            if st.running || st.last.is_some_and(|t| t.elapsed() < REFRESH_COALESCE) {
                return;
            }
            st.running = true;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let _ = me.refresh_now().await;
        });
    }

    /// A refresh, unless one runs already.
    async fn refresh(self: &Arc<Self>) -> Result<()> {
        {
            let mut st = self.refresh.lock().unwrap_or_else(|p| p.into_inner());
            if st.running {
                return Ok(());
            }
            st.running = true;
        }
        self.refresh_now().await
    }

    /// Asks the sentinels for the replicas and updates the list: known replicas keep their
    /// clients, new ones get one, those no longer listed are dropped. On failure the list
    /// stays as it is. The caller has set `running`.
    async fn refresh_now(self: &Arc<Self>) -> Result<()> {
        let result = async {
            let addrs = self.sentinel.replica_addrs(&self.service).await?;
            let current = self.nodes();
            let nodes = connect_nodes(&self.sentinel, addrs, &current).await;
            *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(nodes);
            Ok(())
        }
        .await;
        let mut st = self.refresh.lock().unwrap_or_else(|p| p.into_inner());
        st.running = false;
        st.last = Some(Instant::now());
        result
    }
}

/// The nodes for `addrs`: those in `current` as they are, the others connected now (all at
/// once). A replica that cannot be connected (or is not in sync) is left out until a later
/// refresh.
async fn connect_nodes(sentinel: &Sentinel, addrs: Vec<Addr>, current: &[Node]) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(addrs.len());
    let mut attempts = Vec::new();
    for addr in addrs {
        match current.iter().find(|n| n.addr == addr) {
            Some(node) => nodes.push(node.clone()),
            None => {
                let sentinel = sentinel.clone();
                attempts.push(tokio::spawn(async move {
                    let client = connect_replica(&sentinel, addr.clone()).await;
                    client.ok().map(|client| Node { addr, client })
                }));
            }
        }
    }
    for attempt in attempts {
        if let Ok(Some(node)) = attempt.await {
            nodes.push(node);
        }
    }
    nodes
}

/// A client of one replica that checks, before every (re)connect, that the replica is in
/// sync with its master.
async fn connect_replica(sentinel: &Sentinel, addr: Addr) -> slotline_conn::Result<Client> {
    let resolver: Resolver = {
        let sentinel = sentinel.clone();
        Arc::new(move || {
            let sentinel = sentinel.clone();
            let addr = addr.clone();
            Box::pin(async move {
                let role = drive::role(sentinel.inner(), addr.clone()).await?;
                replica_ready(&role).map_err(|why| {
                    slotline_conn::Error::io(
                        std::io::Error::new(
                            std::io::ErrorKind::NotConnected,
                            format!("{addr}: {why}"),
                        ),
                        false,
                    )
                })?;
                Ok(sentinel.config().data_conn(addr))
            })
        })
    };
    // Fails fast and never resends: the router moves requests on instead.
    let options = ClientOptions::default()
        .fail_fast()
        .with_retries(0)
        .with_reconnect_delays(Duration::from_millis(20), Duration::from_secs(1));
    Client::connect_resolved(resolver, options).await
}

/// Refreshes the replica list every `replica_refresh` until the last handle is dropped.
async fn refresh_periodically(shared: Weak<ReplicaState>, mut stop: oneshot::Receiver<()>) {
    let every = match shared.upgrade() {
        Some(s) => s.sentinel.config().replica_refresh,
        None => return,
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(every) => {}
        }
        let Some(s) = shared.upgrade() else { return };
        let _ = s.refresh().await;
    }
}

impl Execute for ReplicaClient {
    /// Sends the request to a healthy replica, and where it could not be served, to the
    /// next one (see the type's documentation).
    async fn execute(&self, request: Request<'_>) -> slotline_conn::Result<Response> {
        let nodes = self.shared.nodes();
        let n = nodes.len();
        let healthy = |i: usize| nodes[i].client.is_connected();
        let pinned = request
            .scan_node()
            .and_then(|node| nodes.iter().position(|n| n.addr == *node));
        let Some(mut pick) = self.shared.router.first_pinned(pinned, true, n, healthy) else {
            self.shared.refresh_soon();
            return Err(slotline_conn::Error::unavailable(
                slotline_conn::UnavailableKind::NoReplica,
                format!(
                    "no healthy replica of {:?} (of {n}; falling back to the master is off)",
                    self.shared.service
                ),
            ));
        };
        let readonly = request.is_readonly();
        let policy = self.shared.sentinel.config().retry;
        let mut tried = 0u64;
        let mut resends = Resends::new();
        loop {
            let ReplicaPick::Replica(i) = pick else {
                self.shared.refresh_soon();
                return self.master().await?.execute(request).await;
            };
            let result = nodes[i].client.execute(request.duplicate()).await;
            if !replica_could_not_serve(&result, readonly) {
                return result;
            }
            // Counted by the policy; the delay is for asking the same node again, and the
            // read goes to another node at once.
            let fate = result
                .as_ref()
                .err()
                .map_or(Fate::RefusedBeforeRunning, slotline_conn::Error::fate);
            if resends.next(&policy, fate, None, Instant::now()).is_none() {
                return result;
            }
            self.shared.refresh_soon();
            tried |= 1 << (i % 64);
            match self
                .shared
                .router
                .elsewhere(n, |j| tried & (1 << (j % 64)) == 0 && healthy(j))
            {
                Some(next) => pick = next,
                None => return result,
            }
        }
    }
}

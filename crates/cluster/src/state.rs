//! [`ClusterState`]: what every clone of a cluster client shares: the settings, the nodes
//! and routes, the refresh schedule and the counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slotline_conn::{Addr, ConnectionConfig};
use tokio::sync::{watch, Notify};

use crate::config::{ClusterConfig, TlsNodeName};
use crate::dispatch::{Place, Redirect};
use crate::refresh::RefreshScheduler;
use crate::registry::{lock, Node, Nodes};
use crate::topology::{SlotMap, Topology};

/// Counters of what the client did, since it was made (see
/// [`ClusterClient::stats`](crate::ClusterClient::stats)).
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
    /// Failovers followed: replicas found promoted to master in a new slot map.
    pub failovers: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) moved: AtomicU64,
    pub(crate) ask: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) refreshes: AtomicU64,
    pub(crate) failed_refreshes: AtomicU64,
    pub(crate) topology_queries: AtomicU64,
    pub(crate) failovers: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Everything the clones of one [`ClusterClient`](crate::ClusterClient) share.
#[derive(Debug)]
pub(crate) struct ClusterState {
    pub(crate) config: ClusterConfig,
    pub(crate) startup: Vec<Addr>,
    pub(crate) nodes: Nodes,
    pub(crate) scheduler: Mutex<RefreshScheduler>,
    /// Wakes the refresh task.
    pub(crate) wake: Arc<Notify>,
    /// Counts finished refreshes, for retries that wait for one.
    pub(crate) refreshed: watch::Sender<u64>,
    /// Rotates the first node asked for the topology.
    pub(crate) next_seed: std::sync::atomic::AtomicUsize,
    /// The servers do not know `CLUSTER SHARDS`: ask `CLUSTER SLOTS`.
    pub(crate) slots_only: AtomicBool,
    /// The host names nodes announce, from the last topology installed (for
    /// [`TlsNodeName::Hostname`]).
    hostnames: Mutex<HashMap<Addr, String>>,
    pub(crate) counters: Counters,
}

impl Drop for ClusterState {
    fn drop(&mut self) {
        // Lets the refresh task notice that the client is gone.
        self.wake.notify_one();
    }
}

impl ClusterState {
    pub(crate) fn new(config: ClusterConfig, startup: Vec<Addr>) -> Self {
        let scheduler = RefreshScheduler::new(config.refresh_min_interval, config.refresh_jitter);
        ClusterState {
            nodes: Nodes::new(config.read_from),
            config,
            startup,
            scheduler: Mutex::new(scheduler),
            wake: Arc::new(Notify::new()),
            refreshed: watch::channel(0).0,
            next_seed: Default::default(),
            slots_only: AtomicBool::new(false),
            hostnames: Mutex::default(),
            counters: Counters::default(),
        }
    }

    /// The connection settings of the node at `addr`: [`ClusterConfig::node_config`], and
    /// over TLS the name its certificate is checked against, as
    /// [`ClusterConfig::tls_node_name`] says (unless the TLS settings name one for all).
    pub(crate) fn node_config(&self, addr: &Addr) -> ConnectionConfig {
        let mut config = self.config.node_config(addr);
        if let Some(tls) = config.tls.as_deref_mut() {
            if tls.server_name.is_none() {
                tls.server_name = match self.config.tls_node_name {
                    TlsNodeName::Announced => None,
                    TlsNodeName::Startup => self
                        .startup
                        .first()
                        .and_then(Addr::host)
                        .map(str::to_string),
                    TlsNodeName::Hostname => lock(&self.hostnames).get(addr).cloned(),
                };
            }
        }
        config
    }

    /// Whether nodes are checked against the host names they announce: over TLS, with
    /// [`TlsNodeName::Hostname`] and no one name set for all.
    fn checks_hostnames(&self) -> bool {
        self.config.tls_node_name == TlsNodeName::Hostname
            && self
                .config
                .connection
                .tls
                .as_ref()
                .is_some_and(|tls| tls.server_name.is_none())
    }

    pub(crate) fn make_node(&self, addr: &Addr) -> Node {
        Node::new(
            addr.clone(),
            self.node_config(addr),
            self.config.node_options(),
        )
    }

    /// The node at `addr`, known or new.
    pub(crate) fn node(&self, addr: &Addr) -> Arc<Node> {
        self.nodes.node(addr, |a| self.make_node(a))
    }

    /// Where a part goes now (see [`Nodes::locate`]).
    pub(crate) fn locate(
        &self,
        place: &Place,
        readonly: bool,
        avoid: Option<&Addr>,
    ) -> Option<Arc<Node>> {
        self.nodes
            .locate(place, readonly, avoid, |a| self.make_node(a))
    }

    /// Applies a redirect `from` a node: a `MOVED` patches its slot now and schedules one
    /// refresh.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn note(&self, redirect: Option<Redirect>, from: &Addr) {
        match redirect {
            None => {}
            Some(Redirect::Ask { addr }) => {
                crate::trace::event!(DEBUG, from = %from, to = %addr, "ASK: the slot is being imported there");
                bump(&self.counters.ask)
            }
            Some(Redirect::Moved { slot, addr }) => {
                crate::trace::event!(INFO, slot, from = %from, to = %addr, "MOVED: the slot is served there now");
                self.on_moved(slot, &addr)
            }
        }
    }

    /// A `MOVED` reply: patches the slot now and schedules a refresh (unless the map says
    /// so already: many `MOVED`s for one slot cost one patch).
    pub(crate) fn on_moved(&self, slot: u16, addr: &Addr) {
        bump(&self.counters.moved);
        // A replica of the slot's shard answering for it: a failover, found by a redirect
        // before the next slot map.
        if self
            .nodes
            .routes()
            .map
            .shard_of(slot)
            .is_some_and(|s| s.replicas.contains(addr))
        {
            bump(&self.counters.failovers);
            crate::trace::event!(INFO, slot, to = %addr, "failover followed: a replica serves as master now");
        }
        if self.nodes.patch_moved(slot, addr, |a| self.make_node(a)) {
            self.request_refresh();
        }
    }

    /// Asks the refresh task for a refresh (coalesced and rate-limited).
    pub(crate) fn request_refresh(&self) {
        let now = std::time::Instant::now();
        if lock(&self.scheduler).request(now) {
            self.wake.notify_one();
        }
    }

    /// Replaces the map with `topology`'s. When nodes are checked against the host names
    /// they announce, a node made under another name than it announces now (or before its
    /// name was known, after a `MOVED`) is made anew.
    pub(crate) fn install(&self, topology: &Topology) {
        if self.checks_hostnames() {
            *lock(&self.hostnames) = topology
                .nodes()
                .filter_map(|n| Some((n.addr.clone(), n.hostname.clone()?)))
                .collect();
            // Registry, then host names: the order `make_node` takes them in.
            self.nodes.forget_where(|node| {
                let checked = node
                    .config()
                    .tls
                    .as_ref()
                    .and_then(|t| t.server_name.as_ref());
                checked != lock(&self.hostnames).get(&node.addr)
            });
        }
        let map = SlotMap::new(topology);
        let promoted = self.nodes.routes().map.promoted(&map);
        crate::trace::event!(
            DEBUG,
            masters = map.serving_masters().len(),
            slots = map.covered_slots(),
            "slot map loaded"
        );
        if promoted > 0 {
            crate::trace::event!(
                INFO,
                promoted,
                "failover followed: replicas serve as masters now"
            );
        }
        self.counters
            .failovers
            .fetch_add(promoted as u64, Ordering::Relaxed);
        self.nodes.install(map, &|a| self.make_node(a));
    }

    /// Sleeps before a retry. With `refresh`, a refresh is asked for and the wait ends
    /// early when one completes (the map may say where to go now).
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

    /// The counters.
    pub(crate) fn stats(&self) -> ClusterStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClusterStats {
            moved: get(&c.moved),
            ask: get(&c.ask),
            retries: get(&c.retries),
            refreshes: get(&c.refreshes),
            failed_refreshes: get(&c.failed_refreshes),
            topology_queries: get(&c.topology_queries),
            failovers: get(&c.failovers),
        }
    }
}

//! The nodes the client talks to, the routes (the slot map with the nodes it points at),
//! and where a part of a request goes: [`Nodes::locate`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use slotline_command::{ReplicaPick, ReplicaRouter};
use slotline_conn::{Addr, Client, ClientOptions, ConnectionConfig, ReadFrom, Result};
use tokio::sync::OnceCell;

use crate::dispatch::{NodeAddr, Place};
use crate::topology::SlotMap;

/// After a failed connection attempt, callers within this time get the same error at once
/// instead of each trying again (the node's client, once made, reconnects by itself).
const CONNECT_FAILURE_HOLD: Duration = Duration::from_millis(50);

/// Locks a mutex, ignoring poisoning (nothing here holds an invariant a panic can break).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One node: its address and its shared client, made on first use.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) addr: Addr,
    config: ConnectionConfig,
    options: ClientOptions,
    client: OnceCell<Client>,
    failure: Mutex<Option<(Instant, slotline_conn::Error)>>,
    healthy: AtomicBool,
}

impl Node {
    pub(crate) fn new(addr: Addr, config: ConnectionConfig, options: ClientOptions) -> Self {
        Node {
            addr,
            config,
            options,
            client: OnceCell::new(),
            failure: Mutex::new(None),
            healthy: AtomicBool::new(true),
        }
    }

    /// Drops what the node's client-side cache holds of the slots `left` picks (slots it
    /// no longer serves: nothing would tell it when their keys change).
    fn forget_slots(&self, left: impl Fn(u16) -> bool) {
        if let (Some(c), true) = (self.client.get(), self.config.cache.is_some()) {
            c.forget_cached(|key| left(crate::slot::slot(key)));
        }
    }

    /// The node's shared client, connecting it first if this is its first use.
    pub(crate) async fn client(&self) -> Result<&Client> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        if let Some((at, e)) = lock(&self.failure).as_ref() {
            if at.elapsed() < CONNECT_FAILURE_HOLD {
                return Err(e.clone());
            }
        }
        let made = self
            .client
            .get_or_try_init(|| Client::connect_with(self.config.clone(), self.options.clone()))
            .await;
        if let Err(e) = &made {
            *lock(&self.failure) = Some((Instant::now(), e.clone()));
            self.set_healthy(false);
        }
        made
    }

    /// The client if it was made already.
    pub(crate) fn existing_client(&self) -> Option<&Client> {
        self.client.get()
    }

    /// Whether the last attempt through this node reached it.
    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && self.client.get().is_none_or(Client::is_connected)
    }

    pub(crate) fn set_healthy(&self, healthy: bool) {
        if self.healthy.load(Ordering::Relaxed) != healthy {
            self.healthy.store(healthy, Ordering::Relaxed);
        }
    }

    pub(crate) fn config(&self) -> &ConnectionConfig {
        &self.config
    }
}

impl NodeAddr for Arc<Node> {
    fn node_addr(&self) -> &Addr {
        &self.addr
    }
}

/// The slot map with the nodes it points at: shard `i` of `map` has master `masters[i]`
/// and replicas `replicas[i]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Routes {
    pub(crate) map: SlotMap,
    pub(crate) masters: Vec<Option<Arc<Node>>>,
    pub(crate) replicas: Vec<Vec<Arc<Node>>>,
    /// Masters that serve slots, for keyless commands.
    pub(crate) serving: Vec<Arc<Node>>,
}

/// Every node known, the routes over them, and the read routing: shared by every clone
/// of a client.
#[derive(Debug)]
pub(crate) struct Nodes {
    routes: RwLock<Arc<Routes>>,
    registry: Mutex<HashMap<Addr, Arc<Node>>>,
    /// Reads to replicas, per the client's [`ReadFrom`].
    replicas: ReplicaRouter,
    /// Round robin over the serving masters, for keyless commands.
    next_any: AtomicUsize,
}

impl Nodes {
    pub(crate) fn new(read_from: ReadFrom) -> Self {
        Nodes {
            routes: RwLock::new(Arc::new(Routes::default())),
            registry: Mutex::new(HashMap::new()),
            replicas: ReplicaRouter::new(read_from),
            next_any: AtomicUsize::new(0),
        }
    }

    /// The routes now.
    pub(crate) fn routes(&self) -> Arc<Routes> {
        self.routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The node at `addr`, known or new (made by `make`).
    pub(crate) fn node(&self, addr: &Addr, make: impl FnOnce(&Addr) -> Node) -> Arc<Node> {
        lock(&self.registry)
            .entry(addr.clone())
            .or_insert_with(|| Arc::new(make(addr)))
            .clone()
    }

    /// Drops the nodes `stale` picks from the registry, so that the next use makes them
    /// anew (the routes keep the old ones until the next install).
    pub(crate) fn forget_where(&self, stale: impl Fn(&Node) -> bool) {
        lock(&self.registry).retain(|_, node| !stale(node));
    }

    /// The node clients made so far, with their nodes' addresses.
    pub(crate) fn clients_by_addr(&self) -> Vec<(Addr, Client)> {
        lock(&self.registry)
            .values()
            .filter_map(|n| Some((n.addr.clone(), n.existing_client()?.clone())))
            .collect()
    }

    /// The node clients made so far.
    pub(crate) fn clients(&self) -> Vec<Client> {
        self.clients_by_addr().into_iter().map(|(_, c)| c).collect()
    }

    /// Where a part goes: the node its place names, per the map now. A read of a slot goes
    /// to a replica as the read policy says (never to `avoid`, the node that just could
    /// not serve it, while another can), any other command to the slot's master. `None`:
    /// no node serves the place (nothing is sent).
    pub(crate) fn locate(
        &self,
        place: &Place,
        readonly: bool,
        avoid: Option<&Addr>,
        make: impl FnOnce(&Addr) -> Node,
    ) -> Option<Arc<Node>> {
        let guard = self.routes.read().unwrap_or_else(|p| p.into_inner());
        let routes = &**guard;
        let slot = match place {
            Place::Node(addr) => {
                drop(guard);
                return Some(self.node(addr, make));
            }
            Place::Any => return self.any_master(routes),
            Place::Slot(slot) | Place::MasterOf(slot) => *slot,
        };
        let shard = routes.map.shard_index(slot)?;
        let master = routes.masters.get(shard).and_then(Option::as_ref);
        if !readonly || matches!(place, Place::MasterOf(_)) {
            return master.cloned();
        }
        let replicas = routes.replicas.get(shard).map_or(&[][..], Vec::as_slice);
        let usable = |i: usize| replicas[i].is_healthy() && Some(&replicas[i].addr) != avoid;
        match self.replicas.first(true, replicas.len(), usable) {
            Some(ReplicaPick::Replica(i)) => Some(replicas[i].clone()),
            Some(ReplicaPick::Master) => master.cloned(),
            // `ReadFrom::Replica` with no usable replica: one anyway (it may be back), the
            // avoided one last.
            None => replicas
                .iter()
                .find(|r| Some(&r.addr) != avoid)
                .or(replicas.first())
                .cloned(),
        }
    }

    /// A serving master for a keyless command: round robin, healthy ones first.
    fn any_master(&self, routes: &Routes) -> Option<Arc<Node>> {
        let n = routes.serving.len();
        if n == 0 {
            return None;
        }
        let start = self.next_any.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &routes.serving[(start + i) % n])
            .find(|node| node.is_healthy())
            .or(routes.serving.get(start % n))
            .cloned()
    }

    /// The current master of the shard serving `slot`.
    pub(crate) fn master_of(&self, slot: u16) -> Option<Arc<Node>> {
        let guard = self.routes.read().unwrap_or_else(|p| p.into_inner());
        let shard = guard.map.shard_index(slot)?;
        guard.masters.get(shard).cloned().flatten()
    }

    /// A `MOVED`: `slot` is served by `addr` now. Patches the map unless it says so
    /// already; true when it did (many `MOVED`s for one slot cost one patch).
    pub(crate) fn patch_moved(
        &self,
        slot: u16,
        addr: &Addr,
        make: impl FnOnce(&Addr) -> Node,
    ) -> bool {
        if self.routes().map.master(slot) == Some(addr) {
            return false;
        }
        let node = self.node(addr, make);
        let mut guard = self.routes.write().unwrap_or_else(|p| p.into_inner());
        if guard.map.master(slot) == Some(addr) {
            return false;
        }
        let mut map = guard.map.clone();
        // The slot's nodes until now (but its new master) stop hearing about its keys.
        let before: Vec<Addr> = guard
            .map
            .shard_of(slot)
            .map(|s| s.master.iter().chain(&s.replicas).cloned().collect())
            .unwrap_or_default();
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
        drop(guard);
        let registry = lock(&self.registry);
        for a in before.iter().filter(|a| *a != addr) {
            if let Some(n) = registry.get(a) {
                n.forget_slots(|s| s == slot);
            }
        }
        true
    }

    /// Replaces the routes with `map`'s; nodes that left are dropped from the registry
    /// (their clients close once no request uses them).
    pub(crate) fn install(&self, map: SlotMap, make: &dyn Fn(&Addr) -> Node) {
        let before = self.routes();
        let routes = {
            let mut registry = lock(&self.registry);
            // Nodes that stay but no longer serve some of their slots forget those keys.
            if registry.values().any(|n| n.config.cache.is_some()) {
                for (addr, slots) in before.map.slots_left(&map) {
                    if let Some(n) = registry.get(&addr) {
                        let mut left = vec![false; usize::from(crate::slot::SLOTS)];
                        for s in slots {
                            left[usize::from(s)] = true;
                        }
                        n.forget_slots(|s| left[usize::from(s)]);
                    }
                }
            }
            let mut kept: HashMap<Addr, Arc<Node>> = HashMap::new();
            for addr in map.nodes() {
                if let Some(node) = registry.remove(&addr) {
                    kept.insert(addr, node);
                }
            }
            *registry = kept;
            let mut node = |addr: &Addr| {
                registry
                    .entry(addr.clone())
                    .or_insert_with(|| Arc::new(make(addr)))
                    .clone()
            };
            let masters = map
                .shards()
                .iter()
                .map(|s| s.master.as_ref().map(&mut node))
                .collect();
            let replicas = map
                .shards()
                .iter()
                .map(|s| s.replicas.iter().map(&mut node).collect())
                .collect();
            let serving = map
                .serving_masters()
                .iter()
                .map(|(addr, _)| node(addr))
                .collect();
            Routes {
                map,
                masters,
                replicas,
                serving,
            }
        };
        *self.routes.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(routes);
    }
}

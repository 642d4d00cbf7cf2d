//! The nodes the client talks to, and the routing table that points at them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use slotline_conn::{Addr, Client, ClientOptions, ConnectionConfig, Error, Result};
use tokio::sync::OnceCell;

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
    failure: Mutex<Option<(Instant, Error)>>,
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

impl Routes {
    /// The routes of `map`, with nodes taken from (or added to) `registry`.
    pub(crate) fn build(
        map: SlotMap,
        registry: &mut HashMap<Addr, Arc<Node>>,
        make: &dyn Fn(&Addr) -> Node,
    ) -> Routes {
        let mut node = |addr: &Addr| {
            registry
                .entry(addr.clone())
                .or_insert_with(|| Arc::new(make(addr)))
                .clone()
        };
        let masters: Vec<Option<Arc<Node>>> = map
            .shards()
            .iter()
            .map(|s| s.master.as_ref().map(&mut node))
            .collect();
        let replicas: Vec<Vec<Arc<Node>>> = map
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
    }
}

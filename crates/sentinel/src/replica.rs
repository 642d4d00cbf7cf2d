//! [`ReplicaClient`]: commands spread over the healthy replicas of a service.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use slotline_conn::{command_table, Addr, Client, ClientOptions, Cmd, Pipeline, Query, Resolver};
use slotline_resp::{Frame, Reply};
use tokio::sync::{oneshot, OnceCell};

use crate::logic::{replica_cannot_serve, replica_ready, round_robin};
use crate::{drive, ReplicaFallback, Result, Sentinel, SentinelClient};

/// Error-driven refreshes closer than this are one refresh.
const REFRESH_COALESCE: Duration = Duration::from_millis(200);
/// Most nodes one request is tried on.
const MAX_TRIES: usize = 4;

/// A client that spreads commands over the healthy replicas of a service, round robin.
///
/// Each replica has a shared [`Client`] of its own; a replica whose connection is down is
/// skipped. Before every (re)connect to a replica, it is checked with `ROLE`: only a
/// replica in sync with its master (`connected`) is used, so one that restarted is not
/// read from while it still loads or resyncs. The list of replicas comes from the
/// sentinels (healthy ones only) and is refreshed after errors and every
/// [`replica_refresh`](crate::SentinelConfig::replica_refresh).
///
/// A read that fails on a replica's connection is sent to another node: read-only commands
/// (per the command table) may run twice harmlessly; any other command is sent again only
/// if it was never sent. When no replica is healthy, commands go to the master (a
/// [`SentinelClient`], made on first need) or fail, as
/// [`replica_fallback`](crate::SentinelConfig::replica_fallback) says.
///
/// Writes sent here reach a replica and fail with `READONLY`: use a
/// [`SentinelClient`] for writes.
///
/// It implements [`Query`], hence [`Commands`](slotline_conn::Commands).
#[derive(Debug, Clone)]
pub struct ReplicaClient {
    shared: Arc<ReplicaShared>,
}

#[derive(Debug)]
struct ReplicaShared {
    sentinel: Sentinel,
    service: String,
    /// The replicas in use; replaced as a whole by a refresh.
    nodes: Mutex<Arc<Vec<Node>>>,
    next: AtomicUsize,
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

/// Where one attempt goes.
enum Target {
    Replica(Client),
    Master(SentinelClient),
}

impl ReplicaClient {
    pub(crate) async fn connect(sentinel: Sentinel, service: &str) -> Result<Self> {
        let addrs = sentinel.replica_addrs(service).await?;
        let nodes = connect_nodes(&sentinel, addrs, &[]).await;
        let (stop, stopped) = oneshot::channel();
        let shared = Arc::new(ReplicaShared {
            sentinel,
            service: service.to_string(),
            nodes: Mutex::new(Arc::new(nodes)),
            next: AtomicUsize::new(0),
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

    /// Asks the sentinels for the replicas now and updates the list (returns at once if a
    /// refresh is already under way).
    pub async fn refresh(&self) -> Result<()> {
        self.shared.refresh().await
    }

    /// The node for the next attempt.
    async fn target(&self) -> slotline_conn::Result<Target> {
        let nodes = self.shared.nodes();
        let start = self.shared.next.fetch_add(1, Ordering::Relaxed);
        if let Some(i) = round_robin(start, nodes.len(), |i| nodes[i].client.is_connected()) {
            return Ok(Target::Replica(nodes[i].client.clone()));
        }
        self.shared.refresh_soon();
        match self.shared.sentinel.config().replica_fallback {
            ReplicaFallback::Master => {
                let master = self
                    .shared
                    .master
                    .get_or_try_init(|| {
                        SentinelClient::connect(self.shared.sentinel.clone(), &self.shared.service)
                    })
                    .await?;
                Ok(Target::Master(master.clone()))
            }
            ReplicaFallback::Error => Err(slotline_conn::Error::unavailable(
                slotline_conn::UnavailableKind::NoReplica,
                format!(
                    "no healthy replica of {:?} (of {}; falling back to the master is off)",
                    self.shared.service,
                    nodes.len()
                ),
            )),
        }
    }
}

impl ReplicaShared {
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
    let options = ClientOptions::default()
        .fail_fast()
        .with_reconnect_delays(Duration::from_millis(20), Duration::from_secs(1));
    Client::connect_resolved(resolver, options).await
}

/// Refreshes the replica list every `replica_refresh` until the last handle is dropped.
async fn refresh_periodically(shared: Weak<ReplicaShared>, mut stop: oneshot::Receiver<()>) {
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

impl Target {
    async fn send_command_reply(&self, cmd: &Cmd) -> slotline_conn::Result<Reply> {
        match self {
            Target::Replica(c) => c.send_command_reply(cmd).await,
            Target::Master(m) => m.send_command_reply(cmd).await,
        }
    }

    async fn send_pipeline(&self, pipe: &Pipeline) -> slotline_conn::Result<Vec<Frame>> {
        match self {
            Target::Replica(c) => c.send_pipeline(pipe).await,
            Target::Master(m) => m.send_pipeline(pipe).await,
        }
    }

    fn is_replica(&self) -> bool {
        matches!(self, Target::Replica(_))
    }
}

/// Whether a failed attempt on a replica may go to another node: the connection is the
/// problem, and the request either was never sent or only reads.
fn try_elsewhere(e: &slotline_conn::Error, reads_only: bool) -> bool {
    e.is_connection_lost() && (e.is_retryable() || reads_only)
}

impl Query for ReplicaClient {
    /// Sends the command to a replica. A replica that cannot serve (`LOADING`,
    /// `MASTERDOWN`, or gone while the request had not left or only read) passes the
    /// command to the next one, a few times at most.
    async fn send_command_reply(&self, cmd: &Cmd) -> slotline_conn::Result<Reply> {
        let reads_only = command_table::is_readonly(cmd);
        let mut tries = 0;
        loop {
            tries += 1;
            let target = self.target().await?;
            let last = tries >= MAX_TRIES || !target.is_replica();
            match target.send_command_reply(cmd).await {
                Ok(reply) if !last && replica_cannot_serve(reply.view()) => {
                    self.shared.refresh_soon();
                }
                Err(e) if !last && try_elsewhere(&e, reads_only) => {
                    self.shared.refresh_soon();
                }
                other => return other,
            }
        }
    }

    async fn send_pipeline(&self, pipe: &Pipeline) -> slotline_conn::Result<Vec<Frame>> {
        let reads_only = !pipe.is_atomic() && pipe.cmds().iter().all(command_table::is_readonly);
        let mut tries = 0;
        loop {
            tries += 1;
            let target = self.target().await?;
            let last = tries >= MAX_TRIES || !target.is_replica();
            match target.send_pipeline(pipe).await {
                Ok(replies) if !last && reads_only && replies.iter().any(replica_cannot_serve) => {
                    self.shared.refresh_soon();
                }
                Err(e) if !last && try_elsewhere(&e, reads_only) => {
                    self.shared.refresh_soon();
                }
                other => return other,
            }
        }
    }
}

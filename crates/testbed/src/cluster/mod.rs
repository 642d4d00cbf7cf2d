//! A Redis Cluster: M masters with R replicas each.

mod faults;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use slotline_resp::Frame;

use crate::error::{Error, Result};
use crate::info::{self, NodeLine, SlotRange};
use crate::process::{lock, quote, Kind, Process, Spec, TopoDir};
use crate::tls::{TlsFiles, TlsRequest, TlsSetup};
use crate::topology::{self, Description, NodeInfo, Role, ENV_CLUSTER, ENV_PASSWORD};
use crate::wait::{poll_until, Poll};
use crate::wire::{self, Auth, Conn};

/// Number of hash slots.
pub const SLOTS: u16 = 16384;

/// Options of a [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    masters: usize,
    replicas: usize,
    node_timeout: Duration,
    requirepass: Option<String>,
    config: Vec<String>,
    timeout: Duration,
    local: bool,
    tls: TlsRequest,
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        ClusterBuilder {
            masters: 3,
            replicas: 1,
            node_timeout: Duration::from_millis(2000),
            requirepass: None,
            config: Vec::new(),
            timeout: topology::READY_TIMEOUT,
            local: false,
            tls: TlsRequest::default(),
        }
    }
}

impl ClusterBuilder {
    crate::builder::common_setters!("SLOTLINE_TEST_CLUSTER"; requirepass, config, timeout, local, tls, tls_server_cert);

    /// Number of masters (default 3).
    pub fn masters(mut self, n: usize) -> Self {
        self.masters = n;
        self
    }

    /// Replicas per master (default 1).
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n;
        self
    }

    /// `cluster-node-timeout` (default 2000 ms): how long until a silent node is failed over.
    pub fn node_timeout(mut self, d: Duration) -> Self {
        self.node_timeout = d;
        self
    }

    fn spec(&self, tls: Option<TlsSetup>) -> Spec {
        let mut config = vec![
            "cluster-enabled yes".to_string(),
            "cluster-config-file nodes.conf".to_string(),
            format!("cluster-node-timeout {}", self.node_timeout.as_millis()),
            // A replica may always take over, however long its link was down.
            "cluster-replica-validity-factor 0".to_string(),
            // Keep the shape the test asked for.
            "cluster-allow-replica-migration no".to_string(),
            // CLUSTER SLOTS hides replicas whose replication offset is still 0; a master
            // advances it with a PING to its replicas every repl-ping-replica-period.
            "repl-ping-replica-period 1".to_string(),
        ];
        if let Some(p) = &self.requirepass {
            config.push(format!("requirepass {}", quote(p)));
            config.push(format!("masterauth {}", quote(p)));
        }
        config.extend(self.config.iter().cloned());
        Spec {
            kind: Kind::Server,
            config,
            auth: self.requirepass.clone().map(Auth::password),
            cluster: true,
            tls,
        }
    }

    /// Starts the nodes, assigns the slots (`CLUSTER ADDSLOTSRANGE`), joins them
    /// (`CLUSTER MEET`), attaches the replicas (`CLUSTER REPLICATE`) and waits until every node
    /// reports `cluster_state:ok`, all agree on the slot map, and every replica's link is up.
    /// When `SLOTLINE_TEST_CLUSTER` is set, uses that cluster instead.
    pub fn start(self) -> Result<Cluster> {
        if !self.local {
            if let Some(addrs) = topology::env_addrs(ENV_CLUSTER) {
                return Cluster::external(addrs?, topology::env_auth(ENV_PASSWORD));
            }
        }
        if self.masters == 0 || self.masters > usize::from(SLOTS) {
            return Err(Error::Invalid(format!(
                "cannot build a cluster of {} masters",
                self.masters
            )));
        }
        let dir = TopoDir::new("cluster")?;
        let spec = self.spec(self.tls.setup(dir.path())?);
        let m = self.masters;
        let total = m * (1 + self.replicas);
        let nodes = Process::start_all(&vec![spec.clone(); total], dir.path(), self.timeout)?;
        let mut ids = Vec::with_capacity(total);
        for n in &nodes {
            ids.push(n.text(&["CLUSTER", "MYID"])?);
        }
        let m16 = m as u32;
        for (i, master) in nodes[..m].iter().enumerate() {
            let i = i as u32;
            let start = (i * u32::from(SLOTS) / m16).to_string();
            let end = ((i + 1) * u32::from(SLOTS) / m16 - 1).to_string();
            master.cmd(&["CLUSTER", "ADDSLOTSRANGE", &start, &end])?;
        }
        // Distinct epochs up front, as redis-cli does, so that no epoch collision has to be
        // resolved before the cluster settles.
        for (i, n) in nodes.iter().enumerate() {
            n.cmd(&["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()])?;
        }
        for n in &nodes[1..] {
            nodes[0].cmd(&["CLUSTER", "MEET", "127.0.0.1", &n.port().to_string()])?;
        }
        let cluster = Cluster {
            auth: spec.auth.clone(),
            spec,
            seeds: nodes.iter().map(Process::addr).collect(),
            external: false,
            killed_slots: Mutex::new(HashMap::new()),
            nodes: RwLock::new(nodes.into_iter().map(Arc::new).collect()),
            dir: Some(dir),
        };
        // Each replica must know its master before CLUSTER REPLICATE.
        let nodes = cluster.all_nodes();
        for (k, replica) in nodes[m..].iter().enumerate() {
            let master_id = &ids[k % m];
            poll_until(
                &format!("{} to learn of its master", replica.addr()),
                self.timeout,
                || match replica.cmd(&["CLUSTER", "REPLICATE", master_id]) {
                    Ok(_) => Ok(Poll::Ready(())),
                    Err(e)
                        if e.server_message()
                            .is_some_and(|m| m.contains("Unknown node")) =>
                    {
                        Ok(Poll::pending(e.to_string(), Some(replica)))
                    }
                    Err(e) => Err(e),
                },
            )?;
        }
        // Advance every master's replication offset at once (FLUSHALL is propagated even on
        // an empty database), so that replicas show up in CLUSTER SLOTS without waiting for
        // the next replication PING.
        for replica in &nodes[m..] {
            poll_until(
                &format!("replica {} to sync", replica.addr()),
                self.timeout,
                || {
                    let info = replica.text(&["INFO", "replication"]);
                    match info {
                        Ok(i) if info::field(&i, "master_link_status") == Some("up") => {
                            Ok(Poll::Ready(()))
                        }
                        Ok(_) => Ok(Poll::pending("master link down", Some(replica))),
                        Err(e) => Ok(Poll::pending(e.to_string(), Some(replica))),
                    }
                },
            )?;
        }
        for master in &nodes[..m] {
            master.cmd(&["FLUSHALL"])?;
        }
        cluster.wait_stable(self.timeout)?;
        Ok(cluster)
    }
}

/// A slot migration in progress (see [`Cluster::begin_migration`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The slot being moved.
    pub slot: u16,
    /// The node that owned it.
    pub source: SocketAddr,
    /// The node it goes to.
    pub target: SocketAddr,
    source_id: String,
    target_id: String,
}

/// A Redis Cluster on 127.0.0.1 (or an external one, see [`Cluster::external`]).
///
/// Methods take `&self`; share the cluster in an `Arc` to inject faults while other threads
/// run traffic.
#[derive(Debug)]
pub struct Cluster {
    auth: Option<Auth>,
    spec: Spec,
    seeds: Vec<SocketAddr>,
    external: bool,
    /// First slot owned by a master when it was killed or stopped, for
    /// [`Cluster::wait_for_failover`].
    killed_slots: Mutex<HashMap<SocketAddr, u16>>,
    nodes: RwLock<Vec<Arc<Process>>>,
    dir: Option<TopoDir>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Kill even nodes that a caller still holds an `Arc` to, before the directory goes.
        for n in self.all_nodes() {
            let _ = n.kill();
        }
        self.dir.take();
    }
}

/// What one node says about the cluster.
struct NodeView {
    addr: SocketAddr,
    state_ok: bool,
    known: usize,
    slots: Option<Vec<SlotRange>>,
    nodes: Vec<NodeLine>,
    /// `Some(link_up)` when this node is a replica.
    replica_link: Option<bool>,
}

impl Cluster {
    /// Starts a 3 × 1 cluster (see [`ClusterBuilder::start`]).
    pub fn start() -> Result<Cluster> {
        ClusterBuilder::default().start()
    }

    /// Options for the cluster.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// Uses an existing cluster through some of its nodes (no process is started; faults are
    /// refused). Checks that a seed reports `cluster_state:ok`.
    pub fn external(seeds: Vec<SocketAddr>, auth: Option<Auth>) -> Result<Cluster> {
        let first = *seeds
            .first()
            .ok_or_else(|| Error::Invalid("no cluster seed given".into()))?;
        let info = wire::query(first, auth.as_ref(), &["CLUSTER", "INFO"])?;
        let info = wire::text(first, &info)?;
        if info::field(&info, "cluster_state") != Some("ok") {
            return Err(Error::Invalid(format!(
                "external cluster node {first} does not report cluster_state:ok"
            )));
        }
        Ok(Cluster {
            auth: auth.clone(),
            spec: ClusterBuilder::default().spec(None),
            seeds,
            external: true,
            killed_slots: Mutex::new(HashMap::new()),
            nodes: RwLock::new(Vec::new()),
            dir: None,
        })
    }

    /// The CA, server and client certificate files of a TLS cluster.
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.spec.tls.as_ref().map(|t| &t.files)
    }

    /// Whether this is an external deployment.
    pub fn is_external(&self) -> bool {
        self.external
    }

    fn all_nodes(&self) -> Vec<Arc<Process>> {
        self.nodes.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn live_nodes(&self) -> Vec<Arc<Process>> {
        self.all_nodes()
            .into_iter()
            .filter(|n| n.is_reachable())
            .collect()
    }

    /// Addresses of every node started (including killed ones and added masters), or the
    /// seeds of an external cluster.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        if self.external {
            return self.seeds.clone();
        }
        self.all_nodes().iter().map(|n| n.addr()).collect()
    }

    /// Addresses to bootstrap a client from: every node that should answer.
    pub fn seed_addrs(&self) -> Vec<SocketAddr> {
        if self.external {
            return self.seeds.clone();
        }
        self.live_nodes().iter().map(|n| n.addr()).collect()
    }

    /// The nodes' credentials, if any.
    pub fn auth(&self) -> Option<&Auth> {
        self.auth.as_ref()
    }

    /// Opens an authenticated connection to a node.
    pub fn conn(&self, addr: SocketAddr) -> Result<Conn> {
        Conn::connect_auth(addr, self.auth.as_ref())
    }

    /// Runs one command on a node (fresh connection).
    pub fn cmd<A: AsRef<[u8]>>(&self, addr: SocketAddr, args: &[A]) -> Result<Frame> {
        wire::query(addr, self.auth.as_ref(), args)
    }

    /// Runs a command on the first node that answers.
    fn any<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<(SocketAddr, Frame)> {
        let mut last = None;
        for addr in self.seed_addrs() {
            match self.cmd(addr, args) {
                Ok(f) => return Ok((addr, f)),
                Err(e @ Error::Server { .. }) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Invalid("no cluster node is running".into())))
    }

    /// The slot map (`CLUSTER SLOTS`, normalised) as one answering node sees it.
    pub fn slot_map(&self) -> Result<Vec<SlotRange>> {
        let (addr, reply) = self.any(&["CLUSTER", "SLOTS"])?;
        info::cluster_slots(addr, &reply).ok_or_else(|| Error::Protocol {
            addr,
            message: format!("unexpected CLUSTER SLOTS reply {reply:?}"),
        })
    }

    /// The slot of a key (`CLUSTER KEYSLOT`).
    pub fn keyslot(&self, key: impl AsRef<[u8]>) -> Result<u16> {
        let (addr, reply) = self.any(&[b"CLUSTER".as_slice(), b"KEYSLOT", key.as_ref()])?;
        reply
            .as_int()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| Error::Protocol {
                addr,
                message: format!("unexpected CLUSTER KEYSLOT reply {reply:?}"),
            })
    }

    /// The master serving `slot`.
    pub fn slot_owner(&self, slot: u16) -> Result<SocketAddr> {
        self.slot_map()?
            .iter()
            .find(|r| r.start <= slot && slot <= r.end)
            .map(|r| r.master)
            .ok_or_else(|| Error::Invalid(format!("slot {slot} is not served")))
    }

    /// The replicas of a master, from the slot map.
    pub fn replicas_of(&self, master: SocketAddr) -> Result<Vec<SocketAddr>> {
        Ok(self
            .slot_map()?
            .iter()
            .find(|r| r.master == master)
            .map(|r| r.replicas.iter().copied().collect())
            .unwrap_or_default())
    }

    fn node_lines(&self) -> Result<(SocketAddr, Vec<NodeLine>)> {
        let (addr, reply) = self.any(&["CLUSTER", "NODES"])?;
        Ok((addr, info::cluster_nodes(&wire::text(addr, &reply)?)))
    }

    /// Healthy masters (including masters without slots), from `CLUSTER NODES`.
    pub fn masters(&self) -> Result<Vec<SocketAddr>> {
        let (_, lines) = self.node_lines()?;
        Ok(lines
            .iter()
            .filter(|l| l.is_master() && l.healthy())
            .filter_map(|l| l.addr)
            .collect())
    }

    /// Healthy replicas, from `CLUSTER NODES`.
    pub fn replicas(&self) -> Result<Vec<SocketAddr>> {
        let (_, lines) = self.node_lines()?;
        Ok(lines
            .iter()
            .filter(|l| l.has_flag("slave") && l.healthy())
            .filter_map(|l| l.addr)
            .collect())
    }

    /// Gives every live node a host name to announce (`cluster-announce-hostname`, the
    /// `hostname` field of `CLUSTER SHARDS`) and waits until every live node lists every
    /// one of them.
    pub fn announce_hostnames(
        &self,
        name: impl Fn(SocketAddr) -> String,
        timeout: Duration,
    ) -> Result<()> {
        let live = self.live_nodes();
        for node in &live {
            let hostname = name(node.addr());
            node.conn()?.cmd(&[
                "CONFIG",
                "SET",
                "cluster-announce-hostname",
                hostname.as_str(),
            ])?;
        }
        poll_until(
            "every node to list the host names announced",
            timeout,
            || {
                for node in &live {
                    let mut c = node.conn()?;
                    let text = wire::text(node.addr(), &c.cmd(&["CLUSTER", "NODES"])?)?;
                    for line in info::cluster_nodes(&text) {
                        let Some(addr) = line.addr else { continue };
                        if !live.iter().any(|n| n.addr() == addr) {
                            continue;
                        }
                        if line.hostname.as_deref() != Some(name(addr).as_str()) {
                            return Ok(Poll::pending(
                                format!("{} lists {addr} as {:?}", node.addr(), line.hostname),
                                Some(node),
                            ));
                        }
                    }
                }
                Ok(Poll::Ready(()))
            },
        )
    }

    /// A node's id (`CLUSTER MYID`).
    pub fn node_id(&self, addr: SocketAddr) -> Result<String> {
        let reply = self.cmd(addr, &["CLUSTER", "MYID"])?;
        wire::text(addr, &reply)
    }

    fn view(&self, node: &Process) -> Result<NodeView> {
        let addr = node.addr();
        let mut c = node.conn()?;
        let cinfo = wire::text(addr, &c.cmd(&["CLUSTER", "INFO"])?)?;
        let slots_reply = c.cmd(&["CLUSTER", "SLOTS"])?;
        let nodes = info::cluster_nodes(&wire::text(addr, &c.cmd(&["CLUSTER", "NODES"])?)?);
        let rinfo = wire::text(addr, &c.cmd(&["INFO", "replication"])?)?;
        let replica_link = (info::field(&rinfo, "role") == Some("slave"))
            .then(|| info::field(&rinfo, "master_link_status") == Some("up"));
        Ok(NodeView {
            addr,
            state_ok: info::field(&cinfo, "cluster_state") == Some("ok"),
            known: info::field(&cinfo, "cluster_known_nodes")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            slots: info::cluster_slots(addr, &slots_reply),
            nodes,
            replica_link,
        })
    }

    /// One look at the whole cluster: ready with the agreed slot map, or what is missing.
    fn check(&self) -> Result<Poll<Vec<SlotRange>>> {
        let all = self.all_nodes();
        let live = self.live_nodes();
        let live_addrs: BTreeSet<SocketAddr> = live.iter().map(|n| n.addr()).collect();
        let mut agreed: Option<(SocketAddr, Vec<SlotRange>)> = None;
        let mut replicas = BTreeSet::new();
        for n in &live {
            let pending = |why: String| Ok(Poll::pending(why, Some(n)));
            let v = match self.view(n) {
                Ok(v) => v,
                Err(e) => return pending(format!("{}: {e}", n.addr())),
            };
            if !v.state_ok {
                return pending(format!("{} does not report cluster_state:ok", v.addr));
            }
            if v.known != all.len() {
                return pending(format!(
                    "{} knows {} nodes, not {}",
                    v.addr,
                    v.known,
                    all.len()
                ));
            }
            for other in &live_addrs {
                let seen = v
                    .nodes
                    .iter()
                    .any(|l| l.addr == Some(*other) && l.healthy());
                if !seen {
                    return pending(format!("{} does not see {other} as healthy", v.addr));
                }
            }
            let Some(slots) = v.slots else {
                return pending(format!("{}: unparsable CLUSTER SLOTS", v.addr));
            };
            if !info::covers_all(&slots) {
                return pending(format!("{} does not see every slot served", v.addr));
            }
            if let Some(r) = slots.iter().find(|r| !live_addrs.contains(&r.master)) {
                return pending(format!(
                    "{} says slots {}-{} are served by {}, which is down",
                    v.addr, r.start, r.end, r.master
                ));
            }
            match &agreed {
                None => agreed = Some((v.addr, slots)),
                Some((first, map)) if *map != slots => {
                    return pending(format!("{} and {first} disagree on the slot map", v.addr))
                }
                Some(_) => {}
            }
            match v.replica_link {
                Some(false) => {
                    return pending(format!("replica {} has master_link_status != up", v.addr))
                }
                Some(true) => {
                    replicas.insert(v.addr);
                }
                None => {}
            }
        }
        let Some((_, map)) = agreed else {
            return Ok(Poll::pending("no cluster node is running", None));
        };
        let listed: BTreeSet<SocketAddr> = map
            .iter()
            .flat_map(|r| r.replicas.iter().copied())
            .collect();
        if let Some(missing) = replicas.difference(&listed).next() {
            let node = live.iter().find(|n| n.addr() == *missing);
            return Ok(Poll::pending(
                format!("replica {missing} is not in the slot map yet"),
                node.map(|n| &**n),
            ));
        }
        Ok(Poll::Ready(map))
    }

    /// Waits until every live node reports `cluster_state:ok`, knows every node, sees every
    /// live node as healthy, all agree on the slot map (served by live masters only), and
    /// every live replica's link is up. Returns the agreed map.
    pub fn wait_stable(&self, timeout: Duration) -> Result<Vec<SlotRange>> {
        if self.external {
            return self.slot_map();
        }
        poll_until(
            "the cluster to be stable and agree on the slot map",
            timeout,
            || self.check(),
        )
    }

    fn local_node(&self, what: &'static str, addr: SocketAddr) -> Result<Arc<Process>> {
        if self.external {
            return Err(Error::External(what));
        }
        self.all_nodes()
            .into_iter()
            .find(|n| n.addr() == addr)
            .ok_or_else(|| Error::Invalid(format!("no node of this cluster listens on {addr}")))
    }
}

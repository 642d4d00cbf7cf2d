//! A Redis Cluster: M masters with R replicas each.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use slotline_resp::Frame;

use crate::error::{Error, Result};
use crate::info::{self, NodeLine, SlotRange};
use crate::process::{lock, quote, Kind, Process, Spec, TopoDir};
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
        }
    }
}

impl ClusterBuilder {
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

    /// `requirepass` and `masterauth` on every node.
    pub fn requirepass(mut self, password: impl Into<String>) -> Self {
        self.requirepass = Some(password.into());
        self
    }

    /// Adds a raw `redis.conf` line to every node.
    pub fn config(mut self, line: impl Into<String>) -> Self {
        self.config.push(line.into());
        self
    }

    /// Deadline for the cluster to be ready (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Always start locally, even when `SLOTLINE_TEST_CLUSTER` is set.
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    fn spec(&self) -> Spec {
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
        let spec = self.spec();
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
            spec: ClusterBuilder::default().spec(),
            seeds,
            external: true,
            killed_slots: Mutex::new(HashMap::new()),
            nodes: RwLock::new(Vec::new()),
            dir: None,
        })
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
            .filter(|n| n.is_running() && !n.is_stopped())
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

    /// The process of a node (refused on an external deployment).
    pub fn process(&self, addr: SocketAddr) -> Result<Arc<Process>> {
        self.local_node("a process handle", addr)
    }

    fn remember_slots(&self, addr: SocketAddr) {
        if let Ok(map) = self.slot_map() {
            if let Some(r) = map.iter().find(|r| r.master == addr) {
                lock(&self.killed_slots).insert(addr, r.start);
            }
        }
    }

    /// Kills a node with `SIGKILL`. If it was a master, its replica takes over after the node
    /// timeout: see [`Cluster::wait_for_failover`].
    pub fn kill(&self, addr: SocketAddr) -> Result<()> {
        let node = self.local_node("kill", addr)?;
        self.remember_slots(addr);
        node.kill()
    }

    /// Freezes a node with `SIGSTOP` (after the node timeout the cluster fails it over).
    pub fn stop(&self, addr: SocketAddr) -> Result<()> {
        let node = self.local_node("stop", addr)?;
        self.remember_slots(addr);
        node.stop()
    }

    /// Resumes a node with `SIGCONT`.
    pub fn cont(&self, addr: SocketAddr) -> Result<()> {
        self.local_node("cont", addr)?.cont()
    }

    /// Restarts a node on the same port, directory and `nodes.conf` (same node id). A former
    /// master whose slots were taken over rejoins as a replica.
    pub fn restart(&self, addr: SocketAddr) -> Result<()> {
        self.local_node("restart", addr)?.restart()
    }

    /// After a master was killed or stopped: waits until its slots are served by another
    /// master and the cluster is stable again (see [`Cluster::wait_stable`]). Returns the new
    /// master of its slots.
    pub fn wait_for_failover(&self, dead: SocketAddr, timeout: Duration) -> Result<SocketAddr> {
        if self.external {
            return Err(Error::External("waiting for a failover"));
        }
        let slot = lock(&self.killed_slots).get(&dead).copied();
        let slot = slot.ok_or_else(|| {
            Error::Invalid(format!(
                "{dead} served no slots when it was killed or stopped through this cluster"
            ))
        })?;
        poll_until(
            &format!("a replica to take over the slots of {dead}"),
            timeout,
            || match self.check()? {
                Poll::Ready(map) => {
                    let owner = map
                        .iter()
                        .find(|r| r.start <= slot && slot <= r.end)
                        .map(|r| r.master);
                    match owner {
                        Some(o) if o != dead => Ok(Poll::Ready(o)),
                        _ => Ok(Poll::pending(
                            format!("{dead} still owns slot {slot}"),
                            None,
                        )),
                    }
                }
                Poll::Pending { reason, log } => Ok(Poll::Pending { reason, log }),
            },
        )
    }

    /// Manual failover: `CLUSTER FAILOVER` on `replica`, then waits until it is a master, its
    /// old master is its replica, and the cluster is stable and agrees.
    pub fn failover(&self, replica: SocketAddr) -> Result<()> {
        self.manual_failover(replica, None)
    }

    /// `CLUSTER FAILOVER FORCE` on `replica`: takes over without the master's agreement (for
    /// a master that is stopped or dead), then waits until the cluster is stable again.
    pub fn failover_force(&self, replica: SocketAddr) -> Result<()> {
        self.manual_failover(replica, Some("FORCE"))
    }

    fn manual_failover(&self, replica: SocketAddr, option: Option<&str>) -> Result<()> {
        let node = self.local_node("cluster failover", replica)?;
        match option {
            Some(opt) => node.cmd(&["CLUSTER", "FAILOVER", opt])?,
            None => node.cmd(&["CLUSTER", "FAILOVER"])?,
        };
        poll_until(
            &format!("{replica} to take over as master"),
            topology::FAULT_TIMEOUT,
            || match self.check()? {
                Poll::Ready(map) if map.iter().any(|r| r.master == replica) => Ok(Poll::Ready(())),
                Poll::Ready(_) => Ok(Poll::pending(
                    format!("{replica} serves no slots yet"),
                    Some(&node),
                )),
                Poll::Pending { reason, log } => Ok(Poll::Pending { reason, log }),
            },
        )
    }

    /// Manual failover of a master to its first replica; returns the new master.
    pub fn failover_master(&self, master: SocketAddr) -> Result<SocketAddr> {
        if self.external {
            return Err(Error::External("cluster failover"));
        }
        let replica = *self
            .replicas_of(master)?
            .first()
            .ok_or_else(|| Error::Invalid(format!("{master} has no replica")))?;
        self.failover(replica)?;
        Ok(replica)
    }

    /// Starts moving `slot` to the master `target`: `CLUSTER SETSLOT <slot> IMPORTING` on the
    /// target, then `MIGRATING` on the owner. From now on the owner answers `ASK` for keys of
    /// the slot that it no longer holds.
    pub fn begin_migration(&self, slot: u16, target: SocketAddr) -> Result<Migration> {
        if self.external {
            return Err(Error::External("slot migration"));
        }
        if slot >= SLOTS {
            return Err(Error::Invalid(format!("slot {slot} out of range")));
        }
        let source = self.slot_owner(slot)?;
        if source == target {
            return Err(Error::Invalid(format!("{target} already owns slot {slot}")));
        }
        let m = Migration {
            slot,
            source,
            target,
            source_id: self.node_id(source)?,
            target_id: self.node_id(target)?,
        };
        let s = slot.to_string();
        self.cmd(
            target,
            &["CLUSTER", "SETSLOT", &s, "IMPORTING", &m.source_id],
        )?;
        self.cmd(
            source,
            &["CLUSTER", "SETSLOT", &s, "MIGRATING", &m.target_id],
        )?;
        Ok(m)
    }

    /// Moves up to `max` keys of the migrating slot to the target (`CLUSTER GETKEYSINSLOT` +
    /// `MIGRATE`); returns how many were moved.
    pub fn migrate_keys(&self, m: &Migration, max: usize) -> Result<usize> {
        if self.external {
            return Err(Error::External("slot migration"));
        }
        let mut moved = 0;
        let slot = m.slot.to_string();
        let host = m.target.ip().to_string();
        let port = m.target.port().to_string();
        while moved < max {
            let batch = (max - moved).min(100).to_string();
            let reply = self.cmd(m.source, &["CLUSTER", "GETKEYSINSLOT", &slot, &batch])?;
            let keys: Vec<Vec<u8>> = reply
                .iter()
                .filter_map(|k| k.as_bytes().map(<[u8]>::to_vec))
                .collect();
            if keys.is_empty() {
                break;
            }
            let mut args: Vec<Vec<u8>> = vec![
                b"MIGRATE".to_vec(),
                host.clone().into_bytes(),
                port.clone().into_bytes(),
                Vec::new(),
                b"0".to_vec(),
                b"5000".to_vec(),
            ];
            if let Some(auth) = &self.auth {
                match &auth.user {
                    Some(user) => {
                        args.push(b"AUTH2".to_vec());
                        args.push(user.clone().into_bytes());
                    }
                    None => args.push(b"AUTH".to_vec()),
                }
                args.push(auth.password.clone().into_bytes());
            }
            args.push(b"KEYS".to_vec());
            let n = keys.len();
            args.extend(keys);
            self.cmd(m.source, &args)?;
            moved += n;
        }
        Ok(moved)
    }

    /// Finishes a migration: moves the remaining keys, assigns the slot to the target
    /// (`CLUSTER SETSLOT <slot> NODE` on the target, the source, then every other master) and
    /// waits until the whole cluster agrees. From now on the old owner answers `MOVED`.
    /// Returns how many keys were moved by this call.
    pub fn finish_migration(&self, m: Migration) -> Result<usize> {
        let moved = self.migrate_keys(&m, usize::MAX)?;
        let s = m.slot.to_string();
        let setslot =
            |addr: SocketAddr| self.cmd(addr, &["CLUSTER", "SETSLOT", &s, "NODE", &m.target_id]);
        setslot(m.target)?;
        setslot(m.source)?;
        for master in self.masters()? {
            if master != m.target && master != m.source {
                setslot(master)?;
            }
        }
        poll_until(
            &format!(
                "the cluster to agree that {} serves slot {}",
                m.target, m.slot
            ),
            topology::FAULT_TIMEOUT,
            || match self.check()? {
                Poll::Ready(map) => {
                    let owner = map
                        .iter()
                        .find(|r| r.start <= m.slot && m.slot <= r.end)
                        .map(|r| r.master);
                    if owner == Some(m.target) {
                        Ok(Poll::Ready(()))
                    } else {
                        Ok(Poll::pending(
                            format!("slot {} is still at {owner:?}", m.slot),
                            None,
                        ))
                    }
                }
                Poll::Pending { reason, log } => Ok(Poll::Pending { reason, log }),
            },
        )?;
        Ok(moved)
    }

    /// Moves a whole slot (begin, all keys, finish); returns how many keys moved.
    pub fn move_slot(&self, slot: u16, target: SocketAddr) -> Result<usize> {
        let m = self.begin_migration(slot, target)?;
        self.finish_migration(m)
    }

    /// Starts a new empty master (no slots), joins it with `CLUSTER MEET` and waits until
    /// every node knows it. Returns its address; move slots to it with
    /// [`Cluster::move_slot`].
    pub fn add_master(&self) -> Result<SocketAddr> {
        if self.external {
            return Err(Error::External("adding a master"));
        }
        let Some(dir) = self.dir.as_ref() else {
            return Err(Error::External("adding a master"));
        };
        let node = Process::start(&self.spec, dir.path(), topology::READY_TIMEOUT)?;
        let addr = node.addr();
        let existing = self
            .live_nodes()
            .first()
            .cloned()
            .ok_or_else(|| Error::Invalid("no cluster node is running".into()))?;
        self.nodes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(node));
        existing.cmd(&["CLUSTER", "MEET", "127.0.0.1", &addr.port().to_string()])?;
        self.wait_stable(topology::FAULT_TIMEOUT)?;
        Ok(addr)
    }

    /// The cluster, as the CLI describes it (roles from `CLUSTER NODES`).
    pub fn describe(&self) -> Description {
        let mut nodes: Vec<NodeInfo> = Vec::new();
        if let Ok((_, lines)) = self.node_lines() {
            for l in lines.iter().filter(|l| l.healthy()) {
                if let Some(addr) = l.addr {
                    let role = if l.is_master() {
                        Role::Master
                    } else {
                        Role::Replica
                    };
                    nodes.push(NodeInfo { addr, role });
                }
            }
        }
        nodes.sort_by_key(|n| (n.role != Role::Master, n.addr));
        Description {
            topology: "cluster",
            nodes,
            sentinels: Vec::new(),
            service: None,
        }
    }
}

//! Breaking a test-bed cluster on purpose: killing, stopping and restarting nodes,
//! failovers, slot migrations in steps, a master added.

use super::*;

impl Cluster {
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

    /// Cuts a node off the network, its bus port too (see [`Process::partition`]; after
    /// the node timeout the cluster fails a master over: [`Cluster::wait_for_failover`]).
    pub fn partition(&self, addr: SocketAddr, direction: crate::Direction) -> Result<()> {
        let node = self.local_node("partition", addr)?;
        self.remember_slots(addr);
        node.partition(direction)
    }

    /// Ends a [`partition`](Cluster::partition): a former master whose slots were taken
    /// over rejoins as a replica.
    pub fn heal(&self, addr: SocketAddr) -> Result<()> {
        self.local_node("heal", addr)?.heal()
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
            services: Vec::new(),
            tls: self.tls_files().cloned(),
        }
    }
}

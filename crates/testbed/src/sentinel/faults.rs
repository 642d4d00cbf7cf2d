//! Failovers of a test-bed sentinel topology: roles, forced failovers, a killed master
//! and the wait for its successor.

use super::*;

impl SentinelTopology {
    /// A data node's role, from `ROLE`.
    pub fn role(&self, addr: SocketAddr) -> Result<Role> {
        let reply = wire::query(addr, self.data_auth.as_ref(), &["ROLE"])?;
        match reply.iter().next().and_then(Frame::as_str) {
            Some("master") => Ok(Role::Master),
            Some("slave") | Some("replica") => Ok(Role::Replica),
            _ => Err(Error::Protocol {
                addr,
                message: format!("unexpected ROLE reply {reply:?}"),
            }),
        }
    }

    /// Waits until every live sentinel reports the same master (of the first service),
    /// other than `old`, and that node says it is a master. Returns the new master.
    pub fn wait_for_new_master(&self, old: SocketAddr, timeout: Duration) -> Result<SocketAddr> {
        self.wait_for_new_master_of(self.service(), old, timeout)
    }

    /// [`wait_for_new_master`](Self::wait_for_new_master) for `service`.
    pub fn wait_for_new_master_of(
        &self,
        service: &str,
        old: SocketAddr,
        timeout: Duration,
    ) -> Result<SocketAddr> {
        poll_until(
            &format!("the sentinels to report a new master of {service} instead of {old}"),
            timeout,
            || {
                let mut agreed = None;
                let live = self.live_sentinels();
                if live.is_empty() {
                    return Ok(Poll::pending("no sentinel is running", None));
                }
                for s in live {
                    let node = self.sentinels.iter().find(|p| p.addr() == s);
                    match self.ask_master(s, service) {
                        Ok(Some(m)) if m == old => {
                            return Ok(Poll::pending(
                                format!("sentinel {s} still reports {old}"),
                                node,
                            ))
                        }
                        Ok(Some(m)) => {
                            if *agreed.get_or_insert(m) != m {
                                return Ok(Poll::pending(
                                    format!("sentinels disagree ({m} and {agreed:?})"),
                                    node,
                                ));
                            }
                        }
                        Ok(None) => {
                            return Ok(Poll::pending(format!("sentinel {s} knows no master"), node))
                        }
                        Err(e) => return Ok(Poll::pending(format!("sentinel {s}: {e}"), node)),
                    }
                }
                let Some(m) = agreed else {
                    return Ok(Poll::pending("no answer", None));
                };
                match self.role(m) {
                    Ok(Role::Master) => Ok(Poll::Ready(m)),
                    Ok(Role::Replica) => Ok(Poll::pending(
                        format!("{m} is reported but not promoted yet"),
                        self.data_process(m),
                    )),
                    Err(e) => Ok(Poll::pending(format!("{m}: {e}"), self.data_process(m))),
                }
            },
        )
    }

    /// Forces a failover of the first service (`SENTINEL FAILOVER <service>`) and waits
    /// until every sentinel reports the new master. Returns it.
    pub fn failover(&self) -> Result<SocketAddr> {
        self.failover_of(self.service())
    }

    /// [`failover`](Self::failover) of `service`.
    pub fn failover_of(&self, service: &str) -> Result<SocketAddr> {
        if self.is_external() {
            return Err(Error::External("sentinel failover"));
        }
        let old = self.master_addr_of(service)?;
        let sentinel = *self
            .live_sentinels()
            .first()
            .ok_or_else(|| Error::Invalid("no sentinel is running".into()))?;
        poll_until(
            "a sentinel to accept SENTINEL FAILOVER",
            topology::FAULT_TIMEOUT,
            || match self.sentinel_query(sentinel, &["SENTINEL", "FAILOVER", service]) {
                Ok(_) => Ok(Poll::Ready(())),
                // The sentinel may not consider any replica good enough yet.
                Err(e)
                    if e.server_message()
                        .is_some_and(|m| m.starts_with("NOGOODSLAVE")) =>
                {
                    Ok(Poll::pending(e.to_string(), None))
                }
                Err(e) => Err(e),
            },
        )?;
        self.wait_for_new_master_of(service, old, topology::FAULT_TIMEOUT)
    }

    /// Kills the current master (of the first service) with `SIGKILL`; returns its
    /// address. Follow with [`SentinelTopology::wait_for_new_master`].
    pub fn kill_master(&self) -> Result<SocketAddr> {
        self.kill_master_of(self.service())
    }

    /// [`kill_master`](Self::kill_master) of `service`.
    pub fn kill_master_of(&self, service: &str) -> Result<SocketAddr> {
        if self.is_external() {
            return Err(Error::External("kill"));
        }
        let master = self.master_addr_of(service)?;
        self.kill(master)?;
        Ok(master)
    }

    /// The data node or sentinel on `addr` (refused on an external deployment).
    pub fn process(&self, addr: SocketAddr) -> Result<&Process> {
        self.fault("a process handle", addr)
    }

    /// Kills a data node or sentinel with `SIGKILL`.
    pub fn kill(&self, addr: SocketAddr) -> Result<()> {
        self.fault("kill", addr)?.kill()
    }

    /// Freezes a data node or sentinel with `SIGSTOP`.
    pub fn stop(&self, addr: SocketAddr) -> Result<()> {
        self.fault("stop", addr)?.stop()
    }

    /// Resumes a data node or sentinel with `SIGCONT`.
    pub fn cont(&self, addr: SocketAddr) -> Result<()> {
        self.fault("cont", addr)?.cont()
    }

    /// Restarts a data node or sentinel on the same port and config. A restarted old master
    /// is turned into a replica by the sentinels.
    pub fn restart(&self, addr: SocketAddr) -> Result<()> {
        self.fault("restart", addr)?.restart()
    }

    fn fault(&self, what: &'static str, addr: SocketAddr) -> Result<&Process> {
        if self.is_external() {
            return Err(Error::External(what));
        }
        self.data
            .iter()
            .chain(&self.sentinels)
            .find(|p| p.addr() == addr)
            .ok_or_else(|| Error::Invalid(format!("no node of this topology listens on {addr}")))
    }

    /// The topology, as the CLI describes it (roles as of startup): `sentinel`, or
    /// `sharded-sentinel` with several services.
    pub fn describe(&self) -> Description {
        let initial: Vec<SocketAddr> = self.groups.iter().map(|g| g.initial_master).collect();
        Description {
            topology: if self.groups.len() > 1 {
                "sharded-sentinel"
            } else {
                "sentinel"
            },
            nodes: self
                .data_addrs
                .iter()
                .map(|&addr| NodeInfo {
                    addr,
                    role: if initial.contains(&addr) {
                        Role::Master
                    } else {
                        Role::Replica
                    },
                })
                .collect(),
            sentinels: self.sentinel_addrs.clone(),
            service: Some(self.service().to_string()),
            services: self
                .groups
                .iter()
                .map(|g| (g.service.clone(), g.addrs.clone()))
                .collect(),
            tls: self.tls.clone(),
        }
    }
}

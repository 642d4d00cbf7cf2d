//! A master and its replicas.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::info;
use crate::process::{quote, Kind, Process, Spec, TopoDir};
use crate::tls::{TlsFiles, TlsRequest};
use crate::topology::{self, Description, NodeInfo, Role, ENV_PASSWORD, ENV_REPLICATION};
use crate::wait::{poll_until, Poll};
use crate::wire::{self, Auth, Conn};

/// Options of a [`Replication`] topology.
#[derive(Debug, Clone)]
pub struct ReplicationBuilder {
    replicas: usize,
    requirepass: Option<String>,
    config: Vec<String>,
    timeout: Duration,
    local: bool,
    tls: TlsRequest,
}

impl Default for ReplicationBuilder {
    fn default() -> Self {
        ReplicationBuilder {
            replicas: 2,
            requirepass: None,
            config: Vec::new(),
            timeout: topology::READY_TIMEOUT,
            local: false,
            tls: TlsRequest::default(),
        }
    }
}

impl ReplicationBuilder {
    crate::builder::common_setters!("SLOTLINE_TEST_REPLICATION"; requirepass, config, timeout, tls, local);

    /// Number of replicas (default 2).
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n;
        self
    }

    /// Starts the master and replicas and waits until every link is up (or uses the external
    /// deployment named by `SLOTLINE_TEST_REPLICATION`).
    pub fn start(self) -> Result<Replication> {
        if !self.local {
            if let Some(addrs) = topology::env_addrs(ENV_REPLICATION) {
                let addrs = addrs?;
                return Replication::external(
                    addrs[0],
                    addrs[1..].to_vec(),
                    topology::env_auth(ENV_PASSWORD),
                );
            }
        }
        let dir = TopoDir::new("replication")?;
        let tls = self.tls.setup(dir.path())?;
        let auth = self.requirepass.clone().map(Auth::password);
        let mut base = Vec::new();
        if let Some(p) = &self.requirepass {
            base.push(format!("requirepass {}", quote(p)));
            base.push(format!("masterauth {}", quote(p)));
        }
        base.extend(self.config.iter().cloned());
        let master_spec = Spec {
            kind: Kind::Server,
            config: base.clone(),
            auth: auth.clone(),
            cluster: false,
            tls: tls.clone(),
        };
        let master = Process::start(&master_spec, dir.path(), self.timeout)?;
        let mut replica_config = base;
        replica_config.push(format!("replicaof 127.0.0.1 {}", master.port()));
        let replica_spec = Spec {
            config: replica_config,
            ..master_spec
        };
        let specs = vec![replica_spec; self.replicas];
        let replicas = Process::start_all(&specs, dir.path(), self.timeout)?;
        let mut nodes = vec![master];
        nodes.extend(replicas);
        wait_replication(&nodes[0], &nodes[1..], self.timeout)?;
        Ok(Replication {
            master: nodes[0].addr(),
            replicas: nodes[1..].iter().map(Process::addr).collect(),
            auth,
            tls: tls.map(|t| t.files),
            nodes,
            _dir: Some(dir),
        })
    }
}

/// Waits until `master` lists every replica `state=online` and each replica reports
/// `master_link_status:up`.
pub(crate) fn wait_replication(
    master: &Process,
    replicas: &[Process],
    timeout: Duration,
) -> Result<()> {
    poll_until("the replication links to come up", timeout, || {
        let info = match master.text(&["INFO", "replication"]) {
            Ok(i) => i,
            Err(e) => return Ok(Poll::pending(format!("master: {e}"), Some(master))),
        };
        let listed = info::replicas(&info);
        for r in replicas {
            let online = listed
                .iter()
                .any(|e| e.port == r.port() && e.state == "online");
            if !online {
                return Ok(Poll::pending(
                    format!(
                        "master {} does not list {} as online",
                        master.addr(),
                        r.addr()
                    ),
                    Some(r),
                ));
            }
            let rinfo = match r.text(&["INFO", "replication"]) {
                Ok(i) => i,
                Err(e) => return Ok(Poll::pending(format!("replica: {e}"), Some(r))),
            };
            if info::field(&rinfo, "master_link_status") != Some("up") {
                return Ok(Poll::pending(
                    format!("replica {} has master_link_status != up", r.addr()),
                    Some(r),
                ));
            }
        }
        Ok(Poll::Ready(()))
    })
}

/// A master and N replicas on 127.0.0.1 (or an external set, see [`Replication::external`]).
#[derive(Debug)]
pub struct Replication {
    master: SocketAddr,
    replicas: Vec<SocketAddr>,
    auth: Option<Auth>,
    tls: Option<TlsFiles>,
    // Field order matters: processes die before the directory goes.
    nodes: Vec<Process>,
    _dir: Option<TopoDir>,
}

impl Replication {
    /// Starts a master with 2 replicas (see [`ReplicationBuilder::start`]).
    pub fn start() -> Result<Replication> {
        ReplicationBuilder::default().start()
    }

    /// Options for the topology.
    pub fn builder() -> ReplicationBuilder {
        ReplicationBuilder::default()
    }

    /// Uses an existing master and replicas (no process is started; faults are refused).
    pub fn external(
        master: SocketAddr,
        replicas: Vec<SocketAddr>,
        auth: Option<Auth>,
    ) -> Result<Replication> {
        Conn::connect_auth(master, auth.as_ref())?.cmd(&["PING"])?;
        Ok(Replication {
            master,
            replicas,
            auth,
            tls: None,
            nodes: Vec::new(),
            _dir: None,
        })
    }

    /// Whether this is an external deployment.
    pub fn is_external(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The master's address.
    pub fn master_addr(&self) -> SocketAddr {
        self.master
    }

    /// The replicas' addresses.
    pub fn replica_addrs(&self) -> &[SocketAddr] {
        &self.replicas
    }

    /// `redis://[:password@]addr` for a node (`rediss://...?ssl_ca_certs=..` with TLS).
    pub fn url_for(&self, addr: SocketAddr) -> String {
        topology::node_url(addr, self.auth.as_ref(), self.tls.as_ref())
    }

    /// The CA, server and client certificate files of a TLS topology.
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The `requirepass` credentials, if any.
    pub fn auth(&self) -> Option<&Auth> {
        self.auth.as_ref()
    }

    /// Opens an authenticated connection to a node.
    pub fn conn(&self, addr: SocketAddr) -> Result<Conn> {
        Conn::connect_auth(addr, self.auth.as_ref())
    }

    /// Waits until every replica has processed every write the master had accepted when this
    /// was called (compares `master_repl_offset` with each replica's `slave_repl_offset`;
    /// unlike `WAIT`, this covers writes made on any connection).
    pub fn wait_synced(&self, timeout: Duration) -> Result<()> {
        let offset = |addr: SocketAddr, field: &str| -> Result<Option<i64>> {
            let reply = wire::query(addr, self.auth.as_ref(), &["INFO", "replication"])?;
            let text = wire::text(addr, &reply)?;
            Ok(info::field(&text, field).and_then(|v| v.parse().ok()))
        };
        let target = offset(self.master, "master_repl_offset")?.ok_or_else(|| Error::Protocol {
            addr: self.master,
            message: "INFO replication has no master_repl_offset".into(),
        })?;
        poll_until("the replicas to catch up with the master", timeout, || {
            for &r in &self.replicas {
                match offset(r, "slave_repl_offset") {
                    Ok(Some(o)) if o >= target => {}
                    Ok(o) => {
                        return Ok(Poll::pending(
                            format!("replica {r} is at offset {o:?}, the master at {target}"),
                            self.nodes.iter().find(|p| p.addr() == r),
                        ))
                    }
                    Err(e) => return Ok(Poll::pending(format!("replica {r}: {e}"), None)),
                }
            }
            Ok(Poll::Ready(()))
        })
    }

    /// The process listening on `addr` (refused on an external deployment).
    pub fn process(&self, addr: SocketAddr) -> Result<&Process> {
        self.fault("a process handle", addr)
    }

    /// Kills a node with `SIGKILL`.
    pub fn kill(&self, addr: SocketAddr) -> Result<()> {
        self.fault("kill", addr)?.kill()
    }

    /// Freezes a node with `SIGSTOP`.
    pub fn stop(&self, addr: SocketAddr) -> Result<()> {
        self.fault("stop", addr)?.stop()
    }

    /// Resumes a node with `SIGCONT`.
    pub fn cont(&self, addr: SocketAddr) -> Result<()> {
        self.fault("cont", addr)?.cont()
    }

    /// Restarts a node on the same port and config; a replica then resyncs.
    pub fn restart(&self, addr: SocketAddr) -> Result<()> {
        self.fault("restart", addr)?.restart()
    }

    fn fault(&self, what: &'static str, addr: SocketAddr) -> Result<&Process> {
        if self.is_external() {
            return Err(Error::External(what));
        }
        topology::find(&self.nodes, addr)
    }

    /// The nodes, as the CLI describes them.
    pub fn describe(&self) -> Description {
        let mut nodes = vec![NodeInfo {
            addr: self.master,
            role: Role::Master,
        }];
        nodes.extend(self.replicas.iter().map(|&addr| NodeInfo {
            addr,
            role: Role::Replica,
        }));
        Description {
            topology: "replication",
            nodes,
            sentinels: Vec::new(),
            service: None,
            services: Vec::new(),
            tls: self.tls.clone(),
        }
    }
}

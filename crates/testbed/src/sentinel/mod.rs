//! A master, its replicas, and the sentinels that watch them.

mod faults;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use slotline_resp::Frame;

use crate::error::{Error, Result};
use crate::process::{quote, Kind, Process, Spec, TopoDir};
use crate::replication::wait_replication;
use crate::tls::{TlsFiles, TlsRequest};
use crate::topology::{
    self, Description, NodeInfo, Role, ENV_PASSWORD, ENV_SENTINEL, ENV_SENTINEL_PASSWORD,
    ENV_SENTINEL_SERVICE,
};
use crate::wait::{poll_until, Poll};
use crate::wire::{self, Auth, Conn};

/// The default service name.
pub const DEFAULT_SERVICE: &str = "mymaster";

/// The services of the `sharded-sentinel` topology ([`SentinelTopology::sharded`]).
pub const SHARDED_SERVICES: [&str; 3] = ["svc1", "svc2", "svc3"];

/// Options of a [`SentinelTopology`].
#[derive(Debug, Clone)]
pub struct SentinelBuilder {
    replicas: usize,
    sentinels: usize,
    quorum: usize,
    services: Vec<String>,
    down_after: Duration,
    failover_timeout: Duration,
    requirepass: Option<String>,
    sentinel_password: Option<String>,
    fast_periods: bool,
    timeout: Duration,
    local: bool,
    tls: TlsRequest,
}

impl Default for SentinelBuilder {
    fn default() -> Self {
        SentinelBuilder {
            replicas: 2,
            sentinels: 3,
            quorum: 2,
            services: vec![DEFAULT_SERVICE.into()],
            down_after: Duration::from_millis(1000),
            failover_timeout: Duration::from_millis(5000),
            requirepass: None,
            sentinel_password: None,
            fast_periods: true,
            timeout: topology::READY_TIMEOUT,
            local: false,
            tls: TlsRequest::default(),
        }
    }
}

impl SentinelBuilder {
    crate::builder::common_setters!("SLOTLINE_TEST_SENTINEL"; requirepass, timeout, tls, local);

    /// Number of replicas (default 2; of each service's master, with several services).
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n;
        self
    }

    /// Number of sentinels (default 3) and the quorum (default 2).
    pub fn sentinels(mut self, n: usize, quorum: usize) -> Self {
        self.sentinels = n;
        self.quorum = quorum;
        self
    }

    /// Service (master) name (default `mymaster`).
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.services = vec![name.into()];
        self
    }

    /// Several services, each a master with its own replicas, all watched by the same
    /// sentinels (the layout of sharding with sentinel).
    pub fn services<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.services = names.into_iter().map(Into::into).collect();
        self
    }

    /// `down-after-milliseconds` (default 1000 ms).
    pub fn down_after(mut self, d: Duration) -> Self {
        self.down_after = d;
        self
    }

    /// `failover-timeout` (default 5000 ms).
    pub fn failover_timeout(mut self, d: Duration) -> Self {
        self.failover_timeout = d;
        self
    }

    /// `requirepass` on the sentinels themselves (they also use it with each other).
    pub fn sentinel_password(mut self, password: impl Into<String>) -> Self {
        self.sentinel_password = Some(password.into());
        self
    }

    /// Whether to shorten the sentinels' hello and INFO periods with `SENTINEL DEBUG` (on by
    /// default: sentinels find each other and spread a new configuration in well under a
    /// second instead of 2 to 10 s).
    pub fn fast_periods(mut self, on: bool) -> Self {
        self.fast_periods = on;
        self
    }

    /// Starts master, replicas and sentinels, and waits until every sentinel knows the master,
    /// the replicas and the other sentinels (or uses the external sentinels named by
    /// `SLOTLINE_TEST_SENTINEL`).
    pub fn start(self) -> Result<SentinelTopology> {
        if !self.local {
            if let Some(addrs) = topology::env_addrs(ENV_SENTINEL) {
                let service = std::env::var(ENV_SENTINEL_SERVICE)
                    .ok()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| DEFAULT_SERVICE.into());
                return SentinelTopology::external(
                    addrs?,
                    service,
                    topology::env_auth(ENV_PASSWORD),
                    topology::env_auth(ENV_SENTINEL_PASSWORD),
                );
            }
        }
        if self.services.is_empty() {
            return Err(Error::Invalid("a sentinel topology needs a service".into()));
        }
        for (i, svc) in self.services.iter().enumerate() {
            if svc.is_empty()
                || !svc.bytes().all(|b| b.is_ascii_graphic())
                || self.services[..i].contains(svc)
            {
                return Err(Error::Invalid(format!(
                    "invalid or repeated sentinel service name {svc:?}"
                )));
            }
        }
        crate::process::check_binaries(true)?;
        let dir = TopoDir::new("sentinel")?;
        let tls = self.tls.setup(dir.path())?;
        let data_auth = self.requirepass.clone().map(Auth::password);
        let sentinel_auth = self.sentinel_password.clone().map(Auth::password);

        let mut base = Vec::new();
        if let Some(p) = &self.requirepass {
            base.push(format!("requirepass {}", quote(p)));
            base.push(format!("masterauth {}", quote(p)));
        }
        let master_spec = Spec {
            kind: Kind::Server,
            config: base.clone(),
            auth: data_auth.clone(),
            cluster: false,
            tls: tls.clone(),
        };
        let mut data = Vec::new();
        let mut groups = Vec::new();
        for service in &self.services {
            let master = Process::start(&master_spec, dir.path(), self.timeout)?;
            let mut replica_config = base.clone();
            replica_config.push(format!("replicaof 127.0.0.1 {}", master.port()));
            let replica_spec = Spec {
                config: replica_config,
                ..master_spec.clone()
            };
            let replicas =
                Process::start_all(&vec![replica_spec; self.replicas], dir.path(), self.timeout)?;
            wait_replication(&master, &replicas, self.timeout)?;
            groups.push(Group {
                service: service.clone(),
                initial_master: master.addr(),
                addrs: std::iter::once(&master)
                    .chain(&replicas)
                    .map(Process::addr)
                    .collect(),
            });
            data.push(master);
            data.extend(replicas);
        }

        let mut sconf = Vec::new();
        for g in &groups {
            let svc = &g.service;
            sconf.extend([
                format!(
                    "sentinel monitor {svc} 127.0.0.1 {} {}",
                    g.initial_master.port(),
                    self.quorum
                ),
                format!(
                    "sentinel down-after-milliseconds {svc} {}",
                    self.down_after.as_millis()
                ),
                format!(
                    "sentinel failover-timeout {svc} {}",
                    self.failover_timeout.as_millis()
                ),
                format!("sentinel parallel-syncs {svc} 1"),
            ]);
            if let Some(p) = &self.requirepass {
                sconf.push(format!("sentinel auth-pass {svc} {}", quote(p)));
            }
        }
        if let Some(p) = &self.sentinel_password {
            sconf.push(format!("requirepass {}", quote(p)));
        }
        let sentinel_spec = Spec {
            kind: Kind::Sentinel,
            config: sconf,
            auth: sentinel_auth.clone(),
            cluster: false,
            tls: tls.clone(),
        };
        let sentinels = Process::start_all(
            &vec![sentinel_spec; self.sentinels],
            dir.path(),
            self.timeout,
        )?;
        if self.fast_periods {
            for s in &sentinels {
                // Redis >= 7.0; older sentinels just keep their default periods.
                let _ = s.cmd(&[
                    "SENTINEL",
                    "DEBUG",
                    "info-period",
                    "1000",
                    "publish-period",
                    "200",
                ]);
            }
        }
        let topo = SentinelTopology {
            groups,
            data_auth,
            sentinel_auth,
            data_addrs: data.iter().map(Process::addr).collect(),
            sentinel_addrs: sentinels.iter().map(Process::addr).collect(),
            sentinels,
            data,
            tls: tls.map(|t| t.files),
            _dir: Some(dir),
        };
        topo.wait_ready(self.timeout)?;
        Ok(topo)
    }
}

/// One service of a sentinel topology: its name and its data nodes.
#[derive(Debug, Clone)]
struct Group {
    service: String,
    initial_master: SocketAddr,
    /// Its data nodes, the initial master first.
    addrs: Vec<SocketAddr>,
}

/// A sentinel-managed master with replicas on 127.0.0.1 (or an external set of sentinels);
/// or several such services watched by the same sentinels
/// ([`SentinelBuilder::services`]). Methods without a service name are about the first
/// service; their `_of` twins name one.
#[derive(Debug)]
pub struct SentinelTopology {
    /// The services, in the order given.
    groups: Vec<Group>,
    data_auth: Option<Auth>,
    sentinel_auth: Option<Auth>,
    data_addrs: Vec<SocketAddr>,
    sentinel_addrs: Vec<SocketAddr>,
    // Field order matters: sentinels go first (no failover during teardown), the directory
    // last.
    sentinels: Vec<Process>,
    data: Vec<Process>,
    tls: Option<TlsFiles>,
    _dir: Option<TopoDir>,
}

/// Reads `key` from a flat `[k, v, k, v, ...]` reply.
fn map_get<'a>(frame: &'a Frame, key: &str) -> Option<&'a str> {
    let items = frame.as_array()?;
    items
        .chunks(2)
        .find(|kv| kv[0].as_str() == Some(key))
        .and_then(|kv| kv.get(1)?.as_str())
}

fn entry_addr(entry: &Frame) -> Option<SocketAddr> {
    let ip: IpAddr = map_get(entry, "ip")?.parse().ok()?;
    let port: u16 = map_get(entry, "port")?.parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

fn entry_healthy(entry: &Frame) -> bool {
    map_get(entry, "flags").is_some_and(|f| {
        !f.split(',')
            .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"))
    })
}

/// Healthy, reports itself as a replica of `master`, and its link to it is up.
fn entry_ready(entry: &Frame, master: SocketAddr) -> bool {
    entry_healthy(entry)
        && map_get(entry, "role-reported") == Some("slave")
        && map_get(entry, "master-link-status") == Some("ok")
        && map_get(entry, "master-port") == Some(master.port().to_string().as_str())
}

fn parse_master_addr(reply: &Frame) -> Option<SocketAddr> {
    let items = reply.as_array()?;
    let ip: IpAddr = items.first()?.as_str()?.parse().ok()?;
    let port: u16 = items.get(1)?.as_str()?.parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

impl SentinelTopology {
    /// Starts the default topology (see [`SentinelBuilder::start`]).
    pub fn start() -> Result<SentinelTopology> {
        SentinelBuilder::default().start()
    }

    /// Options for the topology.
    pub fn builder() -> SentinelBuilder {
        SentinelBuilder::default()
    }

    /// Options for the `sharded-sentinel` topology: the services of [`SHARDED_SERVICES`],
    /// each a master with one replica, and 3 sentinels watching all three. Always local.
    pub fn sharded() -> SentinelBuilder {
        SentinelBuilder::default()
            .services(SHARDED_SERVICES)
            .replicas(1)
            .local()
    }

    /// Uses existing sentinels (no process is started; faults are refused).
    pub fn external(
        sentinels: Vec<SocketAddr>,
        service: String,
        data_auth: Option<Auth>,
        sentinel_auth: Option<Auth>,
    ) -> Result<SentinelTopology> {
        let mut topo = SentinelTopology {
            groups: vec![Group {
                service,
                initial_master: sentinels[0],
                addrs: Vec::new(),
            }],
            data_auth,
            sentinel_auth,
            data_addrs: Vec::new(),
            sentinel_addrs: sentinels,
            sentinels: Vec::new(),
            data: Vec::new(),
            tls: None,
            _dir: None,
        };
        let master = topo.master_addr()?;
        let mut addrs = vec![master];
        addrs.extend(topo.replica_addrs()?);
        topo.groups[0].initial_master = master;
        topo.groups[0].addrs = addrs.clone();
        topo.data_addrs = addrs;
        Ok(topo)
    }

    /// Whether this is an external deployment.
    pub fn is_external(&self) -> bool {
        self.sentinels.is_empty()
    }

    /// The CA, server and client certificate files of a TLS topology.
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The (first) service name (`mymaster` by default).
    pub fn service(&self) -> &str {
        &self.groups[0].service
    }

    /// Every service name, in order.
    pub fn services(&self) -> Vec<&str> {
        self.groups.iter().map(|g| g.service.as_str()).collect()
    }

    fn group(&self, service: &str) -> Result<&Group> {
        self.groups
            .iter()
            .find(|g| g.service == service)
            .ok_or_else(|| Error::Invalid(format!("this topology has no service {service:?}")))
    }

    /// The sentinels' addresses.
    pub fn sentinel_addrs(&self) -> &[SocketAddr] {
        &self.sentinel_addrs
    }

    /// Every data node's address, service by service, each initial master first.
    pub fn data_addrs(&self) -> &[SocketAddr] {
        &self.data_addrs
    }

    /// The data nodes of `service`, its initial master first.
    pub fn data_addrs_of(&self, service: &str) -> Result<&[SocketAddr]> {
        Ok(&self.group(service)?.addrs)
    }

    /// The (first service's) master at startup.
    pub fn initial_master(&self) -> SocketAddr {
        self.groups[0].initial_master
    }

    /// The master of `service` at startup.
    pub fn initial_master_of(&self, service: &str) -> Result<SocketAddr> {
        Ok(self.group(service)?.initial_master)
    }

    /// Credentials of the data nodes, if any.
    pub fn data_auth(&self) -> Option<&Auth> {
        self.data_auth.as_ref()
    }

    /// Credentials of the sentinels, if any.
    pub fn sentinel_auth(&self) -> Option<&Auth> {
        self.sentinel_auth.as_ref()
    }

    /// Opens an authenticated connection to a data node.
    pub fn conn(&self, addr: SocketAddr) -> Result<Conn> {
        Conn::connect_auth(addr, self.data_auth.as_ref())
    }

    /// Opens an authenticated connection to a sentinel.
    pub fn sentinel_conn(&self, addr: SocketAddr) -> Result<Conn> {
        Conn::connect_auth(addr, self.sentinel_auth.as_ref())
    }

    /// Sentinels that should answer (not killed or stopped by a fault).
    fn live_sentinels(&self) -> Vec<SocketAddr> {
        if self.is_external() {
            return self.sentinel_addrs.clone();
        }
        self.sentinels
            .iter()
            .filter(|s| s.is_reachable())
            .map(Process::addr)
            .collect()
    }

    fn sentinel_query(&self, sentinel: SocketAddr, args: &[&str]) -> Result<Frame> {
        wire::query(sentinel, self.sentinel_auth.as_ref(), args)
    }

    fn ask_master(&self, sentinel: SocketAddr, service: &str) -> Result<Option<SocketAddr>> {
        let reply =
            self.sentinel_query(sentinel, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", service])?;
        Ok(parse_master_addr(&reply))
    }

    /// The (first service's) master, as the first sentinel that answers reports it.
    pub fn master_addr(&self) -> Result<SocketAddr> {
        self.master_addr_of(self.service())
    }

    /// The master of `service`, as the first sentinel that answers reports it.
    pub fn master_addr_of(&self, service: &str) -> Result<SocketAddr> {
        let mut last = None;
        for s in self.live_sentinels() {
            match self.ask_master(s, service) {
                Ok(Some(addr)) => return Ok(addr),
                Ok(None) => {
                    last = Some(Error::Invalid(format!(
                        "sentinel {s} does not know service {service}"
                    )))
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Invalid("no sentinel is running".into())))
    }

    /// The (first service's) replicas a sentinel reports as healthy (not down, not
    /// disconnected).
    pub fn replica_addrs(&self) -> Result<Vec<SocketAddr>> {
        self.replica_addrs_of(self.service())
    }

    /// The replicas of `service` a sentinel reports as healthy.
    pub fn replica_addrs_of(&self, service: &str) -> Result<Vec<SocketAddr>> {
        let mut last = None;
        for s in self.live_sentinels() {
            match self.sentinel_query(s, &["SENTINEL", "REPLICAS", service]) {
                Ok(reply) => {
                    return Ok(reply
                        .iter()
                        .filter(|e| entry_healthy(e))
                        .filter_map(entry_addr)
                        .collect())
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Invalid("no sentinel is running".into())))
    }

    /// Waits until, for every service, every live sentinel agrees on the master, knows
    /// every other live data node of the service as a healthy replica of it with its link
    /// up, and knows the other sentinels.
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        poll_until(
            "the sentinels to agree on master, replicas and each other",
            timeout,
            || {
                for g in &self.groups {
                    if let pending @ Poll::Pending { .. } = self.group_ready(g)? {
                        return Ok(pending);
                    }
                }
                Ok(Poll::Ready(()))
            },
        )
    }

    /// One poll of [`wait_ready`](Self::wait_ready) for one service.
    fn group_ready(&self, g: &Group) -> Result<Poll<()>> {
        let expected_sentinels = self.sentinel_addrs.len().saturating_sub(1);
        let svc = g.service.as_str();
        let mut master = None;
        for s in self.live_sentinels() {
            let node = self.sentinels.iter().find(|p| p.addr() == s);
            let pending = |why: String| Ok(Poll::pending(why, node));
            let m = match self.ask_master(s, svc) {
                Ok(Some(m)) => m,
                Ok(None) => return pending(format!("sentinel {s} knows no master of {svc}")),
                Err(e) => return pending(format!("sentinel {s}: {e}")),
            };
            if *master.get_or_insert(m) != m {
                return pending(format!("sentinels disagree on the master of {svc} ({m})"));
            }
            let known: BTreeSet<SocketAddr> =
                match self.sentinel_query(s, &["SENTINEL", "REPLICAS", svc]) {
                    Ok(r) => r
                        .iter()
                        .filter(|e| entry_ready(e, m))
                        .filter_map(entry_addr)
                        .collect(),
                    Err(e) => return pending(format!("sentinel {s}: {e}")),
                };
            let missing: Vec<_> = self
                .live_data()
                .into_iter()
                .filter(|a| g.addrs.is_empty() || g.addrs.contains(a))
                .filter(|a| *a != m && !known.contains(a))
                .collect();
            if !missing.is_empty() {
                return pending(format!(
                    "sentinel {s} does not know replicas {missing:?} of {m} ({svc})"
                ));
            }
            match self.sentinel_query(s, &["SENTINEL", "SENTINELS", svc]) {
                Ok(r) if r.iter().count() >= expected_sentinels => {}
                Ok(r) => {
                    return pending(format!(
                        "sentinel {s} knows {} other sentinels, not {expected_sentinels}",
                        r.iter().count()
                    ))
                }
                Err(e) => return pending(format!("sentinel {s}: {e}")),
            }
        }
        let Some(m) = master else {
            return Ok(Poll::pending("no sentinel is running", None));
        };
        match self.role(m) {
            Ok(Role::Master) => Ok(Poll::Ready(())),
            Ok(Role::Replica) => Ok(Poll::pending(
                format!("{m} is not a master yet"),
                self.data_process(m),
            )),
            Err(e) => Ok(Poll::pending(format!("{m}: {e}"), self.data_process(m))),
        }
    }

    /// Data nodes that should answer.
    fn live_data(&self) -> Vec<SocketAddr> {
        if self.is_external() {
            return self.data_addrs.clone();
        }
        self.data
            .iter()
            .filter(|p| p.is_reachable())
            .map(Process::addr)
            .collect()
    }

    fn data_process(&self, addr: SocketAddr) -> Option<&Process> {
        self.data.iter().find(|p| p.addr() == addr)
    }
}

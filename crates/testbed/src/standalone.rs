//! A single `redis-server`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::{quote, Kind, Process, Spec, TopoDir};
use crate::tls::{TlsFiles, TlsRequest};
use crate::topology::{self, Description, NodeInfo, Role, ENV_PASSWORD, ENV_STANDALONE};
use crate::wire::{Auth, Conn};

/// An ACL user to create on a node: `user <name> on ><password> <rules>`.
#[derive(Clone, PartialEq, Eq)]
pub struct AclUser {
    /// User name.
    pub name: String,
    /// Password.
    pub password: String,
    /// ACL rules, e.g. `~* &* +@all` or `~app:* +get +set`.
    pub rules: String,
}

impl std::fmt::Debug for AclUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclUser")
            .field("name", &self.name)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

/// Options of a [`Standalone`] node.
#[derive(Debug, Clone)]
pub struct StandaloneBuilder {
    requirepass: Option<String>,
    users: Vec<AclUser>,
    config: Vec<String>,
    timeout: Duration,
    local: bool,
    tls: TlsRequest,
}

impl Default for StandaloneBuilder {
    fn default() -> Self {
        StandaloneBuilder {
            requirepass: None,
            users: Vec::new(),
            config: Vec::new(),
            timeout: topology::READY_TIMEOUT,
            local: false,
            tls: TlsRequest::default(),
        }
    }
}

impl StandaloneBuilder {
    crate::builder::common_setters!("SLOTLINE_TEST_STANDALONE"; requirepass, config, timeout, tls, tls_server_cert, local);

    /// Adds an ACL user, e.g. `.user("app", "secret", "~app:* +@all")`.
    pub fn user(
        mut self,
        name: impl Into<String>,
        password: impl Into<String>,
        rules: impl Into<String>,
    ) -> Self {
        self.users.push(AclUser {
            name: name.into(),
            password: password.into(),
            rules: rules.into(),
        });
        self
    }

    /// [`tls`](Self::tls), and clients must show a certificate signed by its CA.
    pub fn require_client_cert(mut self) -> Self {
        self.tls.require_client_cert = true;
        self.tls()
    }

    /// Starts the node (or, when `SLOTLINE_TEST_STANDALONE` is set and [`Self::local`] was
    /// not asked for, uses that external node) and waits until it answers.
    pub fn start(self) -> Result<Standalone> {
        if !self.local {
            if let Some(addrs) = topology::env_addrs(ENV_STANDALONE) {
                let addr = addrs?[0];
                return Standalone::external(addr, topology::env_auth(ENV_PASSWORD));
            }
        }
        let dir = TopoDir::new("standalone")?;
        let auth = self.requirepass.clone().map(Auth::password);
        let mut config = Vec::new();
        if let Some(p) = &self.requirepass {
            config.push(format!("requirepass {}", quote(p)));
        }
        for u in &self.users {
            config.push(format!(
                "user {} on {} {}",
                quote(&u.name),
                quote(&format!(">{}", u.password)),
                u.rules
            ));
        }
        config.extend(self.config.iter().cloned());
        let tls = self.tls.setup(dir.path())?;
        let spec = Spec {
            kind: Kind::Server,
            config,
            auth: auth.clone(),
            cluster: false,
            tls: tls.clone(),
        };
        let node = Process::start(&spec, dir.path(), self.timeout)?;
        Ok(Standalone {
            addr: node.addr(),
            auth,
            tls: tls.map(|t| t.files),
            node: Some(node),
            _dir: Some(dir),
        })
    }
}

/// One `redis-server` on 127.0.0.1 (or an external node, see [`Standalone::external`]).
#[derive(Debug)]
pub struct Standalone {
    addr: SocketAddr,
    auth: Option<Auth>,
    tls: Option<TlsFiles>,
    // Field order matters: the process is killed before its directory is removed.
    node: Option<Process>,
    _dir: Option<TopoDir>,
}

impl Standalone {
    /// Starts a node with default options (see [`StandaloneBuilder::start`]).
    pub fn start() -> Result<Standalone> {
        StandaloneBuilder::default().start()
    }

    /// Options for a node.
    pub fn builder() -> StandaloneBuilder {
        StandaloneBuilder::default()
    }

    /// Uses an existing node (no process is started; faults are refused).
    pub fn external(addr: SocketAddr, auth: Option<Auth>) -> Result<Standalone> {
        let mut c = Conn::connect_auth(addr, auth.as_ref())?;
        c.cmd(&["PING"])?;
        Ok(Standalone {
            addr,
            auth,
            tls: None,
            node: None,
            _dir: None,
        })
    }

    /// Whether this is an external deployment.
    pub fn is_external(&self) -> bool {
        self.node.is_none()
    }

    /// The node's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `redis://[:password@]127.0.0.1:port`; with TLS
    /// `rediss://[:password@]127.0.0.1:port?ssl_ca_certs=<CA file>`.
    pub fn url(&self) -> String {
        topology::node_url(self.addr, self.auth.as_ref(), self.tls.as_ref())
    }

    /// The CA, server and client certificate files of a TLS node.
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The `requirepass` credentials, if any.
    pub fn auth(&self) -> Option<&Auth> {
        self.auth.as_ref()
    }

    /// Opens an authenticated connection.
    pub fn conn(&self) -> Result<Conn> {
        Conn::connect_auth(self.addr, self.auth.as_ref())
    }

    /// The process (refused on an external deployment).
    pub fn process(&self) -> Result<&Process> {
        self.node
            .as_ref()
            .ok_or(Error::External("a process handle"))
    }

    /// Kills the node with `SIGKILL`.
    pub fn kill(&self) -> Result<()> {
        self.fault("kill")?.kill()
    }

    /// Freezes the node with `SIGSTOP`.
    pub fn stop(&self) -> Result<()> {
        self.fault("stop")?.stop()
    }

    /// Resumes the node with `SIGCONT`.
    pub fn cont(&self) -> Result<()> {
        self.fault("cont")?.cont()
    }

    /// Restarts the node on the same port (data is lost: persistence is off).
    pub fn restart(&self) -> Result<()> {
        self.fault("restart")?.restart()
    }

    fn fault(&self, what: &'static str) -> Result<&Process> {
        self.node.as_ref().ok_or(Error::External(what))
    }

    /// The node, as the CLI describes it.
    pub fn describe(&self) -> Description {
        Description {
            topology: "standalone",
            nodes: vec![NodeInfo {
                addr: self.addr,
                role: Role::Master,
            }],
            sentinels: Vec::new(),
            service: None,
            services: Vec::new(),
            tls: self.tls.clone(),
        }
    }
}

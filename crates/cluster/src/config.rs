//! [`ClusterConfig`]: how to reach the nodes, where reads go, how hard to retry.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use slotline_conn::url::RedisUrl;
use slotline_conn::{Addr, ClientOptions, ConnectionConfig, Error, ReadFrom, Result, RetryPolicy};

/// A user name and password for a node (`AUTH`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// ACL user; `None` for the default user.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
}

impl Credentials {
    /// A password for the default user.
    pub fn password(password: impl Into<String>) -> Self {
        Credentials {
            username: None,
            password: Some(password.into()),
        }
    }

    /// An ACL user and its password.
    pub fn user(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: Some(username.into()),
            password: Some(password.into()),
        }
    }
}

/// Which name a cluster node's TLS certificate is checked against (and sent as SNI), for
/// nodes announced by an IP address while their certificates name hosts. A server name set
/// on the [`TlsConfig`](slotline_conn::TlsConfig) itself
/// ([`with_server_name`](slotline_conn::TlsConfig::with_server_name), `ssl_server_name=`)
/// is used for every node instead.
///
/// ```
/// use slotline_cluster::{ClusterConfig, TlsNodeName};
/// let (_, config) = ClusterConfig::from_url(
///     "rediss+cluster://redis.internal:6379?ssl_node_name=startup",
/// )?;
/// assert_eq!(config.tls_node_name, TlsNodeName::Startup);
/// # Ok::<(), slotline_conn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsNodeName {
    /// The endpoint the node is announced at, IP address or host name (default;
    /// `ssl_node_name=announced`).
    #[default]
    Announced,
    /// The host of the first startup node, for every node: a cluster reached through one
    /// DNS name whose certificates all carry it (`ssl_node_name=startup`).
    Startup,
    /// The host name each node announces (`cluster-announce-hostname`, the `hostname`
    /// field of `CLUSTER SHARDS`), or its endpoint when it announces none
    /// (`ssl_node_name=hostname`). The startup nodes, asked before any host name is known,
    /// are checked against the host they are given by.
    Hostname,
}

impl TlsNodeName {
    fn parse(text: &str) -> Result<Self> {
        match text {
            "announced" => Ok(TlsNodeName::Announced),
            "startup" => Ok(TlsNodeName::Startup),
            "hostname" => Ok(TlsNodeName::Hostname),
            other => Err(Error::config(format!(
                "invalid URL option ssl_node_name={other:?}: expected announced, startup or hostname"
            ))),
        }
    }
}

/// Settings of a [`ClusterClient`](crate::ClusterClient).
///
/// ```
/// use std::time::Duration;
/// use slotline_cluster::{ClusterConfig, Credentials};
/// use slotline_conn::{Addr, ReadFrom};
///
/// let config = ClusterConfig::default()
///     .with_password("s3cret")                                  // every node
///     .with_node_credentials(Addr::tcp("10.0.0.7", 7000), Credentials::user("ops", "x"))
///     .with_read_from(ReadFrom::PreferReplica)                 // replica links send READONLY
///     .with_response_timeout(Some(Duration::from_secs(2)));
/// assert_eq!(config.node_config(&Addr::tcp("10.0.0.7", 7000)).username.as_deref(), Some("ops"));
/// assert!(config.node_config(&Addr::tcp("10.0.0.8", 7000)).readonly);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// The settings of every node connection (credentials, client name, timeouts, limits);
    /// its address is replaced by each node's. The database must be 0.
    pub connection: ConnectionConfig,
    /// Credentials for particular nodes, instead of the cluster-wide ones.
    pub node_credentials: HashMap<Addr, Credentials>,
    /// Where read-only commands go (default [`ReadFrom::Primary`]). With replicas in play,
    /// node connections send `READONLY`.
    pub read_from: ReadFrom,
    /// Options of each node's shared client (queue bound, reconnect delays; by default
    /// [`WriteWay::Batched`](slotline_conn::WriteWay::Batched) and no
    /// [`busy_poll`](ClientOptions::busy_poll)). Node clients always fail fast while
    /// reconnecting: the cluster client decides where to go instead.
    pub client_options: ClientOptions,
    /// Redirect and retry limits, and the backoff between retries.
    pub retry: RetryPolicy,
    /// Least time between two starts of a slot map refresh (default 250 ms).
    pub refresh_min_interval: Duration,
    /// Random delay before a scheduled refresh, up to this (default 20 ms).
    pub refresh_jitter: Duration,
    /// Longest wait for one node's topology reply during a refresh (default 1 s).
    pub refresh_timeout: Duration,
    /// Refresh the slot map this often even without a reason (default: never; `MOVED`,
    /// `CLUSTERDOWN` and unreachable nodes trigger refreshes).
    pub periodic_refresh: Option<Duration>,
    /// Over TLS, the name each node's certificate is checked against (default: the
    /// endpoint it is announced at).
    pub tls_node_name: TlsNodeName,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            connection: ConnectionConfig::new(Addr::tcp("127.0.0.1", slotline_conn::DEFAULT_PORT)),
            node_credentials: HashMap::new(),
            read_from: ReadFrom::Primary,
            // Node links overlap one another already: larger writes per link suit them, and
            // while one link waits the others' replies keep the callers busy (polling each
            // link measured slower).
            client_options: ClientOptions::default()
                .with_write_way(slotline_conn::WriteWay::Batched)
                .with_busy_poll(Duration::ZERO),
            retry: RetryPolicy::default(),
            refresh_min_interval: Duration::from_millis(250),
            refresh_jitter: Duration::from_millis(20),
            refresh_timeout: Duration::from_secs(1),
            periodic_refresh: None,
            tls_node_name: TlsNodeName::Announced,
        }
    }
}

impl ClusterConfig {
    /// With a password for every node (default user).
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.connection.username = None;
        self.connection.password = Some(password.into());
        self
    }

    /// With an ACL user and password for every node.
    pub fn with_user(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.connection.username = Some(username.into());
        self.connection.password = Some(password.into());
        self
    }

    /// With other credentials for one node.
    pub fn with_node_credentials(mut self, addr: Addr, credentials: Credentials) -> Self {
        self.node_credentials.insert(addr, credentials);
        self
    }

    /// With a read policy.
    pub fn with_read_from(mut self, read_from: ReadFrom) -> Self {
        self.read_from = read_from;
        self
    }

    /// With a node connection template (its address is ignored).
    pub fn with_connection(mut self, connection: ConnectionConfig) -> Self {
        self.connection = connection;
        self
    }

    /// With TLS to every node as `tls` says (`rediss+cluster://` in a URL). Nodes are
    /// reached at the `tls-port` they announce; each is verified against the name
    /// [`tls_node_name`](ClusterConfig::tls_node_name) picks (by default the address it
    /// is announced at) unless `tls` names one server name for all
    /// ([`TlsConfig::with_server_name`](slotline_conn::TlsConfig::with_server_name)).
    pub fn with_tls(mut self, tls: slotline_conn::TlsConfig) -> Self {
        self.connection = self.connection.with_tls(tls);
        self
    }

    /// With the name nodes' certificates are checked against (see [`TlsNodeName`]).
    pub fn with_tls_node_name(mut self, name: TlsNodeName) -> Self {
        self.tls_node_name = name;
        self
    }

    /// With a response timeout for every node.
    pub fn with_response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connection.response_timeout = timeout;
        self
    }

    /// With options for the node clients.
    pub fn with_client_options(mut self, options: ClientOptions) -> Self {
        self.client_options = options;
        self
    }

    /// With redirect and retry limits.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// With a least interval between refreshes, and their jitter.
    pub fn with_refresh_interval(mut self, min_interval: Duration, jitter: Duration) -> Self {
        self.refresh_min_interval = min_interval;
        self.refresh_jitter = jitter;
        self
    }

    /// With a periodic refresh.
    pub fn with_periodic_refresh(mut self, every: Option<Duration>) -> Self {
        self.periodic_refresh = every;
        self
    }

    /// The connection settings for one node: the template at `addr`, with the node's own
    /// credentials if it has some, and `READONLY` when reads may go to replicas.
    pub fn node_config(&self, addr: &Addr) -> ConnectionConfig {
        let mut config = self.connection.for_addr(addr.clone());
        if let Some(c) = self.node_credentials.get(addr) {
            config.username = c.username.clone();
            config.password = c.password.clone();
        }
        config.readonly = self.read_from != ReadFrom::Primary;
        config
    }

    /// The options of a node's shared client.
    pub(crate) fn node_options(&self) -> ClientOptions {
        // The cluster layer resends (within `retry`); node clients never do.
        self.client_options.clone().fail_fast().with_retries(0)
    }

    /// Checks what can be checked before connecting.
    pub fn validate(&self) -> Result<()> {
        if self.connection.db != 0 {
            return Err(Error::config(format!(
                "a cluster has only database 0, not {}",
                self.connection.db
            )));
        }
        let mut probe = self.connection.clone();
        probe.db = 0;
        probe.validate()
    }

    /// Reads a cluster URL: `redis+cluster://[[user]:pass@]h1:p1,h2:p2[?options]` (or a
    /// plain `redis://host:port` naming one startup node). Options are those of single-node
    /// URLs (timeouts, client name, TLS files, ...) plus
    /// `read_from=primary|prefer_replica|replica` and, over TLS,
    /// `ssl_node_name=announced|startup|hostname` (see [`TlsNodeName`]).
    /// Returns the startup nodes and the config.
    pub fn from_url(url: &str) -> Result<(Vec<Addr>, ClusterConfig)> {
        let parsed = RedisUrl::parse(url)?;
        if !matches!(
            parsed.scheme.as_str(),
            "redis+cluster" | "rediss+cluster" | "redis" | "rediss"
        ) {
            return Err(Error::config(format!(
                "a cluster URL starts with redis+cluster:// (or redis://), not {}://",
                parsed.scheme
            )));
        }
        if parsed.hosts.is_empty() {
            return Err(Error::config("a cluster URL names at least one node"));
        }
        if !matches!(parsed.path.as_str(), "" | "/" | "/0") {
            return Err(Error::config(format!(
                "a Redis Cluster has only database 0; the URL asks for {:?}",
                parsed.path
            )));
        }
        let nodes: Vec<Addr> = parsed
            .hosts
            .iter()
            .map(|(h, p)| Addr::tcp(h.clone(), p.unwrap_or(slotline_conn::DEFAULT_PORT)))
            .collect();
        let mut config = ClusterConfig::default();
        let mut connection = ConnectionConfig::new(nodes[0].clone());
        connection.tls = parsed
            .scheme
            .starts_with("rediss")
            .then(|| Box::new(slotline_conn::TlsConfig::new()));
        connection.username = parsed.username.clone();
        connection.password = parsed.password.clone();
        parsed.apply_options(&mut connection, &["read_from", "ssl_node_name"])?;
        if let Some(name) = parsed.option("ssl_node_name") {
            if connection.tls.is_none() {
                return Err(Error::config(
                    "URL option ssl_node_name needs TLS: use rediss+cluster://",
                ));
            }
            config.tls_node_name = TlsNodeName::parse(name)?;
        }
        if let Some(r) = parsed.option("read_from") {
            config.read_from = match r {
                "primary" | "master" => ReadFrom::Primary,
                "prefer_replica" | "preferreplica" => ReadFrom::PreferReplica,
                "replica" => ReadFrom::Replica,
                other => {
                    return Err(Error::config(format!(
                        "invalid URL option read_from={other:?}: expected primary, prefer_replica or replica"
                    )))
                }
            };
        }
        config.connection = connection;
        config.validate()?;
        Ok((nodes, config))
    }
}

/// What names a startup node: `"host:port"`, a `redis://host:port` URL, an [`Addr`], a
/// [`SocketAddr`] or `(host, port)`.
pub trait IntoNodeAddr {
    /// The address, or why there is none.
    fn into_node_addr(self) -> Result<Addr>;
}

impl IntoNodeAddr for Addr {
    fn into_node_addr(self) -> Result<Addr> {
        Ok(self)
    }
}

impl IntoNodeAddr for &Addr {
    fn into_node_addr(self) -> Result<Addr> {
        Ok(self.clone())
    }
}

impl IntoNodeAddr for SocketAddr {
    fn into_node_addr(self) -> Result<Addr> {
        Ok(Addr::tcp(self.ip().to_string(), self.port()))
    }
}

impl IntoNodeAddr for &SocketAddr {
    fn into_node_addr(self) -> Result<Addr> {
        (*self).into_node_addr()
    }
}

impl IntoNodeAddr for (&str, u16) {
    fn into_node_addr(self) -> Result<Addr> {
        Ok(Addr::tcp(self.0, self.1))
    }
}

impl IntoNodeAddr for &str {
    fn into_node_addr(self) -> Result<Addr> {
        if self.contains("://") {
            let url = RedisUrl::parse(self)?;
            return match url.hosts.as_slice() {
                [(h, p)] => Ok(Addr::tcp(
                    h.clone(),
                    p.unwrap_or(slotline_conn::DEFAULT_PORT),
                )),
                _ => Err(Error::config(format!(
                    "a startup node URL names one host: {}",
                    slotline_conn::url::redact(self)
                ))),
            };
        }
        Addr::parse(self)
    }
}

impl IntoNodeAddr for String {
    fn into_node_addr(self) -> Result<Addr> {
        self.as_str().into_node_addr()
    }
}

impl IntoNodeAddr for &String {
    fn into_node_addr(self) -> Result<Addr> {
        self.as_str().into_node_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (nodes, config) = ClusterConfig::from_url(
            "redis+cluster://:pw@h1:7000,h2:7001?read_from=replica&response_timeout=2s",
        )
        .unwrap();
        assert_eq!(nodes, vec![Addr::tcp("h1", 7000), Addr::tcp("h2", 7001)]);
        assert_eq!(config.connection.password.as_deref(), Some("pw"));
        assert_eq!(config.read_from, ReadFrom::Replica);
        assert_eq!(
            config.connection.response_timeout,
            Some(Duration::from_secs(2))
        );
        assert!(config.node_config(&nodes[1]).readonly);
        // A cluster has only database 0, asked for in the path or the query.
        assert!(ClusterConfig::from_url("redis+cluster://h1:7000/3").is_err());
        assert!(ClusterConfig::from_url("redis+cluster://h1:7000?db=2").is_err());
        assert!(ClusterConfig::from_url("redis+sentinel://h1:7000/m").is_err());
        assert_eq!(
            "127.0.0.1:7000".into_node_addr().unwrap(),
            Addr::tcp("127.0.0.1", 7000)
        );
        assert_eq!(
            "redis://127.0.0.1:7001".into_node_addr().unwrap(),
            Addr::tcp("127.0.0.1", 7001)
        );
    }

    #[test]
    fn tls_node_names_in_urls() {
        let name = |url: &str| ClusterConfig::from_url(url).map(|(_, c)| c.tls_node_name);
        assert_eq!(
            name("rediss+cluster://h:1").unwrap(),
            TlsNodeName::Announced
        );
        for (text, want) in [
            ("announced", TlsNodeName::Announced),
            ("startup", TlsNodeName::Startup),
            ("hostname", TlsNodeName::Hostname),
        ] {
            let url = format!("rediss+cluster://h:1,g:2?ssl_node_name={text}");
            assert_eq!(name(&url).unwrap(), want, "{url}");
        }
        let err = name("rediss+cluster://h:1?ssl_node_name=sni").unwrap_err();
        assert!(
            err.to_string()
                .contains("expected announced, startup or hostname"),
            "{err}"
        );
        let err = name("redis+cluster://h:1?ssl_node_name=hostname").unwrap_err();
        assert!(err.to_string().contains("needs TLS"), "{err}");
    }
}

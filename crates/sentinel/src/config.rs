//! [`SentinelConfig`]: how to talk to the sentinels and to the data nodes they name.

use std::time::Duration;

use slotline_conn::{Addr, ClientOptions, ConnectionConfig, RetryPolicy, TlsConfig};

use crate::{Error, Result};

/// What a [`ReplicaClient`](crate::ReplicaClient) does when no replica is healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReplicaFallback {
    /// Read from the master (the default): reads keep working, at the master's expense.
    #[default]
    Master,
    /// Fail the request (nothing was sent, so the caller may retry later).
    Error,
}

/// Settings of a [`Sentinel`](crate::Sentinel).
///
/// The sentinels and the data nodes have separate credentials, either of which may be
/// absent. Sentinels are asked with short timeouts (a dead one must not hold discovery up);
/// data nodes get the settings of [`node`](Self::node), a [`ConnectionConfig`] whose
/// address is replaced by the one the sentinels name.
///
/// ```
/// use std::time::Duration;
/// use slotline_conn::{Addr, ConnectionConfig};
/// use slotline_sentinel::{ReplicaFallback, SentinelConfig};
///
/// let config = SentinelConfig::default()
///     .with_sentinel_password("sentinel-secret")
///     .with_node_config(ConnectionConfig::new(Addr::tcp("unused", 0)).with_password("data-secret").with_db(2))
///     .with_sentinel_timeouts(Duration::from_millis(200), Duration::from_millis(300))
///     .with_replica_fallback(ReplicaFallback::Error);
/// assert_eq!(config.node.db, 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SentinelConfig {
    /// ACL user on the sentinels (`None`: the default user).
    pub sentinel_username: Option<String>,
    /// Password on the sentinels (`requirepass` of the sentinels), if any.
    pub sentinel_password: Option<String>,
    /// TLS to the sentinels (`None`: plaintext). The data nodes' TLS is
    /// [`node`](SentinelConfig::node)'s; `rediss+sentinel://` sets both.
    pub sentinel_tls: Option<TlsConfig>,
    /// Longest wait for a TCP connection (and handshake) to a sentinel, and for the
    /// `ROLE` check of a node it names (default 300 ms).
    pub connect_timeout: Duration,
    /// Longest wait for a sentinel's reply, and for a node's `ROLE` reply (default 300 ms).
    pub response_timeout: Duration,
    /// Settings for the data nodes (credentials, database, client name, timeouts, ...);
    /// its address is ignored.
    pub node: ConnectionConfig,
    /// Options of the master client made by [`master_for`](crate::Sentinel::master_for)
    /// (default: reconnect delays from 20 ms up to 500 ms, so that a client that found no
    /// master during a failover tries again soon after).
    pub client_options: ClientOptions,
    /// What a replica client does when no replica is healthy (default: read from the master).
    pub replica_fallback: ReplicaFallback,
    /// How often a replica client asks the sentinels for the replica list, besides after
    /// errors (default 5 s).
    pub replica_refresh: Duration,
    /// How many rounds over the sentinels discovery makes while the node they name says it
    /// is not a master (a failover under way), including the first (default 5).
    pub role_rounds: u32,
    /// The wait between such rounds (default 100 ms).
    pub role_retry_delay: Duration,
    /// How often a quiet `+switch-master` subscription pings its sentinel, to notice one
    /// that died without closing the connection (default 1 s).
    pub subscription_ping: Duration,
    /// How often one request is sent again (after `READONLY` from a demoted master, a
    /// connection loss before it was written, a replica that could not serve it), the one
    /// budget of every layer (default [`RetryPolicy::default`]).
    pub retry: RetryPolicy,
}

impl Default for SentinelConfig {
    fn default() -> Self {
        SentinelConfig {
            sentinel_username: None,
            sentinel_password: None,
            sentinel_tls: None,
            connect_timeout: Duration::from_millis(300),
            response_timeout: Duration::from_millis(300),
            node: ConnectionConfig::new(Addr::tcp("127.0.0.1", slotline_conn::DEFAULT_PORT)),
            client_options: ClientOptions::default()
                .with_reconnect_delays(Duration::from_millis(20), Duration::from_millis(500)),
            replica_fallback: ReplicaFallback::Master,
            replica_refresh: Duration::from_secs(5),
            role_rounds: 5,
            role_retry_delay: Duration::from_millis(100),
            subscription_ping: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        }
    }
}

impl SentinelConfig {
    /// With this retry budget.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// With a password on the sentinels (default user).
    pub fn with_sentinel_password(mut self, password: impl Into<String>) -> Self {
        self.sentinel_password = Some(password.into());
        self
    }

    /// With an ACL user and its password on the sentinels.
    pub fn with_sentinel_user(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.sentinel_username = Some(username.into());
        self.sentinel_password = Some(password.into());
        self
    }

    /// With TLS to the sentinels as `tls` says (`None`: plaintext).
    pub fn with_sentinel_tls(mut self, tls: Option<TlsConfig>) -> Self {
        self.sentinel_tls = tls;
        self
    }

    /// With these settings for the data nodes (their address is ignored).
    pub fn with_node_config(mut self, node: ConnectionConfig) -> Self {
        self.node = node;
        self
    }

    /// With a password on the data nodes (default user), keeping the other node settings.
    pub fn with_node_password(mut self, password: impl Into<String>) -> Self {
        self.node = self.node.with_password(password);
        self
    }

    /// With the timeouts used for sentinels and `ROLE` checks.
    pub fn with_sentinel_timeouts(mut self, connect: Duration, response: Duration) -> Self {
        self.connect_timeout = connect;
        self.response_timeout = response;
        self
    }

    /// With these options for the master client.
    pub fn with_client_options(mut self, options: ClientOptions) -> Self {
        self.client_options = options;
        self
    }

    /// With this policy for a replica client without a healthy replica.
    pub fn with_replica_fallback(mut self, fallback: ReplicaFallback) -> Self {
        self.replica_fallback = fallback;
        self
    }

    /// With this period of replica list refreshes.
    pub fn with_replica_refresh(mut self, every: Duration) -> Self {
        self.replica_refresh = every;
        self
    }

    /// The settings for a connection to the sentinel at `addr`.
    pub(crate) fn sentinel_conn(&self, addr: Addr) -> ConnectionConfig {
        let mut config = ConnectionConfig::new(addr)
            .with_connect_timeout(Some(self.connect_timeout))
            .with_response_timeout(Some(self.response_timeout));
        match (&self.sentinel_username, &self.sentinel_password) {
            (Some(user), Some(password)) => config = config.with_user(user, password),
            (None, Some(password)) => config = config.with_password(password),
            _ => {}
        }
        config.tls = self.sentinel_tls.clone().map(Box::new);
        config
    }

    /// The settings for a short check (`ROLE`) of the data node at `addr`.
    pub(crate) fn check_conn(&self, addr: Addr) -> ConnectionConfig {
        self.node
            .for_addr(addr)
            .with_connect_timeout(Some(self.connect_timeout))
            .with_response_timeout(Some(self.response_timeout))
    }

    /// The settings for a lasting connection to the data node at `addr`.
    pub(crate) fn data_conn(&self, addr: Addr) -> ConnectionConfig {
        self.node.for_addr(addr)
    }

    /// Checks what can be checked before connecting.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.sentinel_username.is_some() && self.sentinel_password.is_none() {
            return Err(Error::Config(
                "a sentinel ACL user name needs a password".into(),
            ));
        }
        if self.connect_timeout.is_zero() || self.response_timeout.is_zero() {
            return Err(Error::Config("sentinel timeouts must not be zero".into()));
        }
        self.node.validate().map_err(Error::Conn)
    }
}

/// A sentinel's address: `"host:port"` (or a bare host, port 26379), a
/// [`std::net::SocketAddr`], an [`Addr`], or `(host, port)`.
pub trait IntoSentinelAddr {
    /// The address, or a clear error.
    fn into_sentinel_addr(self) -> Result<Addr>;
}

/// The default sentinel port.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;

impl IntoSentinelAddr for &str {
    fn into_sentinel_addr(self) -> Result<Addr> {
        let text = self
            .strip_prefix("redis://")
            .or_else(|| self.strip_prefix("tcp://"))
            .unwrap_or(self);
        let has_port = match text.rsplit_once(':') {
            Some((host, port)) => {
                !port.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && (!host.contains(':') || host.ends_with(']'))
            }
            None => false,
        };
        if has_port {
            Addr::parse(text).map_err(|e| Error::Config(format!("sentinel address {self:?}: {e}")))
        } else {
            let host = text.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(Error::Config(format!(
                    "sentinel address {self:?} has no host"
                )));
            }
            Ok(Addr::tcp(host, DEFAULT_SENTINEL_PORT))
        }
    }
}

impl IntoSentinelAddr for String {
    fn into_sentinel_addr(self) -> Result<Addr> {
        self.as_str().into_sentinel_addr()
    }
}

impl IntoSentinelAddr for &String {
    fn into_sentinel_addr(self) -> Result<Addr> {
        self.as_str().into_sentinel_addr()
    }
}

impl IntoSentinelAddr for Addr {
    fn into_sentinel_addr(self) -> Result<Addr> {
        Ok(self)
    }
}

impl IntoSentinelAddr for &Addr {
    fn into_sentinel_addr(self) -> Result<Addr> {
        Ok(self.clone())
    }
}

impl IntoSentinelAddr for std::net::SocketAddr {
    fn into_sentinel_addr(self) -> Result<Addr> {
        Ok(Addr::tcp(self.ip().to_string(), self.port()))
    }
}

impl IntoSentinelAddr for &std::net::SocketAddr {
    fn into_sentinel_addr(self) -> Result<Addr> {
        (*self).into_sentinel_addr()
    }
}

impl IntoSentinelAddr for (&str, u16) {
    fn into_sentinel_addr(self) -> Result<Addr> {
        Ok(Addr::tcp(self.0, self.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sentinel_addresses() {
        assert_eq!(
            "127.0.0.1:26380".into_sentinel_addr().unwrap(),
            Addr::tcp("127.0.0.1", 26380)
        );
        assert_eq!(
            "sentinel-a".into_sentinel_addr().unwrap(),
            Addr::tcp("sentinel-a", DEFAULT_SENTINEL_PORT)
        );
        assert_eq!(
            "[::1]:5000".into_sentinel_addr().unwrap(),
            Addr::tcp("::1", 5000)
        );
        assert_eq!(
            "[::1]".into_sentinel_addr().unwrap(),
            Addr::tcp("::1", DEFAULT_SENTINEL_PORT)
        );
        assert!("".into_sentinel_addr().is_err());
        let sock: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(
            sock.into_sentinel_addr().unwrap(),
            Addr::tcp("127.0.0.1", 1)
        );
    }

    #[test]
    fn credentials_are_kept_apart() {
        let c = SentinelConfig::default()
            .with_sentinel_password("s")
            .with_node_password("d");
        let s = c.sentinel_conn(Addr::tcp("h", 1));
        assert_eq!(s.password.as_deref(), Some("s"));
        assert_eq!(s.db, 0);
        let d = c.data_conn(Addr::tcp("h", 2));
        assert_eq!(d.password.as_deref(), Some("d"));
        assert_eq!(d.addr, Addr::tcp("h", 2));
        assert!(c.validate().is_ok());
        let bad = SentinelConfig {
            sentinel_username: Some("u".into()),
            ..SentinelConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}

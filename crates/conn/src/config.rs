//! How to reach and set up one Redis connection: address, credentials, database, timeouts.

use std::time::Duration;

use slotline_resp::Limits;

use crate::tls::TlsConfig;
use crate::url::RedisUrl;
use crate::{Addr, Error, Result};

/// Everything needed to open and set up one connection.
///
/// Build it in code or from a URL:
///
/// ```
/// use std::time::Duration;
/// use slotline_conn::{Addr, ConnectionConfig};
///
/// let from_url: ConnectionConfig =
///     "redis://app:s%40cret@127.0.0.1:6380/2?response_timeout=250ms&client_name=web".parse()?;
/// assert_eq!(from_url.addr, Addr::tcp("127.0.0.1", 6380));
/// assert_eq!(from_url.password.as_deref(), Some("s@cret"));
/// assert_eq!(from_url.db, 2);
/// assert_eq!(from_url.response_timeout, Some(Duration::from_millis(250)));
///
/// let in_code = ConnectionConfig::new(Addr::tcp("127.0.0.1", 6380))
///     .with_user("app", "s@cret")
///     .with_db(2);
/// assert_eq!(in_code.username.as_deref(), Some("app"));
/// # Ok::<(), slotline_conn::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// Where to connect.
    pub addr: Addr,
    /// Database index selected after connecting (`SELECT`; skipped when 0).
    pub db: i64,
    /// ACL user name (`AUTH user pass`); `None` for the default user.
    pub username: Option<String>,
    /// Password (`AUTH pass` or `AUTH user pass`).
    pub password: Option<String>,
    /// Name set with `CLIENT SETNAME`.
    pub client_name: Option<String>,
    /// Longest wait for the TCP connection and the handshake (default 5 s).
    pub connect_timeout: Option<Duration>,
    /// Longest wait for a reply once a command is sent (default 5 s). Blocking commands
    /// (`BLPOP key 10`) get their own timeout added on top.
    pub response_timeout: Option<Duration>,
    /// TCP keepalive idle time (default 30 s).
    pub tcp_keepalive: Option<Duration>,
    /// `TCP_USER_TIMEOUT` on Linux: how long written data may stay unacknowledged before the
    /// kernel drops the connection (default 30 s), so a peer gone without RST is noticed.
    pub tcp_user_timeout: Option<Duration>,
    /// Send `READONLY` after connecting, so that a cluster replica serves reads.
    pub readonly: bool,
    /// TLS settings (`rediss://`); `None`: plaintext.
    pub tls: Option<Box<TlsConfig>>,
    /// Bounds on what the server's replies may make the decoder hold.
    pub limits: Limits,
    /// The copies every write must have before it is acknowledged (URL:
    /// `durability=replicas:1`); none by default. See [`Durability`](crate::Durability).
    pub durability: Option<crate::Durability>,
    /// The protocol spoken (URL: `protocol=3`): RESP2 by default, which every server
    /// speaks; RESP3 (Redis 6 and later) is set up with `HELLO 3` and carries typed
    /// replies and out-of-band pushes.
    pub protocol: Protocol,
    /// A client-side cache for the shared client (URL: `cache_max_bytes=64mb`, with
    /// `cache_mode=default|optin|bcast`, `cache_prefix=` (repeatable), `cache_ttl=`); off by
    /// default. Over RESP3 invalidations come as pushes on the connection that reads; over
    /// RESP2 on a connection of their own per node, subscribed to `__redis__:invalidate`
    /// (`CLIENT TRACKING ... REDIRECT`). See [`CacheConfig`](slotline_command::cache::CacheConfig).
    pub cache: Option<Box<slotline_command::cache::CacheConfig>>,
}

/// The protocol a connection speaks.
///
/// ```
/// use slotline_conn::{ConnectionConfig, Protocol};
/// let config: ConnectionConfig = "redis://127.0.0.1/?protocol=3".parse()?;
/// assert_eq!(config.protocol, Protocol::Resp3);
/// assert_eq!("2".parse::<Protocol>()?, Protocol::Resp2);
/// # Ok::<(), slotline_conn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// RESP2: every Redis server speaks it; the default.
    #[default]
    Resp2,
    /// RESP3 (Redis 6.0 and later), asked for with `HELLO 3` at connect.
    Resp3,
}

impl std::str::FromStr for Protocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "2" | "resp2" => Ok(Protocol::Resp2),
            "3" | "resp3" => Ok(Protocol::Resp3),
            other => Err(Error::config(format!(
                "unknown protocol {other:?} (expected 2 or 3)"
            ))),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Resp2 => "RESP2",
            Protocol::Resp3 => "RESP3",
        })
    }
}

impl ConnectionConfig {
    /// Defaults for `addr`: db 0, no credentials, 5 s timeouts, keepalive on.
    pub fn new(addr: Addr) -> Self {
        ConnectionConfig {
            addr,
            db: 0,
            username: None,
            password: None,
            client_name: None,
            connect_timeout: Some(Duration::from_secs(5)),
            response_timeout: Some(Duration::from_secs(5)),
            tcp_keepalive: Some(Duration::from_secs(30)),
            tcp_user_timeout: Some(Duration::from_secs(30)),
            readonly: false,
            tls: None,
            limits: Limits::default(),
            durability: None,
            protocol: Protocol::Resp2,
            cache: None,
        }
    }

    /// Parses a `redis://`, `rediss://` or `redis+unix://` URL (see [`crate::url`]).
    pub fn from_url(url: &str) -> Result<Self> {
        RedisUrl::parse(url)?.into_connection_config()
    }

    /// With a password for the default user.
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// With an ACL user and its password.
    pub fn with_user(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// With a database index.
    pub fn with_db(mut self, db: i64) -> Self {
        self.db = db;
        self
    }

    /// With a client name.
    pub fn with_client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// With a connect timeout (`None`: wait as long as the OS does).
    pub fn with_connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// With a response timeout (`None`: wait forever).
    pub fn with_response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// With TLS as `tls` says (see [`TlsConfig`]).
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(Box::new(tls));
        self
    }

    /// With every write acknowledged only once it has the copies `durability` asks for.
    pub fn with_durability(mut self, durability: crate::Durability) -> Self {
        self.durability = Some(durability);
        self
    }

    /// Speaking `protocol` (see [`Protocol`]).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The same settings for another address (used by routers that learn addresses).
    pub fn for_addr(&self, addr: Addr) -> Self {
        ConnectionConfig {
            addr,
            ..self.clone()
        }
    }

    /// Checks what can be checked before connecting.
    pub fn validate(&self) -> Result<()> {
        if self.tls.is_some() && matches!(self.addr, Addr::Unix(_)) {
            return Err(Error::config(
                "TLS over a Unix socket is not supported: use redis+unix:// without TLS",
            ));
        }
        if self.username.is_some() && self.password.is_none() {
            return Err(Error::config("an ACL user name needs a password"));
        }
        if self.db < 0 {
            return Err(Error::config(format!("invalid database index {}", self.db)));
        }
        Ok(())
    }

    /// The same settings without the cache: for a connection of its own (a pub/sub
    /// connection must not receive invalidations; a dedicated one has no cache to feed).
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// With a client-side cache (see [`cache`](Self::cache)).
    pub fn with_cache(mut self, cache: slotline_command::cache::CacheConfig) -> Self {
        self.cache = Some(Box::new(cache));
        self
    }
}

impl std::str::FromStr for ConnectionConfig {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self> {
        ConnectionConfig::from_url(url)
    }
}

/// Anything that names a connection: a URL, a `host:port`-less URL string, or a config.
pub trait IntoConnectionConfig {
    /// The config, or a clear error when it cannot be made.
    fn into_connection_config(self) -> Result<ConnectionConfig>;
}

impl IntoConnectionConfig for ConnectionConfig {
    fn into_connection_config(self) -> Result<ConnectionConfig> {
        Ok(self)
    }
}

impl IntoConnectionConfig for &ConnectionConfig {
    fn into_connection_config(self) -> Result<ConnectionConfig> {
        Ok(self.clone())
    }
}

impl IntoConnectionConfig for &str {
    fn into_connection_config(self) -> Result<ConnectionConfig> {
        ConnectionConfig::from_url(self)
    }
}

impl IntoConnectionConfig for String {
    fn into_connection_config(self) -> Result<ConnectionConfig> {
        ConnectionConfig::from_url(&self)
    }
}

impl IntoConnectionConfig for &String {
    fn into_connection_config(self) -> Result<ConnectionConfig> {
        ConnectionConfig::from_url(self)
    }
}

impl IntoConnectionConfig for Addr {
    fn into_connection_config(self) -> Result<ConnectionConfig> {
        Ok(ConnectionConfig::new(self))
    }
}

impl IntoConnectionConfig for (&str, u16) {
    fn into_connection_config(self) -> Result<ConnectionConfig> {
        Ok(ConnectionConfig::new(Addr::tcp(self.0, self.1)))
    }
}

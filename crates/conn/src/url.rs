//! Redis URLs, parsed by one parser for every mode.
//!
//! | form | meaning |
//! |---|---|
//! | `redis://[[user]:pass@]host[:port][/db][?opts]` | TCP (port 6379 by default) |
//! | `rediss://...` | TLS (see [`TLS_OPTIONS`] and [`TlsConfig`]) |
//! | `redis+unix:///path/to.sock[?db=N&password=..]` (or `unix://`) | Unix socket |
//! | `redis+sentinel://[[user]:pass@]h1:p1,h2:p2/service[/db][?role=replica]` | read by `slotline-sentinel` |
//! | `redis+sentinel://h1:p1,h2:p2/svc1,svc2,svc3[/db][?role=replica]` | several services: sharded by the client (`slotline-sentinel`'s `ShardedClient`) |
//! | `redis+cluster://[[user]:pass@]h1:p1,h2:p2` | read by `slotline-cluster` |
//!
//! User and password are percent-decoded. Options: `db`, `password`, `username`,
//! `client_name` (or `name`), `connect_timeout`, `response_timeout`, `tcp_keepalive`,
//! `tcp_user_timeout`, `durability` and `durability_timeout` (see
//! [`Durability`](crate::Durability)), `protocol` (`2` or `3`, see
//! [`Protocol`](crate::Protocol)), and with `rediss` the [`TLS_OPTIONS`]; durations are `250ms`, `2s`, `1.5s` or plain seconds, `off` disables.
//! Unknown options are refused, so a typo does not pass silently.

use std::time::Duration;

use crate::config::ConnectionConfig;
use crate::tls::TlsConfig;
use crate::{Addr, ErrorKind, DEFAULT_PORT};
use crate::{Error, Result};

/// A URL split into its parts, before any mode-specific reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// The scheme, lower-cased (`redis`, `redis+sentinel`, ...).
    pub scheme: String,
    /// Percent-decoded user name, if any (an empty one counts as none).
    pub username: Option<String>,
    /// Percent-decoded password, if any.
    pub password: Option<String>,
    /// Hosts with their ports, in order (empty for Unix sockets).
    pub hosts: Vec<(String, Option<u16>)>,
    /// The percent-decoded path (`/2`, `/mymaster/0`, or a socket path).
    pub path: String,
    /// Query options in order, percent-decoded.
    pub query: Vec<(String, String)>,
}

impl RedisUrl {
    /// Splits `url` into parts; says what is wrong when it cannot.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |reason: &str| Error::config(format!("invalid URL {:?}: {reason}", redact(url)));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no scheme (expected e.g. redis://host:6379)"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme.is_empty() {
            return Err(bad("empty scheme"));
        }
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (rest, query) = match rest.split_once('?') {
            Some((before, q)) => (before, Some(q)),
            None => (rest, None),
        };
        let unix = matches!(scheme.as_str(), "redis+unix" | "unix");
        let (authority, path) = if unix {
            match rest.find('/') {
                Some(slash) => (&rest[..slash], &rest[slash..]),
                None => return Err(bad("no socket path (expected redis+unix:///path/to.sock)")),
            }
        } else {
            match rest.find('/') {
                Some(slash) => (&rest[..slash], &rest[slash..]),
                None => (rest, ""),
            }
        };
        let (userinfo, hostlist) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let user = percent_decode(user).map_err(|e| bad(&e))?;
                let pass = pass.map(percent_decode).transpose().map_err(|e| bad(&e))?;
                (Some(user).filter(|u| !u.is_empty()), pass)
            }
        };
        let hosts = if unix {
            if !hostlist.is_empty() && hostlist != "localhost" {
                return Err(bad(
                    "a Unix socket URL has no host (expected redis+unix:///path)",
                ));
            }
            Vec::new()
        } else {
            if hostlist.is_empty() {
                return Err(bad("no host"));
            }
            hostlist
                .split(',')
                .map(|h| {
                    slotline_command::split_host_port(h).map_err(|e| match e {
                        // Keep one "invalid configuration:" prefix, not one per layer.
                        e if e.kind() == ErrorKind::Config => bad(e.message().unwrap_or_default()),
                        other => other,
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        let path = percent_decode(path).map_err(|e| bad(&e))?;
        let query = match query {
            None | Some("") => Vec::new(),
            Some(q) => q
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    Ok((
                        percent_decode(k).map_err(|e| bad(&e))?,
                        percent_decode(v).map_err(|e| bad(&e))?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
        };
        Ok(RedisUrl {
            scheme,
            username,
            password,
            hosts,
            path,
            query,
        })
    }

    /// Reads a single-node URL (`redis`, `rediss`, `redis+unix`, `unix`) into a config.
    pub fn into_connection_config(self) -> Result<ConnectionConfig> {
        let bad = |reason: String| Error::config(format!("invalid URL: {reason}"));
        let addr = match self.scheme.as_str() {
            "redis" | "rediss" => match self.hosts.as_slice() {
                [(host, port)] => Addr::tcp(host.clone(), port.unwrap_or(DEFAULT_PORT)),
                _ => {
                    return Err(bad(format!(
                        "{} URLs name exactly one host, not {}",
                        self.scheme,
                        self.hosts.len()
                    )))
                }
            },
            "redis+unix" | "unix" => Addr::Unix(self.path.clone().into()),
            "redis+sentinel" | "redis+cluster" => {
                return Err(bad(format!(
                    "{}:// names a deployment, not one node: open it with slotline::Client::open",
                    self.scheme
                )))
            }
            other => {
                return Err(bad(format!(
                    "unknown scheme {other:?} (expected redis, rediss or redis+unix)"
                )))
            }
        };
        let mut config = ConnectionConfig::new(addr);
        config.tls = (self.scheme == "rediss").then(|| Box::new(TlsConfig::new()));
        config.username = self.username.clone();
        config.password = self.password.clone();
        if !matches!(config.addr, Addr::Unix(_)) {
            config.db = parse_db_path(&self.path)?;
        }
        self.apply_options(&mut config, &[])?;
        config.validate_url_parts()?;
        Ok(config)
    }

    /// Applies the connection options of the query string to `config`; options named in
    /// `extra` are left for the caller (e.g. `role` for sentinel URLs); any other name is an
    /// error.
    pub fn apply_options(&self, config: &mut ConnectionConfig, extra: &[&str]) -> Result<()> {
        self.apply_tls_options(config)?;
        self.apply_cache_options(config)?;
        let mut durability_timeout = None;
        for (key, value) in &self.query {
            let bad =
                |what: &str| Error::config(format!("invalid URL option {key}={value:?}: {what}"));
            match key.as_str() {
                "db" => {
                    config.db = value
                        .parse()
                        .ok()
                        .filter(|db: &i64| *db >= 0)
                        .ok_or_else(|| bad("expected a database index"))?
                }
                "password" => config.password = Some(value.clone()),
                "username" | "user" => config.username = Some(value.clone()),
                "client_name" | "name" => config.client_name = Some(value.clone()),
                "connect_timeout" => {
                    config.connect_timeout = parse_duration(value).map_err(|e| bad(&e))?
                }
                "response_timeout" => {
                    config.response_timeout = parse_duration(value).map_err(|e| bad(&e))?
                }
                "tcp_keepalive" => {
                    config.tcp_keepalive = parse_duration(value).map_err(|e| bad(&e))?
                }
                "tcp_user_timeout" => {
                    config.tcp_user_timeout = parse_duration(value).map_err(|e| bad(&e))?
                }
                "durability" => config.durability = Some(value.parse()?),
                "protocol" => {
                    config.protocol = value.parse().map_err(|_| bad("expected 2 or 3"))?
                }
                "durability_timeout" => {
                    durability_timeout = Some(
                        parse_duration(value)
                            .map_err(|e| bad(&e))?
                            .ok_or_else(|| bad("expected a duration"))?,
                    )
                }
                tls if TLS_OPTIONS.contains(&tls) => {}
                cache if CACHE_OPTIONS.contains(&cache) => {}
                other if extra.contains(&other) => {}
                _ => return Err(bad("unknown option")),
            }
        }
        if let Some(timeout) = durability_timeout {
            let d = config
                .durability
                .as_mut()
                .ok_or_else(|| Error::config("URL option durability_timeout without durability"))?;
            *d = d.with_timeout(timeout);
        }
        Ok(())
    }

    /// Applies the `cache_*` options: a cache when `cache_max_bytes` is given; the others
    /// without it are refused.
    fn apply_cache_options(&self, config: &mut ConnectionConfig) -> Result<()> {
        use slotline_command::cache::{CacheConfig, TrackingMode};
        let given = |name: &'static str| {
            self.query
                .iter()
                .filter(move |(k, _)| k == name)
                .map(|(_, v)| v)
        };
        let bad = |key: &str, value: &str, what: &str| {
            Error::config(format!("invalid URL option {key}={value:?}: {what}"))
        };
        let Some(max) = given("cache_max_bytes").next_back() else {
            return match self
                .query
                .iter()
                .find(|(k, _)| CACHE_OPTIONS.contains(&k.as_str()))
            {
                Some((k, _)) => Err(Error::config(format!(
                    "URL option {k} without cache_max_bytes (the cache is on when that is set)"
                ))),
                None => Ok(()),
            };
        };
        let bytes = parse_size(max)
            .ok_or_else(|| bad("cache_max_bytes", max, "expected a size such as 64mb"))?;
        let mut cache = CacheConfig::new(bytes);
        if let Some(mode) = given("cache_mode").next_back() {
            cache.mode = match mode.as_str() {
                "default" => TrackingMode::Default,
                "optin" => TrackingMode::OptIn,
                "bcast" => TrackingMode::Bcast,
                _ => return Err(bad("cache_mode", mode, "expected default, optin or bcast")),
            };
        }
        for prefix in given("cache_prefix") {
            cache = cache.with_prefix(prefix.clone());
        }
        if let Some(ttl) = given("cache_ttl").next_back() {
            cache.ttl = parse_duration(ttl).map_err(|e| bad("cache_ttl", ttl, &e))?;
        }
        config.cache = Some(Box::new(cache));
        Ok(())
    }

    /// Applies the `ssl_*` options (redis-py's names) to `config.tls`; refused on a URL
    /// without TLS.
    fn apply_tls_options(&self, config: &mut ConnectionConfig) -> Result<()> {
        let given: Vec<&(String, String)> = self
            .query
            .iter()
            .filter(|(k, _)| TLS_OPTIONS.contains(&k.as_str()))
            .collect();
        let Some((first, _)) = given.first() else {
            return Ok(());
        };
        let Some(mut tls) = config.tls.take().map(|boxed| *boxed) else {
            return Err(Error::config(format!(
                "URL option {first} needs TLS: use rediss:// (or rediss+sentinel://, rediss+cluster://)"
            )));
        };
        let (mut cert, mut key) = (None, None);
        for (k, value) in given {
            let bad =
                |what: &str| Error::config(format!("invalid URL option {k}={value:?}: {what}"));
            match k.as_str() {
                "ssl_ca_certs" => tls = tls.with_ca_file(value),
                "ssl_certfile" => cert = Some(value.clone()),
                "ssl_keyfile" => key = Some(value.clone()),
                "ssl_server_name" => tls = tls.with_server_name(value),
                "ssl_cert_reqs" => match value.as_str() {
                    "none" => tls = tls.insecure_no_verify(),
                    "required" => {}
                    _ => return Err(bad("expected none or required")),
                },
                _ => match value.as_str() {
                    // ssl_check_hostname
                    "false" | "no" | "0" => tls = tls.without_hostname_check(),
                    "true" | "yes" | "1" => {}
                    _ => return Err(bad("expected true or false")),
                },
            }
        }
        match (cert, key) {
            (Some(cert), Some(key)) => tls = tls.with_client_cert(cert, key),
            (None, None) => {}
            _ => {
                return Err(Error::config(
                    "ssl_certfile and ssl_keyfile go together (a client certificate and its key)",
                ))
            }
        }
        config.tls = Some(Box::new(tls));
        Ok(())
    }

    /// The value of query option `key`, if given.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl ConnectionConfig {
    fn validate_url_parts(&self) -> Result<()> {
        if self.username.is_some() && self.password.is_none() {
            return Err(Error::config(format!(
                "invalid URL: user {:?} has no password (use redis://user:password@host)",
                self.username.as_deref().unwrap_or_default()
            )));
        }
        Ok(())
    }
}

/// The TLS options of a URL, with redis-py's names: `ssl_ca_certs` (CA file),
/// `ssl_certfile` and `ssl_keyfile` (client certificate), `ssl_cert_reqs=none` (no
/// verification), `ssl_check_hostname=false`, and `ssl_server_name` (SNI and the name
/// checked).
pub const TLS_OPTIONS: [&str; 6] = [
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_cert_reqs",
    "ssl_check_hostname",
    "ssl_server_name",
];

/// Reads `/N` (or nothing) as a database index.
pub fn parse_db_path(path: &str) -> Result<i64> {
    match path.trim_start_matches('/') {
        "" => Ok(0),
        db => db.parse().ok().filter(|db: &i64| *db >= 0).ok_or_else(|| {
            Error::config(format!(
                "invalid URL: database {db:?} is not an index (expected e.g. /0)"
            ))
        }),
    }
}

/// The URL options of the client-side cache.
const CACHE_OPTIONS: &[&str] = &["cache_max_bytes", "cache_mode", "cache_prefix", "cache_ttl"];

/// A size in bytes: `1000`, `64kb`, `64mb`, `1gb` (powers of 1024).
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s.as_str(), ""),
    };
    let n: usize = digits.parse().ok()?;
    let shift = match unit {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// Parses `250ms`, `2s`, `1.5s`, `3m`, plain seconds, or `off`/`none` (no timeout).
pub(crate) fn parse_duration(s: &str) -> std::result::Result<Option<Duration>, String> {
    let s = s.trim();
    if matches!(s, "off" | "none" | "") {
        return Ok(None);
    }
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 250ms or 2s, not {s:?}"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => return Err(format!("unknown unit {unit:?} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(value * scale)
        .map(Some)
        .map_err(|_| format!("invalid duration {s:?}"))
}

/// Decodes `%XX` escapes; refuses bad escapes and non-UTF-8 results.
pub(crate) fn percent_decode(s: &str) -> std::result::Result<String, String> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits exactly: `from_str_radix` alone would take a sign (`%+1`).
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent escapes do not decode to UTF-8".to_string())
}

/// The URL with any password replaced, for error messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let info = &url[start + 3..at];
            match info.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..start + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

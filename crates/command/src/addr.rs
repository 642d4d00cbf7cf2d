//! Where a server listens: [`Addr`], as requests, errors and cursors name nodes.

use std::path::PathBuf;

use crate::{Error, Result};

/// The default Redis port.
pub const DEFAULT_PORT: u16 = 6379;

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addr {
    /// A TCP host (name or IP) and port.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix(PathBuf),
}

impl Addr {
    /// A TCP address.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Addr::Tcp {
            host: host.into(),
            port,
        }
    }

    /// The host of a TCP address (`None` for a Unix socket).
    pub fn host(&self) -> Option<&str> {
        match self {
            Addr::Tcp { host, .. } => Some(host),
            Addr::Unix(_) => None,
        }
    }

    /// Parses `host:port`, `[v6]:port` or a bare host (port 6379).
    pub fn parse(s: &str) -> Result<Self> {
        let (host, port) = split_host_port(s)?;
        Ok(Addr::tcp(host, port.unwrap_or(DEFAULT_PORT)))
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Addr::Tcp { host, port } => write!(f, "{host}:{port}"),
            Addr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Splits `host:port`, `[v6]:port`, `[v6]` or `host`; the port is `None` when absent.
pub fn split_host_port(s: &str) -> Result<(String, Option<u16>)> {
    let bad = |reason: &str| Error::config(format!("invalid address {s:?}: {reason}"));
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("missing ']' after an IPv6 address"))?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(bad("expected ':port' after ']'")),
            },
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(bad("an IPv6 address goes in brackets: [::1]:6379"))
            }
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(&format!("invalid port {p:?}")))?,
        ),
    };
    Ok((host.to_string(), port))
}

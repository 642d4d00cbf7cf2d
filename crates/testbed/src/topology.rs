//! Pieces shared by every topology: node descriptions, external mode, lookups.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::Process;
use crate::tls::TlsFiles;
use crate::wire::Auth;

/// Points the tests at an existing single node instead of starting one: `host:port`.
pub const ENV_STANDALONE: &str = "SLOTLINE_TEST_STANDALONE";
/// Points the tests at an existing master and its replicas: `master:port,replica:port,...`.
pub const ENV_REPLICATION: &str = "SLOTLINE_TEST_REPLICATION";
/// Points the tests at existing sentinels: `host:port,host:port,...`.
pub const ENV_SENTINEL: &str = "SLOTLINE_TEST_SENTINEL";
/// The service name the external sentinels monitor (default `mymaster`).
pub const ENV_SENTINEL_SERVICE: &str = "SLOTLINE_TEST_SENTINEL_SERVICE";
/// Points the tests at an existing cluster: `host:p1,host:p2,...` (any subset of its nodes).
pub const ENV_CLUSTER: &str = "SLOTLINE_TEST_CLUSTER";
/// Password of the external data nodes (`requirepass`), if any.
pub const ENV_PASSWORD: &str = "SLOTLINE_TEST_PASSWORD";
/// Password of the external sentinels (their own `requirepass`), if any.
pub const ENV_SENTINEL_PASSWORD: &str = "SLOTLINE_TEST_SENTINEL_PASSWORD";

/// Default deadline for a topology to become ready.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default deadline for a failover or a migration to settle.
pub(crate) const FAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A node's role, as reported in [`NodeInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A master (primary).
    Master,
    /// A replica.
    Replica,
}

impl Role {
    /// `"master"` or `"replica"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "replica",
        }
    }
}

/// One data node of a topology and its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeInfo {
    /// `127.0.0.1:port`.
    pub addr: SocketAddr,
    /// Master or replica.
    pub role: Role,
}

/// A description of a running topology (what the CLI prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// `standalone`, `replication`, `sentinel`, `sharded-sentinel` or `cluster`.
    pub topology: &'static str,
    /// The data nodes.
    pub nodes: Vec<NodeInfo>,
    /// The sentinels (empty unless `sentinel`).
    pub sentinels: Vec<SocketAddr>,
    /// The (first) sentinel service name (`None` unless `sentinel` or `sharded-sentinel`).
    pub service: Option<String>,
    /// Every sentinel service with its data nodes, its initial master first (empty unless
    /// `sentinel` or `sharded-sentinel`).
    pub services: Vec<(String, Vec<SocketAddr>)>,
    /// The certificate files of a TLS topology.
    pub tls: Option<TlsFiles>,
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Description {
    /// One line of JSON: `{"topology":..,"nodes":[{"addr":..,"role":..}],"sentinels":[..],"service":..,"services":[{"name":..,"nodes":[..]}],"tls":..}`
    /// (`service` is `null` and `services` empty unless the topology has sentinels;
    /// `tls` is `null` or `{"ca_cert":..,"client_cert":..,"client_key":..}`).
    pub fn to_json(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| {
                format!(
                    "{{\"addr\":{},\"role\":{}}}",
                    json_str(&n.addr.to_string()),
                    json_str(n.role.as_str())
                )
            })
            .collect();
        let sentinels: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| json_str(&s.to_string()))
            .collect();
        let service = self.service.as_deref().map_or("null".into(), json_str);
        let services: Vec<String> = self
            .services
            .iter()
            .map(|(name, nodes)| {
                let nodes: Vec<String> = nodes.iter().map(|a| json_str(&a.to_string())).collect();
                format!(
                    "{{\"name\":{},\"nodes\":[{}]}}",
                    json_str(name),
                    nodes.join(",")
                )
            })
            .collect();
        let path = |p: &std::path::Path| json_str(&p.to_string_lossy());
        let tls = self.tls.as_ref().map_or("null".into(), |f| {
            format!(
                "{{\"ca_cert\":{},\"client_cert\":{},\"client_key\":{}}}",
                path(&f.ca_cert),
                path(&f.client_cert),
                path(&f.client_key)
            )
        });
        format!(
            "{{\"topology\":{},\"nodes\":[{}],\"sentinels\":[{}],\"service\":{},\"services\":[{}],\"tls\":{}}}",
            json_str(self.topology),
            nodes.join(","),
            sentinels.join(","),
            service,
            services.join(","),
            tls
        )
    }

    /// One human-readable line.
    pub fn to_human(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{} ({})", n.addr, n.role.as_str()))
            .collect();
        let mut s = format!("{} ready: {}", self.topology, nodes.join(", "));
        if !self.sentinels.is_empty() {
            let sentinels: Vec<String> = self.sentinels.iter().map(|a| a.to_string()).collect();
            let services: Vec<&str> = self.services.iter().map(|(n, _)| n.as_str()).collect();
            s.push_str(&format!(
                "; sentinels {} (service{} {})",
                sentinels.join(", "),
                if services.len() > 1 { "s" } else { "" },
                services.join(", ")
            ));
        }
        s
    }
}

/// Reads a comma-separated address list from an environment variable (`None` when unset).
pub(crate) fn env_addrs(var: &'static str) -> Option<Result<Vec<SocketAddr>>> {
    let value = std::env::var(var).ok().filter(|v| !v.trim().is_empty())?;
    Some(parse_addrs(var, &value))
}

/// Parses `host:port,host:port`; host names are resolved.
pub(crate) fn parse_addrs(what: &str, value: &str) -> Result<Vec<SocketAddr>> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let addr = part
            .to_socket_addrs()
            .map_err(|e| Error::io(format!("{what}: resolving {part:?}"), e))?
            .next()
            .ok_or_else(|| Error::Invalid(format!("{what}: {part:?} resolves to nothing")))?;
        out.push(addr);
    }
    if out.is_empty() {
        return Err(Error::Invalid(format!("{what}: no address in {value:?}")));
    }
    Ok(out)
}

/// The password from an environment variable, as [`Auth`].
pub(crate) fn env_auth(var: &'static str) -> Option<Auth> {
    std::env::var(var)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Auth::password)
}

/// Finds the process listening on `addr`.
pub(crate) fn find(procs: &[Process], addr: SocketAddr) -> Result<&Process> {
    procs
        .iter()
        .find(|p| p.addr() == addr)
        .ok_or_else(|| Error::Invalid(format!("no node of this topology listens on {addr}")))
}

/// Percent-encodes a URL user-info component.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `redis://[[user]:password@]addr`.
pub(crate) fn url(addr: SocketAddr, auth: Option<&Auth>) -> String {
    match auth {
        None => format!("redis://{addr}"),
        Some(a) => format!(
            "redis://{}:{}@{addr}",
            a.user.as_deref().map(url_encode).unwrap_or_default(),
            url_encode(&a.password)
        ),
    }
}

/// [`url`], or for a TLS node `rediss://...?ssl_ca_certs=<its CA>`; with
/// `protocol=3` when [`ENV_PROTOCOL`] asks for RESP3.
pub(crate) fn node_url(addr: SocketAddr, auth: Option<&Auth>, tls: Option<&TlsFiles>) -> String {
    let plain = url(addr, auth);
    let url = match tls {
        None => plain,
        Some(files) => format!(
            "rediss{}?ssl_ca_certs={}",
            plain.trim_start_matches("redis"),
            files.ca_cert.display()
        ),
    };
    with_test_protocol(&url)
}

/// The environment variable that makes the URLs the test bed hands out ask for a protocol:
/// `SLOTLINE_TEST_PROTOCOL=3` runs a test suite over RESP3.
pub const ENV_PROTOCOL: &str = "SLOTLINE_TEST_PROTOCOL";

/// The protocol [`ENV_PROTOCOL`] asks for: `Some("3")` for RESP3, `None` when unset (or
/// empty, or `2`: the clients' default).
pub fn test_protocol() -> Option<String> {
    std::env::var(ENV_PROTOCOL)
        .ok()
        .filter(|p| !p.is_empty() && p != "2")
}

/// `url` with `protocol=N` appended when [`ENV_PROTOCOL`] asks for a protocol.
pub fn with_test_protocol(url: &str) -> String {
    match test_protocol() {
        None => url.to_owned(),
        Some(p) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}protocol={p}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let d = Description {
            topology: "sentinel",
            nodes: vec![NodeInfo {
                addr: "127.0.0.1:7000".parse().unwrap(),
                role: Role::Master,
            }],
            sentinels: vec!["127.0.0.1:7001".parse().unwrap()],
            service: Some("mymaster".into()),
            services: vec![("mymaster".into(), vec!["127.0.0.1:7000".parse().unwrap()])],
            tls: None,
        };
        assert_eq!(
            d.to_json(),
            r#"{"topology":"sentinel","nodes":[{"addr":"127.0.0.1:7000","role":"master"}],"sentinels":["127.0.0.1:7001"],"service":"mymaster","services":[{"name":"mymaster","nodes":["127.0.0.1:7000"]}],"tls":null}"#
        );
        let d = Description {
            topology: "cluster",
            nodes: vec![],
            sentinels: vec![],
            service: None,
            services: Vec::new(),
            tls: None,
        };
        assert_eq!(
            d.to_json(),
            r#"{"topology":"cluster","nodes":[],"sentinels":[],"service":null,"services":[],"tls":null}"#
        );
    }

    #[test]
    fn urls() {
        let a: SocketAddr = "127.0.0.1:6379".parse().unwrap();
        assert_eq!(url(a, None), "redis://127.0.0.1:6379");
        assert_eq!(
            url(a, Some(&Auth::password("p@ss word"))),
            "redis://:p%40ss%20word@127.0.0.1:6379"
        );
        assert_eq!(
            url(a, Some(&Auth::user("u", "p"))),
            "redis://u:p@127.0.0.1:6379"
        );
    }

    #[test]
    fn addr_lists() {
        let v = parse_addrs("X", "127.0.0.1:1, 127.0.0.1:2,").unwrap();
        assert_eq!(v.len(), 2);
        assert!(parse_addrs("X", " , ").is_err());
    }
}

//! Helpers shared by the end-to-end tests: one topology of each kind per test binary, URLs
//! to reach them, and a node's command statistics.

#![allow(dead_code, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener};
use std::sync::OnceLock;

use slotline_testbed::{Auth, Cluster, SentinelTopology, Standalone};

/// A standalone node, started once per test binary.
pub(crate) fn standalone() -> &'static Standalone {
    static T: OnceLock<Standalone> = OnceLock::new();
    T.get_or_init(|| Standalone::start().expect("start a standalone node"))
}

/// A sentinel topology, started once per test binary.
pub(crate) fn sentinel() -> &'static SentinelTopology {
    static T: OnceLock<SentinelTopology> = OnceLock::new();
    T.get_or_init(|| SentinelTopology::start().expect("start a sentinel topology"))
}

/// A 3 × 1 cluster, started once per test binary.
pub(crate) fn cluster() -> &'static Cluster {
    static T: OnceLock<Cluster> = OnceLock::new();
    T.get_or_init(|| Cluster::start().expect("start a 3 x 1 cluster"))
}

/// A field of `cmdstat_<command>` in a node's `INFO commandstats` (`calls`,
/// `rejected_calls`, ...); 0 when the command never ran there.
pub(crate) fn command_stat(node: &slotline_testbed::Process, command: &str, field: &str) -> i64 {
    let info = node
        .cmd(&["INFO", "commandstats"])
        .expect("INFO commandstats");
    let text = info.as_str().expect("INFO is text").to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:")))
        .and_then(|stats| {
            stats
                .split(',')
                .find_map(|kv| kv.strip_prefix(field)?.strip_prefix('='))
                .map(|n| n.parse().expect("a count"))
        })
        .unwrap_or(0)
}

/// Percent-encodes everything but unreserved URL characters.
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `user:pass@`, `:pass@` or nothing.
pub(crate) fn userinfo(auth: Option<&Auth>) -> String {
    auth.map(|a| {
        format!(
            "{}:{}@",
            a.user.as_deref().map(encode).unwrap_or_default(),
            encode(&a.password)
        )
    })
    .unwrap_or_default()
}

/// `h1:p1,h2:p2,...`.
pub(crate) fn join(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `redis+cluster://` URL of [`cluster`], with `options` (e.g. `?read_from=replica`) appended.
pub(crate) fn cluster_url(options: &str) -> String {
    let c = cluster();
    format!(
        "redis+cluster://{}{}{options}",
        userinfo(c.auth()),
        join(&c.seed_addrs())
    )
}

/// A loopback port nothing listens on (bound, then released).
pub(crate) fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Defines an async test that runs on both tokio runtime flavours: as
/// `<name>::current_thread` and as `<name>::multi_thread` (two workers). The shared client
/// must keep every promise on both (coalescing, back-pressure, deadlines, reconnects).
#[allow(unused_macros)]
macro_rules! on_both_runtimes {
    ($(#[$meta:meta])* async fn $name:ident() $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body() $body

            #[tokio::test(flavor = "current_thread")]
            async fn current_thread() {
                body().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multi_thread() {
                body().await
            }
        }
    };
}

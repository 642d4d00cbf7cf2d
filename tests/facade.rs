//! The facade: `slotline::Target::parse` over every URL scheme, valid and invalid; and
//! `slotline::Client::open` / `slotline::blocking::Client::open` in every mode against the
//! test bed (single node over TCP and a Unix socket, a sentinel service's master and its
//! replicas, a cluster), doing `SET`/`GET` through the shared `Commands` traits.
//!
//! The topologies are shared by the tests of this file (started on first use); each test
//! uses keys of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{
    cluster, cluster_url, dead_port, join, sentinel, sentinel_service_url, standalone, userinfo,
};

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use slotline::cluster::ClusterConfig;
use slotline::conn::{Addr, DEFAULT_PORT};
use slotline::sentinel::DEFAULT_SENTINEL_PORT;
use slotline::{Client, Commands, ErrorKind, ReadFrom, Target};
use slotline_testbed::Standalone;

/// Longest wait for a write to reach a replica.
const REPLICATION_DEADLINE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// The URL table
// ---------------------------------------------------------------------------------------

fn node(url: &str) -> slotline::conn::ConnectionConfig {
    match Target::parse(url) {
        Ok(Target::Node(config)) => config,
        other => panic!("{url}: expected one node, got {other:?}"),
    }
}

struct SentinelTarget {
    sentinels: Vec<Addr>,
    service: String,
    config: slotline::sentinel::SentinelConfig,
    replica: bool,
}

fn sentinel_target(url: &str) -> SentinelTarget {
    match Target::parse(url) {
        Ok(Target::Sentinel {
            sentinels,
            service,
            config,
            replica,
        }) => SentinelTarget {
            sentinels,
            service,
            config: *config,
            replica,
        },
        other => panic!("{url}: expected a sentinel service, got {other:?}"),
    }
}

fn cluster_target(url: &str) -> (Vec<Addr>, ClusterConfig) {
    match Target::parse(url) {
        Ok(Target::Cluster(kept)) => {
            assert_eq!(kept, url, "the cluster URL is kept as given");
            ClusterConfig::from_url(&kept).unwrap()
        }
        other => panic!("{url}: expected a cluster, got {other:?}"),
    }
}

fn tcp(host: &str, port: u16) -> Addr {
    Addr::tcp(host, port)
}

#[test]
fn single_node_urls() {
    let c = node("redis://127.0.0.1:6380/2");
    assert_eq!(
        (c.addr, c.db, c.tls.is_some()),
        (tcp("127.0.0.1", 6380), 2, false)
    );
    assert_eq!((c.username, c.password), (None, None));

    let c = node("redis://cache.internal");
    assert_eq!((c.addr, c.db), (tcp("cache.internal", DEFAULT_PORT), 0));

    let c = node("REDIS://[::1]:7000/0");
    assert_eq!(c.addr, tcp("::1", 7000));

    let c = node("rediss://secure.example:6390/1");
    assert_eq!(
        (c.addr, c.db, c.tls.is_some()),
        (tcp("secure.example", 6390), 1, true)
    );

    let c =
        node("redis://app:p%40ss%3Aword@10.0.0.1:6379/3?client_name=web&response_timeout=250ms");
    assert_eq!(c.username.as_deref(), Some("app"));
    assert_eq!(c.password.as_deref(), Some("p@ss:word"));
    assert_eq!(c.db, 3);
    assert_eq!(c.client_name.as_deref(), Some("web"));
    assert_eq!(c.response_timeout, Some(Duration::from_millis(250)));

    let c = node("redis://:only-a-password@127.0.0.1");
    assert_eq!(
        (c.username, c.password.as_deref()),
        (None, Some("only-a-password"))
    );

    let c = node("redis://127.0.0.1?db=5&connect_timeout=off");
    assert_eq!((c.db, c.connect_timeout), (5, None));

    let c = node("redis+unix:///run/redis/redis.sock?db=4&password=pw");
    assert_eq!(c.addr, Addr::Unix(PathBuf::from("/run/redis/redis.sock")));
    assert_eq!((c.db, c.password.as_deref()), (4, Some("pw")));

    let c = node("unix:///tmp/r.sock");
    assert_eq!(
        (c.addr, c.db),
        (Addr::Unix(PathBuf::from("/tmp/r.sock")), 0)
    );
}

#[test]
fn sentinel_urls() {
    // One sentinel, the service, nothing else.
    let t = sentinel_target("redis+sentinel://127.0.0.1:26379/mymaster");
    assert_eq!(t.sentinels, vec![tcp("127.0.0.1", 26379)]);
    assert_eq!(t.service, "mymaster");
    assert!(!t.replica);
    assert_eq!(t.config.node.db, 0);
    assert_eq!(
        (t.config.node.username, t.config.node.password),
        (None, None)
    );
    assert_eq!(
        (t.config.sentinel_username, t.config.sentinel_password),
        (None, None)
    );

    // Three sentinels, in the order given; the default sentinel port where none is given.
    let t = sentinel_target("redis+sentinel://s1:26380,s2,10.0.0.3:5000/cache/2");
    assert_eq!(
        t.sentinels,
        vec![
            tcp("s1", 26380),
            tcp("s2", DEFAULT_SENTINEL_PORT),
            tcp("10.0.0.3", 5000)
        ]
    );
    assert_eq!(
        (t.service.as_str(), t.config.node.db, t.replica),
        ("cache", 2, false)
    );

    // role=replica (and its synonyms), role=master.
    for (query, replica) in [
        ("role=replica", true),
        ("role=slave", true),
        ("role=master", false),
        ("role=primary", false),
    ] {
        let t = sentinel_target(&format!("redis+sentinel://h:1/svc?{query}"));
        assert_eq!(t.replica, replica, "{query}");
    }

    // Data-node credentials in the user info; sentinel credentials in options, apart.
    let t = sentinel_target(
        "redis+sentinel://app:data%20pw@h1:1,h2:2/svc/1?role=replica&sentinel_password=s%26cret",
    );
    assert_eq!(t.config.node.username.as_deref(), Some("app"));
    assert_eq!(t.config.node.password.as_deref(), Some("data pw"));
    assert_eq!(t.config.node.db, 1);
    assert!(t.replica);
    assert_eq!(t.config.sentinel_username, None);
    assert_eq!(t.config.sentinel_password.as_deref(), Some("s&cret"));

    let t = sentinel_target(
        "redis+sentinel://:datapw@h/svc?sentinel_username=watcher&sentinel_password=spw",
    );
    assert_eq!(
        (
            t.config.node.username.as_deref(),
            t.config.node.password.as_deref()
        ),
        (None, Some("datapw"))
    );
    assert_eq!(t.config.sentinel_username.as_deref(), Some("watcher"));
    assert_eq!(t.config.sentinel_password.as_deref(), Some("spw"));

    // Connection options reach the data-node settings; db as an option too.
    let t = sentinel_target("redis+sentinel://h/svc?db=7&client_name=worker");
    assert_eq!(t.config.node.db, 7);
    assert_eq!(t.config.node.client_name.as_deref(), Some("worker"));
}

#[test]
fn cluster_urls() {
    let (nodes, config) =
        cluster_target("redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002");
    assert_eq!(
        nodes,
        vec![
            tcp("127.0.0.1", 7000),
            tcp("127.0.0.1", 7001),
            tcp("127.0.0.1", 7002)
        ]
    );
    assert_eq!(config.read_from, ReadFrom::Primary);

    let (nodes, config) =
        cluster_target("redis+cluster://app:pw@h1:7000,h2?read_from=replica&response_timeout=2s");
    assert_eq!(nodes, vec![tcp("h1", 7000), tcp("h2", DEFAULT_PORT)]);
    assert_eq!(config.read_from, ReadFrom::Replica);
    assert_eq!(config.connection.username.as_deref(), Some("app"));
    assert_eq!(config.connection.password.as_deref(), Some("pw"));
    assert_eq!(
        config.connection.response_timeout,
        Some(Duration::from_secs(2))
    );

    for (read_from, expected) in [
        ("prefer_replica", ReadFrom::PreferReplica),
        ("primary", ReadFrom::Primary),
        ("master", ReadFrom::Primary),
    ] {
        let (_, config) = cluster_target(&format!("redis+cluster://h:1?read_from={read_from}"));
        assert_eq!(config.read_from, expected, "{read_from}");
    }
}

#[test]
fn invalid_urls_are_refused_with_a_config_error() {
    let cases = [
        // scheme
        ("foo://127.0.0.1:6379", "unknown scheme"),
        ("http://127.0.0.1", "unknown scheme"),
        ("127.0.0.1:6379", "no scheme"),
        ("://127.0.0.1", "empty scheme"),
        // single node
        ("redis://", "no host"),
        ("redis://127.0.0.1:0", "invalid port"),
        ("redis://127.0.0.1:99999", "invalid port"),
        ("redis://127.0.0.1/abc", "database"),
        ("redis://127.0.0.1/-1", "database"),
        ("redis://127.0.0.1?db=x", "db"),
        ("redis://h1:1,h2:2", "exactly one host"),
        ("redis://app@127.0.0.1", "password"),
        ("redis://127.0.0.1?colour=blue", "unknown option"),
        (
            "redis://127.0.0.1?response_timeout=soon",
            "response_timeout",
        ),
        ("redis://::1:6379", "IPv6"),
        ("redis+unix://", "socket path"),
        ("redis+unix://somehost/tmp/r.sock", "no host"),
        // sentinel
        ("redis+sentinel://127.0.0.1:26379", "no service"),
        ("redis+sentinel://127.0.0.1:26379/", "no service"),
        ("redis+sentinel:///mymaster", "no host"),
        ("redis+sentinel://h1:1,,h2:2/mymaster", "empty host"),
        ("redis+sentinel://h/mymaster?role=leader", "role"),
        ("redis+sentinel://h/mymaster/x", "database"),
        ("redis+sentinel://h/mymaster/-2", "database"),
        (
            "redis+sentinel://h/mymaster?sentinel_username=u",
            "sentinel_password",
        ),
        ("redis+sentinel://app@h/mymaster", "password"),
        ("redis+sentinel://h/mymaster?colour=blue", "unknown option"),
        // cluster
        ("redis+cluster://", "no host"),
        ("redis+cluster://h1:7000,,h2:7001", "empty host"),
        ("redis+cluster://h:7000?read_from=anywhere", "read_from"),
        ("redis+cluster://h:7000?db=2", "database 0"),
        ("redis+cluster://h:7000?colour=blue", "unknown option"),
    ];
    for (url, why) in cases {
        let err = match Target::parse(url) {
            Ok(t) => panic!("{url}: expected an error, got {t:?}"),
            Err(e) => e,
        };
        assert!(err.kind() == ErrorKind::Config, "{url}: {err:?}");
        let message = err.to_string();
        assert!(
            message.contains(why),
            "{url}: {message:?} should say {why:?}"
        );
        // The same error from Client::open, before any connection is tried.
        let blocking = slotline::blocking::Client::open(url).unwrap_err();
        assert!(blocking.kind() == ErrorKind::Config, "{url}: {blocking:?}");
    }
    // A password in a bad URL does not appear in the message.
    for url in [
        "redis://:hunter2@127.0.0.1:99999",
        "redis+sentinel://:hunter2@h:1,h:x/svc",
        "redis+cluster://:hunter2@h:99999",
    ] {
        let message = Target::parse(url).unwrap_err().to_string();
        assert!(!message.contains("hunter2"), "{url}: {message}");
    }
}

// ---------------------------------------------------------------------------------------
// Client::open in every mode
// ---------------------------------------------------------------------------------------

/// A local node that also listens on a Unix socket.
fn unix_node() -> &'static (Standalone, PathBuf) {
    static T: OnceLock<(Standalone, PathBuf)> = OnceLock::new();
    T.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("slotline-facade-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let node = Standalone::builder()
            .local()
            .config(format!("unixsocket {}", path.display()))
            .config("unixsocketperm 700")
            .start()
            .expect("start a node with a Unix socket");
        (node, path)
    })
}

/// Polls `read` every 20 ms until it returns `expected`, or fails after the deadline.
async fn until_async<F, Fut>(what: &str, expected: &str, mut read: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = slotline::Result<Option<String>>>,
{
    let deadline = Instant::now() + REPLICATION_DEADLINE;
    loop {
        let got = read().await.unwrap();
        if got.as_deref() == Some(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn until_blocking(
    what: &str,
    expected: &str,
    mut read: impl FnMut() -> slotline::Result<Option<String>>,
) {
    let deadline = Instant::now() + REPLICATION_DEADLINE;
    loop {
        let got = read().unwrap();
        if got.as_deref() == Some(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {got:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[path = "facade/blocking_open.rs"]
mod blocking_open;
#[path = "facade/open.rs"]
mod open;

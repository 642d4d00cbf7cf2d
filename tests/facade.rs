//! The facade: `slotline::Target::parse` over every URL scheme, valid and invalid; and
//! `slotline::Client::open` / `slotline::blocking::Client::open` in every mode against the
//! test bed (single node over TCP and a Unix socket, a sentinel service's master and its
//! replicas, a cluster), doing `SET`/`GET` through the shared `Commands` traits.
//!
//! The topologies are shared by the tests of this file (started on first use); each test
//! uses keys of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{cluster, cluster_url, dead_port, encode, join, sentinel, standalone, userinfo};

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use slotline::cluster::ClusterConfig;
use slotline::conn::{Addr, DEFAULT_PORT};
use slotline::sentinel::DEFAULT_SENTINEL_PORT;
use slotline::{Client, Commands, Error, ReadFrom, Target};
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
    assert_eq!((c.addr, c.db, c.tls), (tcp("127.0.0.1", 6380), 2, false));
    assert_eq!((c.username, c.password), (None, None));

    let c = node("redis://cache.internal");
    assert_eq!((c.addr, c.db), (tcp("cache.internal", DEFAULT_PORT), 0));

    let c = node("REDIS://[::1]:7000/0");
    assert_eq!(c.addr, tcp("::1", 7000));

    let c = node("rediss://secure.example:6390/1");
    assert_eq!(
        (c.addr, c.db, c.tls),
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
        assert!(matches!(err, Error::Config(_)), "{url}: {err:?}");
        let message = err.to_string();
        assert!(
            message.contains(why),
            "{url}: {message:?} should say {why:?}"
        );
        // The same error from Client::open, before any connection is tried.
        let blocking = slotline::blocking::Client::open(url).unwrap_err();
        assert!(matches!(blocking, Error::Config(_)), "{url}: {blocking:?}");
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

/// `redis+sentinel://[creds@]s1,s2,s3/service[?role=replica][&sentinel_password=..]`.
fn sentinel_url(replica: bool) -> String {
    let t = sentinel();
    let mut options = Vec::new();
    if replica {
        options.push("role=replica".to_string());
    }
    if let Some(a) = t.sentinel_auth() {
        options.push(format!("sentinel_password={}", encode(&a.password)));
        if let Some(user) = &a.user {
            options.push(format!("sentinel_username={}", encode(user)));
        }
    }
    let mut url = format!(
        "redis+sentinel://{}{}/{}",
        userinfo(t.data_auth()),
        join(t.sentinel_addrs()),
        t.service()
    );
    if !options.is_empty() {
        url.push('?');
        url.push_str(&options.join("&"));
    }
    url
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_a_single_node() {
    let t = standalone();
    let c = Client::open(&t.url()).await.unwrap();
    assert_eq!(c.mode(), "node");
    assert!(matches!(c, Client::Node(_)));
    c.del("facade:node:n").await.unwrap();
    c.set("facade:node:k", "v1").await.unwrap();
    let v: Option<String> = c.get("facade:node:k").await.unwrap();
    assert_eq!(v.as_deref(), Some("v1"));
    assert_eq!(c.incr("facade:node:n").await.unwrap(), 1);
    let missing: Option<String> = c.get("facade:node:missing").await.unwrap();
    assert_eq!(missing, None);
    // A db from the URL is selected.
    let c2 = Client::open(&format!("{}/2", t.url())).await.unwrap();
    c2.set("facade:node:db", "two").await.unwrap();
    let in_db0: Option<String> = c.get("facade:node:db").await.unwrap();
    assert_eq!(in_db0, None);
    let mut conn = t.conn().unwrap();
    conn.cmd(&["SELECT", "2"]).unwrap();
    assert_eq!(
        conn.cmd(&["GET", "facade:node:db"]).unwrap().as_str(),
        Some("two")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_a_single_node_over_a_unix_socket() {
    let (t, path) = unix_node();
    let url = format!("redis+unix://{}?db=1", path.display());
    let c = Client::open(&url).await.unwrap();
    assert_eq!(c.mode(), "node");
    c.set("facade:unix:k", "over-unix").await.unwrap();
    let v: Option<String> = c.get("facade:unix:k").await.unwrap();
    assert_eq!(v.as_deref(), Some("over-unix"));
    let mut conn = t.conn().unwrap();
    conn.cmd(&["SELECT", "1"]).unwrap();
    assert_eq!(
        conn.cmd(&["GET", "facade:unix:k"]).unwrap().as_str(),
        Some("over-unix")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_a_sentinel_master_and_replicas() {
    let t = sentinel();
    let master = Client::open(&sentinel_url(false)).await.unwrap();
    assert_eq!(master.mode(), "sentinel");
    let Client::SentinelMaster(inner) = &master else {
        panic!("expected a sentinel master client, got {master:?}");
    };
    let master_addr = t.master_addr().unwrap();
    assert_eq!(
        inner.addr(),
        Addr::tcp(master_addr.ip().to_string(), master_addr.port())
    );
    master.set("facade:se:k", "from-master").await.unwrap();
    let v: Option<String> = master.get("facade:se:k").await.unwrap();
    assert_eq!(v.as_deref(), Some("from-master"));
    assert_eq!(
        t.conn(master_addr)
            .unwrap()
            .cmd(&["GET", "facade:se:k"])
            .unwrap()
            .as_str(),
        Some("from-master")
    );

    // role=replica: reads from the replicas see the write once it has replicated.
    let replica = Client::open(&sentinel_url(true)).await.unwrap();
    assert_eq!(replica.mode(), "sentinel");
    let Client::SentinelReplica(inner) = &replica else {
        panic!("expected a sentinel replica client, got {replica:?}");
    };
    let expected: Vec<Addr> = t
        .replica_addrs()
        .unwrap()
        .iter()
        .map(|a| Addr::tcp(a.ip().to_string(), a.port()))
        .collect();
    let mut known = inner.replica_addrs();
    known.sort_by_key(ToString::to_string);
    let mut expected_sorted = expected.clone();
    expected_sorted.sort_by_key(ToString::to_string);
    assert_eq!(known, expected_sorted);
    until_async("the replica read", "from-master", || {
        replica.get::<Option<String>>("facade:se:k")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_a_cluster() {
    let cl = cluster();
    let c = Client::open(&cluster_url("")).await.unwrap();
    assert_eq!(c.mode(), "cluster");
    assert!(matches!(c, Client::Cluster(_)));
    // Keys spread over every master.
    let mut owners = std::collections::BTreeSet::new();
    for i in 0..30 {
        let key = format!("facade:cl:{i}");
        c.set(&key, i).await.unwrap();
        let v: Option<i64> = c.get(&key).await.unwrap();
        assert_eq!(v, Some(i));
        let owner = cl.slot_owner(cl.keyslot(&key).unwrap()).unwrap();
        assert_eq!(
            cl.cmd(owner, &["GET", key.as_str()]).unwrap().as_str(),
            Some(i.to_string().as_str()),
            "{key} is on {owner}"
        );
        owners.insert(owner);
    }
    assert_eq!(owners.len(), cl.masters().unwrap().len());
    // read_from=replica: reads go to replicas, and see the write once it has replicated.
    let r = Client::open(&cluster_url("?read_from=replica"))
        .await
        .unwrap();
    let Client::Cluster(inner) = &r else {
        panic!("expected a cluster client, got {r:?}");
    };
    assert_eq!(inner.config().read_from, ReadFrom::Replica);
    r.set("facade:cl:rep", "replicated").await.unwrap();
    until_async("the cluster replica read", "replicated", || {
        r.get::<Option<String>>("facade:cl:rep")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_fails_cleanly_when_nothing_answers() {
    let dead = dead_port();
    for url in [
        format!("redis://127.0.0.1:{dead}"),
        format!("redis+sentinel://127.0.0.1:{dead}/mymaster"),
        format!("redis+cluster://127.0.0.1:{dead}"),
    ] {
        let started = Instant::now();
        let err = tokio::time::timeout(Duration::from_secs(30), Client::open(&url))
            .await
            .unwrap_or_else(|_| panic!("{url}: open hangs"))
            .unwrap_err();
        assert!(!matches!(err, Error::Config(_)), "{url}: {err:?}");
        assert!(!err.to_string().is_empty());
        // Nothing listens: refused at once, well inside the hang guard above.
        assert!(started.elapsed() < Duration::from_secs(10), "{url}: slow");
    }
    // A service the sentinels do not know.
    let t = sentinel();
    if t.sentinel_auth().is_none() {
        let url = format!(
            "redis+sentinel://{}{}/no-such-service",
            userinfo(t.data_auth()),
            join(t.sentinel_addrs())
        );
        let err = Client::open(&url).await.unwrap_err();
        assert!(err.to_string().contains("no-such-service"), "{err}");
        // The kind of the discovery error, for callers that act on it; every sentinel
        // was asked.
        match &err {
            slotline::Error::Unavailable {
                kind: slotline::conn::UnavailableKind::UnknownService,
                message,
            } => {
                for s in t.sentinel_addrs() {
                    assert!(message.contains(&s.to_string()), "{s} not asked: {message}");
                }
            }
            other => panic!("expected UnknownService, got {other:?}"),
        }
    }
    // No sentinel up: which ones were asked, and why each failed.
    let url = format!("redis+sentinel://127.0.0.1:{dead}/mymaster");
    let err = Client::open(&url).await.unwrap_err();
    match &err {
        slotline::Error::Unavailable {
            kind: slotline::conn::UnavailableKind::NoSentinelReachable,
            message,
        } => assert!(
            message.contains(&format!("127.0.0.1:{dead}: ")),
            "{message}"
        ),
        other => panic!("expected NoSentinelReachable, got {other:?}"),
    }
    // A dead node is an I/O error, not an unavailable service.
    let err = Client::open(&format!("redis://127.0.0.1:{dead}"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, slotline::Error::Io { written: false, .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The blocking twin
// ---------------------------------------------------------------------------------------

#[test]
fn blocking_open_in_every_mode() {
    use slotline::blocking::{Client, Commands};

    // One node.
    let c = Client::open(&standalone().url()).unwrap();
    assert_eq!(c.mode(), "node");
    assert!(matches!(c, Client::Node(_)));
    c.set("facade:b:node", "n").unwrap();
    let v: Option<String> = c.get("facade:b:node").unwrap();
    assert_eq!(v.as_deref(), Some("n"));

    // Over a Unix socket.
    let (_, path) = unix_node();
    let c = Client::open(&format!("redis+unix://{}", path.display())).unwrap();
    assert_eq!(c.mode(), "node");
    c.set("facade:b:unix", "u").unwrap();
    let v: Option<String> = c.get("facade:b:unix").unwrap();
    assert_eq!(v.as_deref(), Some("u"));

    // A sentinel service: master, then replicas.
    let t = sentinel();
    let m = Client::open(&sentinel_url(false)).unwrap();
    assert_eq!(m.mode(), "sentinel");
    assert!(matches!(m, Client::SentinelMaster(_)));
    m.set("facade:b:se", "blocking-master").unwrap();
    let v: Option<String> = m.get("facade:b:se").unwrap();
    assert_eq!(v.as_deref(), Some("blocking-master"));
    let master_addr = t.master_addr().unwrap();
    assert_eq!(
        t.conn(master_addr)
            .unwrap()
            .cmd(&["GET", "facade:b:se"])
            .unwrap()
            .as_str(),
        Some("blocking-master")
    );
    let r = Client::open(&sentinel_url(true)).unwrap();
    assert_eq!(r.mode(), "sentinel");
    assert!(matches!(r, Client::SentinelReplica(_)));
    until_blocking("the blocking replica read", "blocking-master", || {
        r.get::<Option<String>>("facade:b:se")
    });

    // A cluster.
    let cl = cluster();
    let c = Client::open(&cluster_url("")).unwrap();
    assert_eq!(c.mode(), "cluster");
    assert!(matches!(c, Client::Cluster(_)));
    for i in 0..10 {
        let key = format!("facade:b:cl:{i}");
        c.set(&key, i).unwrap();
        let v: Option<i64> = c.get(&key).unwrap();
        assert_eq!(v, Some(i));
        let owner = cl.slot_owner(cl.keyslot(&key).unwrap()).unwrap();
        assert_eq!(
            cl.cmd(owner, &["GET", key.as_str()]).unwrap().as_str(),
            Some(i.to_string().as_str())
        );
    }

    // Nothing there.
    let dead = dead_port();
    for url in [
        format!("redis://127.0.0.1:{dead}"),
        format!("redis+sentinel://127.0.0.1:{dead}/mymaster"),
        format!("redis+cluster://127.0.0.1:{dead}"),
    ] {
        let err = Client::open(&url).unwrap_err();
        assert!(!matches!(err, slotline::Error::Config(_)), "{url}: {err:?}");
    }
}

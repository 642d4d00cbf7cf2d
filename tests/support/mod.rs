//! Helpers shared by every end-to-end test: one topology of each kind per test binary, URLs
//! to reach them, what a node's `INFO` says, polling with a deadline, and test flavours.
//! Each test file includes it (`#[macro_use] mod support;`), so one copy of each helper
//! serves them all.

#![allow(dead_code, unused_macros, clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use slotline_conn::Addr;

pub(crate) mod capture;
pub(crate) mod staleness;
use slotline_testbed::{with_test_protocol, Auth, Cluster, Process, SentinelTopology, Standalone};

/// How long a test waits for a state it polls for, or for a call that must not hang.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

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

/// The `sharded-sentinel` topology (services `svc1`..`svc3`, a master and a replica each,
/// 3 sentinels), started once per test binary.
pub(crate) fn sharded() -> &'static SentinelTopology {
    static T: OnceLock<SentinelTopology> = OnceLock::new();
    T.get_or_init(|| {
        SentinelTopology::sharded()
            .start()
            .expect("start a sharded-sentinel topology")
    })
}

/// `redis+sentinel://s1,s2,s3/svc1,svc2,svc3[?options]` for a topology of several services.
pub(crate) fn sharded_url_of(t: &SentinelTopology, options: &str) -> String {
    with_test_protocol(&format!(
        "redis+sentinel://{}{}/{}{options}",
        userinfo(t.data_auth()),
        join(t.sentinel_addrs()),
        t.services().join(",")
    ))
}

/// A 3 × 1 cluster, started once per test binary.
pub(crate) fn cluster() -> &'static Cluster {
    static T: OnceLock<Cluster> = OnceLock::new();
    T.get_or_init(|| Cluster::start().expect("start a 3 x 1 cluster"))
}

/// A node that answers `INFO`: a test-bed process, a node of a cluster or of a sentinel
/// topology.
pub(crate) trait Info {
    /// The text of `INFO section` (empty when the node cannot be asked).
    fn info(&self, section: &str) -> String;
}

impl Info for Process {
    fn info(&self, section: &str) -> String {
        self.cmd(&["INFO", section])
            .ok()
            .and_then(|f| f.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl Info for Standalone {
    fn info(&self, section: &str) -> String {
        self.process().expect("a local node").info(section)
    }
}

impl Info for (&Cluster, SocketAddr) {
    fn info(&self, section: &str) -> String {
        self.0
            .cmd(self.1, &["INFO", section])
            .ok()
            .and_then(|f| f.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl Info for (&SentinelTopology, SocketAddr) {
    fn info(&self, section: &str) -> String {
        let Ok(mut con) = self.0.conn(self.1) else {
            return String::new();
        };
        con.cmd(&["INFO", section])
            .ok()
            .and_then(|f| f.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl Info for (&slotline_testbed::Replication, SocketAddr) {
    fn info(&self, section: &str) -> String {
        self.0.process(self.1).expect("a local node").info(section)
    }
}

/// The value of `field` in an `INFO` text.
pub(crate) fn info_value(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == field).then(|| v.trim().to_string())
    })
}

/// A field of `cmdstat_<command>` in an `INFO commandstats` text (`calls`,
/// `rejected_calls`, ...); 0 when the command never ran there.
pub(crate) fn stat_in(info: &str, command: &str, field: &str) -> i64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:")))
        .and_then(|stats| {
            stats
                .split(',')
                .find_map(|kv| kv.strip_prefix(field)?.strip_prefix('='))
                .map(|n| n.parse().expect("a count"))
        })
        .unwrap_or(0)
}

/// A field of `cmdstat_<command>` in a node's `INFO commandstats`; 0 when the command
/// never ran there.
pub(crate) fn command_stat(node: &impl Info, command: &str, field: &str) -> i64 {
    stat_in(&node.info("commandstats"), command, field)
}

/// How many times `command` ran on a node.
pub(crate) fn calls(node: &impl Info, command: &str) -> i64 {
    command_stat(node, command, "calls")
}

/// The value of `field` in a node's `INFO section`.
pub(crate) fn info_field(node: &impl Info, section: &str, field: &str) -> String {
    let text = node.info(section);
    info_value(&text, field).unwrap_or_else(|| panic!("INFO {section} has no {field}: {text}"))
}

/// [`info_field`] as an integer.
pub(crate) fn info_int(node: &impl Info, section: &str, field: &str) -> i64 {
    info_field(node, section, field)
        .parse()
        .expect("an integer")
}

/// A test-bed address as a client's.
pub(crate) fn addr(a: SocketAddr) -> Addr {
    Addr::tcp(a.ip().to_string(), a.port())
}

/// Polls `done` every few milliseconds until it holds; fails the test after [`DEADLINE`].
pub(crate) async fn wait_for(what: &str, done: impl FnMut() -> bool) {
    wait_for_within(DEADLINE, what, done).await
}

/// [`wait_for`] with a deadline of its own.
pub(crate) async fn wait_for_within(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls the async `done` every few milliseconds until it holds; fails the test after
/// [`DEADLINE`].
pub(crate) async fn wait_for_async<F: Future<Output = bool>>(
    what: &str,
    mut done: impl FnMut() -> F,
) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `started` reaches `n` (callers that count themselves just before they
/// queue a request), then lets the last of them finish the poll in which they queue it.
pub(crate) async fn wait_for_callers(started: &AtomicUsize, n: usize) {
    wait_for("every caller to queue its request", || {
        started.load(Ordering::SeqCst) == n
    })
    .await;
    tokio::task::yield_now().await;
}

/// The blocking [`wait_for`], for threads.
pub(crate) fn wait_until(what: &str, done: impl FnMut() -> bool) {
    wait_until_within(DEADLINE, what, done)
}

/// [`wait_until`] with a deadline of its own.
pub(crate) fn wait_until_within(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until every sentinel of `t` has at least `clients` connections subscribed to the
/// failover announcements of a sentinel master client (they, and only they, subscribe
/// to a pattern: `-failover-abort-*`).
pub(crate) fn wait_failover_followers(t: &SentinelTopology, clients: usize) {
    for &s in t.sentinel_addrs() {
        wait_until(
            "the master clients to follow failovers on every sentinel",
            || {
                let Ok(mut con) = t.sentinel_conn(s) else {
                    return false;
                };
                let list = con.cmd(&["CLIENT", "LIST"]).ok();
                let text = list.as_ref().and_then(|f| f.as_str()).unwrap_or_default();
                text.lines().filter(|l| l.contains(" psub=1 ")).count() >= clients
            },
        );
    }
}

/// `fut`'s output; fails the test if it takes longer than [`DEADLINE`] (it hung).
pub(crate) async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    bounded_within(DEADLINE, what, fut).await
}

/// [`bounded`] with a deadline of its own.
pub(crate) async fn bounded_within<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = T>,
) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {limit:?}"))
}

/// Runs blocking code on a plain thread (a blocking client refuses to run on a thread that
/// belongs to an async runtime) and returns its result.
pub(crate) fn on_plain_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("blocking part panicked"))
}

/// Runs a test-bed call (which blocks) off the runtime's threads.
pub(crate) async fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("a blocking call")
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

/// `url` with one more query option (`?` or `&` as the URL needs).
pub(crate) fn with_option(url: &str, option: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{option}")
}

/// `url` with the database `db` as its path (before its options, if any).
pub(crate) fn with_db(url: &str, db: i64) -> String {
    match url.split_once('?') {
        Some((base, options)) => format!("{base}/{db}?{options}"),
        None => format!("{url}/{db}"),
    }
}

/// `redis+cluster://` URL of [`cluster`], with `options` (e.g. `?read_from=replica`) appended.
pub(crate) fn cluster_url(options: &str) -> String {
    let c = cluster();
    with_test_protocol(&format!(
        "redis+cluster://{}{}{options}",
        userinfo(c.auth()),
        join(&c.seed_addrs())
    ))
}

/// `redis+sentinel://[creds@]s1,s2,s3/service[?role=replica][&sentinel_password=..]`.
pub(crate) fn sentinel_service_url(replica: bool) -> String {
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
    with_test_protocol(&url)
}

/// Each deployment the facade opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Node,
    SentinelMaster,
    SentinelReplicas,
    ShardedSentinel,
    Cluster,
}

pub(crate) const MODES: [Mode; 5] = [
    Mode::Node,
    Mode::SentinelMaster,
    Mode::SentinelReplicas,
    Mode::ShardedSentinel,
    Mode::Cluster,
];

impl Mode {
    /// The URL of the client under test.
    pub(crate) fn url(self) -> String {
        match self {
            Mode::Node => standalone().url(),
            Mode::SentinelMaster => sentinel_service_url(false),
            Mode::SentinelReplicas => sentinel_service_url(true),
            Mode::ShardedSentinel => sharded_url_of(sharded(), ""),
            Mode::Cluster => cluster_url(""),
        }
    }

    /// The URL writes go to (a replica client only reads).
    pub(crate) fn writer_url(self) -> String {
        match self {
            Mode::SentinelReplicas => Mode::SentinelMaster.url(),
            other => other.url(),
        }
    }

    /// Keys of this mode and flavour (every test uses its own).
    pub(crate) fn keys(self, flavour: &str, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("modes:{self:?}:{flavour}:{i}"))
            .collect()
    }
}

/// The master serving `s`, and another master.
pub(crate) fn owner_and_other(c: &Cluster, s: u16) -> (SocketAddr, SocketAddr) {
    let source = c.slot_owner(s).unwrap();
    let target = c
        .masters()
        .unwrap()
        .into_iter()
        .find(|m| *m != source)
        .unwrap();
    (source, target)
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

/// A twemproxy (Debian's `nutcracker`) in front of named Redis servers, configured as a
/// user moving to slotline's sharded client would have it: `distribution: ketama`,
/// `hash: md5`, `hash_tag: "{}"`, each server weight 1 and named. Killed on drop.
pub(crate) struct Nutcracker {
    child: std::process::Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Nutcracker {
    /// Starts it over `servers` (address and name, in ring order) and waits until it
    /// accepts connections. Fails the test, saying what to install, when `nutcracker` is
    /// missing (`make deps` installs it).
    pub(crate) fn start(servers: &[(SocketAddr, &str)]) -> Nutcracker {
        let dir = std::env::temp_dir().join(format!(
            "slotline-nutcracker-{}-{}",
            std::process::id(),
            dead_port()
        ));
        std::fs::create_dir_all(&dir).expect("a directory for nutcracker");
        let port = dead_port();
        let mut conf = format!(
            "pool:\n  listen: 127.0.0.1:{port}\n  hash: md5\n  distribution: ketama\n  \
             hash_tag: \"{{}}\"\n  redis: true\n  auto_eject_hosts: false\n  \
             preconnect: true\n  servers:\n"
        );
        for (addr, name) in servers {
            conf.push_str(&format!("   - {addr}:1 {name}\n"));
        }
        let conf_path = dir.join("nutcracker.yml");
        std::fs::write(&conf_path, conf).expect("write the nutcracker config");
        // Debian puts it in /usr/sbin, which a user's PATH may lack.
        let program = ["/usr/sbin/nutcracker", "/usr/bin/nutcracker"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nutcracker");
        let child = std::process::Command::new(program)
            .arg("-c")
            .arg(&conf_path)
            .arg("-o")
            .arg(dir.join("nutcracker.log"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run nutcracker ({e}): install Debian's nutcracker (make deps does)")
            });
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut n = Nutcracker { child, addr, dir };
        wait_until("nutcracker to accept connections", || {
            if let Ok(Some(status)) = n.child.try_wait() {
                panic!("nutcracker exited: {status}");
            }
            std::net::TcpStream::connect(addr).is_ok()
        });
        n
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Nutcracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// For a test that makes network faults (partitions): true when it runs in a network
/// namespace of its own; otherwise it has just been run again there, alone (and checked),
/// or skipped loudly where namespaces or nftables are missing (failed instead under `CI`):
/// the caller returns. `test` is its name as the harness knows it.
pub(crate) fn isolated(test: &str) -> bool {
    slotline_testbed::net::isolated(test).unwrap_or_else(|e| panic!("{e}"))
}

/// A multi-thread runtime (two workers, as on this machine's `#[tokio::main]`), for tests
/// that must build their own (they run again in a namespace of their own).
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Timeouts short enough to see a partition in a test: response and connect `response`,
/// dead links found by `TCP_USER_TIMEOUT` (2 s) and keepalive (1 s).
pub(crate) fn short_timeouts(
    response: Duration,
    config: slotline_conn::ConnectionConfig,
) -> slotline_conn::ConnectionConfig {
    let mut c = config
        .with_response_timeout(Some(response))
        .with_connect_timeout(Some(response));
    c.tcp_user_timeout = Some(Duration::from_secs(2));
    c.tcp_keepalive = Some(Duration::from_secs(1));
    c
}

//! Sentinel discovery against the test bed's sentinel topology (3 sentinels, a master, 2
//! replicas): the master and replicas found, async and blocking; sentinels learned; a dead
//! or frozen first sentinel; an unknown service; no sentinel up; passwords on the sentinels
//! and on the data nodes; and a fake sentinel that names a replica as master. Each failure
//! has its own error. Also, with a fake sentinel in front of a replication pair whose roles
//! are swapped by hand: writes answered `READONLY` by the demoted master are sent again,
//! once, to the new one. And the `+switch-master` subscriptions: one per sentinel, renewed
//! when a sentinel comes back, gone with the last client handle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use slotline_conn::{Addr, ServerErrorKind};
use slotline_resp::{Decoder, Frame};
use slotline_sentinel::{blocking, Error, Sentinel, SentinelConfig};
use slotline_testbed::{Replication, SentinelTopology};

#[macro_use]
mod support;
use support::addr;

const DEADLINE: Duration = Duration::from_secs(15);

fn addrs(list: &[SocketAddr]) -> HashSet<Addr> {
    list.iter().map(|&s| addr(s)).collect()
}

/// A port nothing listens on (bound, then released).
fn dead_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Resumes a stopped node when dropped, even if the test panics.
struct Resume<'a>(&'a SentinelTopology, SocketAddr);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        let _ = self.0.cont(self.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_master_and_replicas_async_and_blocking() {
    let t = SentinelTopology::builder().local().start().unwrap();
    let service = t.service().to_string();
    let master = addr(t.master_addr().unwrap());
    let replicas = addrs(&t.replica_addrs().unwrap());
    assert_eq!(replicas.len(), 2);

    // Only the first sentinel is given: the others are learned.
    let s = Sentinel::new([t.sentinel_addrs()[0]], SentinelConfig::default()).unwrap();
    assert_eq!(s.master_addr(&service).await.unwrap(), master);
    assert_eq!(
        s.sentinel_addrs().into_iter().collect::<HashSet<_>>(),
        addrs(t.sentinel_addrs()),
        "sentinels learned from SENTINEL SENTINELS"
    );
    assert_eq!(
        s.replica_addrs(&service)
            .await
            .unwrap()
            .into_iter()
            .collect::<HashSet<_>>(),
        replicas
    );

    // Clients.
    use slotline_conn::Commands;
    let m = s.master_for(&service).await.unwrap();
    assert_eq!(m.addr(), master);
    m.set("discovery:k", "v").await.unwrap();
    let v: Option<String> = m.get("discovery:k").await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let r = s.replica_for(&service).await.unwrap();
    assert_eq!(
        r.replica_addrs().into_iter().collect::<HashSet<_>>(),
        replicas
    );
    let deadline = Instant::now() + DEADLINE;
    loop {
        let v: Option<String> = r.get("discovery:k").await.unwrap();
        if v.as_deref() == Some("v") {
            break;
        }
        assert!(Instant::now() < deadline, "the replicas never got the key");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A write through the replica client reaches a replica.
    let err = r.set("discovery:k", "w").await.unwrap_err();
    assert_eq!(err.server_kind(), Some(&ServerErrorKind::ReadOnly), "{err}");

    // Blocking, on a thread of its own.
    let sentinels = t.sentinel_addrs().to_vec();
    let (service2, master2, replicas2) = (service.clone(), master.clone(), replicas.clone());
    tokio::task::spawn_blocking(move || {
        use slotline_conn::blocking::Commands;
        let s = blocking::Sentinel::new(&sentinels, SentinelConfig::default()).unwrap();
        assert_eq!(s.master_addr(&service2).unwrap(), master2);
        assert_eq!(
            s.replica_addrs(&service2)
                .unwrap()
                .into_iter()
                .collect::<HashSet<_>>(),
            replicas2
        );
        let m = s.master_for(&service2).unwrap();
        assert_eq!(m.addr(), master2);
        m.set("discovery:b", 7).unwrap();
        assert_eq!(m.incr("discovery:b").unwrap(), 8);
        let r = s.replica_for(&service2).unwrap();
        assert_eq!(r.replica_addrs().len(), 2);
        let v: Option<String> = r.get("discovery:k").unwrap();
        assert_eq!(v.as_deref(), Some("v"));
        assert!(matches!(
            s.master_addr("no-such-service"),
            Err(Error::UnknownService { .. })
        ));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_or_frozen_sentinels_unknown_service_and_none_up() {
    let t = SentinelTopology::builder().local().start().unwrap();
    let service = t.service().to_string();
    let master = addr(t.master_addr().unwrap());
    let real = t.sentinel_addrs().to_vec();

    // The list starts with a dead port: the next sentinel answers and moves to the front.
    let dead = dead_port();
    let mut list = vec![dead];
    list.extend(&real);
    let s = Sentinel::new(&list, SentinelConfig::default()).unwrap();
    assert_eq!(s.master_addr(&service).await.unwrap(), master);
    let order = s.sentinel_addrs();
    assert_eq!(order[0], addr(real[0]), "the responder moves to the front");
    assert_eq!(order[1], addr(dead));
    // The dead one is not asked first any more.
    assert_eq!(s.master_addr(&service).await.unwrap(), master);
    assert_eq!(s.sentinel_addrs()[0], addr(real[0]));

    // A frozen first sentinel (SIGSTOP: it accepts connections, never answers) costs one
    // short timeout.
    let s = Sentinel::new(&real, SentinelConfig::default()).unwrap();
    t.stop(real[0]).unwrap();
    let resume = Resume(&t, real[0]);
    let started = Instant::now();
    assert_eq!(s.master_addr(&service).await.unwrap(), master);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(s.sentinel_addrs()[0], addr(real[1]));
    drop(resume);

    // An unknown service.
    match s.master_addr("no-such-service").await {
        Err(Error::UnknownService { service, asked }) => {
            assert_eq!(service, "no-such-service");
            assert!(!asked.is_empty());
        }
        other => panic!("expected UnknownService, got {other:?}"),
    }
    assert!(matches!(
        s.replica_addrs("no-such-service").await,
        Err(Error::UnknownService { .. })
    ));
    assert!(matches!(
        s.master_for("no-such-service").await,
        Err(Error::UnknownService { .. })
    ));

    // No sentinel up.
    let none = Sentinel::new([dead_port(), dead_port()], SentinelConfig::default()).unwrap();
    match none.master_addr(&service).await {
        Err(Error::NoSentinelReachable { failures }) => assert_eq!(failures.len(), 2),
        other => panic!("expected NoSentinelReachable, got {other:?}"),
    }
    assert!(matches!(
        none.master_for(&service).await,
        Err(Error::NoSentinelReachable { .. })
    ));
    let none = blocking::Sentinel::new([dead_port()], SentinelConfig::default()).unwrap();
    let err = tokio::task::spawn_blocking(move || none.replica_addrs("mymaster"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::NoSentinelReachable { .. }), "{err}");
    // The error says why, per sentinel.
    assert!(err.to_string().contains("127.0.0.1:"), "{err}");

    // Nothing of the topology was harmed by the above.
    assert_eq!(
        Sentinel::new(&real, SentinelConfig::default())
            .unwrap()
            .master_addr(&service)
            .await
            .unwrap(),
        master
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_on_sentinels_and_on_data_nodes() {
    let t = SentinelTopology::builder()
        .local()
        .requirepass("data-secret")
        .sentinel_password("sentinel-secret")
        .start()
        .unwrap();
    let service = t.service().to_string();
    let master = addr(t.master_addr().unwrap());
    let sentinels = t.sentinel_addrs().to_vec();
    let good = SentinelConfig::default()
        .with_sentinel_password("sentinel-secret")
        .with_node_password("data-secret");

    // Both right.
    let s = Sentinel::new(&sentinels, good.clone()).unwrap();
    assert_eq!(s.master_addr(&service).await.unwrap(), master);
    assert_eq!(s.replica_addrs(&service).await.unwrap().len(), 2);
    use slotline_conn::Commands;
    let m = s.master_for(&service).await.unwrap();
    m.set("auth:k", 1).await.unwrap();
    assert_eq!(m.incr("auth:k").await.unwrap(), 2);
    let r = s.replica_for(&service).await.unwrap();
    assert_eq!(r.replica_addrs().len(), 2);
    let _: Option<i64> = r.get("auth:k").await.unwrap();

    // No sentinel password, or a wrong one: no sentinel answers, and each says why.
    for config in [
        SentinelConfig::default().with_node_password("data-secret"),
        SentinelConfig::default()
            .with_sentinel_password("wrong")
            .with_node_password("data-secret"),
    ] {
        let s = Sentinel::new(&sentinels, config).unwrap();
        match s.master_addr(&service).await {
            Err(Error::NoSentinelReachable { failures }) => {
                assert_eq!(failures.len(), 3);
                for (_, why) in &failures {
                    let why = why.to_string();
                    assert!(why.contains("NOAUTH") || why.contains("WRONGPASS"), "{why}");
                }
            }
            other => panic!("expected NoSentinelReachable, got {other:?}"),
        }
    }

    // The data nodes' password is separate: the sentinel password alone does not open
    // them, nor does a wrong one.
    let no_data = SentinelConfig::default().with_sentinel_password("sentinel-secret");
    let s = Sentinel::new(&sentinels, no_data).unwrap();
    match s.master_addr(&service).await {
        Err(Error::Conn(e)) => assert_eq!(e.server_kind(), Some(&ServerErrorKind::NoAuth), "{e}"),
        other => panic!("expected a NOAUTH error, got {other:?}"),
    }
    let wrong_data = good.clone().with_node_password("wrong");
    let s = Sentinel::new(&sentinels, wrong_data).unwrap();
    match s.master_for(&service).await {
        Err(Error::Conn(e)) => {
            assert_eq!(e.server_kind(), Some(&ServerErrorKind::WrongPass), "{e}")
        }
        other => panic!("expected a WRONGPASS error, got {other:?}"),
    }

    // Blocking, with both right.
    let service2 = service.clone();
    tokio::task::spawn_blocking(move || {
        use slotline_conn::blocking::Commands;
        let s = blocking::Sentinel::new(&sentinels, good).unwrap();
        assert_eq!(s.master_addr(&service2).unwrap(), master);
        let m = s.master_for(&service2).unwrap();
        assert_eq!(m.incr("auth:k").unwrap(), 3);
    })
    .await
    .unwrap();
}

/// A sentinel that is not one: answers `GET-MASTER-ADDR-BY-NAME` with `named` (a replica),
/// `SENTINEL SENTINELS`/`REPLICAS` with an empty list, anything else with an error.
struct FakeSentinel {
    addr: SocketAddr,
    named: Arc<Mutex<SocketAddr>>,
    asked: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeSentinel {
    fn start(named: SocketAddr) -> FakeSentinel {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let asked = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let named = Arc::new(Mutex::new(named));
        let (asked2, stop2, named2) = (asked.clone(), stop.clone(), named.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (asked, named) = (asked2.clone(), named2.clone());
                std::thread::spawn(move || serve_fake(conn, &named, &asked));
            }
        });
        FakeSentinel {
            addr,
            named,
            asked,
            stop,
        }
    }

    /// Names another node from now on.
    fn name(&self, node: SocketAddr) {
        *self.named.lock().unwrap() = node;
    }
}

impl Drop for FakeSentinel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_fake(mut conn: TcpStream, named: &Mutex<SocketAddr>, asked: &AtomicUsize) {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut out = BytesMut::new();
        while let Ok(Some(request)) = decoder.decode(&mut buf) {
            let words: Vec<String> = request
                .iter()
                .map(|f| f.as_str().unwrap_or("").to_ascii_uppercase())
                .collect();
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let reply = match words.as_slice() {
                ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", _] => {
                    asked.fetch_add(1, Ordering::SeqCst);
                    let named = *named.lock().unwrap();
                    Frame::Array(vec![
                        Frame::bulk(named.ip().to_string()),
                        Frame::bulk(named.port().to_string()),
                    ])
                }
                ["SENTINEL", "SENTINELS" | "REPLICAS", _] => Frame::Array(vec![]),
                ["PING"] => Frame::simple("PONG"),
                _ => Frame::error("ERR unknown command"),
            };
            reply.encode(&mut out);
        }
        if conn.write_all(&out).is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_naming_a_replica_is_refused_by_the_role_check() {
    let t = SentinelTopology::builder().local().start().unwrap();
    let service = t.service().to_string();
    let master = addr(t.master_addr().unwrap());
    let replica = t.replica_addrs().unwrap()[0];
    let fake = FakeSentinel::start(replica);

    // The fake first: its answer fails the ROLE check, discovery goes on to a real one.
    let mut list = vec![fake.addr];
    list.extend(t.sentinel_addrs());
    let s = Sentinel::new(&list, SentinelConfig::default()).unwrap();
    assert_eq!(s.master_addr(&service).await.unwrap(), master);
    assert!(fake.asked.load(Ordering::SeqCst) >= 1, "the fake was asked");
    assert_ne!(s.sentinel_addrs()[0], addr(fake.addr));
    use slotline_conn::Commands;
    let m = s.master_for(&service).await.unwrap();
    assert_eq!(m.addr(), master);
    m.set("fake:k", 1).await.unwrap();

    // The fake alone: discovery waits, asks again (bounded), then says the node it names is
    // not a master.
    let config = SentinelConfig::default();
    let bound = config.role_retry_delay * config.role_rounds + Duration::from_secs(2);
    let s = Sentinel::new([fake.addr], config).unwrap();
    let asked_before = fake.asked.load(Ordering::SeqCst);
    let started = Instant::now();
    match s.master_addr(&service).await {
        Err(Error::NotMaster { addr: a, role, .. }) => {
            assert_eq!(a, addr(replica));
            assert_eq!(role, "slave");
        }
        other => panic!("expected NotMaster, got {other:?}"),
    }
    assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
    assert_eq!(
        fake.asked.load(Ordering::SeqCst) - asked_before,
        s.config().role_rounds as usize,
        "asked again once per round"
    );
    // The same from the blocking API.
    let sb = blocking::Sentinel::new([fake.addr], SentinelConfig::default()).unwrap();
    let service2 = service.clone();
    let err = tokio::task::spawn_blocking(move || sb.master_addr(&service2))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::NotMaster { .. }), "{err}");
}

/// Swaps master and replica by hand (`REPLICAOF`), without closing client connections,
/// and waits until the new replica is in sync.
fn swap(r: &Replication, new_master: SocketAddr, new_replica: SocketAddr) {
    let node = |a| r.process(a).unwrap();
    node(new_master).cmd(&["REPLICAOF", "NO", "ONE"]).unwrap();
    node(new_replica)
        .cmd(&["REPLICAOF", "127.0.0.1", &new_master.port().to_string()])
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let info = node(new_replica).cmd(&["INFO", "replication"]).unwrap();
        if info.as_str().unwrap().contains("master_link_status:up") {
            return;
        }
        assert!(Instant::now() < deadline, "{new_replica} never synced");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_refused_with_readonly_are_resent_to_the_new_master() {
    use slotline_conn::{pipe, Commands, Query};
    let r = Replication::builder().replicas(1).local().start().unwrap();
    let (a, b) = (r.master_addr(), r.replica_addrs()[0]);
    let fake = FakeSentinel::start(a);
    let s = Sentinel::new([fake.addr], SentinelConfig::default()).unwrap();
    let c = s.master_for("svc").await.unwrap();
    assert_eq!(c.addr(), addr(a));
    c.set("ro:n", 0).await.unwrap();

    // One command.
    let (ra, rb) = (r.process(a).unwrap(), r.process(b).unwrap());
    swap(&r, b, a);
    fake.name(b);
    assert_eq!(
        c.incr("ro:n").await.unwrap(),
        1,
        "resent once, to the new master"
    );
    assert_eq!(c.addr(), addr(b));
    assert!(c.is_connected());
    assert_eq!(
        rejected(ra, "incr"),
        1,
        "the demoted master refused it (READONLY)"
    );

    // A pipeline whose writes were all refused.
    swap(&r, a, b);
    fake.name(a);
    let mut p = pipe();
    p.incr("ro:n").get("ro:n");
    let (n, v): (i64, String) = c.pipeline(&p).await.unwrap();
    assert_eq!((n, v.as_str()), (2, "2"));
    assert_eq!(c.addr(), addr(a));
    assert_eq!(rejected(rb, "incr"), 1, "refused in the pipeline");

    // A transaction refused as a whole (EXECABORT).
    swap(&r, b, a);
    fake.name(b);
    let mut p = pipe();
    p.atomic().incr("ro:n").incr("ro:n");
    let (x, y): (i64, i64) = c.pipeline(&p).await.unwrap();
    assert_eq!((x, y), (3, 4));
    assert_eq!(c.addr(), addr(b));

    assert_eq!(rejected(ra, "incr"), 1 + 2, "refused in the transaction");

    // Each write ran exactly once.
    let got = rb.cmd(&["GET", "ro:n"]).unwrap();
    assert_eq!(got.as_str(), Some("4"));
}

/// `rejected_calls=` of a command on a node (refused before running: `READONLY`, ...).
fn rejected(node: &slotline_testbed::Process, command: &str) -> i64 {
    support::command_stat(node, command, "rejected_calls")
}

/// Subscribed clients on the sentinels that are up, in all (`CLIENT LIST` entries with
/// `sub=` not 0; sentinels do not subscribe to each other).
fn subscribers(t: &SentinelTopology) -> usize {
    t.sentinel_addrs()
        .iter()
        .filter_map(|&s| t.sentinel_conn(s).ok()?.cmd(&["CLIENT", "LIST"]).ok())
        .map(|list| {
            list.as_str()
                .unwrap()
                .lines()
                .filter(|l| l.split(' ').any(|f| f.starts_with("sub=") && f != "sub=0"))
                .count()
        })
        .sum()
}

async fn until_subscribers(t: &SentinelTopology, want: usize) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let got = subscribers(t);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{got} subscribers on the sentinels, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_tasks_end_with_the_last_handle() {
    let t = SentinelTopology::builder().local().start().unwrap();
    let service = t.service().to_string();
    assert_eq!(subscribers(&t), 0);
    let s = Sentinel::new(t.sentinel_addrs(), SentinelConfig::default()).unwrap();

    // One `+switch-master` subscription per sentinel, shared by the clones.
    let m = s.master_for(&service).await.unwrap();
    let m2 = m.clone();
    until_subscribers(&t, 3).await;
    // A sentinel that dies and comes back is subscribed to again.
    let victim = t.sentinel_addrs()[2];
    t.kill(victim).unwrap();
    until_subscribers(&t, 2).await;
    t.restart(victim).unwrap();
    until_subscribers(&t, 3).await;
    drop(m);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(subscribers(&t), 3, "a clone is still alive");
    drop(m2);
    until_subscribers(&t, 0).await;

    // The same for the blocking twin, whose runtime goes with its last handle.
    let sentinels = t.sentinel_addrs().to_vec();
    let m = tokio::task::spawn_blocking(move || {
        blocking::Sentinel::new(&sentinels, SentinelConfig::default())
            .unwrap()
            .master_for(&service)
            .unwrap()
    })
    .await
    .unwrap();
    until_subscribers(&t, 3).await;
    drop(m);
    until_subscribers(&t, 0).await;
}

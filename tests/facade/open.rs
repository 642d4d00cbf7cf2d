//! Client::open in every mode, async.

use super::*;
use slotline::ErrorKind;

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
    let c2 = Client::open(&support::with_db(&t.url(), 2)).await.unwrap();
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
    let master = Client::open(&sentinel_service_url(false)).await.unwrap();
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
    let replica = Client::open(&sentinel_service_url(true)).await.unwrap();
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
        assert!(!(err.kind() == ErrorKind::Config), "{url}: {err:?}");
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
        match (err.kind(), err.message()) {
            (
                slotline::ErrorKind::Unavailable(slotline::conn::UnavailableKind::UnknownService),
                Some(message),
            ) => {
                for s in t.sentinel_addrs() {
                    assert!(message.contains(&s.to_string()), "{s} not asked: {message}");
                }
            }
            _ => panic!("expected UnknownService, got {err:?}"),
        }
    }
    // No sentinel up: which ones were asked, and why each failed.
    let url = format!("redis+sentinel://127.0.0.1:{dead}/mymaster");
    let err = Client::open(&url).await.unwrap_err();
    match (err.kind(), err.message()) {
        (
            slotline::ErrorKind::Unavailable(slotline::conn::UnavailableKind::NoSentinelReachable),
            Some(message),
        ) => assert!(
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
        err.kind() == ErrorKind::Io && !err.may_have_run(),
        "{err:?}"
    );
}

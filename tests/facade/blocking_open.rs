//! The blocking twin in every mode.

use super::*;
use slotline::ErrorKind;

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
    // Metrics and cache stats, read through the async facade over the same client.
    assert!(c.metrics().total().requests >= 2, "{:?}", c.metrics());
    assert_eq!(c.cache_stats(), None);

    // Over a Unix socket.
    let (_, path) = unix_node();
    let c = Client::open(&format!("redis+unix://{}", path.display())).unwrap();
    assert_eq!(c.mode(), "node");
    c.set("facade:b:unix", "u").unwrap();
    let v: Option<String> = c.get("facade:b:unix").unwrap();
    assert_eq!(v.as_deref(), Some("u"));

    // A sentinel service: master, then replicas.
    let t = sentinel();
    let m = Client::open(&sentinel_service_url(false)).unwrap();
    assert_eq!(m.mode(), "sentinel");
    assert!(matches!(m, Client::SentinelMaster(_)));
    m.set("facade:b:se", "blocking-master").unwrap();
    let v: Option<String> = m.get("facade:b:se").unwrap();
    assert_eq!(v.as_deref(), Some("blocking-master"));
    assert!(m.metrics().total().requests >= 2, "{:?}", m.metrics());
    let master_addr = t.master_addr().unwrap();
    assert_eq!(
        t.conn(master_addr)
            .unwrap()
            .cmd(&["GET", "facade:b:se"])
            .unwrap()
            .as_str(),
        Some("blocking-master")
    );
    let r = Client::open(&sentinel_service_url(true)).unwrap();
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
    let m = c.metrics();
    assert!(m.nodes.len() >= 2 && m.total().requests >= 20, "{m:?}");

    // Nothing there.
    let dead = dead_port();
    for url in [
        format!("redis://127.0.0.1:{dead}"),
        format!("redis+sentinel://127.0.0.1:{dead}/mymaster"),
        format!("redis+cluster://127.0.0.1:{dead}"),
    ] {
        let err = Client::open(&url).unwrap_err();
        assert!(!(err.kind() == ErrorKind::Config), "{url}: {err:?}");
    }
}

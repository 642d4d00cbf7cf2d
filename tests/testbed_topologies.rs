//! Self-tests of `slotline-testbed`: every topology starts, is ready, answers, and leaves no
//! process or directory behind once dropped; concurrent topologies never share a port.

// Helpers outside #[test] fns panic on failure just like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use slotline_testbed::wire::{self, Auth, Conn};
use slotline_testbed::{
    pid_alive, Cluster, Process, Replication, SentinelTopology, Standalone, SLOTS,
};
use support::info_value;

/// Pid and topology directory of a process.
fn footprint(p: &Process) -> (u32, PathBuf) {
    let pid = p.pid().expect("process is running");
    let topo_dir = p
        .dir()
        .parent()
        .expect("node dir has a parent")
        .to_path_buf();
    (pid, topo_dir)
}

/// Asserts that no pid is alive any more and the directories are gone.
fn assert_gone(footprints: &[(u32, PathBuf)]) {
    for (pid, dir) in footprints {
        assert!(!pid_alive(*pid), "process {pid} survived the topology");
        assert!(!dir.exists(), "{} survived the topology", dir.display());
    }
}

fn get(conn: &mut Conn, key: &str) -> Option<String> {
    let reply = conn.cmd(&["GET", key]).unwrap();
    reply.as_str().map(str::to_string)
}

fn info_field(conn: &mut Conn, section: &str, field: &str) -> Option<String> {
    let reply = conn.cmd(&["INFO", section]).unwrap();
    info_value(reply.as_str().unwrap(), field)
}

#[test]
fn standalone_starts_answers_and_leaves_nothing() {
    let t = Standalone::builder().local().start().unwrap();
    assert!(!t.is_external());
    let mut c = t.conn().unwrap();
    assert_eq!(c.cmd(&["PING"]).unwrap().as_str(), Some("PONG"));
    c.cmd(&["SET", "greeting", "hello"]).unwrap();
    assert_eq!(get(&mut c, "greeting").as_deref(), Some("hello"));
    let p = t.process().unwrap();
    let fp = footprint(p);
    // The node that answers is the process we started (not a stranger on the port).
    assert_eq!(
        info_field(&mut c, "server", "process_id"),
        Some(fp.0.to_string())
    );
    assert_eq!(
        info_field(&mut c, "persistence", "aof_enabled").as_deref(),
        Some("0")
    );
    assert!(p.log_path().exists());
    assert_eq!(
        t.url(),
        slotline_testbed::with_test_protocol(&format!("redis://{}", t.addr()))
    );
    drop(c);
    drop(t);
    assert_gone(&[fp]);
}

#[test]
fn standalone_with_requirepass_and_acl_users() {
    let t = Standalone::builder()
        .local()
        .requirepass("s3cret")
        .user("app", "app-pass", "~app:* +@all")
        .start()
        .unwrap();
    let mut anon = Conn::connect(t.addr()).unwrap();
    let err = anon.cmd(&["PING"]).unwrap_err();
    assert!(err.server_message().unwrap().starts_with("NOAUTH"), "{err}");
    let err = anon.auth(&Auth::password("wrong")).unwrap_err();
    assert!(
        err.server_message().unwrap().starts_with("WRONGPASS"),
        "{err}"
    );

    let mut admin = t.conn().unwrap();
    assert_eq!(admin.cmd(&["PING"]).unwrap().as_str(), Some("PONG"));

    let mut app = Conn::connect_auth(t.addr(), Some(&Auth::user("app", "app-pass"))).unwrap();
    app.cmd(&["SET", "app:1", "x"]).unwrap();
    let err = app.cmd(&["SET", "other", "x"]).unwrap_err();
    assert!(err.server_message().unwrap().starts_with("NOPERM"), "{err}");
    assert_eq!(
        t.url(),
        slotline_testbed::with_test_protocol(&format!("redis://:s3cret@{}", t.addr()))
    );
}

#[test]
fn replication_links_are_up_and_replicas_serve_reads() {
    let t = Replication::builder().local().start().unwrap();
    assert_eq!(t.replica_addrs().len(), 2);
    let mut m = t.conn(t.master_addr()).unwrap();
    assert_eq!(
        info_field(&mut m, "replication", "connected_slaves").as_deref(),
        Some("2")
    );
    m.cmd(&["SET", "k", "v"]).unwrap();
    t.wait_synced(std::time::Duration::from_secs(5)).unwrap();
    let mut fps = vec![footprint(t.process(t.master_addr()).unwrap())];
    for &r in t.replica_addrs() {
        let mut c = t.conn(r).unwrap();
        assert_eq!(
            info_field(&mut c, "replication", "role").as_deref(),
            Some("slave")
        );
        assert_eq!(get(&mut c, "k").as_deref(), Some("v"));
        let err = c.cmd(&["SET", "k", "w"]).unwrap_err();
        assert!(
            err.server_message().unwrap().starts_with("READONLY"),
            "{err}"
        );
        fps.push(footprint(t.process(r).unwrap()));
    }
    drop(t);
    assert_gone(&fps);
}

fn sentinel_footprints(t: &SentinelTopology) -> Vec<(u32, PathBuf)> {
    t.data_addrs()
        .iter()
        .chain(t.sentinel_addrs())
        .map(|&a| footprint(t.process(a).unwrap()))
        .collect()
}

#[test]
fn sentinel_topology_is_known_to_every_sentinel() {
    let t = SentinelTopology::builder().local().start().unwrap();
    assert_eq!(t.service(), "mymaster");
    assert_eq!(t.sentinel_addrs().len(), 3);
    assert_eq!(t.data_addrs().len(), 3);
    let master = t.master_addr().unwrap();
    assert_eq!(master, t.initial_master());
    let replicas: BTreeSet<SocketAddr> = t.replica_addrs().unwrap().into_iter().collect();
    let expected: BTreeSet<SocketAddr> = t.data_addrs()[1..].iter().copied().collect();
    assert_eq!(replicas, expected);
    for &s in t.sentinel_addrs() {
        let mut c = t.sentinel_conn(s).unwrap();
        let reply = c
            .cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])
            .unwrap();
        let parts = reply.as_array().unwrap();
        assert_eq!(parts[1].as_str(), Some(master.port().to_string().as_str()));
        let others = c.cmd(&["SENTINEL", "SENTINELS", "mymaster"]).unwrap();
        assert_eq!(others.as_array().unwrap().len(), 2);
        let reps = c.cmd(&["SENTINEL", "REPLICAS", "mymaster"]).unwrap();
        assert_eq!(reps.as_array().unwrap().len(), 2);
    }
    let mut m = t.conn(master).unwrap();
    m.cmd(&["SET", "k", "v"]).unwrap();
    let fps = sentinel_footprints(&t);
    assert_eq!(fps.len(), 6);
    drop(t);
    assert_gone(&fps);
}

#[test]
fn sentinel_topology_with_passwords() {
    let t = SentinelTopology::builder()
        .local()
        .replicas(1)
        .requirepass("data-pass")
        .sentinel_password("sentinel-pass")
        .start()
        .unwrap();
    let s = t.sentinel_addrs()[0];
    let err = Conn::connect(s).unwrap().cmd(&["PING"]).unwrap_err();
    assert!(err.server_message().unwrap().starts_with("NOAUTH"), "{err}");
    let mut sc = t.sentinel_conn(s).unwrap();
    assert_eq!(sc.cmd(&["PING"]).unwrap().as_str(), Some("PONG"));
    let master = t.master_addr().unwrap();
    let err = Conn::connect(master).unwrap().cmd(&["PING"]).unwrap_err();
    assert!(err.server_message().unwrap().starts_with("NOAUTH"), "{err}");
    let mut m = t.conn(master).unwrap();
    assert_eq!(m.cmd(&["PING"]).unwrap().as_str(), Some("PONG"));
    assert_eq!(t.replica_addrs().unwrap().len(), 1);
}

#[test]
fn cluster_is_ready_and_every_node_agrees() {
    let started = Instant::now();
    let c = Cluster::builder().local().start().unwrap();
    eprintln!("3 x 1 cluster ready in {:?}", started.elapsed());
    let addrs = c.addrs();
    assert_eq!(addrs.len(), 6);
    let map = c.slot_map().unwrap();
    assert_eq!(map.len(), 3);
    assert_eq!(map.first().unwrap().start, 0);
    assert_eq!(map.last().unwrap().end, SLOTS - 1);
    for r in &map {
        assert_eq!(r.replicas.len(), 1, "{r:?}");
    }
    assert_eq!(c.masters().unwrap().len(), 3);
    assert_eq!(c.replicas().unwrap().len(), 3);
    let mut fps = Vec::new();
    for &a in &addrs {
        let mut conn = c.conn(a).unwrap();
        assert_eq!(
            info_field(&mut conn, "cluster", "cluster_enabled").as_deref(),
            Some("1")
        );
        let info = conn.cmd(&["CLUSTER", "INFO"]).unwrap();
        assert!(info.as_str().unwrap().contains("cluster_state:ok"));
        // Every node's CLUSTER SLOTS lists the same owners and replicas.
        let slots = conn.cmd(&["CLUSTER", "SLOTS"]).unwrap();
        assert_eq!(slots.as_array().unwrap().len(), 3);
        fps.push(footprint(&c.process(a).unwrap()));
    }
    // A key is served by its owner; any other master redirects.
    let slot = c.keyslot("user:{42}").unwrap();
    let owner = c.slot_owner(slot).unwrap();
    c.cmd(owner, &["SET", "user:{42}", "alice"]).unwrap();
    let other = *c.masters().unwrap().iter().find(|m| **m != owner).unwrap();
    let err = c.cmd(other, &["GET", "user:{42}"]).unwrap_err();
    assert_eq!(
        err.server_message(),
        Some(format!("MOVED {slot} {owner}").as_str())
    );
    drop(c);
    assert_gone(&fps);
}

#[test]
fn concurrent_topologies_never_share_a_port() {
    let threads: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                if i == 0 {
                    let c = Cluster::builder()
                        .local()
                        .masters(3)
                        .replicas(0)
                        .start()
                        .unwrap();
                    let addrs = c.addrs();
                    let pids: Vec<u32> = addrs
                        .iter()
                        .map(|&a| c.process(a).unwrap().pid().unwrap())
                        .collect();
                    (addrs, pids, Box::new(c) as Box<dyn Send>)
                } else {
                    let t = Standalone::builder().local().start().unwrap();
                    let pid = t.process().unwrap().pid().unwrap();
                    (vec![t.addr()], vec![pid], Box::new(t) as Box<dyn Send>)
                }
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut ports = BTreeSet::new();
    let mut pids = Vec::new();
    for (addrs, ps, _) in &results {
        for (a, pid) in addrs.iter().zip(ps) {
            assert!(ports.insert(a.port()), "port {} handed out twice", a.port());
            // Each address is answered by the very process started for it.
            let reply = wire::query(*a, None, &["INFO", "server"]).unwrap();
            let info = reply.as_str().unwrap();
            assert!(info.contains(&format!("process_id:{pid}\r\n")), "{a}");
            pids.push(*pid);
        }
    }
    assert_eq!(ports.len(), 3 + 5);
    drop(results);
    for pid in pids {
        assert!(!pid_alive(pid));
    }
}

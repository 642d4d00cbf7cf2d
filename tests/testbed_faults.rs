//! Self-tests of `slotline-testbed`'s faults: each one does what it says, external
//! deployments refuse them, and a killed test process leaves no Redis behind.

// Helpers outside #[test] fns panic on failure just like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slotline_testbed::wire::Conn;
use slotline_testbed::{
    pid_alive, Cluster, Error, Replication, Role, SentinelTopology, Standalone,
};
use support::wait_until_within;

const SETTLE: Duration = Duration::from_secs(30);

fn ping(addr: SocketAddr) -> slotline_testbed::Result<()> {
    let mut c = Conn::connect_timeout(addr, Duration::from_millis(300))?;
    c.cmd(&["PING"]).map(drop)
}

fn assert_external(r: slotline_testbed::Result<impl std::fmt::Debug>) {
    match r {
        Err(e @ Error::External(_)) => {
            assert!(e
                .to_string()
                .contains("not supported on an external deployment"))
        }
        other => panic!("expected an External error, got {other:?}"),
    }
}

/// The port of `slot`'s master in `addr`'s own `CLUSTER SLOTS`.
fn owner_according_to(c: &Cluster, addr: SocketAddr, slot: u16) -> u16 {
    let reply = c.cmd(addr, &["CLUSTER", "SLOTS"]).unwrap();
    let slot = i64::from(slot);
    let range = reply
        .iter()
        .map(|r| r.as_array().unwrap())
        .find(|r| r[0].as_int().unwrap() <= slot && slot <= r[1].as_int().unwrap())
        .unwrap();
    u16::try_from(range[2].as_array().unwrap()[1].as_int().unwrap()).unwrap()
}

#[test]
fn standalone_kill_restart_stop_cont() {
    let t = Standalone::builder().local().start().unwrap();
    let addr = t.addr();
    let p = t.process().unwrap();
    let pid = p.pid().unwrap();

    t.kill().unwrap();
    assert!(!pid_alive(pid));
    assert!(!p.is_running());
    let err = ping(addr).unwrap_err();
    assert!(
        err.is_io_kind(std::io::ErrorKind::ConnectionRefused),
        "{err}"
    );

    t.restart().unwrap();
    assert_eq!(t.addr(), addr);
    let new_pid = p.pid().unwrap();
    assert_ne!(new_pid, pid);
    ping(addr).unwrap();

    // A stopped node accepts connections (the kernel does) but never answers.
    t.stop().unwrap();
    assert!(p.is_stopped());
    let started = Instant::now();
    let err = ping(addr).unwrap_err();
    assert!(
        err.is_io_kind(std::io::ErrorKind::WouldBlock)
            || err.is_io_kind(std::io::ErrorKind::TimedOut),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    t.cont().unwrap();
    ping(addr).unwrap();

    // The same node seen as an external deployment refuses every fault.
    let ext = Standalone::external(addr, None).unwrap();
    assert!(ext.is_external());
    assert_external(ext.kill());
    assert_external(ext.stop());
    assert_external(ext.cont());
    assert_external(ext.restart());
    assert_external(ext.process());
    ping(addr).unwrap();

    // Dropped while stopped: still torn down.
    t.stop().unwrap();
    drop(t);
    assert!(!pid_alive(new_pid));
}

#[test]
fn replication_replica_restart_resyncs() {
    let t = Replication::builder().local().replicas(1).start().unwrap();
    let replica = t.replica_addrs()[0];
    t.kill(replica).unwrap();
    t.conn(t.master_addr())
        .unwrap()
        .cmd(&["SET", "written-while-down", "1"])
        .unwrap();
    t.restart(replica).unwrap();
    t.wait_synced(SETTLE).unwrap();
    let mut c = t.conn(replica).unwrap();
    let v = c.cmd(&["GET", "written-while-down"]).unwrap();
    assert_eq!(v.as_str(), Some("1"));
    let ext = Replication::external(t.master_addr(), vec![replica], None).unwrap();
    assert_external(ext.kill(replica));
}

#[test]
fn sentinel_promotes_a_replica_after_the_master_is_killed() {
    let t = SentinelTopology::builder().local().start().unwrap();
    let old = t.kill_master().unwrap();
    let started = Instant::now();
    let new = t.wait_for_new_master(old, SETTLE).unwrap();
    eprintln!(
        "sentinels promoted {new} {:?} after the kill",
        started.elapsed()
    );
    assert_ne!(new, old);
    assert!(t.data_addrs()[1..].contains(&new));
    assert_eq!(t.role(new).unwrap(), Role::Master);
    for &s in t.sentinel_addrs() {
        let reply = t
            .sentinel_conn(s)
            .unwrap()
            .cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])
            .unwrap();
        let port = reply.as_array().unwrap()[1].as_str().unwrap().to_string();
        assert_eq!(port, new.port().to_string(), "sentinel {s}");
    }
    t.conn(new)
        .unwrap()
        .cmd(&["SET", "after", "failover"])
        .unwrap();

    // The old master comes back and the sentinels turn it into a replica of the new one.
    t.restart(old).unwrap();
    t.wait_ready(SETTLE).unwrap();
    assert_eq!(t.role(old).unwrap(), Role::Replica);
    let replicas: BTreeSet<SocketAddr> = t.replica_addrs().unwrap().into_iter().collect();
    assert!(replicas.contains(&old));
}

#[test]
fn sentinel_forced_failover_moves_the_master() {
    let t = SentinelTopology::builder().local().start().unwrap();
    let old = t.master_addr().unwrap();
    let new = t.failover().unwrap();
    assert_ne!(new, old);
    assert_eq!(t.master_addr().unwrap(), new);
    assert_eq!(t.role(new).unwrap(), Role::Master);

    // The same sentinels as an external deployment: queries work, faults are refused.
    let ext =
        SentinelTopology::external(t.sentinel_addrs().to_vec(), "mymaster".into(), None, None)
            .unwrap();
    assert!(ext.is_external());
    assert_eq!(ext.master_addr().unwrap(), new);
    assert_external(ext.failover());
    assert_external(ext.kill_master());
    assert_external(ext.stop(new));
}

#[test]
fn cluster_manual_failover_swaps_roles() {
    let c = Cluster::builder().local().start().unwrap();
    let map = c.slot_map().unwrap();
    let range = &map[0];
    let (master, replica) = (range.master, *range.replicas.iter().next().unwrap());
    let new = c.failover_master(master).unwrap();
    assert_eq!(new, replica);
    let map = c.slot_map().unwrap();
    let r = map.iter().find(|r| r.start == range.start).unwrap();
    assert_eq!(r.master, replica);
    assert!(r.replicas.contains(&master), "{r:?}");
    for addr in c.addrs() {
        assert_eq!(owner_according_to(&c, addr, range.start), replica.port());
    }

    // Back again, forced, while the current master hangs (SIGSTOP); once resumed it rejoins
    // as the replica.
    c.stop(replica).unwrap();
    c.failover_force(master).unwrap();
    assert_eq!(c.slot_owner(range.start).unwrap(), master);
    c.cont(replica).unwrap();
    c.wait_stable(SETTLE).unwrap();
    assert_eq!(c.replicas_of(master).unwrap(), vec![replica]);
}

#[test]
fn cluster_replica_takes_over_a_killed_master_which_rejoins_as_replica() {
    let c = Cluster::builder().local().start().unwrap();
    let map = c.slot_map().unwrap();
    let (master, replica) = (map[1].master, *map[1].replicas.iter().next().unwrap());
    c.kill(master).unwrap();
    let started = Instant::now();
    let new = c.wait_for_failover(master, SETTLE).unwrap();
    eprintln!(
        "cluster failed over to {new} {:?} after the kill",
        started.elapsed()
    );
    assert_eq!(new, replica);
    c.cmd(new, &["SET", "{x}k", "v"])
        .map(drop)
        .or_else(|e| {
            // The key may hash elsewhere; any redirect proves the node answers as a master.
            if e.server_message().is_some_and(|m| m.starts_with("MOVED")) {
                Ok(())
            } else {
                Err(e)
            }
        })
        .unwrap();

    c.restart(master).unwrap();
    c.wait_stable(SETTLE).unwrap();
    assert_eq!(c.replicas_of(new).unwrap(), vec![master]);
}

#[test]
fn cluster_slot_migration_answers_ask_then_moved() {
    let c = Cluster::builder()
        .local()
        .replicas(0)
        .requirepass("cluster-pass")
        .start()
        .unwrap();
    let keys: Vec<String> = (0..10).map(|i| format!("{{mig}}:{i}")).collect();
    let slot = c.keyslot(&keys[0]).unwrap();
    let source = c.slot_owner(slot).unwrap();
    for k in &keys {
        c.cmd(source, &["SET", k.as_str(), "v"]).unwrap();
    }
    let target = *c.masters().unwrap().iter().find(|m| **m != source).unwrap();

    let m = c.begin_migration(slot, target).unwrap();
    assert_eq!((m.slot, m.source, m.target), (slot, source, target));
    assert_eq!(c.migrate_keys(&m, 4).unwrap(), 4);
    let left: BTreeSet<String> = {
        let reply = c
            .cmd(
                source,
                &["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "100"],
            )
            .unwrap();
        reply
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(left.len(), 6);
    let moved_key = keys.iter().find(|k| !left.contains(*k)).unwrap();
    let kept_key = keys.iter().find(|k| left.contains(*k)).unwrap();

    // Mid-way: the old owner still serves what it has and sends the rest with ASK.
    let err = c.cmd(source, &["GET", moved_key.as_str()]).unwrap_err();
    assert_eq!(
        err.server_message(),
        Some(format!("ASK {slot} {target}").as_str())
    );
    assert_eq!(
        c.cmd(source, &["GET", kept_key.as_str()]).unwrap().as_str(),
        Some("v")
    );
    // The importing node only serves the slot after ASKING.
    let err = c.cmd(target, &["GET", moved_key.as_str()]).unwrap_err();
    assert!(err.server_message().unwrap().starts_with("MOVED"), "{err}");
    let mut t = c.conn(target).unwrap();
    t.cmd(&["ASKING"]).unwrap();
    assert_eq!(
        t.cmd(&["GET", moved_key.as_str()]).unwrap().as_str(),
        Some("v")
    );

    assert_eq!(c.finish_migration(m).unwrap(), 6);
    assert_eq!(c.slot_owner(slot).unwrap(), target);
    let err = c.cmd(source, &["GET", kept_key.as_str()]).unwrap_err();
    assert_eq!(
        err.server_message(),
        Some(format!("MOVED {slot} {target}").as_str())
    );
    for k in &keys {
        assert_eq!(
            c.cmd(target, &["GET", k.as_str()]).unwrap().as_str(),
            Some("v")
        );
    }
    // Every node agrees on the new owner.
    for addr in c.addrs() {
        assert_eq!(owner_according_to(&c, addr, slot), target.port(), "{addr}");
    }

    // The same cluster as an external deployment: queries work, faults are refused.
    let ext = Cluster::external(
        c.addrs(),
        Some(slotline_testbed::Auth::password("cluster-pass")),
    )
    .unwrap();
    assert_eq!(ext.slot_owner(slot).unwrap(), target);
    assert_external(ext.move_slot(slot, source));
    assert_external(ext.kill(source));
    assert_external(ext.add_master());
    assert_external(ext.failover(source));
}

#[test]
fn cluster_add_master_then_give_it_a_slot() {
    let c = Cluster::builder().local().replicas(0).start().unwrap();
    let added = c.add_master().unwrap();
    assert_eq!(c.addrs().len(), 4);
    assert!(c.masters().unwrap().contains(&added));
    let id = c.node_id(added).unwrap();
    for addr in c.addrs() {
        let nodes = c.cmd(addr, &["CLUSTER", "NODES"]).unwrap();
        assert!(
            nodes.as_str().unwrap().contains(&id),
            "{addr} does not know {added}"
        );
    }
    let slot = c.keyslot("new-home").unwrap();
    c.cmd(c.slot_owner(slot).unwrap(), &["SET", "new-home", "yes"])
        .unwrap();
    assert_eq!(c.move_slot(slot, added).unwrap(), 1);
    assert_eq!(
        c.cmd(added, &["GET", "new-home"]).unwrap().as_str(),
        Some("yes")
    );
    let pid = c.process(added).unwrap().pid().unwrap();
    drop(c);
    assert!(!pid_alive(pid));
}

/// Run by `a_killed_test_process_leaves_no_redis_behind` in a child process: starts a
/// replication topology, prints its pids, and waits to be killed.
#[test]
#[ignore = "helper, run by a_killed_test_process_leaves_no_redis_behind"]
fn helper_start_and_wait_to_be_killed() {
    if std::env::var_os("SLOTLINE_TESTBED_HELPER").is_none() {
        return;
    }
    let t = Replication::builder().local().start().unwrap();
    let pids: Vec<String> = std::iter::once(t.master_addr())
        .chain(t.replica_addrs().iter().copied())
        .map(|a| t.process(a).unwrap().pid().unwrap().to_string())
        .collect();
    println!("PIDS {}", pids.join(" "));
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_killed_test_process_leaves_no_redis_behind() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_start_and_wait_to_be_killed",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SLOTLINE_TESTBED_HELPER", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut pids: Vec<u32> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        // libtest prints "test <name> ... " before the helper's own output on the same line.
        if let Some(i) = line.find("PIDS ") {
            pids = line[i + 5..]
                .split_whitespace()
                .map(|p| p.parse().unwrap())
                .collect();
            break;
        }
    }
    if pids.len() != 3 {
        let _ = child.kill();
        panic!("the helper did not report its pids");
    }
    assert!(pids.iter().all(|&p| pid_alive(p)));
    child.kill().unwrap(); // SIGKILL: no destructor runs in the child
    child.wait().unwrap();
    wait_until_within(
        Duration::from_secs(5),
        "the redis processes of a killed test process to die with it",
        || pids.iter().all(|&p| !pid_alive(p)),
    );
}

//! Tests of the module that includes this file.

use super::*;

#[test]
fn a_map_patched_by_moved() {
    let node = |port| NodeInfo {
        addr: Addr::tcp("127.0.0.1", port),
        id: None,
        role: Role::Master,
        hostname: None,
    };
    let topo = Topology {
        shards: vec![
            ShardInfo {
                slots: vec![(0, 8191)],
                master: Some(node(7000)),
                replicas: vec![],
            },
            ShardInfo {
                slots: vec![(8192, 16383)],
                master: Some(node(7001)),
                replicas: vec![],
            },
        ],
    };
    let mut map = SlotMap::new(&topo);
    assert_eq!(map.master(12739), Some(&Addr::tcp("127.0.0.1", 7001)));
    map.set_master(12739, Addr::tcp("127.0.0.1", 7000)); // after MOVED 12739 127.0.0.1:7000
    assert_eq!(map.master(12739), Some(&Addr::tcp("127.0.0.1", 7000)));
}

#[test]
fn slots_left_by_each_node() {
    let node = |port| NodeInfo {
        addr: Addr::tcp("127.0.0.1", port),
        id: None,
        role: Role::Master,
        hostname: None,
    };
    let shard = |slots, master, replicas: Vec<NodeInfo>| ShardInfo {
        slots,
        master: Some(node(master)),
        replicas,
    };
    let before = SlotMap::new(&Topology {
        shards: vec![
            shard(vec![(0, 8191)], 7000, vec![node(7010)]),
            shard(vec![(8192, 16383)], 7001, vec![]),
        ],
    });
    // Slot 100 moved to 7001; 7010 was promoted in 7000's place (7000 is gone).
    let after = SlotMap::new(&Topology {
        shards: vec![
            shard(vec![(0, 99), (101, 8191)], 7010, vec![]),
            shard(vec![(100, 100), (8192, 16383)], 7001, vec![]),
        ],
    });
    let left = before.slots_left(&after);
    assert_eq!(
        left.get(&Addr::tcp("127.0.0.1", 7000)).map(Vec::len),
        Some(8192)
    );
    assert_eq!(left.get(&Addr::tcp("127.0.0.1", 7010)), Some(&vec![100]));
    assert_eq!(left.get(&Addr::tcp("127.0.0.1", 7001)), None);
    assert!(after.slots_left(&after).is_empty());
    assert_eq!(before.promoted(&after), 1, "7010 took 7000's place");
    assert_eq!(after.promoted(&before), 0);
}

fn bulk(s: &str) -> Frame {
    Frame::bulk(s.to_string())
}

fn shards_node_frame(id: &str, port: i64, endpoint: Frame, role: &str, health: &str) -> Frame {
    Frame::Array(vec![
        bulk("id"),
        bulk(id),
        bulk("port"),
        Frame::Integer(port),
        bulk("ip"),
        bulk("10.0.0.9"),
        bulk("endpoint"),
        endpoint,
        bulk("role"),
        bulk(role),
        bulk("replication-offset"),
        Frame::Integer(1),
        bulk("health"),
        bulk(health),
    ])
}

#[test]
fn cluster_shards_endpoint_rules() {
    let answered = Addr::tcp("seed.local", 7000);
    let reply = Frame::Array(vec![
        Frame::Array(vec![
            bulk("slots"),
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::Integer(99),
                Frame::Integer(200),
                Frame::Integer(300),
            ]),
            bulk("nodes"),
            Frame::Array(vec![
                shards_node_frame("a", 7000, bulk(""), "master", "online"),
                shards_node_frame("b", 7003, Frame::Null, "replica", "online"),
                shards_node_frame("c", 7004, bulk("?"), "replica", "online"),
                shards_node_frame("d", 7005, bulk("h5"), "replica", "loading"),
            ]),
        ]),
        Frame::Array(vec![
            bulk("slots"),
            Frame::Array(vec![Frame::Integer(100), Frame::Integer(199)]),
            bulk("nodes"),
            Frame::Array(vec![
                shards_node_frame("e", 7001, bulk("h1"), "master", "failed"),
                shards_node_frame("f", 7006, bulk("h6"), "replica", "online"),
            ]),
        ]),
    ]);
    let topo = Topology::from_cluster_shards(&reply, &answered, false).unwrap();
    assert_eq!(topo.shards.len(), 2);
    let first = &topo.shards[0];
    assert_eq!(first.slots, vec![(0, 99), (200, 300)]);
    assert_eq!(
        first.master.as_ref().unwrap().addr,
        Addr::tcp("seed.local", 7000)
    );
    assert_eq!(first.replicas.len(), 1);
    assert_eq!(first.replicas[0].addr, Addr::tcp("seed.local", 7003));
    assert!(topo.shards[1].master.is_none());
    assert_eq!(topo.covered_slots(), 100 + 101);

    let map = SlotMap::new(&topo);
    assert_eq!(map.master(0), Some(&Addr::tcp("seed.local", 7000)));
    assert_eq!(map.master(150), None);
    assert!(map.shard_of(150).is_none());
    assert_eq!(map.covered_slots(), 201);
    assert_eq!(map.ranges(), vec![(0, 99, 0), (200, 300, 0)]);
}

#[test]
fn cluster_slots_groups_ranges_by_master() {
    let answered = Addr::tcp("127.0.0.1", 7000);
    let node = |host: Frame, port: i64, id: &str| {
        Frame::Array(vec![
            host,
            Frame::Integer(port),
            bulk(id),
            Frame::Array(vec![]),
        ])
    };
    let reply = Frame::Array(vec![
        Frame::Array(vec![
            Frame::Integer(0),
            Frame::Integer(5),
            node(bulk("127.0.0.1"), 7000, "a"),
            node(Frame::Null, 7003, "b"),
        ]),
        Frame::Array(vec![
            Frame::Integer(6),
            Frame::Integer(16383),
            node(bulk("127.0.0.2"), 7001, "c"),
            node(bulk("?"), 7004, "d"),
        ]),
        Frame::Array(vec![
            Frame::Integer(10),
            Frame::Integer(11),
            node(bulk("127.0.0.1"), 7000, "a"),
        ]),
    ]);
    let topo = Topology::from_cluster_slots(&reply, &answered).unwrap();
    assert_eq!(topo.shards.len(), 2);
    assert_eq!(topo.shards[0].slots, vec![(0, 5), (10, 11)]);
    assert_eq!(
        topo.shards[0].replicas[0].addr,
        Addr::tcp("127.0.0.1", 7003)
    );
    assert!(topo.shards[1].replicas.is_empty());
    let mut map = SlotMap::new(&topo);
    assert_eq!(map.master(3), Some(&Addr::tcp("127.0.0.1", 7000)));
    assert_eq!(map.master(16383), Some(&Addr::tcp("127.0.0.2", 7001)));
    assert_eq!(map.serving_masters().len(), 2);
    let (i, changed) = map.set_master(3, Addr::tcp("127.0.0.1", 7003));
    assert!(changed);
    assert_eq!(i, 2);
    assert!(
        map.shards()[0].replicas.is_empty(),
        "a promoted replica is a master now"
    );
    assert_eq!(map.set_master(3, Addr::tcp("127.0.0.1", 7003)), (2, false));
}

#[test]
fn announced_host_names_are_read_from_both_replies() {
    let answered = Addr::tcp("127.0.0.1", 7000);
    let named = |name: &str| {
        let Frame::Array(mut fields) =
            shards_node_frame("a", 7000, bulk("10.0.0.9"), "master", "online")
        else {
            unreachable!("an array")
        };
        fields.extend([bulk("hostname"), bulk(name)]);
        Frame::Array(fields)
    };
    let shards = |node: Frame| {
        Frame::Array(vec![Frame::Array(vec![
            bulk("slots"),
            Frame::Array(vec![Frame::Integer(0), Frame::Integer(16383)]),
            bulk("nodes"),
            Frame::Array(vec![node]),
        ])])
    };
    let master = |topo: Topology| topo.shards[0].master.clone().unwrap();
    let node = master(
        Topology::from_cluster_shards(&shards(named("n1.redis.test")), &answered, false).unwrap(),
    );
    assert_eq!(
        node.addr,
        Addr::tcp("10.0.0.9", 7000),
        "still reached at the endpoint"
    );
    assert_eq!(node.hostname.as_deref(), Some("n1.redis.test"));
    let node = master(Topology::from_cluster_shards(&shards(named("")), &answered, false).unwrap());
    assert_eq!(node.hostname, None, "an empty hostname is none");

    let slots = Frame::Array(vec![Frame::Array(vec![
        Frame::Integer(0),
        Frame::Integer(16383),
        Frame::Array(vec![
            bulk("10.0.0.9"),
            Frame::Integer(7000),
            bulk("a"),
            Frame::Array(vec![bulk("hostname"), bulk("n1.redis.test")]),
        ]),
    ])]);
    let node = master(Topology::from_cluster_slots(&slots, &answered).unwrap());
    assert_eq!(node.hostname.as_deref(), Some("n1.redis.test"));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let a = Addr::tcp("h", 1);
    assert!(Topology::from_cluster_shards(&Frame::Integer(1), &a, false).is_err());
    assert!(Topology::from_cluster_slots(&Frame::Array(vec![Frame::Integer(1)]), &a).is_err());
    let weird = Frame::Array(vec![Frame::Array(vec![
        Frame::Integer(0),
        Frame::Integer(20000),
    ])]);
    assert!(Topology::from_cluster_slots(&weird, &a).is_err());
}

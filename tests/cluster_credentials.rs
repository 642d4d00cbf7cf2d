//! Per-node credentials against a real cluster: one master gets a password of its own while
//! the others keep the cluster-wide one. A client with a per-node override reaches every
//! node; a client without it still serves the other nodes' slots, and a command for that
//! node's slots fails promptly with the server's authentication error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use slotline_cluster::{slot, ClusterClient, ClusterConfig, Credentials};
use slotline_conn::{Commands, ErrorKind};
use slotline_testbed::Cluster;
use support::addr;

/// A key whose slot `owner` serves (`want`) or does not serve (`!want`).
fn key_where(c: &Cluster, owner: SocketAddr, want: bool) -> String {
    (0..)
        .map(|n| format!("cred:{n}"))
        .find(|k| (c.slot_owner(slot(k.as_bytes())).unwrap() == owner) == want)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_with_a_password_of_its_own() {
    let c = Cluster::builder()
        .local()
        .replicas(0)
        .requirepass("cluster-pw")
        .start()
        .unwrap();
    let odd = c.masters().unwrap()[0];
    let (on_odd, elsewhere) = (key_where(&c, odd, true), key_where(&c, odd, false));
    c.cmd(odd, &["CONFIG", "SET", "requirepass", "node-pw"])
        .unwrap();
    let odd_addr = addr(odd);

    // With the override: every node, the odd one with its own password.
    let config = ClusterConfig::default()
        .with_password("cluster-pw")
        .with_node_credentials(odd_addr.clone(), Credentials::password("node-pw"));
    let client = ClusterClient::connect(c.seed_addrs(), config)
        .await
        .unwrap();
    for key in [&on_odd, &elsewhere] {
        client.set(key.as_str(), "v").await.unwrap();
        let v: String = client.get(key.as_str()).await.unwrap();
        assert_eq!(v, "v", "{key}");
    }

    // Without it: the other nodes still serve; the odd node's slots fail promptly with the
    // authentication error, not a hang and not a wrong value.
    // The odd node first among the seeds: its refusal must not stop the client from asking
    // the others for the slot map.
    let config = ClusterConfig::default().with_password("cluster-pw");
    let mut seeds = c.seed_addrs();
    seeds.sort_by_key(|a| *a != odd);
    let plain = ClusterClient::connect(seeds, config).await.unwrap();
    let v: String = plain.get(elsewhere.as_str()).await.unwrap();
    assert_eq!(v, "v");
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        plain.get::<String>(on_odd.as_str()),
    )
    .await
    .expect("a command for the odd node's slots hangs")
    .unwrap_err();
    assert!(err.kind() == ErrorKind::Server, "{err:?}");
    assert!(err.to_string().contains("WRONGPASS"), "{err}");
    // The other nodes are not held up by the failing one.
    let v: String = plain.get(elsewhere.as_str()).await.unwrap();
    assert_eq!(v, "v");
}

//! Redis Cluster: keys spread over every master by `CRC16(key) % 16384`, a cross-slot MGET
//! split and merged, and a slot moved behind the client's back: the `MOVED` it gets is
//! handled out of sight. Then the blocking twin.
//!
//! `cargo run --example cluster -- redis+cluster://127.0.0.1:7000,127.0.0.1:7001`

use std::collections::BTreeMap;

use slotline::cluster::{slot, ClusterClient};
use slotline::conn::{cmd, Addr, Query};
use slotline::{Client, Commands, Frame};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis+cluster://127.0.0.1:7000".into());
    println!("== cluster ({url})");
    let client = Client::open(&url).await?;
    let Client::Cluster(cluster) = &client else {
        return Err("expected a redis+cluster:// URL".into());
    };

    // 300 keys land on every master.
    let mut per_master: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..300 {
        let key = format!("demo:cluster:{i}");
        client.set(&key, i).await?;
        let owner = cluster.master_for_slot(slot(key.as_bytes()));
        *per_master
            .entry(owner.map(|a| a.to_string()).unwrap_or_default())
            .or_default() += 1;
    }
    for (master, n) in &per_master {
        println!("  {n:>3} keys on {master}");
    }
    let keys: Vec<String> = (0..5).map(|i| format!("demo:cluster:{i}")).collect();
    let values: Vec<Option<i64>> = client.mget(&keys).await?;
    println!(
        "MGET over {} slots -> {values:?}",
        keys.iter()
            .map(|k| slot(k.as_bytes()))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );

    // Move the slot of one key to another master, behind the client's back.
    let key = "demo:cluster:moved";
    client.set(key, "before the move").await?;
    let s = slot(key.as_bytes());
    let from = cluster.master_for_slot(s).ok_or("slot unserved")?;
    let to = cluster
        .masters()
        .into_iter()
        .find(|m| *m != from)
        .ok_or("one master only")?;
    move_slot(cluster, s, &from, &to).await?;
    let before = cluster.stats().moved;
    let v: Option<String> = client.get(key).await?;
    println!(
        "slot {s} moved {from} -> {to}; GET {key} -> {v:?} ({} MOVED handled out of sight)",
        cluster.stats().moved - before
    );

    let blocking_url = url.clone();
    let n = tokio::task::spawn_blocking(move || -> slotline::Result<i64> {
        use slotline::conn::blocking::Commands as _;
        let c = slotline::blocking::Client::open(&blocking_url)?;
        c.del(["demo:cluster:0", "demo:cluster:1", "demo:cluster:2"])
    })
    .await??;
    println!("blocking DEL over 3 slots -> {n}");
    Ok(())
}

/// Moves `slot` (and its keys) from one master to another, as `redis-cli --cluster reshard`
/// does: IMPORTING/MIGRATING, MIGRATE of every key, then SETSLOT NODE on every master.
async fn move_slot(
    cluster: &ClusterClient,
    slot: u16,
    from: &Addr,
    to: &Addr,
) -> Result<(), Box<dyn std::error::Error>> {
    let source = cluster.node(from.clone()).await?;
    let target = cluster.node(to.clone()).await?;
    let source_id: String = source.query(&cmd("CLUSTER").arg("MYID")).await?;
    let target_id: String = target.query(&cmd("CLUSTER").arg("MYID")).await?;
    let _: () = target
        .query(
            &cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("IMPORTING")
                .arg(&source_id),
        )
        .await?;
    let _: () = source
        .query(
            &cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("MIGRATING")
                .arg(&target_id),
        )
        .await?;
    let keys: Vec<Frame> = source
        .query(&cmd("CLUSTER").arg("GETKEYSINSLOT").arg(slot).arg(1000))
        .await?;
    let Addr::Tcp { host, port } = to else {
        return Err("TCP nodes only".into());
    };
    for k in keys {
        if let Some(k) = k.as_bytes() {
            let _: () = source
                .query(&cmd("MIGRATE").arg(host).arg(*port).arg(k).arg(0).arg(5000))
                .await?;
        }
    }
    for master in cluster.masters() {
        let node = cluster.node(master).await?;
        let _: () = node
            .query(
                &cmd("CLUSTER")
                    .arg("SETSLOT")
                    .arg(slot)
                    .arg("NODE")
                    .arg(&target_id),
            )
            .await?;
    }
    Ok(())
}

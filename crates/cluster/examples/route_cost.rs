//! Measures the cost of routing one command by its slot (no I/O):
//! `cargo run --release -p slotline-cluster --example route_cost`.

use std::time::Instant;

use slotline_conn::cmd;
use slotline_conn::shard::{route_by_key, ShardRoute};

fn main() {
    let cmds: Vec<_> = (0..1000)
        .map(|i| cmd("GET").arg(format!("key:{i:012}")))
        .collect();
    let n = 2_000_000;
    let start = Instant::now();
    let mut acc = 0u64;
    for i in 0..n {
        if let Ok(ShardRoute::One { shard, .. }) =
            route_by_key(&cmds[i % cmds.len()], slotline_cluster::slot, "slot")
        {
            acc += u64::from(shard);
        }
    }
    let per = start.elapsed() / n as u32;
    println!("route: {per:?} per command (checksum {acc})");
}

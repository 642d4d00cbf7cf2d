//! Measures the cost of routing one command (no I/O): `cargo run --release --example route_cost`.

use std::time::Instant;

use slotline_conn::cmd;

fn main() {
    let cmds: Vec<_> = (0..1000)
        .map(|i| cmd("GET").arg(format!("key:{i:012}")))
        .collect();
    let n = 2_000_000;
    let start = Instant::now();
    let mut acc = 0u64;
    for i in 0..n {
        if let Ok(slotline_cluster::Route::Slot { slot, .. }) =
            slotline_cluster::route(&cmds[i % cmds.len()])
        {
            acc += u64::from(slot);
        }
    }
    let per = start.elapsed() / n as u32;
    println!("route(): {per:?} per command (checksum {acc})");
}

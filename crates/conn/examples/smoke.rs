//! Scratch throughput check (removed before commit).
#![allow(missing_docs, clippy::unwrap_used)]
use slotline_conn::{Client, Commands};
use std::time::Instant;
#[tokio::main(worker_threads = 2)]
async fn main() {
    let c = Client::connect("redis://127.0.0.1:16379/1").await.unwrap();
    c.set("key:__rand_int__", "xxx").await.unwrap();
    let tasks = 50;
    let per = 20_000;
    let t0 = Instant::now();
    let cpu0 = cpu();
    let mut hs = Vec::new();
    for _ in 0..tasks {
        let c = c.clone();
        hs.push(tokio::spawn(async move {
            for _ in 0..per {
                let _: Option<bytes::Bytes> = c.get("key:__rand_int__").await.unwrap();
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    let el = t0.elapsed();
    let cpu = cpu() - cpu0;
    let ops = (tasks * per) as f64;
    println!(
        "{:.0} ops/s, cpu {:.2} us/op",
        ops / el.as_secs_f64(),
        cpu * 1e6 / ops
    );
}
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

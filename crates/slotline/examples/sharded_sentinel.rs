//! Sharding with Sentinel: three sentinel services, the keys spread over them by the client
//! on twemproxy's ketama ring. Keys land on the shard the ring names; a cross-shard MGET is
//! split and merged; a scan visits every shard; then one shard fails over (SENTINEL
//! FAILOVER) while writes go on, and only that shard moves.
//!
//! `cargo run --example sharded_sentinel -- redis+sentinel://127.0.0.1:26379/svc1,svc2,svc3`

use std::time::{Duration, Instant};

use slotline::conn::{cmd, Client as NodeClient, Query, ScanOptions};
use slotline::{Client, Commands, Target};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis+sentinel://127.0.0.1:26379/svc1,svc2,svc3".into());
    println!("== sharded sentinel ({url})");
    let Target::ShardedSentinel { sentinels, .. } = Target::parse(&url)? else {
        return Err("expected a redis+sentinel:// URL with several services".into());
    };
    let client = Client::open(&url).await?;
    let Client::ShardedSentinel(sharded) = &client else {
        return Err("expected a sharded client".into());
    };
    let ring = sharded.ring();
    for ((service, share), master) in sharded
        .services()
        .iter()
        .zip(ring.shares())
        .zip(sharded.masters())
    {
        println!(
            "shard {service}: master {}, {:.1} % of the ring",
            master.addr(),
            share * 100.0
        );
    }

    // 3,000 keys, pipelined: each lands on the shard the ring names.
    let mut writes = slotline::pipe();
    for i in 0..3000 {
        writes.set(format!("demo:sharded:{i}"), i).ignore();
    }
    let () = client.pipeline(&writes).await?;
    let mut counts = vec![0usize; ring.len()];
    for i in 0..3000 {
        counts[ring.shard_of(format!("demo:sharded:{i}").as_bytes())] += 1;
    }
    println!("3000 keys written; per shard, as the ring places them: {counts:?}");

    let keys: Vec<String> = (0..6).map(|i| format!("demo:sharded:{i}")).collect();
    let shards: Vec<&str> = keys
        .iter()
        .map(|k| ring.name(ring.shard_of(k.as_bytes())))
        .collect();
    let values: Vec<Option<i64>> = client.mget(&keys).await?;
    println!("MGET over shards {shards:?} -> {values:?} (split per shard, merged in order)");
    let total: i64 = client.dbsize().await?;
    let scanned: Vec<String> = client
        .scan(ScanOptions::keys().pattern("demo:sharded:*").count(500))
        .collect_all()
        .await?;
    println!(
        "DBSIZE over every shard -> {total}; SCAN over every shard found {} keys",
        scanned.len()
    );

    // One shard fails over while writes to every shard go on.
    let victim = sharded.services()[1].clone();
    let before: Vec<String> = sharded
        .masters()
        .iter()
        .map(|m| m.addr().to_string())
        .collect();
    let sentinel = NodeClient::connect(format!("redis://{}", sentinels[0])).await?;
    let answer: String = sentinel
        .query(&cmd("SENTINEL").arg("FAILOVER").arg(&victim))
        .await?;
    println!("SENTINEL FAILOVER {victim} -> {answer}");
    let started = Instant::now();
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut moved_at = None;
    while started.elapsed() < Duration::from_secs(20) {
        for i in 0..30 {
            match client.incr(format!("demo:sharded:counter:{i}")).await {
                Ok(_) => ok += 1,
                Err(e) => {
                    failed += 1;
                    println!("  a write failed during the switch: {e}");
                }
            }
        }
        if moved_at.is_none() && sharded.masters()[1].addr().to_string() != before[1] {
            moved_at = Some(started.elapsed());
        }
        if moved_at.is_some_and(|at| started.elapsed() > at + Duration::from_millis(300)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let after: Vec<String> = sharded
        .masters()
        .iter()
        .map(|m| m.addr().to_string())
        .collect();
    println!("masters before: {before:?}");
    println!("masters after:  {after:?} (only {victim} moved, after {moved_at:?})");
    println!("{ok} writes over every shard meanwhile, {failed} failed");
    Ok(())
}

//! Master with replicas watched by Sentinel: a client that follows a failover by itself.
//! Writes run in a loop while the example asks the sentinels for a failover; the same client
//! keeps writing on the new master. Then the blocking twin and replica reads.
//!
//! `cargo run --example sentinel -- redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster`

use std::time::{Duration, Instant};

use slotline::conn::{cmd, Client as NodeClient, Query};
use slotline::{Client, Commands, Target};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis+sentinel://127.0.0.1:26379/mymaster".into());
    println!("== sentinel ({url})");
    let Target::Sentinel {
        sentinels, service, ..
    } = Target::parse(&url)?
    else {
        return Err("expected a redis+sentinel:// URL".into());
    };

    let client = Client::open(&url).await?;
    let Client::SentinelMaster(master) = &client else {
        return Err("expected a master client".into());
    };
    let first = master.addr();
    println!("master of {service}: {first}");
    client.set("demo:sentinel:writes", 0).await?;

    // Ask one sentinel for a failover, as an operator would, while we keep writing.
    let sentinel = NodeClient::connect(format!("redis://{}", sentinels[0])).await?;
    let (mut ok, mut failed) = (0u64, 0u64);
    let started = Instant::now();
    let mut asked = false;
    let mut switched_at = None;
    while started.elapsed() < Duration::from_secs(20) {
        if !asked && ok >= 50 {
            let answer: String = sentinel
                .query(&cmd("SENTINEL").arg("FAILOVER").arg(&service))
                .await?;
            println!("SENTINEL FAILOVER {service} -> {answer} (after {ok} writes)");
            asked = true;
        }
        match client.incr("demo:sentinel:writes").await {
            Ok(_) => ok += 1,
            Err(e) => {
                failed += 1;
                println!("  write failed during the switch: {e}");
            }
        }
        if switched_at.is_none() && master.addr() != first {
            switched_at = Some(started.elapsed());
            println!(
                "client now on the new master {} (at {:?})",
                master.addr(),
                started.elapsed()
            );
        }
        if switched_at.is_some_and(|at| started.elapsed() > at + Duration::from_millis(500)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total: i64 = client
        .query(&cmd("GET").arg("demo:sentinel:writes"))
        .await?;
    println!("{ok} writes acknowledged, {failed} failed (reported, never resent)");
    println!(
        "the counter on the new master reads {total}: increments the old master acknowledged after \
         the replica's promotion and before the switch are lost to Redis' asynchronous \
         replication (every write acknowledged after the switch is on the new master)"
    );

    // Replica reads, through role=replica.
    let replica_url = if url.contains('?') {
        format!("{url}&role=replica")
    } else {
        format!("{url}?role=replica")
    };
    let replicas = Client::open(&replica_url).await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let seen = loop {
        let v: Option<i64> = replicas.get("demo:sentinel:writes").await?;
        if v.is_some() || Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("read from a replica (role=replica) -> {seen:?}");

    // The blocking twin, same names.
    let blocking_url = url.clone();
    let v = tokio::task::spawn_blocking(move || -> slotline::Result<Option<i64>> {
        use slotline::conn::blocking::Commands as _;
        let c = slotline::blocking::Client::open(&blocking_url)?;
        c.incr("demo:sentinel:writes")?;
        c.get("demo:sentinel:writes")
    })
    .await??;
    println!("blocking INCR then GET -> {v:?}");
    Ok(())
}

//! Master with replicas watched by Sentinel: a client that follows a failover by itself.
//! Eight tasks write while the example asks the sentinels for a failover; the same client
//! holds the writes while the failover is under way and sends them to the new master, so
//! that no acknowledged write is lost. Then the blocking twin and replica reads.
//!
//! `cargo run --example sentinel -- redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
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

    // Eight tasks write while one sentinel is asked for a failover, as an operator would.
    let stop = Arc::new(AtomicBool::new(false));
    let (acked, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (client, stop) = (client.clone(), stop.clone());
            let (acked, failed) = (acked.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match client.incr("demo:sentinel:writes").await {
                        Ok(_) => acked.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            println!("  write failed during the switch: {e}");
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        })
        .collect();
    let sentinel = NodeClient::connect(format!("redis://{}", sentinels[0])).await?;
    while acked.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let answer: String = sentinel
        .query(&cmd("SENTINEL").arg("FAILOVER").arg(&service))
        .await?;
    println!(
        "SENTINEL FAILOVER {service} -> {answer} (after {} writes)",
        acked.load(Ordering::Relaxed)
    );
    while master.addr() == first && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!(
        "client now on the new master {} ({:?} after SENTINEL FAILOVER)",
        master.addr(),
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await?;
    }
    let total: i64 = client
        .query(&cmd("GET").arg("demo:sentinel:writes"))
        .await?;
    let (acked, failed) = (
        acked.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    println!("{acked} increments acknowledged, {failed} failed");
    println!(
        "the counter on the new master reads {total}: {} acknowledged writes lost (writes are \
         held from the failover's first step until the client is on the new master)",
        i64::try_from(acked).unwrap_or(i64::MAX) - total
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

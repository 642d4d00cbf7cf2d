//! Master with replicas: writes to the master, reads from replicas, and a write sent to a
//! replica by hand showing the `ReadOnly` error.
//!
//! `cargo run --example replication -- redis://127.0.0.1:6379 redis://127.0.0.1:6380 ...`

use std::time::{Duration, Instant};

use slotline::conn::{Commands, ReadFrom, Replicated, ServerErrorKind};

#[tokio::main]
async fn main() -> slotline::conn::Result<()> {
    let mut urls = std::env::args().skip(1);
    let master = urls
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let replicas: Vec<String> = urls.collect();
    println!("== replication (master {master}, replicas {replicas:?})");

    let r = if replicas.is_empty() {
        Replicated::discover(master.as_str(), ReadFrom::Replica).await?
    } else {
        Replicated::connect(
            master.as_str(),
            replicas.iter().map(String::as_str),
            ReadFrom::Replica,
        )
        .await?
    };
    println!("{} replicas", r.replicas().len());

    r.set("demo:replicated", "written on the master").await?;
    // Replication is asynchronous: wait until a replica has the write.
    let deadline = Instant::now() + Duration::from_secs(5);
    let seen = loop {
        let v: Option<String> = r.get("demo:replicated").await?;
        if v.is_some() || Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("GET from a replica -> {seen:?}");

    if let Some(replica) = r.replicas().first() {
        match replica.set("demo:replicated", "written on a replica").await {
            Err(e) if e.server_kind() == Some(&ServerErrorKind::ReadOnly) => {
                println!("SET sent to a replica by hand -> ReadOnly error: {e}")
            }
            other => println!("SET sent to a replica by hand -> unexpected {other:?}"),
        }
    }
    Ok(())
}

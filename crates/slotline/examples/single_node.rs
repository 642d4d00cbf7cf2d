//! Single node, async and blocking: commands, a pipeline, a transaction, a script, pub/sub.
//!
//! `cargo run --example single_node -- redis://127.0.0.1:6379`

use slotline::conn::{blocking, cmd, pipe, Client, Commands, Query, Script};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    println!("== single node ({url})");

    // One shared client, cloned into many tasks: their commands share one socket.
    let client = Client::connect(url.as_str()).await?;
    client.set("demo:greeting", "hello").await?;
    let greeting: Option<String> = client.get("demo:greeting").await?;
    println!("async GET demo:greeting -> {greeting:?}");

    let mut tasks = Vec::new();
    for _ in 0..100 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.incr("demo:hits").await }));
    }
    for t in tasks {
        t.await??;
    }
    let hits: i64 = client.query(&cmd("GET").arg("demo:hits")).await?;
    println!("100 tasks INCR demo:hits on one connection -> {hits}");

    let (a, b): (i64, i64) = client
        .pipeline(
            pipe()
                .cmd("DEL")
                .arg("demo:n")
                .ignore()
                .incr("demo:n")
                .incr("demo:n"),
        )
        .await?;
    println!("pipeline DEL, INCR, INCR -> ({a}, {b})");

    let tx: Option<(String, i64)> = client
        .transaction(
            pipe()
                .set("demo:tx", "1")
                .ignore()
                .get("demo:tx")
                .incr("demo:tx"),
        )
        .await?;
    println!("MULTI/EXEC -> {tx:?}");

    let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let n: i64 = client
        .invoke_script(&script.key("demo:script").arg(10))
        .await?;
    println!("EVALSHA (EVAL on NOSCRIPT) INCRBY 10 -> {n}");

    // The blocking twin has the same names; it must not run on an async worker thread.
    let blocking_url = url.clone();
    let value = tokio::task::spawn_blocking(move || -> slotline::conn::Result<Option<String>> {
        use blocking::Commands as _;
        let c = blocking::Client::connect(blocking_url.as_str())?;
        c.set("demo:blocking", "from a thread")?;
        c.get("demo:blocking")
    })
    .await??;
    println!("blocking SET/GET demo:blocking -> {value:?}");
    Ok(())
}

//! `slotline stats`: runs a load through the client for a while (or none), then prints
//! what the client counted, node by node (requests, errors, latency percentiles, bytes,
//! reconnects, resends), and what it decided above the nodes (redirects, slot maps,
//! failovers followed).
//!
//! ```text
//! slotline stats --url URL [--seconds 3] [-c 10] [-t get|set|incr|ping] [-r 1000] [--no-load]
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use slotline_conn::Query;

use super::CliError;

/// What `stats` runs.
struct StatsOptions {
    seconds: f64,
    tasks: usize,
    test: String,
    keyspace: u64,
    load: bool,
}

fn parse(args: &[String]) -> Result<StatsOptions, CliError> {
    let mut o = StatsOptions {
        seconds: 3.0,
        tasks: 10,
        test: "get".into(),
        keyspace: 1000,
        load: true,
    };
    use super::args::{flag, value};
    let m = clap::Command::new("stats")
        .disable_help_flag(true)
        .arg(value("seconds", None, "How long the load runs"))
        .arg(value("clients", Some('c'), "Tasks of the load"))
        .arg(value("test", Some('t'), "get, set, incr or ping"))
        .arg(value("keyspace", Some('r'), "Random keys below this"))
        .arg(flag("no-load", None, "Print the table at once"))
        .try_get_matches_from(std::iter::once("stats".to_string()).chain(args.iter().cloned()))
        .map_err(|e| format!("stats: {}", e.to_string().trim_end()))?;
    let get = |name: &str| m.get_one::<String>(name).cloned();
    fn number<T: std::str::FromStr>(v: Option<String>, flag: &str) -> Result<Option<T>, CliError> {
        v.map(|v| {
            v.parse()
                .map_err(|_| format!("stats: {flag}: {v:?} is not a valid value"))
        })
        .transpose()
    }
    o.seconds = number(get("seconds"), "--seconds")?.unwrap_or(o.seconds);
    o.tasks = number(get("clients"), "-c")?.unwrap_or(o.tasks);
    if let Some(t) = get("test") {
        o.test = t.to_ascii_lowercase();
    }
    o.keyspace = number(get("keyspace"), "-r")?.unwrap_or(o.keyspace);
    o.load = !m.get_flag("no-load");
    if !matches!(o.test.as_str(), "get" | "set" | "incr" | "ping") {
        return Err(format!(
            "stats: unknown test {:?} (known: get, set, incr, ping)",
            o.test
        ));
    }
    if o.tasks == 0 || o.keyspace == 0 || !(o.seconds >= 0.0 && o.seconds.is_finite()) {
        return Err("stats: -c and -r must be at least 1, --seconds a number of seconds".into());
    }
    Ok(o)
}

/// `slotline stats ...` against `url`.
pub(super) async fn run(url: &str, args: &[String]) -> Result<(), CliError> {
    let o = parse(args)?;
    let client = super::oneshot::open(url).await?;
    if o.load {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..o.tasks)
            .map(|i| {
                let (client, stop, test) = (client.clone(), stop.clone(), o.test.clone());
                let keyspace = Some(o.keyspace);
                tokio::spawn(async move {
                    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64 + 1);
                    let mut buf = [0u8; super::bench::KEY_MAX];
                    while !stop.load(Ordering::Relaxed) {
                        let len = super::bench::key(&mut seed, keyspace, None, &mut buf);
                        let c = super::bench::command(&test, &buf[..len], b"xxx");
                        // Failures are what the table counts.
                        let _ = client.send_command(&c).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs_f64(o.seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    }
    println!("{} ({})", client.mode(), slotline_conn::url::redact(url));
    println!("{}", super::node_table::table(&client.metrics()));
    Ok(())
}

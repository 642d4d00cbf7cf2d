//! The `slotline` command line: redis-cli's flags and output, in every deployment mode.
//!
//! ```text
//! slotline [-h HOST] [-p PORT] [-a PASS] [-n DB] [-u URL] [--tls ...] [--raw] [-r N -i S] CMD [ARGS...]
//! slotline [-u URL]                          the interactive prompt (stdin a terminal)
//! slotline [-u URL] --eval FILE keys , args  a Lua script
//! slotline [-u URL] --scan [--pattern P]     every key, over every master or shard
//! slotline topology -u URL                   the slot map, the sentinel view, or the shards
//! slotline bench [-u URL] [...]              load shaped like redis-benchmark, in every mode
//! slotline stats [-u URL] [...]              a load for a while, then the metrics per node
//! ```
//! `URL` is any URL [`Client::open`](crate::Client::open) takes (default
//! `redis://127.0.0.1:6379`, or `$SLOTLINE_URL`); the TLS flags (`--tls`, `--cacert`,
//! `--cert`, `--key`, `--sni`, `--insecure`) become its `rediss` scheme and `ssl_*`
//! options. Replies are printed as redis-cli prints them: formatted on a terminal, raw
//! into a pipe or with `--raw` (and for the commands redis-cli always prints raw).

mod args;
mod bench;
mod command;
mod docs;
mod format;
mod help;
mod node_table;
mod oneshot;
mod prompt;
#[cfg(feature = "tracing")]
mod span_sink;
mod stats;
mod words;

use std::io::IsTerminal;

pub use bench::{run as run_bench, BenchOptions, BenchReport};
pub use format::{format_reply, render_reply, Output};

/// What the command line can fail with: a message for the user.
pub type CliError = String;

/// Runs the command line with these arguments (without the program name); returns the
/// exit status (redis-cli's: 0, or 1 for an error reply with `-e`).
pub fn run(args: &[String]) -> Result<i32, CliError> {
    let a = args::parse(args, std::env::var("SLOTLINE_URL").ok())?;
    if a.help {
        println!("{}", usage());
        return Ok(0);
    }
    if a.version {
        println!("slotline {}", env!("CARGO_PKG_VERSION"));
        return Ok(0);
    }
    let output = a.output.unwrap_or(if std::io::stdout().is_terminal() {
        Output::Tty
    } else {
        Output::Raw
    });
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))
    };
    match a.words.first().map(String::as_str) {
        Some("bench") => {
            // `bench` reads its own -h/-p; a URL the flags named comes first.
            let mut bench_args: Vec<String> = Vec::new();
            if a.url_given {
                bench_args.extend(["--url".to_string(), a.url.clone()]);
            }
            bench_args.extend(a.words[1..].iter().cloned());
            if bench_args.iter().any(|w| w == "--help") {
                println!("{}", usage());
                return Ok(0);
            }
            return bench::main(&bench_args).map(|()| 0);
        }
        Some("topology") => {
            let url = match &a.words[1..] {
                [flag, value] if flag == "--url" || flag == "-u" => value.clone(),
                [] => a.url.clone(),
                _ => return Err(format!("topology takes only --url URL\n{}", usage())),
            };
            return runtime()?.block_on(command::run_topology(&url)).map(|()| 0);
        }
        Some("stats") => {
            return runtime()?
                .block_on(stats::run(&a.url, &a.words[1..]))
                .map(|()| 0)
        }
        _ => {}
    }
    let rt = runtime()?;
    if a.words.is_empty() && a.eval.is_none() && !a.scan {
        if std::io::stdin().is_terminal() {
            return prompt::run(&a, &rt);
        }
        return rt.block_on(commands_from_stdin(&a, output));
    }
    rt.block_on(async {
        let client = oneshot::open(&a.url).await?;
        if let Some(file) = &a.eval {
            return oneshot::eval(&a, &client, file, output).await;
        }
        if a.scan {
            return oneshot::scan(&a, &client).await;
        }
        let mut words: Vec<Vec<u8>> = a.words.iter().map(|w| w.as_bytes().to_vec()).collect();
        if a.stdin_arg {
            let mut last = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut last)
                .map_err(|e| format!("-x: cannot read stdin: {e}"))?;
            words.push(last);
        }
        oneshot::run(&a, &client, &words, output).await
    })
}

/// No command and stdin not a terminal: each line of stdin is a command, as redis-cli
/// reads them.
async fn commands_from_stdin(a: &args::CliArgs, output: Output) -> Result<i32, CliError> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    let mut client = None;
    let mut status = 0;
    for line in text.lines() {
        let words = words::split(line).map_err(|e| format!("{line:?}: {e}"))?;
        if words.is_empty() {
            continue;
        }
        if client.is_none() {
            client = Some(oneshot::open(&a.url).await?);
        }
        if let Some(c) = &client {
            status = status.max(oneshot::run(a, c, &words, output).await?);
        }
    }
    Ok(status)
}

fn usage() -> String {
    let flags = args::command().render_help().to_string();
    format!(
        "{flags}\n\
         Also:\n  \
         slotline topology [-u URL]\n  \
         slotline bench [-u URL] [--cluster] [-h HOST -p PORT] [-c CLIENTS] [-n REQUESTS] [-P PIPELINE] \
         [-t get,set] [-d SIZE] [-r KEYSPACE] [--connections N] [--runtime current|multi|multi:N] \
         [--tagged] [--cache SIZE] [--trace] [-q]\n  \
         slotline stats [-u URL] [--seconds N] [-c TASKS] [-t get|set|incr|ping] [-r KEYSPACE] [--no-load]\n\
         URL: redis://, rediss://, redis+unix://, redis+sentinel://h:p,h:p/service,\n     \
         redis+sentinel://h:p,h:p/svc1,svc2,svc3 (sharded), redis+cluster://h:p,h:p"
    )
}

//! The `slotline` command line.
//!
//! ```text
//! slotline [--url URL] CMD [ARGS...]     one command; the reply printed as redis-cli does
//! slotline topology --url URL            the slot map, or the sentinel view, as a table
//! slotline bench [--url URL] [...]       load shaped like redis-benchmark, in every mode
//! ```
//! `URL` is any URL [`Client::open`](crate::Client::open) takes (default
//! `redis://127.0.0.1:6379`, or `$SLOTLINE_URL`).

mod bench;
mod command;
mod format;
mod options;

pub use bench::{run as run_bench, BenchOptions, BenchReport};
pub use format::format_reply;
pub use options::Args;

/// What the command line can fail with: a message for the user.
pub type CliError = String;

/// Runs the command line with these arguments (without the program name).
pub fn run(args: &[String]) -> Result<(), CliError> {
    let mut given = std::env::var("SLOTLINE_URL").ok();
    let mut rest = args;
    loop {
        match rest {
            [flag, value, tail @ ..] if flag == "--url" || flag == "-u" => {
                given = Some(value.clone());
                rest = tail;
            }
            [flag] if flag == "--url" || flag == "-u" => {
                return Err(format!("{flag} needs a value\n{}", usage()));
            }
            [flag, ..] if flag == "-h" || flag == "--help" || flag == "help" => {
                println!("{}", usage());
                return Ok(());
            }
            _ => break,
        }
    }
    let Some((first, tail)) = rest.split_first() else {
        return Err(usage());
    };
    let url = given
        .clone()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    match first.as_str() {
        "bench" => {
            // `bench` also takes `-h`/`-p`; a URL given before it comes first.
            let mut bench_args: Vec<String> = given
                .into_iter()
                .flat_map(|u| ["--url".into(), u])
                .collect();
            bench_args.extend(tail.iter().cloned());
            bench::main(&bench_args)
        }
        "topology" => {
            let url = match tail {
                [flag, value] if flag == "--url" || flag == "-u" => value.clone(),
                [] => url,
                _ => return Err(format!("topology takes only --url URL\n{}", usage())),
            };
            block_on(command::run_topology(&url))
        }
        _ => block_on(command::run_command(&url, rest)),
    }
}

fn block_on<F: std::future::Future<Output = Result<(), CliError>>>(fut: F) -> Result<(), CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?
        .block_on(fut)
}

fn usage() -> String {
    "usage:\n  slotline [--url URL] CMD [ARGS...]\n  slotline topology --url URL\n  \
     slotline [--url URL] bench [--cluster] [-h HOST -p PORT] [-c CLIENTS] [-n REQUESTS] \
     [-P PIPELINE] [-t get,set] [-d SIZE] [-r KEYSPACE] [--connections N] [--runtime current|multi|multi:N] [--tagged] [-q]\n\
     URL: redis://, rediss://, redis+unix://, redis+sentinel://h:p,h:p/service, redis+cluster://h:p,h:p"
        .to_string()
}

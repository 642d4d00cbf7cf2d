//! The `slotline` command line.
//!
//! ```text
//! slotline [--url URL] CMD [ARGS...]     one command; the reply printed as redis-cli does
//! slotline topology --url URL            the slot map, the sentinel view, or the shards, as a table
//! slotline bench [--url URL] [...]       load shaped like redis-benchmark, in every mode
//! slotline stats [--url URL] [...]       a load for a while, then the client's metrics per node
//! ```
//! `URL` is any URL [`Client::open`](crate::Client::open) takes (default
//! `redis://127.0.0.1:6379`, or `$SLOTLINE_URL`). TLS flags, as redis-cli names them, before
//! the command: `--tls` (`rediss`), `--cacert FILE`, `--cert FILE`, `--key FILE`,
//! `--sni NAME`, `--insecure`; each implies `--tls` and becomes the URL's `ssl_*` option.

mod bench;
mod command;
mod format;
mod node_table;
mod options;
#[cfg(feature = "tracing")]
mod span_sink;
mod stats;

pub use bench::{run as run_bench, BenchOptions, BenchReport};
pub use format::format_reply;
pub use options::Args;

/// What the command line can fail with: a message for the user.
pub type CliError = String;

/// Runs the command line with these arguments (without the program name).
pub fn run(args: &[String]) -> Result<(), CliError> {
    let mut given = std::env::var("SLOTLINE_URL").ok();
    let mut rest = args;
    let mut tls = TlsFlags::default();
    loop {
        if let Some(tail) = tls.take(rest)? {
            rest = tail;
            continue;
        }
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
    let given = given.map(|u| tls.apply(&u));
    let url = given
        .clone()
        .unwrap_or_else(|| tls.apply("redis://127.0.0.1:6379"));
    match first.as_str() {
        // `-h` is bench's host, as in redis-benchmark; `--help` is help.
        "bench" if tail.iter().any(|a| a == "--help") => {
            println!("{}", usage());
            Ok(())
        }
        "bench" => {
            // `bench` also takes `-h`/`-p`; a URL given before it comes first.
            let mut bench_args: Vec<String> = given
                .into_iter()
                .flat_map(|u| ["--url".into(), u])
                .collect();
            bench_args.extend(tail.iter().cloned());
            bench::main(&bench_args)
        }
        "stats" => block_on(stats::run(&url, tail)),
        "topology" => {
            let url = match tail {
                [flag, value] if flag == "--url" || flag == "-u" => tls.apply(value),
                [] => url,
                _ => return Err(format!("topology takes only --url URL\n{}", usage())),
            };
            block_on(command::run_topology(&url))
        }
        _ => block_on(command::run_command(&url, rest)),
    }
}

/// The TLS flags of the command line (redis-cli's names).
#[derive(Debug, Default)]
struct TlsFlags {
    on: bool,
    options: Vec<(&'static str, String)>,
}

impl TlsFlags {
    /// Takes one TLS flag (and its value) off the front of `args`, if there is one.
    fn take<'a>(&mut self, args: &'a [String]) -> Result<Option<&'a [String]>, CliError> {
        let Some((flag, tail)) = args.split_first() else {
            return Ok(None);
        };
        // The URL option each flag sets, and whether a value follows it.
        let (option, takes_value) = match flag.as_str() {
            "--tls" => ("", false),
            "--insecure" => ("ssl_cert_reqs", false),
            "--cacert" => ("ssl_ca_certs", true),
            "--cert" => ("ssl_certfile", true),
            "--key" => ("ssl_keyfile", true),
            "--sni" => ("ssl_server_name", true),
            _ => return Ok(None),
        };
        self.on = true;
        if !takes_value {
            if !option.is_empty() {
                self.options.push((option, "none".into()));
            }
            return Ok(Some(tail));
        }
        match tail.split_first() {
            Some((value, tail)) => {
                self.options.push((option, value.clone()));
                Ok(Some(tail))
            }
            None => Err(format!("{flag} needs a value\n{}", usage())),
        }
    }

    /// `url` with TLS as the flags ask: `redis` schemes become `rediss`, the options are
    /// appended.
    fn apply(&self, url: &str) -> String {
        if !self.on {
            return url.to_string();
        }
        let mut out = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("redis") => {
                format!("rediss://{rest}")
            }
            Some((scheme, rest)) if scheme.to_ascii_lowercase().starts_with("redis+") => {
                format!("rediss+{}://{rest}", &scheme[6..])
            }
            _ => url.to_string(),
        };
        for (name, value) in &self.options {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(&format!("{name}={value}"));
        }
        out
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
     [-P PIPELINE] [-t get,set] [-d SIZE] [-r KEYSPACE] [--connections N] [--runtime current|multi|multi:N] [--tagged] [--cache SIZE] [--trace] [-q]\n\
     slotline [--url URL] stats [--seconds N] [-c TASKS] [-t get|set|incr|ping] [-r KEYSPACE] [--no-load]\n\
     TLS: --tls --cacert FILE --cert FILE --key FILE --sni NAME --insecure (before CMD)\n\
     URL: redis://, rediss://, redis+unix://, redis+sentinel://h:p,h:p/service,\n     redis+sentinel://h:p,h:p/svc1,svc2,svc3 (sharded), redis+cluster://h:p,h:p"
        .to_string()
}

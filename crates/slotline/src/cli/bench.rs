//! `slotline bench`: load in the shape of `redis-benchmark`, through slotline's own clients.
//!
//! `-c` callers share the client(s) (implicit pipelining does the batching); `-P` sends
//! explicit pipelines of that many commands. Prints requests per second, latency
//! percentiles and the client's CPU time per request.
//!
//! `--cluster` (or a `redis+cluster://h:p,h:p` URL) benchmarks a Redis Cluster through
//! `slotline-cluster`'s client: each caller's command goes to the node serving its key.
//! Keys are drawn over every slot, unless `--tagged`: then each caller's keys carry one
//! master's hash tag (`key:{tag}:000000012345`), callers spread over the masters, as
//! `redis-benchmark --cluster` lays its keys out (so its pipelines never split).
//!
//! `--cache SIZE` (`64mb`) turns the client-side cache on (the URL's `cache_max_bytes`):
//! reads answered from it never reach the server; the report gives the share of hits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotline_cluster::ClusterClient;
use slotline_conn::cache::CacheStats;
use slotline_conn::metrics::{ClientMetrics, Latency};
use slotline_conn::{cmd, Cmd, IoStats, Pipeline, Query};

use super::CliError;

/// What to run, as given on the command line.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Server URL (`--url`); else `-h`/`-p`. A `redis+cluster://` URL means `--cluster`.
    pub url: String,
    /// The server is a Redis Cluster node (`--cluster`): use the cluster client.
    pub cluster: bool,
    /// Concurrent callers (`-c`, default 50).
    pub clients: usize,
    /// Requests per test (`-n`, default 100,000).
    pub requests: u64,
    /// Commands per explicit pipeline (`-P`, default 1).
    pub pipeline: usize,
    /// Tests to run (`-t`, default `set,get`).
    pub tests: Vec<String>,
    /// Value size in bytes for `SET` (`-d`, default 3).
    pub data_size: usize,
    /// Random keys in `0..keyspace` (`-r`); else one fixed key, as `redis-benchmark`.
    pub keyspace: Option<u64>,
    /// Shared clients the callers are spread over (`--connections`, default 1).
    pub connections: usize,
    /// Only the summary lines (`-q`).
    pub quiet: bool,
    /// The tokio runtime the callers run on (`--runtime current|multi|multi:N`, default
    /// `multi`: a worker per core, as `#[tokio::main]`).
    pub runtime: RuntimeFlavor,
    /// Cluster only (`--tagged`): each caller's keys carry one master's hash tag, as
    /// `redis-benchmark --cluster` does.
    pub tagged: bool,
    /// The hash tags, one per master, that callers take in turn (filled in when `tagged`).
    pub key_tags: Vec<String>,
    /// The client-side cache's size (`--cache 64mb`), none: no cache.
    pub cache: Option<String>,
    /// Record every span and event of the client (`--trace`, feature `tracing`): what a
    /// subscriber costs.
    pub trace: bool,
}

/// `bench`'s flags (redis-benchmark's names; `-h` is the host).
fn bench_command() -> clap::Command {
    use super::args::{flag, value};
    clap::Command::new("bench")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(value("url", Some('u'), "Server URL"))
        .arg(value("host", Some('h'), "Server host"))
        .arg(value("port", Some('p'), "Server port"))
        .arg(value("clients", Some('c'), "Concurrent callers"))
        .arg(value("requests", Some('n'), "Requests per test"))
        .arg(value(
            "pipeline",
            Some('P'),
            "Commands per explicit pipeline",
        ))
        .arg(value("tests", Some('t'), "Tests to run"))
        .arg(value("data-size", Some('d'), "SET value size"))
        .arg(value("keyspace", Some('r'), "Random keys below this"))
        .arg(value("connections", None, "Shared clients"))
        .arg(value("runtime", None, "current, multi or multi:N"))
        .arg(flag("cluster", None, "Use the cluster client"))
        .arg(flag("tagged", None, "Each caller's keys on one master"))
        .arg(value("cache", None, "Client-side cache size"))
        .arg(flag("trace", None, "Record every span"))
        .arg(flag("quiet", Some('q'), "Only the summary lines"))
}

impl BenchOptions {
    /// Reads the options after `bench`.
    pub fn parse(args: &[String]) -> Result<Self, CliError> {
        let mut host = "127.0.0.1".to_string();
        let mut port = 6379u16;
        let mut opts = BenchOptions {
            url: String::new(),
            cluster: false,
            clients: 50,
            requests: 100_000,
            pipeline: 1,
            tests: vec!["set".into(), "get".into()],
            data_size: 3,
            keyspace: None,
            connections: 1,
            quiet: false,
            runtime: RuntimeFlavor::Multi(None),
            tagged: false,
            key_tags: Vec::new(),
            cache: None,
            trace: false,
        };
        let m = bench_command()
            .try_get_matches_from(std::iter::once("bench".to_string()).chain(args.iter().cloned()))
            .map_err(|e| format!("bench: {}", e.to_string().trim_end()))?;
        let get = |name: &str| m.get_one::<String>(name).cloned();
        fn number<T: std::str::FromStr>(
            value: Option<String>,
            flag: &str,
        ) -> Result<Option<T>, CliError> {
            value
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("bench: {flag}: {v:?} is not a valid value"))
                })
                .transpose()
        }
        let url = get("url");
        if let Some(h) = get("host") {
            host = h;
        }
        port = number(get("port"), "-p")?.unwrap_or(port);
        opts.clients = number(get("clients"), "-c")?.unwrap_or(opts.clients);
        opts.requests = number(get("requests"), "-n")?.unwrap_or(opts.requests);
        opts.pipeline = number(get("pipeline"), "-P")?.unwrap_or(opts.pipeline);
        if let Some(tests) = get("tests") {
            opts.tests = tests
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect();
        }
        opts.data_size = number(get("data-size"), "-d")?.unwrap_or(opts.data_size);
        opts.keyspace = number(get("keyspace"), "-r")?;
        opts.connections = number(get("connections"), "--connections")?.unwrap_or(opts.connections);
        if let Some(r) = get("runtime") {
            opts.runtime = RuntimeFlavor::parse(&r)?;
        }
        opts.cluster = m.get_flag("cluster");
        opts.tagged = m.get_flag("tagged");
        opts.cache = get("cache");
        opts.trace = m.get_flag("trace");
        opts.quiet = m.get_flag("quiet");
        for test in &opts.tests {
            if !matches!(test.as_str(), "get" | "set" | "incr" | "ping") {
                return Err(format!(
                    "bench: unknown test {test:?} (known: get, set, incr, ping)"
                ));
            }
        }
        if opts.clients == 0 || opts.requests == 0 || opts.pipeline == 0 || opts.connections == 0 {
            return Err("bench: -c, -n, -P and --connections must be at least 1".into());
        }
        if url
            .as_deref()
            .is_some_and(|u| u.to_ascii_lowercase().starts_with("redis+cluster://"))
        {
            opts.cluster = true;
        }
        opts.url = url.unwrap_or_else(|| match opts.cluster {
            true => format!("redis+cluster://{host}:{port}"),
            false => format!("redis://{host}:{port}"),
        });
        if let Some(size) = &opts.cache {
            let sep = if opts.url.contains('?') { '&' } else { '?' };
            opts.url = format!("{}{sep}cache_max_bytes={size}", opts.url);
        }
        Ok(opts)
    }
}

/// Which tokio runtime the benchmark's callers run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeFlavor {
    /// `current`: one thread runs every task (`#[tokio::main(flavor = "current_thread")]`).
    Current,
    /// `multi` (a worker per core, as `#[tokio::main]`) or `multi:N` (N workers).
    Multi(Option<usize>),
}

impl RuntimeFlavor {
    /// Reads `current`, `multi` or `multi:N`.
    pub fn parse(text: &str) -> Result<Self, CliError> {
        match text {
            "current" | "current_thread" => Ok(RuntimeFlavor::Current),
            "multi" | "multi_thread" => Ok(RuntimeFlavor::Multi(None)),
            _ => match text.strip_prefix("multi:").map(str::parse::<usize>) {
                Some(Ok(n)) if n > 0 => Ok(RuntimeFlavor::Multi(Some(n))),
                _ => Err(format!(
                    "bench: --runtime takes current, multi or multi:N (N ≥ 1), not {text:?}"
                )),
            },
        }
    }

    /// Builds the runtime.
    pub fn build(self) -> Result<tokio::runtime::Runtime, CliError> {
        let mut builder = match self {
            RuntimeFlavor::Current => tokio::runtime::Builder::new_current_thread(),
            RuntimeFlavor::Multi(workers) => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                if let Some(n) = workers {
                    b.worker_threads(n);
                }
                b
            }
        };
        builder
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))
    }
}

impl std::fmt::Display for RuntimeFlavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuntimeFlavor::Current => f.write_str("current"),
            RuntimeFlavor::Multi(None) => f.write_str("multi"),
            RuntimeFlavor::Multi(Some(n)) => write!(f, "multi:{n}"),
        }
    }
}

/// One test's results.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// `GET`, `SET`, ...
    pub test: String,
    /// Requests completed.
    pub requests: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Latency percentiles (50, 99, 99.9) of one request (a pipeline's requests share its
    /// latency, as in `redis-benchmark`).
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// The process's CPU time per request, where the OS tells it.
    pub cpu_per_request: Option<Duration>,
    /// Socket write calls per request (each one `send` system call; see
    /// [`IoStats`](slotline_conn::IoStats)).
    pub writes_per_request: f64,
    /// Socket read calls per request.
    pub reads_per_request: f64,
    /// Socket reads per request made while busy polling that found nothing yet (see
    /// [`ClientOptions::busy_poll`](slotline_conn::ClientOptions::busy_poll)).
    pub polls_per_request: f64,
    /// Requests that failed.
    pub errors: u64,
    /// The share of requests answered by the client-side cache (with `--cache`).
    pub cache_hits: Option<f64>,
    /// Each node's latencies during the test (from the client's metrics).
    pub nodes: Vec<(String, Latency)>,
}

impl BenchReport {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The summary line, shaped like `redis-benchmark -q`'s.
    pub fn line(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        format!(
            "{}: {:.2} requests per second, p50={:.3} msec, p99={:.3} msec, p99.9={:.3} msec{}, \
             writes={:.3}/req, reads={:.3}/req, polls={:.3}/req{}{}",
            self.test,
            self.rate(),
            ms(self.p50),
            ms(self.p99),
            ms(self.p999),
            self.cpu_per_request
                .map(|c| format!(", client cpu={:.2} usec/req", c.as_secs_f64() * 1e6))
                .unwrap_or_default(),
            self.writes_per_request,
            self.reads_per_request,
            self.polls_per_request,
            self.cache_hits
                .map(|h| format!(", cache hits={:.1}%", h * 100.0))
                .unwrap_or_default(),
            if self.errors > 0 {
                format!(", {} errors", self.errors)
            } else {
                String::new()
            }
        )
    }
}

/// `slotline bench ...`.
pub(super) fn main(args: &[String]) -> Result<(), CliError> {
    let opts = BenchOptions::parse(args)?;
    if opts.trace {
        #[cfg(feature = "tracing")]
        tracing::subscriber::set_global_default(super::span_sink::SpanSink::default())
            .map_err(|e| format!("bench --trace: {e}"))?;
        #[cfg(not(feature = "tracing"))]
        return Err("bench --trace: built without the `tracing` feature".into());
    }
    let runtime = opts.runtime.build()?;
    let mut opts = opts;
    runtime.block_on(async {
        if opts.cluster {
            let mut clients = Vec::with_capacity(opts.connections);
            for _ in 0..opts.connections {
                clients.push(ClusterClient::open(opts.url.as_str()).await.map_err(|e| {
                    format!(
                        "cannot connect to the cluster {}: {e}",
                        slotline_conn::url::redact(&opts.url)
                    )
                })?);
            }
            if opts.tagged {
                opts.key_tags = clients.first().map(node_tags).unwrap_or_default();
            }
            for test in &opts.tests {
                let report = run(&clients, &opts, test).await;
                print_report(&report);
            }
            return Ok(());
        }
        // Any other URL (one node, or a sentinel-managed service) through the facade.
        let mut clients = Vec::with_capacity(opts.connections);
        for _ in 0..opts.connections {
            clients.push(super::oneshot::open(&opts.url).await?);
        }
        for test in &opts.tests {
            let report = run(&clients, &opts, test).await;
            print_report(&report);
        }
        Ok(())
    })
}

/// The summary line, then each node's latency percentiles.
fn print_report(report: &BenchReport) {
    println!("{}", report.line());
    for (node, latency) in &report.nodes {
        println!("{}", super::node_table::latency_line(node, latency));
    }
}

/// Room for the longest key: `key:{tag}:` and 12 digits.
pub(super) const KEY_MAX: usize = 32;

/// One hash tag per master of `client`'s cluster (the shortest base-36 strings whose slot
/// the master serves), in the order of its master list.
fn node_tags(client: &ClusterClient) -> Vec<String> {
    let masters = client.masters();
    let mut tags: Vec<Option<String>> = vec![None; masters.len()];
    for n in 0u32..36 * 36 * 36 {
        if tags.iter().all(Option::is_some) {
            break;
        }
        let tag = base36(n);
        let Some(master) = client.master_for_slot(slotline_cluster::slot(tag.as_bytes())) else {
            continue;
        };
        if let Some(i) = masters.iter().position(|m| *m == master) {
            tags[i].get_or_insert(tag);
        }
    }
    tags.into_iter().flatten().collect()
}

fn base36(mut n: u32) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// A client whose socket calls (and cache hits) the benchmark counts.
pub trait CountsIo {
    /// Its socket calls so far.
    fn io_stats(&self) -> IoStats;
    /// Its client-side cache's stats, if it has one.
    fn cache_stats(&self) -> Option<CacheStats>;
    /// Its metrics, node by node.
    fn metrics(&self) -> ClientMetrics;
}

impl CountsIo for crate::Client {
    fn io_stats(&self) -> IoStats {
        crate::Client::io_stats(self)
    }
    fn cache_stats(&self) -> Option<CacheStats> {
        crate::Client::cache_stats(self)
    }
    fn metrics(&self) -> ClientMetrics {
        crate::Client::metrics(self)
    }
}

impl CountsIo for ClusterClient {
    fn io_stats(&self) -> IoStats {
        ClusterClient::io_stats(self)
    }
    fn cache_stats(&self) -> Option<CacheStats> {
        ClusterClient::cache_stats(self)
    }
    fn metrics(&self) -> ClientMetrics {
        ClusterClient::metrics(self)
    }
}

/// Runs one test with `opts.clients` callers spread over `targets`.
pub async fn run<Q>(targets: &[Q], opts: &BenchOptions, test: &str) -> BenchReport
where
    Q: Query + CountsIo + Clone + Send + Sync + 'static,
{
    let io_before: IoStats = targets.iter().map(CountsIo::io_stats).sum();
    let hits = || CacheStats::total(targets.iter().map(CountsIo::cache_stats)).map(|s| s.hits);
    let hits_before = hits();
    let node_latencies = || {
        let mut by_node: std::collections::BTreeMap<String, Latency> = Default::default();
        for t in targets {
            for (addr, m) in t.metrics().nodes {
                let l = by_node.entry(addr.to_string()).or_default();
                *l = std::mem::take(l) + m.latency;
            }
        }
        by_node
    };
    let latencies_before = node_latencies();
    let issued = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let value = Arc::new(vec![b'x'; opts.data_size]);
    let started = Instant::now();
    let cpu_before = cpu_time();
    let progress = (!opts.quiet).then(|| {
        let done = done.clone();
        let total = opts.requests;
        let name = test.to_ascii_uppercase();
        tokio::spawn(async move {
            let mut last = 0;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = done.load(Ordering::Relaxed);
                eprint!(
                    "\r{name}: rps={} (overall: {:.0}) {}/{total}   ",
                    now - last,
                    now as f64 / started.elapsed().as_secs_f64(),
                    now
                );
                last = now;
            }
        })
    });
    let mut tasks = Vec::with_capacity(opts.clients);
    for i in 0..opts.clients {
        let target = targets[i % targets.len()].clone();
        let (issued, done, value) = (issued.clone(), done.clone(), value.clone());
        let (test, opts) = (test.to_string(), opts.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64 + 1);
            let tag = match opts.key_tags.len() {
                0 => None,
                n => opts.key_tags.get(i % n).cloned(),
            };
            loop {
                let first = issued.fetch_add(opts.pipeline as u64, Ordering::Relaxed);
                if first >= opts.requests {
                    break;
                }
                let batch = (opts.requests - first).min(opts.pipeline as u64) as usize;
                let mut key_buf = [0u8; KEY_MAX];
                let sent = Instant::now();
                let ok = if opts.pipeline == 1 {
                    let len = key(&mut seed, opts.keyspace, tag.as_deref(), &mut key_buf);
                    let c = command(&test, &key_buf[..len], &value);
                    target.send_command(&c).await.is_ok_and(|f| !f.is_error())
                } else {
                    let mut p = Pipeline::with_capacity(batch);
                    for _ in 0..batch {
                        let len = key(&mut seed, opts.keyspace, tag.as_deref(), &mut key_buf);
                        p.add(command(&test, &key_buf[..len], &value));
                    }
                    target
                        .send_pipeline(&p)
                        .await
                        .is_ok_and(|fs| fs.iter().all(|f| !f.is_error()))
                };
                let micros = sent.elapsed().as_micros().min(u32::MAX as u128) as u32;
                if !ok {
                    errors += batch as u64;
                }
                latencies.extend(std::iter::repeat_n(micros, batch));
                done.fetch_add(batch as u64, Ordering::Relaxed);
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(opts.requests as usize);
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let elapsed = started.elapsed();
    let io_after: IoStats = targets.iter().map(CountsIo::io_stats).sum();
    let cache_hits = hits().zip(hits_before).map(|(a, b)| a.saturating_sub(b));
    let nodes = node_latencies()
        .into_iter()
        .map(|(node, l)| {
            let during = latencies_before
                .get(&node)
                .map_or(l.clone(), |b| l.since(b));
            (node, during)
        })
        .filter(|(_, l)| l.count() > 0)
        .collect();
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    if let Some(p) = progress {
        p.abort();
        eprint!("\r{:60}\r", "");
    }
    latencies.sort_unstable();
    let pct = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        Duration::from_micros(latencies.get(i).copied().unwrap_or(0) as u64)
    };
    let requests = latencies.len() as u64;
    BenchReport {
        test: test.to_ascii_uppercase(),
        requests,
        elapsed,
        p50: pct(0.5),
        p99: pct(0.99),
        p999: pct(0.999),
        cpu_per_request: cpu.map(|c| c / requests.max(1) as u32),
        writes_per_request: io_after.writes.saturating_sub(io_before.writes) as f64
            / requests.max(1) as f64,
        reads_per_request: io_after.reads.saturating_sub(io_before.reads) as f64
            / requests.max(1) as f64,
        polls_per_request: io_after.polls.saturating_sub(io_before.polls) as f64
            / requests.max(1) as f64,
        errors,
        cache_hits: cache_hits.map(|h| h as f64 / requests.max(1) as f64),
        nodes,
    }
}

/// The key of the next request: `key:__rand_int__` without a keyspace (as
/// redis-benchmark), else `key:` and twelve digits of a random number below it, written in
/// place (formatting a string per request would cost more than sending it).
pub(super) fn key(
    seed: &mut u64,
    keyspace: Option<u64>,
    tag: Option<&str>,
    buf: &mut [u8; KEY_MAX],
) -> usize {
    buf[..4].copy_from_slice(b"key:");
    let mut at = 4;
    if let Some(tag) = tag.filter(|t| t.len() <= KEY_MAX - 4 - 3 - 12) {
        buf[at] = b'{';
        buf[at + 1..at + 1 + tag.len()].copy_from_slice(tag.as_bytes());
        at += 1 + tag.len();
        buf[at..at + 2].copy_from_slice(b"}:");
        at += 2;
    }
    let digits = &mut buf[at..at + 12];
    let Some(n) = keyspace else {
        digits.copy_from_slice(b"__rand_int__");
        return at + 12;
    };
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let mut v = *seed % n.max(1);
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (v % 10) as u8;
        v /= 10;
    }
    at + 12
}

pub(super) fn command(test: &str, key: &[u8], value: &[u8]) -> Cmd {
    match test {
        "set" => cmd("SET").arg(key).arg(value),
        // Counters of their own, as redis-benchmark's `counter:__rand_int__`: the `SET`
        // test's values ("xxx") are not integers.
        "incr" => cmd("INCR").arg([&b"counter:"[..], &key[4..]].concat()),
        "ping" => cmd("PING"),
        _ => cmd("GET").arg(key),
    }
}

/// This process's CPU time (user + system), on Linux.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

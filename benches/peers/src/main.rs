//! `slotline-peers`: slotline and redis-rs side by side, in one process, against the same
//! test-bed servers, on every tokio runtime flavour; `redis-benchmark` beside them.
//!
//! ```text
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- \
//!     [--scenarios node,single,cluster,blocking,tls] [--runtimes current,multi:1,multi] \
//!     [--repeat 3] [--scale 1.0] [--write BENCHMARKS.md]
//! ```
//!
//! Every row alternates the clients run by run (slotline, redis-rs, redis-benchmark, and
//! again), each run on a fresh runtime of the row's flavour, and keeps the medians: a ratio
//! taken in one run on this noisy machine says more than an absolute figure. Beside the
//! blocking row it measures that row's ceiling on this machine ([`floor`]) and says it under
//! the table.

mod clients;
mod floor;
mod load;

use std::fmt::Write as _;
use std::process::Command;

use clients::{RedisRs, RedisRsSync, Slotline, SlotlineBlocking};
use load::{run_tasks, run_threads, Run, KEYSPACE};

/// The scenarios, as the issue that asked for them names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// 50 tasks on one shared client, one node.
    Node,
    /// One task, sequential GETs, one node.
    Single,
    /// 50 tasks on one cluster client, 3 masters × 1 replica.
    Cluster,
    /// 50 threads: one blocking slotline client against 50 redis-rs sync connections.
    Blocking,
    /// 50 tasks on one shared client, one node over TLS (redis-rs with rustls).
    Tls,
}

impl Scenario {
    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "node" => Scenario::Node,
            "single" => Scenario::Single,
            "cluster" => Scenario::Cluster,
            "blocking" => Scenario::Blocking,
            "tls" => Scenario::Tls,
            other => return Err(format!("unknown scenario {other:?}")),
        })
    }

    fn label(self) -> &'static str {
        match self {
            Scenario::Node => "one node, 50 tasks, GET",
            Scenario::Single => "one node, 1 task, sequential GET",
            Scenario::Cluster => "cluster 3×1, 50 tasks, GET",
            Scenario::Blocking => "one node, 50 threads, GET",
            Scenario::Tls => "one node over TLS, 50 tasks, GET",
        }
    }

    fn callers(self) -> usize {
        match self {
            Scenario::Single => 1,
            _ => 50,
        }
    }

    /// Requests per run before `--scale`.
    fn requests(self) -> u64 {
        match self {
            Scenario::Node | Scenario::Blocking | Scenario::Tls => 400_000,
            Scenario::Cluster => 300_000,
            Scenario::Single => 40_000,
        }
    }
}

/// A tokio runtime flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Current,
    Multi(Option<usize>),
}

impl Flavour {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "current" => Ok(Flavour::Current),
            "multi" => Ok(Flavour::Multi(None)),
            _ => match s.strip_prefix("multi:").map(str::parse::<usize>) {
                Some(Ok(n)) if n > 0 => Ok(Flavour::Multi(Some(n))),
                _ => Err(format!("unknown runtime {s:?} (current, multi, multi:N)")),
            },
        }
    }

    fn label(self) -> String {
        match self {
            Flavour::Current => "current-thread".into(),
            Flavour::Multi(None) => format!(
                "`#[tokio::main]` ({} workers)",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            ),
            Flavour::Multi(Some(n)) => format!("multi-thread, {n} worker(s)"),
        }
    }

    fn build(self) -> tokio::runtime::Runtime {
        let mut b = match self {
            Flavour::Current => tokio::runtime::Builder::new_current_thread(),
            Flavour::Multi(n) => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                if let Some(n) = n {
                    b.worker_threads(n);
                }
                b
            }
        };
        b.enable_all().build().expect("a tokio runtime")
    }
}

struct Options {
    scenarios: Vec<Scenario>,
    flavours: Vec<Flavour>,
    repeat: usize,
    scale: f64,
    write: Option<String>,
    /// Only this side, for profiling one client (`--only slotline|redis-rs`): no table.
    only: Option<Side>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        scenarios: vec![
            Scenario::Node,
            Scenario::Single,
            Scenario::Cluster,
            Scenario::Blocking,
            Scenario::Tls,
        ],
        flavours: vec![
            Flavour::Current,
            Flavour::Multi(Some(1)),
            Flavour::Multi(None),
        ],
        repeat: 3,
        scale: 1.0,
        write: None,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--scenarios" => {
                o.scenarios = value()?
                    .split(',')
                    .map(Scenario::parse)
                    .collect::<Result<_, _>>()?
            }
            "--runtimes" => {
                o.flavours = value()?
                    .split(',')
                    .map(Flavour::parse)
                    .collect::<Result<_, _>>()?
            }
            "--repeat" => o.repeat = value()?.parse().map_err(|e| format!("--repeat: {e}"))?,
            "--scale" => o.scale = value()?.parse().map_err(|e| format!("--scale: {e}"))?,
            "--write" => o.write = Some(value()?),
            "--only" => {
                o.only = Some(match value()?.as_str() {
                    "slotline" => Side::Slotline,
                    "redis-rs" => Side::RedisRs,
                    other => {
                        return Err(format!("--only takes slotline or redis-rs, not {other:?}"))
                    }
                })
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    o.repeat = o.repeat.max(1);
    Ok(o)
}

/// The servers, started once for every row.
struct Servers {
    node: Option<slotline_testbed::Standalone>,
    cluster: Option<slotline_testbed::Cluster>,
    /// A node serving TLS only, for [`Scenario::Tls`].
    tls_node: Option<slotline_testbed::Standalone>,
}

impl Servers {
    fn node_url(&self) -> String {
        self.node.as_ref().map(|n| n.url()).unwrap_or_default()
    }

    /// `rediss://...?ssl_ca_certs=<its CA>`.
    fn tls_url(&self) -> String {
        self.tls_node.as_ref().map(|n| n.url()).unwrap_or_default()
    }

    /// A redis-rs client of the TLS node, trusting its CA.
    fn redis_rs_tls(&self) -> redis::Client {
        let node = self.tls_node.as_ref().expect("a TLS node");
        let ca = std::fs::read(&node.tls_files().expect("its CA").ca_cert).expect("read the CA");
        redis::Client::build_with_tls(
            format!("rediss://{}", node.addr()),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca),
            },
        )
        .expect("redis-rs TLS client")
    }

    fn cluster_urls(&self) -> Vec<String> {
        self.cluster
            .as_ref()
            .and_then(|c| c.masters().ok())
            .unwrap_or_default()
            .into_iter()
            .map(|a| format!("redis://{a}"))
            .collect()
    }
}

/// One row's runs.
#[derive(Default)]
struct Row {
    slotline: Vec<Run>,
    redis_rs: Vec<Run>,
    benchmark: Vec<f64>,
    /// Blocking rows: [`floor::parked_rounds`] with the same callers, each run.
    floor: Vec<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("slotline-peers: {e}");
            std::process::exit(2);
        }
    };
    // redis-rs builds its rustls configuration on the process's default provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let needs_node = opts
        .scenarios
        .iter()
        .any(|s| !matches!(s, Scenario::Cluster | Scenario::Tls));
    let needs_cluster = opts.scenarios.contains(&Scenario::Cluster);
    let needs_tls = opts.scenarios.contains(&Scenario::Tls);
    let servers = Servers {
        node: needs_node.then(|| slotline_testbed::Standalone::start().expect("a redis-server")),
        cluster: needs_cluster.then(|| slotline_testbed::Cluster::start().expect("a cluster")),
        tls_node: needs_tls.then(|| {
            slotline_testbed::Standalone::builder()
                .tls()
                .start()
                .expect("a TLS redis-server")
        }),
    };
    fill_keys(&servers);
    let mut table = String::new();
    // Said below the table.
    let mut notes = String::new();
    for &scenario in &opts.scenarios {
        let flavours = match scenario {
            // Threads on the blocking client's own runtime: no flavour to choose.
            Scenario::Blocking => vec![None],
            _ => opts.flavours.iter().copied().map(Some).collect(),
        };
        for flavour in flavours {
            let requests = (scenario.requests() as f64 * opts.scale).max(1000.0) as u64;
            if let Some(side) = opts.only {
                for _ in 0..opts.repeat {
                    let run = run_side(side, scenario, flavour, &servers, requests);
                    println!("{side:?} {scenario:?} {flavour:?}: {:.0} req/s", run.rate());
                }
                continue;
            }
            let mut row = Row::default();
            for _ in 0..opts.repeat {
                row.slotline.push(run_side(
                    Side::Slotline,
                    scenario,
                    flavour,
                    &servers,
                    requests,
                ));
                row.redis_rs.push(run_side(
                    Side::RedisRs,
                    scenario,
                    flavour,
                    &servers,
                    requests,
                ));
                if let Some(rate) = redis_benchmark(scenario, &servers, requests) {
                    row.benchmark.push(rate);
                }
                if scenario == Scenario::Blocking {
                    row.floor
                        .push(floor::parked_rounds(scenario.callers(), requests));
                }
            }
            let line = format_row(scenario, flavour, &row);
            eprintln!("{line}");
            table.push_str(&line);
            table.push('\n');
            if let Some(note) = floor_note(scenario.callers(), &row) {
                eprintln!("{note}");
                notes.push_str(&note);
                notes.push('\n');
            }
        }
    }
    if opts.only.is_some() {
        return;
    }
    let doc = document(&opts, &table, &notes);
    print!("{doc}");
    if let Some(path) = &opts.write {
        if let Err(e) = write_between_markers(path, &doc) {
            eprintln!("slotline-peers: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Slotline,
    RedisRs,
}

/// Sets every key of the keyspace (3-byte values), on the node and on the cluster.
fn fill_keys(servers: &Servers) {
    let fill = async {
        let mut buf = [0u8; 16];
        let keys: Vec<Vec<u8>> = (0..KEYSPACE)
            .map(|n| {
                let len = load::key(n, &mut buf);
                buf[..len].to_vec()
            })
            .collect();
        let nodes = [
            servers.node.as_ref().map(|_| servers.node_url()),
            servers.tls_node.as_ref().map(|_| servers.tls_url()),
        ];
        for url in nodes.into_iter().flatten() {
            let c = slotline_conn::Client::connect(url.as_str())
                .await
                .expect("connect to the node");
            for chunk in keys.chunks(500) {
                let pairs: Vec<(&[u8], &str)> = chunk.iter().map(|k| (&k[..], "xxx")).collect();
                slotline_conn::Commands::mset(&c, &pairs)
                    .await
                    .expect("MSET");
            }
        }
        if servers.cluster.is_some() {
            let c = slotline_cluster::ClusterClient::connect(
                servers.cluster_urls(),
                slotline_cluster::ClusterConfig::default(),
            )
            .await
            .expect("connect to the cluster");
            for chunk in keys.chunks(500) {
                let pairs: Vec<(&[u8], &str)> = chunk.iter().map(|k| (&k[..], "xxx")).collect();
                slotline_conn::Commands::mset(&c, &pairs)
                    .await
                    .expect("MSET");
            }
        }
    };
    Flavour::Current.build().block_on(fill);
}

/// One measured run of one client, after a short warm-up on the same connection.
fn run_side(
    side: Side,
    scenario: Scenario,
    flavour: Option<Flavour>,
    servers: &Servers,
    requests: u64,
) -> Run {
    let warm = (requests / 20).max(500);
    let n = scenario.callers();
    let result = match (scenario, side) {
        (Scenario::Blocking, Side::Slotline) => {
            let c = slotline_conn::blocking::Client::connect(servers.node_url().as_str())
                .expect("slotline blocking client");
            let callers = || vec![SlotlineBlocking(c.clone()); n];
            run_threads(callers(), warm).and_then(|_| run_threads(callers(), requests))
        }
        (Scenario::Blocking, Side::RedisRs) => {
            let client = redis::Client::open(servers.node_url()).expect("redis-rs client");
            let connect = || -> Vec<RedisRsSync> {
                (0..n)
                    .map(|_| RedisRsSync(client.get_connection().expect("redis-rs connection")))
                    .collect()
            };
            run_threads(connect(), warm).and_then(|_| run_threads(connect(), requests))
        }
        _ => {
            let rt = flavour.unwrap_or(Flavour::Current).build();
            rt.block_on(async {
                match (scenario, side) {
                    (Scenario::Cluster, Side::Slotline) => {
                        let c = slotline_cluster::ClusterClient::connect(
                            servers.cluster_urls(),
                            slotline_cluster::ClusterConfig::default(),
                        )
                        .await
                        .expect("slotline cluster client");
                        let callers = || vec![Slotline(c.clone()); n];
                        run_tasks(callers(), warm).await?;
                        run_tasks(callers(), requests).await
                    }
                    (Scenario::Cluster, Side::RedisRs) => {
                        let c = redis::cluster::ClusterClient::new(servers.cluster_urls())
                            .expect("redis-rs cluster client")
                            .get_async_connection()
                            .await
                            .expect("redis-rs cluster connection");
                        let callers = || vec![RedisRs(c.clone()); n];
                        run_tasks(callers(), warm).await?;
                        run_tasks(callers(), requests).await
                    }
                    (_, Side::Slotline) => {
                        let url = match scenario {
                            Scenario::Tls => servers.tls_url(),
                            _ => servers.node_url(),
                        };
                        let c = slotline_conn::Client::connect(url.as_str())
                            .await
                            .expect("slotline client");
                        let callers = || vec![Slotline(c.clone()); n];
                        run_tasks(callers(), warm).await?;
                        run_tasks(callers(), requests).await
                    }
                    (_, Side::RedisRs) => {
                        let client = match scenario {
                            Scenario::Tls => servers.redis_rs_tls(),
                            _ => redis::Client::open(servers.node_url()).expect("redis-rs client"),
                        };
                        let c = client
                            .get_multiplexed_async_connection()
                            .await
                            .expect("redis-rs multiplexed connection");
                        let callers = || vec![RedisRs(c.clone()); n];
                        run_tasks(callers(), warm).await?;
                        run_tasks(callers(), requests).await
                    }
                }
            })
        }
    };
    match result {
        Ok(run) => run,
        Err(e) => {
            eprintln!("slotline-peers: {side:?} {scenario:?}: {e}");
            std::process::exit(1);
        }
    }
}

/// `redis-benchmark` with the same callers and keys (one connection per caller); `None` if
/// it is not installed.
fn redis_benchmark(scenario: Scenario, servers: &Servers, requests: u64) -> Option<f64> {
    let port = match scenario {
        Scenario::Cluster => servers.cluster.as_ref()?.masters().ok()?.first()?.port(),
        Scenario::Tls => servers.tls_node.as_ref()?.addr().port(),
        _ => servers.node.as_ref()?.addr().port(),
    };
    let mut cmd = Command::new("redis-benchmark");
    if scenario == Scenario::Cluster {
        cmd.arg("--cluster");
    }
    if scenario == Scenario::Tls {
        let files = servers.tls_node.as_ref()?.tls_files()?;
        cmd.arg("--tls").arg("--cacert").arg(&files.ca_cert);
        cmd.arg("--cert").arg(&files.client_cert);
        cmd.arg("--key").arg(&files.client_key);
    }
    let out = cmd
        .args(["-p", &port.to_string()])
        .args(["-c", &scenario.callers().to_string()])
        .args(["-n", &requests.to_string()])
        .args(["-r", &KEYSPACE.to_string(), "-t", "get", "--csv"])
        .output()
        .ok()?;
    // "GET","123456.78",...
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("\"GET"))?
        .split(',')
        .nth(1)?
        .trim_matches('"')
        .parse()
        .ok()
}

fn format_row(scenario: Scenario, flavour: Option<Flavour>, row: &Row) -> String {
    let rates = |runs: &[Run]| runs.iter().map(Run::rate).collect::<Vec<_>>();
    let sl = median(rates(&row.slotline));
    let rr = median(rates(&row.redis_rs));
    let per_run: Vec<String> = row
        .slotline
        .iter()
        .zip(&row.redis_rs)
        .map(|(a, b)| format!("{:.2}", a.rate() / b.rate().max(1e-9)))
        .collect();
    let cpu = |runs: &[Run]| {
        let v: Vec<f64> = runs.iter().filter_map(Run::cpu_per_request).collect();
        if v.is_empty() {
            "n/a".to_string()
        } else {
            format!("{:.2}", median(v))
        }
    };
    let (bench, vs_bench) = if row.benchmark.is_empty() {
        ("n/a".to_string(), "n/a".to_string())
    } else {
        let b = median(row.benchmark.clone());
        (format!("{b:.0}"), format!("{:.2}×", sl / b.max(1e-9)))
    };
    let runtime = match (scenario, flavour) {
        (Scenario::Blocking, _) => "threads (the blocking client's own runtime)".to_string(),
        (_, Some(f)) => f.label(),
        (_, None) => "current-thread".to_string(),
    };
    format!(
        "| {} | {} | {:.0} | {:.0} | **{:.2}×** ({}) | {} | {} | {} / {} |",
        scenario.label(),
        runtime,
        sl,
        rr,
        sl / rr.max(1e-9),
        per_run.join(", "),
        bench,
        vs_bench,
        cpu(&row.slotline),
        cpu(&row.redis_rs),
    )
}

/// What the blocking row's ceiling was in this run (see [`floor`]), against the row's
/// clients and redis-benchmark.
fn floor_note(callers: usize, row: &Row) -> Option<String> {
    if row.floor.is_empty() {
        return None;
    }
    let rates = |runs: &[Run]| median(runs.iter().map(Run::rate).collect());
    let ceiling = median(row.floor.clone());
    let of = |rate: f64| format!("{:.2}×", ceiling / rate.max(1e-9));
    let bench = (!row.benchmark.is_empty()).then(|| median(row.benchmark.clone()));
    Some(format!(
        "Ceiling of the blocking row on this machine (`benches/peers/src/floor.rs`): {} threads that sleep until one thread answers them, with no socket and no server, make {:.0} rounds/s (median of {}: {}): {} the rate of slotline's blocking client, {} that of redis-rs's sync connections{}. No blocking client whose callers sleep while they wait can pass it here.",
        callers,
        ceiling,
        row.floor.len(),
        row.floor.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", "),
        of(rates(&row.slotline)),
        of(rates(&row.redis_rs)),
        bench.map_or(String::new(), |b| format!(", {} redis-benchmark -c {callers}", of(b))),
    ))
}

fn document(opts: &Options, rows: &str, notes: &str) -> String {
    let mut doc = String::new();
    let redis = Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let _ = writeln!(doc, "<!-- peers:begin -->");
    let _ = writeln!(
        doc,
        "Measured with `make bench-peers` (`benches/peers`, redis-rs {}) on {} cores; {}.",
        REDIS_RS_VERSION,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        redis.split(" sha=").next().unwrap_or("redis-server"),
    );
    let _ = writeln!(
        doc,
        "Each row: {} alternating runs per client (a fresh runtime each), medians; the ratio of the medians, then each run's ratio. GET on random keys of {} set keys; redis-benchmark with the same callers (`-c`, one connection each) and `-r {}`. Client CPU: this process's user + system time per request.",
        opts.repeat, KEYSPACE, KEYSPACE
    );
    let _ = writeln!(doc);
    let _ = writeln!(
        doc,
        "| workload | runtime | slotline req/s | redis-rs req/s | slotline ÷ redis-rs (each run) | redis-benchmark req/s | slotline ÷ redis-benchmark | client CPU µs/req: slotline / redis-rs |"
    );
    let _ = writeln!(doc, "|---|---|---|---|---|---|---|---|");
    doc.push_str(rows);
    if !notes.is_empty() {
        let _ = writeln!(doc);
        doc.push_str(notes);
    }
    let _ = writeln!(doc, "<!-- peers:end -->");
    doc
}

/// The redis-rs version this crate's lock file holds.
const REDIS_RS_VERSION: &str = "1.8";

/// Replaces the text between `<!-- peers:begin -->` and `<!-- peers:end -->` in `path`
/// (or appends a section).
fn write_between_markers(path: &str, table: &str) -> std::io::Result<()> {
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    let (begin, end) = ("<!-- peers:begin -->", "<!-- peers:end -->");
    let new = match (doc.find(begin), doc.find(end)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{}{}", &doc[..b], table.trim_end(), &doc[e + end.len()..])
        }
        _ => format!(
            "{}\n## Against redis-rs, every runtime flavour\n\n{}",
            doc.trim_end(),
            table
        ),
    };
    std::fs::write(path, new)
}

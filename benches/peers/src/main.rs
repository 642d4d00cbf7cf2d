//! `slotline-peers`: slotline, redis-rs and fred side by side, in one process, against the
//! same test-bed servers, on every tokio runtime flavour, alone and beside a busy process;
//! `redis-benchmark` beside them.
//!
//! ```text
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- \
//!     [--scenarios node,single,cluster,blocking,tls,resp3,fanout] [--runtimes current,multi:1,multi] \
//!     [--contention quiet,busy] [--repeat 3] [--scale 1.0] [--write BENCHMARKS.md] \
//!     [--only slotline|redis-rs|fred]
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- --codec
//! ```
//!
//! Every row is a scenario ([`scenario::Scenario`]) on a runtime flavour, run quiet and then
//! contended ([`contention`]: every run of the row beside a process of the harness spinning
//! on one core). A row alternates the clients run by run (slotline, redis-rs, fred,
//! redis-benchmark, and again), each run on a fresh runtime and client of the row's flavour
//! ([`sides`]), and keeps the medians: a ratio taken in one run on this noisy machine says
//! more than an absolute figure. Beside the rates it counts what each request cost the client
//! process ([`counters`]): CPU time, write and read system calls and context switches over
//! all its threads, and the servers' context switches. Beside the blocking rows it measures
//! their ceiling on this machine ([`floor`]) and says it under the tables ([`table`]).
//! `--only` runs one side and prints its rates, for profiling that client. `--codec` compares
//! RESP3 decoders instead ([`codec`]).

mod benchmark;
mod clients;
mod codec;
mod contention;
mod counters;
mod fanout;
mod floor;
mod load;
mod scenario;
mod servers;
mod sides;
mod table;

use contention::Contention;
use scenario::{Flavour, Scenario};
use servers::Servers;
use sides::{run_side, Side};
use table::{Label, Row};

/// The command line.
struct Options {
    scenarios: Vec<Scenario>,
    flavours: Vec<Flavour>,
    /// Each row once per entry, in this order.
    contention: Vec<Contention>,
    repeat: usize,
    scale: f64,
    write: Option<String>,
    /// Only this side, for profiling one client (`--only slotline|redis-rs|fred`): no table.
    only: Option<Side>,
}

/// Reads the command line.
fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        scenarios: vec![
            Scenario::Node,
            Scenario::Single,
            Scenario::Cluster,
            Scenario::Blocking,
            Scenario::Tls,
            Scenario::Resp3,
            Scenario::Fanout,
            Scenario::Hot,
            Scenario::Cached,
        ],
        flavours: vec![
            Flavour::Current,
            Flavour::Multi(Some(1)),
            Flavour::Multi(None),
        ],
        contention: vec![Contention::Quiet, Contention::Busy],
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
            "--contention" => {
                o.contention = value()?
                    .split(',')
                    .map(Contention::parse)
                    .collect::<Result<_, _>>()?
            }
            "--repeat" => o.repeat = value()?.parse().map_err(|e| format!("--repeat: {e}"))?,
            "--scale" => o.scale = value()?.parse().map_err(|e| format!("--scale: {e}"))?,
            "--write" => o.write = Some(value()?),
            "--only" => o.only = Some(Side::parse(&value()?)?),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    o.repeat = o.repeat.max(1);
    Ok(o)
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some(contention::SPIN_ARG) {
        contention::spin();
    }
    if std::env::args().nth(1).as_deref() == Some("--codec") {
        codec::run();
        return;
    }
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("slotline-peers: {e}");
            std::process::exit(2);
        }
    };
    // redis-rs and fred build their rustls configurations on the process's default provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let servers = Servers::start(&opts.scenarios);
    servers.fill_keys();
    // The two tables' lines, and what is said below them.
    let (mut rates, mut costs, mut notes) = (String::new(), String::new(), String::new());
    for &scenario in &opts.scenarios {
        let flavours = match scenario {
            // Threads on the blocking client's own runtime: no flavour to choose.
            Scenario::Blocking => vec![None],
            _ => opts.flavours.iter().copied().map(Some).collect(),
        };
        for flavour in flavours {
            for &contention in &opts.contention {
                let label = Label {
                    scenario,
                    flavour,
                    contention,
                };
                let requests = (scenario.requests() as f64 * opts.scale).max(1000.0) as u64;
                // Spins through every run of the row; killed when the row is done.
                let spinner = match contention.start() {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("slotline-peers: cannot start the spinner: {e}");
                        std::process::exit(1);
                    }
                };
                if let Some(side) = opts.only {
                    for _ in 0..opts.repeat {
                        let Some(run) = run_side(side, scenario, flavour, &servers, requests)
                        else {
                            println!("{side:?} {scenario:?}: no client");
                            break;
                        };
                        println!(
                            "{side:?} {scenario:?} {flavour:?} {}: {:.0} req/s",
                            contention.label(),
                            run.rate()
                        );
                    }
                    continue;
                }
                let row = run_row(scenario, flavour, &servers, requests, opts.repeat);
                drop(spinner);
                for (out, line) in [
                    (&mut rates, table::rates_line(label, &row)),
                    (&mut costs, table::costs_line(label, &row)),
                ] {
                    eprintln!("{line}");
                    out.push_str(&line);
                    out.push('\n');
                }
                if let Some(note) = table::floor_note(label, &row) {
                    eprintln!("{note}");
                    notes.push_str(&note);
                    notes.push('\n');
                }
            }
        }
    }
    if opts.only.is_some() {
        return;
    }
    let doc = table::document(opts.repeat, &rates, &costs, &notes);
    print!("{doc}");
    if let Some(path) = &opts.write {
        if let Err(e) = table::write_between_markers(path, &doc) {
            eprintln!("slotline-peers: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
}

/// A row's runs: `repeat` rounds of slotline, redis-rs, fred and redis-benchmark, and of the
/// ceiling in the blocking rows.
fn run_row(
    scenario: Scenario,
    flavour: Option<Flavour>,
    servers: &Servers,
    requests: u64,
    repeat: usize,
) -> Row {
    let mut row = Row::default();
    for _ in 0..repeat {
        for (side, runs) in [
            (Side::Slotline, &mut row.slotline),
            (Side::RedisRs, &mut row.redis_rs),
            (Side::Fred, &mut row.fred),
        ] {
            runs.extend(run_side(side, scenario, flavour, servers, requests));
        }
        if let Some(rate) = benchmark::redis_benchmark(scenario, servers, requests) {
            row.benchmark.push(rate);
        }
        if scenario == Scenario::Blocking {
            row.floor
                .push(floor::parked_rounds(scenario.callers(), requests));
        }
    }
    row
}

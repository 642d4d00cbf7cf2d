//! The section written into BENCHMARKS.md: a throughput table and a per-request cost table
//! with the same row labels, the blocking rows' ceilings under them, between
//! `<!-- peers:begin -->` and `<!-- peers:end -->`.

use std::fmt::Write as _;
use std::process::Command;

use crate::contention::Contention;
use crate::counters::{READ_CALLS, WRITE_CALLS};
use crate::load::{Run, KEYSPACE};
use crate::scenario::{Flavour, Scenario};

/// The redis-rs version this crate's lock file holds.
const REDIS_RS_VERSION: &str = "1.8";

/// The fred version this crate's lock file holds.
const FRED_VERSION: &str = "10.1";

/// What a row is: the first three cells of both tables.
#[derive(Debug, Clone, Copy)]
pub struct Label {
    /// The workload.
    pub scenario: Scenario,
    /// The runtime (`None` for the blocking rows).
    pub flavour: Option<Flavour>,
    /// Alone or beside a spinner.
    pub contention: Contention,
}

impl Label {
    /// `| workload | runtime | load |`.
    fn cells(&self) -> String {
        let runtime = match (self.scenario, self.flavour) {
            (Scenario::Blocking, _) => "threads (the blocking client's own runtime)".to_string(),
            (_, Some(f)) => f.label(),
            (_, None) => "current-thread".to_string(),
        };
        format!(
            "| {} | {} | {} |",
            self.scenario.label(),
            runtime,
            self.contention.label()
        )
    }
}

/// One row's runs.
#[derive(Default)]
pub struct Row {
    /// slotline's runs.
    pub slotline: Vec<Run>,
    /// redis-rs's runs.
    pub redis_rs: Vec<Run>,
    /// fred's runs (none in the blocking rows).
    pub fred: Vec<Run>,
    /// redis-benchmark's rates, each run.
    pub benchmark: Vec<f64>,
    /// Blocking rows: [`crate::floor::parked_rounds`] with the same callers, each run.
    pub floor: Vec<f64>,
}

/// The median (the upper one of an even count); 0 for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The median of `f` over `runs`; `None` if no run has it.
fn median_of(runs: &[Run], f: impl Fn(&Run) -> Option<f64>) -> Option<f64> {
    let v: Vec<f64> = runs.iter().filter_map(f).collect();
    (!v.is_empty()).then(|| median(v))
}

/// The median rate of `runs`; `None` for no runs.
fn rate(runs: &[Run]) -> Option<f64> {
    median_of(runs, |r| Some(r.rate()))
}

/// `**1.23×** (1.20, 1.25, ...)`: slotline's median over `other`'s, then each run's ratio.
fn ratio(slotline: &[Run], other: &[Run]) -> String {
    let (Some(a), Some(b)) = (rate(slotline), rate(other)) else {
        return "n/a".to_string();
    };
    let per_run: Vec<String> = slotline
        .iter()
        .zip(other)
        .map(|(a, b)| format!("{:.2}", a.rate() / b.rate().max(1e-9)))
        .collect();
    format!("**{:.2}×** ({})", a / b.max(1e-9), per_run.join(", "))
}

/// A number with `decimals`, or n/a.
fn figure(v: Option<f64>, decimals: usize) -> String {
    v.map_or("n/a".to_string(), |v| format!("{v:.decimals$}"))
}

/// The throughput table's line of a row.
pub fn rates_line(label: Label, row: &Row) -> String {
    let sl = rate(&row.slotline);
    let (bench, vs_bench) = if row.benchmark.is_empty() {
        ("n/a".to_string(), "n/a".to_string())
    } else {
        let b = median(row.benchmark.clone());
        (
            format!("{b:.0}"),
            figure(sl.map(|s| s / b.max(1e-9)), 2) + "×",
        )
    };
    format!(
        "{} {} | {} | {} | {} | {} | {} | {} |",
        label.cells(),
        figure(sl, 0),
        figure(rate(&row.redis_rs), 0),
        figure(rate(&row.fred), 0),
        ratio(&row.slotline, &row.redis_rs),
        ratio(&row.slotline, &row.fred),
        bench,
        vs_bench,
    )
}

/// The cost table's line of a row: each cell slotline / redis-rs / fred.
pub fn costs_line(label: Label, row: &Row) -> String {
    let cell = |f: fn(&Run) -> Option<f64>, decimals: usize| {
        [&row.slotline, &row.redis_rs, &row.fred]
            .map(|runs| figure(median_of(runs, f), decimals))
            .join(" / ")
    };
    format!(
        "{} {} | {} | {} | {} | {} |",
        label.cells(),
        cell(Run::cpu_per_request, 2),
        cell(Run::writes_per_request, 3),
        cell(Run::reads_per_request, 3),
        cell(Run::switches_per_request, 3),
        cell(Run::server_switches_per_request, 3),
    )
}

/// What the blocking row's ceiling was in this run (see [`crate::floor`]), against the row's
/// clients and redis-benchmark.
pub fn floor_note(label: Label, row: &Row) -> Option<String> {
    if row.floor.is_empty() {
        return None;
    }
    let callers = label.scenario.callers();
    let ceiling = median(row.floor.clone());
    let of = |rate: Option<f64>| figure(rate.map(|r| ceiling / r.max(1e-9)), 2) + "×";
    let bench = (!row.benchmark.is_empty()).then(|| median(row.benchmark.clone()));
    Some(format!(
        "Ceiling of the blocking row ({}) on this machine (`benches/peers/src/floor.rs`): {} threads that sleep until one thread answers them, with no socket and no server, make {:.0} rounds/s (median of {}: {}): {} the rate of slotline's blocking client, {} that of redis-rs's sync connections{}. No blocking client whose callers sleep while they wait can pass it here.",
        label.contention.label(),
        callers,
        ceiling,
        row.floor.len(),
        row.floor.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", "),
        of(rate(&row.slotline)),
        of(rate(&row.redis_rs)),
        bench.map_or(String::new(), |b| format!(", {} redis-benchmark -c {callers}", of(Some(b)))),
    ))
}

/// The whole section, markers included: `rates` and `costs` are the tables' lines.
pub fn document(repeat: usize, rates: &str, costs: &str, notes: &str) -> String {
    let mut doc = String::new();
    let redis = Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let _ = writeln!(doc, "<!-- peers:begin -->");
    let _ = writeln!(
        doc,
        "Measured with `make bench-peers` (`benches/peers`, redis-rs {}, fred {}) on {} cores; {}.",
        REDIS_RS_VERSION,
        FRED_VERSION,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        redis.split(" sha=").next().unwrap_or("redis-server"),
    );
    let _ = writeln!(
        doc,
        "Each row: {repeat} alternating runs per client (slotline, redis-rs, fred, redis-benchmark, and again; a fresh runtime and client each), medians; the ratio of the medians, then each run's ratio. GET on random keys of {KEYSPACE} set keys, each client cloned into every task and the reply read as `Option<Vec<u8>>`; redis-benchmark with the same callers (`-c`, one connection each) and `-r {KEYSPACE}`. Quiet rows run alone; busy rows run every run of the row (every side, redis-benchmark too) beside a process of the harness that spins on one core. fred has no blocking client: n/a."
    );
    let _ = writeln!(doc);
    let _ = writeln!(
        doc,
        "| workload | runtime | load | slotline req/s | redis-rs req/s | fred req/s | slotline ÷ redis-rs (each run) | slotline ÷ fred (each run) | redis-benchmark req/s | slotline ÷ redis-benchmark |"
    );
    let _ = writeln!(doc, "|---|---|---|---|---|---|---|---|---|---|");
    doc.push_str(rates);
    let _ = writeln!(doc);
    let _ = writeln!(
        doc,
        "Per request, the same rows (each cell: slotline / redis-rs / fred, medians of the runs), over the measured run only (the warm-up left out) and every thread of the client process (`perf_event_open`, inherited, `benches/peers/src/counters.rs`). Client CPU: the process's user + system time. Write calls: {}; read calls: {}; on any descriptor (sockets, and the runtime's eventfd wake-ups), failed calls (`EAGAIN`) included. Context switches: of the client's threads, and of the redis-servers' threads (`/proc`).",
        WRITE_CALLS.map(|c| format!("`{c}`")).join(", "),
        READ_CALLS.map(|c| format!("`{c}`")).join(", "),
    );
    let _ = writeln!(doc);
    let _ = writeln!(
        doc,
        "| workload | runtime | load | client CPU µs/req | write calls/req | read calls/req | client context switches/req | server context switches/req |"
    );
    let _ = writeln!(doc, "|---|---|---|---|---|---|---|---|");
    doc.push_str(costs);
    if !notes.is_empty() {
        let _ = writeln!(doc);
        doc.push_str(notes);
    }
    let _ = writeln!(doc, "<!-- peers:end -->");
    doc
}

/// Replaces the text between `<!-- peers:begin -->` and `<!-- peers:end -->` in `path`
/// (or appends a section).
pub fn write_between_markers(path: &str, table: &str) -> std::io::Result<()> {
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    let (begin, end) = ("<!-- peers:begin -->", "<!-- peers:end -->");
    let new = match (doc.find(begin), doc.find(end)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{}{}", &doc[..b], table.trim_end(), &doc[e + end.len()..])
        }
        _ => format!(
            "{}\n## Against redis-rs and fred, every runtime flavour\n\n{}",
            doc.trim_end(),
            table
        ),
    };
    std::fs::write(path, new)
}

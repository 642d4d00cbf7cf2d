//! The per-node table `slotline stats` prints, and the per-node latency lines of
//! `slotline bench`, from a client's [`ClientMetrics`].

use std::fmt::Write as _;
use std::time::Duration;

use slotline_conn::metrics::{ClientMetrics, Latency};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One node's latency, as `bench` prints it under its summary line.
pub(super) fn latency_line(node: &str, latency: &Latency) -> String {
    format!(
        "  {node}: {} requests, p50={:.3} msec, p99={:.3} msec, p99.9={:.3} msec",
        latency.count(),
        ms(latency.percentile(50.0)),
        ms(latency.percentile(99.0)),
        ms(latency.percentile(99.9)),
    )
}

/// Every node's counters and percentiles, a total row, and what the client decided.
pub(super) fn table(m: &ClientMetrics) -> String {
    let mut out = format!(
        "{:<24} {:>10} {:>7} {:>8} {:>8} {:>9} {:>9} {:>10} {:>10} {:>10} {:>7}\n",
        "node",
        "requests",
        "errors",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "in flight",
        "sent KiB",
        "recv KiB",
        "reconnects",
        "resends"
    );
    let total = m.total();
    let rows = m
        .nodes
        .iter()
        .map(|(a, n)| (a.to_string(), n))
        .chain(std::iter::once(("total".to_string(), &total)));
    for (node, n) in rows {
        let _ = writeln!(
            out,
            "{:<24} {:>10} {:>7} {:>8.3} {:>8.3} {:>9.3} {:>9} {:>10.1} {:>10.1} {:>10} {:>7}",
            node,
            n.requests,
            n.error_count(),
            ms(n.latency.percentile(50.0)),
            ms(n.latency.percentile(99.0)),
            ms(n.latency.percentile(99.9)),
            n.in_flight,
            n.bytes_out as f64 / 1024.0,
            n.bytes_in as f64 / 1024.0,
            n.reconnects,
            n.resends,
        );
    }
    if !total.errors.is_empty() {
        let kinds: Vec<String> = total
            .errors
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(out, "errors: {}", kinds.join(", "));
    }
    let _ = write!(
        out,
        "redirects: MOVED {}, ASK {}; slot maps loaded {}; failovers followed {}",
        m.moved, m.asked, m.refreshes, m.failovers
    );
    out
}

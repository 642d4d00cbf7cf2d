//! A client's metrics through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`), for whichever exporter the application installed (Prometheus,
//! OpenTelemetry, StatsD, ...). The client counts in its own atomics at every request
//! (always on, see [`Client::metrics`]); publishing reads them now and then, so the facade
//! costs the requests nothing.
//!
//! Published, each with the labels `client` (a name given) and `node` (`host:port`):
//! counters `slotline_requests_total`, `slotline_errors_total` (and `kind`),
//! `slotline_bytes_sent_total`, `slotline_bytes_received_total`,
//! `slotline_reconnects_total`, `slotline_resends_total`; gauges `slotline_in_flight`,
//! `slotline_queued`, and `slotline_request_duration_seconds` with `quantile` (0.5, 0.9,
//! 0.99, 0.999, of every request so far); per client (label `client` only):
//! `slotline_redirects_total` (`kind` = `moved`|`ask`), `slotline_slot_maps_loaded_total`,
//! `slotline_failovers_total`.

use std::time::Duration;

use slotline_conn::metrics::ClientMetrics;

use crate::Client;

/// The quantiles published for each node's latency.
const QUANTILES: [(f64, &str); 4] = [
    (50.0, "0.5"),
    (90.0, "0.9"),
    (99.0, "0.99"),
    (99.9, "0.999"),
];

/// Publishes `metrics` once, under the label `client = name`.
pub fn publish(metrics: &ClientMetrics, name: &str) {
    let client = name.to_string();
    for (addr, m) in &metrics.nodes {
        let labels = [("client", client.clone()), ("node", addr.to_string())];
        let counter = |key: &'static str, v: u64| metrics::counter!(key, &labels).absolute(v);
        counter("slotline_requests_total", m.requests);
        counter("slotline_bytes_sent_total", m.bytes_out);
        counter("slotline_bytes_received_total", m.bytes_in);
        counter("slotline_reconnects_total", m.reconnects);
        counter("slotline_resends_total", m.resends);
        for (kind, n) in &m.errors {
            let mut with_kind = labels.to_vec();
            with_kind.push(("kind", kind.to_string()));
            metrics::counter!("slotline_errors_total", &with_kind).absolute(*n);
        }
        metrics::gauge!("slotline_in_flight", &labels).set(m.in_flight as f64);
        metrics::gauge!("slotline_queued", &labels).set(m.queued as f64);
        if m.latency.count() > 0 {
            for (p, q) in QUANTILES {
                let mut with_q = labels.to_vec();
                with_q.push(("quantile", q.to_string()));
                metrics::gauge!("slotline_request_duration_seconds", &with_q)
                    .set(m.latency.percentile(p).as_secs_f64());
            }
        }
    }
    let labels = [("client", client.clone())];
    for (kind, n) in [("moved", metrics.moved), ("ask", metrics.asked)] {
        let with_kind = [("client", client.clone()), ("kind", kind.to_string())];
        metrics::counter!("slotline_redirects_total", &with_kind).absolute(n);
    }
    metrics::counter!("slotline_slot_maps_loaded_total", &labels).absolute(metrics.refreshes);
    metrics::counter!("slotline_failovers_total", &labels).absolute(metrics.failovers);
}

/// Publishes `client`'s metrics under `name` every `every`, on a task of the current
/// tokio runtime, until the returned handle is aborted or the runtime ends.
///
/// ```no_run
/// # async fn demo() -> slotline::Result<()> {
/// let client = slotline::Client::open("redis://127.0.0.1:6379").await?;
/// // An exporter (metrics-exporter-prometheus, ...) installed as the global recorder first.
/// let export = slotline::metrics_export::spawn(client.clone(), "cache", std::time::Duration::from_secs(10));
/// # export.abort(); Ok(()) }
/// ```
pub fn spawn(client: Client, name: &str, every: Duration) -> tokio::task::JoinHandle<()> {
    let name = name.to_string();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            publish(&client.metrics(), &name);
        }
    })
}

//! What the client shows of itself, against real servers, with a capturing `tracing`
//! subscriber: a span per request with OpenTelemetry's database attributes (GET, a
//! pipeline, a server error, a cluster MGET split over nodes as a parent with a child per
//! node), never an argument value unless asked; the redirect events of a live reshard; the
//! failover events of a sentinel failover and of a cluster failover; the metrics every
//! client keeps, per node, in every mode; and their publication through the `metrics`
//! facade.
//!
//! Each test runs on a current-thread runtime, so that the client's own tasks record on
//! the test's thread, where the capture is installed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::collections::BTreeSet;

use slotline_conn::{cmd, pipe, ClientOptions, Commands, Query};
use support::capture::{Capture, SpanRecord};
use support::{off_runtime, wait_for_async, Mode, MODES};

/// A value no span or event may show.
const SECRET: &str = "s3cr3t-value";

fn with_op<'a>(spans: &'a [SpanRecord], op: &str) -> Vec<&'a SpanRecord> {
    spans
        .iter()
        .filter(|s| s.field("otel.name") == Some(op))
        .collect()
}

/// No span field and no event field holds [`SECRET`].
fn assert_no_secret(capture: &Capture) {
    for s in capture.spans() {
        assert!(
            s.fields.values().all(|v| !v.contains(SECRET)),
            "a span shows an argument: {s:?}"
        );
    }
    for e in capture.events() {
        assert!(
            !e.message.contains(SECRET) && e.fields.values().all(|v| !v.contains(SECRET)),
            "an event shows an argument: {e:?}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_node_request_is_a_span_with_the_database_attributes() {
    let (capture, _guard) = Capture::install();
    let t = support::standalone();
    let c = slotline_conn::Client::connect(t.url().as_str())
        .await
        .unwrap();
    let _: () = c.set("obs:k", SECRET).await.unwrap();
    let v: Option<String> = c.get("obs:k").await.unwrap();
    assert_eq!(v.as_deref(), Some(SECRET));
    let _: ((), Option<String>, i64) = c
        .pipeline(pipe().set("obs:p", SECRET).get("obs:p").incr("obs:n"))
        .await
        .unwrap();
    let e = c
        .query::<i64>(&cmd("LPUSH").arg("obs:k").arg(SECRET))
        .await
        .unwrap_err();
    assert!(e.server_error().is_some(), "{e}");

    let spans = capture.spans();
    let get = with_op(&spans, "GET");
    assert_eq!(get.len(), 1, "{spans:#?}");
    let get = get[0];
    assert_eq!(get.name, "redis");
    for (field, want) in [
        ("otel.kind", "client"),
        ("db.system.name", "redis"),
        ("db.operation.name", "GET"),
        ("db.namespace", "0"),
        ("server.address", &t.addr().ip().to_string()),
        ("server.port", &t.addr().port().to_string()),
    ] {
        assert_eq!(get.field(field), Some(want), "{field}: {get:?}");
    }
    assert_eq!(get.field("error.type"), None);
    assert_eq!(get.field("db.query.text"), None, "no arguments by default");
    let pipeline = with_op(&spans, "PIPELINE");
    assert_eq!(pipeline.len(), 1);
    assert_eq!(pipeline[0].field("db.operation.batch.size"), Some("3"));
    let failed = with_op(&spans, "LPUSH");
    assert_eq!(failed[0].field("error.type"), Some("server"));
    assert_eq!(
        failed[0].field("db.response.status_code"),
        Some("WRONGTYPE")
    );
    assert_no_secret(&capture);

    // The metrics of the same requests.
    let m = c.metrics();
    assert!(m.requests >= 4, "{m:?}");
    assert_eq!(m.errors.get("server"), Some(&1), "{m:?}");
    assert_eq!(m.latency.count(), m.requests);
    assert!(m.latency.percentile(99.0) > std::time::Duration::ZERO);
    assert!(m.bytes_out > 0 && m.bytes_in > 0, "{m:?}");
    assert_eq!((m.in_flight, m.queued), (0, 0));

    // Arguments only when asked for.
    capture.clear();
    let traced = slotline_conn::Client::connect_with(
        t.url().as_str(),
        ClientOptions::default().with_traced_arguments(true),
    )
    .await
    .unwrap();
    let _: Option<String> = traced.get("obs:k").await.unwrap();
    let spans = capture.spans();
    assert_eq!(
        with_op(&spans, "GET")[0].field("db.query.text"),
        Some("GET obs:k")
    );
}

/// The cluster tests, one after the other (they change the one cluster's layout).
#[tokio::test(flavor = "current_thread")]
async fn cluster_spans_and_events() {
    let (capture, _guard) = Capture::install();
    a_split_cluster_request_has_a_child_span_per_node(&capture).await;
    capture.clear();
    redirects_and_failovers_are_events(&capture).await;
}

async fn a_split_cluster_request_has_a_child_span_per_node(capture: &Capture) {
    let cluster = support::cluster();
    let c = slotline::Client::open(&support::cluster_url(""))
        .await
        .unwrap();
    let keys: Vec<String> = (0..12).map(|i| format!("obs:split:{i}")).collect();
    let nodes: BTreeSet<_> = keys
        .iter()
        .map(|k| cluster.slot_owner(cluster.keyslot(k).unwrap()).unwrap())
        .collect();
    assert!(nodes.len() > 1, "the keys span several masters");
    for k in &keys {
        let _: () = c.set(k, SECRET).await.unwrap();
    }
    capture.clear();
    let values: Vec<Option<String>> = c.mget(&keys).await.unwrap();
    assert!(values.iter().all(|v| v.as_deref() == Some(SECRET)));
    let spans = capture.spans();
    let mget = with_op(&spans, "MGET");
    let parent = mget
        .iter()
        .find(|s| s.parent.is_none())
        .unwrap_or_else(|| panic!("a parent MGET span: {spans:#?}"));
    assert_eq!(parent.field("db.system.name"), Some("redis"));
    let children: Vec<_> = spans
        .iter()
        .filter(|s| s.parent == Some(parent.id))
        .collect();
    let ports: BTreeSet<_> = children
        .iter()
        .filter_map(|s| s.field("server.port"))
        .collect();
    assert_eq!(children.len(), nodes.len(), "{spans:#?}");
    assert_eq!(
        ports.len(),
        nodes.len(),
        "one child per node: {children:#?}"
    );
    assert_no_secret(capture);

    let m = c.metrics();
    assert!(m.nodes.len() >= nodes.len(), "{m:?}");
    assert!(m.total().requests >= 12 + children.len() as u64, "{m:?}");
}

/// A live reshard: `ASK` while the slot's keys move, `MOVED` once it moved, each an event
/// with where from and where to; then a cluster failover, found in the next slot map.
async fn redirects_and_failovers_are_events(capture: &Capture) {
    let cluster = support::cluster();
    let c = slotline::Client::open(&support::cluster_url(""))
        .await
        .unwrap();
    let keys: Vec<String> = (0..20).map(|i| format!("{{obs:mig}}:{i}")).collect();
    for k in &keys {
        let _: () = c.set(k, SECRET).await.unwrap();
    }
    let slot = cluster.keyslot(&keys[0]).unwrap();
    let (source, target) = support::owner_and_other(cluster, slot);
    let migration = off_runtime(move || {
        let c = support::cluster();
        let m = c.begin_migration(slot, target).unwrap();
        c.migrate_keys(&m, 10).unwrap();
        m
    })
    .await;
    for k in &keys {
        let v: Option<String> = c.get(k).await.unwrap();
        assert_eq!(v.as_deref(), Some(SECRET));
    }
    off_runtime(move || support::cluster().finish_migration(migration).unwrap()).await;
    for k in &keys {
        let _: Option<String> = c.get(k).await.unwrap();
    }
    let events = capture.events();
    let asked = events
        .iter()
        .find(|e| e.message.starts_with("ASK"))
        .unwrap_or_else(|| panic!("an ASK event: {events:#?}"));
    assert_eq!(asked.fields.get("from"), Some(&source.to_string()));
    assert_eq!(asked.fields.get("to"), Some(&target.to_string()));
    let moved = events
        .iter()
        .find(|e| e.message.starts_with("MOVED"))
        .unwrap_or_else(|| panic!("a MOVED event: {events:#?}"));
    assert_eq!(moved.fields.get("slot"), Some(&slot.to_string()));
    assert_eq!(moved.fields.get("to"), Some(&target.to_string()));
    let m = c.metrics();
    assert!(m.moved >= 1 && m.asked >= 1, "{m:?}");

    // A cluster failover: the next slot map has a replica serving as master.
    let master = cluster.slot_owner(slot).unwrap();
    off_runtime(move || support::cluster().failover_master(master).unwrap()).await;
    wait_for_async("the failover to be followed", || async {
        let _: Option<String> = c.get(&keys[0]).await.ok().flatten();
        if let slotline::Client::Cluster(cc) = &c {
            let _ = cc.refresh().await;
        }
        capture
            .events()
            .iter()
            .any(|e| e.message.starts_with("failover followed"))
    })
    .await;
    assert!(c.metrics().failovers >= 1);
    assert_no_secret(capture);
}

#[tokio::test(flavor = "current_thread")]
async fn a_sentinel_failover_is_an_event() {
    let (capture, _guard) = Capture::install();
    let c = slotline::Client::open(&Mode::SentinelMaster.url())
        .await
        .unwrap();
    let _: () = c.set("obs:sentinel", 1).await.unwrap();
    off_runtime(|| support::wait_failover_followers(support::sentinel(), 1)).await;
    let old = support::sentinel().master_addr().unwrap();
    let new = off_runtime(|| support::sentinel().failover().unwrap()).await;
    assert_ne!(old, new);
    wait_for_async("the client to follow the failover", || async {
        let _: Option<i64> = c.get("obs:sentinel").await.ok().flatten();
        capture
            .events()
            .iter()
            .any(|e| e.message.starts_with("failover followed"))
    })
    .await;
    let events = capture.events();
    let followed = events
        .iter()
        .find(|e| e.message.starts_with("failover followed"))
        .unwrap();
    assert_eq!(followed.fields.get("to"), Some(&new.to_string()));
    wait_for_async("the move to be counted", || async {
        let _: Option<i64> = c.get("obs:sentinel").await.ok().flatten();
        c.metrics().failovers >= 1
    })
    .await;
}

/// Every mode makes a span per request and reads its metrics in one call: each node the
/// client used, its requests and their latencies.
#[tokio::test(flavor = "current_thread")]
async fn every_mode_keeps_metrics_per_node() {
    let (capture, _guard) = Capture::install();
    for mode in MODES {
        let c = slotline::Client::open(&mode.url()).await.unwrap();
        let keys = mode.keys("metrics", 20);
        capture.clear();
        for k in &keys {
            let _: Option<String> = c.get(k).await.unwrap();
        }
        let spans = capture.spans();
        let gets = with_op(&spans, "GET");
        assert!(gets.len() >= 20, "{mode:?}: {spans:#?}");
        assert!(
            gets.iter()
                .all(|s| s.field("db.system.name") == Some("redis")
                    && s.field("db.operation.name") == Some("GET")),
            "{mode:?}: {gets:#?}"
        );
        assert!(
            gets.iter().any(|s| s.field("server.port").is_some()),
            "{mode:?}: a node span: {gets:#?}"
        );
        let m = c.metrics();
        let total = m.total();
        assert!(!m.nodes.is_empty(), "{mode:?}: {m:?}");
        assert!(total.requests >= 20, "{mode:?}: {total:?}");
        assert_eq!(total.latency.count(), total.requests, "{mode:?}");
    }
}

/// A `metrics` recorder that keeps the last value of each counter and gauge, by name and
/// labels (`name{k=v,...}`).
#[derive(Clone, Default)]
struct Seen(std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, f64>>>);

struct Cell(String, Seen);

impl Seen {
    fn get(&self, key: &str) -> Option<f64> {
        self.0.lock().unwrap().get(key).copied()
    }
    fn set(&self, key: &str, v: f64) {
        self.0.lock().unwrap().insert(key.to_string(), v);
    }
    fn cell(&self, key: &metrics::Key) -> std::sync::Arc<Cell> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        std::sync::Arc::new(Cell(name, self.clone()))
    }
}

impl metrics::CounterFn for Cell {
    fn increment(&self, v: u64) {
        let now = self.1.get(&self.0).unwrap_or(0.0);
        self.1.set(&self.0, now + v as f64);
    }
    fn absolute(&self, v: u64) {
        self.1.set(&self.0, v as f64);
    }
}

impl metrics::GaugeFn for Cell {
    fn increment(&self, v: f64) {
        let now = self.1.get(&self.0).unwrap_or(0.0);
        self.1.set(&self.0, now + v);
    }
    fn decrement(&self, v: f64) {
        self.increment(-v);
    }
    fn set(&self, v: f64) {
        self.1.set(&self.0, v);
    }
}

impl metrics::Recorder for Seen {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::from_arc(self.cell(key))
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn metrics_are_published_through_the_facade() {
    let t = support::standalone();
    let c = slotline::Client::open(&t.url()).await.unwrap();
    for _ in 0..5 {
        let _: Option<String> = c.get("obs:published").await.unwrap();
    }
    let _ = c
        .query::<i64>(&cmd("INCRBY").arg("obs:published:n").arg("x"))
        .await
        .unwrap_err();
    let m = c.metrics();
    let seen = Seen::default();
    metrics::with_local_recorder(&seen, || slotline::metrics_export::publish(&m, "app"));
    let node = format!("client=app,node={}", t.addr());
    let requests = seen.get(&format!("slotline_requests_total{{{node}}}"));
    assert_eq!(requests, Some(m.total().requests as f64), "{:?}", seen.0);
    assert!(requests.unwrap() >= 6.0);
    assert_eq!(
        seen.get(&format!(
            "slotline_errors_total{{client=app,kind=server,node={}}}",
            t.addr()
        )),
        Some(1.0),
        "{:?}",
        seen.0
    );
    let p99 = seen
        .get(&format!(
            "slotline_request_duration_seconds{{{node},quantile=0.99}}"
        ))
        .unwrap();
    assert!(p99 > 0.0 && p99 < 5.0, "{p99}");
    assert!(
        seen.get(&format!("slotline_bytes_sent_total{{{node}}}"))
            .unwrap()
            > 0.0
    );
    assert_eq!(seen.get("slotline_failovers_total{client=app}"), Some(0.0));
}

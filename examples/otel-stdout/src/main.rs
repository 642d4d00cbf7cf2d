//! slotline's spans and metrics through OpenTelemetry, printed to stdout.
//!
//! Spans: the `tracing` spans slotline makes for every request (feature `tracing`, on by
//! default) go to OpenTelemetry through `tracing-opentelemetry`; each carries the database
//! attributes (`db.system.name`, `db.operation.name`, `server.address`, ...) and the span
//! name is the operation (`otel.name`). Metrics: observable instruments read the client's
//! own counters (`Client::metrics`, always on) whenever the reader collects, so the
//! requests pay nothing for the export.
//!
//! ```sh
//! cargo run --manifest-path examples/otel-stdout/Cargo.toml -- redis://127.0.0.1:6379
//! ```

use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use slotline::{Client, Commands, Query};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_string());

    // Spans: slotline's `tracing` spans, exported by OpenTelemetry to stdout.
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    let tracer = tracer_provider.tracer("slotline-example");
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .init();

    let client = Client::open(&url).await?;

    // Metrics: the client's counters, read when the reader collects.
    let reader = PeriodicReader::builder(opentelemetry_stdout::MetricExporter::default())
        .with_interval(Duration::from_secs(60))
        .build();
    let meter_provider = SdkMeterProvider::builder().with_reader(reader).build();
    let meter = meter_provider.meter("slotline");
    let per_node = |c: &Client| {
        c.metrics()
            .nodes
            .into_iter()
            .map(|(addr, m)| (vec![KeyValue::new("server.address", addr.to_string())], m))
            .collect::<Vec<_>>()
    };
    let (c1, c2, c3) = (client.clone(), client.clone(), client.clone());
    let _requests = meter
        .u64_observable_counter("slotline.requests")
        .with_description("requests answered or failed, per node")
        .with_callback(move |o| {
            for (labels, m) in per_node(&c1) {
                o.observe(m.requests, &labels);
            }
        })
        .build();
    let _errors = meter
        .u64_observable_counter("slotline.errors")
        .with_callback(move |o| {
            for (labels, m) in per_node(&c2) {
                o.observe(m.error_count(), &labels);
            }
        })
        .build();
    let _p99 = meter
        .f64_observable_gauge("slotline.request.duration.p99")
        .with_unit("s")
        .with_callback(move |o| {
            for (labels, m) in per_node(&c3) {
                o.observe(m.latency.percentile(99.0).as_secs_f64(), &labels);
            }
        })
        .build();

    // Some traffic: each request is a span on stdout.
    client.set("otel:example", "value").await?;
    let _: Option<String> = client.get("otel:example").await?;
    let _: (i64, i64) = client
        .pipeline(&slotline::pipe().incr("otel:n").incr("otel:n"))
        .await?;

    // Flush: the spans (already printed by the simple exporter) and one collection of the
    // metrics.
    meter_provider.force_flush()?;
    meter_provider.shutdown()?;
    tracer_provider.shutdown()?;
    Ok(())
}

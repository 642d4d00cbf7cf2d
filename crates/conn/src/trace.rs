//! What the client shows of itself through the `tracing` crate (feature `tracing`, on by
//! default): a span per request named by its operation, with OpenTelemetry's database
//! attributes, and events for what the client decided. Without a subscriber a span is a
//! check of one static; without the feature nothing is compiled in.
//!
//! Span fields (OpenTelemetry semantic conventions for Redis): `otel.name` (the span's
//! name for OpenTelemetry: the operation), `otel.kind = "client"`, `db.system.name =
//! "redis"`, `db.operation.name` (`GET`, `PIPELINE`, `MULTI`, `SCAN`),
//! `db.operation.batch.size` (a pipeline's commands), `db.namespace` (the database index),
//! `server.address`, `server.port`, and on failure `error.type` (the error's kind) and
//! `db.response.status_code` (a server error's code, `WRONGTYPE`). Argument values never:
//! they hold secrets; `db.query.text` only with
//! [`ClientOptions::trace_arguments`](crate::ClientOptions::trace_arguments).

/// Emits a `tracing` event under the target `slotline` (nothing without the feature).
macro_rules! event {
    ($level:ident, $($rest:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::event!(target: "slotline", tracing::Level::$level, $($rest)*);
    }};
}
pub(crate) use event;

#[cfg(feature = "tracing")]
pub(crate) use spans::*;

#[cfg(feature = "tracing")]
pub(crate) mod spans {
    use slotline_command::{ErrorKind, Request};

    use crate::Addr;

    /// The request's arguments as text, for `db.query.text` (when asked for).
    fn query_text(request: &Request<'_>) -> String {
        let text = |c: &slotline_command::Cmd| {
            c.args()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        match request {
            Request::Command(cmd) => text(cmd),
            Request::Pipeline(p) => p.cmds().iter().map(text).collect::<Vec<_>>().join("; "),
            Request::Scan(_) => "SCAN".to_string(),
        }
    }

    /// The span of one request (a disabled span when no subscriber wants it: nothing
    /// below is evaluated then), with the fields of the module docs; a node client records
    /// its `server.address` and `server.port` on it, and a layer above the node clients
    /// (the cluster's) makes its parent span with it.
    pub fn request_span(request: &Request<'_>, db: i64) -> tracing::Span {
        tracing::info_span!(
            target: "slotline",
            "redis",
            otel.name = %request.operation(),
            otel.kind = "client",
            db.system.name = "redis",
            db.operation.name = %request.operation(),
            db.operation.batch.size = request.batch_size(),
            db.namespace = %db,
            server.address = tracing::field::Empty,
            server.port = tracing::field::Empty,
            db.query.text = tracing::field::Empty,
            db.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        )
    }

    /// [`request_span`] of a request to the node at `addr` (asked only when the span is
    /// recorded), with its arguments when `arguments`.
    pub(crate) fn node_request_span(
        request: &Request<'_>,
        addr: impl Fn() -> Addr,
        db: i64,
        arguments: bool,
    ) -> tracing::Span {
        let span = request_span(request, db);
        if !span.is_disabled() {
            let addr = addr();
            span.record("server.address", host_of(&addr).as_str());
            if let Some(port) = port_of(&addr) {
                span.record("server.port", i64::from(port));
            }
            if arguments {
                span.record("db.query.text", query_text(request).as_str());
            }
        }
        span
    }

    /// Records a request's failure on its span: the error's kind, and a server error's
    /// code (the first word of its `line`).
    pub(crate) fn record_failure(span: &tracing::Span, kind: ErrorKind, line: Option<&[u8]>) {
        span.record("error.type", slotline_command::metrics::kind_name(kind));
        if let Some(code) = line.and_then(|l| l.split(|b| *b == b' ').next()) {
            span.record(
                "db.response.status_code",
                String::from_utf8_lossy(code).as_ref(),
            );
        }
    }

    fn host_of(addr: &Addr) -> String {
        match addr {
            Addr::Tcp { host, .. } => host.clone(),
            other => other.to_string(),
        }
    }

    fn port_of(addr: &Addr) -> Option<u16> {
        match addr {
            Addr::Tcp { port, .. } => Some(*port),
            _ => None,
        }
    }
}

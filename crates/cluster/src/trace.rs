//! The cluster client's spans and events (feature `tracing`): a span per request, parent
//! of the node clients' spans (one per node a split request goes to), and events for
//! redirects, slot maps loaded and failovers found. See `slotline-conn`'s docs for the
//! span fields.

/// Emits a `tracing` event under the target `slotline` (nothing without the feature).
macro_rules! event {
    ($level:ident, $($rest:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::event!(target: "slotline", tracing::Level::$level, $($rest)*);
    }};
}
pub(crate) use event;

/// The span of one cluster request (a disabled span without a subscriber).
#[cfg(feature = "tracing")]
pub(crate) fn request_span(request: &slotline_conn::Request<'_>, db: i64) -> tracing::Span {
    tracing::info_span!(
        target: "slotline",
        "redis",
        otel.name = %request.operation(),
        otel.kind = "client",
        db.system.name = "redis",
        db.operation.name = %request.operation(),
        db.operation.batch.size = request.batch_size(),
        db.namespace = %db,
        error.type = tracing::field::Empty,
    )
}

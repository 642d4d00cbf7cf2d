//! The cluster client's events (feature `tracing`): redirects, slot maps loaded, failovers
//! found. Its span per request is `slotline_conn::request_span`, parent of the node
//! clients' spans (one per node a split request goes to).

/// Emits a `tracing` event under the target `slotline` (nothing without the feature).
macro_rules! event {
    ($level:ident, $($rest:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::event!(target: "slotline", tracing::Level::$level, $($rest)*);
    }};
}
pub(crate) use event;

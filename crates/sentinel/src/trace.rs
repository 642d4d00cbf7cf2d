//! The sentinel clients' events (feature `tracing`): failovers announced and followed,
//! writes held while one is under way. The requests' spans are the node clients'.

/// Emits a `tracing` event under the target `slotline` (nothing without the feature).
macro_rules! event {
    ($level:ident, $($rest:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::event!(target: "slotline", tracing::Level::$level, $($rest)*);
    }};
}
pub(crate) use event;

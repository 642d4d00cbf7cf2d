//! `slotline bench --trace`: a `tracing` subscriber that takes every span and event of
//! the client and formats their fields (into a buffer it then clears), to measure what
//! recording spans costs, as an exporter that formats them would.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// The subscriber: counts what it saw.
#[derive(Default)]
pub(super) struct SpanSink {
    next: AtomicU64,
    events: AtomicU64,
    text: Mutex<String>,
}

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl SpanSink {
    fn format(&self, record: impl FnOnce(&mut Text<'_>)) {
        let mut text = self.text.lock().unwrap_or_else(|p| p.into_inner());
        record(&mut Text(&mut text));
        text.clear();
    }
}

impl Subscriber for SpanSink {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("slotline")
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        self.format(|t| attrs.record(t));
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _span: &Id, values: &Record<'_>) {
        self.format(|t| values.record(t));
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        self.events.fetch_add(1, Ordering::Relaxed);
        self.format(|t| event.record(t));
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

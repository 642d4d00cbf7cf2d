//! A `tracing` subscriber that keeps slotline's spans and events for a test to look at.
//! Installed for the test's thread ([`Capture::install`]); tests using it run on a
//! current-thread runtime, so every task of the client records here.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One span: its name, parent and fields (as text).
#[derive(Debug, Clone)]
pub(crate) struct SpanRecord {
    pub id: u64,
    pub parent: Option<u64>,
    pub name: &'static str,
    pub fields: BTreeMap<String, String>,
}

impl SpanRecord {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// One event: its level, message, fields and the span it happened in.
#[derive(Debug, Clone)]
pub(crate) struct EventRecord {
    pub level: Level,
    pub message: String,
    pub fields: BTreeMap<String, String>,
}

#[derive(Default)]
struct Captured {
    spans: Vec<SpanRecord>,
    events: Vec<EventRecord>,
}

/// The subscriber; clones share what was captured.
#[derive(Clone, Default)]
pub(crate) struct Capture {
    captured: Arc<Mutex<Captured>>,
    next_id: Arc<AtomicU64>,
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Capture {
    /// Installs a new capture as this thread's subscriber until the guard drops.
    pub(crate) fn install() -> (Capture, tracing::subscriber::DefaultGuard) {
        let c = Capture::default();
        let guard = tracing::subscriber::set_default(c.clone());
        (c, guard)
    }

    /// The spans so far.
    pub(crate) fn spans(&self) -> Vec<SpanRecord> {
        self.captured.lock().unwrap().spans.clone()
    }

    /// The events so far.
    pub(crate) fn events(&self) -> Vec<EventRecord> {
        self.captured.lock().unwrap().events.clone()
    }

    /// Forgets what was captured so far.
    pub(crate) fn clear(&self) {
        let mut c = self.captured.lock().unwrap();
        c.spans.clear();
        c.events.clear();
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("slotline")
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let parent = match attrs.parent() {
            Some(p) => Some(p.into_u64()),
            None if attrs.is_contextual() => ENTERED.with(|e| e.borrow().last().copied()),
            None => None,
        };
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.captured.lock().unwrap().spans.push(SpanRecord {
            id,
            parent,
            name: attrs.metadata().name(),
            fields,
        });
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut c = self.captured.lock().unwrap();
        if let Some(s) = c.spans.iter_mut().find(|s| s.id == span.into_u64()) {
            values.record(&mut Fields(&mut s.fields));
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        self.captured.lock().unwrap().events.push(EventRecord {
            level: *event.metadata().level(),
            message,
            fields,
        });
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|e| {
            let mut e = e.borrow_mut();
            if let Some(at) = e.iter().rposition(|s| *s == span.into_u64()) {
                e.remove(at);
            }
        });
    }
}

//! What a client counts about itself, always on, read in one call: per node, a
//! [`Recorder`] of atomics the client adds to as it works (requests, errors by kind,
//! latency, reconnects, resends), read as [`Metrics`] (with the bytes and gauges the
//! connection layer adds); per client, the nodes'
//! metrics with what only the client above them decides (redirects, slot-map refreshes,
//! failovers followed), as [`ClientMetrics`].

mod histogram;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use histogram::{Latency, LatencyHistogram};

use crate::{Addr, ErrorKind};

/// The error kinds counted, by name (a refusal or an unavailability of any reason counts
/// under its kind).
const KINDS: [&str; 12] = [
    "io",
    "protocol",
    "timeout",
    "closed",
    "config",
    "type",
    "server",
    "refused",
    "unavailable",
    "unexpected_reply",
    "internal",
    "not_durable",
];

/// The name an error kind is counted under.
pub fn kind_name(kind: ErrorKind) -> &'static str {
    KINDS[kind_index(kind)]
}

fn kind_index(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::Io => 0,
        ErrorKind::Protocol => 1,
        ErrorKind::Timeout => 2,
        ErrorKind::Closed => 3,
        ErrorKind::Config => 4,
        ErrorKind::Type => 5,
        ErrorKind::Server => 6,
        ErrorKind::Refused(_) => 7,
        ErrorKind::Unavailable(_) => 8,
        ErrorKind::UnexpectedReply => 9,
        ErrorKind::NotDurable => 11,
        _ => 10,
    }
}

/// One node client's counters, added to as it works.
#[derive(Debug, Default)]
pub struct Recorder {
    errors: [AtomicU64; KINDS.len()],
    latency: LatencyHistogram,
    reconnects: AtomicU64,
    moves: AtomicU64,
    resends: AtomicU64,
}

impl Recorder {
    /// One request answered (or failed with `error`) after `took`.
    pub fn request(&self, took: Duration, error: Option<ErrorKind>) {
        self.latency.record(took);
        if let Some(kind) = error {
            self.errors[kind_index(kind)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A connection made again after one was lost; `elsewhere`: to another node than the
    /// last (a failover followed).
    pub fn reconnected(&self, elsewhere: bool) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        if elsewhere {
            self.moves.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request sent again (the resend rule allowed it).
    pub fn resent(&self) {
        self.resends.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now (the gauges and byte counts left at zero for the caller to fill).
    pub fn snapshot(&self) -> Metrics {
        let errors = KINDS
            .iter()
            .zip(&self.errors)
            .map(|(k, n)| (*k, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let latency = self.latency.snapshot();
        Metrics {
            // Every request's latency is counted: their number is the requests'.
            requests: latency.count(),
            errors,
            latency,
            in_flight: 0,
            queued: 0,
            bytes_out: 0,
            bytes_in: 0,
            reconnects: self.reconnects.load(Ordering::Relaxed),
            moves: self.moves.load(Ordering::Relaxed),
            resends: self.resends.load(Ordering::Relaxed),
        }
    }
}

/// What one node client did so far (counters since it was made), and holds now (gauges).
/// Metrics of several nodes add up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Requests answered or failed (a pipeline counts once; a cache hit not at all: see
    /// the cache's own stats).
    pub requests: u64,
    /// Failed requests by kind (`timeout`, `io`, `server`, ...; see [`kind_name`]).
    pub errors: BTreeMap<&'static str, u64>,
    /// How long requests took, from the call to the answer (waits for a connection and
    /// resends included).
    pub latency: Latency,
    /// Requests written and waiting for their replies, now.
    pub in_flight: u64,
    /// Requests waiting to be written, now.
    pub queued: u64,
    /// Bytes written to the server.
    pub bytes_out: u64,
    /// Bytes read from the server.
    pub bytes_in: u64,
    /// Connections made again after one was lost.
    pub reconnects: u64,
    /// Connections made to another node than the last (a sentinel failover followed).
    pub moves: u64,
    /// Requests sent again (on a new connection, as the resend rule allows).
    pub resends: u64,
}

impl Metrics {
    /// Failed requests, of every kind.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

impl std::ops::Add for Metrics {
    type Output = Metrics;

    fn add(mut self, o: Metrics) -> Metrics {
        for (k, n) in o.errors {
            *self.errors.entry(k).or_default() += n;
        }
        Metrics {
            requests: self.requests + o.requests,
            errors: self.errors,
            latency: self.latency + o.latency,
            in_flight: self.in_flight + o.in_flight,
            queued: self.queued + o.queued,
            bytes_out: self.bytes_out + o.bytes_out,
            bytes_in: self.bytes_in + o.bytes_in,
            reconnects: self.reconnects + o.reconnects,
            moves: self.moves + o.moves,
            resends: self.resends + o.resends,
        }
    }
}

impl std::iter::Sum for Metrics {
    fn sum<I: Iterator<Item = Metrics>>(iter: I) -> Metrics {
        iter.fold(Metrics::default(), |a, b| a + b)
    }
}

/// A client's metrics: each node's, and what the client above the nodes decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientMetrics {
    /// Each node the client uses, with its metrics.
    pub nodes: Vec<(Addr, Metrics)>,
    /// `MOVED` replies followed (cluster).
    pub moved: u64,
    /// `ASK` replies followed (cluster).
    pub asked: u64,
    /// Slot maps loaded (cluster).
    pub refreshes: u64,
    /// Failovers followed: a sentinel's `+switch-master`, a new master found in the slot
    /// map.
    pub failovers: u64,
}

impl ClientMetrics {
    /// The metrics of one node client.
    pub fn of_node(addr: Addr, metrics: Metrics) -> Self {
        ClientMetrics {
            nodes: vec![(addr, metrics)],
            ..ClientMetrics::default()
        }
    }

    /// Every node's metrics, summed.
    pub fn total(&self) -> Metrics {
        self.nodes.iter().map(|(_, m)| m.clone()).sum()
    }
}

impl std::ops::Add for ClientMetrics {
    type Output = ClientMetrics;

    fn add(mut self, o: ClientMetrics) -> ClientMetrics {
        self.nodes.extend(o.nodes);
        ClientMetrics {
            nodes: self.nodes,
            moved: self.moved + o.moved,
            asked: self.asked + o.asked,
            refreshes: self.refreshes + o.refreshes,
            failovers: self.failovers + o.failovers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorder_counts_and_sums() {
        let r = Recorder::default();
        r.request(Duration::from_micros(100), None);
        r.request(Duration::from_micros(300), Some(ErrorKind::Timeout));
        r.request(Duration::from_millis(2), Some(ErrorKind::Server));
        r.reconnected(false);
        r.reconnected(true);
        r.resent();
        let m = r.snapshot();
        assert_eq!(m.requests, 3);
        assert_eq!(m.error_count(), 2);
        assert_eq!(m.errors.get("timeout"), Some(&1));
        assert_eq!(m.errors.get("server"), Some(&1));
        assert_eq!((m.reconnects, m.moves, m.resends), (2, 1, 1));
        assert!(m.latency.percentile(100.0) >= Duration::from_millis(2));
        let both = ClientMetrics::of_node(Addr::tcp("a", 1), m.clone())
            + ClientMetrics::of_node(Addr::tcp("b", 1), m);
        let total = both.total();
        assert_eq!((total.requests, total.error_count()), (6, 4));
        assert_eq!(total.latency.count(), 6);
        assert_eq!(both.nodes.len(), 2);
    }

    #[test]
    fn every_kind_has_a_name() {
        assert_eq!(kind_name(ErrorKind::Io), "io");
        assert_eq!(kind_name(ErrorKind::NotDurable), "not_durable");
        assert_eq!(kind_name(ErrorKind::Internal), "internal");
    }
}

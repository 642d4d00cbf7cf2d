//! [`LatencyHistogram`]: request latencies counted in log-linear buckets of atomics (one
//! relaxed add per request, no lock), read as a [`Latency`] with its percentiles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Values below this many nanoseconds get a bucket each.
const EXACT: u64 = 16;
/// Buckets per power of two above [`EXACT`]: a bucket is at most 1/8 (12.5 %) wide.
const SUB: u64 = 8;
/// Powers of two covered above [`EXACT`]: up to 2^40 ns (18 minutes); longer counts as that.
const POWERS: u64 = 36;
/// Every bucket.
const BUCKETS: usize = (EXACT + POWERS * SUB) as usize;

/// The bucket of `nanos`.
fn bucket(nanos: u64) -> usize {
    if nanos < EXACT {
        return nanos as usize;
    }
    let power = 63 - u64::from(nanos.leading_zeros()); // ≥ 4
    let index = EXACT + (power - 4) * SUB + ((nanos >> (power - 3)) & (SUB - 1));
    index.min(BUCKETS as u64 - 1) as usize
}

/// The largest value bucket `index` holds, in nanoseconds.
fn upper_bound(index: usize) -> u64 {
    let index = index as u64;
    if index < EXACT {
        return index;
    }
    let power = (index - EXACT) / SUB + 4;
    let step = 1u64 << (power - 3);
    (SUB + (index - EXACT) % SUB) * step + step - 1
}

/// Request latencies, recorded from any thread.
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.snapshot().count())
            .finish()
    }
}

impl LatencyHistogram {
    /// Counts one request that took `took`.
    pub fn record(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket(nanos)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> Latency {
        Latency {
            counts: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
        }
    }
}

/// Latencies counted so far: their number and percentiles (each within 12.5 % of the
/// true value, never below it). Latencies of several nodes add up.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Latency {
    /// Counts per bucket (empty: none yet).
    counts: Vec<u64>,
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latency")
            .field("count", &self.count())
            .field("p50", &self.percentile(50.0))
            .field("p99", &self.percentile(99.0))
            .field("p999", &self.percentile(99.9))
            .finish()
    }
}

impl Latency {
    /// How many latencies were counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The latency `p` percent of the requests took at most (`p` from 0 to 100), rounded
    /// up to its bucket's bound; zero when none was counted.
    pub fn percentile(&self, p: f64) -> Duration {
        let total = self.count();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * total as f64)
            .ceil()
            .max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_nanos(upper_bound(i));
            }
        }
        Duration::from_nanos(upper_bound(self.counts.len().saturating_sub(1)))
    }

    /// The latencies counted since `earlier` (a snapshot of the same histogram taken
    /// before this one).
    pub fn since(&self, earlier: &Latency) -> Latency {
        let mut counts = self.counts.clone();
        for (a, b) in counts.iter_mut().zip(&earlier.counts) {
            *a = a.saturating_sub(*b);
        }
        Latency { counts }
    }

    /// Each bucket's upper bound and count, for exporters (non-empty buckets only).
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(i, &n)| (Duration::from_nanos(upper_bound(i)), n))
    }
}

impl std::ops::Add for Latency {
    type Output = Latency;

    fn add(mut self, other: Latency) -> Latency {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order_within_an_eighth() {
        let mut last = 0;
        for v in (0..100_000u64).chain([1 << 20, 1 << 30, 1 << 39, (1 << 40) - 1]) {
            let b = bucket(v);
            assert!(b >= last, "{v}");
            last = b;
            let bound = upper_bound(b);
            assert!(bound >= v, "{v} above its bucket's bound {bound}");
            assert!(
                bound - v <= v / 8 + 1,
                "{v}: bucket up to {bound} is too wide"
            );
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_of_known_latencies() {
        let h = LatencyHistogram::default();
        assert_eq!(h.snapshot().percentile(99.0), Duration::ZERO);
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let l = h.snapshot();
        assert_eq!(l.count(), 1000);
        for (p, want) in [(50.0, 500u64), (99.0, 990), (99.9, 999), (100.0, 1000)] {
            let got = l.percentile(p).as_nanos() as u64;
            let want = want * 1000;
            assert!(
                got >= want && got <= want + want / 8,
                "p{p}: {got} for {want}"
            );
        }
        let twice = l.clone() + l.clone();
        assert_eq!(twice.count(), 2000);
        assert_eq!(twice.since(&l), l);
        assert_eq!(twice.buckets().map(|(_, n)| n).sum::<u64>(), 2000);
    }
}

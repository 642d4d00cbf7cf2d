//! The retry budget of one command, the same at every layer, and the one jittered backoff.
//!
//! The rule (which commands may be sent again) is [`Error::is_retryable`](crate::Error):
//! a command never written, or refused by the server before it ran (`MOVED`, `ASK`,
//! `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `READONLY`, `MASTERDOWN`), or one marked
//! [`idempotent`](crate::Cmd::idempotent) after a connection loss. The budget says how
//! often: one [`RetryPolicy`] per command, spent by the layer that routes it (the shared
//! client for one node, the replication router, the sentinel client, the cluster client).
//! The node clients under a routing layer never resend on their own, so budgets are
//! never multiplied by stacking layers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often one command is sent again, and how long to wait in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most `MOVED`/`ASK` redirects followed for one command (cluster).
    pub max_redirects: u32,
    /// Most resends of one command: after a connection loss (a command never written, or
    /// idempotent), a refusal before running (`TRYAGAIN`, `CLUSTERDOWN`, `LOADING`,
    /// `MASTERDOWN`, `READONLY`), a node or replica that could not be reached.
    pub max_retries: u32,
    /// First backoff delay.
    pub backoff_min: Duration,
    /// Longest backoff delay.
    pub backoff_max: Duration,
}

impl Default for RetryPolicy {
    /// 16 redirects, 12 resends, backoff from 10 ms doubling up to 250 ms: enough to ride
    /// out a failover of a few seconds.
    fn default() -> Self {
        RetryPolicy {
            max_redirects: 16,
            max_retries: 12,
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// No resend at all (redirects are still followed).
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// With at most `n` resends.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The delay before retry number `n` (0-based): doubling from `backoff_min`, capped at
    /// `backoff_max`, jittered down by up to half.
    pub fn delay(&self, n: u32) -> Duration {
        backoff_delay(self.backoff_min, self.backoff_max, n)
    }
}

/// Doubling from `min` at each of `n` earlier failures, capped at `max`, then scaled by a
/// random factor in [0.5, 1]: clients that lost the same node spread apart.
pub(crate) fn backoff_delay(min: Duration, max: Duration, n: u32) -> Duration {
    let full = min.saturating_mul(1u32 << n.min(20)).min(max);
    full.mul_f64(0.5 + random_unit() / 2.0)
}

/// A cheap shared pseudo-random number in `[0, 1)` (xorshift; for jitter only).
pub fn random_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        use std::hash::{BuildHasher, Hasher};
        x = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_jitters_and_caps() {
        let p = RetryPolicy::default();
        for n in 0..40 {
            assert!(p.delay(n) <= p.backoff_max);
        }
        assert!(p.delay(0) <= p.backoff_min && p.delay(0) >= p.backoff_min / 2);
        let d2 = p.delay(2);
        assert!(d2 >= p.backoff_min * 2 && d2 <= p.backoff_min * 4, "{d2:?}");
        let u = random_unit();
        assert!((0.0..1.0).contains(&u));
    }
}

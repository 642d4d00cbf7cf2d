//! The retry budget of one command, the same at every layer, and the one jittered backoff.
//!
//! The rule (which commands may be sent again) is [`Error::is_retryable`](crate::Error):
//! a command never written, or refused by the server before it ran (`MOVED`, `ASK`,
//! `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `READONLY`, `MASTERDOWN`), or one marked
//! [`idempotent`](crate::Cmd::idempotent) after a connection loss. The budget says how
//! often: one [`RetryPolicy`] per command, spent by the layer that routes it (the shared
//! client for one node, the replication router, the sentinel client, the cluster client).
//! The node clients under a routing layer never resend on their own, so budgets are
//! never multiplied by stacking layers. [`Resends`] keeps one request's count against
//! the policy and its deadline: a request that did not run waits for its node until its
//! deadline, not a count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often one command is sent again, and how long to wait in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most `MOVED`/`ASK` redirects followed for one command (cluster).
    pub max_redirects: u32,
    /// Most resends of one command that may have run (marked idempotent) after a
    /// connection loss; and, for a request without a response timeout, of one that did
    /// not run: never written, refused before running (`TRYAGAIN`, `CLUSTERDOWN`,
    /// `LOADING`, `MASTERDOWN`, `READONLY`), or for a node that could not be reached. With
    /// a response timeout, such a request is sent again until its deadline (see
    /// [`Resends`]).
    pub max_retries: u32,
    /// First backoff delay.
    pub backoff_min: Duration,
    /// Longest backoff delay.
    pub backoff_max: Duration,
}

impl Default for RetryPolicy {
    /// 16 redirects, 12 resends, backoff from 10 ms doubling up to 250 ms.
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

/// The resends of one request so far, against its [`RetryPolicy`] and its deadline: the
/// one rule every routing layer applies.
///
/// - A request that did not run (never sent, or refused before running) is sent again
///   until its deadline: it waits for the node that will serve it (a master being
///   replaced, a node unreachable, a slot changing owner) as long as its caller waits,
///   not a count of attempts. Without a deadline (no response timeout), the count of
///   [`max_retries`](RetryPolicy::max_retries) bounds it.
/// - A request that may have run is sent again only if the caller marked it idempotent
///   (the layer decides that), within `max_retries` and the deadline.
/// - A final failure ([`Fate::Final`](crate::Fate::Final)) is not sent again.
///
/// ```
/// use std::time::{Duration, Instant};
/// use slotline_command::{Fate, Resends, RetryPolicy};
///
/// let policy = RetryPolicy::default().with_max_retries(1);
/// let now = Instant::now();
/// let deadline = Some(now + Duration::from_secs(5));
/// let mut unsent = Resends::new();
/// for _ in 0..5 {
///     // Not run: sent again past the count, within the deadline.
///     assert!(unsent.next(&policy, Fate::NeverSent, deadline, now).is_some());
/// }
/// let later = now + Duration::from_secs(5);
/// assert_eq!(unsent.next(&policy, Fate::NeverSent, deadline, later), None);
/// let mut ran = Resends::new();
/// assert!(ran.next(&policy, Fate::MayHaveRun, deadline, now).is_some());
/// let again = ran.next(&policy, Fate::MayHaveRun, deadline, now);
/// assert_eq!(again, None, "may have run: the count bounds it");
/// assert_eq!(Resends::new().next(&policy, Fate::Final, None, now), None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resends {
    count: u32,
}

impl Resends {
    /// No resend yet.
    pub fn new() -> Self {
        Resends::default()
    }

    /// How many resends so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// After an attempt that failed at `now` with `fate` (when it may have run, the caller
    /// checked it may be sent again anyway: it is idempotent), for a caller that waits
    /// until `deadline` (none: forever): the delay before sending it again, or `None`
    /// when it is not to be sent again. The delay never reaches past the deadline.
    pub fn next(
        &mut self,
        policy: &RetryPolicy,
        fate: crate::Fate,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Option<Duration> {
        use crate::Fate;
        let delay = policy.delay(self.count);
        let counted = self.count < policy.max_retries;
        let allowed = match (fate, deadline) {
            (Fate::Final, _) => false,
            (Fate::MayHaveRun, Some(at)) => counted && now + delay < at,
            (Fate::NeverSent | Fate::RefusedBeforeRunning, Some(at)) => now + delay < at,
            (_, None) => counted,
        };
        if !allowed {
            return None;
        }
        self.count += 1;
        Some(delay)
    }
}

/// Doubling from `min` at each of `n` earlier failures, capped at `max`, then scaled by a
/// random factor in [0.5, 1]: clients that lost the same node spread apart.
pub(crate) fn backoff_delay(min: Duration, max: Duration, n: u32) -> Duration {
    let full = min.saturating_mul(1u32 << n.min(20)).min(max);
    full.mul_f64(0.5 + random_unit() / 2.0)
}

/// A cheap shared pseudo-random number in `[0, 1)` (xorshift; for jitter only).
pub(crate) fn random_unit() -> f64 {
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

//! [`Backoff`]: capped, jittered exponential delays between attempts (reconnecting,
//! subscribing again, refreshing), and [`Backoff::jitter`] for one random delay.

use std::time::Duration;

use crate::retry::{backoff_delay, random_unit};

/// Delays that double from `min` up to `max`, each scaled by a random factor in [0.5, 1]
/// (the one formula of [`RetryPolicy::delay`](crate::RetryPolicy::delay)).
///
/// ```
/// use std::time::Duration;
/// use slotline_command::Backoff;
/// let mut b = Backoff::new(Duration::from_millis(10), Duration::from_secs(1));
/// assert!(b.next_delay() <= Duration::from_millis(10));
/// assert!(b.next_delay() <= Duration::from_millis(20));
/// b.reset();
/// assert!(b.next_delay() <= Duration::from_millis(10));
/// ```
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Delays from `min` (the first) doubling up to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            failures: 0,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = backoff_delay(self.min, self.max, self.failures);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// Back to the shortest delay, after a success.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// A random delay from zero up to `max`: how long to wait before something many
    /// clients would otherwise do at the same instant (asking for a slot map, say).
    ///
    /// ```
    /// use std::time::Duration;
    /// use slotline_command::Backoff;
    /// assert!(Backoff::jitter(Duration::from_millis(100)) <= Duration::from_millis(100));
    /// ```
    pub fn jitter(max: Duration) -> Duration {
        max.mul_f64(random_unit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_jitters_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(100));
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(5) && delays[0] <= Duration::from_millis(10));
        assert!(delays[2] >= Duration::from_millis(20) && delays[2] <= Duration::from_millis(40));
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(100)));
        assert!(delays[7] >= Duration::from_millis(50));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(10));
    }
}

//! When to refresh the slot map: one refresh at a time, requests coalesced, starts
//! rate-limited and jittered, so that a burst of `MOVED`s costs one `CLUSTER SHARDS`, not
//! a storm of them. Sans-IO: the driver tells it the time.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use slotline_command::Backoff;
use tokio::sync::Notify;
use tokio::time::Instant as TokioInstant;

use crate::registry::lock;
use crate::state::{bump, ClusterState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Pending { at: Instant },
    Running { again: bool },
}

/// Coalesces refresh requests and spaces refreshes out.
#[derive(Debug, Clone)]
pub(crate) struct RefreshScheduler {
    min_interval: Duration,
    jitter: Duration,
    state: State,
    last_start: Option<Instant>,
}

impl RefreshScheduler {
    /// At most one refresh start per `min_interval`; each scheduled refresh waits a random
    /// delay up to `jitter` (so that many clients do not ask at the same instant).
    pub(crate) fn new(min_interval: Duration, jitter: Duration) -> Self {
        RefreshScheduler {
            min_interval,
            jitter,
            state: State::Idle,
            last_start: None,
        }
    }

    fn schedule(&self, now: Instant) -> Instant {
        let jittered = now + Backoff::jitter(self.jitter);
        match self.last_start {
            Some(last) => jittered.max(last + self.min_interval),
            None => jittered,
        }
    }

    /// Asks for a refresh. Returns true when this schedules a new one (the driver should
    /// be woken), false when it joins one already scheduled or running (a request during a
    /// running refresh makes one more follow it, since that one may have read the cluster
    /// before the change).
    pub(crate) fn request(&mut self, now: Instant) -> bool {
        match self.state {
            State::Idle => {
                self.state = State::Pending {
                    at: self.schedule(now),
                };
                true
            }
            State::Pending { .. } => false,
            State::Running { .. } => {
                self.state = State::Running { again: true };
                false
            }
        }
    }

    /// When the scheduled refresh is due, if one is scheduled (and none is running).
    pub(crate) fn due(&self) -> Option<Instant> {
        match self.state {
            State::Pending { at } => Some(at),
            _ => None,
        }
    }

    /// Whether a refresh is running.
    pub(crate) fn is_running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    /// Starts the scheduled refresh if it is due; true when the driver should run it now.
    pub(crate) fn start(&mut self, now: Instant) -> bool {
        match self.state {
            State::Pending { at } if at <= now => {
                self.state = State::Running { again: false };
                self.last_start = Some(now);
                true
            }
            _ => false,
        }
    }

    /// Starts a refresh now whatever the schedule (an explicit refresh asked for by the
    /// user); false if one is running already.
    pub(crate) fn start_now(&mut self, now: Instant) -> bool {
        if self.is_running() {
            return false;
        }
        self.state = State::Running { again: false };
        self.last_start = Some(now);
        true
    }

    /// The running refresh is over. Returns true when another one is scheduled because it
    /// was asked for meanwhile.
    pub(crate) fn finish(&mut self, now: Instant) -> bool {
        let again = matches!(self.state, State::Running { again: true });
        self.state = State::Idle;
        if again {
            self.state = State::Pending {
                at: self.schedule(now),
            };
        }
        again
    }
}

/// The background task that runs refreshes when they are due, until the client is gone.
pub(crate) async fn refresh_task(weak: Weak<ClusterState>, wake: Arc<Notify>) {
    loop {
        let (due, periodic) = match weak.upgrade() {
            None => return,
            Some(inner) => (lock(&inner.scheduler).due(), inner.config.periodic_refresh),
        };
        let woken = wake.notified();
        match (due, periodic) {
            (Some(at), _) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(TokioInstant::from_std(at)) => {}
                    _ = woken => continue,
                }
            }
            (None, Some(every)) => {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {
                        if let Some(inner) = weak.upgrade() {
                            inner.request_refresh();
                        }
                    }
                    _ = woken => {}
                }
                continue;
            }
            (None, None) => {
                woken.await;
                continue;
            }
        }
        let Some(inner) = weak.upgrade() else { return };
        if !lock(&inner.scheduler).start(std::time::Instant::now()) {
            continue;
        }
        let _ = inner.run_refresh().await;
    }
}

impl ClusterState {
    /// Runs the refresh the scheduler just started: asks the cluster for its topology and
    /// installs it (counting the refresh, and the failure if it failed), ends the refresh
    /// in the scheduler (waking the task if another was asked for meanwhile) and tells
    /// those waiting for it.
    pub(crate) async fn run_refresh(&self) -> slotline_conn::Result<()> {
        let result = self.fetch_topology().await;
        bump(&self.counters.refreshes);
        let result = match result {
            Ok(topology) => {
                self.install(&topology);
                Ok(())
            }
            Err(e) => {
                bump(&self.counters.failed_refreshes);
                Err(e)
            }
        };
        if lock(&self.scheduler).finish(std::time::Instant::now()) {
            self.wake.notify_one();
        }
        self.refreshed.send_modify(|n| *n += 1);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousand_requests_are_one_refresh() {
        let mut s = RefreshScheduler::new(Duration::from_millis(250), Duration::ZERO);
        let t0 = Instant::now();
        assert!(s.request(t0)); // schedules one
        for _ in 0..999 {
            assert!(!s.request(t0)); // coalesced into it
        }
        assert!(s.start(t0));
        assert!(!s.request(t0)); // during the refresh: one more, later
        assert!(s.finish(t0));
        assert_eq!(s.due(), Some(t0 + Duration::from_millis(250)));
    }

    #[test]
    fn rate_limited_and_coalesced() {
        let gap = Duration::from_millis(100);
        let mut s = RefreshScheduler::new(gap, Duration::from_millis(10));
        let t0 = Instant::now();
        assert!(s.request(t0));
        let due = s.due().unwrap();
        assert!(due >= t0 && due <= t0 + Duration::from_millis(10));
        assert!(!s.start(t0 - Duration::from_millis(1)));
        assert!(s.start(due));
        assert!(!s.finish(due));
        assert_eq!(s.due(), None);
        // The next one waits for the interval.
        assert!(s.request(due));
        assert!(s.due().unwrap() >= due + gap);
        assert!(!s.start(due + Duration::from_millis(50)));
        assert!(s.start(due + gap + Duration::from_millis(20)));
        assert!(!s.start_now(due + gap));
    }
}

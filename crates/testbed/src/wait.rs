//! Polling with a deadline: every readiness and fault wait goes through here.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::process::Process;

/// How often conditions are polled.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// One look at a condition.
pub(crate) enum Poll<T> {
    /// It holds; here is the result.
    Ready(T),
    /// Not yet: what is missing, and the log tail of the node concerned (may be empty).
    Pending { reason: String, log: String },
}

impl<T> Poll<T> {
    /// Not yet, because of `reason`, on `node` (whose log tail goes into a timeout error).
    pub(crate) fn pending(reason: impl Into<String>, node: Option<&Process>) -> Poll<T> {
        Poll::Pending {
            reason: reason.into(),
            log: node.map(Process::log_for_error).unwrap_or_default(),
        }
    }
}

/// Polls `f` every [`POLL_INTERVAL`] until it is ready, an error is returned, or `timeout`
/// passes (then a [`Error::Timeout`] with the last reason and log tail).
pub(crate) fn poll_until<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<Poll<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        match f()? {
            Poll::Ready(t) => return Ok(t),
            Poll::Pending { reason, log } => {
                if Instant::now() >= deadline {
                    return Err(Error::Timeout {
                        what: what.to_string(),
                        after: timeout,
                        last: reason,
                        log,
                    });
                }
            }
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

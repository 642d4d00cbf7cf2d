//! What to do with the outcome of one attempt: the redirect and retry rules, sans-IO.

use std::time::{Duration, Instant};

use slotline_command::Resends;
use slotline_conn::{Addr, Error, Fate, RetryPolicy, ServerErrorKind};

/// What happened to one attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome<'a> {
    /// The node answered: the line of its error reply, if it answered with one.
    Reply(Option<&'a [u8]>),
    /// The request failed on the client side or on the way (I/O, timeout, closed, ...).
    Failed(&'a Error),
    /// No node serves the slot (as far as the map knows): nothing was sent.
    NoNode,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Hand the outcome to the caller.
    Done,
    /// `MOVED`: patch the slot, refresh the map later, resend to the new owner now.
    Moved {
        /// The slot that moved.
        slot: u16,
        /// Its owner now.
        addr: Addr,
    },
    /// `ASK`: resend once to this node, preceded by `ASKING`; the map stays as it is.
    Ask {
        /// The node importing the slot.
        addr: Addr,
    },
    /// Wait, then resend to where the map says now.
    Retry {
        /// How long to wait.
        delay: Duration,
        /// Whether the map should be refreshed (a node unreachable, the cluster down).
        refresh: bool,
    },
}

/// The parsed address of a redirect; an empty host (`MOVED 1 :7001`) is the host of the
/// node that answered.
pub(crate) fn redirect_addr(addr: &str, answered: &Addr) -> Option<Addr> {
    let (host, port) = addr.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return answered.host().map(|host| Addr::tcp(host, port));
    }
    Some(Addr::tcp(host, port))
}

/// The kind of a cluster error reply, parsed only for error lines that may be one.
#[cfg(test)]
pub(crate) fn cluster_error_kind(frame: &slotline_conn::Frame) -> Option<ServerErrorKind> {
    cluster_error_line_kind(frame.error_line()?)
}

/// [`cluster_error_kind`] of an error reply's line.
pub(crate) fn cluster_error_line_kind(line: &[u8]) -> Option<ServerErrorKind> {
    let first = *line.first()?;
    if !matches!(first, b'M' | b'A' | b'T' | b'C' | b'L' | b'R' | b'U') {
        return None;
    }
    let kind = ServerErrorKind::parse(line);
    kind.refused_before_running().then_some(kind)
}

/// The attempts of one command so far: applies the retry rule and the limits (redirects
/// by count; resends by [`Resends`]: a command that did not run waits for its node until
/// its deadline).
#[derive(Debug, Clone, Default)]
pub(crate) struct Attempts {
    redirects: u32,
    resends: Resends,
}

impl Attempts {
    /// A fresh count.
    pub(crate) fn new() -> Self {
        Attempts::default()
    }

    /// Decides what follows `outcome` of an attempt answered by (or sent to) `node`, for a
    /// caller that waits until `deadline`, at the time `now` reads (only when a resend is
    /// weighed). `idempotent`: the caller said the command may run twice, so it may be
    /// resent after a connection loss even if it may have run.
    pub(crate) fn decide(
        &mut self,
        policy: &RetryPolicy,
        outcome: Outcome<'_>,
        node: Option<&Addr>,
        idempotent: bool,
        deadline: Option<Instant>,
        now: impl Fn() -> Instant,
    ) -> Decision {
        match outcome {
            Outcome::Reply(error) => {
                let Some(kind) = error.and_then(cluster_error_line_kind) else {
                    return Decision::Done;
                };
                match kind {
                    ServerErrorKind::Moved { slot, addr } | ServerErrorKind::Ask { slot, addr }
                        if self.redirects >= policy.max_redirects =>
                    {
                        let _ = (slot, addr);
                        Decision::Done
                    }
                    ServerErrorKind::Moved { slot, addr } => {
                        let unknown = Addr::tcp("", 0);
                        match redirect_addr(&addr, node.unwrap_or(&unknown)) {
                            Some(addr) => {
                                self.redirects += 1;
                                Decision::Moved { slot, addr }
                            }
                            None => Decision::Done,
                        }
                    }
                    ServerErrorKind::Ask { addr, .. } => {
                        let unknown = Addr::tcp("", 0);
                        match redirect_addr(&addr, node.unwrap_or(&unknown)) {
                            Some(addr) => {
                                self.redirects += 1;
                                Decision::Ask { addr }
                            }
                            None => Decision::Done,
                        }
                    }
                    ServerErrorKind::ClusterDown
                    | ServerErrorKind::ReadOnly
                    | ServerErrorKind::Demoted => {
                        self.retry(policy, true, Fate::RefusedBeforeRunning, (deadline, now))
                    }
                    // TRYAGAIN (a multi-key command mid-migration), LOADING, MASTERDOWN.
                    _ => self.retry(policy, false, Fate::RefusedBeforeRunning, (deadline, now)),
                }
            }
            Outcome::NoNode => self.retry(policy, true, Fate::NeverSent, (deadline, now)),
            Outcome::Failed(error) if error.is_retryable() => {
                self.retry(policy, true, error.fate(), (deadline, now))
            }
            // A connection lost after the command was written: only if it may run twice.
            Outcome::Failed(error) if error.may_resend(idempotent) => {
                self.retry(policy, true, error.fate(), (deadline, now))
            }
            Outcome::Failed(_) => Decision::Done,
        }
    }

    fn retry(
        &mut self,
        policy: &RetryPolicy,
        refresh: bool,
        fate: Fate,
        (deadline, now): (Option<Instant>, impl Fn() -> Instant),
    ) -> Decision {
        match self.resends.next(policy, fate, deadline, now()) {
            Some(delay) => Decision::Retry { delay, refresh },
            None => Decision::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use slotline_conn::Frame;

    use super::*;

    #[test]
    fn redirects_and_limits() {
        let policy = RetryPolicy {
            max_redirects: 2,
            max_retries: 2,
            ..RetryPolicy::default()
        };
        let node = Addr::tcp("10.0.0.1", 7000);
        // An attempt answered with `error` (an error reply's line), or with no error.
        let answered = |a: &mut Attempts, error: Option<&str>| {
            a.decide(
                &policy,
                Outcome::Reply(error.map(str::as_bytes)),
                Some(&node),
                false,
                None,
                Instant::now,
            )
        };
        let moved = Some("MOVED 3999 10.0.0.2:7001");
        let down = Some("CLUSTERDOWN The cluster is down");
        let mut a = Attempts::new();
        assert_eq!(
            answered(&mut a, moved),
            Decision::Moved {
                slot: 3999,
                addr: Addr::tcp("10.0.0.2", 7001)
            }
        );
        assert_eq!(
            answered(&mut a, Some("ASK 3999 :7002")),
            Decision::Ask {
                addr: Addr::tcp("10.0.0.1", 7002)
            }
        );
        assert_eq!(answered(&mut a, moved), Decision::Done);
        assert!(matches!(
            answered(
                &mut a,
                Some("TRYAGAIN Multiple keys request during rehashing of slot")
            ),
            Decision::Retry { refresh: false, .. }
        ));
        assert!(matches!(
            answered(&mut a, down),
            Decision::Retry { refresh: true, .. }
        ));
        assert_eq!(answered(&mut a, down), Decision::Done);
        assert_eq!(answered(&mut Attempts::new(), None), Decision::Done);
        assert_eq!(
            answered(
                &mut Attempts::new(),
                Some("WRONGTYPE Operation against a key")
            ),
            Decision::Done
        );
        // `cluster_error_kind` reads a frame the same way: only error frames have a kind.
        assert!(cluster_error_kind(&Frame::error("MOVED 1 h:1")).is_some());
        assert!(cluster_error_kind(&Frame::simple("MOVED 1 h:1")).is_none());
    }

    #[test]
    fn the_retry_rule() {
        let policy = RetryPolicy::default();
        let unsent = Error::closed(false);
        let sent = Error::closed(true);
        let mut a = Attempts::new();
        assert!(matches!(
            a.decide(
                &policy,
                Outcome::Failed(&unsent),
                None,
                false,
                None,
                Instant::now
            ),
            Decision::Retry { refresh: true, .. }
        ));
        assert_eq!(
            a.decide(
                &policy,
                Outcome::Failed(&sent),
                None,
                false,
                None,
                Instant::now
            ),
            Decision::Done
        );
        assert!(matches!(
            a.decide(
                &policy,
                Outcome::Failed(&sent),
                None,
                true,
                None,
                Instant::now
            ),
            Decision::Retry { .. }
        ));
        let timeout = Error::timeout_after(Duration::from_secs(1), "reply", true);
        assert_eq!(
            a.decide(
                &policy,
                Outcome::Failed(&timeout),
                None,
                true,
                None,
                Instant::now
            ),
            Decision::Done
        );
    }

    #[test]
    fn a_command_that_did_not_run_waits_for_its_node_until_its_deadline() {
        let policy = RetryPolicy::default().with_max_retries(2);
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(10);
        let refused = Error::io(
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"),
            false,
        );
        let mut a = Attempts::new();
        let mut now = t0;
        let mut resends = 0;
        // A failover of 4 s: far more resends than the count, each delay within the time
        // left, none past the deadline.
        while now < t0 + Duration::from_secs(4) {
            let Decision::Retry { delay, refresh } = a.decide(
                &policy,
                Outcome::Failed(&refused),
                None,
                false,
                Some(deadline),
                || now,
            ) else {
                panic!("given up after {resends} resends at {:?}", now - t0);
            };
            assert!(refresh);
            assert!(now + delay < deadline);
            resends += 1;
            now += delay;
        }
        assert!(resends > 2, "{resends}");
        assert!(matches!(
            a.decide(
                &policy,
                Outcome::NoNode,
                None,
                false,
                Some(deadline),
                || now
            ),
            Decision::Retry { .. }
        ));
        assert_eq!(
            a.decide(
                &policy,
                Outcome::NoNode,
                None,
                false,
                Some(deadline),
                || deadline
            ),
            Decision::Done,
            "not past the deadline"
        );
        // One that may have run is resent only if idempotent, and by the count.
        let sent = Error::closed(true);
        let mut b = Attempts::new();
        for _ in 0..2 {
            assert!(matches!(
                b.decide(
                    &policy,
                    Outcome::Failed(&sent),
                    None,
                    true,
                    Some(deadline),
                    || t0
                ),
                Decision::Retry { .. }
            ));
        }
        assert_eq!(
            b.decide(
                &policy,
                Outcome::Failed(&sent),
                None,
                true,
                Some(deadline),
                || t0
            ),
            Decision::Done
        );
    }
}

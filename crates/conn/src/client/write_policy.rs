//! [`WritePolicy`]: whether a caller that queued a request writes the queue itself, now,
//! rather than leave it to the writer task.

use std::time::Instant;

use super::options::WriteWay;
use super::way_chooser::{Way, WayChooser};

/// Whether a caller writes the queue itself. Two ways ([`Way`]):
///
/// - **Overlapped**: a caller writes at once when nothing is in flight (a lone caller's
///   request leaves without delay), and once at least `1/point` as many requests wait as
///   are in flight, so that under load a few batches overlap and the server works on one
///   while the callers make the next. The point is chosen per connection, by measurement
///   (the history of BENCHMARKS.md): a quarter over plaintext on a runtime with
///   one worker (the callers a read wakes run one after another on the thread that also
///   reads, so the server is given the first of them sooner), half otherwise (with several
///   workers the queue fills at once, and through TLS every write also seals a record).
///   Only while no other link in the process has requests in flight: when other links are
///   at work their servers are busy already, and early writes would only add system calls.
/// - **Batched**: the writer task, once woken, lets every ready task queue its request and
///   writes them all at once. Only a lone request on an idle link (nothing in flight, and
///   the last read answered one request at most) is written by its caller at once: it
///   comes from a caller on its own, where a pass through the writer task would cost a
///   wake-up (on a runtime with several workers, of another worker), not from the first
///   of many callers a read woke, whose early write would wake the server for one
///   request.
///
/// With [`WriteWay::Chosen`] (the default) a [`WayChooser`] times both under the
/// client's own load and keeps the faster; the other [`WriteWay`]s fix one.
#[derive(Debug, Clone)]
pub(crate) struct WritePolicy {
    /// Overlapped: a caller writes once `queued × point ≥ in flight`.
    point: usize,
    choice: Choice,
    /// Requests the last read answered: at most one, and a lone request comes from a
    /// caller on its own, not from the first of many callers that read woke.
    last_answered: usize,
}

/// A way kept for good, or chosen by timing.
#[derive(Debug, Clone)]
enum Choice {
    Fixed(Way),
    Timed(WayChooser),
}

impl WritePolicy {
    /// Half as many waiting as in flight.
    const HALF: usize = 2;
    /// A quarter as many waiting as in flight.
    const QUARTER: usize = 4;

    /// Every batch through the writer task.
    pub(crate) fn batched() -> WritePolicy {
        WritePolicy {
            point: Self::HALF,
            choice: Choice::Fixed(Way::Batched),
            last_answered: 0,
        }
    }

    /// Callers writing early at `point`, always (tests).
    #[cfg(test)]
    pub(crate) fn overlapped(point: usize) -> WritePolicy {
        WritePolicy {
            point,
            choice: Choice::Fixed(Way::Overlapped),
            last_answered: 0,
        }
    }

    /// The policy for a connection over TLS or not, served by a runtime with `workers`
    /// worker threads, writing `way`.
    pub(crate) fn for_connection(way: WriteWay, tls: bool, workers: usize) -> WritePolicy {
        let point = if !tls && workers <= 1 {
            Self::QUARTER
        } else {
            Self::HALF
        };
        let choice = match way {
            WriteWay::Overlapped => Choice::Fixed(Way::Overlapped),
            WriteWay::Batched => Choice::Fixed(Way::Batched),
            WriteWay::Chosen => Choice::Timed(WayChooser::default()),
        };
        WritePolicy {
            point,
            choice,
            last_answered: 0,
        }
    }

    /// The policy for a connection served by the current tokio runtime (one worker when
    /// called outside of one).
    pub(crate) fn on_current_runtime(way: WriteWay, tls: bool) -> WritePolicy {
        let workers = tokio::runtime::Handle::try_current()
            .map_or(1, |runtime| runtime.metrics().num_workers());
        WritePolicy::for_connection(way, tls, workers)
    }

    /// The way callers write now.
    pub(crate) fn way(&self) -> Way {
        match &self.choice {
            Choice::Fixed(way) => *way,
            Choice::Timed(chooser) => chooser.way(),
        }
    }

    /// Whether the caller that queued the last of `queued` waiting requests writes them,
    /// with `in_flight` written and unanswered on this link, and whether `others_busy`:
    /// another link has requests in flight.
    pub(crate) fn caller_writes(&self, queued: usize, in_flight: usize, others_busy: bool) -> bool {
        match self.way() {
            Way::Batched => queued == 1 && in_flight == 0 && self.last_answered <= 1,
            Way::Overlapped => {
                queued > 0 && (in_flight == 0 || (!others_busy && queued * self.point >= in_flight))
            }
        }
    }

    /// `n` requests were answered at `now` (the chooser times the ways by it).
    pub(crate) fn answered(&mut self, n: usize, now: Instant) {
        if n > 0 {
            self.last_answered = n;
        }
        if let Choice::Timed(chooser) = &mut self.choice {
            chooser.answered(n, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::{Way, WritePolicy, WriteWay};

    #[test]
    fn a_lone_request_is_due_at_once_and_none_is_due_without_one() {
        for point in [WritePolicy::HALF, WritePolicy::QUARTER] {
            let policy = WritePolicy::overlapped(point);
            for others_busy in [false, true] {
                assert!(policy.caller_writes(1, 0, others_busy));
                assert!(!policy.caller_writes(0, 0, others_busy));
                assert!(!policy.caller_writes(0, 10, others_busy));
            }
        }
    }

    #[test]
    fn the_point_is_a_share_of_the_requests_in_flight() {
        let half = WritePolicy::overlapped(WritePolicy::HALF);
        let quarter = WritePolicy::overlapped(WritePolicy::QUARTER);
        assert!(!half.caller_writes(9, 20, false));
        assert!(half.caller_writes(10, 20, false));
        assert!(!quarter.caller_writes(4, 20, false));
        assert!(quarter.caller_writes(5, 20, false));
    }

    #[test]
    fn with_another_link_at_work_only_a_lone_request_is_due() {
        for point in [WritePolicy::HALF, WritePolicy::QUARTER] {
            let policy = WritePolicy::overlapped(point);
            assert!(!policy.caller_writes(1, 1, true));
            assert!(!policy.caller_writes(20, 20, true));
            assert!(!policy.caller_writes(1000, 1, true));
        }
    }

    #[test]
    fn batched_callers_write_only_a_lone_request_on_an_idle_link() {
        let mut policy = WritePolicy::batched();
        assert!(
            policy.caller_writes(1, 0, false),
            "the first request of all"
        );
        for (queued, in_flight) in [(2, 0), (1, 1), (100, 1), (1, 100)] {
            assert!(!policy.caller_writes(queued, in_flight, false));
        }
        let now = Instant::now();
        policy.answered(1, now);
        assert!(policy.caller_writes(1, 0, false), "a caller on its own");
        policy.answered(50, now);
        assert!(
            !policy.caller_writes(1, 0, false),
            "the first of the fifty callers a read woke"
        );
        policy.answered(0, now);
        assert!(
            !policy.caller_writes(1, 0, false),
            "a pipeline's first replies change nothing"
        );
        assert_eq!(
            WritePolicy::for_connection(WriteWay::Batched, false, 1).way(),
            Way::Batched
        );
    }

    #[test]
    fn a_quarter_only_over_plaintext_with_one_worker() {
        let point =
            |tls, workers| WritePolicy::for_connection(WriteWay::Chosen, tls, workers).point;
        assert_eq!(point(false, 1), WritePolicy::QUARTER);
        assert_eq!(point(false, 2), WritePolicy::HALF);
        assert_eq!(point(true, 1), WritePolicy::HALF);
        assert_eq!(point(true, 8), WritePolicy::HALF);
    }

    #[test]
    fn with_overlap_the_ways_are_timed_from_a_trial_that_starts_batched() {
        let policy = WritePolicy::for_connection(WriteWay::Chosen, false, 1);
        assert!(matches!(policy.choice, super::Choice::Timed(_)));
        assert_eq!(policy.way(), Way::Batched);
        assert!(
            policy.caller_writes(1, 0, false),
            "a lone request leaves at once"
        );
        assert!(
            !policy.caller_writes(2, 0, false),
            "more go to the writer task"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_current_thread_runtime_has_one_worker() {
        assert_eq!(
            WritePolicy::on_current_runtime(WriteWay::Chosen, false).point,
            WritePolicy::QUARTER
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_runtime_with_two_workers_writes_at_half() {
        assert_eq!(
            WritePolicy::on_current_runtime(WriteWay::Chosen, false).point,
            WritePolicy::HALF
        );
    }
}

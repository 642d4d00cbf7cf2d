//! [`WritePolicy`]: when a caller writes the queue itself rather than leave it to the
//! writer task.

/// With [`overlap_writes`](super::ClientOptions::overlap_writes), a caller that queues a
/// request writes the queue itself, rather than leave it to the writer task, once at least
/// `1/n` as many requests wait as are in flight (and at once when nothing is in flight, so
/// a lone caller's request leaves without delay). Chosen per connection, by measurement
/// (BENCHMARKS.md, "Where the caller writes"):
///
/// - a quarter over plaintext on a runtime with one worker (current-thread, or
///   multi-thread with one worker): the callers a read wakes run one after another on the
///   thread that also reads, so the server is given the first of them sooner (the
///   blocking client's runtime has one worker too; its callers are threads of their own,
///   and it measured the same at either point);
/// - half otherwise: with several workers the callers run side by side and the queue fills
///   at once, and through TLS every write also seals a record, so fewer, larger writes win.
///
/// Either way only while no other link in the process has requests in flight (a lone
/// request still leaves at once): early writes pay by giving the server work while the
/// callers make the next batch, and when other links are at work their servers already
/// are, so they would only add system calls (a sharded client over three services went
/// from 0.51 to 0.14 writes per request and from 241k to 408k req/s on current-thread,
/// BENCHMARKS.md "When several links are at work").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WritePolicy {
    /// Callers never write: every batch goes through the writer task
    /// (`overlap_writes` off).
    WriterOnly,
    /// Callers write once `queued × n ≥ in flight`.
    Overlap(usize),
}

impl WritePolicy {
    /// Half as many waiting as in flight.
    pub(crate) const HALF: WritePolicy = WritePolicy::Overlap(2);
    /// A quarter as many waiting as in flight.
    pub(crate) const QUARTER: WritePolicy = WritePolicy::Overlap(4);

    /// The policy for a connection over TLS or not, served by a runtime with `workers`
    /// worker threads, with callers writing (`overlap`) or not.
    pub(crate) fn for_connection(overlap: bool, tls: bool, workers: usize) -> WritePolicy {
        if !overlap {
            WritePolicy::WriterOnly
        } else if !tls && workers <= 1 {
            WritePolicy::QUARTER
        } else {
            WritePolicy::HALF
        }
    }

    /// The policy for a connection served by the current tokio runtime (one worker when
    /// called outside of one).
    pub(crate) fn on_current_runtime(overlap: bool, tls: bool) -> WritePolicy {
        let workers = tokio::runtime::Handle::try_current()
            .map_or(1, |runtime| runtime.metrics().num_workers());
        WritePolicy::for_connection(overlap, tls, workers)
    }

    /// Whether the caller that queued the last of `queued` waiting requests writes them,
    /// with `in_flight` written and unanswered on this link, and whether `others_busy`:
    /// another link has requests in flight.
    pub(crate) fn caller_writes(self, queued: usize, in_flight: usize, others_busy: bool) -> bool {
        match self {
            WritePolicy::WriterOnly => false,
            WritePolicy::Overlap(n) => {
                queued > 0 && (in_flight == 0 || (!others_busy && queued * n >= in_flight))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WritePolicy;

    #[test]
    fn a_lone_request_is_due_at_once_and_none_is_due_without_one() {
        for point in [WritePolicy::HALF, WritePolicy::QUARTER] {
            for others_busy in [false, true] {
                assert!(point.caller_writes(1, 0, others_busy));
                assert!(!point.caller_writes(0, 0, others_busy));
                assert!(!point.caller_writes(0, 10, others_busy));
            }
        }
    }

    #[test]
    fn the_point_is_a_share_of_the_requests_in_flight() {
        assert!(!WritePolicy::HALF.caller_writes(9, 20, false));
        assert!(WritePolicy::HALF.caller_writes(10, 20, false));
        assert!(!WritePolicy::QUARTER.caller_writes(4, 20, false));
        assert!(WritePolicy::QUARTER.caller_writes(5, 20, false));
    }

    #[test]
    fn with_another_link_at_work_only_a_lone_request_is_due() {
        for point in [WritePolicy::HALF, WritePolicy::QUARTER] {
            assert!(!point.caller_writes(1, 1, true));
            assert!(!point.caller_writes(20, 20, true));
            assert!(!point.caller_writes(1000, 1, true));
        }
    }

    #[test]
    fn a_quarter_only_over_plaintext_with_one_worker() {
        assert_eq!(
            WritePolicy::for_connection(true, false, 1),
            WritePolicy::QUARTER
        );
        assert_eq!(
            WritePolicy::for_connection(true, false, 2),
            WritePolicy::HALF
        );
        assert_eq!(
            WritePolicy::for_connection(true, true, 1),
            WritePolicy::HALF
        );
        assert_eq!(
            WritePolicy::for_connection(true, true, 8),
            WritePolicy::HALF
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_current_thread_runtime_has_one_worker() {
        assert_eq!(
            WritePolicy::on_current_runtime(true, false),
            WritePolicy::QUARTER
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_runtime_with_two_workers_writes_at_half() {
        assert_eq!(
            WritePolicy::on_current_runtime(true, false),
            WritePolicy::HALF
        );
    }
}

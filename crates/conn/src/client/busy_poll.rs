//! [`BusyPoll`]: whether the reader polls its socket for the next replies before it waits
//! on the runtime's poller, and until when.

use std::time::{Duration, Instant};

/// Most reads in a row that wait on the poller at once after polls found nothing: a server
/// slower than the polling window (a remote one, a slow command in flight) is then polled
/// once every this many reads, which costs next to nothing.
const MOST_SKIPPED: u32 = 63;

/// Fewest replies awaited for a poll: with one to three requests in flight each reply is a
/// round through a server that sleeps between them, and polling for it measured a fifth
/// more client CPU per request and nothing faster (`slotline bench -c 2`, two workers).
const FEWEST_AWAITED: usize = 4;

/// With requests in flight (at least [`FEWEST_AWAITED`]), the reader of a shared client
/// reads its socket again, straight and without waiting, each time the tasks its last read
/// woke have run, for up to [`busy_poll`](super::ClientOptions::busy_poll), before it waits
/// on the runtime's poller.
/// Against a server that answers within that window, the next replies are read the moment
/// the callers have written their next requests, without a round through `epoll` and
/// without the worker parking and being woken for them. Polls that find nothing make the reader skip polling for the next reads,
/// twice as many after each miss in a row (up to [`MOST_SKIPPED`]); a poll that finds
/// bytes resets that.
#[derive(Debug, Clone)]
pub(crate) struct BusyPoll {
    /// How long to poll before one read; zero: never poll.
    window: Duration,
    /// Reads left that wait on the poller at once.
    skip: u32,
    /// Polling windows in a row that found nothing.
    misses: u32,
}

impl BusyPoll {
    /// Polling for up to `window` before each read (never when zero), on a connection over
    /// TLS or not: never over TLS, whose records must go through the session.
    pub(crate) fn for_connection(window: Duration, tls: bool) -> BusyPoll {
        BusyPoll {
            window: if tls { Duration::ZERO } else { window },
            skip: 0,
            misses: 0,
        }
    }

    /// Until when to poll before this read, if at all: only with enough replies `awaited`,
    /// with a window, and not while skipping after misses.
    pub(crate) fn begin(&mut self, now: Instant, awaited: usize) -> Option<Instant> {
        if awaited < FEWEST_AWAITED || self.window.is_zero() {
            return None;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return None;
        }
        Some(now + self.window)
    }

    /// A poll found bytes (or the socket's end, or an error).
    pub(crate) fn found(&mut self) {
        self.misses = 0;
    }

    /// The window passed with nothing to read.
    pub(crate) fn missed(&mut self) {
        self.misses = self.misses.saturating_add(1);
        self.skip = (1u32 << self.misses.min(6))
            .saturating_sub(1)
            .min(MOST_SKIPPED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_micros(50);

    #[test]
    fn polls_only_while_enough_replies_are_awaited() {
        let now = Instant::now();
        let mut poll = BusyPoll::for_connection(WINDOW, false);
        assert_eq!(poll.begin(now, 0), None);
        assert_eq!(poll.begin(now, FEWEST_AWAITED - 1), None);
        assert_eq!(poll.begin(now, FEWEST_AWAITED), Some(now + WINDOW));
    }

    #[test]
    fn a_zero_window_never_polls() {
        let mut poll = BusyPoll::for_connection(Duration::ZERO, false);
        assert_eq!(poll.begin(Instant::now(), FEWEST_AWAITED), None);
    }

    #[test]
    fn a_connection_over_tls_never_polls() {
        let mut poll = BusyPoll::for_connection(WINDOW, true);
        assert_eq!(poll.begin(Instant::now(), FEWEST_AWAITED), None);
    }

    #[test]
    fn misses_in_a_row_skip_twice_as_many_reads_up_to_a_bound() {
        let now = Instant::now();
        let mut poll = BusyPoll::for_connection(WINDOW, false);
        let mut skipped = Vec::new();
        for _ in 0..8 {
            assert!(poll.begin(now, FEWEST_AWAITED).is_some());
            poll.missed();
            let mut n = 0;
            while poll.begin(now, FEWEST_AWAITED).is_none() {
                n += 1;
            }
            skipped.push(n);
        }
        assert_eq!(skipped, [1, 3, 7, 15, 31, 63, 63, 63]);
    }

    #[test]
    fn a_find_resets_the_misses() {
        let now = Instant::now();
        let mut poll = BusyPoll::for_connection(WINDOW, false);
        poll.missed();
        poll.missed();
        poll.found();
        poll.skip = 0;
        poll.missed();
        assert_eq!(poll.skip, 1);
        assert_eq!(poll.begin(now, FEWEST_AWAITED), None);
        assert_eq!(poll.begin(now, FEWEST_AWAITED), Some(now + WINDOW));
    }
}

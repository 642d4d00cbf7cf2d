//! [`WayChooser`]: which of the two ways of writing a shared client's queue answers its
//! callers faster, found by timing each in turn while the client is under load, and kept.
//!
//! Which way wins depends on the machine and on what else runs on it, not on anything the
//! client can count. When the kernel runs the woken server on the client's own core (a
//! socket wake-up is a "sync" one: the waker is expected to sleep next; so it goes on a
//! 2-core machine with one core busy elsewhere), every early write lets the server take
//! the core from the callers still making requests, and callers writing early
//! ([`Way::Overlapped`]) lose to the writer task alone ([`Way::Batched`]) several times
//! over. On the same machine quiet, the server keeps a core of its own, early writes let
//! it work while the callers make the next batch, and they win (BENCHMARKS.md, "When the
//! CPU is shared", has the figures). So the chooser times both.
//!
//! Time is counted in windows of [`WINDOW`] answered requests. A trial times the ways in
//! the order batched, overlapped, overlapped, batched (so a steady drift favours neither)
//! and keeps the one whose two windows took less time, for [`FIRST_KEEP`] windows, twice
//! as many after each trial that confirms it (up to [`MAX_KEEP`]), then tries again: a
//! change of conditions is found within seconds, and a steady state costs a trial now and
//! then. A way on pace for a window [`GIVE_UP`] times as long as the other way's first,
//! once a quarter of that has passed, ends the trial at once: the slow way costs little to
//! find. A window
//! longer than [`STALE`] (the client went idle, or serves a trickle at which the ways do
//! not differ) is thrown away and timed again. The chooser starts with a trial; while the
//! load is too light to finish a window it stays batched, where a caller on its own still
//! writes its request at once.

use std::time::{Duration, Instant};

/// Requests answered per timed window.
pub(crate) const WINDOW: u64 = 16_384;
/// Windows the winner of a first trial is kept for.
pub(crate) const FIRST_KEEP: u32 = 16;
/// Most windows a way is kept for between trials.
pub(crate) const MAX_KEEP: u32 = 512;
/// A way on pace for a window this many times as long as the other way's first (judged
/// once a quarter of that has passed), or whose window already took twice as long, ends
/// the trial in the other's favour.
pub(crate) const GIVE_UP: f64 = 1.5;
/// A window longer than this is not timed.
pub(crate) const STALE: Duration = Duration::from_millis(500);

/// How the queue is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    /// Callers write the queue early (per the connection's point).
    Overlapped,
    /// Only the writer task writes, once every ready caller has queued.
    Batched,
}

impl Way {
    fn other(self) -> Way {
        match self {
            Way::Overlapped => Way::Batched,
            Way::Batched => Way::Overlapped,
        }
    }
}

/// The trial's order: a steady drift favours neither way.
const TRIAL: [Way; 4] = [Way::Batched, Way::Overlapped, Way::Overlapped, Way::Batched];

/// Where the chooser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Keeping `way` for `left` more windows.
    Keep { way: Way, left: u32 },
    /// Timing step `step` of [`TRIAL`]; `spent` holds each way's time so far (overlapped,
    /// batched), `first` each way's first window.
    Trial {
        step: usize,
        spent: [Duration; 2],
        first: [Option<Duration>; 2],
    },
}

/// Times the two ways in turn and keeps the faster (see the module's text).
#[derive(Debug, Clone)]
pub(crate) struct WayChooser {
    phase: Phase,
    /// When the current window began (none: at the next answer).
    since: Option<Instant>,
    /// Requests answered in the current window.
    answered: u64,
    /// The way the last trial chose, and how long it is kept next time it wins.
    last_choice: Option<Way>,
    keep: u32,
}

impl Default for WayChooser {
    fn default() -> Self {
        WayChooser {
            phase: Phase::Trial {
                step: 0,
                spent: [Duration::ZERO; 2],
                first: [None; 2],
            },
            since: None,
            answered: 0,
            last_choice: None,
            keep: FIRST_KEEP,
        }
    }
}

fn slot(way: Way) -> usize {
    match way {
        Way::Overlapped => 0,
        Way::Batched => 1,
    }
}

impl WayChooser {
    /// The way to write now.
    pub(crate) fn way(&self) -> Way {
        match self.phase {
            Phase::Keep { way, .. } => way,
            Phase::Trial { step, .. } => TRIAL[step],
        }
    }

    /// Windows left to keep the current way (none during a trial).
    #[cfg(test)]
    pub(crate) fn keep_left(&self) -> Option<u32> {
        match self.phase {
            Phase::Keep { left, .. } => Some(left),
            Phase::Trial { .. } => None,
        }
    }

    /// `n` more requests were answered at `now`.
    pub(crate) fn answered(&mut self, n: usize, now: Instant) {
        let Some(since) = self.since else {
            // The first answers since the way last changed begin the window.
            self.since = Some(now);
            self.answered = 0;
            return;
        };
        self.answered += n as u64;
        let took = now.saturating_duration_since(since);
        if took > STALE {
            self.since = Some(now);
            self.answered = 0;
            return;
        }
        if self.gives_up(took) || self.answered < WINDOW {
            return;
        }
        self.window_done(took, now);
    }

    /// During a trial, whether the way under trial is on pace for a window [`GIVE_UP`]
    /// times as long as the other's first, or already took twice as long; if so, keeps
    /// the other.
    fn gives_up(&mut self, took: Duration) -> bool {
        let Phase::Trial { step, first, .. } = self.phase else {
            return false;
        };
        let way = TRIAL[step];
        let Some(other) = first[slot(way.other())] else {
            return false;
        };
        let on_pace = took.as_secs_f64() * WINDOW as f64 / self.answered.max(1) as f64;
        let slow =
            (took >= other / 4 && on_pace >= other.as_secs_f64() * GIVE_UP) || took >= other * 2;
        if slow {
            self.keep_way(way.other());
        }
        slow
    }

    /// A window ended at `now` after `took`.
    fn window_done(&mut self, took: Duration, now: Instant) {
        let before = self.way();
        self.answered = 0;
        self.phase = match self.phase {
            Phase::Keep { way, left } if left > 1 => Phase::Keep {
                way,
                left: left - 1,
            },
            Phase::Keep { .. } => Phase::Trial {
                step: 0,
                spent: [Duration::ZERO; 2],
                first: [None; 2],
            },
            Phase::Trial {
                step,
                mut spent,
                mut first,
            } => {
                let way = TRIAL[step];
                spent[slot(way)] += took;
                first[slot(way)].get_or_insert(took);
                if step + 1 == TRIAL.len() {
                    let faster = if spent[slot(Way::Overlapped)] <= spent[slot(Way::Batched)] {
                        Way::Overlapped
                    } else {
                        Way::Batched
                    };
                    self.keep_way(faster);
                    return;
                }
                Phase::Trial {
                    step: step + 1,
                    spent,
                    first,
                }
            }
        };
        // A way's window begins with its own answers; the same way's next, at once.
        self.since = (self.way() == before).then_some(now);
    }

    /// Ends a trial keeping `way`: for twice as long as last time if it won the last
    /// trial too.
    fn keep_way(&mut self, way: Way) {
        self.keep = if self.last_choice == Some(way) {
            (self.keep * 2).min(MAX_KEEP)
        } else {
            FIRST_KEEP
        };
        self.last_choice = Some(way);
        self.phase = Phase::Keep {
            way,
            left: self.keep,
        };
        self.since = None;
        self.answered = 0;
    }
}

#[cfg(test)]
#[path = "way_chooser_tests.rs"]
mod tests;

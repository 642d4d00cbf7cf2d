//! [`IoStats`]: how many socket calls a client made, counted where it makes them.

use std::sync::atomic::{AtomicU64, Ordering};

/// How many write and read calls the client made on its sockets (see [`IoStats`]).
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    writes: AtomicU64,
    reads: AtomicU64,
    polls: AtomicU64,
    bytes_out: AtomicU64,
    bytes_in: AtomicU64,
}

impl IoCounters {
    pub(crate) fn count_write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` bytes the socket took.
    pub(crate) fn count_out(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// `n` bytes read from the socket.
    pub(crate) fn count_in(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Bytes written and read so far.
    pub(crate) fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_out.load(Ordering::Relaxed),
            self.bytes_in.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn count_poll(&self) {
        self.polls.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> IoStats {
        IoStats {
            writes: self.writes.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
            polls: self.polls.load(Ordering::Relaxed),
        }
    }
}

/// What a client did on its sockets since it was made: one write call sends every request
/// queued at that moment, one read call can answer many; with many callers, far fewer calls
/// than requests is implicit pipelining at work. Counted where the client calls the socket
/// (each call is one `send`/`recv` system call); sums add up clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IoStats {
    /// Write calls (`send`) made on the sockets.
    pub writes: u64,
    /// Read calls (`recv`) that returned bytes or an error.
    pub reads: u64,
    /// Read calls made while [busy polling](crate::ClientOptions::busy_poll) that found
    /// nothing yet (`recv` answering `EAGAIN`).
    pub polls: u64,
}

impl std::ops::Add for IoStats {
    type Output = IoStats;

    fn add(self, other: IoStats) -> IoStats {
        IoStats {
            writes: self.writes + other.writes,
            reads: self.reads + other.reads,
            polls: self.polls + other.polls,
        }
    }
}

impl std::iter::Sum for IoStats {
    fn sum<I: Iterator<Item = IoStats>>(iter: I) -> IoStats {
        iter.fold(IoStats::default(), |a, b| a + b)
    }
}

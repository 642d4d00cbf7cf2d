//! The contended rows: every run of the row with a CPU-bound process beside it, as a client
//! meets it on a machine shared with other work. The spinner is this very program started
//! again with [`SPIN_ARG`], busy on one thread: a process of its own, so that its CPU time
//! and system calls never count as the client's (see [`crate::counters`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The hidden argument that makes this program a spinner ([`spin`]).
pub const SPIN_ARG: &str = "--spin";

/// The longest a spinner spins, should nothing stop it.
const SPIN_LIMIT: Duration = Duration::from_secs(600);

/// Whether a row runs alone or beside a spinner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contention {
    /// Nothing else running.
    Quiet,
    /// One spinning process beside every run of the row.
    Busy,
}

impl Contention {
    /// `quiet` or `busy`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "quiet" => Ok(Contention::Quiet),
            "busy" => Ok(Contention::Busy),
            other => Err(format!("unknown contention {other:?} (quiet, busy)")),
        }
    }

    /// The row's label.
    pub fn label(self) -> &'static str {
        match self {
            Contention::Quiet => "quiet",
            Contention::Busy => "busy (1 spinning process)",
        }
    }

    /// The spinner of a busy row, running when this returns; `None` for a quiet row.
    pub fn start(self) -> std::io::Result<Option<Spinner>> {
        match self {
            Contention::Quiet => Ok(None),
            Contention::Busy => Spinner::start().map(Some),
        }
    }
}

/// A running spinner process: killed when dropped (at the end of the row, or as a panic
/// unwinds). Should this process end without dropping it (`exit`, a signal), the spinner
/// sees its stdin close and exits; and it never spins longer than [`SPIN_LIMIT`].
pub struct Spinner(Child);

impl Spinner {
    /// Starts a spinner and waits until it spins.
    fn start() -> std::io::Result<Spinner> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(SPIN_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let spinner_out = child.stdout.take();
        // Owned by the guard from here on, so that an early return kills it.
        let spinner = Spinner(child);
        let mut line = String::new();
        BufReader::new(spinner_out.expect("piped stdout")).read_line(&mut line)?;
        if line.trim() != "spinning" {
            return Err(std::io::Error::other("the spinner did not start"));
        }
        Ok(spinner)
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The spinner's body (`slotline-peers --spin`): says it spins, then busy-loops on this
/// thread until stdin closes or [`SPIN_LIMIT`] has passed, and exits.
pub fn spin() -> ! {
    std::thread::spawn(|| {
        // Returns at end of file: the harness closed the pipe, or is gone.
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    let mut out = std::io::stdout();
    let _ = writeln!(out, "spinning").and_then(|_| out.flush());
    let started = Instant::now();
    let mut x = 0u64;
    while started.elapsed() < SPIN_LIMIT {
        for _ in 0..100_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    std::process::exit(0);
}

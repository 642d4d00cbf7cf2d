//! The load every client gets: callers doing `GET` on random keys of a small keyspace, one
//! request at a time each (no explicit pipeline), as a service's request handlers do.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::counters::{Costs, Mark, Meter};

/// Keys `key:000000000000` .. below this are set before the runs (3-byte values).
pub const KEYSPACE: u64 = 10_000;

/// The hot keys a read-heavy load reads (the `cached` row): the numbers
/// `KEYSPACE..KEYSPACE + HOT_KEYS`, set with values of [`HOT_VALUE_LEN`] bytes.
pub const HOT_KEYS: u64 = 1_000;
/// The hot keys' value size.
pub const HOT_VALUE_LEN: usize = 100;

/// Which keys a load reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySet {
    /// The whole keyspace (3-byte values).
    All,
    /// The hot keys (100-byte values).
    Hot,
}

/// Writes the key numbered `n` into `buf`; returns its length.
pub fn key(n: u64, buf: &mut [u8; 16]) -> usize {
    buf[..4].copy_from_slice(b"key:");
    let mut v = n;
    for digit in buf[4..16].iter_mut().rev() {
        *digit = b'0' + (v % 10) as u8;
        v /= 10;
    }
    16
}

/// A per-caller random sequence (xorshift), so that callers do not walk the same keys.
pub struct Keys(u64);

impl Keys {
    /// The sequence of caller `i`.
    pub fn new(i: usize) -> Self {
        Keys(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1))
    }

    /// The next key number of `set`.
    pub fn next_key(&mut self, set: KeySet) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        match set {
            KeySet::All => self.0 % KEYSPACE,
            KeySet::Hot => KEYSPACE + self.0 % HOT_KEYS,
        }
    }
}

/// One caller's handle on a client: owned per task, as users clone a handle into each.
pub trait Getter: Send + 'static {
    /// `GET key`; `Err` with a message if it failed.
    fn get(&mut self, key: &[u8]) -> impl Future<Output = Result<(), String>> + Send;
}

/// The blocking counterpart of [`Getter`], for threads.
pub trait BlockingGetter: Send + 'static {
    /// `GET key`; `Err` with a message if it failed.
    fn get(&mut self, key: &[u8]) -> Result<(), String>;
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Requests completed.
    pub requests: u64,
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
    /// What the run cost the client process (and the servers' context switches).
    pub costs: Costs,
}

impl Run {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// CPU microseconds per request.
    pub fn cpu_per_request(&self) -> Option<f64> {
        self.costs
            .cpu
            .map(|c| c.as_secs_f64() * 1e6 / self.requests.max(1) as f64)
    }

    /// Write-like system calls per request.
    pub fn writes_per_request(&self) -> Option<f64> {
        self.per_request(self.costs.writes)
    }

    /// Read-like system calls per request.
    pub fn reads_per_request(&self) -> Option<f64> {
        self.per_request(self.costs.reads)
    }

    /// Context switches of the client's threads per request.
    pub fn switches_per_request(&self) -> Option<f64> {
        self.per_request(self.costs.switches)
    }

    /// Context switches of the servers' threads per request.
    pub fn server_switches_per_request(&self) -> Option<f64> {
        self.per_request(self.costs.server_switches)
    }

    fn per_request(&self, count: Option<u64>) -> Option<f64> {
        count.map(|n| n as f64 / self.requests.max(1) as f64)
    }
}

/// `requests` GETs shared out among one task per handle in `callers`, on the current
/// runtime, measured by `meter`; fails on the first error.
pub async fn run_tasks<G: Getter>(
    callers: Vec<G>,
    set: KeySet,
    requests: u64,
    meter: &Meter,
) -> Result<Run, String> {
    let issued = Arc::new(AtomicU64::new(0));
    let mark = meter.start();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(callers.len());
    for (i, mut caller) in callers.into_iter().enumerate() {
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            let mut keys = Keys::new(i);
            let mut buf = [0u8; 16];
            while issued.fetch_add(1, Ordering::Relaxed) < requests {
                let len = key(keys.next_key(set), &mut buf);
                caller.get(&buf[..len]).await?;
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("caller task: {e}"))??;
    }
    Ok(finish(requests, started, meter, mark))
}

/// `requests` GETs shared out among one thread per handle in `callers`, measured by
/// `meter`.
pub fn run_threads<G: BlockingGetter>(
    callers: Vec<G>,
    requests: u64,
    meter: &Meter,
) -> Result<Run, String> {
    let issued = Arc::new(AtomicU64::new(0));
    let mark = meter.start();
    let started = Instant::now();
    let threads: Vec<_> = callers
        .into_iter()
        .enumerate()
        .map(|(i, mut caller)| {
            let issued = issued.clone();
            std::thread::spawn(move || {
                let mut keys = Keys::new(i);
                let mut buf = [0u8; 16];
                while issued.fetch_add(1, Ordering::Relaxed) < requests {
                    let len = key(keys.next_key(KeySet::All), &mut buf);
                    caller.get(&buf[..len])?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| "caller thread panicked".to_string())??;
    }
    Ok(finish(requests, started, meter, mark))
}

/// The run that started at `started` and `mark`, ending now.
fn finish(requests: u64, started: Instant, meter: &Meter, mark: Mark) -> Run {
    let elapsed = started.elapsed();
    Run {
        requests,
        elapsed,
        costs: meter.finish(mark),
    }
}

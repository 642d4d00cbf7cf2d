//! The staleness checker of the client-side cache: writers increment counters on clients
//! of their own while cached readers read them. Counters only grow, so a reader that reads
//! a counter lower than it read before was served a value older than one it had already
//! seen (a regression); a reader that writes must read its own write back; and once the
//! writers stop, every cached read must come to equal the server's value.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotline_conn::{Commands, Execute};
use tokio::task::JoinHandle;

/// What one cached reader saw.
pub(crate) struct Reading<C> {
    /// Its client (still open: its cache is checked after the writers stop).
    pub client: C,
    pub reads: u64,
    /// Reads lower than one this reader read before: when, and what.
    pub regressions: Vec<(Instant, String)>,
    /// Its own acknowledged increments read back lower.
    pub own_lost: Vec<String>,
    pub errors: u64,
}

impl<C> Reading<C> {
    /// Asserts the reader read more than `min_reads` times, never went back in time and
    /// read its own writes back (`what` names it in the message).
    pub(crate) fn assert_clean(&self, what: &str, min_reads: u64) {
        assert!(self.reads > min_reads, "{what}: {} reads", self.reads);
        assert!(
            self.regressions.is_empty(),
            "{what}: stale reads {:?}",
            self.regressions
        );
        assert!(
            self.own_lost.is_empty(),
            "{what}: own writes {:?}",
            self.own_lost
        );
    }
}

/// A writer: `INCR` over `keys` (from `first` on) until `stop`; returns its errors (a
/// failover may refuse or time out a few).
pub(crate) fn spawn_writer(
    client: slotline::Client,
    keys: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    first: usize,
) -> JoinHandle<u64> {
    tokio::spawn(async move {
        let (mut i, mut errors) = (first, 0);
        while !stop.load(Ordering::Relaxed) {
            if client.incr(&keys[i % keys.len()]).await.is_err() {
                errors += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            i += 1;
        }
        errors
    })
}

/// A cached reader on `client` (a client of its own): `GET` over `keys` until
/// `stop`, remembering the highest value it read of each (`monotonic`: a lower one is a
/// regression; not so for reads spread over replicas, which lag each other). With `writes`
/// it increments every tenth key itself and reads it back. It pauses `pace` between
/// reads (zero: none).
pub(crate) fn spawn_reader<C: Execute + Send + 'static>(
    client: C,
    keys: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    first: usize,
    monotonic: bool,
    writes: bool,
    pace: Duration,
) -> JoinHandle<Reading<C>> {
    tokio::spawn(async move {
        let mut seen: HashMap<usize, i64> = HashMap::new();
        let (mut reads, mut errors, mut i) = (0u64, 0u64, first);
        let (mut regressions, mut own_lost) = (Vec::new(), Vec::new());
        while !stop.load(Ordering::Relaxed) {
            if !pace.is_zero() {
                tokio::time::sleep(pace).await;
            }
            let k = i % keys.len();
            i += 1;
            if writes && i % 10 == 0 {
                let Ok(mine) = client.incr(&keys[k]).await else {
                    errors += 1;
                    continue;
                };
                match client.get::<i64>(&keys[k]).await {
                    Ok(back) if back < mine => {
                        own_lost.push(format!("{}: {back} after writing {mine}", keys[k]))
                    }
                    Ok(_) => {}
                    Err(_) => errors += 1,
                }
                let s = seen.entry(k).or_default();
                *s = (*s).max(mine);
            }
            match client.get::<i64>(&keys[k]).await {
                Ok(v) => {
                    let s = seen.entry(k).or_default();
                    if monotonic && v < *s {
                        regressions.push((Instant::now(), format!("{}: {v} after {s}", keys[k])));
                    }
                    *s = (*s).max(v);
                    reads += 1;
                }
                Err(_) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        Reading {
            client,
            reads,
            regressions,
            own_lost,
            errors,
        }
    })
}

/// Waits until `reader`'s (cached) read of each key equals `truth`'s (uncached) one, with
/// writers stopped; returns how long that took from `since`.
pub(crate) async fn settle(
    reader: &impl Execute,
    truth: &impl Execute,
    keys: &[String],
    since: Instant,
) -> Duration {
    for k in keys {
        super::wait_for_async("a cached read to equal the server's value", || async {
            let want: Option<i64> = truth.get(k).await.ok();
            let got: Option<i64> = reader.get(k).await.ok();
            want.is_some() && got == want
        })
        .await;
    }
    since.elapsed()
}

//! The staleness checker of the client-side cache: writers increment counters on clients
//! of their own while cached readers read them. Counters only grow, so a reader that reads
//! a counter lower than it read before was served a value older than one it had already
//! seen (a regression); a reader that writes must read its own write back; and once the
//! writers stop, every cached read must come to equal the server's value.

use std::collections::{HashMap, HashSet};
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
    /// Reads lower than one this reader read before: when, of which key, and what.
    pub regressions: Vec<(Instant, String, String)>,
    /// Its own acknowledged increments read back lower: of which key, and what.
    pub own_lost: Vec<(String, String)>,
    pub errors: u64,
}

impl<C> Reading<C> {
    /// Asserts the reader read more than `min_reads` times, never went back in time and
    /// read its own writes back (`what` names it in the message), but on the keys of
    /// `lost_by_server`: keys whose counters the server itself took back (see
    /// [`Writing::went_back`]), where a lower read is the server's value, not a stale one.
    pub(crate) fn assert_clean(
        &self,
        what: &str,
        min_reads: u64,
        lost_by_server: &HashSet<String>,
    ) {
        assert!(self.reads > min_reads, "{what}: {} reads", self.reads);
        let stale: Vec<_> = self
            .regressions
            .iter()
            .filter(|(_, key, _)| !lost_by_server.contains(key))
            .collect();
        assert!(stale.is_empty(), "{what}: stale reads {stale:?}");
        let own: Vec<_> = self
            .own_lost
            .iter()
            .filter(|(key, _)| !lost_by_server.contains(key))
            .collect();
        assert!(own.is_empty(), "{what}: own writes {own:?}");
        let excused = self.regressions.len() - stale.len() + self.own_lost.len() - own.len();
        if excused > 0 {
            println!(
                "note: {what}: {excused} reads lower than one seen before, on keys whose \
                 acknowledged increments the server itself lost ({lost_by_server:?})"
            );
        }
    }
}

/// What one writer saw.
pub(crate) struct Writing {
    /// Increments refused or timed out (a failover may refuse or time out a few).
    pub errors: u64,
    /// Keys whose `INCR` answered this writer a value no higher than one it had answered
    /// it before: the server lost acknowledged increments (asynchronous replication: writes
    /// a master acknowledged after its replica was promoted). A reader may then read a
    /// counter lower than before from the server itself.
    pub went_back: HashSet<String>,
}

/// The keys whose counters any of `writings` saw go back.
pub(crate) fn lost_by_server(writings: &[Writing]) -> HashSet<String> {
    writings
        .iter()
        .flat_map(|w| w.went_back.iter().cloned())
        .collect()
}

/// A writer: `INCR` over `keys` (from `first` on) until `stop`.
pub(crate) fn spawn_writer(
    client: slotline::Client,
    keys: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    first: usize,
) -> JoinHandle<Writing> {
    tokio::spawn(async move {
        let (mut i, mut errors) = (first, 0);
        let mut answered: HashMap<usize, i64> = HashMap::new();
        let mut went_back = HashSet::new();
        while !stop.load(Ordering::Relaxed) {
            let k = i % keys.len();
            match client.incr(&keys[k]).await {
                Ok(v) => {
                    // Increments only: a value no higher than the last one answered means
                    // the server lost some.
                    if answered.insert(k, v).is_some_and(|last| v <= last) {
                        went_back.insert(keys[k].clone());
                    }
                }
                Err(_) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            i += 1;
        }
        Writing { errors, went_back }
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
                    Ok(back) if back < mine => own_lost.push((
                        keys[k].clone(),
                        format!("{}: {back} after writing {mine}", keys[k]),
                    )),
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
                        regressions.push((
                            Instant::now(),
                            keys[k].clone(),
                            format!("{}: {v} after {s}", keys[k]),
                        ));
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

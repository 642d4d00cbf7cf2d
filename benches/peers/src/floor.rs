//! The ceiling of the blocking rows on this machine: callers that sleep while they wait,
//! answered by one thread, with no socket and no server at all. Every round is one request
//! queued under a lock, one batch taken by the answering thread and one wake-up of the
//! sleeping caller: the least work any blocking client does whose calling threads sleep
//! until their reply comes (slotline's runtime worker, or a redis-rs thread in `recv`).
//! No such client can make more rounds per second here than this.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::Thread;
use std::time::Instant;

/// One caller's request: set when answered, and the thread to wake.
struct Request {
    answered: AtomicBool,
    caller: Thread,
}

/// The requests waiting for the answering thread, and whether the callers are done.
#[derive(Default)]
struct Queue {
    waiting: Mutex<(Vec<Arc<Request>>, bool)>,
    filled: Condvar,
}

/// Rounds per second of `callers` threads doing `rounds` request/answer rounds in all
/// through one answering thread.
pub fn parked_rounds(callers: usize, rounds: u64) -> f64 {
    let queue = Arc::new(Queue::default());
    let answerer = {
        let queue = queue.clone();
        std::thread::spawn(move || loop {
            let batch = {
                let mut waiting = queue.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                while waiting.0.is_empty() && !waiting.1 {
                    waiting = queue
                        .filled
                        .wait(waiting)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if waiting.0.is_empty() {
                    return;
                }
                std::mem::take(&mut waiting.0)
            };
            for request in batch {
                request.answered.store(true, Ordering::Release);
                request.caller.unpark();
            }
        })
    };
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..callers)
        .map(|_| {
            let (queue, issued) = (queue.clone(), issued.clone());
            std::thread::spawn(move || {
                while issued.fetch_add(1, Ordering::Relaxed) < rounds {
                    let request = Arc::new(Request {
                        answered: AtomicBool::new(false),
                        caller: std::thread::current(),
                    });
                    let first = {
                        let mut waiting =
                            queue.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                        waiting.0.push(request.clone());
                        waiting.0.len() == 1
                    };
                    if first {
                        queue.filled.notify_one();
                    }
                    while !request.answered.load(Ordering::Acquire) {
                        std::thread::park();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let elapsed = started.elapsed();
    queue
        .waiting
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .1 = true;
    queue.filled.notify_one();
    let _ = answerer.join();
    rounds as f64 / elapsed.as_secs_f64().max(1e-9)
}

//! [`Runtime`]: the small tokio runtime behind every blocking client in slotline.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::{Error, Result};

/// One worker thread that runs async clients' drivers and background tasks, for blocking
/// clients: the calling thread runs the request itself, parked between polls, inside this
/// runtime's context. Unlike `tokio::runtime::Runtime::block_on`, this works on any
/// thread, including threads already in a runtime's context (`spawn_blocking`); called
/// from an async task it would block that task's worker, so async code uses the async
/// clients. Dropped without blocking, on any thread.
///
/// The blocking clients of `slotline-conn`, `slotline-sentinel` and `slotline-cluster` all
/// run on it.
#[derive(Debug)]
pub struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    /// A runtime with one worker thread named `thread_name`.
    pub fn new(thread_name: &str) -> Result<Arc<Runtime>> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(thread_name)
            .enable_all()
            .build()
            .map_err(|e| Error::io(e, false))?;
        Ok(Arc::new(Runtime(Some(runtime))))
    }

    /// Runs `fut` to completion on this thread, within this runtime's context.
    pub fn run<F: Future>(&self, fut: F) -> Result<F::Output> {
        let Some(runtime) = &self.0 else {
            // Only emptied while being dropped.
            return Err(Error::closed(false));
        };
        let _context = runtime.enter();
        let mut fut = std::pin::pin!(fut);
        // The thread's waker, built once per thread; a fresh one while the thread's locals
        // are being torn down.
        let waker = THREAD_WAKER
            .try_with(Waker::clone)
            .unwrap_or_else(|_| thread_waker());
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(value) = fut.as_mut().poll(&mut cx) {
                return Ok(value);
            }
            std::thread::park();
        }
    }

    /// Runs a fallible `fut` to completion on this thread (see [`run`](Runtime::run)).
    pub fn block_on<T, E: From<Error>>(
        &self,
        fut: impl Future<Output = std::result::Result<T, E>>,
    ) -> std::result::Result<T, E> {
        self.run(fut)?
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

thread_local! {
    /// The waker that unparks this thread, shared by every [`Runtime::run`] on it.
    static THREAD_WAKER: Waker = thread_waker();
}

/// A waker that unparks the current thread.
fn thread_waker() -> Waker {
    Waker::from(Arc::new(Unparker(std::thread::current())))
}

/// Wakes a parked thread.
struct Unparker(std::thread::Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

//! [`Client`]: the shared client for threads: one connection, implicit pipelining across
//! every thread that holds a clone.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use slotline_resp::Frame;

use super::Query;
use crate::config::{ConnectionConfig, IntoConnectionConfig};
use crate::{ClientOptions, Cmd, Error, Pipeline, Query as AsyncQuery, Result};

/// The blocking twin of [`crate::Client`]: `Clone + Send + Sync`, one socket shared by
/// every thread; requests that threads make at once leave in one write.
///
/// It runs the async client's driver on a small runtime of its own (one worker thread), so
/// the queueing, reconnect and retry rules are the same code; the calling thread waits
/// parked. It works from any thread, `spawn_blocking` ones included; called from an async
/// task it would block that task's worker thread, so use [`crate::Client`] there.
///
/// ```no_run
/// use slotline_conn::blocking::{Client, Commands};
/// let client = Client::connect("redis://127.0.0.1:6379/0")?;
/// let threads: Vec<_> = (0..8)
///     .map(|i| {
///         let c = client.clone();
///         std::thread::spawn(move || c.incr(format!("n:{i}")))
///     })
///     .collect();
/// for t in threads {
///     t.join().expect("thread")?;
/// }
/// # Ok::<(), slotline_conn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: crate::Client,
    runtime: Arc<OwnRuntime>,
}

/// The client's own runtime, shut down without blocking when the last clone goes (so that
/// dropping a blocking client is fine on any thread).
#[derive(Debug)]
pub(crate) struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl OwnRuntime {
    /// A runtime with one worker thread, to run a blocking client's drivers.
    pub(crate) fn new() -> Result<Arc<OwnRuntime>> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("slotline-client")
            .enable_all()
            .build()
            .map_err(|e| Error::io(e, false))?;
        Ok(Arc::new(OwnRuntime(Some(runtime))))
    }

    /// Runs `fut` to completion on this thread, parked between polls (see `park_on`).
    pub(crate) fn block_on<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match &self.0 {
            Some(runtime) => park_on(runtime, fut),
            None => Err(Error::Closed { written: false }),
        }
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Client {
    /// Connects (failing now if the first connection or its handshake fails).
    pub fn connect(config: impl IntoConnectionConfig) -> Result<Self> {
        Client::connect_with(config, ClientOptions::default())
    }

    /// [`connect`](Client::connect) with options.
    pub fn connect_with(config: impl IntoConnectionConfig, options: ClientOptions) -> Result<Self> {
        let config = config.into_connection_config()?;
        let runtime = OwnRuntime::new()?;
        let inner = runtime.block_on(crate::Client::connect_with(config, options))?;
        Ok(Client { inner, runtime })
    }

    /// A blocking handle on an async client whose driver runs on `runtime`.
    pub(crate) fn from_async(inner: crate::Client, runtime: Arc<OwnRuntime>) -> Self {
        Client { inner, runtime }
    }

    /// The connection settings.
    pub fn config(&self) -> &ConnectionConfig {
        self.inner.config()
    }

    /// Whether the client has a connection right now.
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// Opens a separate blocking connection with the same settings (for `WATCH`/`EXEC`
    /// conversations and other per-socket state).
    pub fn dedicated(&self) -> Result<super::Connection> {
        super::Connection::connect(self.config())
    }

    fn block_on<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.runtime.block_on(fut)
    }
}

/// Runs `fut` to completion on this thread, inside `runtime`'s context (its reactor and
/// timers run on the runtime's worker), parking between polls. Unlike
/// `Runtime::block_on`, this works on threads that are already in a runtime's context.
fn park_on<T>(runtime: &tokio::runtime::Runtime, fut: impl Future<Output = T>) -> T {
    let _context = runtime.enter();
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(value) = fut.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::park();
    }
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

impl Query for Client {
    fn send_command(&self, cmd: &Cmd) -> Result<Frame> {
        self.block_on(self.inner.send_command(cmd))
    }

    fn send_pipeline(&self, pipe: &Pipeline) -> Result<Vec<Frame>> {
        self.block_on(self.inner.send_pipeline(pipe))
    }
}

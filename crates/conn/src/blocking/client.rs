//! [`Client`]: the shared client for threads: one connection, implicit pipelining across
//! every thread that holds a clone.

use std::future::Future;
use std::sync::Arc;

use super::{Execute, Runtime};
use crate::config::{ConnectionConfig, IntoConnectionConfig};
use crate::{ClientOptions, Execute as AsyncExecute, Request, Response, Result};

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
    pub(super) inner: crate::Client,
    pub(super) runtime: Arc<Runtime>,
}

impl Client {
    /// Connects (failing now if the first connection or its handshake fails).
    pub fn connect(config: impl IntoConnectionConfig) -> Result<Self> {
        Client::connect_with(config, ClientOptions::default())
    }

    /// [`connect`](Client::connect) with options.
    pub fn connect_with(config: impl IntoConnectionConfig, options: ClientOptions) -> Result<Self> {
        let config = config.into_connection_config()?;
        let runtime = Runtime::new("slotline-client")?;
        let inner = runtime.block_on(crate::Client::connect_with(config, options))?;
        Ok(Client { inner, runtime })
    }

    /// A blocking handle on an async client whose driver runs on `runtime`.
    pub(crate) fn from_async(inner: crate::Client, runtime: Arc<Runtime>) -> Self {
        Client { inner, runtime }
    }

    /// The connection settings.
    pub fn config(&self) -> &ConnectionConfig {
        self.inner.config()
    }

    /// What the client-side cache did so far and holds now (see
    /// [`crate::Client::cache_stats`]).
    pub fn cache_stats(&self) -> Option<slotline_command::cache::CacheStats> {
        self.inner.cache_stats()
    }

    /// The async client underneath, for what has no blocking twin (stats, metrics).
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// The address of the current (or last) connection.
    pub fn addr(&self) -> crate::Addr {
        self.inner.addr()
    }

    /// What the client counted so far (see [`crate::Client::metrics`]).
    pub fn metrics(&self) -> slotline_command::metrics::Metrics {
        self.inner.metrics()
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

impl Execute for Client {
    fn execute(&self, request: Request<'_>) -> Result<Response> {
        self.block_on(self.inner.execute(request))
    }
}

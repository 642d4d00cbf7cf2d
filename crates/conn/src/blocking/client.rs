//! [`Client`]: the shared client for threads: one connection, implicit pipelining across
//! every thread that holds a clone.

use std::sync::Arc;

use slotline_resp::Frame;

use super::Query;
use crate::config::{ConnectionConfig, IntoConnectionConfig};
use crate::{ClientOptions, Cmd, Error, Pipeline, Query as AsyncQuery, Result};

/// The blocking twin of [`crate::Client`]: `Clone + Send + Sync`, one socket shared by
/// every thread; requests that threads make at once leave in one write.
///
/// It runs the async client's driver on a small runtime of its own (one worker thread), so
/// the queueing, reconnect and retry rules are the same code. Do not call it from inside an
/// async runtime: use [`crate::Client`] there (doing so returns an error, it does not
/// panic).
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
    runtime: Arc<tokio::runtime::Runtime>,
}

impl Client {
    /// Connects (failing now if the first connection or its handshake fails).
    pub fn connect(config: impl IntoConnectionConfig) -> Result<Self> {
        Client::connect_with(config, ClientOptions::default())
    }

    /// [`connect`](Client::connect) with options.
    pub fn connect_with(config: impl IntoConnectionConfig, options: ClientOptions) -> Result<Self> {
        let config = config.into_connection_config()?;
        outside_runtime()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("slotline-client")
            .enable_all()
            .build()
            .map_err(|e| Error::io(e, false))?;
        let inner = runtime.block_on(crate::Client::connect_with(config, options))?;
        Ok(Client {
            inner,
            runtime: Arc::new(runtime),
        })
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

    fn block_on<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        outside_runtime()?;
        self.runtime.block_on(fut)
    }
}

/// Refuses to block a thread that is running async tasks.
fn outside_runtime() -> Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::Refused(
            "the blocking client was called from inside an async runtime; use slotline_conn::Client there"
                .into(),
        ));
    }
    Ok(())
}

impl Query for Client {
    fn send_command(&self, cmd: &Cmd) -> Result<Frame> {
        self.block_on(self.inner.send_command(cmd))
    }

    fn send_pipeline(&self, pipe: &Pipeline) -> Result<Vec<Frame>> {
        self.block_on(self.inner.send_pipeline(pipe))
    }
}

//! [`Replicated`]: the blocking twin of [`crate::Replicated`]: writes to the master, reads
//! by policy, from threads.

use std::sync::Arc;

use super::Runtime;
use super::{Client, Execute};
use crate::config::IntoConnectionConfig;
use crate::{Execute as AsyncExecute, ReadFrom, Request, Response, Result};

/// The blocking twin of [`crate::Replicated`], with the same names: a master and its
/// replicas behind one `Clone + Send + Sync` handle; read-only commands go to replicas
/// per [`ReadFrom`], everything else to the master.
///
/// It runs the async `Replicated` (its node clients, their reconnects and the routing) on
/// a small runtime of its own, as the blocking [`Client`] does.
///
/// ```no_run
/// use slotline_conn::blocking::{Commands, Replicated};
/// use slotline_conn::ReadFrom;
/// let r = Replicated::connect("redis://127.0.0.1:6379", ["redis://127.0.0.1:6380"], ReadFrom::Replica)?;
/// r.set("k", "v")?;                     // master
/// let v: Option<String> = r.get("k")?;  // a replica (replication is asynchronous)
/// # let _ = v;
/// # Ok::<(), slotline_conn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Replicated {
    inner: crate::Replicated,
    master: Client,
    replicas: Vec<Client>,
    runtime: Arc<Runtime>,
}

impl Replicated {
    /// Connects to the master (failing if it cannot) and to the replicas (see
    /// [`crate::Replicated::connect`]).
    pub fn connect<M, R, I>(master: M, replicas: I, read_from: ReadFrom) -> Result<Self>
    where
        M: IntoConnectionConfig,
        R: IntoConnectionConfig,
        I: IntoIterator<Item = R>,
    {
        let runtime = Runtime::new("slotline-client")?;
        let inner = runtime.block_on(crate::Replicated::connect(master, replicas, read_from))?;
        Ok(Replicated::wrap(inner, runtime))
    }

    /// Connects to the master and finds its replicas with `ROLE` (see
    /// [`crate::Replicated::discover`]).
    pub fn discover(master: impl IntoConnectionConfig, read_from: ReadFrom) -> Result<Self> {
        let runtime = Runtime::new("slotline-client")?;
        let inner = runtime.block_on(crate::Replicated::discover(master, read_from))?;
        Ok(Replicated::wrap(inner, runtime))
    }

    fn wrap(inner: crate::Replicated, runtime: Arc<Runtime>) -> Self {
        let master = Client::from_async(inner.master().clone(), runtime.clone());
        let replicas = inner
            .replicas()
            .iter()
            .map(|c| Client::from_async(c.clone(), runtime.clone()))
            .collect();
        Replicated {
            inner,
            master,
            replicas,
            runtime,
        }
    }

    /// The master's client.
    pub fn master(&self) -> &Client {
        &self.master
    }

    /// The replicas' clients.
    pub fn replicas(&self) -> &[Client] {
        &self.replicas
    }

    /// The read policy.
    pub fn read_from(&self) -> ReadFrom {
        self.inner.read_from()
    }
}

impl Execute for Replicated {
    fn execute(&self, request: Request<'_>) -> Result<Response> {
        self.runtime.block_on(self.inner.execute(request))
    }
}

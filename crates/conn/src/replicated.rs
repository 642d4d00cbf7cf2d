//! [`Replicated`]: the "master with replicas" deployment: writes to the master, reads by
//! policy.

use std::sync::Arc;

use slotline_resp::Frame;

use crate::config::{ConnectionConfig, IntoConnectionConfig};
use crate::Addr;
use slotline_command::{replica_could_not_serve, ReplicaPick, ReplicaRouter};

use crate::{
    cmd, Client, ClientOptions, Error, Execute, Query, ReadFrom, Request, Response, Result,
    UnavailableKind,
};

/// A master and its replicas behind one handle. Commands that the command table marks
/// read-only go to replicas per [`ReadFrom`]; every other command (and any unknown one)
/// goes to the master. A write sent to a replica by hand fails with
/// [`ServerErrorKind::ReadOnly`](crate::ServerErrorKind::ReadOnly).
///
/// Each node has its own shared [`Client`]; a replica that is down is skipped (its client
/// fails fast while reconnecting) and is used again once it is back.
///
/// ```no_run
/// # async fn demo() -> slotline_conn::Result<()> {
/// use slotline_conn::{Commands, ReadFrom, Replicated};
/// let r = Replicated::connect("redis://127.0.0.1:6379", ["redis://127.0.0.1:6380"], ReadFrom::Replica).await?;
/// r.set("k", "v").await?;                     // master
/// let v: Option<String> = r.get("k").await?;  // a replica (replication is asynchronous)
/// # let _ = v; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Replicated {
    master: Client,
    replicas: Vec<Client>,
    router: Arc<ReplicaRouter>,
}

impl Replicated {
    /// Connects to the master (failing if it cannot) and to the replicas: a replica that
    /// is up is ready when this returns; one that is down is connected in the background
    /// and used once it is up.
    pub async fn connect<M, R, I>(master: M, replicas: I, read_from: ReadFrom) -> Result<Self>
    where
        M: IntoConnectionConfig,
        R: IntoConnectionConfig,
        I: IntoIterator<Item = R>,
    {
        let master = Client::connect(master).await?;
        let replicas = connect_replicas(
            replicas
                .into_iter()
                .map(IntoConnectionConfig::into_connection_config)
                .collect::<Result<Vec<_>>>()?,
        )
        .await?;
        Ok(Replicated {
            master,
            replicas,
            router: Arc::new(ReplicaRouter::new(read_from)),
        })
    }

    /// Connects to the master and finds its replicas with `ROLE`; the replicas use the
    /// master's credentials and database.
    pub async fn discover(master: impl IntoConnectionConfig, read_from: ReadFrom) -> Result<Self> {
        let config = master.into_connection_config()?;
        let client = Client::connect(&config).await?;
        let role: Frame = client.query(&cmd("ROLE")).await?;
        let replicas = connect_replicas(
            replica_addrs_from_role(&role)?
                .into_iter()
                .map(|addr| config.for_addr(addr))
                .collect(),
        )
        .await?;
        Ok(Replicated {
            master: client,
            replicas,
            router: Arc::new(ReplicaRouter::new(read_from)),
        })
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
        self.router.read_from()
    }
}

/// Replica clients fail fast while reconnecting and never resend by themselves: reads move
/// on to another node instead (see [`Execute for Replicated`](Replicated)).
fn replica_options() -> ClientOptions {
    ClientOptions::default().fail_fast().with_retries(0)
}

/// The replicas' clients, after one connection attempt to each (all at once, each within
/// its connect timeout). Reads are routed only to connected replicas, so without this
/// wait a read made right after `connect` would find none (`ReadFrom::Replica` would
/// fail, `PreferReplica` would read from the master).
async fn connect_replicas(configs: Vec<ConnectionConfig>) -> Result<Vec<Client>> {
    let attempts: Vec<_> = configs
        .into_iter()
        .map(|config| tokio::spawn(Client::connect_or_lazy(config, replica_options())))
        .collect();
    let mut replicas = Vec::with_capacity(attempts.len());
    for attempt in attempts {
        match attempt.await {
            Ok(client) => replicas.push(client?),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime is shutting down.
            Err(_) => return Err(Error::closed(false)),
        }
    }
    Ok(replicas)
}

/// The replicas a master lists in its `ROLE` reply: `["master", offset, [[ip, port, offset], ...]]`.
pub fn replica_addrs_from_role(role: &Frame) -> Result<Vec<Addr>> {
    let bad = || Error::unexpected_reply(format!("ROLE of a master: {role:?}"));
    let parts = role.as_array().ok_or_else(bad)?;
    if parts.first().and_then(Frame::as_str) != Some("master") {
        return Err(Error::unavailable(
            crate::UnavailableKind::NoMaster,
            format!(
                "the node is not a master (ROLE says {:?})",
                parts.first().and_then(Frame::as_str).unwrap_or("?")
            ),
        ));
    }
    let list = parts.get(2).and_then(Frame::as_array).ok_or_else(bad)?;
    list.iter()
        .map(|r| {
            let fields = r.as_array().ok_or_else(bad)?;
            let host = fields.first().and_then(Frame::as_str).ok_or_else(bad)?;
            let port = fields
                .get(1)
                .and_then(Frame::as_str)
                .and_then(|p| p.parse().ok())
                .ok_or_else(bad)?;
            Ok(Addr::tcp(host, port))
        })
        .collect()
}

impl Execute for Replicated {
    /// Sends the request to the node its kind goes to ([`ReplicaRouter`]). A read that a
    /// replica could not serve (it dropped just now, or answered `LOADING`/`MASTERDOWN`
    /// before running it) goes to each other connected replica once, then (with
    /// [`ReadFrom::PreferReplica`]) to the master; when there is nowhere else to ask, the
    /// caller gets the last answer. Writes are the master client's, which resends what
    /// never left by itself.
    async fn execute(&self, request: Request<'_>) -> Result<Response> {
        let readonly = request.is_readonly();
        let n = self.replicas.len();
        let connected = |i: usize| self.replicas[i].is_connected();
        let pinned = request
            .scan_node()
            .and_then(|node| self.replicas.iter().position(|r| r.addr() == *node));
        let Some(mut pick) = self.router.first_pinned(pinned, readonly, n, connected) else {
            return Err(Error::unavailable(
                UnavailableKind::NoReplica,
                format!(
                    "no replica is connected (of {n}); ReadFrom::PreferReplica would read from the master"
                ),
            ));
        };
        // Replicas tried so far (bit i % 64).
        let mut tried = 0u64;
        loop {
            let ReplicaPick::Replica(i) = pick else {
                return self.master.execute(request).await;
            };
            let result = self.replicas[i].execute(request.duplicate()).await;
            if !replica_could_not_serve(&result, readonly) {
                return result;
            }
            tried |= 1 << (i % 64);
            match self
                .router
                .elsewhere(n, |j| tried & (1 << (j % 64)) == 0 && connected(j))
            {
                Some(next) => pick = next,
                None => return result,
            }
        }
    }
}

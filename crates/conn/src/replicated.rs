//! [`Replicated`]: the "master with replicas" deployment: writes to the master, reads by
//! policy.

use std::sync::atomic::{AtomicUsize, Ordering};

use slotline_resp::{Frame, Reply};

use crate::command_table;
use crate::config::{Addr, ConnectionConfig, IntoConnectionConfig};
use crate::{cmd, Client, ClientOptions, Cmd, Error, Pipeline, Query, Result};

/// Where read-only commands go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadFrom {
    /// Every command to the master (the default): reads see every acknowledged write.
    #[default]
    Primary,
    /// Reads to a replica (round robin over the connected ones), to the master when none is.
    PreferReplica,
    /// Reads to a replica only (round robin); an error when none is connected.
    Replica,
}

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
    read_from: ReadFrom,
    next: std::sync::Arc<AtomicUsize>,
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
            read_from,
            next: Default::default(),
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
            read_from,
            next: Default::default(),
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
        self.read_from
    }

    /// The client a command goes to: the master for writes, a connected replica for reads
    /// as the policy says.
    fn route(&self, read_only: bool) -> Result<&Client> {
        if !read_only || self.read_from == ReadFrom::Primary {
            return Ok(&self.master);
        }
        if let Some(replica) = self.next_replica(Client::is_connected) {
            return Ok(replica);
        }
        match self.read_from {
            ReadFrom::Replica => Err(Error::unavailable(
                crate::UnavailableKind::NoReplica,
                format!(
                    "no replica is connected (of {}); ReadFrom::PreferReplica would read from the master",
                    self.replicas.len()
                ),
            )),
            _ => Ok(&self.master),
        }
    }

    /// Where a read refused by replica `refused` goes next: another connected replica, or
    /// the master when the policy allows it.
    fn route_elsewhere(&self, refused: &Client) -> Option<&Client> {
        self.next_replica(|r| !std::ptr::eq(r, refused) && r.is_connected())
            .or((self.read_from == ReadFrom::PreferReplica).then_some(&self.master))
    }

    /// The next replica in round-robin order that is `usable`.
    fn next_replica(&self, usable: impl Fn(&Client) -> bool) -> Option<&Client> {
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &self.replicas[(start + i) % n])
            .find(|r| usable(r))
    }
}

/// Replica clients fail fast while reconnecting, so that reads move on to another node.
fn replica_options() -> ClientOptions {
    ClientOptions::default().fail_fast()
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
            Err(_) => return Err(Error::Closed { written: false }),
        }
    }
    Ok(replicas)
}

/// The replicas a master lists in its `ROLE` reply: `["master", offset, [[ip, port, offset], ...]]`.
pub fn replica_addrs_from_role(role: &Frame) -> Result<Vec<Addr>> {
    let bad = || Error::UnexpectedReply(format!("ROLE of a master: {role:?}"));
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

impl Query for Replicated {
    /// Sends the command to the node its kind goes to. A read that a replica could not
    /// serve (it dropped just now, or answered `LOADING`/`MASTERDOWN` before running it)
    /// is asked once more, of another replica or (with [`ReadFrom::PreferReplica`]) of the
    /// master; when there is nowhere else to ask, the caller gets the replica's answer.
    async fn send_command_reply(&self, cmd: &Cmd) -> Result<Reply> {
        let read_only = command_table::is_readonly(cmd);
        let target = self.route(read_only)?;
        let result = target.send_command_reply(cmd).await;
        if std::ptr::eq(target, &self.master) {
            return result;
        }
        let refused = match &result {
            // A replica that dropped just now: a read that never left may go elsewhere.
            Err(e) => e.is_retryable(),
            // A replica that cannot serve yet (`LOADING`, `MASTERDOWN`) refused the read
            // before running it.
            Ok(reply) => crate::ServerErrorKind::of_reply(reply.view())
                .is_some_and(|kind| kind.replica_cannot_serve()),
        };
        match refused.then(|| self.route_elsewhere(target)).flatten() {
            Some(next) => next.send_command_reply(cmd).await,
            None => result,
        }
    }

    async fn send_pipeline(&self, pipe: &Pipeline) -> Result<Vec<Frame>> {
        let read_only = !pipe.is_atomic() && pipe.cmds().iter().all(command_table::is_readonly);
        self.route(read_only)?.send_pipeline(pipe).await
    }
}

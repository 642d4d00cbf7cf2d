//! The RESP2 side of the client-side cache: one connection subscribed to
//! `__redis__:invalidate`, to which the shared client's connections redirect their tracking
//! (`CLIENT TRACKING ON REDIRECT id`). Over RESP3 none is needed: invalidations are pushes
//! on the connection that reads.
//!
//! The invalidations and the replies travel on different sockets, which is why the cache
//! keeps a reply out when its key was invalidated while it was in flight. When this
//! connection is lost, invalidations are lost with it: the cache is flushed and the data
//! connection is made again, which opens a new link and tracks through it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use tokio::task::JoinHandle;

use super::shared::ClientState;
use crate::{cmd, Addr, Connection, ConnectionConfig, MessageKind, Protocol, Query, Result};

/// The channel tracking's redirected invalidations are published on.
const CHANNEL: &str = "__redis__:invalidate";

/// An open invalidation connection.
#[derive(Debug)]
pub(crate) struct InvalidationLink {
    addr: Addr,
    /// Its `CLIENT ID`, the target of `REDIRECT`.
    id: i64,
    alive: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Drop for InvalidationLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ClientState {
    /// Sets tracking up on `conn`, a new data connection made with `config`, when the
    /// cache needs it over RESP2: through the invalidation link to the same node (opened
    /// first if there is none, or it was lost, or the node changed).
    pub(crate) async fn track(
        self: &Arc<Self>,
        config: &ConnectionConfig,
        conn: &Connection,
    ) -> Result<()> {
        let Some(cache) = &config.cache else {
            return Ok(());
        };
        if config.protocol == Protocol::Resp3 {
            // The handshake asked for it: invalidations come on this connection.
            return Ok(());
        }
        let id = self.invalidation_link(config).await?;
        conn.query::<()>(&cache.tracking_command(Some(id))).await
    }

    /// The `CLIENT ID` of a live invalidation link to `config`'s node, opened if needed.
    async fn invalidation_link(self: &Arc<Self>, config: &ConnectionConfig) -> Result<i64> {
        let mut link = self.invalidation.lock().await;
        if let Some(l) = link.as_ref() {
            if l.addr == config.addr && l.alive.load(Ordering::Acquire) {
                return Ok(l.id);
            }
        }
        *link = None;
        let conn = Connection::connect(config.clone().without_cache()).await?;
        let id: i64 = conn.query(&cmd("CLIENT").arg("ID")).await?;
        let mut ps = conn.into_pubsub().await?;
        ps.subscribe(CHANNEL).await?;
        let alive = Arc::new(AtomicBool::new(true));
        let state: Weak<ClientState> = Arc::downgrade(self);
        let still = alive.clone();
        let task = tokio::spawn(async move {
            loop {
                let item = ps.next_message().await;
                let Some(state) = state.upgrade() else { return };
                let Some(cache) = &state.cache else { return };
                match item {
                    Some(Ok(m)) if m.kind == MessageKind::Invalidation => {
                        match m.invalidated_keys() {
                            Some(keys) => keys.iter().for_each(|k| cache.invalidate(k)),
                            None => cache.flush(),
                        }
                    }
                    Some(Ok(_)) => {}
                    // Lost: what it would have said is lost too. The data connection goes,
                    // and the next one tracks through a new link.
                    _ => {
                        still.store(false, Ordering::Release);
                        cache.flush();
                        state.kick.notify_one();
                        return;
                    }
                }
            }
        });
        *link = Some(InvalidationLink {
            addr: config.addr.clone(),
            id,
            alive,
            task,
        });
        Ok(id)
    }
}

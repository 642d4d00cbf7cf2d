//! [`DedicatedPool`]: the few connections of a shared client on which requests that the
//! server may hold (`BLPOP`, `XREAD ... BLOCK`, `WAIT`: see [`Hold`](crate::Hold)) wait,
//! each alone, so that they never stall the multiplexed socket.
//!
//! Lazy (none is opened before a held request comes), bounded (at most
//! [`max_dedicated`](super::ClientOptions::max_dedicated) at once; callers beyond it wait
//! for one within their response timeout), reused, and closed after
//! [`dedicated_idle`](super::ClientOptions::dedicated_idle) unused or when the client's
//! address changes (a sentinel failover). Each is opened with the shared connection's
//! settings, so the same handshake (AUTH, SELECT, CLIENT SETNAME).
//!
//! A request whose caller gives up (its future dropped, or its timeout fired) while the
//! server holds it closes its connection at once (see [`Connection`]): the server frees a
//! blocked client when its connection ends, so no list item or stream entry arriving later
//! is taken for a caller who is gone.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::config::ConnectionConfig;
use crate::{Addr, Connection, Error, Execute, Request, Response, Result};

/// The pool of one shared client.
#[derive(Debug)]
pub(crate) struct DedicatedPool {
    /// One permit per connection that may be open and in use.
    permits: Semaphore,
    /// Connections not in use, the most recently used last.
    idle: Mutex<Vec<Idle>>,
    /// How long an unused connection is kept.
    keep_idle: Duration,
}

#[derive(Debug)]
struct Idle {
    conn: Connection,
    since: Instant,
}

/// A connection taken from the pool, with its permit. Dropped without
/// [`finish`](Lease::finish), its connection is closed.
struct Lease<'a> {
    pool: &'a DedicatedPool,
    conn: Connection,
    _permit: SemaphorePermit<'a>,
}

impl DedicatedPool {
    pub(crate) fn new(max: usize, keep_idle: Duration) -> Self {
        DedicatedPool {
            permits: Semaphore::new(max.max(1)),
            idle: Mutex::new(Vec::new()),
            keep_idle,
        }
    }

    /// Carries out `request` on a dedicated connection to `addr` (opened with `config`'s
    /// settings), everything (waiting for a connection, connecting, the reply) by
    /// `deadline` (`timeout` after the request began). Also says whether a connection went
    /// idle into an empty pool (the client's sweeper then has an expiry to watch).
    pub(crate) async fn execute(
        &self,
        config: &ConnectionConfig,
        addr: &Addr,
        request: Request<'_>,
        deadline: Option<Instant>,
        timeout: Option<Duration>,
    ) -> (Result<Response>, bool) {
        let waited = within(
            deadline,
            timeout,
            "a dedicated connection",
            false,
            self.lease(config, addr),
        );
        let lease = match waited.await {
            Ok(lease) => lease,
            Err(e) => return (Err(e), false),
        };
        let result = within(
            deadline,
            timeout,
            "reply",
            true,
            lease.conn.execute(request),
        )
        .await;
        let idled = lease.finish();
        (result, idled)
    }

    /// Waits for a permit, then takes an idle connection to `addr` or opens one.
    async fn lease(&self, config: &ConnectionConfig, addr: &Addr) -> Result<Lease<'_>> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::closed(false))?;
        let conn = match self.take_idle(addr) {
            Some(conn) => conn,
            None => {
                crate::trace::event!(DEBUG, server = %addr, "opening a dedicated connection");
                Connection::connect(config.for_addr(addr.clone()).without_cache()).await?
            }
        };
        Ok(Lease {
            pool: self,
            conn,
            _permit: permit,
        })
    }

    /// The most recently used idle connection to `addr` that the server has not closed
    /// meanwhile; idle ones to another address (the master moved) are closed.
    fn take_idle(&self, addr: &Addr) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let mut stale: Vec<Idle> = extract(&mut idle, |i| &i.conn.config().addr != addr);
        let mut found = None;
        while let Some(i) = idle.pop() {
            if i.conn.is_still_open() {
                found = Some(i.conn);
                break;
            }
            stale.push(i);
        }
        drop(idle);
        drop(stale);
        found
    }

    /// Closes the idle connections unused since `keep_idle` or to another address than
    /// `addr`; returns when the next one expires.
    pub(crate) fn prune(&self, now: Instant, addr: &Addr) -> Option<Instant> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let keep = self.keep_idle;
        let stale: Vec<Idle> = extract(&mut idle, |i| {
            &i.conn.config().addr != addr || now.duration_since(i.since) >= keep
        });
        let next = idle.iter().map(|i| i.since + keep).min();
        drop(idle);
        drop(stale);
        next
    }
}

impl Lease<'_> {
    /// Gives the connection back when it is in step (its request completed), closes it
    /// otherwise; says whether it went into an empty pool.
    fn finish(self) -> bool {
        let Lease {
            pool,
            conn,
            _permit,
        } = self;
        if !conn.is_reusable() {
            return false;
        }
        let mut idle = pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.push(Idle {
            conn,
            since: Instant::now(),
        });
        idle.len() == 1
    }
}

/// Removes the entries for which `stale` holds, to be dropped outside the lock.
fn extract(idle: &mut Vec<Idle>, stale: impl Fn(&Idle) -> bool) -> Vec<Idle> {
    let (gone, kept) = std::mem::take(idle).into_iter().partition(stale);
    *idle = kept;
    gone
}

/// Runs `fut` until `deadline`; past it, fails with a timeout of `after`.
pub(crate) async fn within<T>(
    deadline: Option<Instant>,
    after: Option<Duration>,
    what: &'static str,
    written: bool,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at, fut)
            .await
            .unwrap_or(Err(Error::timeout_after(
                after.unwrap_or_default(),
                what,
                written,
            ))),
        None => fut.await,
    }
}

//! [`ReplicaRouter`]: where a command goes among a master and its replicas, and where a read
//! goes when the replica it went to could not serve it. One rule for [`Replicated`]
//! (crate::Replicated), the sentinel `ReplicaClient` and a cluster's replica reads.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Request, Response, Result};

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

/// The node a [`ReplicaRouter`] picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaPick {
    /// The master.
    Master,
    /// The replica at this index.
    Replica(usize),
}

/// Round-robin read routing by [`ReadFrom`], sans-IO: callers say how many replicas there
/// are and which can take a read now (connected, healthy, not tried yet).
#[derive(Debug)]
pub struct ReplicaRouter {
    read_from: ReadFrom,
    next: AtomicUsize,
}

impl ReplicaRouter {
    /// A router for this policy.
    pub fn new(read_from: ReadFrom) -> Self {
        ReplicaRouter {
            read_from,
            next: AtomicUsize::new(0),
        }
    }

    /// The policy.
    pub fn read_from(&self) -> ReadFrom {
        self.read_from
    }

    /// Where a command goes first. Writes, and everything under [`ReadFrom::Primary`], go
    /// to the master. A read goes to the next usable replica in round robin; when none is
    /// usable, to the master under [`ReadFrom::PreferReplica`], and nowhere (`None`) under
    /// [`ReadFrom::Replica`].
    pub fn first(
        &self,
        readonly: bool,
        replicas: usize,
        usable: impl Fn(usize) -> bool,
    ) -> Option<ReplicaPick> {
        if !readonly || self.read_from == ReadFrom::Primary {
            return Some(ReplicaPick::Master);
        }
        self.elsewhere(replicas, usable)
    }

    /// [`first`](Self::first), but to replica `pinned` if it is usable: a scan keeps to the
    /// replica its cursor belongs to (see [`Request::scan_node`]).
    pub fn first_pinned(
        &self,
        pinned: Option<usize>,
        readonly: bool,
        replicas: usize,
        usable: impl Fn(usize) -> bool,
    ) -> Option<ReplicaPick> {
        match pinned.filter(|&i| i < replicas && usable(i)) {
            Some(i) => Some(ReplicaPick::Replica(i)),
            None => self.first(readonly, replicas, usable),
        }
    }

    /// Where a read goes after a replica could not serve it: the next usable replica
    /// (`usable` leaves out those tried), else the master under
    /// [`ReadFrom::PreferReplica`]; `None` when there is nowhere else.
    pub fn elsewhere(
        &self,
        replicas: usize,
        usable: impl Fn(usize) -> bool,
    ) -> Option<ReplicaPick> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..replicas)
            .map(|i| (start + i) % replicas)
            .find(|&i| usable(i))
            .map(ReplicaPick::Replica)
            .or((self.read_from == ReadFrom::PreferReplica).then_some(ReplicaPick::Master))
    }
}

/// Whether what a replica answered means the request should go to another node: the
/// replica cannot serve yet (`LOADING`, `MASTERDOWN`: refused before running), or its
/// connection failed while the request had not been written (or only reads).
pub fn replica_could_not_serve(result: &Result<Response>, readonly: bool) -> bool {
    let cannot = |r: &slotline_resp::Reply| {
        crate::ServerErrorKind::of_reply(r.view()).is_some_and(|k| k.replica_cannot_serve())
    };
    match result {
        Err(e) => match e.server_kind() {
            Some(kind) => kind.replica_cannot_serve(),
            None => e.is_connection_lost() && (e.is_retryable() || readonly),
        },
        Ok(Response::Reply(r)) => cannot(r),
        Ok(Response::Replies(rs)) => rs.iter().any(cannot),
        Ok(Response::Scan(_)) => false,
    }
}

impl Request<'_> {
    /// The operation the request is named by in traces: the command's name (`GET`),
    /// `PIPELINE`, `MULTI` (a transaction) or `SCAN`.
    pub fn operation(&self) -> String {
        match self {
            Request::Command(cmd) => cmd.name(),
            Request::Pipeline(p) if p.is_atomic() => "MULTI".to_string(),
            Request::Pipeline(_) => "PIPELINE".to_string(),
            Request::Scan(_) => "SCAN".to_string(),
        }
    }

    /// The commands of a batch: a pipeline's count, none for one command or a scan step.
    pub fn batch_size(&self) -> Option<usize> {
        match self {
            Request::Pipeline(p) => Some(p.len()),
            _ => None,
        }
    }

    /// The same request again, for a router that may send it to another node (a scan's
    /// cursor is copied; commands and pipelines are borrowed).
    pub fn duplicate(&self) -> Self {
        match self {
            Request::Command(c) => Request::Command(c),
            Request::Pipeline(p) => Request::Pipeline(p),
            Request::Scan(cursor) => Request::Scan(cursor.clone()),
        }
    }

    /// For a scan step, the node its cursor belongs to: a router keeps it there while it
    /// can (its cursor means nothing elsewhere).
    pub fn scan_node(&self) -> Option<&crate::Addr> {
        match self {
            Request::Scan(cursor) => cursor.node(),
            _ => None,
        }
    }

    /// Whether the caller said every command of it may run twice (a scan step only reads).
    pub fn is_idempotent(&self) -> bool {
        match self {
            Request::Command(c) => c.is_idempotent(),
            Request::Pipeline(p) => p.cmds().iter().all(crate::Cmd::is_idempotent),
            Request::Scan(_) => true,
        }
    }

    /// How long its caller waits for the request's replies: the response timeout `base`,
    /// plus the time the server may hold them ([`hold`](Request::hold)), plus the wait for
    /// the copies of a write that asks for [`Durability`](crate::Durability) (`durability`
    /// being the connection's default). `None`: forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use slotline_command::{cmd, Request};
    /// let base = Some(Duration::from_secs(1));
    /// let get = cmd("GET").arg("k");
    /// assert_eq!(Request::Command(&get).response_timeout(base, None), base);
    /// let blpop = cmd("BLPOP").arg("q").arg(0);
    /// assert_eq!(Request::Command(&blpop).response_timeout(base, None), None);
    /// ```
    pub fn response_timeout(
        &self,
        base: Option<std::time::Duration>,
        durability: Option<crate::Durability>,
    ) -> Option<std::time::Duration> {
        self.hold_and_response_timeout(base, durability).1
    }

    /// The request's [`hold`](Request::hold) and its
    /// [`response_timeout`](Request::response_timeout), worked out in one pass.
    pub fn hold_and_response_timeout(
        &self,
        base: Option<std::time::Duration>,
        durability: Option<crate::Durability>,
    ) -> (crate::Hold, Option<std::time::Duration>) {
        let hold = self.hold();
        let Some(base) = hold.response_timeout(base) else {
            return (hold, None);
        };
        if durability.is_none() && !self.asks_durability() {
            return (hold, Some(base));
        }
        let copies = match self {
            Request::Command(c) => crate::durability::of_command(c, durability),
            Request::Pipeline(p) => crate::durability::of_pipeline(p, durability),
            Request::Scan(_) => None,
        };
        let copies = copies.map_or(std::time::Duration::ZERO, |d| d.timeout());
        (hold, Some(base + copies))
    }

    /// Whether a command of the request asks for durability of its own.
    fn asks_durability(&self) -> bool {
        match self {
            Request::Command(c) => c.durability().is_some(),
            Request::Pipeline(p) => p.cmds().iter().any(|c| c.durability().is_some()),
            Request::Scan(_) => false,
        }
    }

    /// How long the server may hold the request's replies (see [`Hold`](crate::Hold)); a
    /// scan step is never held.
    pub fn hold(&self) -> crate::Hold {
        match self {
            Request::Command(c) => c.hold(),
            Request::Pipeline(p) => p.hold(),
            Request::Scan(_) => crate::Hold::Never,
        }
    }

    /// Whether the request only reads (the command table says so of every command; a
    /// transaction never does), so that it may go to a replica.
    pub fn is_readonly(&self) -> bool {
        match self {
            Request::Command(c) => crate::command_table::is_readonly(c),
            Request::Pipeline(p) => {
                !p.is_atomic() && p.cmds().iter().all(crate::command_table::is_readonly)
            }
            Request::Scan(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn picks_by_policy_and_round_robin() {
        let r = ReplicaRouter::new(ReadFrom::Replica);
        assert_eq!(r.first(false, 2, |_| true), Some(ReplicaPick::Master));
        let a = r.first(true, 2, |_| true);
        let b = r.first(true, 2, |_| true);
        assert_ne!(a, b, "round robin");
        assert_eq!(r.first(true, 2, |i| i == 1), Some(ReplicaPick::Replica(1)));
        assert_eq!(r.first(true, 2, |_| false), None);
        let p = ReplicaRouter::new(ReadFrom::PreferReplica);
        assert_eq!(p.first(true, 2, |_| false), Some(ReplicaPick::Master));
        assert_eq!(p.elsewhere(0, |_| true), Some(ReplicaPick::Master));
        let m = ReplicaRouter::new(ReadFrom::Primary);
        assert_eq!(m.first(true, 2, |_| true), Some(ReplicaPick::Master));
        // Round robin skips what is not usable, wraps, and finds nothing in nothing.
        for _ in 0..6 {
            assert_ne!(r.elsewhere(3, |i| i != 2), Some(ReplicaPick::Replica(2)));
        }
        assert_eq!(r.elsewhere(3, |_| false), None);
        assert_eq!(r.elsewhere(0, |_| true), None);
    }

    #[test]
    fn what_a_replica_could_not_serve() {
        let reply = |wire: &[u8]| -> Result<Response> {
            let reply = slotline_resp::Decoder::default()
                .decode_reply(&mut bytes::BytesMut::from(wire))
                .map_err(Error::from)?
                .ok_or(Error::closed(true))?;
            Ok(Response::Reply(reply))
        };
        assert!(replica_could_not_serve(
            &reply(b"-LOADING Redis is loading\r\n"),
            true
        ));
        assert!(replica_could_not_serve(
            &reply(b"-MASTERDOWN Link with MASTER is down\r\n"),
            true
        ));
        // Only an error reply's first word counts; other errors are the caller's.
        assert!(!replica_could_not_serve(&reply(b"$7\r\nLOADING\r\n"), true));
        assert!(!replica_could_not_serve(&reply(b"-READONLY no\r\n"), true));
        assert!(!replica_could_not_serve(&reply(b"+OK\r\n"), false));
        // A lost connection: what never left goes elsewhere, and a read that did.
        let unsent: Result<Response> = Err(Error::closed(false));
        let sent: Result<Response> = Err(Error::closed(true));
        assert!(replica_could_not_serve(&unsent, false));
        assert!(replica_could_not_serve(&sent, true));
        assert!(!replica_could_not_serve(&sent, false));
    }
}

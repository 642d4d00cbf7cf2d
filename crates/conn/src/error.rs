//! Errors: what went wrong, parsed once, so that callers and routers match on kinds.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use slotline_resp::{Frame, ProtocolError};

/// Shorthand for results in slotline.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between a caller and Redis.
///
/// Errors are cheap to clone (a shared client hands one failure to many waiters).
/// [`Error::may_have_run`] and [`Error::is_retryable`] apply the retry rule: a command that
/// was never written, or that the server refused before running, may be sent again; one
/// whose bytes may have reached the server is not resent unless the caller says it is
/// idempotent.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed. `written` tells whether the command's bytes may have reached the
    /// server (then it may have run).
    #[error("I/O error{}: {source}", if *.written { " after the command was sent (it may have run)" } else { "" })]
    Io {
        /// The underlying error.
        source: Arc<std::io::Error>,
        /// Whether the command may have reached the server.
        written: bool,
    },
    /// The server sent bytes that are not valid RESP2; the connection was closed.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// No answer in time.
    #[error("timed out after {after:?} waiting for {what}{}", if *.written { " (the command was sent and may have run)" } else { "" })]
    Timeout {
        /// How long we waited.
        after: Duration,
        /// What we waited for: `"connect"`, `"reply"`, ...
        what: &'static str,
        /// Whether the command may have reached the server.
        written: bool,
    },
    /// The connection was closed (by the peer, or after an earlier failure).
    #[error("connection closed{}", if *.written { " after the command was sent (it may have run)" } else { "" })]
    Closed {
        /// Whether the command may have reached the server.
        written: bool,
    },
    /// A configuration or URL that cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A reply that does not convert into the type asked for.
    #[error(transparent)]
    Type(#[from] TypeError),
    /// The server answered with an error reply.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The request was refused on the client side before anything was sent: nothing ran,
    /// and sending it again as it is would be refused again. [`RefusedKind`] says why.
    #[error("{message}")]
    Refused {
        /// Why.
        kind: RefusedKind,
        /// What was refused, for people.
        message: String,
    },
    /// There is nowhere to send the request now: nothing was sent, and it may work later
    /// (the node, replica or sentinel may come back). [`UnavailableKind`] says what is
    /// missing.
    #[error("{message}")]
    Unavailable {
        /// What is missing.
        kind: UnavailableKind,
        /// The details, for people.
        message: String,
    },
    /// The server answered with a reply of a shape the client cannot use for what it asked
    /// (`ROLE`, `CLUSTER SHARDS`, `EXEC`, ...). The command was sent: it may have run.
    #[error("unexpected reply: {0}")]
    UnexpectedReply(String),
    /// Something inside slotline broke a rule it keeps (a reply missing from its own
    /// bookkeeping, an answer of a shape its request cannot have): a bug, please report it.
    /// What was sent may have run.
    #[error("internal error in slotline (a bug, please report it): {0}")]
    Internal(String),
    /// A write asked for [`Durability`](crate::Durability) ran on the master, but fewer
    /// copies than asked acknowledged it in time: it may be lost in a failover. It ran, so
    /// it [may have run](Error::may_have_run) as far as a retry is concerned.
    #[error("the write ran on the master, but only {acknowledged} acknowledged it within {after:?} (asked: {wanted}); it may be lost in a failover")]
    NotDurable {
        /// The durability asked for (as in a URL: `replicas:1`).
        wanted: String,
        /// What was acknowledged.
        acknowledged: String,
        /// The longest wait for the copies.
        after: Duration,
    },
}

/// What became of a request that failed ([`Error::fate`]), as far as the client can tell:
/// whether it ran, and so whether it may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It never left the client (no connection, no node to send it to, its deadline passed
    /// while it waited): nothing ran, and it may be sent again.
    NeverSent,
    /// The server refused it before running it (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`,
    /// `LOADING`, `READONLY`, `MASTERDOWN`): nothing ran; it may be sent again, elsewhere
    /// or later.
    RefusedBeforeRunning,
    /// Its bytes may have reached the server and no answer said what happened: it may have
    /// run. Sent again only if the caller marked it idempotent.
    MayHaveRun,
    /// Sending it again would not help: the server answered with an error of its own, the
    /// client refused it, its settings cannot work, or its reply could not be converted.
    Final,
}

/// Why a request was [refused](Error::Refused) on the client side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusedKind {
    /// The command's keys live on several shards (cluster slots, or the shards of a
    /// sharded client), and the command cannot be split: a transaction, a script, a
    /// command other than `MGET`/`MSET`/`DEL`/`EXISTS`/`UNLINK`/`TOUCH`.
    CrossSlot,
    /// The command needs a connection of its own (`SUBSCRIBE`, `MONITOR`, `MULTI` on a
    /// shared client, ...).
    OwnConnection,
    /// The request cannot work as given (an empty command, a subscription with no name,
    /// `SELECT` in a cluster, ...).
    Invalid,
    /// The call needs a tokio runtime and was made outside of one.
    NoRuntime,
}

/// What is [unavailable](Error::Unavailable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnavailableKind {
    /// No node serves the key's slot or shard (the cluster or the shard may be down).
    NoNode,
    /// No replica is up to take a read, and falling back to the master is off.
    NoReplica,
    /// No sentinel answered.
    NoSentinelReachable,
    /// The sentinels answered, but none monitors the service.
    UnknownService,
    /// The node the sentinels name as master is not one, or cannot be reached (a
    /// failover may be under way).
    NoMaster,
}

impl Error {
    /// A [`Refused`](Error::Refused) error.
    pub fn refused(kind: RefusedKind, message: impl Into<String>) -> Self {
        Error::Refused {
            kind,
            message: message.into(),
        }
    }

    /// An [`Unavailable`](Error::Unavailable) error.
    pub fn unavailable(kind: UnavailableKind, message: impl Into<String>) -> Self {
        Error::Unavailable {
            kind,
            message: message.into(),
        }
    }

    /// An [`Internal`](Error::Internal) error: `what` broke.
    pub(crate) fn internal(what: impl Into<String>) -> Self {
        Error::Internal(what.into())
    }

    /// An I/O error, with whether the command may have been written.
    pub fn io(source: std::io::Error, written: bool) -> Self {
        Error::Io {
            source: Arc::new(source),
            written,
        }
    }

    /// What became of the request that failed with this error: the one classification
    /// every resend decision reads ([`may_have_run`](Error::may_have_run),
    /// [`is_retryable`](Error::is_retryable), [`may_resend`](Error::may_resend),
    /// [`Resends`](crate::Resends)).
    pub fn fate(&self) -> Fate {
        match self {
            Error::Io { written: true, .. }
            | Error::Timeout { written: true, .. }
            | Error::Closed { written: true } => Fate::MayHaveRun,
            // Refused by the certificates: the same settings are refused again.
            Error::Io { source, .. } if crate::tls::is_refused_handshake(source) => Fate::Final,
            Error::Io { .. } | Error::Timeout { .. } | Error::Closed { .. } => Fate::NeverSent,
            Error::Unavailable { .. } => Fate::NeverSent,
            Error::Server(e) if e.kind.refused_before_running() => Fate::RefusedBeforeRunning,
            Error::Protocol(_)
            | Error::UnexpectedReply(_)
            | Error::NotDurable { .. }
            | Error::Internal(_) => Fate::MayHaveRun,
            Error::Config(_) | Error::Type(_) | Error::Server(_) | Error::Refused { .. } => {
                Fate::Final
            }
        }
    }

    /// Whether the command may have run on the server: its bytes may have reached it and no
    /// answer said otherwise ([`Fate::MayHaveRun`]). Such a command is not resent unless it
    /// is idempotent.
    pub fn may_have_run(&self) -> bool {
        self.fate() == Fate::MayHaveRun
    }

    /// Whether sending the command again is safe whatever it does, and may work: it was
    /// never sent ([`Fate::NeverSent`]: but not a TLS handshake refused by its
    /// certificates, which would be refused again), or the server refused it before running
    /// it ([`Fate::RefusedBeforeRunning`]: `MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`,
    /// `LOADING`, `READONLY`, `MASTERDOWN`).
    pub fn is_retryable(&self) -> bool {
        matches!(self.fate(), Fate::NeverSent | Fate::RefusedBeforeRunning)
    }

    /// The retry rule after a connection loss: whether a request that failed with this
    /// error may be sent again on the next connection. Yes when it never reached the
    /// server, and when the caller marked it [`idempotent`](crate::Cmd::idempotent) (not
    /// after a timeout: its time is spent).
    pub fn may_resend(&self, idempotent: bool) -> bool {
        matches!(self, Error::Io { .. } | Error::Closed { .. })
            && match self.fate() {
                Fate::NeverSent => true,
                Fate::MayHaveRun => idempotent,
                Fate::RefusedBeforeRunning | Fate::Final => false,
            }
    }

    /// Whether the connection this error came from is unusable and should be replaced.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            Error::Io { .. } | Error::Protocol(_) | Error::Timeout { .. } | Error::Closed { .. }
        )
    }

    /// The server error kind, if this is a server error reply.
    pub fn server_kind(&self) -> Option<&ServerErrorKind> {
        match self {
            Error::Server(e) => Some(&e.kind),
            _ => None,
        }
    }

    /// The same failure, marked as having happened after the command was written.
    pub(crate) fn into_written(self) -> Self {
        match self {
            Error::Io { source, .. } => Error::Io {
                source,
                written: true,
            },
            Error::Timeout { after, what, .. } => Error::Timeout {
                after,
                what,
                written: true,
            },
            Error::Closed { .. } => Error::Closed { written: true },
            other => other,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e, false)
    }
}

/// An error reply from the server, with its kind parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server error: {}", String::from_utf8_lossy(.line))]
pub struct ServerError {
    /// What kind of error this is.
    pub kind: ServerErrorKind,
    /// The whole error line, as sent (`ERR unknown command ...`).
    pub line: Bytes,
}

impl ServerError {
    /// Parses an error line (without the leading `-`).
    pub fn parse(line: Bytes) -> Self {
        ServerError {
            kind: ServerErrorKind::parse(&line),
            line,
        }
    }

    /// The error from an error frame, or `None` for any other frame.
    pub fn from_frame(frame: &Frame) -> Option<Self> {
        Self::from_reply(frame)
    }

    /// The error of an error reply (a [`Frame`] or a view); `None` for any other reply.
    pub fn from_reply<'a>(reply: impl slotline_resp::ReadReply<'a>) -> Option<Self> {
        reply.to_error_line().map(ServerError::parse)
    }

    /// The text after the kind word.
    pub fn message(&self) -> String {
        let text = String::from_utf8_lossy(&self.line);
        match text.split_once(' ') {
            Some((_, rest)) => rest.to_string(),
            None => String::new(),
        }
    }
}

/// The kinds of server error that clients and routers act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// `READONLY`: a write reached a replica.
    ReadOnly,
    /// `UNBLOCKED ... instance state changed`: a command the server held (`BLPOP`) was
    /// released without running because its node stopped being a master (a failover).
    Demoted,
    /// `MOVED slot addr`: the slot lives on another node, for good.
    Moved {
        /// The slot.
        slot: u16,
        /// `host:port` of the node that owns it now.
        addr: String,
    },
    /// `ASK slot addr`: the slot is migrating; ask that node, this time only.
    Ask {
        /// The slot.
        slot: u16,
        /// `host:port` of the node to ask.
        addr: String,
    },
    /// `TRYAGAIN`: a multi-key command during a migration; retry shortly.
    TryAgain,
    /// `CLUSTERDOWN`: the cluster cannot serve now.
    ClusterDown,
    /// `LOADING`: the server is loading its data set.
    Loading,
    /// `NOAUTH`: authentication required.
    NoAuth,
    /// `WRONGPASS`: wrong user name or password.
    WrongPass,
    /// `WRONGTYPE`: the key holds another type.
    WrongType,
    /// `NOSCRIPT`: no script with that SHA1.
    NoScript,
    /// `MASTERDOWN`: the replica lost its master and does not serve stale data.
    MasterDown,
    /// `EXECABORT`: a transaction was discarded because a command in it was refused.
    ExecAbort,
    /// `CROSSSLOT`: keys of one command in different slots.
    CrossSlot,
    /// `BUSY`: a script is running.
    Busy,
    /// `NOPERM`: the ACL user may not run this.
    NoPerm,
    /// Any other kind word (`ERR` included).
    Other(String),
}

impl ServerErrorKind {
    /// Parses the kind from an error line.
    pub fn parse(line: &[u8]) -> Self {
        let text = String::from_utf8_lossy(line);
        let mut words = text.split(' ');
        let kind = words.next().unwrap_or("");
        match kind {
            "MOVED" | "ASK" => {
                let slot = words.next().and_then(|s| s.parse::<u16>().ok());
                let addr = words.next().map(str::to_string);
                match (slot, addr) {
                    (Some(slot), Some(addr)) if kind == "MOVED" => {
                        ServerErrorKind::Moved { slot, addr }
                    }
                    (Some(slot), Some(addr)) => ServerErrorKind::Ask { slot, addr },
                    _ => ServerErrorKind::Other(kind.to_string()),
                }
            }
            "READONLY" => ServerErrorKind::ReadOnly,
            "UNBLOCKED" if text.contains("instance state changed") => ServerErrorKind::Demoted,
            "TRYAGAIN" => ServerErrorKind::TryAgain,
            "CLUSTERDOWN" => ServerErrorKind::ClusterDown,
            "LOADING" => ServerErrorKind::Loading,
            "NOAUTH" => ServerErrorKind::NoAuth,
            "WRONGPASS" => ServerErrorKind::WrongPass,
            "WRONGTYPE" => ServerErrorKind::WrongType,
            "NOSCRIPT" => ServerErrorKind::NoScript,
            "MASTERDOWN" => ServerErrorKind::MasterDown,
            "EXECABORT" => ServerErrorKind::ExecAbort,
            "CROSSSLOT" => ServerErrorKind::CrossSlot,
            "BUSY" => ServerErrorKind::Busy,
            "NOPERM" => ServerErrorKind::NoPerm,
            other => ServerErrorKind::Other(other.to_string()),
        }
    }

    /// The kind of an error reply (a [`Frame`](slotline_resp::Frame) or a view); `None`
    /// for any other reply.
    pub fn of_reply<'a>(reply: impl slotline_resp::ReadReply<'a>) -> Option<Self> {
        reply.error_line().map(Self::parse)
    }

    /// Whether a replica refused a read because it cannot serve now (`LOADING`,
    /// `MASTERDOWN`), before running it: the read may go to another node.
    pub fn replica_cannot_serve(&self) -> bool {
        matches!(self, ServerErrorKind::Loading | ServerErrorKind::MasterDown)
    }

    /// Whether the server refused the command before running it, so that it may be sent
    /// again (to the same node later, or to the node a redirect names).
    pub fn refused_before_running(&self) -> bool {
        matches!(
            self,
            ServerErrorKind::Moved { .. }
                | ServerErrorKind::Ask { .. }
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::Loading
                | ServerErrorKind::ReadOnly
                | ServerErrorKind::Demoted
                | ServerErrorKind::MasterDown
        )
    }
}

/// A reply that does not convert into the Rust type asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot convert a reply of type {got} into {expected}{}", if .detail.is_empty() { String::new() } else { format!(": {}", .detail) })]
pub struct TypeError {
    /// The Rust type asked for.
    pub expected: &'static str,
    /// The kind of reply received (`bulk string`, `array`, ...).
    pub got: &'static str,
    /// More about what did not fit (may be empty).
    pub detail: String,
}

impl TypeError {
    /// A mismatch between `frame` and the Rust type `T`.
    pub fn new<'a, T: ?Sized>(
        reply: impl slotline_resp::ReadReply<'a>,
        detail: impl Into<String>,
    ) -> Self {
        TypeError {
            expected: std::any::type_name::<T>(),
            got: reply.type_name(),
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_error_kinds() {
        let e = ServerError::parse(Bytes::from_static(b"MOVED 3999 127.0.0.1:6381"));
        assert_eq!(
            e.kind,
            ServerErrorKind::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381".into()
            }
        );
        assert_eq!(e.message(), "3999 127.0.0.1:6381");
        let e = ServerError::parse(Bytes::from_static(b"ASK 1 10.0.0.1:7000"));
        assert!(matches!(e.kind, ServerErrorKind::Ask { slot: 1, .. }));
        assert_eq!(
            ServerErrorKind::parse(b"READONLY You can't write against a read only replica."),
            ServerErrorKind::ReadOnly
        );
        assert_eq!(
            ServerErrorKind::parse(b"ERR unknown command"),
            ServerErrorKind::Other("ERR".into())
        );
        assert_eq!(
            ServerErrorKind::parse(b"MOVED nonsense"),
            ServerErrorKind::Other("MOVED".into())
        );
        let demoted = b"UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";
        assert_eq!(ServerErrorKind::parse(demoted), ServerErrorKind::Demoted);
        assert!(ServerErrorKind::Demoted.refused_before_running());
        assert_eq!(
            ServerErrorKind::parse(b"UNBLOCKED client unblocked via CLIENT UNBLOCK"),
            ServerErrorKind::Other("UNBLOCKED".into())
        );
        assert!(ServerErrorKind::TryAgain.refused_before_running());
        assert!(!ServerErrorKind::WrongType.refused_before_running());
    }

    #[test]
    fn retry_rule() {
        let sent = Error::io(std::io::ErrorKind::BrokenPipe.into(), true);
        assert!(sent.may_have_run() && !sent.is_retryable());
        let unsent = Error::Closed { written: false };
        assert!(!unsent.may_have_run() && unsent.is_retryable());
        assert!(unsent.into_written().may_have_run());
        let moved = Error::Server(ServerError::parse(Bytes::from_static(b"MOVED 1 a:1")));
        assert!(moved.is_retryable() && !moved.may_have_run());
        let refused = Error::refused(RefusedKind::CrossSlot, "keys in two slots");
        assert!(!refused.is_retryable() && !refused.may_have_run());
        let down = Error::unavailable(UnavailableKind::NoNode, "slot 7 unserved");
        assert!(down.is_retryable() && !down.may_have_run());
        assert!(Error::UnexpectedReply("odd".into()).may_have_run());
    }

    #[test]
    fn every_error_has_one_fate() {
        let server =
            |line: &'static [u8]| Error::Server(ServerError::parse(Bytes::from_static(line)));
        let table: Vec<(Error, Fate)> = vec![
            (
                Error::io(std::io::ErrorKind::BrokenPipe.into(), true),
                Fate::MayHaveRun,
            ),
            (
                Error::io(std::io::ErrorKind::ConnectionRefused.into(), false),
                Fate::NeverSent,
            ),
            (
                Error::Timeout {
                    after: std::time::Duration::from_secs(1),
                    what: "reply",
                    written: true,
                },
                Fate::MayHaveRun,
            ),
            (Error::Closed { written: false }, Fate::NeverSent),
            (
                Error::unavailable(UnavailableKind::NoNode, "slot 7"),
                Fate::NeverSent,
            ),
            (server(b"MOVED 1 a:1"), Fate::RefusedBeforeRunning),
            (
                server(b"READONLY You can't write against a read only replica."),
                Fate::RefusedBeforeRunning,
            ),
            (server(b"WRONGTYPE Operation against a key"), Fate::Final),
            (
                Error::refused(RefusedKind::CrossSlot, "two slots"),
                Fate::Final,
            ),
            (Error::Config("bad".into()), Fate::Final),
            (Error::UnexpectedReply("odd".into()), Fate::MayHaveRun),
        ];
        for (e, fate) in table {
            assert_eq!(e.fate(), fate, "{e:?}");
            // The predicates say what the fate says.
            assert_eq!(e.may_have_run(), fate == Fate::MayHaveRun, "{e:?}");
            assert_eq!(
                e.is_retryable(),
                matches!(fate, Fate::NeverSent | Fate::RefusedBeforeRunning),
                "{e:?}"
            );
        }
        // A TLS handshake its certificates refused is final: it would be refused again.
        let tls = crate::tls::handshake_error(&std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ));
        let refused = Error::io(tls, false);
        assert_eq!(refused.fate(), Fate::Final);
        assert!(!refused.may_resend(true));
        let reset = Error::io(std::io::ErrorKind::ConnectionReset.into(), true);
        assert!(reset.may_resend(true) && !reset.may_resend(false));
    }
}

//! Errors: one [`Error`] type, with the [`ErrorKind`] callers match on, whether the request
//! may have run ([`Error::fate`]), and the cause kept as its [`source`](std::error::Error::source).

use std::sync::Arc;
use std::time::Duration;

use slotline_resp::ProtocolError;

pub use crate::server_error::{ServerError, ServerErrorKind, TypeError};

/// Shorthand for results in slotline.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between a caller and Redis.
///
/// Match on its [`kind`](Error::kind); ask whether the request [may have
/// run](Error::may_have_run) (the retry rule: a command never written, or refused by the
/// server before running, may be sent again; one whose bytes may have reached the server is
/// not resent unless the caller says it is idempotent); read the cause through
/// [`source`](std::error::Error::source) or the typed accessors
/// ([`server_error`](Error::server_error), [`io_error`](Error::io_error), ...).
///
/// Errors are cheap to clone (a shared client hands one failure to many waiters) and one
/// pointer wide.
///
/// ```
/// use slotline_command::{Error, ErrorKind};
/// let e = Error::closed(true);
/// assert_eq!(e.kind(), ErrorKind::Closed);
/// assert!(e.may_have_run());
/// assert_eq!(e.to_string(), "connection closed after the command was sent (it may have run)");
/// ```
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Debug, Clone)]
struct Inner {
    kind: ErrorKind,
    /// Whether the request's bytes may have reached the server (I/O, timeout, closed).
    written: bool,
    cause: Cause,
}

/// What an [`Error`] carries besides its kind.
#[derive(Debug, Clone)]
enum Cause {
    None,
    Message(String),
    Io(Arc<std::io::Error>),
    Protocol(ProtocolError),
    Type(TypeError),
    Server(ServerError),
    Timeout {
        after: Duration,
        what: &'static str,
    },
    NotDurable {
        wanted: String,
        acknowledged: String,
        after: Duration,
    },
}

/// What kind of failure an [`Error`] is: what callers match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The socket failed ([`io_error`](Error::io_error) has the cause).
    Io,
    /// The server sent bytes that are not valid RESP; the connection was closed.
    Protocol,
    /// No answer in time ([`timeout`](Error::timeout) says how long and for what).
    Timeout,
    /// The connection was closed (by the peer, or after an earlier failure).
    Closed,
    /// A configuration or URL that cannot work.
    Config,
    /// A reply that does not convert into the type asked for
    /// ([`type_error`](Error::type_error)).
    Type,
    /// The server answered with an error reply ([`server_error`](Error::server_error)).
    Server,
    /// The request was refused on the client side before anything was sent: nothing ran,
    /// and sending it again as it is would be refused again.
    Refused(RefusedKind),
    /// There is nowhere to send the request now: nothing was sent, and it may work later
    /// (the node, replica or sentinel may come back).
    Unavailable(UnavailableKind),
    /// The server answered with a reply of a shape the client cannot use for what it asked
    /// (`ROLE`, `CLUSTER SHARDS`, `EXEC`, ...). The command was sent: it may have run.
    UnexpectedReply,
    /// Something inside slotline broke a rule it keeps (a reply missing from its own
    /// bookkeeping, an answer of a shape its request cannot have): a bug, please report
    /// it. What was sent may have run.
    Internal,
    /// A write asked for [`Durability`](crate::Durability) ran on the master, but fewer
    /// copies than asked acknowledged it in time: it may be lost in a failover. It ran,
    /// so it [may have run](Error::may_have_run) as far as a retry is concerned.
    NotDurable,
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

/// Why a request was [refused](crate::ErrorKind::Refused) on the client side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// What is [unavailable](crate::ErrorKind::Unavailable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// The cause of an I/O error that says a TLS handshake was refused, by the peer or by the
/// client's own checks of its certificate: the same settings would be refused again, so an
/// [`ErrorKind::Io`](crate::ErrorKind::Io) caused by it is [final](Fate::Final) and never sent again.
#[derive(Debug)]
pub struct RefusedHandshake(String);

impl RefusedHandshake {
    /// A refusal, described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        RefusedHandshake(message.into())
    }

    /// Whether `e` is caused by a [`RefusedHandshake`].
    pub fn is_cause_of(e: &std::io::Error) -> bool {
        e.get_ref()
            .is_some_and(|inner| inner.is::<RefusedHandshake>())
    }
}

impl std::fmt::Display for RefusedHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedHandshake {}

impl Error {
    fn new(kind: ErrorKind, written: bool, cause: Cause) -> Self {
        Error(Box::new(Inner {
            kind,
            written,
            cause,
        }))
    }

    /// An [`Io`](ErrorKind::Io) error, with whether the command may have been written.
    pub fn io(source: std::io::Error, written: bool) -> Self {
        Error::new(ErrorKind::Io, written, Cause::Io(Arc::new(source)))
    }

    /// A [`Timeout`](ErrorKind::Timeout) after waiting `after` for `what` (`"connect"`,
    /// `"reply"`, ...), with whether the command may have been written.
    pub fn timeout_after(after: Duration, what: &'static str, written: bool) -> Self {
        Error::new(ErrorKind::Timeout, written, Cause::Timeout { after, what })
    }

    /// A [`Closed`](ErrorKind::Closed) connection, with whether the command may have been
    /// written.
    pub fn closed(written: bool) -> Self {
        Error::new(ErrorKind::Closed, written, Cause::None)
    }

    /// A [`Config`](ErrorKind::Config) error: `what` cannot work.
    pub fn config(what: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, false, Cause::Message(what.into()))
    }

    /// A [`Refused`](ErrorKind::Refused) request.
    pub fn refused(kind: RefusedKind, message: impl Into<String>) -> Self {
        Error::new(
            ErrorKind::Refused(kind),
            false,
            Cause::Message(message.into()),
        )
    }

    /// An [`Unavailable`](ErrorKind::Unavailable) error.
    pub fn unavailable(kind: UnavailableKind, message: impl Into<String>) -> Self {
        let cause = Cause::Message(message.into());
        Error::new(ErrorKind::Unavailable(kind), false, cause)
    }

    /// An [`UnexpectedReply`](ErrorKind::UnexpectedReply): `what` the reply was.
    pub fn unexpected_reply(what: impl Into<String>) -> Self {
        Error::new(
            ErrorKind::UnexpectedReply,
            true,
            Cause::Message(what.into()),
        )
    }

    /// An [`Internal`](ErrorKind::Internal) error: `what` broke.
    pub fn internal(what: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, true, Cause::Message(what.into()))
    }

    /// A [`NotDurable`](ErrorKind::NotDurable) write: `wanted` copies (as in a URL:
    /// `replicas:1`), `acknowledged` what was, within `after`.
    pub fn not_durable(
        wanted: impl Into<String>,
        acknowledged: impl Into<String>,
        after: Duration,
    ) -> Self {
        let cause = Cause::NotDurable {
            wanted: wanted.into(),
            acknowledged: acknowledged.into(),
            after,
        };
        Error::new(ErrorKind::NotDurable, true, cause)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The server's error reply, for a [`Server`](ErrorKind::Server) error.
    pub fn server_error(&self) -> Option<&ServerError> {
        match &self.0.cause {
            Cause::Server(e) => Some(e),
            _ => None,
        }
    }

    /// The server error kind, if this is a server error reply.
    pub fn server_kind(&self) -> Option<&ServerErrorKind> {
        self.server_error().map(|e| &e.kind)
    }

    /// The socket's error, for an [`Io`](ErrorKind::Io) error.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match &self.0.cause {
            Cause::Io(e) => Some(e),
            _ => None,
        }
    }

    /// The conversion that failed, for a [`Type`](ErrorKind::Type) error.
    pub fn type_error(&self) -> Option<&TypeError> {
        match &self.0.cause {
            Cause::Type(e) => Some(e),
            _ => None,
        }
    }

    /// The decoder's error, for a [`Protocol`](ErrorKind::Protocol) error.
    pub fn protocol_error(&self) -> Option<&ProtocolError> {
        match &self.0.cause {
            Cause::Protocol(e) => Some(e),
            _ => None,
        }
    }

    /// The message of an error that is told in words ([`Config`](ErrorKind::Config),
    /// [`Refused`](ErrorKind::Refused), [`Unavailable`](ErrorKind::Unavailable),
    /// [`UnexpectedReply`](ErrorKind::UnexpectedReply), [`Internal`](ErrorKind::Internal)),
    /// without the prefix its [`Display`](std::fmt::Display) puts before it.
    pub fn message(&self) -> Option<&str> {
        match &self.0.cause {
            Cause::Message(m) => Some(m),
            _ => None,
        }
    }

    /// For a [`Timeout`](ErrorKind::Timeout): how long the client waited, and for what
    /// (`"connect"`, `"reply"`, ...).
    pub fn timeout(&self) -> Option<(Duration, &'static str)> {
        match self.0.cause {
            Cause::Timeout { after, what } => Some((after, what)),
            _ => None,
        }
    }

    /// What became of the request that failed with this error: the one classification
    /// every resend decision reads ([`may_have_run`](Error::may_have_run),
    /// [`is_retryable`](Error::is_retryable), [`may_resend`](Error::may_resend),
    /// [`Resends`](crate::Resends)).
    pub fn fate(&self) -> Fate {
        match (&self.0.kind, &self.0.cause) {
            (ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Closed, _) if self.0.written => {
                Fate::MayHaveRun
            }
            // Refused by the certificates: the same settings are refused again.
            (_, Cause::Io(source)) if RefusedHandshake::is_cause_of(source) => Fate::Final,
            (ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Closed, _) => Fate::NeverSent,
            (ErrorKind::Unavailable(_), _) => Fate::NeverSent,
            (_, Cause::Server(e)) if e.kind.refused_before_running() => Fate::RefusedBeforeRunning,
            (
                ErrorKind::Protocol
                | ErrorKind::UnexpectedReply
                | ErrorKind::NotDurable
                | ErrorKind::Internal,
                _,
            ) => Fate::MayHaveRun,
            (
                ErrorKind::Config | ErrorKind::Type | ErrorKind::Server | ErrorKind::Refused(_),
                _,
            ) => Fate::Final,
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
        matches!(self.0.kind, ErrorKind::Io | ErrorKind::Closed)
            && match self.fate() {
                Fate::NeverSent => true,
                Fate::MayHaveRun => idempotent,
                Fate::RefusedBeforeRunning | Fate::Final => false,
            }
    }

    /// Whether the connection this error came from is unusable and should be replaced.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self.0.kind,
            ErrorKind::Io | ErrorKind::Protocol | ErrorKind::Timeout | ErrorKind::Closed
        )
    }

    /// The same failure, marked as having happened after the command was written.
    pub fn into_written(mut self) -> Self {
        if matches!(
            self.0.kind,
            ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Closed
        ) {
            self.0.written = true;
        }
        self
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("written", &self.0.written)
            .field("cause", &self.0.cause)
            .finish()
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ran = |f: &mut std::fmt::Formatter<'_>, text: &str| {
            if self.0.written {
                f.write_str(text)
            } else {
                Ok(())
            }
        };
        match (&self.0.kind, &self.0.cause) {
            (_, Cause::Io(source)) => {
                f.write_str("I/O error")?;
                ran(f, " after the command was sent (it may have run)")?;
                write!(f, ": {source}")
            }
            (_, Cause::Protocol(e)) => write!(f, "{e}"),
            (_, Cause::Type(e)) => write!(f, "{e}"),
            (_, Cause::Server(e)) => write!(f, "{e}"),
            (_, Cause::Timeout { after, what }) => {
                write!(f, "timed out after {after:?} waiting for {what}")?;
                ran(f, " (the command was sent and may have run)")
            }
            (
                _,
                Cause::NotDurable {
                    wanted,
                    acknowledged,
                    after,
                },
            ) => write!(
                f,
                "the write ran on the master, but only {acknowledged} acknowledged it within \
                 {after:?} (asked: {wanted}); it may be lost in a failover"
            ),
            (ErrorKind::Config, Cause::Message(m)) => write!(f, "invalid configuration: {m}"),
            (ErrorKind::UnexpectedReply, Cause::Message(m)) => write!(f, "unexpected reply: {m}"),
            (ErrorKind::Internal, Cause::Message(m)) => {
                write!(
                    f,
                    "internal error in slotline (a bug, please report it): {m}"
                )
            }
            (_, Cause::Message(m)) => f.write_str(m),
            (_, Cause::None) => {
                f.write_str("connection closed")?;
                ran(f, " after the command was sent (it may have run)")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.cause {
            Cause::Io(e) => Some(&**e),
            Cause::Protocol(e) => Some(e),
            Cause::Type(e) => Some(e),
            Cause::Server(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e, false)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::new(ErrorKind::Protocol, true, Cause::Protocol(e))
    }
}

impl From<TypeError> for Error {
    fn from(e: TypeError) -> Self {
        Error::new(ErrorKind::Type, false, Cause::Type(e))
    }
}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Self {
        Error::new(ErrorKind::Server, false, Cause::Server(e))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

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
        let unsent = Error::closed(false);
        assert!(!unsent.may_have_run() && unsent.is_retryable());
        assert!(unsent.into_written().may_have_run());
        let moved = Error::from(ServerError::parse(Bytes::from_static(b"MOVED 1 a:1")));
        assert!(moved.is_retryable() && !moved.may_have_run());
        let refused = Error::refused(RefusedKind::CrossSlot, "keys in two slots");
        assert!(!refused.is_retryable() && !refused.may_have_run());
        let down = Error::unavailable(UnavailableKind::NoNode, "slot 7 unserved");
        assert!(down.is_retryable() && !down.may_have_run());
        assert!(Error::unexpected_reply("odd").may_have_run());
    }

    #[test]
    fn every_error_has_one_fate() {
        let server =
            |line: &'static [u8]| Error::from(ServerError::parse(Bytes::from_static(line)));
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
                Error::timeout_after(std::time::Duration::from_secs(1), "reply", true),
                Fate::MayHaveRun,
            ),
            (Error::closed(false), Fate::NeverSent),
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
            (Error::config("bad"), Fate::Final),
            (Error::unexpected_reply("odd"), Fate::MayHaveRun),
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
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            RefusedHandshake::new("invalid peer certificate: UnknownIssuer"),
        );
        let refused = Error::io(tls, false);
        assert_eq!(refused.fate(), Fate::Final);
        assert!(!refused.may_resend(true));
        let reset = Error::io(std::io::ErrorKind::ConnectionReset.into(), true);
        assert!(reset.may_resend(true) && !reset.may_resend(false));
    }
}

//! The test bed's error type.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything that can go wrong while starting, probing or breaking a topology.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Redis binary could not be found.
    #[error(
        "{binary} not found: run `make deps` or `apt-get install redis-server redis-sentinel \
         redis-tools`, or set {env} to its path ({detail})"
    )]
    RedisNotFound {
        /// `redis-server` or `redis-sentinel`.
        binary: &'static str,
        /// The environment variable that overrides its path.
        env: &'static str,
        /// Where it was looked for.
        detail: String,
    },
    /// An I/O error (spawning, files, sockets), with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A server answered with an error reply.
    #[error("{addr} replied with an error: {message}")]
    Server {
        /// The node that answered.
        addr: SocketAddr,
        /// The error line, e.g. `MOVED 3999 127.0.0.1:7001`.
        message: String,
    },
    /// A server sent bytes that are not RESP, or a reply of an unexpected shape.
    #[error("{addr}: {message}")]
    Protocol {
        /// The node that answered.
        addr: SocketAddr,
        /// What was wrong.
        message: String,
    },
    /// A readiness or fault wait ran out of time.
    #[error("timed out after {after:?} waiting for {what}: {last}{log}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long it was awaited.
        after: Duration,
        /// The last thing that was not yet as expected.
        last: String,
        /// The tail of the relevant node's log (empty when none applies), preformatted.
        log: String,
    },
    /// A process exited when it should have been running.
    #[error("{what} at {addr} exited ({status}){log}")]
    Exited {
        /// `redis-server` or `redis-sentinel`.
        what: &'static str,
        /// The address it was given.
        addr: SocketAddr,
        /// Its exit status.
        status: String,
        /// The tail of its log, preformatted.
        log: String,
    },
    /// No free port could be found (after retries).
    #[error("no free port found: {0}")]
    NoPort(String),
    /// A fault was asked of a topology that this process did not start.
    #[error("{0} is not supported on an external deployment (SLOTLINE_TEST_* is set)")]
    External(&'static str),
    /// The request does not make sense for this topology in its current state.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// The error line when this is a server error reply (e.g. `MOVED 3999 127.0.0.1:7001`).
    pub fn server_message(&self) -> Option<&str> {
        match self {
            Error::Server { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Whether this is an I/O error of the given kind (e.g. `TimedOut`, `ConnectionRefused`).
    pub fn is_io_kind(&self, kind: std::io::ErrorKind) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == kind)
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The test bed's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

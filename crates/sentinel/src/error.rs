//! Errors of sentinel discovery: each way discovery fails is a variant of its own.

use slotline_conn::Addr;

/// Shorthand for results in slotline-sentinel.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while asking the sentinels, or below them.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No sentinel answered: each was down, timed out, refused the credentials or sent
    /// something that is not a sentinel's answer.
    #[error("no sentinel reachable: {}", list_failures(.failures))]
    NoSentinelReachable {
        /// Each sentinel asked, with why it did not answer.
        failures: Vec<(Addr, String)>,
    },
    /// Sentinels answered, but none of them monitors this service.
    #[error("no sentinel knows the service {service:?} (asked {})", list_addrs(.asked))]
    UnknownService {
        /// The service (master name) asked for.
        service: String,
        /// The sentinels that answered that they do not know it.
        asked: Vec<Addr>,
    },
    /// The node the sentinels name as the service's master says (`ROLE`) it is not a
    /// master, still after waiting and asking again (a failover may be under way).
    #[error("{addr}, named master of {service:?} by the sentinels, is not a master (ROLE says {role:?})")]
    NotMaster {
        /// The service.
        service: String,
        /// The node the sentinels named.
        addr: Addr,
        /// Its role (`slave`, `sentinel`, ...).
        role: String,
    },
    /// The node the sentinels name as the service's master cannot be reached (it may have
    /// just died, before the sentinels noticed).
    #[error("{addr}, named master of {service:?} by the sentinels, cannot be reached: {reason}")]
    MasterUnreachable {
        /// The service.
        service: String,
        /// The node the sentinels named.
        addr: Addr,
        /// Why it could not be reached.
        reason: String,
    },
    /// A configuration that cannot work (no sentinel address, an address that does not
    /// parse, ...).
    #[error("invalid sentinel configuration: {0}")]
    Config(String),
    /// An error from a data node, after discovery (connecting to the master, a wrong
    /// password on the data nodes, ...).
    #[error(transparent)]
    Conn(#[from] slotline_conn::Error),
}

fn list_failures(failures: &[(Addr, String)]) -> String {
    if failures.is_empty() {
        return "no sentinel to ask".into();
    }
    failures
        .iter()
        .map(|(addr, why)| format!("{addr}: {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn list_addrs(addrs: &[Addr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// For the shared client's resolver and the [`Query`](slotline_conn::Query) impls: a
/// discovery failure is a connection failure that happened before anything was sent
/// (retryable), keeping its message; an error from below stays what it was.
impl From<Error> for slotline_conn::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Conn(inner) => inner,
            Error::Config(msg) => slotline_conn::Error::Config(msg),
            // The discovery error rides inside, for `Error::in_conn_error`.
            other => slotline_conn::Error::io(
                std::io::Error::new(std::io::ErrorKind::NotConnected, other),
                false,
            ),
        }
    }
}

impl Error {
    /// The discovery error inside an error from a client that discovers its nodes through
    /// sentinels (`SentinelClient`, `ReplicaClient`, the facade's `Client::open` with a
    /// `redis+sentinel://` URL), which report it as a connection failure before anything was
    /// sent; `None` for any other error.
    ///
    /// ```
    /// use slotline_sentinel::Error;
    /// let e: slotline_conn::Error = Error::UnknownService { service: "cache".into(), asked: vec![] }.into();
    /// assert!(e.is_retryable());
    /// assert!(matches!(Error::in_conn_error(&e), Some(Error::UnknownService { service, .. }) if service == "cache"));
    /// ```
    pub fn in_conn_error(e: &slotline_conn::Error) -> Option<&Error> {
        match e {
            slotline_conn::Error::Io { source, .. } => source.get_ref()?.downcast_ref(),
            _ => None,
        }
    }
}

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
        /// Each sentinel asked, with why it did not answer (kept as the error it was: a
        /// timeout, a refused password, a reply that is not a sentinel's ...).
        failures: Vec<(Addr, slotline_conn::Error)>,
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

fn list_failures(failures: &[(Addr, slotline_conn::Error)]) -> String {
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

/// For the clients built on discovery: a discovery failure is "unavailable" (nothing was
/// sent; it may work later), with its kind and message; an error from below stays what it
/// was.
impl From<Error> for slotline_conn::Error {
    fn from(e: Error) -> Self {
        use slotline_conn::UnavailableKind;
        let kind = match &e {
            Error::Conn(inner) => return inner.clone(),
            Error::Config(msg) => return slotline_conn::Error::config(msg.clone()),
            Error::NoSentinelReachable { .. } => UnavailableKind::NoSentinelReachable,
            Error::UnknownService { .. } => UnavailableKind::UnknownService,
            Error::NotMaster { .. } | Error::MasterUnreachable { .. } => UnavailableKind::NoMaster,
        };
        slotline_conn::Error::unavailable(kind, e.to_string())
    }
}

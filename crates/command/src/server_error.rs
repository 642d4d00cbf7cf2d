//! What the server said went wrong ([`ServerError`], with its [`ServerErrorKind`] parsed
//! once, so that routers match on kinds), and a reply that does not convert
//! ([`TypeError`]).

use bytes::Bytes;
use slotline_resp::Frame;

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

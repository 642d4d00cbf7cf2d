//! What the sentinels' and the nodes' replies mean: a master's address, the replica list,
//! `ROLE`, `+switch-master`, and whether a reply says "sent to a replica, not run".

use slotline_conn::{command_table, Addr, Pipeline, ServerErrorKind};
use slotline_resp::{Frame, ReadReply};

/// [`unexpected`], kept as an error: the server's own error reply as a server error,
/// anything else as an unexpected reply.
pub(crate) fn unexpected_error(what: &str, reply: &Frame) -> slotline_conn::Error {
    match reply {
        Frame::Error(line) => {
            slotline_conn::Error::from(slotline_conn::ServerError::parse(line.clone()))
        }
        other => slotline_conn::Error::unexpected_reply(format!("to {what}: {other:?}")),
    }
}

pub(crate) fn unexpected(what: &str, reply: &Frame) -> String {
    match reply {
        Frame::Error(line) => String::from_utf8_lossy(line).into_owned(),
        other => format!("unexpected reply to {what}: {other:?}"),
    }
}

/// `-ERR No such master with that name` (what `SENTINEL REPLICAS` and `SENTINEL SENTINELS`
/// answer for an unknown service).
pub(crate) fn is_no_such_master(frame: &Frame) -> bool {
    frame
        .error_message()
        .is_some_and(|m| m.to_ascii_lowercase().contains("no such master"))
}

/// Whether `e` says the credentials are wrong or missing.
pub(crate) fn is_auth_error(e: &slotline_conn::Error) -> bool {
    match e.server_kind() {
        Some(ServerErrorKind::NoAuth | ServerErrorKind::WrongPass | ServerErrorKind::NoPerm) => {
            true
        }
        // `ERR AUTH <password> called without any password configured ...`
        Some(ServerErrorKind::Other(kind)) => kind == "ERR" && e.to_string().contains("AUTH"),
        _ => false,
    }
}

/// `[ip, port]` from `SENTINEL GET-MASTER-ADDR-BY-NAME`.
pub(crate) fn parse_master_addr(reply: &Frame) -> Option<Addr> {
    let items = reply.as_array()?;
    let host = items.first()?.as_str()?;
    let port = items.get(1)?.as_str()?.parse().ok()?;
    (!host.is_empty()).then(|| Addr::tcp(host, port))
}

/// A field of a sentinel's instance entry (a flat `[name, value, ...]` array in RESP2, a
/// map in RESP3 decoded as the same flat array).
pub(crate) fn field<'a>(entry: &'a Frame, name: &str) -> Option<&'a str> {
    let items = entry.as_array()?;
    items
        .chunks_exact(2)
        .find(|kv| kv[0].as_str() == Some(name))
        .and_then(|kv| kv[1].as_str())
}

pub(crate) fn entry_addr(entry: &Frame) -> Option<Addr> {
    let host = field(entry, "ip")?;
    let port = field(entry, "port")?.parse().ok()?;
    Some(Addr::tcp(host, port))
}

fn entry_flagged_down(entry: &Frame) -> bool {
    field(entry, "flags").is_some_and(|flags| {
        flags
            .split(',')
            .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"))
    })
}

/// The healthy replicas of a `SENTINEL REPLICAS` reply: not flagged `s_down`, `o_down` or
/// `disconnected`, with their link to the master up. `None` when the reply is not a list of
/// instance entries.
pub(crate) fn parse_replicas(reply: &Frame) -> Option<Vec<Addr>> {
    let entries = reply.as_array()?;
    let mut healthy = Vec::with_capacity(entries.len());
    for entry in entries {
        let addr = entry_addr(entry)?;
        let link_ok = field(entry, "master-link-status").is_none_or(|s| s == "ok");
        if link_ok && !entry_flagged_down(entry) {
            healthy.push(addr);
        }
    }
    Some(healthy)
}

/// What a node says it is (`ROLE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    Master,
    /// A replica, with its replication state (`connect`, `connecting`, `sync`,
    /// `connected`).
    Replica {
        state: String,
    },
    Other(String),
}

impl Role {
    pub(crate) fn name(&self) -> &str {
        match self {
            Role::Master => "master",
            Role::Replica { .. } => "slave",
            Role::Other(name) => name,
        }
    }
}

/// Parses a `ROLE` reply.
pub(crate) fn parse_role(reply: &Frame) -> Option<Role> {
    let items = reply.as_array()?;
    Some(match items.first()?.as_str()? {
        "master" => Role::Master,
        "slave" | "replica" => Role::Replica {
            state: items
                .get(3)
                .and_then(Frame::as_str)
                .unwrap_or("")
                .to_string(),
        },
        other => Role::Other(other.to_string()),
    })
}

/// Whether a `ROLE` reply is that of a replica that is in sync with its master (state
/// `connected`): one that serves reads that are not stale by a whole resync. The reason
/// when it is not.
pub(crate) fn replica_ready(reply: &Frame) -> std::result::Result<(), String> {
    match parse_role(reply) {
        Some(Role::Replica { state }) if state == "connected" => Ok(()),
        Some(Role::Replica { state }) => Err(format!(
            "the replica is not in sync with its master (state {state:?})"
        )),
        Some(role) => Err(format!(
            "the node is not a replica (ROLE says {:?})",
            role.name()
        )),
        None => Err(unexpected("ROLE", reply)),
    }
}

/// A `+switch-master` message: `<service> <old ip> <old port> <new ip> <new port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Switch {
    pub(crate) service: String,
    pub(crate) old: Addr,
    pub(crate) new: Addr,
}

/// Parses a `+switch-master` payload.
pub(crate) fn parse_switch(payload: &[u8]) -> Option<Switch> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut words = text.split_ascii_whitespace();
    let service = words.next()?.to_string();
    let old_host = words.next()?;
    let old_port = words.next()?.parse().ok()?;
    let new_host = words.next()?;
    let new_port = words.next()?.parse().ok()?;
    Some(Switch {
        service,
        old: Addr::tcp(old_host, old_port),
        new: Addr::tcp(new_host, new_port),
    })
}

/// Whether `reply` (a [`Frame`] or a view) is a `READONLY` error: the command reached a
/// replica and did not run.
pub(crate) fn is_readonly_error<'a>(reply: impl ReadReply<'a>) -> bool {
    ServerErrorKind::of_reply(reply) == Some(ServerErrorKind::ReadOnly)
}

/// `READONLY` or `UNBLOCKED ... instance state changed`: the node is no longer the master,
/// and the command did not run.
fn is_demotion(kind: &ServerErrorKind) -> bool {
    matches!(kind, ServerErrorKind::ReadOnly | ServerErrorKind::Demoted)
}

/// Whether a pipeline's replies say it reached a replica and none of its writes ran, so
/// that it may be sent again (to the master) as a whole: some reply is `READONLY`, and
/// - in a transaction, `EXEC` was refused (`EXECABORT`): nothing ran;
/// - otherwise, every command that is not read-only was refused with `READONLY` (the
///   read-only ones ran, and running them again is harmless).
pub(crate) fn pipeline_refused_by_replica<'a, R: ReadReply<'a>>(
    p: &Pipeline,
    replies: &[R],
) -> bool {
    if !replies.iter().any(|r| is_readonly_error(*r)) || replies.len() != p.reply_count() {
        return false;
    }
    if p.is_atomic() {
        return replies.last().is_some_and(|exec| {
            ServerErrorKind::of_reply(*exec) == Some(ServerErrorKind::ExecAbort)
        });
    }
    p.cmds()
        .iter()
        .zip(replies)
        .all(|(c, reply)| command_table::is_readonly(c) || is_readonly_error(*reply))
}

/// Whether what the master client answered says the request reached a demoted master and
/// did not run: `READONLY` (or, for a held command such as `BLPOP` that was waiting when
/// the master was demoted, `UNBLOCKED ... instance state changed`), for a command, a
/// pipeline as a whole, or a scan step.
pub(crate) fn refused_by_demoted_master(
    request: &slotline_conn::Request<'_>,
    result: &slotline_conn::Result<slotline_conn::Response>,
) -> bool {
    use slotline_conn::{Request, Response};
    match (request, result) {
        (_, Err(e)) => e.server_kind().is_some_and(is_demotion),
        (_, Ok(Response::Reply(reply))) => {
            ServerErrorKind::of_reply(reply.view()).is_some_and(|k| is_demotion(&k))
        }
        (Request::Pipeline(p), Ok(Response::Replies(replies))) => {
            let views: Vec<_> = replies.iter().map(|r| r.view()).collect();
            pipeline_refused_by_replica(p, &views)
        }
        _ => false,
    }
}

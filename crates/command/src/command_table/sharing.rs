//! [`Sharing`]: what a command does to the connection it is sent on beyond its own reply,
//! in the classes by which every client of slotline refuses what it cannot carry: the
//! request/response connection, the shared client, the cluster and sharded clients. The
//! refusals are written once, here, as classes; each client says in its own words what to
//! use instead.

/// What a command does to its connection beyond its own reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Nothing: it may go on any connection.
    Plain,
    /// It turns the connection into a stream of pushes (`SUBSCRIBE`, `PSUBSCRIBE`,
    /// `SSUBSCRIBE`, `MONITOR`).
    Push,
    /// It is answered once per channel (`UNSUBSCRIBE`, `PUNSUBSCRIBE`, `SUNSUBSCRIBE`).
    PerChannel,
    /// It stops the replies (`CLIENT REPLY OFF` or `SKIP`).
    StopsReplies,
    /// It opens a transaction (`MULTI`).
    OpensTransaction,
    /// It ends one (`EXEC`, `DISCARD`).
    EndsTransaction,
    /// It sets a watch (`WATCH`).
    Watches,
    /// It clears one (`UNWATCH`).
    Unwatches,
    /// It switches the connection's database (`SELECT`).
    SwitchesDatabase,
    /// It changes the connection's protocol or credentials (`HELLO`).
    Handshakes,
    /// It drops the connection's state (`RESET`).
    Resets,
    /// It closes the connection (`QUIT`).
    Closes,
    /// It sets how a cluster node serves the connection (`READONLY`, `READWRITE`,
    /// `ASKING`), which a cluster client manages itself.
    ClusterMode,
    /// It walks one node's keyspace with a cursor (`SCAN`), where a client of several
    /// shards must walk every shard.
    Cursor,
}

impl Sharing {
    /// The class of the command whose arguments are `name` and, for `CLIENT REPLY`, the
    /// next two (`sub`, `mode`). Told apart by the name's length first: most commands are
    /// classed without comparing a byte.
    pub fn of(name: &[u8], sub: Option<&[u8]>, mode: Option<&[u8]>) -> Sharing {
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        match name.len() {
            4 if is("EXEC") => Sharing::EndsTransaction,
            4 if is("QUIT") => Sharing::Closes,
            4 if is("SCAN") => Sharing::Cursor,
            5 if is("MULTI") => Sharing::OpensTransaction,
            5 if is("WATCH") => Sharing::Watches,
            5 if is("HELLO") => Sharing::Handshakes,
            5 if is("RESET") => Sharing::Resets,
            6 if is("SELECT") => Sharing::SwitchesDatabase,
            6 if is("ASKING") => Sharing::ClusterMode,
            6 if is("CLIENT") => {
                let reply = sub.is_some_and(|s| s.eq_ignore_ascii_case(b"REPLY"));
                let on = mode.is_some_and(|m| m.eq_ignore_ascii_case(b"ON"));
                if reply && !on {
                    Sharing::StopsReplies
                } else {
                    Sharing::Plain
                }
            }
            7 if is("MONITOR") => Sharing::Push,
            7 if is("DISCARD") => Sharing::EndsTransaction,
            7 if is("UNWATCH") => Sharing::Unwatches,
            8 if is("READONLY") => Sharing::ClusterMode,
            9 if is("SUBSCRIBE") => Sharing::Push,
            9 if is("READWRITE") => Sharing::ClusterMode,
            10 if is("PSUBSCRIBE") || is("SSUBSCRIBE") => Sharing::Push,
            11 if is("UNSUBSCRIBE") => Sharing::PerChannel,
            12 if is("PUNSUBSCRIBE") || is("SUNSUBSCRIBE") => Sharing::PerChannel,
            _ => Sharing::Plain,
        }
    }

    /// The class of `cmd`.
    pub fn of_cmd(cmd: &crate::Cmd) -> Sharing {
        Sharing::of_named(cmd, cmd.arg_at(0).unwrap_or_default())
    }

    /// The class of `cmd`, whose name `name` was read already.
    pub(crate) fn of_named(cmd: &crate::Cmd, name: &[u8]) -> Sharing {
        // Only CLIENT looks further.
        if name.len() == 6 {
            return Sharing::of(name, cmd.arg_at(1), cmd.arg_at(2));
        }
        Sharing::of(name, None, None)
    }

    /// Whether a request/response connection cannot carry it: its replies never end, come
    /// once per channel, or stop.
    pub fn breaks_request_response(self) -> bool {
        matches!(
            self,
            Sharing::Push | Sharing::PerChannel | Sharing::StopsReplies
        )
    }

    /// Whether it is part of a `MULTI`/`EXEC` transaction or its guard (`WATCH`).
    pub fn is_transaction_step(self) -> bool {
        matches!(
            self,
            Sharing::OpensTransaction
                | Sharing::EndsTransaction
                | Sharing::Watches
                | Sharing::Unwatches
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_by_name_in_any_case() {
        let table: &[(&str, Sharing)] = &[
            ("GET", Sharing::Plain),
            ("exec", Sharing::EndsTransaction),
            ("DISCARD", Sharing::EndsTransaction),
            ("Multi", Sharing::OpensTransaction),
            ("WATCH", Sharing::Watches),
            ("unwatch", Sharing::Unwatches),
            ("QUIT", Sharing::Closes),
            ("HELLO", Sharing::Handshakes),
            ("RESET", Sharing::Resets),
            ("select", Sharing::SwitchesDatabase),
            ("SUBSCRIBE", Sharing::Push),
            ("psubscribe", Sharing::Push),
            ("SSUBSCRIBE", Sharing::Push),
            ("MONITOR", Sharing::Push),
            ("UNSUBSCRIBE", Sharing::PerChannel),
            ("punsubscribe", Sharing::PerChannel),
            ("SUNSUBSCRIBE", Sharing::PerChannel),
            ("READONLY", Sharing::ClusterMode),
            ("readwrite", Sharing::ClusterMode),
            ("ASKING", Sharing::ClusterMode),
            ("SCAN", Sharing::Cursor),
            ("SCANX", Sharing::Plain),
            ("", Sharing::Plain),
        ];
        for (name, want) in table {
            assert_eq!(Sharing::of(name.as_bytes(), None, None), *want, "{name}");
        }
        let client = |args: &[&str]| Sharing::of_cmd(&crate::cmd("CLIENT").arg(args));
        assert_eq!(client(&["REPLY", "OFF"]), Sharing::StopsReplies);
        assert_eq!(client(&["reply", "skip"]), Sharing::StopsReplies);
        assert_eq!(client(&["REPLY", "ON"]), Sharing::Plain);
        assert_eq!(client(&["SETNAME", "x"]), Sharing::Plain);
        assert!(Sharing::Push.breaks_request_response());
        assert!(!Sharing::Closes.breaks_request_response());
        assert!(Sharing::Watches.is_transaction_step());
        assert!(!Sharing::Cursor.is_transaction_step());
    }
}

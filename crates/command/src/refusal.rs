//! The requests a shared client refuses: those whose effect would reach past their own
//! replies, into the requests of other callers on the same socket.
//!
//! Replies are matched to callers by their order alone. A `MULTI` left open makes the
//! server queue every other caller's command (each gets `+QUEUED`); a `WATCH` left set
//! lets some later caller's `EXEC` fail; `SELECT`, `HELLO` and `RESET` change the socket for
//! everyone, until a reconnect quietly undoes it; `QUIT` closes it under every caller. A
//! transaction that opens and closes within one request is fine: a request goes out whole.

use crate::command_table::Sharing;
use crate::{Cmd, Error, Pipeline, RefusedKind, Result};

impl Cmd {
    /// Refuses this command on a socket that several callers share (a multiplexed client),
    /// after the checks of every request/response connection: a [`RefusedKind::OwnConnection`]
    /// or [`RefusedKind::Invalid`] error says why. Nothing is sent.
    ///
    /// ```
    /// use slotline_command::cmd;
    /// assert!(cmd("GET").arg("k").check_shared().is_ok());
    /// assert!(cmd("MULTI").check_shared().is_err());
    /// ```
    pub fn check_shared(&self) -> Result<()> {
        check_command(self)
    }
}

impl Pipeline {
    /// Refuses this pipeline on a socket that several callers share if one of its commands
    /// must be refused there, or if it leaves a transaction or a `WATCH` open once its last
    /// command has run. Nothing is sent.
    pub fn check_shared(&self) -> Result<()> {
        check_pipeline(self)
    }
}

/// Refuses `cmd` on the shared socket (see the module's documentation), after the checks
/// of every request/response connection.
fn check_command(cmd: &Cmd) -> Result<()> {
    let name = cmd.arg_at(0).unwrap_or_default();
    let class = Sharing::of_named(cmd, name);
    cmd.check_sharing(name, class)?;
    let mut tx = Transaction::default();
    tx.apply(effect(class), name)?;
    tx.finish()
}

/// Refuses `pipe` on the shared socket if one of its commands must be refused, or if it
/// leaves a transaction or a `WATCH` open once its last command has run.
fn check_pipeline(pipe: &Pipeline) -> Result<()> {
    pipe.check_request_response()?;
    let mut tx = Transaction::default();
    // An atomic pipeline goes out between a MULTI and an EXEC of its own.
    if pipe.is_atomic() {
        tx.apply(Effect::Multi, b"MULTI")?;
    }
    for cmd in pipe.cmds() {
        tx.step(cmd)?;
    }
    if pipe.is_atomic() {
        tx.apply(Effect::EndsTransaction, b"EXEC")?;
    }
    tx.finish()
}

/// What a command does to the connection's state, as far as sharing it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Nothing beyond its own reply.
    None,
    /// `MULTI`.
    Multi,
    /// `EXEC` or `DISCARD`.
    EndsTransaction,
    /// `WATCH`.
    Watch,
    /// `UNWATCH`.
    Unwatch,
    /// Never on a shared socket; why.
    Never(&'static str),
}

/// The effect of a command of class `class` on a shared socket.
fn effect(class: Sharing) -> Effect {
    match class {
        Sharing::OpensTransaction => Effect::Multi,
        Sharing::EndsTransaction => Effect::EndsTransaction,
        Sharing::Watches => Effect::Watch,
        Sharing::Unwatches => Effect::Unwatch,
        Sharing::Closes => Effect::Never(
            "would close the connection every caller of the client shares: drop the client, \
             or call Client::reconnect()",
        ),
        Sharing::Handshakes => Effect::Never(
            "would change the protocol or the credentials of the connection every caller \
             shares: slotline speaks RESP2, and credentials go in the URL",
        ),
        Sharing::Resets => Effect::Never(
            "would drop the credentials, database and name of the connection every caller \
             shares: call Client::reconnect() for a fresh connection",
        ),
        Sharing::SwitchesDatabase => Effect::Never(
            "would switch the database of every caller, until the next reconnect switches it \
             back: give the database in the URL (redis://host:port/2), or use \
             Client::dedicated()",
        ),
        _ => Effect::None,
    }
}

/// The transaction state of the socket while a request's commands run on it in order.
#[derive(Debug, Default)]
struct Transaction {
    /// Inside a `MULTI`.
    open: bool,
    /// A `WATCH` is set (outside a `MULTI`; inside one the server refuses `WATCH`).
    watching: bool,
}

impl Transaction {
    /// Runs one command over the state.
    fn step(&mut self, cmd: &Cmd) -> Result<()> {
        let name = cmd.arg_at(0).unwrap_or_default();
        self.apply(effect(Sharing::of_named(cmd, name)), name)
    }

    /// Applies `effect`, of the command named `name` (read as text only for a refusal).
    fn apply(&mut self, effect: Effect, name: &[u8]) -> Result<()> {
        let upper = || String::from_utf8_lossy(name).to_ascii_uppercase();
        match effect {
            Effect::None => {}
            Effect::Multi => self.open = true,
            Effect::EndsTransaction if self.open => {
                self.open = false;
                self.watching = false;
            }
            Effect::EndsTransaction => {
                return Err(refused(format!(
                    "{} with no MULTI before it in the same request: on a shared client a \
                     transaction goes out whole (Query::transaction, or Pipeline::atomic)",
                    upper()
                )))
            }
            Effect::Watch if !self.open => self.watching = true,
            Effect::Unwatch if !self.open => self.watching = false,
            // Refused by the server inside a MULTI, or queued with it: no state of its own.
            Effect::Watch | Effect::Unwatch => {}
            Effect::Never(why) => {
                return Err(refused(format!("{} on a shared client {why}", upper())))
            }
        }
        Ok(())
    }

    /// Refuses a request that leaves the socket inside a transaction or watching keys.
    fn finish(self) -> Result<()> {
        if self.open {
            return Err(refused(
                "MULTI with no EXEC after it in the same request would let other callers' \
                 commands into the transaction: use Query::transaction (or Pipeline::atomic)"
                    .into(),
            ));
        }
        if self.watching {
            return Err(refused(
                "WATCH on a shared client would watch the keys for every caller: a \
                 WATCH/MULTI/EXEC conversation needs a connection of its own \
                 (Client::dedicated())"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The error of a refused request.
fn refused(message: String) -> Error {
    Error::refused(RefusedKind::OwnConnection, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cmd, pipe, ErrorKind};

    fn refusal(result: Result<()>) -> String {
        match result {
            Err(e) if e.kind() == ErrorKind::Refused(RefusedKind::OwnConnection) => {
                e.message().unwrap_or_default().to_string()
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn plain_commands_pass() {
        for c in [
            cmd("GET").arg("k"),
            cmd("set").arg("k").arg("v"),
            cmd("EXPIRE").arg("k").arg(1),
            cmd("MGET").arg("a").arg("b"),
            cmd("CLIENT").arg("SETNAME").arg("n"),
            cmd("UNWATCH"),
        ] {
            assert!(check_command(&c).is_ok(), "{c:?}");
        }
    }

    #[test]
    fn state_changing_commands_are_refused_alone() {
        for (c, says) in [
            (cmd("MULTI"), "MULTI with no EXEC"),
            (cmd("exec"), "EXEC with no MULTI"),
            (cmd("DISCARD"), "DISCARD with no MULTI"),
            (cmd("WATCH").arg("k"), "WATCH on a shared client"),
            (cmd("select").arg(2), "SELECT on a shared client"),
            (cmd("HELLO").arg(3), "HELLO on a shared client"),
            (cmd("RESET"), "RESET on a shared client"),
            (cmd("QUIT"), "QUIT on a shared client"),
        ] {
            let message = refusal(check_command(&c));
            assert!(message.starts_with(says), "{c:?}: {message}");
        }
    }

    #[test]
    fn a_transaction_within_one_pipeline_passes() {
        let mut p = pipe();
        p.cmd("MULTI").incr("a").cmd("EXEC");
        assert!(check_pipeline(&p).is_ok());
        let mut p = pipe();
        p.cmd("WATCH").arg("a").cmd("MULTI").incr("a").cmd("EXEC");
        assert!(check_pipeline(&p).is_ok());
        let mut p = pipe();
        p.cmd("WATCH").arg("a").cmd("UNWATCH").get("a");
        assert!(check_pipeline(&p).is_ok());
        let mut p = pipe();
        p.cmd("MULTI").incr("a").cmd("DISCARD").get("a");
        assert!(check_pipeline(&p).is_ok());
        let mut p = pipe();
        p.atomic().incr("a").incr("b");
        assert!(check_pipeline(&p).is_ok());
        // Inside MULTI, WATCH is refused by the server and sets nothing.
        let mut p = pipe();
        p.atomic().cmd("WATCH").arg("a");
        assert!(check_pipeline(&p).is_ok());
    }

    #[test]
    fn a_pipeline_that_leaves_state_behind_is_refused() {
        let mut p = pipe();
        p.incr("a").cmd("MULTI").incr("b");
        assert!(refusal(check_pipeline(&p)).starts_with("MULTI with no EXEC"));
        let mut p = pipe();
        p.cmd("WATCH").arg("a").get("a");
        assert!(refusal(check_pipeline(&p)).starts_with("WATCH on a shared client"));
        // An EXEC inside an atomic pipeline closes it early: the pipeline's own EXEC then
        // has no MULTI.
        let mut p = pipe();
        p.atomic().incr("a").cmd("EXEC").incr("b");
        assert!(refusal(check_pipeline(&p)).starts_with("EXEC with no MULTI"));
        let mut p = pipe();
        p.get("a").cmd("SELECT").arg(1);
        assert!(refusal(check_pipeline(&p)).starts_with("SELECT on a shared client"));
    }
}

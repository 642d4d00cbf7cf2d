//! [`Hold`]: whether the server may hold a command's reply (`BLPOP`, `XREAD ... BLOCK`,
//! `WAIT`), and for how long, read from the command's name and arguments.
//!
//! A shared client sends such a command on a dedicated connection, never on the
//! multiplexed socket, where it would stall every caller queued behind it; its response
//! timeout is its hold time plus the usual one.

use std::time::Duration;

use crate::command_table::{self, CommandFlags};
use crate::Cmd;

/// How long the server may keep a command waiting before it answers.
///
/// ```
/// use std::time::Duration;
/// use slotline_command::{cmd, Hold};
///
/// assert_eq!(cmd("GET").arg("k").hold(), Hold::Never);
/// assert_eq!(cmd("BLPOP").arg("q").arg(2.5).hold(), Hold::Upto(Duration::from_millis(2500)));
/// assert_eq!(cmd("BLPOP").arg("q").arg(0).hold(), Hold::Forever);
/// // XREAD holds only with BLOCK.
/// assert_eq!(cmd("XREAD").arg(["STREAMS", "s", "$"]).hold(), Hold::Never);
/// let read = cmd("XREAD").arg(["BLOCK", "100", "STREAMS", "s", "$"]);
/// assert_eq!(read.hold(), Hold::Upto(Duration::from_millis(100)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// It is answered as soon as it has run.
    Never,
    /// It may wait up to this long (a malformed timeout counts as zero: the server refuses
    /// it at once).
    Upto(Duration),
    /// It may wait until something arrives (a timeout of 0).
    Forever,
}

impl Hold {
    /// Whether the server may hold the reply at all.
    pub fn is_held(self) -> bool {
        !matches!(self, Hold::Never)
    }

    /// The response timeout, given the connection's: extended by the hold time, none for a
    /// command that may wait forever.
    pub fn response_timeout(self, base: Option<Duration>) -> Option<Duration> {
        match self {
            Hold::Never => base,
            Hold::Upto(wait) => base.map(|b| b + wait),
            Hold::Forever => None,
        }
    }

    /// From a timeout argument in seconds (`BLPOP`'s): 0 is forever.
    fn from_seconds(arg: Option<&[u8]>) -> Hold {
        let seconds = arg
            .and_then(|a| std::str::from_utf8(a).ok())
            .and_then(|s| s.trim().parse::<f64>().ok());
        match seconds {
            Some(0.0) => Hold::Forever,
            Some(s) => Hold::Upto(Duration::try_from_secs_f64(s).unwrap_or_default()),
            None => Hold::Upto(Duration::ZERO),
        }
    }

    /// From a timeout argument in milliseconds (`XREAD`'s `BLOCK`, `WAIT`'s): 0 is forever.
    fn from_millis(arg: Option<&[u8]>) -> Hold {
        let millis = arg
            .and_then(|a| std::str::from_utf8(a).ok())
            .and_then(|s| s.parse::<i64>().ok());
        match millis {
            Some(0) => Hold::Forever,
            Some(ms) => Hold::Upto(Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            None => Hold::Upto(Duration::ZERO),
        }
    }
}

/// The hold of a command no caller marked: by name and arguments for the commands whose
/// timeout is known, by the command table's `blocking` flag for any other.
pub(crate) fn hold_of(cmd: &Cmd) -> Hold {
    // Every command that may hold starts with B, X or W: the common commands are told
    // apart by one byte, without reading their arguments.
    if !matches!(
        cmd.name_initial().map(|b| b.to_ascii_uppercase()),
        Some(b'B' | b'X' | b'W')
    ) {
        return Hold::Never;
    }
    let Some(name) = cmd.arg_at(0) else {
        return Hold::Never;
    };
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    let last = || cmd.arg_at(cmd.argc().saturating_sub(1));
    if is("BLPOP")
        || is("BRPOP")
        || is("BZPOPMIN")
        || is("BZPOPMAX")
        || is("BLMOVE")
        || is("BRPOPLPUSH")
    {
        Hold::from_seconds(last())
    } else if is("BLMPOP") || is("BZMPOP") {
        Hold::from_seconds(cmd.arg_at(1))
    } else if is("XREAD") {
        stream_read_hold(cmd, false)
    } else if is("XREADGROUP") {
        stream_read_hold(cmd, true)
    } else if is("WAIT") || is("WAITAOF") {
        Hold::from_millis(last())
    } else if command_table::lookup(cmd).is_some_and(|c| c.flags.contains(CommandFlags::BLOCKING)) {
        Hold::Forever
    } else {
        Hold::Never
    }
}

/// `XREAD`/`XREADGROUP`: held only with `BLOCK ms`, found among the options before
/// `STREAMS` as the server parses them (a group or consumer named "BLOCK" is not it).
fn stream_read_hold(cmd: &Cmd, group: bool) -> Hold {
    let mut args = cmd.args().skip(1);
    while let Some(arg) = args.next() {
        let is = |n: &str| arg.eq_ignore_ascii_case(n.as_bytes());
        if is("BLOCK") {
            return Hold::from_millis(args.next());
        } else if is("COUNT") {
            args.next();
        } else if group && is("GROUP") {
            args.nth(1);
        } else if !(group && is("NOACK")) {
            // STREAMS, or a syntax error the server will answer at once.
            break;
        }
    }
    Hold::Never
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd;

    fn secs(s: f64) -> Hold {
        Hold::Upto(Duration::from_secs_f64(s))
    }

    #[test]
    fn list_and_sorted_set_pops() {
        assert_eq!(cmd("blpop").arg("a").arg("b").arg(5).hold(), secs(5.0));
        assert_eq!(cmd("BRPOP").arg("a").arg("0").hold(), Hold::Forever);
        assert_eq!(cmd("BZPOPMIN").arg("z").arg("0.25").hold(), secs(0.25));
        assert_eq!(cmd("BZPOPMAX").arg("z").arg(1).hold(), secs(1.0));
        assert_eq!(
            cmd("BLMOVE").arg(["a", "b", "LEFT", "RIGHT", "3"]).hold(),
            secs(3.0)
        );
        assert_eq!(cmd("BRPOPLPUSH").arg(["a", "b", "2"]).hold(), secs(2.0));
        assert_eq!(
            cmd("BLMPOP").arg(["1.5", "2", "a", "b", "LEFT"]).hold(),
            secs(1.5)
        );
        assert_eq!(
            cmd("BZMPOP").arg(["0", "1", "z", "MIN"]).hold(),
            Hold::Forever
        );
    }

    #[test]
    fn malformed_timeouts_hold_for_nothing() {
        // The server refuses these at once; they still go on a dedicated connection.
        assert_eq!(
            cmd("BLPOP").arg("a").arg("soon").hold(),
            Hold::Upto(Duration::ZERO)
        );
        assert_eq!(cmd("BLPOP").hold(), Hold::Upto(Duration::ZERO));
        assert_eq!(
            cmd("BLPOP").arg("a").arg("-1").hold(),
            Hold::Upto(Duration::ZERO)
        );
        assert_eq!(
            cmd("BLPOP").arg("a").arg("1e300").hold(),
            Hold::Upto(Duration::ZERO)
        );
        assert_eq!(
            cmd("WAIT").arg(1).arg("x").hold(),
            Hold::Upto(Duration::ZERO)
        );
    }

    #[test]
    fn stream_reads_hold_only_with_block() {
        let plain = cmd("XREAD").arg(["COUNT", "10", "STREAMS", "s", "0"]);
        assert_eq!(plain.hold(), Hold::Never);
        let block = cmd("xread").arg(["COUNT", "10", "block", "250", "STREAMS", "s", "$"]);
        assert_eq!(block.hold(), Hold::Upto(Duration::from_millis(250)));
        let forever = cmd("XREAD").arg(["BLOCK", "0", "STREAMS", "s", "$"]);
        assert_eq!(forever.hold(), Hold::Forever);
        // A stream named BLOCK after STREAMS is a key, not the option.
        let key = cmd("XREAD").arg(["STREAMS", "BLOCK", "0"]);
        assert_eq!(key.hold(), Hold::Never);
        let group =
            cmd("XREADGROUP").arg(["GROUP", "BLOCK", "BLOCK", "NOACK", "STREAMS", "s", ">"]);
        assert_eq!(group.hold(), Hold::Never);
        let group = cmd("XREADGROUP").arg([
            "GROUP", "g", "c", "COUNT", "1", "BLOCK", "5000", "STREAMS", "s", ">",
        ]);
        assert_eq!(group.hold(), Hold::Upto(Duration::from_secs(5)));
    }

    #[test]
    fn wait_commands() {
        assert_eq!(
            cmd("WAIT").arg(1).arg(100).hold(),
            Hold::Upto(Duration::from_millis(100))
        );
        assert_eq!(cmd("WAIT").arg(1).arg(0).hold(), Hold::Forever);
        assert_eq!(
            cmd("WAITAOF").arg(["1", "0", "20"]).hold(),
            Hold::Upto(Duration::from_millis(20))
        );
    }

    #[test]
    fn ordinary_commands_do_not_hold() {
        for c in [
            cmd("GET").arg("k"),
            cmd("BITCOUNT").arg("k"),
            cmd("XADD").arg(["s", "*", "f", "v"]),
            cmd("WATCH").arg("k"),
            cmd("LPOP").arg("k"),
            Cmd::new(),
        ] {
            assert_eq!(c.hold(), Hold::Never, "{c:?}");
        }
    }

    #[test]
    fn every_blocking_command_of_the_table_holds() {
        // A command the table flags `blocking`, called with a plausible timeout, is held.
        for info in command_table::commands() {
            if info.flags.contains(CommandFlags::BLOCKING) {
                let name = info.name.to_ascii_uppercase();
                let held = match name.as_str() {
                    "XREADGROUP" => {
                        cmd(&name).arg(["GROUP", "g", "c", "BLOCK", "1", "STREAMS", "s", ">"])
                    }
                    "XREAD" => cmd(&name).arg(["BLOCK", "1", "STREAMS", "s", "$"]),
                    _ => cmd(&name).arg(["1", "1", "k", "LEFT", "RIGHT", "1"]),
                };
                assert!(held.hold().is_held(), "{name}");
            }
        }
    }

    #[test]
    fn a_mark_wins() {
        let marked = cmd("MY.BLOCKING")
            .arg("k")
            .blocks_for(Some(Duration::from_secs(2)));
        assert_eq!(marked.hold(), Hold::Upto(Duration::from_secs(2)));
        assert_eq!(cmd("MY.BLOCKING").blocks_for(None).hold(), Hold::Forever);
        let base = Some(Duration::from_secs(1));
        assert_eq!(marked.response_timeout(base), Some(Duration::from_secs(3)));
        assert_eq!(cmd("BLPOP").arg("k").arg(0).response_timeout(base), None);
        assert_eq!(cmd("GET").arg("k").response_timeout(base), base);
    }
}

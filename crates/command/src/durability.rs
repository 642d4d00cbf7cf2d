//! [`Durability`]: how many copies a write must have before its caller is told it
//! succeeded. The write is followed by `WAIT` (or `WAITAOF`) in the same round trip, on
//! the same connection, and a write that fewer copies acknowledged in time comes back as
//! [`ErrorKind::NotDurable`](crate::ErrorKind::NotDurable): it ran on the master, and may be lost in a failover.

use std::time::Duration;

use slotline_resp::{Reply, ReplyRef};

use crate::{command_table, Cmd, Error, Pipeline, Result, ServerErrorKind};

/// The copies a write must have before it is acknowledged to its caller.
///
/// Written in a URL as `durability=replicas:1` (`WAIT 1`), `durability=aof:local` (the
/// master's own AOF fsynced: `WAITAOF 1 0`), `durability=aof:local,replicas:1` (the
/// master's AOF and one replica's AOF: `WAITAOF 1 1`) or `durability=aof:replicas:1`
/// (`WAITAOF 0 1`), with `durability_timeout=` for the longest wait (default 1 s), which
/// the request's response timeout grows by. `WAITAOF` needs Redis 7.2.
///
/// It applies to what a shared `Client` sends on its shared connection
/// (and so to the sentinel, replication and cluster clients built on it): not to commands
/// the server may hold (`BLMOVE` and the like, sent on dedicated connections), nor to a
/// plain `Connection`. `WAIT` holds the connection in the server
/// until it is answered: the replies of other callers behind it wait as long (a replica
/// that lags makes every caller of that client wait up to the durability timeout).
///
/// ```
/// use std::time::Duration;
/// use slotline_command::{cmd, Durability};
///
/// let d: Durability = "replicas:1".parse()?;
/// assert_eq!(d, Durability::replicas(1));
/// let strict: Durability = "aof:local,replicas:2".parse()?;
/// assert_eq!(strict, Durability::aof_local().and_replicas(2));
/// // Per request, over the connection's setting:
/// let write = cmd("SET").arg("k").arg("v").durable(d.with_timeout(Duration::from_millis(200)));
/// # let _ = write;
/// # Ok::<(), slotline_command::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    replicas: u16,
    aof_local: bool,
    aof: bool,
    timeout_ms: u32,
}

/// The longest wait for the copies, unless told otherwise.
const DEFAULT_TIMEOUT_MS: u32 = 1000;

impl Durability {
    /// `n` replicas have the write (`WAIT n`).
    pub fn replicas(n: u16) -> Self {
        Durability {
            replicas: n,
            aof_local: false,
            aof: false,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }

    /// The master fsynced the write to its AOF (`WAITAOF 1 0`).
    pub fn aof_local() -> Self {
        Durability {
            replicas: 0,
            aof_local: true,
            aof: true,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }

    /// And `n` replicas have the write; with AOF, fsynced to their AOF too
    /// (`WAITAOF local n`).
    pub fn and_replicas(mut self, n: u16) -> Self {
        self.replicas = n;
        self
    }

    /// Waits at most `timeout` for the copies (rounded to milliseconds, at least one).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = u32::try_from(timeout.as_millis())
            .unwrap_or(u32::MAX)
            .max(1);
        self
    }

    /// The longest wait for the copies.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.timeout_ms))
    }

    /// The command that waits for the copies, sent right after the write.
    pub fn wait_command(&self) -> Cmd {
        let timeout = i64::from(self.timeout_ms);
        if self.aof {
            crate::cmd("WAITAOF")
                .arg(i64::from(self.aof_local))
                .arg(i64::from(self.replicas))
                .arg(timeout)
        } else {
            crate::cmd("WAIT")
                .arg(i64::from(self.replicas))
                .arg(timeout)
        }
    }

    /// Whether the reply to [`wait_command`](Self::wait_command) (`waited`), sent after
    /// commands answered `replies`, says there are enough copies; the error to give the
    /// caller if not. Nothing is checked when nothing ran: every reply is an error, or the
    /// wait was refused before running (`LOADING`, `BUSY`, ...) or as sent to a replica,
    /// which refused the writes before it too (`READONLY`, `MOVED`): their own replies
    /// say so.
    pub fn check(&self, waited: ReplyRef<'_>, replies: &[Reply]) -> Result<()> {
        if replies.iter().all(|r| r.view().is_error()) {
            return Ok(());
        }
        if let Some(line) = waited.error_line() {
            let refused = ServerErrorKind::parse(line).refused_before_running();
            if refused || contains(line, b"cannot be used with replica") {
                return Ok(());
            }
        }
        let reply = waited;
        let (local, replicas) = if self.aof {
            let counts: Option<Vec<i64>> = reply
                .array_len()
                .map(|_| reply.iter().filter_map(|r| r.as_int()).collect());
            match counts.as_deref() {
                Some([local, replicas]) => (*local, *replicas),
                _ => return Err(self.unconfirmed(reply)),
            }
        } else {
            match reply.as_int() {
                Some(n) => (0, n),
                None => return Err(self.unconfirmed(reply)),
            }
        };
        if local >= i64::from(self.aof_local) && replicas >= i64::from(self.replicas) {
            return Ok(());
        }
        let acknowledged = if self.aof {
            format!("local AOF {local}, replicas {replicas}")
        } else {
            format!("{replicas} replicas")
        };
        Err(Error::not_durable(
            self.to_string(),
            acknowledged,
            self.timeout(),
        ))
    }

    /// A wait that answered something else than counts (a server without `WAITAOF`).
    fn unconfirmed(&self, reply: ReplyRef<'_>) -> Error {
        let answer = match reply.error_line() {
            Some(line) => String::from_utf8_lossy(line).into_owned(),
            None => format!("a {}", reply.type_name()),
        };
        Error::not_durable(
            self.to_string(),
            format!("unknown: the server answered {answer}"),
            self.timeout(),
        )
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.aof, self.aof_local) {
            (false, _) => write!(f, "replicas:{}", self.replicas),
            (true, true) if self.replicas == 0 => write!(f, "aof:local"),
            (true, true) => write!(f, "aof:local,replicas:{}", self.replicas),
            (true, false) => write!(f, "aof:replicas:{}", self.replicas),
        }
    }
}

impl std::str::FromStr for Durability {
    type Err = Error;

    /// `replicas:N`, `aof:local`, `aof:local,replicas:N` or `aof:replicas:N`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::config(format!(
                "durability {s:?}: expected replicas:N, aof:local, aof:local,replicas:N or \
                 aof:replicas:N"
            ))
        };
        let count = |n: &str| n.parse::<u16>().map_err(|_| bad());
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        match parts.as_slice() {
            [one] => match one.split(':').collect::<Vec<_>>().as_slice() {
                ["replicas", n] => Ok(Durability::replicas(count(n)?)),
                ["aof", "local"] => Ok(Durability::aof_local()),
                ["aof", "replicas", n] => Ok(Durability {
                    aof: true,
                    ..Durability::replicas(count(n)?)
                }),
                _ => Err(bad()),
            },
            ["aof:local", replicas] => match replicas.split_once(':') {
                Some(("replicas", n)) => Ok(Durability::aof_local().and_replicas(count(n)?)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// Whether `cmd` is one a durability setting applies to: a write (by the command table;
/// unknown commands count as writes) or a script or function call, which may write.
pub(crate) fn applies_to(cmd: &Cmd) -> bool {
    command_table::is_write(cmd) || ["EVAL", "EVALSHA", "FCALL"].iter().any(|name| cmd.is(name))
}

/// Whether `text` contains `word`.
fn contains(text: &[u8], word: &[u8]) -> bool {
    text.windows(word.len()).any(|w| w == word)
}

/// Whether it applies to some command of `pipe` (then one wait follows the whole of it).
pub(crate) fn applies_to_pipeline(pipe: &Pipeline) -> bool {
    pipe.cmds().iter().any(applies_to)
}

impl Cmd {
    /// The durability this command is sent with: its own, or the connection's `default`,
    /// if it is a write (or a script, which may write).
    pub fn durability_or(&self, default: Option<Durability>) -> Option<Durability> {
        of_command(self, default)
    }
}

impl Pipeline {
    /// The durability this pipeline is sent with: the first of its commands' own, or the
    /// connection's `default`, if it writes. One wait follows the whole pipeline.
    pub fn durability_or(&self, default: Option<Durability>) -> Option<Durability> {
        of_pipeline(self, default)
    }
}

/// The durability `cmd` is sent with: its own, or the connection's `default`, if it is a
/// write.
pub(crate) fn of_command(cmd: &Cmd, default: Option<Durability>) -> Option<Durability> {
    cmd.durability().or(default).filter(|_| applies_to(cmd))
}

/// The durability `pipe` is sent with: the first of its commands' own, or the
/// connection's `default`, if it writes.
pub(crate) fn of_pipeline(pipe: &Pipeline, default: Option<Durability>) -> Option<Durability> {
    let asked = pipe.cmds().iter().find_map(Cmd::durability);
    asked.or(default).filter(|_| applies_to_pipeline(pipe))
}

#[cfg(test)]
mod tests {
    use slotline_resp::Frame;

    use super::*;

    fn reply(frame: Frame) -> Reply {
        Reply::from_frame(frame).expect("a reply")
    }

    /// The replies of commands that ran.
    fn ran() -> [Reply; 1] {
        [reply(Frame::simple("OK"))]
    }

    #[test]
    fn settings_read_and_print_the_same() {
        for text in [
            "replicas:1",
            "aof:local",
            "aof:local,replicas:2",
            "aof:replicas:3",
        ] {
            let d: Durability = text.parse().expect(text);
            assert_eq!(d.to_string(), text);
        }
        for bad in [
            "",
            "replicas",
            "replicas:x",
            "replicas:-1",
            "aof",
            "aof:remote",
            "a,b,c",
            "aof:local,x:1",
        ] {
            assert!(bad.parse::<Durability>().is_err(), "{bad:?}");
        }
        let d = Durability::replicas(2).with_timeout(Duration::from_micros(10));
        assert_eq!(
            d.timeout(),
            Duration::from_millis(1),
            "at least a millisecond"
        );
    }

    #[test]
    fn the_wait_command_and_its_counts() {
        let wait = Durability::replicas(2).with_timeout(Duration::from_millis(250));
        assert_eq!(wait.wait_command(), crate::cmd("WAIT").arg(2).arg(250));
        assert!(wait.check(reply(Frame::Integer(2)).view(), &ran()).is_ok());
        assert!(wait.check(reply(Frame::Integer(3)).view(), &ran()).is_ok());
        let short = wait
            .check(reply(Frame::Integer(1)).view(), &ran())
            .unwrap_err();
        assert!(short.may_have_run(), "the write ran on the master");
        assert!(!short.is_retryable());
        assert!(short.to_string().contains("1 replicas"), "{short}");

        let aof = Durability::aof_local().and_replicas(1);
        assert_eq!(
            aof.wait_command(),
            crate::cmd("WAITAOF").arg(1).arg(1).arg(1000)
        );
        let counts = |l, r| reply(Frame::Array(vec![Frame::Integer(l), Frame::Integer(r)]));
        assert!(aof.check(counts(1, 1).view(), &ran()).is_ok());
        assert!(aof.check(counts(0, 1).view(), &ran()).is_err());
        assert!(aof.check(counts(1, 0).view(), &ran()).is_err());
        let old = aof
            .check(
                reply(Frame::error("ERR unknown command 'WAITAOF'")).view(),
                &ran(),
            )
            .unwrap_err();
        assert!(old.to_string().contains("unknown command"), "{old}");
        assert!(old.may_have_run());
        // On a replica (a demoted master), the writes were refused before it: their own
        // replies tell.
        let replica = reply(Frame::error(
            "ERR WAIT cannot be used with replica instances. Please also note ...",
        ));
        assert!(wait.check(replica.view(), &ran()).is_ok());
        // Refused before running: nothing ran.
        let loading = reply(Frame::error(
            "LOADING Redis is loading the dataset in memory",
        ));
        assert!(wait.check(loading.view(), &ran()).is_ok());
        // Every command refused: nothing ran, whatever the wait says.
        let refused = [reply(Frame::error("MOVED 1 10.0.0.1:7000"))];
        assert!(wait
            .check(reply(Frame::Integer(0)).view(), &refused)
            .is_ok());
    }

    #[test]
    fn it_applies_to_writes_and_scripts() {
        assert!(applies_to(&crate::cmd("SET").arg("k").arg(1)));
        assert!(applies_to(&crate::cmd("EVAL").arg("return 1").arg(0)));
        assert!(applies_to(&crate::cmd("FCALL").arg("f").arg(0)));
        assert!(!applies_to(&crate::cmd("GET").arg("k")));
        assert!(!applies_to(&crate::cmd("EVAL_RO").arg("return 1").arg(0)));
        assert!(!applies_to(&crate::cmd("PING")));
        let mut p = crate::pipe();
        p.add(crate::cmd("GET").arg("k"));
        assert!(!applies_to_pipeline(&p));
        p.add(crate::cmd("INCR").arg("k"));
        assert!(applies_to_pipeline(&p));
    }
}

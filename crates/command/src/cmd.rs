//! [`Cmd`]: one command, its arguments encoded once, as they will go on the wire.

use std::time::Duration;

use bytes::{BufMut, BytesMut};

use crate::args::ToArgs;
use crate::hold::{hold_of, Hold};

/// One Redis command. Arguments are encoded as RESP bulk strings as they are added, so
/// sending a command is one copy of ready bytes, with no allocation per argument.
///
/// ```
/// use slotline_command::cmd;
/// let c = cmd("SET").arg("key").arg(42).arg(&["EX", "10"]);
/// assert_eq!(c.argc(), 5);
/// assert_eq!(c.args().nth(2), Some(&b"42"[..]));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    /// The arguments, each as a RESP bulk string; the array header is added when sent.
    data: BytesMut,
    argc: usize,
    /// How long the caller says the server may hold this command before answering
    /// ([`Cmd::blocks_for`]); `None`: as its name and arguments say ([`Cmd::hold`]).
    marked_hold: Option<Hold>,
    /// Whether the caller says running this twice does no harm (see [`Cmd::idempotent`]).
    idempotent: bool,
    /// The copies it must have before it is acknowledged (see [`Cmd::durable`]).
    durability: Option<crate::Durability>,
    /// Whether the caller asks for its reply to be cached, or not (see [`Cmd::cached`]).
    caching: Option<bool>,
}

/// Starts a command with its name.
pub fn cmd(name: &str) -> Cmd {
    Cmd::new().arg(name)
}

impl Default for Cmd {
    fn default() -> Self {
        Cmd::new()
    }
}

impl Cmd {
    /// An empty command, to which the name and arguments are added.
    pub fn new() -> Self {
        Cmd {
            // Room for a typical short command, so that adding its arguments does not
            // reallocate.
            data: BytesMut::with_capacity(64),
            argc: 0,
            marked_hold: None,
            idempotent: false,
            caching: None,
            durability: None,
        }
    }

    /// Adds an argument (a value may add several, e.g. a slice or a tuple).
    pub fn arg<T: ToArgs>(mut self, arg: T) -> Self {
        arg.write_args(&mut self);
        self
    }

    /// Adds an argument in place.
    pub fn push_arg<T: ToArgs>(&mut self, arg: T) -> &mut Self {
        arg.write_args(self);
        self
    }

    /// Appends one argument made of these bytes.
    pub fn write_bytes(&mut self, arg: &[u8]) {
        slotline_resp::encode_bulk(&mut self.data, arg);
        self.argc += 1;
    }

    /// Appends one integer argument, formatted without a temporary string.
    pub fn write_int(&mut self, arg: i64) {
        slotline_resp::encode_integer_bulk(&mut self.data, arg);
        self.argc += 1;
    }

    /// Sends this command on `client` and converts its reply:
    /// [`Query::query`](crate::Query::query) without a trait to import.
    ///
    /// ```no_run
    /// # async fn demo(c: &impl slotline_command::Execute) -> slotline_command::Result<()> {
    /// let v: Option<String> = slotline_command::cmd("GET").arg("k").query_async(c).await?;
    /// # let _ = v; Ok(()) }
    /// ```
    pub async fn query_async<T: crate::FromReply>(
        &self,
        client: &(impl crate::Execute + ?Sized),
    ) -> crate::Result<T> {
        crate::Query::query(client, self).await
    }

    /// The blocking [`query_async`](Cmd::query_async): sends this command on a blocking
    /// `client` and converts its reply.
    pub fn query<T: crate::FromReply>(
        &self,
        client: &(impl crate::blocking::Execute + ?Sized),
    ) -> crate::Result<T> {
        crate::blocking::Query::query(client, self)
    }

    /// Marks this command as one the server may hold before answering: `None` for ever,
    /// `Some(d)` for at most `d` (a module's blocking command, which the command table
    /// does not know). A shared client sends it on a dedicated connection, and its response
    /// timeout is extended by `d`. The commands of Redis itself (`BLPOP`, `XREAD ... BLOCK`,
    /// `WAIT`, ...) are recognised without a mark.
    pub fn blocks_for(mut self, wait: Option<Duration>) -> Self {
        self.marked_hold = Some(match wait {
            Some(d) => Hold::Upto(d),
            None => Hold::Forever,
        });
        self
    }

    /// How long the server may hold this command before answering: as marked by
    /// [`blocks_for`](Cmd::blocks_for), else as its name and arguments say (see [`Hold`]).
    pub fn hold(&self) -> Hold {
        match self.marked_hold {
            Some(hold) => hold,
            None => hold_of(self),
        }
    }

    /// Marks this command as safe to run twice (`GET`, `SET k v` with a fixed value, ...):
    /// a shared client may then resend it after a connection loss even if it may already
    /// have run. Commands are not idempotent unless marked.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Asks for `durability` for this command (a write), over the connection's
    /// `durability`: the client follows it with
    /// `WAIT` (or `WAITAOF`) in the same round trip, and answers
    /// [`Error::NotDurable`](crate::ErrorKind::NotDurable) when fewer copies acknowledged it.
    pub fn durable(mut self, durability: crate::Durability) -> Self {
        self.durability = Some(durability);
        self
    }

    /// The durability asked for this command, if any (see [`Cmd::durable`]).
    pub fn durability(&self) -> Option<crate::Durability> {
        self.durability
    }

    /// Asks for this read's reply to be cached by a client with a client-side cache: needed
    /// in its OPTIN mode (the client sends `CLIENT CACHING yes` with it); the other modes
    /// cache every cacheable read unless told [`uncached`](Cmd::uncached).
    pub fn cached(mut self) -> Self {
        self.caching = Some(true);
        self
    }

    /// Keeps this read out of a client-side cache: it goes to the server, and its reply is
    /// not kept.
    pub fn uncached(mut self) -> Self {
        self.caching = Some(false);
        self
    }

    /// What the caller asked of the cache: `Some(true)` [`cached`](Cmd::cached),
    /// `Some(false)` [`uncached`](Cmd::uncached), `None` nothing.
    pub fn caching(&self) -> Option<bool> {
        self.caching
    }

    /// Whether this command was marked [`idempotent`](Cmd::idempotent).
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// The response timeout for this command, given the connection's: extended by its
    /// [`hold`](Cmd::hold).
    pub fn response_timeout(&self, base: Option<Duration>) -> Option<Duration> {
        self.hold().response_timeout(base)
    }

    /// Number of arguments, the name included.
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// The arguments, the name first.
    pub fn args(&self) -> Args<'_> {
        Args {
            rest: &self.data,
            left: self.argc,
        }
    }

    /// The arguments as they are sent, each a RESP bulk string (without the array's
    /// header): what tells two requests apart, e.g. as a cache's key.
    pub fn encoded_args(&self) -> &[u8] {
        &self.data
    }

    /// The argument at `index` (0 is the name).
    pub fn arg_at(&self, index: usize) -> Option<&[u8]> {
        self.args().nth(index)
    }

    /// The first byte of the command's name, read straight from its encoded form (after
    /// `$<len>\r\n`); `None` for an empty command or name.
    pub(crate) fn name_initial(&self) -> Option<u8> {
        match self.data[..] {
            [b'$', b'0', ..] => None,
            // A name of 1 to 9 bytes (every Redis command), or of 10 to 99.
            [b'$', _, b'\r', b'\n', first, ..] | [b'$', _, _, b'\r', b'\n', first, ..] => {
                Some(first)
            }
            _ => self.arg_at(0).and_then(|name| name.first().copied()),
        }
    }

    /// The command name, upper-cased (`GET`); empty for an empty command.
    pub fn name(&self) -> String {
        self.arg_at(0)
            .map(|n| String::from_utf8_lossy(n).to_ascii_uppercase())
            .unwrap_or_default()
    }

    /// Whether the command's name is `name` (ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.arg_at(0)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// Refuses commands that do not get one reply each, which a request/response client
    /// cannot read: `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE` and `MONITOR`, whose replies never
    /// end; `UNSUBSCRIBE` and its kin, with a reply per channel; `CLIENT REPLY OFF|SKIP`,
    /// after which replies stop. Use `PubSub` or a dedicated connection for
    /// those.
    pub fn check_request_response(&self) -> crate::Result<()> {
        let name = self.arg_at(0).unwrap_or_default();
        self.check_sharing(name, crate::command_table::Sharing::of_named(self, name))
    }

    /// [`check_request_response`](Cmd::check_request_response) with the command's `name`
    /// and [`Sharing`](crate::command_table::Sharing) known.
    pub(crate) fn check_sharing(
        &self,
        name: &[u8],
        class: crate::command_table::Sharing,
    ) -> crate::Result<()> {
        use crate::command_table::Sharing;
        if self.argc() == 0 {
            return Err(crate::Error::refused(
                crate::RefusedKind::Invalid,
                "empty command",
            ));
        }
        if !class.breaks_request_response() {
            return Ok(());
        }
        let upper = String::from_utf8_lossy(name).to_ascii_uppercase();
        let why = match class {
            Sharing::StopsReplies => "CLIENT REPLY OFF and SKIP stop the replies a \
                                      request/response client reads in order"
                .to_string(),
            Sharing::PerChannel => format!(
                "{upper} answers once per channel: subscriptions live on slotline_conn::PubSub"
            ),
            _ => format!(
                "{upper} puts the connection in push mode: use slotline_conn::PubSub for \
                 subscriptions"
            ),
        };
        Err(crate::Error::refused(
            crate::RefusedKind::OwnConnection,
            why,
        ))
    }

    /// Bytes this command takes on the wire.
    pub fn encoded_len(&self) -> usize {
        1 + decimal_len(self.argc) + 2 + self.data.len()
    }

    /// Appends this command in RESP form to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        slotline_resp::encode_array_header(dst, self.argc);
        dst.put_slice(&self.data);
    }
}

fn decimal_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for arg in self.args() {
            list.entry(&String::from_utf8_lossy(&arg[..arg.len().min(64)]));
        }
        list.finish()
    }
}

/// The arguments of a [`Cmd`], read back from its encoded form.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        // Each argument is `$<len>\r\n<bytes>\r\n`, written by `Cmd` itself.
        let mut len = 0usize;
        let mut i = 1;
        loop {
            let d = self.rest.get(i)?.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            len = len.checked_mul(10)?.checked_add(usize::from(d))?;
            i += 1;
        }
        let start = i + 2;
        let arg = self.rest.get(start..start + len)?;
        self.rest = self.rest.get(start + len + 2..)?;
        self.left -= 1;
        Some(arg)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Args<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_reads_back() {
        let c = cmd("set").arg("k").arg(-7i64).arg(&b"\r\n"[..]);
        let mut out = BytesMut::new();
        c.encode(&mut out);
        assert_eq!(
            &out[..],
            b"*4\r\n$3\r\nset\r\n$1\r\nk\r\n$2\r\n-7\r\n$2\r\n\r\n\r\n"
        );
        assert_eq!(out.len(), c.encoded_len());
        let args: Vec<&[u8]> = c.args().collect();
        assert_eq!(args, [&b"set"[..], b"k", b"-7", b"\r\n"]);
        assert_eq!(c.name(), "SET");
        assert_eq!(c.name_initial(), Some(b's'));
        assert!(c.is("SET"));
        assert_eq!(Cmd::new().name_initial(), None);
        assert_eq!(cmd("").name_initial(), None);
    }

    #[test]
    fn refuses_push_mode_commands() {
        for name in ["subscribe", "PSUBSCRIBE", "SSubscribe", "MONITOR"] {
            let err = cmd(name).arg("ch").check_request_response().unwrap_err();
            assert!(err.to_string().contains("PubSub"), "{err}");
        }
        // A reply per channel named (checked against Redis 7: `UNSUBSCRIBE a b` outside
        // subscribed mode answers twice).
        for name in ["unsubscribe", "PUNSUBSCRIBE", "SUnsubscribe"] {
            let err = cmd(name)
                .arg("a")
                .arg("b")
                .check_request_response()
                .unwrap_err();
            assert!(err.to_string().contains("once per channel"), "{err}");
        }
        // `CLIENT REPLY OFF|SKIP` silences the replies that follow; `ON` is one reply.
        for mode in ["OFF", "skip"] {
            let err = cmd("CLIENT")
                .arg("reply")
                .arg(mode)
                .check_request_response()
                .unwrap_err();
            assert!(
                err.to_string().contains("CLIENT REPLY OFF and SKIP"),
                "{err}"
            );
        }
        assert!(cmd("CLIENT")
            .arg("REPLY")
            .arg("ON")
            .check_request_response()
            .is_ok());
        assert!(cmd("CLIENT")
            .arg("SETNAME")
            .arg("n")
            .check_request_response()
            .is_ok());
        assert!(cmd("GET").arg("k").check_request_response().is_ok());
        assert!(Cmd::new().check_request_response().is_err());
    }

    #[test]
    fn blocking_timeouts() {
        let base = Some(Duration::from_secs(1));
        assert_eq!(cmd("GET").response_timeout(base), base);
        let c = cmd("BLPOP").blocks_for(Some(Duration::from_secs(2)));
        assert_eq!(c.response_timeout(base), Some(Duration::from_secs(3)));
        assert_eq!(cmd("BLPOP").blocks_for(None).response_timeout(base), None);
    }
}

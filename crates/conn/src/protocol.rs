//! The sans-IO part of a connection, shared by the async and the blocking drivers: the
//! read buffer with its decoder, and the handshake.

use bytes::BytesMut;
use slotline_resp::{Decoder, Frame, Reply, ReplyKind};

use crate::config::{ConnectionConfig, Protocol};
use crate::{cmd, Error, Pipeline, Result};
use crate::{ServerError, ServerErrorKind};

/// Bytes asked of the socket per read at least.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// Received bytes and the decoder that takes replies off their front.
#[derive(Debug)]
pub(crate) struct Inbox {
    pub(crate) buf: BytesMut,
    decoder: Decoder,
    /// Whether any reply came on this connection.
    answered: bool,
    /// Whether the connection is plaintext (no TLS).
    plaintext: bool,
}

impl Inbox {
    pub(crate) fn new(config: &ConnectionConfig) -> Self {
        Inbox {
            buf: BytesMut::with_capacity(READ_CHUNK),
            decoder: Decoder::with_limits(config.limits),
            answered: false,
            plaintext: config.tls.is_none(),
        }
    }

    /// The error for a connection the server ended (`error` `None`) or broke after a
    /// request was sent. A plaintext connection ended before any answer is most often one
    /// to a port that speaks TLS: the error says so.
    pub(crate) fn ended(&self, error: Option<std::io::Error>) -> Error {
        if self.plaintext && !self.answered && self.buf.is_empty() {
            let kind = error
                .as_ref()
                .map_or(std::io::ErrorKind::UnexpectedEof, std::io::Error::kind);
            return Error::io(
                std::io::Error::new(
                    kind,
                    "the server ended the connection before answering anything \
                     (if this port speaks TLS, use rediss://)",
                ),
                true,
            );
        }
        match error {
            Some(e) => Error::io(e, true),
            None => Error::closed(true),
        }
    }

    /// The next complete reply, if one is buffered.
    #[inline]
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame>> {
        let frame = self.decoder.decode(&mut self.buf)?;
        self.answered |= frame.is_some();
        Ok(frame)
    }

    /// The next complete reply, if one is buffered, kept in its bytes (read through views).
    #[inline]
    pub(crate) fn next_reply(&mut self) -> Result<Option<Reply>> {
        let reply = self.decoder.decode_reply(&mut self.buf)?;
        self.answered |= reply.is_some();
        Ok(reply)
    }

    /// The next complete reply to a request, if one is buffered: RESP3 pushes (data the
    /// server sends on its own) go to `on_push` on the way, so that they are never taken
    /// for a caller's reply, unless `on_push` gives one back (a subscription confirmation,
    /// which may answer a request on a shared connection).
    #[inline]
    pub(crate) fn next_answer(
        &mut self,
        mut on_push: impl FnMut(Reply) -> Option<Reply>,
    ) -> Result<Option<Reply>> {
        loop {
            match self.next_reply()? {
                Some(reply) if reply.view().kind() == ReplyKind::Push => {
                    if let Some(answer) = on_push(reply) {
                        return Ok(Some(answer));
                    }
                }
                other => return Ok(other),
            }
        }
    }

    /// Moves buffered replies into `out` until it holds `want`; true when it does.
    pub(crate) fn fill(&mut self, out: &mut Vec<Reply>, want: usize) -> Result<bool> {
        while out.len() < want {
            match self.next_answer(|_| None)? {
                Some(reply) => out.push(reply),
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Reads once from a blocking source into the buffer (at most [`READ_CHUNK`] bytes),
    /// keeping only the bytes read; `Ok(0)` is the end of the stream.
    pub(crate) fn read_from(&mut self, src: &mut impl std::io::Read) -> std::io::Result<usize> {
        let filled = self.buf.len();
        self.buf.resize(filled + READ_CHUNK, 0);
        let read = src.read(&mut self.buf[filled..]);
        self.buf.truncate(filled + *read.as_ref().unwrap_or(&0));
        read
    }

    /// Makes room for the next read.
    pub(crate) fn reserve(&mut self) {
        self.buf.reserve(READ_CHUNK);
    }
}

/// The commands that set a new connection up (`AUTH`, `SELECT`, `CLIENT SETNAME`, a
/// `PING` over TLS or when the server must be `confirmed` to answer), sent as one pipeline;
/// `None` when there is nothing to set up.
pub(crate) fn handshake(config: &ConnectionConfig, confirmed: bool) -> Option<Pipeline> {
    let mut p = Pipeline::new();
    if config.protocol == Protocol::Resp3 {
        // One round trip for the protocol, the credentials and the name.
        let mut hello = cmd("HELLO").arg(3);
        if let Some(pass) = &config.password {
            let user = config.username.as_deref().unwrap_or("default");
            hello = hello.arg("AUTH").arg(user).arg(pass);
        }
        if let Some(name) = &config.client_name {
            hello = hello.arg("SETNAME").arg(name);
        }
        p.add(hello);
    } else {
        match (&config.username, &config.password) {
            (Some(user), Some(pass)) => {
                p.add(cmd("AUTH").arg(user).arg(pass));
            }
            (None, Some(pass)) => {
                p.add(cmd("AUTH").arg(pass));
            }
            _ => {}
        }
    }
    if config.db != 0 {
        p.add(cmd("SELECT").arg(config.db));
    }
    if let (Some(name), Protocol::Resp2) = (&config.client_name, config.protocol) {
        p.add(cmd("CLIENT").arg("SETNAME").arg(name));
    }
    if config.readonly {
        p.add(cmd("READONLY"));
    }
    if let (Some(cache), Protocol::Resp3) = (&config.cache, config.protocol) {
        // Invalidations come back as pushes on this connection.
        p.add(cache.tracking_command(None));
    }
    if p.is_empty() && (confirmed || config.tls.is_some()) {
        // A TLS 1.3 server refuses a client (no certificate, a revoked one) only after the
        // handshake, in its first record: one round trip at connect says so there. And a
        // port whose server is dying (killed, its listening socket not closed yet) accepts
        // and then resets: requests written there would fail as may-have-run.
        p.add(cmd("PING"));
    }
    (!p.is_empty()).then_some(p)
}

/// Checks the handshake's replies; the first error wins, so a wrong password is reported as
/// `WRONGPASS`, not as the `NOAUTH` that follows it. A server that does not know `HELLO`
/// (before Redis 6.0) gives [`Handshake::NoResp3`]: ask it its version
/// ([`version_query`]) and say so ([`resp3_refused`]).
pub(crate) fn check_handshake(config: &ConnectionConfig, replies: Vec<Reply>) -> Handshake {
    for (i, reply) in replies.into_iter().enumerate() {
        if let Some(err) = ServerError::from_reply(reply.view()) {
            if i == 0 && config.protocol == Protocol::Resp3 && refuses_hello(&err) {
                return Handshake::NoResp3(err);
            }
            return Handshake::Failed(match err.kind {
                ServerErrorKind::WrongPass | ServerErrorKind::NoAuth => Error::from(err),
                _ if err.line.starts_with(b"ERR AUTH")
                    || err.line.starts_with(b"ERR invalid password") =>
                {
                    // Old servers, or a password sent to a server that has none.
                    Error::from(ServerError {
                        kind: ServerErrorKind::WrongPass,
                        line: err.line,
                    })
                }
                _ => Error::from(err),
            });
        }
    }
    Handshake::Done
}

/// What the handshake's replies say.
#[derive(Debug)]
pub(crate) enum Handshake {
    /// The connection is set up.
    Done,
    /// It failed with this error.
    Failed(Error),
    /// The server refused `HELLO 3` as a command it does not know (before Redis 6.0).
    NoResp3(ServerError),
}

/// Whether `err` says the server does not know `HELLO`, or does not speak the protocol
/// asked for (`NOPROTO`).
fn refuses_hello(err: &ServerError) -> bool {
    let line = String::from_utf8_lossy(&err.line).to_ascii_lowercase();
    line.starts_with("noproto")
        || (line.starts_with("err unknown command") && line.contains("hello"))
}

/// The command that asks a server which version it is (after it refused `HELLO`).
pub(crate) fn version_query() -> crate::Cmd {
    cmd("INFO").arg("server")
}

/// The error for a server that refused `HELLO 3`, naming its version when `info` (the
/// reply to [`version_query`]) tells it.
pub(crate) fn resp3_refused(refusal: &ServerError, info: Option<&Reply>) -> Error {
    let version = info
        .and_then(|r| r.view().as_str().map(str::to_owned))
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("redis_version:")
                    .map(|v| v.trim().to_owned())
            })
        });
    let server = match version {
        Some(v) => format!("this server is Redis {v}"),
        None => "this server did not say its version".to_owned(),
    };
    Error::config(format!(
        "protocol=3 asks for RESP3, which needs Redis 6.0 or later: {server}, and it refused \
         HELLO ({}); use protocol=2",
        String::from_utf8_lossy(&refusal.line)
    ))
}

//! [`Connection`]: one blocking socket, one caller at a time.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use slotline_resp::Reply;

use super::stream::Stream;
use super::Execute;
use crate::config::{ConnectionConfig, IntoConnectionConfig};
use crate::protocol::{check_handshake, handshake, resp3_refused, version_query, Handshake, Inbox};
use crate::{Cmd, Error, ErrorKind, Pipeline, Request, Response, Result};

/// One blocking connection to one server; the twin of the async
/// [`Connection`](crate::Connection), with the same behaviour on failure: a request that
/// fails on the socket or times out leaves it unusable ([`ErrorKind::Closed`](crate::ErrorKind::Closed) afterwards) and
/// shuts its socket down, so that nothing it sent stays armed on the server.
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    io: Mutex<Io>,
}

#[derive(Debug)]
struct Io {
    stream: Stream,
    inbox: Inbox,
    out: BytesMut,
    broken: bool,
    timeout: Option<Duration>,
}

impl Connection {
    /// Connects, then authenticates, selects the database and names the client as the
    /// config says, in one round trip.
    pub fn connect(config: impl IntoConnectionConfig) -> Result<Self> {
        let config = config.into_connection_config()?;
        config.validate()?;
        let stream = Stream::connect(&config)?;
        let mut io = Io {
            stream,
            inbox: Inbox::new(&config),
            out: BytesMut::with_capacity(4096),
            broken: false,
            timeout: None,
        };
        if let Some(setup) = handshake(&config, false) {
            let replies = io
                .exchange(
                    |out| setup.encode(out),
                    setup.reply_count(),
                    config.connect_timeout,
                )
                .map_err(|e| match e {
                    e if e.kind() == ErrorKind::Timeout => {
                        let after = e.timeout().map(|(after, _)| after).unwrap_or_default();
                        Error::timeout_after(after, "handshake", true)
                    }
                    other if config.tls.is_some() => crate::tls::setup_error(other),
                    other => other,
                })?;
            match check_handshake(&config, replies) {
                Handshake::Done => {}
                Handshake::Failed(e) => return Err(e),
                Handshake::NoResp3(refusal) => {
                    let query = version_query();
                    let info = io.exchange(|out| query.encode(out), 1, config.connect_timeout);
                    let info = info.ok().and_then(|mut replies| replies.pop());
                    return Err(resp3_refused(&refusal, info.as_ref()));
                }
            }
        }
        Ok(Connection {
            config,
            io: Mutex::new(io),
        })
    }

    /// The config this connection was opened with.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Whether an earlier failure left this connection unusable.
    pub fn is_broken(&self) -> bool {
        self.io.lock().map(|io| io.broken).unwrap_or(true)
    }

    fn exchange(
        &self,
        encode: impl FnOnce(&mut BytesMut),
        want: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<Reply>> {
        let mut io = self.io.lock().map_err(|_| Error::closed(false))?;
        if io.broken {
            return Err(Error::closed(false));
        }
        io.broken = true;
        let result = io.exchange(encode, want, timeout);
        // Bytes beyond the replies asked for were sent unasked: the stream is out of step
        // (see the async connection). This request has its answer; the connection is not
        // used again.
        if result.is_ok() && io.inbox.buf.is_empty() {
            io.broken = false;
        } else {
            // Nothing is left armed on the server (a timed-out BLPOP takes no item later).
            io.stream.shut_down();
        }
        result
    }

    /// Hands the socket over for pub/sub; refused ([`ErrorKind::Closed`](crate::ErrorKind::Closed)) when an earlier
    /// failure left the connection out of step.
    pub(crate) fn into_parts(self) -> Result<(ConnectionConfig, Stream, Inbox)> {
        let io = self.io.into_inner().map_err(|_| Error::closed(false))?;
        if io.broken {
            return Err(Error::closed(false));
        }
        Ok((self.config, io.stream, io.inbox))
    }
}

impl Io {
    fn exchange(
        &mut self,
        encode: impl FnOnce(&mut BytesMut),
        want: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<Reply>> {
        if self.timeout != timeout {
            self.stream
                .set_timeout(timeout)
                .map_err(|e| Error::io(e, false))?;
            self.timeout = timeout;
        }
        let started = Instant::now();
        let elapsed = || Error::timeout_after(timeout.unwrap_or_default(), "reply", true);
        let timed_out = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => elapsed(),
            _ => Error::io(e, true),
        };
        self.out.clear();
        encode(&mut self.out);
        self.stream.write_all(&self.out).map_err(timed_out)?;
        let mut replies = Vec::with_capacity(want);
        while !self.inbox.fill(&mut replies, want)? {
            // The timeout bounds the whole wait, as in the async driver, not each read: a
            // server that trickles its reply must not stretch it. The socket's timeout is
            // lowered to what is left only when it is over by more than a millisecond, so
            // a reply that comes in one read costs no extra system call.
            if let Some(limit) = timeout {
                let left = limit
                    .checked_sub(started.elapsed())
                    .filter(|left| !left.is_zero())
                    .ok_or_else(elapsed)?;
                if self
                    .timeout
                    .is_some_and(|set| set > left + Duration::from_millis(1))
                {
                    self.stream
                        .set_timeout(Some(left))
                        .map_err(|e| Error::io(e, true))?;
                    self.timeout = Some(left);
                }
            }
            let read = self.inbox.read_from(&mut self.stream);
            match read {
                Ok(0) => return Err(self.inbox.ended(None)),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(timed_out(e))
                }
                Err(e) => return Err(self.inbox.ended(Some(e))),
            }
        }
        Ok(replies)
    }
}

impl Connection {
    fn command_reply(&self, cmd: &Cmd) -> Result<Reply> {
        cmd.check_request_response()?;
        let timeout = cmd.response_timeout(self.config.response_timeout);
        let mut replies = self.exchange(|out| cmd.encode(out), 1, timeout)?;
        replies
            .pop()
            .ok_or_else(|| Error::internal("a command had no reply"))
    }

    fn pipeline_replies(&self, pipe: &Pipeline) -> Result<Vec<Reply>> {
        if pipe.reply_count() == 0 {
            return Ok(Vec::new());
        }
        pipe.check_request_response()?;
        let timeout = pipe.response_timeout(self.config.response_timeout);
        self.exchange(|out| pipe.encode(out), pipe.reply_count(), timeout)
    }
}

impl Execute for Connection {
    fn execute(&self, request: Request<'_>) -> Result<Response> {
        match request {
            Request::Command(cmd) => self.command_reply(cmd).map(Response::Reply),
            Request::Pipeline(pipe) => self.pipeline_replies(pipe).map(Response::Replies),
            Request::Scan(mut cursor) => {
                if let Some(cmd) = cursor.single_step(&self.config.addr) {
                    cursor.feed(self.command_reply(&cmd)?.into_frame())?;
                }
                Ok(Response::Scan(cursor))
            }
        }
    }
}

//! [`Connection`]: one async socket, one caller at a time, request/response and pipelines.

use std::future::Future;
use std::time::Duration;

use bytes::BytesMut;
use slotline_resp::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{ConnectionConfig, IntoConnectionConfig};
use crate::protocol::{check_handshake, handshake, resp3_refused, version_query, Handshake, Inbox};
use crate::stream::Stream;
use crate::{Cmd, Error, Execute, Pipeline, Request, Response, Result};

/// One async connection to one server.
///
/// Commands on it run one after another (a lock keeps callers in turn). Use it where a
/// conversation needs the same socket throughout (`WATCH` ... `EXEC`, `CLIENT` state);
/// for sharing among tasks use [`Client`](crate::Client), which pipelines callers' commands.
///
/// A request that fails on the socket, times out, or is cancelled midway (its future
/// dropped) leaves the connection unusable: later requests fail with [`ErrorKind::Closed`](crate::ErrorKind::Closed) and
/// the caller opens a new connection. Its socket is shut down at once, so that nothing it
/// sent stays armed on the server: a `BLPOP` given up on takes no item that arrives later.
///
/// ```no_run
/// # async fn demo() -> slotline_conn::Result<()> {
/// use slotline_conn::{cmd, Commands, Connection, Query};
/// let con = Connection::connect("redis://127.0.0.1:6379").await?;
/// con.set("k", 1).await?;
/// let n: i64 = con.query(&cmd("INCR").arg("k")).await?;
/// # let _ = n; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    io: tokio::sync::Mutex<Io>,
}

#[derive(Debug)]
struct Io {
    stream: Stream,
    inbox: Inbox,
    out: BytesMut,
    /// Set while a request is under way, cleared when it completes: still set means the
    /// last request failed or was cancelled midway and the stream is out of step.
    broken: bool,
}

impl Connection {
    /// Connects, then authenticates, selects the database and names the client as the
    /// config says, in one round trip.
    pub async fn connect(config: impl IntoConnectionConfig) -> Result<Self> {
        Self::connect_set_up(config.into_connection_config()?, false).await
    }

    /// [`connect`](Self::connect), with a round trip at set-up even when there is nothing
    /// to send (`confirmed`): a shared client connecting again writes its callers' requests
    /// only to a server that answered.
    pub(crate) async fn connect_set_up(config: ConnectionConfig, confirmed: bool) -> Result<Self> {
        config.validate()?;
        let stream = Stream::connect(&config).await?;
        let mut io = Io {
            stream,
            inbox: Inbox::new(&config),
            out: BytesMut::with_capacity(4096),
            broken: false,
        };
        if let Some(setup) = handshake(&config, confirmed) {
            let replies = with_timeout(
                config.connect_timeout,
                "handshake",
                io.exchange(|out| setup.encode(out), setup.reply_count()),
            )
            .await
            .map_err(|e| match config.tls {
                Some(_) => crate::tls::setup_error(e),
                None => e,
            })?;
            match check_handshake(&config, replies) {
                Handshake::Done => {}
                Handshake::Failed(e) => return Err(e),
                Handshake::NoResp3(refusal) => {
                    let query = version_query();
                    let info = with_timeout(
                        config.connect_timeout,
                        "handshake",
                        io.exchange(|out| query.encode(out), 1),
                    )
                    .await;
                    let info = info.ok().and_then(|mut replies| replies.pop());
                    return Err(resp3_refused(&refusal, info.as_ref()));
                }
            }
        }
        Ok(Connection {
            config,
            io: tokio::sync::Mutex::new(io),
        })
    }

    /// The config this connection was opened with.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Whether an earlier failure left this connection unusable.
    pub async fn is_broken(&self) -> bool {
        self.io.lock().await.broken
    }

    /// Writes what `encode` writes and reads `want` replies, within `timeout`.
    async fn exchange(
        &self,
        encode: impl FnOnce(&mut BytesMut) + Send,
        want: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<Reply>> {
        let io = self.io.lock().await;
        if io.broken {
            return Err(Error::closed(false));
        }
        let mut io = Underway(io);
        io.0.broken = true;
        let result = with_timeout(timeout, "reply", io.0.exchange(encode, want)).await;
        // Bytes beyond the replies asked for were sent unasked (a broken server or proxy,
        // pushes after a raw SUBSCRIBE or MONITOR): the next caller would take them for its
        // reply. This request has its answer; the connection is not used again.
        if result.is_ok() && io.0.inbox.buf.is_empty() {
            io.0.broken = false;
        }
        result
    }

    /// Whether the connection is idle and in step: no request under way, none failed.
    pub(crate) fn is_reusable(&self) -> bool {
        self.io.try_lock().is_ok_and(|io| !io.broken)
    }

    /// [`is_reusable`](Connection::is_reusable), and the server has not closed it meanwhile
    /// (restarted, or its `timeout` ended an idle client).
    pub(crate) fn is_still_open(&self) -> bool {
        self.io
            .try_lock()
            .is_ok_and(|io| !io.broken && io.inbox.buf.is_empty() && io.stream.is_quiet())
    }

    /// Sends `cmd` and reads its first reply, leaving whatever follows on the stream for
    /// [`next_reply`](Self::next_reply) (`MONITOR`: the connection counts as broken for
    /// requests then, as after any reply followed by bytes nobody asked for).
    pub(crate) async fn first_reply(&self, cmd: &Cmd) -> Result<Reply> {
        let timeout = self.config.response_timeout;
        let mut replies = self.exchange(|out| cmd.encode(out), 1, timeout).await?;
        replies
            .pop()
            .ok_or_else(|| Error::internal("an exchange of one reply had none"))
    }

    /// The next reply the server sends on its own (after `MONITOR`); `Closed` once it
    /// closed the connection.
    pub(crate) async fn next_reply(&self) -> Result<Reply> {
        let mut replies = self.io.lock().await.read_replies(1).await?;
        replies
            .pop()
            .ok_or_else(|| Error::internal("a read of one reply had none"))
    }

    /// Hands the socket over for pub/sub.
    pub(crate) fn into_parts(self) -> (ConnectionConfig, Stream, Inbox) {
        let io = self.io.into_inner();
        (self.config, io.stream, io.inbox)
    }
}

/// The connection's I/O while a request is under way: if the request does not complete in
/// step (it failed, timed out, or its future was dropped), the socket is shut down when
/// this is dropped, so that the server drops whatever it still holds for it.
struct Underway<'a>(tokio::sync::MutexGuard<'a, Io>);

impl Drop for Underway<'_> {
    fn drop(&mut self) {
        if self.0.broken {
            self.0.stream.shut_down();
        }
    }
}

impl Io {
    async fn exchange(
        &mut self,
        encode: impl FnOnce(&mut BytesMut),
        want: usize,
    ) -> Result<Vec<Reply>> {
        self.out.clear();
        encode(&mut self.out);
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| Error::io(e, true))?;
        // Through TLS the last record may still be in the session.
        self.stream.flush().await.map_err(|e| Error::io(e, true))?;
        self.read_replies(want).await
    }

    /// Reads until `want` replies are in.
    async fn read_replies(&mut self, want: usize) -> Result<Vec<Reply>> {
        let mut replies = Vec::with_capacity(want);
        while !self.inbox.fill(&mut replies, want)? {
            self.inbox.reserve();
            let n = self
                .stream
                .read_buf(&mut self.inbox.buf)
                .await
                .map_err(|e| self.inbox.ended(Some(e)))?;
            if n == 0 {
                return Err(self.inbox.ended(None));
            }
        }
        Ok(replies)
    }
}

/// Runs `fut` within `limit`; a timeout is reported as having happened after writing.
pub(crate) async fn with_timeout<T>(
    limit: Option<Duration>,
    what: &'static str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        Some(after) => tokio::time::timeout(after, fut)
            .await
            .unwrap_or(Err(Error::timeout_after(after, what, true))),
        None => fut.await,
    }
}

impl Connection {
    async fn command_reply(&self, cmd: &Cmd) -> Result<Reply> {
        cmd.check_request_response()?;
        let timeout = cmd.response_timeout(self.config.response_timeout);
        let mut replies = self.exchange(|out| cmd.encode(out), 1, timeout).await?;
        replies
            .pop()
            .ok_or_else(|| Error::internal("a command had no reply"))
    }

    async fn pipeline_replies(&self, pipe: &Pipeline) -> Result<Vec<Reply>> {
        if pipe.reply_count() == 0 {
            return Ok(Vec::new());
        }
        pipe.check_request_response()?;
        let timeout = pipe.response_timeout(self.config.response_timeout);
        self.exchange(|out| pipe.encode(out), pipe.reply_count(), timeout)
            .await
    }
}

impl Execute for Connection {
    async fn execute(&self, request: Request<'_>) -> Result<Response> {
        match request {
            Request::Command(cmd) => self.command_reply(cmd).await.map(Response::Reply),
            Request::Pipeline(pipe) => self.pipeline_replies(pipe).await.map(Response::Replies),
            Request::Scan(mut cursor) => {
                if let Some(cmd) = cursor.single_step(&self.config.addr) {
                    cursor.feed(self.command_reply(&cmd).await?.into_frame())?;
                }
                Ok(Response::Scan(cursor))
            }
        }
    }
}

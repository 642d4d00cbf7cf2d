//! The async byte stream under a connection: TCP or a Unix socket, connected and tuned.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use crate::config::{Addr, ConnectionConfig};
use crate::socket::tune_tcp;
use crate::{Error, Result};

/// A connected socket, kept as its two halves (the shared client's driver reads and
/// writes at once; a plain connection uses both through this type).
#[derive(Debug)]
pub(crate) struct Stream {
    rd: ReadHalf,
    wr: WriteHalf,
}

impl From<TcpStream> for Stream {
    fn from(tcp: TcpStream) -> Self {
        let (r, w) = tcp.into_split();
        Stream {
            rd: ReadHalf::Tcp(r),
            wr: WriteHalf::Tcp(w),
        }
    }
}

impl From<UnixStream> for Stream {
    fn from(unix: UnixStream) -> Self {
        let (r, w) = unix.into_split();
        Stream {
            rd: ReadHalf::Unix(r),
            wr: WriteHalf::Unix(w),
        }
    }
}

impl Stream {
    /// Connects to `config.addr` (every resolved address in turn), within the connect
    /// timeout.
    pub(crate) async fn connect(config: &ConnectionConfig) -> Result<Stream> {
        let attempt = async {
            match &config.addr {
                Addr::Tcp { host, port } => {
                    let mut last = None;
                    for addr in tokio::net::lookup_host((host.as_str(), *port)).await? {
                        match TcpStream::connect(addr).await {
                            Ok(tcp) => {
                                tune_tcp(socket2::SockRef::from(&tcp), config)?;
                                return Ok(Stream::from(tcp));
                            }
                            Err(e) => last = Some(e),
                        }
                    }
                    Err(last.unwrap_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::NotFound,
                            format!("{host} resolves to no address"),
                        )
                    }))
                }
                Addr::Unix(path) => UnixStream::connect(path).await.map(Stream::from),
            }
        };
        let connected = match config.connect_timeout {
            Some(limit) => match tokio::time::timeout(limit, attempt).await {
                Ok(result) => result,
                Err(_) => {
                    return Err(Error::Timeout {
                        after: limit,
                        what: "connect",
                        written: false,
                    })
                }
            },
            None => attempt.await,
        };
        connected.map_err(|e| {
            Error::io(
                io::Error::new(e.kind(), format!("connecting to {}: {e}", config.addr)),
                false,
            )
        })
    }
}

impl Stream {
    /// See [`WriteHalf::shut_down`].
    pub(crate) fn shut_down(&self) {
        self.wr.shut_down();
    }

    /// Whether the peer has neither closed the connection nor sent anything unasked, asked
    /// of the socket now (one `recv` with `MSG_PEEK`, which takes nothing): for a
    /// connection that sat unused.
    pub(crate) fn is_quiet(&self) -> bool {
        let sock = match &self.rd {
            ReadHalf::Tcp(s) => socket2::SockRef::from(s.as_ref()),
            ReadHalf::Unix(s) => socket2::SockRef::from(s.as_ref()),
        };
        let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
        // The socket is non-blocking: "would block" means open, with nothing to read.
        matches!(sock.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Splits into a read half and a write half that can be used at the same time, without
    /// a lock between them.
    pub(crate) fn into_split(self) -> (ReadHalf, WriteHalf) {
        (self.rd, self.wr)
    }
}

/// The read half of a [`Stream`].
#[derive(Debug)]
pub(crate) enum ReadHalf {
    Tcp(tokio::net::tcp::OwnedReadHalf),
    Unix(tokio::net::unix::OwnedReadHalf),
}

/// The write half of a [`Stream`].
#[derive(Debug)]
pub(crate) enum WriteHalf {
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    Unix(tokio::net::unix::OwnedWriteHalf),
}

impl WriteHalf {
    /// Shuts the socket down both ways at once, without waiting: the server sees the
    /// connection end and drops whatever the client left waiting there.
    pub(crate) fn shut_down(&self) {
        let sock = match self {
            WriteHalf::Tcp(s) => socket2::SockRef::from(s.as_ref()),
            WriteHalf::Unix(s) => socket2::SockRef::from(s.as_ref()),
        };
        // Already shut or reset by the peer: nothing is left to end.
        let _ = sock.shutdown(std::net::Shutdown::Both);
    }

    /// Writes what the socket takes now, without waiting (`WouldBlock` when it takes
    /// nothing).
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Tcp(s) => s.try_write(buf),
            WriteHalf::Unix(s) => s.try_write(buf),
        }
    }

    /// Waits until the socket may take more bytes.
    pub(crate) async fn writable(&self) -> io::Result<()> {
        match self {
            WriteHalf::Tcp(s) => s.writable().await,
            WriteHalf::Unix(s) => s.writable().await,
        }
    }

    /// Writes all of `buf`, from a shared reference (several writers take turns), counting
    /// its socket calls in `io`.
    pub(crate) async fn write_all_shared(
        &self,
        mut buf: &[u8],
        io: &crate::client::IoCounters,
    ) -> io::Result<()> {
        while !buf.is_empty() {
            io.count_write();
            match self.try_write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            ReadHalf::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            WriteHalf::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_flush(cx),
            WriteHalf::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            WriteHalf::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().rd).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().wr).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().wr).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().wr).poll_shutdown(cx)
    }
}

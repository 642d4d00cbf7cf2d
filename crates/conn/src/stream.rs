//! The async byte stream under a connection: TCP or a Unix socket, connected and tuned.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;

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
    /// A TLS stream over `tcp`, with a second handle on the socket (`sock`) to shut it down
    /// or peek at it from either half.
    fn tls(tls: TlsStream<TcpStream>, sock: socket2::Socket) -> Stream {
        let (r, w) = tokio::io::split(tls);
        Stream {
            rd: ReadHalf::Tls(r),
            wr: WriteHalf::Tls {
                io: tokio::sync::Mutex::new(w),
                sock,
            },
        }
    }

    /// Connects to `config.addr` (every resolved address in turn), then, with TLS, makes
    /// the handshake, all within the connect timeout.
    pub(crate) async fn connect(config: &ConnectionConfig) -> Result<Stream> {
        let tls = match (&config.tls, &config.addr) {
            (Some(tls), Addr::Tcp { host, .. }) => Some((
                tokio_rustls::TlsConnector::from(tls.client_config()?),
                tls.name_for(host)?,
            )),
            _ => None,
        };
        // Set once the TCP connection is up, to tell which step a timeout cut.
        let handshaking = std::sync::atomic::AtomicBool::new(false);
        let attempt = async {
            match &config.addr {
                Addr::Tcp { host, port } => {
                    let mut last = None;
                    for addr in tokio::net::lookup_host((host.as_str(), *port)).await? {
                        match TcpStream::connect(addr).await {
                            Ok(tcp) => {
                                tune_tcp(socket2::SockRef::from(&tcp), config)?;
                                let Some((connector, name)) = &tls else {
                                    return Ok(Stream::from(tcp));
                                };
                                let sock = socket2::SockRef::from(&tcp).try_clone()?;
                                handshaking.store(true, std::sync::atomic::Ordering::Relaxed);
                                return match connector.connect(name.clone(), tcp).await {
                                    Ok(tls) => Ok(Stream::tls(tls, sock)),
                                    Err(e) => Err(crate::tls::handshake_error(&e)),
                                };
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
                        what: if handshaking.load(std::sync::atomic::Ordering::Relaxed) {
                            crate::tls::HANDSHAKE_UNANSWERED
                        } else {
                            "connect"
                        },
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
        let sock = self.wr.sock();
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
    Tls(tokio::io::ReadHalf<TlsStream<TcpStream>>),
}

/// The write half of a [`Stream`].
#[derive(Debug)]
pub(crate) enum WriteHalf {
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    Unix(tokio::net::unix::OwnedWriteHalf),
    /// TLS: writes go through the session (behind a lock, for writers that take turns);
    /// `sock` is the socket under it.
    Tls {
        io: tokio::sync::Mutex<tokio::io::WriteHalf<TlsStream<TcpStream>>>,
        sock: socket2::Socket,
    },
}

impl WriteHalf {
    /// The socket itself, for calls that bypass the stream (shutdown, peek).
    fn sock(&self) -> socket2::SockRef<'_> {
        match self {
            WriteHalf::Tcp(s) => socket2::SockRef::from(s.as_ref()),
            WriteHalf::Unix(s) => socket2::SockRef::from(s.as_ref()),
            WriteHalf::Tls { sock, .. } => socket2::SockRef::from(sock),
        }
    }

    /// Shuts the socket down both ways at once, without waiting: the server sees the
    /// connection end and drops whatever the client left waiting there.
    pub(crate) fn shut_down(&self) {
        // Already shut or reset by the peer: nothing is left to end.
        let _ = self.sock().shutdown(std::net::Shutdown::Both);
    }

    /// Whether [`try_write`](WriteHalf::try_write) can write at all (not through TLS,
    /// whose session must be written under its lock, by the writer task).
    pub(crate) fn can_try_write(&self) -> bool {
        !matches!(self, WriteHalf::Tls { .. })
    }

    /// Writes what the socket takes now, without waiting (`WouldBlock` when it takes
    /// nothing, and always through TLS).
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Tcp(s) => s.try_write(buf),
            WriteHalf::Unix(s) => s.try_write(buf),
            WriteHalf::Tls { .. } => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Waits until the socket may take more bytes.
    async fn writable(&self) -> io::Result<()> {
        match self {
            WriteHalf::Tcp(s) => s.writable().await,
            WriteHalf::Unix(s) => s.writable().await,
            WriteHalf::Tls { .. } => Ok(()),
        }
    }

    /// Writes all of `buf`, from a shared reference (several writers take turns), counting
    /// its socket calls in `io`.
    pub(crate) async fn write_all_shared(
        &self,
        mut buf: &[u8],
        io: &crate::client::IoCounters,
    ) -> io::Result<()> {
        if let WriteHalf::Tls { io: tls, .. } = self {
            use tokio::io::AsyncWriteExt;
            io.count_write();
            let mut tls = tls.lock().await;
            tls.write_all(buf).await?;
            return tls.flush().await;
        }
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
            ReadHalf::Tls(s) => Pin::new(s).poll_read(cx, buf),
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
            WriteHalf::Tls { io, .. } => Pin::new(io.get_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_flush(cx),
            WriteHalf::Unix(s) => Pin::new(s).poll_flush(cx),
            WriteHalf::Tls { io, .. } => Pin::new(io.get_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            WriteHalf::Unix(s) => Pin::new(s).poll_shutdown(cx),
            WriteHalf::Tls { io, .. } => Pin::new(io.get_mut()).poll_shutdown(cx),
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

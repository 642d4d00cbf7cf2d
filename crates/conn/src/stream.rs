//! The async byte stream under a connection: TCP or a Unix socket, connected and tuned.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;

use crate::config::ConnectionConfig;
use crate::socket::tune_tcp;
use crate::Addr;
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
                unflushed: std::sync::atomic::AtomicBool::new(false),
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
                    return Err(Error::timeout_after(
                        limit,
                        if handshaking.load(std::sync::atomic::Ordering::Relaxed) {
                            crate::tls::HANDSHAKE_UNANSWERED
                        } else {
                            "connect"
                        },
                        false,
                    ))
                }
            },
            None => attempt.await,
        };
        connected.map_err(|e| {
            Error::io(
                crate::tls::in_context(&e, format_args!("connecting to {}", config.addr)),
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
    /// `sock` is the socket under it. `unflushed` is set when a
    /// [`try_write`](WriteHalf::try_write) left sealed records in the session that the
    /// socket did not take: the writer task sends them ([`WriteHalf::flush_left`]). It is
    /// set and cleared only under the session's lock (read without it).
    Tls {
        io: tokio::sync::Mutex<tokio::io::WriteHalf<TlsStream<TcpStream>>>,
        sock: socket2::Socket,
        unflushed: std::sync::atomic::AtomicBool,
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

    /// Whether writes go through a TLS session.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, WriteHalf::Tls { .. })
    }

    /// Shuts the socket down both ways at once, without waiting: the server sees the
    /// connection end and drops whatever the client left waiting there.
    pub(crate) fn shut_down(&self) {
        // Already shut or reset by the peer: nothing is left to end.
        let _ = self.sock().shutdown(std::net::Shutdown::Both);
    }

    /// Writes what the socket takes now, without waiting (`WouldBlock` when it takes
    /// nothing). Through TLS: what the session takes now, sealed into records and sent as
    /// far as the socket takes them; `WouldBlock` while another writer holds the session.
    /// Records the socket did not take stay in the session for
    /// [`flush_left`](WriteHalf::flush_left), as do records whose sending met an error (the
    /// bytes were taken: the writer meets the error again on the same socket and reports
    /// it).
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Tcp(s) => s.try_write(buf),
            WriteHalf::Unix(s) => s.try_write(buf),
            WriteHalf::Tls { io, unflushed, .. } => {
                let Ok(mut tls) = io.try_lock() else {
                    return Err(io::ErrorKind::WouldBlock.into());
                };
                // Nobody waits on this context: a socket that is full leaves the rest to
                // the writer task, which waits with its own.
                let mut cx = Context::from_waker(std::task::Waker::noop());
                let taken = match Pin::new(&mut *tls).poll_write(&mut cx, buf) {
                    Poll::Ready(taken) => taken?,
                    Poll::Pending => return Err(io::ErrorKind::WouldBlock.into()),
                };
                if !matches!(Pin::new(&mut *tls).poll_flush(&mut cx), Poll::Ready(Ok(()))) {
                    unflushed.store(true, std::sync::atomic::Ordering::Release);
                }
                Ok(taken)
            }
        }
    }

    /// Whether a [`try_write`](WriteHalf::try_write) left records that the writer task
    /// must send.
    pub(crate) fn has_unflushed(&self) -> bool {
        match self {
            WriteHalf::Tls { unflushed, .. } => {
                unflushed.load(std::sync::atomic::Ordering::Acquire)
            }
            _ => false,
        }
    }

    /// Sends the records a [`try_write`](WriteHalf::try_write) left in the TLS session,
    /// waiting for the socket (nothing to do without TLS).
    pub(crate) async fn flush_left(&self, io: &crate::io_stats::IoCounters) -> io::Result<()> {
        if let WriteHalf::Tls {
            io: tls, unflushed, ..
        } = self
        {
            use tokio::io::AsyncWriteExt;
            let mut tls = tls.lock().await;
            if unflushed.swap(false, std::sync::atomic::Ordering::AcqRel) {
                io.count_write();
                tls.flush().await?;
            }
        }
        Ok(())
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
        io: &crate::io_stats::IoCounters,
    ) -> io::Result<()> {
        if let WriteHalf::Tls {
            io: tls, unflushed, ..
        } = self
        {
            use tokio::io::AsyncWriteExt;
            io.count_write();
            let mut tls = tls.lock().await;
            tls.write_all(buf).await?;
            io.count_out(buf.len());
            tls.flush().await?;
            // The flush sent any records a `try_write` left too.
            unflushed.store(false, std::sync::atomic::Ordering::Release);
            return Ok(());
        }
        while !buf.is_empty() {
            io.count_write();
            match self.try_write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    io.count_out(n);
                    buf = &buf[n..]
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl ReadHalf {
    /// Reads what the socket holds now, straight from it and without waiting (`WouldBlock`
    /// when it holds nothing), whatever the runtime's poller last saw; `None` through TLS,
    /// whose records must go through the session.
    pub(crate) fn read_now(&self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        use std::io::Read;
        let sock = match self {
            ReadHalf::Tcp(s) => socket2::SockRef::from(s.as_ref()),
            ReadHalf::Unix(s) => socket2::SockRef::from(s.as_ref()),
            ReadHalf::Tls(_) => return None,
        };
        Some((&*sock).read(buf))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConnectionConfig, TlsConfig};
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    /// A TLS server on loopback that reads nothing until it is told how much to expect;
    /// returns its address, the sender that starts it, and what it then read.
    async fn stalled_tls_server() -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<usize>,
        tokio::task::JoinHandle<Vec<u8>>,
    ) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        // A small receive window, so that the client's socket fills soon.
        sock.set_recv_buffer_size(4096).unwrap();
        sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = sock.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let (go, start) = tokio::sync::oneshot::channel::<usize>();
        let served = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.unwrap();
            let expected = start.await.unwrap();
            let mut got = vec![0; expected];
            tls.read_exact(&mut got).await.unwrap();
            got
        });
        (addr, go, served)
    }

    /// Through TLS, `try_write` seals what the session takes even when the socket is full;
    /// the records left behind are flagged, and `flush_left` sends every one of them.
    #[tokio::test]
    async fn records_left_by_try_write_are_sent_by_flush_left() {
        let (addr, go, served) = stalled_tls_server().await;
        let config = ConnectionConfig::new(Addr::Tcp {
            host: "127.0.0.1".into(),
            port: addr.port(),
        })
        .with_tls(TlsConfig::new().insecure_no_verify());
        let (_rd, wr) = Stream::connect(&config).await.unwrap().into_split();
        let chunk: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
        let mut sent = Vec::new();
        loop {
            match wr.try_write(&chunk) {
                Ok(n) => sent.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("try_write: {e}"),
            }
            assert!(sent.len() < 1 << 30, "the socket never filled");
        }
        assert!(wr.has_unflushed(), "a full socket left no records behind");
        go.send(sent.len()).unwrap();
        let counters = crate::io_stats::IoCounters::default();
        wr.flush_left(&counters).await.unwrap();
        assert!(!wr.has_unflushed());
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), served)
            .await
            .expect("the server never got every byte taken")
            .unwrap();
        assert!(got == sent, "the server got other bytes than were taken");
    }
}

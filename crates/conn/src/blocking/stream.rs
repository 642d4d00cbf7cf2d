//! The blocking byte stream: a std TCP or Unix socket with read/write timeouts.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::config::ConnectionConfig;
use crate::socket::tune_tcp;
use crate::Addr;
use crate::{Error, Result};

/// A connected std socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    /// Connects to `config.addr`, trying each resolved address within the connect timeout.
    pub(crate) fn connect(config: &ConnectionConfig) -> Result<Stream> {
        if let Some(tls) = &config.tls {
            // A TLS set-up that cannot work (a CA file missing) fails before dialling.
            tls.client_config()?;
        }
        let fail = |e: io::Error| {
            Error::io(
                io::Error::new(e.kind(), format!("connecting to {}: {e}", config.addr)),
                false,
            )
        };
        match &config.addr {
            Addr::Tcp { host, port } => {
                let mut last = None;
                for addr in (host.as_str(), *port).to_socket_addrs().map_err(fail)? {
                    let attempt = match config.connect_timeout {
                        Some(limit) => TcpStream::connect_timeout(&addr, limit),
                        None => TcpStream::connect(addr),
                    };
                    match attempt {
                        Ok(tcp) => {
                            tune_tcp(socket2::SockRef::from(&tcp), config).map_err(fail)?;
                            return match &config.tls {
                                None => Ok(Stream::Tcp(tcp)),
                                Some(tls) => tls_handshake(tls, host, tcp, config)
                                    .map(|s| Stream::Tls(Box::new(s))),
                            };
                        }
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                            last = Some(Error::timeout_after(
                                config.connect_timeout.unwrap_or_default(),
                                "connect",
                                false,
                            ))
                        }
                        Err(e) => last = Some(fail(e)),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    fail(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{host} resolves to no address"),
                    ))
                }))
            }
            Addr::Unix(path) => UnixStream::connect(path).map(Stream::Unix).map_err(fail),
        }
    }

    /// Shuts the socket under the stream down both ways.
    fn shut(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Tls(s) => s.sock.shutdown(std::net::Shutdown::Both),
        }
    }

    /// Shuts the socket down both ways at once: the server sees the connection end and
    /// drops whatever the client left waiting there.
    pub(crate) fn shut_down(&self) {
        // Already shut or reset by the peer: nothing is left to end.
        let _ = self.shut();
    }

    /// Sets how long a read or a write may block.
    pub(crate) fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero duration means "no timeout" to the OS; keep it at least a millisecond.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Stream::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Stream::Tls(s) => {
                s.sock.set_read_timeout(timeout)?;
                s.sock.set_write_timeout(timeout)
            }
        }
    }
}

/// The TLS handshake over `tcp`, within the connect timeout.
fn tls_handshake(
    tls: &crate::TlsConfig,
    host: &str,
    mut tcp: TcpStream,
    config: &ConnectionConfig,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let mut session = rustls::ClientConnection::new(tls.client_config()?, tls.name_for(host)?)
        .map_err(|e| Error::config(format!("TLS: {e}")))?;
    let limit = config
        .connect_timeout
        .map(|t| t.max(Duration::from_millis(1)));
    let handshake = tcp
        .set_read_timeout(limit)
        .and_then(|()| tcp.set_write_timeout(limit))
        .and_then(|()| {
            while session.is_handshaking() {
                session.complete_io(&mut tcp)?;
            }
            Ok(())
        });
    match handshake {
        Ok(()) => Ok(rustls::StreamOwned::new(session, tcp)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(Error::timeout_after(
                limit.unwrap_or_default(),
                crate::tls::HANDSHAKE_UNANSWERED,
                false,
            ))
        }
        Err(e) => Err(Error::io(
            crate::tls::in_context(
                &crate::tls::handshake_error(&e),
                format_args!("connecting to {}", config.addr),
            ),
            false,
        )),
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            // Into the session, then out as records at once (callers do not flush).
            Stream::Tls(s) => {
                let n = s.write(buf)?;
                s.flush()?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

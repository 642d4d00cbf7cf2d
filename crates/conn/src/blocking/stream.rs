//! The blocking byte stream: a std TCP or Unix socket with read/write timeouts.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::config::{Addr, ConnectionConfig};
use crate::socket::tune_tcp;
use crate::{Error, Result};

/// A connected std socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Connects to `config.addr`, trying each resolved address within the connect timeout.
    pub(crate) fn connect(config: &ConnectionConfig) -> Result<Stream> {
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
                            return Ok(Stream::Tcp(tcp));
                        }
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                            last = Some(Error::Timeout {
                                after: config.connect_timeout.unwrap_or_default(),
                                what: "connect",
                                written: false,
                            })
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

    /// Shuts the socket down both ways at once: the server sees the connection end and
    /// drops whatever the client left waiting there.
    pub(crate) fn shut_down(&self) {
        // Already shut or reset by the peer: nothing is left to end.
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
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
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

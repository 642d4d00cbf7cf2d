//! A tiny blocking RESP client over `std::net::TcpStream`, enough to drive and probe the
//! test bed's nodes (and for tests that want to talk to a node directly).
//!
//! ```no_run
//! # fn main() -> slotline_testbed::Result<()> {
//! let mut c = slotline_testbed::wire::Conn::connect("127.0.0.1:6379".parse().unwrap())?;
//! c.cmd(&["SET", "k", "v"])?;
//! assert_eq!(c.cmd(&["GET", "k"])?.as_str(), Some("v"));
//! # Ok(()) }
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use slotline_resp::{encode_command, Decoder, Frame};

use crate::error::{Error, Result};

/// Default connect and read/write timeout of a [`Conn`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Credentials for `AUTH`: an optional ACL user name and a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    /// ACL user (`None` authenticates as `default` with `AUTH <password>`).
    pub user: Option<String>,
    /// The password.
    pub password: String,
}

impl Auth {
    /// `AUTH <password>` (the `default` user / `requirepass`).
    pub fn password(password: impl Into<String>) -> Self {
        Auth {
            user: None,
            password: password.into(),
        }
    }

    /// `AUTH <user> <password>` (an ACL user).
    pub fn user(user: impl Into<String>, password: impl Into<String>) -> Self {
        Auth {
            user: Some(user.into()),
            password: password.into(),
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The socket under a [`Conn`]: plaintext, or TLS for a test-bed node whose port speaks it.
#[derive(Debug)]
enum Socket {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Socket {
    fn tcp(&self) -> &TcpStream {
        match self {
            Socket::Plain(s) => s,
            Socket::Tls(s) => &s.sock,
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Socket::Plain(s) => s.read(buf),
            Socket::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Socket::Plain(s) => s.write(buf),
            Socket::Tls(s) => {
                let n = s.write(buf)?;
                s.flush()?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Socket::Plain(s) => s.flush(),
            Socket::Tls(s) => s.flush(),
        }
    }
}

/// One blocking connection to a Redis node or sentinel (through TLS when the node is one
/// of this test bed's TLS nodes).
#[derive(Debug)]
pub struct Conn {
    addr: SocketAddr,
    stream: Socket,
    rbuf: BytesMut,
    wbuf: BytesMut,
    decoder: Decoder,
}

impl Conn {
    /// Connects with [`DEFAULT_TIMEOUT`] for connecting, reading and writing.
    pub fn connect(addr: SocketAddr) -> Result<Conn> {
        Conn::connect_timeout(addr, DEFAULT_TIMEOUT)
    }

    /// Connects with the given timeout for connecting, reading and writing.
    pub fn connect_timeout(addr: SocketAddr, timeout: Duration) -> Result<Conn> {
        let tcp = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| Error::io(format!("connecting to {addr}"), e))?;
        let _ = tcp.set_nodelay(true);
        let stream = match crate::tls::client_for(addr.port()) {
            None => Socket::Plain(tcp),
            Some(config) => {
                let session = rustls::ClientConnection::new(config, crate::tls::loopback_name())
                    .map_err(|e| Error::Invalid(format!("TLS to {addr}: {e}")))?;
                Socket::Tls(Box::new(rustls::StreamOwned::new(session, tcp)))
            }
        };
        let conn = Conn {
            addr,
            stream,
            rbuf: BytesMut::with_capacity(4096),
            wbuf: BytesMut::with_capacity(256),
            decoder: Decoder::default(),
        };
        conn.set_timeout(timeout)?;
        Ok(conn)
    }

    /// Connects and, when `auth` is given, authenticates.
    pub fn connect_auth(addr: SocketAddr, auth: Option<&Auth>) -> Result<Conn> {
        let mut conn = Conn::connect(addr)?;
        if let Some(auth) = auth {
            conn.auth(auth)?;
        }
        Ok(conn)
    }

    /// The address this connection talks to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the read and write timeout.
    pub fn set_timeout(&self, timeout: Duration) -> Result<()> {
        let tcp = self.stream.tcp();
        tcp.set_read_timeout(Some(timeout))
            .and_then(|()| tcp.set_write_timeout(Some(timeout)))
            .map_err(|e| Error::io(format!("setting timeouts on {}", self.addr), e))
    }

    /// Sends `AUTH [user] password`.
    pub fn auth(&mut self, auth: &Auth) -> Result<()> {
        match &auth.user {
            Some(user) => self.cmd(&["AUTH", user, &auth.password])?,
            None => self.cmd(&["AUTH", &auth.password])?,
        };
        Ok(())
    }

    /// Sends one command and reads its reply; an error reply becomes [`Error::Server`].
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Frame> {
        match self.cmd_raw(args)? {
            Frame::Error(line) => Err(Error::Server {
                addr: self.addr,
                message: String::from_utf8_lossy(&line).into_owned(),
            }),
            frame => Ok(frame),
        }
    }

    /// Sends one command and reads its reply; an error reply is returned as `Frame::Error`.
    pub fn cmd_raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Frame> {
        self.send(args)?;
        self.read_frame()
    }

    /// Sends one command without reading its reply (for pipelines and pub/sub).
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<()> {
        self.wbuf.clear();
        encode_command(&mut self.wbuf, args.iter());
        self.stream
            .write_all(&self.wbuf)
            .map_err(|e| Error::io(format!("writing to {}", self.addr), e))
    }

    /// Reads the next reply (error replies included, as `Frame::Error`).
    pub fn read_frame(&mut self) -> Result<Frame> {
        loop {
            match self.decoder.decode(&mut self.rbuf) {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => {
                    return Err(Error::Protocol {
                        addr: self.addr,
                        message: e.to_string(),
                    })
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self
                .stream
                .read(&mut chunk)
                .map_err(|e| Error::io(format!("reading from {}", self.addr), e))?;
            if n == 0 {
                return Err(Error::io(
                    format!("reading from {}", self.addr),
                    std::io::ErrorKind::UnexpectedEof.into(),
                ));
            }
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Closes both directions of the socket.
    pub fn shutdown(&self) {
        let _ = self.stream.tcp().shutdown(Shutdown::Both);
    }
}

/// Opens a connection (authenticating when `auth` is given), sends one command, returns the
/// reply.
pub fn query<A: AsRef<[u8]>>(addr: SocketAddr, auth: Option<&Auth>, args: &[A]) -> Result<Frame> {
    Conn::connect_auth(addr, auth)?.cmd(args)
}

/// The reply as text: bulk or simple string, integer, or nil; otherwise a protocol error.
pub(crate) fn text(addr: SocketAddr, frame: &Frame) -> Result<String> {
    match frame {
        Frame::Bulk(b) | Frame::Simple(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        Frame::Integer(n) => Ok(n.to_string()),
        other => Err(Error::Protocol {
            addr,
            message: format!("expected a string reply, got {other:?}"),
        }),
    }
}

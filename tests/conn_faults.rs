//! Faults: a stalled server (SIGSTOP) gives a timeout within the response timeout; a fake
//! server that sends garbage, hostile lengths or half a reply gives a protocol or closed
//! error and the connection is not used again; a closed port and a silent handshake fail
//! quickly. Async and blocking, single connections and shared clients. Nothing may panic
//! or hang: every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use slotline_conn::{blocking, cmd, Addr, ConnectionConfig, Error, ErrorKind as Kind, Frame};
use slotline_resp::{Decoder, ProtocolErrorKind};
use slotline_testbed::Standalone;

const SHORT: Duration = Duration::from_millis(300);
/// How long a failure that should come "at once" or "within the timeout" may take at most,
/// on a busy machine.
const PROMPT: Duration = Duration::from_secs(2);

fn config(addr: SocketAddr) -> ConnectionConfig {
    ConnectionConfig::new(Addr::tcp(addr.ip().to_string(), addr.port()))
}

/// Checks that `e` is a timeout of `after` that came after at least `after` and well
/// within [`PROMPT`].
#[track_caller]
fn assert_timeout(e: &Error, what: &str, after: Duration, started: Instant) {
    let took = started.elapsed();
    match e.timeout() {
        Some((a, w)) if e.kind() == Kind::Timeout && e.may_have_run() => {
            assert_eq!(a, after, "{e}");
            assert_eq!(w, what, "{e}");
        }
        _ => panic!("expected a {what} timeout, got {e:?}"),
    }
    assert!(
        e.may_have_run() && !e.is_retryable() && e.is_connection_lost(),
        "{e:?}"
    );
    assert!(took >= after, "gave up early: {took:?}");
    assert!(took < PROMPT, "took {took:?}");
}

#[track_caller]
fn assert_closed_unwritten<T: std::fmt::Debug>(r: slotline_conn::Result<T>) {
    match r {
        Err(e) if e.kind() == Kind::Closed && !e.may_have_run() => assert!(e.is_retryable()),
        other => panic!("expected Closed {{ written: false }}, got {other:?}"),
    }
}

// ---------------------------------------------------------------- stalled server (SIGSTOP)

on_both_runtimes! {
    async fn stalled_server_async() {
        use slotline_conn::{Commands, Query};
        let server = Standalone::builder().local().start().unwrap();
        let cfg = config(server.addr()).with_response_timeout(Some(SHORT));
        let con = slotline_conn::Connection::connect(cfg.clone())
            .await
            .unwrap();
        let client = slotline_conn::Client::connect(cfg.clone()).await.unwrap();
        assert_eq!(con.ping().await.unwrap(), "PONG");
        assert_eq!(client.ping().await.unwrap(), "PONG");

        server.stop().unwrap();
        let started = Instant::now();
        let e = con.ping().await.unwrap_err();
        assert_timeout(&e, "reply", SHORT, started);
        // The connection is out of step now: not used again.
        assert!(con.is_broken().await);
        assert_closed_unwritten(con.ping().await);

        // The shared client: one request, then many at once, all time out in time.
        let started = Instant::now();
        let e = client.ping().await.unwrap_err();
        assert_timeout(&e, "reply", SHORT, started);
        let started = Instant::now();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let c = client.clone();
                tokio::spawn(async move { c.incr(format!("n{i}")).await })
            })
            .collect();
        for t in tasks {
            let e = t.await.unwrap().unwrap_err();
            assert_timeout(&e, "reply", SHORT, started);
        }
        // A pipeline and a blocking pop time out too (the pop after its own wait).
        let started = Instant::now();
        let mut p = slotline_conn::pipe();
        p.incr("a").incr("b");
        let e = client.pipeline::<(i64, i64)>(&p).await.unwrap_err();
        assert_timeout(&e, "reply", SHORT, started);
        let started = Instant::now();
        let e = client
            .blpop::<Option<(String, String)>>("q", 0.2)
            .await
            .unwrap_err();
        assert_timeout(&e, "reply", SHORT + Duration::from_millis(200), started);

        // Connecting: the kernel accepts the TCP connection, nobody answers the handshake.
        let with_handshake = cfg
            .clone()
            .with_client_name("late")
            .with_connect_timeout(Some(SHORT));
        let started = Instant::now();
        let e = slotline_conn::Connection::connect(with_handshake.clone())
            .await
            .unwrap_err();
        assert_timeout(&e, "handshake", SHORT, started);
        let started = Instant::now();
        let e = slotline_conn::Client::connect(with_handshake.clone())
            .await
            .unwrap_err();
        assert_timeout(&e, "handshake", SHORT, started);

        server.cont().unwrap();
        // A new connection works at once; the shared client recovers by itself (the late
        // replies to the requests that timed out are dropped, not handed to new callers).
        let fresh = slotline_conn::Connection::connect(with_handshake)
            .await
            .unwrap();
        assert_eq!(fresh.ping().await.unwrap(), "PONG");
        assert_eq!(client.ping().await.unwrap(), "PONG");
        assert_eq!(client.incr("after").await.unwrap(), 1);
        let n: i64 = client.query(&cmd("INCR").arg("after")).await.unwrap();
        assert_eq!(n, 2);
        // The broken connection stays broken.
        assert_closed_unwritten(con.ping().await);
    }
}

#[test]
fn stalled_server_blocking() {
    use slotline_conn::blocking::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let cfg = config(server.addr()).with_response_timeout(Some(SHORT));
    let con = blocking::Connection::connect(cfg.clone()).unwrap();
    let client = blocking::Client::connect(cfg.clone()).unwrap();
    assert_eq!(con.ping().unwrap(), "PONG");
    assert_eq!(client.ping().unwrap(), "PONG");

    server.stop().unwrap();
    let started = Instant::now();
    let e = con.ping().unwrap_err();
    assert_timeout(&e, "reply", SHORT, started);
    assert!(con.is_broken());
    assert_closed_unwritten(con.ping());

    let started = Instant::now();
    let e = client.ping().unwrap_err();
    assert_timeout(&e, "reply", SHORT, started);
    // From many threads at once.
    let started = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let c = client.clone();
                s.spawn(move || c.incr(format!("n{i}")))
            })
            .collect();
        for h in handles {
            let e = h.join().unwrap().unwrap_err();
            assert_timeout(&e, "reply", SHORT, started);
        }
    });
    let started = Instant::now();
    let mut p = slotline_conn::pipe();
    p.incr("a").incr("b");
    let e = con_fresh_pipeline(&cfg, &p);
    assert_timeout(&e, "reply", SHORT, started);

    let with_handshake = cfg
        .clone()
        .with_password("pw-not-needed")
        .with_connect_timeout(Some(SHORT));
    let started = Instant::now();
    let e = blocking::Connection::connect(with_handshake.clone()).unwrap_err();
    assert_timeout(&e, "handshake", SHORT, started);
    let started = Instant::now();
    let e = blocking::Client::connect(with_handshake).unwrap_err();
    assert_timeout(&e, "handshake", SHORT, started);

    server.cont().unwrap();
    let fresh = blocking::Connection::connect(cfg.clone()).unwrap();
    assert_eq!(fresh.ping().unwrap(), "PONG");
    assert_eq!(client.ping().unwrap(), "PONG");
    assert_eq!(client.incr("after").unwrap(), 1);
    let n: i64 = client.query(&cmd("INCR").arg("after")).unwrap();
    assert_eq!(n, 2);
    assert_closed_unwritten(con.ping());
}

/// A pipeline on a new blocking connection to the stalled server (TCP connects; no
/// handshake is configured, so connecting needs no answer).
fn con_fresh_pipeline(cfg: &ConnectionConfig, p: &slotline_conn::Pipeline) -> Error {
    use slotline_conn::blocking::Query;
    let con = blocking::Connection::connect(cfg.clone()).unwrap();
    let e = con.pipeline::<(i64, i64)>(p).unwrap_err();
    assert_closed_unwritten(con.pipeline::<(i64, i64)>(p));
    e
}

// ---------------------------------------------------------------- fake server

/// One step of a fake server's script for one connection.
#[derive(Debug, Clone)]
enum Step {
    /// Read one whole command (RESP array) and record it.
    Read,
    /// Write these bytes.
    Send(Vec<u8>),
    /// Keep the connection open, recording whatever commands arrive, until the client
    /// closes it (or the test ends).
    Hang,
    /// Write these bytes one at a time, this long apart (a slow, not a stalled, server).
    Trickle(Vec<u8>, Duration),
}
use Step::{Hang, Read, Send, Trickle};

/// A tiny server on 127.0.0.1 that plays one script per accepted connection, in order, and
/// closes each connection at the end of its script.
struct FakeServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<String>>>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    fn start(scripts: Vec<Vec<Step>>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, done) = mpsc::channel();
        let thread = {
            let stop = stop.clone();
            let received = received.clone();
            std::thread::spawn(move || {
                for script in scripts {
                    let Some(stream) = accept(&listener, &stop) else {
                        return;
                    };
                    play(stream, &script, &stop, &received);
                }
                let _ = done_tx.send(());
            })
        };
        FakeServer {
            addr,
            stop,
            received,
            done,
            thread: Some(thread),
        }
    }

    fn config(&self) -> ConnectionConfig {
        config(self.addr).with_response_timeout(Some(PROMPT))
    }

    /// Waits (bounded) until every script has played to its end; the commands received.
    /// It does not block the runtime: on a current-thread runtime, the driver of a client
    /// just dropped still has to run to close its connection.
    async fn finished(&mut self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let finished = loop {
            match self.done.try_recv() {
                Ok(_) => break true,
                Err(mpsc::TryRecvError::Empty) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(2)).await
                }
                Err(_) => break false,
            }
        };
        self.shut();
        assert!(finished, "the fake server's scripts did not all run");
        self.received.lock().unwrap().clone()
    }

    fn shut(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("fake server thread panicked");
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept(listener: &TcpListener, stop: &AtomicBool) -> Option<TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
                return Some(s);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => return None,
        }
    }
}

/// Reads one command; false at EOF, on an error, or when told to stop.
fn read_command(
    s: &mut TcpStream,
    buf: &mut BytesMut,
    dec: &mut Decoder,
    stop: &AtomicBool,
    received: &Mutex<Vec<String>>,
) -> bool {
    loop {
        match dec.decode(buf) {
            Ok(Some(Frame::Array(args))) => {
                let words: Vec<String> = args
                    .iter()
                    .map(|a| String::from_utf8_lossy(a.as_bytes().unwrap_or(b"?")).into_owned())
                    .collect();
                received.lock().unwrap().push(words.join(" "));
                return true;
            }
            Ok(Some(other)) => panic!("the client sent {other:?}"),
            Ok(None) => {}
            Err(e) => panic!("the client sent bad RESP: {e}"),
        }
        let mut chunk = [0u8; 64 * 1024];
        match s.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if stop.load(Ordering::SeqCst) {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
}

fn play(mut s: TcpStream, script: &[Step], stop: &AtomicBool, received: &Mutex<Vec<String>>) {
    let mut buf = BytesMut::new();
    let mut dec = Decoder::default();
    for step in script {
        match step {
            Read => {
                if !read_command(&mut s, &mut buf, &mut dec, stop, received) {
                    return;
                }
            }
            Send(bytes) => {
                // The client may hang up first (it refused what it read): fine.
                if s.write_all(bytes).is_err() {
                    return;
                }
            }
            Hang => while read_command(&mut s, &mut buf, &mut dec, stop, received) {},
            Trickle(bytes, every) => {
                for b in bytes {
                    std::thread::sleep(*every);
                    if stop.load(Ordering::SeqCst) || s.write_all(&[*b]).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Replies a broken or hostile server might send, with the protocol error each must give.
/// `(name, bytes, whether a protocol error kind is the expected one)`.
type Hostile = (&'static str, Vec<u8>, fn(&ProtocolErrorKind) -> bool);

fn hostile_replies() -> Vec<Hostile> {
    let deep = b"*1\r\n".repeat(200);
    let mut long_line = b"+".to_vec();
    long_line.extend(std::iter::repeat_n(b'a', 2 << 20));
    vec![
        ("garbage", b"?garbage\r\n".to_vec(), |k| {
            matches!(k, ProtocolErrorKind::UnknownType(b'?'))
        }),
        // RESP3's blob error with no length.
        (
            "blob error without a length",
            b"!garbage\r\n".to_vec(),
            |k| matches!(k, ProtocolErrorKind::InvalidInteger),
        ),
        ("plain text", b"hello world\r\n".to_vec(), |k| {
            matches!(k, ProtocolErrorKind::UnknownType(b'h'))
        }),
        (
            "huge bulk length",
            b"$9223372036854775807\r\n".to_vec(),
            |k| matches!(k, ProtocolErrorKind::BulkTooLong { .. }),
        ),
        (
            "bulk length over i64",
            b"$99999999999999999999\r\n".to_vec(),
            |k| matches!(k, ProtocolErrorKind::IntegerOverflow),
        ),
        (
            "huge array length",
            b"*9223372036854775807\r\n".to_vec(),
            |k| matches!(k, ProtocolErrorKind::ArrayTooLong { .. }),
        ),
        ("negative length", b"$-5\r\n".to_vec(), |k| {
            matches!(k, ProtocolErrorKind::NegativeLength(-5))
        }),
        ("bad integer", b":12a\r\n".to_vec(), |k| {
            matches!(k, ProtocolErrorKind::InvalidInteger)
        }),
        ("bulk without CRLF", b"$3\r\nfooXX".to_vec(), |k| {
            matches!(k, ProtocolErrorKind::ExpectedCrlf)
        }),
        ("nested 200 deep", deep, |k| {
            matches!(k, ProtocolErrorKind::TooDeep { .. })
        }),
        ("2 MiB status line", long_line, |k| {
            matches!(k, ProtocolErrorKind::LineTooLong { .. })
        }),
    ]
}

#[path = "conn_faults/connecting.rs"]
mod connecting;
#[path = "conn_faults/replies.rs"]
mod replies;

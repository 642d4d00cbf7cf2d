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
use slotline_conn::{blocking, cmd, Addr, ConnectionConfig, Error, Frame};
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
    match e {
        Error::Timeout {
            after: a,
            what: w,
            written: true,
        } => {
            assert_eq!(*a, after, "{e}");
            assert_eq!(*w, what, "{e}");
        }
        other => panic!("expected a {what} timeout, got {other:?}"),
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
        Err(e @ Error::Closed { written: false }) => assert!(e.is_retryable()),
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
        ("garbage", b"!garbage\r\n".to_vec(), |k| {
            matches!(k, ProtocolErrorKind::UnknownType(b'!'))
        }),
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

on_both_runtimes! {
    /// Each hostile reply, on async and blocking connections: a protocol error, the
    /// connection is not used again (no second command reaches the server), nothing panics.
    async fn hostile_replies_close_the_connection() {
        use slotline_conn::{Commands, Query};
        for (name, bytes, is_kind) in hostile_replies() {
            for flavour in ["async", "blocking"] {
                let mut fake = FakeServer::start(vec![vec![Read, Send(bytes.clone()), Hang]]);
                let started = Instant::now();
                let (first, second) = if flavour == "async" {
                    let con = slotline_conn::Connection::connect(fake.config())
                        .await
                        .unwrap();
                    let first = con.get::<Option<String>>("k").await;
                    let second = con.query::<String>(&cmd("PING")).await;
                    assert!(con.is_broken().await);
                    (first, second)
                } else {
                    let cfg = fake.config();
                    std::thread::spawn(move || {
                        use slotline_conn::blocking::{Commands as _, Query as _};
                        let con = blocking::Connection::connect(cfg).unwrap();
                        let first = con.get::<Option<String>>("k");
                        let second = con.query::<String>(&cmd("PING"));
                        assert!(con.is_broken());
                        (first, second)
                    })
                    .join()
                    .unwrap()
                };
                match &first {
                    Err(e @ Error::Protocol(p)) => {
                        assert!(is_kind(&p.kind), "{name} ({flavour}): {p}");
                        assert!(e.may_have_run() && e.is_connection_lost());
                        assert!(e.to_string().contains("protocol error"), "{e}");
                    }
                    other => panic!("{name} ({flavour}): expected a protocol error, got {other:?}"),
                }
                assert_closed_unwritten(second);
                assert!(started.elapsed() < PROMPT, "{name} ({flavour}): slow");
                // The connection was dropped above: the fake server saw one command, then EOF.
                assert_eq!(fake.finished().await, ["GET k"], "{name} ({flavour})");
            }
        }
    }
}

on_both_runtimes! {
    /// Limits from the config apply: a bulk longer than a lowered `max_bulk_len` is refused
    /// from its header, before its payload arrives.
    async fn configured_limits_apply() {
        use slotline_conn::Commands;
        let mut fake = FakeServer::start(vec![vec![Read, Send(b"$2048\r\n".to_vec()), Hang]]);
        let mut cfg = fake.config();
        cfg.limits.max_bulk_len = 1024;
        let con = slotline_conn::Connection::connect(cfg).await.unwrap();
        match con.get::<Option<String>>("k").await {
            Err(Error::Protocol(p)) => assert!(
                matches!(
                    p.kind,
                    ProtocolErrorKind::BulkTooLong {
                        len: 2048,
                        max: 1024
                    }
                ),
                "{p}"
            ),
            other => panic!("{other:?}"),
        }
        drop(con);
        assert_eq!(fake.finished().await, ["GET k"]);
    }
}

on_both_runtimes! {
    /// A reply cut in half, then the connection closed: `Closed` (the command was sent and may
    /// have run); later requests fail at once without being written.
    async fn reply_cut_in_half() {
        use slotline_conn::Commands;
        let cuts: [&[u8]; 3] = [b"$10\r\nhello", b"*3\r\n:1\r\n:2\r\n", b"+OK"];
        for cut in cuts {
            let mut fake = FakeServer::start(vec![
                vec![Read, Send(cut.to_vec())],
                vec![Read, Send(cut.to_vec())],
            ]);
            let cfg = fake.config();
            let started = Instant::now();
            let con = slotline_conn::Connection::connect(cfg.clone())
                .await
                .unwrap();
            match con.get::<Option<String>>("k").await {
                Err(e @ Error::Closed { written: true }) => assert!(e.may_have_run()),
                other => panic!("{cut:?}: expected Closed {{ written: true }}, got {other:?}"),
            }
            assert_closed_unwritten(con.ping().await);
            let (first, second) = std::thread::spawn(move || {
                use slotline_conn::blocking::Commands as _;
                let con = blocking::Connection::connect(cfg).unwrap();
                (con.get::<Option<String>>("k"), con.ping())
            })
            .join()
            .unwrap();
            assert!(
                matches!(first, Err(Error::Closed { written: true })),
                "{cut:?}: {first:?}"
            );
            assert_closed_unwritten(second);
            assert!(started.elapsed() < PROMPT);
            assert_eq!(fake.finished().await, ["GET k", "GET k"]);
        }
    }
}

on_both_runtimes! {
    /// Half a reply and then silence: the response timeout, not a hang.
    async fn reply_cut_then_silence() {
        use slotline_conn::Commands;
        let mut fake = FakeServer::start(vec![
            vec![Read, Send(b"$10\r\nhel".to_vec()), Hang],
            vec![Read, Send(b"$10\r\nhel".to_vec()), Hang],
        ]);
        let cfg = fake.config().with_response_timeout(Some(SHORT));
        let con = slotline_conn::Connection::connect(cfg.clone())
            .await
            .unwrap();
        let started = Instant::now();
        let e = con.get::<Option<String>>("k").await.unwrap_err();
        assert_timeout(&e, "reply", SHORT, started);
        assert_closed_unwritten(con.ping().await);
        drop(con);
        let e = std::thread::spawn(move || {
            use slotline_conn::blocking::Commands as _;
            let con = blocking::Connection::connect(cfg).unwrap();
            let started = Instant::now();
            let e = con.get::<Option<String>>("k").unwrap_err();
            assert_timeout(&e, "reply", SHORT, started);
            assert_closed_unwritten(con.ping());
            e
        })
        .join()
        .unwrap();
        assert!(matches!(e, Error::Timeout { .. }));
        assert_eq!(fake.finished().await, ["GET k", "GET k"]);
    }
}

on_both_runtimes! {
    /// The shared clients, async and blocking: a bad reply fails the request that was in
    /// flight (not resent: it may have run), the client drops that connection and opens a new
    /// one for the next request.
    async fn shared_client_replaces_a_broken_connection() {
        use slotline_conn::{Commands, Query};
        let bad_replies: [&[u8]; 3] = [
            b"!garbage\r\n",
            b"$9223372036854775807\r\n",
            b"$10\r\nhello",
        ];
        for bad in bad_replies {
            let scripts = vec![
                vec![Read, Send(bad.to_vec())],
                vec![Read, Send(b"+PONG\r\n".to_vec()), Hang],
            ];
            // async
            let mut fake = FakeServer::start(scripts.clone());
            let client = slotline_conn::Client::connect(fake.config()).await.unwrap();
            let e = client.incr("n").await.unwrap_err();
            assert!(e.may_have_run() && e.is_connection_lost(), "{bad:?}: {e:?}");
            assert!(
                matches!(e, Error::Protocol(_) | Error::Closed { written: true }),
                "{bad:?}: {e:?}"
            );
            let started = Instant::now();
            assert_eq!(client.ping().await.unwrap(), "PONG");
            assert!(started.elapsed() < PROMPT);
            drop(client);
            assert_eq!(
                fake.finished().await,
                ["INCR n", "PING"],
                "{bad:?}: INCR not resent"
            );
            // blocking
            let mut fake = FakeServer::start(scripts);
            let cfg = fake.config();
            std::thread::spawn(move || {
                use slotline_conn::blocking::Commands as _;
                let client = blocking::Client::connect(cfg).unwrap();
                let e = client.incr("n").unwrap_err();
                assert!(e.may_have_run() && e.is_connection_lost(), "{e:?}");
                assert_eq!(client.ping().unwrap(), "PONG");
            })
            .join()
            .unwrap();
            assert_eq!(fake.finished().await, ["INCR n", "PING"]);
        }
        // A command marked idempotent is resent on the new connection, transparently.
        let mut fake = FakeServer::start(vec![
            vec![Read, Send(b"$10\r\nhello".to_vec())],
            vec![Read, Send(b"+PONG\r\n".to_vec()), Hang],
        ]);
        let client = slotline_conn::Client::connect(fake.config()).await.unwrap();
        let pong: String = client.query(&cmd("PING").idempotent()).await.unwrap();
        assert_eq!(pong, "PONG");
        drop(client);
        assert_eq!(fake.finished().await, ["PING", "PING"]);
    }
}

on_both_runtimes! {
    /// A server that answers more than it was asked (a broken proxy, say): the extra reply
    /// must not be handed to the next caller as its answer. The request that got its own reply
    /// keeps it; the connection is not used again.
    async fn unsolicited_replies_are_not_handed_to_the_next_caller() {
        use slotline_conn::{Commands, Query};
        let extra = b"$2\r\nok\r\n+EXTRA\r\n".to_vec();
        // Single connections, async and blocking.
        let mut fake = FakeServer::start(vec![
            vec![
                Read,
                Send(extra.clone()),
                Read,
                Send(b"+PONG\r\n".to_vec()),
                Hang,
            ],
            vec![
                Read,
                Send(extra.clone()),
                Read,
                Send(b"+PONG\r\n".to_vec()),
                Hang,
            ],
        ]);
        let con = slotline_conn::Connection::connect(fake.config())
            .await
            .unwrap();
        assert_eq!(con.get::<String>("k").await.unwrap(), "ok");
        let second = con.query::<String>(&cmd("PING")).await;
        assert!(second.is_err(), "the next caller got {second:?}");
        assert_closed_unwritten(second);
        drop(con);
        let cfg = fake.config();
        std::thread::spawn(move || {
            use slotline_conn::blocking::{Commands as _, Query as _};
            let con = blocking::Connection::connect(cfg).unwrap();
            assert_eq!(con.get::<String>("k").unwrap(), "ok");
            let second = con.query::<String>(&cmd("PING"));
            assert!(second.is_err(), "the next caller got {second:?}");
            assert_closed_unwritten(second);
        })
        .join()
        .unwrap();
        assert_eq!(fake.finished().await, ["GET k", "GET k"]);

        // The shared client: the first caller keeps its reply, the next one gets a new
        // connection, whether the reply is followed by an unasked one or by a malformed one.
        // The connection is given up before the first caller is woken, so its next request is
        // never written on the dying connection (and failed with it); repeated, because that
        // was a race between the caller and the reader task.
        let malformed = b"$2\r\nok\r\n?bad\r\n".to_vec();
        for round in 0..20 {
            for tail in [&extra, &malformed] {
                let mut fake = FakeServer::start(vec![
                    vec![Read, Send(tail.clone()), Hang],
                    vec![Read, Send(b"+PONG\r\n".to_vec()), Hang],
                ]);
                let client = slotline_conn::Client::connect(fake.config()).await.unwrap();
                assert_eq!(client.get::<String>("k").await.unwrap(), "ok");
                let pong = client
                    .ping()
                    .await
                    .unwrap_or_else(|e| panic!("round {round}: {e}"));
                assert_eq!(pong, "PONG", "round {round}");
                drop(client);
                assert_eq!(fake.finished().await, ["GET k", "PING"]);
            }
        }
    }
}

on_both_runtimes! {
    /// A server that answers, but too slowly: the response timeout bounds the whole wait for
    /// the reply, not each read (async and blocking alike).
    async fn slow_reply_hits_the_response_timeout() {
        use slotline_conn::Commands;
        let slow = || {
            Trickle(
                b"$10\r\n0123456789\r\n".to_vec(),
                Duration::from_millis(100),
            )
        };
        let mut fake = FakeServer::start(vec![vec![Read, slow()], vec![Read, slow()]]);
        let cfg = fake.config().with_response_timeout(Some(SHORT));
        let con = slotline_conn::Connection::connect(cfg.clone())
            .await
            .unwrap();
        let started = Instant::now();
        let e = con.get::<Option<String>>("k").await.unwrap_err();
        assert_timeout(&e, "reply", SHORT, started);
        drop(con);
        std::thread::spawn(move || {
            use slotline_conn::blocking::Commands as _;
            let con = blocking::Connection::connect(cfg).unwrap();
            let started = Instant::now();
            let e = con.get::<Option<String>>("k").unwrap_err();
            assert_timeout(&e, "reply", SHORT, started);
        })
        .join()
        .unwrap();
        assert_eq!(fake.finished().await, ["GET k", "GET k"]);
    }
}

on_both_runtimes! {
    /// A request given up midway (its future dropped): a single connection is not used again;
    /// on the shared client, the abandoned reply is not handed to the next caller.
    async fn cancelled_requests() {
        use slotline_conn::Commands;
        let server = Standalone::builder().local().start().unwrap();
        let con = slotline_conn::Connection::connect(config(server.addr()))
            .await
            .unwrap();
        let gave_up = tokio::time::timeout(
            Duration::from_millis(50),
            con.blpop::<Option<(String, String)>>("q", 5.0),
        )
        .await;
        assert!(gave_up.is_err());
        assert!(con.is_broken().await);
        assert_closed_unwritten(con.ping().await);

        let client = slotline_conn::Client::connect(config(server.addr()))
            .await
            .unwrap();
        let gave_up = tokio::time::timeout(
            Duration::from_millis(50),
            client.blpop::<Option<(String, String)>>("q2", 0.5),
        )
        .await;
        assert!(gave_up.is_err());
        // This goes out behind the abandoned BLPOP and gets its own reply once it returns.
        let started = Instant::now();
        assert_eq!(client.incr("n").await.unwrap(), 1);
        assert!(started.elapsed() < PROMPT);
        assert_eq!(client.ping().await.unwrap(), "PONG");
    }
}

on_both_runtimes! {
    /// The server is killed and restarted: the shared clients reconnect by themselves and set
    /// the new connection up (password, db, name) as before; meanwhile requests fail or wait,
    /// never hang.
    async fn server_restart() {
        use slotline_conn::{Commands, Query};
        let server = Standalone::builder()
            .local()
            .requirepass("pw")
            .start()
            .unwrap();
        let url = format!(
            "{}/2?client_name=survivor&response_timeout=300ms",
            server.url()
        );
        let client = slotline_conn::Client::connect(url.as_str()).await.unwrap();
        let fail_fast = slotline_conn::Client::connect_with(
            url.as_str(),
            slotline_conn::ClientOptions::default().fail_fast(),
        )
        .await
        .unwrap();
        client.set("k", "v").await.unwrap();
        fail_fast.ping().await.unwrap();

        server.kill().unwrap();
        // Requests while the server is down: an error, promptly.
        for c in [&client, &fail_fast] {
            let started = Instant::now();
            let e = c.ping().await.unwrap_err();
            assert!(e.is_connection_lost(), "{e:?}");
            assert!(started.elapsed() < PROMPT);
        }
        server.restart().unwrap();
        for c in [&client, &fail_fast] {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match c.query::<String>(&cmd("CLIENT").arg("INFO")).await {
                    Ok(info) => {
                        assert!(
                            info.contains(" db=2 ") && info.contains(" name=survivor "),
                            "{info}"
                        );
                        break;
                    }
                    Err(e) => assert!(e.is_connection_lost(), "{e:?}"),
                }
                assert!(Instant::now() < deadline, "no reconnect");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // Persistence is off: the data is gone, the client works.
            assert_eq!(c.get::<Option<String>>("k").await.unwrap(), None);
        }
        let url2 = url.clone();
        let blocking_client =
            std::thread::spawn(move || blocking::Client::connect(url2.as_str()).unwrap())
                .join()
                .unwrap();
        server.restart().unwrap();
        std::thread::spawn(move || {
            use slotline_conn::blocking::Query as _;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match blocking_client.query::<String>(&cmd("CLIENT").arg("INFO")) {
                    Ok(info) => {
                        assert!(info.contains(" db=2 "), "{info}");
                        break;
                    }
                    Err(e) => assert!(e.is_connection_lost(), "{e:?}"),
                }
                assert!(Instant::now() < deadline, "no reconnect");
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .join()
        .unwrap();
    }
}

// ---------------------------------------------------------------- connecting

/// A port with nothing listening.
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(
    r: slotline_conn::Result<T>,
    addr: SocketAddr,
    started: Instant,
) {
    match r {
        Err(e @ Error::Io { written: false, .. }) => {
            let Error::Io { source, .. } = &e else {
                unreachable!()
            };
            assert_eq!(source.kind(), ErrorKind::ConnectionRefused, "{e}");
            assert!(
                e.to_string().contains(&addr.to_string()),
                "names the address: {e}"
            );
            assert!(e.is_retryable() && !e.may_have_run());
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(started.elapsed() < PROMPT, "slow: {:?}", started.elapsed());
}

on_both_runtimes! {
    async fn connect_to_a_closed_port() {
        let addr = closed_port();
        let cfg = config(addr);
        let started = Instant::now();
        assert_refused(
            slotline_conn::Connection::connect(cfg.clone()).await,
            addr,
            started,
        );
        let started = Instant::now();
        assert_refused(
            slotline_conn::Client::connect(cfg.clone()).await,
            addr,
            started,
        );
        std::thread::spawn(move || {
            let started = Instant::now();
            assert_refused(blocking::Connection::connect(cfg.clone()), addr, started);
            let started = Instant::now();
            assert_refused(blocking::Client::connect(cfg), addr, started);
        })
        .join()
        .unwrap();
    }
}

on_both_runtimes! {
    /// A server that accepts and never answers: with a handshake to do (a password), connecting
    /// gives up after the connect timeout; without one, the first command gets the response
    /// timeout.
    async fn silent_server() {
        use slotline_conn::Commands;
        let mut fake = FakeServer::start(vec![
            vec![Hang],
            vec![Hang],
            vec![Hang],
            vec![Hang],
            vec![Hang],
        ]);
        let cfg = fake
            .config()
            .with_password("pw")
            .with_connect_timeout(Some(SHORT))
            .with_response_timeout(Some(Duration::from_secs(30)));
        let started = Instant::now();
        let e = slotline_conn::Connection::connect(cfg.clone())
            .await
            .unwrap_err();
        assert_timeout(&e, "handshake", SHORT, started);
        let started = Instant::now();
        let e = slotline_conn::Client::connect(cfg.clone())
            .await
            .unwrap_err();
        assert_timeout(&e, "handshake", SHORT, started);
        let plain = fake.config().with_response_timeout(Some(SHORT));
        let con = slotline_conn::Connection::connect(plain.clone())
            .await
            .unwrap();
        let started = Instant::now();
        let e = con.ping().await.unwrap_err();
        assert_timeout(&e, "reply", SHORT, started);
        drop(con);
        std::thread::spawn(move || {
            let started = Instant::now();
            let e = blocking::Connection::connect(cfg.clone()).unwrap_err();
            assert_timeout(&e, "handshake", SHORT, started);
            let started = Instant::now();
            let e = blocking::Client::connect(cfg).unwrap_err();
            assert_timeout(&e, "handshake", SHORT, started);
        })
        .join()
        .unwrap();
        assert_eq!(
            fake.finished().await,
            ["AUTH pw", "AUTH pw", "PING", "AUTH pw", "AUTH pw"]
        );
    }
}

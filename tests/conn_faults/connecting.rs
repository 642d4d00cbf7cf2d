//! Connecting to closed ports and silent servers.

use super::*;

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
        Err(e) if e.kind() == Kind::Io && !e.may_have_run() => {
            let source = e.io_error().expect("an I/O error");
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

on_both_runtimes! {
    /// `protocol=3` against a server older than Redis 6.0, which does not know `HELLO`:
    /// a clear error that names the server's version (asked with `INFO server` once the
    /// handshake is refused), async and blocking alike.
    async fn a_server_without_hello_is_named_with_its_version() {
        let text = "# Server\r\nredis_version:5.0.7\r\nos:Linux\r\n";
        let info = format!("${}\r\n{text}\r\n", text.len()).into_bytes();
        let script = vec![
            Read,
            Send(b"-ERR unknown command 'HELLO', with args beginning with: '3' \r\n".to_vec()),
            Read,
            Send(info),
            Hang,
        ];
        let mut fake = FakeServer::start(vec![script.clone(), script]);
        let config = fake.config().with_protocol(slotline_conn::Protocol::Resp3);
        let asynchronous = slotline_conn::Connection::connect(config.clone())
            .await
            .unwrap_err();
        let blocking = std::thread::spawn(move || blocking::Connection::connect(config))
            .join()
            .unwrap()
            .unwrap_err();
        for e in [asynchronous, blocking] {
            assert_eq!(e.kind(), Kind::Config, "{e}");
            let text = e.to_string();
            assert!(text.contains("Redis 5.0.7"), "{text}");
            assert!(text.contains("protocol=2") && text.contains("HELLO"), "{text}");
        }
        assert_eq!(fake.finished().await, ["HELLO 3", "INFO server", "HELLO 3", "INFO server"]);
    }
}

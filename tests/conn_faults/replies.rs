//! Hostile, broken, unasked and slow replies, and cancelled requests, against a fake server.

use super::*;

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
                    Err(e) if e.protocol_error().is_some() => {
                        let p = e.protocol_error().expect("a protocol error");
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
            Err(e) if e.protocol_error().is_some() => assert!(
                matches!(
                    e.protocol_error().expect("a protocol error").kind,
                    ProtocolErrorKind::BulkTooLong {
                        len: 2048,
                        max: 1024
                    }
                ),
                "{e}"
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
                Err(e) if e.kind() == Kind::Closed => assert!(e.may_have_run()),
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
                matches!(first, Err(ref e) if e.kind() == Kind::Closed && e.may_have_run()),
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
        assert!(e.kind() == Kind::Timeout);
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
            // The new connection answers the client's own PING first (it checks a
            // connection it made again before using it), then the caller's.
            let scripts = vec![
                vec![Read, Send(bad.to_vec())],
                vec![Read, Send(b"+PONG\r\n".to_vec()), Read, Send(b"+PONG\r\n".to_vec()), Hang],
            ];
            // async
            let mut fake = FakeServer::start(scripts.clone());
            let client = slotline_conn::Client::connect(fake.config()).await.unwrap();
            let e = client.incr("n").await.unwrap_err();
            assert!(e.may_have_run() && e.is_connection_lost(), "{bad:?}: {e:?}");
            assert!(
                e.kind() == Kind::Protocol
                    || (e.kind() == Kind::Closed && e.may_have_run()),
                "{bad:?}: {e:?}"
            );
            let started = Instant::now();
            assert_eq!(client.ping().await.unwrap(), "PONG");
            assert!(started.elapsed() < PROMPT);
            drop(client);
            assert_eq!(
                fake.finished().await,
                ["INCR n", "PING", "PING"],
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
            assert_eq!(fake.finished().await, ["INCR n", "PING", "PING"]);
        }
        // A command marked idempotent is resent on the new connection, transparently.
        let mut fake = FakeServer::start(vec![
            vec![Read, Send(b"$10\r\nhello".to_vec())],
            vec![Read, Send(b"+PONG\r\n".to_vec()), Read, Send(b"+PONG\r\n".to_vec()), Hang],
        ]);
        let client = slotline_conn::Client::connect(fake.config()).await.unwrap();
        let pong: String = client.query(&cmd("PING").idempotent()).await.unwrap();
        assert_eq!(pong, "PONG");
        drop(client);
        assert_eq!(fake.finished().await, ["PING", "PING", "PING"]);
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
                    vec![Read, Send(b"+PONG\r\n".to_vec()), Read, Send(b"+PONG\r\n".to_vec()), Hang],
                ]);
                let client = slotline_conn::Client::connect(fake.config()).await.unwrap();
                assert_eq!(client.get::<String>("k").await.unwrap(), "ok");
                let pong = client
                    .ping()
                    .await
                    .unwrap_or_else(|e| panic!("round {round}: {e}"));
                assert_eq!(pong, "PONG", "round {round}");
                drop(client);
                assert_eq!(fake.finished().await, ["GET k", "PING", "PING"]);
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
    /// A request given up midway (its future dropped): a single connection is not used again
    /// (and is shut down, so the server drops the BLPOP); on the shared client, the next
    /// caller is answered at once (the BLPOP waited on a dedicated connection, now closed).
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
        support::wait_for("the server to drop the given-up BLPOP", || {
            support::info_int(&server, "clients", "blocked_clients") == 0
        })
        .await;

        let client = slotline_conn::Client::connect(config(server.addr()))
            .await
            .unwrap();
        let gave_up = tokio::time::timeout(
            Duration::from_millis(50),
            client.blpop::<Option<(String, String)>>("q2", 0.5),
        )
        .await;
        assert!(gave_up.is_err());
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
        let url = support::with_option(
            &support::with_db(&server.url(), 2),
            "client_name=survivor&response_timeout=300ms",
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

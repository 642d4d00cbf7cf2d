//! Authentication (password, ACL users, wrong and missing credentials), the rest of the
//! handshake (database, client name, also after a reconnect), transactions (results, a
//! `WATCH` conflict, `EXECABORT`) and scripts (the `NOSCRIPT` fallback), async and blocking,
//! against a real Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use slotline_conn::{
    blocking, cmd, pipe, Addr, ConnectionConfig, Error, Frame, Script, ServerErrorKind,
};
use slotline_testbed::Standalone;

/// A password with characters that need percent-encoding in a URL.
const PASSWORD: &str = "s3cr3t:p@ss/wörd %";

/// A node with `requirepass` and two ACL users: `app` (everything) and `reader` (`GET`,
/// `PING` and the handshake commands only).
fn secured() -> Standalone {
    Standalone::builder()
        .local()
        .requirepass(PASSWORD)
        .user("app", "app-pass", "~* &* +@all")
        .user("reader", "reader-pass", "~* +get +ping +client +select")
        .start()
        .unwrap()
}

fn config(server: &Standalone) -> ConnectionConfig {
    let addr = server.addr();
    ConnectionConfig::new(Addr::tcp(addr.ip().to_string(), addr.port()))
}

/// Runs blocking code on a plain thread (the blocking client refuses to run on a thread of
/// an async runtime).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("blocking part panicked"))
}

#[track_caller]
fn assert_kind<T: std::fmt::Debug>(result: slotline_conn::Result<T>, kind: ServerErrorKind) {
    match result {
        Err(Error::Server(e)) => assert_eq!(e.kind, kind, "{e}"),
        other => panic!("expected a {kind:?} server error, got {other:?}"),
    }
}

/// `(user, password, what AUTH must answer)`.
fn credential_cases(server: &Standalone) -> Vec<(ConnectionConfig, Option<ServerErrorKind>)> {
    let c = config(server);
    vec![
        (c.clone().with_password(PASSWORD), None),
        (c.clone().with_user("default", PASSWORD), None),
        (c.clone().with_user("app", "app-pass"), None),
        (c.clone().with_user("reader", "reader-pass"), None),
        (
            c.clone().with_password("wrong"),
            Some(ServerErrorKind::WrongPass),
        ),
        (
            c.clone().with_user("app", PASSWORD),
            Some(ServerErrorKind::WrongPass),
        ),
        (
            c.clone().with_user("nobody", "x"),
            Some(ServerErrorKind::WrongPass),
        ),
        // No password, but a handshake (name, db): refused with NOAUTH at connect time.
        (
            c.clone().with_client_name("anon"),
            Some(ServerErrorKind::NoAuth),
        ),
        (c.clone().with_db(2), Some(ServerErrorKind::NoAuth)),
        // A wrong password together with SELECT and SETNAME: the first error (WRONGPASS)
        // is reported, not the NOAUTH of the commands after it.
        (
            c.clone()
                .with_password("wrong")
                .with_db(2)
                .with_client_name("n"),
            Some(ServerErrorKind::WrongPass),
        ),
    ]
}

#[tokio::test]
async fn credentials_async() {
    use slotline_conn::{Commands, Query};
    let server = secured();
    for (cfg, want) in credential_cases(&server) {
        let started = Instant::now();
        let con = slotline_conn::Connection::connect(cfg.clone()).await;
        let client = slotline_conn::Client::connect(cfg.clone()).await;
        assert!(started.elapsed() < Duration::from_secs(2), "{cfg:?}: slow");
        match want {
            None => {
                let con = con.unwrap();
                assert_eq!(con.ping().await.unwrap(), "PONG");
                let who: String = con.query(&cmd("ACL").arg("WHOAMI")).await;
                let _ = who;
                let client = client.unwrap();
                assert_eq!(client.ping().await.unwrap(), "PONG");
            }
            Some(kind) => {
                assert_kind(con, kind.clone());
                assert_kind(client, kind);
            }
        }
    }
}

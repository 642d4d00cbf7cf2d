//! Authentication (password, ACL users, wrong and missing credentials), the rest of the
//! handshake (database, client name, also after a reconnect), transactions (results, a
//! `WATCH` conflict, `EXECABORT`) and scripts (the `NOSCRIPT` fallback), async and blocking,
//! against a real Redis. Every test starts a node of its own (`.local()`): they flush
//! scripts and reset statistics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use slotline_conn::{
    blocking, cmd, pipe, Addr, ConnectionConfig, ErrorKind, Frame, RefusedKind, Script,
    ServerErrorKind,
};
use slotline_testbed::{Conn, Standalone};
use support::{calls, on_plain_thread};

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

#[track_caller]
fn assert_kind<T: std::fmt::Debug>(result: slotline_conn::Result<T>, kind: &ServerErrorKind) {
    match result {
        Err(e) if e.kind() == ErrorKind::Server => assert_eq!(e.server_kind(), Some(kind), "{e}"),
        other => panic!("expected a {kind:?} server error, got {other:?}"),
    }
}

/// The `user=` field of `CLIENT INFO`.
fn user_of(client_info: &str) -> &str {
    client_info
        .split(' ')
        .find_map(|f| f.strip_prefix("user="))
        .unwrap_or("?")
}

// ---------------------------------------------------------------- authentication

/// Credentials and what must come of them: the user authenticated as, or the error kind.
fn credential_cases(
    server: &Standalone,
) -> Vec<(ConnectionConfig, Result<&'static str, ServerErrorKind>)> {
    let c = config(server);
    let url = |s: &str| {
        ConnectionConfig::from_url(&s.replace("ADDR", &server.addr().to_string())).unwrap()
    };
    vec![
        (c.clone().with_password(PASSWORD), Ok("default")),
        (c.clone().with_user("default", PASSWORD), Ok("default")),
        (c.clone().with_user("app", "app-pass"), Ok("app")),
        (c.clone().with_user("reader", "reader-pass"), Ok("reader")),
        // The testbed's URL percent-encodes the password; the client decodes it.
        (
            ConnectionConfig::from_url(&server.url()).unwrap(),
            Ok("default"),
        ),
        (
            url("redis://app:app-pass@ADDR/2?client_name=acl"),
            Ok("app"),
        ),
        (
            url("redis://ADDR?username=reader&password=reader-pass"),
            Ok("reader"),
        ),
        (
            c.clone().with_password("wrong"),
            Err(ServerErrorKind::WrongPass),
        ),
        (c.clone().with_password(""), Err(ServerErrorKind::WrongPass)),
        (
            c.clone().with_user("app", PASSWORD),
            Err(ServerErrorKind::WrongPass),
        ),
        (
            c.clone().with_user("nobody", "x"),
            Err(ServerErrorKind::WrongPass),
        ),
        (
            url("redis://app:wrong@ADDR"),
            Err(ServerErrorKind::WrongPass),
        ),
        // No password but something to set up (name, db): NOAUTH at connect time.
        (
            c.clone().with_client_name("anon"),
            Err(ServerErrorKind::NoAuth),
        ),
        (c.clone().with_db(2), Err(ServerErrorKind::NoAuth)),
        // A wrong password with SELECT and SETNAME behind it: the first error (WRONGPASS)
        // is the one reported, not the NOAUTH of the commands after it.
        (
            c.clone()
                .with_password("wrong")
                .with_db(2)
                .with_client_name("n"),
            Err(ServerErrorKind::WrongPass),
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
        match &want {
            Ok(user) => {
                let con = con.unwrap();
                let info: String = con.query(&cmd("CLIENT").arg("INFO")).await.unwrap();
                assert_eq!(user_of(&info), *user, "{info}");
                let client = client.unwrap();
                assert_eq!(client.ping().await.unwrap(), "PONG");
                let info: String = client.query(&cmd("CLIENT").arg("INFO")).await.unwrap();
                assert_eq!(user_of(&info), *user, "{info}");
            }
            Err(kind) => {
                assert_kind(con, kind);
                assert_kind(client, kind);
            }
        }
    }
}

#[test]
fn credentials_blocking() {
    use slotline_conn::blocking::{Commands, Query};
    let server = secured();
    for (cfg, want) in credential_cases(&server) {
        let started = Instant::now();
        let con = blocking::Connection::connect(cfg.clone());
        let client = blocking::Client::connect(cfg.clone());
        assert!(started.elapsed() < Duration::from_secs(2), "{cfg:?}: slow");
        match &want {
            Ok(user) => {
                let con = con.unwrap();
                let info: String = con.query(&cmd("CLIENT").arg("INFO")).unwrap();
                assert_eq!(user_of(&info), *user, "{info}");
                let client = client.unwrap();
                assert_eq!(client.ping().unwrap(), "PONG");
                let info: String = client.query(&cmd("CLIENT").arg("INFO")).unwrap();
                assert_eq!(user_of(&info), *user, "{info}");
            }
            Err(kind) => {
                assert_kind(con, kind);
                assert_kind(client, kind);
            }
        }
    }
}

/// Without credentials and nothing to set up, connecting succeeds (no round trip) and the
/// first command gets `NOAUTH`; an ACL user without the permission gets `NOPERM`.
#[tokio::test]
async fn missing_auth_and_acl_permissions() {
    use slotline_conn::Commands;
    let server = secured();
    let anon = slotline_conn::Connection::connect(config(&server))
        .await
        .unwrap();
    assert_kind(anon.ping().await, &ServerErrorKind::NoAuth);
    assert_kind(
        anon.get::<Option<String>>("k").await,
        &ServerErrorKind::NoAuth,
    );
    let anon = slotline_conn::Client::connect(config(&server))
        .await
        .unwrap();
    assert_kind(anon.ping().await, &ServerErrorKind::NoAuth);

    let reader = config(&server).with_user("reader", "reader-pass");
    let con = slotline_conn::Connection::connect(reader.clone())
        .await
        .unwrap();
    assert_kind(con.set("k", "v").await, &ServerErrorKind::NoPerm);
    assert_eq!(con.get::<Option<String>>("k").await.unwrap(), None);
    // The error left the connection in step.
    assert_eq!(con.ping().await.unwrap(), "PONG");
    let writer = slotline_conn::Connection::connect(config(&server).with_user("app", "app-pass"))
        .await
        .unwrap();
    writer.set("k", "v").await.unwrap();
    assert_eq!(con.get::<String>("k").await.unwrap(), "v");

    on_plain_thread(|| {
        use slotline_conn::blocking::Commands as _;
        let anon = blocking::Connection::connect(config(&server)).unwrap();
        assert_kind(anon.ping(), &ServerErrorKind::NoAuth);
        let anon = blocking::Client::connect(config(&server)).unwrap();
        assert_kind(anon.ping(), &ServerErrorKind::NoAuth);
        let con = blocking::Connection::connect(reader).unwrap();
        assert_kind(con.set("k", "w"), &ServerErrorKind::NoPerm);
        assert_eq!(con.get::<String>("k").unwrap(), "v");
    });
}

/// A password sent to a server that has none is refused as a wrong password (the server
/// says `ERR AUTH ... called without any password configured`), at connect time.
#[tokio::test]
async fn password_to_a_server_without_one() {
    let server = Standalone::builder().local().start().unwrap();
    let cfg = config(&server).with_password("not-configured");
    let e = slotline_conn::Connection::connect(cfg.clone())
        .await
        .unwrap_err();
    assert_kind(Err::<(), _>(e.clone()), &ServerErrorKind::WrongPass);
    assert!(
        e.to_string().contains("AUTH"),
        "the server's words are kept: {e}"
    );
    assert_kind(
        slotline_conn::Client::connect(cfg.clone()).await,
        &ServerErrorKind::WrongPass,
    );
    on_plain_thread(|| {
        assert_kind(
            blocking::Connection::connect(cfg.clone()),
            &ServerErrorKind::WrongPass,
        );
        assert_kind(blocking::Client::connect(cfg), &ServerErrorKind::WrongPass);
    });
}

// ---------------------------------------------------------------- db, client name

/// Password, `SELECT 3` and `CLIENT SETNAME` in one handshake, checked from the server's
/// side; the shared client does the same handshake again after its connection is killed.
#[tokio::test]
async fn db_and_name_from_url_also_after_reconnect() {
    use slotline_conn::{Commands, Query};
    let server = secured();
    let url = support::with_option(&support::with_db(&server.url(), 3), "client_name=x");
    let con = slotline_conn::Connection::connect(url.as_str())
        .await
        .unwrap();
    con.set("where", "db3").await.unwrap();
    let name: String = con.query(&cmd("CLIENT").arg("GETNAME")).await.unwrap();
    assert_eq!(name, "x");
    let mut raw = server.conn().unwrap();
    assert_eq!(
        raw.cmd(&["GET", "where"]).unwrap(),
        Frame::Null,
        "not in db 0"
    );
    raw.cmd(&["SELECT", "3"]).unwrap();
    assert_eq!(raw.cmd(&["GET", "where"]).unwrap(), Frame::bulk("db3"));

    let client = slotline_conn::Client::connect(url.as_str()).await.unwrap();
    let id_cmd = cmd("CLIENT").arg("ID").idempotent();
    let first_id: i64 = client.query(&id_cmd).await.unwrap();
    raw.cmd(&["CLIENT", "KILL", "ID", first_id.to_string().as_str()])
        .unwrap();
    // The client notices, reconnects (idempotent commands are resent) and sets the new
    // connection up the same way.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client.query::<i64>(&id_cmd).await {
            Ok(id) if id != first_id => break,
            Ok(_) => {}
            Err(e) => assert!(e.is_connection_lost(), "{e:?}"),
        }
        assert!(Instant::now() < deadline, "no reconnect");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let name: String = client.query(&cmd("CLIENT").arg("GETNAME")).await.unwrap();
    assert_eq!(name, "x");
    assert_eq!(client.get::<String>("where").await.unwrap(), "db3");

    on_plain_thread(|| {
        use slotline_conn::blocking::{Commands as _, Query as _};
        let con = blocking::Connection::connect(url.as_str()).unwrap();
        assert_eq!(con.get::<String>("where").unwrap(), "db3");
        let name: String = con.query(&cmd("CLIENT").arg("GETNAME")).unwrap();
        assert_eq!(name, "x");
        let client = blocking::Client::connect(url.as_str()).unwrap();
        assert_eq!(client.get::<String>("where").unwrap(), "db3");
    });
}

/// Settings the server refuses in the handshake fail the connect, with the server's reason.
#[tokio::test]
async fn refused_handshake_settings() {
    let server = Standalone::builder().local().start().unwrap();
    for (cfg, says) in [
        (config(&server).with_db(16), "out of range"),
        (
            config(&server).with_client_name("has space"),
            "cannot contain spaces",
        ),
    ] {
        let e = slotline_conn::Connection::connect(cfg.clone())
            .await
            .unwrap_err();
        assert!(
            e.server_error().is_some_and(|s| s.message().contains(says)),
            "{e}"
        );
        let e = slotline_conn::Client::connect(cfg.clone())
            .await
            .unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
        let e = on_plain_thread(|| blocking::Connection::connect(cfg).unwrap_err());
        assert!(e.to_string().contains(says), "{e}");
    }
}

// ---------------------------------------------------------------- transactions

/// Transactions on `$c` (a connection of its own: `WATCH` state is per socket);
/// `$other` changes watched keys from another connection.
macro_rules! transactions {
    ($c:ident, $other:ident; $($aw:tt)*) => {{
        $c.del(&["tx:a", "tx:b", "tx:s", "tx:w", "tx:l", "tx:side-effect", "tx:never"]) $($aw)* .unwrap();
        // Results of every command, in order (SET's OK ignored).
        let mut p = pipe();
        p.set("tx:a", 10).ignore().incr("tx:a").incr_by("tx:b", 5).get("tx:a").lpush("tx:l", "x");
        let got: Option<(i64, i64, String, i64)> = $c.transaction(&p) $($aw)* .unwrap();
        assert_eq!(got, Some((11, 5, "11".to_string(), 1)));
        // An atomic pipeline through `pipeline` gives the same (plain results).
        let mut p = pipe();
        p.atomic().incr("tx:a").incr("tx:a");
        let got: (i64, i64) = $c.pipeline(&p) $($aw)* .unwrap();
        assert_eq!(got, (12, 13));

        // WATCH without a conflict: EXEC runs.
        $c.set("tx:w", 1) $($aw)* .unwrap();
        $c.query::<()>(&cmd("WATCH").arg("tx:w")) $($aw)* .unwrap();
        let mut p = pipe();
        p.incr("tx:w");
        let got: Option<(i64,)> = $c.transaction(&p) $($aw)* .unwrap();
        assert_eq!(got, Some((2,)));
        // WATCH with a conflict from another connection: EXEC is aborted, `Ok(None)`,
        // nothing ran.
        $c.query::<()>(&cmd("WATCH").arg("tx:w")) $($aw)* .unwrap();
        let seen: i64 = $c.get("tx:w") $($aw)* .unwrap();
        $other.set("tx:w", seen + 100) $($aw)* .unwrap();
        let mut p = pipe();
        p.incr("tx:w").set("tx:side-effect", 1).ignore();
        let got: Option<(i64,)> = $c.transaction(&p) $($aw)* .unwrap();
        assert_eq!(got, None, "aborted by WATCH");
        assert_eq!($c.get::<i64>("tx:w") $($aw)* .unwrap(), 102);
        assert_eq!($c.exists("tx:side-effect") $($aw)* .unwrap(), 0);
        // Into Frame / Vec, an aborted transaction is None too, not an empty result.
        $c.query::<()>(&cmd("WATCH").arg("tx:w")) $($aw)* .unwrap();
        $other.incr("tx:w") $($aw)* .unwrap();
        assert_eq!($c.transaction::<Vec<Frame>>(&p) $($aw)* .unwrap(), None);
        // UNWATCH, or a finished EXEC, clears the watch: the next one runs.
        let got: Option<(i64,)> = $c.transaction(&p) $($aw)* .unwrap();
        assert_eq!(got, Some((104,)));

        // EXECABORT: a queued command is refused (wrong arity), so nothing runs; the error
        // has its own kind and names the refusal.
        let mut p = pipe();
        p.set("tx:never", 1).add(cmd("SET").arg("tx:only-key")).incr("tx:a");
        let e = $c.transaction::<Vec<Frame>>(&p) $($aw)* .unwrap_err();
        match e.server_error() {
            Some(s) => {
                assert_eq!(s.kind, ServerErrorKind::ExecAbort, "{e}");
                assert!(s.message().contains("wrong number of arguments"), "{e}");
            }
            None => panic!("expected EXECABORT, got {e:?}"),
        }
        assert!(!e.may_have_run() && !e.is_retryable());
        assert_eq!($c.exists("tx:never") $($aw)* .unwrap(), 0);
        assert_eq!($c.get::<i64>("tx:a") $($aw)* .unwrap(), 13, "nothing ran");
        let mut p = pipe();
        p.incr("tx:a").cmd("NOSUCHCOMMAND").arg(1);
        let e = $c.transaction::<(i64, i64)>(&p) $($aw)* .unwrap_err();
        assert_eq!(e.server_kind(), Some(&ServerErrorKind::ExecAbort), "{e}");
        assert!(e.to_string().contains("unknown command"), "{e}");
        assert_eq!($c.get::<i64>("tx:a") $($aw)* .unwrap(), 13, "nothing ran");

        // A command failing at run time does not abort the others: the transaction ran.
        $c.set("tx:s", "text") $($aw)* .unwrap();
        let mut p = pipe();
        p.incr("tx:a").incr("tx:s").incr("tx:a");
        let got: Vec<Frame> = $c.transaction(&p) $($aw)* .unwrap().unwrap();
        assert_eq!(got[0], Frame::Integer(14));
        assert!(got[1].is_error(), "{got:?}");
        assert_eq!(got[2], Frame::Integer(15));
        // Converting that into typed values reports the failing command's own error.
        let e = $c.transaction::<(i64, i64, i64)>(&p) $($aw)* .unwrap_err();
        assert_eq!(e.server_kind(), Some(&ServerErrorKind::Other("ERR".into())), "{e}");
        assert_eq!($c.get::<i64>("tx:a") $($aw)* .unwrap(), 17, "it ran");

        // The connection is in step after all that, and not inside a MULTI.
        assert_eq!($c.ping() $($aw)* .unwrap(), "PONG");
        assert_eq!($c.incr("tx:a") $($aw)* .unwrap(), 18);
    }};
}

#[tokio::test]
async fn transactions_async() {
    use slotline_conn::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let other = slotline_conn::Client::connect(config(&server))
        .await
        .unwrap();
    let con = slotline_conn::Connection::connect(config(&server))
        .await
        .unwrap();
    transactions!(con, other; .await);
    // A dedicated connection from a shared client, for the WATCH conversation.
    let con = other.dedicated().await.unwrap();
    transactions!(con, other; .await);
}

#[test]
fn transactions_blocking() {
    use slotline_conn::blocking::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let other = blocking::Client::connect(config(&server)).unwrap();
    let con = blocking::Connection::connect(config(&server)).unwrap();
    transactions!(con, other;);
    let con = other.dedicated().unwrap();
    transactions!(con, other;);
}

/// Transactions on the shared client, from many tasks at once: each `MULTI ... EXEC` goes
/// out whole, so no other task's command lands inside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_shared_client_stay_whole() {
    use slotline_conn::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let client = slotline_conn::Client::connect(config(&server))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for _ in 0..25 {
                if i % 2 == 0 {
                    let mut p = pipe();
                    p.incr("a").incr("b");
                    let (a, b): (i64, i64) = c.transaction(&p).await.unwrap().unwrap();
                    out.push((a, b));
                } else {
                    // Plain commands in between, from other tasks.
                    c.incr("c").await.unwrap();
                }
            }
            out
        }));
    }
    let mut pairs = Vec::new();
    for t in tasks {
        pairs.extend(t.await.unwrap());
    }
    assert_eq!(pairs.len(), 500);
    assert!(pairs.iter().all(|(a, b)| a == b), "a transaction was split");
    assert_eq!(client.get::<i64>("c").await.unwrap(), 500);
}

/// A shared client refuses, before sending, what would reach past its own replies into
/// other callers' requests: a `MULTI` or `EXEC` alone, a `WATCH` left set, `SELECT`,
/// `QUIT`, unsubscribes (a reply per channel), `CLIENT REPLY OFF`. A transaction within one
/// request goes; the socket stays in step throughout.
macro_rules! shared_refusals {
    ($c:ident, $server:expr; $($aw:tt)*) => {{
        let mut raw = $server.conn().unwrap();
        raw.cmd(&["CONFIG", "RESETSTAT"]).unwrap();
        let refused = [
            (cmd("MULTI"), "MULTI with no EXEC"),
            (cmd("EXEC"), "EXEC with no MULTI"),
            (cmd("WATCH").arg("tx:r"), "WATCH on a shared client"),
            (cmd("SELECT").arg(2), "SELECT on a shared client"),
            (cmd("QUIT"), "QUIT on a shared client"),
            (cmd("UNSUBSCRIBE").arg("a").arg("b"), "UNSUBSCRIBE answers once per channel"),
            (cmd("CLIENT").arg("REPLY").arg("OFF"), "CLIENT REPLY OFF and SKIP"),
        ];
        for (c, says) in &refused {
            match $c.query::<Frame>(c) $($aw)* {
                Err(e) if e.kind() == ErrorKind::Refused(RefusedKind::OwnConnection) => {
                    let message = e.message().unwrap_or_default();
                    assert!(message.starts_with(says), "{c:?}: {message}")
                }
                other => panic!("{c:?} was not refused: {other:?}"),
            }
        }
        let mut p = pipe();
        p.incr("tx:r").cmd("MULTI").incr("tx:r");
        assert!(matches!($c.pipeline::<Frame>(&p) $($aw)*, Err(ref e) if matches!(e.kind(), ErrorKind::Refused(_))));
        for name in ["multi", "exec", "watch", "select", "quit", "unsubscribe", "client|reply", "incr"] {
            assert_eq!(calls(&$server, name), 0, "{name} reached the server");
        }
        // A WATCH conversation closed within one pipeline is whole, so it goes.
        let mut p = pipe();
        p.cmd("WATCH").arg("tx:r").cmd("MULTI").incr("tx:r").cmd("EXEC");
        let replies: Vec<Frame> = $c.pipeline(&p) $($aw)* .unwrap();
        assert_eq!(replies.last(), Some(&Frame::Array(vec![Frame::Integer(1)])));
        assert_eq!(calls(&$server, "exec"), 1);
        assert_eq!($c.incr("tx:r") $($aw)* .unwrap(), 2, "in step, in database 0, not in a MULTI");
        assert_eq!($c.ping() $($aw)* .unwrap(), "PONG");
    }};
}

#[tokio::test]
async fn shared_client_refuses_what_reaches_other_callers_async() {
    use slotline_conn::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::Client::connect(config(&server))
        .await
        .unwrap();
    shared_refusals!(c, server; .await);
}

#[test]
fn shared_client_refuses_what_reaches_other_callers_blocking() {
    use slotline_conn::blocking::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = blocking::Client::connect(config(&server)).unwrap();
    shared_refusals!(c, server;);
}

// ---------------------------------------------------------------- scripts

fn script_exists(raw: &mut Conn, sha: &str) -> bool {
    match raw.cmd(&["SCRIPT", "EXISTS", sha]).unwrap() {
        Frame::Array(v) => v == [Frame::Integer(1)],
        other => panic!("{other:?}"),
    }
}

/// After `SCRIPT FLUSH`, `invoke_script` sends `EVALSHA`, gets `NOSCRIPT`, falls back to
/// `EVAL` (which loads the script), and from then on `EVALSHA` alone does.
macro_rules! scripts {
    ($c:ident, $server:expr; $($aw:tt)*) => {{
        let mut raw = $server.conn().unwrap();
        let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        raw.cmd(&["SCRIPT", "FLUSH"]).unwrap();
        raw.cmd(&["DEL", "counter"]).unwrap();
        raw.cmd(&["CONFIG", "RESETSTAT"]).unwrap();
        assert!(!script_exists(&mut raw, script.sha1()));
        // EVALSHA alone reports the NOSCRIPT kind.
        assert_kind($c.query::<i64>(&script.key("counter").arg(1).evalsha_cmd()) $($aw)*, &ServerErrorKind::NoScript);
        raw.cmd(&["CONFIG", "RESETSTAT"]).unwrap();

        let n: i64 = $c.invoke_script(&script.key("counter").arg(5)) $($aw)* .unwrap();
        assert_eq!(n, 5);
        assert!(script_exists(&mut raw, script.sha1()), "EVAL loaded it");
        assert_eq!(calls(&$server, "evalsha"), 1, "tried by SHA first");
        assert_eq!(calls(&$server, "eval"), 1, "then sent the source");

        let n: i64 = $c.invoke_script(&script.key("counter").arg(10)) $($aw)* .unwrap();
        assert_eq!(n, 15);
        let n: i64 = $c.invoke_script(&script.key("counter").arg(-15)) $($aw)* .unwrap();
        assert_eq!(n, 0);
        assert_eq!(calls(&$server, "evalsha"), 3, "by SHA from then on");
        assert_eq!(calls(&$server, "eval"), 1, "the source was not sent again");

        // Keys and arguments in order, binary ones too; a script without keys.
        let echo = Script::new("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}");
        let got: (Vec<u8>, String, Vec<u8>, i64, i64, i64) = $c
            .invoke_script(&echo.key(&[0u8, 255][..]).key("k2").arg(&b"\r\n"[..]).arg(7))
            $($aw)*
            .unwrap();
        assert_eq!(got, (vec![0, 255], "k2".to_string(), b"\r\n".to_vec(), 7, 2, 2));
        let no_keys = Script::new("return ARGV[1] .. '!'");
        let got: String = $c.invoke_script(&no_keys.arg("hi")) $($aw)* .unwrap();
        assert_eq!(got, "hi!");
        let bare = Script::new("return 42");
        assert_eq!($c.invoke_script::<i64>(&bare.prepare()) $($aw)* .unwrap(), 42);
        // Errors from the script itself are server errors, not a fallback loop.
        let failing = Script::new("return redis.error_reply('MYERR from script')");
        let e = $c.invoke_script::<()>(&failing.prepare()) $($aw)*;
        assert_kind(e, &ServerErrorKind::Other("MYERR".into()));
        let broken = Script::new("this is not lua");
        assert!(matches!($c.invoke_script::<()>(&broken.prepare()) $($aw)*, Err(ref e) if e.kind() == ErrorKind::Server));
        // The same after another flush.
        raw.cmd(&["SCRIPT", "FLUSH"]).unwrap();
        let n: i64 = $c.invoke_script(&script.key("counter").arg(1)) $($aw)* .unwrap();
        assert_eq!(n, 1);
        assert_eq!($c.ping() $($aw)* .unwrap(), "PONG");
    }};
}

#[tokio::test]
async fn scripts_async() {
    use slotline_conn::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::Connection::connect(config(&server))
        .await
        .unwrap();
    scripts!(c, server; .await);
    let c = slotline_conn::Client::connect(config(&server))
        .await
        .unwrap();
    scripts!(c, server; .await);
}

#[test]
fn scripts_blocking() {
    use slotline_conn::blocking::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = blocking::Connection::connect(config(&server)).unwrap();
    scripts!(c, server;);
    let c = blocking::Client::connect(config(&server)).unwrap();
    scripts!(c, server;);
}

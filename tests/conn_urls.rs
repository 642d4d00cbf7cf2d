//! URLs and configs of `slotline-conn`: a table of valid URLs and what they mean, a table
//! of invalid ones and what their errors say, `rediss://` refused clearly at connect time,
//! and real connections over TCP (db and client name from the URL) and a Unix socket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use slotline_conn::{blocking, Addr, Commands, ConnectionConfig, Durability, ErrorKind, Query};
use slotline_testbed::Standalone;
use support::on_plain_thread;

/// What a valid URL must turn into (`None` fields keep their defaults).
struct Want {
    addr: Addr,
    db: i64,
    user: Option<&'static str>,
    pass: Option<&'static str>,
    name: Option<&'static str>,
    connect_timeout: Option<Option<Duration>>,
    response_timeout: Option<Option<Duration>>,
    tcp_keepalive: Option<Option<Duration>>,
    tcp_user_timeout: Option<Option<Duration>>,
    tls: bool,
}

fn tcp(host: &str, port: u16) -> Want {
    Want {
        addr: Addr::tcp(host, port),
        db: 0,
        user: None,
        pass: None,
        name: None,
        connect_timeout: None,
        response_timeout: None,
        tcp_keepalive: None,
        tcp_user_timeout: None,
        tls: false,
    }
}

fn unix(path: &str) -> Want {
    Want {
        addr: Addr::Unix(PathBuf::from(path)),
        ..tcp("-", 1)
    }
}

#[test]
fn valid_urls() {
    let defaults = ConnectionConfig::new(Addr::tcp("h", 1));
    let ms = Duration::from_millis;
    let table: Vec<(&str, Want)> = vec![
        ("redis://127.0.0.1", tcp("127.0.0.1", 6379)),
        ("redis://127.0.0.1:6380", tcp("127.0.0.1", 6380)),
        ("REDIS://example.com:1/", tcp("example.com", 1)),
        ("redis://localhost:65535", tcp("localhost", 65535)),
        ("redis://h:6379/0", tcp("h", 6379)),
        (
            "redis://h:6379/15",
            Want {
                db: 15,
                ..tcp("h", 6379)
            },
        ),
        (
            "redis://h/7",
            Want {
                db: 7,
                ..tcp("h", 6379)
            },
        ),
        ("redis://h#fragment", tcp("h", 6379)),
        (
            "redis://:secret@h:6379",
            Want {
                pass: Some("secret"),
                ..tcp("h", 6379)
            },
        ),
        (
            "redis://app:secret@h:6379/2",
            Want {
                user: Some("app"),
                pass: Some("secret"),
                db: 2,
                ..tcp("h", 6379)
            },
        ),
        (
            // Percent-encoded user and password: '@', ':', '/', '%', ' ' and UTF-8.
            "redis://us%40er:p%40ss%3Aw%2Frd%25%20%C3%A9@h",
            Want {
                user: Some("us@er"),
                pass: Some("p@ss:w/rd% é"),
                ..tcp("h", 6379)
            },
        ),
        (
            // A raw '@' in the password: the last '@' ends the user info.
            "redis://:p@ss@h:1",
            Want {
                pass: Some("p@ss"),
                ..tcp("h", 1)
            },
        ),
        (
            // A raw ':' in the password: the first ':' ends the user name.
            "redis://u:a:b@h",
            Want {
                user: Some("u"),
                pass: Some("a:b"),
                ..tcp("h", 6379)
            },
        ),
        ("redis://[::1]:6380", tcp("::1", 6380)),
        ("redis://[::1]", tcp("::1", 6379)),
        (
            "redis://h?db=4&client_name=web&connect_timeout=250ms&response_timeout=1.5s\
             &tcp_keepalive=off&tcp_user_timeout=2",
            Want {
                db: 4,
                name: Some("web"),
                connect_timeout: Some(Some(ms(250))),
                response_timeout: Some(Some(ms(1500))),
                tcp_keepalive: Some(None),
                tcp_user_timeout: Some(Some(ms(2000))),
                ..tcp("h", 6379)
            },
        ),
        (
            "redis://h/1?name=n%20x&response_timeout=none&connect_timeout=1m",
            Want {
                db: 1,
                name: Some("n x"),
                response_timeout: Some(None),
                connect_timeout: Some(Some(Duration::from_secs(60))),
                ..tcp("h", 6379)
            },
        ),
        (
            "redis://h?username=app&password=p%26w",
            Want {
                user: Some("app"),
                pass: Some("p&w"),
                ..tcp("h", 6379)
            },
        ),
        ("redis://h?&&", tcp("h", 6379)),
        (
            "rediss://h:6390",
            Want {
                tls: true,
                ..tcp("h", 6390)
            },
        ),
        ("redis+unix:///tmp/redis.sock", unix("/tmp/redis.sock")),
        (
            "redis+unix:///var/run/redis%20x.sock?db=2&password=pw",
            Want {
                db: 2,
                pass: Some("pw"),
                ..unix("/var/run/redis x.sock")
            },
        ),
        (
            "unix:///tmp/r.sock?db=3",
            Want {
                db: 3,
                ..unix("/tmp/r.sock")
            },
        ),
        ("redis+unix://localhost/tmp/r.sock", unix("/tmp/r.sock")),
    ];
    for (url, want) in table {
        let c = ConnectionConfig::from_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(c.addr, want.addr, "{url}");
        assert_eq!(c.db, want.db, "{url}");
        assert_eq!(c.username.as_deref(), want.user, "{url}");
        assert_eq!(c.password.as_deref(), want.pass, "{url}");
        assert_eq!(c.client_name.as_deref(), want.name, "{url}");
        let or = |w: Option<Option<Duration>>, d: Option<Duration>| w.unwrap_or(d);
        assert_eq!(
            c.connect_timeout,
            or(want.connect_timeout, defaults.connect_timeout),
            "{url}"
        );
        assert_eq!(
            c.response_timeout,
            or(want.response_timeout, defaults.response_timeout),
            "{url}"
        );
        assert_eq!(
            c.tcp_keepalive,
            or(want.tcp_keepalive, defaults.tcp_keepalive),
            "{url}"
        );
        assert_eq!(
            c.tcp_user_timeout,
            or(want.tcp_user_timeout, defaults.tcp_user_timeout),
            "{url}"
        );
        assert_eq!(c.tls.is_some(), want.tls, "{url}");
        // `FromStr` and `from_url` agree.
        assert_eq!(url.parse::<ConnectionConfig>().unwrap(), c, "{url}");
    }
}

#[test]
fn invalid_urls_say_what_is_wrong() {
    // (url, words the error must contain)
    let table: &[(&str, &[&str])] = &[
        ("127.0.0.1:6379", &["no scheme"]),
        ("localhost", &["no scheme"]),
        ("://h:1", &["empty scheme"]),
        ("http://h:6379", &["unknown scheme", "http"]),
        ("redis-cluster://h", &["unknown scheme"]),
        ("redis+sentinel://h:26379/mymaster", &["deployment"]),
        ("redis+cluster://h:7000,h:7001", &["deployment"]),
        ("redis://h:abc", &["invalid port", "abc"]),
        ("redis://h:", &["invalid port"]),
        ("redis://h:0", &["invalid port", "0"]),
        ("redis://h:65536", &["invalid port", "65536"]),
        ("redis://h:-1", &["invalid port"]),
        ("redis://h/abc", &["database", "abc"]),
        ("redis://h/-1", &["database", "-1"]),
        ("redis://h/1/2", &["database"]),
        ("redis://h?db=x", &["db", "database index"]),
        ("redis://h?db=-2", &["db", "database index"]),
        ("redis://h?timeout=1s", &["unknown option", "timeout"]),
        (
            "redis://h?client-name=x",
            &["unknown option", "client-name"],
        ),
        (
            "redis://h?response_timeout=fast",
            &["response_timeout", "duration"],
        ),
        ("redis://h?connect_timeout=5h", &["connect_timeout", "unit"]),
        ("redis://h?connect_timeout=-1s", &["connect_timeout"]),
        ("redis://:%zz@h", &["percent escape"]),
        ("redis://:abc%4@h", &["percent escape"]),
        ("redis://:abc%@h", &["percent escape"]),
        ("redis://:%+1@h", &["percent escape"]),
        ("redis://:%-1@h", &["percent escape"]),
        ("redis://:%ff@h", &["UTF-8"]),
        ("redis://h?name=%G1", &["percent escape"]),
        ("redis://app@h:6379", &["user", "app", "password"]),
        ("redis://h?username=app", &["user", "app", "password"]),
        ("redis://", &["no host"]),
        ("redis:///0", &["no host"]),
        ("redis://:pw@/0", &["no host"]),
        ("redis://:6379", &["empty host"]),
        ("redis://h1:1,h2:2", &["exactly one host"]),
        ("redis://::1:6380", &["IPv6", "brackets"]),
        ("redis://fe80::1", &["IPv6", "brackets"]),
        ("redis://[::1:6380", &["']'"]),
        ("redis://[::1]6380", &["':port'"]),
        ("redis+unix://", &["socket path"]),
        ("redis+unix://host/tmp/r.sock", &["no host"]),
        (
            "redis://h?durability=replicas",
            &["durability", "replicas:N"],
        ),
        ("redis://h?durability=quorum", &["durability", "aof:local"]),
        (
            "redis://h?durability_timeout=1s",
            &["durability_timeout without durability"],
        ),
        (
            "redis://h?durability=replicas:1&durability_timeout=soon",
            &["durability_timeout", "duration"],
        ),
    ];
    let mut failures = Vec::new();
    for (url, words) in table {
        match ConnectionConfig::from_url(url) {
            Ok(c) => failures.push(format!("{url}: accepted as {c:?}")),
            Err(e) if e.kind() == ErrorKind::Config => {
                let msg = e.message().unwrap_or_default();
                let lower = msg.to_lowercase();
                for w in *words {
                    if !lower.contains(&w.to_lowercase()) {
                        failures.push(format!("{url}: error {msg:?} does not mention {w:?}"));
                    }
                }
                // One "invalid configuration:" prefix (from Display), not one per layer.
                let shown = e.to_string();
                if shown.matches("invalid configuration").count() != 1 {
                    failures.push(format!("{url}: repeated prefix in {shown:?}"));
                }
            }
            Err(other) => failures.push(format!("{url}: not a Config error: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn errors_do_not_show_passwords() {
    for url in [
        "redis://app:hunter2@h:badport",
        "redis://:hunter2@h/notadb",
        "redis://:hunter2@h?bogus=1",
        "redis://:hunter2@h:1,h:2",
        "http://:hunter2@h",
    ] {
        let msg = ConnectionConfig::from_url(url).unwrap_err().to_string();
        assert!(!msg.contains("hunter2"), "{url}: {msg}");
    }
}

#[test]
fn config_in_code_matches_url() {
    let from_url: ConnectionConfig =
        "redis://app:s%40cret@127.0.0.1:6380/2?client_name=web&response_timeout=250ms"
            .parse()
            .unwrap();
    let in_code = ConnectionConfig::new(Addr::tcp("127.0.0.1", 6380))
        .with_user("app", "s@cret")
        .with_db(2)
        .with_client_name("web")
        .with_response_timeout(Some(Duration::from_millis(250)));
    assert_eq!(from_url, in_code);
    // Durability, in any order of its two options, in every scheme.
    let durable = Durability::replicas(1).with_timeout(Duration::from_millis(200));
    for url in [
        "redis://h?durability=replicas:1&durability_timeout=200ms",
        "redis://h?durability_timeout=200ms&durability=replicas:1",
    ] {
        let c = ConnectionConfig::from_url(url).unwrap();
        assert_eq!(c.durability, Some(durable), "{url}");
    }
    let (_, cluster) = slotline_cluster::ClusterConfig::from_url(
        "redis+cluster://h:7000?durability=aof:local,replicas:1",
    )
    .unwrap();
    assert_eq!(
        cluster.connection.durability,
        Some(Durability::aof_local().and_replicas(1))
    );
    assert_eq!(Addr::parse("[::1]:7000").unwrap(), Addr::tcp("::1", 7000));
    assert_eq!(Addr::parse("h").unwrap(), Addr::tcp("h", 6379));
    assert_eq!(Addr::tcp("::1", 7000).to_string(), "[::1]:7000");
    assert!(Addr::parse("h:0").is_err());
}

/// A config that cannot work is refused before any socket is opened, with a clear error.
#[tokio::test]
async fn bad_configs_are_refused_at_connect() {
    let started = Instant::now();
    // A CA file that is not there: refused with its name, async and blocking.
    for url in [
        "rediss://127.0.0.1:1?ssl_ca_certs=/no/such/ca.pem",
        "rediss://:pw@127.0.0.1:1/2?ssl_ca_certs=/no/such/ca.pem",
    ] {
        let e = slotline_conn::Connection::connect(url).await.unwrap_err();
        assert!(
            e.kind() == ErrorKind::Config
                && e.message()
                    .is_some_and(|m| m.contains("TLS") && m.contains("/no/such/ca.pem")),
            "{url}: {e}"
        );
        let e = slotline_conn::Client::connect(url).await.unwrap_err();
        assert!(e.to_string().contains("/no/such/ca.pem"), "{e}");
        let (a, b) = on_plain_thread(|| {
            (
                blocking::Connection::connect(url).unwrap_err(),
                blocking::Client::connect(url).unwrap_err(),
            )
        });
        assert!(a.to_string().contains("/no/such/ca.pem"), "{a}");
        assert!(b.to_string().contains("/no/such/ca.pem"), "{b}");
    }
    let mut unix_tls = ConnectionConfig::new(Addr::Unix("/tmp/none.sock".into()));
    unix_tls.tls = Some(Box::new(slotline_conn::TlsConfig::new()));
    let e = slotline_conn::Connection::connect(unix_tls)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Unix socket"), "{e}");
    let mut no_pass = ConnectionConfig::new(Addr::tcp("127.0.0.1", 1));
    no_pass.username = Some("app".into());
    let e = slotline_conn::Connection::connect(no_pass)
        .await
        .unwrap_err();
    assert!(e.kind() == ErrorKind::Config, "{e}");
    let e = slotline_conn::Connection::connect(
        ConnectionConfig::new(Addr::tcp("127.0.0.1", 1)).with_db(-1),
    )
    .await
    .unwrap_err();
    assert!(e.kind() == ErrorKind::Config, "{e}");
    // Nothing was dialled: these fail at once.
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// The database and the client name from a URL really apply, async and blocking.
#[tokio::test]
async fn url_db_and_client_name_apply() {
    let server = Standalone::builder().local().start().unwrap();
    let url = support::with_option(&support::with_db(&server.url(), 3), "client_name=url-test");
    let con = slotline_conn::Connection::connect(url.as_str())
        .await
        .unwrap();
    let name: Option<String> = con
        .query(&slotline_conn::cmd("CLIENT").arg("GETNAME"))
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("url-test"));
    let info: String = con
        .query(&slotline_conn::cmd("CLIENT").arg("INFO"))
        .await
        .unwrap();
    assert!(info.contains(" db=3 "), "{info}");
    drop(con);
    on_plain_thread(|| {
        use slotline_conn::blocking::Query as _;
        let url = support::with_option(&support::with_db(&server.url(), 5), "name=blocking-url");
        let con = blocking::Connection::connect(url.as_str()).unwrap();
        let name: String = con
            .query(&slotline_conn::cmd("CLIENT").arg("GETNAME"))
            .unwrap();
        assert_eq!(name, "blocking-url");
        let info: String = con
            .query(&slotline_conn::cmd("CLIENT").arg("INFO"))
            .unwrap();
        assert!(info.contains(" db=5 "), "{info}");
    });
}

/// A real connection over a Unix socket, with the database from the URL, async and
/// blocking (connection and shared client).
#[tokio::test]
async fn unix_socket() {
    let path = std::env::temp_dir().join(format!("slotline-conn-urls-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let server = Standalone::builder()
        .local()
        .config(format!("unixsocket {}", path.display()))
        .config("unixsocketperm 700")
        .start()
        .unwrap();
    let url = format!("redis+unix://{}?db=2&client_name=unix", path.display());
    let con = slotline_conn::Connection::connect(url.as_str())
        .await
        .unwrap();
    con.set("via-unix", "yes").await.unwrap();
    let info: String = con
        .query(&slotline_conn::cmd("CLIENT").arg("INFO"))
        .await
        .unwrap();
    assert!(info.contains(" db=2 "), "{info}");
    assert!(info.contains(" name=unix "), "{info}");
    // The key landed in db 2 of that server (checked over TCP).
    let mut raw = server.conn().unwrap();
    raw.cmd(&["SELECT", "2"]).unwrap();
    let got = raw.cmd(&["GET", "via-unix"]).unwrap();
    assert_eq!(got.as_str(), Some("yes"));

    let client = slotline_conn::Client::connect(url.as_str()).await.unwrap();
    let v: String = client.get("via-unix").await.unwrap();
    assert_eq!(v, "yes");

    on_plain_thread(|| {
        use slotline_conn::blocking::Commands as _;
        let con = blocking::Connection::connect(url.as_str()).unwrap();
        let v: String = con.get("via-unix").unwrap();
        assert_eq!(v, "yes");
        assert_eq!(con.incr("unix-n").unwrap(), 1);
        let client = blocking::Client::connect(url.as_str()).unwrap();
        assert_eq!(client.incr("unix-n").unwrap(), 2);
    });

    // A socket path that does not exist is an I/O error naming the path.
    let missing = format!("redis+unix://{}.missing", path.display());
    let e = slotline_conn::Connection::connect(missing.as_str())
        .await
        .unwrap_err();
    assert!(e.kind() == ErrorKind::Io && !e.may_have_run(), "{e:?}");
    assert!(e.to_string().contains(".missing"), "{e}");
    drop(server);
    let _ = std::fs::remove_file(&path);
}

/// The TLS options (redis-py's names) fill `TlsConfig`; they need `rediss://`, and a client
/// certificate needs its key.
#[test]
fn tls_options() {
    let c = ConnectionConfig::from_url(
        "rediss://h:6380?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem&ssl_server_name=redis.internal",
    )
    .unwrap();
    let tls = c.tls.unwrap();
    assert_eq!(
        tls.ca_file.as_deref(),
        Some(std::path::Path::new("/ca.pem"))
    );
    assert_eq!(
        tls.client_cert,
        Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
    );
    assert_eq!(tls.server_name.as_deref(), Some("redis.internal"));
    assert!(tls.verify && tls.check_hostname);
    let tls = ConnectionConfig::from_url("rediss://h?ssl_cert_reqs=none")
        .unwrap()
        .tls
        .unwrap();
    assert!(!tls.verify);
    let tls = ConnectionConfig::from_url("rediss://h?ssl_check_hostname=false")
        .unwrap()
        .tls
        .unwrap();
    assert!(tls.verify && !tls.check_hostname);
    for (url, says) in [
        ("redis://h?ssl_ca_certs=/ca.pem", "rediss://"),
        ("rediss://h?ssl_certfile=/c.pem", "ssl_keyfile"),
        ("rediss://h?ssl_cert_reqs=maybe", "none or required"),
        ("rediss://h?ssl_check_hostname=perhaps", "true or false"),
    ] {
        let e = ConnectionConfig::from_url(url).unwrap_err();
        assert!(e.to_string().contains(says), "{url}: {e}");
    }
}

//! RESP3 against a real server: the handshake (`HELLO 3` with the credentials and the name
//! in one round trip), typed replies read as the same Rust types as under RESP2, and pushes
//! kept away from callers' replies. The whole suite also runs over RESP3
//! (`SLOTLINE_TEST_PROTOCOL=3`, in `make test`); this file checks that RESP3 is what is
//! spoken.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::collections::HashMap;

use slotline_conn::{cmd, pipe, Commands, Connection, Frame, Query};
use slotline_testbed::Standalone;
use support::{with_option, Mode, MODES};

/// `CLIENT INFO`'s `resp=` field: the protocol the server speaks to this connection.
async fn resp_of(client: &impl Query) -> String {
    let info: String = client.query(&cmd("CLIENT").arg("INFO")).await.unwrap();
    info.split_whitespace()
        .find_map(|f| f.strip_prefix("resp="))
        .unwrap_or("?")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_carries_credentials_and_name_in_one_round_trip() {
    let server = Standalone::builder()
        .requirepass("s3cret")
        .user("app", "app-pass", "~* +@all")
        .local()
        .start()
        .unwrap();
    let base = support::with_db(&server.url(), 0);
    for (url, who) in [
        (with_option(&base, "protocol=3&client_name=r3"), "default"),
        (
            with_option(
                &base.replace(":s3cret@", "app:app-pass@"),
                "protocol=3&client_name=r3",
            ),
            "app",
        ),
    ] {
        let con = Connection::connect(url.as_str()).await.unwrap();
        assert_eq!(resp_of(&con).await, "3", "{url}");
        let info: String = con.query(&cmd("CLIENT").arg("INFO")).await.unwrap();
        assert!(
            info.contains(" name=r3 ") && info.contains(&format!(" user={who} ")),
            "{info}"
        );
    }
    // A wrong password is refused as under RESP2.
    let wrong = with_option(&base.replace(":s3cret@", ":nope@"), "protocol=3");
    let e = Connection::connect(wrong.as_str()).await.unwrap_err();
    assert_eq!(
        e.server_kind(),
        Some(&slotline_conn::ServerErrorKind::WrongPass),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_replies_read_as_under_resp2() {
    let url = with_option(&support::standalone().url(), "protocol=3");
    let c = slotline_conn::Client::connect(url.as_str()).await.unwrap();
    assert_eq!(resp_of(&c).await, "3");
    let _: i64 = c.del(&["r3:h", "r3:z", "r3:s"]).await.unwrap();
    let _: i64 = c
        .hset_multiple("r3:h", &[("a", 1), ("b", 2)])
        .await
        .unwrap();
    // The server answers with RESP3's own types...
    assert!(matches!(
        c.query::<Frame>(&cmd("HGETALL").arg("r3:h")).await.unwrap(),
        Frame::Map(_)
    ));
    // ...which read as the same Rust types.
    let h: HashMap<String, i64> = c.hgetall("r3:h").await.unwrap();
    assert_eq!(h, HashMap::from([("a".into(), 1), ("b".into(), 2)]));
    let pairs: Vec<(String, i64)> = c.hgetall("r3:h").await.unwrap();
    assert_eq!(pairs.len(), 2);
    let _: i64 = c.zadd("r3:z", "m1", 1.5).await.unwrap();
    let _: i64 = c.zadd("r3:z", "m2", 2.0).await.unwrap();
    let score: Option<f64> = c.zscore("r3:z", "m1").await.unwrap();
    assert_eq!(score, Some(1.5));
    let ranked: Vec<(String, f64)> = c
        .query(&cmd("ZRANGE").arg("r3:z").arg(0).arg(-1).arg("WITHSCORES"))
        .await
        .unwrap();
    assert_eq!(ranked, [("m1".to_owned(), 1.5), ("m2".to_owned(), 2.0)]);
    let _: i64 = c.sadd("r3:s", "x").await.unwrap();
    let member: bool = c.sismember("r3:s", "x").await.unwrap();
    assert!(member);
    let missing: Option<String> = c.get("r3:missing").await.unwrap();
    assert_eq!(missing, None);
    let info: String = c.query(&cmd("INFO").arg("server")).await.unwrap();
    assert!(
        info.starts_with("# Server"),
        "the verbatim string's text: {info:?}"
    );
    // Transactions and pipelines too.
    let mut tx = pipe();
    tx.atomic().hget("r3:h", "a").zscore("r3:z", "m2");
    let (a, s): (i64, f64) = c.pipeline(&tx).await.unwrap();
    assert_eq!((a, s), (1, 2.0));
}

/// Turns tracking on for `client`, reads `key`, has `writer` change it (so that the server
/// pushes an invalidation to `client`'s connection between two replies), then checks that
/// every reply after it is the reply asked for.
async fn replies_stay_in_step_around_a_push(
    client: &impl Query,
    writer: &impl Commands,
    key: &str,
) {
    let _: () = writer.set(key, "v1").await.unwrap();
    let _: () = client
        .query(&cmd("CLIENT").arg("TRACKING").arg("on"))
        .await
        .unwrap();
    let _: String = client.query(&cmd("GET").arg(key)).await.unwrap();
    let _: () = writer.set(key, "v2").await.unwrap();
    for _ in 0..20 {
        let pong: String = client.query(&cmd("PING")).await.unwrap();
        assert_eq!(pong, "PONG", "a push read as a reply");
    }
    let v: String = client.query(&cmd("GET").arg(key)).await.unwrap();
    assert_eq!(v, "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_never_reach_a_callers_reply() {
    let url = with_option(&support::standalone().url(), "protocol=3");
    let writer = slotline_conn::Client::connect(url.as_str()).await.unwrap();
    let shared = slotline_conn::Client::connect(url.as_str()).await.unwrap();
    replies_stay_in_step_around_a_push(&shared, &writer, "r3:tracked:shared").await;
    let own = Connection::connect(url.as_str()).await.unwrap();
    replies_stay_in_step_around_a_push(&own, &writer, "r3:tracked:own").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_handler_receives_the_invalidations() {
    let url = with_option(&support::standalone().url(), "protocol=3");
    let writer = slotline_conn::Client::connect(url.as_str()).await.unwrap();
    let pushes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = pushes.clone();
    let options = slotline_conn::ClientOptions::default().with_push_handler(
        slotline_conn::PushHandler::new(move |push| kept.lock().unwrap().push(push)),
    );
    let c = slotline_conn::Client::connect_with(url.as_str(), options)
        .await
        .unwrap();
    let key = "r3:handled";
    replies_stay_in_step_around_a_push(&c, &writer, key).await;
    // `["invalidate", [key]]`, as the server pushed it.
    support::wait_for("the invalidation to reach the handler", || {
        pushes.lock().unwrap().iter().any(|p| {
            let items = p.as_array().unwrap_or(&[]);
            matches!(p, Frame::Push(_))
                && items.first().and_then(Frame::as_str) == Some("invalidate")
                && items
                    .get(1)
                    .is_some_and(|keys| keys.iter().any(|k| k.as_str() == Some(key)))
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_speaks_resp3_when_asked() {
    for mode in MODES {
        let url = with_option(&mode.url(), "protocol=3");
        let c = slotline::Client::open(&url).await.unwrap();
        let key = mode.keys("resp3", 1).remove(0);
        if mode != Mode::SentinelReplicas {
            let _: () = c.set(&key, 7).await.unwrap();
        }
        let info: String = c.query(&cmd("CLIENT").arg("INFO")).await.unwrap();
        assert!(
            info.split_whitespace().any(|f| f == "resp=3"),
            "{mode:?}: {info}"
        );
    }
}

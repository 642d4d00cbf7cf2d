//! The typed helpers, on every client.

use super::*;

// ---------------------------------------------------------------- typed helpers

/// Runs every typed helper of `commands.rs` on `$c` with asserted results. `$server` is the
/// testbed node (for a second, raw connection).
macro_rules! every_helper {
    ($c:ident, $server:expr; $($aw:tt)*) => {{
        let server: &Standalone = $server;

        // ---- server: flushdb, dbsize, ping, info
        $c.flushdb() $($aw)* .unwrap();
        assert_eq!($c.dbsize() $($aw)* .unwrap(), 0);
        assert_eq!($c.ping() $($aw)* .unwrap(), "PONG");
        let info = $c.info("server") $($aw)* .unwrap();
        assert!(info.contains("redis_version:"), "{info}");
        assert!(!info.contains("# Clients"), "only the server section: {info}");
        let all = $c.info(None::<&str>) $($aw)* .unwrap();
        assert!(all.contains("# Server") && all.contains("# Clients"), "{all}");

        // ---- strings
        $c.set("s", "v1") $($aw)* .unwrap();
        let v: String = $c.get("s") $($aw)* .unwrap();
        assert_eq!(v, "v1");
        let v: Option<String> = $c.get("missing") $($aw)* .unwrap();
        assert_eq!(v, None);
        $c.set_ex("ex", "v", 100) $($aw)* .unwrap();
        let ttl = $c.ttl("ex") $($aw)* .unwrap();
        assert!((95..=100).contains(&ttl), "{ttl}");
        assert!(!$c.set_nx("s", "x") $($aw)* .unwrap());
        assert!($c.set_nx("nx", "y") $($aw)* .unwrap());
        let old: Option<String> = $c.getset("s", "v2") $($aw)* .unwrap();
        assert_eq!(old.as_deref(), Some("v1"));
        let old: Option<String> = $c.getset("fresh", "a") $($aw)* .unwrap();
        assert_eq!(old, None);
        let v: Option<String> = $c.getdel("nx") $($aw)* .unwrap();
        assert_eq!(v.as_deref(), Some("y"));
        let v: Option<String> = $c.getdel("nx") $($aw)* .unwrap();
        assert_eq!(v, None);
        let vs: Vec<Option<String>> = $c.mget(&["s", "missing", "ex"]) $($aw)* .unwrap();
        assert_eq!(vs, [Some("v2".to_string()), None, Some("v".to_string())]);
        $c.mset(&[("m1", 1), ("m2", 2)]) $($aw)* .unwrap();
        let (a, b): (i64, u8) = $c.mget(("m1", "m2")) $($aw)* .unwrap();
        assert_eq!((a, b), (1, 2));
        assert_eq!($c.incr("cnt") $($aw)* .unwrap(), 1);
        assert_eq!($c.incr_by("cnt", 10) $($aw)* .unwrap(), 11);
        assert_eq!($c.incr_by("cnt", -20) $($aw)* .unwrap(), -9);
        assert_eq!($c.decr("cnt") $($aw)* .unwrap(), -10);
        assert_eq!($c.decr_by("cnt", 5) $($aw)* .unwrap(), -15);
        assert_eq!($c.incr_by_float("flt", 1.5) $($aw)* .unwrap(), 1.5);
        assert_eq!($c.incr_by_float("flt", -0.25) $($aw)* .unwrap(), 1.25);
        assert_eq!($c.append("ap", "hello") $($aw)* .unwrap(), 5);
        assert_eq!($c.append("ap", " world") $($aw)* .unwrap(), 11);
        assert_eq!($c.strlen("ap") $($aw)* .unwrap(), 11);
        assert_eq!($c.strlen("missing") $($aw)* .unwrap(), 0);
        let part: String = $c.getrange("ap", 0, 4) $($aw)* .unwrap();
        assert_eq!(part, "hello");
        let part: String = $c.getrange("ap", -5, -1) $($aw)* .unwrap();
        assert_eq!(part, "world");
        assert_eq!($c.setrange("ap", 6, "WORLD") $($aw)* .unwrap(), 11);
        assert_eq!($c.setrange("padded", 3, "x") $($aw)* .unwrap(), 4);
        let v: Vec<u8> = $c.get("padded") $($aw)* .unwrap();
        assert_eq!(v, b"\0\0\0x");
        let v: String = $c.get("ap") $($aw)* .unwrap();
        assert_eq!(v, "hello WORLD");
        // A command on the wrong type is a WRONGTYPE server error, not a conversion error.
        $c.lpush("a-list", "x") $($aw)* .unwrap();
        assert_server_error($c.get::<String>("a-list") $($aw)*, ServerErrorKind::WrongType);
        assert_server_error($c.incr("ap") $($aw)*, ServerErrorKind::Other("ERR".into()));

        // ---- keys, expiry
        assert_eq!($c.del(&["m1", "m2", "missing"]) $($aw)* .unwrap(), 2);
        assert_eq!($c.del("fresh") $($aw)* .unwrap(), 1);
        assert_eq!($c.unlink("padded") $($aw)* .unwrap(), 1);
        assert_eq!($c.unlink(["padded", "missing"]) $($aw)* .unwrap(), 0);
        assert_eq!($c.exists(("s", "ex", "missing")) $($aw)* .unwrap(), 2);
        assert_eq!($c.exists("missing") $($aw)* .unwrap(), 0);
        assert_eq!($c.touch(vec!["s", "ex", "missing"]) $($aw)* .unwrap(), 2);
        $c.set("k", "v") $($aw)* .unwrap();
        assert_eq!($c.ttl("k") $($aw)* .unwrap(), -1);
        assert_eq!($c.pttl("k") $($aw)* .unwrap(), -1);
        assert_eq!($c.ttl("missing") $($aw)* .unwrap(), -2);
        assert_eq!($c.pttl("missing") $($aw)* .unwrap(), -2);
        assert!($c.expire("k", 100) $($aw)* .unwrap());
        let ttl = $c.ttl("k") $($aw)* .unwrap();
        assert!((95..=100).contains(&ttl), "{ttl}");
        assert!(!$c.expire("missing", 100) $($aw)* .unwrap());
        assert!($c.persist("k") $($aw)* .unwrap());
        assert!(!$c.persist("k") $($aw)* .unwrap());
        assert_eq!($c.ttl("k") $($aw)* .unwrap(), -1);
        assert!($c.pexpire("k", 100_000) $($aw)* .unwrap());
        let pttl = $c.pttl("k") $($aw)* .unwrap();
        assert!((90_000..=100_000).contains(&pttl), "{pttl}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!($c.expire_at("k", now + 1000) $($aw)* .unwrap());
        let ttl = $c.ttl("k") $($aw)* .unwrap();
        assert!((990..=1001).contains(&ttl), "{ttl}");
        // Expiry really removes the key (polled against a deadline).
        $c.set("short", "v") $($aw)* .unwrap();
        assert!($c.pexpire("short", 30) $($aw)* .unwrap());
        let mut raw = server.conn().unwrap();
        wait_until_within(Duration::from_secs(5), "the key to expire", || {
            raw.cmd(&["EXISTS", "short"]).unwrap().as_int() == Some(0)
        });
        assert_eq!($c.exists("short") $($aw)* .unwrap(), 0);
        // An expiry in the past deletes at once.
        $c.set("past", "v") $($aw)* .unwrap();
        assert!($c.expire_at("past", 1) $($aw)* .unwrap());
        assert_eq!($c.exists("past") $($aw)* .unwrap(), 0);
        $c.rename("k", "k2") $($aw)* .unwrap();
        assert_eq!($c.exists("k") $($aw)* .unwrap(), 0);
        let v: String = $c.get("k2") $($aw)* .unwrap();
        assert_eq!(v, "v");
        assert_server_error($c.rename("missing", "x") $($aw)*, ServerErrorKind::Other("ERR".into()));
        assert_eq!($c.key_type("k2") $($aw)* .unwrap(), "string");
        assert_eq!($c.key_type("a-list") $($aw)* .unwrap(), "list");
        assert_eq!($c.key_type("missing") $($aw)* .unwrap(), "none");
        let ks: Vec<String> = $c.keys("k*") $($aw)* .unwrap();
        assert_eq!(ks, ["k2"]);
        let ks: HashSet<String> = $c.keys("*") $($aw)* .unwrap();
        let want: HashSet<String> = ["s", "ex", "cnt", "flt", "ap", "a-list", "k2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(ks, want);

        // ---- hashes
        assert_eq!($c.hset("h", "f1", "v1") $($aw)* .unwrap(), 1);
        assert_eq!($c.hset("h", "f1", "v1b") $($aw)* .unwrap(), 0);
        assert_eq!($c.hset_multiple("h", &[("f2", "v2"), ("f3", "3")]) $($aw)* .unwrap(), 2);
        assert!(!$c.hset_nx("h", "f1", "x") $($aw)* .unwrap());
        assert!($c.hset_nx("h", "f4", 4) $($aw)* .unwrap());
        let v: String = $c.hget("h", "f1") $($aw)* .unwrap();
        assert_eq!(v, "v1b");
        let v: Option<String> = $c.hget("h", "nope") $($aw)* .unwrap();
        assert_eq!(v, None);
        let n: i64 = $c.hget("h", "f3") $($aw)* .unwrap();
        assert_eq!(n, 3);
        let vs: Vec<Option<String>> = $c.hmget("h", &["f1", "nope", "f2"]) $($aw)* .unwrap();
        assert_eq!(vs, [Some("v1b".to_string()), None, Some("v2".to_string())]);
        let all: HashMap<String, String> = $c.hgetall("h") $($aw)* .unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all["f4"], "4");
        let all: BTreeMap<String, String> = $c.hgetall("h") $($aw)* .unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["f1", "f2", "f3", "f4"]);
        let pairs: Vec<(String, String)> = $c.hgetall("h") $($aw)* .unwrap();
        assert_eq!(pairs.len(), 4);
        assert!(pairs.contains(&("f2".to_string(), "v2".to_string())));
        let empty: HashMap<String, String> = $c.hgetall("missing") $($aw)* .unwrap();
        assert!(empty.is_empty());
        assert_eq!($c.hdel("h", &["f4", "nope"]) $($aw)* .unwrap(), 1);
        assert!($c.hexists("h", "f1") $($aw)* .unwrap());
        assert!(!$c.hexists("h", "f4") $($aw)* .unwrap());
        assert_eq!($c.hincr_by("h", "f3", 7) $($aw)* .unwrap(), 10);
        assert_eq!($c.hincr_by("h", "new", -1) $($aw)* .unwrap(), -1);
        let keys: BTreeSet<String> = $c.hkeys("h") $($aw)* .unwrap();
        assert_eq!(keys.into_iter().collect::<Vec<_>>(), ["f1", "f2", "f3", "new"]);
        let vals: Vec<String> = $c.hvals("h") $($aw)* .unwrap();
        assert_eq!(sorted(vals), ["-1", "10", "v1b", "v2"]);
        assert_eq!($c.hlen("h") $($aw)* .unwrap(), 4);
        assert_eq!($c.hlen("missing") $($aw)* .unwrap(), 0);

        // ---- lists
        assert_eq!($c.rpush("l", &["a", "b", "c"]) $($aw)* .unwrap(), 3);
        assert_eq!($c.lpush("l", "z") $($aw)* .unwrap(), 4);
        let l: Vec<String> = $c.lrange("l", 0, -1) $($aw)* .unwrap();
        assert_eq!(l, ["z", "a", "b", "c"]);
        assert_eq!($c.llen("l") $($aw)* .unwrap(), 4);
        let v: String = $c.lindex("l", 1) $($aw)* .unwrap();
        assert_eq!(v, "a");
        let v: Option<String> = $c.lindex("l", 99) $($aw)* .unwrap();
        assert_eq!(v, None);
        let v: String = $c.lpop("l") $($aw)* .unwrap();
        assert_eq!(v, "z");
        let v: String = $c.rpop("l") $($aw)* .unwrap();
        assert_eq!(v, "c");
        let v: Option<String> = $c.lpop("missing") $($aw)* .unwrap();
        assert_eq!(v, None);
        let v: Option<String> = $c.rpop("missing") $($aw)* .unwrap();
        assert_eq!(v, None);
        assert_eq!($c.rpush("l", vec!["a", "a", "x"]) $($aw)* .unwrap(), 5);
        assert_eq!($c.lrem("l", 0, "a") $($aw)* .unwrap(), 3);
        let l: Vec<String> = $c.lrange("l", 0, -1) $($aw)* .unwrap();
        assert_eq!(l, ["b", "x"]);
        $c.ltrim("l", 0, 0) $($aw)* .unwrap();
        let l: Vec<String> = $c.lrange("l", 0, -1) $($aw)* .unwrap();
        assert_eq!(l, ["b"]);
        // Blocking pops: with data, ...
        $c.rpush("bl", &["1", "2"]) $($aw)* .unwrap();
        let got: (String, String) = $c.blpop(&["nothing-here", "bl"], 1.0) $($aw)* .unwrap();
        assert_eq!(got, ("bl".to_string(), "1".to_string()));
        let got: Option<(String, i64)> = $c.brpop("bl", 1.0) $($aw)* .unwrap();
        assert_eq!(got, Some(("bl".to_string(), 2)));
        // ... with data that arrives while the pop waits, ...
        let pusher = push_when_blocked(server.addr(), "late", "x");
        let got: (String, String) = $c.blpop("late", 10.0) $($aw)* .unwrap();
        assert_eq!(got, ("late".to_string(), "x".to_string()));
        pusher.join().unwrap();
        // ... and with none: the server's timeout (1 s) is longer than the connection's
        // response timeout (300 ms here), which the pop's own timeout extends: a `None`,
        // not a timeout error.
        let started = Instant::now();
        let got: Option<(String, String)> = $c.blpop("empty", 1.0) $($aw)* .unwrap();
        let waited = started.elapsed();
        assert_eq!(got, None);
        assert!(waited >= Duration::from_millis(900), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        let got: Option<(String, String)> = $c.brpop(&["empty", "empty2"], 0.1) $($aw)* .unwrap();
        assert_eq!(got, None);

        // ---- sets
        assert_eq!($c.sadd("s1", &["a", "b", "c"]) $($aw)* .unwrap(), 3);
        assert_eq!($c.sadd("s1", "a") $($aw)* .unwrap(), 0);
        assert_eq!($c.srem("s1", &["c", "zz"]) $($aw)* .unwrap(), 1);
        let m: HashSet<String> = $c.smembers("s1") $($aw)* .unwrap();
        assert_eq!(m, ["a", "b"].iter().map(|s| s.to_string()).collect());
        let m: BTreeSet<String> = $c.smembers("s1") $($aw)* .unwrap();
        assert_eq!(m.into_iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!($c.sismember("s1", "a") $($aw)* .unwrap());
        assert!(!$c.sismember("s1", "c") $($aw)* .unwrap());
        assert_eq!($c.scard("s1") $($aw)* .unwrap(), 2);
        assert_eq!($c.sadd("s2", &["b", "d"]) $($aw)* .unwrap(), 2);
        let v: Vec<String> = $c.sinter(&["s1", "s2"]) $($aw)* .unwrap();
        assert_eq!(v, ["b"]);
        let v: BTreeSet<String> = $c.sunion(&["s1", "s2"]) $($aw)* .unwrap();
        assert_eq!(v.into_iter().collect::<Vec<_>>(), ["a", "b", "d"]);
        let v: Vec<String> = $c.sdiff(("s1", "s2")) $($aw)* .unwrap();
        assert_eq!(v, ["a"]);
        let popped: String = $c.spop("s2") $($aw)* .unwrap();
        assert!(popped == "b" || popped == "d", "{popped}");
        assert_eq!($c.scard("s2") $($aw)* .unwrap(), 1);
        let none: Option<String> = $c.spop("missing") $($aw)* .unwrap();
        assert_eq!(none, None);

        // ---- sorted sets
        assert_eq!($c.zadd("z", "a", 1.0) $($aw)* .unwrap(), 1);
        assert_eq!($c.zadd("z", "a", 1.5) $($aw)* .unwrap(), 0);
        assert_eq!($c.zadd_multiple("z", &[(2.0, "b"), (3.0, "c")]) $($aw)* .unwrap(), 2);
        assert_eq!($c.zscore("z", "a") $($aw)* .unwrap(), Some(1.5));
        assert_eq!($c.zscore("z", "nope") $($aw)* .unwrap(), None);
        assert_eq!($c.zincr_by("z", "a", 2.0) $($aw)* .unwrap(), 3.5);
        assert_eq!($c.zrank("z", "b") $($aw)* .unwrap(), Some(0));
        assert_eq!($c.zrank("z", "a") $($aw)* .unwrap(), Some(2));
        assert_eq!($c.zrank("z", "nope") $($aw)* .unwrap(), None);
        assert_eq!($c.zcard("z") $($aw)* .unwrap(), 3);
        assert_eq!($c.zcount("z", 2, "+inf") $($aw)* .unwrap(), 3);
        assert_eq!($c.zcount("z", "(2", 3) $($aw)* .unwrap(), 1);
        let v: Vec<String> = $c.zrange("z", 0, -1) $($aw)* .unwrap();
        assert_eq!(v, ["b", "c", "a"]);
        let v: Vec<(String, f64)> = $c.zrange_withscores("z", 0, -1) $($aw)* .unwrap();
        assert_eq!(
            v,
            [("b".to_string(), 2.0), ("c".to_string(), 3.0), ("a".to_string(), 3.5)]
        );
        let v: BTreeMap<String, f64> = $c.zrange_withscores("z", 0, 0) $($aw)* .unwrap();
        assert_eq!(v.get("b"), Some(&2.0));
        let v: Vec<String> = $c.zrangebyscore("z", "-inf", 3) $($aw)* .unwrap();
        assert_eq!(v, ["b", "c"]);
        assert_eq!($c.zrem("z", &["a", "nope"]) $($aw)* .unwrap(), 1);
        assert_eq!($c.zcard("z") $($aw)* .unwrap(), 2);
        // Extreme scores go out and come back exactly.
        for score in [1e300, -1e300, 5e-324, f64::MAX, 0.1, -0.0, f64::INFINITY] {
            $c.zadd("zx", "m", score) $($aw)* .unwrap();
            assert_eq!($c.zscore("zx", "m") $($aw)* .unwrap(), Some(score), "{score}");
        }

        // ---- pub/sub, scripting
        assert_eq!($c.publish("news", "nobody") $($aw)* .unwrap(), 0);
        let mut sub = server.conn().unwrap();
        sub.send(&["SUBSCRIBE", "news"]).unwrap();
        sub.read_frame().unwrap();
        assert_eq!($c.publish("news", &b"hi\0"[..]) $($aw)* .unwrap(), 1);
        let msg = sub.read_frame().unwrap();
        assert_eq!(
            msg,
            Frame::Array(vec![Frame::bulk("message"), Frame::bulk("news"), Frame::bulk(&b"hi\0"[..])])
        );
        let n: i64 = $c
            .eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", &["ev"], &[5])
            $($aw)*
            .unwrap();
        assert_eq!(n, 5);
        let v: Vec<String> = $c
            .eval("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", ("k1", "k2"), ("a1", 2))
            $($aw)*
            .unwrap();
        assert_eq!(v, ["k1", "k2", "a1", "2"]);
        let v: String = $c.eval("return ARGV[1]", Vec::<String>::new(), "only-arg") $($aw)* .unwrap();
        assert_eq!(v, "only-arg");
        let e = $c.eval::<()>("return redis.error_reply('MYERR boom')", None::<&str>, None::<&str>) $($aw)*;
        assert_server_error(e, ServerErrorKind::Other("MYERR".into()));

        // ---- the same helpers as pipeline methods
        let mut p = pipe();
        p.set("p", 1).ignore().incr("p").get("p").hset("ph", "f", "v").ignore().hgetall("ph");
        let (n, s, h): (i64, String, HashMap<String, String>) = $c.pipeline(&p) $($aw)* .unwrap();
        assert_eq!((n, s.as_str(), h["f"].as_str()), (2, "2", "v"));

        // ---- flushdb really empties the database
        assert!($c.dbsize() $($aw)* .unwrap() > 5);
        $c.flushdb() $($aw)* .unwrap();
        assert_eq!($c.dbsize() $($aw)* .unwrap(), 0);
    }};
}

fn short_reply_timeout(server: &Standalone) -> ConnectionConfig {
    config(server).with_response_timeout(Some(Duration::from_millis(300)))
}

#[tokio::test]
async fn helpers_async_connection() {
    use slotline_conn::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::Connection::connect(short_reply_timeout(&server))
        .await
        .unwrap();
    every_helper!(c, &server; .await);
}

#[tokio::test]
async fn helpers_async_client() {
    use slotline_conn::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::Client::connect(short_reply_timeout(&server))
        .await
        .unwrap();
    every_helper!(c, &server; .await);
}

#[test]
fn helpers_blocking_connection() {
    use slotline_conn::blocking::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::blocking::Connection::connect(short_reply_timeout(&server)).unwrap();
    every_helper!(c, &server;);
}

#[test]
fn helpers_blocking_client() {
    use slotline_conn::blocking::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::blocking::Client::connect(short_reply_timeout(&server)).unwrap();
    every_helper!(c, &server;);
}

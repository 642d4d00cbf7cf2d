//! Every typed helper, every reply conversion and every argument kind of `slotline-conn`
//! against a real Redis, async and blocking; binary safety (all 256 byte values), a
//! 100 MiB value, a pipeline of 100,000 commands, and cursor scans over 1,000 elements.
//!
//! The same test bodies run on each client type: they are macros that take the client and
//! either `.await` (async flavour) or nothing (blocking flavour). Every test starts a node
//! of its own (`.local()`, also when `SLOTLINE_TEST_STANDALONE` names an external one):
//! they flush databases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use slotline_conn::{
    cmd, pipe, Addr, Cmd, ConnectionConfig, Error, Frame, Pipeline, ScanOptions, ServerErrorKind,
    TypeError,
};
use slotline_testbed::{Conn, Standalone};
use support::wait_until_within;

// ---------------------------------------------------------------- helpers

fn config(server: &Standalone) -> ConnectionConfig {
    let addr = server.addr();
    ConnectionConfig::new(Addr::tcp(addr.ip().to_string(), addr.port()))
}

/// A config whose response timeout is long enough for 100 MiB in a debug build on a busy
/// machine (the default 5 s is for normal traffic).
fn patient(server: &Standalone) -> ConnectionConfig {
    config(server).with_response_timeout(Some(Duration::from_secs(120)))
}

/// Waits (bounded) until a client is blocked on the server, then pushes `value` to `key`
/// from a separate raw connection: data that arrives while `BLPOP` waits.
fn push_when_blocked(addr: SocketAddr, key: &'static str, value: &'static str) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut raw = Conn::connect(addr).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info = raw.cmd(&["INFO", "clients"]).unwrap();
            let text = info.as_str().unwrap_or_default().to_string();
            if text.contains("blocked_clients:1") {
                break;
            }
            assert!(Instant::now() < deadline, "no client blocked: {text}");
            std::thread::sleep(Duration::from_millis(5));
        }
        raw.cmd(&["RPUSH", key, value]).unwrap();
    })
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Asserts a type error that names the Rust type and the reply kind.
#[track_caller]
fn assert_type_error<T>(result: slotline_conn::Result<T>, expected: &str, got: &str) {
    match result {
        Err(Error::Type(e)) => {
            let TypeError {
                expected: e_expected,
                got: e_got,
                ..
            } = &e;
            assert!(
                e_expected.contains(expected),
                "{e:?} should expect {expected}"
            );
            assert_eq!(*e_got, got, "{e:?}");
            let text = e.to_string();
            assert!(
                text.contains(e_expected) && text.contains(got),
                "message {text:?} names both types"
            );
        }
        Err(other) => panic!("expected a type error ({expected} from {got}), got {other:?}"),
        Ok(_) => panic!("expected a type error ({expected} from {got}), got a value"),
    }
}

#[track_caller]
fn assert_server_error<T: std::fmt::Debug>(
    result: slotline_conn::Result<T>,
    kind: ServerErrorKind,
) {
    match result {
        Err(Error::Server(e)) => assert_eq!(e.kind, kind, "{e}"),
        other => panic!("expected a {kind:?} server error, got {other:?}"),
    }
}

/// A 100 MiB value with a pattern that catches shifted or repeated chunks.
fn big_value() -> Bytes {
    let pattern: Vec<u8> = (0..251u8).collect();
    let mut v = pattern.repeat((100 << 20) / 251 + 1);
    v.truncate(100 << 20);
    Bytes::from(v)
}

/// `(cmd, expected arguments)`: one argument of every kind `ToArgs` has.
fn every_argument_kind() -> (Cmd, Vec<Vec<u8>>) {
    let owned = String::from("ref-string");
    let double_ref: &&str = &"double-ref";
    let c = cmd("RPUSH")
        .arg("args")
        .arg("str")
        .arg(String::from("string"))
        .arg(&owned)
        .arg(double_ref)
        .arg(&b"bytes\0\r\n"[..])
        .arg(vec![0u8, 255])
        .arg([1u8, 2, 3])
        .arg(Bytes::from_static(b"Bytes"))
        .arg(BytesMut::from(&b"BytesMut"[..]))
        .arg(-8i8)
        .arg(-16i16)
        .arg(32i32)
        .arg(i64::MIN)
        .arg(8u8)
        .arg(16u16)
        .arg(u32::MAX)
        .arg(u64::MAX)
        .arg(usize::MAX)
        .arg(isize::MIN)
        .arg(i128::MIN)
        .arg(u128::MAX)
        .arg(1.5f64)
        .arg(-0.0f64)
        .arg(f64::INFINITY)
        .arg(f64::NEG_INFINITY)
        .arg(1e300f64)
        .arg(0.1f32)
        .arg(true)
        .arg(false)
        .arg(None::<&str>)
        .arg(Some("some"))
        .arg(["arr1", "arr2"])
        .arg(&["slice1", "slice2"][..])
        .arg(vec!["vec1".to_string()])
        .arg(vec![1i64, -2])
        .arg(&[("pair", 1)][..])
        .arg(("tuple", 2u64, 3.5f64))
        .arg((1, 2, 3, 4, 5, 6))
        .arg(("one",))
        .arg((1, 2, 3, 4))
        .arg((1, 2, 3, 4, 5))
        .arg(vec![vec![9u8, 9], vec![]]);
    let expected: Vec<String> = vec![
        "str".into(),
        "string".into(),
        "ref-string".into(),
        "double-ref".into(),
        "bytes\0\r\n".into(),
        "\u{0}\u{ff}".into(), // placeholder, replaced below (not UTF-8)
        "\u{1}\u{2}\u{3}".into(),
        "Bytes".into(),
        "BytesMut".into(),
        "-8".into(),
        "-16".into(),
        "32".into(),
        i64::MIN.to_string(),
        "8".into(),
        "16".into(),
        u32::MAX.to_string(),
        "18446744073709551615".into(),
        usize::MAX.to_string(),
        isize::MIN.to_string(),
        "-170141183460469231731687303715884105728".into(),
        "340282366920938463463374607431768211455".into(),
        "1.5".into(),
        "-0".into(),
        "inf".into(),
        "-inf".into(),
        format!("{}", 1e300f64),
        "0.1".into(),
        "1".into(),
        "0".into(),
        "some".into(),
        "arr1".into(),
        "arr2".into(),
        "slice1".into(),
        "slice2".into(),
        "vec1".into(),
        "1".into(),
        "-2".into(),
        "pair".into(),
        "1".into(),
        "tuple".into(),
        "2".into(),
        "3.5".into(),
        "1".into(),
        "2".into(),
        "3".into(),
        "4".into(),
        "5".into(),
        "6".into(),
        "one".into(),
        "1".into(),
        "2".into(),
        "3".into(),
        "4".into(),
        "1".into(),
        "2".into(),
        "3".into(),
        "4".into(),
        "5".into(),
        "\u{9}\u{9}".into(),
        "".into(),
    ];
    let mut expected: Vec<Vec<u8>> = expected.into_iter().map(String::into_bytes).collect();
    expected[5] = vec![0, 255];
    (c, expected)
}

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

// ---------------------------------------------------------------- conversions

/// Every conversion of `reply.rs`, from real replies.
macro_rules! every_conversion {
    ($c:ident; $($aw:tt)*) => {{
        // An integer reply holding `n` exactly (Redis integers are i64).
        macro_rules! int_reply {
            ($n:expr) => {{
                $c.set("int", $n) $($aw)* .unwrap();
                cmd("INCRBY").arg("int").arg(0)
            }};
        }
        macro_rules! int_type {
            ($t:ty) => {{
                let name = std::any::type_name::<$t>();
                let lo = i64::try_from(<$t>::MIN).unwrap_or(i64::MIN);
                let hi = i64::try_from(<$t>::MAX).unwrap_or(i64::MAX);
                for n in [lo, -1, 0, 1, hi] {
                    let Some(want) = <$t>::try_from(n).ok() else { continue };
                    let c = int_reply!(n);
                    let got: $t = $c.query(&c) $($aw)* .unwrap();
                    assert_eq!(got, want, "{name} from integer {n}");
                    // The same number as a bulk string (GET) converts too.
                    let got: $t = $c.get("int") $($aw)* .unwrap();
                    assert_eq!(got, want, "{name} from bulk {n}");
                }
                // One past either end is a type error that names both types.
                if hi < i64::MAX {
                    let c = int_reply!(hi + 1);
                    assert_type_error($c.query::<$t>(&c) $($aw)*, name, "integer");
                    assert_type_error($c.get::<$t>("int") $($aw)*, name, "bulk string");
                }
                if lo > i64::MIN {
                    let c = int_reply!(lo - 1);
                    assert_type_error($c.query::<$t>(&c) $($aw)*, name, "integer");
                }
                // Text that is no number.
                $c.set("nan", "12abc") $($aw)* .unwrap();
                assert_type_error($c.get::<$t>("nan") $($aw)*, name, "bulk string");
            }};
        }
        int_type!(i8);
        int_type!(i16);
        int_type!(i32);
        int_type!(i64);
        int_type!(i128);
        int_type!(isize);
        int_type!(u8);
        int_type!(u16);
        int_type!(u32);
        int_type!(u64);
        int_type!(u128);
        int_type!(usize);
        // Beyond i64: only as text.
        $c.set("wide", u64::MAX) $($aw)* .unwrap();
        assert_eq!($c.get::<u64>("wide") $($aw)* .unwrap(), u64::MAX);
        assert_eq!($c.get::<u128>("wide") $($aw)* .unwrap(), u128::from(u64::MAX));
        assert_type_error($c.get::<i64>("wide") $($aw)*, "i64", "bulk string");
        $c.set("wide", "18446744073709551616") $($aw)* .unwrap();
        assert_type_error($c.get::<u64>("wide") $($aw)*, "u64", "bulk string");
        $c.set("wide", i128::MIN) $($aw)* .unwrap();
        assert_eq!($c.get::<i128>("wide") $($aw)* .unwrap(), i128::MIN);
        $c.set("wide", u128::MAX) $($aw)* .unwrap();
        assert_eq!($c.get::<u128>("wide") $($aw)* .unwrap(), u128::MAX);
        // Integers from an array reply, and a negative into unsigned inside one.
        let c = cmd("EVAL").arg("return {1, -2, 3}").arg(0);
        assert_eq!($c.query::<Vec<i8>>(&c) $($aw)* .unwrap(), [1, -2, 3]);
        assert_type_error($c.query::<Vec<u32>>(&c) $($aw)*, "u32", "integer");

        // ---- floats
        $c.set("f", "1.5") $($aw)* .unwrap();
        assert_eq!($c.get::<f64>("f") $($aw)* .unwrap(), 1.5);
        assert_eq!($c.get::<f32>("f") $($aw)* .unwrap(), 1.5);
        let c = int_reply!(-7);
        assert_eq!($c.query::<f64>(&c) $($aw)* .unwrap(), -7.0);
        $c.set("f", "inf") $($aw)* .unwrap();
        assert_eq!($c.get::<f64>("f") $($aw)* .unwrap(), f64::INFINITY);
        $c.set("f", "-1e-300") $($aw)* .unwrap();
        assert_eq!($c.get::<f64>("f") $($aw)* .unwrap(), -1e-300);
        $c.set("f", "one") $($aw)* .unwrap();
        assert_type_error($c.get::<f64>("f") $($aw)*, "f64", "bulk string");
        assert_type_error($c.query::<f64>(&cmd("LRANGE").arg("x").arg(0).arg(1)) $($aw)*, "f64", "array");

        // ---- bool
        $c.set("b", 1) $($aw)* .unwrap();
        assert!($c.query::<bool>(&cmd("EXISTS").arg("b")) $($aw)* .unwrap());
        assert!(!$c.query::<bool>(&cmd("EXISTS").arg("nob")) $($aw)* .unwrap());
        assert!($c.get::<bool>("b") $($aw)* .unwrap());
        $c.set("b", 0) $($aw)* .unwrap();
        assert!(!$c.get::<bool>("b") $($aw)* .unwrap());
        assert!($c.query::<bool>(&cmd("SET").arg("b").arg(1)) $($aw)* .unwrap(), "OK is true");
        assert!(!$c.query::<bool>(&cmd("SET").arg("b").arg(1).arg("NX")) $($aw)* .unwrap(), "null is false");
        assert!(!$c.get::<bool>("no-such-key") $($aw)* .unwrap());
        $c.set("b", "yes") $($aw)* .unwrap();
        assert_type_error($c.get::<bool>("b") $($aw)*, "bool", "bulk string");

        // ---- strings and bytes
        $c.set("str", "héllo") $($aw)* .unwrap();
        assert_eq!($c.get::<String>("str") $($aw)* .unwrap(), "héllo");
        assert_eq!($c.get::<Vec<u8>>("str") $($aw)* .unwrap(), "héllo".as_bytes());
        assert_eq!($c.get::<Bytes>("str") $($aw)* .unwrap(), Bytes::from("héllo"));
        assert_eq!($c.query::<String>(&cmd("PING")) $($aw)* .unwrap(), "PONG", "simple string");
        assert_eq!($c.query::<Bytes>(&cmd("PING")) $($aw)* .unwrap(), "PONG");
        assert_eq!($c.query::<String>(&cmd("EXISTS").arg("str")) $($aw)* .unwrap(), "1", "integer");
        assert_eq!($c.query::<Bytes>(&cmd("EXISTS").arg("str")) $($aw)* .unwrap(), "1");
        $c.set("bin", &[0xffu8, 0xfe][..]) $($aw)* .unwrap();
        let e = $c.get::<String>("bin") $($aw)*;
        assert_type_error(e, "String", "bulk string");
        let e = $c.get::<String>("bin") $($aw)*.unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
        assert_type_error($c.query::<String>(&cmd("LRANGE").arg("x").arg(0).arg(1)) $($aw)*, "String", "array");
        assert_type_error($c.get::<Vec<i64>>("str") $($aw)*, "Vec<i64>", "bulk string");
        assert_type_error($c.query::<Vec<String>>(&cmd("EXISTS").arg("str")) $($aw)*, "Vec", "integer");

        // ---- Option and ()
        assert_eq!($c.get::<Option<String>>("str") $($aw)* .unwrap().as_deref(), Some("héllo"));
        assert_eq!($c.get::<Option<String>>("no-such-key") $($aw)* .unwrap(), None);
        assert_eq!($c.get::<Option<i64>>("no-such-key") $($aw)* .unwrap(), None);
        // A null array (BLPOP timing out) is None too.
        let c = cmd("BLPOP").arg("no-such-list").arg(0.01).blocks_for(Some(Duration::from_millis(10)));
        assert_eq!($c.query::<Option<(String, String)>>(&c) $($aw)* .unwrap(), None);
        assert_eq!($c.query::<Option<Vec<String>>>(&c) $($aw)* .unwrap(), None);
        $c.query::<()>(&cmd("GET").arg("no-such-key")) $($aw)* .unwrap();
        $c.query::<()>(&cmd("LRANGE").arg("x").arg(0).arg(1)) $($aw)* .unwrap();
        $c.query::<()>(&cmd("PING")) $($aw)* .unwrap();
        assert_server_error($c.query::<()>(&cmd("NOSUCHCOMMAND")) $($aw)*, ServerErrorKind::Other("ERR".into()));

        // ---- Vec and sets
        $c.del("list") $($aw)* .unwrap();
        $c.rpush("list", &["3", "1", "2", "1"]) $($aw)* .unwrap();
        let c = cmd("LRANGE").arg("list").arg(0).arg(-1);
        assert_eq!($c.query::<Vec<String>>(&c) $($aw)* .unwrap(), ["3", "1", "2", "1"]);
        assert_eq!($c.query::<Vec<i64>>(&c) $($aw)* .unwrap(), [3, 1, 2, 1]);
        assert_eq!($c.query::<Vec<Vec<u8>>>(&c) $($aw)* .unwrap(), [b"3", b"1", b"2", b"1"]);
        assert_eq!($c.query::<Vec<Bytes>>(&c) $($aw)* .unwrap()[0], "3");
        assert_eq!($c.query::<HashSet<u8>>(&c) $($aw)* .unwrap(), HashSet::from([1, 2, 3]));
        assert_eq!(
            $c.query::<BTreeSet<String>>(&c) $($aw)* .unwrap().into_iter().collect::<Vec<_>>(),
            ["1", "2", "3"]
        );
        let empty = cmd("LRANGE").arg("no-such-list").arg(0).arg(-1);
        assert!($c.query::<Vec<String>>(&empty) $($aw)* .unwrap().is_empty());
        assert!($c.query::<HashSet<String>>(&empty) $($aw)* .unwrap().is_empty());
        assert!($c.query::<BTreeSet<String>>(&empty) $($aw)* .unwrap().is_empty());
        // A null converts to an empty collection.
        assert!($c.get::<Vec<String>>("no-such-key") $($aw)* .unwrap().is_empty());
        assert!($c.get::<HashSet<String>>("no-such-key") $($aw)* .unwrap().is_empty());
        assert!($c.get::<HashMap<String, String>>("no-such-key") $($aw)* .unwrap().is_empty());
        // Nested arrays, and a failing element inside one.
        let nested = cmd("EVAL").arg("return {{1, 2}, {3}, {}}").arg(0);
        assert_eq!($c.query::<Vec<Vec<i64>>>(&nested) $($aw)* .unwrap(), vec![vec![1, 2], vec![3], vec![]]);
        let mixed = cmd("EVAL").arg("return {1, 'x'}").arg(0);
        assert_type_error($c.query::<Vec<i64>>(&mixed) $($aw)*, "i64", "bulk string");

        // ---- tuples
        let c = cmd("MGET").arg("int").arg("str").arg("no-such-key");
        let (a, b, z): (i64, String, Option<String>) = $c.query(&c) $($aw)* .unwrap();
        assert_eq!((b.as_str(), z), ("héllo", None));
        let _ = a;
        let c = cmd("MGET").arg("str");
        assert_eq!($c.query::<(String,)>(&c) $($aw)* .unwrap().0, "héllo");
        let eight = cmd("EVAL").arg("return {1, 2, 3, 4, 5, 6, 7, 8}").arg(0);
        let t: (u8, u16, u32, u64, i8, i16, i32, i64) = $c.query(&eight) $($aw)* .unwrap();
        assert_eq!(t, (1, 2, 3, 4, 5, 6, 7, 8));
        let e = $c.query::<(i64, i64, i64)>(&eight) $($aw)*;
        assert_type_error(e, "(i64, i64, i64)", "array");
        assert_type_error($c.get::<(String, String)>("str") $($aw)*, "(alloc::string::String, alloc::string::String)", "bulk string");

        // ---- maps and pairs (flat `k v k v` replies)
        $c.del("hash") $($aw)* .unwrap();
        $c.hset_multiple("hash", &[("a", 1), ("b", 2)]) $($aw)* .unwrap();
        let c = cmd("HGETALL").arg("hash");
        let m: HashMap<String, i64> = $c.query(&c) $($aw)* .unwrap();
        assert_eq!(m, HashMap::from([("a".to_string(), 1), ("b".to_string(), 2)]));
        let m: BTreeMap<Bytes, String> = $c.query(&c) $($aw)* .unwrap();
        assert_eq!(m.len(), 2);
        let v: Vec<(String, u8)> = sorted($c.query(&c) $($aw)* .unwrap());
        assert_eq!(v, [("a".to_string(), 1), ("b".to_string(), 2)]);
        let v: Vec<(String, String, String, String)> = $c.query(&c) $($aw)* .unwrap();
        assert_eq!(v.len(), 1, "groups of four");
        let c = cmd("ZADD").arg("zs").arg(1.5).arg("x").arg(-2).arg("y");
        $c.query::<()>(&c) $($aw)* .unwrap();
        let c = cmd("ZRANGE").arg("zs").arg(0).arg(-1).arg("WITHSCORES");
        let v: Vec<(String, f64)> = $c.query(&c) $($aw)* .unwrap();
        assert_eq!(v, [("y".to_string(), -2.0), ("x".to_string(), 1.5)]);
        let m: HashMap<String, f64> = $c.query(&c) $($aw)* .unwrap();
        assert_eq!(m["x"], 1.5);
        // An odd flat array does not split into pairs.
        let odd = cmd("EVAL").arg("return {'a', 'b', 'c'}").arg(0);
        assert_type_error($c.query::<Vec<(String, String)>>(&odd) $($aw)*, "(alloc::string::String, alloc::string::String)", "array");
        assert!($c.query::<HashMap<String, String>>(&odd) $($aw)*.is_err());
        assert_type_error($c.get::<HashMap<String, String>>("str") $($aw)*, "HashMap", "bulk string");
        assert_type_error($c.get::<BTreeMap<String, String>>("str") $($aw)*, "BTreeMap", "bulk string");
        assert_type_error($c.get::<HashSet<String>>("str") $($aw)*, "HashSet", "bulk string");
        assert_type_error($c.get::<BTreeSet<String>>("str") $($aw)*, "BTreeSet", "bulk string");
        // Nested pairs (`[[k, v], [k, v]]`) read as pairs too.
        let nested = cmd("EVAL").arg("return {{'a', 1}, {'b', 2}}").arg(0);
        let v: Vec<(String, i64)> = $c.query(&nested) $($aw)* .unwrap();
        assert_eq!(v, [("a".to_string(), 1), ("b".to_string(), 2)]);

        // ---- the raw frame: every reply kind, an error inside an array kept as is
        let c = cmd("EVAL")
            .arg("return {1, 'two', {3}, redis.status_reply('FINE'), redis.error_reply('ERR inner'), false}")
            .arg(0);
        let f: Frame = $c.query(&c) $($aw)* .unwrap();
        assert_eq!(
            f,
            Frame::Array(vec![
                Frame::Integer(1),
                Frame::bulk("two"),
                Frame::Array(vec![Frame::Integer(3)]),
                Frame::simple("FINE"),
                Frame::error("ERR inner"),
                Frame::Null,
            ])
        );
        let v: Vec<Frame> = $c.query(&c) $($aw)* .unwrap();
        assert_eq!(v.len(), 6);
        // The same error element into any other type is the server's error.
        let e = $c.query::<Vec<String>>(&cmd("EVAL").arg("return {'a', redis.error_reply('WRONGTYPE inner')}").arg(0)) $($aw)*;
        assert_server_error(e, ServerErrorKind::WrongType);
        assert_eq!($c.query::<Frame>(&cmd("GET").arg("no-such-key")) $($aw)* .unwrap(), Frame::Null);
        assert_eq!($c.query::<Frame>(&cmd("PING")) $($aw)* .unwrap(), Frame::simple("PONG"));
        // A top-level error is an Err even into Frame (send_command gives the raw frame).
        assert_server_error($c.query::<Frame>(&cmd("NOSUCHCOMMAND")) $($aw)*, ServerErrorKind::Other("ERR".into()));
        let raw = $c.send_command(&cmd("NOSUCHCOMMAND")) $($aw)* .unwrap();
        assert!(raw.is_error(), "{raw:?}");
    }};
}

#[tokio::test]
async fn conversions_async() {
    use slotline_conn::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::Connection::connect(config(&server))
        .await
        .unwrap();
    every_conversion!(c; .await);
}

#[test]
fn conversions_blocking() {
    use slotline_conn::blocking::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::blocking::Connection::connect(config(&server)).unwrap();
    every_conversion!(c;);
}

// ---------------------------------------------------------------- arguments, binary safety

macro_rules! binary_everywhere {
    ($c:ident; $($aw:tt)*) => {{
        $c.flushdb() $($aw)* .unwrap();
        let all: Vec<u8> = (0..=255u8).collect();
        let value = all.repeat(4);
        $c.set(&all, &value) $($aw)* .unwrap();
        assert_eq!($c.get::<Vec<u8>>(&all[..]) $($aw)* .unwrap(), value);
        assert_eq!($c.get::<Bytes>(Bytes::from(all.clone())) $($aw)* .unwrap(), value);
        assert_eq!($c.get::<Option<Vec<u8>>>(&all) $($aw)* .unwrap(), Some(value.clone()));
        assert_eq!($c.strlen(&all) $($aw)* .unwrap(), 1024);
        let keys: Vec<Vec<u8>> = $c.keys("*") $($aw)* .unwrap();
        assert!(keys.contains(&all), "KEYS returns the binary key as is");
        // Binary hash fields, list elements, set and sorted-set members.
        let hk = [b"h".as_slice(), &all].concat();
        assert_eq!($c.hset(&hk, &all, &value) $($aw)* .unwrap(), 1);
        let h: Vec<(Vec<u8>, Vec<u8>)> = $c.hgetall(&hk) $($aw)* .unwrap();
        assert_eq!(h, [(all.clone(), value.clone())]);
        let lk = [b"l".as_slice(), &all].concat();
        $c.rpush(&lk, vec![all.clone(), value.clone()]) $($aw)* .unwrap();
        let l: Vec<Vec<u8>> = $c.lrange(&lk, 0, -1) $($aw)* .unwrap();
        assert_eq!(l, [all.clone(), value.clone()]);
        let sk = [b"s".as_slice(), &all].concat();
        $c.sadd(&sk, &all) $($aw)* .unwrap();
        assert!($c.sismember(&sk, &all) $($aw)* .unwrap());
        let zk = [b"z".as_slice(), &all].concat();
        $c.zadd(&zk, &all, 1.0) $($aw)* .unwrap();
        let z: Vec<(Vec<u8>, f64)> = $c.zrange_withscores(&zk, 0, -1) $($aw)* .unwrap();
        assert_eq!(z, [(all.clone(), 1.0)]);
        // Every byte value as a one-byte key, in one pipeline; read back in one MGET.
        let mut p = pipe();
        for b in 0..=255u8 {
            p.set([b], [b, b, b'\r', b'\n', b]).ignore();
        }
        $c.pipeline::<()>(&p) $($aw)* .unwrap();
        let one_byte_keys: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        let vals: Vec<Vec<u8>> = $c.mget(&one_byte_keys) $($aw)* .unwrap();
        for (b, v) in (0..=255u8).zip(&vals) {
            assert_eq!(v, &[b, b, b'\r', b'\n', b], "key {b}");
        }
        // Not UTF-8: a String conversion is refused, bytes are not.
        assert_type_error($c.get::<String>(&all) $($aw)*, "String", "bulk string");
        // Arguments of every kind arrive as the bytes they should.
        let (c, want) = every_argument_kind();
        $c.del("args") $($aw)* .unwrap();
        let n: usize = $c.query(&c) $($aw)* .unwrap();
        assert_eq!(n, want.len());
        let got: Vec<Vec<u8>> = $c.lrange("args", 0, -1) $($aw)* .unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g, w,
                "argument {i}: {:?} != {:?}",
                String::from_utf8_lossy(g),
                String::from_utf8_lossy(w)
            );
        }
        assert_eq!(got.len(), want.len());
        // A float written by the client reads back as the same value.
        let back: f64 = $c.lindex("args", 25) $($aw)* .unwrap();
        assert_eq!(back, 1e300);
    }};
}

#[tokio::test]
async fn arguments_and_binary_async() {
    use slotline_conn::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::Connection::connect(config(&server))
        .await
        .unwrap();
    binary_everywhere!(c; .await);
    let c = slotline_conn::Client::connect(config(&server))
        .await
        .unwrap();
    binary_everywhere!(c; .await);
}

#[test]
fn arguments_and_binary_blocking() {
    use slotline_conn::blocking::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::blocking::Connection::connect(config(&server)).unwrap();
    binary_everywhere!(c;);
    let c = slotline_conn::blocking::Client::connect(config(&server)).unwrap();
    binary_everywhere!(c;);
}

// ---------------------------------------------------------------- big value, big pipeline

macro_rules! big_value_round_trip {
    ($c:ident, $value:expr; $($aw:tt)*) => {{
        let value: &Bytes = $value;
        $c.set("big", value) $($aw)* .unwrap();
        assert_eq!($c.strlen("big") $($aw)* .unwrap(), 100 << 20);
        let got: Bytes = $c.get("big") $($aw)* .unwrap();
        assert!(got.len() == value.len() && got == value, "100 MiB came back different");
        // The connection is still in step after it.
        assert_eq!($c.ping() $($aw)* .unwrap(), "PONG");
        $c.del("big") $($aw)* .unwrap();
    }};
}

#[tokio::test]
async fn big_value_async() {
    use slotline_conn::Commands;
    let server = Standalone::builder().local().start().unwrap();
    let value = big_value();
    let c = slotline_conn::Connection::connect(patient(&server))
        .await
        .unwrap();
    big_value_round_trip!(c, &value; .await);
    let c = slotline_conn::Client::connect(patient(&server))
        .await
        .unwrap();
    big_value_round_trip!(c, &value; .await);
}

#[test]
fn big_value_blocking() {
    use slotline_conn::blocking::Commands;
    let server = Standalone::builder().local().start().unwrap();
    let value = big_value();
    let c = slotline_conn::blocking::Connection::connect(patient(&server)).unwrap();
    big_value_round_trip!(c, &value;);
    let c = slotline_conn::blocking::Client::connect(patient(&server)).unwrap();
    big_value_round_trip!(c, &value;);
}

const PIPELINE_LEN: usize = 100_000;

macro_rules! big_pipeline {
    ($c:ident; $($aw:tt)*) => {{
        $c.del("n") $($aw)* .unwrap();
        let mut p = pipe();
        for _ in 0..PIPELINE_LEN {
            p.incr("n");
        }
        let got: Vec<i64> = $c.pipeline(&p) $($aw)* .unwrap();
        assert_eq!(got.len(), PIPELINE_LEN);
        assert!(got.iter().zip(1..).all(|(g, w)| *g == w), "replies out of order");
        // Mixed commands, ignored replies, and an error reply kept in place.
        let mut p = Pipeline::with_capacity(PIPELINE_LEN);
        for i in 0..PIPELINE_LEN {
            match i % 4 {
                0 => p.set(format!("pk{i}"), i).ignore(),
                1 => p.get(format!("pk{}", i - 1)),
                2 => p.cmd("ECHO").arg(i),
                _ => p.incr("n"),
            };
        }
        let got: Vec<Frame> = $c.pipeline(&p) $($aw)* .unwrap();
        assert_eq!(got.len(), PIPELINE_LEN / 4 * 3);
        for (j, f) in got.chunks(3).enumerate() {
            let i = j * 4;
            assert_eq!(f[0], Frame::bulk(i.to_string()), "GET pk{i}");
            assert_eq!(f[1], Frame::bulk((i + 2).to_string()), "ECHO {}", i + 2);
            assert_eq!(f[2], Frame::Integer((PIPELINE_LEN + j + 1) as i64));
        }
        let mut p = pipe();
        p.incr("n").cmd("LPUSH").arg("n").arg("x").incr("n");
        let got: Vec<Frame> = $c.pipeline(&p) $($aw)* .unwrap();
        assert!(got[1].is_error() && got[2] == Frame::Integer(got[0].as_int().unwrap() + 1));
        assert_server_error($c.pipeline::<Vec<i64>>(&p) $($aw)*, ServerErrorKind::WrongType);
        $c.flushdb() $($aw)* .unwrap();
    }};
}

#[tokio::test]
async fn pipeline_100k_async() {
    use slotline_conn::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::Connection::connect(patient(&server))
        .await
        .unwrap();
    big_pipeline!(c; .await);
    let c = slotline_conn::Client::connect(patient(&server))
        .await
        .unwrap();
    big_pipeline!(c; .await);
}

#[test]
fn pipeline_100k_blocking() {
    use slotline_conn::blocking::{Commands, Query};
    let server = Standalone::builder().local().start().unwrap();
    let c = slotline_conn::blocking::Connection::connect(patient(&server)).unwrap();
    big_pipeline!(c;);
    let c = slotline_conn::blocking::Client::connect(patient(&server)).unwrap();
    big_pipeline!(c;);
}

// ---------------------------------------------------------------- scans

/// 1,000 keys `scan:{i}`, 100 other keys, and a hash, a set and a sorted set of 1,000
/// elements each (large enough to be real hash tables, so the cursor takes many steps),
/// plus small ones (listpack/intset: one step).
fn fill_for_scan(server: &Standalone) {
    let mut raw = server.conn().unwrap();
    let mut cmds: Vec<Vec<String>> = Vec::new();
    for i in 0..1000 {
        cmds.push(vec!["SET".into(), format!("scan:{i}"), i.to_string()]);
        cmds.push(vec![
            "HSET".into(),
            "hash".into(),
            format!("f{i}"),
            format!("v{i}"),
        ]);
        cmds.push(vec!["SADD".into(), "set".into(), format!("m{i}")]);
        cmds.push(vec![
            "ZADD".into(),
            "zset".into(),
            i.to_string(),
            format!("z{i}"),
        ]);
    }
    for i in 0..100 {
        cmds.push(vec!["SET".into(), format!("other:{i}"), "x".into()]);
    }
    cmds.push(strings(&["HSET", "small-hash", "a", "1", "b", "2"]));
    cmds.push(strings(&["SADD", "small-set", "1", "2", "3"]));
    for c in &cmds {
        raw.send(c).unwrap();
    }
    for _ in &cmds {
        assert!(!raw.read_frame().unwrap().is_error());
    }
}

fn check_unique<T: std::hash::Hash + Eq + std::fmt::Debug + Clone>(
    items: &[T],
    want: usize,
    what: &str,
) -> HashSet<T> {
    let set: HashSet<T> = items.iter().cloned().collect();
    assert_eq!(items.len(), want, "{what}: {} items", items.len());
    assert_eq!(set.len(), want, "{what}: duplicates");
    set
}

#[allow(clippy::too_many_arguments)]
fn check_scans(
    keys: Vec<String>,
    all_keys: Vec<String>,
    hashes: Vec<(String, String)>,
    hash_f1: Vec<(String, String)>,
    members: Vec<String>,
    scored: Vec<(String, f64)>,
    of_type: Vec<String>,
    small: Vec<(String, i64)>,
) {
    let set = check_unique(&keys, 1000, "SCAN MATCH scan:*");
    assert!((0..1000).all(|i| set.contains(&format!("scan:{i}"))));
    check_unique(&all_keys, 1000 + 100 + 5, "SCAN");
    let set = check_unique(&hashes, 1000, "HSCAN");
    assert!((0..1000).all(|i| set.contains(&(format!("f{i}"), format!("v{i}")))));
    // f1, f10..f19, f100..f199
    check_unique(&hash_f1, 111, "HSCAN MATCH f1*");
    assert!(hash_f1.iter().all(|(f, _)| f.starts_with("f1")));
    let set = check_unique(&members, 1000, "SSCAN");
    assert!((0..1000).all(|i| set.contains(&format!("m{i}"))));
    assert_eq!(scored.len(), 1000, "ZSCAN");
    let map: HashMap<String, f64> = scored.into_iter().collect();
    assert_eq!(map.len(), 1000, "ZSCAN: duplicates");
    assert!((0..1000).all(|i| map.get(&format!("z{i}")) == Some(&f64::from(i))));
    assert_eq!(sorted(of_type), ["hash", "small-hash"], "SCAN TYPE hash");
    assert_eq!(sorted(small), [("a".to_string(), 1), ("b".to_string(), 2)]);
}

macro_rules! async_scans {
    ($c:ident) => {{
        let keys = $c
            .scan::<String>(ScanOptions::keys().pattern("scan:*").count(100))
            .collect_all()
            .await
            .unwrap();
        let all_keys = $c
            .scan::<String>(ScanOptions::keys())
            .collect_all()
            .await
            .unwrap();
        let hashes = $c
            .scan::<(String, String)>(ScanOptions::hash("hash").count(50))
            .collect_all()
            .await
            .unwrap();
        let hash_f1 = $c
            .scan::<(String, String)>(ScanOptions::hash("hash").pattern("f1*"))
            .collect_all()
            .await
            .unwrap();
        // Item by item, with `next`.
        let mut members = Vec::new();
        let mut it = $c.scan::<String>(ScanOptions::set("set").count(37));
        while let Some(m) = it.next().await {
            members.push(m.unwrap());
        }
        assert!(it.next().await.is_none(), "stays finished");
        let scored = $c
            .scan::<(String, f64)>(ScanOptions::sorted_set("zset").count(200))
            .collect_all()
            .await
            .unwrap();
        let of_type = $c
            .scan::<String>(ScanOptions::keys().key_type("hash").count(1000))
            .collect_all()
            .await
            .unwrap();
        let small = $c
            .scan::<(String, i64)>(ScanOptions::hash("small-hash"))
            .collect_all()
            .await
            .unwrap();
        let ints = $c
            .scan::<u8>(ScanOptions::set("small-set"))
            .collect_all()
            .await
            .unwrap();
        assert_eq!(sorted(ints), [1, 2, 3]);
        // Scanning a key of the wrong type: the server's error, then the end.
        let mut bad = $c.scan::<String>(ScanOptions::hash("scan:1"));
        assert_server_error(bad.next().await.unwrap(), ServerErrorKind::WrongType);
        assert!(bad.next().await.is_none());
        // A conversion error is that item's: the iteration goes on.
        let mut conv = $c.scan::<i64>(ScanOptions::set("set").count(100));
        let mut type_errors = 0;
        while let Some(item) = conv.next().await {
            assert!(matches!(item, Err(Error::Type(_))), "{item:?}");
            type_errors += 1;
        }
        assert_eq!(type_errors, 1000);
        check_scans(
            keys, all_keys, hashes, hash_f1, members, scored, of_type, small,
        );
    }};
}

macro_rules! blocking_scans {
    ($c:ident) => {{
        type R<T> = slotline_conn::Result<Vec<T>>;
        let keys = $c
            .scan::<String>(ScanOptions::keys().pattern("scan:*").count(100))
            .collect::<R<_>>()
            .unwrap();
        let all_keys = $c
            .scan::<String>(ScanOptions::keys())
            .collect::<R<_>>()
            .unwrap();
        let hashes = $c
            .scan::<(String, String)>(ScanOptions::hash("hash").count(50))
            .collect::<R<_>>()
            .unwrap();
        let hash_f1 = $c
            .scan::<(String, String)>(ScanOptions::hash("hash").pattern("f1*"))
            .collect::<R<_>>()
            .unwrap();
        let mut members = Vec::new();
        let mut it = $c.scan::<String>(ScanOptions::set("set").count(37));
        for m in it.by_ref() {
            members.push(m.unwrap());
        }
        assert!(it.next().is_none(), "stays finished");
        let scored = $c
            .scan::<(String, f64)>(ScanOptions::sorted_set("zset").count(200))
            .collect::<R<_>>()
            .unwrap();
        let of_type = $c
            .scan::<String>(ScanOptions::keys().key_type("hash").count(1000))
            .collect::<R<_>>()
            .unwrap();
        let small = $c
            .scan::<(String, i64)>(ScanOptions::hash("small-hash"))
            .collect::<R<_>>()
            .unwrap();
        let ints = $c
            .scan::<u8>(ScanOptions::set("small-set"))
            .collect::<R<_>>()
            .unwrap();
        assert_eq!(sorted(ints), [1, 2, 3]);
        let mut bad = $c.scan::<String>(ScanOptions::hash("scan:1"));
        assert_server_error(bad.next().unwrap(), ServerErrorKind::WrongType);
        assert!(bad.next().is_none());
        let conv = $c.scan::<i64>(ScanOptions::set("set").count(100));
        let results: Vec<_> = conv.collect();
        assert_eq!(results.len(), 1000);
        assert!(results.iter().all(|r| matches!(r, Err(Error::Type(_)))));
        check_scans(
            keys, all_keys, hashes, hash_f1, members, scored, of_type, small,
        );
    }};
}

#[tokio::test]
async fn scan_async() {
    use slotline_conn::Query;
    let server = Standalone::builder().local().start().unwrap();
    fill_for_scan(&server);
    let c = slotline_conn::Connection::connect(config(&server))
        .await
        .unwrap();
    async_scans!(c);
    let c = slotline_conn::Client::connect(config(&server))
        .await
        .unwrap();
    async_scans!(c);
}

#[test]
fn scan_blocking() {
    use slotline_conn::blocking::Query;
    let server = Standalone::builder().local().start().unwrap();
    fill_for_scan(&server);
    let c = slotline_conn::blocking::Connection::connect(config(&server)).unwrap();
    blocking_scans!(c);
    let c = slotline_conn::blocking::Client::connect(config(&server)).unwrap();
    blocking_scans!(c);
}

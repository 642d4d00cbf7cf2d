//! Replies converted into Rust types, on every client.

use super::*;

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

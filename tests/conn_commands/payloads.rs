//! Arguments of every kind, binary safety, a big value and a big pipeline.

use super::*;

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

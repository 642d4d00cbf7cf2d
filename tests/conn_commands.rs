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
    cmd, pipe, Addr, Cmd, ConnectionConfig, ErrorKind, Frame, Pipeline, ScanOptions,
    ServerErrorKind, TypeError,
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
        Err(e) if e.type_error().is_some() => {
            let Some(TypeError {
                expected: e_expected,
                got: e_got,
                ..
            }) = e.type_error()
            else {
                unreachable!()
            };
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
        Err(e) if e.kind() == ErrorKind::Server => assert_eq!(e.server_kind(), Some(&kind), "{e}"),
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

#[path = "conn_commands/conversions.rs"]
mod conversions;
#[path = "conn_commands/payloads.rs"]
mod payloads;
#[path = "conn_commands/scans.rs"]
mod scans;
#[path = "conn_commands/typed.rs"]
mod typed;

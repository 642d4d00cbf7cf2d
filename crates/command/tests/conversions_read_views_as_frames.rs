//! Every conversion reads a reply kept in its received bytes (a `ReplyRef` view, what the
//! shared client hands it) exactly as it reads the same reply built as a `Frame`: the same
//! value, or the same error.

#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, DefaultHasher};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use slotline_command::{convert, convert_read, Frame, FromReply};
use slotline_resp::Decoder;

/// Payloads that some conversions accept and others refuse.
fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        Just(Bytes::from_static(b"1")),
        Just(Bytes::from_static(b"0")),
        Just(Bytes::from_static(b"-42")),
        Just(Bytes::from_static(b"3.5")),
        Just(Bytes::from_static(b"OK")),
        Just(Bytes::from_static(b"true")),
        Just(Bytes::from_static(b"")),
        Just(Bytes::from_static(b"\xff\xfe")),
        Just(Bytes::from_static(b"MOVED 3999 127.0.0.1:6381")),
        "[a-z]{1,6}".prop_map(Bytes::from),
    ]
}

fn scalar() -> impl Strategy<Value = Frame> {
    prop_oneof![
        payload().prop_map(Frame::Bulk),
        payload().prop_map(|b| Frame::Simple(Bytes::from(
            b.iter()
                .copied()
                .filter(|c| *c != b'\r' && *c != b'\n')
                .collect::<Vec<u8>>()
        ))),
        Just(Frame::Error(Bytes::from_static(
            b"WRONGTYPE Operation against a key"
        ))),
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(-1),
            Just(300),
            Just(i64::MAX),
            Just(i64::MIN)
        ]
        .prop_map(Frame::Integer),
        Just(Frame::Null),
        Just(Frame::NullArray),
        // RESP3's scalars.
        prop_oneof![
            Just(Bytes::from_static(b"1.5")),
            Just(Bytes::from_static(b"-2")),
            Just(Bytes::from_static(b"inf")),
            Just(Bytes::from_static(b"nan")),
        ]
        .prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        prop_oneof![
            Just(Bytes::from_static(b"12")),
            Just(Bytes::from_static(
                b"-170141183460469231731687303715884105728"
            )),
            Just(Bytes::from_static(
                b"99999999999999999999999999999999999999999"
            )),
        ]
        .prop_map(Frame::BigNumber),
        payload().prop_map(|b| {
            let mut text = b"txt:".to_vec();
            text.extend_from_slice(&b);
            Frame::Verbatim(Bytes::from(text))
        }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    scalar().prop_recursive(3, 40, 6, |inner| {
        prop_oneof![
            3 => prop::collection::vec(inner.clone(), 0..7).prop_map(Frame::Array),
            1 => prop::collection::vec(inner.clone(), 0..3)
                .prop_map(|keys| Frame::Map(keys.into_iter().flat_map(|k| [k.clone(), k]).collect())),
            1 => prop::collection::vec(inner.clone(), 0..7).prop_map(Frame::Set),
            1 => prop::collection::vec(inner, 0..7).prop_map(Frame::Push),
        ]
    })
}

/// Both readings of `frame` as `T`, in a comparable form.
fn both<T: FromReply + std::fmt::Debug>(frame: &Frame) -> (String, String) {
    let from_frame = format!("{:?}", convert::<T>(frame.clone()));
    let wire = frame.to_wire();
    let reply = Decoder::default()
        .decode_reply(&mut BytesMut::from(&wire[..]))
        .expect("a frame's own encoding decodes")
        .expect("and is complete");
    let from_view = format!("{:?}", convert_read::<T, _>(reply.view()));
    // `&Frame` reads the same way too.
    let from_ref = format!("{:?}", convert_read::<T, _>(frame));
    assert_eq!(from_ref, from_frame, "&Frame vs Frame");
    (from_view, from_frame)
}

/// A map whose debug output has one order, for comparing (the hasher has fixed keys).
type FixedMap<K, V> = HashMap<K, V, BuildHasherDefault<DefaultHasher>>;

macro_rules! same_for {
    ($frame:expr; $($t:ty),* $(,)?) => {$(
        let (view, frame) = both::<$t>($frame);
        prop_assert_eq!(view, frame, "as {}", stringify!($t));
    )*};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_conversion_reads_a_view_as_it_reads_the_frame(frame in frame()) {
        same_for!(&frame;
            Frame, (), Bytes, String, Vec<u8>, i64, u8, u16, usize, i128, f64, bool,
            Option<String>, Option<i64>, Vec<String>, Vec<Option<Bytes>>, Vec<i64>,
            Vec<Frame>, Vec<(String, i64)>, Vec<(Bytes, Option<String>)>, Vec<Vec<u8>>,
            FixedMap<String, String>, BTreeMap<String, i64>, BTreeSet<i64>,
            (String,), (i64, Vec<String>), (Frame, Option<i64>, bool),
            Vec<(String, Vec<(i64, String)>)>, Option<Vec<Option<(String, String)>>>,
        );
    }
}

#[test]
fn a_flat_array_reads_as_pairs_and_a_nested_one_as_tuples() {
    let flat = Frame::Array(vec![
        Frame::bulk("a"),
        Frame::bulk("1"),
        Frame::bulk("b"),
        Frame::Integer(2),
    ]);
    let nested = Frame::Array(vec![
        Frame::Array(vec![Frame::bulk("a"), Frame::bulk("1")]),
        Frame::Array(vec![Frame::bulk("b"), Frame::Integer(2)]),
    ]);
    for frame in [&flat, &nested] {
        let (view, from_frame) = both::<Vec<(String, i64)>>(frame);
        assert_eq!(view, from_frame);
        assert_eq!(view, r#"Ok([("a", 1), ("b", 2)])"#);
    }
    let (odd, _) = both::<Vec<(String, i64)>>(&Frame::Array(vec![Frame::bulk("a")]));
    assert!(odd.contains("do not split into groups of 2"), "{odd}");
}

#[test]
fn an_error_reply_is_the_servers_error_and_inside_an_array_only_frame_keeps_it() {
    let err = Frame::Error(Bytes::from_static(b"MOVED 3999 127.0.0.1:6381"));
    let (view, _) = both::<String>(&err);
    assert!(view.starts_with("Err(Error { kind: Server,"), "{view}");
    assert!(view.contains("Moved"), "{view}");
    let inside = Frame::Array(vec![Frame::bulk("ok"), err.clone()]);
    let (as_frames, _) = both::<Vec<Frame>>(&inside);
    assert!(as_frames.starts_with("Ok("), "{as_frames}");
    let (as_strings, _) = both::<Vec<String>>(&inside);
    assert!(
        as_strings.starts_with("Err(Error { kind: Server,"),
        "{as_strings}"
    );
}

/// The same conversion of a RESP3 reply and of the RESP2 reply a server sends in its
/// place: user code reads both alike.
macro_rules! same_as_resp2 {
    ($resp3:expr, $resp2:expr; $($t:ty),* $(,)?) => {$(
        assert_eq!(
            both::<$t>(&$resp3),
            both::<$t>(&$resp2),
            "{:?} and {:?} as {}",
            $resp3,
            $resp2,
            stringify!($t)
        );
    )*};
}

#[test]
fn resp3_replies_convert_as_their_resp2_twins() {
    let b = |s: &'static str| Frame::Bulk(Bytes::from_static(s.as_bytes()));
    // HGETALL: a map, or a flat array of pairs.
    let map = Frame::Map(vec![b("a"), Frame::Integer(1), b("b"), Frame::Integer(2)]);
    let flat = Frame::Array(vec![b("a"), Frame::Integer(1), b("b"), Frame::Integer(2)]);
    same_as_resp2!(map, flat;
        FixedMap<String, i64>, BTreeMap<String, i64>, Vec<(String, i64)>, Vec<String>,
        (String, i64, String, i64),
    );
    // ZSCORE: a double, or its text.
    same_as_resp2!(Frame::Double(Bytes::from_static(b"1.5")), b("1.5"); f64, Option<f64>, String);
    same_as_resp2!(Frame::Double(Bytes::from_static(b"inf")), b("inf"); f64, String);
    // A boolean, or 1 / 0.
    for (flag, n) in [(true, 1), (false, 0)] {
        same_as_resp2!(Frame::Boolean(flag), Frame::Integer(n); bool, i64, u8, String, Bytes);
    }
    // RESP3's null, or the null bulk string and the null array.
    same_as_resp2!(Frame::Null, Frame::NullArray; Option<String>, Vec<String>, Option<(i64, i64)>);
    // SMEMBERS: a set, or an array.
    let set = Frame::Set(vec![b("x"), b("y")]);
    let array = Frame::Array(vec![b("x"), b("y")]);
    same_as_resp2!(set, array; BTreeSet<String>, Vec<String>, (String, String));
    // A big number, or its digits.
    let big = "99999999999999999999999999999999999999";
    same_as_resp2!(Frame::BigNumber(Bytes::from_static(big.as_bytes())), b(big); i128, u128, String);
    // A verbatim string (INFO, LATENCY DOCTOR), or the text alone.
    let verbatim = Frame::Verbatim(Bytes::from_static(b"txt:# Server\r\nredis_version:7.0"));
    same_as_resp2!(verbatim, b("# Server\r\nredis_version:7.0"); String, Bytes, Vec<u8>);
    // ZRANGE ... WITHSCORES: pairs nested as [member, score], or flat.
    let nested = Frame::Array(vec![
        Frame::Array(vec![b("m1"), Frame::Double(Bytes::from_static(b"1"))]),
        Frame::Array(vec![b("m2"), Frame::Double(Bytes::from_static(b"2.5"))]),
    ]);
    let flat = Frame::Array(vec![b("m1"), b("1"), b("m2"), b("2.5")]);
    same_as_resp2!(nested, flat; Vec<(String, f64)>, FixedMap<String, f64>);
}

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
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    scalar().prop_recursive(3, 40, 6, |inner| {
        prop::collection::vec(inner, 0..7).prop_map(Frame::Array)
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

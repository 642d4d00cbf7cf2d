//! Decoding every frame type, incrementally, zero-copy, pipelined; and the accessors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use slotline_resp::{Decoder, Frame};

/// Decodes all of `wire` (given whole) into frames; panics on error or on leftovers.
fn decode_all(wire: &[u8]) -> Vec<Frame> {
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(wire);
    let mut frames = Vec::new();
    while let Some(frame) = dec.decode(&mut buf).unwrap() {
        frames.push(frame);
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    assert!(!dec.is_partial());
    frames
}

fn one(wire: &[u8]) -> Frame {
    let mut frames = decode_all(wire);
    assert_eq!(frames.len(), 1, "{frames:?}");
    frames.pop().unwrap()
}

#[test]
fn every_frame_type_decodes() {
    assert_eq!(one(b"+OK\r\n"), Frame::Simple("OK".into()));
    assert_eq!(one(b"+\r\n"), Frame::Simple("".into()));
    assert_eq!(
        one(b"+hello world\r\n"),
        Frame::Simple("hello world".into())
    );
    assert_eq!(
        one(b"-ERR unknown command\r\n"),
        Frame::Error("ERR unknown command".into())
    );
    assert_eq!(one(b":0\r\n"), Frame::Integer(0));
    assert_eq!(one(b":-17\r\n"), Frame::Integer(-17));
    assert_eq!(one(b":9223372036854775807\r\n"), Frame::Integer(i64::MAX));
    assert_eq!(one(b":-9223372036854775808\r\n"), Frame::Integer(i64::MIN));
    assert_eq!(one(b":007\r\n"), Frame::Integer(7));
    assert_eq!(one(b"$5\r\nhello\r\n"), Frame::Bulk("hello".into()));
    assert_eq!(one(b"$0\r\n\r\n"), Frame::Bulk("".into()));
    // Bulk strings are binary-safe: CR, LF and NUL inside are payload.
    assert_eq!(
        one(b"$6\r\na\r\nb\0c\r\n"),
        Frame::Bulk(Bytes::from_static(b"a\r\nb\0c"))
    );
    assert_eq!(one(b"$-1\r\n"), Frame::Null);
    assert_eq!(one(b"*-1\r\n"), Frame::NullArray);
    assert_eq!(one(b"*0\r\n"), Frame::Array(vec![]));
    assert_eq!(
        one(b"*2\r\n$3\r\nfoo\r\n:1\r\n"),
        Frame::Array(vec![Frame::Bulk("foo".into()), Frame::Integer(1)])
    );
}

#[test]
fn nested_arrays_with_every_element_type() {
    let wire =
        b"*3\r\n*2\r\n+OK\r\n-ERR x\r\n*0\r\n*4\r\n$-1\r\n*-1\r\n*1\r\n*1\r\n:5\r\n$2\r\nab\r\n";
    let expected = Frame::Array(vec![
        Frame::Array(vec![
            Frame::Simple("OK".into()),
            Frame::Error("ERR x".into()),
        ]),
        Frame::Array(vec![]),
        Frame::Array(vec![
            Frame::Null,
            Frame::NullArray,
            Frame::Array(vec![Frame::Array(vec![Frame::Integer(5)])]),
            Frame::Bulk("ab".into()),
        ]),
    ]);
    assert_eq!(one(wire), expected);
    assert_eq!(&expected.to_wire()[..], &wire[..]);
}

#[test]
fn pipelined_replies_come_out_one_per_call() {
    let wire = b"+OK\r\n:1\r\n$3\r\nfoo\r\n*2\r\n:1\r\n:2\r\n$-1\r\n-ERR no\r\n*-1\r\n";
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(&wire[..]);
    let mut lens = vec![buf.len()];
    let mut frames = Vec::new();
    while let Some(frame) = dec.decode(&mut buf).unwrap() {
        frames.push(frame);
        lens.push(buf.len());
    }
    assert_eq!(
        frames,
        vec![
            Frame::Simple("OK".into()),
            Frame::Integer(1),
            Frame::Bulk("foo".into()),
            Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)]),
            Frame::Null,
            Frame::Error("ERR no".into()),
            Frame::NullArray,
        ]
    );
    // Each call took exactly one reply's bytes.
    let consumed: Vec<usize> = lens.windows(2).map(|w| w[0] - w[1]).collect();
    assert_eq!(consumed, vec![5, 4, 9, 12, 5, 9, 5]);
    assert!(buf.is_empty());
}

#[test]
fn byte_by_byte_gives_the_same_frames() {
    let wire: &[u8] =
        b"*3\r\n$5\r\nhello\r\n*2\r\n+OK\r\n:-42\r\n-ERR boom\r\n+PONG\r\n$0\r\n\r\n$-1\r\n:12345\r\n*0\r\n";
    let whole = decode_all(wire);
    assert_eq!(whole.len(), 6);

    let mut dec = Decoder::default();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for &b in wire {
        buf.extend_from_slice(&[b]);
        loop {
            let before = buf.clone();
            match dec.decode(&mut buf).unwrap() {
                Some(frame) => frames.push(frame),
                None => {
                    // An incomplete reply leaves the buffer as it was.
                    assert_eq!(buf, before);
                    break;
                }
            }
        }
    }
    assert_eq!(frames, whole);
    assert!(buf.is_empty());
}

#[test]
fn incomplete_replies_leave_the_buffer_untouched() {
    for wire in [
        &b"+OK"[..],
        b"+OK\r",
        b":12",
        b"$5\r\nhel",
        b"$5\r\nhello",
        b"$5\r\nhello\r",
        b"*2\r\n:1\r\n",
        b"*2\r\n:1\r\n$3\r\nfo",
        b"*1\r\n*1\r\n*1\r\n",
        b"*",
        b"$",
        b"$-1\r",
    ] {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::from(wire);
        assert_eq!(dec.decode(&mut buf).unwrap(), None, "{wire:?}");
        assert_eq!(&buf[..], wire);
        // Asking again without new bytes changes nothing either.
        assert_eq!(dec.decode(&mut buf).unwrap(), None, "{wire:?}");
        assert_eq!(&buf[..], wire);
    }
    let mut dec = Decoder::default();
    let mut buf = BytesMut::new();
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
}

#[test]
fn a_one_mib_bulk_is_not_copied() {
    let payload: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let mut wire = format!("${}\r\n", payload.len()).into_bytes();
    wire.extend_from_slice(&payload);
    wire.extend_from_slice(b"\r\n");
    let mut buf = BytesMut::from(&wire[..]);
    let range = buf.as_ptr_range();

    let mut dec = Decoder::default();
    let frame = dec.decode(&mut buf).unwrap().unwrap();
    let data = frame.as_bytes().unwrap();
    assert_eq!(data, &payload[..]);
    let inside = data.as_ptr_range();
    assert!(range.start <= inside.start && inside.end <= range.end);
    assert_eq!(inside.start, range.start.wrapping_add(10)); // after "$1048576\r\n"
}

#[test]
fn array_payloads_are_views_into_the_buffer() {
    let big = vec![b'x'; 1 << 20];
    let mut wire = b"*3\r\n+status\r\n".to_vec();
    wire.extend_from_slice(format!("${}\r\n", big.len()).as_bytes());
    wire.extend_from_slice(&big);
    wire.extend_from_slice(b"\r\n-ERR e\r\n");
    let mut buf = BytesMut::from(&wire[..]);
    let range = buf.as_ptr_range();
    let frame = Decoder::default().decode(&mut buf).unwrap().unwrap();
    let items = frame.as_array().unwrap();
    for item in items {
        let data = item.as_bytes().or(item.error_line()).unwrap();
        let inside = data.as_ptr_range();
        assert!(
            range.start <= inside.start && inside.end <= range.end,
            "{item:?}"
        );
    }
    assert_eq!(items[1].as_bytes().unwrap(), &big[..]);
}

#[test]
fn a_large_array_fed_in_pieces_equals_whole() {
    let mut wire = b"*5000\r\n".to_vec();
    for i in 0..5000 {
        match i % 4 {
            0 => {
                wire.extend_from_slice(format!("${}\r\n{}\r\n", i.to_string().len(), i).as_bytes())
            }
            1 => wire.extend_from_slice(format!(":{i}\r\n").as_bytes()),
            2 => wire.extend_from_slice(b"$-1\r\n"),
            _ => wire.extend_from_slice(b"*2\r\n+a\r\n-b\r\n"),
        }
    }
    let whole = one(&wire);
    for piece in [1, 7, 4096] {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for chunk in wire.chunks(piece) {
            assert!(got.is_none());
            buf.extend_from_slice(chunk);
            got = dec.decode(&mut buf).unwrap();
        }
        assert_eq!(got.as_ref(), Some(&whole));
        assert!(buf.is_empty());
    }
}

#[test]
fn accessors_read_without_copying() {
    let bulk = Frame::Bulk("héllo".into());
    assert_eq!(bulk.as_bytes(), Some("héllo".as_bytes()));
    assert_eq!(bulk.as_str(), Some("héllo"));
    assert_eq!(bulk.to_bytes(), Some(Bytes::from("héllo")));
    assert_eq!(bulk.as_int(), None);
    assert!(!bulk.is_null() && !bulk.is_error());
    assert_eq!(bulk.iter().count(), 0);

    let binary = Frame::Bulk(Bytes::from_static(b"\xff\xfe"));
    assert_eq!(binary.as_bytes(), Some(&b"\xff\xfe"[..]));
    assert_eq!(binary.as_str(), None);

    let simple = Frame::Simple("OK".into());
    assert_eq!(simple.as_str(), Some("OK"));
    assert_eq!(simple.as_bytes(), Some(&b"OK"[..]));

    let int = Frame::Integer(-5);
    assert_eq!(int.as_int(), Some(-5));
    assert_eq!(int.as_bytes(), None);
    assert_eq!(int.as_str(), None);

    assert!(Frame::Null.is_null());
    assert!(Frame::NullArray.is_null());
    assert_eq!(Frame::Null.as_bytes(), None);
    assert_eq!(Frame::NullArray.as_array(), None);

    let arr = Frame::Array(vec![
        Frame::Integer(1),
        Frame::Bulk("b".into()),
        Frame::Null,
    ]);
    let collected: Vec<&Frame> = arr.iter().collect();
    assert_eq!(collected.len(), 3);
    assert_eq!(collected[0].as_int(), Some(1));
    assert_eq!(collected[1].as_str(), Some("b"));
    assert!(collected[2].is_null());
    assert_eq!(arr.as_array().map(<[Frame]>::len), Some(3));
    assert_eq!(arr.clone().into_array().unwrap().len(), 3);
    assert_eq!(Frame::Integer(1).into_array(), Err(Frame::Integer(1)));

    let err = Frame::Error("WRONGTYPE Operation against a key".into());
    assert!(err.is_error());
    assert_eq!(err.error_kind(), Some("WRONGTYPE"));
    assert_eq!(err.error_message(), Some("Operation against a key"));
    assert_eq!(
        err.error_line(),
        Some(&b"WRONGTYPE Operation against a key"[..])
    );
    assert_eq!(err.as_bytes(), None);

    let bare = Frame::Error("LOADING".into());
    assert_eq!(bare.error_kind(), Some("LOADING"));
    assert_eq!(bare.error_message(), Some(""));
    assert_eq!(Frame::Simple("ERR x".into()).error_kind(), None);
    assert_eq!(Frame::Null.error_message(), None);

    for (frame, name) in [
        (Frame::Simple("".into()), "simple string"),
        (Frame::Error("".into()), "error"),
        (Frame::Integer(0), "integer"),
        (Frame::Bulk("".into()), "bulk string"),
        (Frame::Null, "null"),
        (Frame::NullArray, "null array"),
        (Frame::Array(vec![]), "array"),
    ] {
        assert_eq!(frame.type_name(), name);
    }
}

#[test]
fn decoded_accessors_on_a_real_reply() {
    let frame = one(b"*2\r\n-MOVED 3999 127.0.0.1:6381\r\n$3\r\nbar\r\n");
    let mut items = frame.iter();
    let moved = items.next().unwrap();
    assert_eq!(moved.error_kind(), Some("MOVED"));
    assert_eq!(moved.error_message(), Some("3999 127.0.0.1:6381"));
    assert_eq!(items.next().unwrap().as_str(), Some("bar"));
    assert!(items.next().is_none());
}

#[test]
fn debug_output_is_readable() {
    let frame = Frame::Array(vec![
        Frame::Bulk(Bytes::from_static(b"a\r\n\xff")),
        Frame::Null,
    ]);
    assert_eq!(format!("{frame:?}"), r#"Array([Bulk("a\r\n\xff"), Null])"#);
    let long = Frame::Bulk(Bytes::from(vec![b'z'; 1000]));
    assert!(format!("{long:?}").ends_with("\"... (1000 bytes))"));
}

#[test]
fn a_decoder_can_be_reset_and_reused() {
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(&b"*2\r\n:1\r\n"[..]);
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    assert!(dec.is_partial());
    dec.reset();
    assert!(!dec.is_partial());
    let mut other = BytesMut::from(&b":9\r\n"[..]);
    assert_eq!(dec.decode(&mut other).unwrap(), Some(Frame::Integer(9)));
}

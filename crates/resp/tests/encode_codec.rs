//! Encoding every frame type and commands, and `RespCodec` through tokio-util's traits.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "codec")]

use bytes::{Bytes, BytesMut};
use slotline_resp::{
    encode_array_header, encode_bulk, encode_command, encode_integer_bulk, encoded_bulk_len,
    CodecError, Decoder, Frame, Limits, ProtocolErrorKind, RespCodec,
};
use tokio_util::codec::{Decoder as _, Encoder as _};

fn wire(frame: &Frame) -> Vec<u8> {
    let out = frame.to_wire();
    assert_eq!(out.len(), frame.encoded_len());
    out.to_vec()
}

#[test]
fn every_frame_type_encodes() {
    assert_eq!(wire(&Frame::Simple("OK".into())), b"+OK\r\n");
    assert_eq!(wire(&Frame::Simple("".into())), b"+\r\n");
    assert_eq!(wire(&Frame::Error("ERR no".into())), b"-ERR no\r\n");
    assert_eq!(wire(&Frame::Integer(0)), b":0\r\n");
    assert_eq!(wire(&Frame::Integer(-1)), b":-1\r\n");
    assert_eq!(wire(&Frame::Integer(i64::MAX)), b":9223372036854775807\r\n");
    assert_eq!(
        wire(&Frame::Integer(i64::MIN)),
        b":-9223372036854775808\r\n"
    );
    assert_eq!(wire(&Frame::Bulk("foo".into())), b"$3\r\nfoo\r\n");
    assert_eq!(wire(&Frame::Bulk("".into())), b"$0\r\n\r\n");
    assert_eq!(
        wire(&Frame::Bulk(Bytes::from_static(b"\r\n\0"))),
        b"$3\r\n\r\n\0\r\n"
    );
    assert_eq!(wire(&Frame::Null), b"$-1\r\n");
    assert_eq!(wire(&Frame::NullArray), b"*-1\r\n");
    assert_eq!(wire(&Frame::Array(vec![])), b"*0\r\n");
    assert_eq!(
        wire(&Frame::Array(vec![
            Frame::Integer(1),
            Frame::Array(vec![Frame::Null, Frame::bulk("x")]),
            Frame::simple("s"),
            Frame::error("E e"),
        ])),
        b"*4\r\n:1\r\n*2\r\n$-1\r\n$1\r\nx\r\n+s\r\n-E e\r\n"
    );
}

#[test]
fn encoding_appends_to_what_is_there() {
    let mut out = BytesMut::from(&b"prefix"[..]);
    Frame::Integer(5).encode(&mut out);
    Frame::Null.encode(&mut out);
    assert_eq!(&out[..], b"prefix:5\r\n$-1\r\n");
}

#[test]
fn commands_encode_in_one_pass() {
    let mut out = BytesMut::new();
    encode_command(&mut out, ["SET", "key", "value"]);
    assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
    // The reservation is exact: one command fills its own allocation, no more.
    let mut exact = BytesMut::new();
    encode_command(&mut exact, [&b"GET"[..], &[0u8; 300][..]]);
    assert_eq!(exact.len(), 4 + encoded_bulk_len(3) + encoded_bulk_len(300));

    let mut out = BytesMut::new();
    encode_command(&mut out, Vec::<Vec<u8>>::new());
    assert_eq!(&out[..], b"*0\r\n");

    // A command decodes as the array of bulk strings it is.
    let mut out = BytesMut::new();
    encode_command(&mut out, [&b"HSET"[..], b"h", b"f", b"\r\n"]);
    let frame = Decoder::default().decode(&mut out).unwrap().unwrap();
    assert_eq!(
        frame,
        Frame::Array(vec![
            Frame::bulk("HSET"),
            Frame::bulk("h"),
            Frame::bulk("f"),
            Frame::bulk("\r\n"),
        ])
    );
}

#[test]
fn command_pieces_encode_by_hand() {
    let mut out = BytesMut::new();
    encode_array_header(&mut out, 3);
    encode_bulk(&mut out, b"INCRBY");
    encode_bulk(&mut out, b"n");
    encode_integer_bulk(&mut out, -1234567890123);
    assert_eq!(
        &out[..],
        b"*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$14\r\n-1234567890123\r\n"
    );
    for n in [0, 9, 10, -1, i64::MIN, i64::MAX] {
        let mut out = BytesMut::new();
        encode_integer_bulk(&mut out, n);
        let frame = Decoder::default().decode(&mut out).unwrap().unwrap();
        assert_eq!(frame.as_str(), Some(n.to_string().as_str()));
    }
    assert_eq!(encoded_bulk_len(0), 6);
    assert_eq!(encoded_bulk_len(10), 17);
}

#[test]
fn codec_encodes_and_decodes_through_tokio_util_traits() {
    let mut codec = RespCodec::default();
    let mut buf = BytesMut::new();
    let reply = Frame::Array(vec![Frame::bulk("a"), Frame::Integer(2)]);
    codec.encode(reply.clone(), &mut buf).unwrap();
    codec.encode(&Frame::Simple("OK".into()), &mut buf).unwrap();

    // Fed in two halves, as a stream would deliver them.
    let all = buf.split();
    let (first, second) = all.split_at(5);
    buf.extend_from_slice(first);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    buf.extend_from_slice(second);
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(reply));
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(Frame::simple("OK")));
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
}

#[test]
fn codec_reports_protocol_errors_and_truncated_streams() {
    let mut codec = RespCodec::with_limits(Limits {
        max_bulk_len: 3,
        ..Limits::default()
    });
    let mut buf = BytesMut::from(&b"$4\r\nabcd\r\n"[..]);
    match codec.decode(&mut buf) {
        Err(CodecError::Protocol(e)) => {
            assert_eq!(e.kind, ProtocolErrorKind::BulkTooLong { len: 4, max: 3 })
        }
        other => panic!("{other:?}"),
    }

    // A reply cut off by the end of the stream is an error, not a silent drop.
    let mut codec = RespCodec::default();
    let mut buf = BytesMut::from(&b"*2\r\n:1\r\n"[..]);
    assert!(codec.decode_eof(&mut buf).is_err());

    let io: CodecError = std::io::Error::other("boom").into();
    assert!(io.to_string().contains("boom"));
}

//! RESP3, as the protocol specification writes its examples: every type decodes to the
//! frame it means, whole and a byte at a time, as a [`Frame`] and as a [`Reply`] view alike;
//! attributes are skipped unless kept; pushes are told from replies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use slotline_resp::{Decoder, Frame, ReadReply, Reply, ReplyKind};

/// Decodes `wire` (exactly one reply) whole and a byte at a time, as frames and as views,
/// checks that all four agree, and returns the frame.
fn decode(wire: &[u8]) -> Frame {
    let whole = Decoder::default()
        .decode(&mut BytesMut::from(wire))
        .expect("valid")
        .expect("complete");
    let mut dec = Decoder::default();
    let mut buf = BytesMut::new();
    let mut bytewise = None;
    let mut view = None;
    let mut view_dec = Decoder::default();
    let mut view_buf = BytesMut::new();
    for (i, &b) in wire.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        view_buf.extend_from_slice(&[b]);
        if let Some(frame) = dec.decode(&mut buf).expect("valid") {
            assert_eq!(i, wire.len() - 1, "complete before its last byte");
            bytewise = Some(frame);
        }
        if let Some(reply) = view_dec.decode_reply(&mut view_buf).expect("valid") {
            view = Some(reply);
        }
    }
    assert_eq!(bytewise.as_ref(), Some(&whole));
    let view: Reply = view.expect("a view");
    assert_eq!(view.view().to_frame(), whole);
    assert_eq!(ReadReply::kind(&view.view()), ReadReply::kind(&&whole));
    assert!(buf.is_empty() && view_buf.is_empty());
    // What the encoder writes decodes back to the same frame.
    let mut again = whole.to_wire();
    assert_eq!(
        Decoder::default().decode(&mut again),
        Ok(Some(whole.clone()))
    );
    whole
}

#[test]
fn scalars() {
    assert_eq!(decode(b"_\r\n"), Frame::Null);
    assert_eq!(decode(b"#t\r\n"), Frame::Boolean(true));
    assert_eq!(decode(b"#f\r\n"), Frame::Boolean(false));
    let pi = decode(b",2.5e-3\r\n");
    assert_eq!(pi, Frame::Double(Bytes::from_static(b"2.5e-3")));
    assert_eq!(pi.as_double(), Some(0.0025));
    assert_eq!(pi.as_str(), Some("2.5e-3"));
    assert_eq!(decode(b",inf\r\n").as_double(), Some(f64::INFINITY));
    assert_eq!(decode(b",-inf\r\n").as_double(), Some(f64::NEG_INFINITY));
    assert!(decode(b",nan\r\n").as_double().is_some_and(f64::is_nan));
    assert_eq!(decode(b",1.5e10\r\n").as_double(), Some(1.5e10));
    assert_eq!(decode(b",.5\r\n").as_double(), Some(0.5));
    assert_eq!(decode(b",-5.\r\n").as_double(), Some(-5.0));
    assert_eq!(decode(b",+inf\r\n").as_double(), Some(f64::INFINITY));
    assert_eq!(decode(b",1E-2\r\n").as_double(), Some(0.01));
    assert_eq!(
        decode(b"*2\r\n,1\r\n,-0.25\r\n"),
        Frame::Array(vec![
            Frame::Double("1".into()),
            Frame::Double("-0.25".into())
        ])
    );
    let big = decode(b"(3492890328409238509324850943850943825024385\r\n");
    assert_eq!(
        big.as_str(),
        Some("3492890328409238509324850943850943825024385")
    );
    assert_eq!(
        decode(b"(-12\r\n"),
        Frame::BigNumber(Bytes::from_static(b"-12"))
    );
    let verbatim = decode(b"=15\r\ntxt:Some string\r\n");
    assert_eq!(verbatim.as_str(), Some("Some string"));
    assert_eq!(verbatim.verbatim_format(), Some(&b"txt"[..]));
    assert_eq!(
        decode(b"!21\r\nSYNTAX invalid syntax\r\n"),
        Frame::Error(Bytes::from_static(b"SYNTAX invalid syntax"))
    );
    // A blob error may hold CR and LF; it is written back as one.
    let multiline = decode(b"!8\r\nERR a\r\nb\r\n");
    assert_eq!(multiline.error_line(), Some(&b"ERR a\r\nb"[..]));
    assert_eq!(&multiline.to_wire()[..], b"!8\r\nERR a\r\nb\r\n");
    // An integer may carry a `+` sign.
    assert_eq!(decode(b":+42\r\n"), Frame::Integer(42));
    assert_eq!(
        decode(b"*1\r\n:+7\r\n"),
        Frame::Array(vec![Frame::Integer(7)])
    );
}

#[test]
fn aggregates() {
    let map = decode(b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n");
    assert_eq!(
        map,
        Frame::Map(vec![
            Frame::simple("first"),
            Frame::Integer(1),
            Frame::simple("second"),
            Frame::Integer(2),
        ])
    );
    let pairs: Vec<_> = map.pairs().map(|(k, v)| (k.as_str(), v.as_int())).collect();
    assert_eq!(pairs, [(Some("first"), Some(1)), (Some("second"), Some(2))]);
    assert_eq!(
        decode(b"~5\r\n+orange\r\n+apple\r\n#t\r\n:100\r\n:999\r\n"),
        Frame::Set(vec![
            Frame::simple("orange"),
            Frame::simple("apple"),
            Frame::Boolean(true),
            Frame::Integer(100),
            Frame::Integer(999),
        ])
    );
    assert_eq!(decode(b"%0\r\n"), Frame::Map(vec![]));
    assert_eq!(decode(b"~0\r\n"), Frame::Set(vec![]));
    assert_eq!(
        decode(b"*1\r\n%0\r\n"),
        Frame::Array(vec![Frame::Map(vec![])])
    );
    // HELLO's reply: a map holding an array of maps.
    let hello = decode(
        b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nmodules\r\n*1\r\n%1\r\n+name\r\n+json\r\n",
    );
    let modules = hello.pairs().find(|(k, _)| k.as_str() == Some("modules"));
    let (_, modules) = modules.expect("modules");
    assert_eq!(modules.iter().next().map(Frame::type_name), Some("map"));
}

#[test]
fn views_read_maps_as_pairs_and_know_every_kind() {
    let wire = b"%2\r\n+a\r\n,1.5\r\n+b\r\n~1\r\n#f\r\n";
    let reply = Decoder::default()
        .decode_reply(&mut BytesMut::from(&wire[..]))
        .unwrap()
        .unwrap();
    let view = reply.view();
    assert_eq!(view.kind(), ReplyKind::Map);
    assert_eq!(view.array_len(), Some(4), "keys and values");
    let items: Vec<_> = view.iter().collect();
    assert_eq!(items[0].as_str(), Some("a"));
    assert_eq!(items[1].kind(), ReplyKind::Double);
    assert_eq!(items[1].as_double(), Some(1.5));
    assert_eq!(items[3].kind(), ReplyKind::Set);
    assert_eq!(
        items[3].iter().next().and_then(|e| e.as_bool()),
        Some(false)
    );
}

#[test]
fn pushes_are_told_from_replies() {
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(
        &b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n+OK\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n"
            [..],
    );
    let push = dec.decode_reply(&mut buf).unwrap().unwrap();
    assert_eq!(push.view().kind(), ReplyKind::Push);
    assert_eq!(push.view().get(2).and_then(|e| e.as_str()), Some("hi"));
    let reply = dec.decode_reply(&mut buf).unwrap().unwrap();
    assert_eq!(reply.view().kind(), ReplyKind::Simple);
    let flush = dec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        flush,
        Frame::Push(vec![Frame::bulk("invalidate"), Frame::Null])
    );
}

#[test]
fn attributes_are_skipped_unless_kept() {
    // The specification's example: a reply with attributes about its keys' popularity.
    let wire = b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n";
    let reply = Frame::Array(vec![Frame::Integer(2039123), Frame::Integer(9543892)]);
    assert_eq!(decode(wire), reply);
    let kept = Decoder::default()
        .keep_attributes(true)
        .decode(&mut BytesMut::from(&wire[..]))
        .unwrap()
        .unwrap();
    let Frame::Attribute { attributes, value } = kept else {
        panic!("attributes kept: {kept:?}");
    };
    assert_eq!(attributes[0].as_str(), Some("key-popularity"));
    assert_eq!(attributes[1].type_name(), "map");
    assert_eq!(*value, reply);
    // Inside an aggregate, before a scalar, and attributes with no pair.
    assert_eq!(
        decode(b"*2\r\n|1\r\n+ttl\r\n:3600\r\n+v\r\n|0\r\n:1\r\n"),
        Frame::Array(vec![Frame::simple("v"), Frame::Integer(1)])
    );
    assert_eq!(decode(b"|1\r\n+a\r\n+b\r\n#t\r\n"), Frame::Boolean(true));
}

/// Found by `fuzz/decode_bytes`: an error line may hold a bare LF (only CR ends a line), and
/// it is written back as the line it came as, never longer than it was read; only an error
/// holding CR goes back as a blob error.
#[test]
fn errors_are_written_back_no_longer_than_read() {
    for wire in [
        &b"-ERR a\nb\r\n"[..],
        b"!7\r\nERR a\nb\r\n",
        b"!7\r\nERR a\rb\r\n",
    ] {
        let frame = decode(wire);
        let again = frame.to_wire();
        assert!(again.len() <= wire.len(), "{wire:?} became {again:?}");
        assert_eq!(again.len(), frame.encoded_len());
    }
    assert_eq!(
        &decode(b"!7\r\nERR a\rb\r\n").to_wire()[..],
        b"!7\r\nERR a\rb\r\n"
    );
}

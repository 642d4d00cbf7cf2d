//! A frame described by the fuzzer, RESP2 and RESP3 types alike: encoded, then decoded
//! (whole and in pieces), gives the same frame back and consumes exactly the encoded bytes.

#![no_main]

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use slotline_resp::{Decoder, Frame};

/// What the fuzzer builds; turned into a [`Frame`] with CR and LF kept out of lines and the
/// nesting kept within the decoder's default depth.
#[derive(Debug, Arbitrary)]
enum Desc {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Vec<u8>),
    Null,
    NullArray,
    Array(Vec<Desc>),
    Map(Vec<(Desc, Desc)>),
    Set(Vec<Desc>),
    Push(Vec<Desc>),
    Double(f64),
    Boolean(bool),
    BigNumber(bool, Vec<u8>),
    Verbatim(Vec<u8>),
}

/// The kinds of aggregate a description opens.
#[derive(Debug, Clone, Copy)]
enum Aggregate {
    Array,
    Map,
    Set,
    Push,
}

impl Aggregate {
    fn frame(self, items: Vec<Frame>) -> Frame {
        match self {
            Aggregate::Array => Frame::Array(items),
            Aggregate::Map => Frame::Map(items),
            Aggregate::Set => Frame::Set(items),
            Aggregate::Push => Frame::Push(items),
        }
    }
}

fn line(mut bytes: Vec<u8>) -> Bytes {
    bytes.retain(|&b| b != b'\r' && b != b'\n');
    Bytes::from(bytes)
}

/// Converts without recursion (the description may be deep).
fn to_frame(desc: Desc) -> Frame {
    // Each open aggregate: its kind, the frames built so far and the descriptions still to
    // convert.
    let mut stack: Vec<(Aggregate, Vec<Frame>, std::vec::IntoIter<Desc>)> = Vec::new();
    let mut next = Some(desc);
    loop {
        let open = match next.take() {
            Some(Desc::Array(items)) => Some((Aggregate::Array, items)),
            Some(Desc::Map(pairs)) => Some((
                Aggregate::Map,
                pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            )),
            Some(Desc::Set(items)) => Some((Aggregate::Set, items)),
            Some(Desc::Push(items)) => Some((Aggregate::Push, items)),
            other => {
                next = other;
                None
            }
        };
        if let Some((kind, items)) = open {
            if stack.len() < 100 {
                stack.push((kind, Vec::with_capacity(items.len()), items.into_iter()));
            } else {
                next = Some(Desc::NullArray);
            }
        }
        let frame = match next.take() {
            Some(Desc::Simple(b)) => Some(Frame::Simple(line(b))),
            Some(Desc::Error(b)) => Some(Frame::Error(line(b))),
            Some(Desc::Integer(n)) => Some(Frame::Integer(n)),
            Some(Desc::Bulk(b)) => Some(Frame::Bulk(Bytes::from(b))),
            Some(Desc::Null) => Some(Frame::Null),
            Some(Desc::NullArray) => Some(Frame::NullArray),
            Some(Desc::Double(d)) => Some(Frame::Double(Bytes::from(double_text(d)))),
            Some(Desc::Boolean(b)) => Some(Frame::Boolean(b)),
            Some(Desc::BigNumber(negative, digits)) => {
                let mut text: Vec<u8> = digits.iter().map(|d| b'0' + d % 10).collect();
                if text.is_empty() {
                    text.push(b'0');
                }
                if negative {
                    text.insert(0, b'-');
                }
                Some(Frame::BigNumber(Bytes::from(text)))
            }
            Some(Desc::Verbatim(text)) => {
                let mut payload = b"txt:".to_vec();
                payload.extend_from_slice(&text);
                Some(Frame::Verbatim(Bytes::from(payload)))
            }
            // Aggregates were opened above.
            Some(_) | None => None,
        };
        if let Some(frame) = frame {
            match stack.last_mut() {
                None => return frame,
                Some((_, items, _)) => items.push(frame),
            }
        }
        let Some((_, _, rest)) = stack.last_mut() else {
            return Frame::Null;
        };
        match rest.next() {
            Some(desc) => next = Some(desc),
            None => {
                let Some((kind, items, _)) = stack.pop() else {
                    return Frame::Null;
                };
                let frame = kind.frame(items);
                match stack.last_mut() {
                    None => return frame,
                    Some((_, parent, _)) => parent.push(frame),
                }
            }
        }
    }
}

/// The text of a RESP3 double: Rust's shortest round-trip form, `inf`, `-inf` or `nan`.
fn double_text(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        d.to_string()
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    desc: Desc,
    cuts: Vec<u16>,
}

fuzz_target!(|input: Input| {
    let frame = to_frame(input.desc);
    let wire = frame.to_wire();
    assert_eq!(wire.len(), frame.encoded_len());

    // Whole, with another reply behind it.
    let mut buf = wire.clone();
    buf.extend_from_slice(b":1\r\n");
    let mut dec = Decoder::default();
    assert_eq!(dec.decode(&mut buf), Ok(Some(frame.clone())));
    assert_eq!(&buf[..], b":1\r\n");

    // In pieces.
    let mut points: Vec<usize> = input
        .cuts
        .iter()
        .map(|&c| usize::from(c) % (wire.len() + 1))
        .chain([0, wire.len()])
        .collect();
    points.sort_unstable();
    let mut buf = BytesMut::new();
    let mut got = None;
    for piece in points.windows(2) {
        buf.extend_from_slice(&wire[piece[0]..piece[1]]);
        if let Some(f) = dec.decode(&mut buf).expect("valid") {
            assert!(got.is_none());
            got = Some(f);
        }
    }
    assert_eq!(got, Some(frame));
    assert!(buf.is_empty());
});

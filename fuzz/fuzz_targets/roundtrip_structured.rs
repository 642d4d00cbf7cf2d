//! A frame described by the fuzzer: encoded, then decoded (whole and in pieces), gives the
//! same frame back and consumes exactly the encoded bytes.

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
}

fn line(mut bytes: Vec<u8>) -> Bytes {
    bytes.retain(|&b| b != b'\r' && b != b'\n');
    Bytes::from(bytes)
}

/// Converts without recursion (the description may be deep).
fn to_frame(desc: Desc) -> Frame {
    // Each open array: the frames built so far and the descriptions still to convert.
    let mut stack: Vec<(Vec<Frame>, std::vec::IntoIter<Desc>)> = Vec::new();
    let mut next = Some(desc);
    loop {
        let frame = match next.take() {
            Some(Desc::Array(items)) if stack.len() < 100 => {
                stack.push((Vec::with_capacity(items.len()), items.into_iter()));
                None
            }
            Some(Desc::Array(_)) => Some(Frame::NullArray),
            Some(Desc::Simple(b)) => Some(Frame::Simple(line(b))),
            Some(Desc::Error(b)) => Some(Frame::Error(line(b))),
            Some(Desc::Integer(n)) => Some(Frame::Integer(n)),
            Some(Desc::Bulk(b)) => Some(Frame::Bulk(Bytes::from(b))),
            Some(Desc::Null) => Some(Frame::Null),
            Some(Desc::NullArray) => Some(Frame::NullArray),
            None => None,
        };
        if let Some(frame) = frame {
            match stack.last_mut() {
                None => return frame,
                Some((items, _)) => items.push(frame),
            }
        }
        let (_, rest) = stack.last_mut().expect("an array is open");
        match rest.next() {
            Some(desc) => next = Some(desc),
            None => {
                let (items, _) = stack.pop().expect("an array is open");
                let frame = Frame::Array(items);
                match stack.last_mut() {
                    None => return frame,
                    Some((parent, _)) => parent.push(frame),
                }
            }
        }
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

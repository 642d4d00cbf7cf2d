//! Arbitrary bytes cut at arbitrary points and fed piece by piece give the same frames, and
//! the same error (kind and offset) or none, as the same bytes fed whole; so do the same
//! pieces decoded as `Reply` views (`decode_reply`) and turned into frames.

#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use slotline_resp::{Decoder, Frame, Limits, ProtocolError, Reply};

mod common;

#[derive(Debug, Arbitrary)]
struct Input {
    limits: u8,
    cuts: Vec<u16>,
    wire: Vec<u8>,
}

fn whole(wire: &[u8], limits: Limits) -> (Vec<Frame>, Option<ProtocolError>) {
    let mut dec = Decoder::with_limits(limits);
    let mut buf = BytesMut::from(wire);
    let mut frames = Vec::new();
    loop {
        match common::decode_checked(&mut dec, &mut buf) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e)),
        }
    }
}

fn pieces(
    wire: &[u8],
    cuts: &[u16],
    limits: Limits,
    views: bool,
) -> (Vec<Frame>, Option<ProtocolError>) {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&c| usize::from(c) % (wire.len() + 1))
        .chain([0, wire.len()])
        .collect();
    points.sort_unstable();
    let mut dec = Decoder::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in points.windows(2) {
        buf.extend_from_slice(&wire[piece[0]..piece[1]]);
        loop {
            let decoded = match views {
                false => common::decode_checked(&mut dec, &mut buf),
                true => dec
                    .decode_reply(&mut buf)
                    .map(|reply| reply.map(Reply::into_frame)),
            };
            match decoded {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

fuzz_target!(|input: Input| {
    let limits = common::limits(input.limits);
    let whole = whole(&input.wire, limits);
    assert_eq!(pieces(&input.wire, &input.cuts, limits, false), whole);
    assert_eq!(pieces(&input.wire, &input.cuts, limits, true), whole);
});

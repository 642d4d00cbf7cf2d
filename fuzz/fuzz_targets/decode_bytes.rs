//! Arbitrary bytes: no panic; never more bytes consumed than given; every decoded frame
//! re-encodes to a reply that decodes back to the same frame.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use slotline_resp::Decoder;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, wire)) = data.split_first() else {
        return;
    };
    let mut dec = Decoder::with_limits(common::limits(selector));
    let mut buf = BytesMut::from(wire);
    while let Ok(Some(_)) = common::decode_checked(&mut dec, &mut buf) {}
});

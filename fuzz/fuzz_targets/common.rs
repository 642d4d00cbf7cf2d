//! Helpers shared by the fuzz targets (each target declares `mod common;`).

use bytes::BytesMut;
use slotline_resp::{Decoder, Frame, Limits, ProtocolError};

/// Limits picked by one input byte: the defaults, or small ones that the fuzzer can reach.
pub fn limits(selector: u8) -> Limits {
    if selector & 1 == 0 {
        Limits::default()
    } else {
        Limits {
            max_bulk_len: usize::from(selector >> 1) * 3,
            max_array_len: usize::from(selector >> 4) + 1,
            max_depth: usize::from(selector >> 5),
            max_line_len: usize::from(selector >> 2),
        }
    }
}

/// Decodes a reply off `buf`, checking what every call must hold whatever the input:
/// consumed bytes are at most the given ones, an incomplete reply or an error leaves the
/// buffer untouched, and a decoded frame re-encodes to exactly `encoded_len` bytes that
/// decode back to the same frame.
pub fn decode_checked(
    dec: &mut Decoder,
    buf: &mut BytesMut,
) -> Result<Option<Frame>, ProtocolError> {
    let before = buf.clone();
    let result = dec.decode(buf);
    match &result {
        Ok(Some(frame)) => {
            let consumed = before.len() - buf.len();
            assert!(consumed > 0 && consumed <= before.len());
            assert_eq!(&before[consumed..], &buf[..], "only the front was taken");
            let mut wire = frame.to_wire();
            assert_eq!(wire.len(), frame.encoded_len());
            // Canonical re-encoding is never longer than what was read (no leading zeros).
            assert!(wire.len() <= consumed, "{} > {consumed}", wire.len());
            let mut again = Decoder::with_limits(*dec.limits());
            assert_eq!(again.decode(&mut wire), Ok(Some(frame.clone())));
            assert!(wire.is_empty());
        }
        Ok(None) | Err(_) => assert_eq!(&before[..], &buf[..], "the buffer was changed"),
    }
    result
}

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
            // Canonical re-encoding is never longer than what was read (no leading zeros),
            // but for RESP3's null (`_`, 3 bytes), which re-encodes as `$-1` (5).
            let slack = 2 * nulls(frame);
            assert!(wire.len() <= consumed + slack, "{} > {consumed}", wire.len());
            // A RESP3 blob error, bounded by the bulk limit, goes back as an error line:
            // read back under a line limit as large as the bulk limit.
            let limits = *dec.limits();
            let mut again = Decoder::with_limits(Limits {
                max_line_len: limits.max_line_len.max(limits.max_bulk_len),
                ..limits
            });
            assert_eq!(again.decode(&mut wire), Ok(Some(frame.clone())));
            assert!(wire.is_empty());
        }
        Ok(None) | Err(_) => assert_eq!(&before[..], &buf[..], "the buffer was changed"),
    }
    result
}

/// How many null bulk strings `frame` holds, at any depth (without recursion).
fn nulls(frame: &Frame) -> usize {
    let mut count = 0;
    let mut stack = vec![frame];
    while let Some(f) = stack.pop() {
        match f {
            Frame::Null => count += 1,
            Frame::Attribute { attributes, value } => {
                stack.extend(attributes);
                stack.push(value);
            }
            other => stack.extend(other.iter()),
        }
    }
    count
}

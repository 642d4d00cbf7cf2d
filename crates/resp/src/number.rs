//! Decimal integers on the wire: parsing header lines and formatting lengths.

use crate::error::{ProtocolError, ProtocolErrorKind};

/// The longest integer line body: a sign and the 19 digits of `i64::MIN`, plus slack for
/// leading zeros that a peer might send.
const MAX_INT_DIGITS: usize = 24;

/// Parses the integer line that starts at `buf[start]` (just after the type byte) and runs to
/// CRLF. Returns the value and the offset just past the CRLF, `Ok(None)` when the line is not
/// complete yet, or an error as soon as the bytes seen cannot start a valid line.
#[inline]
pub(crate) fn parse_int_line(
    buf: &[u8],
    start: usize,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    let mut i = start;
    let negative = buf.get(i) == Some(&b'-');
    if negative {
        i += 1;
    }
    let digits_start = i;
    // The largest magnitude the sign allows: a digit that takes the value past it fails at
    // once, without waiting for the rest of the line.
    let limit = i64::MAX as u64 + u64::from(negative);
    let mut magnitude: u64 = 0;
    loop {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        match b {
            b'0'..=b'9' => {
                if i - digits_start >= MAX_INT_DIGITS {
                    return Err(ProtocolError::new(ProtocolErrorKind::IntegerOverflow, i));
                }
                magnitude = match magnitude
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u64::from(b - b'0')))
                {
                    Some(m) if m <= limit => m,
                    _ => return Err(ProtocolError::new(ProtocolErrorKind::IntegerOverflow, i)),
                };
                i += 1;
            }
            b'\r' => break,
            _ => return Err(ProtocolError::new(ProtocolErrorKind::InvalidInteger, i)),
        }
    }
    if i == digits_start {
        return Err(ProtocolError::new(ProtocolErrorKind::InvalidInteger, i));
    }
    match buf.get(i + 1) {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(_) => return Err(ProtocolError::new(ProtocolErrorKind::ExpectedCrlf, i + 1)),
    }
    // In range: checked digit by digit above.
    let value = if negative {
        (magnitude as i64).wrapping_neg()
    } else {
        magnitude as i64
    };
    Ok(Some((value, i + 2)))
}

/// Parses a double as RESP3 sends it (`3.14`, `1e10`, `inf`, `-inf`, `nan`) or as RESP2
/// sends scores (a bulk string of the same text).
pub(crate) fn parse_double(text: &[u8]) -> Option<f64> {
    match text {
        b"inf" | b"+inf" => Some(f64::INFINITY),
        b"-inf" => Some(f64::NEG_INFINITY),
        b"nan" | b"-nan" => Some(f64::NAN),
        _ => std::str::from_utf8(text).ok()?.parse().ok(),
    }
}

/// [`parse_int_line`] for an integer element (`:`), which the protocol lets carry a `+`
/// sign (lengths may not).
#[inline]
pub(crate) fn parse_integer(
    buf: &[u8],
    start: usize,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    if buf.get(start) != Some(&b'+') {
        return parse_int_line(buf, start);
    }
    match buf.get(start + 1) {
        None => Ok(None),
        Some(b'0'..=b'9') => parse_int_line(buf, start + 1),
        Some(_) => Err(ProtocolError::new(
            ProtocolErrorKind::InvalidInteger,
            start + 1,
        )),
    }
}

/// A formatted decimal, kept on the stack.
pub(crate) struct Decimal {
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    /// Formats `n` (the magnitude of an integer; the sign is the caller's).
    #[inline]
    pub(crate) fn new(mut n: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Decimal { buf, start }
    }

    /// The digits.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// Number of decimal digits of `n`.
#[inline]
pub(crate) fn digits(n: u64) -> usize {
    let mut d = 1;
    let mut x = n;
    while x >= 10 {
        x /= 10;
        d += 1;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        assert_eq!(parse_int_line(b"123\r\n", 0).unwrap(), Some((123, 5)));
        assert_eq!(parse_int_line(b"-1\r\n", 0).unwrap(), Some((-1, 4)));
        assert_eq!(parse_int_line(b"12", 0).unwrap(), None);
        assert_eq!(parse_int_line(b"12\r", 0).unwrap(), None);
        assert_eq!(
            parse_int_line(b"9223372036854775807\r\n", 0).unwrap(),
            Some((i64::MAX, 21))
        );
        assert_eq!(
            parse_int_line(b"-9223372036854775808\r\n", 0).unwrap(),
            Some((i64::MIN, 22))
        );
        let err = parse_int_line(b"9223372036854775808\r\n", 0).unwrap_err();
        assert_eq!(
            (err.kind, err.offset),
            (ProtocolErrorKind::IntegerOverflow, 18)
        );
        // Out of range is known at the offending digit, before the line ends.
        let err = parse_int_line(b"-9223372036854775809", 0).unwrap_err();
        assert_eq!(
            (err.kind, err.offset),
            (ProtocolErrorKind::IntegerOverflow, 19)
        );
        let err = parse_int_line(b"1x\r\n", 0).unwrap_err();
        assert_eq!(
            (err.kind, err.offset),
            (ProtocolErrorKind::InvalidInteger, 1)
        );
        assert!(parse_int_line(b"\r\n", 0).is_err());
        assert!(parse_int_line(b"-\r\n", 0).is_err());
        assert!(parse_int_line(b"1\rx", 0).is_err());
    }

    #[test]
    fn formats_decimals() {
        for n in [0u64, 7, 10, 99, 100, 12345, u64::MAX] {
            assert_eq!(Decimal::new(n).as_bytes(), n.to_string().as_bytes());
            assert_eq!(digits(n), n.to_string().len());
        }
    }
}

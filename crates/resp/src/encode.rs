//! Encoding: commands written in one pass into a `BytesMut`, and any [`Frame`].

use bytes::{BufMut, BytesMut};

use crate::number::{digits, Decimal};
use crate::Frame;

/// Appends a `*<len>\r\n` array header.
#[inline]
pub fn encode_array_header(dst: &mut BytesMut, len: usize) {
    put_header(dst, b'*', len as u64);
}

/// Appends one bulk string: `$<len>\r\n<data>\r\n`.
#[inline]
pub fn encode_bulk(dst: &mut BytesMut, data: &[u8]) {
    dst.reserve(encoded_bulk_len(data.len()));
    put_header(dst, b'$', data.len() as u64);
    dst.put_slice(data);
    dst.put_slice(b"\r\n");
}

/// Appends an integer as a bulk string (how command arguments carry numbers), without
/// formatting it into a temporary `String`.
#[inline]
pub fn encode_integer_bulk(dst: &mut BytesMut, n: i64) {
    let digits = Decimal::new(n.unsigned_abs());
    let len = digits.as_bytes().len() + usize::from(n < 0);
    dst.reserve(encoded_bulk_len(len));
    put_header(dst, b'$', len as u64);
    if n < 0 {
        dst.put_u8(b'-');
    }
    dst.put_slice(digits.as_bytes());
    dst.put_slice(b"\r\n");
}

/// Bytes taken on the wire by a bulk string whose payload is `len` bytes long.
#[inline]
pub fn encoded_bulk_len(len: usize) -> usize {
    1 + digits(len as u64) + 2 + len + 2
}

/// Appends a command: an array of bulk strings, one per argument, in one pass with a single
/// up-front reservation.
///
/// ```
/// let mut out = bytes::BytesMut::new();
/// slotline_resp::encode_command(&mut out, [&b"GET"[..], b"key"]);
/// assert_eq!(&out[..], b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
/// ```
pub fn encode_command<I>(dst: &mut BytesMut, args: I)
where
    I: IntoIterator,
    I::IntoIter: ExactSizeIterator + Clone,
    I::Item: AsRef<[u8]>,
{
    let args = args.into_iter();
    let total: usize = 1
        + digits(args.len() as u64)
        + 2
        + args
            .clone()
            .map(|a| encoded_bulk_len(a.as_ref().len()))
            .sum::<usize>();
    dst.reserve(total);
    put_header(dst, b'*', args.len() as u64);
    for arg in args {
        let arg = arg.as_ref();
        put_header(dst, b'$', arg.len() as u64);
        dst.put_slice(arg);
        dst.put_slice(b"\r\n");
    }
}

#[inline]
fn put_header(dst: &mut BytesMut, kind: u8, len: u64) {
    // The whole `<kind><digits>\r\n` line is built on the stack and copied once.
    let mut line = [0u8; 23];
    let mut start = line.len() - 2;
    line[start..].copy_from_slice(b"\r\n");
    let mut n = len;
    loop {
        start -= 1;
        line[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    start -= 1;
    line[start] = kind;
    dst.put_slice(&line[start..]);
}

/// Whether `line` holds a CR (then an error goes as a RESP3 blob error: a line would end
/// there).
fn has_cr(line: &[u8]) -> bool {
    memchr::memchr(b'\r', line).is_some()
}

fn put_signed(dst: &mut BytesMut, kind: u8, n: i64) {
    dst.put_u8(kind);
    if n < 0 {
        dst.put_u8(b'-');
    }
    dst.put_slice(Decimal::new(n.unsigned_abs()).as_bytes());
    dst.put_slice(b"\r\n");
}

impl Frame {
    /// Appends this frame in RESP2 form (RESP3 form for RESP3's own types, and for an error
    /// whose text holds CR, which only a RESP3 blob error can carry). Works without
    /// recursion, whatever the depth.
    ///
    /// Simple strings and errors are written as they are: keeping CR and LF out of them is the
    /// caller's part (the decoder never produces such frames).
    ///
    /// ```
    /// use slotline_resp::Frame;
    /// let mut out = bytes::BytesMut::new();
    /// Frame::Array(vec![Frame::Integer(-3), Frame::Null]).encode(&mut out);
    /// assert_eq!(&out[..], b"*2\r\n:-3\r\n$-1\r\n");
    /// ```
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        let mut stack: Vec<std::slice::Iter<'_, Frame>> = Vec::new();
        let mut next = Some(self);
        loop {
            let frame = match next.take() {
                Some(frame) => frame,
                None => match stack.last_mut() {
                    None => return,
                    Some(items) => match items.next() {
                        Some(frame) => frame,
                        None => {
                            stack.pop();
                            continue;
                        }
                    },
                },
            };
            match frame {
                Frame::Simple(line) => {
                    dst.put_u8(b'+');
                    dst.put_slice(line);
                    dst.put_slice(b"\r\n");
                }
                // A RESP3 blob error may hold CR, which would end an error line: it goes
                // back as one.
                Frame::Error(line) if has_cr(line) => {
                    put_header(dst, b'!', line.len() as u64);
                    dst.put_slice(line);
                    dst.put_slice(b"\r\n");
                }
                Frame::Error(line) => {
                    dst.put_u8(b'-');
                    dst.put_slice(line);
                    dst.put_slice(b"\r\n");
                }
                Frame::Integer(n) => put_signed(dst, b':', *n),
                Frame::Bulk(data) => {
                    put_header(dst, b'$', data.len() as u64);
                    dst.put_slice(data);
                    dst.put_slice(b"\r\n");
                }
                Frame::Null => dst.put_slice(b"$-1\r\n"),
                Frame::NullArray => dst.put_slice(b"*-1\r\n"),
                Frame::Array(items) => {
                    put_header(dst, b'*', items.len() as u64);
                    stack.push(items.iter());
                }
                Frame::Map(items) => {
                    put_header(dst, b'%', (items.len() / 2) as u64);
                    stack.push(items.iter());
                }
                Frame::Set(items) => {
                    put_header(dst, b'~', items.len() as u64);
                    stack.push(items.iter());
                }
                Frame::Push(items) => {
                    put_header(dst, b'>', items.len() as u64);
                    stack.push(items.iter());
                }
                Frame::Double(text) | Frame::BigNumber(text) => {
                    dst.put_u8(if matches!(frame, Frame::Double(_)) {
                        b','
                    } else {
                        b'('
                    });
                    dst.put_slice(text);
                    dst.put_slice(b"\r\n");
                }
                Frame::Boolean(b) => dst.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
                Frame::Verbatim(data) => {
                    put_header(dst, b'=', data.len() as u64);
                    dst.put_slice(data);
                    dst.put_slice(b"\r\n");
                }
                Frame::Attribute { attributes, value } => {
                    put_header(dst, b'|', (attributes.len() / 2) as u64);
                    // Last in, first out: the attributes, then the value they describe.
                    stack.push(std::slice::from_ref(&**value).iter());
                    stack.push(attributes.iter());
                }
            }
        }
    }

    /// Bytes this frame takes on the wire. Works without recursion, whatever the depth.
    pub fn encoded_len(&self) -> usize {
        let mut total = 0;
        let mut stack: Vec<&Frame> = vec![self];
        while let Some(frame) = stack.pop() {
            total += match frame {
                Frame::Error(line) if has_cr(line) => encoded_bulk_len(line.len()),
                Frame::Simple(line) | Frame::Error(line) => 1 + line.len() + 2,
                Frame::Integer(n) => 1 + usize::from(*n < 0) + digits(n.unsigned_abs()) + 2,
                Frame::Bulk(data) => encoded_bulk_len(data.len()),
                Frame::Null | Frame::NullArray => 5,
                Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
                    stack.extend(items.iter());
                    1 + digits(items.len() as u64) + 2
                }
                Frame::Map(items) => {
                    stack.extend(items.iter());
                    1 + digits((items.len() / 2) as u64) + 2
                }
                Frame::Double(text) | Frame::BigNumber(text) => 1 + text.len() + 2,
                Frame::Boolean(_) => 4,
                Frame::Verbatim(data) => encoded_bulk_len(data.len()),
                Frame::Attribute { attributes, value } => {
                    stack.extend(attributes.iter());
                    stack.push(value);
                    1 + digits((attributes.len() / 2) as u64) + 2
                }
            };
        }
        total
    }

    /// This frame encoded (see [`encode`](Frame::encode)), in a new buffer.
    pub fn to_wire(&self) -> BytesMut {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_frame_type() {
        let frame = Frame::Array(vec![
            Frame::Simple("OK".into()),
            Frame::Error("ERR bad".into()),
            Frame::Integer(i64::MIN),
            Frame::Integer(0),
            Frame::Bulk("".into()),
            Frame::Bulk("hello".into()),
            Frame::Null,
            Frame::NullArray,
            Frame::Array(vec![]),
        ]);
        let wire = frame.to_wire();
        assert_eq!(
            &wire[..],
            &b"*9\r\n+OK\r\n-ERR bad\r\n:-9223372036854775808\r\n:0\r\n$0\r\n\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n"[..]
        );
        assert_eq!(frame.encoded_len(), wire.len());
    }

    #[test]
    fn encodes_commands_and_integer_arguments() {
        let mut out = BytesMut::new();
        encode_command(&mut out, ["SET", "k", ""]);
        encode_integer_bulk(&mut out, -42);
        encode_integer_bulk(&mut out, 0);
        encode_array_header(&mut out, 12);
        encode_bulk(&mut out, b"\r\n");
        assert_eq!(
            &out[..],
            &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n$3\r\n-42\r\n$1\r\n0\r\n*12\r\n$2\r\n\r\n\r\n"[..]
        );
    }

    #[test]
    fn encodes_deep_nesting_without_recursion() {
        let mut frame = Frame::Integer(1);
        for _ in 0..100_000 {
            frame = Frame::Array(vec![frame]);
        }
        let len = frame.encoded_len();
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        assert_eq!(out.len(), len);
        // Dropping a frame this deep is recursive; unwind it by hand.
        let mut frame = frame;
        while let Frame::Array(mut items) = frame {
            frame = items.pop().unwrap_or(Frame::Null);
        }
    }
}

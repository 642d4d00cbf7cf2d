//! [`ReadReply`]: one way to read a decoded reply, whether a [`Frame`] holds it or a
//! [`ReplyRef`] views it in the received bytes, so that conversions into Rust types are
//! written once for both.

use bytes::Bytes;

use crate::{Frame, ReplyRef};

/// The RESP2 type of one reply element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// A status line (`+OK`).
    Simple,
    /// An error reply (`-ERR ...`).
    Error,
    /// An integer (`:42`).
    Integer,
    /// A bulk string (`$3 foo`).
    Bulk,
    /// The null bulk string (`$-1`).
    Null,
    /// The null array (`*-1`).
    NullArray,
    /// An array, empty or not.
    Array,
}

/// Reads one element of a decoded reply without copying it: implemented by `&Frame` and by
/// [`ReplyRef`], so code that reads replies (a client's conversions) serves both.
///
/// ```
/// use bytes::BytesMut;
/// use slotline_resp::{Decoder, Frame, ReadReply, ReplyKind};
///
/// fn total<'a>(reply: impl ReadReply<'a>) -> i64 {
///     reply.elements().filter_map(|e| e.as_int()).sum()
/// }
///
/// let bytes = b"*3\r\n:1\r\n:2\r\n$-1\r\n";
/// let frame = Decoder::default().decode(&mut BytesMut::from(&bytes[..]))?.expect("whole");
/// let reply = Decoder::default().decode_reply(&mut BytesMut::from(&bytes[..]))?.expect("whole");
/// assert_eq!(total(&frame), 3);
/// assert_eq!(total(reply.view()), 3);
/// assert_eq!(reply.view().kind(), ReplyKind::Array);
/// # Ok::<(), slotline_resp::ProtocolError>(())
/// ```
pub trait ReadReply<'a>: Copy {
    /// The elements of an array, in order.
    type Elements: Iterator<Item = Self> + ExactSizeIterator;

    /// The element's RESP2 type.
    fn kind(&self) -> ReplyKind;

    /// The type's name, for error messages (`"bulk string"`, `"array"`, ...).
    fn type_name(&self) -> &'static str;

    /// The payload of a bulk or simple string.
    fn as_bytes(&self) -> Option<&'a [u8]>;

    /// The payload of a bulk or simple string as a shared view of the received bytes.
    fn to_bytes(&self) -> Option<Bytes>;

    /// The value of an integer.
    fn as_int(&self) -> Option<i64>;

    /// The whole line of an error reply.
    fn error_line(&self) -> Option<&'a [u8]>;

    /// The first word of an error reply's line (`"MOVED"`, `"READONLY"`, ...).
    fn error_kind(&self) -> Option<&'a [u8]> {
        let line = self.error_line()?;
        let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        Some(&line[..end])
    }

    /// The whole line of an error reply, as a shared view of the received bytes.
    fn to_error_line(&self) -> Option<Bytes>;

    /// The number of elements of an array; `None` for other types.
    fn array_len(&self) -> Option<usize>;

    /// The elements of an array (none for other types).
    fn elements(&self) -> Self::Elements;

    /// The element as an owned [`Frame`] (payloads still share the received bytes).
    fn to_frame(&self) -> Frame;
}

impl<'a> ReadReply<'a> for &'a Frame {
    type Elements = std::slice::Iter<'a, Frame>;

    fn kind(&self) -> ReplyKind {
        match self {
            Frame::Simple(_) => ReplyKind::Simple,
            Frame::Error(_) => ReplyKind::Error,
            Frame::Integer(_) => ReplyKind::Integer,
            Frame::Bulk(_) => ReplyKind::Bulk,
            Frame::Null => ReplyKind::Null,
            Frame::NullArray => ReplyKind::NullArray,
            Frame::Array(_) => ReplyKind::Array,
        }
    }

    fn type_name(&self) -> &'static str {
        Frame::type_name(self)
    }

    fn as_bytes(&self) -> Option<&'a [u8]> {
        Frame::as_bytes(self)
    }

    fn to_bytes(&self) -> Option<Bytes> {
        Frame::to_bytes(self)
    }

    fn as_int(&self) -> Option<i64> {
        Frame::as_int(self)
    }

    fn error_line(&self) -> Option<&'a [u8]> {
        Frame::error_line(self)
    }

    fn to_error_line(&self) -> Option<Bytes> {
        match self {
            Frame::Error(line) => Some(line.clone()),
            _ => None,
        }
    }

    fn array_len(&self) -> Option<usize> {
        self.as_array().map(<[Frame]>::len)
    }

    fn elements(&self) -> Self::Elements {
        Frame::iter(self)
    }

    fn to_frame(&self) -> Frame {
        Frame::clone(self)
    }
}

impl<'a> ReadReply<'a> for ReplyRef<'a> {
    type Elements = crate::Elements<'a>;

    fn kind(&self) -> ReplyKind {
        ReplyRef::kind(self)
    }

    fn type_name(&self) -> &'static str {
        ReplyRef::type_name(self)
    }

    fn as_bytes(&self) -> Option<&'a [u8]> {
        ReplyRef::as_bytes(self)
    }

    fn to_bytes(&self) -> Option<Bytes> {
        ReplyRef::to_bytes(self)
    }

    fn as_int(&self) -> Option<i64> {
        ReplyRef::as_int(self)
    }

    fn error_line(&self) -> Option<&'a [u8]> {
        ReplyRef::error_line(self)
    }

    fn to_error_line(&self) -> Option<Bytes> {
        ReplyRef::to_error_line(self)
    }

    fn array_len(&self) -> Option<usize> {
        ReplyRef::array_len(self)
    }

    fn elements(&self) -> Self::Elements {
        ReplyRef::iter(self)
    }

    fn to_frame(&self) -> Frame {
        ReplyRef::to_frame(self)
    }
}

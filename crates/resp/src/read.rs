//! [`ReadReply`]: one way to read a decoded reply, whether a [`Frame`] holds it or a
//! [`ReplyRef`] views it in the received bytes, so that conversions into Rust types are
//! written once for both.

use bytes::Bytes;

use crate::{Frame, ReplyRef};

/// The RESP type of one reply element.
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
    /// A RESP3 map.
    Map,
    /// A RESP3 set.
    Set,
    /// A RESP3 push (out-of-band data: a pub/sub message, an invalidation).
    Push,
    /// A RESP3 double.
    Double,
    /// A RESP3 boolean.
    Boolean,
    /// A RESP3 big number.
    BigNumber,
    /// A RESP3 verbatim string.
    Verbatim,
    /// RESP3 attributes and the element they describe (only from a decoder asked to keep
    /// them).
    Attribute,
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

    /// The element's RESP type.
    fn kind(&self) -> ReplyKind;

    /// The type's name, for error messages (`"bulk string"`, `"array"`, ...).
    fn type_name(&self) -> &'static str;

    /// The payload of a bulk or simple string; the text of a RESP3 verbatim string (without
    /// its format), double or big number.
    fn as_bytes(&self) -> Option<&'a [u8]>;

    /// [`as_bytes`](Self::as_bytes) as a shared view of the received bytes.
    fn to_bytes(&self) -> Option<Bytes>;

    /// The value of an integer.
    fn as_int(&self) -> Option<i64>;

    /// The value of a RESP3 double, or of a string holding a number (how RESP2 sends
    /// scores).
    fn as_double(&self) -> Option<f64>;

    /// The value of a RESP3 boolean.
    fn as_bool(&self) -> Option<bool>;

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

    /// The number of elements of an array, set or push, or of a map's keys and values
    /// together; `None` for other types.
    fn array_len(&self) -> Option<usize>;

    /// The elements of an array, set or push, or a map's keys and values alternating
    /// (none for other types).
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
            Frame::Map(_) => ReplyKind::Map,
            Frame::Set(_) => ReplyKind::Set,
            Frame::Push(_) => ReplyKind::Push,
            Frame::Double(_) => ReplyKind::Double,
            Frame::Boolean(_) => ReplyKind::Boolean,
            Frame::BigNumber(_) => ReplyKind::BigNumber,
            Frame::Verbatim(_) => ReplyKind::Verbatim,
            Frame::Attribute { .. } => ReplyKind::Attribute,
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

    fn as_double(&self) -> Option<f64> {
        Frame::as_double(self)
    }

    fn as_bool(&self) -> Option<bool> {
        Frame::as_bool(self)
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

    fn as_double(&self) -> Option<f64> {
        ReplyRef::as_double(self)
    }

    fn as_bool(&self) -> Option<bool> {
        ReplyRef::as_bool(self)
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

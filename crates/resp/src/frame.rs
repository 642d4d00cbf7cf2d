//! One RESP2 or RESP3 reply (or request) and the accessors a client needs to read it
//! without copying.

use bytes::Bytes;

/// One RESP2 or RESP3 value. String payloads are [`Bytes`]: views into the buffer they were
/// decoded from, cheap to clone and to keep.
///
/// RESP3's null (`_`) decodes as [`Frame::Null`] and its blob error (`!`) as
/// [`Frame::Error`]. A map keeps its keys and values alternating in one `Vec` (the layout of
/// a RESP2 reply of pairs, so code that reads pairs reads both; see [`Frame::pairs`]).
///
/// ```
/// use slotline_resp::Frame;
/// let reply = Frame::Array(vec![Frame::Bulk("a".into()), Frame::Integer(2), Frame::Null]);
/// let items = reply.as_array().unwrap();
/// assert_eq!(items[0].as_str(), Some("a"));
/// assert_eq!(items[1].as_int(), Some(2));
/// assert!(items[2].is_null());
///
/// let err = Frame::Error("MOVED 3999 127.0.0.1:6381".into());
/// assert_eq!(err.error_kind(), Some("MOVED"));
/// assert_eq!(err.error_message(), Some("3999 127.0.0.1:6381"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Frame {
    /// `+OK\r\n`: a status line (no CR or LF inside).
    Simple(Bytes),
    /// `-ERR message\r\n`: an error reply; its first word is the error kind.
    Error(Bytes),
    /// `:42\r\n`: a signed 64-bit integer.
    Integer(i64),
    /// `$3\r\nfoo\r\n`: a binary-safe string.
    Bulk(Bytes),
    /// `$-1\r\n`: the null bulk string (a missing value, e.g. `GET` of an absent key).
    Null,
    /// `*-1\r\n`: the null array (e.g. an aborted `EXEC`, a timed-out `BLPOP`).
    NullArray,
    /// `*2\r\n...`: an array of frames.
    Array(Vec<Frame>),
    /// RESP3 `%2\r\n...`: a map, its keys and values alternating (`k1, v1, k2, v2`).
    Map(Vec<Frame>),
    /// RESP3 `~2\r\n...`: a set.
    Set(Vec<Frame>),
    /// RESP3 `>3\r\n...`: a push, data the server sends on its own (a pub/sub message, a
    /// key invalidation), not the reply to a command.
    Push(Vec<Frame>),
    /// RESP3 `,3.14\r\n`: a double, its text as sent (`3.14`, `1e10`, `inf`, `-inf`,
    /// `nan`); [`as_double`](Frame::as_double) parses it.
    Double(Bytes),
    /// RESP3 `#t\r\n` or `#f\r\n`: a boolean.
    Boolean(bool),
    /// RESP3 `(3492890328409238509324850943850943825024385\r\n`: an integer of any size,
    /// its digits as sent.
    BigNumber(Bytes),
    /// RESP3 `=15\r\ntxt:Some string\r\n`: a verbatim string, its payload as sent (the
    /// three-letter format, `:`, then the text); [`as_bytes`](Frame::as_bytes) gives the text.
    Verbatim(Bytes),
    /// RESP3 `|1\r\n...`: attributes (pairs, keys and values alternating) and the element
    /// they describe. Only a decoder asked to keep them
    /// ([`Decoder::keep_attributes`](crate::Decoder::keep_attributes)) gives these.
    Attribute {
        /// The attributes' keys and values, alternating.
        attributes: Vec<Frame>,
        /// The element described.
        value: Box<Frame>,
    },
}

impl Frame {
    /// A bulk string frame.
    pub fn bulk(data: impl Into<Bytes>) -> Self {
        Frame::Bulk(data.into())
    }

    /// A simple-string frame. The caller keeps CR and LF out of it.
    pub fn simple(line: impl Into<Bytes>) -> Self {
        Frame::Simple(line.into())
    }

    /// An error frame (`kind` word, a space, then the message). The caller keeps CR and LF
    /// out of it.
    pub fn error(line: impl Into<Bytes>) -> Self {
        Frame::Error(line.into())
    }

    /// The name of this frame's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Frame::Simple(_) => "simple string",
            Frame::Error(_) => "error",
            Frame::Integer(_) => "integer",
            Frame::Bulk(_) => "bulk string",
            Frame::Null => "null",
            Frame::NullArray => "null array",
            Frame::Array(_) => "array",
            Frame::Map(_) => "map",
            Frame::Set(_) => "set",
            Frame::Push(_) => "push",
            Frame::Double(_) => "double",
            Frame::Boolean(_) => "boolean",
            Frame::BigNumber(_) => "big number",
            Frame::Verbatim(_) => "verbatim string",
            Frame::Attribute { .. } => "attribute",
        }
    }

    /// The payload of a bulk or simple string; the text of a RESP3 verbatim string (without
    /// its format), double or big number.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Bulk(b) | Frame::Simple(b) | Frame::Double(b) | Frame::BigNumber(b) => Some(b),
            Frame::Verbatim(b) => b.get(VERBATIM_TEXT..),
            _ => None,
        }
    }

    /// [`as_bytes`](Frame::as_bytes), as a shared view (no copy).
    pub fn to_bytes(&self) -> Option<Bytes> {
        match self {
            Frame::Bulk(b) | Frame::Simple(b) | Frame::Double(b) | Frame::BigNumber(b) => {
                Some(b.clone())
            }
            Frame::Verbatim(b) if b.len() >= VERBATIM_TEXT => Some(b.slice(VERBATIM_TEXT..)),
            _ => None,
        }
    }

    /// The payload of a bulk or simple string, if it is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The value of an integer frame.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Frame::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The value of a RESP3 double, or of a string holding a number (how RESP2 sends
    /// scores).
    pub fn as_double(&self) -> Option<f64> {
        match self {
            Frame::Double(b) | Frame::Bulk(b) | Frame::Simple(b) => crate::number::parse_double(b),
            _ => None,
        }
    }

    /// The value of a RESP3 boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Frame::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The format of a RESP3 verbatim string (`txt`, `mkd`).
    pub fn verbatim_format(&self) -> Option<&[u8]> {
        match self {
            Frame::Verbatim(b) => b.get(..VERBATIM_TEXT - 1),
            _ => None,
        }
    }

    /// The elements of an array, set or push frame, or of a map (keys and values
    /// alternating).
    pub fn as_array(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(items) | Frame::Map(items) | Frame::Set(items) | Frame::Push(items) => {
                Some(items)
            }
            _ => None,
        }
    }

    /// The elements of an array, set, push or map frame, by value.
    pub fn into_array(self) -> Result<Vec<Frame>, Frame> {
        match self {
            Frame::Array(items) | Frame::Map(items) | Frame::Set(items) | Frame::Push(items) => {
                Ok(items)
            }
            other => Err(other),
        }
    }

    /// The pairs of a map (or of any aggregate, taken two by two, as RESP2 sends them).
    ///
    /// ```
    /// use slotline_resp::Frame;
    /// let map = Frame::Map(vec![Frame::simple("a"), Frame::Integer(1)]);
    /// let flat = Frame::Array(vec![Frame::bulk("a"), Frame::Integer(1)]);
    /// for frame in [&map, &flat] {
    ///     let pairs: Vec<_> = frame.pairs().map(|(k, v)| (k.as_str(), v.as_int())).collect();
    ///     assert_eq!(pairs, [(Some("a"), Some(1))]);
    /// }
    /// ```
    pub fn pairs(&self) -> impl Iterator<Item = (&Frame, &Frame)> {
        self.as_array()
            .unwrap_or(&[])
            .chunks_exact(2)
            .map(|pair| (&pair[0], &pair[1]))
    }

    /// Iterates over the elements of an array, set, push or map (keys and values
    /// alternating); empty for any other frame.
    pub fn iter(&self) -> std::slice::Iter<'_, Frame> {
        self.as_array().unwrap_or(&[]).iter()
    }

    /// Whether this is the null bulk string or the null array.
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullArray)
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// The whole line of an error reply.
    pub fn error_line(&self) -> Option<&[u8]> {
        match self {
            Frame::Error(line) => Some(line),
            _ => None,
        }
    }

    /// The kind word of an error reply: `ERR`, `WRONGTYPE`, `MOVED`, ...
    pub fn error_kind(&self) -> Option<&str> {
        std::str::from_utf8(crate::ReadReply::error_kind(&self)?).ok()
    }

    /// The rest of an error reply after its kind word (empty when there is none).
    pub fn error_message(&self) -> Option<&str> {
        let line = self.error_line()?;
        let rest = match line.iter().position(|&b| b == b' ') {
            Some(space) => &line[space + 1..],
            None => &[],
        };
        std::str::from_utf8(rest).ok()
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Frame::Simple(b) => write!(f, "Simple({})", Escaped(b)),
            Frame::Error(b) => write!(f, "Error({})", Escaped(b)),
            Frame::Integer(n) => write!(f, "Integer({n})"),
            Frame::Bulk(b) => write!(f, "Bulk({})", Escaped(b)),
            Frame::Null => f.write_str("Null"),
            Frame::NullArray => f.write_str("NullArray"),
            Frame::Array(items) => f.debug_tuple("Array").field(items).finish(),
            Frame::Map(items) => f.debug_tuple("Map").field(items).finish(),
            Frame::Set(items) => f.debug_tuple("Set").field(items).finish(),
            Frame::Push(items) => f.debug_tuple("Push").field(items).finish(),
            Frame::Double(b) => write!(f, "Double({})", Escaped(b)),
            Frame::Boolean(b) => write!(f, "Boolean({b})"),
            Frame::BigNumber(b) => write!(f, "BigNumber({})", Escaped(b)),
            Frame::Verbatim(b) => write!(f, "Verbatim({})", Escaped(b)),
            Frame::Attribute { attributes, value } => f
                .debug_struct("Attribute")
                .field("attributes", attributes)
                .field("value", value)
                .finish(),
        }
    }
}

/// Where a verbatim string's text starts: after its three-letter format and `:`.
const VERBATIM_TEXT: usize = 4;

/// Shows bytes as a quoted string with non-printable bytes escaped; long payloads are cut.
struct Escaped<'a>(&'a [u8]);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 256;
        f.write_str("\"")?;
        for &b in self.0.iter().take(SHOWN) {
            for c in std::ascii::escape_default(b) {
                write!(f, "{}", char::from(c))?;
            }
        }
        if self.0.len() > SHOWN {
            write!(f, "\"... ({} bytes)", self.0.len())
        } else {
            f.write_str("\"")
        }
    }
}

impl From<i64> for Frame {
    fn from(n: i64) -> Self {
        Frame::Integer(n)
    }
}

impl From<Bytes> for Frame {
    fn from(b: Bytes) -> Self {
        Frame::Bulk(b)
    }
}

impl From<Vec<Frame>> for Frame {
    fn from(items: Vec<Frame>) -> Self {
        Frame::Array(items)
    }
}

//! One RESP2 reply (or request) and the accessors a client needs to read it without copying.

use bytes::Bytes;

/// One RESP2 value. String payloads are [`Bytes`]: views into the buffer they were decoded
/// from, cheap to clone and to keep.
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
        }
    }

    /// The payload of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Bulk(b) | Frame::Simple(b) => Some(b),
            _ => None,
        }
    }

    /// The payload of a bulk or simple string, as a shared view (no copy).
    pub fn to_bytes(&self) -> Option<Bytes> {
        match self {
            Frame::Bulk(b) | Frame::Simple(b) => Some(b.clone()),
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

    /// The elements of an array frame.
    pub fn as_array(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The elements of an array frame, by value.
    pub fn into_array(self) -> Result<Vec<Frame>, Frame> {
        match self {
            Frame::Array(items) => Ok(items),
            other => Err(other),
        }
    }

    /// Iterates over the elements of an array frame; empty for any other frame.
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
        }
    }
}

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

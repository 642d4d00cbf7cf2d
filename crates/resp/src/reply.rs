//! [`Reply`]: a decoded reply read in place, without building [`Frame`]s.
//!
//! [`Decoder::decode_reply`](crate::Decoder::decode_reply) hands out the reply's bytes (one
//! frozen buffer) together with the index the decoder's scan made of its elements. Reading
//! it through [`ReplyRef`] views costs no allocation per array and no reference count per
//! payload; a payload becomes a `Bytes` (still without a copy) only when asked for with
//! [`ReplyRef::to_bytes`].

use bytes::{Bytes, BytesMut};

use crate::decode::{build_flat, build_nested, scalar_frame, Token};
use crate::{Decoder, Frame, Limits, ProtocolError, ProtocolErrorKind, ReplyKind};

/// One complete reply, kept in its received bytes with an index of its elements.
///
/// ```
/// use bytes::BytesMut;
/// use slotline_resp::{Decoder, Frame};
///
/// let mut dec = Decoder::default();
/// let mut buf = BytesMut::from(&b"*2\r\n$3\r\nfoo\r\n:42\r\n"[..]);
/// let reply = dec.decode_reply(&mut buf)?.expect("complete");
/// let view = reply.view();
/// assert_eq!(view.array_len(), Some(2));
/// assert_eq!(view.get(0).and_then(|e| e.as_str()), Some("foo"));
/// assert_eq!(view.get(1).and_then(|e| e.as_int()), Some(42));
/// assert_eq!(reply.into_frame(), Frame::Array(vec![Frame::bulk("foo"), Frame::Integer(42)]));
/// # Ok::<(), slotline_resp::ProtocolError>(())
/// ```
#[derive(Clone)]
pub struct Reply {
    /// The bytes the payload offsets point into.
    buf: Bytes,
    /// The element of a reply that is not a non-empty array (then `tokens` is empty).
    root: Token,
    /// A non-empty array's elements, depth first, the array itself first.
    tokens: Vec<Token>,
}

impl Reply {
    /// A reply that is not a non-empty array, from its frame (the decoder's scalar path).
    pub(crate) fn from_unit(frame: Frame) -> Reply {
        let whole = |kind, b: Bytes| {
            let len = b.len();
            (b, Token::span(kind, 0, len))
        };
        let (buf, root) = match frame {
            Frame::Simple(b) => whole(Token::SIMPLE, b),
            Frame::Error(b) => whole(Token::ERROR, b),
            Frame::Bulk(b) => whole(Token::BULK, b),
            Frame::Integer(n) => (Bytes::new(), Token::integer(n)),
            Frame::Null => (Bytes::new(), Token::unit(Token::NULL)),
            Frame::NullArray => (Bytes::new(), Token::unit(Token::NULL_ARRAY)),
            Frame::Double(b) => whole(Token::DOUBLE, b),
            Frame::BigNumber(b) => whole(Token::BIG_NUMBER, b),
            Frame::Verbatim(b) => whole(Token::VERBATIM, b),
            Frame::Boolean(b) => (Bytes::new(), Token::boolean(b)),
            // The decoder's scalar path gives only empty aggregates.
            Frame::Map(_) => (Bytes::new(), Token::empty_aggregate(Token::MAP)),
            Frame::Set(_) => (Bytes::new(), Token::empty_aggregate(Token::SET)),
            Frame::Push(_) => (Bytes::new(), Token::empty_aggregate(Token::PUSH)),
            Frame::Array(_) | Frame::Attribute { .. } => {
                (Bytes::new(), Token::unit(Token::EMPTY_ARRAY))
            }
        };
        Reply {
            buf,
            root,
            tokens: Vec::new(),
        }
    }

    /// A reply that reads as `frame`, for code that builds replies itself (a cluster
    /// command answered by several nodes, merged). A non-empty array is encoded and read
    /// back; that fails only for arrays nested deeper than [`Limits::DEPTH_CEILING`].
    ///
    /// ```
    /// use slotline_resp::{Frame, Reply};
    /// let frame = Frame::Array(vec![Frame::bulk("a"), Frame::Integer(1)]);
    /// let reply = Reply::from_frame(frame.clone())?;
    /// assert_eq!(reply.view().to_frame(), frame);
    /// # Ok::<(), slotline_resp::ProtocolError>(())
    /// ```
    pub fn from_frame(frame: Frame) -> Result<Reply, ProtocolError> {
        let unit = match &frame {
            Frame::Array(items) | Frame::Map(items) | Frame::Set(items) | Frame::Push(items) => {
                items.is_empty()
            }
            Frame::Attribute { .. } => false,
            _ => true,
        };
        if unit {
            return Ok(Reply::from_unit(frame));
        }
        let mut wire = BytesMut::with_capacity(frame.encoded_len());
        frame.encode(&mut wire);
        let len = wire.len();
        let limits = Limits {
            max_bulk_len: usize::MAX,
            max_array_len: usize::MAX,
            max_depth: Limits::DEPTH_CEILING,
            max_line_len: usize::MAX,
        };
        Decoder::with_limits(limits)
            .keep_attributes(true)
            .decode_reply(&mut wire)?
            .ok_or_else(|| ProtocolError::new(ProtocolErrorKind::ExpectedCrlf, len))
    }

    /// A non-empty array reply: its bytes and its tokens, subtree sizes marked.
    pub(crate) fn from_tokens(buf: Bytes, tokens: Vec<Token>) -> Reply {
        Reply {
            buf,
            root: Token::unit(Token::NULL),
            tokens,
        }
    }

    /// The same reply in bytes of its own, with how many bytes it holds: keeping it (in a
    /// cache) does not keep the read buffer it arrived in.
    pub fn detached(&self) -> (Reply, usize) {
        // Frozen from a `BytesMut`: its clones share one count, with no allocation on the
        // first (as a copied `Bytes` has).
        let buf = BytesMut::from(&self.buf[..]).freeze();
        let size = buf.len() + std::mem::size_of_val(self.tokens.as_slice());
        let reply = Reply {
            buf,
            root: self.root,
            tokens: self.tokens.clone(),
        };
        (reply, size)
    }

    /// Whether the reply is an error reply (as [`ReplyRef::is_error`], without making the
    /// view: an error is never an array, so its kind is the root's).
    pub fn is_error(&self) -> bool {
        self.tokens.is_empty() && self.root.kind() == Token::ERROR
    }

    /// The reply's top element.
    pub fn view(&self) -> ReplyRef<'_> {
        let tokens = if self.tokens.is_empty() {
            std::slice::from_ref(&self.root)
        } else {
            &self.tokens
        };
        ReplyRef {
            buf: &self.buf,
            tokens,
        }
    }

    /// The same reply as a [`Frame`] (payloads still share the received bytes).
    pub fn into_frame(self) -> Frame {
        // A string reply's bytes are its payload: handed over without touching a count.
        if self.tokens.is_empty() && self.root.range() == (0..self.buf.len()) {
            match self.root.kind() {
                Token::BULK => return Frame::Bulk(self.buf),
                Token::SIMPLE => return Frame::Simple(self.buf),
                Token::ERROR => return Frame::Error(self.buf),
                Token::DOUBLE => return Frame::Double(self.buf),
                Token::BIG_NUMBER => return Frame::BigNumber(self.buf),
                Token::VERBATIM => return Frame::Verbatim(self.buf),
                _ => {}
            }
        }
        self.view().to_frame()
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.view(), f)
    }
}

/// One element of a [`Reply`], read in place.
#[derive(Clone, Copy)]
pub struct ReplyRef<'a> {
    buf: &'a Bytes,
    /// This element's token first, then its subtree's.
    tokens: &'a [Token],
}

impl<'a> ReplyRef<'a> {
    fn token(&self) -> Token {
        self.tokens
            .first()
            .copied()
            .unwrap_or(Token::unit(Token::NULL))
    }

    fn payload(&self, kinds: &[usize]) -> Option<&'a [u8]> {
        let token = self.token();
        if !kinds.contains(&token.kind()) {
            return None;
        }
        self.buf.get(token.range())
    }

    /// Where the text of a string-like element lies (see [`as_bytes`](Self::as_bytes)).
    fn text_range(&self) -> Option<std::ops::Range<usize>> {
        let token = self.token();
        match token.kind() {
            Token::BULK | Token::SIMPLE | Token::DOUBLE | Token::BIG_NUMBER => Some(token.range()),
            // The decoder checked the format and its `:`.
            Token::VERBATIM => {
                let range = token.range();
                Some((range.start + VERBATIM_TEXT).min(range.end)..range.end)
            }
            _ => None,
        }
    }

    /// The RESP type's name, as [`Frame::type_name`] gives it.
    pub fn type_name(&self) -> &'static str {
        match self.kind() {
            ReplyKind::Simple => "simple string",
            ReplyKind::Error => "error",
            ReplyKind::Integer => "integer",
            ReplyKind::Bulk => "bulk string",
            ReplyKind::Null => "null",
            ReplyKind::NullArray => "null array",
            ReplyKind::Array => "array",
            ReplyKind::Map => "map",
            ReplyKind::Set => "set",
            ReplyKind::Push => "push",
            ReplyKind::Double => "double",
            ReplyKind::Boolean => "boolean",
            ReplyKind::BigNumber => "big number",
            ReplyKind::Verbatim => "verbatim string",
            ReplyKind::Attribute => "attribute",
        }
    }

    /// The element's RESP type.
    pub fn kind(&self) -> ReplyKind {
        let token = self.token();
        match token.kind() {
            Token::SIMPLE => ReplyKind::Simple,
            Token::ERROR => ReplyKind::Error,
            Token::INTEGER => ReplyKind::Integer,
            Token::BULK => ReplyKind::Bulk,
            Token::NULL => ReplyKind::Null,
            Token::NULL_ARRAY => ReplyKind::NullArray,
            Token::DOUBLE => ReplyKind::Double,
            Token::BOOLEAN => ReplyKind::Boolean,
            Token::BIG_NUMBER => ReplyKind::BigNumber,
            Token::VERBATIM => ReplyKind::Verbatim,
            Token::MAP => ReplyKind::Map,
            Token::SET => ReplyKind::Set,
            Token::PUSH => ReplyKind::Push,
            Token::ATTRIBUTE => ReplyKind::Attribute,
            Token::EMPTY_AGGREGATE => match token.value as usize {
                Token::MAP => ReplyKind::Map,
                Token::SET => ReplyKind::Set,
                _ => ReplyKind::Push,
            },
            _ => ReplyKind::Array,
        }
    }

    /// The payload of a bulk or simple string; the text of a RESP3 verbatim string (without
    /// its format), double or big number.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        self.buf.get(self.text_range()?)
    }

    /// [`as_bytes`](Self::as_bytes), as a shared view of the received bytes.
    pub fn to_bytes(&self) -> Option<Bytes> {
        // The decoder's offsets always lie within the reply's bytes.
        Some(self.buf.slice(self.text_range()?))
    }

    /// The value of a RESP3 double, or of a string holding a number (how RESP2 sends
    /// scores).
    pub fn as_double(&self) -> Option<f64> {
        let text = self.payload(&[Token::DOUBLE, Token::BULK, Token::SIMPLE])?;
        crate::number::parse_double(text)
    }

    /// The value of a RESP3 boolean.
    pub fn as_bool(&self) -> Option<bool> {
        let token = self.token();
        (token.kind() == Token::BOOLEAN).then_some(token.value != 0)
    }

    /// The payload of a bulk or simple string, if it is valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    /// The value of an integer reply.
    pub fn as_int(&self) -> Option<i64> {
        let token = self.token();
        (token.kind() == Token::INTEGER).then_some(token.value as i64)
    }

    /// Whether this is the null bulk string or the null array.
    pub fn is_null(&self) -> bool {
        matches!(self.token().kind(), Token::NULL | Token::NULL_ARRAY)
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        self.token().kind() == Token::ERROR
    }

    /// The whole line of an error reply (`ERR unknown command ...`).
    pub fn error_line(&self) -> Option<&'a [u8]> {
        self.payload(&[Token::ERROR])
    }

    /// The whole line of an error reply, as a shared view of the received bytes.
    pub fn to_error_line(&self) -> Option<Bytes> {
        let token = self.token();
        // The decoder's offsets always lie within the reply's bytes.
        (token.kind() == Token::ERROR).then(|| self.buf.slice(token.range()))
    }

    /// The number of elements of an array, set or push (0 for an empty one), or of a
    /// map's keys and values together; `None` for other types (attributes kept by the
    /// decoder too: read them with [`to_frame`](Self::to_frame)).
    pub fn array_len(&self) -> Option<usize> {
        let token = self.token();
        match token.kind() {
            Token::EMPTY_ARRAY | Token::EMPTY_AGGREGATE => Some(0),
            Token::ATTRIBUTE => None,
            _ => token.children(),
        }
    }

    /// The elements of an array, set or push, the keys and values of a map (alternating),
    /// in order (none for other types).
    pub fn iter(&self) -> Elements<'a> {
        let token = self.token();
        let (rest, left) = match token.children() {
            Some(n) if token.kind() != Token::ATTRIBUTE => (self.tokens.get(1..).unwrap_or(&[]), n),
            _ => (&[][..], 0),
        };
        Elements {
            buf: self.buf,
            rest,
            left,
        }
    }

    /// Element `index` of an array.
    pub fn get(&self, index: usize) -> Option<ReplyRef<'a>> {
        self.iter().nth(index)
    }

    /// This element as a [`Frame`] (payloads share the received bytes).
    pub fn to_frame(&self) -> Frame {
        let token = self.token();
        let Some(children) = token.children() else {
            return scalar_frame(token, self.buf);
        };
        let size = token.subtree().min(self.tokens.len());
        // One token per element: none of them is a non-empty aggregate.
        if size == children + 1 {
            return build_flat(&self.tokens[..size], self.buf);
        }
        build_nested(&self.tokens[..size], self.buf, &mut Vec::new())
    }
}

/// Where a verbatim string's text starts: after its three-letter format and `:`.
const VERBATIM_TEXT: usize = 4;

impl std::fmt::Debug for ReplyRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.to_frame(), f)
    }
}

/// The elements of an array [`ReplyRef`], in order.
#[derive(Clone)]
pub struct Elements<'a> {
    buf: &'a Bytes,
    /// The tokens of the elements not yet given.
    rest: &'a [Token],
    left: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = ReplyRef<'a>;

    fn next(&mut self) -> Option<ReplyRef<'a>> {
        if self.left == 0 {
            return None;
        }
        let first = *self.rest.first()?;
        let size = if first.is_aggregate() {
            first.subtree().max(1)
        } else {
            1
        };
        let (tokens, rest) = self.rest.split_at(size.min(self.rest.len()));
        self.rest = rest;
        self.left -= 1;
        Some(ReplyRef {
            buf: self.buf,
            tokens,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Elements<'_> {}

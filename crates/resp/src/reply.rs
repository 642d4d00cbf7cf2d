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
            // The decoder's scalar path gives only empty arrays.
            Frame::Array(_) => (Bytes::new(), Token::unit(Token::EMPTY_ARRAY)),
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
        if !matches!(&frame, Frame::Array(items) if !items.is_empty()) {
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

    /// The RESP type's name, as [`Frame::type_name`] gives it.
    pub fn type_name(&self) -> &'static str {
        match self.token().kind() {
            Token::SIMPLE => "simple string",
            Token::ERROR => "error",
            Token::INTEGER => "integer",
            Token::BULK => "bulk string",
            Token::NULL => "null",
            Token::NULL_ARRAY => "null array",
            _ => "array",
        }
    }

    /// The element's RESP2 type.
    pub fn kind(&self) -> ReplyKind {
        match self.token().kind() {
            Token::SIMPLE => ReplyKind::Simple,
            Token::ERROR => ReplyKind::Error,
            Token::INTEGER => ReplyKind::Integer,
            Token::BULK => ReplyKind::Bulk,
            Token::NULL => ReplyKind::Null,
            Token::NULL_ARRAY => ReplyKind::NullArray,
            _ => ReplyKind::Array,
        }
    }

    /// The payload of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        self.payload(&[Token::BULK, Token::SIMPLE])
    }

    /// The payload of a bulk or simple string, as a shared view of the received bytes.
    pub fn to_bytes(&self) -> Option<Bytes> {
        let token = self.token();
        match token.kind() {
            // The decoder's offsets always lie within the reply's bytes.
            Token::BULK | Token::SIMPLE => Some(self.buf.slice(token.range())),
            _ => None,
        }
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

    /// The number of elements of an array (0 for an empty one); `None` for other types.
    pub fn array_len(&self) -> Option<usize> {
        match self.token().kind() {
            Token::EMPTY_ARRAY => Some(0),
            Token::ARRAY => Some(self.token().value as usize),
            _ => None,
        }
    }

    /// The elements of an array, in order (none for other types).
    pub fn iter(&self) -> Elements<'a> {
        let token = self.token();
        let (rest, left) = match token.kind() {
            Token::ARRAY => (self.tokens.get(1..).unwrap_or(&[]), token.value as usize),
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
        if token.kind() != Token::ARRAY {
            return scalar_frame(token, self.buf);
        }
        let size = (token.head >> 3).min(self.tokens.len());
        // One token per element: none of them is a non-empty array.
        if size as u64 == token.value + 1 {
            return build_flat(&self.tokens[..size], self.buf);
        }
        build_nested(&self.tokens[..size], self.buf, &mut Vec::new())
    }
}

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
        let size = match first.kind() {
            Token::ARRAY => (first.head >> 3).max(1),
            _ => 1,
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

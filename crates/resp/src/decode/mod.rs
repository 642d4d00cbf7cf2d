//! The incremental, non-recursive, bounded decoder, for RESP2 and RESP3 alike.
//!
//! A reply is decoded in two steps. The *scan* walks the bytes once, checks every header
//! against the [`Limits`] and records each element as a small [`Token`] (kind and offsets).
//! When more bytes are needed it stops and remembers where it was, so bytes already scanned
//! are never scanned again. Once the last element is in, the *build* step splits the reply
//! off the buffer, freezes it once, and turns the tokens into [`Frame`]s whose payloads are
//! slices of that one frozen buffer. Both steps use explicit stacks: no recursion on depth
//! the peer controls.
//!
//! Replies that are not aggregates (most replies a client sees) skip the tokens entirely.
//!
//! RESP3's aggregates (maps, sets, pushes, attributes) are scanned like arrays: a map of
//! `n` pairs is `2n` elements, attributes are their pairs and then the element they describe.
//! Attributes are dropped from the index as soon as their pairs are in, unless the decoder
//! was asked to keep them ([`Decoder::keep_attributes`]).
//!
//! Every element is first tried on a *fast path* ([`fast_element`], [`Decoder::fast_scalar`])
//! that accepts only the common, complete, valid forms (short decimal headers, payloads
//! already in the buffer, limits respected) and does nothing else. Anything it declines (an
//! element cut short, a long header, a malformed or over-limit one) goes to the careful
//! path ([`Decoder::slow_element`], [`Decoder::decode_scalar`]), which tells "wait for more
//! bytes" from "invalid" and reports the exact kind and offset. The fast path never decides
//! an outcome the careful path would decide differently; it only answers sooner.

mod build;
mod fast;
mod token;

use bytes::{Buf, Bytes, BytesMut};

use build::mark_subtrees;
pub(crate) use build::{build_flat, build_nested, scalar_frame};
use fast::{fast_bulk, fast_element, fast_int, fast_line_end, interned, split_payload};
pub(crate) use token::Token;

use crate::error::{ProtocolError, ProtocolErrorKind};
use crate::number::{parse_int_line, parse_integer};
use crate::{Frame, Limits, Reply};

/// The token buffer of a reply with more elements than this is released after use, so one
/// huge reply does not pin its index for the life of a connection (smaller ones keep it, at
/// most twice this many 16-byte tokens: 8 MiB).
const KEPT_TOKEN_CAPACITY: usize = 1 << 18;

/// The most digits the fast path reads in a header; longer headers take the careful path.
/// Eighteen decimal digits always fit in an `i64`, so the fast path needs no overflow check.
const FAST_DIGITS: usize = 18;

/// Simple-string and error lines longer than this take the careful path.
const FAST_LINE: usize = 4096;

/// Decodes RESP2 and RESP3 replies off the front of a `BytesMut`, one complete reply per
/// call.
///
/// Keep one decoder per connection and call [`decode`](Decoder::decode) after every read:
/// it returns `Ok(None)` until the reply at the front is complete, remembering what it has
/// already checked, then hands the whole reply out and removes its bytes from the buffer.
///
/// ```
/// use bytes::BytesMut;
/// use slotline_resp::{Decoder, Frame, ProtocolErrorKind};
///
/// let mut dec = Decoder::default();
/// let mut buf = BytesMut::from(&b":1\r\n$5\r\nhel"[..]);
/// assert_eq!(dec.decode(&mut buf)?, Some(Frame::Integer(1)));
/// assert_eq!(dec.decode(&mut buf)?, None);
/// buf.extend_from_slice(b"lo\r\n");
/// assert_eq!(dec.decode(&mut buf)?, Some(Frame::Bulk("hello".into())));
///
/// // Hostile input fails at once, with the offset of the bad byte.
/// let mut evil = BytesMut::from(&b"$9223372036854775807\r\n"[..]);
/// let err = dec.decode(&mut evil).unwrap_err();
/// assert!(matches!(err.kind, ProtocolErrorKind::BulkTooLong { .. }));
/// # Ok::<(), slotline_resp::ProtocolError>(())
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    /// Offset of the first element not scanned yet, in the array reply at the front of the
    /// buffer; 0 when no array reply is in progress.
    pos: usize,
    /// Where the search for the CR of an incomplete simple or error line resumes.
    line_scan: usize,
    /// Elements still expected by the innermost open array.
    left: usize,
    /// For each enclosing open array, outermost first: the elements it still expects,
    /// counting the open array inside it.
    open: Vec<usize>,
    /// Whether the reply in progress holds a non-empty array inside its outer array.
    nested: bool,
    /// The elements scanned so far, in order.
    tokens: Vec<Token>,
    /// The aggregates enclosing the one being assembled by the build step, innermost last,
    /// each with the elements it still expects and its token (kept for its capacity).
    building: Vec<Building>,
    /// The attributes being skipped: the depth of the open aggregate that is the attribute,
    /// and the index of its token (everything from there is dropped once its pairs are in).
    skipping: Vec<(usize, usize)>,
    /// Whether attributes are kept in the replies (see [`Decoder::keep_attributes`]).
    keep_attributes: bool,
}

/// An aggregate being assembled by the build step: its elements so far, how many it still
/// expects, and its token.
pub(crate) type Building = (Vec<Frame>, usize, Token);

impl Decoder {
    /// A decoder with the given limits (`max_depth` is capped at
    /// [`Limits::DEPTH_CEILING`]).
    pub fn with_limits(limits: Limits) -> Self {
        Decoder {
            limits: limits.clamped(),
            ..Decoder::default()
        }
    }

    /// Keeps RESP3 attributes (`|`) in the replies, as [`Frame::Attribute`]: by default
    /// they are skipped and a reply reads as the element they describe.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use slotline_resp::{Decoder, Frame};
    ///
    /// let wire = &b"|1\r\n+ttl\r\n:3600\r\n$2\r\nhi\r\n"[..];
    /// let skipped = Decoder::default().decode(&mut BytesMut::from(wire))?;
    /// assert_eq!(skipped, Some(Frame::bulk("hi")));
    /// let kept = Decoder::default().keep_attributes(true).decode(&mut BytesMut::from(wire))?;
    /// assert_eq!(
    ///     kept,
    ///     Some(Frame::Attribute {
    ///         attributes: vec![Frame::simple("ttl"), Frame::Integer(3600)],
    ///         value: Box::new(Frame::bulk("hi")),
    ///     })
    /// );
    /// # Ok::<(), slotline_resp::ProtocolError>(())
    /// ```
    pub fn keep_attributes(mut self, keep: bool) -> Self {
        self.keep_attributes = keep;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether part of a reply has been scanned and the rest is awaited.
    pub fn is_partial(&self) -> bool {
        self.pos != 0 || self.line_scan != 0
    }

    /// Forgets any partly scanned reply, e.g. before reusing the decoder on a new stream.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.line_scan = 0;
        self.left = 0;
        self.nested = false;
        self.open.clear();
        self.skipping.clear();
        if self.tokens.len() > KEPT_TOKEN_CAPACITY {
            self.tokens = Vec::new();
        }
        self.tokens.clear();
    }

    /// Takes exactly one complete reply off the front of `src`.
    ///
    /// Returns `Ok(None)` when the reply is not complete yet; `src` is left as it was and the
    /// progress made is kept for the next call, which must be given the same buffer with
    /// more bytes appended. On error the decoder resets itself and `src` is untouched; the
    /// stream cannot be resynchronised and the connection should be closed.
    #[inline]
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        if self.pos == 0 && self.line_scan == 0 {
            if let Some(frame) = self.fast_scalar(src) {
                return Ok(Some(frame));
            }
        }
        self.decode_general(src)
    }

    /// Everything the fast scalar path declined: arrays, replies cut short, errors.
    fn decode_general(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        if self.pos > src.len() {
            // Not the buffer we were reading: start over rather than misread it.
            self.reset();
        }
        let result = match src.first() {
            None => return Ok(None),
            Some(&b) if self.pos == 0 && aggregate_kind(b).is_none() => self.decode_scalar(src),
            Some(_) => self.decode_array(src),
        };
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// The fast path for a complete, valid reply that is not an array.
    #[inline(always)]
    fn fast_scalar(&self, src: &mut BytesMut) -> Option<Frame> {
        let buf = &src[..];
        match *buf.first()? {
            b'+' => {
                // The shortcut keeps to the line limit, like every other path.
                if self.limits.max_line_len >= 2 && buf.starts_with(b"+OK\r\n") {
                    src.advance(5);
                    return Some(Frame::Simple(Bytes::from_static(b"OK")));
                }
                let cr = fast_line_end(buf, 1, self.limits.max_line_len)?;
                let line = &buf[1..cr];
                if let Some(known) = interned(line) {
                    src.advance(cr + 2);
                    return Some(Frame::Simple(known));
                }
                Some(Frame::Simple(split_payload(src, 1, cr, cr + 2)))
            }
            b':' => {
                let (n, end) = fast_int(buf, 1)?;
                src.advance(end);
                Some(Frame::Integer(n))
            }
            b'$' => match fast_bulk(buf, 0, self.limits.max_bulk_len) {
                Some((start, end)) => Some(Frame::Bulk(split_payload(src, start, end, end + 2))),
                None => {
                    if !buf.starts_with(b"$-1\r\n") {
                        return None;
                    }
                    src.advance(5);
                    Some(Frame::Null)
                }
            },
            _ => None,
        }
    }

    /// The careful path for a reply that is not an array: no tokens, one split.
    fn decode_scalar(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let buf = &src[..];
        match buf[0] {
            b'+' | b'-' => {
                let Some(cr) = self.find_line_end(buf, 1)? else {
                    return Ok(None);
                };
                self.line_scan = 0;
                if buf[0] == b'+' {
                    if let Some(known) = interned(&buf[1..cr]) {
                        src.advance(cr + 2);
                        return Ok(Some(Frame::Simple(known)));
                    }
                    return Ok(Some(Frame::Simple(split_payload(src, 1, cr, cr + 2))));
                }
                Ok(Some(Frame::Error(split_payload(src, 1, cr, cr + 2))))
            }
            b':' => {
                let Some((n, end)) = parse_integer(buf, 1)? else {
                    return Ok(None);
                };
                src.advance(end);
                Ok(Some(Frame::Integer(n)))
            }
            b'$' => match self.bulk_extent(buf, 0)? {
                None => Ok(None),
                Some(BulkExtent::Null(end)) => {
                    src.advance(end);
                    Ok(Some(Frame::Null))
                }
                Some(BulkExtent::Data(start, end)) => {
                    Ok(Some(Frame::Bulk(split_payload(src, start, end, end + 2))))
                }
            },
            // RESP3's other scalars: scanned as an element of an array would be.
            _ => match self.slow_element(buf, 0)? {
                None => Ok(None),
                Some((token, end)) => {
                    let reply = src.split_to(end).freeze();
                    Ok(Some(scalar_frame(token, &reply)))
                }
            },
        }
    }

    /// The array path: read the outer header, scan (resuming), then build once the reply is
    /// complete.
    fn decode_array(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let total = match self.scan_array(src)? {
            None => return Ok(None),
            Some(ArrayScan::Unit(frame)) => return Ok(Some(frame)),
            Some(ArrayScan::Complete(total)) => total,
        };
        let reply = src.split_to(total).freeze();
        let frame = match self.tokens.first() {
            // Attributes skipped before a scalar: the scalar is the reply.
            Some(&root) if !root.is_aggregate() => scalar_frame(root, &reply),
            _ if self.nested => build_nested(&self.tokens, &reply, &mut self.building),
            _ => build_flat(&self.tokens, &reply),
        };
        self.reset();
        Ok(Some(frame))
    }

    /// Takes exactly one complete reply off the front of `src`, like
    /// [`decode`](Decoder::decode), as a [`Reply`]: an array stays in its received bytes,
    /// with the decoder's index of its elements, and no frame is built (no allocation per
    /// array, no reference count per payload). Read it through [`Reply::view`].
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use slotline_resp::Decoder;
    ///
    /// let mut dec = Decoder::default();
    /// let mut buf = BytesMut::from(&b"*3\r\n$1\r\na\r\n$-1\r\n*1\r\n:7\r\n"[..]);
    /// let reply = dec.decode_reply(&mut buf)?.expect("complete");
    /// let items: Vec<_> = reply.view().iter().collect();
    /// assert_eq!(items[0].as_bytes(), Some(&b"a"[..]));
    /// assert!(items[1].is_null());
    /// assert_eq!(items[2].iter().next().and_then(|e| e.as_int()), Some(7));
    /// # Ok::<(), slotline_resp::ProtocolError>(())
    /// ```
    pub fn decode_reply(&mut self, src: &mut BytesMut) -> Result<Option<Reply>, ProtocolError> {
        if self.pos == 0 && src.first().and_then(|&b| aggregate_kind(b)).is_none() {
            return Ok(self.decode(src)?.map(Reply::from_unit));
        }
        if self.pos > src.len() {
            self.reset();
        }
        let scanned = match self.scan_array(src) {
            Ok(scanned) => scanned,
            Err(e) => {
                self.reset();
                return Err(e);
            }
        };
        let total = match scanned {
            None => return Ok(None),
            Some(ArrayScan::Unit(frame)) => return Ok(Some(Reply::from_unit(frame))),
            Some(ArrayScan::Complete(total)) => total,
        };
        let buf = src.split_to(total).freeze();
        if let [root] = self.tokens[..] {
            if !root.is_aggregate() {
                // Attributes skipped before a scalar: the scalar is the reply.
                self.reset();
                return Ok(Some(Reply::from_unit(scalar_frame(root, &buf))));
            }
        }
        let mut tokens = std::mem::take(&mut self.tokens);
        mark_subtrees(&mut tokens, self.nested, &mut self.open);
        self.reset();
        Ok(Some(Reply::from_tokens(buf, tokens)))
    }

    /// Reads the outer header of the aggregate reply at the front of `src` (unless already
    /// read) and scans on: the frame of a null or empty aggregate, the reply's total length
    /// once its last element is in, or `None` when more bytes are needed.
    fn scan_array(&mut self, src: &mut BytesMut) -> Result<Option<ArrayScan>, ProtocolError> {
        if self.pos == 0 {
            let Some((token, end)) = self.aggregate_header(&src[..], 0)? else {
                return Ok(None);
            };
            let empty = match token.children() {
                None => Some(scalar_frame(token, &Bytes::new())),
                Some(_) if self.limits.max_depth == 0 => {
                    return Err(ProtocolError::new(ProtocolErrorKind::TooDeep { max: 0 }, 0));
                }
                Some(n) => {
                    self.tokens.clear();
                    // Room for the elements already here (each takes at least 3 bytes), never
                    // for what the header merely announces.
                    let here = (src.len() - end) / 3;
                    self.tokens.reserve(n.min(here) + 1);
                    self.tokens.push(token);
                    self.open.clear();
                    self.skipping.clear();
                    if token.kind() == Token::ATTRIBUTE && !self.keep_attributes {
                        self.skipping.push((0, 0));
                    }
                    self.left = n;
                    self.nested = false;
                    self.pos = end;
                    None
                }
            };
            if let Some(frame) = empty {
                src.advance(end);
                return Ok(Some(ArrayScan::Unit(frame)));
            }
        }
        Ok(self.scan(&src[..])?.map(ArrayScan::Complete))
    }

    /// Scans elements from `self.pos` on, inside the open arrays. Returns the reply's total
    /// length once its last element is in, or `None` (progress saved) when more bytes are
    /// needed.
    #[inline(never)]
    fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let limits = self.limits;
        let mut pos = self.pos;
        let mut left = self.left;
        loop {
            // Attributes being skipped whose pairs are all in: dropped, so that the element
            // they describe takes their place.
            while let Some(&(depth, at)) = self.skipping.last() {
                if depth != self.open.len() || left != 1 {
                    break;
                }
                self.tokens.truncate(at);
                self.skipping.pop();
            }
            let at = pos;
            let token = match fast_element(buf, pos, &limits) {
                Some((token, next)) => {
                    pos = next;
                    token
                }
                None => match self.slow_element(buf, pos)? {
                    Some((token, next)) => {
                        pos = next;
                        token
                    }
                    None => {
                        self.pos = pos;
                        self.left = left;
                        return Ok(None);
                    }
                },
            };
            self.tokens.push(token);
            if let Some(n) = token.children() {
                if self.open.len() + 1 >= limits.max_depth {
                    return Err(ProtocolError::new(
                        ProtocolErrorKind::TooDeep {
                            max: limits.max_depth,
                        },
                        at,
                    ));
                }
                self.open.push(left);
                if token.kind() == Token::ATTRIBUTE && !self.keep_attributes {
                    self.skipping.push((self.open.len(), self.tokens.len() - 1));
                }
                self.nested = true;
                left = n;
                continue;
            }
            // One more element is in: close every array it completes.
            left -= 1;
            while left == 0 {
                match self.open.pop() {
                    None => return Ok(Some(pos)),
                    Some(parent) => left = parent - 1,
                }
            }
        }
    }

    /// The careful path for one element inside an array: `None` when it is not all here.
    #[cold]
    fn slow_element(
        &mut self,
        buf: &[u8],
        pos: usize,
    ) -> Result<Option<(Token, usize)>, ProtocolError> {
        let Some(&kind) = buf.get(pos) else {
            return Ok(None);
        };
        let element = match kind {
            b'$' => match self.bulk_extent(buf, pos)? {
                None => return Ok(None),
                Some(BulkExtent::Null(end)) => (Token::unit(Token::NULL), end),
                Some(BulkExtent::Data(start, end)) => (Token::bulk(start, end), end + 2),
            },
            b':' => {
                let Some((n, end)) = parse_integer(buf, pos + 1)? else {
                    return Ok(None);
                };
                (Token::integer(n), end)
            }
            b'+' | b'-' => {
                let Some(cr) = self.find_line_end(buf, pos + 1)? else {
                    return Ok(None);
                };
                self.line_scan = 0;
                let start = pos + 1;
                if kind == b'+' {
                    (Token::simple(start, cr), cr + 2)
                } else {
                    (Token::error(start, cr), cr + 2)
                }
            }
            b'*' | b'%' | b'~' | b'>' | b'|' => match self.aggregate_header(buf, pos)? {
                None => return Ok(None),
                Some(header) => header,
            },
            b'_' => match crlf_at(buf, pos + 1)? {
                None => return Ok(None),
                Some(end) => (Token::unit(Token::NULL), end),
            },
            b'#' => {
                let value = match buf.get(pos + 1) {
                    None => return Ok(None),
                    Some(b't') => true,
                    Some(b'f') => false,
                    Some(_) => {
                        return Err(ProtocolError::new(
                            ProtocolErrorKind::InvalidBoolean,
                            pos + 1,
                        ))
                    }
                };
                match crlf_at(buf, pos + 2)? {
                    None => return Ok(None),
                    Some(end) => (Token::boolean(value), end),
                }
            }
            b',' | b'(' => {
                let Some(cr) = self.find_line_end(buf, pos + 1)? else {
                    return Ok(None);
                };
                self.line_scan = 0;
                let text = &buf[pos + 1..cr];
                if kind == b',' {
                    if !is_double(text) {
                        return Err(ProtocolError::new(
                            ProtocolErrorKind::InvalidDouble,
                            pos + 1,
                        ));
                    }
                    (Token::span(Token::DOUBLE, pos + 1, cr), cr + 2)
                } else {
                    if !is_big_number(text) {
                        return Err(ProtocolError::new(
                            ProtocolErrorKind::InvalidBigNumber,
                            pos + 1,
                        ));
                    }
                    (Token::span(Token::BIG_NUMBER, pos + 1, cr), cr + 2)
                }
            }
            b'=' | b'!' => match self.bulk_extent(buf, pos)? {
                None => return Ok(None),
                Some(BulkExtent::Null(_)) => {
                    // A verbatim string or a blob error has no null form.
                    return Err(ProtocolError::new(
                        ProtocolErrorKind::NegativeLength(-1),
                        pos + 1,
                    ));
                }
                Some(BulkExtent::Data(start, end)) if kind == b'=' => {
                    // `txt:` or `mkd:`, then the text.
                    if end - start < 4 || buf[start + 3] != b':' {
                        return Err(ProtocolError::new(
                            ProtocolErrorKind::InvalidVerbatim,
                            start,
                        ));
                    }
                    (Token::span(Token::VERBATIM, start, end), end + 2)
                }
                Some(BulkExtent::Data(start, end)) => (Token::error(start, end), end + 2),
            },
            other => {
                return Err(ProtocolError::new(
                    ProtocolErrorKind::UnknownType(other),
                    pos,
                ))
            }
        };
        Ok(Some(element))
    }

    /// Reads the header of the aggregate (`*`, `%`, `~`, `>`, `|`) whose type byte is at
    /// `at`, checking its length: its token and where its first element starts.
    fn aggregate_header(
        &self,
        buf: &[u8],
        at: usize,
    ) -> Result<Option<(Token, usize)>, ProtocolError> {
        let kind = aggregate_kind(buf[at]).unwrap_or(Token::ARRAY);
        if kind == Token::ARRAY {
            let Some((len, end)) = self.array_header(buf, at)? else {
                return Ok(None);
            };
            let token = match len {
                ArrayLen::Null => Token::unit(Token::NULL_ARRAY),
                ArrayLen::Empty => Token::unit(Token::EMPTY_ARRAY),
                ArrayLen::Items(n) => Token::array(n),
            };
            return Ok(Some((token, end)));
        }
        let Some((len, end)) = parse_int_line(buf, at + 1)? else {
            return Ok(None);
        };
        if len < 0 {
            return Err(ProtocolError::new(
                ProtocolErrorKind::NegativeLength(len),
                at + 1,
            ));
        }
        let len = len as u64;
        // A map or attributes of `len` pairs hold `2 × len` elements.
        let elements = if matches!(kind, Token::MAP | Token::ATTRIBUTE) {
            len.saturating_mul(2)
        } else {
            len
        };
        if elements > self.limits.max_array_len as u64 {
            return Err(ProtocolError::new(
                ProtocolErrorKind::ArrayTooLong {
                    len: elements,
                    max: self.limits.max_array_len,
                },
                at + 1,
            ));
        }
        let token = match len {
            0 if kind != Token::ATTRIBUTE => Token::empty_aggregate(kind),
            n => Token::aggregate(kind, n as usize),
        };
        Ok(Some((token, end)))
    }

    /// Reads the array header whose `*` is at `at`, checking its length.
    fn array_header(
        &self,
        buf: &[u8],
        at: usize,
    ) -> Result<Option<(ArrayLen, usize)>, ProtocolError> {
        let Some((len, end)) = parse_int_line(buf, at + 1)? else {
            return Ok(None);
        };
        let len = match len {
            -1 => ArrayLen::Null,
            0 => ArrayLen::Empty,
            n if n < -1 => {
                return Err(ProtocolError::new(
                    ProtocolErrorKind::NegativeLength(n),
                    at + 1,
                ))
            }
            n => {
                let len = n as u64;
                if len > self.limits.max_array_len as u64 {
                    return Err(ProtocolError::new(
                        ProtocolErrorKind::ArrayTooLong {
                            len,
                            max: self.limits.max_array_len,
                        },
                        at + 1,
                    ));
                }
                ArrayLen::Items(len as usize)
            }
        };
        Ok(Some((len, end)))
    }

    /// Where the bulk string whose `$` is at `at` lies: `None` until its header, payload
    /// and final CRLF have all arrived.
    fn bulk_extent(&self, buf: &[u8], at: usize) -> Result<Option<BulkExtent>, ProtocolError> {
        let Some((len, start)) = parse_int_line(buf, at + 1)? else {
            return Ok(None);
        };
        if len < 0 {
            if len == -1 {
                return Ok(Some(BulkExtent::Null(start)));
            }
            return Err(ProtocolError::new(
                ProtocolErrorKind::NegativeLength(len),
                at + 1,
            ));
        }
        let len = len as u64;
        if len > self.limits.max_bulk_len as u64 {
            return Err(ProtocolError::new(
                ProtocolErrorKind::BulkTooLong {
                    len,
                    max: self.limits.max_bulk_len,
                },
                at + 1,
            ));
        }
        let end = start + len as usize;
        match buf.get(end..end + 2) {
            None => {
                // The payload is not all here; a stray byte after it can still fail early.
                if buf.len() == end + 1 && buf[end] != b'\r' {
                    return Err(ProtocolError::new(ProtocolErrorKind::ExpectedCrlf, end));
                }
                Ok(None)
            }
            Some(b"\r\n") => Ok(Some(BulkExtent::Data(start, end))),
            Some(_) => Err(ProtocolError::new(ProtocolErrorKind::ExpectedCrlf, end)),
        }
    }

    /// Finds the CR that ends the line whose text starts at `start`, resuming a search a
    /// previous call left unfinished. Checks that LF follows and that the line is not too
    /// long.
    fn find_line_end(&mut self, buf: &[u8], start: usize) -> Result<Option<usize>, ProtocolError> {
        let from = self.line_scan.max(start);
        let max = self.limits.max_line_len;
        match memchr::memchr(b'\r', &buf[from..]) {
            Some(i) => {
                let cr = from + i;
                if cr - start > max {
                    return Err(ProtocolError::new(
                        ProtocolErrorKind::LineTooLong { max },
                        start + max,
                    ));
                }
                match buf.get(cr + 1) {
                    Some(b'\n') => Ok(Some(cr)),
                    Some(_) => Err(ProtocolError::new(ProtocolErrorKind::ExpectedCrlf, cr + 1)),
                    None => {
                        self.line_scan = cr;
                        Ok(None)
                    }
                }
            }
            None => {
                if buf.len() - start > max {
                    return Err(ProtocolError::new(
                        ProtocolErrorKind::LineTooLong { max },
                        start + max,
                    ));
                }
                self.line_scan = buf.len();
                Ok(None)
            }
        }
    }
}

/// Checks the CRLF expected at `at`: the offset after it, `None` while it has not all
/// arrived, or an error at the first byte that is not it.
fn crlf_at(buf: &[u8], at: usize) -> Result<Option<usize>, ProtocolError> {
    for (i, want) in [b'\r', b'\n'].into_iter().enumerate() {
        match buf.get(at + i) {
            None => return Ok(None),
            Some(&b) if b != want => {
                return Err(ProtocolError::new(ProtocolErrorKind::ExpectedCrlf, at + i))
            }
            Some(_) => {}
        }
    }
    Ok(Some(at + 2))
}

/// The token kind of an aggregate's type byte (`*`, `%`, `~`, `>`, `|`).
#[inline(always)]
fn aggregate_kind(type_byte: u8) -> Option<usize> {
    match type_byte {
        b'*' => Some(Token::ARRAY),
        b'%' => Some(Token::MAP),
        b'~' => Some(Token::SET),
        b'>' => Some(Token::PUSH),
        b'|' => Some(Token::ATTRIBUTE),
        _ => None,
    }
}

/// Whether `text` is a RESP3 double: a decimal number (a sign, digits, a fraction, an
/// exponent), `inf`, `-inf` or `nan`. Checked by its grammar, without parsing the number.
#[inline]
pub(super) fn is_double(text: &[u8]) -> bool {
    let text = match text.first() {
        Some(b'-' | b'+') => &text[1..],
        _ => text,
    };
    if matches!(text, b"inf" | b"nan") {
        return true;
    }
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while text.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let whole = digits(&mut i);
    let mut fraction = false;
    if text.get(i) == Some(&b'.') {
        i += 1;
        fraction = digits(&mut i);
    }
    if !(whole || fraction) {
        return false;
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == text.len()
}

/// Whether `text` is a RESP3 big number: an optional sign and at least one digit.
fn is_big_number(text: &[u8]) -> bool {
    let digits = match text.first() {
        Some(b'-' | b'+') => &text[1..],
        _ => text,
    };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// What scanning an array reply gave.
enum ArrayScan {
    /// A null or empty array (nothing to index).
    Unit(Frame),
    /// A complete reply of this many bytes, its elements in the token index.
    Complete(usize),
}

/// The length an array header declares.
enum ArrayLen {
    /// `*-1`.
    Null,
    /// `*0`.
    Empty,
    /// At least one element, within the limit.
    Items(usize),
}

/// Where a complete bulk string lies.
enum BulkExtent {
    /// `$-1`: the null bulk, ending at this offset.
    Null(usize),
    /// A payload from the first offset to the second (its CRLF follows).
    Data(usize, usize),
}

//! The fast path: the common, complete, valid forms of an element, read at once; anything
//! else is declined (the careful path decides).

use bytes::{Buf, Bytes, BytesMut};

use super::{Token, FAST_DIGITS, FAST_LINE};
use crate::Limits;

/// The fast path for one element at `pos`: the common, complete, valid forms only.
#[inline(always)]
pub(super) fn fast_element(buf: &[u8], pos: usize, limits: &Limits) -> Option<(Token, usize)> {
    match *buf.get(pos)? {
        b'$' => match fast_bulk(buf, pos, limits.max_bulk_len) {
            Some((start, end)) => Some((Token::bulk(start, end), end + 2)),
            None => (buf.get(pos..pos + 5)? == b"$-1\r\n")
                .then_some((Token::unit(Token::NULL), pos + 5)),
        },
        b':' => {
            let (n, end) = fast_int(buf, pos + 1)?;
            Some((Token::integer(n), end))
        }
        b'*' => {
            if buf.get(pos + 1) == Some(&b'-') {
                return (buf.get(pos..pos + 5)? == b"*-1\r\n")
                    .then_some((Token::unit(Token::NULL_ARRAY), pos + 5));
            }
            let (n, end) = fast_uint(buf, pos + 1)?;
            if n == 0 {
                return Some((Token::unit(Token::EMPTY_ARRAY), end));
            }
            if n > limits.max_array_len as u64 {
                return None;
            }
            Some((Token::array(n as usize), end))
        }
        b'+' => {
            let cr = fast_line_end(buf, pos + 1, limits.max_line_len)?;
            Some((Token::simple(pos + 1, cr), cr + 2))
        }
        b'-' => {
            let cr = fast_line_end(buf, pos + 1, limits.max_line_len)?;
            Some((Token::error(pos + 1, cr), cr + 2))
        }
        // RESP3's double (a ZSCORE, each score of ZRANGE ... WITHSCORES).
        b',' => {
            let cr = fast_line_end(buf, pos + 1, limits.max_line_len)?;
            super::is_double(&buf[pos + 1..cr])
                .then_some((Token::span(Token::DOUBLE, pos + 1, cr), cr + 2))
        }
        _ => None,
    }
}

/// A complete bulk string with a non-negative length whose `$` is at `at`: its payload's
/// start and end (the CRLF after it is checked).
#[inline(always)]
pub(super) fn fast_bulk(buf: &[u8], at: usize, max_len: usize) -> Option<(usize, usize)> {
    let (len, start) = fast_uint(buf, at + 1)?;
    // The payload and its CRLF must be here: `len + 2 <= buf.len() - start`.
    let room = (buf.len() - start).checked_sub(2)?;
    if len > max_len.min(room) as u64 {
        return None;
    }
    let end = start + len as usize;
    (buf.get(end..end + 2)? == b"\r\n").then_some((start, end))
}

/// A complete line of at most [`FAST_DIGITS`] decimal digits starting at `start`: its value
/// and the offset after its CRLF.
#[inline(always)]
pub(super) fn fast_uint(buf: &[u8], start: usize) -> Option<(u64, usize)> {
    // Usually the longest possible line is all here: read it from a fixed-size window, so
    // that no byte needs a bounds check of its own.
    if let Some(window) = buf.get(start..start + FAST_DIGITS + 2) {
        let window: &[u8; FAST_DIGITS + 2] = window.try_into().ok()?;
        let mut n: u64 = 0;
        let mut i = 0;
        while i < FAST_DIGITS {
            let d = window[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            n = n * 10 + u64::from(d);
            i += 1;
        }
        if i == 0 || window[i] != b'\r' || window[i + 1] != b'\n' {
            return None;
        }
        return Some((n, start + i + 2));
    }
    let digits = buf.get(start..)?;
    let mut n: u64 = 0;
    let mut i = 0;
    loop {
        let d = digits.get(i)?.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n * 10 + u64::from(d);
        i += 1;
        if i > FAST_DIGITS {
            return None;
        }
    }
    if i == 0 || digits.get(i..i + 2)? != b"\r\n" {
        return None;
    }
    Some((n, start + i + 2))
}

/// A complete integer line (optional `-`, at most [`FAST_DIGITS`] digits) from `start`.
#[inline(always)]
pub(super) fn fast_int(buf: &[u8], start: usize) -> Option<(i64, usize)> {
    if buf.get(start) == Some(&b'-') {
        let (n, end) = fast_uint(buf, start + 1)?;
        return Some((-(n as i64), end));
    }
    let (n, end) = fast_uint(buf, start)?;
    Some((n as i64, end))
}

/// The CR of a complete, short line whose text starts at `start`.
#[inline(always)]
pub(super) fn fast_line_end(buf: &[u8], start: usize, max_len: usize) -> Option<usize> {
    let text = buf.get(start..)?;
    let window = &text[..text.len().min(FAST_LINE).min(max_len.saturating_add(1))];
    let i = memchr::memchr(b'\r', window)?;
    if i > max_len || text.get(i + 1) != Some(&b'\n') {
        return None;
    }
    Some(start + i)
}

/// Splits the first `total` bytes off `src` and returns the `start..end` part of them,
/// without copying.
#[inline(always)]
pub(super) fn split_payload(src: &mut BytesMut, start: usize, end: usize, total: usize) -> Bytes {
    let mut reply = src.split_to(total).freeze();
    reply.truncate(end);
    reply.advance(start);
    reply
}

/// Static copies of the most common status lines, so that they need no buffer at all.
#[inline]
pub(super) fn interned(line: &[u8]) -> Option<Bytes> {
    match line {
        b"OK" => Some(Bytes::from_static(b"OK")),
        b"QUEUED" => Some(Bytes::from_static(b"QUEUED")),
        b"PONG" => Some(Bytes::from_static(b"PONG")),
        _ => None,
    }
}

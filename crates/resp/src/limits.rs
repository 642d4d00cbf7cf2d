//! Limits that bound what a peer can make the decoder hold.

/// Upper bounds applied while decoding; a reply that exceeds one fails with a
/// [`ProtocolError`](crate::ProtocolError) as soon as the offending header is read.
///
/// ```
/// use slotline_resp::{Decoder, Limits};
/// let dec = Decoder::with_limits(Limits { max_bulk_len: 1 << 20, ..Limits::default() });
/// assert_eq!(dec.limits().max_bulk_len, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string accepted, in bytes (default 512 MiB, as Redis' `proto-max-bulk-len`);
    /// RESP3's verbatim strings and blob errors too.
    pub max_bulk_len: usize,
    /// Most elements one array may declare (default `i32::MAX`, as Redis' request parser);
    /// a RESP3 set or push likewise, and a map or attributes of `n` pairs count `2n`.
    pub max_array_len: usize,
    /// Deepest nesting of aggregates (default 128), arrays and RESP3's maps, sets, pushes
    /// and attributes alike. Values above [`Limits::DEPTH_CEILING`] are
    /// lowered to it: a [`Frame`](crate::Frame) is dropped and compared recursively, so an
    /// unbounded depth could exhaust the stack outside the decoder.
    pub max_depth: usize,
    /// Longest simple-string or error line, in bytes, CRLF excluded (default 1 MiB); RESP3's
    /// doubles and big numbers too.
    pub max_line_len: usize,
}

impl Limits {
    /// The highest nesting depth a decoder accepts, whatever `max_depth` says.
    pub const DEPTH_CEILING: usize = 1024;

    /// These limits with `max_depth` lowered to [`Limits::DEPTH_CEILING`] when above it.
    pub(crate) fn clamped(self) -> Self {
        Limits {
            max_depth: self.max_depth.min(Self::DEPTH_CEILING),
            ..self
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_array_len: i32::MAX as usize,
            max_depth: 128,
            max_line_len: 1024 * 1024,
        }
    }
}

//! [`Token`]: one scanned element of a reply, in 16 bytes.

/// One scanned element in 16 bytes: its kind in the low [`Token::KIND_BITS`] bits of `head`
/// and, above them, where its payload starts in the reply; `value` holds where the payload
/// ends, the integer, the boolean, or the aggregate's length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub(crate) head: usize,
    pub(crate) value: u64,
}

impl Token {
    pub(crate) const SIMPLE: usize = 0;
    pub(crate) const ERROR: usize = 1;
    pub(crate) const INTEGER: usize = 2;
    pub(crate) const BULK: usize = 3;
    pub(crate) const NULL: usize = 4;
    pub(crate) const NULL_ARRAY: usize = 5;
    pub(crate) const EMPTY_ARRAY: usize = 6;
    /// An array of `value` (at least one) elements, which follow as tokens. In a
    /// [`Reply`](crate::Reply), `head >> KIND_BITS` is how many tokens the array takes,
    /// itself included. The other aggregates (map, set, push, attribute) are laid out the
    /// same way.
    pub(crate) const ARRAY: usize = 7;
    /// RESP3 `,`: a double, its text as received.
    pub(crate) const DOUBLE: usize = 8;
    /// RESP3 `#`: a boolean, in `value`.
    pub(crate) const BOOLEAN: usize = 9;
    /// RESP3 `(`: a big number, its digits as received.
    pub(crate) const BIG_NUMBER: usize = 10;
    /// RESP3 `=`: a verbatim string, its payload (`txt:` and the text) as received.
    pub(crate) const VERBATIM: usize = 11;
    /// RESP3 `%`: a map of `value` pairs, which follow as `2 × value` elements.
    pub(crate) const MAP: usize = 12;
    /// RESP3 `~`: a set of `value` elements.
    pub(crate) const SET: usize = 13;
    /// RESP3 `>`: a push of `value` elements (out-of-band data, such as a pub/sub message).
    pub(crate) const PUSH: usize = 14;
    /// RESP3 `|`: attributes, `value` pairs, followed by the element they describe (so
    /// `2 × value + 1` elements follow).
    pub(crate) const ATTRIBUTE: usize = 15;
    /// An empty map, set or push: `value` holds which ([`MAP`](Self::MAP), ...).
    pub(crate) const EMPTY_AGGREGATE: usize = 16;

    /// How many low bits of `head` hold the kind.
    pub(crate) const KIND_BITS: usize = 5;
    const KIND_MASK: usize = (1 << Self::KIND_BITS) - 1;

    #[inline(always)]
    pub(crate) fn span(kind: usize, start: usize, end: usize) -> Self {
        Token {
            head: (start << Self::KIND_BITS) | kind,
            value: end as u64,
        }
    }

    #[inline(always)]
    pub(super) fn simple(start: usize, end: usize) -> Self {
        Self::span(Self::SIMPLE, start, end)
    }

    #[inline(always)]
    pub(super) fn error(start: usize, end: usize) -> Self {
        Self::span(Self::ERROR, start, end)
    }

    #[inline(always)]
    pub(super) fn bulk(start: usize, end: usize) -> Self {
        Self::span(Self::BULK, start, end)
    }

    #[inline(always)]
    pub(crate) fn integer(n: i64) -> Self {
        Token {
            head: Self::INTEGER,
            value: n as u64,
        }
    }

    #[inline(always)]
    pub(super) fn array(len: usize) -> Self {
        Token {
            head: Self::ARRAY,
            value: len as u64,
        }
    }

    /// An aggregate of `kind` ([`ARRAY`](Self::ARRAY), [`MAP`](Self::MAP), ...) declaring
    /// `len` (at least one) entries.
    #[inline(always)]
    pub(super) fn aggregate(kind: usize, len: usize) -> Self {
        Token {
            head: kind,
            value: len as u64,
        }
    }

    /// An empty map, set or push.
    #[inline(always)]
    pub(crate) fn empty_aggregate(kind: usize) -> Self {
        Token {
            head: Self::EMPTY_AGGREGATE,
            value: kind as u64,
        }
    }

    /// A boolean.
    #[inline(always)]
    pub(crate) fn boolean(b: bool) -> Self {
        Token {
            head: Self::BOOLEAN,
            value: u64::from(b),
        }
    }

    #[inline(always)]
    pub(crate) fn unit(kind: usize) -> Self {
        Token {
            head: kind,
            value: 0,
        }
    }

    #[inline(always)]
    pub(crate) fn kind(self) -> usize {
        self.head & Self::KIND_MASK
    }

    /// The payload's range, for the kinds that have one.
    #[inline(always)]
    pub(crate) fn range(self) -> std::ops::Range<usize> {
        (self.head >> Self::KIND_BITS)..(self.value as usize)
    }

    /// Whether this is a non-empty aggregate (array, map, set, push or attribute).
    #[inline(always)]
    pub(crate) fn is_aggregate(self) -> bool {
        matches!(
            self.kind(),
            Self::ARRAY | Self::MAP | Self::SET | Self::PUSH | Self::ATTRIBUTE
        )
    }

    /// How many elements follow a non-empty aggregate's token as its children: its length,
    /// twice that for a map, and the pairs and the described element for attributes.
    #[inline(always)]
    pub(crate) fn children(self) -> Option<usize> {
        let n = self.value as usize;
        match self.kind() {
            Self::ARRAY | Self::SET | Self::PUSH => Some(n),
            Self::MAP => Some(2 * n),
            Self::ATTRIBUTE => Some(2 * n + 1),
            _ => None,
        }
    }

    /// For an aggregate token of a complete [`Reply`](crate::Reply), how many tokens its
    /// subtree takes, itself included.
    #[inline(always)]
    pub(crate) fn subtree(self) -> usize {
        self.head >> Self::KIND_BITS
    }

    /// This aggregate token with its subtree's size recorded.
    #[inline(always)]
    pub(crate) fn with_subtree(self, size: usize) -> Self {
        Token {
            head: (size << Self::KIND_BITS) | self.kind(),
            value: self.value,
        }
    }
}

//! [`Token`]: one scanned element of a reply, in 16 bytes.

/// One scanned element in 16 bytes: its kind in the low 3 bits of `head` and, above them,
/// where its payload starts in the reply; `value` holds where the payload ends, the integer,
/// or the array length.
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
    /// [`Reply`](crate::Reply), `head >> 3` is how many tokens the array takes, itself
    /// included.
    pub(crate) const ARRAY: usize = 7;

    #[inline(always)]
    pub(crate) fn span(kind: usize, start: usize, end: usize) -> Self {
        Token {
            head: (start << 3) | kind,
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

    #[inline(always)]
    pub(crate) fn unit(kind: usize) -> Self {
        Token {
            head: kind,
            value: 0,
        }
    }

    #[inline(always)]
    pub(crate) fn kind(self) -> usize {
        self.head & 7
    }

    /// The payload's range, for the kinds that have one.
    #[inline(always)]
    pub(crate) fn range(self) -> std::ops::Range<usize> {
        (self.head >> 3)..(self.value as usize)
    }

    /// The length of an array token.
    #[inline(always)]
    pub(crate) fn array_len(self) -> Option<usize> {
        (self.kind() == Self::ARRAY).then_some(self.value as usize)
    }
}

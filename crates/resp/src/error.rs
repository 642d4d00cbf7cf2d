//! The decoder's error: what was wrong, and where.

/// What made a reply invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolErrorKind {
    /// The first byte of an element is not one of RESP2's `+ - : $ *` or RESP3's
    /// `_ , # ( = ! % ~ > |`.
    UnknownType(u8),
    /// A length or integer line holds something other than an optional `-` and digits.
    InvalidInteger,
    /// An integer does not fit in an `i64`.
    IntegerOverflow,
    /// A bulk or array length below `-1`.
    NegativeLength(i64),
    /// A bulk string longer than [`Limits::max_bulk_len`](crate::Limits::max_bulk_len).
    BulkTooLong {
        /// The declared length.
        len: u64,
        /// The limit in force.
        max: usize,
    },
    /// An array longer than [`Limits::max_array_len`](crate::Limits::max_array_len).
    ArrayTooLong {
        /// The declared length.
        len: u64,
        /// The limit in force.
        max: usize,
    },
    /// Aggregates (arrays, maps, sets, pushes, attributes) nested deeper than
    /// [`Limits::max_depth`](crate::Limits::max_depth).
    TooDeep {
        /// The limit in force.
        max: usize,
    },
    /// A simple-string or error line longer than
    /// [`Limits::max_line_len`](crate::Limits::max_line_len) without its CRLF.
    LineTooLong {
        /// The limit in force.
        max: usize,
    },
    /// A `\r` not followed by `\n`, or a bulk payload not followed by CRLF.
    ExpectedCrlf,
    /// A RESP3 boolean other than `#t` or `#f`.
    InvalidBoolean,
    /// A RESP3 double that is not a number, `inf`, `-inf` or `nan`.
    InvalidDouble,
    /// A RESP3 big number that is not an optional sign and digits.
    InvalidBigNumber,
    /// A RESP3 verbatim string without its three-letter format and `:`.
    InvalidVerbatim,
}

impl std::fmt::Display for ProtocolErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownType(b) => write!(f, "unknown type byte {:?}", char::from(*b)),
            Self::InvalidInteger => f.write_str("invalid integer"),
            Self::IntegerOverflow => f.write_str("integer out of the i64 range"),
            Self::NegativeLength(n) => write!(f, "invalid length {n}"),
            Self::BulkTooLong { len, max } => {
                write!(f, "bulk string of {len} bytes exceeds the limit of {max}")
            }
            Self::ArrayTooLong { len, max } => {
                write!(f, "array of {len} elements exceeds the limit of {max}")
            }
            Self::TooDeep { max } => write!(f, "aggregates nested deeper than {max}"),
            Self::LineTooLong { max } => write!(f, "line longer than {max} bytes"),
            Self::ExpectedCrlf => f.write_str("expected CRLF"),
            Self::InvalidBoolean => f.write_str("invalid boolean (expected #t or #f)"),
            Self::InvalidDouble => f.write_str("invalid double"),
            Self::InvalidBigNumber => f.write_str("invalid big number"),
            Self::InvalidVerbatim => {
                f.write_str("invalid verbatim string (expected a format such as txt:)")
            }
        }
    }
}

/// A reply that is not valid RESP2 or RESP3, or that breaks a [`Limits`](crate::Limits) bound.
///
/// The stream cannot be resynchronised after this error: close the connection. The decoder
/// resets itself, and the offending bytes are left in the buffer, untouched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RESP protocol error at byte {offset} of the reply: {kind}")]
pub struct ProtocolError {
    /// What was wrong.
    pub kind: ProtocolErrorKind,
    /// Offset of the offending byte, counted from the first byte of the reply.
    pub offset: usize,
}

impl ProtocolError {
    pub(crate) fn new(kind: ProtocolErrorKind, offset: usize) -> Self {
        ProtocolError { kind, offset }
    }
}

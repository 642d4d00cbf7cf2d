//! [`FromReply`]: turning a reply frame into the Rust type the caller asked for.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use bytes::Bytes;
use slotline_resp::{Frame, ReadReply, ReplyKind};

use crate::error::{ServerError, TypeError};
use crate::{Error, Result};

/// A Rust type that a reply converts into.
///
/// Conversions read the reply through [`ReadReply`], so they serve a [`Frame`] and a reply
/// still in its received bytes (a [`ReplyRef`](slotline_resp::ReplyRef), which is what the
/// shared `Client` hands them) alike, without copying it first.
///
/// Top-level error replies never get here (they become [`Error::from`]); an error
/// inside an array converts into [`Frame`] as is and into any other type as an error.
///
/// | reply | converts into |
/// |---|---|
/// | bulk / simple string | `String`, `Vec<u8>`, `Bytes`, numbers (parsed), `bool` (`1`/`0`) |
/// | integer | integers, `f64`, `bool`, `String` |
/// | null | `Option<T>` (`None`), `Vec<T>` (empty), `bool` (`false`), `()` |
/// | array | `Vec<T>`, sets, tuples, maps (from flat `k v k v` arrays), `Vec<(A, B)>` |
/// | anything | [`Frame`] (the raw reply) |
///
/// ```
/// use slotline_command::{FromReply, Frame};
/// let reply = Frame::Array(vec![Frame::bulk("a"), Frame::bulk("1"), Frame::bulk("b"), Frame::bulk("2")]);
/// let pairs: Vec<(String, i64)> = FromReply::from_reply(reply.clone())?;
/// assert_eq!(pairs, [("a".to_string(), 1), ("b".to_string(), 2)]);
/// let map: std::collections::HashMap<String, u8> = FromReply::from_reply(reply)?;
/// assert_eq!(map["b"], 2);
/// # Ok::<(), slotline_command::Error>(())
/// ```
///
/// A type of your own implements [`from_read`](FromReply::from_read):
///
/// ```
/// use slotline_command::{FromReply, Frame, Result};
/// use slotline_resp::ReadReply;
///
/// /// A reply's length in bytes.
/// struct Len(usize);
///
/// impl FromReply for Len {
///     fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
///         Ok(Len(reply.as_bytes().map_or(0, <[u8]>::len)))
///     }
/// }
/// assert_eq!(Len::from_reply(Frame::bulk("hello"))?.0, 5);
/// # Ok::<(), slotline_command::Error>(())
/// ```
pub trait FromReply: Sized {
    /// Converts the reply element `reply` reads, or says why it cannot.
    fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self>;

    /// Converts `frame`, or says why it cannot.
    fn from_reply(frame: Frame) -> Result<Self> {
        Self::from_read(&frame)
    }

    /// How many consecutive elements of a flat array make one value (2 for pairs), so that
    /// `Vec<(K, V)>` reads `HGETALL`'s `k v k v` replies.
    #[doc(hidden)]
    const FLAT_ARITY: usize = 1;

    /// Reads one value from consecutive elements of a flat array.
    #[doc(hidden)]
    fn from_flat<'a, R: ReadReply<'a>>(items: &mut R::Elements) -> Result<Self> {
        match items.next() {
            Some(item) => Self::from_read(item),
            None => Err(missing::<Self>()),
        }
    }

    /// Turns a whole bulk string into a vector of `Self`; only `u8` does, so that
    /// `Vec<u8>` reads binary strings.
    #[doc(hidden)]
    fn from_bulk_as_vec(bytes: &[u8]) -> Option<Vec<Self>> {
        let _ = bytes;
        None
    }
}

fn missing<T>() -> Error {
    Error::from(TypeError {
        expected: std::any::type_name::<T>(),
        got: "end of array",
        detail: "too few elements".into(),
    })
}

/// The error for a reply `T` cannot be made of: the server's, when the reply is an error.
fn mismatch<'a, T>(reply: impl ReadReply<'a>) -> Error {
    ServerError::from_reply(reply).map_or_else(|| type_error::<T>(reply, ""), Error::from)
}

fn type_error<'a, T>(reply: impl ReadReply<'a>, detail: impl Into<String>) -> Error {
    Error::from(TypeError::new::<T>(reply, detail))
}

impl FromReply for Frame {
    fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
        Ok(reply.to_frame())
    }

    fn from_reply(frame: Frame) -> Result<Self> {
        Ok(frame)
    }
}

impl FromReply for () {
    fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
        match reply.kind() {
            ReplyKind::Error => Err(mismatch::<()>(reply)),
            _ => Ok(()),
        }
    }
}

impl FromReply for Bytes {
    fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
        if let Some(bytes) = reply.to_bytes() {
            return Ok(bytes);
        }
        match int_like(reply) {
            Some(n) => Ok(Bytes::from(n.to_string())),
            None => Err(mismatch::<Self>(reply)),
        }
    }
}

/// An integer, or a RESP3 boolean as the 1 or 0 RESP2 sends in its place.
fn int_like<'a>(reply: impl ReadReply<'a>) -> Option<i64> {
    reply.as_int().or_else(|| reply.as_bool().map(i64::from))
}

impl FromReply for String {
    fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
        if let Some(bytes) = reply.as_bytes() {
            return match std::str::from_utf8(bytes) {
                Ok(s) => Ok(s.to_string()),
                Err(e) => Err(type_error::<Self>(
                    reply,
                    format!("not UTF-8 ({e}); ask for Vec<u8> or Bytes"),
                )),
            };
        }
        match int_like(reply) {
            Some(n) => Ok(n.to_string()),
            None => Err(mismatch::<Self>(reply)),
        }
    }
}

impl FromReply for u8 {
    fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
        int_from_read(reply)
    }

    fn from_bulk_as_vec(bytes: &[u8]) -> Option<Vec<Self>> {
        Some(bytes.to_vec())
    }
}

fn int_from_read<'a, T>(reply: impl ReadReply<'a>) -> Result<T>
where
    T: TryFrom<i64> + std::str::FromStr,
{
    let parsed = match reply.kind() {
        ReplyKind::Integer | ReplyKind::Boolean => {
            int_like(reply).and_then(|n| T::try_from(n).ok())
        }
        ReplyKind::Bulk
        | ReplyKind::Simple
        | ReplyKind::Verbatim
        | ReplyKind::BigNumber
        | ReplyKind::Double => reply
            .as_bytes()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.parse().ok()),
        _ => return Err(mismatch::<T>(reply)),
    };
    parsed.ok_or_else(|| {
        type_error::<T>(
            reply,
            format!(
                "{:?} is not a {}",
                reply.to_frame(),
                std::any::type_name::<T>()
            ),
        )
    })
}

macro_rules! int_from_reply {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
                int_from_read(reply)
            }
        }
    )*};
}
int_from_reply!(i8, i16, u16, i32, u32, i64, u64, i128, u128, isize, usize);

macro_rules! float_from_reply {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
                let parsed = match reply.kind() {
                    ReplyKind::Integer => reply.as_int().map(|n| n as $t),
                    ReplyKind::Double => reply.as_double().map(|d| d as $t),
                    ReplyKind::Bulk
                    | ReplyKind::Simple
                    | ReplyKind::Verbatim
                    | ReplyKind::BigNumber => reply
                        .as_bytes()
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|s| s.parse().ok()),
                    _ => return Err(mismatch::<$t>(reply)),
                };
                parsed.ok_or_else(|| type_error::<$t>(reply, "not a number"))
            }
        }
    )*};
}
float_from_reply!(f32, f64);

impl FromReply for bool {
    fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
        match reply.kind() {
            ReplyKind::Integer => Ok(reply.as_int() != Some(0)),
            ReplyKind::Boolean => Ok(reply.as_bool() == Some(true)),
            ReplyKind::Null | ReplyKind::NullArray => Ok(false),
            ReplyKind::Bulk | ReplyKind::Simple => match reply.as_bytes() {
                Some(b"1" | b"OK" | b"true") => Ok(true),
                Some(b"0" | b"false") => Ok(false),
                _ => Err(type_error::<bool>(reply, "expected 1 or 0")),
            },
            _ => Err(mismatch::<bool>(reply)),
        }
    }
}

impl<T: FromReply> FromReply for Option<T> {
    fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
        match reply.kind() {
            ReplyKind::Null | ReplyKind::NullArray => Ok(None),
            _ => T::from_read(reply).map(Some),
        }
    }
}

impl<T: FromReply> FromReply for Vec<T> {
    fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
        let text;
        let bytes = match reply.kind() {
            ReplyKind::Array | ReplyKind::Set | ReplyKind::Map | ReplyKind::Push => {
                return collect_items(reply)
            }
            ReplyKind::Null | ReplyKind::NullArray => return Ok(Vec::new()),
            ReplyKind::Bulk
            | ReplyKind::Simple
            | ReplyKind::Verbatim
            | ReplyKind::Double
            | ReplyKind::BigNumber => reply.as_bytes().unwrap_or_default(),
            // `Vec<u8>` reads an integer reply as its decimal text, as `String` does.
            ReplyKind::Integer | ReplyKind::Boolean => {
                text = int_like(reply).unwrap_or_default().to_string();
                text.as_bytes()
            }
            ReplyKind::Error | ReplyKind::Attribute => return Err(mismatch::<Self>(reply)),
        };
        T::from_bulk_as_vec(bytes).ok_or_else(|| type_error::<Self>(reply, ""))
    }
}

/// Converts array elements one by one, or in runs of `T::FLAT_ARITY` when the array is
/// flat (`k v k v`) and `T` is a tuple.
fn collect_items<'a, T, C, R>(reply: R) -> Result<C>
where
    T: FromReply,
    C: FromIterator<T>,
    R: ReadReply<'a>,
{
    let mut items = reply.elements();
    let flat = T::FLAT_ARITY > 1
        && !matches!(
            reply.elements().next().map(|first| first.kind()),
            Some(ReplyKind::Array)
        );
    if !flat {
        return items.map(T::from_read).collect();
    }
    let len = items.len();
    if len % T::FLAT_ARITY != 0 {
        return Err(Error::from(TypeError {
            expected: std::any::type_name::<T>(),
            got: "array",
            detail: format!(
                "{} elements do not split into groups of {}",
                len,
                T::FLAT_ARITY
            ),
        }));
    }
    (0..len / T::FLAT_ARITY)
        .map(|_| T::from_flat::<R>(&mut items))
        .collect()
}

/// A collection read from an array; a null reads as an empty one.
macro_rules! collection_from_reply {
    ($(impl<$($gen:ident),*> for $ty:ty where [$($bounds:tt)*] as $item:ty;)*) => {$(
        impl<$($gen),*> FromReply for $ty where $($bounds)* {
            fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
                match reply.kind() {
                    ReplyKind::Array | ReplyKind::Set | ReplyKind::Map | ReplyKind::Push => {
                        collect_items::<$item, _, R>(reply)
                    }
                    ReplyKind::Null | ReplyKind::NullArray => Ok(Self::default()),
                    _ => Err(mismatch::<Self>(reply)),
                }
            }
        }
    )*};
}
collection_from_reply! {
    impl<T, S> for HashSet<T, S> where [T: FromReply + Eq + Hash, S: BuildHasher + Default] as T;
    impl<T> for BTreeSet<T> where [T: FromReply + Ord] as T;
    impl<K, V, S> for HashMap<K, V, S>
        where [K: FromReply + Eq + Hash, V: FromReply, S: BuildHasher + Default] as (K, V);
    impl<K, V> for BTreeMap<K, V> where [K: FromReply + Ord, V: FromReply] as (K, V);
}

macro_rules! tuple_from_reply {
    ($n:expr; $($name:ident)+) => {
        impl<$($name: FromReply),+> FromReply for ($($name,)+) {
            fn from_read<'a, R: ReadReply<'a>>(reply: R) -> Result<Self> {
                if reply.array_len() != Some($n) {
                    return Err(type_error::<Self>(
                        reply,
                        format!("expected an array of {} elements", $n),
                    ));
                }
                Self::from_flat::<R>(&mut reply.elements())
            }

            const FLAT_ARITY: usize = $n;

            fn from_flat<'a, R: ReadReply<'a>>(items: &mut R::Elements) -> Result<Self> {
                Ok(($(
                    $name::from_read(items.next().ok_or_else(missing::<Self>)?)?,
                )+))
            }
        }
    };
}
tuple_from_reply!(1; A);
tuple_from_reply!(2; A B);
tuple_from_reply!(3; A B C);
tuple_from_reply!(4; A B C D);
tuple_from_reply!(5; A B C D E);
tuple_from_reply!(6; A B C D E F);
tuple_from_reply!(7; A B C D E F G);
tuple_from_reply!(8; A B C D E F G H);

/// Converts a top-level reply: an error frame becomes [`Error::from`], anything else goes
/// through `T`'s conversion.
pub fn convert<T: FromReply>(frame: Frame) -> Result<T> {
    match frame {
        Frame::Error(line) => Err(Error::from(ServerError::parse(line))),
        other => T::from_reply(other),
    }
}

/// [`convert`] for a reply read in place (a [`ReplyRef`](slotline_resp::ReplyRef) or a
/// `&Frame`): an error reply becomes [`Error::from`], anything else goes through `T`'s
/// conversion.
pub fn convert_read<'a, T: FromReply, R: ReadReply<'a>>(reply: R) -> Result<T> {
    match ServerError::from_reply(reply) {
        Some(e) => Err(Error::from(e)),
        None => T::from_read(reply),
    }
}

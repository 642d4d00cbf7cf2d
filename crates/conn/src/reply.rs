//! [`FromReply`]: turning a reply frame into the Rust type the caller asked for.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use bytes::Bytes;
use slotline_resp::Frame;

use crate::error::{ServerError, TypeError};
use crate::{Error, Result};

/// A Rust type that a reply converts into.
///
/// Top-level error replies never get here (they become [`Error::Server`]); an error frame
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
/// use slotline_conn::{FromReply, Frame};
/// let reply = Frame::Array(vec![Frame::bulk("a"), Frame::bulk("1"), Frame::bulk("b"), Frame::bulk("2")]);
/// let pairs: Vec<(String, i64)> = FromReply::from_reply(reply.clone())?;
/// assert_eq!(pairs, [("a".to_string(), 1), ("b".to_string(), 2)]);
/// let map: std::collections::HashMap<String, u8> = FromReply::from_reply(reply)?;
/// assert_eq!(map["b"], 2);
/// # Ok::<(), slotline_conn::Error>(())
/// ```
pub trait FromReply: Sized {
    /// Converts `frame`, or says why it cannot.
    fn from_reply(frame: Frame) -> Result<Self>;

    /// How many consecutive elements of a flat array make one value (2 for pairs), so that
    /// `Vec<(K, V)>` reads `HGETALL`'s `k v k v` replies.
    #[doc(hidden)]
    const FLAT_ARITY: usize = 1;

    /// Reads one value from consecutive elements of a flat array.
    #[doc(hidden)]
    fn from_flat(items: &mut std::vec::IntoIter<Frame>) -> Result<Self> {
        match items.next() {
            Some(frame) => Self::from_reply(frame),
            None => Err(missing::<Self>()),
        }
    }

    /// Turns a whole bulk string into a vector of `Self`; only `u8` does, so that
    /// `Vec<u8>` reads binary strings.
    #[doc(hidden)]
    fn from_bulk_as_vec(bytes: Bytes) -> std::result::Result<Vec<Self>, Bytes> {
        Err(bytes)
    }
}

fn missing<T>() -> Error {
    Error::Type(TypeError {
        expected: std::any::type_name::<T>(),
        got: "end of array",
        detail: "too few elements".into(),
    })
}

fn mismatch<T>(frame: &Frame) -> Error {
    if let Some(err) = ServerError::from_frame(frame) {
        return Error::Server(err);
    }
    Error::Type(TypeError::new::<T>(frame, ""))
}

impl FromReply for Frame {
    fn from_reply(frame: Frame) -> Result<Self> {
        Ok(frame)
    }
}

impl FromReply for () {
    fn from_reply(frame: Frame) -> Result<Self> {
        match frame {
            Frame::Error(_) => Err(mismatch::<()>(&frame)),
            _ => Ok(()),
        }
    }
}

impl FromReply for Bytes {
    fn from_reply(frame: Frame) -> Result<Self> {
        match frame {
            Frame::Bulk(b) | Frame::Simple(b) => Ok(b),
            Frame::Integer(n) => Ok(Bytes::from(n.to_string())),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl FromReply for String {
    fn from_reply(frame: Frame) -> Result<Self> {
        match frame {
            Frame::Bulk(ref b) | Frame::Simple(ref b) => match std::str::from_utf8(b) {
                Ok(s) => Ok(s.to_string()),
                Err(e) => Err(Error::Type(TypeError::new::<Self>(
                    &frame,
                    format!("not UTF-8 ({e}); ask for Vec<u8> or Bytes"),
                ))),
            },
            Frame::Integer(n) => Ok(n.to_string()),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl FromReply for u8 {
    fn from_reply(frame: Frame) -> Result<Self> {
        int_from_frame(frame)
    }

    fn from_bulk_as_vec(bytes: Bytes) -> std::result::Result<Vec<Self>, Bytes> {
        Ok(bytes.to_vec())
    }
}

fn int_from_frame<T>(frame: Frame) -> Result<T>
where
    T: TryFrom<i64> + std::str::FromStr,
{
    let parsed = match &frame {
        Frame::Integer(n) => T::try_from(*n).ok(),
        Frame::Bulk(b) | Frame::Simple(b) => {
            std::str::from_utf8(b).ok().and_then(|s| s.parse().ok())
        }
        _ => return Err(mismatch::<T>(&frame)),
    };
    parsed.ok_or_else(|| {
        Error::Type(TypeError::new::<T>(
            &frame,
            format!("{:?} is not a {}", frame, std::any::type_name::<T>()),
        ))
    })
}

macro_rules! int_from_reply {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            fn from_reply(frame: Frame) -> Result<Self> {
                int_from_frame(frame)
            }
        }
    )*};
}
int_from_reply!(i8, i16, u16, i32, u32, i64, u64, i128, u128, isize, usize);

macro_rules! float_from_reply {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            fn from_reply(frame: Frame) -> Result<Self> {
                let parsed = match &frame {
                    Frame::Integer(n) => Some(*n as $t),
                    Frame::Bulk(b) | Frame::Simple(b) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()),
                    _ => return Err(mismatch::<$t>(&frame)),
                };
                parsed.ok_or_else(|| Error::Type(TypeError::new::<$t>(&frame, "not a number")))
            }
        }
    )*};
}
float_from_reply!(f32, f64);

impl FromReply for bool {
    fn from_reply(frame: Frame) -> Result<Self> {
        match &frame {
            Frame::Integer(n) => Ok(*n != 0),
            Frame::Null | Frame::NullArray => Ok(false),
            Frame::Bulk(b) | Frame::Simple(b) => match &b[..] {
                b"1" | b"OK" | b"true" => Ok(true),
                b"0" | b"false" => Ok(false),
                _ => Err(Error::Type(TypeError::new::<bool>(
                    &frame,
                    "expected 1 or 0",
                ))),
            },
            _ => Err(mismatch::<bool>(&frame)),
        }
    }
}

impl<T: FromReply> FromReply for Option<T> {
    fn from_reply(frame: Frame) -> Result<Self> {
        match frame {
            Frame::Null | Frame::NullArray => Ok(None),
            other => T::from_reply(other).map(Some),
        }
    }
}

impl<T: FromReply> FromReply for Vec<T> {
    fn from_reply(frame: Frame) -> Result<Self> {
        match frame {
            Frame::Array(items) => collect_items(items),
            Frame::Null | Frame::NullArray => Ok(Vec::new()),
            Frame::Bulk(b) | Frame::Simple(b) => T::from_bulk_as_vec(b)
                .map_err(|b| Error::Type(TypeError::new::<Self>(&Frame::Bulk(b), ""))),
            // `Vec<u8>` reads an integer reply as its decimal text, as `String` does.
            Frame::Integer(n) => T::from_bulk_as_vec(Bytes::from(n.to_string()))
                .map_err(|_| Error::Type(TypeError::new::<Self>(&Frame::Integer(n), ""))),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

/// Converts array elements one by one, or in runs of `T::FLAT_ARITY` when the array is
/// flat (`k v k v`) and `T` is a tuple.
fn collect_items<T: FromReply, C: FromIterator<T>>(items: Vec<Frame>) -> Result<C> {
    let flat = T::FLAT_ARITY > 1 && !matches!(items.first(), Some(Frame::Array(_)));
    if !flat {
        return items.into_iter().map(T::from_reply).collect();
    }
    if items.len() % T::FLAT_ARITY != 0 {
        return Err(Error::Type(TypeError {
            expected: std::any::type_name::<T>(),
            got: "array",
            detail: format!(
                "{} elements do not split into groups of {}",
                items.len(),
                T::FLAT_ARITY
            ),
        }));
    }
    let count = items.len() / T::FLAT_ARITY;
    let mut iter = items.into_iter();
    (0..count).map(|_| T::from_flat(&mut iter)).collect()
}

impl<T: FromReply + Eq + Hash, S: BuildHasher + Default> FromReply for HashSet<T, S> {
    fn from_reply(frame: Frame) -> Result<Self> {
        match frame {
            Frame::Array(items) => collect_items(items),
            Frame::Null | Frame::NullArray => Ok(HashSet::default()),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl<T: FromReply + Ord> FromReply for BTreeSet<T> {
    fn from_reply(frame: Frame) -> Result<Self> {
        match frame {
            Frame::Array(items) => collect_items(items),
            Frame::Null | Frame::NullArray => Ok(BTreeSet::new()),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl<K, V, S> FromReply for HashMap<K, V, S>
where
    K: FromReply + Eq + Hash,
    V: FromReply,
    S: BuildHasher + Default,
{
    fn from_reply(frame: Frame) -> Result<Self> {
        match frame {
            Frame::Array(items) => collect_items::<(K, V), _>(items),
            Frame::Null | Frame::NullArray => Ok(HashMap::default()),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl<K: FromReply + Ord, V: FromReply> FromReply for BTreeMap<K, V> {
    fn from_reply(frame: Frame) -> Result<Self> {
        match frame {
            Frame::Array(items) => collect_items::<(K, V), _>(items),
            Frame::Null | Frame::NullArray => Ok(BTreeMap::new()),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

macro_rules! tuple_from_reply {
    ($n:expr; $($name:ident)+) => {
        impl<$($name: FromReply),+> FromReply for ($($name,)+) {
            fn from_reply(frame: Frame) -> Result<Self> {
                match frame {
                    Frame::Array(items) if items.len() == $n => {
                        let mut iter = items.into_iter();
                        Self::from_flat(&mut iter)
                    }
                    other => Err(Error::Type(TypeError::new::<Self>(
                        &other,
                        format!("expected an array of {} elements", $n),
                    ))),
                }
            }

            const FLAT_ARITY: usize = $n;

            fn from_flat(items: &mut std::vec::IntoIter<Frame>) -> Result<Self> {
                Ok(($(
                    $name::from_reply(items.next().ok_or_else(missing::<Self>)?)?,
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

/// Converts a top-level reply: an error frame becomes [`Error::Server`], anything else goes
/// through `T`'s conversion.
pub fn convert<T: FromReply>(frame: Frame) -> Result<T> {
    match frame {
        Frame::Error(line) => Err(Error::Server(ServerError::parse(line))),
        other => T::from_reply(other),
    }
}

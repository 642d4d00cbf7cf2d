//! # slotline-resp
//!
//! A zero-copy, incremental, bounded codec for RESP2 and RESP3, the protocols Redis speaks.
//!
//! - **Zero-copy**: the payload of every decoded string is a [`bytes::Bytes`] view into the
//!   bytes that came off the socket; a 1 MiB bulk string is never copied.
//! - **Incremental**: a reply that arrives in many reads is validated once; each call to
//!   [`Decoder::decode`] resumes where the previous one stopped.
//! - **Bounded**: bulk length, array length, nesting depth and line length are capped by
//!   [`Limits`]; hostile input yields a [`ProtocolError`] carrying the byte offset, never a
//!   panic, a deep recursion or a huge allocation.
//! - **RESP3 too**: maps, sets, pushes, doubles, booleans, big numbers, verbatim strings,
//!   blob errors and nulls decode with the same qualities; depth is counted through every
//!   kind of aggregate; attributes are skipped unless asked for
//!   ([`Decoder::keep_attributes`]). A map reads as its keys and values alternating, the
//!   layout of a RESP2 reply of pairs, so code that reads pairs reads both. Commands are
//!   encoded as RESP2 arrays of bulk strings, which servers of both protocols expect.
//!
//! ```
//! use bytes::BytesMut;
//! use slotline_resp::{encode_command, Decoder, Frame};
//!
//! // Encode a command: an array of bulk strings, in one pass.
//! let mut out = BytesMut::new();
//! encode_command(&mut out, ["SET", "greeting", "hello"]);
//! assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$5\r\nhello\r\n");
//!
//! // Decode replies as they arrive, one complete reply at a time.
//! let mut dec = Decoder::default();
//! let mut inbox = BytesMut::from(&b"+OK\r\n*2\r\n$3\r\nfoo\r\n$"[..]);
//! assert_eq!(dec.decode(&mut inbox)?, Some(Frame::Simple("OK".into())));
//! assert_eq!(dec.decode(&mut inbox)?, None); // the array is not complete yet
//! inbox.extend_from_slice(b"-1\r\n");
//! let reply = dec.decode(&mut inbox)?.expect("complete");
//! assert_eq!(reply, Frame::Array(vec![Frame::Bulk("foo".into()), Frame::Null]));
//! # Ok::<(), slotline_resp::ProtocolError>(())
//! ```

mod decode;
mod encode;
mod error;
mod frame;
mod limits;
mod number;
mod read;
mod reply;

#[cfg(feature = "codec")]
mod codec;

#[cfg(feature = "codec")]
pub use codec::{CodecError, RespCodec};
pub use decode::Decoder;
pub use encode::{
    encode_array_header, encode_bulk, encode_command, encode_integer_bulk, encoded_bulk_len,
};
pub use error::{ProtocolError, ProtocolErrorKind};
pub use frame::Frame;
pub use limits::Limits;
pub use read::{ReadReply, ReplyKind};
pub use reply::{Elements, Reply, ReplyRef};

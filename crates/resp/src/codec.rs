//! [`RespCodec`]: the decoder and encoder as a tokio-util codec, for `Framed` streams.

use bytes::BytesMut;

use crate::{Decoder, Frame, Limits, ProtocolError};

/// A tokio-util codec over RESP2 and RESP3 frames: decodes with [`Decoder`], encodes any
/// [`Frame`].
///
/// ```
/// use bytes::BytesMut;
/// use slotline_resp::{Frame, RespCodec};
/// use tokio_util::codec::{Decoder as _, Encoder as _};
///
/// let mut codec = RespCodec::default();
/// let mut buf = BytesMut::new();
/// codec.encode(Frame::Integer(7), &mut buf)?;
/// assert_eq!(codec.decode(&mut buf)?, Some(Frame::Integer(7)));
/// # Ok::<(), slotline_resp::CodecError>(())
/// ```
#[derive(Debug, Default)]
pub struct RespCodec {
    decoder: Decoder,
}

impl RespCodec {
    /// A codec whose decoder applies `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        RespCodec {
            decoder: Decoder::with_limits(limits),
        }
    }
}

/// What a [`RespCodec`] stream can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The peer sent bytes that are not valid RESP2 or RESP3.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Reading or writing the stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl tokio_util::codec::Decoder for RespCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        Ok(self.decoder.decode(src)?)
    }
}

impl tokio_util::codec::Encoder<Frame> for RespCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode(dst);
        Ok(())
    }
}

impl tokio_util::codec::Encoder<&Frame> for RespCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode(dst);
        Ok(())
    }
}

//! Property tests: encoding then decoding gives the frame back, and the same bytes split at
//! any points and fed piece by piece give the same frames (and errors) as fed whole; a
//! [`Reply`] view of the same bytes reads the same as the frame, and fails the same way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use slotline_resp::{Decoder, Frame, Limits, ProtocolError, ReadReply, Reply, ReplyRef};

/// A line for a simple string or error: any bytes but CR and LF.
fn line() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..24,
    )
    .prop_map(Bytes::from)
}

/// Any bytes, CR and LF included, biased towards the ones that matter to the parser.
fn payload() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<u8>(),
            1 => Just(b'\r'),
            1 => Just(b'\n'),
            1 => Just(b'$'),
            1 => Just(b'*'),
        ],
        0..64,
    )
    .prop_map(Bytes::from)
}

fn integer() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        -1000i64..1000,
        Just(i64::MIN),
        Just(i64::MAX),
        Just(-1),
        Just(0),
    ]
}

fn scalar() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line().prop_map(Frame::Simple),
        line().prop_map(Frame::Error),
        integer().prop_map(Frame::Integer),
        payload().prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullArray),
        // RESP3's scalars.
        double().prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        big_number().prop_map(Frame::BigNumber),
        (prop_oneof![Just("txt:"), Just("mkd:")], payload()).prop_map(|(format, text)| {
            let mut payload = format.as_bytes().to_vec();
            payload.extend_from_slice(&text);
            Frame::Verbatim(Bytes::from(payload))
        }),
    ]
}

/// The text of a RESP3 double.
fn double() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |d| d.is_finite())
            .prop_map(|d| Bytes::from(d.to_string())),
        (-1000i32..1000).prop_map(|n| Bytes::from(format!("{n}.5"))),
        Just(Bytes::from_static(b"1e10")),
        Just(Bytes::from_static(b"inf")),
        Just(Bytes::from_static(b"-inf")),
        Just(Bytes::from_static(b"nan")),
    ]
}

/// The digits of a RESP3 big number.
fn big_number() -> impl Strategy<Value = Bytes> {
    ("-?[0-9]{1,60}").prop_map(Bytes::from)
}

/// Any frame, aggregates (arrays, maps, sets, pushes) nested at most 6 deep.
fn frame() -> impl Strategy<Value = Frame> {
    scalar().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            3 => prop::collection::vec(inner.clone(), 0..8).prop_map(Frame::Array),
            1 => prop::collection::vec((inner.clone(), inner.clone()), 0..4)
                .prop_map(|pairs| Frame::Map(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())),
            1 => prop::collection::vec(inner.clone(), 0..8).prop_map(Frame::Set),
            1 => prop::collection::vec(inner, 0..8).prop_map(Frame::Push),
        ]
    })
}

/// Feeds `wire` whole, decoding replies until none is left or one fails.
fn decode_whole(wire: &[u8], limits: Limits) -> (Vec<Frame>, Option<ProtocolError>, usize) {
    feed_pieces(wire, &[], limits, Decoder::decode)
}

/// Feeds `wire` in pieces cut at `cuts`, appending each to one buffer and decoding with
/// `step` while replies come out; stops at the first error.
fn feed_pieces<T>(
    wire: &[u8],
    cuts: &[usize],
    limits: Limits,
    mut step: impl FnMut(&mut Decoder, &mut BytesMut) -> Result<Option<T>, ProtocolError>,
) -> (Vec<T>, Option<ProtocolError>, usize) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.push(0);
    points.push(wire.len());
    points.sort_unstable();
    let mut dec = Decoder::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut replies = Vec::new();
    for piece in points.windows(2) {
        buf.extend_from_slice(&wire[piece[0]..piece[1]]);
        loop {
            match step(&mut dec, &mut buf) {
                Ok(Some(reply)) => replies.push(reply),
                Ok(None) => break,
                Err(e) => return (replies, Some(e), buf.len()),
            }
        }
    }
    (replies, None, buf.len())
}

/// [`feed_pieces`] through [`Decoder::decode`].
fn decode_pieces(
    wire: &[u8],
    cuts: &[usize],
    limits: Limits,
) -> (Vec<Frame>, Option<ProtocolError>, usize) {
    feed_pieces(wire, cuts, limits, Decoder::decode)
}

/// [`feed_pieces`] through [`Decoder::decode_reply`].
fn decode_replies_in_pieces(
    wire: &[u8],
    cuts: &[usize],
    limits: Limits,
) -> (Vec<Reply>, Option<ProtocolError>) {
    let (replies, error, _) = feed_pieces(wire, cuts, limits, Decoder::decode_reply);
    (replies, error)
}

/// A few bytes to overwrite, biased towards the ones that matter to the parser.
fn damage() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec(
        (
            any::<usize>(),
            prop_oneof![
                any::<u8>(),
                Just(b'\r'),
                Just(b'\n'),
                Just(b'-'),
                Just(b'9'),
                Just(b'*'),
                Just(b'$'),
                Just(b'%'),
                Just(b'|'),
                Just(b'_'),
                Just(b'#'),
                Just(b','),
                Just(b'='),
            ],
        ),
        1..4,
    )
}

/// The wire form of `frames` with the `damage` bytes written over it.
fn damaged(frames: &[Frame], damage: &[(usize, u8)]) -> Vec<u8> {
    let mut wire = wire_of(frames);
    for &(at, byte) in damage {
        let at = at % wire.len();
        wire[at] = byte;
    }
    wire
}

/// Checks that every accessor of `view` answers as the same accessor of `frame`, down the
/// whole tree.
fn same_reading(view: ReplyRef<'_>, frame: &Frame) -> Result<(), TestCaseError> {
    prop_assert_eq!(view.type_name(), frame.type_name());
    prop_assert_eq!(view.as_bytes(), frame.as_bytes());
    prop_assert_eq!(view.to_bytes(), frame.to_bytes());
    prop_assert_eq!(view.as_str(), frame.as_str());
    prop_assert_eq!(view.as_int(), frame.as_int());
    prop_assert_eq!(view.as_bool(), frame.as_bool());
    prop_assert_eq!(
        view.as_double().map(f64::to_bits),
        frame.as_double().map(f64::to_bits)
    );
    prop_assert_eq!(view.is_null(), frame.is_null());
    prop_assert_eq!(view.is_error(), frame.is_error());
    prop_assert_eq!(view.error_line(), frame.error_line());
    // The same through the reading trait both implement.
    prop_assert_eq!(ReadReply::kind(&view), ReadReply::kind(&frame));
    prop_assert_eq!(ReadReply::error_line(&view), ReadReply::error_line(&frame));
    prop_assert_eq!(ReadReply::error_kind(&view), ReadReply::error_kind(&frame));
    prop_assert_eq!(
        ReadReply::to_error_line(&view),
        ReadReply::to_error_line(&frame)
    );
    if let Some(kind) = frame.error_kind() {
        prop_assert_eq!(ReadReply::error_kind(&frame), Some(kind.as_bytes()));
    }
    prop_assert_eq!(view.array_len(), frame.as_array().map(<[Frame]>::len));
    prop_assert_eq!(view.iter().len(), frame.iter().len());
    prop_assert_eq!(&view.to_frame(), frame);
    for (element, expected) in view.iter().zip(frame.iter()) {
        same_reading(element, expected)?;
    }
    prop_assert!(view.get(frame.iter().len()).is_none());
    Ok(())
}

fn wire_of(frames: &[Frame]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for f in frames {
        f.encode(&mut out);
    }
    out.to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn encode_then_decode_gives_the_frame_back(frame in frame(), tail in payload()) {
        let mut buf = frame.to_wire();
        let len = buf.len();
        prop_assert_eq!(len, frame.encoded_len());
        // Whatever follows the reply is left alone.
        buf.extend_from_slice(&tail);
        let mut dec = Decoder::with_limits(Limits { max_depth: 16, ..Limits::default() });
        let got = dec.decode(&mut buf);
        prop_assert_eq!(got, Ok(Some(frame)));
        prop_assert_eq!(&buf[..], &tail[..]);
        prop_assert!(!dec.is_partial());
    }

    #[test]
    fn every_proper_prefix_is_incomplete(frame in frame()) {
        let wire = frame.to_wire();
        let mut dec = Decoder::default();
        for end in 0..wire.len() {
            let mut buf = BytesMut::from(&wire[..end]);
            prop_assert_eq!(dec.decode(&mut buf), Ok(None));
            prop_assert_eq!(&buf[..], &wire[..end]);
            dec.reset();
        }
    }

    #[test]
    fn pieces_give_the_same_frames_as_whole(
        frames in prop::collection::vec(frame(), 1..6),
        cuts in prop::collection::vec(any::<usize>(), 0..24),
    ) {
        let wire = wire_of(&frames);
        let whole = decode_whole(&wire, Limits::default());
        prop_assert_eq!(&whole.0, &frames);
        prop_assert_eq!(whole.2, 0);
        let pieces = decode_pieces(&wire, &cuts, Limits::default());
        prop_assert_eq!(pieces, whole);
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_frames(frames in prop::collection::vec(frame(), 1..4)) {
        let wire = wire_of(&frames);
        let cuts: Vec<usize> = (1..wire.len()).collect();
        prop_assert_eq!(decode_pieces(&wire, &cuts, Limits::default()).0, frames);
    }

    /// Valid replies with a few bytes changed: whatever the outcome, pieces and whole agree
    /// on it, error kind and offset included, and no byte is consumed that was not given.
    #[test]
    fn damaged_bytes_fail_the_same_way_in_pieces(
        frames in prop::collection::vec(frame(), 1..4),
        damage in damage(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        max_line in 0usize..40,
        max_bulk in 0usize..80,
        max_array in 0usize..10,
        max_depth in 0usize..8,
    ) {
        let wire = damaged(&frames, &damage);
        for limits in [
            Limits::default(),
            Limits { max_line_len: max_line, max_bulk_len: max_bulk, max_array_len: max_array, max_depth },
        ] {
            let whole = decode_whole(&wire, limits);
            let pieces = decode_pieces(&wire, &cuts, limits);
            // (Fed in pieces, an error can come before the last piece is appended, so only
            // the frames and the error are compared, not what is left in the buffer.)
            prop_assert_eq!((&pieces.0, &pieces.1), (&whole.0, &whole.1));
            if let Some(err) = &whole.1 {
                // The offset points inside the reply at the front of what was left.
                prop_assert!(err.offset < whole.2, "{:?} with {} bytes left", err, whole.2);
            }
        }
    }

    #[test]
    fn a_reply_view_reads_as_the_frame(
        frames in prop::collection::vec(frame(), 1..6),
        cuts in prop::collection::vec(any::<usize>(), 0..24),
    ) {
        let wire = wire_of(&frames);
        let (replies, error) = decode_replies_in_pieces(&wire, &cuts, Limits::default());
        prop_assert!(error.is_none(), "{:?}", error);
        prop_assert_eq!(replies.len(), frames.len());
        for (reply, frame) in replies.iter().zip(&frames) {
            same_reading(reply.view(), frame)?;
            prop_assert_eq!(&reply.clone().into_frame(), frame);
            // A reply built from the frame itself reads the same.
            same_reading(Reply::from_frame(frame.clone()).unwrap().view(), frame)?;
        }
    }

    /// Damaged replies: the view decoder gives the same replies and the same error, kind
    /// and offset included, as the frame decoder.
    #[test]
    fn a_reply_view_fails_as_the_frame_decoder(
        frames in prop::collection::vec(frame(), 1..4),
        damage in damage(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        max_depth in 0usize..8,
        max_array in 0usize..10,
    ) {
        let wire = damaged(&frames, &damage);
        let limits = Limits { max_depth, max_array_len: max_array, ..Limits::default() };
        let (frames, frame_error, _) = decode_pieces(&wire, &cuts, limits);
        let (replies, reply_error) = decode_replies_in_pieces(&wire, &cuts, limits);
        let read: Vec<Frame> = replies.into_iter().map(Reply::into_frame).collect();
        prop_assert_eq!(read, frames);
        prop_assert_eq!(reply_error, frame_error);
    }

    #[test]
    fn attributes_are_skipped_unless_kept(
        value in frame(),
        attributes in prop::collection::vec((frame(), frame()), 0..3),
        inside in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let attributes: Vec<Frame> = attributes.into_iter().flat_map(|(k, v)| [k, v]).collect();
        let attributed = Frame::Attribute { attributes, value: Box::new(value.clone()) };
        // At the top of a reply, or as an element of an array.
        let (kept, skipped) = if inside {
            (
                Frame::Array(vec![attributed, Frame::Integer(7)]),
                Frame::Array(vec![value, Frame::Integer(7)]),
            )
        } else {
            (attributed, value)
        };
        let wire = kept.to_wire();
        let limits = Limits { max_depth: 32, ..Limits::default() };
        let (frames, error, left) = decode_pieces(&wire, &cuts, limits);
        prop_assert_eq!(error, None);
        prop_assert_eq!(left, 0);
        prop_assert_eq!(&frames, &vec![skipped.clone()]);
        let (replies, error) = decode_replies_in_pieces(&wire, &cuts, limits);
        prop_assert_eq!(error, None);
        prop_assert_eq!(replies.len(), 1);
        same_reading(replies[0].view(), &skipped)?;
        let mut keeping = Decoder::with_limits(limits).keep_attributes(true);
        let mut buf = BytesMut::from(&wire[..]);
        prop_assert_eq!(keeping.decode(&mut buf), Ok(Some(kept.clone())));
        let mut buf = BytesMut::from(&wire[..]);
        let reply = keeping.decode_reply(&mut buf).unwrap().unwrap();
        same_reading(reply.view(), &kept)?;
        prop_assert_eq!(reply.into_frame(), kept);
    }
}

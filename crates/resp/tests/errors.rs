//! Malformed and hostile input: every case fails at once, with the right kind and offset,
//! and leaves the buffer untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use slotline_resp::{Decoder, Frame, Limits, ProtocolError, ProtocolErrorKind as K};

/// Decodes `wire` with `limits` and returns the error, checking that the buffer is untouched
/// and that the decoder has reset itself (it decodes a fresh reply afterwards).
fn fails_with(limits: Limits, wire: &[u8]) -> ProtocolError {
    let mut dec = Decoder::with_limits(limits);
    let mut buf = BytesMut::from(wire);
    let err = match dec.decode(&mut buf) {
        Err(err) => err,
        Ok(got) => panic!("{:?} decoded as {got:?}", String::from_utf8_lossy(wire)),
    };
    assert_eq!(&buf[..], wire, "the buffer was changed");
    assert!(!dec.is_partial());
    let mut fresh = BytesMut::from(&b":1\r\n"[..]);
    assert_eq!(dec.decode(&mut fresh).unwrap(), Some(Frame::Integer(1)));
    err
}

/// `fails_with` under the default limits, also checking the kind and offset; and that
/// feeding the same bytes one at a time fails the same way (often before the last byte).
fn check(wire: &[u8], kind: K, offset: usize) {
    check_with(Limits::default(), wire, kind, offset);
}

fn check_with(limits: Limits, wire: &[u8], kind: K, offset: usize) {
    let err = fails_with(limits, wire);
    let shown = String::from_utf8_lossy(wire).into_owned();
    assert_eq!((&err.kind, err.offset), (&kind, offset), "{shown:?}");
    assert!(
        err.to_string().contains(&format!("at byte {offset}")),
        "{err}"
    );

    let mut dec = Decoder::with_limits(limits);
    let mut buf = BytesMut::new();
    for (i, &b) in wire.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        match dec.decode(&mut buf) {
            Ok(None) => {}
            Ok(Some(frame)) => panic!("{shown:?}: byte by byte decoded {frame:?}"),
            Err(e) => {
                assert_eq!(e, err, "{shown:?}: byte by byte");
                assert!(
                    err.offset <= i,
                    "{shown:?}: failed before the offending byte"
                );
                assert_eq!(&buf[..], &wire[..=i]);
                return;
            }
        }
    }
    panic!("{shown:?}: byte by byte never failed");
}

const MIB: usize = 1024 * 1024;

#[test]
fn huge_bulk_length_fails_at_once() {
    check(
        b"$9223372036854775807\r\n",
        K::BulkTooLong {
            len: i64::MAX as u64,
            max: 512 * MIB,
        },
        1,
    );
    // Just over the default limit fails too; just at it is only waited for.
    check(
        b"$536870913\r\n",
        K::BulkTooLong {
            len: 512 * MIB as u64 + 1,
            max: 512 * MIB,
        },
        1,
    );
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(&b"$536870912\r\n"[..]);
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    // A custom limit applies inside arrays as well.
    let small = Limits {
        max_bulk_len: 4,
        ..Limits::default()
    };
    check_with(
        small,
        b"*2\r\n$4\r\nabcd\r\n$5\r\n",
        K::BulkTooLong { len: 5, max: 4 },
        15,
    );
}

#[test]
fn huge_array_length_fails_at_once() {
    let limits = Limits {
        max_array_len: 1_000_000,
        ..Limits::default()
    };
    check_with(
        limits,
        b"*2147483648\r\n",
        K::ArrayTooLong {
            len: 2_147_483_648,
            max: 1_000_000,
        },
        1,
    );
    // The default limit is i32::MAX, as in Redis.
    check(
        b"*2147483648\r\n",
        K::ArrayTooLong {
            len: 2_147_483_648,
            max: i32::MAX as usize,
        },
        1,
    );
    // Nested arrays are held to it too.
    check_with(
        limits,
        b"*1\r\n*1000001\r\n",
        K::ArrayTooLong {
            len: 1_000_001,
            max: 1_000_000,
        },
        5,
    );
}

#[test]
fn negative_lengths_other_than_minus_one() {
    check(b"$-2\r\n", K::NegativeLength(-2), 1);
    check(b"*-2\r\n", K::NegativeLength(-2), 1);
    check(b"$-100\r\n", K::NegativeLength(-100), 1);
    check(b"*1\r\n$-7\r\n", K::NegativeLength(-7), 5);
}

#[test]
fn non_numeric_lengths() {
    check(b"$abc\r\n", K::InvalidInteger, 1);
    // Known at the first bad byte: no need for the rest of the line.
    check(b"$a", K::InvalidInteger, 1);
    check(b"$1a", K::InvalidInteger, 2);
    check(b"$\r\n", K::InvalidInteger, 1);
    check(b"$-\r\n", K::InvalidInteger, 2);
    check(b"$ 3\r\n", K::InvalidInteger, 1);
    check(b"*x\r\n", K::InvalidInteger, 1);
    check(b"*2\r\n:1\r\n$1x", K::InvalidInteger, 10);
    check(b"$3\rx", K::ExpectedCrlf, 3);
}

#[test]
fn bulk_payload_not_followed_by_crlf() {
    check(b"$3\r\nfooXY", K::ExpectedCrlf, 7);
    // One stray byte after the payload is enough to know.
    check(b"$3\r\nfooX", K::ExpectedCrlf, 7);
    check(b"$3\r\nfoo\rX", K::ExpectedCrlf, 7);
    check(b"$3\r\nfoo\n\r", K::ExpectedCrlf, 7);
    check(b"$0\r\nX", K::ExpectedCrlf, 4);
    check(b"*2\r\n$3\r\nfoo\r\n$1\r\nab\r\n", K::ExpectedCrlf, 18);
}

#[test]
fn integers_with_garbage() {
    check(b":12a\r\n", K::InvalidInteger, 3);
    check(b":\r\n", K::InvalidInteger, 1);
    check(b":-\r\n", K::InvalidInteger, 2);
    check(b":1 2\r\n", K::InvalidInteger, 2);
    // The protocol lets an integer carry a `+` (see tests/resp3.rs), but one sign only,
    // and never a length.
    check(b":+-5\r\n", K::InvalidInteger, 2);
    check(b":+\r\n", K::InvalidInteger, 2);
    check(b"$+1\r\nx\r\n", K::InvalidInteger, 1);
    check(b"*+1\r\n:1\r\n", K::InvalidInteger, 1);
    check(b"%+1\r\n", K::InvalidInteger, 1);
    check(b":--1\r\n", K::InvalidInteger, 2);
    check(b":0x10\r\n", K::InvalidInteger, 2);
    check(b":5\rX", K::ExpectedCrlf, 3);
    check(b":5\n", K::InvalidInteger, 2);
    check(b"*3\r\n:1\r\n:2\r\n:three\r\n", K::InvalidInteger, 13);
}

#[test]
fn integers_out_of_the_i64_range() {
    // Known at the digit that leaves the range, before the line ends.
    check(b":9223372036854775808\r\n", K::IntegerOverflow, 19);
    check(b":9223372036854775808", K::IntegerOverflow, 19);
    check(b":-9223372036854775809\r\n", K::IntegerOverflow, 20);
    check(b":99999999999999999999999\r\n", K::IntegerOverflow, 19);
    check(b":18446744073709551616\r\n", K::IntegerOverflow, 20);
    check(b"*1\r\n:-99999999999999999999\r\n", K::IntegerOverflow, 24);
    // The extremes themselves are fine.
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(&b":9223372036854775807\r\n:-9223372036854775808\r\n"[..]);
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Frame::Integer(i64::MAX))
    );
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Frame::Integer(i64::MIN))
    );
    // Leading zeros do not count against the range, only against the line length.
    let mut buf = BytesMut::from(&b":000009223372036854775807\r\n"[..]);
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Frame::Integer(i64::MAX))
    );
    check(b":0000000000000000000000001\r\n", K::IntegerOverflow, 25);
}

#[test]
fn unknown_type_bytes() {
    check(b"?x\r\n", K::UnknownType(b'?'), 0);
    check(b"\r\n", K::UnknownType(b'\r'), 0);
    check(b"*2\r\n:1\r\n?\r\n", K::UnknownType(b'?'), 8);
    check(b"*1\r\n*1\r\nX", K::UnknownType(b'X'), 8);
    check(b"%1\r\n@\r\n", K::UnknownType(b'@'), 4);
}

#[test]
fn malformed_resp3_scalars() {
    check(b"_x\r\n", K::ExpectedCrlf, 1);
    check(b"*1\r\n_\rx", K::ExpectedCrlf, 6);
    check(b"#x\r\n", K::InvalidBoolean, 1);
    check(b"#tx\r\n", K::ExpectedCrlf, 2);
    check(b",abc\r\n", K::InvalidDouble, 1);
    check(b",infinity\r\n", K::InvalidDouble, 1);
    check(b",\r\n", K::InvalidDouble, 1);
    check(b",1.2.3\r\n", K::InvalidDouble, 1);
    check(b",1e\r\n", K::InvalidDouble, 1);
    check(b",e5\r\n", K::InvalidDouble, 1);
    check(b",--1\r\n", K::InvalidDouble, 1);
    check(b"*1\r\n,1x\r\n", K::InvalidDouble, 5);
    check(b"(12a\r\n", K::InvalidBigNumber, 1);
    check(b"(-\r\n", K::InvalidBigNumber, 1);
    check(b"=3\r\nabc\r\n", K::InvalidVerbatim, 4);
    check(b"=5\r\ntxt-x\r\n", K::InvalidVerbatim, 4);
    check(b"=-1\r\n", K::NegativeLength(-1), 1);
    check(b"!-1\r\n", K::NegativeLength(-1), 1);
    check(b"!3\r\nERRx", K::ExpectedCrlf, 7);
}

#[test]
fn malformed_resp3_aggregates() {
    check(b"%-1\r\n", K::NegativeLength(-1), 1);
    check(b"~-2\r\n", K::NegativeLength(-2), 1);
    check(b">-1\r\n", K::NegativeLength(-1), 1);
    check(b"|-1\r\n", K::NegativeLength(-1), 1);
    check(b"*1\r\n%x\r\n", K::InvalidInteger, 5);
    let limits = Limits {
        max_array_len: 3,
        ..Limits::default()
    };
    // A map's pairs count twice: two pairs are four elements.
    check_with(limits, b"%2\r\n", K::ArrayTooLong { len: 4, max: 3 }, 1);
    check_with(
        limits,
        b"*1\r\n|2\r\n",
        K::ArrayTooLong { len: 4, max: 3 },
        5,
    );
    check_with(limits, b"~4\r\n", K::ArrayTooLong { len: 4, max: 3 }, 1);
    // Depth is counted through every kind of aggregate alike.
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    check_with(
        limits,
        b"%1\r\n+k\r\n~1\r\n>1\r\n*1\r\n",
        K::TooDeep { max: 3 },
        16,
    );
    check_with(
        limits,
        b"|1\r\n+k\r\n|1\r\n+k\r\n%1\r\n+k\r\n~1\r\n",
        K::TooDeep { max: 3 },
        24,
    );
}

#[test]
fn simple_lines_too_long() {
    let limits = Limits {
        max_line_len: 10,
        ..Limits::default()
    };
    check_with(limits, b"+0123456789A\r\n", K::LineTooLong { max: 10 }, 11);
    // Known without the CR: the line is already longer than allowed.
    check_with(limits, b"-0123456789AB", K::LineTooLong { max: 10 }, 11);
    check_with(
        limits,
        b"*1\r\n+0123456789AB",
        K::LineTooLong { max: 10 },
        15,
    );
    // The commonest reply keeps to the limit too, whole or cut (found by the
    // chunked_equals_whole fuzz target: the `+OK` shortcut once skipped the check).
    for max in [0, 1] {
        let tight = Limits {
            max_line_len: max,
            ..Limits::default()
        };
        check_with(tight, b"+OK\r\n", K::LineTooLong { max }, 1 + max);
    }
    // Exactly at the limit is fine.
    let mut dec = Decoder::with_limits(limits);
    let mut buf = BytesMut::from(&b"+0123456789\r\n-0123456789\r\n"[..]);
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Frame::Simple("0123456789".into()))
    );
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Frame::Error("0123456789".into()))
    );
    // The default limit is 1 MiB.
    let mut long = vec![b'+'];
    long.resize(MIB + 2, b'a');
    check(&long, K::LineTooLong { max: MIB }, MIB + 1);
}

#[test]
fn cr_without_lf_in_a_line() {
    check(b"+OK\rX", K::ExpectedCrlf, 4);
    check(b"-ERR\r\r\n", K::ExpectedCrlf, 5);
    check(b"*1\r\n+a\rb\r\n", K::ExpectedCrlf, 7);
    check(b"*1\rX", K::ExpectedCrlf, 3);
}

#[test]
fn errors_after_complete_replies_leave_those_replies_decoded() {
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(&b"+OK\r\n:1\r\n$2\r\nabc\r\n"[..]);
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Frame::Simple("OK".into()))
    );
    assert_eq!(dec.decode(&mut buf).unwrap(), Some(Frame::Integer(1)));
    let err = dec.decode(&mut buf).unwrap_err();
    assert_eq!((err.kind, err.offset), (K::ExpectedCrlf, 6));
    assert_eq!(&buf[..], b"$2\r\nabc\r\n");
}

/// Runs `f` on a thread with a 2 MiB stack, as a small async runtime's worker might have.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 * MIB)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn a_million_nested_arrays_fail_without_overflowing_a_small_stack() {
    let wire: Vec<u8> = b"*1\r\n".repeat(1_000_000);
    let (default, unbounded) = on_small_stack(move || {
        let mut buf = BytesMut::from(&wire[..]);
        let default = Decoder::default().decode(&mut buf).unwrap_err();
        assert_eq!(buf.len(), wire.len());
        let limits = Limits {
            max_depth: usize::MAX,
            ..Limits::default()
        };
        let mut dec = Decoder::with_limits(limits);
        assert_eq!(dec.limits().max_depth, Limits::DEPTH_CEILING);
        let unbounded = dec.decode(&mut buf).unwrap_err();
        assert_eq!(buf.len(), wire.len());
        (default, unbounded)
    });
    assert_eq!(
        (default.kind, default.offset),
        (K::TooDeep { max: 128 }, 128 * 4)
    );
    assert_eq!(
        (unbounded.kind, unbounded.offset),
        (
            K::TooDeep {
                max: Limits::DEPTH_CEILING
            },
            Limits::DEPTH_CEILING * 4
        )
    );
}

#[test]
fn nesting_up_to_the_limit_is_accepted_and_dropped_on_a_small_stack() {
    on_small_stack(|| {
        for (limits, depth) in [
            (Limits::default(), 128),
            (
                Limits {
                    max_depth: usize::MAX,
                    ..Limits::default()
                },
                Limits::DEPTH_CEILING,
            ),
        ] {
            let mut wire = b"*1\r\n".repeat(depth);
            wire.extend_from_slice(b":7\r\n");
            let mut dec = Decoder::with_limits(limits);
            // Fed in two pieces, so that the scan resumes in the middle of the nesting.
            let mut buf = BytesMut::from(&wire[..wire.len() / 2]);
            assert_eq!(dec.decode(&mut buf).unwrap(), None);
            buf.extend_from_slice(&wire[wire.len() / 2..]);
            let frame = dec.decode(&mut buf).unwrap().unwrap();
            assert_eq!(frame.to_wire(), &wire[..]);
            let mut inner = &frame;
            for _ in 0..depth {
                inner = &inner.as_array().unwrap()[0];
            }
            assert_eq!(inner.as_int(), Some(7));
            drop(frame);

            // One level more is refused.
            let mut deeper = b"*1\r\n".repeat(depth + 1);
            deeper.extend_from_slice(b":7\r\n");
            let err = dec.decode(&mut BytesMut::from(&deeper[..])).unwrap_err();
            assert_eq!(err.offset, depth * 4);
        }
    });
}

#[test]
fn zero_depth_refuses_every_non_empty_array() {
    let limits = Limits {
        max_depth: 0,
        ..Limits::default()
    };
    check_with(limits, b"*1\r\n:1\r\n", K::TooDeep { max: 0 }, 0);
    let mut dec = Decoder::with_limits(limits);
    let mut buf = BytesMut::from(&b"*0\r\n*-1\r\n:5\r\n"[..]);
    assert_eq!(dec.decode(&mut buf).unwrap(), Some(Frame::Array(vec![])));
    assert_eq!(dec.decode(&mut buf).unwrap(), Some(Frame::NullArray));
    assert_eq!(dec.decode(&mut buf).unwrap(), Some(Frame::Integer(5)));
}

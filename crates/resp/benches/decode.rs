//! Decode (and encode) throughput on reply shapes a Redis client really sees.
//!
//! Run with `cargo bench -p slotline-resp --bench decode`.
//!
//! The bytes arrive the way a client's read loop has them: appended to one long-lived read
//! buffer (`BytesMut`), which gets its space back once the previous replies are dropped, so
//! there is no allocation per read. In the `decode` group the bytes are appended outside the
//! timed part (as a socket read would leave them: just written, so in cache); the timed part
//! decodes every reply and drops it: releasing a reply is part of a client's cost. In the
//! `pieces_4k` group the copy into the read buffer is timed too, either in 4 KiB appends
//! with a decode after each or in one append: the two variants differ only in how the
//! bytes arrive.
//!
//! Set `SLOTLINE_BENCH_QUICK=1` for short measurements while iterating.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use slotline_resp::{encode_command, Decoder, Reply};

mod common;
use common::{
    array_200k, bulk_1mib, cluster_slots, config, hgetall_500, hgetall_500_resp3, mget_1000,
    payload, pipelined_small, zrange_1000_resp3,
};

/// Appends `wire` to the long-lived read buffer and hands the new bytes out as a buffer of
/// their own (sharing the read buffer's allocation, as `BytesMut::split` does).
fn arrive(read_buf: &mut BytesMut, wire: &[u8]) -> BytesMut {
    read_buf.reserve(wire.len());
    read_buf.extend_from_slice(wire);
    read_buf.split()
}

/// Takes every reply out of `buf` with `next`, dropping each; how many there were.
#[inline(always)]
fn drain_by<T>(
    dec: &mut Decoder,
    buf: &mut BytesMut,
    next: impl Fn(&mut Decoder, &mut BytesMut) -> Option<T>,
) -> usize {
    let mut n = 0;
    while let Some(reply) = next(dec, buf) {
        black_box(&reply);
        drop(reply);
        n += 1;
    }
    n
}

/// Decodes every reply in `buf` into a frame.
#[inline]
fn drain(dec: &mut Decoder, buf: &mut BytesMut) -> usize {
    drain_by(dec, buf, |d, b| d.decode(b).unwrap())
}

/// As [`drain`], through [`Decoder::decode_reply`]: the replies are views, no frames built.
#[inline]
fn drain_replies(dec: &mut Decoder, buf: &mut BytesMut) -> usize {
    drain_by(dec, buf, |d, b| d.decode_reply(b).unwrap())
}

/// Views turned into frames ([`Reply::into_frame`]): what `send_command` and pipelines pay.
#[inline]
fn drain_reply_frames(dec: &mut Decoder, buf: &mut BytesMut) -> usize {
    drain_by(dec, buf, |d, b| {
        d.decode_reply(b).unwrap().map(Reply::into_frame)
    })
}

/// Group `decode`: every shape through `decode` (frames).
fn bench_whole(c: &mut Criterion) {
    bench_shapes(c, "decode", drain);
}

/// Group `reply_view`: every shape through `decode_reply` (views, no frames).
fn bench_reply_view(c: &mut Criterion) {
    bench_shapes(c, "reply_view", drain_replies);
}

/// Group `reply_frame`: every shape through `decode_reply`, then into a frame.
fn bench_reply_frame(c: &mut Criterion) {
    bench_shapes(c, "reply_frame", drain_reply_frames);
}

fn bench_shapes(c: &mut Criterion, group: &str, drain: fn(&mut Decoder, &mut BytesMut) -> usize) {
    let mut group = c.benchmark_group(group);

    let (wire, replies) = pipelined_small();
    group.throughput(Throughput::Elements(replies as u64));
    group.bench_function("pipelined_small_10k", |b| {
        let mut dec = Decoder::default();
        let mut read_buf = BytesMut::new();
        b.iter_batched(
            || arrive(&mut read_buf, &wire),
            |mut buf| {
                assert_eq!(drain(&mut dec, &mut buf), replies);
                buf
            },
            BatchSize::PerIteration,
        )
    });

    for (name, wire) in [
        ("mget_1000x100", mget_1000()),
        ("bulk_1mib", bulk_1mib()),
        ("cluster_slots_100x3", cluster_slots()),
        ("hgetall_500", hgetall_500()),
        ("hgetall_500_resp3", hgetall_500_resp3()),
    ] {
        group.throughput(Throughput::BytesDecimal(wire.len() as u64));
        group.bench_function(name, |b| {
            let mut dec = Decoder::default();
            let mut read_buf = BytesMut::new();
            b.iter_batched(
                || arrive(&mut read_buf, &wire),
                |mut buf| {
                    assert_eq!(drain(&mut dec, &mut buf), 1);
                    buf
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Copies `wire` into the read buffer in `piece`-byte appends, decoding after each append.
#[inline]
fn feed(dec: &mut Decoder, read_buf: &mut BytesMut, wire: &[u8], piece: usize) -> usize {
    read_buf.reserve(wire.len());
    let mut n = 0;
    for chunk in wire.chunks(piece) {
        read_buf.extend_from_slice(chunk);
        n += drain(dec, read_buf);
    }
    n
}

fn bench_pieces(c: &mut Criterion) {
    let mut group = c.benchmark_group("pieces_4k");
    for (name, wire) in [
        ("mget_1000x100", mget_1000()),
        ("array_200k", array_200k()),
        ("hgetall_500_resp3", hgetall_500_resp3()),
        ("zrange_1000_resp3", zrange_1000_resp3()),
    ] {
        group.throughput(Throughput::BytesDecimal(wire.len() as u64));
        group.bench_function(format!("{name}/whole"), |b| {
            let mut dec = Decoder::default();
            let mut read_buf = BytesMut::new();
            b.iter(|| assert_eq!(feed(&mut dec, &mut read_buf, &wire, wire.len()), 1))
        });
        group.bench_function(format!("{name}/4k"), |b| {
            let mut dec = Decoder::default();
            let mut read_buf = BytesMut::new();
            b.iter(|| assert_eq!(feed(&mut dec, &mut read_buf, &wire, 4096), 1))
        });
    }
    group.finish();
}

/// The part of a decode that the `Frame` type itself costs, whatever the decoder: building
/// the same frames from an already-decoded reply (`Frame::clone`: one refcount increment per
/// payload view, one `Vec` per array) and dropping them (one decrement per view, one free
/// per array). No parsing at all; a decoder can only approach this.
fn bench_floor(c: &mut Criterion) {
    let mut group = c.benchmark_group("frames_only");
    for (name, wire) in [
        ("mget_1000x100", mget_1000()),
        ("cluster_slots_100x3", cluster_slots()),
        ("hgetall_500", hgetall_500()),
    ] {
        let mut buf = BytesMut::from(&wire[..]);
        let frame = Decoder::default().decode(&mut buf).unwrap().unwrap();
        group.throughput(Throughput::BytesDecimal(wire.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let copy = black_box(&frame).clone();
                black_box(&copy);
                drop(copy);
            })
        });
    }
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let key = payload(3, 16);
    let value = payload(4, 100);
    group.throughput(Throughput::Elements(1));
    group.bench_function("set_16b_key_100b_value", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            encode_command(
                &mut out,
                [&b"SET"[..], black_box(&key[..]), black_box(&value[..])],
            );
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_whole, bench_reply_view, bench_reply_frame, bench_pieces, bench_floor, bench_encode
}
criterion_main!(benches);

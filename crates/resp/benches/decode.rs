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
use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use slotline_resp::{encode_command, Decoder};

/// Appends one bulk string.
fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends one array header.
fn array(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(format!("*{len}\r\n").as_bytes());
}

/// `len` printable bytes derived from `seed`.
fn payload(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((seed * 31 + i * 7) % 26) as u8)
        .collect()
}

/// 10,000 pipelined small replies: `+OK`, `:n` and 16-byte bulks in turn.
fn pipelined_small() -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let n = 10_000;
    for i in 0..n {
        match i % 3 {
            0 => out.extend_from_slice(b"+OK\r\n"),
            1 => out.extend_from_slice(format!(":{}\r\n", i * 37).as_bytes()),
            _ => bulk(&mut out, &payload(i, 16)),
        }
    }
    (out, n)
}

/// MGET of 1000 keys holding 100-byte values; every tenth key is missing (nil).
fn mget_1000() -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, 1000);
    for i in 0..1000 {
        if i % 10 == 7 {
            out.extend_from_slice(b"$-1\r\n");
        } else {
            bulk(&mut out, &payload(i, 100));
        }
    }
    out
}

/// One 1 MiB bulk string.
fn bulk_1mib() -> Vec<u8> {
    let mut out = Vec::new();
    bulk(&mut out, &payload(1, 1 << 20));
    out
}

/// CLUSTER SLOTS of 100 slot ranges, each served by 3 nodes `[ip, port, 40-char id]`.
fn cluster_slots() -> Vec<u8> {
    let mut out = Vec::new();
    let ranges = 100;
    array(&mut out, ranges);
    for r in 0..ranges {
        let start = r * 16384 / ranges;
        let end = (r + 1) * 16384 / ranges - 1;
        array(&mut out, 5);
        out.extend_from_slice(format!(":{start}\r\n:{end}\r\n").as_bytes());
        for node in 0..3 {
            array(&mut out, 3);
            bulk(&mut out, format!("10.0.{}.{}", r % 7, 10 + node).as_bytes());
            out.extend_from_slice(format!(":{}\r\n", 7000 + node).as_bytes());
            let id: String = format!("{:040x}", (r * 3 + node) as u128 * 0x9e37_79b9_7f4a_7c15);
            bulk(&mut out, id.as_bytes());
        }
    }
    out
}

/// HGETALL of a hash with 500 fields: `field:NNNN` names and 32-byte values.
fn hgetall_500() -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, 1000);
    for i in 0..500 {
        bulk(&mut out, format!("field:{i:04}").as_bytes());
        bulk(&mut out, &payload(i, 32));
    }
    out
}

/// A 200,000-element array of 10 to 12-byte bulks (an LRANGE or SMEMBERS of a big collection).
fn array_200k() -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, 200_000);
    for i in 0..200_000 {
        bulk(&mut out, format!("member{i:04}").as_bytes());
    }
    out
}

/// Appends `wire` to the long-lived read buffer and hands the new bytes out as a buffer of
/// their own (sharing the read buffer's allocation, as `BytesMut::split` does).
fn arrive(read_buf: &mut BytesMut, wire: &[u8]) -> BytesMut {
    read_buf.reserve(wire.len());
    read_buf.extend_from_slice(wire);
    read_buf.split()
}

/// Decodes every reply in `buf`, dropping each, and returns how many there were.
#[inline]
fn drain(dec: &mut Decoder, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while let Some(frame) = dec.decode(buf).unwrap() {
        black_box(&frame);
        drop(frame);
        n += 1;
    }
    n
}

/// As [`drain`], through [`Decoder::decode_reply`]: the replies are views, no frames built.
#[inline]
fn drain_replies(dec: &mut Decoder, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while let Some(reply) = dec.decode_reply(buf).unwrap() {
        black_box(&reply);
        drop(reply);
        n += 1;
    }
    n
}

/// Group `decode`: every shape through `decode` (frames).
fn bench_whole(c: &mut Criterion) {
    bench_shapes(c, "decode", drain);
}

/// Group `reply_view`: every shape through `decode_reply` (views, no frames).
fn bench_reply_view(c: &mut Criterion) {
    bench_shapes(c, "reply_view", drain_replies);
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
    for (name, wire) in [("mget_1000x100", mget_1000()), ("array_200k", array_200k())] {
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

fn config() -> Criterion {
    let quick = std::env::var_os("SLOTLINE_BENCH_QUICK").is_some();
    let (warm, measure) = if quick { (0.5, 1.5) } else { (1.0, 4.0) };
    Criterion::default()
        .warm_up_time(Duration::from_secs_f64(warm))
        .measurement_time(Duration::from_secs_f64(measure))
        .sample_size(if quick { 20 } else { 50 })
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_whole, bench_reply_view, bench_pieces, bench_floor, bench_encode
}
criterion_main!(benches);

//! A reply's whole cost to a caller: decoding it and converting it into the type asked
//! for, the two ways slotline can do it.
//!
//! - `frames`: `Decoder::decode` builds a `Frame` tree, then `convert` reads it (how every
//!   client worked before the clients decoded `Reply`s);
//! - `views`: `Decoder::decode_reply` indexes the bytes, then `convert_read` reads them in
//!   place: what `Client`, `Connection` and `ClusterClient` do for `query` and the typed
//!   commands.
//!
//! Run with `cargo bench -p slotline-command --bench convert`.
//! Set `SLOTLINE_BENCH_QUICK=1` for short measurements while iterating.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../../resp/benches/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use slotline_command::{convert, convert_read, FromReply};
use slotline_resp::Decoder;

/// One CLUSTER SLOTS range: start, end and three `[ip, port, id]` nodes.
type SlotRange = (
    i64,
    i64,
    (String, u16, String),
    (String, u16, String),
    (String, u16, String),
);

/// One way to take a reply off the read buffer and convert it.
type Way<T> = fn(&mut Decoder, &mut BytesMut) -> T;

fn through_frames<T: FromReply>(dec: &mut Decoder, buf: &mut BytesMut) -> T {
    convert(dec.decode(buf).unwrap().unwrap()).unwrap()
}

fn through_views<T: FromReply>(dec: &mut Decoder, buf: &mut BytesMut) -> T {
    convert_read(dec.decode_reply(buf).unwrap().unwrap().view()).unwrap()
}

/// Benchmarks decoding and converting `wire` into `T` both ways.
fn shape<T: FromReply>(c: &mut Criterion, name: &str, wire: &[u8]) {
    let mut group = c.benchmark_group(format!("convert/{name}"));
    group.throughput(Throughput::BytesDecimal(wire.len() as u64));
    let ways: [(&str, Way<T>); 2] = [("frames", through_frames), ("views", through_views)];
    for (way, read) in ways {
        group.bench_function(way, |b| {
            let mut dec = Decoder::default();
            let mut read_buf = BytesMut::new();
            b.iter_batched(
                || {
                    read_buf.reserve(wire.len());
                    read_buf.extend_from_slice(wire);
                    read_buf.split()
                },
                |mut buf| {
                    black_box(read(&mut dec, &mut buf));
                    buf
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn bench_convert(c: &mut Criterion) {
    let mget = common::mget_1000();
    shape::<Vec<Option<Bytes>>>(c, "mget_1000x100_as_bytes", &mget);
    shape::<Vec<Option<String>>>(c, "mget_1000x100_as_strings", &mget);
    shape::<HashMap<String, String>>(c, "hgetall_500_as_map", &common::hgetall_500());
    shape::<Vec<SlotRange>>(c, "cluster_slots_100x3_as_tuples", &common::cluster_slots());
    shape::<Vec<String>>(c, "array_200k_as_strings", &common::array_200k());
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_convert
}
criterion_main!(benches);

//! What the benchmarks share: the reply shapes they decode (what a Redis client really
//! sees, as wire bytes) and the Criterion settings. Used by the codec's benchmarks and by
//! slotline-command's conversion benchmarks (`#[path]`-included there).

#![allow(dead_code, missing_docs)]

use std::time::Duration;

use criterion::Criterion;

/// Criterion's settings; `SLOTLINE_BENCH_QUICK=1` for short measurements while iterating.
pub(crate) fn config() -> Criterion {
    let quick = std::env::var_os("SLOTLINE_BENCH_QUICK").is_some();
    let (warm, measure) = if quick { (0.5, 1.5) } else { (1.0, 4.0) };
    Criterion::default()
        .warm_up_time(Duration::from_secs_f64(warm))
        .measurement_time(Duration::from_secs_f64(measure))
        .sample_size(if quick { 20 } else { 50 })
}

/// Appends one bulk string.
pub(crate) fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends one array header.
pub(crate) fn array(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(format!("*{len}\r\n").as_bytes());
}

/// `len` printable bytes derived from `seed`.
pub(crate) fn payload(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((seed * 31 + i * 7) % 26) as u8)
        .collect()
}

/// 10,000 pipelined small replies: `+OK`, `:n` and 16-byte bulks in turn.
pub(crate) fn pipelined_small() -> (Vec<u8>, usize) {
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
pub(crate) fn mget_1000() -> Vec<u8> {
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
pub(crate) fn bulk_1mib() -> Vec<u8> {
    let mut out = Vec::new();
    bulk(&mut out, &payload(1, 1 << 20));
    out
}

/// CLUSTER SLOTS of 100 slot ranges, each served by 3 nodes `[ip, port, 40-char id]`.
pub(crate) fn cluster_slots() -> Vec<u8> {
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
pub(crate) fn hgetall_500() -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, 1000);
    for i in 0..500 {
        bulk(&mut out, format!("field:{i:04}").as_bytes());
        bulk(&mut out, &payload(i, 32));
    }
    out
}

/// [`hgetall_500`] as RESP3 sends it: a map of 500 pairs.
pub(crate) fn hgetall_500_resp3() -> Vec<u8> {
    let mut out = b"%500\r\n".to_vec();
    for i in 0..500 {
        bulk(&mut out, format!("field:{i:04}").as_bytes());
        bulk(&mut out, &payload(i, 32));
    }
    out
}

/// `ZRANGE key 0 999 WITHSCORES` as RESP3 sends it: 1,000 `[member, score]` pairs, the
/// score a double.
pub(crate) fn zrange_1000_resp3() -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, 1000);
    for i in 0..1000 {
        array(&mut out, 2);
        bulk(&mut out, format!("member:{i:04}").as_bytes());
        out.extend_from_slice(format!(",{}.25\r\n", i * 3).as_bytes());
    }
    out
}

/// A 200,000-element array of 10 to 12-byte bulks (an LRANGE or SMEMBERS of a big collection).
pub(crate) fn array_200k() -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, 200_000);
    for i in 0..200_000 {
        bulk(&mut out, format!("member{i:04}").as_bytes());
    }
    out
}

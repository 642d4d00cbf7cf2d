//! `--codec`: RESP3 replies decoded by slotline's decoder (replies as views into the read
//! buffer, no frames built), by redis-rs 1.8's parser (`redis::parse_redis_value`, its
//! `Value` tree) and by redis-protocol 6's (fred's) zero-copy decoder
//! (`resp3::decode::complete::decode_bytes`, `BytesFrame`s), in one process on the same
//! bytes. Each side decodes every reply of a shape and drops it; the best of several timed
//! rounds is kept (the machine is noisy; the fastest round is the least disturbed).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use slotline_resp::Decoder;

/// One shape: a name and its wire bytes (one or more whole replies).
struct Shape {
    name: &'static str,
    wire: Vec<u8>,
    /// Replies in `wire`.
    replies: usize,
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn shapes() -> Vec<Shape> {
    let mut map = b"%500\r\n".to_vec();
    for i in 0..500 {
        bulk(&mut map, format!("field:{i:04}").as_bytes());
        bulk(&mut map, &[b'v'; 32]);
    }
    let mut set = b"~1000\r\n".to_vec();
    for i in 0..1000 {
        bulk(&mut set, format!("member:{i:04}").as_bytes());
    }
    let mut doubles = b"*1000\r\n".to_vec();
    for i in 0..1000 {
        doubles.extend_from_slice(format!(",{}.{:03}\r\n", i * 7, i % 1000).as_bytes());
    }
    let mut pushes = Vec::new();
    for i in 0..100 {
        pushes.extend_from_slice(b">3\r\n");
        bulk(&mut pushes, b"message");
        bulk(&mut pushes, b"news");
        bulk(&mut pushes, format!("payload:{i:08}").as_bytes());
        pushes.extend_from_slice(format!(":{i}\r\n").as_bytes());
    }
    vec![
        Shape {
            name: "a map of 500 fields (`field:NNNN` → 32 bytes)",
            wire: map,
            replies: 1,
        },
        Shape {
            name: "a set of 1,000 members",
            wire: set,
            replies: 1,
        },
        Shape {
            name: "an array of 1,000 doubles",
            wire: doubles,
            replies: 1,
        },
        Shape {
            name: "100 pushes between 100 replies",
            wire: pushes,
            replies: 200,
        },
    ]
}

/// The best time of `rounds` rounds of `iters` runs of `f`, per run.
fn best(rounds: usize, iters: usize, mut f: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed() / iters as u32
        })
        .min()
        .unwrap_or_default()
}

/// slotline: the bytes arrive in a long-lived read buffer, as a client's read loop has them,
/// and every reply is taken with `next` and dropped.
fn slotline_by<T>(
    shape: &Shape,
    next: impl Fn(&mut Decoder, &mut BytesMut) -> Option<T>,
) -> Duration {
    let mut dec = Decoder::default();
    let mut read_buf = BytesMut::with_capacity(shape.wire.len() * 2);
    best(15, 200, || {
        read_buf.extend_from_slice(&shape.wire);
        let mut buf = read_buf.split();
        let mut n = 0;
        while let Some(reply) = next(&mut dec, &mut buf) {
            black_box(&reply);
            n += 1;
        }
        assert_eq!(n, shape.replies);
        drop(buf);
    })
}

/// slotline's replies as views into the read buffer (no frames built).
fn slotline(shape: &Shape) -> Duration {
    slotline_by(shape, |d, b| d.decode_reply(b).expect("valid RESP3"))
}

/// slotline building `Frame` trees (what a caller converting every reply pays, at most).
fn slotline_frames(shape: &Shape) -> Duration {
    slotline_by(shape, |d, b| d.decode(b).expect("valid RESP3"))
}

/// redis-rs: its parser over the bytes, one `Value` per reply.
fn redis_rs(shape: &Shape) -> Duration {
    best(15, 200, || {
        let mut parser = redis::Parser::new();
        let mut reader = &shape.wire[..];
        for _ in 0..shape.replies {
            let value = parser.parse_value(&mut reader).expect("valid RESP3");
            black_box(&value);
        }
    })
}

/// redis-protocol: its zero-copy decoder over `Bytes`, one `BytesFrame` per reply.
fn redis_protocol(shape: &Shape) -> Duration {
    let wire = Bytes::from(shape.wire.clone());
    best(15, 200, || {
        let mut at = 0;
        for _ in 0..shape.replies {
            let rest = wire.slice(at..);
            let (frame, used) = redis_protocol::resp3::decode::complete::decode_bytes(&rest)
                .expect("valid RESP3")
                .expect("a whole frame");
            black_box(&frame);
            at += used;
        }
    })
}

/// Runs every shape on every side and prints the table.
pub fn run() {
    println!("| RESP3 shape | wire bytes | slotline (views) | slotline (frames) | redis-rs 1.8 | redis-protocol 6 | views ÷ redis-rs | views ÷ redis-protocol | frames ÷ redis-rs | frames ÷ redis-protocol |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for shape in shapes() {
        let s = slotline(&shape);
        let f = slotline_frames(&shape);
        let r = redis_rs(&shape);
        let p = redis_protocol(&shape);
        let us = |d: Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6);
        let x = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
        println!(
            "| {} | {} | {} | {} | {} | {} | **{:.1}×** | **{:.1}×** | {:.1}× | {:.1}× |",
            shape.name,
            shape.wire.len(),
            us(s),
            us(f),
            us(r),
            us(p),
            x(r, s),
            x(p, s),
            x(r, f),
            x(p, f),
        );
    }
}

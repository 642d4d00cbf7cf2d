//! A header that announces a huge array reserves nothing: memory grows only with the elements
//! that actually arrive. Checked with a counting global allocator, so this test binary holds
//! only tests that tolerate it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::BytesMut;
use slotline_resp::{Decoder, Frame};

/// Forwards to the system allocator and counts the bytes the current thread asks for.
struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

// The one place in the project with `unsafe`: implementing `GlobalAlloc` requires it. Every
// method only forwards to `System` with the caller's own arguments.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + new_size));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated by the current thread while running `f`.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.with(Cell::get);
    let out = f();
    (out, ALLOCATED.with(Cell::get) - before)
}

#[test]
fn a_huge_array_header_reserves_nothing() {
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(&b"*2147483647\r\n"[..]);
    let (got, bytes) = allocated_by(|| dec.decode(&mut buf));
    assert_eq!(got.unwrap(), None);
    assert_eq!(&buf[..], b"*2147483647\r\n");
    assert!(
        bytes < 4096,
        "a bare header made the decoder allocate {bytes} bytes"
    );

    // Elements that arrive cost in proportion to themselves, not to the announced length.
    for _ in 0..1000 {
        buf.extend_from_slice(b":1\r\n");
    }
    let (got, bytes) = allocated_by(|| dec.decode(&mut buf));
    assert_eq!(got.unwrap(), None);
    assert!(
        bytes < 256 * 1024,
        "1000 elements made the decoder allocate {bytes} bytes"
    );
}

#[test]
fn nested_huge_headers_reserve_nothing_either() {
    let mut dec = Decoder::default();
    let wire = b"*2147483647\r\n*2147483647\r\n*2147483647\r\n$2147483\r\n";
    let mut buf = BytesMut::from(&wire[..]);
    let (got, bytes) = allocated_by(|| dec.decode(&mut buf));
    assert_eq!(got.unwrap(), None);
    assert!(bytes < 4096, "allocated {bytes} bytes");
}

#[test]
fn a_complete_reply_allocates_about_its_frames() {
    let mut wire = b"*100\r\n".to_vec();
    for _ in 0..100 {
        wire.extend_from_slice(b"$3\r\nabc\r\n");
    }
    let mut dec = Decoder::default();
    let mut buf = BytesMut::from(&wire[..]);
    let (frame, bytes) = allocated_by(|| dec.decode(&mut buf).unwrap().unwrap());
    assert_eq!(frame.as_array().map(<[Frame]>::len), Some(100));
    // The frames themselves, the token index and the shared-buffer header; no payload copy.
    let frames = 100 * std::mem::size_of::<Frame>();
    assert!(
        bytes < 4 * frames,
        "allocated {bytes} bytes for {frames} bytes of frames"
    );
}

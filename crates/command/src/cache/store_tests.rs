use super::*;

fn cache(max_bytes: usize) -> Cache<&'static str> {
    Cache::new(&CacheConfig::new(max_bytes))
}

/// Reads `key` through the cache as a client does: a hit, or a registered read whose reply
/// is `reply` (stored unless invalidated meanwhile).
fn read(
    c: &mut Cache<&'static str>,
    key: &str,
    reply: &'static str,
    now: Instant,
) -> (&'static str, bool) {
    let request = Bytes::from(format!("GET {key}"));
    if let Some(v) = c.get(&request, || now) {
        return (v, true);
    }
    let t = c.begin(key.as_bytes());
    c.finish(t, Some((request, reply, reply.len())), now);
    (reply, false)
}

#[test]
fn a_second_read_is_a_hit_until_the_key_changes() {
    let now = Instant::now();
    let mut c = cache(1 << 20);
    assert_eq!(read(&mut c, "k", "v1", now), ("v1", false));
    assert_eq!(read(&mut c, "k", "ignored", now), ("v1", true));
    c.invalidate(b"k");
    assert_eq!(read(&mut c, "k", "v2", now), ("v2", false));
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.invalidations, s.entries), (1, 2, 1, 1));
}

#[test]
fn an_invalidation_during_a_read_keeps_its_reply_out() {
    let now = Instant::now();
    let mut c = cache(1 << 20);
    let request = Bytes::from_static(b"GET k");
    let t = c.begin(b"k");
    // Another read of the key begins, then the server invalidates it.
    let t2 = c.begin(b"k");
    c.invalidate(b"k");
    assert!(!c.finish(t, Some((request.clone(), "old", 3)), now));
    // A read begun after the invalidation stores, even while the older one is in flight.
    let t3 = c.begin(b"k");
    assert!(c.finish(t3, Some((request.clone(), "new", 3)), now));
    assert!(
        !c.finish(t2, Some((request.clone(), "old", 3)), now),
        "began before"
    );
    assert_eq!(c.get(&request, || now), Some("new"));
    assert_eq!(c.stats().discarded, 2);
    // Other keys are not touched.
    let t = c.begin(b"other");
    c.invalidate(b"k");
    assert!(c.finish(t, Some((Bytes::from_static(b"GET other"), "x", 1)), now));
}

#[test]
fn a_flush_during_a_read_keeps_its_reply_out() {
    let now = Instant::now();
    let mut c = cache(1 << 20);
    read(&mut c, "a", "1", now);
    let t = c.begin(b"b");
    c.flush();
    assert!(!c.finish(t, Some((Bytes::from_static(b"GET b"), "2", 1)), now));
    assert_eq!(c.stats().entries, 0);
    assert_eq!(read(&mut c, "a", "3", now), ("3", false));
}

#[test]
fn a_failed_read_stores_nothing_and_leaves_no_trace() {
    let now = Instant::now();
    let mut c = cache(1 << 20);
    let t = c.begin(b"k");
    assert!(!c.finish(t, None, now));
    assert!(c.in_flight.is_empty());
    assert_eq!(c.stats().entries, 0);
}

#[test]
fn every_request_of_a_key_goes_with_it() {
    let now = Instant::now();
    let mut c = cache(1 << 20);
    for (req, v) in [("HGET h a", "1"), ("HGET h b", "2"), ("HGETALL h", "all")] {
        let t = c.begin(b"h");
        c.finish(t, Some((Bytes::from(req), v, 1)), now);
    }
    assert_eq!(c.get(b"HGET h b", || now), Some("2"));
    c.invalidate(b"h");
    assert_eq!(c.stats().entries, 0);
    assert_eq!(c.stats().bytes, 0);
}

#[test]
fn bytes_and_entries_stay_within_their_bounds() {
    let now = Instant::now();
    // Each entry: 100 bytes of reply + "GET key:NNNN" + "key:NNNN".
    let mut c = cache(10_000);
    for i in 0..1_000 {
        let key = format!("key:{i:04}");
        let t = c.begin(key.as_bytes());
        c.finish(t, Some((Bytes::from(format!("GET {key}")), "v", 100)), now);
        assert!(c.stats().bytes <= 10_000, "at {i}: {:?}", c.stats());
    }
    let s = c.stats();
    assert!(s.entries > 50 && s.entries < 100, "{s:?}");
    assert_eq!(s.evictions, 1_000 - s.entries);
    // The newest stay.
    assert_eq!(c.get(b"GET key:0999", || now), Some("v"));
    assert_eq!(c.get(b"GET key:0000", || now), None);
    // Entries bound too.
    let mut c = Cache::new(&CacheConfig {
        max_entries: 3,
        ..CacheConfig::new(1 << 20)
    });
    for i in 0..10 {
        read(&mut c, &format!("k{i}"), "v", now);
    }
    assert_eq!(c.stats().entries, 3);
    // A reply larger than the whole cache is not stored.
    let mut c = cache(100);
    let t = c.begin(b"big");
    assert!(!c.finish(t, Some((Bytes::from_static(b"GET big"), "v", 1_000)), now));
}

#[test]
fn an_entry_too_old_is_not_served() {
    let now = Instant::now();
    let mut c = Cache::new(&CacheConfig::new(1 << 20).with_ttl(Duration::from_secs(1)));
    read(&mut c, "k", "v1", now);
    assert_eq!(
        read(&mut c, "k", "x", now + Duration::from_millis(999)),
        ("v1", true)
    );
    assert_eq!(
        read(&mut c, "k", "v2", now + Duration::from_millis(1_001)),
        ("v2", false)
    );
    assert_eq!(c.stats().evictions, 1);
}

#[test]
fn invalidations_do_not_grow_the_eviction_order() {
    let now = Instant::now();
    let mut c = cache(1 << 20);
    for i in 0..10_000 {
        read(&mut c, "k", "v", now);
        c.invalidate(b"k");
        assert!(c.order.len() <= 2 * c.entries.len() + 65, "at {i}");
    }
}

#[test]
fn invalidate_matching_drops_held_and_in_flight_keys() {
    let now = Instant::now();
    let mut c = cache(1 << 20);
    read(&mut c, "s1:a", "1", now);
    read(&mut c, "s2:b", "2", now);
    let flying = c.begin(b"s1:c");
    assert_eq!(c.invalidate_matching(|k| k.starts_with(b"s1:")), 2);
    assert!(!c.finish(flying, Some((Bytes::from_static(b"GET s1:c"), "3", 1)), now));
    assert_eq!(read(&mut c, "s1:a", "1'", now), ("1'", false));
    assert_eq!(read(&mut c, "s2:b", "ignored", now), ("2", true));
}

#[test]
fn get_all_answers_only_when_every_request_is_held() {
    let now = Instant::now();
    let mut c = cache(1 << 20);
    let (a, b) = (Bytes::from_static(b"MGET a"), Bytes::from_static(b"MGET b"));
    let t = c.begin(b"a");
    assert!(c.finish(t, Some((a.clone(), "1", 1)), now));
    assert_eq!(c.get_all(&[a.clone(), b.clone()], || now), None);
    let t = c.begin(b"b");
    assert!(c.finish(t, Some((b.clone(), "2", 1)), now));
    assert_eq!(
        c.get_all(&[a.clone(), b.clone()], || now),
        Some(vec!["1", "2"])
    );
    c.invalidate(b"b");
    assert_eq!(c.get_all(&[a, b], || now), None);
    let s = c.stats();
    assert_eq!(
        (s.hits, s.misses),
        (2, 2),
        "a hit per key answered, a miss per request"
    );
}

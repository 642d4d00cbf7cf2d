//! [`Cache`]: cached replies by request, invalidated by key, bounded by bytes, entries and
//! age, with the in-flight rule of the module docs.

use std::collections::{HashMap, VecDeque};

/// The maps' hasher: foldhash, seeded per process (SipHash was a tenth of a cache hit).
type Hasher = foldhash::fast::RandomState;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::CacheConfig;

/// What the cache did so far, and holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Cacheable reads that went to the server.
    pub misses: u64,
    /// Keys invalidated (by the server, or by this client's own writes).
    pub invalidations: u64,
    /// Times everything was dropped (the server's null invalidation after `FLUSHALL`, a
    /// lost connection, a failover).
    pub flushes: u64,
    /// Entries dropped to keep within the bounds, or for their age.
    pub evictions: u64,
    /// Replies kept out because their key was invalidated while they were in flight.
    pub discarded: u64,
    /// Entries held now.
    pub entries: u64,
    /// Bytes held now (replies, requests and keys).
    pub bytes: u64,
}

impl CacheStats {
    /// The sum of several caches' stats (a cluster's nodes, a sharded client's shards);
    /// `None` when none of them has a cache.
    pub fn total(stats: impl IntoIterator<Item = Option<CacheStats>>) -> Option<CacheStats> {
        stats.into_iter().flatten().reduce(|a, b| a + b)
    }
}

impl std::ops::Add for CacheStats {
    type Output = CacheStats;

    fn add(self, o: CacheStats) -> CacheStats {
        CacheStats {
            hits: self.hits + o.hits,
            misses: self.misses + o.misses,
            invalidations: self.invalidations + o.invalidations,
            flushes: self.flushes + o.flushes,
            evictions: self.evictions + o.evictions,
            discarded: self.discarded + o.discarded,
            entries: self.entries + o.entries,
            bytes: self.bytes + o.bytes,
        }
    }
}

/// One cached reply.
#[derive(Debug)]
struct Entry<V> {
    key: Bytes,
    value: V,
    bytes: usize,
    stored: Instant,
    /// Tells this entry from a later one of the same request in the eviction order.
    serial: u64,
}

/// Reads of one key in flight, and how often the key was invalidated since the first.
#[derive(Debug, Default)]
struct InFlight {
    reads: usize,
    invalidated: u64,
}

/// A read registered with [`Cache::begin`]; give it back to [`Cache::finish`], with or
/// without a reply, exactly once.
#[derive(Debug)]
#[must_use = "a registered read must be finished"]
pub struct Ticket {
    key: Bytes,
    invalidated: u64,
    flushes: u64,
}

/// Cached replies (`V`: a reply in the client; anything in tests), by the request that
/// read them, invalidated by key. Bounded by [`CacheConfig::max_bytes`] and
/// [`CacheConfig::max_entries`] (the oldest stored goes first) and by
/// [`CacheConfig::ttl`].
#[derive(Debug)]
pub struct Cache<V> {
    max_bytes: usize,
    max_entries: usize,
    ttl: Option<Duration>,
    entries: HashMap<Bytes, Entry<V>, Hasher>,
    /// The requests cached for each key.
    by_key: HashMap<Bytes, Vec<Bytes>, Hasher>,
    /// Requests in the order they were stored, with their serial (stale records, whose
    /// entry went or was stored again, are skipped).
    order: VecDeque<(Bytes, u64)>,
    in_flight: HashMap<Bytes, InFlight, Hasher>,
    serial: u64,
    stats: CacheStats,
    bytes: usize,
}

impl<V: Clone> Cache<V> {
    /// An empty cache with `config`'s bounds.
    pub fn new(config: &CacheConfig) -> Self {
        Cache {
            max_bytes: config.max_bytes,
            max_entries: config.max_entries.max(1),
            ttl: config.ttl,
            entries: HashMap::default(),
            by_key: HashMap::default(),
            order: VecDeque::new(),
            in_flight: HashMap::default(),
            serial: 0,
            stats: CacheStats::default(),
            bytes: 0,
        }
    }

    /// The cached reply to `request` (its encoded command), if one is held and young
    /// enough now (`now` is asked only when entries have a bounded age); counted as a hit,
    /// or else as a miss.
    pub fn get(&mut self, request: &[u8], now: impl FnOnce() -> Instant) -> Option<V> {
        let fresh = match self.entries.get(request) {
            Some(e) => self
                .ttl
                .is_none_or(|ttl| now().saturating_duration_since(e.stored) <= ttl),
            None => {
                self.stats.misses += 1;
                return None;
            }
        };
        if !fresh {
            self.remove(request);
            self.stats.evictions += 1;
            self.stats.misses += 1;
            return None;
        }
        self.stats.hits += 1;
        self.entries.get(request).map(|e| e.value.clone())
    }

    /// The cached replies to every one of `requests` (an `MGET`'s keys), or `None` when
    /// one is missing or too old: counted as a hit per request, or as one miss.
    pub fn get_all(&mut self, requests: &[Bytes], now: impl FnOnce() -> Instant) -> Option<Vec<V>> {
        let now = self.ttl.map(|ttl| (ttl, now()));
        let mut values = Vec::with_capacity(requests.len());
        for r in requests {
            let value = self.entries.get(&r[..]).filter(|e| {
                now.is_none_or(|(ttl, now)| now.saturating_duration_since(e.stored) <= ttl)
            });
            match value {
                Some(e) => values.push(e.value.clone()),
                None => {
                    self.stats.misses += 1;
                    return None;
                }
            }
        }
        self.stats.hits += requests.len() as u64;
        Some(values)
    }

    /// [`get`](Self::get) that counts a hit but not a miss (the caller looks again, and
    /// counts then).
    pub fn peek(&mut self, request: &[u8], now: impl FnOnce() -> Instant) -> Option<V> {
        let entry = self.entries.get(request)?;
        if let Some(ttl) = self.ttl {
            if now().saturating_duration_since(entry.stored) > ttl {
                return None;
            }
        }
        self.stats.hits += 1;
        Some(entry.value.clone())
    }

    /// Registers a read of `key` about to be sent: an invalidation of the key from now on
    /// keeps its reply out.
    pub fn begin(&mut self, key: &[u8]) -> Ticket {
        let f = self
            .in_flight
            .entry(Bytes::copy_from_slice(key))
            .or_default();
        f.reads += 1;
        Ticket {
            key: Bytes::copy_from_slice(key),
            invalidated: f.invalidated,
            flushes: self.stats.flushes,
        }
    }

    /// The read of `ticket` is over: `reply` (the request, its reply and the reply's size
    /// in bytes) is stored unless the key was invalidated, or everything flushed, since the
    /// read began. Returns whether it was stored.
    pub fn finish(
        &mut self,
        ticket: Ticket,
        reply: Option<(Bytes, V, usize)>,
        now: Instant,
    ) -> bool {
        let invalidated = match self.in_flight.get_mut(&ticket.key) {
            Some(f) => {
                let changed = f.invalidated != ticket.invalidated;
                f.reads -= 1;
                if f.reads == 0 {
                    self.in_flight.remove(&ticket.key);
                }
                changed
            }
            None => true,
        };
        let Some((request, value, size)) = reply else {
            return false;
        };
        if invalidated || ticket.flushes != self.stats.flushes {
            self.stats.discarded += 1;
            return false;
        }
        let bytes = size + request.len() + ticket.key.len();
        if bytes > self.max_bytes {
            return false;
        }
        self.remove(&request);
        self.serial += 1;
        self.by_key
            .entry(ticket.key.clone())
            .or_default()
            .push(request.clone());
        self.order.push_back((request.clone(), self.serial));
        self.entries.insert(
            request,
            Entry {
                key: ticket.key,
                value,
                bytes,
                stored: now,
                serial: self.serial,
            },
        );
        self.bytes += bytes;
        self.evict();
        true
    }

    /// `key` changed: its entries go, and its reads in flight will not be stored.
    pub fn invalidate(&mut self, key: &[u8]) {
        self.stats.invalidations += 1;
        if let Some(f) = self.in_flight.get_mut(key) {
            f.invalidated += 1;
        }
        if let Some(requests) = self.by_key.remove(key) {
            for r in requests {
                if let Some(e) = self.entries.remove(&r) {
                    self.bytes -= e.bytes;
                }
            }
        }
        self.compact_order();
    }

    /// Invalidates every key `stale` picks, held or read in flight (a cluster slot that
    /// moved to another node); returns how many keys.
    pub fn invalidate_matching(&mut self, mut stale: impl FnMut(&[u8]) -> bool) -> usize {
        let mut keys: Vec<Bytes> = self.by_key.keys().filter(|k| stale(k)).cloned().collect();
        keys.extend(
            self.in_flight
                .keys()
                .filter(|k| !self.by_key.contains_key(*k) && stale(k))
                .cloned(),
        );
        for k in &keys {
            self.invalidate(k);
        }
        keys.len()
    }

    /// Everything may be stale: every entry goes, and no read in flight is stored.
    pub fn flush(&mut self) {
        self.stats.flushes += 1;
        self.entries.clear();
        self.by_key.clear();
        self.order.clear();
        self.bytes = 0;
    }

    /// What the cache did so far, and holds now.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len() as u64,
            bytes: self.bytes as u64,
            ..self.stats
        }
    }

    /// Drops the entry of `request`, if any.
    fn remove(&mut self, request: &[u8]) {
        let Some(e) = self.entries.remove(request) else {
            return;
        };
        self.bytes -= e.bytes;
        if let Some(list) = self.by_key.get_mut(&e.key) {
            list.retain(|r| r != request);
            if list.is_empty() {
                self.by_key.remove(&e.key);
            }
        }
    }

    /// Drops the oldest entries until the bounds hold.
    fn evict(&mut self) {
        while self.bytes > self.max_bytes || self.entries.len() > self.max_entries {
            let Some((request, serial)) = self.order.pop_front() else {
                return;
            };
            if self
                .entries
                .get(&request)
                .is_some_and(|e| e.serial == serial)
            {
                self.remove(&request);
                self.stats.evictions += 1;
            }
        }
    }

    /// Keeps the eviction order from growing past twice the entries (invalidated entries
    /// leave stale records behind).
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order
                .retain(|(r, s)| entries.get(r).is_some_and(|e| e.serial == *s));
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

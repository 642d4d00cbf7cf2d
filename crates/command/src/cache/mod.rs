//! Server-assisted client-side caching, as plain state: what may be cached
//! ([`cacheable_key`]), how the server is asked to track ([`CacheConfig::tracking_command`]),
//! and the [`Cache`] itself, which keeps the rule that no reply stored after an
//! invalidation of its key is ever served. The shared client in `slotline-conn` drives it.
//!
//! The rule, as Redis's tracking needs it: Redis forgets that a connection read a key once
//! it has sent the invalidation for it, so a value stored after that invalidation would
//! never be invalidated. A read therefore registers before it is sent
//! ([`Cache::begin`]); an invalidation of its key (or of everything) while it is in flight
//! keeps its reply out ([`Cache::finish`]).

mod store;

use std::time::Duration;

use bytes::Bytes;

pub use store::{Cache, CacheStats, Ticket};

use crate::{cmd, Cmd};

/// How the server tracks what this client read (`CLIENT TRACKING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TrackingMode {
    /// Every key this connection reads is tracked, and invalidated when it changes.
    #[default]
    Default,
    /// Only the reads that follow `CLIENT CACHING yes` are tracked (per-request opt-in).
    OptIn,
    /// Broadcast: every change of a key under one of the prefixes is announced, read or
    /// not (no memory on the server per key read).
    Bcast,
}

/// The cache's settings: on when given to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// The most bytes the cached replies (with their keys) may take.
    pub max_bytes: usize,
    /// The most entries kept.
    pub max_entries: usize,
    /// The oldest an entry may be when served (none: until invalidated or evicted).
    pub ttl: Option<Duration>,
    /// How the server tracks.
    pub mode: TrackingMode,
    /// The prefixes announced in [`TrackingMode::Bcast`] (none: every key).
    pub prefixes: Vec<Bytes>,
}

impl CacheConfig {
    /// A cache of at most `max_bytes`, default tracking, no age bound.
    pub fn new(max_bytes: usize) -> Self {
        CacheConfig {
            max_bytes,
            max_entries: (max_bytes / 64).max(16),
            ttl: None,
            mode: TrackingMode::Default,
            prefixes: Vec::new(),
        }
    }

    /// With this tracking mode.
    pub fn with_mode(mut self, mode: TrackingMode) -> Self {
        self.mode = mode;
        self
    }

    /// With entries served at most `ttl` after they were stored.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// With one more prefix announced in [`TrackingMode::Bcast`].
    pub fn with_prefix(mut self, prefix: impl Into<Bytes>) -> Self {
        self.prefixes.push(prefix.into());
        self
    }

    /// `CLIENT TRACKING ON`, as this config asks, sending the invalidations to the
    /// connection `redirect` (RESP2) or to the tracking connection itself (RESP3: none).
    pub fn tracking_command(&self, redirect: Option<i64>) -> Cmd {
        let mut c = cmd("CLIENT").arg("TRACKING").arg("ON");
        if let Some(id) = redirect {
            c = c.arg("REDIRECT").arg(id);
        }
        match self.mode {
            TrackingMode::Default => {}
            TrackingMode::OptIn => c = c.arg("OPTIN"),
            TrackingMode::Bcast => {
                c = c.arg("BCAST");
                for p in &self.prefixes {
                    c = c.arg("PREFIX").arg(p);
                }
            }
        }
        c
    }
}

/// The commands whose replies may be cached: read-only, about one key (their first
/// argument), and answered the same until that key changes.
const CACHEABLE: &[&str] = &[
    "GET",
    "GETRANGE",
    "STRLEN",
    "EXISTS",
    "TYPE",
    "HGET",
    "HMGET",
    "HGETALL",
    "HEXISTS",
    "HLEN",
    "HKEYS",
    "HVALS",
    "HSTRLEN",
    "SMEMBERS",
    "SISMEMBER",
    "SMISMEMBER",
    "SCARD",
    "ZRANGE",
    "ZSCORE",
    "ZMSCORE",
    "ZCARD",
    "ZCOUNT",
    "ZRANK",
    "ZREVRANK",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "JSON.GET",
    "JSON.TYPE",
    "JSON.STRLEN",
    "JSON.ARRLEN",
    "JSON.OBJKEYS",
];

/// The key of `cmd` when its reply may be cached: a command of the cacheable list that
/// names exactly one key (`EXISTS a b` does not). Checked on every read of a client with a
/// cache, so without the command table: every command of the list takes its key first.
pub fn cacheable_key(cmd: &Cmd) -> Option<&[u8]> {
    let mut args = cmd.args();
    let name = args.next()?;
    if !CACHEABLE
        .iter()
        .any(|c| c.len() == name.len() && c.as_bytes().eq_ignore_ascii_case(name))
    {
        return None;
    }
    let key = args.next()?;
    if name.eq_ignore_ascii_case(b"EXISTS") && args.next().is_some() {
        return None;
    }
    Some(key)
}

/// The keys of an `MGET`, whose reply the cache keeps per key (each key's value under
/// [`per_key_request`]); `None` for any other command.
pub fn mget_keys(cmd: &Cmd) -> Option<Vec<&[u8]>> {
    let mut args = cmd.args();
    if !args.next()?.eq_ignore_ascii_case(b"MGET") {
        return None;
    }
    let keys: Vec<&[u8]> = args.collect();
    (!keys.is_empty()).then_some(keys)
}

/// The request one key's value of an `MGET` is cached as: `MGET key` as sent (its value,
/// not the one-element array, is kept).
pub fn per_key_request(key: &[u8]) -> Bytes {
    Bytes::copy_from_slice(cmd("MGET").arg(key).encoded_args())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_be_cached() {
        assert_eq!(cacheable_key(&cmd("GET").arg("k")), Some(&b"k"[..]));
        assert_eq!(
            cacheable_key(&cmd("hget").arg("h").arg("f")),
            Some(&b"h"[..])
        );
        assert_eq!(cacheable_key(&cmd("EXISTS").arg("a")), Some(&b"a"[..]));
        assert_eq!(cacheable_key(&cmd("EXISTS").arg("a").arg("b")), None);
        assert_eq!(cacheable_key(&cmd("MGET").arg("a")), None);
        assert_eq!(cacheable_key(&cmd("SET").arg("a").arg(1)), None);
        assert_eq!(cacheable_key(&cmd("INCR").arg("a")), None);
        assert_eq!(
            cacheable_key(&cmd("JSON.GET").arg("doc").arg("$")),
            Some(&b"doc"[..])
        );
        assert_eq!(cacheable_key(&Cmd::new()), None);
        assert_eq!(
            mget_keys(&cmd("mget").arg("a").arg("b")),
            Some(vec![&b"a"[..], &b"b"[..]])
        );
        assert_eq!(mget_keys(&cmd("MGET")), None);
        assert_eq!(mget_keys(&cmd("GET").arg("a")), None);
        assert_ne!(per_key_request(b"a"), per_key_request(b"b"));
    }

    #[test]
    fn tracking_as_configured() {
        let args = |c: Cmd| -> Vec<String> {
            c.args()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        };
        assert_eq!(
            args(CacheConfig::new(1 << 20).tracking_command(None)),
            ["CLIENT", "TRACKING", "ON"]
        );
        assert_eq!(
            args(
                CacheConfig::new(1 << 20)
                    .with_mode(TrackingMode::Bcast)
                    .with_prefix("user:")
                    .with_prefix("cfg:")
                    .tracking_command(Some(7))
            ),
            [
                "CLIENT", "TRACKING", "ON", "REDIRECT", "7", "BCAST", "PREFIX", "user:", "PREFIX",
                "cfg:"
            ]
        );
        assert_eq!(
            args(
                CacheConfig::new(1 << 20)
                    .with_mode(TrackingMode::OptIn)
                    .tracking_command(None)
            ),
            ["CLIENT", "TRACKING", "ON", "OPTIN"]
        );
    }
}

//! The shared client's side of the client-side cache ([`slotline_command::cache`]): reads
//! answered from it or registered before they are sent, this client's writes invalidating
//! their keys first, and the server's invalidation pushes applied.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use slotline_command::cache::{
    cacheable_key, mget_keys, per_key_request, Cache, CacheConfig, CacheStats, Ticket, TrackingMode,
};
use slotline_command::command_table;
use slotline_resp::{Frame, Reply};
use smallvec::SmallVec;

use crate::{Cmd, Request};

/// The cache of one shared client.
#[derive(Debug)]
pub(crate) struct ClientCache {
    cache: Mutex<Cache<Reply>>,
    mode: TrackingMode,
}

/// A cacheable read on its way: finished with its reply by [`Read::store`], or without one
/// when dropped (failed, cancelled).
pub(crate) struct Read<'a> {
    cache: &'a ClientCache,
    /// What the read registered: its request and its key's ticket, or one of each per key
    /// of an `MGET` (`per_key`), whose reply is kept value by value (inline for one key:
    /// a miss allocates no list).
    parts: SmallVec<[(Bytes, Ticket); 1]>,
    per_key: bool,
}

impl Read<'_> {
    /// The read's reply: kept unless its key changed while it was in flight (an error reply
    /// is never kept); an `MGET`'s, value by value.
    pub(crate) fn store(mut self, reply: &Reply) {
        self.finish(Some(reply));
    }

    /// Gives the tickets back, with the values of `reply` to keep.
    fn finish(&mut self, reply: Option<&Reply>) {
        let parts = std::mem::take(&mut self.parts);
        if parts.is_empty() {
            return;
        }
        let view = reply.map(Reply::view).filter(|v| !v.is_error());
        let per_key = self.per_key;
        let now = Instant::now();
        let mut cache = self.cache.lock();
        for (i, (request, ticket)) in parts.into_iter().enumerate() {
            let value = match (view, per_key) {
                (None, _) => None,
                (Some(_), false) => reply.map(Reply::detached),
                (Some(v), true) => v
                    .get(i)
                    .and_then(|e| Reply::from_frame(e.to_frame()).ok())
                    .map(|e| e.detached()),
            };
            cache.finish(ticket, value.map(|(copy, size)| (request, copy, size)), now);
        }
    }
}

impl Drop for Read<'_> {
    fn drop(&mut self) {
        self.finish(None);
    }
}

/// What the cache says of a command about to be sent.
pub(crate) enum Lookup<'a> {
    /// Answered from the cache.
    Hit(Reply),
    /// A cacheable read, registered: send it (after `CLIENT CACHING yes` when
    /// `opt_in`), then [`Read::store`] its reply.
    Miss { read: Read<'a>, opt_in: bool },
    /// Not cacheable.
    Pass,
}

impl ClientCache {
    pub(crate) fn new(config: &CacheConfig) -> Self {
        ClientCache {
            cache: Mutex::new(Cache::new(config)),
            mode: config.mode,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Cache<Reply>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Looks `cmd` up: a hit, a registered miss, or a command that is not cacheable (a
    /// write's keys were invalidated already, by [`before_send`](Self::before_send)).
    pub(crate) fn lookup(&self, cmd: &Cmd) -> Lookup<'_> {
        let Some(key) = cacheable_key(cmd) else {
            if let Some(keys) = mget_keys(cmd) {
                return self.lookup_keys(cmd, keys);
            }
            return Lookup::Pass;
        };
        let opt_in = self.mode == TrackingMode::OptIn;
        if !self.wanted(cmd) {
            return Lookup::Pass;
        }
        // A request is told from another by its arguments as they are sent.
        let request = cmd.encoded_args();
        let mut cache = self.lock();
        if let Some(hit) = cache.get(request, Instant::now) {
            return Lookup::Hit(hit);
        }
        let ticket = cache.begin(key);
        let request = Bytes::copy_from_slice(request);
        Lookup::Miss {
            read: Read {
                cache: self,
                parts: smallvec::smallvec![(request, ticket)],
                per_key: false,
            },
            opt_in,
        }
    }

    /// [`lookup`](Self::lookup) of an `MGET`: a hit when every key's value is held (the
    /// reply put together from them), else every key registered, its values kept per key.
    fn lookup_keys(&self, cmd: &Cmd, keys: Vec<&[u8]>) -> Lookup<'_> {
        if !self.wanted(cmd) {
            return Lookup::Pass;
        }
        let requests: Vec<Bytes> = keys.iter().map(|k| per_key_request(k)).collect();
        let mut cache = self.lock();
        if let Some(values) = cache.get_all(&requests, Instant::now) {
            let frame =
                slotline_resp::Frame::Array(values.into_iter().map(Reply::into_frame).collect());
            if let Ok(reply) = Reply::from_frame(frame) {
                return Lookup::Hit(reply);
            }
        }
        let parts = keys
            .iter()
            .zip(requests)
            .map(|(key, request)| (request, cache.begin(key)))
            .collect();
        Lookup::Miss {
            read: Read {
                cache: self,
                parts,
                per_key: true,
            },
            opt_in: self.mode == TrackingMode::OptIn,
        }
    }

    /// Whether `cmd` (a cacheable read) may be cached: in OPTIN mode the server tracks only
    /// the reads sent after `CLIENT CACHING yes`, so a read not opted in is never cached (it
    /// would never be invalidated); in the other modes a read may opt out.
    fn wanted(&self, cmd: &Cmd) -> bool {
        match cmd.caching() {
            Some(asked) => asked,
            None => self.mode != TrackingMode::OptIn,
        }
    }

    /// The cached reply to `cmd`, if it is a cacheable read held in the cache (nothing is
    /// registered on a miss: see [`lookup`](Self::lookup)).
    pub(crate) fn hit(&self, cmd: &Cmd) -> Option<Reply> {
        cacheable_key(cmd)?;
        if !self.wanted(cmd) {
            return None;
        }
        self.lock().peek(cmd.encoded_args(), Instant::now)
    }

    /// Invalidates, before `request` is sent, the keys of each of its commands that
    /// writes, so that this client never reads its own old value back: every request the
    /// client sends passes here once (a cache hit never does).
    pub(crate) fn before_send(&self, request: &Request<'_>) {
        match request {
            Request::Command(cmd) => self.before_write(cmd),
            Request::Pipeline(pipe) => pipe.cmds().iter().for_each(|c| self.before_write(c)),
            Request::Scan(_) => {}
        }
    }

    /// Invalidates the keys of `cmd` unless it only reads (a cacheable read is known to,
    /// without the command table).
    fn before_write(&self, cmd: &Cmd) {
        if cacheable_key(cmd).is_some() || command_table::is_readonly(cmd) {
            return;
        }
        let mut cache = self.lock();
        for key in command_table::keys(cmd) {
            cache.invalidate(key);
        }
    }

    /// Applies a push if it is an invalidation (`["invalidate", [keys]]`, or a null for
    /// everything); true when it was one.
    pub(crate) fn apply_push(&self, push: &Frame) -> bool {
        let Frame::Push(items) = push else {
            return false;
        };
        if !items
            .first()
            .and_then(Frame::as_bytes)
            .is_some_and(|k| k.eq_ignore_ascii_case(b"invalidate"))
        {
            return false;
        }
        let mut cache = self.lock();
        match items.get(1) {
            Some(Frame::Array(keys)) | Some(Frame::Set(keys)) => {
                for key in keys.iter().filter_map(Frame::as_bytes) {
                    cache.invalidate(key);
                }
            }
            _ => cache.flush(),
        }
        true
    }

    /// `key` changed (an invalidation that came on the RESP2 link).
    pub(crate) fn invalidate(&self, key: &[u8]) {
        self.lock().invalidate(key);
    }

    /// Invalidates every key `stale` picks (see [`Cache::invalidate_matching`]).
    pub(crate) fn invalidate_matching(&self, stale: impl FnMut(&[u8]) -> bool) -> usize {
        self.lock().invalidate_matching(stale)
    }

    /// Everything may be stale (a lost connection: invalidations may have been missed).
    pub(crate) fn flush(&self) {
        self.lock().flush();
    }

    pub(crate) fn stats(&self) -> CacheStats {
        self.lock().stats()
    }
}

//! The client-side cache against real servers (RESP3): reads answered without the server
//! until the key changes, the server's invalidations and this client's own writes applied,
//! `FLUSHALL` and a lost connection dropping everything, the byte bound, tracking as
//! configured, configuration refused with a reason, a cluster caching per node, and the
//! staleness checker in every mode (with a sentinel failover and a cluster slot migration
//! under way).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use slotline_conn::{cmd, Client, Commands, ErrorKind, Query};
use slotline_testbed::Standalone;
use support::staleness::{lost_by_server, settle, spawn_reader, spawn_writer};
use support::{wait_for_async, with_option, Mode};

/// A node of its own (the counts of GET it served are this test's alone).
fn node() -> Standalone {
    Standalone::builder().local().start().unwrap()
}

/// The node's URL over `protocol` (2 or 3), with `options`.
fn cached_url(server: &Standalone, protocol: u8, options: &str) -> String {
    let base = server
        .url()
        .replace("?protocol=3", "")
        .replace("&protocol=3", "");
    with_option(&base, &format!("protocol={protocol}&{options}"))
}

/// GETs the server has served so far.
async fn gets_served(c: &impl Query) -> i64 {
    let info: String = c.query(&cmd("INFO").arg("commandstats")).await.unwrap();
    support::stat_in(&info, "get", "calls")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_served_from_the_cache_until_the_key_changes() {
    for protocol in [3, 2] {
        reads_are_served_until_the_key_changes_over(protocol).await;
    }
}

async fn reads_are_served_until_the_key_changes_over(protocol: u8) {
    let server = node();
    let plain = Client::connect(server.url().as_str()).await.unwrap();
    let c = Client::connect(cached_url(&server, protocol, "cache_max_bytes=1mb").as_str())
        .await
        .unwrap();
    let tracking = format!(
        "{:?}",
        c.query::<slotline_conn::Frame>(&cmd("CLIENT").arg("TRACKINGINFO"))
            .await
            .unwrap()
    );
    assert!(tracking.contains("\"on\""), "{tracking}");
    // Over RESP2 the invalidations go to another connection of this client (its id);
    // over RESP3 to this one (0: no redirection).
    let redirected = !tracking.contains("Bulk(\"redirect\"), Integer(0)");
    assert_eq!(redirected, protocol == 2, "{tracking}");

    let _: () = plain.set("cc:k", "v1").await.unwrap();
    let before = gets_served(&plain).await;
    for _ in 0..10 {
        let v: String = c.get("cc:k").await.unwrap();
        assert_eq!(v, "v1");
    }
    assert_eq!(
        gets_served(&plain).await - before,
        1,
        "one GET reached the server"
    );
    let s = c.cache_stats().unwrap();
    assert_eq!((s.hits, s.misses, s.entries), (9, 1, 1), "{s:?}");

    // Another client changes it: the invalidation arrives, the next read is fresh.
    let _: () = plain.set("cc:k", "v2").await.unwrap();
    wait_for_async("the new value", || async {
        c.get::<String>("cc:k").await.unwrap() == "v2"
    })
    .await;
    assert!(c.cache_stats().unwrap().invalidations >= 1);

    // This client's own write: never its old value back.
    for i in 0..20 {
        let _: () = c.set("cc:k", i).await.unwrap();
        let v: i64 = c.get("cc:k").await.unwrap();
        assert_eq!(v, i);
    }

    // A held write (on a dedicated connection) invalidates its keys first too.
    let _: () = plain.query(&cmd("DEL").arg("cc:dst")).await.unwrap();
    let _: i64 = plain
        .query(&cmd("RPUSH").arg("cc:src").arg("item"))
        .await
        .unwrap();
    let empty: Vec<String> = c
        .query(&cmd("LRANGE").arg("cc:dst").arg(0).arg(-1))
        .await
        .unwrap();
    assert!(empty.is_empty());
    let _: Option<String> = c
        .query(
            &cmd("BLMOVE")
                .arg("cc:src")
                .arg("cc:dst")
                .arg("LEFT")
                .arg("RIGHT")
                .arg(1),
        )
        .await
        .unwrap();
    let moved: Vec<String> = c
        .query(&cmd("LRANGE").arg("cc:dst").arg(0).arg(-1))
        .await
        .unwrap();
    assert_eq!(moved, ["item"], "RESP{protocol}: read after its own BLMOVE");

    // Keys dropped by the layer above (a cluster slot that moved): read again.
    let _: i64 = c.get("cc:k").await.unwrap();
    let misses = c.cache_stats().unwrap().misses;
    assert_eq!(c.forget_cached(|k| k == b"cc:other"), 0);
    let _: i64 = c.get("cc:k").await.unwrap();
    assert_eq!(c.cache_stats().unwrap().misses, misses, "still cached");
    assert_eq!(c.forget_cached(|k| k == b"cc:k"), 1);
    let _: i64 = c.get("cc:k").await.unwrap();
    assert_eq!(c.cache_stats().unwrap().misses, misses + 1, "read again");

    // FLUSHALL: the server's null invalidation drops everything.
    let _: String = c.get("cc:k").await.map(|v: i64| v.to_string()).unwrap();
    let _: () = plain.query(&cmd("FLUSHALL")).await.unwrap();
    wait_for_async("the flush", || async {
        c.cache_stats().unwrap().flushes >= 1
    })
    .await;
    let gone: Option<String> = c.get("cc:k").await.unwrap();
    assert_eq!(gone, None);
}

/// `MGET` is cached key by key: answered from the cache when every key is held (in any
/// order, any subset), each key invalidated on its own; a missing key is held as nil.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mget_is_cached_per_key() {
    for protocol in [3, 2] {
        let server = node();
        let plain = Client::connect(server.url().as_str()).await.unwrap();
        let c = Client::connect(cached_url(&server, protocol, "cache_max_bytes=1mb").as_str())
            .await
            .unwrap();
        let mgets = || async {
            let info: String = plain.query(&cmd("INFO").arg("commandstats")).await.unwrap();
            support::stat_in(&info, "mget", "calls")
        };
        let _: () = plain.set("cc:m:a", "1").await.unwrap();
        let _: () = plain.set("cc:m:b", "2").await.unwrap();
        let before = mgets().await;
        let v: Vec<Option<String>> = c.mget(&["cc:m:a", "cc:m:b", "cc:m:none"]).await.unwrap();
        assert_eq!(v, [Some("1".into()), Some("2".into()), None]);
        for keys in [
            &["cc:m:b", "cc:m:a"][..],
            &["cc:m:none", "cc:m:a", "cc:m:b"],
            &["cc:m:a"],
        ] {
            let again: Vec<Option<String>> = c.mget(keys).await.unwrap();
            let want: Vec<Option<String>> = keys
                .iter()
                .map(|k| match *k {
                    "cc:m:a" => Some("1".into()),
                    "cc:m:b" => Some("2".into()),
                    _ => None,
                })
                .collect();
            assert_eq!(again, want, "RESP{protocol}: {keys:?}");
        }
        assert_eq!(
            mgets().await - before,
            1,
            "RESP{protocol}: one MGET reached the server"
        );
        let s = c.cache_stats().unwrap();
        assert_eq!((s.hits, s.misses), (6, 1), "RESP{protocol}: {s:?}");
        // A GET is not answered with an MGET's value (they differ for a key of another type).
        let _: Option<String> = c.get("cc:m:a").await.unwrap();
        assert_eq!(c.cache_stats().unwrap().misses, 2);

        // One key changes: only it is read again.
        let _: () = plain.set("cc:m:b", "3").await.unwrap();
        wait_for_async("the new value", || async {
            let v: Vec<Option<String>> = c.mget(&["cc:m:a", "cc:m:b"]).await.unwrap();
            v == [Some("1".into()), Some("3".into())]
        })
        .await;
        let _: () = plain.query(&cmd("FLUSHALL")).await.unwrap();
        wait_for_async("the flush", || async {
            c.cache_stats().unwrap().flushes >= 1
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_drops_what_may_be_stale() {
    for protocol in [3, 2] {
        a_lost_connection_drops_what_may_be_stale_over(protocol).await;
    }
}

async fn a_lost_connection_drops_what_may_be_stale_over(protocol: u8) {
    let server = node();
    let plain = Client::connect(server.url().as_str()).await.unwrap();
    let c = Client::connect(cached_url(&server, protocol, "cache_max_bytes=1mb").as_str())
        .await
        .unwrap();
    let _: () = plain.set("cc:lost", "old").await.unwrap();
    let _: String = c.get("cc:lost").await.unwrap();
    let id: i64 = c.query(&cmd("CLIENT").arg("ID")).await.unwrap();
    let _: i64 = plain
        .query(&cmd("CLIENT").arg("KILL").arg("ID").arg(id))
        .await
        .unwrap();
    // Changed while the client had no connection: no invalidation can reach it.
    let _: () = plain.set("cc:lost", "new").await.unwrap();
    wait_for_async("the value after the reconnect", || async {
        c.get::<String>("cc:lost").await.is_ok_and(|v| v == "new")
    })
    .await;
    assert!(c.cache_stats().unwrap().flushes >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optin_and_bcast_track_as_asked() {
    for protocol in [3, 2] {
        let server = node();
        let plain = Client::connect(server.url().as_str()).await.unwrap();
        let url = cached_url(&server, protocol, "cache_max_bytes=1mb&cache_mode=optin");
        let c = Client::connect(url.as_str()).await.unwrap();
        let _: () = plain.set("cc:o", "1").await.unwrap();
        // Not asked for: not cached (the server would not track it).
        let before = gets_served(&plain).await;
        for _ in 0..3 {
            let _: String = c.get("cc:o").await.unwrap();
        }
        assert_eq!(gets_served(&plain).await - before, 3, "RESP{protocol}");
        // Asked for: `CLIENT CACHING yes` goes with it, and the server tracks it.
        let read = cmd("GET").arg("cc:o").cached();
        for _ in 0..3 {
            let v: String = c.query(&read).await.unwrap();
            assert_eq!(v, "1");
        }
        assert_eq!(gets_served(&plain).await - before, 4, "RESP{protocol}");
        let _: () = plain.set("cc:o", "2").await.unwrap();
        wait_for_async("the opted-in read to see the change", || async {
            c.query::<String>(&read).await.unwrap() == "2"
        })
        .await;

        // BCAST: changes under the prefix are announced, read or not.
        let url = cached_url(
            &server,
            protocol,
            "cache_max_bytes=1mb&cache_mode=bcast&cache_prefix=cc:bc:",
        );
        let b = Client::connect(url.as_str()).await.unwrap();
        let _: () = plain.set("cc:bc:1", "x").await.unwrap();
        // The write's own announcement may reach `b` while its first read is in flight,
        // keeping that reply out (the cache's rule): read until one is a hit.
        wait_for_async("a hit", || async {
            let _: String = b.get("cc:bc:1").await.unwrap();
            b.cache_stats().unwrap().hits >= 1
        })
        .await;
        let _: () = plain.set("cc:bc:1", "y").await.unwrap();
        wait_for_async("the broadcast invalidation", || async {
            b.get::<String>("cc:bc:1").await.unwrap() == "y"
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_stays_within_its_bytes() {
    // A 16 KiB cache holds about a hundred 100-byte values with their requests; the reads
    // go over a keyspace a hundred times that, twice, in two orders.
    const BYTES: u64 = 16 * 1024;
    const KEYS: usize = 13_000;
    let server = node();
    let c = Client::connect(cached_url(&server, 3, "cache_max_bytes=16kb").as_str())
        .await
        .unwrap();
    let value = "x".repeat(100);
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(500) {
        let mut mset = cmd("MSET");
        for i in chunk {
            mset = mset.arg(format!("cc:b:{i}")).arg(&value);
        }
        let _: () = c.query(&mset).await.unwrap();
    }
    let mut most = 0;
    for round in 0..2 {
        for n in 0..KEYS {
            let i = if round == 0 { n } else { (n * 7919) % KEYS };
            let v: String = c.get(format!("cc:b:{i}")).await.unwrap();
            assert_eq!(v.len(), 100);
            let s = c.cache_stats().unwrap();
            assert!(s.bytes <= BYTES, "{s:?}");
            most = most.max(s.entries);
        }
    }
    let s = c.cache_stats().unwrap();
    assert!(
        s.evictions as usize >= 2 * KEYS - 200 && most >= 50 && (most as usize) * 100 <= KEYS,
        "the keyspace is at least 100 times the most entries held: {most}, {s:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_options_are_checked() {
    for (url, says) in [
        (
            "redis://127.0.0.1:1/?protocol=3&cache_mode=bcast",
            "cache_max_bytes",
        ),
        (
            "redis://127.0.0.1:1/?protocol=3&cache_max_bytes=lots",
            "size",
        ),
        (
            "redis://127.0.0.1:1/?protocol=3&cache_max_bytes=1mb&cache_mode=all",
            "bcast",
        ),
    ] {
        let e = Client::connect(url).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{url}: {e}");
        assert!(e.to_string().contains(says), "{url}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_invalidation_link_drops_the_cache_and_tracks_anew() {
    let server = node();
    let plain = Client::connect(server.url().as_str()).await.unwrap();
    let c = Client::connect(cached_url(&server, 2, "cache_max_bytes=1mb").as_str())
        .await
        .unwrap();
    let _: () = plain.set("cc:link", "old").await.unwrap();
    let _: String = c.get("cc:link").await.unwrap();
    let data_id: i64 = c.query(&cmd("CLIENT").arg("ID")).await.unwrap();
    // The invalidation link is the node's one subscriber.
    let killed: i64 = plain
        .query(&cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub"))
        .await
        .unwrap();
    assert_eq!(killed, 1);
    let _: () = plain.set("cc:link", "new").await.unwrap();
    wait_for_async("the value after the link came back", || async {
        c.get::<String>("cc:link").await.is_ok_and(|v| v == "new")
    })
    .await;
    assert!(c.cache_stats().unwrap().flushes >= 1);
    // A new data connection, tracking through a new link: invalidations flow again.
    let new_id: i64 = c.query(&cmd("CLIENT").arg("ID")).await.unwrap();
    assert_ne!(new_id, data_id);
    let _: String = c.get("cc:link").await.unwrap();
    let _: () = plain.set("cc:link", "newer").await.unwrap();
    wait_for_async("the next invalidation", || async {
        c.get::<String>("cc:link").await.is_ok_and(|v| v == "newer")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_caches_per_node() {
    let c = support::cluster();
    let url = format!(
        "redis+cluster://{}{}?protocol=3&cache_max_bytes=1mb",
        support::userinfo(c.auth()),
        support::join(&c.seed_addrs())
    );
    let cached = slotline::Client::open(&url).await.unwrap();
    let plain = slotline::Client::open(&support::cluster_url(""))
        .await
        .unwrap();
    let keys: Vec<String> = (0..30).map(|i| format!("cc:cluster:{i}")).collect();
    for k in &keys {
        let _: () = plain.set(k, "a").await.unwrap();
    }
    for _ in 0..3 {
        for k in &keys {
            let v: String = cached.get(k).await.unwrap();
            assert_eq!(v, "a");
        }
    }
    let slotline::Client::Cluster(cl) = &cached else {
        panic!("a cluster client");
    };
    let mut hits = 0;
    for master in cl.masters() {
        let node = cl.node(master).await.unwrap();
        if let Some(s) = node.cache_stats() {
            hits += s.hits;
        }
    }
    assert_eq!(hits, 60, "every second and third read a hit");
    for k in &keys {
        let _: () = plain.set(k, "b").await.unwrap();
    }
    for k in &keys {
        wait_for_async("the new value", || async {
            cached.get::<String>(k).await.unwrap() == "b"
        })
        .await;
    }
}

/// The staleness checker (`support::staleness`) on a node of its own over `protocol`:
/// writers on a client of their own, three cached readers (one writing too), no stale read,
/// its own writes read back, every cached value settling on the server's.
async fn staleness_over(protocol: u8) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let server = node();
    let plain = slotline::Client::open(&server.url()).await.unwrap();
    let url = cached_url(&server, protocol, "cache_max_bytes=1mb");
    let keys: Arc<Vec<String>> = Arc::new((0..20).map(|i| format!("cc:stale:{i}")).collect());
    for k in keys.iter() {
        let _: () = plain.set(k, 0).await.unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| spawn_writer(plain.clone(), keys.clone(), stop.clone(), w))
        .collect();
    let mut readers = Vec::new();
    for r in 0..3 {
        let c = Client::connect(url.as_str()).await.unwrap();
        readers.push(spawn_reader(
            c,
            keys.clone(),
            stop.clone(),
            r,
            true,
            r == 0,
            std::time::Duration::ZERO,
        ));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let stopped = std::time::Instant::now();
    let mut writings = Vec::new();
    for w in writers {
        let writing = w.await.unwrap();
        assert_eq!(writing.errors, 0, "RESP{protocol}: writes failed");
        writings.push(writing);
    }
    // One node loses nothing it acknowledged.
    let lost = lost_by_server(&writings);
    assert!(
        lost.is_empty(),
        "RESP{protocol}: counters went back: {lost:?}"
    );
    let mut hits = 0;
    for r in readers {
        let reading = r.await.unwrap();
        reading.assert_clean(&format!("RESP{protocol}"), 100, &lost);
        assert_eq!(reading.errors, 0, "RESP{protocol}: reads failed");
        hits += reading.client.cache_stats().unwrap().hits;
        let settled = settle(&reading.client, &plain, &keys, stopped).await;
        assert!(settled < support::DEADLINE, "RESP{protocol}: {settled:?}");
    }
    assert!(hits > 0, "RESP{protocol}: the cache served nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cached_read_goes_back_in_time() {
    for protocol in [3, 2] {
        staleness_over(protocol).await;
    }
}

/// The staleness checker on the facade in `mode`, with `fault` injected halfway (a
/// test-bed call, run off the runtime): no cached read goes back in time, a reader reads
/// its own writes, and every cached read settles on the server's value once writers stop.
async fn staleness_in(mode: Mode, fault: impl FnOnce() + Send + 'static) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    // Half the keys share a slot (a cluster migrates it), half spread.
    let keys: Vec<String> = (0..20)
        .map(|i| match i % 2 {
            0 => format!("{{cc:stale:{mode:?}}}:{i}"),
            _ => format!("cc:stale:{mode:?}:{i}"),
        })
        .collect();
    let keys = Arc::new(keys);
    let writer = slotline::Client::open(&mode.writer_url()).await.unwrap();
    for k in keys.iter() {
        let _: () = writer.set(k, 0).await.unwrap();
    }
    // Replicas lag each other: a replica client's reads are checked only for settling.
    let replicas = mode == Mode::SentinelReplicas;
    let url = with_option(&mode.url(), "cache_max_bytes=1mb");
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| spawn_writer(writer.clone(), keys.clone(), stop.clone(), w))
        .collect();
    let mut readers = Vec::new();
    for r in 0..3 {
        let client = slotline::Client::open(&url).await.unwrap();
        readers.push(spawn_reader(
            client,
            keys.clone(),
            stop.clone(),
            r,
            !replicas,
            r == 0 && !replicas,
            std::time::Duration::ZERO,
        ));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    support::off_runtime(fault).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let stopped = std::time::Instant::now();
    let mut writings = Vec::new();
    for w in writers {
        writings.push(w.await.unwrap());
    }
    // Only a failover may lose acknowledged increments (the sentinel master's, forced
    // under way here: writes the old master acknowledged after the replica's promotion,
    // when the client heard of the failover late); a lower read of such a key is the
    // server's own value.
    let lost = lost_by_server(&writings);
    assert!(
        lost.is_empty() || mode == Mode::SentinelMaster,
        "{mode:?}: counters went back: {lost:?}"
    );
    let mut hits = 0;
    for r in readers {
        let reading = r.await.unwrap();
        reading.assert_clean(&format!("{mode:?}"), 50, &lost);
        hits += reading.client.cache_stats().expect("a cache").hits;
        // The connection a command goes on tracks (a cluster's: one node's).
        let tracking = format!(
            "{:?}",
            reading
                .client
                .query::<slotline_conn::Frame>(&cmd("CLIENT").arg("TRACKINGINFO"))
                .await
                .unwrap()
        );
        assert!(tracking.contains("\"on\""), "{mode:?}: {tracking}");
        let settled = settle(&reading.client, &writer, &keys, stopped).await;
        eprintln!(
            "{mode:?}: {} reads, {} errors, settled {settled:?} after the writers stopped",
            reading.reads, reading.errors
        );
    }
    assert!(hits > 0, "{mode:?}: the cache served nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cached_read_goes_back_in_time_in_any_mode() {
    staleness_in(Mode::Node, || {}).await;
    staleness_in(Mode::SentinelMaster, || {
        support::sentinel().failover().unwrap();
    })
    .await;
    staleness_in(Mode::SentinelReplicas, || {}).await;
    staleness_in(Mode::ShardedSentinel, || {}).await;
    staleness_in(Mode::Cluster, || {
        let c = support::cluster();
        let slot = c.keyslot("{cc:stale:Cluster}").unwrap();
        let (_, target) = support::owner_and_other(c, slot);
        c.move_slot(slot, target).unwrap();
    })
    .await;
}

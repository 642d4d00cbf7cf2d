//! Through `slotline::Client` (and its blocking twin), every mode behaves as the layer it
//! wraps: one node, a sentinel service's master, its replicas, a cluster. In each: a scan
//! finds every key exactly once (a cluster's visits every master), also through
//! `StreamExt`; pipelines, transactions (one slot in a cluster), scripts and pub/sub work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use slotline::{pipe, Client, Commands, Query, Script};
use slotline_conn::ScanOptions;
use support::{bounded, Mode, MODES};

on_both_runtimes! {
    /// Scan, pipelines, transactions, scripts and pub/sub through the async facade, in
    /// every mode.
    async fn the_async_facade_behaves_as_each_mode() {
        // The two runtime flavours run at once: keys of their own.
        let flavour = format!("async-{:?}", std::thread::current().id());
        for mode in MODES {
            check_async(mode, &flavour).await;
        }
    }
}

async fn check_async(mode: Mode, flavour: &str) {
    let c = Client::open(&mode.url()).await.unwrap();
    let w = Client::open(&mode.writer_url()).await.unwrap();
    let keys = mode.keys(flavour, 300);
    let mut writes = pipe();
    for (i, k) in keys.iter().enumerate() {
        writes.set(k, i).ignore();
    }
    let () = w.pipeline(&writes).await.unwrap();
    let last = keys.last().unwrap().clone();
    if mode == Mode::SentinelReplicas {
        // Replication is asynchronous: wait until the replicas have every key.
        let expected = (keys.len() - 1).to_string();
        let started = std::time::Instant::now();
        while c.get::<Option<String>>(&last).await.unwrap().as_deref() != Some(&expected) {
            assert!(
                started.elapsed() < support::DEADLINE,
                "the writes never reached the replicas"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let pattern = format!("modes:{mode:?}:{flavour}:*");
    let want: BTreeSet<String> = keys.iter().cloned().collect();

    // Scan: every key once, through the trait's stream and through StreamExt.
    let found: Vec<String> = c
        .scan(ScanOptions::keys().pattern(&pattern).count(50))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        keys.len(),
        "{mode:?}: a key came twice or not at all"
    );
    assert_eq!(found.into_iter().collect::<BTreeSet<_>>(), want, "{mode:?}");
    let streamed: Vec<String> = c
        .scan::<String>(ScanOptions::keys().pattern(&pattern).count(50))
        .map(|k| k.unwrap())
        .collect()
        .await;
    assert_eq!(
        streamed.into_iter().collect::<BTreeSet<_>>(),
        want,
        "{mode:?}"
    );

    // Pipelines: replies in order, whichever node each command went to.
    let (a, b, missing): (i64, i64, Option<i64>) = c
        .pipeline(
            pipe()
                .get(&keys[0])
                .get(&keys[7])
                .get(format!("{}:none", keys[0])),
        )
        .await
        .unwrap();
    assert_eq!((a, b, missing), (0, 7, None), "{mode:?}");

    // Transactions: one slot (a hash tag); on replicas, a read-only one.
    let tagged = format!("{{modes:{mode:?}:{flavour}}}:tx");
    if mode == Mode::SentinelReplicas {
        let got: Option<(i64, i64)> = c
            .transaction(pipe().get(&keys[1]).get(&keys[2]))
            .await
            .unwrap();
        assert_eq!(got, Some((1, 2)), "{mode:?}");
    } else {
        let got: Option<(i64, i64)> = w
            .transaction(pipe().set(&tagged, 40).ignore().incr(&tagged).incr(&tagged))
            .await
            .unwrap();
        assert_eq!(got, Some((41, 42)), "{mode:?}");
    }

    // Scripts: by SHA, the source sent once; a read-only one on replicas.
    let read = Script::new("return redis.call('GET', KEYS[1])");
    let v: i64 = c.invoke_script(&read.key(&keys[5])).await.unwrap();
    assert_eq!(v, 5, "{mode:?}");

    // Pub/sub: a message published through the writer reaches the subscriber (on a
    // replica, through replication), as a stream.
    let mut sub = c.pubsub().await.unwrap();
    // Over RESP3 it rides the client's shared connection (a replica client keeps a
    // connection of its own on a replica).
    let resp3 = slotline_testbed::test_protocol().as_deref() == Some("3");
    let shared = matches!(sub, slotline::PubSub::Shared(_));
    assert_eq!(
        shared,
        resp3 && !matches!(mode, Mode::SentinelReplicas | Mode::Cluster),
        "{mode:?}"
    );
    let channel = format!("modes:{mode:?}:{flavour}:ch");
    sub.subscribe(&channel).await.unwrap();
    let published = bounded("a publish that reaches the subscriber", async {
        loop {
            // PUBLISH answers how many subscribers got it; on a replica the message comes
            // through replication, so send until it arrives.
            let _: i64 = w.publish(&channel, "hello").await.unwrap();
            match tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
                Ok(Some(msg)) => return msg.unwrap(),
                Ok(None) => panic!("{mode:?}: the subscriber ended"),
                Err(_) => {}
            }
        }
    })
    .await;
    assert_eq!(published.channel_str(), Some(channel.as_str()), "{mode:?}");
    assert_eq!(published.payload::<String>().unwrap(), "hello");
}

/// The same through the blocking facade, from a plain thread.
#[test]
fn the_blocking_facade_behaves_as_each_mode() {
    use slotline::blocking::{Client, Commands, Query};
    for mode in MODES {
        let c = Client::open(&mode.url()).unwrap();
        let w = Client::open(&mode.writer_url()).unwrap();
        let keys = mode.keys("blocking", 150);
        let mut writes = pipe();
        for (i, k) in keys.iter().enumerate() {
            writes.set(k, i).ignore();
        }
        let () = w.pipeline(&writes).unwrap();
        if mode == Mode::SentinelReplicas {
            let expected = (keys.len() - 1).to_string();
            support::wait_until("the writes to reach the replicas", || {
                c.get::<Option<String>>(keys.last().unwrap())
                    .unwrap()
                    .as_deref()
                    == Some(expected.as_str())
            });
        }
        let pattern = format!("modes:{mode:?}:blocking:*");
        let found: Vec<String> = c
            .scan::<String>(ScanOptions::keys().pattern(&pattern).count(40))
            .map(|k| k.unwrap())
            .collect();
        assert_eq!(
            found.len(),
            keys.len(),
            "{mode:?}: a key came twice or not at all"
        );
        assert_eq!(
            found.into_iter().collect::<BTreeSet<_>>(),
            keys.iter().cloned().collect::<BTreeSet<_>>(),
            "{mode:?}"
        );
        let (a, b): (i64, i64) = c.pipeline(pipe().get(&keys[3]).get(&keys[9])).unwrap();
        assert_eq!((a, b), (3, 9), "{mode:?}");
        let tagged = format!("{{modes:{mode:?}:blocking}}:tx");
        if mode != Mode::SentinelReplicas {
            let got: Option<(i64, i64)> = w
                .transaction(pipe().set(&tagged, 1).ignore().incr(&tagged).incr(&tagged))
                .unwrap();
            assert_eq!(got, Some((2, 3)), "{mode:?}");
        }
        let read = Script::new("return redis.call('GET', KEYS[1])");
        let v: i64 = c.invoke_script(&read.key(&keys[4])).unwrap();
        assert_eq!(v, 4, "{mode:?}");
        let mut sub = c.pubsub().unwrap();
        let channel = format!("modes:{mode:?}:blocking:ch");
        sub.subscribe(&channel).unwrap();
        let deadline = std::time::Instant::now() + support::DEADLINE;
        let msg = loop {
            let _: i64 = w.publish(&channel, "hi").unwrap();
            if let Some(m) = sub
                .next_message_timeout(Duration::from_millis(200))
                .unwrap()
            {
                break m;
            }
            assert!(std::time::Instant::now() < deadline, "{mode:?}: no message");
        };
        assert_eq!(msg.payload::<String>().unwrap(), "hi", "{mode:?}");
    }
}

//! Several shared clients at work in one process, writing the overlapped way
//! ([`WriteWay::Overlapped`], one of the two the default chooses between): while another
//! link has requests in flight, a caller leaves its link's queue to the writer task instead
//! of writing it early (a lone request still leaves at once), so that a sharded client's
//! links write in batches. Against real `redis-server`s, frozen so that nothing is answered while the
//! callers queue. One test in a binary of its own: the count of busy links is process-wide,
//! and other tests' clients would change it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use slotline_conn::{Client, ClientOptions, Commands, WriteWay};
use slotline_testbed::Standalone;
use support::{bounded, wait_for_callers};

/// Callers that queue a GET each while the server is frozen.
const CALLERS: usize = 200;

/// The writes `client` makes for [`CALLERS`] GETs queued at once while `server` is frozen,
/// after which the server runs again and every GET is answered.
async fn writes_for_queued_gets(server: &Standalone, client: &Client) -> u64 {
    let before = client.io_stats().writes;
    server.stop().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (c, started) = (client.clone(), started.clone());
            tokio::spawn(async move {
                started.fetch_add(1, Ordering::SeqCst);
                c.get::<Option<String>>(format!("k{i}")).await
            })
        })
        .collect();
    wait_for_callers(&started, CALLERS).await;
    server.cont().unwrap();
    for t in tasks {
        assert_eq!(bounded("a GET", t).await.unwrap().unwrap(), None);
    }
    client.io_stats().writes - before
}

/// Writes for [`CALLERS`] queued GETs on one link: alone in the process, beside another
/// link with a request in flight, and alone again; every GET answered each time.
async fn writes_alone_and_beside_a_busy_link() -> (u64, u64, u64) {
    let (a_server, b_server) = (
        Standalone::builder().local().start().unwrap(),
        Standalone::builder().local().start().unwrap(),
    );
    let overlapped = ClientOptions::default().with_write_way(WriteWay::Overlapped);
    let a = Client::connect_with(a_server.url().as_str(), overlapped.clone())
        .await
        .unwrap();
    let b = Client::connect_with(b_server.url().as_str(), overlapped)
        .await
        .unwrap();

    let alone = writes_for_queued_gets(&a_server, &a).await;

    // b's GET waits on a frozen server (a lone request: written at once).
    b_server.stop().unwrap();
    let b_writes = b.io_stats().writes;
    let held = {
        let b = b.clone();
        tokio::spawn(async move { b.get::<Option<String>>("held").await })
    };
    bounded("b's lone GET to leave at once", async {
        while b.io_stats().writes == b_writes {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let beside = writes_for_queued_gets(&a_server, &a).await;
    b_server.cont().unwrap();
    assert_eq!(bounded("b's GET", held).await.unwrap().unwrap(), None);

    // Once b's GET is answered nothing else is busy: a is alone again.
    let again = writes_for_queued_gets(&a_server, &a).await;
    eprintln!("writes for {CALLERS} queued GETs: {alone} alone, {beside} beside a busy link, {again} alone again");
    (alone, beside, again)
}

/// On a current-thread runtime the callers queue one after another in one round of the
/// scheduler, so the counts are exact enough to compare: alone, the callers write early
/// (the first at once, then each time enough wait); beside a busy link only the first
/// does, and the writer task takes the rest at once.
#[test]
fn callers_leave_the_queue_to_the_writer_while_another_link_is_busy() {
    let (alone, beside, again) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(writes_alone_and_beside_a_busy_link());
    assert!(
        beside <= 3,
        "{beside} writes for {CALLERS} GETs beside a busy link: callers wrote early"
    );
    assert!(
        alone >= 3 * beside && again >= 3 * beside,
        "{alone} and {again} writes alone against {beside} beside a busy link"
    );
    // On two workers the callers queue side by side while the writer task runs, so the
    // counts say little; every GET is still answered, each time.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(writes_alone_and_beside_a_busy_link());
}

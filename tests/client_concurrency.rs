//! The shared `Client` under many concurrent callers, against a real `redis-server`:
//! every caller gets exactly its own replies (async tasks and blocking threads), all of
//! them over ONE connection, and requests that wait at once really leave together
//! (implicit pipelining, checked with the server's own read counter).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use slotline_conn::{cmd, Client, ClientOptions, Commands, Query};
use slotline_testbed::{Process, Standalone};
use support::{bounded, calls, info_int, wait_for, wait_for_callers};

/// How many connections `CLIENT LIST` shows with this name.
fn connections_named(p: &Process, name: &str) -> usize {
    let reply = p.cmd(&["CLIENT", "LIST"]).unwrap();
    let needle = format!(" name={name} ");
    reply
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

/// The work of one caller: SET/GET of its own keys with values nobody else writes, and
/// INCR of its own counter, 100 commands in all; panics on any reply that is not its own.
async fn async_caller(c: Client, task: usize) {
    let counter = format!("ctr:{task}");
    for j in 0..33 {
        let key = format!("k:{task}:{j}");
        let value = format!("v:{task}:{j}:{}", task * 7919 + j);
        c.set(&key, &value).await.unwrap();
        let got: Option<String> = c.get(&key).await.unwrap();
        assert_eq!(got.as_deref(), Some(value.as_str()), "task {task} step {j}");
        let n = c.incr(&counter).await.unwrap();
        assert_eq!(n, j as i64 + 1, "task {task} counter");
    }
    let total: i64 = c.get(&counter).await.unwrap();
    assert_eq!(total, 33);
}

on_both_runtimes! {
    async fn thousand_tasks_on_one_client_get_their_own_replies() {
        thousand_tasks_get_their_own_replies(Standalone::builder().local(), "conc-async").await;
    }
}

on_both_runtimes! {
    /// The same through TLS, where callers on every worker and the writer task take turns
    /// sealing requests into one session.
    async fn thousand_tasks_on_one_client_get_their_own_replies_over_tls() {
        thousand_tasks_get_their_own_replies(Standalone::builder().tls(), "conc-async-tls").await;
    }
}

async fn thousand_tasks_get_their_own_replies(
    builder: slotline_testbed::StandaloneBuilder,
    name: &str,
) {
    let server = builder.start().unwrap();
    let p = server.process().unwrap();
    let client = Client::connect(support::with_option(
        &server.url(),
        &format!("client_name={name}"),
    ))
    .await
    .unwrap();
    let connections_before = info_int(p, "stats", "total_connections_received");

    let tasks: Vec<_> = (0..1000)
        .map(|t| tokio::spawn(async_caller(client.clone(), t)))
        .collect();
    for t in tasks {
        bounded("a task", t).await.unwrap();
    }

    // One connection served them all, and it never had to reconnect.
    assert_eq!(connections_named(p, name), 1);
    let connections_after = info_int(p, "stats", "total_connections_received");
    // Only the INFO/CLIENT LIST probes themselves connected meanwhile.
    assert_eq!(connections_after - connections_before, 2);
    // Every command reached the server once.
    assert_eq!(calls(p, "set"), 33_000);
    assert_eq!(calls(p, "incr"), 33_000);
    assert_eq!(calls(p, "get"), 34_000);
    let n: i64 = client.query(&cmd("DBSIZE")).await.unwrap();
    assert_eq!(n, 1000 * 34);
}

#[test]
fn sixty_four_threads_on_one_blocking_client_get_their_own_replies() {
    sixty_four_threads_get_their_own_replies(Standalone::builder().local(), "conc-blocking");
}

/// The same through TLS: the threads seal their requests into the session in turn.
#[test]
fn sixty_four_threads_on_one_blocking_client_get_their_own_replies_over_tls() {
    sixty_four_threads_get_their_own_replies(Standalone::builder().tls(), "conc-blocking-tls");
}

fn sixty_four_threads_get_their_own_replies(
    builder: slotline_testbed::StandaloneBuilder,
    name: &str,
) {
    use slotline_conn::blocking;
    use slotline_conn::blocking::Commands as _;

    let server = builder.start().unwrap();
    let p = server.process().unwrap();
    let client = blocking::Client::connect(support::with_option(
        &server.url(),
        &format!("client_name={name}"),
    ))
    .unwrap();
    let threads: Vec<_> = (0..64)
        .map(|t| {
            let c = client.clone();
            std::thread::spawn(move || {
                let counter = format!("bctr:{t}");
                for j in 0..33 {
                    let key = format!("bk:{t}:{j}");
                    let value = format!("bv:{t}:{j}:{}", t * 104_729 + j);
                    c.set(&key, &value).unwrap();
                    let got: Option<String> = c.get(&key).unwrap();
                    assert_eq!(got.as_deref(), Some(value.as_str()), "thread {t} step {j}");
                    assert_eq!(c.incr(&counter).unwrap(), j as i64 + 1, "thread {t}");
                }
                let total: i64 = c.get(&counter).unwrap();
                assert_eq!(total, 33);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(connections_named(p, name), 1);
    assert_eq!(calls(p, "set"), 64 * 33);
    assert_eq!(calls(p, "incr"), 64 * 33);
    assert_eq!(calls(p, "get"), 64 * 34);
    assert!(client.is_connected());
}

on_both_runtimes! {
    /// 1,000 GETs made at once while the server is frozen: they pile up in the client and
    /// leave in a few large writes. Once the server runs again it reads them in a handful of
    /// read events (`total_reads_processed`), where one round trip per request would take
    /// 1,000.
    async fn concurrent_requests_leave_in_few_writes() {
        let server = Standalone::builder().local().start().unwrap();
        let p = server.process().unwrap();
        let name = "conc-pipelining";
        let client = Client::connect(support::with_option(
            &support::with_db(&server.url(), 0),
            &format!("client_name={name}&response_timeout=20s"),
        ))
        .await
        .unwrap();
        client.set("shared", "value").await.unwrap();
        let reads_before = info_int(p, "stats", "total_reads_processed");
        let gets_before = calls(p, "get");

        server.stop().unwrap();
        let started = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let c = client.clone();
                let started = started.clone();
                tokio::spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let v: Option<String> = c.get("shared").await?;
                    Ok::<_, slotline_conn::Error>(v)
                })
            })
            .collect();
        wait_for_callers(&started, 1000).await;
        server.cont().unwrap();

        for t in tasks {
            let v = bounded("a GET", t).await.unwrap().unwrap();
            assert_eq!(v.as_deref(), Some("value"));
        }
        assert_eq!(calls(p, "get") - gets_before, 1000);
        let reads = info_int(p, "stats", "total_reads_processed") - reads_before;
        eprintln!("server reads for 1000 GETs: {reads}");
        // The two INFO probes above account for a few reads; the 1,000 GETs for the rest.
        assert!(
            reads < 50,
            "1,000 concurrent GETs took {reads} server reads: not pipelined"
        );
        assert_eq!(connections_named(p, name), 1);
    }
}

/// A client with `options` on a server of its own (dropped with it).
async fn client_with(options: ClientOptions) -> (Standalone, Client) {
    let server = Standalone::builder().local().start().unwrap();
    let client = Client::connect_with(support::with_db(&server.url(), 0), options)
        .await
        .unwrap();
    (server, client)
}

/// One round of eight `DEBUG SLEEP 0.02` on `client`: one alone, then (once it has been
/// written) seven more while the server sleeps on the first. Its reply comes back alone
/// with seven still awaited, and the reader polls before it waits: the window passes with
/// nothing, as the server sleeps 20 ms per request.
async fn eight_server_sleeps(client: &Client) {
    let sleep = |c: Client| {
        tokio::spawn(async move {
            let ok: String = c.query(&cmd("DEBUG").arg("SLEEP").arg(0.02)).await?;
            Ok::<_, slotline_conn::Error>(ok)
        })
    };
    let writes = client.io_stats().writes;
    let mut sleeps = vec![sleep(client.clone())];
    wait_for("the first DEBUG SLEEP to be written", || {
        client.io_stats().writes > writes
    })
    .await;
    sleeps.extend((1..8).map(|_| sleep(client.clone())));
    for t in sleeps {
        let ok = bounded("a DEBUG SLEEP", t).await.unwrap().unwrap();
        assert_eq!(ok, "OK");
    }
}

on_both_runtimes! {
    /// The reader polls for replies while enough are awaited (`ClientOptions::busy_poll`),
    /// and only for its window. Rounds go on until it has polled, then two more. A round
    /// holds 160 ms of server
    /// sleep: polling through it would make thousands of polls (16,000 at one per 10 µs);
    /// a 50 µs window after each of at most 5 replies with enough awaited, a few hundred,
    /// fewer as misses back off.
    async fn the_reader_polls_for_replies_only_briefly() {
        let (_server, client) = client_with(ClientOptions::default()).await;
        let mut rounds = 0;
        bounded("the reader's first poll with replies awaited", async {
            while client.io_stats().polls == 0 {
                eight_server_sleeps(&client).await;
                rounds += 1;
            }
        })
        .await;
        for _ in 0..2 {
            eight_server_sleeps(&client).await;
            rounds += 1;
        }
        let polls = client.io_stats().polls;
        eprintln!("polls while the server slept: {polls} in {rounds} rounds");
        assert!(
            polls < 1_500 * rounds,
            "{polls} polls in {rounds} rounds: the reader spun through the waits"
        );
    }
}

on_both_runtimes! {
    /// With `busy_poll` zero the reader always waits on the runtime's poller: ten rounds,
    /// more than the polling test has needed for its first poll (up to nine).
    async fn a_zero_busy_poll_window_never_polls() {
        let options = ClientOptions::default().with_busy_poll(Duration::ZERO);
        let (_server, client) = client_with(options).await;
        for _ in 0..10 {
            eight_server_sleeps(&client).await;
        }
        assert_eq!(client.io_stats().polls, 0);
    }
}

/// Requests too large for the socket to take at once: the caller that writes the queue
/// itself leaves the rest to the writer task, and every byte still leaves in queue order.
/// The server is stopped first, so the socket's buffers fill and writes are cut short; one
/// runtime thread, so that the callers (not the writer task) meet the full socket first.
#[tokio::test]
async fn large_requests_cut_short_by_a_full_socket_arrive_whole_and_in_order() {
    large_requests_arrive_whole(Standalone::builder().local()).await;
}

/// The same through TLS, where a caller seals its requests into the session and leaves the
/// records the full socket did not take to the writer task.
#[tokio::test]
async fn large_requests_cut_short_by_a_full_socket_arrive_whole_and_in_order_over_tls() {
    large_requests_arrive_whole(Standalone::builder().tls()).await;
}

async fn large_requests_arrive_whole(builder: slotline_testbed::StandaloneBuilder) {
    let server = builder.start().unwrap();
    let client = Client::connect(support::with_option(&server.url(), "response_timeout=30s"))
        .await
        .unwrap();
    client.ping().await.unwrap();
    server.stop().unwrap();
    const TASKS: usize = 64;
    const SIZE: usize = 512 * 1024;
    let value = |i: usize| -> Vec<u8> { (0..SIZE).map(|j| (i * 31 + j % 251) as u8).collect() };
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let c = client.clone();
            let v = value(i);
            tokio::spawn(async move { c.set(format!("big:{i}"), v).await })
        })
        .collect();
    // 32 MiB queued against a stopped server, far more than the socket buffers hold. How
    // much is queued when the server resumes changes which path writes it, not the outcome.
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.cont().unwrap();
    for t in tasks {
        bounded("a SET", t).await.unwrap().unwrap();
    }
    for i in 0..TASKS {
        let got: Vec<u8> = client.get(format!("big:{i}")).await.unwrap();
        assert!(got == value(i), "big:{i} holds the wrong bytes");
    }
}

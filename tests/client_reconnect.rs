//! The shared `Client` when its server goes away and comes back, against a real
//! `redis-server` killed and restarted on the same port (or a connection killed with
//! `CLIENT KILL`): in-flight requests fail with "may have run" and are never resent
//! unless idempotent, nothing hangs, no write is applied twice, and the same `Client`
//! works again once the server is back. Also: fail-fast versus waiting while reconnecting,
//! and no busy loop while the client waits to reconnect.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slotline_conn::{cmd, Client, ClientOptions, Commands, Error, ErrorKind, Query};
use slotline_testbed::{Process, Standalone};
use support::{bounded, off_runtime, wait_for};

fn start_server() -> Arc<Standalone> {
    Arc::new(Standalone::builder().local().start().unwrap())
}

fn client_line(p: &Process, id: i64) -> String {
    let id = id.to_string();
    let reply = p.cmd(&["CLIENT", "LIST", "ID", id.as_str()]).unwrap();
    reply.as_str().unwrap().trim().to_string()
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

/// What one `RPUSH list:<task> <seq>` returned.
#[derive(Debug)]
struct Outcome {
    seq: i64,
    /// Issued after `restart()` returned.
    after_restart: bool,
    result: Result<i64, Error>,
}

on_both_runtimes! {
    /// Tasks push their sequence numbers through one `Client` while the server is killed and
    /// restarted (without persistence, so the new server starts empty). Afterwards, each list
    /// on the new server must be exactly the pushes that returned `Ok` from its first element
    /// on: nothing twice, nothing that returned an error (in-flight pushes are not resent),
    /// and every push made after the restart.
    async fn restart_mid_run_fails_in_flight_requests_and_applies_no_write_twice() {
        const TASKS: usize = 16;
        let server = start_server();
        let p = server.process().unwrap();
        let client = Client::connect(support::with_option(
            &server.url(),
            "client_name=restart&response_timeout=10s",
        ))
        .await
        .unwrap();

        let restarted = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let oks = Arc::new(AtomicUsize::new(0));
        let oks_after = Arc::new(Mutex::new(vec![0usize; TASKS]));
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let c = client.clone();
                let (restarted, stop, oks, oks_after) = (
                    restarted.clone(),
                    stop.clone(),
                    oks.clone(),
                    oks_after.clone(),
                );
                tokio::spawn(async move {
                    let key = format!("list:{t}");
                    let mut outcomes = Vec::new();
                    let mut seq = 0i64;
                    while !stop.load(Ordering::SeqCst) {
                        let after_restart = restarted.load(Ordering::SeqCst);
                        let result = bounded("an RPUSH", c.rpush(&key, seq)).await;
                        if result.is_ok() {
                            oks.fetch_add(1, Ordering::SeqCst);
                            if after_restart {
                                oks_after.lock().unwrap()[t] += 1;
                            }
                        }
                        outcomes.push(Outcome {
                            seq,
                            after_restart,
                            result,
                        });
                        seq += 1;
                    }
                    outcomes
                })
            })
            .collect();

        let o = oks.clone();
        wait_for("traffic before the kill", || {
            o.load(Ordering::SeqCst) >= 2000
        })
        .await;
        // One request surely on the wire when the server dies: a BLPOP the server holds.
        // (Whether any RPUSH is in flight at that instant is up to the scheduler.)
        let c = client.clone();
        let blpop = tokio::spawn(async move {
            c.query::<Option<Vec<String>>>(&cmd("BLPOP").arg("never").arg(0))
                .await
        });
        wait_for("the BLPOP to block on the server", || {
            let info = p.cmd(&["INFO", "clients"]).unwrap();
            info.as_str().unwrap().contains("blocked_clients:1")
        })
        .await;
        let s = server.clone();
        off_runtime(move || s.kill().unwrap()).await;
        let c = client.clone();
        wait_for("the client to notice the kill", || !c.is_connected()).await;
        let err = bounded("the BLPOP", blpop).await.unwrap().unwrap_err();
        assert!(err.may_have_run() && !err.is_retryable(), "BLPOP: {err:?}");
        let s = server.clone();
        off_runtime(move || s.restart().unwrap()).await;
        restarted.store(true, Ordering::SeqCst);
        let c = client.clone();
        wait_for("the same client to reconnect", || c.is_connected()).await;
        let oa = oks_after.clone();
        wait_for("traffic after the restart", || {
            oa.lock().unwrap().iter().all(|&n| n >= 50)
        })
        .await;
        stop.store(true, Ordering::SeqCst);

        let mut errors = 0;
        for (t, task) in tasks.into_iter().enumerate() {
            let outcomes = bounded("a task", task).await.unwrap();
            for o in &outcomes {
                if let Err(e) = &o.result {
                    errors += 1;
                    // Waiting requests wait for the new connection; only those on the wire
                    // when the server died fail, and they say they may have run.
                    assert!(
                        e.may_have_run() && !e.is_retryable(),
                        "task {t} seq {}: {e:?}",
                        o.seq
                    );
                    assert!(!o.after_restart, "task {t} seq {} failed: {e:?}", o.seq);
                }
            }
            let list: Vec<i64> = p
                .cmd(&["LRANGE", &format!("list:{t}"), "0", "-1"])
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().parse().unwrap())
                .collect();
            let first = *list.first().expect("nothing reached the new server");
            let expected: Vec<i64> = outcomes
                .iter()
                .filter(|o| o.seq >= first)
                .map(|o| {
                    assert!(
                        o.result.is_ok(),
                        "task {t}: seq {} is on the new server but returned {:?}",
                        o.seq,
                        o.result
                    );
                    o.seq
                })
                .collect();
            assert_eq!(list, expected, "task {t}: the new server's list");
            // RPUSH answered with the list's length: each push counted once.
            for (i, o) in outcomes.iter().filter(|o| o.seq >= first).enumerate() {
                assert_eq!(*o.result.as_ref().unwrap(), i as i64 + 1, "task {t}");
            }
            assert!(outcomes
                .iter()
                .filter(|o| o.after_restart)
                .all(|o| o.seq >= first));
        }
        eprintln!("{errors} pushes were on the wire when the server died");
        // At most one push per task was on the wire when the server died.
        assert!(errors <= TASKS, "{errors} errors for {TASKS} tasks");
        assert!(client.is_connected());
    }
}

on_both_runtimes! {
    /// With `fail_fast`, a request made while the client reconnects fails at once with an
    /// error that says it was never sent (so it may be retried), and it is indeed never sent.
    async fn fail_fast_fails_at_once_while_reconnecting() {
        let server = start_server();
        let client = Client::connect_with(
            support::with_option(&server.url(), "response_timeout=30s"),
            ClientOptions::default().fail_fast(),
        )
        .await
        .unwrap();
        client.set("k", "v").await.unwrap();

        let s = server.clone();
        off_runtime(move || s.kill().unwrap()).await;
        let c = client.clone();
        wait_for("the client to notice the kill", || !c.is_connected()).await;
        // Far less than the 30 s response timeout: it did not wait.
        let err = tokio::time::timeout(Duration::from_secs(5), client.rpush("ff", 1))
            .await
            .expect("a fail-fast request waited")
            .unwrap_err();
        assert!(
            err.kind() == ErrorKind::Io && !err.may_have_run(),
            "got {err:?}"
        );
        assert!(!err.may_have_run() && err.is_retryable(), "got {err:?}");

        let s = server.clone();
        off_runtime(move || s.restart().unwrap()).await;
        let c = client.clone();
        wait_for("the client to reconnect", || c.is_connected()).await;
        // The failed push was dropped, not sent late: the list holds only the new one.
        assert_eq!(bounded("RPUSH", client.rpush("ff", 2)).await.unwrap(), 1);
        let list: Vec<i64> = client.lrange("ff", 0, -1).await.unwrap();
        assert_eq!(list, vec![2]);
    }
}

on_both_runtimes! {
    /// By default, a request made while the client reconnects waits for the connection and
    /// succeeds once the server is back (within its response timeout), exactly once.
    async fn default_waits_for_the_server_to_come_back() {
        let server = start_server();
        let client = Client::connect(support::with_option(&server.url(), "response_timeout=20s"))
            .await
            .unwrap();
        client.set("k", "v").await.unwrap();

        let s = server.clone();
        off_runtime(move || s.kill().unwrap()).await;
        let c = client.clone();
        wait_for("the client to notice the kill", || !c.is_connected()).await;

        let s = server.clone();
        // `join!` polls the push first: it is queued before the restart begins.
        let (pushed, ()) = bounded("the waiting push", async {
            tokio::join!(
                client.rpush("w", "x"),
                off_runtime(move || s.restart().unwrap())
            )
        })
        .await;
        assert_eq!(pushed.unwrap(), 1);
        assert!(client.is_connected());
        let list: Vec<String> = client.lrange("w", 0, -1).await.unwrap();
        assert_eq!(list, vec!["x"]);
    }
}

on_both_runtimes! {
    /// A request that waits for a reconnection longer than its response timeout fails with a
    /// timeout that says it was never sent (it was not: it is withdrawn, and not sent late
    /// once the server is back).
    async fn timeout_while_reconnecting_is_not_sent_and_says_so() {
        let server = start_server();
        let client = Client::connect(support::with_option(&server.url(), "response_timeout=300ms"))
            .await
            .unwrap();
        let s = server.clone();
        off_runtime(move || s.kill().unwrap()).await;
        let c = client.clone();
        wait_for("the client to notice the kill", || !c.is_connected()).await;

        let err = bounded("a push", client.rpush("late", 1))
            .await
            .unwrap_err();
        assert!(err.kind() == ErrorKind::Timeout, "got {err:?}");
        assert!(!err.may_have_run() && err.is_retryable(), "got {err:?}");

        let s = server.clone();
        off_runtime(move || s.restart().unwrap()).await;
        let c = client.clone();
        wait_for("the client to reconnect", || c.is_connected()).await;
        assert_eq!(client.rpush("late", 2).await.unwrap(), 1);
        let list: Vec<i64> = client.lrange("late", 0, -1).await.unwrap();
        assert_eq!(list, vec![2]);
    }
}

on_both_runtimes! {
    /// Requests on the wire when the connection is killed (`CLIENT KILL`): a `GET` marked
    /// idempotent is resent on the next connection and succeeds; an `INCR` (not marked) fails
    /// with "may have run" and is not resent. The server is paused for writes
    /// (`CLIENT PAUSE ... WRITE`): the `INCR` at the head of the connection waits there, and
    /// keeps the `GET` behind it on the wire, unanswered, until the kill.
    async fn idempotent_request_is_resent_after_a_connection_kill() {
        let server = start_server();
        let p = server.process().unwrap();
        let client = Client::connect(support::with_option(&server.url(), "response_timeout=10s"))
            .await
            .unwrap();
        let id: i64 = client.query(&cmd("CLIENT").arg("ID")).await.unwrap();
        client.set("idem", "value").await.unwrap();

        p.cmd(&["CLIENT", "PAUSE", "10000", "WRITE"]).unwrap();
        let c = client.clone();
        let incr = tokio::spawn(async move { c.query::<i64>(&cmd("INCR").arg("counter")).await });
        wait_for("the INCR to wait for the pause", || {
            field(&client_line(p, id), "flags").contains('b')
        })
        .await;
        let c = client.clone();
        let get = tokio::spawn(async move {
            c.query::<Option<String>>(&cmd("GET").arg("idem").idempotent())
                .await
        });
        // The GET's bytes (23) are in the server's query buffer, behind the INCR.
        wait_for("the GET to reach the server", || {
            field(&client_line(p, id), "qbuf").parse::<usize>().unwrap() >= 23
        })
        .await;

        let killed = p.cmd(&["CLIENT", "KILL", "ID", &id.to_string()]).unwrap();
        assert_eq!(killed.as_int(), Some(1));

        let got = bounded("the GET", get).await.unwrap().unwrap();
        assert_eq!(got.as_deref(), Some("value"));
        let err = bounded("the INCR", incr).await.unwrap().unwrap_err();
        assert!(err.may_have_run() && !err.is_retryable(), "INCR: {err:?}");
        // The INCR never ran (the server was paused) and was not resent.
        p.cmd(&["CLIENT", "UNPAUSE"]).unwrap();
        assert!(p.cmd(&["GET", "counter"]).unwrap().is_null());
        let new_id: i64 = client.query(&cmd("CLIENT").arg("ID")).await.unwrap();
        assert_ne!(new_id, id);
    }
}

/// CPU time (user + system, in clock ticks) of the calling thread.
fn thread_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 of stat(5); the slice starts at field 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// While the server is down and a request waits for the reconnection, the client sleeps
/// between attempts: it does not spin. On a current-thread runtime the driver runs on the
/// test's thread, whose CPU time is then a fraction of the wall time (a busy loop would
/// use all of it).
#[tokio::test(flavor = "current_thread")]
async fn no_busy_loop_while_waiting_to_reconnect() {
    let server = start_server();
    let client = Client::connect(support::with_option(
        &server.url(),
        "response_timeout=1500ms",
    ))
    .await
    .unwrap();
    server.kill().unwrap();
    let c = client.clone();
    wait_for("the client to notice the kill", || !c.is_connected()).await;

    let cpu_before = thread_cpu_ticks();
    let wall = Instant::now();
    let err = bounded("a GET", client.get::<Option<String>>("x"))
        .await
        .unwrap_err();
    let wall = wall.elapsed();
    let cpu = Duration::from_millis((thread_cpu_ticks() - cpu_before) * 10);
    assert!(err.kind() == ErrorKind::Timeout, "got {err:?}");
    eprintln!("CPU while waiting to reconnect: {cpu:?} in {wall:?}");
    assert!(
        cpu < wall / 4,
        "the client used {cpu:?} of CPU in {wall:?} while waiting to reconnect"
    );
    // And it reconnects once the server is back.
    server.restart().unwrap();
    wait_for("the client to reconnect", || client.is_connected()).await;
    client.set("k", "v").await.unwrap();
}

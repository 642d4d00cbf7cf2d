//! Commands the server may hold before answering (`BLPOP`, `XREADGROUP ... BLOCK`, ...) go
//! on dedicated connections of a small pool: they never stall the shared socket, in any
//! mode; a caller that gives up leaves nothing armed on the server; the pool is bounded;
//! a held command follows a moved slot and fails clearly (never hangs) when its master dies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotline::{Client, Commands, Query};
use slotline_conn::{cmd, ClientOptions, ConnectionConfig, ErrorKind, Frame};
use slotline_testbed::{Cluster, SentinelTopology};
use support::{bounded, cluster, sentinel, standalone, wait_for, wait_until, with_option, Mode};

/// The modes whose shared socket a held command could stall.
const HELD_MODES: [Mode; 3] = [Mode::Node, Mode::SentinelMaster, Mode::Cluster];

/// The `CLIENT LIST` lines of the nodes a mode writes to (every master of the cluster).
fn client_list(mode: Mode) -> Vec<String> {
    let text = |f: Frame| f.as_str().map(str::to_string).unwrap_or_default();
    let lists: Vec<String> = match mode {
        Mode::Node => vec![text(
            standalone()
                .process()
                .unwrap()
                .cmd(&["CLIENT", "LIST"])
                .unwrap(),
        )],
        Mode::SentinelMaster | Mode::SentinelReplicas => {
            let t = sentinel();
            let master = t.master_addr().unwrap();
            vec![text(
                t.conn(master).unwrap().cmd(&["CLIENT", "LIST"]).unwrap(),
            )]
        }
        Mode::ShardedSentinel => {
            let t = support::sharded();
            t.services()
                .into_iter()
                .map(|svc| {
                    let master = t.master_addr_of(svc).unwrap();
                    text(t.conn(master).unwrap().cmd(&["CLIENT", "LIST"]).unwrap())
                })
                .collect()
        }
        Mode::Cluster => {
            let c = cluster();
            c.masters()
                .unwrap()
                .into_iter()
                .map(|m| text(c.cmd(m, &["CLIENT", "LIST"]).unwrap()))
                .collect()
        }
    };
    lists
        .iter()
        .flat_map(|l| l.lines().map(str::to_string))
        .collect()
}

/// How many connections named `name` the server holds blocked (`flags=b`).
fn blocked_named(lines: &[String], name: &str) -> usize {
    let name = format!(" name={name} ");
    lines
        .iter()
        .filter(|l| {
            l.contains(&name)
                && l.split(' ')
                    .any(|f| f.starts_with("flags=") && f.contains('b'))
        })
        .count()
}

/// How many connections named `name` are open.
fn open_named(lines: &[String], name: &str) -> usize {
    let name = format!(" name={name} ");
    lines.iter().filter(|l| l.contains(&name)).count()
}

/// A shared client of the standalone node, its connections named `name`.
async fn node_client(name: &str, options: ClientOptions) -> slotline_conn::Client {
    let config: ConnectionConfig = standalone().url().parse().unwrap();
    slotline_conn::Client::connect_with(config.with_client_name(name), options)
        .await
        .unwrap()
}

/// The 99th percentile of `samples`.
fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

/// 50 tasks GET while 10 tasks wait in `BLPOP` on empty lists (5 s); returns the GETs' p99.
async fn get_p99_while_held(mode: Mode) -> Duration {
    let name = format!("held-{mode:?}-async");
    let c = Client::open(&with_option(&mode.url(), &format!("client_name={name}")))
        .await
        .unwrap();
    let tag = format!("held:{mode:?}:async");
    c.set(format!("{tag}:k"), "v").await.unwrap();
    for i in 0..10 {
        let _: i64 = c.del(format!("{tag}:empty:{i}")).await.unwrap();
    }
    let pops: Vec<_> = (0..10)
        .map(|i| {
            let c = c.clone();
            let key = format!("{tag}:empty:{i}");
            tokio::spawn(async move { c.blpop::<Option<(String, String)>>(&key, 5.0).await })
        })
        .collect();
    wait_for("10 BLPOPs held by the server", || {
        blocked_named(&client_list(mode), &name) == 10
    })
    .await;
    let started = Instant::now();
    let gets: Vec<_> = (0..50)
        .map(|_| {
            let c = c.clone();
            let key = format!("{tag}:k");
            tokio::spawn(async move {
                let mut took = Vec::with_capacity(200);
                for _ in 0..200 {
                    let t = Instant::now();
                    let v: Option<String> = c.get(&key).await.unwrap();
                    took.push(t.elapsed());
                    assert_eq!(v.as_deref(), Some("v"));
                }
                took
            })
        })
        .collect();
    let mut samples = Vec::new();
    for g in gets {
        samples.extend(bounded("50 GET callers", g).await.unwrap());
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{mode:?}: the GETs outlasted the BLPOPs"
    );
    // Each BLPOP is still waiting, and takes the item pushed for it.
    for (i, pop) in pops.into_iter().enumerate() {
        assert!(!pop.is_finished(), "{mode:?}: a BLPOP ended early");
        let key = format!("{tag}:empty:{i}");
        let _: i64 = c.rpush(&key, i).await.unwrap();
        let got = bounded("a BLPOP released", pop).await.unwrap().unwrap();
        assert_eq!(got, Some((key, i.to_string())), "{mode:?}");
    }
    p99(samples)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_are_not_stalled_by_held_commands_async() {
    for mode in HELD_MODES {
        let p99 = get_p99_while_held(mode).await;
        eprintln!("held_commands: {mode:?} async: GET p99 {p99:?} (50 callers, 10 BLPOPs held)");
        assert!(
            p99 < Duration::from_millis(500),
            "{mode:?}: GET p99 {p99:?}"
        );
    }
}

#[test]
fn gets_are_not_stalled_by_held_commands_blocking() {
    use slotline::blocking::{Client, Commands};
    for mode in HELD_MODES {
        let name = format!("held-{mode:?}-blocking");
        let c = Client::open(&with_option(&mode.url(), &format!("client_name={name}"))).unwrap();
        let tag = format!("held:{mode:?}:blocking");
        c.set(format!("{tag}:k"), "v").unwrap();
        let p99 = std::thread::scope(|s| {
            let pops: Vec<_> = (0..10)
                .map(|i| {
                    let c = c.clone();
                    let key = format!("{tag}:empty:{i}");
                    let _: i64 = c.del(&key).unwrap();
                    s.spawn(move || c.blpop::<Option<(String, String)>>(&key, 5.0))
                })
                .collect();
            wait_until("10 BLPOPs held by the server", || {
                blocked_named(&client_list(mode), &name) == 10
            });
            let gets: Vec<_> = (0..50)
                .map(|_| {
                    let c = c.clone();
                    let key = format!("{tag}:k");
                    s.spawn(move || {
                        let mut took = Vec::with_capacity(200);
                        for _ in 0..200 {
                            let t = Instant::now();
                            let v: Option<String> = c.get(&key).unwrap();
                            took.push(t.elapsed());
                            assert_eq!(v.as_deref(), Some("v"));
                        }
                        took
                    })
                })
                .collect();
            let samples: Vec<Duration> = gets.into_iter().flat_map(|g| g.join().unwrap()).collect();
            for (i, pop) in pops.into_iter().enumerate() {
                assert!(!pop.is_finished(), "{mode:?}: a BLPOP ended early");
                let key = format!("{tag}:empty:{i}");
                let _: i64 = c.rpush(&key, i).unwrap();
                let got = pop.join().unwrap().unwrap();
                assert_eq!(got, Some((key, i.to_string())), "{mode:?}");
            }
            p99(samples)
        });
        eprintln!("held_commands: {mode:?} blocking: GET p99 {p99:?} (50 callers, 10 BLPOPs held)");
        assert!(
            p99 < Duration::from_millis(500),
            "{mode:?}: GET p99 {p99:?}"
        );
    }
}

/// Waits until `key`'s list holds exactly `[item]`, and no connection named `name` is
/// blocked any more: the item pushed after the caller gave up was left for others.
async fn item_left_intact(c: &Client, mode: Mode, name: &str, key: &str, item: &str) {
    let _: i64 = c.rpush(key, item).await.unwrap();
    let started = Instant::now();
    loop {
        let items: Vec<String> = c.lrange(key, 0, -1).await.unwrap();
        assert_eq!(
            items,
            [item],
            "{mode:?}: the item was taken by a caller that gave up"
        );
        if blocked_named(&client_list(mode), name) == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{mode:?}: the given-up BLPOP is still armed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

on_both_runtimes! {
    /// A BLPOP whose future is dropped, or whose caller's timeout fires, while the server
    /// holds it: an item pushed afterwards stays in the list.
    async fn a_given_up_blpop_takes_no_item() {
        for mode in HELD_MODES {
            let name = format!("giveup-{mode:?}-{:?}", std::thread::current().id())
                .replace(['(', ')'], "");
            // A short response timeout, for the part where it fires.
            let url = with_option(&mode.url(), &format!("client_name={name}&response_timeout=1s"));
            let c = Client::open(&url).await.unwrap();
            let key = format!("giveup:{name}");
            let _: i64 = c.del(&key).await.unwrap();

            // Dropped: the task holding the future is aborted.
            let task = {
                let c = c.clone();
                let key = key.clone();
                tokio::spawn(async move { c.blpop::<Option<(String, String)>>(&key, 10.0).await })
            };
            wait_for("the BLPOP held", || blocked_named(&client_list(mode), &name) == 1).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            task.abort();
            assert!(task.await.unwrap_err().is_cancelled());
            item_left_intact(&c, mode, &name, &key, "one").await;
            let _: i64 = c.del(&key).await.unwrap();

            // The caller's own timeout fires.
            let gave_up = tokio::time::timeout(
                Duration::from_millis(200),
                c.blpop::<Option<(String, String)>>(&key, 10.0),
            )
            .await;
            assert!(gave_up.is_err(), "{mode:?}: BLPOP answered {gave_up:?}");
            item_left_intact(&c, mode, &name, &key, "two").await;

            // The client's response timeout fires (the command claims to hold for 100 ms,
            // the server holds it for 10 s).
            let _: i64 = c.del(&key).await.unwrap();
            let short = cmd("BLPOP").arg(&key).arg(10).blocks_for(Some(Duration::from_millis(100)));
            let timed_out = bounded("a BLPOP past its timeout", c.query::<Frame>(&short)).await;
            // After the response timeout (1 s) plus the 100 ms claimed.
            let err = timed_out.unwrap_err();
            assert!(
                err.kind() == ErrorKind::Timeout && err.may_have_run(),
                "{mode:?}: {err}"
            );
            item_left_intact(&c, mode, &name, &key, "three").await;
        }
    }
}

/// The same for `XREADGROUP ... BLOCK`: the entry added after the caller gave up is not
/// delivered to that consumer (nothing pending), and another read gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_up_xreadgroup_leaves_the_entry_undelivered() {
    for mode in HELD_MODES {
        let name = format!("xgiveup-{mode:?}");
        let c = Client::open(&with_option(&mode.url(), &format!("client_name={name}")))
            .await
            .unwrap();
        let stream = format!("xgiveup:{mode:?}");
        let _: i64 = c.del(&stream).await.unwrap();
        let _: () = c
            .query(&cmd("XGROUP").arg(["CREATE", &stream, "g", "$", "MKSTREAM"]))
            .await
            .unwrap();
        let read = cmd("XREADGROUP").arg([
            "GROUP", "g", "alice", "BLOCK", "10000", "STREAMS", &stream, ">",
        ]);
        let gave_up =
            tokio::time::timeout(Duration::from_millis(200), c.query::<Frame>(&read)).await;
        assert!(
            gave_up.is_err(),
            "{mode:?}: XREADGROUP answered {gave_up:?}"
        );
        let _: String = c
            .query(&cmd("XADD").arg([&stream, "*", "f", "v"]))
            .await
            .unwrap();
        wait_for("the given-up XREADGROUP to be gone", || {
            blocked_named(&client_list(mode), &name) == 0
        })
        .await;
        let pending: Frame = c.query(&cmd("XPENDING").arg([&stream, "g"])).await.unwrap();
        let Frame::Array(summary) = pending else {
            panic!("{pending:?}")
        };
        assert_eq!(
            summary[0],
            Frame::Integer(0),
            "{mode:?}: delivered to nobody: {summary:?}"
        );
        let now =
            cmd("XREADGROUP").arg(["GROUP", "g", "bob", "COUNT", "1", "STREAMS", &stream, ">"]);
        let got: Frame = c.query(&now).await.unwrap();
        assert!(format!("{got:?}").contains('v'), "{mode:?}: {got:?}");
    }
}

/// 200 BLPOPs at once on a client whose pool holds 16: at most 16 more connections open,
/// the rest wait for one, and every BLPOP is served (each item taken once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_is_bounded() {
    let name = "held-pool";
    let c = node_client(name, ClientOptions::default().with_max_dedicated(16)).await;
    let key = "held:pool";
    let _: i64 = c.del(key).await.unwrap();
    let pops: Vec<_> = (0..200)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.blpop::<Option<(String, i64)>>(key, 20.0).await })
        })
        .collect();
    wait_for("16 BLPOPs held", || {
        blocked_named(&client_list(Mode::Node), name) == 16
    })
    .await;
    // The shared connection and 16 dedicated ones, however long the others wait.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lines = client_list(Mode::Node);
    assert_eq!(open_named(&lines, name), 17, "{lines:#?}");
    let items: Vec<i64> = (0..200).collect();
    let _: i64 = c.rpush(key, &items[..]).await.unwrap();
    let mut got = Vec::new();
    for p in pops {
        let (_, item) = bounded("a waiting BLPOP served", p)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        got.push(item);
    }
    got.sort();
    assert_eq!(got, items, "each item taken exactly once");
    assert!(open_named(&client_list(Mode::Node), name) <= 17);
}

/// A BLPOP waits on the owner of its slot; the slot moves to another master meanwhile:
/// the old owner redirects it (`MOVED`) and the new owner answers it. Then its master fails
/// over (`CLUSTER FAILOVER`): the demoted master releases it unrun and the promoted replica
/// answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_blpop_follows_its_slot_and_its_master() {
    let c = Arc::new(Cluster::builder().start().unwrap());
    let url = format!("redis+cluster://{}", support::join(&c.seed_addrs()));
    let client = Client::open(&url).await.unwrap();
    let key = "{moving}:queue";
    let slot = c.keyslot(key).unwrap();
    let blocked = |addr: SocketAddr| support::info_int(&(&*c, addr), "clients", "blocked_clients");
    let held_pop = |item: &'static str| {
        let client = client.clone();
        tokio::spawn(async move {
            let got = client.blpop::<Option<(String, String)>>(key, 15.0).await;
            (got, item)
        })
    };

    // The slot moves.
    let (source, target) = support::owner_and_other(&c, slot);
    let pop = held_pop("moved");
    wait_for("the BLPOP held by the owner", || blocked(source) == 1).await;
    let moving = c.clone();
    support::off_runtime(move || moving.move_slot(slot, target).unwrap()).await;
    wait_for("the BLPOP held by the new owner", || blocked(target) == 1).await;
    let _: i64 = client.rpush(key, "moved").await.unwrap();
    let (got, item) = bounded("the moved BLPOP", pop).await.unwrap();
    assert_eq!(got.unwrap(), Some((key.to_string(), item.to_string())));

    // Its master fails over.
    let pop = held_pop("failed over");
    wait_for("the BLPOP held by the owner", || blocked(target) == 1).await;
    let failing = c.clone();
    let promoted = support::off_runtime(move || failing.failover_master(target).unwrap()).await;
    wait_for("the BLPOP held by the promoted replica", || {
        blocked(promoted) == 1
    })
    .await;
    let _: i64 = client.rpush(key, "failed over").await.unwrap();
    let (got, item) = bounded("the BLPOP across a failover", pop).await.unwrap();
    assert_eq!(got.unwrap(), Some((key.to_string(), item.to_string())));
}

/// A BLPOP waits on a sentinel-managed master. A failover (`SENTINEL FAILOVER`) demotes
/// it, or it is killed: either way the BLPOP fails clearly, as one that may have run, well
/// before its block time plus the response timeout, and the client serves BLPOPs on the
/// new master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_blpop_follows_a_sentinel_failover() {
    let t = Arc::new(SentinelTopology::builder().local().start().unwrap());
    let url = format!(
        "redis+sentinel://{}/{}",
        support::join(t.sentinel_addrs()),
        t.service()
    );
    let client = Client::open(&url).await.unwrap();
    let key = "failover:queue";
    let blocked = |addr: SocketAddr| support::info_int(&(&*t, addr), "clients", "blocked_clients");
    let held_pop = || {
        let client = client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = client.blpop::<Option<(String, String)>>(key, 10.0).await;
            (r, started.elapsed())
        })
    };

    // A graceful failover.
    let first = t.master_addr().unwrap();
    let pop = held_pop();
    wait_for("the BLPOP held by the master", || blocked(first) == 1).await;
    let failing = t.clone();
    let second = support::off_runtime(move || failing.failover().unwrap()).await;
    // The sentinels end every client of the demoted master (`CLIENT KILL TYPE normal`), the
    // BLPOP's connection too, before it can say it was released unrun: the caller is told
    // it may have run, and, as nothing did, the next item stays for the next caller.
    let (got, took) = bounded("the BLPOP across a failover", pop).await.unwrap();
    let err = got.expect_err("the demoted master's clients are killed");
    assert!(err.may_have_run(), "{err}");
    assert!(took < Duration::from_secs(10 + 5), "took {took:?}");
    let _: i64 = client.rpush(key, "promoted").await.unwrap();
    let got = client
        .blpop::<Option<(String, String)>>(key, 1.0)
        .await
        .unwrap();
    assert_eq!(got, Some((key.to_string(), "promoted".to_string())));
    assert_eq!(t.master_addr().unwrap(), second);

    // The master is killed.
    let pop = held_pop();
    wait_for("the BLPOP held by the master", || blocked(second) == 1).await;
    let killed = t.clone();
    support::off_runtime(move || killed.kill_master().unwrap()).await;
    let (result, took) = bounded("the BLPOP on a killed master", pop).await.unwrap();
    let err = result.expect_err("no reply can come from a killed master");
    assert!(err.may_have_run(), "{err}");
    assert!(took < Duration::from_secs(10 + 5), "took {took:?}");
    let waited = t.clone();
    let third = support::off_runtime(move || {
        waited
            .wait_for_new_master(second, support::DEADLINE)
            .unwrap()
    })
    .await;
    // The client follows: a BLPOP on the next master is served.
    let got = bounded("a BLPOP after the failover", async {
        loop {
            let _: Result<i64, _> = client.rpush(key, "after").await;
            match client.blpop::<Option<(String, String)>>(key, 1.0).await {
                Ok(Some(got)) => return got,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    assert_eq!(got.1, "after");
    assert_eq!(t.master_addr().unwrap(), third);
}

/// Sequential BLPOPs reuse one dedicated connection, which closes once unused for
/// `dedicated_idle`; a pipeline holding a BLPOP goes on a dedicated connection too, and
/// does not stall GETs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedicated_connections_are_reused_then_closed() {
    let name = "held-reuse";
    let c = node_client(
        name,
        ClientOptions::default().with_dedicated_idle(Duration::from_millis(300)),
    )
    .await;
    let key = "held:reuse";
    let _: i64 = c.rpush(key, &[1, 2, 3][..]).await.unwrap();
    for _ in 0..3 {
        let got: Option<(String, i64)> = c.blpop(key, 1.0).await.unwrap();
        assert!(got.is_some());
        assert_eq!(
            open_named(&client_list(Mode::Node), name),
            2,
            "one shared, one dedicated"
        );
    }
    wait_for("the unused dedicated connection to close", || {
        open_named(&client_list(Mode::Node), name) == 1
    })
    .await;

    let held = {
        let c = c.clone();
        tokio::spawn(async move {
            c.pipeline::<(i64, Option<(String, i64)>)>(
                slotline_conn::pipe().incr("held:reuse:n").blpop(key, 5.0),
            )
            .await
        })
    };
    wait_for("the pipeline's BLPOP held", || {
        blocked_named(&client_list(Mode::Node), name) == 1
    })
    .await;
    let started = Instant::now();
    let _: Option<String> = c.get("held:reuse:other").await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "a GET waited behind the pipeline"
    );
    let _: i64 = c.rpush(key, 7).await.unwrap();
    let (_, popped) = bounded("the held pipeline", held).await.unwrap().unwrap();
    assert_eq!(popped, Some((key.to_string(), 7)));
}

/// On a sentinel service's replicas, `XREAD ... BLOCK` (a read) waits on a dedicated
/// connection to a replica: GETs go on, and the entry written on the master reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_stream_read_on_replicas_does_not_stall_them() {
    let replicas = Client::open(&Mode::SentinelReplicas.url()).await.unwrap();
    let master = Client::open(&Mode::SentinelMaster.url()).await.unwrap();
    let stream = "held:replica:stream";
    let _: i64 = master.del(stream).await.unwrap();
    let reads: Vec<_> = (0..5)
        .map(|_| {
            let r = replicas.clone();
            tokio::spawn(async move {
                r.query::<Frame>(&cmd("XREAD").arg(["BLOCK", "5000", "STREAMS", stream, "$"]))
                    .await
            })
        })
        .collect();
    // Wait until the replicas hold the five reads.
    wait_for("the XREADs held by replicas", || {
        let t = sentinel();
        t.replica_addrs()
            .unwrap()
            .iter()
            .map(|a| support::info_int(&(t, *a), "clients", "blocked_clients"))
            .sum::<i64>()
            >= 5
    })
    .await;
    let started = Instant::now();
    for _ in 0..100 {
        let _: Option<String> = replicas.get("held:replica:k").await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "GETs waited behind the XREADs"
    );
    let _: String = master
        .query(&cmd("XADD").arg([stream, "*", "f", "from-master"]))
        .await
        .unwrap();
    for r in reads {
        let got = bounded("a held XREAD", r).await.unwrap().unwrap();
        assert!(format!("{got:?}").contains("from-master"), "{got:?}");
    }
}

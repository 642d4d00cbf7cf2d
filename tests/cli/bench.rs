//! slotline bench against every mode.

use super::*;

// ---------------------------------------------------------------------------------------
// bench
// ---------------------------------------------------------------------------------------

/// Asserts a quiet `-t get,set` run: exit 0, one `requests per second` line per test, no
/// errors.
fn assert_bench(out: &Run, what: &str) {
    assert_bench_tests(out, what, &["GET", "SET"]);
}

/// Asserts a quiet run of `tests`: exit 0, one `requests per second` line per test, in
/// order, no errors.
fn assert_bench_tests(out: &Run, what: &str, tests: &[&str]) {
    let text = out.expect_ok(what);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("requests per second"))
        .collect();
    assert_eq!(lines.len(), tests.len(), "{what}: {text}");
    for (line, test) in lines.iter().zip(tests) {
        assert!(line.starts_with(&format!("{test}: ")), "{what}: {text}");
    }
    for l in lines {
        assert!(!l.contains("errors"), "{what}: {l}");
        let rate: f64 = l
            .split_whitespace()
            .nth(1)
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("{what}: no rate in {l:?}"));
        assert!(rate > 0.0, "{what}: {l}");
    }
}

const BENCH: [&str; 7] = ["bench", "-n", "2000", "-c", "10", "-t", "get,set"];

fn bench(url: &str) -> Run {
    let mut args = vec!["--url", url];
    args.extend_from_slice(&BENCH);
    args.push("-q");
    slotline(&args)
}

#[test]
fn bench_standalone() {
    let t = standalone();
    assert_bench(&bench(&t.url()), "bench (standalone)");
    // redis-benchmark's -h/-p also name the node.
    let mut args = BENCH.to_vec();
    let (host, port) = (t.addr().ip().to_string(), t.addr().port().to_string());
    args.extend(["-h", &host, "-p", &port, "-q"]);
    if t.auth().is_none() {
        assert_bench(&slotline(&args), "bench -h -p (standalone)");
    }
    // INCR runs on counters of its own (not on the SET test's "xxx" values); explicit
    // pipelines; two runtime threads.
    let url = t.url();
    let out = slotline(&[
        "--url",
        &url,
        "bench",
        "-n",
        "1000",
        "-c",
        "5",
        "-P",
        "10",
        "-r",
        "50",
        "-t",
        "set,incr,ping",
        "--runtime",
        "multi:2",
        "-q",
    ]);
    assert_bench_tests(&out, "bench -t set,incr,ping", &["SET", "INCR", "PING"]);
}

/// `--cache`: reads over a small keyspace are answered by the client-side cache (the
/// report's share of hits), in node and cluster mode; without it no share is reported.
#[test]
fn bench_cache() {
    let cached = |url: &str| {
        let out = slotline(&[
            "--url", url, "bench", "-n", "4000", "-c", "10", "-r", "50", "-t", "set,get",
            "--cache", "1mb", "-q",
        ]);
        assert_bench_tests(&out, "bench --cache", &["SET", "GET"]);
        let text = out.expect_ok("bench --cache");
        let get = text.lines().find(|l| l.starts_with("GET: ")).unwrap();
        let share: f64 = get
            .split("cache hits=")
            .nth(1)
            .and_then(|s| s.split('%').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no share of hits in {get:?}"));
        // 50 keys, 4,000 reads: all but the first read of each key (and a few read
        // together before the first reply) are hits.
        assert!(share > 80.0, "{get}");
    };
    cached(&standalone().url());
    cached(&cluster_url(""));
    let plain = bench(&standalone().url());
    assert!(!plain.expect_ok("bench").contains("cache hits"));
}

/// `stats`: a short load, then one row per node the client used and a total; `bench`
/// prints each node's latency under its summary line.
#[test]
fn stats_and_bench_show_each_node() {
    let c = cluster();
    let url = cluster_url("");
    let out = slotline(&[
        "--url",
        &url,
        "stats",
        "--seconds",
        "0.5",
        "-c",
        "4",
        "-r",
        "200",
    ]);
    let text = out.expect_ok("stats (cluster)");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("127.0.0.1:"))
        .collect();
    assert_eq!(rows.len(), c.masters().unwrap().len(), "{text}");
    let total: u64 = text
        .lines()
        .find(|l| l.starts_with("total"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("a total row: {text}"));
    assert!(total > 0, "{text}");
    assert!(text.contains("redirects: MOVED"), "{text}");

    let node = standalone().url();
    let out = slotline(&["--url", &node, "stats", "--no-load"]);
    assert!(out.expect_ok("stats --no-load").contains("total"));
    let out = slotline(&[
        "--url", &url, "bench", "-n", "2000", "-r", "1000", "-t", "get", "-q",
    ]);
    let text = out.expect_ok("bench per node");
    let nodes = text
        .lines()
        .filter(|l| l.starts_with("  127.0.0.1:"))
        .count();
    assert_eq!(nodes, c.masters().unwrap().len(), "{text}");
    let bad = slotline(&["--url", &node, "stats", "-t", "flush"]);
    assert!(bad
        .expect_failure("stats -t flush")
        .contains("unknown test"));
}

#[test]
fn bench_sentinel() {
    let t = sentinel();
    assert_bench(&bench(&two_sentinels_url()), "bench (sentinel)");
    // The SETs went to the master the sentinels name.
    let master = t.master_addr().unwrap();
    let stored = t
        .conn(master)
        .unwrap()
        .cmd(&["EXISTS", "key:__rand_int__"])
        .unwrap();
    assert_eq!(stored.as_int(), Some(1));
}

#[test]
fn bench_cluster() {
    let c = cluster();
    assert_bench(&bench(&cluster_url("")), "bench (cluster URL)");
    // `bench --url` after the subcommand, with random keys over every master.
    let url = cluster_url("");
    let mut args = BENCH.to_vec();
    args.extend(["--url", &url, "-r", "1000", "-q"]);
    assert_bench(&slotline(&args), "bench -r (cluster URL)");
    // --cluster with -h/-p naming one node.
    if c.auth().is_none() {
        let seed = c.seed_addrs()[0];
        let (host, port) = (seed.ip().to_string(), seed.port().to_string());
        let mut args = BENCH.to_vec();
        args.extend(["--cluster", "-h", &host, "-p", &port, "-q"]);
        assert_bench(&slotline(&args), "bench --cluster -h -p");
    }
    // --tagged: each caller's keys carry one master's hash tag, as redis-benchmark
    // --cluster lays them out; explicit pipelines then stay on one node.
    let mut args = BENCH.to_vec();
    args.extend(["--url", &url, "--tagged", "-r", "1000", "-P", "4", "-q"]);
    assert_bench(&slotline(&args), "bench --tagged");
    for master in c.masters().unwrap() {
        let keys = c.cmd(master, &["KEYS", "key:{*"]).unwrap();
        let tags: BTreeSet<String> = keys
            .iter()
            .filter_map(|k| k.as_str())
            .filter_map(|k| k.split_once('{').and_then(|(_, rest)| rest.split_once('}')))
            .map(|(tag, _)| tag.to_string())
            .collect();
        assert_eq!(tags.len(), 1, "one tag per master, {master} has {tags:?}");
    }
}

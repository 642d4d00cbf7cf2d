//! The `slotline` command line as a real process against the test bed: one command in each
//! mode (single node, sentinel, cluster) with replies printed as `redis-cli` prints them,
//! `topology` in sentinel and cluster mode, `bench` in each mode, and bad URLs or
//! unreachable nodes failing with a message on stderr and a non-zero exit, never a panic.
//!
//! The binary lives in another package (`slotline`), so it is built once here with the
//! `cargo` that runs the tests (`cargo build -p slotline --bin slotline`), which finds the
//! same target directory and profile; every run of it has a deadline.
//!
//! The topologies are shared by the tests of this file (one of each kind, started on first
//! use); each test uses keys of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{cluster, cluster_url, dead_port, encode, join, sentinel, standalone, userinfo};

use std::collections::BTreeSet;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use slotline_testbed::SentinelTopology;

/// Deadline of one run of `slotline`.
const RUN_DEADLINE: Duration = Duration::from_secs(60);
/// Deadline of building it (a cold build of the facade on a small machine).
const BUILD_DEADLINE: Duration = Duration::from_secs(900);

// ---------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------

/// What one run printed and how it ended.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Asserts exit 0; returns stdout.
    fn expect_ok(&self, what: &str) -> String {
        assert!(self.ok(), "{what}: expected success, got {self:#?}");
        self.stdout.clone()
    }

    /// Asserts a non-zero exit with a readable message on stderr and no panic; returns
    /// stderr.
    fn expect_failure(&self, what: &str) -> String {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "{what}: expected a non-zero exit, got {self:#?}"
        );
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "{what}: panicked: {self:#?}"
        );
        assert!(
            self.stderr.starts_with("slotline: ") && self.stderr.trim().len() > 20,
            "{what}: expected a message on stderr, got {self:#?}"
        );
        assert!(
            self.stdout.trim().is_empty(),
            "{what}: nothing on stdout, got {self:#?}"
        );
        self.stderr.clone()
    }
}

/// Runs `program args` with a deadline; kills it and fails the test when it is passed.
fn run_with_deadline(mut command: Command, deadline: Duration) -> Run {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let end = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {deadline:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Builds the `slotline` binary once (same cargo, same profile, same target directory as
/// this test) and returns its path, as cargo reports it.
fn slotline_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let mut build = Command::new(env!("CARGO"));
        build.current_dir(workspace_root()).args([
            "build",
            "-q",
            "-p",
            "slotline",
            "--bin",
            "slotline",
            "--message-format=json-render-diagnostics",
        ]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let out = run_with_deadline(build, BUILD_DEADLINE);
        assert!(out.ok(), "building the slotline binary failed: {out:#?}");
        // The compiler-artifact message of the bin target names the executable.
        let path = out
            .stdout
            .lines()
            .filter(|l| l.contains("\"compiler-artifact\"") && l.contains("\"kind\":[\"bin\"]"))
            .filter_map(|l| {
                let rest = &l[l.find("\"executable\":\"")? + "\"executable\":\"".len()..];
                Some(PathBuf::from(&rest[..rest.find('"')?]))
            })
            .find(|p| p.file_name().is_some_and(|n| n == "slotline"))
            .unwrap_or_else(|| {
                // Fallback: the usual place in the target directory.
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .map(|d| {
                        if d.is_relative() {
                            workspace_root().join(d)
                        } else {
                            d
                        }
                    })
                    .unwrap_or_else(|| workspace_root().join("target"));
                let profile = if cfg!(debug_assertions) {
                    "debug"
                } else {
                    "release"
                };
                target.join(profile).join("slotline")
            });
        assert!(path.is_file(), "no slotline binary at {}", path.display());
        path
    })
}

/// Runs `slotline args...` (without `$SLOTLINE_URL` from the environment).
/// Runs `slotline args` with its replies formatted as on a terminal (`--no-raw`: stdout is
/// a pipe here, where redis-cli, and so slotline, would print them raw).
fn slotline(args: &[&str]) -> Run {
    let mut command = Command::new(slotline_bin());
    command
        .arg("--no-raw")
        .args(args)
        .env_remove("SLOTLINE_URL");
    run_with_deadline(command, RUN_DEADLINE)
}

// ---------------------------------------------------------------------------------------
// Topologies and URLs
// ---------------------------------------------------------------------------------------

/// `redis+sentinel://[data creds@]s1,s2/service[?sentinel_password=..]` over `sentinels`.
fn sentinel_url(t: &SentinelTopology, sentinels: &[SocketAddr]) -> String {
    let mut url = format!(
        "redis+sentinel://{}{}/{}",
        userinfo(t.data_auth()),
        join(sentinels),
        t.service()
    );
    if let Some(a) = t.sentinel_auth() {
        url.push_str(&format!("?sentinel_password={}", encode(&a.password)));
        if let Some(user) = &a.user {
            url.push_str(&format!("&sentinel_username={}", encode(user)));
        }
    }
    url
}

/// The first two sentinels, as a user would name them.
fn two_sentinels_url() -> String {
    let t = sentinel();
    sentinel_url(t, &t.sentinel_addrs()[..2.min(t.sentinel_addrs().len())])
}

/// The data rows of a table printed by `topology`: the lines after the `----` rule, split
/// on whitespace.
fn table_rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip_while(|l| !l.starts_with("---"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.contains(" of 16384 slots"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

// ---------------------------------------------------------------------------------------
// One command in each mode
// ---------------------------------------------------------------------------------------

#[test]
fn standalone_replies_print_like_redis_cli() {
    // redis-cli's RESP2 printing, whatever protocol the suite runs under (RESP3's maps and
    // sets print as redis-cli -3 prints them: see `cli::format`'s tests).
    let url = support::with_option(&standalone().url(), "protocol=2");
    let cli = |args: &[&str]| {
        let mut all = vec!["--url", url.as_str()];
        all.extend_from_slice(args);
        slotline(&all)
    };
    for k in ["cli:sa:str", "cli:sa:n", "cli:sa:hash"] {
        cli(&["DEL", k]).expect_ok("DEL");
    }
    assert_eq!(
        cli(&["SET", "cli:sa:str", "a b\"c"]).expect_ok("SET"),
        "OK\n"
    );
    assert_eq!(
        cli(&["GET", "cli:sa:str"]).expect_ok("GET"),
        "\"a b\\\"c\"\n"
    );
    assert_eq!(cli(&["GET", "cli:sa:missing"]).expect_ok("GET"), "(nil)\n");
    assert_eq!(
        cli(&["HGETALL", "cli:sa:hash"]).expect_ok("HGETALL"),
        "(empty array)\n"
    );
    assert_eq!(
        cli(&["INCR", "cli:sa:n"]).expect_ok("INCR"),
        "(integer) 1\n"
    );
    assert_eq!(
        cli(&["INCRBY", "cli:sa:n", "41"]).expect_ok("INCRBY"),
        "(integer) 42\n"
    );
    assert_eq!(
        cli(&["RPUSH", "cli:sa:list", "x", "y"]).expect_ok("RPUSH"),
        "(integer) 2\n"
    );
    assert_eq!(
        cli(&["LRANGE", "cli:sa:list", "0", "-1"]).expect_ok("LRANGE"),
        "1) \"x\"\n2) \"y\"\n"
    );
    cli(&["DEL", "cli:sa:list"]).expect_ok("DEL");
    // An error reply is printed, as redis-cli does, and is not a failure of the program.
    let err = cli(&["INCR", "cli:sa:str"]);
    assert_eq!(
        err.expect_ok("INCR on a string"),
        "(error) ERR value is not an integer or out of range\n"
    );
    let unknown = cli(&["NOSUCHCOMMAND", "x"]);
    assert!(
        unknown
            .expect_ok("unknown command")
            .starts_with("(error) ERR unknown command"),
        "{unknown:#?}"
    );
    // The -u short flag and $SLOTLINE_URL name the server too.
    assert_eq!(
        slotline(&["-u", &url, "GET", "cli:sa:missing"]).expect_ok("-u"),
        "(nil)\n"
    );
    let mut with_env = Command::new(slotline_bin());
    with_env
        .args(["--no-raw", "GET", "cli:sa:missing"])
        .env("SLOTLINE_URL", &url);
    assert_eq!(
        run_with_deadline(with_env, RUN_DEADLINE).expect_ok("$SLOTLINE_URL"),
        "(nil)\n"
    );
}

#[test]
fn standalone_nested_reply_is_indented_like_redis_cli() {
    // RESP2's nesting, whatever protocol the suite runs under.
    let t = standalone();
    let url = support::with_option(&t.url(), "protocol=2");
    let out = slotline(&["--url", &url, "COMMAND", "INFO", "get"]);
    let text = out.expect_ok("COMMAND INFO get");
    let lines: Vec<&str> = text.lines().collect();
    // 1) one entry, itself an array: `1) 1) "get"` (or `1)  1) "get"` when the entry has
    //    ten fields or more, as in Redis 7: labels are right-aligned).
    assert!(
        lines[0].starts_with("1) ") && lines[0].trim_end().ends_with("1) \"get\""),
        "{text}"
    );
    // Its next fields are aligned under its first one, three columns in.
    let inner = lines[0].find("1) \"get\"").unwrap();
    assert_eq!(
        lines[1],
        format!("{}2) (integer) 2", " ".repeat(inner)),
        "{text}"
    );
    // The flags: an array inside the array, one level deeper.
    let flags = &lines[2];
    assert!(
        flags.starts_with(&" ".repeat(inner)) && flags.trim_start().starts_with("3) 1) "),
        "{text}"
    );
    let deeper = flags.find("1) ").unwrap();
    assert!(deeper > inner);
    assert!(
        lines[3].len() > deeper && lines[3][..deeper].trim().is_empty(),
        "the second flag is aligned under the first: {text}"
    );
    assert!(lines[3][deeper..].starts_with("2) "), "{text}");
    // And exactly what redis-cli prints on a terminal, when redis-cli is here to ask.
    let mut redis_cli = Command::new("redis-cli");
    redis_cli.args([
        "-h",
        &t.addr().ip().to_string(),
        "-p",
        &t.addr().port().to_string(),
        "--no-raw",
    ]);
    if let Some(a) = t.auth() {
        if let Some(user) = &a.user {
            redis_cli.args(["--user", user]);
        }
        redis_cli.args(["-a", &a.password, "--no-auth-warning"]);
    }
    redis_cli.args(["COMMAND", "INFO", "get"]);
    if Command::new("redis-cli")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        let reference = run_with_deadline(redis_cli, RUN_DEADLINE);
        assert_eq!(
            text,
            reference.expect_ok("redis-cli"),
            "slotline vs redis-cli"
        );
    } else {
        eprintln!("redis-cli not found: compared with the expected shape only");
    }
}

#[test]
fn sentinel_url_set_then_get() {
    let t = sentinel();
    let url = two_sentinels_url();
    assert_eq!(
        slotline(&["--url", &url, "SET", "cli:se:k", "through-sentinel"]).expect_ok("SET"),
        "OK\n"
    );
    assert_eq!(
        slotline(&["--url", &url, "GET", "cli:se:k"]).expect_ok("GET"),
        "\"through-sentinel\"\n"
    );
    // The write went to the master the sentinels name.
    let master = t.master_addr().unwrap();
    let stored = t.conn(master).unwrap().cmd(&["GET", "cli:se:k"]).unwrap();
    assert_eq!(stored.as_str(), Some("through-sentinel"));
    // role=replica reads from a replica (once the write has reached one).
    let replica_url = support::with_option(&url, "role=replica");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = slotline(&["--url", &replica_url, "GET", "cli:se:k"]);
        if out.expect_ok("GET from a replica") == "\"through-sentinel\"\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replica never had the key: {out:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `count` keys `prefix0..` whose slots are served by `count` different masters.
fn keys_on_different_masters(prefix: &str, count: usize) -> Vec<(String, SocketAddr)> {
    let c = cluster();
    let mut found: Vec<(String, SocketAddr)> = Vec::new();
    for n in 0..1000 {
        let key = format!("{prefix}{n}");
        let owner = c.slot_owner(c.keyslot(&key).unwrap()).unwrap();
        if found.iter().all(|(_, o)| *o != owner) {
            found.push((key, owner));
            if found.len() == count {
                return found;
            }
        }
    }
    panic!("no {count} keys on different masters");
}

#[test]
fn cluster_url_set_get_on_keys_in_different_slots() {
    let c = cluster();
    let url = cluster_url("");
    let keys = keys_on_different_masters("cli:cl:", c.masters().unwrap().len().min(3));
    assert!(keys.len() >= 2);
    for (i, (key, owner)) in keys.iter().enumerate() {
        let value = format!("v{i}");
        assert_eq!(
            slotline(&["--url", &url, "SET", key, &value]).expect_ok("SET"),
            "OK\n"
        );
        assert_eq!(
            slotline(&["--url", &url, "GET", key]).expect_ok("GET"),
            format!("\"{value}\"\n")
        );
        // The key is stored on the master that serves its slot.
        let stored = c.cmd(*owner, &["GET", key.as_str()]).unwrap();
        assert_eq!(stored.as_str(), Some(value.as_str()), "{key} on {owner}");
    }
    // A nested reply: CLUSTER SLOTS, indented as redis-cli does.
    let out = slotline(&["--url", &url, "CLUSTER", "SLOTS"]);
    let text = out.expect_ok("CLUSTER SLOTS");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("1) 1) (integer) "), "{text}");
    assert!(lines[1].starts_with("   2) (integer) "), "{text}");
    assert_eq!(lines[2], "   3) 1) \"127.0.0.1\"", "{text}");
    assert!(lines[3].starts_with("      2) (integer) "), "{text}");
    assert!(lines[4].starts_with("      3) \""), "{text}");
    let ranges = text.lines().filter(|l| !l.starts_with(' ')).count();
    assert_eq!(ranges, c.slot_map().unwrap().len(), "{text}");
}

// ---------------------------------------------------------------------------------------
// topology
// ---------------------------------------------------------------------------------------

#[test]
fn topology_shows_the_sentinel_view() {
    let t = sentinel();
    let out = slotline(&["topology", "--url", &two_sentinels_url()]);
    let text = out.expect_ok("topology (sentinel)");
    assert!(
        text.starts_with(&format!("service {}\n", t.service())),
        "{text}"
    );
    let rows = table_rows(&text);
    let of = |role: &str| -> BTreeSet<String> {
        rows.iter()
            .filter(|r| r[0] == role)
            .map(|r| r[1].clone())
            .collect()
    };
    let master = t.master_addr().unwrap().to_string();
    assert_eq!(of("master"), BTreeSet::from([master]), "{text}");
    let replicas: BTreeSet<String> = t
        .replica_addrs()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(replicas.len(), 2);
    assert_eq!(of("replica"), replicas, "{text}");
    // All the sentinels: the two named in the URL and the one learned from them.
    let sentinels: BTreeSet<String> = t.sentinel_addrs().iter().map(ToString::to_string).collect();
    assert_eq!(of("sentinel"), sentinels, "{text}");
    assert_eq!(rows.len(), 1 + 2 + sentinels.len(), "{text}");
}

#[test]
fn topology_shows_each_shard_of_a_sharded_sentinel_url() {
    let t = support::sharded();
    let url = support::sharded_url_of(t, "");
    let text = slotline(&["topology", "--url", &url]).expect_ok("topology (sharded)");
    let rows: Vec<Vec<String>> = table_rows(&text)
        .into_iter()
        .filter(|r| {
            r.get(1)
                .is_some_and(|svc| t.services().contains(&svc.as_str()))
        })
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    let ring = slotline_sentinel::Ring::new(t.services()).unwrap();
    for (i, (row, share)) in rows.iter().zip(ring.shares()).enumerate() {
        let svc = t.services()[i];
        assert_eq!(row[1], svc, "{text}");
        assert_eq!(row[2], format!("{:.1}", share * 100.0), "{text}");
        assert_eq!(row[4], t.master_addr_of(svc).unwrap().to_string(), "{text}");
        let replicas: Vec<String> = t
            .replica_addrs_of(svc)
            .unwrap()
            .iter()
            .map(|a| format!("{a}"))
            .collect();
        assert_eq!(
            row[5..].join(" ").replace(',', ""),
            replicas.join(" "),
            "{text}"
        );
    }
    assert!(text.contains("3 shards on a ketama ring"), "{text}");
    // A command through the same URL: MSET over the shards, MGET back in order.
    let cli = |args: &[&str]| {
        let mut all = vec!["--url", url.as_str()];
        all.extend_from_slice(args);
        slotline(&all)
    };
    cli(&["MSET", "cli:sh:a", "1", "cli:sh:b", "2", "cli:sh:c", "3"]).expect_ok("MSET");
    let got = cli(&["MGET", "cli:sh:c", "cli:sh:a", "cli:sh:none", "cli:sh:b"]).expect_ok("MGET");
    assert_eq!(got, "1) \"3\"\n2) \"1\"\n3) (nil)\n4) \"2\"\n", "{got}");
}

#[test]
fn topology_shows_the_slot_map() {
    let c = cluster();
    let expected = c.slot_map().unwrap();
    let masters: BTreeSet<SocketAddr> = c.masters().unwrap().into_iter().collect();
    // `--url` before the subcommand works as well as after it.
    for args in [
        vec!["topology", "--url", &cluster_url("")],
        vec!["--url", &cluster_url(""), "topology"],
    ] {
        let out = slotline(&args);
        let text = out.expect_ok("topology (cluster)");
        assert!(text.starts_with("slots "), "{text}");
        let rows = table_rows(&text);
        assert_eq!(rows.len(), expected.len(), "{text}");
        let mut next = 0u32;
        let mut seen = BTreeSet::new();
        for row in &rows {
            let (first, last) = row[0].split_once('-').unwrap();
            let (first, last): (u32, u32) = (first.parse().unwrap(), last.parse().unwrap());
            assert_eq!(first, next, "ranges are contiguous: {text}");
            assert_eq!(row[1], (last - first + 1).to_string(), "{text}");
            let master: SocketAddr = row[2].parse().unwrap();
            assert!(masters.contains(&master), "{master} is a master: {text}");
            seen.insert(master);
            // The same range, master and replicas as the test bed reports.
            let range = expected
                .iter()
                .find(|r| u32::from(r.start) == first && u32::from(r.end) == last)
                .unwrap_or_else(|| panic!("{first}-{last} not in {expected:?}"));
            assert_eq!(range.master, master, "{text}");
            let replicas: BTreeSet<SocketAddr> = row[3..]
                .iter()
                .filter(|s| *s != "-")
                .map(|s| s.trim_end_matches(',').parse().unwrap())
                .collect();
            assert_eq!(replicas, range.replicas, "{text}");
            next = last + 1;
        }
        assert_eq!(next, 16384, "slots 0-16383 are covered: {text}");
        assert_eq!(seen, masters, "{text}");
        assert!(
            text.contains(&format!(
                "16384 of 16384 slots served by {} masters",
                masters.len()
            )),
            "{text}"
        );
    }
}

#[path = "cli/bench.rs"]
mod bench;
#[path = "cli/failures.rs"]
mod failures;
#[path = "cli/redis_cli.rs"]
mod redis_cli;

/// redis-cli's TLS flags: `--tls --cacert` (and `--cert --key` for a server that wants a
/// client certificate) reach a TLS node; without the CA the refusal says why.
#[test]
fn tls_flags_like_redis_cli() {
    let node = slotline_testbed::Standalone::builder()
        .require_client_cert()
        .start()
        .unwrap();
    let files = node.tls_files().unwrap();
    let plain_url = format!("redis://{}", node.addr());
    let (ca, cert, key) = (
        files.ca_cert.to_string_lossy().into_owned(),
        files.client_cert.to_string_lossy().into_owned(),
        files.client_key.to_string_lossy().into_owned(),
    );
    let with_cert = [
        "--url", &plain_url, "--tls", "--cacert", &ca, "--cert", &cert, "--key", &key,
    ];
    let mut set = with_cert.to_vec();
    set.extend(["SET", "cli:tls", "on"]);
    assert_eq!(slotline(&set).expect_ok("SET over TLS"), "OK\n");
    let mut get = with_cert.to_vec();
    get.extend(["GET", "cli:tls"]);
    assert_eq!(slotline(&get).expect_ok("GET over TLS"), "\"on\"\n");
    let err = slotline(&[
        "--url", &plain_url, "--tls", "--cert", &cert, "--key", &key, "PING",
    ])
    .expect_failure("TLS without the CA");
    assert!(err.contains("UnknownIssuer"), "{err}");
}

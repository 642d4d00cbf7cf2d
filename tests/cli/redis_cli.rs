//! `slotline` standing in for Debian's `redis-cli`: a corpus of commands over strings,
//! hashes, lists, sets, sorted sets, streams, scripts, keys, server and RESP3 replies,
//! each run through both against the same server from the same data, into a pipe (raw
//! output) and in a pseudo-terminal (`script`: formatted output). Same bytes on stdout,
//! same exit code. Values that differ between two runs of the same command (none in this
//! corpus: stream ids are given, no times or client ids are read) would be masked here.

use super::*;

use slotline_testbed::Standalone;

/// The commands, each as its words (RESP3 ones start with `-3`).
const CORPUS: &[&[&str]] = &[
    // strings
    &["SET", "s", "hello"],
    &["GET", "s"],
    &["GET", "nothing"],
    &["APPEND", "s", " world"],
    &["STRLEN", "s"],
    &["GETRANGE", "s", "0", "4"],
    &["SETRANGE", "s", "0", "J"],
    &["INCR", "n"],
    &["INCRBY", "n", "41"],
    &["DECR", "n"],
    &["INCRBYFLOAT", "f", "1.5"],
    &["MSET", "a", "1", "b", "2"],
    &["MGET", "a", "nothing", "b"],
    &["SETNX", "a", "9"],
    &["GETDEL", "b"],
    &["SET", "quoted", "a\"b\\c\td\x01"],
    &["GET", "quoted"],
    // keys
    &["EXISTS", "a", "b", "s"],
    &["TYPE", "h"],
    &["TYPE", "s"],
    &["DEL", "a", "nothing"],
    &["RENAME", "s", "s2"],
    &["EXPIRE", "s2", "1000"],
    &["PERSIST", "s2"],
    &["TTL", "s2"],
    &["KEYS", "h*"],
    &["DBSIZE"],
    &["OBJECT", "ENCODING", "l"],
    // hashes
    &["HSET", "h2", "a", "1", "b", "2"],
    &["HGET", "h", "f1"],
    &["HGETALL", "h"],
    &["HMGET", "h", "f1", "none", "f2"],
    &["HLEN", "h"],
    &["HEXISTS", "h", "f1"],
    &["HINCRBY", "h", "count", "5"],
    &["HKEYS", "h"],
    &["HVALS", "h"],
    &["HDEL", "h", "f1"],
    // lists
    &["RPUSH", "l2", "x", "y", "z"],
    &["LRANGE", "l", "0", "-1"],
    &["LRANGE", "nothing", "0", "-1"],
    &["LPOP", "l"],
    &["RPOP", "l", "2"],
    &["LLEN", "l"],
    &["LINDEX", "l", "1"],
    &["LINSERT", "l", "BEFORE", "b", "a0"],
    &["LPOS", "l", "c"],
    // sets (integers: an intset keeps them sorted)
    &["SADD", "set", "4", "5"],
    &["SMEMBERS", "set"],
    &["SISMEMBER", "set", "2"],
    &["SMISMEMBER", "set", "1", "9"],
    &["SCARD", "set"],
    &["SINTER", "set", "set"],
    // sorted sets
    &["ZADD", "z", "4", "d"],
    &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    &["ZREVRANGE", "z", "0", "1"],
    &["ZSCORE", "z", "b"],
    &["ZINCRBY", "z", "0.5", "a"],
    &["ZRANK", "z", "c"],
    &["ZCOUNT", "z", "1", "2"],
    &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "0", "2"],
    &["ZPOPMIN", "z"],
    // streams
    &["XADD", "x", "5-1", "f", "v"],
    &["XLEN", "x"],
    &["XRANGE", "x", "-", "+"],
    &["XREVRANGE", "x", "+", "-", "COUNT", "1"],
    // scripts
    &["EVAL", "return 1", "0"],
    &["EVAL", "return {1, 'two', {3}}", "0"],
    &["EVAL", "return redis.call('GET', KEYS[1])", "1", "n"],
    &["EVAL", "return redis.error_reply('MYERR no')", "0"],
    // server
    &["PING"],
    &["PING", "hi"],
    &["ECHO", "multi\nline"],
    &["CONFIG", "GET", "maxmemory-policy"],
    &["INFO", "keyspace"],
    &["COMMAND", "COUNT"],
    // errors the server sends back
    &["LPUSH", "n", "x"],
    &["NOSUCHCOMMAND", "a"],
    &["GET"],
    // RESP3
    &["-3", "HGETALL", "h"],
    &["-3", "SMEMBERS", "set"],
    &["-3", "ZSCORE", "z", "b"],
    &["-3", "HGETALL", "nothing"],
    &["-3", "EXISTS", "h"],
];

/// The data every command starts from.
fn seed(node: &Standalone) {
    let mut con = node.conn().unwrap();
    for c in [
        &["FLUSHALL"][..],
        &["SET", "s", "hello"],
        &["SET", "n", "10"],
        &["HSET", "h", "f1", "v1", "f2", "v2"],
        &["RPUSH", "l", "a", "b", "c", "d"],
        &["SADD", "set", "1", "2", "3"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["XADD", "x", "1-1", "k", "v"],
        &["XADD", "x", "2-1", "k", "w"],
    ] {
        con.cmd(c).unwrap();
    }
}

/// `program args` in a pseudo-terminal (util-linux `script`), as a person runs it.
fn in_terminal(program: &Path, args: &[String]) -> Run {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let line = std::iter::once(quote(&program.to_string_lossy()))
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut c = Command::new("script");
    c.args(["-qec", &line, "/dev/null"]);
    run_with_deadline(c, RUN_DEADLINE)
}

fn piped(program: &Path, args: &[String]) -> Run {
    let mut c = Command::new(program);
    c.args(args);
    run_with_deadline(c, RUN_DEADLINE)
}

/// The flags that reach `node` (its port, its password if any), then `words`: the same for
/// redis-cli and slotline.
fn cli_args(node: &Standalone, words: &[&str]) -> Vec<String> {
    let mut args = vec!["-p".to_string(), node.addr().port().to_string()];
    if let Some(a) = node.auth() {
        args.push("-a".into());
        args.push(a.password.clone());
        args.push("--no-auth-warning".into());
    }
    args.extend(words.iter().map(|w| w.to_string()));
    args
}

#[test]
fn the_same_bytes_as_redis_cli() {
    let node = Standalone::builder().local().start().unwrap();
    let redis_cli = Path::new("redis-cli");
    let mut compared = 0;
    for words in CORPUS {
        for terminal in [false, true] {
            let args = cli_args(&node, words);
            let run = |program: &Path| {
                seed(&node);
                match terminal {
                    true => in_terminal(program, &args),
                    false => piped(program, &args),
                }
            };
            let theirs = run(redis_cli);
            let ours = run(slotline_bin());
            let how = if terminal {
                "in a terminal"
            } else {
                "into a pipe"
            };
            assert_eq!(
                ours.stdout, theirs.stdout,
                "{words:?} {how}: slotline printed {:?}, redis-cli {:?} (stderr {:?})",
                ours.stdout, theirs.stdout, ours.stderr
            );
            assert_eq!(ours.code, theirs.code, "{words:?} {how}: exit status");
            compared += 1;
        }
    }
    assert!(compared >= 2 * 60, "{compared} comparisons");
}

/// `HELP` from the server's `COMMAND DOCS`, byte for byte as redis-cli prints it (its table
/// was generated from the same documentation): every command and subcommand the server
/// lists, every group, a prefix, a word nobody knows; over RESP3 too.
#[test]
fn help_is_the_same_as_redis_cli() {
    let node = Standalone::builder().local().start().unwrap();
    let listed = node.conn().unwrap().cmd(&["COMMAND", "LIST"]).unwrap();
    let mut queries: Vec<Vec<String>> = listed
        .iter()
        .filter_map(|name| name.as_str())
        .map(|name| name.split('|').map(str::to_string).collect())
        .collect();
    assert!(queries.len() > 200, "{} commands listed", queries.len());
    for group in [
        "@generic",
        "@string",
        "@list",
        "@set",
        "@sorted-set",
        "@hash",
        "@pubsub",
        "@transactions",
        "@connection",
        "@server",
        "@scripting",
        "@hyperloglog",
        "@cluster",
        "@geo",
        "@stream",
        "@bitmap",
    ] {
        queries.push(vec![group.to_string()]);
    }
    queries.push(vec!["client".into()]);
    queries.push(vec!["nosuchcommand".into()]);
    queries.push(vec!["-3".into(), "SET".into()]);
    for query in &queries {
        let (flags, words) = match query.first().map(String::as_str) {
            Some("-3") => (vec!["-3"], &query[1..]),
            _ => (vec![], &query[..]),
        };
        let words: Vec<&str> = flags
            .into_iter()
            .chain(["HELP"])
            .chain(words.iter().map(String::as_str))
            .collect();
        let args = cli_args(&node, &words);
        let theirs = piped(Path::new("redis-cli"), &args);
        let ours = piped(slotline_bin(), &args);
        assert_eq!(
            ours.stdout, theirs.stdout,
            "HELP {query:?}: slotline printed {:?}, redis-cli {:?} (stderr {:?})",
            ours.stdout, theirs.stdout, ours.stderr
        );
        assert_eq!(ours.code, theirs.code, "HELP {query:?}: exit status");
    }
}

/// `-e`: an error reply goes to stderr and exits with 1, as redis-cli's.
#[test]
fn an_error_reply_sets_the_exit_status_with_e() {
    let node = Standalone::builder().local().start().unwrap();
    let port = node.addr().port().to_string();
    for program in [Path::new("redis-cli"), slotline_bin()] {
        seed(&node);
        let run = piped(
            program,
            &[
                "-p".into(),
                port.clone(),
                "-e".into(),
                "LPUSH".into(),
                "s".into(),
                "x".into(),
            ],
        );
        assert_eq!(run.code, Some(1), "{program:?}: {run:?}");
        assert!(run.stderr.contains("WRONGTYPE"), "{program:?}: {run:?}");
        assert_eq!(run.stdout, "", "{program:?}");
    }
}

/// A tmux session running the prompt, killed when dropped.
struct Tmux {
    name: String,
}

impl Tmux {
    fn start(command: &str, home: &Path) -> Tmux {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("slotline-test-{}-{n}", std::process::id());
        // A tmux server of its own (`-L`): tests run side by side, and one test's last
        // session ending stops a shared server under another's new session.
        let status = Command::new("tmux")
            .args([
                "-L",
                &name,
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "160",
                "-y",
                "50",
            ])
            .arg(format!("HOME={} {command}", home.display()))
            .status()
            .expect("tmux (Debian's tmux package; make test installs it)");
        assert!(status.success(), "tmux new-session failed");
        Tmux { name }
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.name, "send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.name, "capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `what` `times` times.
    fn wait_for(&self, what: &str, times: usize) -> String {
        let end = Instant::now() + support::DEADLINE;
        loop {
            let screen = self.screen();
            if screen.matches(what).count() >= times {
                return screen;
            }
            assert!(
                Instant::now() < end,
                "waited for {what:?} ×{times}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.name, "kill-server"])
            .status();
    }
}

/// The prompt as a person uses it: typing, Tab to complete a command, arrow-up for the
/// history, a subscription left with Ctrl-C, `quit`.
#[test]
fn the_prompt_completes_remembers_and_leaves_a_subscription() {
    let node = Standalone::builder().local().start().unwrap();
    let port = node.addr().port();
    let home = std::env::temp_dir().join(format!("slotline-prompt-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let t = Tmux::start(&format!("{} -p {port}", slotline_bin().display()), &home);
    // tmux trims the space after the prompt at the end of a line.
    let prompt = format!("127.0.0.1:{port}>");
    t.wait_for(&prompt, 1);
    t.keys(&["SET greeting hello", "Enter"]);
    t.wait_for("OK", 1);
    // Tab completes the command's name; the hint shows its arguments.
    t.keys(&["HSET h field value", "Enter"]);
    t.wait_for("(integer) 1", 1);
    t.keys(&["HGETA", "Tab"]);
    t.wait_for(&format!("{prompt} HGETALL key"), 1);
    t.keys(&["h", "Enter"]);
    t.wait_for("1) \"field\"", 1);
    // Past the first argument, the hint is the rest of the server's syntax (`COMMAND DOCS`).
    t.keys(&["SET greeting "]);
    t.wait_for(&format!("{prompt} SET greeting value [NX|XX] [GET]"), 1);
    t.keys(&["C-u"]);
    t.keys(&["GET greeting", "Enter"]);
    t.wait_for("\"hello\"", 1);
    // Arrow-up brings the last line back.
    t.keys(&["Up"]);
    t.wait_for(&format!("{prompt} GET greeting"), 2);
    t.keys(&["Enter"]);
    t.wait_for("\"hello\"", 2);
    // A subscription streams until Ctrl-C, then the prompt is back.
    t.keys(&["SUBSCRIBE news", "Enter"]);
    t.wait_for("Reading messages", 1);
    let mut publisher = node.conn().unwrap();
    let end = Instant::now() + support::DEADLINE;
    while !t.screen().contains("\"extra\"") {
        publisher.cmd(&["PUBLISH", "news", "extra"]).unwrap();
        assert!(
            Instant::now() < end,
            "no message on screen:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    t.keys(&["C-c"]);
    let screen = t.wait_for(&prompt, 7);
    assert!(screen.contains("1) \"message\""), "{screen}");
    t.keys(&["quit", "Enter"]);
    // The history file is written as the prompt ends: poll for its content, not for the
    // file (it exists, empty, for a moment first).
    let history = home.join(".slotline_history");
    let end = Instant::now() + support::DEADLINE;
    loop {
        let saved = std::fs::read_to_string(&history).unwrap_or_default();
        if saved.contains("GET greeting") {
            break;
        }
        assert!(Instant::now() < end, "the history holds {saved:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&home);
}

/// `-u` takes every slotline URL, for one command and for the prompt: a sharded sentinel
/// URL answers one-shot commands; at a cluster's prompt `-c` says where a command went and
/// the prompt moves there; a sentinel prompt names the service.
#[test]
fn every_url_for_a_command_and_the_prompt() {
    let sharded = support::sharded_url_of(support::sharded(), "");
    assert_eq!(
        slotline(&["-u", &sharded, "SET", "cli:modes:k", "v"]).expect_ok("sharded SET"),
        "OK\n"
    );
    assert_eq!(
        slotline(&["-u", &sharded, "GET", "cli:modes:k"]).expect_ok("sharded GET"),
        "\"v\"\n"
    );

    let c = cluster();
    let url = cluster_url("");
    let home = std::env::temp_dir().join(format!("slotline-modes-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let t = Tmux::start(
        &format!("{} -c -u '{url}'", slotline_bin().display()),
        &home,
    );
    let screen = t.wait_for("[cluster]>", 1);
    let first = screen
        .lines()
        .find_map(|l| l.strip_suffix("[cluster]>"))
        .unwrap()
        .to_string();
    // A key whose slot another master serves.
    let key = (0..1000)
        .map(|i| format!("cli:modes:{i}"))
        .find(|k| c.slot_owner(c.keyslot(k).unwrap()).unwrap().to_string() != first)
        .unwrap();
    let owner = c.slot_owner(c.keyslot(&key).unwrap()).unwrap();
    t.keys(&[&format!("SET {key} there"), "Enter"]);
    t.wait_for(&format!("located at {owner}"), 1);
    t.wait_for(&format!("{owner}[cluster]>"), 1);
    t.keys(&["quit", "Enter"]);
    drop(t);

    let s = Tmux::start(
        &format!("{} -u '{}'", slotline_bin().display(), two_sentinels_url()),
        &home,
    );
    s.wait_for(&format!("[sentinel {}]>", sentinel().service()), 1);
    s.keys(&["PING", "Enter"]);
    s.wait_for("PONG", 1);
    drop(s);
    let sh = Tmux::start(
        &format!("{} -u '{sharded}'", slotline_bin().display()),
        &home,
    );
    sh.wait_for("[sharded]>", 1);
    sh.keys(&["GET cli:modes:k", "Enter"]);
    sh.wait_for("\"v\"", 1);
    drop(sh);
    let _ = std::fs::remove_dir_all(&home);
}

/// `--eval FILE keys , args` prints what redis-cli prints; `--scan --pattern` lists the
/// same keys (over every master of a cluster); `MONITOR` streams the commands others send.
#[test]
fn eval_scan_and_monitor() {
    let node = Standalone::builder().local().start().unwrap();
    let port = node.addr().port().to_string();
    let script = std::env::temp_dir().join(format!("slotline-eval-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        "return {KEYS[1], ARGV[1], redis.call('GET', KEYS[1])}",
    )
    .unwrap();
    let eval: Vec<String> = [
        "-p",
        &port,
        "--eval",
        &script.to_string_lossy(),
        "n",
        ",",
        "arg1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    seed(&node);
    let theirs = piped(Path::new("redis-cli"), &eval);
    seed(&node);
    let ours = piped(slotline_bin(), &eval);
    assert_eq!(ours.stdout, theirs.stdout, "--eval: {ours:?}");
    assert_eq!(ours.stdout, "n\narg1\n10\n");
    let _ = std::fs::remove_file(&script);

    let scan = |program: &Path| {
        let args: Vec<String> = ["-p", &port, "--scan", "--pattern", "*e*"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut keys: Vec<String> = piped(program, &args)
            .stdout
            .lines()
            .map(String::from)
            .collect();
        keys.sort();
        keys
    };
    seed(&node);
    assert_eq!(scan(slotline_bin()), scan(Path::new("redis-cli")));
    assert_eq!(scan(slotline_bin()), ["set"]);

    // Over a cluster: every master's keys.
    let c = cluster();
    let url = cluster_url("");
    let keys: Vec<String> = (0..30).map(|i| format!("cli:scan:{i}")).collect();
    for k in &keys {
        slotline(&["-u", &url, "SET", k, "1"]).expect_ok("SET");
    }
    let mut listed: Vec<String> = slotline(&["-u", &url, "--scan", "--pattern", "cli:scan:*"])
        .expect_ok("--scan")
        .lines()
        .map(String::from)
        .collect();
    listed.sort();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(listed, want);
    assert!(c.masters().unwrap().len() > 1);

    // MONITOR: OK, then the commands another client sends, until it is stopped.
    let mut monitor = Command::new(slotline_bin())
        .args(["-p", &port, "MONITOR"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = monitor.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut con = node.conn().unwrap();
    let end = Instant::now() + support::DEADLINE;
    while !seen.lock().unwrap().contains("\"monitored-key\"") {
        con.cmd(&["GET", "monitored-key"]).unwrap();
        assert!(
            Instant::now() < end,
            "MONITOR printed {:?}",
            seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = monitor.kill();
    let _ = monitor.wait();
    let _ = reader.join();
    let text = seen.lock().unwrap().clone();
    assert!(text.starts_with("OK\n"), "{text}");
    assert!(text.contains("\"GET\" \"monitored-key\""), "{text}");
}

/// The prompt over TLS, with redis-cli's TLS flags.
#[test]
fn the_prompt_over_tls() {
    let node = Standalone::builder().require_client_cert().start().unwrap();
    let files = node.tls_files().unwrap();
    let home = std::env::temp_dir().join(format!("slotline-tls-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let t = Tmux::start(
        &format!(
            "{} -u redis://{} --tls --cacert {} --cert {} --key {}",
            slotline_bin().display(),
            node.addr(),
            files.ca_cert.display(),
            files.client_cert.display(),
            files.client_key.display()
        ),
        &home,
    );
    t.wait_for(&format!("{}>", node.addr()), 1);
    t.keys(&["SET cli:tls:prompt yes", "Enter"]);
    t.wait_for("OK", 1);
    t.keys(&["GET cli:tls:prompt", "Enter"]);
    t.wait_for("\"yes\"", 1);
    drop(t);
    let _ = std::fs::remove_dir_all(&home);
}

//! The command line contract: `slotline-testbed up <topology> [--json]` prints one line when
//! ready, runs until SIGTERM/SIGINT, then leaves no process behind; `proxy` relays and
//! breaks a link as told on stdin.

// Helpers outside #[test] fns panic on failure just like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use slotline_testbed::{pid_alive, wire};

const BIN: &str = env!("CARGO_BIN_EXE_slotline-testbed");

fn up(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("up")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

/// Every `"addr":"..."` of the JSON line.
fn addrs(json: &str) -> Vec<SocketAddr> {
    json.split("\"addr\":\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

fn redis_pid(addr: SocketAddr) -> u32 {
    let reply = wire::query(addr, None, &["INFO", "server"]).unwrap();
    let info = reply.as_str().unwrap();
    let line = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .unwrap();
    line.trim().parse().unwrap()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn up_standalone_json_then_sigterm() {
    let (mut child, line) = up(&["standalone", "--json"]);
    assert!(
        line.starts_with(r#"{"topology":"standalone","nodes":[{"addr":"127.0.0.1:"#),
        "{line}"
    );
    assert!(
        line.ends_with("],\"sentinels\":[],\"service\":null,\"services\":[],\"tls\":null}\n"),
        "{line}"
    );
    let nodes = addrs(&line);
    assert_eq!(nodes.len(), 1);
    let pid = redis_pid(nodes[0]);
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success());
    assert!(!pid_alive(pid));
}

#[test]
fn up_cluster_json_then_sigint() {
    let (mut child, line) = up(&["cluster", "--json"]);
    assert!(
        line.starts_with(r#"{"topology":"cluster","nodes":["#),
        "{line}"
    );
    let nodes = addrs(&line);
    assert_eq!(nodes.len(), 6);
    assert_eq!(line.matches(r#""role":"master""#).count(), 3);
    assert_eq!(line.matches(r#""role":"replica""#).count(), 3);
    let pids: Vec<u32> = nodes.iter().map(|&a| redis_pid(a)).collect();
    signal(&child, "-INT");
    assert!(child.wait().unwrap().success());
    assert!(pids.iter().all(|&p| !pid_alive(p)));
}

#[test]
fn up_sentinel_human_line() {
    let (mut child, line) = up(&["sentinel"]);
    assert!(line.starts_with("sentinel ready: 127.0.0.1:"), "{line}");
    assert!(line.contains("(service mymaster)"), "{line}");
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success());
}

#[test]
fn unknown_topology_is_an_error() {
    let out = Command::new(BIN).args(["up", "mesh"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown topology"), "{err}");
}

#[test]
fn proxy_relays_stalls_and_passes_again_as_told_on_stdin() {
    use std::io::Write;
    let node = slotline_testbed::Standalone::builder()
        .local()
        .start()
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["proxy", &node.addr().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let at: SocketAddr = line.trim().parse().unwrap();
    assert_eq!(
        wire::query(at, None, &["PING"]).unwrap().as_str(),
        Some("PONG")
    );
    let mut stdin = child.stdin.take().unwrap();
    let mut say = |cmd: &str| {
        writeln!(stdin, "{cmd}").unwrap();
        let mut ack = String::new();
        out.read_line(&mut ack).unwrap();
        assert_eq!(ack.trim(), "ok", "{cmd}");
    };
    say("stall");
    let mut con = wire::Conn::connect(at).unwrap();
    con.set_timeout(std::time::Duration::from_millis(300))
        .unwrap();
    assert!(con.cmd(&["PING"]).is_err(), "a stalled proxy answered");
    say("pass");
    assert_eq!(
        wire::query(at, None, &["PING"]).unwrap().as_str(),
        Some("PONG")
    );
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

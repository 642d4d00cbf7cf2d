//! Faults a network makes, on loopback: partitions (every packet to and/or from a node's
//! ports dropped, silently, as a cut cable or a firewall does) through nftables, inside a
//! network namespace of the test's own so that nothing outside it is touched and parallel
//! tests stay apart.
//!
//! A killed process's kernel answers with a reset and a frozen one's still acknowledges;
//! a partitioned node sends nothing at all, and a client learns of it only from its own
//! timeouts (response timeout, `TCP_USER_TIMEOUT`, keepalive).
//!
//! ```no_run
//! # fn main() -> slotline_testbed::Result<()> {
//! use slotline_testbed::{net, Direction, Standalone};
//! // In a test: run it again alone in a fresh namespace (this call returns false in the
//! // parent, which has checked the child's outcome).
//! if !net::isolated("my_test")? {
//!     return Ok(());
//! }
//! let node = Standalone::start()?;
//! node.process()?.partition(Direction::Both)?;   // packets to and from it dropped
//! node.process()?.heal()?;
//! # Ok(()) }
//! ```

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};

/// Set in the environment of a test run again inside its own namespace.
pub const ENV_ISOLATED: &str = "SLOTLINE_NETNS";
/// The nftables table the test bed's rules live in.
const TABLE: &str = "slotline_testbed";

/// The address a data node listening on `port` opens its own connections from, inside an
/// isolated namespace (`bind-source-addr`): `127.<port / 256>.<port % 256>.1`, one per node,
/// so that a partition drops the connections it makes (replication, the cluster bus) as
/// well as those made to its ports.
pub fn source_ip(port: u16) -> Ipv4Addr {
    let [high, low] = port.to_be_bytes();
    Ipv4Addr::new(127, high, low, 1)
}

/// Which packets of a node a partition drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Both ways: the node neither receives nor sends (a full partition).
    Both,
    /// Packets to the node only: requests vanish, the node's own packets still leave.
    ToNode,
    /// Packets from the node only: requests arrive and run, their replies vanish.
    FromNode,
}

impl Direction {
    /// `both`, `to`, `from` (the command line's names).
    pub fn parse(s: &str) -> Option<Direction> {
        Some(match s {
            "both" => Direction::Both,
            "to" | "in" => Direction::ToNode,
            "from" | "out" => Direction::FromNode,
            _ => return None,
        })
    }
}

/// Whether this process was started inside a namespace of its own by [`isolated`].
pub fn is_isolated() -> bool {
    std::env::var(ENV_ISOLATED).is_ok_and(|v| v == "1")
}

/// Why network faults cannot be made here (`None`: they can): private network namespaces
/// (`unshare --net`, as root) and nftables (`nft`) are both needed.
pub fn unavailable() -> Option<String> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        let probe = Command::new("unshare")
            .args(["--net", "--", "nft", "list", "tables"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match probe {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(format!(
                "`unshare --net nft list tables` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Some(format!(
                "cannot run unshare: {e} (util-linux, and nftables)"
            )),
        }
    })
    .clone()
}

/// For a test that makes network faults: `Ok(true)` when it runs inside a network
/// namespace of its own, so go on. Otherwise runs this test binary again for `test` alone
/// (`--exact`), inside a fresh namespace (`unshare --net`, loopback up), passes its output
/// through, and returns `Ok(false)` when it passed (an error when it failed): the caller
/// returns. Where namespaces or nftables are missing, says so on stderr and returns
/// `Ok(false)` (the test is skipped, loudly), unless `CI` is set: then it is an error.
pub fn isolated(test: &str) -> Result<bool> {
    if is_isolated() {
        return Ok(true);
    }
    if let Some(why) = unavailable() {
        if std::env::var_os("CI").is_some() {
            return Err(Error::Invalid(format!(
                "network-fault test {test} cannot run here: {why}"
            )));
        }
        eprintln!("SKIPPED {test}: network faults need a private namespace and nftables: {why}");
        return Ok(false);
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("finding the test binary", e))?;
    let status = Command::new("unshare")
        .args([
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$@\"",
            "sh",
        ])
        .arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV_ISOLATED, "1")
        .status()
        .map_err(|e| Error::io(format!("running {test} in a namespace of its own"), e))?;
    if status.success() {
        Ok(false)
    } else {
        Err(Error::Invalid(format!(
            "{test}, run in a namespace of its own, failed ({status}); its output is above"
        )))
    }
}

fn nft(script: &str) -> Result<()> {
    use std::io::Write;
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("running nft (Debian's nftables)", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| Error::io("writing to nft", e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("waiting for nft", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "nft refused {script:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The table: two sets of ports, whose packets are dropped on their way in (made once per
/// namespace, by whichever process comes first: the tests or the command line).
fn ensure_table() -> Result<()> {
    static MADE: Mutex<bool> = Mutex::new(false);
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    if *made {
        return Ok(());
    }
    let exists = Command::new("nft")
        .args(["list", "table", "inet", TABLE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !exists {
        nft(&format!(
            "table inet {TABLE} {{\n\
             set to_node {{ type inet_service; }}\n\
             set from_node {{ type inet_service; }}\n\
             set to_node_ip {{ type ipv4_addr; }}\n\
             set from_node_ip {{ type ipv4_addr; }}\n\
             chain input {{ type filter hook input priority 0; policy accept;\n\
             tcp dport @to_node drop\n\
             tcp sport @from_node drop\n\
             ip daddr @to_node_ip drop\n\
             ip saddr @from_node_ip drop\n\
             }}\n\
             }}\n"
        ))?;
    }
    *made = true;
    Ok(())
}

/// Drops packets to and/or from a node: those to and from `ports` (its data port, and its
/// cluster bus port), and those of the connections it opens itself (from
/// [`source_ip`] of its data port), in this process's network namespace.
pub fn partition(ports: &[u16], direction: Direction) -> Result<()> {
    ensure_table()?;
    let mut script = String::new();
    for (set, ip_set, wanted) in [
        ("to_node", "to_node_ip", direction != Direction::FromNode),
        ("from_node", "from_node_ip", direction != Direction::ToNode),
    ] {
        if !wanted {
            continue;
        }
        for &port in ports {
            script.push_str(&format!("add element inet {TABLE} {set} {{ {port} }}\n"));
        }
        if let Some(&port) = ports.first() {
            let ip = source_ip(port);
            script.push_str(&format!("add element inet {TABLE} {ip_set} {{ {ip} }}\n"));
        }
    }
    nft(&script)
}

/// Lets packets to and from a node through again (see [`partition`]).
pub fn heal(ports: &[u16]) -> Result<()> {
    ensure_table()?;
    let mut elements: Vec<(&str, String)> = Vec::new();
    for &port in ports {
        elements.push(("to_node", port.to_string()));
        elements.push(("from_node", port.to_string()));
    }
    if let Some(&port) = ports.first() {
        elements.push(("to_node_ip", source_ip(port).to_string()));
        elements.push(("from_node_ip", source_ip(port).to_string()));
    }
    for (set, element) in elements {
        // One at a time: deleting an element that is not there fails, and is fine.
        let _ = nft(&format!(
            "delete element inet {TABLE} {set} {{ {element} }}\n"
        ));
    }
    Ok(())
}

//! `redis-benchmark` beside the clients: the same callers, keys and servers, one connection
//! per caller, as a reference for what the servers give on this machine.

use std::process::Command;

use crate::load::KEYSPACE;
use crate::scenario::Scenario;
use crate::servers::Servers;

/// `redis-benchmark` with the same callers and keys (one connection per caller), in req/s;
/// `None` if it is not installed.
pub fn redis_benchmark(scenario: Scenario, servers: &Servers, requests: u64) -> Option<f64> {
    if matches!(scenario, Scenario::Fanout | Scenario::Hot | Scenario::Cached) {
        // No pub/sub test in redis-benchmark; nor a way to read only the hot keys.
        return None;
    }
    let port = match scenario {
        Scenario::Cluster => servers.cluster.as_ref()?.masters().ok()?.first()?.port(),
        Scenario::Tls => servers.tls_node.as_ref()?.addr().port(),
        _ => servers.node.as_ref()?.addr().port(),
    };
    let mut cmd = Command::new("redis-benchmark");
    if scenario == Scenario::Cluster {
        cmd.arg("--cluster");
    }
    if scenario == Scenario::Resp3 {
        cmd.arg("-3");
    }
    if scenario == Scenario::Tls {
        let files = servers.tls_node.as_ref()?.tls_files()?;
        cmd.arg("--tls").arg("--cacert").arg(&files.ca_cert);
        cmd.arg("--cert").arg(&files.client_cert);
        cmd.arg("--key").arg(&files.client_key);
    }
    let out = cmd
        .args(["-p", &port.to_string()])
        .args(["-c", &scenario.callers().to_string()])
        .args(["-n", &requests.to_string()])
        .args(["-r", &KEYSPACE.to_string(), "-t", "get", "--csv"])
        .output()
        .ok()?;
    // "GET","123456.78",...
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("\"GET"))?
        .split(',')
        .nth(1)?
        .trim_matches('"')
        .parse()
        .ok()
}

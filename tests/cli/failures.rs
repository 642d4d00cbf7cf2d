//! Bad URLs and unreachable nodes: a clear message and a failing exit status.

use super::*;

// ---------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------

#[test]
fn bad_urls_and_unreachable_nodes_fail_with_a_message() {
    let dead = dead_port();
    let cases: Vec<(String, &str)> = vec![
        ("foo://127.0.0.1:6379".into(), "unknown scheme"),
        ("127.0.0.1:6379".into(), "no scheme"),
        ("redis://127.0.0.1:99999".into(), "invalid port"),
        ("redis://127.0.0.1/notadb".into(), "database"),
        ("redis+sentinel://127.0.0.1:26379".into(), "no service"),
        (
            "redis+sentinel://127.0.0.1:26379/mymaster?role=leader".into(),
            "role",
        ),
        (
            "redis+cluster://127.0.0.1:7000?read_from=anywhere".into(),
            "read_from",
        ),
        (format!("redis://127.0.0.1:{dead}"), "refused"),
        (
            format!("redis+sentinel://127.0.0.1:{dead}/mymaster"),
            "no sentinel reachable",
        ),
        (format!("redis+cluster://127.0.0.1:{dead}"), "refused"),
    ];
    for (url, why) in &cases {
        let command = slotline(&["--url", url, "PING"]);
        let stderr = command.expect_failure(&format!("PING at {url}"));
        assert!(stderr.contains(why), "PING at {url}: {stderr}");
        let topology = slotline(&["topology", "--url", url]);
        let stderr = topology.expect_failure(&format!("topology at {url}"));
        assert!(stderr.contains(why), "topology at {url}: {stderr}");
        let mut args = vec!["--url", url.as_str()];
        args.extend(["bench", "-n", "10", "-c", "1", "-q"]);
        let bench = slotline(&args);
        let stderr = bench.expect_failure(&format!("bench at {url}"));
        assert!(stderr.contains(why), "bench at {url}: {stderr}");
    }
    // A service no sentinel knows.
    let t = sentinel();
    let unknown = format!(
        "redis+sentinel://{}{}/no-such-service",
        userinfo(t.data_auth()),
        join(t.sentinel_addrs())
    );
    if t.sentinel_auth().is_none() {
        let stderr = slotline(&["--url", &unknown, "PING"]).expect_failure("unknown service");
        assert!(stderr.contains("no-such-service"), "{stderr}");
    }
    // A password in a bad URL is not echoed.
    let stderr = slotline(&["--url", "redis://:hunter2@127.0.0.1:99999", "PING"])
        .expect_failure("password in URL");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    // Usage mistakes.
    // No command and stdin not a terminal: commands come from stdin (none here), as
    // redis-cli reads them.
    assert_eq!(slotline(&[]).expect_ok("no arguments"), "");
    let stderr = slotline(&["--url"]).expect_failure("--url without a value");
    assert!(stderr.contains("--url"), "{stderr}");
    let stderr = slotline(&["topology", "--url", "redis://127.0.0.1:1", "extra"])
        .expect_failure("topology with extra arguments");
    assert!(stderr.contains("topology takes only --url"), "{stderr}");
    let stderr = slotline(&[
        "--url",
        &format!("redis://127.0.0.1:{dead}"),
        "bench",
        "--bogus",
    ])
    .expect_failure("bench with an unknown option");
    assert!(stderr.contains("--bogus"), "{stderr}");
    let stderr = slotline(&["bench", "-t", "flushall", "-p", &dead.to_string()])
        .expect_failure("bench with an unknown test");
    assert!(stderr.contains("unknown test"), "{stderr}");
    // Help is not an error.
    assert!(slotline(&["--help"])
        .expect_ok("--help")
        .to_lowercase()
        .contains("usage"));
    let help = slotline(&["bench", "-c", "5", "--help"]).expect_ok("bench --help");
    assert!(
        help.to_lowercase().contains("usage") && help.contains("--runtime"),
        "{help}"
    );
}

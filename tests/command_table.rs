//! The checked-in command table (`crates/command/src/command_table/data.rs`) against the real
//! server the tests run on: the same commands and subcommands with the same arity, flags,
//! key specs and policies, and the same keys as the server's own `COMMAND GETKEYS`.
//!
//! When this fails after a Redis upgrade, regenerate the table:
//! `cargo run -p slotline-command-table-gen --bin gen_command_table -- redis://127.0.0.1:PORT`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use slotline_command_table_gen as server;
use slotline_conn::blocking::{Connection, Query};
use slotline_conn::command_table::{self, CommandInfo};
use slotline_conn::{cmd, Cmd, Frame};
use slotline_testbed::Standalone;
use support::standalone;

fn connect(node: &Standalone) -> Connection {
    Connection::connect(node.url().as_str()).expect("connect to the test server")
}

fn command(args: &[&[u8]]) -> Cmd {
    let mut c = Cmd::new();
    for a in args {
        c.write_bytes(a);
    }
    c
}

/// Field-by-field differences between the table's entry and the server's.
fn compare(ours: &CommandInfo, theirs: &server::Command, diffs: &mut Vec<String>) {
    let name = &theirs.name;
    let mut check = |what: &str, equal: bool, a: String, b: String| {
        if !equal {
            diffs.push(format!("{name}: {what}: table {a}, server {b}"));
        }
    };
    check(
        "arity",
        ours.arity == theirs.arity,
        ours.arity.to_string(),
        theirs.arity.to_string(),
    );
    check(
        "flags",
        ours.flags == theirs.flags,
        format!("{:?}", ours.flags),
        format!("{:?}", theirs.flags),
    );
    let legacy = |f, l, s| format!("({f}, {l}, {s})");
    check(
        "legacy key range",
        (ours.first_key, ours.last_key, ours.step)
            == (theirs.first_key, theirs.last_key, theirs.step),
        legacy(ours.first_key, ours.last_key, ours.step),
        legacy(theirs.first_key, theirs.last_key, theirs.step),
    );
    check(
        "acl categories",
        ours.acl_categories == theirs.acl_categories,
        format!("{:?}", ours.acl_categories),
        format!("{:?}", theirs.acl_categories),
    );
    check(
        "tips",
        ours.tips == theirs.tips,
        format!("{:?}", ours.tips),
        format!("{:?}", theirs.tips),
    );
    check(
        "request policy",
        ours.request_policy == theirs.request_policy,
        format!("{:?}", ours.request_policy),
        format!("{:?}", theirs.request_policy),
    );
    check(
        "response policy",
        ours.response_policy == theirs.response_policy,
        format!("{:?}", ours.response_policy),
        format!("{:?}", theirs.response_policy),
    );
    let specs_equal = ours.key_specs.len() == theirs.key_specs.len()
        && ours.key_specs.iter().zip(&theirs.key_specs).all(|(a, b)| {
            a.flags == b.flags
                && b.begin_search.matches(&a.begin_search)
                && a.find_keys == b.find_keys
        });
    check(
        "key specs",
        specs_equal,
        format!("{:?}", ours.key_specs),
        format!("{:?}", theirs.key_specs),
    );
    if !theirs.unknown.is_empty() {
        diffs.push(format!(
            "{name}: the table cannot represent {:?}",
            theirs.unknown
        ));
    }
    let ours_subs: Vec<&str> = ours.subcommands.iter().map(|s| s.name).collect();
    let theirs_subs: Vec<&str> = theirs.subcommands.iter().map(|s| s.name.as_str()).collect();
    if ours_subs != theirs_subs {
        diffs.push(format!(
            "{name}: subcommands: table {ours_subs:?}, server {theirs_subs:?}"
        ));
    }
    for sub in &theirs.subcommands {
        if let Some(o) = command_table::lookup_name(&sub.name) {
            compare(o, sub, diffs);
        }
    }
}

#[test]
fn table_matches_the_server() {
    let node = standalone();
    let con = connect(node);
    let reply: Frame = con.query(&cmd("COMMAND")).expect("COMMAND");
    let theirs = server::parse_command_reply(&reply).expect("parse COMMAND");
    let info: String = con.query(&cmd("INFO").arg("server")).expect("INFO");
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(str::trim)
        .unwrap_or("?");

    let mut diffs = Vec::new();
    let ours_names: Vec<&str> = command_table::commands().iter().map(|c| c.name).collect();
    let theirs_names: Vec<&str> = theirs.iter().map(|c| c.name.as_str()).collect();
    for n in &theirs_names {
        if !ours_names.contains(n) {
            diffs.push(format!("{n}: on the server, not in the table"));
        }
    }
    for n in &ours_names {
        if !theirs_names.contains(n) {
            diffs.push(format!("{n}: in the table, not on the server"));
        }
    }
    for c in &theirs {
        if let Some(o) = command_table::lookup_name(&c.name) {
            compare(o, c, &mut diffs);
        }
    }
    assert!(
        diffs.is_empty(),
        "the command table (Redis {}) differs from the server (Redis {version}) in {} ways; \
         rerun `cargo run -p slotline-command-table-gen --bin gen_command_table -- {}`:\n{}",
        command_table::REDIS_VERSION,
        diffs.len(),
        node.url(),
        diffs.join("\n")
    );
}

/// The server's `COMMAND GETKEYS` for `c`; an error reply (no keys, wrong arity, invalid
/// arguments) counts as no keys.
fn server_keys(con: &Connection, c: &Cmd) -> Result<Vec<Vec<u8>>, String> {
    let mut getkeys = cmd("COMMAND").arg("GETKEYS");
    for arg in c.args() {
        getkeys.write_bytes(arg);
    }
    match con.send_command(&getkeys).expect("COMMAND GETKEYS") {
        Frame::Array(keys) => Ok(keys
            .iter()
            .map(|k| k.as_bytes().unwrap_or_default().to_vec())
            .collect()),
        Frame::Error(e) => Err(String::from_utf8_lossy(&e).into_owned()),
        other => panic!("COMMAND GETKEYS {c:?}: unexpected {other:?}"),
    }
}

fn check_keys(con: &Connection, c: &Cmd, mismatches: &mut Vec<String>) {
    let ours: Vec<Vec<u8>> = command_table::keys(c).map(<[u8]>::to_vec).collect();
    let theirs = server_keys(con, c);
    let theirs_keys = theirs.clone().unwrap_or_default();
    if ours != theirs_keys {
        let show = |v: &[Vec<u8>]| {
            v.iter()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect::<Vec<_>>()
        };
        mismatches.push(format!(
            "{c:?}: ours {:?}, server {:?}",
            show(&ours),
            theirs.map(|k| show(&k))
        ));
    }
}

#[test]
fn keys_match_command_getkeys() {
    let node = standalone();
    let con = connect(node);
    let samples: &[&[&str]] = &[
        &["GET", "k"],
        &["set", "k", "v", "EX", "10", "GET"],
        &["MGET", "a", "b", "c"],
        &["MSET", "a", "1", "b", "2"],
        &["DEL", "a", "b"],
        &["EXISTS", "a", "b", "c"],
        &["RENAME", "a", "b"],
        &["COPY", "a", "b", "DB", "1"],
        &["LMOVE", "a", "b", "LEFT", "RIGHT"],
        &["BLPOP", "a", "b", "0"],
        &["BRPOPLPUSH", "a", "b", "0"],
        &["EVAL", "return 1", "2", "a", "b", "x"],
        &["EVALSHA", "abc", "1", "a"],
        &["EVAL_RO", "return 1", "1", "a"],
        &["EVAL", "return 1", "0"],
        &["EVAL", "return 1", "99", "a"],
        &["EVAL", "return 1", "-1", "a"],
        &["EVAL", "return 1", "2abc", "a", "b"],
        &["FCALL", "f", "2", "a", "b", "x"],
        &["FCALL_RO", "f", "1", "a"],
        &["XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"],
        &["XREAD", "BLOCK", "0", "STREAMS", "a", "$"],
        &["XREAD", "STREAMS", "a", "b", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "a",
            "b",
            ">",
            ">",
        ],
        &["ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"],
        &["ZINTERSTORE", "dst", "3", "a", "b"],
        &["ZDIFFSTORE", "dst", "1", "a"],
        &["ZUNION", "2", "a", "b", "WITHSCORES"],
        &["ZINTER", "1", "a"],
        &["ZDIFF", "2", "a", "b"],
        &["ZINTERCARD", "2", "a", "b", "LIMIT", "0"],
        &["SINTERCARD", "2", "a", "b"],
        &["LMPOP", "2", "a", "b", "LEFT", "COUNT", "2"],
        &["BLMPOP", "0", "2", "a", "b", "RIGHT"],
        &["ZMPOP", "1", "a", "MIN"],
        &["BZMPOP", "0", "2", "a", "b", "MAX"],
        &[
            "MIGRATE",
            "127.0.0.1",
            "1",
            "",
            "0",
            "5000",
            "KEYS",
            "k1",
            "k2",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            "1",
            "",
            "0",
            "5000",
            "COPY",
            "REPLACE",
            "AUTH",
            "p",
            "KEYS",
            "k",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            "1",
            "",
            "0",
            "5000",
            "AUTH2",
            "u",
            "p",
            "KEYS",
            "k",
        ],
        &["MIGRATE", "127.0.0.1", "1", "k", "0", "5000"],
        &["MIGRATE", "127.0.0.1", "1", "k", "0", "5000", "KEYS", "x"],
        &["SORT", "k", "STORE", "dst"],
        &[
            "SORT", "k", "BY", "w_*", "LIMIT", "0", "10", "GET", "#", "ALPHA", "STORE", "d",
        ],
        &["SORT", "k", "STORE", "a", "STORE", "b"],
        &["SORT", "k", "STORE"],
        &["SORT_RO", "k", "BY", "x", "GET", "y"],
        &["GEORADIUS", "k", "0", "0", "1", "km", "STORE", "d"],
        &[
            "GEORADIUS",
            "k",
            "0",
            "0",
            "1",
            "km",
            "STORE",
            "d",
            "STOREDIST",
            "e",
        ],
        &["GEORADIUSBYMEMBER", "k", "m", "1", "km", "STOREDIST", "d"],
        &["GEORADIUS_RO", "k", "0", "0", "1", "km"],
        &[
            "GEOSEARCHSTORE",
            "d",
            "s",
            "FROMMEMBER",
            "m",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["BITFIELD", "k", "GET", "u8", "0"],
        &["BITOP", "AND", "d", "a", "b"],
        &["OBJECT", "ENCODING", "k"],
        &["object", "freq", "k"],
        &["MEMORY", "USAGE", "k", "SAMPLES", "5"],
        &["XINFO", "STREAM", "s", "FULL"],
        &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
        &["PFCOUNT", "a", "b"],
        &["PFMERGE", "d", "a", "b"],
        &["CLIENT", "LIST"],
        &["PING"],
        &["SPUBLISH", "chan", "m"],
        &["WATCH", "a", "b"],
        &["TOUCH", "a"],
        &["LCS", "a", "b"],
        &["SMOVE", "a", "b", "m"],
        &["RPOPLPUSH", "a", "b"],
        &["GETEX", "k", "PERSIST"],
        &["XADD", "s", "*", "f", "v"],
    ];
    let mut mismatches = Vec::new();
    for args in samples {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        check_keys(&con, &command(&args), &mut mismatches);
    }
    assert!(
        mismatches.is_empty(),
        "keys differ from COMMAND GETKEYS:\n{}",
        mismatches.join("\n")
    );
}

/// Every command and subcommand of the table, with argument lists of every length around
/// its arity and several kinds of filler (words, numbers, the keywords key specs search
/// for), against `COMMAND GETKEYS`.
#[test]
fn keys_match_command_getkeys_for_every_command() {
    let node = standalone();
    let con = connect(node);
    let fillers: &[&[&str]] = &[
        &["a", "b", "c", "d", "e", "f", "g", "h"],
        &["2", "a", "b", "c", "d", "e", "f", "g"],
        &["1", "1", "a", "b", "c", "d", "e", "f"],
        &["k", "STREAMS", "a", "b", "0", "0", "x", "y"],
        &["k", "1", "STORE", "d", "KEYS", "x", "y", "z"],
        &["", "1", "2", "3", "4", "KEYS", "x", "y"],
    ];
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for c in command_table::commands() {
        let mut entries: Vec<(Vec<&str>, &CommandInfo)> = vec![(vec![c.name], c)];
        for sub in c.subcommands {
            let (a, b) = sub.name.split_once('|').expect("subcommand name");
            entries.push((vec![a, b], sub));
        }
        for (prefix, info) in entries {
            if info.name == "command|getkeys" || info.name == "command|getkeysandflags" {
                continue; // GETKEYS of GETKEYS answers for the inner command
            }
            let min = info.arity.unsigned_abs() as usize;
            let lengths: Vec<usize> = if info.arity >= 0 {
                vec![min]
            } else {
                (min..min + 6).collect()
            };
            for len in lengths {
                for filler in fillers {
                    let mut args: Vec<&[u8]> = prefix.iter().map(|a| a.as_bytes()).collect();
                    let rest = len.saturating_sub(args.len());
                    args.extend(filler.iter().cycle().take(rest).map(|a| a.as_bytes()));
                    check_keys(&con, &command(&args), &mut mismatches);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} argument lists");
    assert!(
        mismatches.is_empty(),
        "{} of {checked} argument lists give other keys than COMMAND GETKEYS:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

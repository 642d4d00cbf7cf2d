use super::*;
use crate::cmd;

fn keys_of(c: &Cmd) -> Vec<String> {
    keys(c)
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect()
}

fn command(args: &[&str]) -> Cmd {
    let mut c = Cmd::new();
    for a in args {
        c.write_bytes(a.as_bytes());
    }
    c
}

#[test]
fn table_is_sorted_and_well_formed() {
    assert!(!REDIS_VERSION.is_empty());
    let all = commands();
    assert!(all.len() > 200, "only {} commands", all.len());
    for pair in all.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "{} >= {}",
            pair[0].name,
            pair[1].name
        );
    }
    for c in all {
        assert_eq!(c.name, c.name.to_ascii_lowercase());
        assert!(!c.name.contains('|'));
        assert_eq!(lookup_name(c.name), Some(c));
        for pair in c.subcommands.windows(2) {
            assert!(pair[0].name < pair[1].name);
        }
        for sub in c.subcommands {
            assert!(
                sub.name.starts_with(&format!("{}|", c.name)),
                "{} in {}",
                sub.name,
                c.name
            );
            assert!(sub.subcommands.is_empty());
            assert_eq!(lookup_name(sub.name), Some(sub));
        }
    }
}

#[test]
fn lookups() {
    assert_eq!(lookup(&cmd("GET").arg("k")).map(|c| c.name), Some("get"));
    assert_eq!(lookup(&cmd("gEt").arg("k")).map(|c| c.name), Some("get"));
    assert_eq!(
        lookup(&cmd("client").arg("LIST")).map(|c| c.name),
        Some("client|list")
    );
    assert_eq!(
        lookup(&cmd("CLIENT").arg("list")).map(|c| c.name),
        Some("client|list")
    );
    assert_eq!(
        lookup(&cmd("CONFIG").arg("GET").arg("*")).map(|c| c.name),
        Some("config|get")
    );
    assert_eq!(
        lookup(&cmd("XINFO").arg("STREAM").arg("s")).map(|c| c.name),
        Some("xinfo|stream")
    );
    assert_eq!(
        lookup(&cmd("SCRIPT").arg("LOAD").arg("x")).map(|c| c.name),
        Some("script|load")
    );
    assert_eq!(
        lookup(&cmd("CLUSTER").arg("SLOTS")).map(|c| c.name),
        Some("cluster|slots")
    );
    assert_eq!(lookup(&cmd("CLIENT")).map(|c| c.name), Some("client"));
    assert_eq!(lookup(&cmd("CLIENT").arg("nope")), None);
    assert_eq!(lookup(&cmd("NOSUCHCOMMAND")), None);
    assert_eq!(lookup(&Cmd::new()), None);
    assert_eq!(lookup(&cmd("")), None);
    assert_eq!(lookup(&cmd("GETX")), None);
    assert_eq!(lookup(&cmd("GE")), None);
    // A second argument is not a subcommand for a command without subcommands.
    assert_eq!(
        lookup(&cmd("SET").arg("list").arg("v")).map(|c| c.name),
        Some("set")
    );
    assert_eq!(
        lookup_name("CLIENT|LIST").map(|c| c.name),
        Some("client|list")
    );
    assert_eq!(lookup_name("client|"), None);
    assert_eq!(lookup_name("get|x"), None);
    // Every entry, in any case, is found.
    for c in commands() {
        assert_eq!(lookup(&cmd(&c.name.to_ascii_uppercase())), Some(c));
        for sub in c.subcommands {
            let (container, name) = sub.name.split_once('|').unwrap();
            let found =
                lookup(&cmd(&container.to_ascii_uppercase()).arg(name.to_ascii_uppercase()));
            assert_eq!(found, Some(sub));
        }
    }
}

#[test]
fn simple_keys() {
    assert_eq!(keys_of(&cmd("GET").arg("k")), ["k"]);
    assert_eq!(key_positions(&cmd("GET").arg("k")), [1]);
    assert_eq!(keys_of(&cmd("SET").arg("k").arg("v")), ["k"]);
    assert_eq!(
        keys_of(&cmd("set").arg("k").arg("v").arg("EX").arg(10)),
        ["k"]
    );
    assert_eq!(
        keys_of(&cmd("MGET").arg("a").arg("b").arg("c")),
        ["a", "b", "c"]
    );
    assert_eq!(
        keys_of(&cmd("MSET").arg("a").arg(1).arg("b").arg(2)),
        ["a", "b"]
    );
    assert_eq!(
        key_positions(&cmd("MSET").arg("a").arg(1).arg("b").arg(2)),
        [1, 3]
    );
    assert_eq!(keys_of(&cmd("DEL").arg("a").arg("b")), ["a", "b"]);
    assert_eq!(keys_of(&cmd("RENAME").arg("a").arg("b")), ["a", "b"]);
    assert_eq!(
        keys_of(&cmd("LMOVE").arg("a").arg("b").arg("LEFT").arg("RIGHT")),
        ["a", "b"]
    );
    assert_eq!(keys_of(&cmd("BLPOP").arg("a").arg("b").arg(0)), ["a", "b"]);
    assert_eq!(keys_of(&cmd("OBJECT").arg("ENCODING").arg("k")), ["k"]);
    assert_eq!(key_positions(&cmd("OBJECT").arg("ENCODING").arg("k")), [2]);
    assert_eq!(keys_of(&cmd("MEMORY").arg("USAGE").arg("k")), ["k"]);
    assert_eq!(keys_of(&cmd("XINFO").arg("STREAM").arg("s")), ["s"]);
    assert!(keys_of(&cmd("CLIENT").arg("LIST")).is_empty());
    assert!(keys_of(&cmd("PING")).is_empty());
    assert!(keys_of(&cmd("DBSIZE")).is_empty());
    assert!(keys_of(&cmd("NOSUCH").arg("k")).is_empty());
}

#[test]
fn movable_keys() {
    let eval = cmd("EVAL")
        .arg("return 1")
        .arg(2)
        .arg("a")
        .arg("b")
        .arg("argv1");
    assert_eq!(keys_of(&eval), ["a", "b"]);
    assert_eq!(key_positions(&eval), [3, 4]);
    assert_eq!(keys_of(&cmd("evalsha").arg("sha").arg(1).arg("a")), ["a"]);
    assert!(keys_of(&cmd("EVAL").arg("s").arg(0)).is_empty());
    assert_eq!(
        keys_of(&cmd("FCALL").arg("f").arg(1).arg("a").arg("x")),
        ["a"]
    );

    let xread = command(&["XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"]);
    assert_eq!(keys_of(&xread), ["a", "b"]);
    let xread = command(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", ">"]);
    assert_eq!(keys_of(&xread), ["a"]);

    let zu = command(&["ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"]);
    assert_eq!(keys_of(&zu), ["dst", "a", "b"]);
    assert_eq!(keys_of(&command(&["ZUNION", "2", "a", "b"])), ["a", "b"]);
    assert_eq!(keys_of(&command(&["ZDIFF", "1", "a", "WITHSCORES"])), ["a"]);
    assert_eq!(
        keys_of(&command(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"])),
        ["a", "b"]
    );
    assert_eq!(
        keys_of(&command(&["LMPOP", "2", "a", "b", "LEFT"])),
        ["a", "b"]
    );
    assert_eq!(
        keys_of(&command(&["BLMPOP", "0", "2", "a", "b", "LEFT"])),
        ["a", "b"]
    );
    assert_eq!(keys_of(&command(&["ZMPOP", "1", "a", "MIN"])), ["a"]);
    assert_eq!(
        keys_of(&command(&["BZMPOP", "1.5", "1", "a", "MAX"])),
        ["a"]
    );

    let migrate = command(&[
        "MIGRATE", "host", "6379", "", "0", "5000", "KEYS", "k1", "k2",
    ]);
    assert_eq!(keys_of(&migrate), ["k1", "k2"]);
    let migrate = command(&[
        "MIGRATE", "h", "1", "", "0", "5000", "COPY", "AUTH2", "u", "p", "KEYS", "k1",
    ]);
    assert_eq!(keys_of(&migrate), ["k1"]);
    assert_eq!(
        keys_of(&command(&["MIGRATE", "h", "1", "k", "0", "5000"])),
        ["k"]
    );

    assert_eq!(
        keys_of(&command(&["SORT", "k", "STORE", "dst"])),
        ["k", "dst"]
    );
    assert_eq!(
        keys_of(&command(&[
            "SORT", "k", "BY", "store", "LIMIT", "0", "1", "GET", "#", "STORE", "d"
        ])),
        ["k", "d"]
    );
    assert_eq!(keys_of(&command(&["SORT", "k", "ALPHA"])), ["k"]);
    assert_eq!(keys_of(&command(&["SORT_RO", "k", "BY", "x"])), ["k"]);

    assert_eq!(
        keys_of(&command(&[
            "GEORADIUS",
            "k",
            "0",
            "0",
            "1",
            "km",
            "STORE",
            "d"
        ])),
        ["k", "d"]
    );
    assert_eq!(
        keys_of(&command(&[
            "GEORADIUSBYMEMBER",
            "k",
            "m",
            "1",
            "km",
            "STOREDIST",
            "d"
        ])),
        ["k", "d"]
    );
    assert_eq!(
        keys_of(&command(&["GEORADIUS", "k", "0", "0", "1", "km"])),
        ["k"]
    );
}

#[test]
fn key_flags() {
    let refs = key_refs(&command(&["SORT", "k", "STORE", "d"]));
    assert!(refs[0].flags.contains(KeySpecFlags::RO));
    assert!(refs[1].flags.contains(KeySpecFlags::OW));
    let refs = key_refs(&command(&["SET", "k", "v", "GET"]));
    assert!(refs[0].flags.contains(KeySpecFlags::RW));
    let refs = key_refs(&command(&["SET", "k", "v"]));
    assert!(refs[0].flags.contains(KeySpecFlags::OW));
    let refs = key_refs(&command(&["BITFIELD", "k", "GET", "u8", "0"]));
    assert!(refs[0].flags.contains(KeySpecFlags::RO));
    let refs = key_refs(&command(&["BITFIELD", "k", "SET", "u8", "0", "1"]));
    assert!(refs[0].flags.contains(KeySpecFlags::RW));
    let refs = key_refs(&command(&["GET", "k"]));
    assert_eq!(
        refs,
        [KeyRef {
            pos: 1,
            flags: KeySpecFlags::RO | KeySpecFlags::ACCESS
        }]
    );
}

#[test]
fn shard_channels() {
    let c = command(&["SPUBLISH", "chan", "msg"]);
    assert!(keys_of(&c).is_empty());
    assert_eq!(slot_keys(&c).collect::<Vec<_>>(), [&b"chan"[..]]);
    let c = command(&["SSUBSCRIBE", "a", "b"]);
    assert_eq!(slot_keys(&c).count(), 2);
    // For ordinary commands slot keys are the keys.
    let c = command(&["MGET", "a", "b"]);
    assert_eq!(
        slot_keys(&c).collect::<Vec<_>>(),
        keys(&c).collect::<Vec<_>>()
    );
}

#[test]
fn readonly_and_write() {
    for ro in [
        cmd("GET").arg("k"),
        cmd("mget").arg("a").arg("b"),
        cmd("EXISTS").arg("k"),
        cmd("OBJECT").arg("ENCODING").arg("k"),
        cmd("EVAL_RO").arg("s").arg(0),
        cmd("SORT_RO").arg("k"),
        cmd("XINFO").arg("STREAM").arg("s"),
    ] {
        assert!(is_readonly(&ro), "{ro:?}");
        assert!(!is_write(&ro), "{ro:?}");
    }
    for w in [
        cmd("SET").arg("k").arg("v"),
        cmd("DEL").arg("k"),
        cmd("SORT").arg("k"),
        cmd("XREADGROUP").arg("GROUP"),
    ] {
        assert!(!is_readonly(&w), "{w:?}");
        assert!(is_write(&w), "{w:?}");
    }
    // Scripts declare neither flag (the script decides): never read-only.
    assert!(!is_readonly(&cmd("EVAL").arg("s").arg(0)));
    assert!(!is_readonly(&cmd("FCALL").arg("f").arg(0)));
    // Neither read-only nor a data write: goes to the master.
    assert!(!is_readonly(&cmd("PING")));
    assert!(!is_readonly(&cmd("CLIENT").arg("LIST")));
    // Unknown commands are never read-only.
    assert!(!is_readonly(&cmd("NOSUCHCOMMAND")));
    assert!(is_write(&cmd("NOSUCHCOMMAND")));
    assert!(!is_readonly(&Cmd::new()));
}

#[test]
fn policies() {
    assert_eq!(request_policy(&cmd("DBSIZE")), RequestPolicy::AllShards);
    assert_eq!(response_policy(&cmd("DBSIZE")), ResponsePolicy::AggSum);
    assert_eq!(
        request_policy(&cmd("KEYS").arg("*")),
        RequestPolicy::AllShards
    );
    assert_eq!(
        request_policy(&cmd("SCRIPT").arg("LOAD").arg("x")),
        RequestPolicy::AllNodes
    );
    assert_eq!(
        request_policy(&cmd("MSET").arg("a").arg(1)),
        RequestPolicy::MultiShard
    );
    assert_eq!(request_policy(&cmd("GET").arg("k")), RequestPolicy::Default);
    assert_eq!(
        response_policy(&cmd("GET").arg("k")),
        ResponsePolicy::Default
    );
    assert_eq!(request_policy(&cmd("NOSUCH")), RequestPolicy::Default);
    let keys_info = lookup(&cmd("KEYS").arg("*")).unwrap();
    assert!(keys_info.tips.contains(Tips::NONDETERMINISTIC_OUTPUT_ORDER));
}

#[test]
fn hostile_arguments_never_panic() {
    // numkeys larger than the arguments, negative, zero, huge, not a number.
    for numkeys in [
        "99",
        "-1",
        "0",
        "-9223372036854775808",
        "9223372036854775807",
        "x",
        "",
        "2abc",
    ] {
        for name in [
            "EVAL",
            "FCALL",
            "ZUNIONSTORE",
            "ZUNION",
            "SINTERCARD",
            "LMPOP",
            "BZMPOP",
        ] {
            let c = command(&[name, "s", numkeys, "a"]);
            let found = keys_of(&c);
            assert!(found.len() <= 2, "{c:?} -> {found:?}");
        }
    }
    assert!(keys_of(&command(&["EVAL", "s", "99", "a"])).is_empty());
    assert!(keys_of(&command(&["EVAL", "s", "-1", "a"])).is_empty());
    // Too few arguments for the arity.
    assert!(keys_of(&command(&["GET"])).is_empty());
    assert!(keys_of(&command(&["EVAL"])).is_empty());
    assert!(keys_of(&command(&["MSET", "a"])).is_empty());
    assert!(keys_of(&command(&["XREAD", "STREAMS"])).is_empty());
    assert!(keys_of(&command(&["XREAD", "STREAMS", "a"])).is_empty());
    assert!(keys_of(&command(&["SORT"])).is_empty());
    assert!(keys_of(&command(&["MIGRATE", "KEYS"])).is_empty());
    assert_eq!(keys_of(&command(&["SORT", "k", "STORE"])), ["k"]);
    assert_eq!(keys_of(&command(&["SORT", "k", "LIMIT"])), ["k"]);
    assert_eq!(
        keys_of(&command(&["GEORADIUS", "k", "0", "0", "1", "STORE"])),
        ["k"]
    );
    // Every command with a range of short and odd argument lists.
    let fillers = [
        "1",
        "-1",
        "0",
        "STREAMS",
        "KEYS",
        "STORE",
        "x",
        "99999999999999999999",
    ];
    for c in commands() {
        let mut names = vec![vec![c.name.to_owned()]];
        for sub in c.subcommands {
            let (a, b) = sub.name.split_once('|').unwrap();
            names.push(vec![a.to_owned(), b.to_owned()]);
        }
        for prefix in names {
            for n in 0..8 {
                for f in fillers {
                    let mut args: Vec<&str> = prefix.iter().map(String::as_str).collect();
                    args.extend(std::iter::repeat_n(f, n));
                    let c = command(&args);
                    let found = key_positions(&c);
                    assert!(found.iter().all(|&p| p > 0 && p < c.argc()), "{c:?}");
                    let _ = keys(&c).count();
                    let _ = slot_keys(&c).count();
                }
            }
        }
    }
}

#[test]
fn flag_sets() {
    let f = CommandFlags::READONLY | CommandFlags::FAST;
    assert!(f.contains(CommandFlags::READONLY));
    assert!(!f.contains(CommandFlags::WRITE));
    assert_eq!(f.names().collect::<Vec<_>>(), ["readonly", "fast"]);
    assert_eq!(format!("{f:?}"), "CommandFlags(readonly | fast)");
    assert_eq!(
        CommandFlags::from_name("MOVABLEKEYS"),
        Some(CommandFlags::MOVABLEKEYS)
    );
    assert_eq!(AclCategories::from_name("@read"), Some(AclCategories::READ));
    assert_eq!(KeySpecFlags::from_name("RW"), Some(KeySpecFlags::RW));
    assert_eq!(Tips::from_name("nope"), None);
    assert_eq!(
        CommandFlags::of(&[CommandFlags::WRITE, CommandFlags::DENYOOM]).bits(),
        0b101
    );
    assert_eq!(
        CommandFlags::from_bits_truncate(u32::MAX).names().count(),
        CommandFlags::ALL.len()
    );
}

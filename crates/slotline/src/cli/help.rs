//! What the command line knows of commands, from the command table: the names the prompt
//! completes, `HELP cmd` and the argument hint when the server has no `COMMAND DOCS`
//! (before Redis 7; see `docs`), and a warning a person can act on before an unknown
//! command or a wrong number of arguments goes out.

use slotline_conn::command_table::{self, CommandInfo};

/// Every command name, upper-cased, sorted (what the prompt completes).
pub(super) fn names() -> Vec<String> {
    let mut names: Vec<String> = command_table::commands()
        .iter()
        .map(|c| c.name.to_ascii_uppercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The arguments a command takes, as the prompt hints them: `key` where a key goes, `arg`
/// elsewhere, `...` when more may follow (`GET` → ` key`, `SET` → ` key arg ...`).
pub(super) fn arguments(info: &CommandInfo) -> String {
    let fixed = info.arity.unsigned_abs() as usize;
    let keys: Vec<usize> = info
        .key_refs(&vec![b"x".as_slice(); fixed.max(1)])
        .iter()
        .map(|k| k.pos)
        .collect();
    let mut out = String::new();
    for pos in 1..fixed {
        out.push_str(if keys.contains(&pos) { " key" } else { " arg" });
    }
    if info.arity < 0 {
        out.push_str(" ...");
    }
    out
}

/// `HELP [command]`: what the command table says of a command, or how to ask.
pub(super) fn help(words: &[Vec<u8>]) -> String {
    let Some(name) = words.first() else {
        return format!(
            "slotline {} (commands of Redis {})\nType: \"HELP <command>\" for a command's \
             arguments and flags, Tab to complete a command, \"quit\" to leave\n",
            env!("CARGO_PKG_VERSION"),
            command_table::REDIS_VERSION
        );
    };
    let name = String::from_utf8_lossy(name);
    let Some(info) = command_table::lookup_name(&name) else {
        return format!("no command {name}{}\n", suggestion(&name));
    };
    let mut out = format!(
        "\n  {}{}\n",
        info.name.to_ascii_uppercase(),
        arguments(info)
    );
    let arity = match info.arity {
        n if n < 0 => format!("at least {} arguments", -n - 1),
        n => format!("{} arguments", n - 1),
    };
    out.push_str(&format!("  takes: {arity}\n"));
    let flags = format!("{:?}", info.flags);
    out.push_str(&format!("  flags: {flags}\n"));
    if !info.subcommands.is_empty() {
        let subs: Vec<String> = info
            .subcommands
            .iter()
            .map(|s| s.name.to_ascii_uppercase())
            .collect();
        out.push_str(&format!("  subcommands: {}\n", subs.join(", ")));
    }
    out.push('\n');
    out
}

/// ` (did you mean X?)` for the known name closest to `name`, if one is close.
fn suggestion(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    names()
        .into_iter()
        .map(|n| (distance(&upper, &n), n))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| format!(" (did you mean {n}?)"))
        .unwrap_or_default()
}

/// The edit distance between two names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A warning on stderr before a command the server will refuse: an unknown name (with the
/// closest known one) or a wrong number of arguments (with what it takes). The command is
/// still sent: the server has the last word, and stdout shows its reply as redis-cli would.
pub(super) fn warn_before_sending(words: &[Vec<u8>]) {
    let Some(name) = words.first() else { return };
    let name = String::from_utf8_lossy(name);
    match command_table::lookup_parts(name.as_bytes(), words.get(1).map(|w| &w[..])) {
        None if command_table::lookup_name(&name).is_none() => {
            eprintln!(
                "slotline: {} is not a command of Redis {}{}",
                name.to_ascii_uppercase(),
                command_table::REDIS_VERSION,
                suggestion(&name)
            );
        }
        Some(info) if !info.arity_ok(words.len()) => {
            eprintln!(
                "slotline: {} takes{} (HELP {} says more)",
                name.to_ascii_uppercase(),
                arguments(info),
                name.to_ascii_uppercase()
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_and_suggestions_come_from_the_table() {
        let get = command_table::lookup_name("get").unwrap();
        assert_eq!(arguments(get), " key");
        let set = command_table::lookup_name("set").unwrap();
        assert_eq!(arguments(set), " key arg ...");
        assert_eq!(suggestion("GTE"), " (did you mean GET?)");
        assert_eq!(suggestion("NOSUCHTHING"), "");
        assert!(help(&[b"hset".to_vec()]).contains("HSET key arg arg ..."));
        assert!(names().contains(&"ZRANGEBYSCORE".to_string()));
    }
}

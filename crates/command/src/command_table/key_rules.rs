//! Finding a command's keys in its arguments, as Redis's `COMMAND GETKEYS` does: the key
//! specifications of the table, and the server's own rules for commands whose specs
//! cannot say.

use super::{BeginSearch, CommandInfo, FindKeys, KeyRef, KeySpec, KeySpecFlags};

/// Why the key specs could not give the keys.
enum SpecFailure {
    /// The arguments do not fit a spec (out of range, bad `numkeys`): a malformed command.
    Invalid,
    /// A spec is `unknown` or `incomplete`: the command has its own rule.
    Incomplete,
}

/// The keys of `args` for `info`, as `COMMAND GETKEYS` finds them: the key specs, and the
/// server's own rule for commands whose specs fail or whose key flags vary.
pub(super) fn find_key_refs(
    info: &CommandInfo,
    args: &[&[u8]],
    include_not_keys: bool,
) -> Vec<KeyRef> {
    let argc = args.len();
    if !info.arity_ok(argc) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let variable_flags = info
        .key_specs
        .iter()
        .any(|s| s.flags.contains(KeySpecFlags::VARIABLE_FLAGS));
    let own_rule = builtin_rule(info.name);
    if variable_flags {
        if let Some(rule) = own_rule {
            rule(args, &mut out);
            return bounded(out, argc);
        }
    }
    match search_specs(info.key_specs, args, include_not_keys, &mut out) {
        Ok(()) => {}
        Err(failure) => {
            if let Some(rule) = own_rule {
                out.clear();
                rule(args, &mut out);
            } else if let SpecFailure::Invalid = failure {
                out.clear();
            }
            // Incomplete with no rule of ours: keep what the complete specs found.
        }
    }
    bounded(out, argc)
}

/// Drops any position outside the arguments (a safety net: rules never produce them for a
/// command of valid arity).
fn bounded(mut keys: Vec<KeyRef>, argc: usize) -> Vec<KeyRef> {
    keys.retain(|k| k.pos > 0 && k.pos < argc);
    keys
}

/// Runs every key spec over `args`, appending the keys found to `out`.
fn search_specs(
    specs: &[KeySpec],
    args: &[&[u8]],
    include_not_keys: bool,
    out: &mut Vec<KeyRef>,
) -> Result<(), SpecFailure> {
    let argc = args.len() as i64;
    let mut incomplete = false;
    for spec in specs {
        if spec.flags.contains(KeySpecFlags::NOT_KEY) && !include_not_keys {
            continue;
        }
        let first: i64 = match spec.begin_search {
            BeginSearch::Index(i) => i64::from(i),
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => match find_keyword(args, keyword, i64::from(start_from)) {
                Some(i) => i + 1,
                // No keyword, no keys from this spec.
                None => continue,
            },
            BeginSearch::Unknown => {
                incomplete = true;
                continue;
            }
        };
        let (first, last, step) = match spec.find_keys {
            FindKeys::Range {
                last_key,
                key_step,
                limit,
            } => {
                let last_key = i64::from(last_key);
                let limit = i64::from(limit);
                let last = if last_key >= 0 {
                    first + last_key
                } else if limit <= 1 {
                    argc + last_key
                } else {
                    first + ((argc - first) / limit + last_key)
                };
                (first, last, i64::from(key_step))
            }
            FindKeys::Keynum {
                keynum_idx,
                first_key,
                key_step,
            } => {
                let idx = first + i64::from(keynum_idx);
                let count = usize::try_from(idx)
                    .ok()
                    .and_then(|i| args.get(i))
                    .and_then(|arg| parse_i64(arg))
                    .ok_or(SpecFailure::Invalid)?;
                if count < 0 {
                    return Err(SpecFailure::Invalid);
                }
                let first = first + i64::from(first_key);
                // `count` is bounded by the check below: no key beyond the arguments.
                let last = first.saturating_add(count).saturating_sub(1);
                (first, last, i64::from(key_step))
            }
            FindKeys::Unknown => {
                incomplete = true;
                continue;
            }
        };
        if first < 1 || last >= argc || last < first || first >= argc {
            return Err(SpecFailure::Invalid);
        }
        let step = step.max(1);
        let mut i = first;
        while i <= last {
            // `i` is within 1..argc here.
            out.push(KeyRef {
                pos: i as usize,
                flags: spec.flags,
            });
            i += step;
        }
        if spec.flags.contains(KeySpecFlags::INCOMPLETE) {
            incomplete = true;
        }
    }
    if incomplete {
        Err(SpecFailure::Incomplete)
    } else {
        Ok(())
    }
}

/// The index of `keyword` in `args`, searched as Redis does: from `start_from` forwards
/// up to (not including) the last argument, or for a negative `start_from` from
/// `argc + start_from` backwards down to (not including) index 1.
fn find_keyword(args: &[&[u8]], keyword: &str, start_from: i64) -> Option<i64> {
    let argc = args.len() as i64;
    let (start, end) = if start_from > 0 {
        (start_from, argc - 1)
    } else {
        (argc + start_from, 1)
    };
    let forward = start <= end;
    let mut i = start;
    while i != end {
        if i >= argc || i < 1 {
            break;
        }
        if args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
            return Some(i);
        }
        i = if forward { i + 1 } else { i - 1 };
    }
    None
}

/// Parses a whole argument as a decimal integer (as Redis's `string2ll`: no spaces, no
/// `+`, no leading zeros other than `0` itself).
fn parse_i64(arg: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(arg).ok()?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// C's `atoi` as Redis uses it on a `numkeys` argument: leading spaces, a sign, then
/// digits up to the first non-digit; 0 when there are none. Saturates instead of
/// overflowing.
fn atoi(arg: &[u8]) -> i64 {
    let mut rest = arg;
    while let Some((b, tail)) = rest.split_first() {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            rest = tail;
        } else {
            break;
        }
    }
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    for &b in rest.iter().take_while(|b| b.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    let n = n.min(i64::from(i32::MAX));
    if negative {
        -n
    } else {
        n
    }
}

/// A server-side key rule for a command whose key specs are not enough.
type Rule = fn(&[&[u8]], &mut Vec<KeyRef>);

/// The server's own key rule for `name`, for the commands that have one (the ones with
/// `movablekeys` or `variable_flags`).
fn builtin_rule(name: &str) -> Option<Rule> {
    let rule: Rule = match name {
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" | "blmpop"
        | "bzmpop" => |a, o| numkeys_rule(a, o, None, 2, 3),
        "sintercard" | "zunion" | "zinter" | "zdiff" | "zintercard" | "lmpop" | "zmpop" => {
            |a, o| numkeys_rule(a, o, None, 1, 2)
        }
        "zunionstore" | "zinterstore" | "zdiffstore" => |a, o| numkeys_rule(a, o, Some(1), 2, 3),
        "sort" => sort_rule,
        "sort_ro" => |_, o| o.push(key_ref(1, KeySpecFlags::RO.union(KeySpecFlags::ACCESS))),
        "migrate" => migrate_rule,
        "georadius" | "georadiusbymember" => georadius_rule,
        "xread" | "xreadgroup" => xread_rule,
        "set" => set_rule,
        "bitfield" => bitfield_rule,
        _ => return None,
    };
    Some(rule)
}

fn key_ref(pos: usize, flags: KeySpecFlags) -> KeyRef {
    KeyRef { pos, flags }
}

fn is_word(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// `[destkey] numkeys key [key ...]`: no keys unless 1 <= numkeys <= the arguments left;
/// the destination comes last, as in Redis's rule.
fn numkeys_rule(
    args: &[&[u8]],
    out: &mut Vec<KeyRef>,
    store: Option<usize>,
    count_at: usize,
    first: usize,
) {
    let Some(count) = args.get(count_at).map(|a| atoi(a)) else {
        return;
    };
    let left = args.len().saturating_sub(first) as i64;
    if count < 1 || count > left {
        return;
    }
    for pos in first..first + count as usize {
        out.push(key_ref(pos, KeySpecFlags::EMPTY));
    }
    if let Some(pos) = store {
        out.push(key_ref(pos, KeySpecFlags::EMPTY));
    }
}

/// `SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC] [ALPHA] [STORE dst]`: the key, and
/// the destination of the last `STORE`.
fn sort_rule(args: &[&[u8]], out: &mut Vec<KeyRef>) {
    out.push(key_ref(1, KeySpecFlags::RO.union(KeySpecFlags::ACCESS)));
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let arg = args[i];
        if is_word(arg, "limit") {
            i += 2;
        } else if is_word(arg, "get") || is_word(arg, "by") {
            i += 1;
        } else if is_word(arg, "store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(pos) = store {
        out.push(key_ref(pos, KeySpecFlags::OW.union(KeySpecFlags::UPDATE)));
    }
}

/// `MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 u pw] [KEYS k ...]`.
fn migrate_rule(args: &[&[u8]], out: &mut Vec<KeyRef>) {
    let flags = KeySpecFlags::of(&[KeySpecFlags::RW, KeySpecFlags::ACCESS, KeySpecFlags::DELETE]);
    let (mut first, mut count) = (3, 1);
    let mut i = 6;
    while i < args.len() {
        let arg = args[i];
        if is_word(arg, "keys") {
            if args.get(3).is_some_and(|k| !k.is_empty()) {
                count = 0;
            } else {
                first = i + 1;
                count = args.len() - first;
            }
            break;
        } else if is_word(arg, "auth") {
            i += 1;
        } else if is_word(arg, "auth2") {
            i += 2;
        }
        i += 1;
    }
    for pos in first..first + count {
        out.push(key_ref(pos, flags));
    }
}

/// `GEORADIUS key ... [STORE k] [STOREDIST k]`: the key, and the last destination.
fn georadius_rule(args: &[&[u8]], out: &mut Vec<KeyRef>) {
    out.push(key_ref(1, KeySpecFlags::EMPTY));
    let mut store = None;
    let mut i = 5;
    while i < args.len() {
        let arg = args[i];
        if (is_word(arg, "store") || is_word(arg, "storedist")) && i + 1 < args.len() {
            store = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    if let Some(pos) = store {
        out.push(key_ref(pos, KeySpecFlags::EMPTY));
    }
}

/// `XREAD [BLOCK ms] [COUNT n] [GROUP g c] [NOACK] STREAMS k1 .. kN id1 .. idN`.
fn xread_rule(args: &[&[u8]], out: &mut Vec<KeyRef>) {
    let mut streams = None;
    let mut i = 1;
    while i < args.len() {
        let arg = args[i];
        if is_word(arg, "block") || is_word(arg, "count") {
            i += 1;
        } else if is_word(arg, "group") {
            i += 2;
        } else if is_word(arg, "noack") {
        } else if is_word(arg, "streams") {
            streams = Some(i);
            break;
        } else {
            break;
        }
        i += 1;
    }
    let Some(streams) = streams else {
        return;
    };
    let rest = args.len() - streams - 1;
    if rest == 0 || rest % 2 != 0 {
        return;
    }
    for pos in streams + 1..streams + 1 + rest / 2 {
        out.push(key_ref(pos, KeySpecFlags::EMPTY));
    }
}

/// `SET key value [...] [GET]`: the key, read and written with `GET`, else overwritten.
fn set_rule(args: &[&[u8]], out: &mut Vec<KeyRef>) {
    let get = args.iter().skip(3).any(|a| is_word(a, "get"));
    let flags = if get {
        KeySpecFlags::of(&[KeySpecFlags::RW, KeySpecFlags::ACCESS, KeySpecFlags::UPDATE])
    } else {
        KeySpecFlags::OW.union(KeySpecFlags::UPDATE)
    };
    out.push(key_ref(1, flags));
}

/// `BITFIELD key [GET t o] [SET t o v] [INCRBY t o n] [OVERFLOW w]`: read-only when it only
/// has `GET`s (and `OVERFLOW`s).
fn bitfield_rule(args: &[&[u8]], out: &mut Vec<KeyRef>) {
    let mut readonly = true;
    let mut i = 2;
    while i < args.len() {
        let left = args.len() - i - 1;
        let arg = args[i];
        if is_word(arg, "get") && left >= 2 {
            i += 2;
        } else if (is_word(arg, "set") || is_word(arg, "incrby")) && left >= 3 {
            readonly = false;
            break;
        } else if is_word(arg, "overflow") && left >= 1 {
            i += 1;
        } else {
            readonly = false;
            break;
        }
        i += 1;
    }
    let flags = if readonly {
        KeySpecFlags::RO.union(KeySpecFlags::ACCESS)
    } else {
        KeySpecFlags::of(&[KeySpecFlags::RW, KeySpecFlags::ACCESS, KeySpecFlags::UPDATE])
    };
    out.push(key_ref(1, flags));
}

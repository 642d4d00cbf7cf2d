//! # slotline-command-table-gen
//!
//! The workspace's own tool, never published: parsing a server's `COMMAND` (or `COMMAND
//! INFO`) reply into owned values, which the generator (`gen_command_table`) writes out
//! as `slotline-command`'s command table and the live test compares the checked-in table
//! with.
//!
//! ```text
//! redis-server --port 6399 --save '' &
//! cargo run -p slotline-command-table-gen --bin gen_command_table -- redis://127.0.0.1:6399
//! ```
//!
//! The parser is lenient: a field that is missing or of an unexpected shape gets its
//! default, and names this crate does not know (a flag, an ACL category, a tip from a newer
//! server) are kept in [`Command::unknown`] rather than failing.

use slotline_resp::Frame;

use slotline_command::command_table::{
    self as table, AclCategories, CommandFlags, FindKeys, KeySpecFlags, RequestPolicy,
    ResponsePolicy, Tips,
};

/// One command (or subcommand) as a server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// Lower-case name (`client|list` for a subcommand).
    pub name: String,
    /// Arity (negative: at least).
    pub arity: i32,
    /// Flags this crate knows.
    pub flags: CommandFlags,
    /// Legacy first key.
    pub first_key: i32,
    /// Legacy last key.
    pub last_key: i32,
    /// Legacy key step.
    pub step: i32,
    /// ACL categories this crate knows.
    pub acl_categories: AclCategories,
    /// Tips this crate knows (besides the policies).
    pub tips: Tips,
    /// The `request_policy` tip.
    pub request_policy: RequestPolicy,
    /// The `response_policy` tip.
    pub response_policy: ResponsePolicy,
    /// Key specifications, in the server's order.
    pub key_specs: Vec<KeySpec>,
    /// Subcommands, sorted by name.
    pub subcommands: Vec<Command>,
    /// What this crate did not understand: `flag:<name>`, `acl:<name>`, `tip:<text>`,
    /// `keyspec-flag:<name>`, `begin_search:<type>`, `find_keys:<type>`.
    pub unknown: Vec<String>,
}

/// A key specification as a server describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// Flags this crate knows.
    pub flags: KeySpecFlags,
    /// Where the search starts.
    pub begin_search: BeginSearch,
    /// Which arguments are keys.
    pub find_keys: FindKeys,
    /// The spec's `notes`, if any.
    pub notes: Option<String>,
}

/// Owned twin of [`table::BeginSearch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginSearch {
    /// At a fixed index.
    Index(i32),
    /// After a keyword.
    Keyword {
        /// The keyword.
        keyword: String,
        /// Where the search starts (negative: from the end, backwards).
        start_from: i32,
    },
    /// Not describable.
    Unknown,
}

impl BeginSearch {
    /// Whether this is the same as a static [`table::BeginSearch`].
    pub fn matches(&self, other: &table::BeginSearch) -> bool {
        match (self, other) {
            (BeginSearch::Index(a), table::BeginSearch::Index(b)) => a == b,
            (
                BeginSearch::Keyword {
                    keyword: a,
                    start_from: sa,
                },
                table::BeginSearch::Keyword {
                    keyword: b,
                    start_from: sb,
                },
            ) => a == b && sa == sb,
            (BeginSearch::Unknown, table::BeginSearch::Unknown) => true,
            _ => false,
        }
    }
}

/// A `COMMAND` reply that is not an array of command descriptions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected COMMAND reply: {0}")]
pub struct ParseError(pub String);

/// Parses the reply of `COMMAND` (or `COMMAND INFO ...`): one entry per command, sorted by
/// name, subcommands sorted within each. Null entries (`COMMAND INFO` of an unknown name)
/// are skipped.
pub fn parse_command_reply(reply: &Frame) -> Result<Vec<Command>, ParseError> {
    let items = match reply {
        Frame::Array(items) => items,
        Frame::Error(e) => {
            return Err(ParseError(format!(
                "error reply {}",
                String::from_utf8_lossy(e)
            )))
        }
        other => {
            return Err(ParseError(format!(
                "a {} instead of an array",
                other.type_name()
            )))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if item.is_null() {
            continue;
        }
        out.push(parse_command(item)?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Parses one command description `[name, arity, flags, first, last, step, acl
/// categories, tips, key specs, subcommands]` (fields after `step` are optional).
pub fn parse_command(item: &Frame) -> Result<Command, ParseError> {
    let fields = item
        .as_array()
        .ok_or_else(|| ParseError(format!("a {} as a command entry", item.type_name())))?;
    let name = fields
        .first()
        .and_then(text)
        .ok_or_else(|| ParseError("a command entry without a name".into()))?
        .to_ascii_lowercase();
    let int = |i: usize| {
        fields
            .get(i)
            .and_then(integer)
            .map_or(0, |n| n.clamp(i32::MIN.into(), i32::MAX.into()) as i32)
    };
    let mut cmd = Command {
        arity: int(1),
        first_key: int(3),
        last_key: int(4),
        step: int(5),
        ..Command::default()
    };
    for flag in strings(fields.get(2)) {
        match CommandFlags::from_name(&flag) {
            Some(f) => cmd.flags |= f,
            None => cmd.unknown.push(format!("flag:{flag}")),
        }
    }
    for cat in strings(fields.get(6)) {
        match AclCategories::from_name(&cat) {
            Some(c) => cmd.acl_categories |= c,
            None => cmd.unknown.push(format!("acl:{cat}")),
        }
    }
    for tip in strings(fields.get(7)) {
        let known = if let Some(p) = tip.strip_prefix("request_policy:") {
            RequestPolicy::from_name(p).map(|p| cmd.request_policy = p)
        } else if let Some(p) = tip.strip_prefix("response_policy:") {
            ResponsePolicy::from_name(p).map(|p| cmd.response_policy = p)
        } else {
            Tips::from_name(&tip).map(|t| cmd.tips |= t)
        };
        if known.is_none() {
            cmd.unknown.push(format!("tip:{tip}"));
        }
    }
    if let Some(specs) = fields.get(8).and_then(Frame::as_array) {
        for spec in specs {
            let spec = parse_key_spec(spec, &mut cmd.unknown);
            cmd.key_specs.push(spec);
        }
    }
    if let Some(subs) = fields.get(9).and_then(Frame::as_array) {
        for sub in subs {
            cmd.subcommands.push(parse_command(sub)?);
        }
        cmd.subcommands.sort_by(|a, b| a.name.cmp(&b.name));
    }
    cmd.name = name;
    Ok(cmd)
}

fn parse_key_spec(spec: &Frame, unknown: &mut Vec<String>) -> KeySpec {
    let map = spec.as_array().unwrap_or(&[]);
    let mut flags = KeySpecFlags::EMPTY;
    for flag in strings(map_get(map, "flags")) {
        match KeySpecFlags::from_name(&flag) {
            Some(f) => flags |= f,
            None => unknown.push(format!("keyspec-flag:{flag}")),
        }
    }
    let notes = map_get(map, "notes").and_then(text).map(str::to_owned);

    let (kind, args) = typed(map_get(map, "begin_search"));
    let num = |key: &str| map_get(args, key).and_then(integer).map(clamp_i32);
    let begin_search = match kind.as_deref() {
        Some("index") => num("index").map(BeginSearch::Index),
        Some("keyword") => match (map_get(args, "keyword").and_then(text), num("startfrom")) {
            (Some(keyword), Some(start_from)) => Some(BeginSearch::Keyword {
                keyword: keyword.to_owned(),
                start_from,
            }),
            _ => None,
        },
        Some("unknown") => Some(BeginSearch::Unknown),
        _ => None,
    }
    .unwrap_or_else(|| {
        unknown.push(format!("begin_search:{}", kind.as_deref().unwrap_or("?")));
        BeginSearch::Unknown
    });

    let (kind, args) = typed(map_get(map, "find_keys"));
    let num = |key: &str| map_get(args, key).and_then(integer).map(clamp_i32);
    let find_keys = match kind.as_deref() {
        Some("range") => match (num("lastkey"), num("keystep"), num("limit")) {
            (Some(last_key), Some(key_step), Some(limit)) => Some(FindKeys::Range {
                last_key,
                key_step,
                limit,
            }),
            _ => None,
        },
        Some("keynum") => match (num("keynumidx"), num("firstkey"), num("keystep")) {
            (Some(keynum_idx), Some(first_key), Some(key_step)) => Some(FindKeys::Keynum {
                keynum_idx,
                first_key,
                key_step,
            }),
            _ => None,
        },
        Some("unknown") => Some(FindKeys::Unknown),
        _ => None,
    }
    .unwrap_or_else(|| {
        unknown.push(format!("find_keys:{}", kind.as_deref().unwrap_or("?")));
        FindKeys::Unknown
    });

    KeySpec {
        flags,
        begin_search,
        find_keys,
        notes,
    }
}

/// `{type: T, spec: {...}}` as a flat array: the type and the spec's flat array.
fn typed(map: Option<&Frame>) -> (Option<String>, &[Frame]) {
    let map = map.and_then(Frame::as_array).unwrap_or(&[]);
    let kind = map_get(map, "type").and_then(text).map(str::to_owned);
    let spec = map_get(map, "spec")
        .and_then(Frame::as_array)
        .unwrap_or(&[]);
    (kind, spec)
}

/// The value after `key` in a flat `[k1, v1, k2, v2, ...]` array.
fn map_get<'a>(map: &'a [Frame], key: &str) -> Option<&'a Frame> {
    map.chunks(2).find_map(|pair| match pair {
        [k, v] if text(k) == Some(key) => Some(v),
        _ => None,
    })
}

fn text(frame: &Frame) -> Option<&str> {
    match frame {
        Frame::Simple(_) | Frame::Bulk(_) => frame.as_str(),
        _ => None,
    }
}

fn integer(frame: &Frame) -> Option<i64> {
    match frame {
        Frame::Integer(n) => Some(*n),
        Frame::Simple(_) | Frame::Bulk(_) => frame.as_str()?.parse().ok(),
        _ => None,
    }
}

fn clamp_i32(n: i64) -> i32 {
    n.clamp(i32::MIN.into(), i32::MAX.into()) as i32
}

fn strings(frame: Option<&Frame>) -> Vec<String> {
    frame
        .and_then(Frame::as_array)
        .unwrap_or(&[])
        .iter()
        .filter_map(text)
        .map(str::to_owned)
        .collect()
}

//! The Redis command table: for every command of Redis 7 (and every subcommand such as
//! `CLIENT LIST`), its arity, flags, key specifications and routing tips, generated from a
//! real server's `COMMAND` reply and checked in (`data.rs`).
//!
//! Cluster routing reads it to find the keys of a command (and so its slot), replica
//! routing to know whether a command may run on a replica.
//!
//! ```
//! use slotline_command::{cmd, command_table};
//!
//! let c = cmd("EVAL").arg("return 1").arg(2).arg("a").arg("b").arg("x");
//! let keys: Vec<&[u8]> = command_table::keys(&c).collect();
//! assert_eq!(keys, [&b"a"[..], b"b"]);
//! assert!(!command_table::is_readonly(&c));
//!
//! let info = command_table::lookup(&cmd("object").arg("ENCODING").arg("k")).unwrap();
//! assert_eq!(info.name, "object|encoding");
//! assert!(info.is_readonly());
//! assert_eq!(command_table::key_positions(&cmd("OBJECT").arg("ENCODING").arg("k")), [2]);
//! ```
//!
//! Keys are found as Redis finds them (`COMMAND GETKEYS`): through the key specifications,
//! and for the few commands whose specifications cannot describe every key (`SORT ...
//! STORE`, `MIGRATE ... KEYS`) or whose specifications do not fit the arguments given,
//! through the same hand-written rules as the server's.
//!
//! To regenerate the table from another server:
//! `cargo run -p slotline-command-table-gen --bin gen_command_table -- redis://127.0.0.1:6379`.

mod cache;
mod data;
mod flags;
mod key_rules;
mod sharing;

use std::cmp::Ordering;

use crate::Cmd;

pub use cache::lookup_cached;
pub use flags::{AclCategories, CommandFlags, KeySpecFlags, Tips};
use key_rules::find_key_refs;
pub use sharing::Sharing;

/// The version of the Redis server the table was generated from.
pub const REDIS_VERSION: &str = data::REDIS_VERSION;

/// One command (or subcommand) of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// Lower-case name; subcommands are `container|sub` (`client|list`).
    pub name: &'static str,
    /// Number of arguments including the name (and the subcommand name); negative: at
    /// least that many.
    pub arity: i32,
    /// The command's flags.
    pub flags: CommandFlags,
    /// Legacy key positions: first key (0 when the command has no keys).
    pub first_key: i32,
    /// Legacy key positions: last key (negative counts from the end).
    pub last_key: i32,
    /// Legacy key positions: step between keys.
    pub step: i32,
    /// ACL categories.
    pub acl_categories: AclCategories,
    /// Tips other than the routing policies.
    pub tips: Tips,
    /// Key specifications, in the server's order.
    pub key_specs: &'static [KeySpec],
    /// Where a cluster client should send the command (the `request_policy` tip).
    pub request_policy: RequestPolicy,
    /// How a cluster client should merge the replies of several nodes (`response_policy`).
    pub response_policy: ResponsePolicy,
    /// Subcommands, sorted by name (empty for most commands).
    pub subcommands: &'static [CommandInfo],
}

/// A key specification: where a set of keys starts in the arguments and how to find them.
/// Indices count from the command name (index 0), subcommand included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// How the command uses these keys.
    pub flags: KeySpecFlags,
    /// Where the search starts.
    pub begin_search: BeginSearch,
    /// Which arguments from there are keys.
    pub find_keys: FindKeys,
}

/// How to find the first argument of a key specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginSearch {
    /// At this fixed index.
    Index(i32),
    /// After this keyword, searched from `start_from` (negative: from the end, backwards).
    Keyword {
        /// The keyword (upper case as Redis gives it; matched case-insensitively).
        keyword: &'static str,
        /// Index where the search starts.
        start_from: i32,
    },
    /// Not describable; the command has its own rule.
    Unknown,
}

/// Which arguments, from the start found by [`BeginSearch`], are keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// A range of keys.
    Range {
        /// Last key, relative to the start; negative counts from the end (`-1` = last
        /// argument).
        last_key: i32,
        /// Step between keys.
        key_step: i32,
        /// With `last_key == -1`: only `1/limit` of the remaining arguments are keys
        /// (`XREAD ... STREAMS k1 k2 id1 id2` has limit 2); 0 or 1: all of them.
        limit: i32,
    },
    /// A count of keys given by an argument (`numkeys`).
    Keynum {
        /// Index of the count, relative to the start.
        keynum_idx: i32,
        /// Index of the first key, relative to the start.
        first_key: i32,
        /// Step between keys.
        key_step: i32,
    },
    /// Not describable; the command has its own rule.
    Unknown,
}

/// The `request_policy` tip: which nodes of a cluster a keyless command should go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RequestPolicy {
    /// No tip: by key slot, or any node for a keyless command.
    #[default]
    Default,
    /// `all_nodes`: every node, masters and replicas.
    AllNodes,
    /// `all_shards`: every master.
    AllShards,
    /// `multi_shard`: split by key slot, each part to its shard.
    MultiShard,
    /// `special`: needs a command-specific rule.
    Special,
}

impl RequestPolicy {
    /// The policy named by a `request_policy:<name>` tip.
    pub fn from_name(name: &str) -> Option<RequestPolicy> {
        Some(match name {
            "all_nodes" => RequestPolicy::AllNodes,
            "all_shards" => RequestPolicy::AllShards,
            "multi_shard" => RequestPolicy::MultiShard,
            "special" => RequestPolicy::Special,
            _ => return None,
        })
    }

    /// The name in the tip (`None` for [`RequestPolicy::Default`]).
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            RequestPolicy::Default => return None,
            RequestPolicy::AllNodes => "all_nodes",
            RequestPolicy::AllShards => "all_shards",
            RequestPolicy::MultiShard => "multi_shard",
            RequestPolicy::Special => "special",
        })
    }
}

/// The `response_policy` tip: how to merge the replies of several nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResponsePolicy {
    /// No tip: one reply as is, or (for keyless fan-out) replies merged by reply type.
    #[default]
    Default,
    /// `one_succeeded`: the first non-error reply.
    OneSucceeded,
    /// `all_succeeded`: success if every node succeeded (any error is returned).
    AllSucceeded,
    /// `agg_logical_and`: logical AND of integer replies.
    AggLogicalAnd,
    /// `agg_logical_or`: logical OR of integer replies.
    AggLogicalOr,
    /// `agg_min`: minimum of integer replies.
    AggMin,
    /// `agg_max`: maximum of integer replies.
    AggMax,
    /// `agg_sum`: sum of integer replies.
    AggSum,
    /// `special`: needs a command-specific rule.
    Special,
}

impl ResponsePolicy {
    /// The policy named by a `response_policy:<name>` tip.
    pub fn from_name(name: &str) -> Option<ResponsePolicy> {
        Some(match name {
            "one_succeeded" => ResponsePolicy::OneSucceeded,
            "all_succeeded" => ResponsePolicy::AllSucceeded,
            "agg_logical_and" => ResponsePolicy::AggLogicalAnd,
            "agg_logical_or" => ResponsePolicy::AggLogicalOr,
            "agg_min" => ResponsePolicy::AggMin,
            "agg_max" => ResponsePolicy::AggMax,
            "agg_sum" => ResponsePolicy::AggSum,
            "special" => ResponsePolicy::Special,
            _ => return None,
        })
    }

    /// The name in the tip (`None` for [`ResponsePolicy::Default`]).
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            ResponsePolicy::Default => return None,
            ResponsePolicy::OneSucceeded => "one_succeeded",
            ResponsePolicy::AllSucceeded => "all_succeeded",
            ResponsePolicy::AggLogicalAnd => "agg_logical_and",
            ResponsePolicy::AggLogicalOr => "agg_logical_or",
            ResponsePolicy::AggMin => "agg_min",
            ResponsePolicy::AggMax => "agg_max",
            ResponsePolicy::AggSum => "agg_sum",
            ResponsePolicy::Special => "special",
        })
    }
}

/// A key found in a command's arguments: its index (0 is the command name) and how the
/// command uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    /// Index of the key in the arguments.
    pub pos: usize,
    /// Flags of the key specification (or of the server's own rule) that found it.
    pub flags: KeySpecFlags,
}

impl CommandInfo {
    /// Whether the command only reads (`readonly` and not `write`): it may run on a replica.
    pub fn is_readonly(&self) -> bool {
        self.flags.contains(CommandFlags::READONLY) && !self.flags.contains(CommandFlags::WRITE)
    }

    /// Whether the command may write (`write`).
    pub fn is_write(&self) -> bool {
        self.flags.contains(CommandFlags::WRITE)
    }

    /// Whether the command has key positions that depend on its arguments (`movablekeys`).
    pub fn has_movable_keys(&self) -> bool {
        self.flags.contains(CommandFlags::MOVABLEKEYS)
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let arity = self.arity.unsigned_abs() as usize;
        if self.arity >= 0 {
            argc == arity
        } else {
            argc >= arity
        }
    }

    /// The subcommand named `name` (ASCII case-insensitive, without the container's name:
    /// `b"list"` for `client|list`).
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandInfo> {
        let skip = self.name.len() + 1;
        find_in(self.subcommands, name, skip)
    }

    /// The keys of a command given as its arguments (the name at index 0, then the
    /// subcommand if any), as Redis's `COMMAND GETKEYS` finds them. Never panics; wrong
    /// arity or malformed arguments give no keys.
    pub fn key_refs<A: AsRef<[u8]>>(&self, args: &[A]) -> Vec<KeyRef> {
        let args: Vec<&[u8]> = args.iter().map(AsRef::as_ref).collect();
        find_key_refs(self, &args, false)
    }

    /// Like [`CommandInfo::key_refs`], plus the arguments that are not keys but are hashed
    /// like keys by Redis Cluster: the shard channels of `SPUBLISH`, `SSUBSCRIBE` and
    /// `SUNSUBSCRIBE` (key specs flagged `not_key`).
    pub fn slot_key_refs<A: AsRef<[u8]>>(&self, args: &[A]) -> Vec<KeyRef> {
        let args: Vec<&[u8]> = args.iter().map(AsRef::as_ref).collect();
        find_key_refs(self, &args, true)
    }
}

/// Every top-level command of the table, sorted by name.
pub fn commands() -> &'static [CommandInfo] {
    data::COMMANDS
}

/// The command (or, for a container such as `CLIENT`, the subcommand named by the second
/// argument) that `cmd` runs. ASCII case-insensitive and allocation-free. `None` for an
/// unknown command or an unknown subcommand; a container alone (`CLIENT`) is itself.
pub fn lookup(cmd: &Cmd) -> Option<&'static CommandInfo> {
    let mut args = cmd.args();
    let name = args.next()?;
    lookup_parts(name, args.next())
}

/// [`lookup`] from a command name and its second argument, if any.
pub fn lookup_parts(name: &[u8], second: Option<&[u8]>) -> Option<&'static CommandInfo> {
    let info = find_in(data::COMMANDS, name, 0)?;
    match second {
        Some(sub) if !info.subcommands.is_empty() => info.subcommand(sub),
        _ => Some(info),
    }
}

/// A command by its table name: `get`, `client|list` (ASCII case-insensitive).
pub fn lookup_name(name: &str) -> Option<&'static CommandInfo> {
    match name.split_once('|') {
        Some((container, sub)) => {
            find_in(data::COMMANDS, container.as_bytes(), 0)?.subcommand(sub.as_bytes())
        }
        None => find_in(data::COMMANDS, name.as_bytes(), 0),
    }
}

/// The keys of `cmd`, in the order Redis's `COMMAND GETKEYS` gives them (see
/// [`CommandInfo::key_refs`]). Empty for unknown and keyless commands.
pub fn keys(cmd: &Cmd) -> Keys<'_> {
    keys_of(cmd, false)
}

/// The key references of the arguments `args` (name first); with `channels`, shard
/// channels count as keys too.
fn refs_in(args: &[&[u8]], channels: bool) -> Vec<KeyRef> {
    match lookup_in(args) {
        Some(info) => find_key_refs(info, args, channels),
        None => Vec::new(),
    }
}

/// The arguments of `cmd` that [`refs_in`] finds.
fn keys_of(cmd: &Cmd, channels: bool) -> Keys<'_> {
    let args: Vec<&[u8]> = cmd.args().collect();
    let keys: Vec<&[u8]> = refs_in(&args, channels)
        .iter()
        .filter_map(|k| args.get(k.pos).copied())
        .collect();
    Keys {
        inner: keys.into_iter(),
    }
}

/// Indices of the keys of `cmd` in its arguments (0 is the name), as [`keys`] finds them.
pub fn key_positions(cmd: &Cmd) -> Vec<usize> {
    key_refs(cmd).into_iter().map(|k| k.pos).collect()
}

/// The keys of `cmd` with their indices and flags, as [`keys`] finds them.
pub fn key_refs(cmd: &Cmd) -> Vec<KeyRef> {
    let args: Vec<&[u8]> = cmd.args().collect();
    refs_in(&args, false)
}

/// The arguments of `cmd` whose hash slot decides where Redis Cluster runs it: its keys,
/// plus the shard channels of `SPUBLISH`/`SSUBSCRIBE`/`SUNSUBSCRIBE`.
pub fn slot_keys(cmd: &Cmd) -> Keys<'_> {
    keys_of(cmd, true)
}

/// Whether `cmd` only reads and may go to a replica. Unknown commands are not read-only.
pub fn is_readonly(cmd: &Cmd) -> bool {
    lookup(cmd).is_some_and(CommandInfo::is_readonly)
}

/// Whether `cmd` is flagged `write`; unknown commands count as writes. Script and function
/// calls (`EVAL`, `FCALL`) are flagged neither `write` nor `readonly` (their scripts decide):
/// route by [`is_readonly`], which is false for them.
pub fn is_write(cmd: &Cmd) -> bool {
    lookup(cmd).is_none_or(CommandInfo::is_write)
}

/// The `request_policy` of `cmd` ([`RequestPolicy::Default`] for unknown commands).
pub fn request_policy(cmd: &Cmd) -> RequestPolicy {
    lookup(cmd).map_or(RequestPolicy::Default, |c| c.request_policy)
}

/// The `response_policy` of `cmd` ([`ResponsePolicy::Default`] for unknown commands).
pub fn response_policy(cmd: &Cmd) -> ResponsePolicy {
    lookup(cmd).map_or(ResponsePolicy::Default, |c| c.response_policy)
}

/// The keys of a command, from [`keys`] or [`slot_keys`].
#[derive(Debug, Clone)]
pub struct Keys<'a> {
    inner: std::vec::IntoIter<&'a [u8]>,
}

impl<'a> Iterator for Keys<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Keys<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back()
    }
}

impl ExactSizeIterator for Keys<'_> {}

impl std::iter::FusedIterator for Keys<'_> {}

// ---------------------------------------------------------------------------------------
// Lookup

fn lookup_in(args: &[&[u8]]) -> Option<&'static CommandInfo> {
    lookup_parts(args.first()?, args.get(1).copied())
}

/// Binary search of `table` (sorted by name) for `name`, comparing it case-insensitively
/// with each entry's name after its first `skip` bytes.
fn find_in(
    table: &'static [CommandInfo],
    name: &[u8],
    skip: usize,
) -> Option<&'static CommandInfo> {
    table
        .binary_search_by(|entry| cmp_lower(entry.name.as_bytes().get(skip..).unwrap_or(b""), name))
        .ok()
        .and_then(|i| table.get(i))
}

/// Compares `entry` (lower case) with `name` lower-cased, without allocating.
fn cmp_lower(entry: &[u8], name: &[u8]) -> Ordering {
    for (a, b) in entry.iter().zip(name) {
        match a.cmp(&b.to_ascii_lowercase()) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    entry.len().cmp(&name.len())
}

#[cfg(test)]
mod tests;

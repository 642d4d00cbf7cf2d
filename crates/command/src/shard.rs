//! Key routing for clients that spread keys over shards, written once against "which shard
//! owns this key": a Redis Cluster answers with hash slots, a sharded sentinel client with
//! its ring. Where a command goes ([`route_by_key`]), how a multi-key command is split per
//! shard, and how the replies of several shards are put back together ([`Merge`]).
//! Sans-IO.

use std::fmt::Debug;

use slotline_resp::Frame;

use crate::command_table::{self, CommandInfo, RequestPolicy, ResponsePolicy};
use crate::{Cmd, Error, Pipeline, RefusedKind, Result};

/// The part of `key` that is hashed to find its shard: its hash tag if it has a non-empty
/// one, else the whole key. The same rule in Redis Cluster and in twemproxy's
/// `hash_tag: "{}"`: the first `{`, and the first `}` after it, with at least one byte
/// between them.
///
/// ```
/// use slotline_command::shard::hash_tag;
/// assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
/// assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
/// assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
/// assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
/// ```
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        let rest = &key[open + 1..];
        if let Some(close) = rest.iter().position(|&b| b == b'}') {
            if close > 0 {
                return &rest[..close];
            }
        }
    }
    key
}

/// The multi-key commands split per shard when their keys live on several (their replies
/// merge exactly).
pub const SPLIT_COMMANDS: [&str; 6] = ["mget", "mset", "del", "exists", "unlink", "touch"];

/// Where one command goes, for a client whose keys live on shards named `S`.
#[derive(Debug, Clone, PartialEq)]
pub enum ShardRoute<S> {
    /// Every key (or shard channel) is on this shard.
    One {
        /// The shard.
        shard: S,
        /// Whether the command only reads (it may go to a replica).
        readonly: bool,
    },
    /// No key: any shard.
    Any {
        /// Whether the command only reads.
        readonly: bool,
    },
    /// A multi-key command over several shards: one command per shard, merged.
    Split {
        /// One command per shard, in order of first appearance.
        parts: Vec<(S, Cmd)>,
        /// How to merge their replies into the caller's reply.
        merge: Merge,
        /// Whether the command only reads.
        readonly: bool,
    },
    /// A keyless command for every shard (`DBSIZE`, `KEYS`, `FLUSHALL`, `PING`, `SCRIPT
    /// LOAD`, ...), as the command table's request policy says: to every master, or
    /// every node, merged.
    FanOut {
        /// Every node (masters and replicas) rather than every master.
        all_nodes: bool,
        /// How to merge the replies.
        merge: Merge,
    },
}

/// Decides where `cmd` goes, given which shard owns a key (`shard_of`): by the shard of
/// its keys (found through the command table), split per shard (`MGET`, `MSET`, `DEL`,
/// `EXISTS`, `UNLINK`, `TOUCH`), to every shard (keyless commands with an
/// `all_shards`/`all_nodes` tip), or to any shard.
///
/// Refused here, before anything is sent: any other command whose keys live on several
/// shards (a client-side `CROSSSLOT`; `noun` names the shards in the message: "slot").
pub fn route_by_key<S: Copy + Eq + Debug>(
    cmd: &Cmd,
    shard_of: impl Fn(&[u8]) -> S,
    noun: &str,
) -> Result<ShardRoute<S>> {
    let mut args = cmd.args();
    let (name, second) = (args.next().unwrap_or_default(), args.next());
    let Some(info) = command_table::lookup_cached(name, second) else {
        // Unknown to the table (a module's command?): any shard; the server decides.
        return Ok(ShardRoute::Any { readonly: false });
    };
    route_known(cmd, info, second, shard_of, noun)
}

/// [`route_by_key`] once the command is looked up.
pub fn route_known<S: Copy + Eq + Debug>(
    cmd: &Cmd,
    info: &CommandInfo,
    second: Option<&[u8]>,
    shard_of: impl Fn(&[u8]) -> S,
    noun: &str,
) -> Result<ShardRoute<S>> {
    let readonly = info.is_readonly();
    if info.first_arg_is_the_key() {
        return Ok(match second {
            Some(key) if info.arity_ok(cmd.argc()) => ShardRoute::One {
                shard: shard_of(key),
                readonly,
            },
            _ => ShardRoute::Any { readonly },
        });
    }
    let mut keys = command_table::slot_keys(cmd);
    if let Some(first) = keys.next() {
        let first_shard = shard_of(first);
        let other = keys.map(&shard_of).find(|s| *s != first_shard);
        return match other {
            None => Ok(ShardRoute::One {
                shard: first_shard,
                readonly,
            }),
            Some(_) if SPLIT_COMMANDS.contains(&info.name) => {
                Ok(split(cmd, info, readonly, &shard_of))
            }
            Some(s) => Err(cross_shard(&cmd.name(), noun, first_shard, s)),
        };
    }
    match (info.request_policy, info.response_policy) {
        (RequestPolicy::AllShards | RequestPolicy::AllNodes, policy)
            if policy != ResponsePolicy::Special =>
        {
            Ok(ShardRoute::FanOut {
                all_nodes: info.request_policy == RequestPolicy::AllNodes,
                merge: Merge::Policy(policy),
            })
        }
        _ => Ok(ShardRoute::Any { readonly }),
    }
}

/// The one shard a transaction (or any request that must not be split) runs on: every
/// key of every command on one shard (`None` when no command has a key), else a
/// client-side refusal before anything is sent. `route` is the client's own routing of one
/// command; `noun` names its shards in the messages ("slot", "shard").
pub fn transaction_shard<S: Copy + Eq + Debug>(
    pipe: &Pipeline,
    route: impl Fn(&Cmd) -> Result<ShardRoute<S>>,
    noun: &str,
) -> Result<Option<S>> {
    let refused = |message: String| Error::refused(RefusedKind::CrossSlot, message);
    let mut first: Option<(S, String)> = None;
    for c in pipe.cmds() {
        match route(c)? {
            ShardRoute::One { shard, .. } => match &first {
                Some((s, name)) if *s != shard => {
                    return Err(refused(format!(
                        "CROSSSLOT: a transaction must keep to one {noun}, this one touches \
                         {noun}s {s:?} and {shard:?} ({name} then {})",
                        c.name()
                    )))
                }
                Some(_) => {}
                None => first = Some((shard, c.name())),
            },
            ShardRoute::Any { .. } => {}
            ShardRoute::Split { .. } => {
                return Err(refused(format!(
                    "CROSSSLOT: a transaction must keep to one {noun}; {} has keys in several",
                    c.name()
                )))
            }
            ShardRoute::FanOut { .. } => {
                return Err(refused(format!(
                    "{} goes to every {noun} and cannot be part of a transaction",
                    c.name()
                )))
            }
        }
    }
    Ok(first.map(|(s, _)| s))
}

/// The client-side `CROSSSLOT` refusal: a command's keys on two shards.
pub fn cross_shard(command: &str, noun: &str, a: impl Debug, b: impl Debug) -> Error {
    Error::refused(
        RefusedKind::CrossSlot,
        format!(
            "CROSSSLOT: the keys of {command} are on different {noun}s ({a:?} and {b:?}); \
             keys of one command must share a {noun} (use a hash tag such as {{user1}}.name)"
        ),
    )
}

/// Splits a multi-key command per shard.
fn split<S: Copy + Eq>(
    cmd: &Cmd,
    info: &CommandInfo,
    readonly: bool,
    shard_of: &impl Fn(&[u8]) -> S,
) -> ShardRoute<S> {
    let name = cmd.arg_at(0).unwrap_or_default();
    let step = if info.name == "mset" { 2 } else { 1 };
    let args: Vec<&[u8]> = cmd.args().skip(1).collect();
    if args.is_empty() || args.len() % step != 0 {
        return ShardRoute::Any { readonly };
    }
    let mut shards: Vec<S> = Vec::new();
    let mut groups: Vec<(Cmd, Vec<usize>)> = Vec::new();
    for (i, chunk) in args.chunks(step).enumerate() {
        let s = shard_of(chunk[0]);
        let at = match shards.iter().position(|&x| x == s) {
            Some(at) => at,
            None => {
                shards.push(s);
                let mut c = Cmd::new();
                c.write_bytes(name);
                groups.push((c, Vec::new()));
                groups.len() - 1
            }
        };
        let (c, positions) = &mut groups[at];
        for a in chunk {
            c.write_bytes(a);
        }
        positions.push(i);
    }
    let total = args.len() / step;
    let merge = match info.name {
        "mget" => Merge::Positions {
            total,
            positions: groups.iter().map(|(_, p)| p.clone()).collect(),
        },
        "mset" => Merge::Policy(ResponsePolicy::AllSucceeded),
        _ => Merge::Policy(ResponsePolicy::AggSum),
    };
    let parts = shards
        .into_iter()
        .zip(groups)
        .map(|(s, (mut c, _))| {
            if cmd.is_idempotent() {
                c = c.idempotent();
            }
            (s, c)
        })
        .collect();
    ShardRoute::Split {
        parts,
        merge,
        readonly,
    }
}

/// How replies from several shards become one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// `MGET` split per shard: the values go back to their keys' positions. `positions[i]`
    /// lists where part `i`'s values go; `total` is the number of keys.
    Positions {
        /// Number of keys of the original command.
        total: usize,
        /// For each part, the positions of its keys in the original command.
        positions: Vec<Vec<usize>>,
    },
    /// A response policy of the command table (`agg_sum`, `all_succeeded`, ...);
    /// [`ResponsePolicy::Default`] concatenates arrays (`KEYS`) and otherwise takes the
    /// first non-null reply (`RANDOMKEY`).
    Policy(ResponsePolicy),
}

impl Merge {
    /// Merges the replies (one per part or shard, in order). An error reply wins (the
    /// first one), except under `one_succeeded`, where any success does.
    pub fn merge(&self, replies: Vec<Frame>) -> Frame {
        if !matches!(self, Merge::Policy(ResponsePolicy::OneSucceeded)) {
            if let Some(e) = replies.iter().find(|f| f.is_error()) {
                return e.clone();
            }
        }
        match self {
            Merge::Positions { total, positions } => merge_positions(*total, positions, replies),
            Merge::Policy(policy) => merge_policy(*policy, replies),
        }
    }
}

/// A caller's reply from its command's parts' replies, in order: the one part's as it is
/// (`merge` none), or the parts' merged. The last step of every sharded request, whatever
/// the shards (cluster slots, the shards of a sharded client).
pub fn assemble(
    mut replies: Vec<crate::Reply>,
    merge: Option<&Merge>,
) -> crate::Result<crate::Reply> {
    match merge {
        None => replies
            .pop()
            .ok_or_else(|| Error::unexpected_reply("a command had no part")),
        Some(merge) => {
            let frames = replies.into_iter().map(crate::Reply::into_frame).collect();
            Ok(crate::Reply::from_frame(merge.merge(frames))?)
        }
    }
}

fn merge_positions(total: usize, positions: &[Vec<usize>], replies: Vec<Frame>) -> Frame {
    let mut out = vec![Frame::Null; total];
    for (reply, places) in replies.into_iter().zip(positions) {
        let values = match reply.into_array() {
            Ok(values) if values.len() == places.len() => values,
            Ok(values) => {
                return Frame::error(format!(
                    "ERR slotline: a part of MGET got {} values for {} keys",
                    values.len(),
                    places.len()
                ))
            }
            Err(other) => {
                return Frame::error(format!(
                    "ERR slotline: unexpected MGET part reply {other:?}"
                ))
            }
        };
        for (value, &at) in values.into_iter().zip(places) {
            if let Some(slot) = out.get_mut(at) {
                *slot = value;
            }
        }
    }
    Frame::Array(out)
}

fn merge_policy(policy: ResponsePolicy, replies: Vec<Frame>) -> Frame {
    let ints = |replies: &[Frame], f: fn(i64, i64) -> i64| -> Frame {
        aggregate(replies, f).unwrap_or_else(|| {
            Frame::error("ERR slotline: the shards' replies cannot be aggregated")
        })
    };
    match policy {
        ResponsePolicy::AggSum => ints(&replies, |a, b| a.saturating_add(b)),
        ResponsePolicy::AggMin => ints(&replies, i64::min),
        ResponsePolicy::AggMax => ints(&replies, i64::max),
        ResponsePolicy::AggLogicalAnd => ints(&replies, |a, b| i64::from(a != 0 && b != 0)),
        ResponsePolicy::AggLogicalOr => ints(&replies, |a, b| i64::from(a != 0 || b != 0)),
        ResponsePolicy::OneSucceeded => {
            let mut first_error = None;
            for r in replies {
                if !r.is_error() {
                    return r;
                }
                first_error.get_or_insert(r);
            }
            first_error.unwrap_or(Frame::Null)
        }
        ResponsePolicy::AllSucceeded => {
            let mut iter = replies.into_iter();
            let Some(first) = iter.next() else {
                return Frame::Null;
            };
            for other in iter {
                if other != first {
                    return Frame::error(format!(
                        "ERR slotline: the shards answered differently ({first:?} and {other:?})"
                    ));
                }
            }
            first
        }
        ResponsePolicy::Default | ResponsePolicy::Special => {
            if replies.iter().all(|r| matches!(r, Frame::Array(_))) {
                let mut all = Vec::new();
                for r in replies {
                    if let Ok(items) = r.into_array() {
                        all.extend(items);
                    }
                }
                return Frame::Array(all);
            }
            let mut first = None;
            for r in replies {
                if !r.is_null() {
                    return r;
                }
                first.get_or_insert(r);
            }
            first.unwrap_or(Frame::Null)
        }
    }
}

/// Folds integer replies, or arrays of integers element-wise (`SCRIPT EXISTS`).
fn aggregate(replies: &[Frame], f: fn(i64, i64) -> i64) -> Option<Frame> {
    let first = replies.first()?;
    match first {
        Frame::Integer(_) => {
            let mut acc: Option<i64> = None;
            for r in replies {
                let n = r.as_int()?;
                acc = Some(match acc {
                    None => n,
                    Some(a) => f(a, n),
                });
            }
            acc.map(Frame::Integer)
        }
        Frame::Array(items) => {
            let mut acc: Vec<i64> = items.iter().map(Frame::as_int).collect::<Option<_>>()?;
            for r in &replies[1..] {
                let items = r.as_array()?;
                if items.len() != acc.len() {
                    return None;
                }
                for (a, item) in acc.iter_mut().zip(items) {
                    *a = f(*a, item.as_int()?);
                }
            }
            Some(Frame::Array(acc.into_iter().map(Frame::Integer).collect()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cmd, ErrorKind};

    /// A toy owner: the first byte of the hash tag, else of the key.
    fn owner(key: &[u8]) -> u8 {
        let tagged = key
            .iter()
            .position(|&b| b == b'{')
            .map(|i| &key[i + 1..])
            .filter(|rest| rest.first().is_some_and(|&b| b != b'}'));
        tagged.unwrap_or(key).first().copied().unwrap_or(0)
    }

    #[test]
    fn any_owner_routes_splits_and_refuses() {
        let one = route_by_key(&cmd("GET").arg("apple"), owner, "shard").unwrap();
        assert_eq!(
            one,
            ShardRoute::One {
                shard: b'a',
                readonly: true
            }
        );
        let Ok(ShardRoute::Split { parts, merge, .. }) =
            route_by_key(&cmd("MGET").arg("a1").arg("b1").arg("{a}2"), owner, "shard")
        else {
            panic!("not split")
        };
        assert_eq!(
            parts.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [b'a', b'b']
        );
        assert_eq!(
            merge,
            Merge::Positions {
                total: 3,
                positions: vec![vec![0, 2], vec![1]]
            }
        );
        let e = route_by_key(&cmd("SUNION").arg("a").arg("b"), owner, "shard").unwrap_err();
        assert!(
            e.kind() == ErrorKind::Refused(RefusedKind::CrossSlot)
                && e.to_string().contains("different shards"),
            "{e}"
        );
        assert!(matches!(
            route_by_key(&cmd("DBSIZE"), owner, "shard").unwrap(),
            ShardRoute::FanOut { .. }
        ));
    }
}

//! Where a command goes in a cluster, and how the replies of a command that went to
//! several nodes are put back together: sans-IO, shared by every driver.

use slotline_conn::command_table::{
    self, BeginSearch, CommandFlags, CommandInfo, FindKeys, RequestPolicy, ResponsePolicy,
};
use slotline_conn::{Cmd, Error, Frame, Result};

use crate::slot::slot;

/// The multi-key commands a cluster client splits per slot when their keys are in
/// different slots (their replies can be merged exactly).
pub const SPLIT_COMMANDS: [&str; 6] = ["mget", "mset", "del", "exists", "unlink", "touch"];

/// Where one command goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Every key (or shard channel) hashes to this slot: to the node serving it.
    Slot {
        /// The slot.
        slot: u16,
        /// Whether the command only reads (it may go to a replica, per the read policy).
        readonly: bool,
    },
    /// No key: any master (round robin).
    Any {
        /// Whether the command only reads.
        readonly: bool,
    },
    /// A multi-key command over several slots: one command per slot, merged.
    Split {
        /// One command per slot, in order of first appearance.
        parts: Vec<(u16, Cmd)>,
        /// How to merge their replies into the caller's reply.
        merge: Merge,
        /// Whether the command only reads.
        readonly: bool,
    },
    /// A keyless command for the whole cluster (`DBSIZE`, `KEYS`, `FLUSHALL`, `PING`,
    /// `SCRIPT LOAD`, ...): to every master, or every node, merged.
    FanOut {
        /// Every node (masters and replicas) rather than every master.
        all_nodes: bool,
        /// How to merge the replies.
        merge: Merge,
    },
}

/// How replies from several nodes become one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// `MGET` split per slot: the values go back to their keys' positions. `positions[i]`
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
    /// Merges the replies (one per part or node, in order). An error reply wins (the first
    /// one), except under `one_succeeded`, where any success does.
    pub fn merge(&self, replies: Vec<Frame>) -> Frame {
        if !matches!(self, Merge::Policy(ResponsePolicy::OneSucceeded)) {
            if let Some(e) = replies.iter().find(|f| f.is_error()) {
                return e.clone();
            }
        }
        match self {
            Merge::Positions { total, positions } => {
                let mut out = vec![Frame::Null; *total];
                for (reply, places) in replies.into_iter().zip(positions) {
                    let values = match reply.into_array() {
                        Ok(values) if values.len() == places.len() => values,
                        Ok(values) => {
                            return Frame::error(format!(
                                "ERR cluster client: a part of MGET got {} values for {} keys",
                                values.len(),
                                places.len()
                            ))
                        }
                        Err(other) => {
                            return Frame::error(format!(
                                "ERR cluster client: unexpected MGET part reply {other:?}"
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
            Merge::Policy(policy) => merge_policy(*policy, replies),
        }
    }
}

fn merge_policy(policy: ResponsePolicy, replies: Vec<Frame>) -> Frame {
    let ints = |replies: &[Frame], f: fn(i64, i64) -> i64| -> Frame {
        aggregate(replies, f).unwrap_or_else(|| {
            Frame::error("ERR cluster client: replies of the nodes cannot be aggregated")
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
                        "ERR cluster client: the nodes answered differently ({first:?} and {other:?})"
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

/// The client-side `CROSSSLOT` refusal.
fn cross_slot(cmd: &Cmd, a: u16, b: u16) -> Error {
    Error::refused(
        slotline_conn::RefusedKind::CrossSlot,
        format!(
            "CROSSSLOT: the keys of {} hash to different slots ({a} and {b}); in a cluster, \
         keys of one command must share a slot (use a hash tag such as {{user1}}.name)",
            cmd.name()
        ),
    )
}

/// Whether a command's only key is its first argument (`GET k`, `SET k v`, ...): then its
/// slot needs no key search.
fn first_arg_is_the_key(info: &CommandInfo) -> bool {
    if info.flags.contains(CommandFlags::MOVABLEKEYS) || info.key_specs.len() != 1 {
        return false;
    }
    let spec = &info.key_specs[0];
    matches!(
        (spec.begin_search, spec.find_keys),
        (BeginSearch::Index(1), FindKeys::Range { last_key: 0, .. })
    )
}

/// A small lock-free cache of top-level command lookups by name (the hot path looks the
/// same few commands up again and again). Entries are indices into the table, verified on
/// every hit, so a collision only costs a lookup.
fn lookup_cached(name: &[u8], second: Option<&[u8]>) -> Option<&'static CommandInfo> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CACHE: [AtomicUsize; 64] = [const { AtomicUsize::new(usize::MAX) }; 64];
    let mut h: u32 = 0x811c_9dc5;
    for b in name {
        h = (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0193);
    }
    let entry = &CACHE[(h as usize) % CACHE.len()];
    let table = command_table::commands();
    if let Some(info) = table.get(entry.load(Ordering::Relaxed)) {
        if info.name.as_bytes().eq_ignore_ascii_case(name) {
            return match second {
                Some(sub) if !info.subcommands.is_empty() => info.subcommand(sub),
                _ => Some(info),
            };
        }
    }
    let info = command_table::lookup_parts(name, None)?;
    if let Some(i) = table.iter().position(|c| std::ptr::eq(c, info)) {
        entry.store(i, Ordering::Relaxed);
    }
    match second {
        Some(sub) if !info.subcommands.is_empty() => info.subcommand(sub),
        _ => Some(info),
    }
}

/// Commands that would turn a shared connection into something else.
fn refused_on_shared(info: &CommandInfo) -> Option<(slotline_conn::RefusedKind, &'static str)> {
    use slotline_conn::RefusedKind::{Invalid, OwnConnection};
    Some(match info.name {
        "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe"
        | "sunsubscribe" => {
            (OwnConnection, "pub/sub subscriptions need a connection of their own: use ClusterClient::pubsub()")
        }
        "monitor" => (OwnConnection, "MONITOR needs a connection of its own: use ClusterClient::node(addr)"),
        "multi" | "exec" | "discard" => {
            (OwnConnection, "MULTI/EXEC on a shared cluster client: use a transaction pipeline (Query::transaction)")
        }
        "scan" => {
            (OwnConnection, "SCAN in a cluster must visit every master: use ClusterClient::scan(ScanOptions::keys())")
        }
        "readonly" | "readwrite" | "asking" => {
            (OwnConnection, "READONLY/READWRITE/ASKING are managed by the cluster client (see ClusterConfig::read_from)")
        }
        "select" => (Invalid, "a cluster has only database 0"),
        _ => return None,
    })
}

/// Decides where `cmd` goes: by the slot of its keys (read through the command table),
/// split per slot (`MGET`, `MSET`, `DEL`, `EXISTS`, `UNLINK`, `TOUCH`), to every master
/// or node (keyless commands with an `all_shards`/`all_nodes` tip), or to any master.
///
/// Refused here, before anything is sent: keys in different slots for any other command
/// (a client-side `CROSSSLOT`), and commands that cannot run on a shared connection.
pub fn route(cmd: &Cmd) -> Result<Route> {
    let mut args = cmd.args();
    let (name, second) = (args.next().unwrap_or_default(), args.next());
    let Some(info) = lookup_cached(name, second) else {
        // Unknown to the table (a module's command?): any master; the server decides.
        return Ok(Route::Any { readonly: false });
    };
    if let Some(why) = refused_on_shared(info) {
        return Err(Error::refused(why.0, why.1));
    }
    let readonly = info.is_readonly();
    if first_arg_is_the_key(info) {
        return Ok(match second {
            Some(key) if info.arity_ok(cmd.argc()) => Route::Slot {
                slot: slot(key),
                readonly,
            },
            _ => Route::Any { readonly },
        });
    }
    let mut keys = command_table::slot_keys(cmd);
    if let Some(first) = keys.next() {
        let first_slot = slot(first);
        let mut other = None;
        for k in keys {
            let s = slot(k);
            if s != first_slot {
                other = Some(s);
                break;
            }
        }
        return match other {
            None => Ok(Route::Slot {
                slot: first_slot,
                readonly,
            }),
            Some(_) if SPLIT_COMMANDS.contains(&info.name) => split(cmd, info, readonly),
            Some(s) => Err(cross_slot(cmd, first_slot, s)),
        };
    }
    match (info.request_policy, info.response_policy) {
        (RequestPolicy::AllShards | RequestPolicy::AllNodes, policy)
            if policy != ResponsePolicy::Special =>
        {
            Ok(Route::FanOut {
                all_nodes: info.request_policy == RequestPolicy::AllNodes,
                merge: Merge::Policy(policy),
            })
        }
        _ => Ok(Route::Any { readonly }),
    }
}

/// Splits a multi-key command per slot.
fn split(cmd: &Cmd, info: &CommandInfo, readonly: bool) -> Result<Route> {
    let name = cmd.arg_at(0).unwrap_or_default();
    let step = if info.name == "mset" { 2 } else { 1 };
    let args: Vec<&[u8]> = cmd.args().skip(1).collect();
    if args.is_empty() || args.len() % step != 0 {
        return Ok(Route::Any { readonly });
    }
    let mut slots: Vec<u16> = Vec::new();
    let mut groups: Vec<(Cmd, Vec<usize>)> = Vec::new();
    for (i, chunk) in args.chunks(step).enumerate() {
        let s = slot(chunk[0]);
        let at = match slots.iter().position(|&x| x == s) {
            Some(at) => at,
            None => {
                slots.push(s);
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
    let parts = slots
        .into_iter()
        .zip(groups)
        .map(|(s, (mut c, _))| {
            if cmd.is_idempotent() {
                c = c.idempotent();
            }
            (s, c)
        })
        .collect();
    Ok(Route::Split {
        parts,
        merge,
        readonly,
    })
}

#[cfg(test)]
mod tests {
    use slotline_conn::cmd;

    use super::*;

    #[test]
    fn single_slot_routes() {
        assert_eq!(
            route(&cmd("GET").arg("123456789")).unwrap(),
            Route::Slot {
                slot: 12739,
                readonly: true
            }
        );
        assert_eq!(
            route(&cmd("set").arg("123456789").arg("v")).unwrap(),
            Route::Slot {
                slot: 12739,
                readonly: false
            }
        );
        let tagged = cmd("MGET").arg("{a}1").arg("{a}2");
        assert!(matches!(
            route(&tagged).unwrap(),
            Route::Slot { readonly: true, .. }
        ));
        let spublish = cmd("SPUBLISH").arg("123456789").arg("m");
        assert!(matches!(
            route(&spublish).unwrap(),
            Route::Slot { slot: 12739, .. }
        ));
        let eval = cmd("EVAL").arg("return 1").arg(1).arg("123456789");
        assert!(matches!(
            route(&eval).unwrap(),
            Route::Slot { slot: 12739, .. }
        ));
        assert_eq!(
            route(&cmd("PUBLISH").arg("ch").arg("m")).unwrap(),
            Route::Any { readonly: false }
        );
        assert!(matches!(
            route(&cmd("EVAL").arg("return 1").arg(0)).unwrap(),
            Route::Any { .. }
        ));
    }

    #[test]
    fn simple_keys_agree_with_the_table() {
        for info in command_table::commands() {
            let mut c = cmd(info.name);
            for a in ["k1", "a", "b", "c"]
                .iter()
                .take(info.arity.unsigned_abs() as usize - 1)
            {
                c.push_arg(*a);
            }
            if first_arg_is_the_key(info) && info.arity_ok(c.argc()) {
                let slow: Vec<&[u8]> = command_table::slot_keys(&c).collect();
                assert_eq!(slow, [&b"k1"[..]], "{}", info.name);
            }
            let cached = lookup_cached(info.name.as_bytes(), c.arg_at(1));
            assert_eq!(cached, command_table::lookup(&c), "{}", info.name);
            assert_eq!(
                lookup_cached(info.name.to_uppercase().as_bytes(), c.arg_at(1)),
                cached
            );
        }
    }

    #[test]
    fn cross_slot_is_refused_or_split() {
        let e = route(&cmd("SUNION").arg("a").arg("b")).unwrap_err();
        assert!(e.to_string().contains("CROSSSLOT"), "{e}");
        assert!(route(&cmd("MSETNX").arg("a").arg(1).arg("b").arg(2)).is_err());
        let Route::Split { parts, merge, .. } =
            route(&cmd("MGET").arg("a").arg("b").arg("{a}x").arg("c")).unwrap()
        else {
            panic!("not split")
        };
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].0, slot(b"a"));
        assert_eq!(parts[0].1.argc(), 3);
        assert_eq!(
            merge,
            Merge::Positions {
                total: 4,
                positions: vec![vec![0, 2], vec![1], vec![3]]
            }
        );
        let replies = vec![
            Frame::Array(vec![Frame::bulk("A"), Frame::bulk("AX")]),
            Frame::Array(vec![Frame::Null]),
            Frame::Array(vec![Frame::bulk("C")]),
        ];
        assert_eq!(
            merge.merge(replies),
            Frame::Array(vec![
                Frame::bulk("A"),
                Frame::Null,
                Frame::bulk("AX"),
                Frame::bulk("C")
            ])
        );
        let Route::Split { parts, merge, .. } =
            route(&cmd("MSET").arg("a").arg(1).arg("b").arg(2)).unwrap()
        else {
            panic!("not split")
        };
        assert_eq!(
            parts[1].1.args().collect::<Vec<_>>(),
            [&b"MSET"[..], b"b", b"2"]
        );
        assert_eq!(
            merge.merge(vec![Frame::simple("OK"), Frame::simple("OK")]),
            Frame::simple("OK")
        );
        let Route::Split { merge, .. } = route(&cmd("DEL").arg("a").arg("b")).unwrap() else {
            panic!("not split")
        };
        assert_eq!(
            merge.merge(vec![Frame::Integer(1), Frame::Integer(2)]),
            Frame::Integer(3)
        );
        assert!(merge
            .merge(vec![Frame::Integer(1), Frame::error("ERR x")])
            .is_error());
    }

    #[test]
    fn keyless_fan_out() {
        let dbsize = route(&cmd("DBSIZE")).unwrap();
        assert_eq!(
            dbsize,
            Route::FanOut {
                all_nodes: false,
                merge: Merge::Policy(ResponsePolicy::AggSum)
            }
        );
        let Route::FanOut { merge, .. } = route(&cmd("KEYS").arg("*")).unwrap() else {
            panic!()
        };
        assert_eq!(
            merge.merge(vec![
                Frame::Array(vec![Frame::bulk("a")]),
                Frame::Array(vec![Frame::bulk("b")])
            ]),
            Frame::Array(vec![Frame::bulk("a"), Frame::bulk("b")])
        );
        let Route::FanOut { all_nodes, merge } =
            route(&cmd("SCRIPT").arg("LOAD").arg("return 1")).unwrap()
        else {
            panic!()
        };
        assert!(all_nodes);
        assert!(merge
            .merge(vec![Frame::bulk("aa"), Frame::bulk("bb")])
            .is_error());
        assert!(matches!(
            route(&cmd("FLUSHALL")).unwrap(),
            Route::FanOut { .. }
        ));
        assert!(matches!(route(&cmd("PING")).unwrap(), Route::FanOut { .. }));
        let Route::FanOut { merge, .. } =
            route(&cmd("SCRIPT").arg("EXISTS").arg("a").arg("b")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            merge.merge(vec![
                Frame::Array(vec![Frame::Integer(1), Frame::Integer(1)]),
                Frame::Array(vec![Frame::Integer(1), Frame::Integer(0)])
            ]),
            Frame::Array(vec![Frame::Integer(1), Frame::Integer(0)])
        );
        assert!(matches!(route(&cmd("INFO")).unwrap(), Route::Any { .. }));
        assert!(route(&cmd("SCAN").arg(0)).is_err());
        assert!(route(&cmd("SUBSCRIBE").arg("x")).is_err());
    }
}

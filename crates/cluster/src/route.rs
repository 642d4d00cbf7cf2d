//! Where a command goes in a cluster: the shard routing of `slotline-command`, with hash slots
//! as the shards, and the commands a shared cluster client refuses.

use slotline_conn::command_table::{self, Sharing};
use slotline_conn::shard::{route_known, ShardRoute};
use slotline_conn::{Cmd, Error, RefusedKind, Result};

use crate::slot::slot;

/// Where one command goes: the slot of its keys, split per slot, fanned out, or any.
pub(crate) type Route = ShardRoute<u16>;

/// Commands that would turn a shared connection into something else, or that the client
/// manages itself, by their [`Sharing`] class.
fn refused_on_shared(cmd: &Cmd, class: Sharing) -> Option<(RefusedKind, &'static str)> {
    use RefusedKind::{Invalid, OwnConnection};
    Some(match class {
        Sharing::Push if cmd.is("MONITOR") => (
            OwnConnection,
            "MONITOR needs a connection of its own: use ClusterClient::node(addr)",
        ),
        Sharing::Push | Sharing::PerChannel => (
            OwnConnection,
            "pub/sub subscriptions need a connection of their own: use ClusterClient::pubsub()",
        ),
        Sharing::OpensTransaction | Sharing::EndsTransaction => (
            OwnConnection,
            "MULTI/EXEC on a shared cluster client: use a transaction pipeline (Query::transaction)",
        ),
        Sharing::Cursor => (
            Invalid,
            "SCAN in a cluster must visit every master: use Query::scan(ScanOptions::keys())",
        ),
        Sharing::ClusterMode => (
            Invalid,
            "READONLY/READWRITE/ASKING are managed by the cluster client (see ClusterConfig::read_from)",
        ),
        Sharing::SwitchesDatabase => (Invalid, "a cluster has only database 0"),
        _ => return None,
    })
}

/// Decides where `cmd` goes: by the slot of its keys, split per slot (`MGET`, `MSET`,
/// `DEL`, `EXISTS`, `UNLINK`, `TOUCH`), to every master or node (keyless commands with an
/// `all_shards`/`all_nodes` tip), or to any master. Refused before anything is sent: keys
/// in several slots for any other command (a client-side `CROSSSLOT`), and commands a
/// shared cluster client cannot run.
pub(crate) fn route(cmd: &Cmd) -> Result<Route> {
    let mut args = cmd.args();
    let (name, second) = (args.next().unwrap_or_default(), args.next());
    let Some(info) = command_table::lookup_cached(name, second) else {
        // Unknown to the table (a module's command?): any master; the server decides.
        return Ok(ShardRoute::Any { readonly: false });
    };
    // Only CLIENT (REPLY OFF) is classed by its third argument.
    let third = if name.len() == 6 { args.next() } else { None };
    let class = Sharing::of(name, second, third);
    if let Some((kind, why)) = refused_on_shared(cmd, class) {
        return Err(Error::refused(kind, why));
    }
    route_known(cmd, info, second, slot, "slot")
}

#[cfg(test)]
mod tests {
    use slotline_conn::cmd;

    use slotline_conn::command_table::ResponsePolicy;
    use slotline_conn::shard::Merge;
    use slotline_conn::Frame;

    use super::*;

    #[test]
    fn single_slot_routes() {
        assert_eq!(
            route(&cmd("GET").arg("123456789")).unwrap(),
            ShardRoute::One {
                shard: 12739,
                readonly: true
            }
        );
        assert_eq!(
            route(&cmd("set").arg("123456789").arg("v")).unwrap(),
            ShardRoute::One {
                shard: 12739,
                readonly: false
            }
        );
        let tagged = cmd("MGET").arg("{a}1").arg("{a}2");
        assert!(matches!(
            route(&tagged).unwrap(),
            ShardRoute::One { readonly: true, .. }
        ));
        let spublish = cmd("SPUBLISH").arg("123456789").arg("m");
        assert!(matches!(
            route(&spublish).unwrap(),
            ShardRoute::One { shard: 12739, .. }
        ));
        let eval = cmd("EVAL").arg("return 1").arg(1).arg("123456789");
        assert!(matches!(
            route(&eval).unwrap(),
            ShardRoute::One { shard: 12739, .. }
        ));
        assert_eq!(
            route(&cmd("PUBLISH").arg("ch").arg("m")).unwrap(),
            ShardRoute::Any { readonly: false }
        );
        assert!(matches!(
            route(&cmd("EVAL").arg("return 1").arg(0)).unwrap(),
            ShardRoute::Any { .. }
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
            if info.first_arg_is_the_key() && info.arity_ok(c.argc()) {
                let slow: Vec<&[u8]> = command_table::slot_keys(&c).collect();
                assert_eq!(slow, [&b"k1"[..]], "{}", info.name);
            }
            let cached = command_table::lookup_cached(info.name.as_bytes(), c.arg_at(1));
            assert_eq!(cached, command_table::lookup(&c), "{}", info.name);
            assert_eq!(
                command_table::lookup_cached(info.name.to_uppercase().as_bytes(), c.arg_at(1)),
                cached
            );
        }
    }

    #[test]
    fn cross_slot_is_refused_or_split() {
        let e = route(&cmd("SUNION").arg("a").arg("b")).unwrap_err();
        assert!(e.to_string().contains("CROSSSLOT"), "{e}");
        assert!(route(&cmd("MSETNX").arg("a").arg(1).arg("b").arg(2)).is_err());
        let ShardRoute::Split { parts, merge, .. } =
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
        let ShardRoute::Split { parts, merge, .. } =
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
        let ShardRoute::Split { merge, .. } = route(&cmd("DEL").arg("a").arg("b")).unwrap() else {
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
            ShardRoute::FanOut {
                all_nodes: false,
                merge: Merge::Policy(ResponsePolicy::AggSum)
            }
        );
        let ShardRoute::FanOut { merge, .. } = route(&cmd("KEYS").arg("*")).unwrap() else {
            panic!()
        };
        assert_eq!(
            merge.merge(vec![
                Frame::Array(vec![Frame::bulk("a")]),
                Frame::Array(vec![Frame::bulk("b")])
            ]),
            Frame::Array(vec![Frame::bulk("a"), Frame::bulk("b")])
        );
        let ShardRoute::FanOut { all_nodes, merge } =
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
            ShardRoute::FanOut { .. }
        ));
        assert!(matches!(
            route(&cmd("PING")).unwrap(),
            ShardRoute::FanOut { .. }
        ));
        let ShardRoute::FanOut { merge, .. } =
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
        assert!(matches!(
            route(&cmd("INFO")).unwrap(),
            ShardRoute::Any { .. }
        ));
        assert!(route(&cmd("SCAN").arg(0)).is_err());
        assert!(route(&cmd("SUBSCRIBE").arg("x")).is_err());
    }
}

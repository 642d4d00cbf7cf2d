//! A request over the shards of a [`ShardedClient`](super::ShardedClient): where each
//! part goes (which shard, master or replicas), and how the parts' replies become the
//! caller's. The routing and the merging are `slotline_conn::shard`'s, with the ring's
//! shards as the shards. Sans-IO.

use std::borrow::Cow;

use slotline_conn::command_table::{self, Sharing};
use slotline_conn::shard::{assemble, route_known, transaction_shard, Merge, ShardRoute};
use slotline_conn::{Cmd, Error, Pipeline, RefusedKind, Reply, Result};

use super::ring::Ring;

/// Where keyless commands, keyless transactions and pub/sub go: the first service.
pub(crate) const HOME_SHARD: usize = 0;

/// Where a request (or a part of one) is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    /// The shard.
    pub(crate) shard: usize,
    /// To the shard's replicas (a read, when the client reads from replicas).
    pub(crate) replica: bool,
}

/// What to do with one request.
#[derive(Debug)]
pub(crate) enum Plan<'a> {
    /// Send it as it is, to one target.
    Whole(Target),
    /// Send parts to several targets, then put the replies back together.
    Parts(Parts<'a>),
}

/// The parts of a request over several targets: one batch of commands per target (sent
/// as one command, or one pipeline), and per caller command the parts that answer it.
#[derive(Debug, Default)]
pub(crate) struct Parts<'a> {
    /// One batch per target, in order of first use; each keeps its commands' order.
    pub(crate) batches: Vec<(Target, Vec<Cow<'a, Cmd>>)>,
    /// Per caller command, in order.
    jobs: Vec<Job>,
}

/// One caller command: where its parts' replies are (batch, index in the batch), and how
/// they merge (none: one part, as is).
type Job = (Vec<(usize, usize)>, Option<Merge>);

/// The routing of one command over the ring: `slotline_conn::shard`'s, after refusing what a
/// sharded client cannot run as asked.
pub(crate) fn route(ring: &Ring, cmd: &Cmd) -> Result<ShardRoute<usize>> {
    let mut args = cmd.args();
    let (name, second) = (args.next().unwrap_or_default(), args.next());
    let Some(info) = command_table::lookup_cached(name, second) else {
        return Ok(ShardRoute::Any { readonly: false });
    };
    if Sharing::of(name, second, None) == Sharing::Cursor {
        return Err(Error::refused(
            RefusedKind::Invalid,
            "SCAN over shards must visit every shard: use Query::scan(ScanOptions::keys())",
        ));
    }
    route_known(cmd, info, second, |key| ring.shard_of(key), "shard")
}

impl<'a> Parts<'a> {
    /// Adds `cmd`'s parts, per its route.
    fn add(&mut self, ring: &Ring, replica_reads: bool, cmd: &'a Cmd, route: ShardRoute<usize>) {
        let target = |shard, readonly: bool| Target {
            shard,
            replica: replica_reads && readonly,
        };
        let (parts, merge) = match route {
            ShardRoute::One { shard, readonly } => (
                vec![self.push(target(shard, readonly), Cow::Borrowed(cmd))],
                None,
            ),
            ShardRoute::Any { readonly } => (
                vec![self.push(target(HOME_SHARD, readonly), Cow::Borrowed(cmd))],
                None,
            ),
            ShardRoute::Split {
                parts,
                merge,
                readonly,
            } => {
                let parts = parts
                    .into_iter()
                    .map(|(shard, c)| self.push(target(shard, readonly), Cow::Owned(c)))
                    .collect();
                (parts, Some(merge))
            }
            // To every shard's master (also for `all_nodes` commands: replicas are not
            // addressed one by one here).
            ShardRoute::FanOut { merge, .. } => {
                let parts = (0..ring.len())
                    .map(|shard| self.push(target(shard, false), Cow::Borrowed(cmd)))
                    .collect();
                (parts, Some(merge))
            }
        };
        self.jobs.push((parts, merge));
    }

    fn push(&mut self, target: Target, cmd: Cow<'a, Cmd>) -> (usize, usize) {
        let at = match self.batches.iter().position(|(t, _)| *t == target) {
            Some(at) => at,
            None => {
                self.batches.push((target, Vec::new()));
                self.batches.len() - 1
            }
        };
        let batch = &mut self.batches[at].1;
        batch.push(cmd);
        (at, batch.len() - 1)
    }

    /// The caller's replies, one per command, from each batch's replies (in batch order;
    /// the first failure fails them all, as a pipeline's connection loss would).
    pub(crate) fn finish(self, results: Vec<Result<Vec<Reply>>>) -> Result<Vec<Reply>> {
        let mut results: Vec<Vec<Option<Reply>>> = results
            .into_iter()
            .map(|r| r.map(|replies| replies.into_iter().map(Some).collect()))
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(self.jobs.len());
        for (parts, merge) in self.jobs {
            let mut replies = Vec::with_capacity(parts.len());
            for (batch, i) in parts {
                let reply = results
                    .get_mut(batch)
                    .and_then(|b| b.get_mut(i))
                    .and_then(Option::take)
                    .ok_or_else(|| {
                        Error::unexpected_reply(format!("a shard's batch lost reply {i}"))
                    })?;
                replies.push(reply);
            }
            out.push(assemble(replies, merge.as_ref())?);
        }
        Ok(out)
    }
}

/// The plan of one command.
pub(crate) fn plan_command<'a>(ring: &Ring, replica_reads: bool, cmd: &'a Cmd) -> Result<Plan<'a>> {
    let route = route(ring, cmd)?;
    let whole = |shard, readonly: bool| {
        Plan::Whole(Target {
            shard,
            replica: replica_reads && readonly,
        })
    };
    Ok(match route {
        ShardRoute::One { shard, readonly } => whole(shard, readonly),
        ShardRoute::Any { readonly } => whole(HOME_SHARD, readonly),
        route => {
            let mut parts = Parts::default();
            parts.add(ring, replica_reads, cmd, route);
            Plan::Parts(parts)
        }
    })
}

/// The plan of a pipeline: a transaction goes whole to the master of its keys' shard (a
/// refusal when they are on several); a plain pipeline whole to its one target, or in one
/// batch per target.
pub(crate) fn plan_pipeline<'a>(
    ring: &Ring,
    replica_reads: bool,
    pipe: &'a Pipeline,
) -> Result<Plan<'a>> {
    if pipe.is_atomic() {
        let shard = transaction_shard(pipe, |c| route(ring, c), "shard")?;
        return Ok(Plan::Whole(Target {
            shard: shard.unwrap_or(HOME_SHARD),
            replica: false,
        }));
    }
    let mut parts = Parts::default();
    for cmd in pipe.cmds() {
        let route = route(ring, cmd)?;
        parts.add(ring, replica_reads, cmd, route);
    }
    let simple = parts
        .jobs
        .iter()
        .all(|(p, merge)| merge.is_none() && p.len() == 1);
    Ok(match parts.batches.as_slice() {
        [(target, _)] if simple => Plan::Whole(*target),
        [] => Plan::Whole(Target {
            shard: HOME_SHARD,
            replica: false,
        }),
        _ => Plan::Parts(parts),
    })
}

#[cfg(test)]
mod tests {
    use slotline_conn::{cmd, pipe, Frame};

    use super::*;

    fn ring() -> Ring {
        Ring::new(["svc1", "svc2", "svc3"]).unwrap()
    }

    /// Keys, one per shard of `ring()`.
    fn key_on(ring: &Ring, shard: usize) -> String {
        (0..)
            .map(|i| format!("k{i}"))
            .find(|k| ring.shard_of(k.as_bytes()) == shard)
            .unwrap()
    }

    #[test]
    fn one_key_goes_whole_to_its_shard_and_reads_to_replicas_when_asked() {
        let ring = ring();
        let k = key_on(&ring, 2);
        let get = cmd("GET").arg(&k);
        let set = cmd("SET").arg(&k).arg(1);
        let plan = |c, replicas| match plan_command(&ring, replicas, c).unwrap() {
            Plan::Whole(t) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            plan(&get, false),
            Target {
                shard: 2,
                replica: false
            }
        );
        assert_eq!(
            plan(&get, true),
            Target {
                shard: 2,
                replica: true
            }
        );
        assert_eq!(
            plan(&set, true),
            Target {
                shard: 2,
                replica: false
            }
        );
        assert_eq!(plan(&cmd("ECHO").arg("x"), false).shard, HOME_SHARD);
        assert!(plan_command(&ring, false, &cmd("SCAN").arg(0)).is_err());
    }

    #[test]
    fn a_cross_shard_mget_splits_and_merges_in_order() {
        let ring = ring();
        let keys: Vec<String> = [1, 0, 1, 2].iter().map(|&s| key_on(&ring, s)).collect();
        let mut c = cmd("MGET");
        for k in &keys {
            c = c.arg(k);
        }
        let Plan::Parts(parts) = plan_command(&ring, false, &c).unwrap() else {
            panic!("not split")
        };
        let shards: Vec<usize> = parts.batches.iter().map(|(t, _)| t.shard).collect();
        assert_eq!(shards, [1, 0, 2]);
        // Each shard answers its keys' values: "<shard>".
        let results = parts
            .batches
            .iter()
            .map(|(t, cmds)| {
                let n = cmds[0].argc() - 1;
                let values = vec![Frame::bulk(t.shard.to_string()); n];
                Ok(vec![Reply::from_frame(Frame::Array(values)).unwrap()])
            })
            .collect();
        let out = parts.finish(results).unwrap();
        let frame = out.into_iter().next().unwrap().into_frame();
        let got: Vec<String> = frame
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, ["1", "0", "1", "2"]);
    }

    #[test]
    fn transactions_keep_to_one_shard_and_pipelines_batch_per_shard() {
        let ring = ring();
        let (a, b) = (key_on(&ring, 0), key_on(&ring, 1));
        let mut tx = pipe();
        tx.atomic().cmd("INCR").arg(&a).cmd("INCR").arg(&b);
        let e = plan_pipeline(&ring, false, &tx).unwrap_err();
        assert!(e.to_string().contains("one shard"), "{e}");
        let mut one = pipe();
        one.atomic().cmd("INCR").arg(&b).cmd("GET").arg(&b);
        assert!(matches!(
            plan_pipeline(&ring, true, &one).unwrap(),
            Plan::Whole(Target {
                shard: 1,
                replica: false
            })
        ));
        let mut p = pipe();
        p.cmd("SET")
            .arg(&a)
            .arg(1)
            .cmd("SET")
            .arg(&b)
            .arg(2)
            .cmd("GET")
            .arg(&a);
        let Plan::Parts(parts) = plan_pipeline(&ring, false, &p).unwrap() else {
            panic!("not batched")
        };
        assert_eq!(parts.batches.len(), 2);
        assert_eq!(parts.batches[0].1.len(), 2);
        let results = vec![
            Ok(vec![
                Reply::from_frame(Frame::simple("OK")).unwrap(),
                Reply::from_frame(Frame::bulk("1")).unwrap(),
            ]),
            Ok(vec![Reply::from_frame(Frame::simple("OK")).unwrap()]),
        ];
        let out: Vec<Frame> = parts
            .finish(results)
            .unwrap()
            .into_iter()
            .map(Reply::into_frame)
            .collect();
        assert_eq!(
            out,
            [Frame::simple("OK"), Frame::simple("OK"), Frame::bulk("1")]
        );
        let mut same = pipe();
        same.cmd("SET").arg(&b).arg(1).cmd("GET").arg(&b);
        assert!(matches!(
            plan_pipeline(&ring, false, &same).unwrap(),
            Plan::Whole(Target { shard: 1, .. })
        ));
    }
}

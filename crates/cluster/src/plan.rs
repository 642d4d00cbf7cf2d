//! Requests as dispatch parts, and the parts' results as the caller's replies: a command
//! routed by its slot, split per slot or fanned out (and merged back); a pipeline's
//! commands; a transaction kept to one slot; a scan step on its shard's master.

use std::borrow::Cow;

use slotline_conn::shard::{assemble, transaction_shard, Merge, ShardRoute};
use slotline_conn::{Cmd, Error, Pipeline, Reply, Response, Result, RetryPolicy, ScanCursor};

use crate::dispatch::{Dispatch, Place};
use crate::drive::Work;
use crate::route::{route, Route};
use crate::slot::slot;
use crate::state::ClusterState;

/// The dispatch of one request.
pub(crate) type Parts<'a> = Dispatch<Work<'a>, Response>;

/// One command of the caller: its parts, and how to merge them (none: one part, as is).
#[derive(Debug)]
pub(crate) struct Job {
    parts: std::ops::Range<usize>,
    merge: Option<Merge>,
}

impl Job {
    /// Whether its parts' replies are merged (a split or fanned-out command).
    pub(crate) fn merges(&self) -> bool {
        self.merge.is_some()
    }
}

/// Adds `cmd`'s parts to `d`, per its route.
pub(crate) fn plan_command<'a>(
    state: &ClusterState,
    cmd: &'a Cmd,
    route: Route,
    d: &mut Parts<'a>,
) -> Job {
    let start = d.len();
    let idempotent = cmd.is_idempotent();
    let merge = match route {
        ShardRoute::One { shard, readonly } => {
            d.push(
                Work::Command(Cow::Borrowed(cmd)),
                Place::Slot(shard),
                readonly,
                idempotent,
            );
            None
        }
        ShardRoute::Any { readonly } => {
            d.push(
                Work::Command(Cow::Borrowed(cmd)),
                Place::Any,
                readonly,
                idempotent,
            );
            None
        }
        ShardRoute::Split {
            parts,
            merge,
            readonly,
        } => {
            for (s, c) in parts {
                let idempotent = c.is_idempotent();
                d.push(
                    Work::Command(Cow::Owned(c)),
                    Place::Slot(s),
                    readonly,
                    idempotent,
                );
            }
            Some(merge)
        }
        ShardRoute::FanOut { all_nodes, merge } => {
            let routes = state.nodes.routes();
            for (_, first_slot) in routes.map.serving_masters() {
                d.push(
                    Work::Command(Cow::Borrowed(cmd)),
                    Place::MasterOf(first_slot),
                    false,
                    idempotent,
                );
            }
            if all_nodes {
                for r in routes.replicas.iter().flatten() {
                    d.push(
                        Work::Command(Cow::Borrowed(cmd)),
                        Place::Node(r.addr.clone()),
                        false,
                        idempotent,
                    );
                }
            }
            Some(merge)
        }
    };
    Job {
        parts: start..d.len(),
        merge,
    }
}

/// The caller's replies, one per job, from the parts' results (the first failure fails
/// them all, as a pipeline's connection loss would).
pub(crate) fn finish(jobs: Vec<Job>, d: Parts<'_>) -> Result<Vec<Reply>> {
    let mut results: Vec<Option<Result<Response>>> =
        d.finish().into_iter().map(|(_, r)| Some(r)).collect();
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut replies = Vec::with_capacity(job.parts.len());
        for i in job.parts {
            match results.get_mut(i).and_then(Option::take) {
                Some(Ok(Response::Reply(r))) => replies.push(r),
                Some(Ok(other)) => {
                    return Err(Error::unexpected_reply(format!(
                        "a part answered {other:?}"
                    )))
                }
                Some(Err(e)) => return Err(e),
                None => return Err(Error::internal("a part's result was missing")),
            }
        }
        out.push(assemble(replies, job.merge.as_ref())?);
    }
    Ok(out)
}

/// A transaction's slot: every key in one slot (any for keyless commands), or a
/// client-side refusal before anything is sent.
pub(crate) fn transaction_slot(pipe: &Pipeline) -> Result<Option<u16>> {
    transaction_shard(pipe, route, "slot")
}

/// The dispatch of one scan step: on the master of the current shard (a keyed scan's: its
/// key's), planned on the first step over every serving master. `None`: nothing is left.
pub(crate) fn plan_scan(
    state: &ClusterState,
    mut cursor: Box<ScanCursor>,
    policy: RetryPolicy,
    deadline: Option<std::time::Instant>,
) -> std::result::Result<Parts<'static>, Box<ScanCursor>> {
    if !cursor.is_planned() {
        match cursor.key().map(slot) {
            Some(s) => cursor.plan([u64::from(s)]),
            None => {
                let masters = state.nodes.routes().map.serving_masters();
                cursor.plan(masters.into_iter().map(|(_, s)| u64::from(s)));
            }
        }
    }
    let Some(shard) = cursor.shard() else {
        return Err(cursor);
    };
    let mut d = Dispatch::new(policy, deadline);
    d.push(
        Work::Scan(cursor),
        Place::MasterOf(shard as u16),
        true,
        true,
    );
    Ok(d)
}

/// The cursor back from a scan step's dispatch, fed its reply.
pub(crate) fn finish_scan(d: Parts<'_>) -> Result<Box<ScanCursor>> {
    let Some((Work::Scan(mut cursor), result)) = d.finish().into_iter().next() else {
        return Err(Error::unexpected_reply("a scan step lost its cursor"));
    };
    match result? {
        Response::Reply(reply) => cursor.feed(reply.into_frame())?,
        other => {
            return Err(Error::unexpected_reply(format!(
                "a scan step answered {other:?}"
            )))
        }
    }
    Ok(cursor)
}

//! The one async driver of the [dispatch machine](crate::dispatch): rounds until every part
//! has its result, the sends carried by a [`Carrier`] (the node clients for commands, a
//! subscriber's connections for pub/sub), the backoffs in between.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::join_all;
use slotline_conn::{Cmd, Error, Pipeline, Request, Response, Result, ScanCursor};
use smallvec::SmallVec;

use crate::dispatch::{Batch, Batches, Dispatch};
use crate::registry::Node;
use crate::retry::{cluster_error_line_kind, Outcome};
use crate::state::ClusterState;

/// Sends the batches of one round and hands each part's result to the dispatch.
pub(crate) trait Carrier<W, R> {
    /// Carries one round.
    fn carry(
        &mut self,
        state: &ClusterState,
        d: &mut Dispatch<W, R>,
        batches: Batches<Arc<Node>>,
    ) -> impl Future<Output = ()> + Send;
}

/// Runs `d` to the end: where each part goes, what came back, the waits.
pub(crate) async fn run<W, R, C: Carrier<W, R>>(
    state: &ClusterState,
    d: &mut Dispatch<W, R>,
    carrier: &mut C,
) {
    while !d.is_done() {
        let batches = d.round(|place, readonly, avoid| state.locate(place, readonly, avoid));
        if !batches.is_empty() {
            carrier.carry(state, d, batches).await;
        }
        if let Some((delay, refresh)) = d.wait() {
            state.backoff(delay, refresh).await;
        }
    }
}

/// What one part of a request sends.
#[derive(Debug)]
pub(crate) enum Work<'a> {
    /// One command (a caller's, or a part of a split one).
    Command(Cow<'a, Cmd>),
    /// A `MULTI`/`EXEC` transaction, whole.
    Transaction(&'a Pipeline),
    /// One step of a scan: its command depends on the node (see [`ScanCursor::command_for`]).
    Scan(Box<ScanCursor>),
}

/// Carries commands over the node clients.
pub(crate) struct NodeCarrier;

impl<'a> Carrier<Work<'a>, Response> for NodeCarrier {
    async fn carry(
        &mut self,
        state: &ClusterState,
        d: &mut Dispatch<Work<'a>, Response>,
        batches: Batches<Arc<Node>>,
    ) {
        // The hot path: one command to one node, borrowed, no pipeline built.
        if let [Batch { node, parts }] = &batches[..] {
            if let ([i], Work::Command(cmd)) = (&parts[..], d.work(parts[0])) {
                if !d.asking(*i) {
                    let result = match node.client().await {
                        Ok(c) => c.execute_by(Request::Command(cmd), d.deadline()).await,
                        Err(e) => Err(e),
                    };
                    settle(state, d, node, *i, result);
                    return;
                }
            }
        }
        let wires: SmallVec<[Wire; 1]> = batches.iter().map(|b| Wire::build(d, b)).collect();
        let deadline = d.deadline();
        let sends = batches.iter().zip(&wires).map(|(b, w)| async move {
            match b.node.client().await {
                Ok(c) => match c.execute_by(Request::Pipeline(&w.pipe), deadline).await {
                    Ok(Response::Replies(replies)) => Ok(replies),
                    Ok(other) => Err(Error::unexpected_reply(format!(
                        "a pipeline answered {other:?}"
                    ))),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        });
        let results = join_all(sends).await;
        for ((batch, wire), result) in batches.iter().zip(wires).zip(results) {
            wire.hand_out(state, d, &batch.node, result);
        }
    }
}

/// One node's batch as it goes on the wire: the parts' commands in order, `ASKING` before
/// an asked part, and where each part's replies are.
struct Wire {
    pipe: Pipeline,
    /// Each part, how many replies are its own, and whether `ASKING`'s `+OK` comes first.
    layout: SmallVec<[(usize, usize, bool); 1]>,
}

impl Wire {
    fn build(d: &mut Dispatch<Work<'_>, Response>, batch: &Batch<Arc<Node>>) -> Wire {
        let mut pipe = Pipeline::with_capacity(batch.parts.len());
        let mut layout = SmallVec::new();
        for &i in &batch.parts {
            let asking = d.asking(i);
            if asking {
                pipe.add(Cmd::new().arg("ASKING"));
            }
            let own = match d.work_mut(i) {
                Work::Command(cmd) => {
                    pipe.add(cmd.as_ref().clone());
                    1
                }
                Work::Transaction(tx) => {
                    pipe.add(Cmd::new().arg("MULTI"));
                    for c in tx.cmds() {
                        pipe.add(c.clone());
                    }
                    pipe.add(Cmd::new().arg("EXEC"));
                    tx.cmds().len() + 2
                }
                Work::Scan(cursor) => match cursor.command_for(Some(&batch.node.addr)) {
                    Some(cmd) => {
                        pipe.add(cmd);
                        1
                    }
                    None => 0,
                },
            };
            layout.push((i, own, asking));
        }
        Wire { pipe, layout }
    }

    /// Each part's share of the batch's replies (or its failure), to the dispatch.
    fn hand_out(
        self,
        state: &ClusterState,
        d: &mut Dispatch<Work<'_>, Response>,
        node: &Arc<Node>,
        result: Result<Vec<slotline_conn::Reply>>,
    ) {
        let mut replies = match result {
            Ok(replies) => replies.into_iter(),
            Err(e) => {
                for (i, _, _) in self.layout {
                    settle(state, d, node, i, Err(e.clone()));
                }
                return;
            }
        };
        for (i, own, asking) in self.layout {
            if asking {
                replies.next(); // ASKING's +OK
            }
            let mine: Vec<_> = replies.by_ref().take(own).collect();
            let result = match (d.work(i), mine.len()) {
                (_, 0) => Err(Error::unexpected_reply("no reply for a part")),
                (Work::Transaction(_), n) if n == own => Ok(Response::Replies(mine)),
                (Work::Transaction(_), _) => {
                    Err(Error::internal("a transaction's batch came back short"))
                }
                (_, _) => mine
                    .into_iter()
                    .next()
                    .map(Response::Reply)
                    .ok_or_else(|| Error::internal("a part had no reply")),
            };
            settle(state, d, node, i, result);
        }
    }
}

/// Part `i`'s result from `node`, to the dispatch; the node's health and any redirect to
/// the cluster's state.
fn settle(
    state: &ClusterState,
    d: &mut Dispatch<Work<'_>, Response>,
    node: &Arc<Node>,
    i: usize,
    result: Result<Response>,
) {
    match &result {
        Ok(_) => node.set_healthy(true),
        Err(e) if e.is_connection_lost() => node.set_healthy(false),
        Err(_) => {}
    }
    let redirect = d.take(i, Some(&node.addr), result, response_outcome);
    state.note(redirect, &node.addr);
}

/// What a part's result means to the retry rule: the error line of its reply; for a
/// transaction, the cluster refusal among its replies (`EXEC`'s or a queued command's:
/// then nothing ran); a failure.
pub(crate) fn response_outcome(result: &Result<Response>) -> Outcome<'_> {
    match result {
        Err(e) => Outcome::Failed(e),
        Ok(Response::Reply(reply)) => Outcome::Reply(reply.view().error_line()),
        Ok(Response::Replies(replies)) => Outcome::Reply(
            replies
                .iter()
                .rev()
                .filter_map(|r| r.view().error_line())
                .find(|line| cluster_error_line_kind(line).is_some()),
        ),
        Ok(_) => Outcome::Reply(None),
    }
}

//! `SCAN` over a cluster: every master in turn, each with its own cursor (the sans-IO
//! [`ScanState`] of `slotline-conn`); `HSCAN`/`SSCAN`/`ZSCAN` on their key's node.

use std::collections::VecDeque;
use std::marker::PhantomData;

use slotline_conn::{Addr, Cmd, Error, Frame, FromReply, Query, Result, ScanOptions, ScanState};

use crate::client::ClusterClient;
use crate::retry::{Attempts, Decision, Outcome};

/// What the next step of a [`ClusterScanState`] sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanStep {
    /// A keyed scan (`HSCAN key ...`): this command, routed by its key.
    Keyed(Cmd),
    /// `SCAN` on the master of the shard that serves this slot.
    Shard(u16),
}

/// The state of a cluster-wide cursor iteration, driven by the async [`ClusterScan`] and
/// the blocking [`ClusterScanIter`](crate::blocking::ClusterScanIter).
///
/// Shards are visited one after the other, each identified by a slot it served when the
/// scan began. If the master serving that slot changes mid-scan (a failover), that
/// shard's scan starts over from cursor 0 on the new master: keys may then come twice,
/// never go missing (unless they moved to a shard already visited).
#[derive(Debug, Clone)]
pub struct ClusterScanState {
    options: ScanOptions,
    keyed: bool,
    shards: VecDeque<u16>,
    current: Option<(u16, Option<Addr>, ScanState)>,
}

impl ClusterScanState {
    /// A scan with `options` over the shards that serve `first_slots` (one slot each).
    pub fn new(options: ScanOptions, first_slots: impl IntoIterator<Item = u16>) -> Self {
        let keyed = !options.command(0).is("SCAN");
        let mut shards: VecDeque<u16> = first_slots.into_iter().collect();
        let current = if keyed {
            Some((0, None, ScanState::new(options.clone())))
        } else {
            shards
                .pop_front()
                .map(|s| (s, None, ScanState::new(options.clone())))
        };
        if keyed {
            shards.clear();
        }
        ClusterScanState {
            options,
            keyed,
            shards,
            current,
        }
    }

    /// The next buffered item.
    pub fn pop(&mut self) -> Option<Frame> {
        self.current.as_mut().and_then(|(_, _, s)| s.pop())
    }

    /// What to send next; `None` when every shard is done.
    pub fn next_step(&mut self) -> Option<ScanStep> {
        loop {
            let (slot, _, state) = self.current.as_ref()?;
            match state.next_command() {
                Some(cmd) if self.keyed => return Some(ScanStep::Keyed(cmd.idempotent())),
                Some(_) => return Some(ScanStep::Shard(*slot)),
                None => {
                    let next = self.shards.pop_front();
                    self.current = next.map(|s| (s, None, ScanState::new(self.options.clone())));
                }
            }
        }
    }

    /// The `SCAN` command for the current shard, whose master is `master` now (a new
    /// master starts that shard over).
    pub fn command_for(&mut self, master: &Addr) -> Option<Cmd> {
        let (_, on, state) = self.current.as_mut()?;
        if on.as_ref() != Some(master) {
            if on.is_some() {
                *state = ScanState::new(self.options.clone());
            }
            *on = Some(master.clone());
        }
        state.next_command().map(Cmd::idempotent)
    }

    /// Takes the reply to the last command.
    pub fn feed(&mut self, reply: Frame) -> Result<()> {
        match self.current.as_mut() {
            Some((_, _, state)) => state.feed(reply),
            None => Ok(()),
        }
    }

    /// Ends the iteration (after an error).
    pub fn finish(&mut self) {
        self.current = None;
        self.shards.clear();
    }
}

/// An async cluster-wide cursor iteration ([`ClusterClient::scan`]).
///
/// ```no_run
/// # async fn demo(cl: &slotline_cluster::ClusterClient) -> slotline_conn::Result<()> {
/// use slotline_conn::ScanOptions;
/// let mut keys = cl.scan::<String>(ScanOptions::keys().pattern("user:*").count(500));
/// while let Some(key) = keys.next().await {
///     println!("{}", key?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClusterScan<'a, T> {
    client: &'a ClusterClient,
    state: ClusterScanState,
    _item: PhantomData<fn() -> T>,
}

impl<'a, T: FromReply> ClusterScan<'a, T> {
    pub(crate) fn new(client: &'a ClusterClient, options: ScanOptions) -> Self {
        let first_slots: Vec<u16> = client
            .slot_map()
            .serving_masters()
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        ClusterScan {
            client,
            state: ClusterScanState::new(options, first_slots),
            _item: PhantomData,
        }
    }

    /// The next item, `None` at the end.
    pub async fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(frame) = self.state.pop() {
                return Some(T::from_reply(frame));
            }
            let step = self.state.next_step()?;
            let reply = match step {
                ScanStep::Keyed(cmd) => self.client.send_command(&cmd).await,
                ScanStep::Shard(slot) => self.shard_step(slot).await,
            };
            if let Err(e) = reply.and_then(|r| self.state.feed(r)) {
                self.state.finish();
                return Some(Err(e));
            }
        }
    }

    /// One `SCAN` on the current master of the shard serving `slot`, retried (it only
    /// reads) while the shard is unreachable or failing over, within the retry limits.
    async fn shard_step(&mut self, slot: u16) -> Result<Frame> {
        let inner = self.client.inner();
        let policy = inner.config().retry;
        let mut attempts = Attempts::new();
        loop {
            let node = inner.master_of(slot);
            let (result, addr) = match &node {
                None => (None, None),
                Some(node) => {
                    let Some(cmd) = self.state.command_for(&node.addr) else {
                        return Ok(Frame::Array(vec![Frame::bulk("0"), Frame::Array(vec![])]));
                    };
                    let result = match node.client().await {
                        Ok(c) => c.send_command(&cmd).await,
                        Err(e) => Err(e),
                    };
                    (Some(result), Some(&node.addr))
                }
            };
            let outcome = match &result {
                None => Outcome::NoNode,
                Some(Ok(frame)) => Outcome::Reply(frame.error_line()),
                Some(Err(e)) => Outcome::Failed(e),
            };
            match attempts.decide(&policy, outcome, addr, true) {
                Decision::Retry { delay, refresh } => inner.backoff(delay, refresh).await,
                Decision::Moved { slot: s, addr } => inner.on_moved(s, &addr),
                Decision::Ask { .. } | Decision::Done => {
                    return result.unwrap_or_else(|| {
                        Err(Error::unavailable(
                            slotline_conn::UnavailableKind::NoNode,
                            format!("no node serves slot {slot}"),
                        ))
                    })
                }
            }
        }
    }

    /// Every remaining item.
    pub async fn collect_all(mut self) -> Result<Vec<T>> {
        let mut all = Vec::new();
        while let Some(item) = self.next().await {
            all.push(item?);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(cursor: &str, keys: &[&str]) -> Frame {
        Frame::Array(vec![
            Frame::bulk(cursor.to_string()),
            Frame::Array(keys.iter().map(|k| Frame::bulk(k.to_string())).collect()),
        ])
    }

    #[test]
    fn visits_every_shard_and_restarts_a_failed_over_one() {
        let a = Addr::tcp("h", 1);
        let b = Addr::tcp("h", 2);
        let mut s = ClusterScanState::new(ScanOptions::keys(), [0, 8192]);
        assert_eq!(s.next_step(), Some(ScanStep::Shard(0)));
        let c = s.command_for(&a).unwrap();
        assert_eq!(c.arg_at(1), Some(&b"0"[..]));
        s.feed(reply("7", &["k1"])).unwrap();
        assert!(s.pop().is_some());
        assert_eq!(s.next_step(), Some(ScanStep::Shard(0)));
        assert_eq!(s.command_for(&a).unwrap().arg_at(1), Some(&b"7"[..]));
        // The shard's master changed: start over there.
        assert_eq!(s.command_for(&b).unwrap().arg_at(1), Some(&b"0"[..]));
        s.feed(reply("0", &[])).unwrap();
        assert_eq!(s.next_step(), Some(ScanStep::Shard(8192)));
        s.command_for(&a).unwrap();
        s.feed(reply("0", &["k2"])).unwrap();
        assert!(s.pop().is_some());
        assert_eq!(s.next_step(), None);
    }

    #[test]
    fn keyed_scans_go_by_key() {
        let mut s = ClusterScanState::new(ScanOptions::hash("h"), [0, 1, 2]);
        let Some(ScanStep::Keyed(c)) = s.next_step() else {
            panic!()
        };
        assert!(c.is("HSCAN"));
        s.feed(reply("0", &["f", "v"])).unwrap();
        assert!(s.pop().is_some());
        assert_eq!(s.next_step(), None);
    }
}

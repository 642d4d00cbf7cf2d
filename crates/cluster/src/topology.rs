//! The cluster's shape, from `CLUSTER SHARDS` (Redis 7) or `CLUSTER SLOTS`, and the
//! [`SlotMap`] that routing reads: sans-IO, so any driver (or a test) can feed it replies.

use std::collections::HashMap;

use slotline_conn::{Addr, Error, Frame, Result};

use crate::slot::SLOTS;

/// What a node is in its shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    /// Serves the shard's slots, reads and writes.
    Master,
    /// Replicates the master; serves reads to connections that sent `READONLY`.
    Replica,
}

/// One online node, as the cluster describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeInfo {
    /// Where to connect (the endpoint rules applied: an empty or null endpoint is the host
    /// that answered).
    pub(crate) addr: Addr,
    /// The node id, when the reply gave one.
    pub(crate) id: Option<String>,
    /// Master or replica.
    pub(crate) role: Role,
    /// The host name the node announces (`cluster-announce-hostname`: the `hostname`
    /// field of `CLUSTER SHARDS`, or of `CLUSTER SLOTS`'s metadata), when it has one.
    pub(crate) hostname: Option<String>,
}

/// One shard: the slots it serves, its master (if online) and its online replicas.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ShardInfo {
    /// Inclusive slot ranges.
    pub(crate) slots: Vec<(u16, u16)>,
    /// The master, `None` when it is not online (failed, unknown endpoint).
    pub(crate) master: Option<NodeInfo>,
    /// Online replicas.
    pub(crate) replicas: Vec<NodeInfo>,
}

/// The cluster as one node described it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Topology {
    /// The shards, in the order the node listed them.
    pub(crate) shards: Vec<ShardInfo>,
}

/// Which command a topology came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TopologySource {
    /// `CLUSTER SHARDS` (Redis >= 7).
    Shards,
    /// `CLUSTER SLOTS` (older servers).
    Slots,
}

fn bad(what: &str, frame: &Frame) -> Error {
    let mut text = format!("{frame:?}");
    text.truncate(200);
    Error::unexpected_reply(format!("{what}: {text}"))
}

/// Applies the endpoint rules: null or empty means the host that answered; `?` means
/// unknown (the node is skipped).
fn endpoint_host(endpoint: Option<&Frame>, answered: &Addr) -> Option<String> {
    let answered_host = || answered.host().map(str::to_string);
    match endpoint {
        None | Some(Frame::Null) => answered_host(),
        Some(f) => match f.as_str() {
            Some("") => answered_host(),
            Some("?") => None,
            Some(host) => Some(host.to_string()),
            None => None,
        },
    }
}

fn as_port(frame: &Frame) -> Option<u16> {
    match frame {
        Frame::Integer(n) => u16::try_from(*n).ok(),
        other => other.as_str().and_then(|s| s.parse().ok()),
    }
}

fn as_slot(frame: &Frame) -> Option<u16> {
    match frame {
        Frame::Integer(n) => u16::try_from(*n).ok().filter(|s| *s < SLOTS),
        other => other
            .as_str()
            .and_then(|s| s.parse().ok())
            .filter(|s| *s < SLOTS),
    }
}

impl Topology {
    /// Reads a `CLUSTER SHARDS` reply. `answered` is the node that sent it (for endpoints
    /// given as empty or null). Nodes whose `health` is not `online`, or whose endpoint is
    /// `?`, are left out. With `tls`, a node's `tls-port` is the one to use (its `port`
    /// when it has none); without, its `port`.
    pub(crate) fn from_cluster_shards(
        reply: &Frame,
        answered: &Addr,
        tls: bool,
    ) -> Result<Topology> {
        let shards = reply
            .as_array()
            .ok_or_else(|| bad("CLUSTER SHARDS", reply))?;
        let mut out = Vec::with_capacity(shards.len());
        for shard in shards {
            let fields = shard
                .as_array()
                .ok_or_else(|| bad("CLUSTER SHARDS", shard))?;
            let mut info = ShardInfo::default();
            for pair in fields.chunks(2) {
                let [name, value] = pair else { break };
                match name.as_str() {
                    Some("slots") => {
                        let bounds = value
                            .as_array()
                            .ok_or_else(|| bad("CLUSTER SHARDS slots", value))?;
                        for range in bounds.chunks(2) {
                            match range {
                                [a, b] => match (as_slot(a), as_slot(b)) {
                                    (Some(a), Some(b)) if a <= b => info.slots.push((a, b)),
                                    _ => return Err(bad("CLUSTER SHARDS slots", value)),
                                },
                                _ => return Err(bad("CLUSTER SHARDS slots", value)),
                            }
                        }
                    }
                    Some("nodes") => {
                        let nodes = value
                            .as_array()
                            .ok_or_else(|| bad("CLUSTER SHARDS nodes", value))?;
                        for node in nodes {
                            if let Some(n) = shards_node(node, answered, tls)? {
                                match n.role {
                                    Role::Master => info.master = Some(n),
                                    Role::Replica => info.replicas.push(n),
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            out.push(info);
        }
        Ok(Topology { shards: out })
    }

    /// Reads a `CLUSTER SLOTS` reply (`[[start, end, [host, port, id, ...], replicas...],
    /// ...]`); ranges of one master make one shard.
    pub(crate) fn from_cluster_slots(reply: &Frame, answered: &Addr) -> Result<Topology> {
        let ranges = reply
            .as_array()
            .ok_or_else(|| bad("CLUSTER SLOTS", reply))?;
        let mut out: Vec<ShardInfo> = Vec::new();
        for range in ranges {
            let parts = range
                .as_array()
                .ok_or_else(|| bad("CLUSTER SLOTS", range))?;
            let (Some(start), Some(end)) = (
                parts.first().and_then(as_slot),
                parts.get(1).and_then(as_slot),
            ) else {
                return Err(bad("CLUSTER SLOTS", range));
            };
            if start > end {
                return Err(bad("CLUSTER SLOTS", range));
            }
            let mut nodes = parts[2..].iter().enumerate().map(|(i, n)| {
                let role = if i == 0 { Role::Master } else { Role::Replica };
                slots_node(n, role, answered)
            });
            let master = nodes.next().transpose()?.flatten();
            let replicas: Vec<NodeInfo> = nodes
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect();
            let existing = master.as_ref().and_then(|m| {
                out.iter_mut()
                    .find(|s| s.master.as_ref().is_some_and(|o| o.addr == m.addr))
            });
            match existing {
                Some(shard) => {
                    shard.slots.push((start, end));
                    for r in replicas {
                        if !shard.replicas.iter().any(|o| o.addr == r.addr) {
                            shard.replicas.push(r);
                        }
                    }
                }
                None => out.push(ShardInfo {
                    slots: vec![(start, end)],
                    master,
                    replicas,
                }),
            }
        }
        Ok(Topology { shards: out })
    }

    /// Every node listed, masters and replicas.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.shards
            .iter()
            .flat_map(|s| s.master.iter().chain(s.replicas.iter()))
    }

    /// Reads the reply of `source`, asked over TLS or not (`CLUSTER SLOTS` gives the port
    /// of the asking connection's kind by itself).
    pub(crate) fn parse(
        source: TopologySource,
        reply: &Frame,
        answered: &Addr,
        tls: bool,
    ) -> Result<Topology> {
        match source {
            TopologySource::Shards => Topology::from_cluster_shards(reply, answered, tls),
            TopologySource::Slots => Topology::from_cluster_slots(reply, answered),
        }
    }

    /// How many slots have an online master.
    pub(crate) fn covered_slots(&self) -> usize {
        self.shards
            .iter()
            .filter(|s| s.master.is_some())
            .flat_map(|s| s.slots.iter())
            .map(|(a, b)| usize::from(b - a) + 1)
            .sum()
    }
}

/// One node of a `CLUSTER SHARDS` shard: a flat list of field names and values.
fn shards_node(node: &Frame, answered: &Addr, tls: bool) -> Result<Option<NodeInfo>> {
    let fields = node
        .as_array()
        .ok_or_else(|| bad("CLUSTER SHARDS node", node))?;
    let (mut id, mut plain_port, mut tls_port, mut endpoint, mut ip, mut role, mut health) =
        (None, None, None, None, None, None, None);
    let mut hostname = None;
    for pair in fields.chunks(2) {
        let [name, value] = pair else { break };
        match name.as_str() {
            Some("id") => id = value.as_str().map(str::to_string),
            Some("port") => plain_port = as_port(value).filter(|p| *p != 0),
            Some("tls-port") => tls_port = as_port(value).filter(|p| *p != 0),
            Some("endpoint") => endpoint = Some(value),
            Some("ip") => ip = Some(value),
            Some("role") => role = value.as_str(),
            Some("health") => health = value.as_str(),
            Some("hostname") => hostname = announced_hostname(value),
            _ => {}
        }
    }
    if health.is_some_and(|h| h != "online") {
        return Ok(None);
    }
    let role = match role {
        Some("master") => Role::Master,
        Some("replica") | Some("slave") => Role::Replica,
        _ => return Ok(None),
    };
    let port = match tls {
        true => tls_port.or(plain_port),
        false => plain_port.or(tls_port),
    };
    let Some(port) = port else {
        return Ok(None);
    };
    let Some(host) = endpoint_host(endpoint.or(ip), answered) else {
        return Ok(None);
    };
    Ok(Some(NodeInfo {
        addr: Addr::tcp(host, port),
        id,
        role,
        hostname,
    }))
}

/// A `hostname` field's value: a non-empty name (an empty one means none is set).
fn announced_hostname(value: &Frame) -> Option<String> {
    value.as_str().filter(|h| !h.is_empty()).map(str::to_string)
}

/// One node of a `CLUSTER SLOTS` range: `[endpoint, port, id?, metadata?]`, the metadata
/// a flat list of names and values (`hostname`, `ip`).
fn slots_node(node: &Frame, role: Role, answered: &Addr) -> Result<Option<NodeInfo>> {
    let parts = node
        .as_array()
        .ok_or_else(|| bad("CLUSTER SLOTS node", node))?;
    let Some(port) = parts.get(1).and_then(as_port).filter(|p| *p != 0) else {
        return Ok(None);
    };
    let Some(host) = endpoint_host(parts.first(), answered) else {
        return Ok(None);
    };
    let hostname = parts.get(3).and_then(Frame::as_array).and_then(|meta| {
        meta.chunks(2).find_map(|pair| match pair {
            [name, value] if name.as_str() == Some("hostname") => announced_hostname(value),
            _ => None,
        })
    });
    Ok(Some(NodeInfo {
        addr: Addr::tcp(host, port),
        id: parts.get(2).and_then(Frame::as_str).map(str::to_string),
        role,
        hostname,
    }))
}

/// Shard index meaning "no online master serves this slot".
const UNSERVED: u16 = u16::MAX;

/// One shard of a [`SlotMap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// The master, if one is online.
    pub master: Option<Addr>,
    /// Online replicas.
    pub replicas: Vec<Addr>,
}

/// Which shard serves each of the 16384 slots: what routing reads for every command.
///
/// Built from a cluster's topology; patched one slot at a time by `MOVED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotMap {
    slots: Vec<u16>,
    shards: Vec<Shard>,
}

impl Default for SlotMap {
    fn default() -> Self {
        SlotMap {
            slots: vec![UNSERVED; usize::from(SLOTS)],
            shards: Vec::new(),
        }
    }
}

impl SlotMap {
    /// The map of a topology. Slots of shards without an online master are unserved.
    pub(crate) fn new(topology: &Topology) -> SlotMap {
        let mut map = SlotMap::default();
        for info in &topology.shards {
            let index = match &info.master {
                // Two entries for one master (should not happen): merge them.
                Some(m) => match map
                    .shards
                    .iter()
                    .position(|s| s.master.as_ref() == Some(&m.addr))
                {
                    Some(i) => i,
                    None => {
                        map.shards.push(Shard {
                            master: Some(m.addr.clone()),
                            replicas: Vec::new(),
                        });
                        map.shards.len() - 1
                    }
                },
                None => {
                    map.shards.push(Shard {
                        master: None,
                        replicas: Vec::new(),
                    });
                    map.shards.len() - 1
                }
            };
            for r in &info.replicas {
                if !map.shards[index].replicas.contains(&r.addr) {
                    map.shards[index].replicas.push(r.addr.clone());
                }
            }
            if info.master.is_some() {
                for &(a, b) in &info.slots {
                    for s in a..=b.min(SLOTS - 1) {
                        map.slots[usize::from(s)] = index as u16;
                    }
                }
            }
        }
        map
    }

    /// The index of the shard serving `slot`, if one does.
    pub fn shard_index(&self, slot: u16) -> Option<usize> {
        match self.slots.get(usize::from(slot)) {
            Some(&i) if i != UNSERVED => Some(usize::from(i)),
            _ => None,
        }
    }

    /// The shard serving `slot`.
    pub fn shard_of(&self, slot: u16) -> Option<&Shard> {
        self.shard_index(slot).and_then(|i| self.shards.get(i))
    }

    /// The master serving `slot`.
    pub fn master(&self, slot: u16) -> Option<&Addr> {
        self.shard_of(slot).and_then(|s| s.master.as_ref())
    }

    /// Every shard (some may serve no slot after patches).
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// Masters that serve at least one slot, each with the first slot it serves.
    pub fn serving_masters(&self) -> Vec<(Addr, u16)> {
        let mut first: Vec<Option<u16>> = vec![None; self.shards.len()];
        for (slot, &i) in self.slots.iter().enumerate() {
            if i != UNSERVED {
                let f = &mut first[usize::from(i)];
                if f.is_none() {
                    *f = Some(slot as u16);
                }
            }
        }
        self.shards
            .iter()
            .zip(first)
            .filter_map(|(s, f)| Some((s.master.clone()?, f?)))
            .collect()
    }

    /// Every node address, masters first, without duplicates.
    pub fn nodes(&self) -> Vec<Addr> {
        let mut out: Vec<Addr> = Vec::new();
        for a in self.shards.iter().filter_map(|s| s.master.as_ref()) {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        for a in self.shards.iter().flat_map(|s| s.replicas.iter()) {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    }

    /// How many slots are served.
    pub fn covered_slots(&self) -> usize {
        self.slots.iter().filter(|&&i| i != UNSERVED).count()
    }

    /// Inclusive slot ranges with the index of the shard serving them.
    pub fn ranges(&self) -> Vec<(u16, u16, usize)> {
        let mut out: Vec<(u16, u16, usize)> = Vec::new();
        for (slot, &i) in self.slots.iter().enumerate() {
            if i == UNSERVED {
                continue;
            }
            let slot = slot as u16;
            match out.last_mut() {
                Some((_, end, idx)) if *end + 1 == slot && *idx == usize::from(i) => *end = slot,
                _ => out.push((slot, slot, usize::from(i))),
            }
        }
        out
    }

    /// The slots each node served (as master or replica) in this map and does not in
    /// `new`: what its client-side cache may hold that it will no longer hear about.
    pub(crate) fn slots_left(&self, new: &SlotMap) -> HashMap<Addr, Vec<u16>> {
        let serves = |shard: Option<&Shard>, a: &Addr| {
            shard.is_some_and(|s| s.master.as_ref() == Some(a) || s.replicas.contains(a))
        };
        let mut left: HashMap<Addr, Vec<u16>> = HashMap::new();
        for slot in 0..SLOTS {
            let (before, after) = (self.shard_of(slot), new.shard_of(slot));
            let Some(before) = before else { continue };
            for a in before.master.iter().chain(&before.replicas) {
                if !serves(after, a) {
                    left.entry(a.clone()).or_default().push(slot);
                }
            }
        }
        left
    }

    /// How many of this map's replicas are masters in `new` (failovers).
    pub(crate) fn promoted(&self, new: &SlotMap) -> usize {
        let masters: Vec<&Addr> = new
            .shards
            .iter()
            .filter_map(|s| s.master.as_ref())
            .collect();
        let mut replicas: Vec<&Addr> = self.shards.iter().flat_map(|s| &s.replicas).collect();
        replicas.dedup();
        replicas.iter().filter(|r| masters.contains(r)).count()
    }

    /// Records that `addr` is the master of `slot` now (a `MOVED` reply). Returns the index
    /// of its shard, and whether the map changed. An address not known as a master gets a
    /// shard of its own (no replicas known until the next full refresh).
    pub(crate) fn set_master(&mut self, slot: u16, addr: Addr) -> (usize, bool) {
        let index = match self
            .shards
            .iter()
            .position(|s| s.master.as_ref() == Some(&addr))
        {
            Some(i) => i,
            None => {
                // A replica promoted since the last refresh keeps its old replicas' company
                // out of the picture: it is a master now.
                for s in &mut self.shards {
                    s.replicas.retain(|r| *r != addr);
                }
                self.shards.push(Shard {
                    master: Some(addr),
                    replicas: Vec::new(),
                });
                self.shards.len() - 1
            }
        };
        let Some(entry) = self.slots.get_mut(usize::from(slot)) else {
            return (index, false);
        };
        let changed = usize::from(*entry) != index;
        *entry = index as u16;
        (index, changed)
    }
}

#[cfg(test)]
#[path = "topology_tests.rs"]
mod tests;

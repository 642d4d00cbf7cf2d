//! Parsing of `INFO`, `CLUSTER NODES` and `CLUSTER SLOTS` replies.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use slotline_resp::Frame;

/// The value of `name:value` in an `INFO` reply.
pub(crate) fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k == name).then_some(v.trim())
    })
}

/// One `slaveN:ip=..,port=..,state=..` entry of a master's `INFO replication`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplicaEntry {
    pub(crate) port: u16,
    pub(crate) state: String,
}

/// The replicas a master's `INFO replication` lists.
pub(crate) fn replicas(info: &str) -> Vec<ReplicaEntry> {
    info.lines()
        .filter_map(|line| {
            let (k, v) = line.split_once(':')?;
            let n = k.strip_prefix("slave")?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut port = None;
            let mut state = String::new();
            for kv in v.trim().split(',') {
                match kv.split_once('=') {
                    Some(("port", p)) => port = p.parse().ok(),
                    Some(("state", s)) => state = s.to_string(),
                    _ => {}
                }
            }
            Some(ReplicaEntry { port: port?, state })
        })
        .collect()
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeLine {
    pub(crate) id: String,
    /// `None` when the address is still unknown (`:0`).
    pub(crate) addr: Option<SocketAddr>,
    /// The host name the node announces (`cluster-announce-hostname`), if any.
    pub(crate) hostname: Option<String>,
    pub(crate) flags: Vec<String>,
    /// The master's id for a replica, `-` otherwise.
    pub(crate) master: String,
    pub(crate) link_connected: bool,
}

impl NodeLine {
    pub(crate) fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
    pub(crate) fn is_master(&self) -> bool {
        self.has_flag("master")
    }
    /// No `fail`, `fail?`, `handshake` or `noaddr` flag.
    pub(crate) fn healthy(&self) -> bool {
        !self
            .flags
            .iter()
            .any(|f| matches!(f.as_str(), "fail" | "fail?" | "handshake" | "noaddr"))
    }
}

/// Parses `CLUSTER NODES`.
pub(crate) fn cluster_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let id = it.next()?.to_string();
            let addr_field = it.next()?;
            // ip:port@cport[,hostname]
            let (addr_field, hostname) = match addr_field.split_once(',') {
                Some((a, h)) if !h.is_empty() => (a, Some(h.to_string())),
                Some((a, _)) => (a, None),
                None => (addr_field, None),
            };
            let hostport = addr_field.split('@').next()?;
            let addr = hostport
                .parse::<SocketAddr>()
                .ok()
                .filter(|a| a.port() != 0);
            let flags = it.next()?.split(',').map(str::to_string).collect();
            let master = it.next()?.to_string();
            let _ping = it.next()?;
            let _pong = it.next()?;
            let _epoch = it.next()?;
            let link = it.next()?;
            Some(NodeLine {
                id,
                addr,
                hostname,
                flags,
                master,
                link_connected: link == "connected",
            })
        })
        .collect()
}

/// One slot range of `CLUSTER SLOTS`, normalised for comparison.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotRange {
    /// First slot.
    pub start: u16,
    /// Last slot (inclusive).
    pub end: u16,
    /// The master serving it.
    pub master: SocketAddr,
    /// Its replicas, sorted.
    pub replicas: BTreeSet<SocketAddr>,
}

fn endpoint(answerer: SocketAddr, node: &Frame) -> Option<SocketAddr> {
    let parts = node.as_array()?;
    let host = parts.first()?.as_str().unwrap_or("");
    let port = u16::try_from(parts.get(1)?.as_int()?).ok()?;
    if host.is_empty() || host == "?" {
        return Some(SocketAddr::new(answerer.ip(), port));
    }
    let ip = host.parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// Parses and sorts a `CLUSTER SLOTS` reply; adjacent ranges of one master are merged.
pub(crate) fn cluster_slots(answerer: SocketAddr, reply: &Frame) -> Option<Vec<SlotRange>> {
    let mut out = Vec::new();
    for entry in reply.as_array()? {
        let e = entry.as_array()?;
        let start = u16::try_from(e.first()?.as_int()?).ok()?;
        let end = u16::try_from(e.get(1)?.as_int()?).ok()?;
        let master = endpoint(answerer, e.get(2)?)?;
        let replicas = e[3..]
            .iter()
            .map(|n| endpoint(answerer, n))
            .collect::<Option<BTreeSet<_>>>()?;
        out.push(SlotRange {
            start,
            end,
            master,
            replicas,
        });
    }
    out.sort();
    let mut merged: Vec<SlotRange> = Vec::with_capacity(out.len());
    for r in out {
        if let Some(last) = merged.last_mut() {
            if last.master == r.master
                && last.replicas == r.replicas
                && u32::from(last.end) + 1 == u32::from(r.start)
            {
                last.end = r.end;
                continue;
            }
        }
        merged.push(r);
    }
    Some(merged)
}

/// Whether the ranges cover all 16384 slots exactly once.
pub(crate) fn covers_all(ranges: &[SlotRange]) -> bool {
    let mut next: u32 = 0;
    for r in ranges {
        if u32::from(r.start) != next || r.end < r.start {
            return false;
        }
        next = u32::from(r.end) + 1;
    }
    next == 16384
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_and_replicas() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
            slave0:ip=127.0.0.1,port=7001,state=online,offset=42,lag=0\r\n\
            slave1:ip=127.0.0.1,port=7002,state=wait_bgsave,offset=0,lag=0\r\n\
            master_failover_state:no-failover\r\n";
        assert_eq!(field(info, "role"), Some("master"));
        assert_eq!(field(info, "connected_slaves"), Some("2"));
        let r = replicas(info);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].port, 7001);
        assert_eq!(r[0].state, "online");
        assert_eq!(r[1].state, "wait_bgsave");
    }

    #[test]
    fn cluster_nodes_lines() {
        let text =
            "e7d1 127.0.0.1:30004@40004,n4.redis.test slave 67ed 0 1426238317239 4 connected\n\
            67ed 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460\n\
            aaaa :0@0 master,noaddr - 0 0 0 disconnected\n";
        let n = cluster_nodes(text);
        assert_eq!(n.len(), 3);
        assert_eq!(n[0].master, "67ed");
        assert_eq!(n[0].addr, Some(SocketAddr::from(([127, 0, 0, 1], 30004))));
        assert_eq!(n[0].hostname.as_deref(), Some("n4.redis.test"));
        assert_eq!(n[1].hostname, None);
        assert!(n[1].has_flag("myself") && n[1].is_master());
        assert_eq!(n[2].addr, None);
        assert!(!n[2].healthy());
    }

    #[test]
    fn slots_are_normalised() {
        let node = |p: i64| {
            Frame::Array(vec![
                Frame::Bulk("127.0.0.1".into()),
                Frame::Integer(p),
                Frame::Bulk("id".into()),
            ])
        };
        let reply = Frame::Array(vec![
            Frame::Array(vec![Frame::Integer(8192), Frame::Integer(16383), node(2)]),
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::Integer(8191),
                node(1),
                node(3),
            ]),
        ]);
        let a: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let r = cluster_slots(a, &reply).unwrap();
        assert_eq!(r[0].start, 0);
        assert_eq!(r[0].replicas.len(), 1);
        assert!(covers_all(&r));
    }
}

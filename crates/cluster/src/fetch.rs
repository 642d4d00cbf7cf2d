//! Asking the nodes for the topology: `CLUSTER SHARDS`, or `CLUSTER SLOTS` on servers
//! that do not know it, from the known nodes first, then the startup nodes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use slotline_conn::{
    cmd, Addr, Cmd, Connection, Error, ErrorKind, Frame, Query, Result, ServerError,
    ServerErrorKind, UnavailableKind,
};

use crate::registry::Node;
use crate::state::{bump, ClusterState};
use crate::topology::{Topology, TopologySource};

impl ClusterState {
    /// Where to ask for the topology: known healthy nodes (masters first, starting at a
    /// rotating offset), then the unhealthy ones, then the startup nodes.
    fn refresh_candidates(&self) -> Vec<(Addr, Option<Arc<Node>>)> {
        let routes = self.nodes.routes();
        let mut healthy = Vec::new();
        let mut sick = Vec::new();
        let all: Vec<&Arc<Node>> = routes
            .masters
            .iter()
            .flatten()
            .chain(routes.replicas.iter().flatten())
            .collect();
        let n = all.len();
        let start = if n == 0 {
            0
        } else {
            self.next_seed.fetch_add(1, Ordering::Relaxed) % n
        };
        let masters = routes.masters.iter().flatten().count();
        for i in 0..n {
            // Rotate within masters, then within replicas.
            let node = if i < masters {
                all[(start + i) % masters.max(1)]
            } else {
                all[i]
            };
            if healthy
                .iter()
                .chain(sick.iter())
                .any(|(a, _): &(Addr, _)| *a == node.addr)
            {
                continue;
            }
            let entry = (node.addr.clone(), Some(node.clone()));
            if node.is_healthy() {
                healthy.push(entry);
            } else {
                sick.push(entry);
            }
        }
        healthy.extend(sick);
        for addr in &self.startup {
            if !healthy.iter().any(|(a, _)| a == addr) {
                healthy.push((addr.clone(), None));
            }
        }
        healthy
    }

    /// Asks the nodes in turn for the topology; the first useful answer wins.
    pub(crate) async fn fetch_topology(&self) -> Result<Topology> {
        let mut last: Option<Error> = None;
        // A wrong password on one node says nothing of the others (per-node credentials):
        // go on, and report it if no node answers.
        let mut auth: Option<Error> = None;
        for (addr, node) in self.refresh_candidates() {
            let ask = self.ask_topology(&addr, node.as_deref());
            match tokio::time::timeout(self.config.refresh_timeout, ask).await {
                Ok(Ok(t)) if t.covered_slots() > 0 => return Ok(t),
                Ok(Ok(_)) => {
                    last = Some(Error::unavailable(
                        UnavailableKind::NoNode,
                        format!("{addr} knows no served slot"),
                    ));
                }
                Ok(Err(e))
                    if matches!(
                        e.server_kind(),
                        Some(ServerErrorKind::WrongPass | ServerErrorKind::NoAuth)
                    ) =>
                {
                    auth.get_or_insert(e);
                }
                Ok(Err(e)) => last = Some(e),
                Err(_) => {
                    last = Some(Error::timeout_after(
                        self.config.refresh_timeout,
                        "the cluster topology",
                        true,
                    ))
                }
            }
        }
        if let Some(e) = auth {
            return Err(e);
        }
        Err(match last {
            Some(e) => match e.kind() {
                ErrorKind::Unavailable(kind) => Error::unavailable(
                    kind,
                    format!("no node could tell: {}", e.message().unwrap_or_default()),
                ),
                _ => e,
            },
            None => Error::unavailable(
                UnavailableKind::NoNode,
                "no node to ask for the cluster topology",
            ),
        })
    }

    /// One node's topology: `CLUSTER SHARDS`, or `CLUSTER SLOTS` where unknown.
    async fn ask_topology(&self, addr: &Addr, node: Option<&Node>) -> Result<Topology> {
        let shared = node.and_then(Node::existing_client);
        let own = match shared {
            Some(_) => None,
            None => {
                let config = match node {
                    Some(n) => n.config().clone(),
                    None => self.node_config(addr),
                };
                Some(Connection::connect(config).await?)
            }
        };
        let own = own.as_ref();
        let tls = self.config.connection.tls.is_some();
        let ask = |c: Cmd| async move {
            bump(&self.counters.topology_queries);
            match (shared, own) {
                (Some(client), _) => client.send_command(&c).await,
                (None, Some(conn)) => conn.send_command(&c).await,
                (None, None) => Err(Error::closed(false)),
            }
        };
        let server_error = |reply: &Frame| match ServerError::from_frame(reply) {
            Some(e) => Error::from(e),
            None => Error::unexpected_reply(format!("{reply:?} to CLUSTER SHARDS/SLOTS")),
        };
        if !self.slots_only.load(Ordering::Relaxed) {
            let reply = ask(cmd("CLUSTER").arg("SHARDS")).await?;
            match &reply {
                Frame::Error(line)
                    if line.starts_with(b"ERR unknown") || line.starts_with(b"ERR Unknown") =>
                {
                    self.slots_only.store(true, Ordering::Relaxed);
                }
                Frame::Error(_) => return Err(server_error(&reply)),
                _ => return Topology::parse(TopologySource::Shards, &reply, addr, tls),
            }
        }
        let reply = ask(cmd("CLUSTER").arg("SLOTS")).await?;
        if reply.is_error() {
            return Err(server_error(&reply));
        }
        Topology::parse(TopologySource::Slots, &reply, addr, tls)
    }
}

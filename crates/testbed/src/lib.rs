//! # slotline-testbed
//!
//! Starts real Redis topologies on 127.0.0.1 for tests, demos and benchmarks, waits until
//! they are really ready, breaks them on demand, and tears them down without leaks.
//!
//! | type | what | ready when |
//! |---|---|---|
//! | [`Standalone`] | one `redis-server` (optional `requirepass`, ACL users) | it answers `INFO` with its own pid |
//! | [`Replication`] | a master and N replicas (default 2) | the master lists every replica `state=online`, each replica has `master_link_status:up` |
//! | [`SentinelTopology`] | master, N replicas (default 2), 3 sentinels, service `mymaster` | every sentinel reports the master, knows the replicas and the other sentinels |
//! | [`SentinelTopology::sharded`] | 3 services `svc1`..`svc3`, each a master and 1 replica, 3 sentinels watching all | as above, for every service |
//! | [`Cluster`] | M masters × R replicas (default 3 × 1) | every node: `cluster_state:ok`, same slot map, replicas' links up |
//!
//! ```no_run
//! use slotline_testbed::Cluster;
//! # fn main() -> slotline_testbed::Result<()> {
//! let cluster = Cluster::start()?;                 // 6 nodes, ready in ~2-3 s
//! let slot = cluster.keyslot("user:{42}")?;
//! let owner = cluster.slot_owner(slot)?;
//! let other = cluster.masters()?.into_iter().find(|m| *m != owner).unwrap();
//! let migration = cluster.begin_migration(slot, other)?;   // owner now answers ASK
//! cluster.migrate_keys(&migration, 10)?;
//! cluster.finish_migration(migration)?;                    // owner now answers MOVED
//! # Ok(()) }
//! ```
//!
//! Every process runs in its own directory under `std::env::temp_dir()`
//! (`slotline-testbed-<pid>-<n>-<topology>/<redis|sentinel>-<port>/`, with its config and
//! log), with `save ""`, `appendonly no`, bound to 127.0.0.1.
//!
//! ## Faults
//! Kill (`SIGKILL`), stop (`SIGSTOP`: a hung node that sends no RST), continue, restart on
//! the same port and directory; sentinel failover ([`SentinelTopology::failover`]) and
//! waiting for the new master after a kill ([`SentinelTopology::wait_for_new_master`]);
//! cluster manual failover ([`Cluster::failover`]), waiting for an automatic one
//! ([`Cluster::wait_for_failover`]), slot migration in steps ([`Cluster::begin_migration`],
//! [`Cluster::migrate_keys`], [`Cluster::finish_migration`]) and adding an empty master
//! ([`Cluster::add_master`]). All methods take `&self`: share a topology in an `Arc` and
//! break it while other threads run traffic.
//!
//! Network faults ([`net`]): partitions ([`Process::partition`], [`Cluster::partition`],
//! both ways or one) drop a node's packets with nftables, inside a network namespace of the
//! test's own ([`net::isolated`] runs the test again there); [`FaultProxy`] is a TCP relay
//! in front of a node that delays, stalls, cuts or resets its connections.
//!
//! ## No leaks, no collisions
//! - Teardown on `Drop` (kill, reap, remove the directory), also when a test panics.
//! - Every process is spawned by one long-lived thread with `PR_SET_PDEATHSIG = SIGKILL`
//!   (Linux), so when the test process dies, even by `SIGKILL`, its Redis processes die too.
//!   Directories of dead test processes are swept by the next test process.
//! - Ports are leased with `flock` on lock files in `<tmp>/slotline-testbed-ports/` for the
//!   topology's whole life (no bind-then-release race between test binaries), and a
//!   `redis-server` that fails to bind anyway is detected and restarted on another port.
//!
//! ## Environment variables
//! | variable | effect |
//! |---|---|
//! | `SLOTLINE_REDIS_SERVER` | path of `redis-server` (default: found in `PATH`) |
//! | `SLOTLINE_REDIS_SENTINEL` | path of `redis-sentinel` (default: `PATH`, else `redis-server --sentinel`) |
//! | `SLOTLINE_TESTBED_KEEP` | keep the temporary directories (configs, logs) after teardown |
//! | `SLOTLINE_TEST_STANDALONE` | `host:port`: [`Standalone::start`] uses this node instead |
//! | `SLOTLINE_TEST_REPLICATION` | `master,replica,...`: [`Replication::start`] uses these |
//! | `SLOTLINE_TEST_SENTINEL` | `host:port,...` of sentinels: [`SentinelTopology::start`] uses them |
//! | `SLOTLINE_TEST_SENTINEL_SERVICE` | their service name (default `mymaster`) |
//! | `SLOTLINE_TEST_CLUSTER` | `host:port,...` of cluster nodes: [`Cluster::start`] uses them |
//! | `SLOTLINE_TEST_PASSWORD` | `requirepass` of the external data nodes |
//! | `SLOTLINE_TEST_SENTINEL_PASSWORD` | `requirepass` of the external sentinels |
//!
//! With a `SLOTLINE_TEST_*` address set (external mode, e.g. the deployment of
//! `tests/docker/compose.yml`), no process is started and every fault method returns
//! [`Error::External`]; tests that need faults or a particular configuration call the
//! builders' `.local()` or check `is_external()`.
//!
//! ## Command line
//! `slotline-testbed up <standalone|replication|sentinel|sharded-sentinel|cluster> [--json]`
//! starts a topology, prints one line when it is ready and runs until SIGINT/SIGTERM.
//! `slotline-testbed partition PORT[,BUS_PORT] [both|to|from]` and `heal PORT[,BUS_PORT]`
//! cut a node off the network and back, in the namespace they run in.

mod builder;
mod cluster;
mod error;
mod info;
pub mod net;
mod ports;
mod process;
mod proxy;
mod replication;
mod sentinel;
mod standalone;
mod sys;
pub mod tls;
mod topology;
mod wait;
pub mod wire;

pub use cluster::{Cluster, ClusterBuilder, Migration, SLOTS};
pub use error::{Error, Result};
pub use info::SlotRange;
pub use net::Direction;
pub use process::{check_binaries, Kind, Process, ENV_KEEP, ENV_REDIS_SENTINEL, ENV_REDIS_SERVER};
pub use proxy::{FaultProxy, LinkMode};
pub use replication::{Replication, ReplicationBuilder};
pub use sentinel::{SentinelBuilder, SentinelTopology, DEFAULT_SERVICE, SHARDED_SERVICES};
pub use standalone::{AclUser, Standalone, StandaloneBuilder};
pub use sys::pid_alive;
pub use tls::{ServerCert, TlsFiles};
pub use topology::{
    test_protocol, with_test_protocol, Description, NodeInfo, Role, ENV_CLUSTER, ENV_PASSWORD,
    ENV_PROTOCOL, ENV_REPLICATION, ENV_SENTINEL, ENV_SENTINEL_PASSWORD, ENV_SENTINEL_SERVICE,
    ENV_STANDALONE,
};
pub use wire::{Auth, Conn};

/// Any topology, for code that picks one at run time (the CLI).
#[derive(Debug)]
pub enum Topology {
    /// One node.
    Standalone(Standalone),
    /// Master and replicas.
    Replication(Replication),
    /// Master, replicas and sentinels (one service, or several: `sharded-sentinel`).
    Sentinel(SentinelTopology),
    /// A cluster.
    Cluster(Cluster),
}

impl Topology {
    /// Starts the default topology of the given name: `standalone`, `replication`,
    /// `sentinel`, `sharded-sentinel` or `cluster`.
    pub fn start(name: &str) -> Result<Topology> {
        Ok(match name {
            "standalone" => Topology::Standalone(Standalone::start()?),
            "replication" => Topology::Replication(Replication::start()?),
            "sentinel" => Topology::Sentinel(SentinelTopology::start()?),
            "sharded-sentinel" => Topology::Sentinel(SentinelTopology::sharded().start()?),
            "cluster" => Topology::Cluster(Cluster::start()?),
            other => {
                return Err(Error::Invalid(format!(
                    "unknown topology {other:?}: expected standalone, replication, sentinel, \
                     sharded-sentinel or cluster"
                )))
            }
        })
    }

    /// What is running.
    pub fn describe(&self) -> Description {
        match self {
            Topology::Standalone(t) => t.describe(),
            Topology::Replication(t) => t.describe(),
            Topology::Sentinel(t) => t.describe(),
            Topology::Cluster(t) => t.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn topologies_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<super::Standalone>();
        shareable::<super::Replication>();
        shareable::<super::SentinelTopology>();
        shareable::<super::Cluster>();
        shareable::<super::Process>();
        shareable::<super::Error>();
    }
}

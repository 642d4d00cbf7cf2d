//! Each client measured, behind the same [`Getter`]: the reply converted to
//! `Option<Vec<u8>>` on both sides, as an application would read it.

use slotline_conn::Commands as _;

use crate::load::{BlockingGetter, Getter};

/// slotline's shared client (one socket for every caller).
#[derive(Clone)]
pub struct Slotline(pub slotline_conn::Client);

impl Getter for Slotline {
    async fn get(&mut self, key: &[u8]) -> Result<(), String> {
        self.0
            .get::<Option<Vec<u8>>>(key)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// slotline's cluster client (one shared client per node).
#[derive(Clone)]
pub struct SlotlineCluster(pub slotline_cluster::ClusterClient);

impl Getter for SlotlineCluster {
    async fn get(&mut self, key: &[u8]) -> Result<(), String> {
        self.0
            .get::<Option<Vec<u8>>>(key)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// slotline's blocking shared client, cloned into every thread.
#[derive(Clone)]
pub struct SlotlineBlocking(pub slotline_conn::blocking::Client);

impl BlockingGetter for SlotlineBlocking {
    fn get(&mut self, key: &[u8]) -> Result<(), String> {
        slotline_conn::blocking::Commands::get::<Option<Vec<u8>>>(&self.0, key)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// redis-rs's multiplexed connection, cloned into every task.
#[derive(Clone)]
pub struct RedisRs(pub redis::aio::MultiplexedConnection);

impl Getter for RedisRs {
    async fn get(&mut self, key: &[u8]) -> Result<(), String> {
        redis::cmd("GET")
            .arg(key)
            .query_async::<Option<Vec<u8>>>(&mut self.0)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// redis-rs's async cluster connection, cloned into every task.
#[derive(Clone)]
pub struct RedisRsCluster(pub redis::cluster_async::ClusterConnection);

impl Getter for RedisRsCluster {
    async fn get(&mut self, key: &[u8]) -> Result<(), String> {
        redis::cmd("GET")
            .arg(key)
            .query_async::<Option<Vec<u8>>>(&mut self.0)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// redis-rs's synchronous connection: one per thread.
pub struct RedisRsSync(pub redis::Connection);

impl BlockingGetter for RedisRsSync {
    fn get(&mut self, key: &[u8]) -> Result<(), String> {
        redis::cmd("GET")
            .arg(key)
            .query::<Option<Vec<u8>>>(&mut self.0)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

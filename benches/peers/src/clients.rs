//! Each client measured, behind the same [`Getter`]: the reply converted to
//! `Option<Vec<u8>>` on both sides, as an application would read it.

use slotline_conn::Commands as _;

use crate::load::{BlockingGetter, Getter};

/// A slotline async client (the shared client, one socket for every caller; or the
/// cluster client, one shared client per node), cloned into every task.
#[derive(Clone)]
pub struct Slotline<C>(pub C);

impl<C: slotline_conn::Execute + Send + 'static> Getter for Slotline<C> {
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

/// A redis-rs async connection (multiplexed, or the cluster one), cloned into every task.
#[derive(Clone)]
pub struct RedisRs<C>(pub C);

impl<C: redis::aio::ConnectionLike + Send + 'static> Getter for RedisRs<C> {
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

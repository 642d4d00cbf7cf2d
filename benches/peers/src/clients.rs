//! Each client measured, behind the same [`Getter`]: the reply converted to
//! `Option<Vec<u8>>` on every side, as an application would read it.

use fred::interfaces::{ClientLike as _, KeysInterface as _};
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

/// A fred client (its one connection per node, with its default automatic pipelining),
/// cloned into every task.
#[derive(Clone)]
pub struct Fred(pub fred::clients::Client);

impl Fred {
    /// A fred client of `config`, connected.
    pub async fn connect(config: fred::types::config::Config) -> Result<Fred, String> {
        let client = fred::types::Builder::from_config(config)
            .build()
            .map_err(|e| e.to_string())?;
        client.init().await.map_err(|e| e.to_string())?;
        Ok(Fred(client))
    }

    /// Closes its connections (`QUIT`).
    pub async fn quit(&self) {
        let _ = self.0.quit().await;
    }
}

impl Getter for Fred {
    async fn get(&mut self, key: &[u8]) -> Result<(), String> {
        self.0
            .get::<Option<Vec<u8>>, _>(key)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

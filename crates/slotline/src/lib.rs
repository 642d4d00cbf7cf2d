//! # slotline
//!
//! A Redis client for Rust, written from the wire up, for every way Redis is deployed.
//! This crate gathers the layers and carries the `slotline` command line:
//!
//! | crate | what |
//! |---|---|
//! | [`resp`] (`slotline-resp`) | zero-copy, incremental, bounded RESP2 codec |
//! | [`conn`] (`slotline-conn`) | connections, commands, pipelines, transactions, pub/sub, the shared client, replication |
//!
//! ```no_run
//! # async fn demo() -> slotline::conn::Result<()> {
//! use slotline::conn::{Client, Commands};
//! let c = Client::connect("redis://127.0.0.1:6379/0").await?;
//! c.set("foo", "bar").await?;
//! # Ok(()) }
//! ```

pub use slotline_conn as conn;
pub use slotline_resp as resp;

pub mod cli;

//! Port leases that never collide across threads or test processes.
//!
//! A port is leased by taking an exclusive `flock` on `<tmp>/slotline-testbed-ports/<port>.lock`
//! and holding it (the file stays open) for as long as the node may use the port, restarts
//! included. The kernel releases the lock when the holder dies, so a killed test leaves no
//! stale lease. Lock files are never deleted (deleting one would let two holders lock two
//! different inodes of the same name).
//!
//! A lease only keeps other test beds away; a foreign process may still hold the port. The
//! caller therefore also detects a failed bind of `redis-server` and retries on another port.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::sys;

/// Data ports are drawn from here. Cluster bus ports are `port + 10000` and so fall in
/// 22000..32000: both ranges stay below Linux's default ephemeral range (32768..), so an
/// outgoing connection's local port never takes them.
const FIRST: u16 = 12000;
const LAST: u16 = 21999;
/// Redis Cluster's bus port offset.
pub(crate) const BUS_OFFSET: u16 = 10000;

/// A held lease on one port (and its cluster bus port when asked for).
#[derive(Debug)]
pub(crate) struct PortLease {
    port: u16,
    bus: bool,
    _locks: Vec<File>,
}

impl PortLease {
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The port, and the cluster bus port when leased too.
    pub(crate) fn ports(&self) -> Vec<u16> {
        if self.bus {
            vec![self.port, self.port + BUS_OFFSET]
        } else {
            vec![self.port]
        }
    }
}

fn lock_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join("slotline-testbed-ports");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    Ok(dir)
}

fn try_lock(dir: &std::path::Path, port: u16) -> Result<Option<File>> {
    let path = dir.join(format!("{port}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let locked = sys::try_lock_exclusive(&file)
        .map_err(|e| Error::io(format!("flock {}", path.display()), e))?;
    Ok(locked.then_some(file))
}

fn bindable(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A pseudo-random starting point, different per process and per call.
fn seed() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ CALLS
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Leases a free port (and `port + 10000` too when `with_bus`), skipping ports other test beds
/// hold and ports that something else is listening on right now.
pub(crate) fn lease(with_bus: bool) -> Result<PortLease> {
    let dir = lock_dir()?;
    let span = u64::from(LAST - FIRST) + 1;
    let start = seed() % span;
    // Visit the range in a scattered order from a random start; 997 is prime and does not
    // divide the span, so the walk covers every port.
    for i in 0..span {
        let port = FIRST + ((start + i * 997) % span) as u16;
        let Some(lock) = try_lock(&dir, port)? else {
            continue;
        };
        let mut locks = vec![lock];
        if with_bus {
            match try_lock(&dir, port + BUS_OFFSET)? {
                Some(bus) => locks.push(bus),
                None => continue,
            }
        }
        if !bindable(port) || (with_bus && !bindable(port + BUS_OFFSET)) {
            continue;
        }
        return Ok(PortLease {
            port,
            bus: with_bus,
            _locks: locks,
        });
    }
    Err(Error::NoPort(format!(
        "every port in {FIRST}..={LAST} is leased or in use"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_exclusive_within_a_process() {
        let a = lease(true).unwrap();
        let dir = lock_dir().unwrap();
        assert!(try_lock(&dir, a.port()).unwrap().is_none());
        assert!(try_lock(&dir, a.port() + BUS_OFFSET).unwrap().is_none());
        let port = a.port();
        drop(a);
        assert!(try_lock(&dir, port).unwrap().is_some());
    }

    #[test]
    fn many_leases_are_distinct() {
        let leases: Vec<_> = (0..50).map(|_| lease(false).unwrap()).collect();
        let mut ports: Vec<_> = leases.iter().map(|l| l.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 50);
    }
}

//! [`FaultProxy`]: a TCP relay in front of a node that can delay, stall, cut or reset the
//! connections through it: the slow links and resets that this kernel's missing `netem`
//! cannot make.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};

/// How long a relay thread blocks in a read before it looks at its flags again.
const TICK: Duration = Duration::from_millis(20);

/// What a [`FaultProxy`] does to the bytes it relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMode {
    /// Relays at once.
    Pass,
    /// Holds every chunk this long before relaying it, both ways (a slow link).
    Delay(Duration),
    /// Relays nothing, and keeps every connection open (a link that went silent); new
    /// connections are accepted and stall too. Bytes read meanwhile are relayed once the
    /// mode changes.
    Stall,
}

/// A TCP relay on 127.0.0.1 in front of `target`. Clients connect to [`addr`](Self::addr);
/// the proxy opens one connection to the target per client. Dropping it closes everything.
///
/// ```no_run
/// # fn main() -> slotline_testbed::Result<()> {
/// use std::time::Duration;
/// use slotline_testbed::{FaultProxy, LinkMode, Standalone};
/// let node = Standalone::start()?;
/// let proxy = FaultProxy::start(node.addr())?;      // point the client at proxy.addr()
/// proxy.set_mode(LinkMode::Delay(Duration::from_millis(200)));
/// proxy.set_mode(LinkMode::Stall);
/// proxy.reset();                                     // every open connection gets a RST
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    target: SocketAddr,
    mode: Mutex<LinkMode>,
    changed: Condvar,
    links: Mutex<Vec<Arc<Link>>>,
    stop: AtomicBool,
}

/// One client connection and its connection to the target.
#[derive(Debug)]
struct Link {
    client: TcpStream,
    server: TcpStream,
    /// Set to end the link: the relay threads stop and the sockets close.
    ended: AtomicBool,
    /// Set by [`FaultProxy::reset`]: the sockets close with a reset, no FIN before it.
    reset: AtomicBool,
}

impl FaultProxy {
    /// Listens on a free loopback port, relaying to `target`, in [`LinkMode::Pass`].
    pub fn start(target: SocketAddr) -> Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Error::io("binding the fault proxy", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("the fault proxy's address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("the fault proxy's listener", e))?;
        let shared = Arc::new(Shared {
            target,
            mode: Mutex::new(LinkMode::Pass),
            changed: Condvar::new(),
            links: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("fault-proxy".into())
                .spawn(move || accept(listener, shared))
                .map_err(|e| Error::io("starting the fault proxy", e))?
        };
        Ok(FaultProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The node behind it.
    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    /// Changes what happens to the bytes relayed from now on (open connections too).
    pub fn set_mode(&self, mode: LinkMode) {
        *lock(&self.shared.mode) = mode;
        self.shared.changed.notify_all();
    }

    /// Closes every open connection cleanly (a FIN each way); new ones are accepted.
    pub fn cut(&self) {
        for link in self.take_links() {
            let _ = link.client.shutdown(Shutdown::Both);
            let _ = link.server.shutdown(Shutdown::Both);
            link.ended.store(true, Ordering::SeqCst);
        }
        self.shared.changed.notify_all();
    }

    /// Resets every open connection (a RST to the client, as a crashed middlebox or a
    /// restarted load balancer sends); new ones are accepted.
    pub fn reset(&self) {
        for link in self.take_links() {
            let _ = crate::sys::reset_on_close(&link.client);
            let _ = crate::sys::reset_on_close(&link.server);
            link.reset.store(true, Ordering::SeqCst);
            link.ended.store(true, Ordering::SeqCst);
        }
        self.shared.changed.notify_all();
    }

    /// Connections open through it now.
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.links).len()
    }

    fn take_links(&self) -> Vec<Arc<Link>> {
        std::mem::take(&mut *lock(&self.shared.links))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.cut();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let Ok(server) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(2))
                else {
                    // The target is down: the client sees its connection closed.
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let _ = client.set_read_timeout(Some(TICK));
                let _ = server.set_read_timeout(Some(TICK));
                let link = Arc::new(Link {
                    client,
                    server,
                    ended: AtomicBool::new(false),
                    reset: AtomicBool::new(false),
                });
                lock(&shared.links).push(link.clone());
                for to_server in [true, false] {
                    let (link, shared) = (link.clone(), shared.clone());
                    let _ = std::thread::Builder::new()
                        .name("fault-proxy-relay".into())
                        .spawn(move || relay(&link, &shared, to_server));
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK),
            Err(_) => std::thread::sleep(TICK),
        }
    }
}

/// Relays one direction of a link until it ends, the proxy stops, or either side closes.
fn relay(link: &Link, shared: &Shared, to_server: bool) {
    let (mut from, mut to) = if to_server {
        (&link.client, &link.server)
    } else {
        (&link.server, &link.client)
    };
    let mut buf = vec![0u8; 64 * 1024];
    let over = || link.ended.load(Ordering::SeqCst) || shared.stop.load(Ordering::SeqCst);
    while !over() {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        // Wait out a stall; then the delay, if any.
        let mut mode = lock(&shared.mode);
        while *mode == LinkMode::Stall && !over() {
            mode = shared
                .changed
                .wait_timeout(mode, TICK)
                .map_or_else(|p| p.into_inner().0, |(m, _)| m);
        }
        let delay = match *mode {
            LinkMode::Delay(d) => Some(d),
            _ => None,
        };
        drop(mode);
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        if over() || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    // Either side closed: close the other (after a reset, the last thread's drop of the
    // link closes both sockets with a RST).
    if !link.reset.load(Ordering::SeqCst) {
        let _ = to.shutdown(Shutdown::Write);
    }
    link.ended.store(true, Ordering::SeqCst);
    lock(&shared.links).retain(|l| !std::ptr::eq(Arc::as_ptr(l), link));
}

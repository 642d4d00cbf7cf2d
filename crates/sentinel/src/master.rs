//! [`SentinelClient`]: the master of a service, followed through failovers.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use slotline_conn::{Addr, Client, Execute, PubSub, Request, Resolver, Response, RetryPolicy};
use tokio::sync::watch;

use crate::logic::{parse_switch, refused_by_demoted_master};
use crate::{Result, Sentinel};

/// Requests to leave a node after `READONLY` closer than this are one request.
const KICK_COALESCE: Duration = Duration::from_millis(250);
/// The longest wait for the client to leave a node that answered `READONLY`.
const LEAVE_WAIT: Duration = Duration::from_millis(200);
/// Delays between attempts to subscribe to a sentinel that is down.
const SUBSCRIBE_MIN: Duration = Duration::from_millis(100);
const SUBSCRIBE_MAX: Duration = Duration::from_secs(5);

/// A client of the master of a service, that follows failovers by itself.
///
/// It is a shared [`slotline_conn::Client`] (one connection, implicit pipelining, cheap to
/// clone) whose address is asked of the sentinels before every (re)connect, so a
/// connection loss ends on whichever node is master by then. Besides:
/// - background tasks listen to `+switch-master` on every known sentinel (subscribing
///   again, with backoff, to one that died, and re-resolving then in case a switch was
///   missed) and, on a switch of this service, move the client to the new master at once,
///   before any I/O error could tell it; the sentinel that announced it is asked first
///   from then on. The tasks end with the last clone.
/// - a command answered `READONLY` (it reached a demoted master, and did not run) makes
///   the client re-resolve, and is sent again, within the retry budget.
/// - a command that may have run when a connection broke is reported
///   ([`may_have_run`](slotline_conn::Error::may_have_run)), never sent twice (unless it
///   is marked [`idempotent`](slotline_conn::Cmd::idempotent)); one that was never sent
///   waits for the new master, within its response timeout.
///
/// It implements [`Execute`], hence [`Query`](slotline_conn::Query) and
/// [`Commands`](slotline_conn::Commands).
#[derive(Debug, Clone)]
pub struct SentinelClient {
    shared: Arc<MasterState>,
}

#[derive(Debug)]
struct MasterState {
    client: Client,
    service: String,
    /// The resend budget of one request.
    retry: RetryPolicy,
    /// The last node the client was told to leave after a `READONLY`, and when.
    last_leave: Mutex<Option<(Addr, Instant)>>,
    /// Dropped with the last clone: ends the `+switch-master` tasks.
    _stop: watch::Sender<()>,
}

impl SentinelClient {
    pub(crate) async fn connect(sentinel: Sentinel, service: &str) -> Result<Self> {
        // Discovery first, for its precise error; the resolver hands its answer to the
        // client's first connection and asks the sentinels for every later one.
        let master = sentinel.master_addr(service).await?;
        let first = Arc::new(Mutex::new(Some(sentinel.config().data_conn(master))));
        let resolver: Resolver = {
            let sentinel = sentinel.clone();
            let service = service.to_string();
            Arc::new(move || {
                let first = first.lock().unwrap_or_else(|p| p.into_inner()).take();
                let sentinel = sentinel.clone();
                let service = service.clone();
                Box::pin(async move {
                    if let Some(config) = first {
                        return Ok(config);
                    }
                    let addr = sentinel.master_addr(&service).await?;
                    Ok(sentinel.config().data_conn(addr))
                })
            })
        };
        // This layer resends (see `execute`); the client underneath does not.
        let options = sentinel.config().client_options.clone().with_retries(0);
        let client = Client::connect_resolved(resolver, options).await?;
        let (stop, stopped) = watch::channel(());
        let shared = Arc::new(MasterState {
            client,
            service: service.to_string(),
            retry: sentinel.config().retry,
            last_leave: Mutex::new(None),
            _stop: stop,
        });
        tokio::spawn(follow_switches(
            Arc::downgrade(&shared),
            sentinel,
            service.to_string(),
            stopped,
        ));
        Ok(SentinelClient { shared })
    }

    /// The shared client underneath (its address changes with failovers).
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.shared.service
    }

    /// The address of the master the client is connected to (or was last).
    pub fn addr(&self) -> Addr {
        self.shared.client.addr()
    }

    /// Whether the client has a connection right now.
    pub fn is_connected(&self) -> bool {
        self.shared.client.is_connected()
    }

    /// Drops the connection and asks the sentinels for the master again, now.
    pub fn reconnect(&self) {
        self.shared.client.reconnect();
    }

    /// The settings of a connection to the current master (for a subscriber).
    pub(crate) fn master_config(&self) -> slotline_conn::ConnectionConfig {
        self.shared.client.config().for_addr(self.addr())
    }

    /// A subscriber on the current master. It is a plain [`PubSub`]: after a failover,
    /// [`PubSub::reconnect`] is on the old master; open a new one from here and
    /// [`resubscribe`](PubSub::resubscribe) it.
    pub async fn pubsub(&self) -> slotline_conn::Result<PubSub> {
        PubSub::connect(self.master_config()).await
    }

    /// The client got `READONLY` from `from`: unless it moved on already (or was just told
    /// to), make it re-resolve; then wait (briefly) until it left `from`.
    async fn leave(&self, from: &Addr) {
        let client = &self.shared.client;
        {
            let mut last = self
                .shared
                .last_leave
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let recent =
                matches!(&*last, Some((a, at)) if a == from && at.elapsed() < KICK_COALESCE);
            if client.addr() == *from && !recent {
                *last = Some((from.clone(), Instant::now()));
                client.reconnect();
            }
        }
        let deadline = Instant::now() + LEAVE_WAIT;
        while client.addr() == *from && client.is_connected() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl MasterState {
    /// A sentinel announced `new` as the master: move there unless already there.
    fn switch_to(&self, new: &Addr) {
        if self.client.addr() == *new && self.client.is_connected() {
            return;
        }
        self.client.reconnect();
    }
}

impl Execute for SentinelClient {
    /// Sends the request to the master. A `READONLY` refusal (the node was demoted: nothing
    /// ran) moves the client to the master the sentinels name and sends it again; so does
    /// a connection loss, when the request never left or is idempotent (the client
    /// reconnects to whichever node is master by then). Both within the one
    /// [`RetryPolicy`](slotline_conn::RetryPolicy) of
    /// [`SentinelConfig::retry`](crate::SentinelConfig::retry); the client underneath never
    /// resends on its own.
    async fn execute(&self, request: Request<'_>) -> slotline_conn::Result<Response> {
        let idempotent = request.is_idempotent();
        let mut resends = 0;
        loop {
            let from = self.shared.client.addr();
            let result = self.shared.client.execute(request.duplicate()).await;
            let demoted = refused_by_demoted_master(&request, &result);
            let again = demoted || result.as_ref().is_err_and(|e| e.may_resend(idempotent));
            if !again || resends >= self.shared.retry.max_retries {
                return result;
            }
            resends += 1;
            if demoted {
                self.leave(&from).await;
            }
        }
    }
}

/// How often the list of sentinels is looked at for sentinels learned since.
const LEARN_EVERY: Duration = Duration::from_secs(1);

/// Listens to `+switch-master` on every known sentinel (one task each; sentinels learned
/// later get theirs), until the last client handle is dropped (`stop`'s sender).
///
/// Every sentinel, not just one: the sentinel that leads a failover announces the switch
/// first, the others only once they learned the new configuration from it (about a second
/// later here), and by then the sentinels may have demoted the old master under the client.
async fn follow_switches(
    shared: Weak<MasterState>,
    sentinel: Sentinel,
    service: String,
    mut stop: watch::Receiver<()>,
) {
    let mut watched: Vec<Addr> = Vec::new();
    loop {
        for addr in sentinel.inner().list.snapshot() {
            if !watched.contains(&addr) {
                watched.push(addr.clone());
                tokio::spawn(follow_one(
                    addr,
                    shared.clone(),
                    sentinel.clone(),
                    service.clone(),
                    stop.clone(),
                ));
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(LEARN_EVERY) => {}
        }
    }
}

/// What the subscription loop saw.
enum Event {
    Stop,
    Message(slotline_conn::Result<Option<slotline_conn::Message>>),
}

/// Listens to `+switch-master` on the sentinel at `addr`, subscribing again (with capped
/// backoff) whenever its connection is lost, until `stop` fires.
async fn follow_one(
    addr: Addr,
    shared: Weak<MasterState>,
    sentinel: Sentinel,
    service: String,
    mut stop: watch::Receiver<()>,
) {
    let ping_every = sentinel.config().subscription_ping;
    let mut delay = SUBSCRIBE_MIN;
    let mut lost = false;
    loop {
        let subscribed = tokio::select! {
            _ = stop.changed() => return,
            s = subscribe(&sentinel, &addr) => s,
        };
        let Some(mut ps) = subscribed else {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(SUBSCRIBE_MAX);
            lost = true;
            continue;
        };
        delay = SUBSCRIBE_MIN;
        if lost {
            // A switch may have happened while this subscription was down.
            tokio::select! {
                _ = stop.changed() => return,
                _ = catch_up(&shared, &sentinel, &service) => {}
            }
        }
        loop {
            let event = tokio::select! {
                _ = stop.changed() => Event::Stop,
                m = ps.next_message_timeout(ping_every) => Event::Message(m),
            };
            match event {
                Event::Stop => return,
                Event::Message(Ok(Some(msg))) => {
                    let Some(switch) = parse_switch(&msg.payload) else {
                        continue;
                    };
                    if switch.service != service {
                        continue;
                    }
                    // This sentinel knows the new configuration: ask it first from now on.
                    sentinel.inner().list.promote(&addr);
                    match shared.upgrade() {
                        Some(s) => s.switch_to(&switch.new),
                        None => return,
                    }
                }
                Event::Message(Ok(None)) => {
                    // Quiet: make sure the sentinel is still there (one that froze sends
                    // no reset).
                    let alive = tokio::select! {
                        _ = stop.changed() => return,
                        r = ps.ping() => r.is_ok(),
                    };
                    if !alive {
                        break;
                    }
                }
                Event::Message(Err(_)) => break,
            }
        }
        lost = true;
    }
}

/// Subscribes to `+switch-master` on the sentinel at `addr`.
async fn subscribe(sentinel: &Sentinel, addr: &Addr) -> Option<PubSub> {
    let ps = PubSub::connect(sentinel.config().sentinel_conn(addr.clone()))
        .await
        .ok()?;
    ps.subscribe("+switch-master").await.ok()?;
    Some(ps)
}

/// Re-resolves the master and moves the client if it is elsewhere.
async fn catch_up(shared: &Weak<MasterState>, sentinel: &Sentinel, service: &str) {
    let Ok(master) = sentinel.master_addr(service).await else {
        return;
    };
    if let Some(s) = shared.upgrade() {
        if s.client.addr() != master {
            s.client.reconnect();
        }
    }
}

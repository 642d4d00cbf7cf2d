//! [`SentinelClient`]: the master of a service, followed through failovers.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use slotline_command::Resends;
use slotline_conn::{
    Addr, Client, Error, Execute, Fate, PubSub, Query, Request, Resolver, Response, RetryPolicy,
};
use tokio::sync::watch;

use crate::failover::{self, Action, Checked, Failover, News};
use crate::logic::{parse_role, refused_by_demoted_master, Role};
use crate::{Result, Sentinel};

/// Requests to leave a node after `READONLY` closer than this are one request.
const KICK_COALESCE: Duration = Duration::from_millis(250);
/// The longest wait for the client to leave a node that answered `READONLY`.
const DEMOTED_WAIT: Duration = Duration::from_millis(200);
/// Delays between attempts to subscribe to a sentinel that is down.
const SUBSCRIBE_MIN: Duration = Duration::from_millis(100);
const SUBSCRIBE_MAX: Duration = Duration::from_secs(5);
/// How often a move to another node looks whether the client is there yet.
const MOVE_POLL: Duration = Duration::from_millis(1);
/// The longest wait for a move to a new master when the client has no response timeout.
const MOVE_WAIT: Duration = Duration::from_secs(5);

/// A client of the master of a service, that follows failovers by itself.
///
/// It is a shared [`slotline_conn::Client`] (one connection, implicit pipelining, cheap to
/// clone) whose address is asked of the sentinels before every (re)connect, so a
/// connection loss ends on whichever node is master by then. Besides:
/// - background tasks follow the failovers of the service on every known sentinel as
///   they happen (subscribing again, with backoff, to one that died, and re-resolving
///   then in case a switch was missed). From the first step of a failover
///   (`+try-failover`) the client holds its writes (every request the command table does
///   not mark read-only: writes, scripts, transactions) instead of sending them to the
///   old master, whose last writes the new one would never see; reads go on. Once the new
///   master is known (`+promoted-slave`, or `+switch-master`) the client moves there,
///   after the requests in flight on the old one are answered, and the held writes go
///   there; a failover given up (`-failover-abort-*`) lets them go where they were. A
///   write waits no longer than its response timeout (then it fails as not sent). The
///   sentinel that announced a switch is asked first from then on. The tasks end with the
///   last clone.
/// - a command answered `READONLY` (it reached a demoted master, and did not run) makes
///   the client re-resolve, and is sent again, within its response timeout.
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
    /// The resend policy (backoff; the count for requests that may have run).
    retry: RetryPolicy,
    /// The last node the client was told to leave after a `READONLY`, and when.
    last_leave: Mutex<Option<(Addr, Instant)>>,
    /// The service's failover as the sentinels announce it (shared with the resolver).
    failover: Arc<Mutex<Failover>>,
    /// Whether writes are held (a failover under way).
    writes_held: watch::Sender<bool>,
    /// Dropped with the last clone: ends the tasks that follow failovers.
    _stop: watch::Sender<()>,
}

impl SentinelClient {
    pub(crate) async fn connect(sentinel: Sentinel, service: &str) -> Result<Self> {
        // Discovery first, for its precise error; the resolver hands its answer to the
        // client's first connection and asks the sentinels for every later one.
        let master = sentinel.master_addr(service).await?;
        let first = Arc::new(Mutex::new(Some(sentinel.config().data_conn(master))));
        let failover = Arc::new(Mutex::new(Failover::default()));
        let resolver: Resolver = {
            let sentinel = sentinel.clone();
            let service = service.to_string();
            let failover = failover.clone();
            Arc::new(move || {
                let first = first.lock().unwrap_or_else(|p| p.into_inner()).take();
                let moving_to = lock(&failover).moving_to().cloned();
                let sentinel = sentinel.clone();
                let service = service.clone();
                Box::pin(async move {
                    if let Some(config) = first {
                        return Ok(config);
                    }
                    // The node just promoted, before the sentinels name it (at the switch,
                    // about a second later): once it says it is a master.
                    if let Some(to) = moving_to {
                        let role = crate::drive::role(sentinel.inner(), to.clone()).await;
                        if role.ok().and_then(|r| parse_role(&r)) == Some(Role::Master) {
                            return Ok(sentinel.config().data_conn(to));
                        }
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
            failover,
            writes_held: watch::Sender::new(false),
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

    /// The metrics of the client underneath (see
    /// [`Metrics`](slotline_conn::metrics::Metrics)), under the master's address now, with
    /// the failovers it followed (its moves to another master).
    pub fn metrics(&self) -> slotline_conn::metrics::ClientMetrics {
        let client = &self.shared.client;
        let metrics = client.metrics();
        let mut m = slotline_conn::metrics::ClientMetrics::default();
        m.failovers = metrics.moves;
        m.nodes.push((client.addr(), metrics));
        m
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

    /// A subscriber on the shared client's own connection (RESP3 only, see
    /// [`slotline_conn::Subscriber`]): it follows failovers with the client, its
    /// subscriptions made again on each new master.
    pub fn subscriber(&self) -> slotline_conn::Result<slotline_conn::Subscriber> {
        self.shared.client.subscriber()
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
                // The other requests in flight there are answered `READONLY` too, and sent
                // again: they need not fail as cut off.
                client.reconnect_gracefully();
            }
        }
        connected_elsewhere(client, from, DEMOTED_WAIT).await;
    }
}

impl MasterState {
    /// The sentinel at `by` announced `news` of this service's failover.
    fn hear(self: &Arc<Self>, news: News, by: &Addr) {
        let current = self.client.addr();
        crate::trace::event!(DEBUG, service = %self.service, sentinel = %by, news = ?news, "a sentinel announced a failover step");
        self.follow(|f| f.hear(news, by, &current, Instant::now()));
    }

    /// Steps the failover follower with `step` and does what it answers; writes are held
    /// exactly while it says so.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    fn follow(self: &Arc<Self>, step: impl FnOnce(&mut Failover) -> Action) {
        let action = {
            let mut failover = lock(&self.failover);
            let action = step(&mut failover);
            // Under the lock: two steps taken at once publish in the order they were taken.
            let held = failover.holds_writes();
            if self
                .writes_held
                .send_if_modified(|was| std::mem::replace(was, held) != held)
            {
                crate::trace::event!(INFO, service = %self.service, held, "writes held while a failover is under way: {held}");
            }
            action
        };
        if let Action::MoveTo(to) = &action {
            let from = self.client.addr();
            crate::trace::event!(INFO, service = %self.service, from = %from, to = %to, "failover followed: moving to the new master");
            self.client.reconnect_gracefully();
            tokio::spawn(await_arrival(Arc::downgrade(self), from));
        }
    }

    /// Waits, within `deadline`, while writes are held; an error (nothing was sent) if
    /// they still are then.
    async fn writes_go(
        &self,
        deadline: Option<Instant>,
        timeout: Option<Duration>,
    ) -> slotline_conn::Result<()> {
        let mut held = self.writes_held.subscribe();
        let released = held.wait_for(|held| !*held);
        let outcome = match deadline {
            Some(at) => tokio::time::timeout_at(at.into(), released).await.ok(),
            None => Some(released.await),
        };
        match outcome {
            Some(Ok(_)) => Ok(()),
            Some(Err(_)) => Err(Error::closed(false)),
            None => Err(Error::timeout_after(
                timeout.unwrap_or_default(),
                "the failover to end (the write was held, not sent)",
                false,
            )),
        }
    }

    /// Asks the sentinel that announced a failover gone quiet whether it is still under
    /// way, and does what the answer means.
    async fn check(self: &Arc<Self>, sentinel: &Sentinel, by: Addr) {
        let ask = async {
            let con =
                slotline_conn::Connection::connect(sentinel.config().sentinel_conn(by)).await?;
            con.send_command(
                &slotline_conn::cmd("SENTINEL")
                    .arg("MASTER")
                    .arg(&self.service),
            )
            .await
        };
        let found = match ask.await {
            Ok(reply) => failover::read_master_state(&reply),
            Err(_) => Checked::Unanswered,
        };
        let current = self.client.addr();
        self.follow(|f| f.checked(found, &current, Instant::now()));
    }
}

/// The failover state, locked (a panic elsewhere leaves it usable).
fn lock(failover: &Mutex<Failover>) -> std::sync::MutexGuard<'_, Failover> {
    failover.lock().unwrap_or_else(|p| p.into_inner())
}

/// After a move to a new master was asked for (from `from`): once the client has a
/// connection elsewhere (or the wait ran out), the held writes go.
async fn await_arrival(shared: Weak<MasterState>, from: Addr) {
    let Some(client) = shared.upgrade().map(|s| s.client.clone()) else {
        return;
    };
    let wait = client.config().response_timeout.unwrap_or(MOVE_WAIT);
    connected_elsewhere(&client, &from, wait).await;
    drop(client);
    if let Some(s) = shared.upgrade() {
        s.follow(Failover::arrived);
    }
}

/// Waits (at most `bound`) until `client` is connected to another node than `from`.
async fn connected_elsewhere(client: &Client, from: &Addr, bound: Duration) {
    let deadline = Instant::now() + bound;
    while !(client.is_connected() && client.addr() != *from) && Instant::now() < deadline {
        tokio::time::sleep(MOVE_POLL).await;
    }
}

impl Execute for SentinelClient {
    /// Sends the request to the master; while a failover is under way, a write waits for
    /// the new master first (see [`SentinelClient`]). A `READONLY` refusal (the node was
    /// demoted: nothing ran) moves the client to the master the sentinels name and sends
    /// it again; so does a connection loss, when the request never left or is idempotent
    /// (the client reconnects to whichever node is master by then). A request that did
    /// not run is sent again until its response timeout; one that may have run, within
    /// the count of [`SentinelConfig::retry`](crate::SentinelConfig::retry) (see
    /// [`Resends`]). The client underneath never resends on its own.
    async fn execute(&self, request: Request<'_>) -> slotline_conn::Result<Response> {
        let shared = &self.shared;
        let timeout = request.response_timeout(
            shared.client.config().response_timeout,
            shared.client.config().durability,
        );
        let deadline = timeout.map(|t| Instant::now() + t);
        let idempotent = request.is_idempotent();
        let mut resends = Resends::new();
        loop {
            if *shared.writes_held.borrow() && !request.is_readonly() {
                shared.writes_go(deadline, timeout).await?;
            }
            let from = shared.client.addr();
            let result = shared
                .client
                .execute_by(request.duplicate(), deadline)
                .await;
            let demoted = refused_by_demoted_master(&request, &result);
            let again = demoted || result.as_ref().is_err_and(|e| e.may_resend(idempotent));
            if !again {
                return result;
            }
            let fate = match &result {
                Err(e) if !demoted => e.fate(),
                _ => Fate::RefusedBeforeRunning,
            };
            let Some(delay) = resends.next(&shared.retry, fate, deadline, Instant::now()) else {
                return result;
            };
            if demoted {
                self.leave(&from).await;
            } else {
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// How often the list of sentinels is looked at for sentinels learned since.
const LEARN_EVERY: Duration = Duration::from_secs(1);

/// Follows the service's failovers on every known sentinel (one task each; sentinels
/// learned later get theirs), and checks a failover gone quiet, until the last client
/// handle is dropped (`stop`'s sender).
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
        let due = shared.upgrade().and_then(|s| {
            let by = lock(&s.failover).check_due(Instant::now())?;
            Some((s, by))
        });
        if let Some((s, by)) = due {
            tokio::select! {
                _ = stop.changed() => return,
                _ = s.check(&sentinel, by) => {}
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

/// Listens to the failover announcements on the sentinel at `addr`, subscribing again
/// (with capped backoff) whenever its connection is lost, until `stop` fires.
async fn follow_one(
    addr: Addr,
    shared: Weak<MasterState>,
    sentinel: Sentinel,
    service: String,
    mut stop: watch::Receiver<()>,
) {
    let ping_every = sentinel.config().subscription_ping;
    // The one jittered backoff: sentinels lost by many clients are not asked in step.
    let backoff = RetryPolicy {
        backoff_min: SUBSCRIBE_MIN,
        backoff_max: SUBSCRIBE_MAX,
        ..RetryPolicy::default()
    };
    let mut failures = 0;
    let mut lost = false;
    loop {
        let subscribed = tokio::select! {
            _ = stop.changed() => return,
            s = subscribe(&sentinel, &addr) => s,
        };
        let Some(mut ps) = subscribed else {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(backoff.delay(failures)) => {}
            }
            failures += 1;
            lost = true;
            continue;
        };
        failures = 0;
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
                    let Some((of, news)) = failover::parse_news(&msg.channel, &msg.payload) else {
                        continue;
                    };
                    if of != service {
                        continue;
                    }
                    if &msg.channel[..] == b"+switch-master" {
                        // This sentinel knows the new configuration: ask it first from now on.
                        sentinel.inner().list.promote(&addr);
                    }
                    match shared.upgrade() {
                        Some(s) => s.hear(news, &addr),
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

/// Subscribes to the failover announcements on the sentinel at `addr`.
async fn subscribe(sentinel: &Sentinel, addr: &Addr) -> Option<PubSub> {
    let ps = PubSub::connect(sentinel.config().sentinel_conn(addr.clone()))
        .await
        .ok()?;
    ps.subscribe(failover::CHANNELS).await.ok()?;
    ps.psubscribe(failover::ABORTS).await.ok()?;
    Some(ps)
}

/// Re-resolves the master and moves the client if it is elsewhere.
async fn catch_up(shared: &Weak<MasterState>, sentinel: &Sentinel, service: &str) {
    let Ok(master) = sentinel.master_addr(service).await else {
        return;
    };
    if let Some(s) = shared.upgrade() {
        let current = s.client.addr();
        s.follow(|f| f.resolved(master, &current));
    }
}

//! [`ClusterPubSub`]: pub/sub over a cluster. Classic channels and patterns on one node
//! (the cluster bus carries `PUBLISH` everywhere); shard channels (`SSUBSCRIBE`) on the
//! master serving their slot, subscribed again wherever the slot goes.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use slotline_conn::{
    cmd, Addr, Cmd, Connection, Error, Message, MessageKind, Protocol, PubSub, Query, RefusedKind,
    Result, RetryPolicy, Subscriber, Subscriptions, ToArgs, UnavailableKind,
};
use tokio::sync::{mpsc, oneshot};

use crate::client::ClusterClient;
use crate::dispatch::{Batches, Dispatch, Place};
use crate::drive::{run, Carrier};
use crate::registry::{lock, Node};
use crate::retry::Outcome;
use crate::slot::slot;
use crate::state::ClusterState;

/// Which kind of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Channel,
    Pattern,
    Shard,
}

#[derive(Debug)]
struct Control {
    subscribe: bool,
    family: Family,
    names: Vec<Bytes>,
    done: oneshot::Sender<Result<()>>,
}

/// A subscriber to a whole cluster, async.
///
/// Over RESP3 (`protocol=3`) its subscriptions ride the nodes' shared clients (a
/// [`Subscriber`] on each node in use; no connection of its own); over RESP2 it opens one
/// pub/sub connection per node in use. Either way:
///
/// - [`subscribe`](Self::subscribe) / [`psubscribe`](Self::psubscribe): on one node (any:
///   Redis Cluster forwards `PUBLISH` to every node); moved to another node if that one
///   is lost.
/// - [`ssubscribe`](Self::ssubscribe): each shard channel on the master serving its slot.
///   When the slot moves (the server ends the subscription with an unsolicited
///   `sunsubscribe`) or the node is lost, the channel is subscribed again on the node
///   that serves the slot now, by itself. Messages published in between are lost, as with
///   any pub/sub reconnection.
///
/// Messages of every connection arrive in one queue: [`next_message`](Self::next_message).
///
/// ```no_run
/// # async fn demo(cl: &slotline_cluster::ClusterClient) -> slotline_conn::Result<()> {
/// let mut sub = cl.pubsub().await?;
/// sub.ssubscribe(["orders:{eu}", "orders:{us}"]).await?;
/// while let Some(msg) = sub.next_message().await {
///     let msg = msg?;
///     println!("{:?}: {}", msg.channel_str(), msg.payload::<String>()?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClusterPubSub {
    control: mpsc::Sender<Control>,
    messages: mpsc::Receiver<Result<Message>>,
    wanted: Arc<Mutex<Subscriptions>>,
    timeout: Option<Duration>,
}

impl ClusterPubSub {
    pub(crate) async fn new(client: ClusterClient) -> Result<ClusterPubSub> {
        let (control, control_rx) = mpsc::channel(64);
        let (tx, messages) = mpsc::channel(slotline_conn::DEFAULT_QUEUE_CAPACITY);
        let wanted = Arc::new(Mutex::new(Subscriptions::default()));
        let timeout = client.config().connection.response_timeout;
        let task = Supervisor {
            client,
            conns: HashMap::new(),
            classic: None,
            placed: HashMap::new(),
            homeless: BTreeSet::new(),
            classic_lost: false,
            wanted: wanted.clone(),
            out: tx,
        };
        tokio::spawn(task.run(control_rx));
        Ok(ClusterPubSub {
            control,
            messages,
            wanted,
            timeout,
        })
    }

    async fn request(&self, subscribe: bool, family: Family, names: impl ToArgs) -> Result<()> {
        let mut c = Cmd::new();
        c.push_arg(names);
        let names: Vec<Bytes> = c.args().map(Bytes::copy_from_slice).collect();
        if subscribe && names.is_empty() {
            return Err(Error::refused(
                RefusedKind::Invalid,
                "subscribe to what? no name given",
            ));
        }
        let (done, answer) = oneshot::channel();
        self.control
            .send(Control {
                subscribe,
                family,
                names,
                done,
            })
            .await
            .map_err(|_| Error::closed(false))?;
        let wait = async { answer.await.unwrap_or(Err(Error::closed(true))) };
        match self.timeout {
            // Several nodes may be involved, each within its own timeout.
            Some(t) => {
                tokio::time::timeout(t * 3, wait)
                    .await
                    .unwrap_or(Err(Error::timeout_after(
                        t * 3,
                        "cluster pub/sub confirmation",
                        true,
                    )))
            }
            None => wait.await,
        }
    }

    /// Subscribes to channels (`SUBSCRIBE`).
    pub async fn subscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.request(true, Family::Channel, channels).await
    }

    /// Subscribes to patterns (`PSUBSCRIBE`).
    pub async fn psubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        self.request(true, Family::Pattern, patterns).await
    }

    /// Subscribes to shard channels (`SSUBSCRIBE`), each on the master serving its slot.
    pub async fn ssubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.request(true, Family::Shard, channels).await
    }

    /// Unsubscribes from channels (all when given none).
    pub async fn unsubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.request(false, Family::Channel, channels).await
    }

    /// Unsubscribes from patterns (all when given none).
    pub async fn punsubscribe(&self, patterns: impl ToArgs) -> Result<()> {
        self.request(false, Family::Pattern, patterns).await
    }

    /// Unsubscribes from shard channels (all when given none).
    pub async fn sunsubscribe(&self, channels: impl ToArgs) -> Result<()> {
        self.request(false, Family::Shard, channels).await
    }

    /// The next message (`None` once the subscriber's task has ended). Slot moves and lost
    /// nodes are handled inside: only messages come out.
    pub async fn next_message(&mut self) -> Option<Result<Message>> {
        self.messages.recv().await
    }

    /// The next message within `timeout`: `Ok(None)` when none came in time.
    pub async fn next_message_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
        match tokio::time::timeout(timeout, self.messages.recv()).await {
            Err(_) => Ok(None),
            Ok(Some(m)) => m.map(Some),
            Ok(None) => Err(Error::closed(false)),
        }
    }

    /// What this subscriber is subscribed to (as asked; shard channels being moved to a
    /// new node included).
    pub fn subscriptions(&self) -> Subscriptions {
        lock(&self.wanted).clone()
    }
}

/// Which pub/sub connection: to a node, and whether it was opened with `ASKING` for
/// channels of a slot being imported there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ConnKey {
    addr: Addr,
    asked: bool,
}

impl ConnKey {
    fn plain(addr: &Addr) -> Self {
        ConnKey {
            addr: addr.clone(),
            asked: false,
        }
    }
}

impl futures_core::Stream for ClusterPubSub {
    type Item = Result<Message>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Message>>> {
        self.get_mut().messages.poll_recv(cx)
    }
}

/// How the subscriptions on one node travel.
#[derive(Debug)]
enum Link {
    /// A pub/sub connection of its own (RESP2, or a slot being imported: `ASKING`).
    Own(Box<PubSub>),
    /// The node's shared client (RESP3).
    Shared(Subscriber),
}

/// Calls the method of that name on either kind of link.
macro_rules! on_link {
    ($link:expr, $method:ident($($arg:expr),*)) => {
        match $link {
            Link::Own(p) => p.$method($($arg),*).await,
            Link::Shared(s) => s.$method($($arg),*).await,
        }
    };
}

impl Link {
    async fn subscribe(&self, family: Family, names: Vec<Bytes>) -> Result<()> {
        match family {
            Family::Channel => on_link!(self, subscribe(names)),
            Family::Pattern => on_link!(self, psubscribe(names)),
            Family::Shard => on_link!(self, ssubscribe(names)),
        }
    }

    async fn unsubscribe(&self, family: Family, names: Vec<Bytes>) -> Result<()> {
        match family {
            Family::Channel => on_link!(self, unsubscribe(names)),
            Family::Pattern => on_link!(self, punsubscribe(names)),
            Family::Shard => on_link!(self, sunsubscribe(names)),
        }
    }

    /// The next message; an error or the end when the node's connection was lost.
    async fn next_message(&mut self) -> Option<Result<Message>> {
        on_link!(self, next_message())
    }
}

/// The task behind a [`ClusterPubSub`]: owns one link per node in use.
struct Supervisor {
    client: ClusterClient,
    conns: HashMap<ConnKey, Link>,
    /// The node holding the classic channels and patterns.
    classic: Option<Addr>,
    /// Where each shard channel is subscribed.
    placed: HashMap<Bytes, ConnKey>,
    /// Shard channels to subscribe again (their slot moved, or their node was lost).
    homeless: BTreeSet<Bytes>,
    /// The classic subscriptions' node was lost.
    classic_lost: bool,
    wanted: Arc<Mutex<Subscriptions>>,
    out: mpsc::Sender<Result<Message>>,
}

enum Wake {
    Control(Option<Control>),
    Message(ConnKey, Option<Result<Message>>),
    Retry,
}

impl Supervisor {
    async fn run(mut self, mut control: mpsc::Receiver<Control>) {
        // The one jittered backoff between attempts to place what lost its node.
        let backoff = RetryPolicy {
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let mut failures = 0;
        loop {
            let pending_work = !self.homeless.is_empty() || self.classic_lost;
            let wake = {
                let conns = &mut self.conns;
                let next = std::future::poll_fn(|cx| {
                    for (key, ps) in conns.iter_mut() {
                        let fut = pin!(ps.next_message());
                        if let Poll::Ready(m) = fut.poll(cx) {
                            return Poll::Ready((key.clone(), m));
                        }
                    }
                    Poll::Pending
                });
                tokio::select! {
                    c = control.recv() => Wake::Control(c),
                    (key, m) = next => Wake::Message(key, m),
                    _ = tokio::time::sleep(backoff.delay(failures)), if pending_work => Wake::Retry,
                }
            };
            match wake {
                Wake::Control(None) => return,
                Wake::Control(Some(c)) => {
                    let result = self.apply(&c).await;
                    let _ = c.done.send(result);
                }
                Wake::Message(_, Some(Ok(m))) if m.kind == MessageKind::ShardUnsubscribed => {
                    if lock(&self.wanted).shard_channels.contains(&m.channel) {
                        self.placed.remove(&m.channel);
                        self.homeless.insert(m.channel);
                        self.client.state().request_refresh();
                        failures = 0;
                    }
                }
                Wake::Message(_, Some(Ok(m))) => {
                    if self.out.send(Ok(m)).await.is_err() {
                        return;
                    }
                }
                Wake::Message(key, _) => {
                    // The node's connection is gone: place its subscriptions elsewhere.
                    self.conns.remove(&key);
                    let lost: Vec<Bytes> = self
                        .placed
                        .iter()
                        .filter(|(_, k)| **k == key)
                        .map(|(c, _)| c.clone())
                        .collect();
                    for c in lost {
                        self.placed.remove(&c);
                        self.homeless.insert(c);
                    }
                    if !key.asked && self.classic.as_ref() == Some(&key.addr) {
                        self.classic = None;
                        let w = lock(&self.wanted);
                        self.classic_lost = !w.channels.is_empty() || !w.patterns.is_empty();
                    }
                    self.client.state().request_refresh();
                    failures = 0;
                }
                Wake::Retry => {
                    if self.replace().await {
                        failures = 0;
                    } else {
                        failures += 1;
                    }
                }
            }
        }
    }

    /// The link `key` names, made if needed (an asked one is opened by
    /// [`subscribe_on`](Self::subscribe_on)): over RESP3 a subscriber on the node's shared
    /// client, else a pub/sub connection.
    async fn conn(&mut self, key: &ConnKey) -> Result<&Link> {
        if !self.conns.contains_key(key) {
            let link = if self.client.config().connection.protocol == Protocol::Resp3 {
                let node = self.client.state().node(&key.addr);
                Link::Shared(node.client().await?.subscriber()?)
            } else {
                let mut config = self.client.node_config(&key.addr);
                config.readonly = false;
                Link::Own(Box::new(PubSub::connect(config).await?))
            };
            self.conns.insert(key.clone(), link);
        }
        self.conns.get(key).ok_or(Error::closed(false))
    }

    /// The node for classic subscriptions: the one already used, else any master.
    fn classic_node(&self) -> Result<Addr> {
        if let Some(a) = &self.classic {
            return Ok(a.clone());
        }
        self.client
            .masters()
            .into_iter()
            .next()
            .ok_or_else(|| Error::unavailable(UnavailableKind::NoNode, "no master is known"))
    }

    async fn apply(&mut self, c: &Control) -> Result<()> {
        match (c.family, c.subscribe) {
            (Family::Shard, true) => {
                {
                    let mut w = lock(&self.wanted);
                    w.shard_channels.extend(c.names.iter().cloned());
                }
                self.place_shard(&c.names).await
            }
            (Family::Shard, false) => {
                let names: Vec<Bytes> = if c.names.is_empty() {
                    lock(&self.wanted).shard_channels.iter().cloned().collect()
                } else {
                    c.names.clone()
                };
                let mut by_node: HashMap<ConnKey, Vec<Bytes>> = HashMap::new();
                {
                    let mut w = lock(&self.wanted);
                    for n in &names {
                        w.shard_channels.remove(n);
                        self.homeless.remove(n);
                        if let Some(a) = self.placed.remove(n) {
                            by_node.entry(a).or_default().push(n.clone());
                        }
                    }
                }
                for (key, names) in by_node {
                    if let Some(link) = self.conns.get(&key) {
                        link.unsubscribe(Family::Shard, names).await?;
                    }
                }
                Ok(())
            }
            (family, true) => {
                {
                    let mut w = lock(&self.wanted);
                    let set = if family == Family::Channel {
                        &mut w.channels
                    } else {
                        &mut w.patterns
                    };
                    set.extend(c.names.iter().cloned());
                }
                let addr = self.classic_node()?;
                let link = self.conn(&ConnKey::plain(&addr)).await?;
                link.subscribe(family, c.names.clone()).await?;
                self.classic = Some(addr);
                Ok(())
            }
            (family, false) => {
                {
                    let mut w = lock(&self.wanted);
                    let set = if family == Family::Channel {
                        &mut w.channels
                    } else {
                        &mut w.patterns
                    };
                    if c.names.is_empty() {
                        set.clear();
                    } else {
                        for n in &c.names {
                            set.remove(n);
                        }
                    }
                }
                let classic = self.classic.as_ref().map(ConnKey::plain);
                if let Some(link) = classic.and_then(|k| self.conns.get(&k)) {
                    link.unsubscribe(family, c.names.clone()).await?;
                }
                Ok(())
            }
        }
    }

    /// Subscribes shard channels on the masters serving their slots, one `SSUBSCRIBE` per
    /// slot, through the client's dispatch: `MOVED` patches the map and goes to the new
    /// owner, `ASK` subscribes on the importing node (on a connection of its own, after
    /// `ASKING`), `TRYAGAIN`/`CLUSTERDOWN` and lost nodes back off, within the client's
    /// retry budget. (Redis 7 serves `SSUBSCRIBE` on the slot's source node until its
    /// migration completes, then ends the subscription there: it comes back here.)
    async fn place_shard(&mut self, names: &[Bytes]) -> Result<()> {
        let deadline = self
            .client
            .config()
            .connection
            .response_timeout
            .map(|t| std::time::Instant::now() + t);
        let mut d: Dispatch<Vec<Bytes>, ()> = Dispatch::new(self.client.config().retry, deadline);
        for n in names {
            let s = slot(n);
            let found = (0..d.len()).find(|&i| d.work(i).first().is_some_and(|f| slot(f) == s));
            match found {
                Some(i) => d.work_mut(i).push(n.clone()),
                None => {
                    d.push(vec![n.clone()], Place::MasterOf(s), false, true);
                }
            }
        }
        let client = self.client.clone();
        run(client.state(), &mut d, self).await;
        let mut first_error = None;
        for (list, result) in d.finish() {
            if let Err(e) = result {
                for n in &list {
                    self.placed.remove(n);
                    self.homeless.insert(n.clone());
                }
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `SSUBSCRIBE names` on `node` (after `ASKING`, on a connection of its own, when
    /// `asking`); the channels are placed there once it is confirmed.
    async fn subscribe_on(&mut self, node: &Addr, asking: bool, names: &[Bytes]) -> Result<()> {
        let key = ConnKey {
            addr: node.clone(),
            asked: asking,
        };
        if asking && !self.conns.contains_key(&key) {
            let mut config = self.client.node_config(node);
            config.readonly = false;
            let con = Connection::connect(config).await?;
            let () = con.query(&cmd("ASKING")).await?;
            self.conns
                .insert(key.clone(), Link::Own(Box::new(con.into_pubsub().await?)));
        }
        let link = self.conn(&key).await?;
        link.subscribe(Family::Shard, names.to_vec()).await?;
        for n in names {
            self.placed.insert(n.clone(), key.clone());
            self.homeless.remove(n);
        }
        Ok(())
    }

    /// Subscribes again what lost its node; true when everything found a place.
    async fn replace(&mut self) -> bool {
        if self.classic_lost {
            let subs = lock(&self.wanted).clone();
            let placed = async {
                let addr = self.classic_node()?;
                let link = self.conn(&ConnKey::plain(&addr)).await?;
                for (family, names) in [
                    (Family::Channel, &subs.channels),
                    (Family::Pattern, &subs.patterns),
                ] {
                    if !names.is_empty() {
                        link.subscribe(family, names.iter().cloned().collect())
                            .await?;
                    }
                }
                Ok::<Addr, Error>(addr)
            }
            .await;
            match placed {
                Ok(addr) => {
                    self.classic = Some(addr);
                    self.classic_lost = false;
                }
                Err(_) => {
                    self.classic = None;
                    self.client.state().request_refresh();
                }
            }
        }
        if !self.homeless.is_empty() {
            let names: Vec<Bytes> = self.homeless.iter().cloned().collect();
            if self.place_shard(&names).await.is_err() {
                self.client.state().request_refresh();
            }
        }
        self.homeless.is_empty() && !self.classic_lost
    }
}

impl Carrier<Vec<Bytes>, ()> for Supervisor {
    /// Each part's `SSUBSCRIBE`, one after the other, on the node the dispatch names.
    async fn carry(
        &mut self,
        state: &ClusterState,
        d: &mut Dispatch<Vec<Bytes>, ()>,
        batches: Batches<Arc<Node>>,
    ) {
        for batch in batches {
            for &i in &batch.parts {
                let names = d.work(i).clone();
                let result = self
                    .subscribe_on(&batch.node.addr, d.asking(i), &names)
                    .await;
                let redirect = d.take(i, Some(&batch.node.addr), result, |r| match r {
                    Ok(()) => Outcome::Reply(None),
                    Err(e) => match e.server_error() {
                        Some(e) => Outcome::Reply(Some(&e.line)),
                        None => Outcome::Failed(e),
                    },
                });
                state.note(redirect, &batch.node.addr);
            }
        }
    }
}

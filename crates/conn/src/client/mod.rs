//! [`Client`]: one connection shared by many tasks, with implicit pipelining and reconnect.

mod busy_links;
mod busy_poll;
mod cache;
mod dedicated;
mod driver;
mod invalidation_link;
mod options;
mod queue;
mod shared;
mod subscriber;
mod sweeper;
mod way_chooser;
mod write_policy;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use slotline_command::Resends;
use slotline_resp::Reply;

use dedicated::within;
pub use options::{ClientOptions, PushHandler, WriteWay};
use queue::Answer;
pub use shared::Resolver;
use shared::{ClientState, Link};
pub use subscriber::Subscriber;

use crate::config::{ConnectionConfig, IntoConnectionConfig};
use crate::{
    Cmd, Connection, Durability, Error, ErrorKind, Execute, Pipeline, Request, Response, Result,
};

/// A cheap-to-clone handle on one connection shared by every task that holds a clone.
///
/// Requests from many tasks that are waiting at once leave in one write (implicit
/// pipelining) and their replies are matched in order, so fifty tasks on one `Client` keep
/// the server busy with one socket. This holds on every tokio runtime: current-thread,
/// multi-thread with any number of workers (`#[tokio::main]`), and the blocking twin's
/// own; a lone caller's request still leaves at once, and one read answers every caller
/// whose reply it holds. While several replies are awaited the reader polls its socket
/// briefly before it waits on the runtime's poller
/// ([`busy_poll`](ClientOptions::busy_poll)), so a busy client's workers need not park
/// between bursts. [`io_stats`](Client::io_stats) counts the socket calls. At most
/// [`max_in_flight`](ClientOptions::max_in_flight) requests are queued or in flight; more
/// callers wait for a slot.
///
/// When the connection drops, requests already sent fail at once with an error whose
/// [`may_have_run`](Error::may_have_run) is true (they are never resent, unless marked
/// [`idempotent`](Cmd::idempotent)); requests not yet sent wait for the next connection,
/// which the client opens by itself with capped, jittered exponential backoff.
///
/// Replies are matched to callers by order alone, so a request whose effect would reach
/// into other callers' requests is refused before it is sent
/// ([`RefusedKind::OwnConnection`](crate::RefusedKind::OwnConnection)): a `MULTI` or
/// `EXEC` alone, a `WATCH` left set, `SELECT`, `QUIT`, `RESET`, `HELLO`, a raw `SUBSCRIBE`
/// and its kin, `MONITOR`, `CLIENT REPLY OFF`. A transaction within one request goes
/// ([`Query::transaction`](crate::Query::transaction)); a conversation across requests
/// takes [`dedicated`](Client::dedicated). Over RESP3, subscriptions ride this connection
/// through a [`Subscriber`] ([`subscribe`](Client::subscribe)), whose confirmations the
/// client matches itself.
///
/// ```no_run
/// # async fn demo() -> slotline_conn::Result<()> {
/// use slotline_conn::{Client, Commands};
/// let client = Client::connect("redis://127.0.0.1:6379/0").await?;
/// let mut tasks = Vec::new();
/// for i in 0..50 {
///     let c = client.clone();
///     tasks.push(tokio::spawn(async move { c.incr(format!("counter:{}", i % 5)).await }));
/// }
/// for t in tasks {
///     t.await.expect("task")?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    handle: Arc<Handle>,
}

/// Shuts the driver down when the last clone of a `Client` is dropped.
#[derive(Debug)]
struct Handle {
    shared: Arc<ClientState>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.link_up.notify_waiters();
        self.shared.writer_wake.notify_one();
        self.shared.sweep_wake.notify_one();
    }
}

impl Client {
    /// Connects (failing now if the first connection or its handshake fails: wrong
    /// address, wrong password) and starts the driver task on the current tokio runtime.
    pub async fn connect(config: impl IntoConnectionConfig) -> Result<Self> {
        Client::connect_with(config, ClientOptions::default()).await
    }

    /// [`connect`](Client::connect) with options.
    pub async fn connect_with(
        config: impl IntoConnectionConfig,
        options: ClientOptions,
    ) -> Result<Self> {
        let config = config.into_connection_config()?;
        let first = Connection::connect(&config).await?;
        Client::start_with(config, None, options, Some(first)).await
    }

    /// A client that connects in the background: it returns at once, and requests wait
    /// for the connection (or fail fast, per `options`). For nodes that may be down now and
    /// come back later (replicas, cluster nodes). Must be called within a tokio runtime.
    pub fn connect_lazy(config: impl IntoConnectionConfig, options: ClientOptions) -> Result<Self> {
        let config = config.into_connection_config()?;
        config.validate()?;
        Ok(Client::spawn(Client::state(config, None, options, None)))
    }

    /// A client whose address is asked of `resolve` before every connection attempt (the
    /// first one now): it follows a master that moves, e.g. after a sentinel failover.
    /// [`reconnect`](Client::reconnect) makes it ask again at once.
    pub async fn connect_resolved(resolve: Resolver, options: ClientOptions) -> Result<Self> {
        let config = resolve().await?;
        let first = Connection::connect(&config).await?;
        Client::start_with(config, Some(resolve), options, Some(first)).await
    }

    /// Drops the current connection (requests in flight on it fail, as on any connection
    /// loss) and connects anew, asking the resolver for the address first.
    pub fn reconnect(&self) {
        self.handle.shared.kick.notify_one();
    }

    /// Connects anew (asking the resolver for the address first) once the requests in
    /// flight on the current connection are answered there: nothing more is written on
    /// it, requests made meanwhile wait for the next connection (unless the client fails
    /// fast while reconnecting), and none fails. For a master that is being replaced while
    /// it still answers (a graceful failover). The wait for the last replies ends when the
    /// node sends none for 250 ms (and the durability timeout, with
    /// [`durability`](crate::ConnectionConfig::durability)), or at the response timeout (a
    /// second without one); requests still in flight then fail as on
    /// [`reconnect`](Client::reconnect).
    pub fn reconnect_gracefully(&self) {
        self.handle.shared.leave.notify_one();
    }

    /// The address of the current (or last) connection.
    pub fn addr(&self) -> crate::Addr {
        self.handle.shared.current_addr()
    }

    /// Tries to connect now; if the node cannot be reached (or its handshake fails),
    /// returns a client that keeps trying in the background, as
    /// [`connect_lazy`](Client::connect_lazy) does. Only an invalid configuration is an
    /// error. For nodes to use at once when they are up, later when they are down now
    /// (replicas).
    pub(crate) async fn connect_or_lazy(
        config: ConnectionConfig,
        options: ClientOptions,
    ) -> Result<Self> {
        match Connection::connect(&config).await {
            Ok(first) => Client::start_with(config, None, options, Some(first)).await,
            Err(e) if e.kind() == ErrorKind::Config => Err(e),
            Err(_) => Ok(Client::spawn(Client::state(config, None, options, None))),
        }
    }

    /// A client around `first`, its first connection, once that connection is set up for
    /// the cache (over RESP2, tracking through the invalidation link).
    async fn start_with(
        config: ConnectionConfig,
        resolver: Option<Resolver>,
        options: ClientOptions,
        first: Option<Connection>,
    ) -> Result<Self> {
        let shared = Client::state(config, resolver, options, first);
        if let Some(conn) = &shared.1 {
            shared.0.track(&shared.0.config, conn).await?;
        }
        Ok(Client::spawn(shared))
    }

    /// The shared state of a new client, and its first connection if it has one.
    fn state(
        config: ConnectionConfig,
        resolver: Option<Resolver>,
        options: ClientOptions,
        first: Option<Connection>,
    ) -> (Arc<ClientState>, Option<Connection>) {
        let link = match first {
            Some(_) => Link::Up,
            None => Link::Down(None),
        };
        let shared = Arc::new(ClientState::new(config, resolver, options, link));
        (shared, first)
    }

    /// Starts the driver and the sweeper of a new client.
    fn spawn((shared, first): (Arc<ClientState>, Option<Connection>)) -> Self {
        tokio::spawn(driver::run(shared.clone(), first));
        tokio::spawn(sweeper::run(shared.clone()));
        Client {
            handle: Arc::new(Handle { shared }),
        }
    }

    /// The connection settings given at creation (see [`addr`](Client::addr) for where it
    /// is connected now).
    pub fn config(&self) -> &ConnectionConfig {
        &self.handle.shared.config
    }

    /// The client settings.
    pub fn options(&self) -> &ClientOptions {
        &self.handle.shared.options
    }

    /// Its socket calls so far (see [`IoStats`](crate::IoStats)).
    pub fn io_stats(&self) -> crate::IoStats {
        self.handle.shared.io.snapshot()
    }

    /// What the client-side cache did so far and holds now; `None` without a cache (see
    /// [`ConnectionConfig::cache`]).
    pub fn cache_stats(&self) -> Option<slotline_command::cache::CacheStats> {
        self.handle.shared.cache.as_ref().map(|c| c.stats())
    }

    /// Drops the client-side cache's replies for every key `stale` picks, and keeps out
    /// those of such reads in flight; returns how many keys (0 without a cache). For a
    /// layer that knows keys left this node without the server saying so, such as a
    /// cluster slot now served elsewhere.
    pub fn forget_cached(&self, stale: impl FnMut(&[u8]) -> bool) -> usize {
        self.handle
            .shared
            .cache
            .as_ref()
            .map_or(0, |c| c.invalidate_matching(stale))
    }

    /// What the client counted so far and holds now (see
    /// [`Metrics`](crate::metrics::Metrics)): requests, errors by kind, latency, bytes,
    /// reconnects, resends, in flight and queued. Always on; each call reads the counters
    /// once.
    pub fn metrics(&self) -> crate::metrics::Metrics {
        self.handle.shared.metrics()
    }

    /// Whether the client has a connection right now (false while reconnecting).
    pub fn is_connected(&self) -> bool {
        matches!(self.handle.shared.lock().link, Link::Up)
    }

    /// Opens a separate connection with the same settings, for what needs a socket of its
    /// own: `WATCH`/`MULTI`/`EXEC` conversations, `MONITOR`. (Commands the server may
    /// hold, `BLPOP` and the like, need none: the client sends them on a pooled dedicated
    /// connection by itself; see [`ClientOptions::max_dedicated`].)
    pub async fn dedicated(&self) -> Result<Connection> {
        Connection::connect(self.config().for_addr(self.addr()).without_cache()).await
    }

    /// Sends one request (resending it when the retry rule allows) and waits for its
    /// replies; `by_push`: they are subscription confirmations (see [`Subscriber`]).
    async fn request(
        &self,
        encode: &(dyn Fn(&mut BytesMut) + Sync),
        want: usize,
        (timeout, deadline): Patience,
        idempotent: bool,
        by_push: bool,
    ) -> Result<Answer> {
        let shared = &self.handle.shared;
        let mut resends = Resends::new();
        loop {
            match shared
                .submit(encode, want, (timeout, deadline), by_push)
                .await
            {
                // Counted whatever its fate: a client failing fast while it reconnects
                // answers at once, and a rule by deadline alone would spin. No delay: the
                // submit itself waits for the connection.
                Err(e)
                    if e.may_resend(idempotent)
                        && resends
                            .next(
                                &shared.options.resend_policy(),
                                e.fate(),
                                None,
                                Instant::now(),
                            )
                            .is_some() =>
                {
                    shared.metrics.resent();
                    crate::trace::event!(DEBUG, server = %self.addr(), error = %e, fate = ?e.fate(), "resending a request (it did not run, or is idempotent)");
                }
                other => return other,
            }
        }
    }
}

impl Client {
    async fn pipeline_replies(&self, pipe: &Pipeline, patience: Patience) -> Result<Vec<Reply>> {
        let want = pipe.reply_count();
        if want == 0 {
            return Ok(Vec::new());
        }
        pipe.check_shared()?;
        let idempotent = pipe.cmds().iter().all(Cmd::is_idempotent);
        if let Some(d) = pipe.durability_or(self.config().durability) {
            let encode = |out: &mut BytesMut| pipe.encode(out);
            return self
                .with_copies(&encode, want, d, patience, idempotent)
                .await;
        }
        match self
            .request(&|out| pipe.encode(out), want, patience, idempotent, false)
            .await?
        {
            Answer::One(reply) => Ok(vec![reply]),
            Answer::Many(replies) => Ok(replies),
        }
    }

    async fn command_reply(&self, cmd: &Cmd, patience: Patience) -> Result<Reply> {
        cmd.check_shared()?;
        if let Some(cache) = &self.handle.shared.cache {
            match cache.lookup(cmd) {
                // Hits are answered in `execute_by` already; one here came meanwhile.
                cache::Lookup::Hit(reply) => return Ok(reply),
                cache::Lookup::Miss { read, opt_in } => {
                    let reply = if opt_in {
                        // Tracked only when asked for just before it.
                        let mut p = Pipeline::new();
                        p.add(crate::cmd("CLIENT").arg("CACHING").arg("YES"));
                        p.add(cmd.clone());
                        let mut replies = self.pipeline_replies(&p, patience).await?;
                        replies
                            .pop()
                            .ok_or_else(|| Error::internal("a read with its opt-in had no reply"))?
                    } else {
                        self.sent_command_reply(cmd, patience).await?
                    };
                    read.store(&reply);
                    return Ok(reply);
                }
                cache::Lookup::Pass => {}
            }
        }
        self.sent_command_reply(cmd, patience).await
    }

    /// [`command_reply`](Self::command_reply) from the server.
    async fn sent_command_reply(&self, cmd: &Cmd, patience: Patience) -> Result<Reply> {
        if let Some(d) = cmd.durability_or(self.config().durability) {
            let encode = |out: &mut BytesMut| cmd.encode(out);
            let mut replies = self
                .with_copies(&encode, 1, d, patience, cmd.is_idempotent())
                .await?;
            return replies
                .pop()
                .ok_or_else(|| Error::internal("a command's answer had no reply"));
        }
        match self
            .request(
                &|out| cmd.encode(out),
                1,
                patience,
                cmd.is_idempotent(),
                false,
            )
            .await?
        {
            Answer::One(reply) => Ok(reply),
            Answer::Many(mut replies) => replies
                .pop()
                .ok_or_else(|| Error::internal("a command's answer had no reply")),
        }
    }
}

impl Client {
    /// The commands `encode` writes (`want` replies), followed by the wait for the copies
    /// `d` asks for, in one round trip: their replies once the copies were acknowledged
    /// (or when nothing ran, see [`Durability::check`]), else [`ErrorKind::NotDurable`](crate::ErrorKind::NotDurable).
    async fn with_copies(
        &self,
        encode: &(dyn Fn(&mut BytesMut) + Sync),
        want: usize,
        d: Durability,
        patience: Patience,
        idempotent: bool,
    ) -> Result<Vec<Reply>> {
        let wait = d.wait_command();
        let encode = |out: &mut BytesMut| {
            encode(out);
            wait.encode(out);
        };
        let answer = self
            .request(&encode, want + 1, patience, idempotent, false)
            .await?;
        let Answer::Many(mut replies) = answer else {
            return Err(Error::internal("a write with its wait had one reply"));
        };
        let waited = replies
            .pop()
            .ok_or_else(|| Error::internal("a write with its wait had no reply"))?;
        d.check(waited.view(), &replies)?;
        Ok(replies)
    }

    /// Carries out a request the server may hold on a dedicated connection (see
    /// [`ClientOptions::max_dedicated`]), never on the shared socket, at the address the
    /// shared connection is connected to (waiting for it while reconnecting). It is not
    /// resent: a held command given up on may have run.
    async fn on_dedicated(
        &self,
        request: Request<'_>,
        (timeout, deadline): Patience,
    ) -> Result<Response> {
        let shared = &self.handle.shared;
        within(deadline, timeout, "a connection", false, shared.connected()).await?;
        let (result, idled) = shared
            .dedicated
            .execute(
                &shared.config,
                &shared.current_addr(),
                request,
                deadline,
                timeout,
            )
            .await;
        if idled {
            shared.sweep_wake.notify_one();
        }
        result
    }
}

impl Client {
    /// [`execute`](Execute::execute) within `deadline` as well as the request's own
    /// response timeout, whichever comes first: for a layer above that has already spent
    /// some of the caller's time on the request (waiting out a failover, resending), so
    /// that no caller waits past the deadline it was given. A request not sent by then
    /// fails as not sent; one sent, as a timeout that may have run.
    pub async fn execute_by(
        &self,
        request: Request<'_>,
        deadline: Option<std::time::Instant>,
    ) -> Result<Response> {
        if let Some(cache) = &self.handle.shared.cache {
            // A hit costs no deadline, no clock. It touches no tokio resource either, so it
            // spends the task's budget itself: a loop of hits still lets other tasks run.
            if let Some(reply) = match &request {
                Request::Command(cmd) => cache.hit(cmd),
                _ => None,
            } {
                tokio::task::coop::consume_budget().await;
                return Ok(Response::Reply(reply));
            }
            // Whatever goes out (on the shared connection or a dedicated one), its writes
            // invalidate their keys first.
            cache.before_send(&request);
        }
        let config = self.config();
        let (hold, timeout) =
            request.hold_and_response_timeout(config.response_timeout, config.durability);
        // One clock reading for the deadline and the latency.
        let started = tokio::time::Instant::now();
        let own = timeout.map(|t| started + t);
        let given = deadline.map(tokio::time::Instant::from_std);
        // One deadline for the request, resends included.
        let patience = (timeout, own.into_iter().chain(given).min());
        let held = hold.is_held();
        // One load of tracing's global level when nothing listens; the traced path boxed,
        // so that the untraced future stays as small as without the feature.
        #[cfg(feature = "tracing")]
        let answer = if tracing::level_enabled!(tracing::Level::INFO) {
            Box::pin(self.traced_answer(request, held, patience)).await
        } else {
            self.answer(request, held, patience).await
        };
        #[cfg(not(feature = "tracing"))]
        let answer = self.answer(request, held, patience).await;
        #[cfg_attr(not(feature = "tracing"), allow(clippy::if_same_then_else))]
        if let Err(e) = &answer {
            if e.may_have_run() {
                crate::trace::event!(WARN, server = %self.addr(), error = %e, "a request may have run: its answer was lost");
            } else if matches!(e.kind(), crate::ErrorKind::Refused(_)) {
                crate::trace::event!(DEBUG, error = %e, "a request was refused before it was sent");
            }
        }
        self.handle
            .shared
            .metrics
            .request(started.elapsed(), failure_of(&answer).map(|(kind, _)| kind));
        answer
    }

    /// [`answer`](Self::answer) in the request's span (when a subscriber wants it).
    #[cfg(feature = "tracing")]
    async fn traced_answer(
        &self,
        request: Request<'_>,
        held: bool,
        patience: Patience,
    ) -> Result<Response> {
        use tracing::Instrument;
        let span = crate::trace::node_request_span(
            &request,
            || self.addr(),
            self.config().db,
            self.handle.shared.options.trace_arguments,
        );
        if span.is_disabled() {
            return self.answer(request, held, patience).await;
        }
        let answer = self
            .answer(request, held, patience)
            .instrument(span.clone())
            .await;
        if let Some((kind, line)) = failure_of(&answer) {
            crate::trace::record_failure(&span, kind, line);
        }
        answer
    }

    /// The answer to `request` from the server: on a dedicated connection when it is
    /// `held`, else on the shared one.
    async fn answer(
        &self,
        request: Request<'_>,
        held: bool,
        patience: Patience,
    ) -> Result<Response> {
        if held {
            crate::trace::event!(DEBUG, server = %self.addr(), "a request the server may hold goes on a dedicated connection");
            // Boxed: the common path's future stays as small as it was.
            return Box::pin(self.on_dedicated(request, patience)).await;
        }
        match request {
            Request::Command(cmd) => self.command_reply(cmd, patience).await.map(Response::Reply),
            Request::Pipeline(pipe) => self
                .pipeline_replies(pipe, patience)
                .await
                .map(Response::Replies),
            Request::Scan(mut cursor) => {
                if let Some(cmd) = cursor.single_step(&self.addr()) {
                    cursor.feed(self.command_reply(&cmd, patience).await?.into_frame())?;
                }
                Ok(Response::Scan(cursor))
            }
        }
    }
}

/// What failed in an answer: its error's kind, or a server error reply in it (the first),
/// with its line.
fn failure_of(answer: &Result<Response>) -> Option<(crate::ErrorKind, Option<&[u8]>)> {
    fn line(r: &Reply) -> Option<(crate::ErrorKind, Option<&[u8]>)> {
        if !r.is_error() {
            return None;
        }
        Some((crate::ErrorKind::Server, r.view().error_line()))
    }
    match answer {
        Err(e) => Some((e.kind(), e.server_error().map(|s| &s.line[..]))),
        Ok(Response::Reply(r)) => line(r),
        Ok(Response::Replies(rs)) => rs.iter().find_map(line),
        Ok(_) => None,
    }
}

/// A request's response timeout (for its error message) and the deadline it is held to.
type Patience = (Option<Duration>, Option<tokio::time::Instant>);

impl Execute for Client {
    /// Sends the request on the shared connection, or, when the server may hold it
    /// ([`Request::hold`]), on a dedicated one.
    async fn execute(&self, request: Request<'_>) -> Result<Response> {
        self.execute_by(request, None).await
    }
}

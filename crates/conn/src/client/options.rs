//! [`ClientOptions`]: how the shared client queues, waits and reconnects.

use std::sync::Arc;
use std::time::Duration;

use crate::{Frame, RetryPolicy};

/// Behaviour of a shared [`Client`](crate::Client) beyond one connection's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Most requests queued or awaiting a reply at once (default 10,000). Callers beyond
    /// it wait for a slot (within their response timeout): a stalled server holds this many
    /// requests, not an unbounded queue.
    pub max_in_flight: usize,
    /// First delay before reconnecting (default 20 ms); doubled at each failure, jittered.
    pub reconnect_min: Duration,
    /// Longest delay between reconnection attempts (default 2 s).
    pub reconnect_max: Duration,
    /// While reconnecting, whether new requests wait for the connection (within their
    /// response timeout; default) or fail at once with the last connection error.
    pub wait_for_reconnect: bool,
    /// How many times a request that may be resent (never written, or marked
    /// [`idempotent`](crate::Cmd::idempotent)) is resent after a connection loss (default 2).
    pub retries: u32,
    /// How requests are written to the socket: by the faster of two ways, timed under
    /// the client's own load (default), or always by one of them (see [`WriteWay`]).
    pub write_way: WriteWay,
    /// How long the reader polls its socket for the next replies before it waits on the
    /// runtime's poller (default 50 µs, the window Linux suggests for its own socket busy
    /// polling, `net.core.busy_read`; zero: never). Only with a few requests in flight, over
    /// plaintext, and between polls every task that is ready runs: the next replies are
    /// read as soon as the callers the last ones woke have written, without a round
    /// through the poller or a worker parked and woken for them. Polls that find nothing
    /// are backed off (the next reads wait at once, twice as many after each miss in a row),
    /// so a server slower than the window costs next to nothing. Zero suits clients that
    /// spread their callers over many connections (a cluster client's node links) or run
    /// on a CPU the server needs.
    pub busy_poll: Duration,
    /// Most dedicated connections open at once (default 16), for the requests the server
    /// may hold (`BLPOP`, `XREAD ... BLOCK`, `WAIT`, a command marked with
    /// [`blocks_for`](crate::Cmd::blocks_for), a pipeline holding one): they never go on
    /// the shared socket, where they would stall every other caller. Callers beyond it wait
    /// for one within their response timeout.
    pub max_dedicated: usize,
    /// How long an unused dedicated connection stays open (default 30 s).
    pub dedicated_idle: Duration,
    /// Where the RESP3 pushes the server sends on the shared connection on its own go (the
    /// key invalidations of `CLIENT TRACKING`, ...); none by default. Without a handler they
    /// are passed over; either way they are never taken for a caller's reply.
    pub push_handler: Option<PushHandler>,
    /// Whether request spans carry the arguments (`db.query.text`; feature `tracing`).
    /// Off by default: arguments hold secrets (passwords, tokens, personal data).
    pub trace_arguments: bool,
}

/// A function that receives the pushes of a shared client's connection (see
/// [`ClientOptions::push_handler`]). It runs on the task that reads the socket, between
/// replies: keep it short (hand the frame to a channel, update a map).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use slotline_conn::{ClientOptions, PushHandler};
/// let seen = Arc::new(AtomicUsize::new(0));
/// let counter = seen.clone();
/// let options = ClientOptions::default().with_push_handler(PushHandler::new(move |_push| {
///     counter.fetch_add(1, Ordering::Relaxed);
/// }));
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct PushHandler(Arc<dyn Fn(Frame) + Send + Sync>);

impl PushHandler {
    /// A handler calling `f` with each push.
    pub fn new(f: impl Fn(Frame) + Send + Sync + 'static) -> Self {
        PushHandler(Arc::new(f))
    }

    /// Hands `push` to the handler.
    pub(crate) fn call(&self, push: Frame) {
        (self.0)(push)
    }
}

impl std::fmt::Debug for PushHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushHandler")
    }
}

impl PartialEq for PushHandler {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for PushHandler {}

/// How a shared client writes its callers' requests to the socket.
///
/// Callers queue their requests; they leave either as soon as enough wait (the caller that
/// queued the last of them writes them, [`Overlapped`](WriteWay::Overlapped)), or all at once
/// when the client's writer task runs ([`Batched`](WriteWay::Batched)). Which is faster
/// depends on the machine, not on the client: where the kernel runs the woken server on
/// the client's core (beside a busy process, under a CPU limit), each early write hands
/// the core to the server while callers still wait to run, and batched writes won by 3.5x
/// on a 2-core machine beside one busy process; where the server has a core of its own
/// (the same machine, quiet), early writes let it work while the callers make the next
/// batch, and won by a quarter.
/// [`Chosen`](WriteWay::Chosen) times both and keeps the faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WriteWay {
    /// The faster of the other two, timed under the client's own load (windows of 16,384
    /// answered requests), kept for longer each time a new timing confirms it, and timed
    /// again now and then, so that it follows a machine turning busy or quiet within
    /// seconds. While the load is too light to time, batched (a caller on its own still
    /// writes its request at once). The default.
    #[default]
    Chosen,
    /// A caller writes the queue itself at once when nothing is in flight, and once enough
    /// requests wait (half as many as are in flight; a quarter over plaintext on a runtime
    /// with one worker), so that a few batches overlap; while another shared client's
    /// connection in the process has requests in flight, only a lone request (their
    /// servers are busy already). Through TLS too: the caller seals its requests into the
    /// session and sends what the socket takes; the writer task sends the rest.
    Overlapped,
    /// The client's writer task writes, once every task ready on its worker has queued its
    /// request: one write per scheduler round. Only a lone request on an idle link (a
    /// caller on its own) is written by its caller at once. Suits a client whose callers are
    /// spread over many connections (a cluster client's node links, which overlap one
    /// another already).
    Batched,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_in_flight: 10_000,
            reconnect_min: Duration::from_millis(20),
            reconnect_max: Duration::from_secs(2),
            wait_for_reconnect: true,
            retries: 2,
            write_way: WriteWay::Chosen,
            busy_poll: Duration::from_micros(50),
            max_dedicated: 16,
            dedicated_idle: Duration::from_secs(30),
            push_handler: None,
            trace_arguments: false,
        }
    }
}

impl ClientOptions {
    /// With a bound on queued and in-flight requests.
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// With reconnection delays between `min` and `max`.
    pub fn with_reconnect_delays(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min = min;
        self.reconnect_max = max.max(min);
        self
    }

    /// With requests made while reconnecting failing at once instead of waiting.
    pub fn fail_fast(mut self) -> Self {
        self.wait_for_reconnect = false;
        self
    }

    /// With requests written one way (see [`WriteWay`]).
    pub fn with_write_way(mut self, way: WriteWay) -> Self {
        self.write_way = way;
        self
    }

    /// With callers allowed to write early ([`WriteWay::Chosen`]) or not
    /// ([`WriteWay::Batched`]).
    pub fn with_overlap_writes(self, on: bool) -> Self {
        self.with_write_way(if on {
            WriteWay::Chosen
        } else {
            WriteWay::Batched
        })
    }

    /// With the reader polling for replies for up to `window` before it waits (zero: never;
    /// see [`ClientOptions::busy_poll`]).
    pub fn with_busy_poll(mut self, window: Duration) -> Self {
        self.busy_poll = window;
        self
    }

    /// With at most `n` dedicated connections for held requests (see
    /// [`ClientOptions::max_dedicated`]).
    pub fn with_max_dedicated(mut self, n: usize) -> Self {
        self.max_dedicated = n.max(1);
        self
    }

    /// With unused dedicated connections closed after `idle`.
    pub fn with_dedicated_idle(mut self, idle: Duration) -> Self {
        self.dedicated_idle = idle;
        self
    }

    /// With the RESP3 pushes of the shared connection handed to `handler` (see
    /// [`ClientOptions::push_handler`]).
    pub fn with_push_handler(mut self, handler: PushHandler) -> Self {
        self.push_handler = Some(handler);
        self
    }

    /// With the arguments in the request spans (see [`ClientOptions::trace_arguments`]).
    pub fn with_traced_arguments(mut self, on: bool) -> Self {
        self.trace_arguments = on;
        self
    }

    /// With this many resends of a request that may be resent.
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// [`retries`](Self::retries) as the policy [`Resends`](slotline_command::Resends)
    /// reads: that many resends, without a delay (a resend waits for the next connection).
    pub(crate) fn resend_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.retries,
            backoff_min: Duration::ZERO,
            backoff_max: Duration::ZERO,
            ..RetryPolicy::default()
        }
    }
}

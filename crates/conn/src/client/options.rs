//! [`ClientOptions`]: how the shared client queues, waits and reconnects.

use std::time::Duration;

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
    /// Whether callers write the queue themselves (default): at once when nothing is in
    /// flight, and once enough requests wait (half as many as are in flight; a quarter over
    /// plaintext on a runtime with one worker), so that under load a few batches overlap
    /// and the server works on one while the callers make the next. The latter only while
    /// no other shared client's connection in the process has requests in flight: when
    /// several are at work (a sharded client's shards, replicas read in turn) their servers
    /// are busy already, and the writer task's larger batches win. Through TLS too: the
    /// caller seals its requests into the session and sends what the socket takes, and the
    /// writer task sends any records left. When off, every batch is written by the
    /// client's writer task, which first lets every task ready on its worker queue its
    /// request: fewer, larger writes, one per scheduler pass. Off suits clients that spread
    /// their callers over many connections (a cluster client's node links, which overlap
    /// one another already) or whose servers are short of CPU.
    pub overlap_writes: bool,
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
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_in_flight: 10_000,
            reconnect_min: Duration::from_millis(20),
            reconnect_max: Duration::from_secs(2),
            wait_for_reconnect: true,
            retries: 2,
            overlap_writes: true,
            busy_poll: Duration::from_micros(50),
            max_dedicated: 16,
            dedicated_idle: Duration::from_secs(30),
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

    /// With overlapping write batches on or off (see [`ClientOptions::overlap_writes`]).
    pub fn with_overlap_writes(mut self, on: bool) -> Self {
        self.overlap_writes = on;
        self
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

    /// With this many resends of a request that may be resent.
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
}

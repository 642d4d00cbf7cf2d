//! The task behind a shared client: writes queued requests, reads replies, reconnects.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::AsyncReadExt;

use super::busy_poll::BusyPoll;
use super::shared::ClientState;
use crate::connection::Connection;
use crate::protocol::{Inbox, READ_CHUNK};
use crate::stream::{ReadHalf, Stream};
use crate::Error;
use slotline_command::Backoff;

/// Serves connections one after another until the client is dropped. `first` is the
/// connection `Client::connect` already opened (none for a lazy client).
pub(crate) async fn run(shared: Arc<ClientState>, first: Option<Connection>) {
    let mut backoff = Backoff::new(shared.options.reconnect_min, shared.options.reconnect_max);
    let mut connection = first.map(|c| {
        let (_, stream, inbox) = c.into_parts();
        (stream, inbox)
    });
    let mut delay_first = false;
    loop {
        if let Some((stream, inbox)) = connection.take() {
            backoff.reset();
            match serve(&shared, stream, inbox).await {
                Ok(()) => break,
                Err(Ended::Left(e)) => {
                    // Left on purpose, with nothing in flight: the next one at once.
                    shared.connection_lost(&e);
                    delay_first = false;
                }
                Err(Ended::Lost(e)) => shared.connection_lost(&e),
            }
        }
        if shared.lock().shutdown {
            break;
        }
        if std::mem::replace(&mut delay_first, true) {
            let delay = backoff.next_delay();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                // A reconnect asked for (a failover announced) cuts the wait short.
                _ = shared.kick.notified() => {}
                _ = shared.leave.notified() => {}
                _ = wait_shutdown(&shared) => break,
            }
        }
        // What was asked of the connections before is served by this attempt, since the
        // resolver is asked now; what is asked from here on is served by the connection it
        // makes (a move announced while connecting leaves it at once).
        for asked in [&shared.kick, &shared.leave] {
            tokio::select! {
                biased;
                _ = asked.notified() => {}
                _ = std::future::ready(()) => {}
            }
        }
        let attempt = match shared.next_config().await {
            // Confirmed: callers' requests go only to a server that answered.
            Ok(config) => match Connection::connect_set_up(config.clone(), true).await {
                // Tracked (RESP2 cache) before any caller's request goes on it.
                Ok(conn) => shared.track(&config, &conn).await.map(|()| conn),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match attempt {
            Ok(conn) => {
                let (_, stream, inbox) = conn.into_parts();
                connection = Some((stream, inbox));
            }
            Err(e) => shared.connect_failed(&e),
        }
    }
    shared.close_all();
}

/// Resolves once the client has been dropped.
///
/// It runs only between connections, when no writer waits on `writer_wake`, so it may
/// consume the wake-ups of requests queued meanwhile: `connection_up` wakes the next
/// writer whenever bytes wait. (Handing the wake-up back with `notify_one` would store a
/// permit that the next `notified()` here takes at once: a busy loop for the whole delay.)
async fn wait_shutdown(shared: &ClientState) {
    loop {
        let woken = shared.writer_wake.notified();
        if shared.lock().shutdown {
            return;
        }
        woken.await;
    }
}

/// Why a connection ended, when the client still wants one.
enum Ended {
    /// It failed, or was dropped on request ([`Client::reconnect`](super::Client::reconnect)).
    Lost(Error),
    /// It was left for another once its requests were answered
    /// ([`Client::reconnect_gracefully`](super::Client::reconnect_gracefully)); the error
    /// fails whatever was still in flight when the wait for it ran out.
    Left(Error),
}

impl From<Error> for Ended {
    fn from(e: Error) -> Self {
        Ended::Lost(e)
    }
}

/// Runs one connection: the writer and the reader, until either fails, the connection is
/// left on request, or the client is dropped (`Ok`).
async fn serve(
    shared: &ClientState,
    stream: Stream,
    mut inbox: Inbox,
) -> std::result::Result<(), Ended> {
    let (mut rd, wr) = stream.into_split();
    let wr = Arc::new(wr);
    shared.connection_up(wr.clone());
    let writer = async {
        let mut spare = BytesMut::with_capacity(16 * 1024);
        loop {
            match shared.take_out(&mut spare) {
                Some(mut chunk) => {
                    wr.write_all_shared(&chunk, &shared.io)
                        .await
                        .map_err(|e| Error::io(e, true))?;
                    shared.written();
                    chunk.clear();
                    spare = chunk;
                }
                None => {
                    if shared.lock().shutdown {
                        return Ok(());
                    }
                    if wr.has_unflushed() {
                        wr.flush_left(&shared.io)
                            .await
                            .map_err(|e| Error::io(e, true))?;
                        continue;
                    }
                    shared.writer_wake.notified().await;
                    // Every task ready on this worker queues its request first, and the
                    // lot leaves in one write.
                    behind_ready_tasks().await;
                }
            }
        }
    };
    let reader = async {
        let mut replies = Vec::new();
        let mut done = Vec::new();
        let mut poll = BusyPoll::for_connection(shared.options.busy_poll, wr.is_tls());
        let mut polled = vec![0; READ_CHUNK];
        // Requests written and not answered yet, as the last delivery left them.
        let mut awaited = 0;
        loop {
            inbox.reserve();
            let n = match poll_replies(shared, &rd, &mut poll, awaited, &mut polled).await {
                Some(n) => n.inspect(|&n| inbox.buf.extend_from_slice(&polled[..n])),
                None => rd.read_buf(&mut inbox.buf).await,
            };
            shared.io.count_read();
            let n = n.map_err(|e| inbox.ended(Some(e)))?;
            shared.io.count_in(n);
            if n == 0 {
                return Err(inbox.ended(None));
            }
            // Replies decoded before a malformed one are still delivered.
            let broken = loop {
                match inbox.next_answer(|push| shared.push(push)) {
                    Ok(Some(reply)) => replies.push(reply),
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            if !replies.is_empty() || broken.is_some() {
                awaited = shared.deliver(&mut replies, &mut done, broken)?;
            }
        }
    };
    tokio::select! {
        result = writer => result.map_err(Ended::Lost),
        result = reader => result.map_err(Ended::Lost),
        _ = shared.kick.notified() => Err(Ended::Lost(Error::io(
            std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "reconnect requested"),
            true,
        ))),
        _ = leave(shared) => Err(Ended::Left(Error::io(
            std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the connection was left for another node before its reply came",
            ),
            true,
        ))),
    }
}

/// Resolves once the connection is to be left and has no request in flight, or the wait
/// for their replies ran out: the node sent none for [`LEAVE_QUIET`] (it is not
/// answering: dead, frozen or cut off), or the client's response timeout (a second
/// without one) passed.
async fn leave(shared: &ClientState) {
    shared.leave.notified().await;
    if shared.lock().queue.leave() {
        return;
    }
    let bound = shared.config.response_timeout.unwrap_or(LEAVE_WAIT);
    // A write waiting for its copies (`WAIT`) holds the replies behind it that long.
    let quiet = LEAVE_QUIET
        + shared
            .config
            .durability
            .map_or(Duration::ZERO, |d| d.timeout());
    let _ = tokio::time::timeout(bound, async {
        loop {
            let replies = shared.left.notified();
            if shared.lock().queue.is_left() {
                return;
            }
            if tokio::time::timeout(quiet, replies).await.is_err() {
                return;
            }
        }
    })
    .await;
}

/// How long a connection being left waits for its replies when the client has no
/// response timeout.
const LEAVE_WAIT: Duration = Duration::from_secs(1);
/// How long a connection being left waits for its next reply: a node that answers sends
/// them within milliseconds.
const LEAVE_QUIET: Duration = Duration::from_millis(250);

/// Polls the socket for the next replies while [`BusyPoll`] says so, with `awaited`
/// requests unanswered: each time every task that was ready has run (the callers the last
/// read woke), one read straight from the socket, until one finds bytes (read into `into`;
/// `Some` with their length, the socket's end or an error) or the window passes (`None`:
/// wait on the poller).
async fn poll_replies(
    shared: &ClientState,
    rd: &ReadHalf,
    poll: &mut BusyPoll,
    awaited: usize,
    into: &mut [u8],
) -> Option<std::io::Result<usize>> {
    let until = poll.begin(Instant::now(), awaited)?;
    loop {
        behind_ready_tasks().await;
        match rd.read_now(into)? {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => shared.io.count_poll(),
            read => {
                poll.found();
                return Some(read);
            }
        }
        if Instant::now() >= until {
            poll.missed();
            return None;
        }
    }
}

/// Returns once every task that was ready on this worker has run: a task that wakes
/// itself while it runs goes to the back of the run queue (unlike one woken by another,
/// which tokio's multi-thread scheduler runs next, in its LIFO slot). Unlike
/// `tokio::task::yield_now`, it does not wait for the I/O driver too, which would hold
/// writes back while new replies come in (on the cluster's node links most of all).
async fn behind_ready_tasks() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

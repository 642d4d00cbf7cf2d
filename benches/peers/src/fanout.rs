//! The pub/sub row: one connection over RESP3 subscribed to one channel, its messages handed
//! to [`SUBSCRIBERS`] subscriber tasks, while [`PUBLISHERS`] tasks `PUBLISH` on that same
//! connection. Each side does it its own way: slotline with one `Subscriber` per task on
//! its shared client (one server subscription, fanned out by the client); redis-rs with its
//! multiplexed connection's push sender, a `tokio::sync::broadcast` channel, one receiver
//! per task (its documented way to share pushes). Both queues hold [`QUEUE`] messages per
//! subscriber and drop what does not fit. A "request" of the row is one message delivered
//! to one subscriber; the run ends with the last delivery.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotline_conn::Commands as _;

use crate::counters::Meter;
use crate::load::Run;

/// Subscriber tasks.
pub const SUBSCRIBERS: usize = 50;
/// Publisher tasks on the subscribed connection.
const PUBLISHERS: u64 = 8;
/// Messages each subscriber's queue holds.
const QUEUE: usize = 1024;
/// The channel.
const CHANNEL: &str = "peers:fanout";
/// The last message's payload.
const END: &[u8] = b"end";
/// How long the subscribers get to see an end message before it is sent again (one may
/// have been dropped by a full queue).
const END_WAIT: Duration = Duration::from_millis(300);

/// What the subscribers saw: deliveries, and when the last end message came.
#[derive(Default)]
struct Seen {
    delivered: AtomicU64,
    /// Nanoseconds after the start of the last delivery of an end message.
    last: AtomicU64,
}

impl Seen {
    /// A subscriber is done: it took `count` messages, the last an end message.
    fn done(&self, count: u64, started: Instant) {
        self.delivered.fetch_add(count, Ordering::Relaxed);
        self.last
            .fetch_max(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    fn run(&self, meter: &Meter, mark: crate::counters::Mark, messages: u64) -> Run {
        let delivered = self.delivered.load(Ordering::Relaxed);
        let wanted = messages * SUBSCRIBERS as u64;
        if delivered < wanted {
            eprintln!(
                "fan-out: {delivered} of {wanted} deliveries ({:.1}% dropped by full queues)",
                100.0 * (wanted - delivered) as f64 / wanted as f64
            );
        }
        Run {
            requests: delivered,
            elapsed: Duration::from_nanos(self.last.load(Ordering::Relaxed)),
            costs: meter.finish(mark),
        }
    }
}

/// `messages` published from [`PUBLISHERS`] tasks through `publish`, then the end message
/// until every reader has seen one.
async fn publish_all<F, Fut>(
    messages: u64,
    publish: F,
    readers: Vec<tokio::task::JoinHandle<()>>,
) -> Result<(), String>
where
    F: Fn(&'static [u8]) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let mut tasks = Vec::new();
    for _ in 0..PUBLISHERS {
        let publish = publish.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..messages / PUBLISHERS {
                publish(b"0123456789abcdef").await?;
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("publisher: {e}"))??;
    }
    let mut readers = readers;
    for _ in 0..100 {
        publish(END).await?;
        let deadline = tokio::time::Instant::now() + END_WAIT;
        while readers.last().is_some_and(|r| r.is_finished()) {
            readers.pop();
        }
        while !readers.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
            readers.retain(|r| !r.is_finished());
        }
        if readers.is_empty() {
            return Ok(());
        }
    }
    Err("subscribers never saw the end".into())
}

/// slotline: `SUBSCRIBERS` subscribers on one shared client, which also publishes.
pub async fn slotline(url: &str, messages: u64, meter: &Meter) -> Result<Run, String> {
    let client = slotline_conn::Client::connect(format!("{url}?protocol=3").as_str())
        .await
        .map_err(|e| e.to_string())?;
    let mut subs = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let s = client
            .subscriber_with_capacity(QUEUE)
            .map_err(|e| e.to_string())?;
        s.subscribe(CHANNEL).await.map_err(|e| e.to_string())?;
        subs.push(s);
    }
    let seen = Arc::new(Seen::default());
    let mark = meter.start();
    let started = Instant::now();
    let readers: Vec<_> = subs
        .into_iter()
        .map(|mut s| {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut count = 0;
                while let Some(item) = s.next_message().await {
                    let Ok(m) = item else { continue };
                    count += 1;
                    if m.payload == END {
                        seen.done(count, started);
                        break;
                    }
                }
            })
        })
        .collect();
    let c = client.clone();
    let publish = move |payload| {
        let c = c.clone();
        async move {
            c.publish(CHANNEL, payload)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    };
    publish_all(messages, publish, readers).await?;
    Ok(seen.run(meter, mark, messages + 1))
}

/// redis-rs: one multiplexed RESP3 connection whose pushes go to a broadcast channel, one
/// receiver per subscriber task; the connection also publishes.
pub async fn redis_rs(url: &str, messages: u64, meter: &Meter) -> Result<Run, String> {
    let (tx, _) = tokio::sync::broadcast::channel::<redis::PushInfo>(QUEUE);
    let config = redis::AsyncConnectionConfig::new().set_push_sender(tx.clone());
    let client = redis::Client::open(format!("{url}?protocol=resp3")).map_err(|e| e.to_string())?;
    let mut con = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| e.to_string())?;
    con.subscribe(CHANNEL).await.map_err(|e| e.to_string())?;
    // Kept until the last delivery: the socket closes with the last handle.
    let keep = con.clone();
    let seen = Arc::new(Seen::default());
    let receivers: Vec<_> = (0..SUBSCRIBERS).map(|_| tx.subscribe()).collect();
    let mark = meter.start();
    let started = Instant::now();
    let readers: Vec<_> = receivers
        .into_iter()
        .map(|mut rx| {
            let seen = seen.clone();
            tokio::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                let mut count = 0;
                loop {
                    match rx.recv().await {
                        Ok(push) if push.kind == redis::PushKind::Message => {
                            count += 1;
                            if matches!(push.data.get(1), Some(redis::Value::BulkString(b)) if b == END)
                            {
                                seen.done(count, started);
                                break;
                            }
                        }
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    }
                }
            })
        })
        .collect();
    let publish = move |payload| {
        let mut con = con.clone();
        async move {
            redis::cmd("PUBLISH")
                .arg(CHANNEL)
                .arg(payload)
                .query_async::<i64>(&mut con)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    };
    publish_all(messages, publish, readers).await?;
    drop(keep);
    Ok(seen.run(meter, mark, messages + 1))
}

//! Cursor iteration (`SCAN`, `HSCAN`, `SSCAN`, `ZSCAN`): one sans-IO state machine that the
//! async [`ScanStream`] and the blocking [`ScanIter`](crate::blocking::ScanIter) drive.

use std::collections::VecDeque;
use std::marker::PhantomData;

use slotline_resp::Frame;

use crate::args::ToArgs;
use crate::error::TypeError;
use crate::reply::convert;
use crate::{cmd, Addr, Cmd, Error, FromReply, Result};

/// What to scan and how: built with [`ScanOptions::keys`], [`ScanOptions::hash`],
/// [`ScanOptions::set`] or [`ScanOptions::sorted_set`], refined with `pattern`, `count`
/// and `key_type`.
///
/// ```
/// use slotline_command::ScanOptions;
/// let opts = ScanOptions::keys().pattern("user:*").count(500);
/// assert_eq!(opts.command(0).args().count(), 6);
/// ```
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// `SCAN` or `HSCAN key` ...: the command up to the cursor.
    head: Cmd,
    /// Options after the cursor (`MATCH`, `COUNT`, `TYPE`).
    tail: Cmd,
    /// Elements per item: 2 for hashes and sorted sets (field and value), else 1.
    arity: usize,
}

impl ScanOptions {
    /// Keys of the database (`SCAN`).
    pub fn keys() -> Self {
        ScanOptions {
            head: cmd("SCAN"),
            tail: Cmd::new(),
            arity: 1,
        }
    }

    /// Field-value pairs of a hash (`HSCAN`).
    pub fn hash(key: impl ToArgs) -> Self {
        ScanOptions {
            head: cmd("HSCAN").arg(key),
            tail: Cmd::new(),
            arity: 2,
        }
    }

    /// Members of a set (`SSCAN`).
    pub fn set(key: impl ToArgs) -> Self {
        ScanOptions {
            head: cmd("SSCAN").arg(key),
            tail: Cmd::new(),
            arity: 1,
        }
    }

    /// Member-score pairs of a sorted set (`ZSCAN`).
    pub fn sorted_set(key: impl ToArgs) -> Self {
        ScanOptions {
            head: cmd("ZSCAN").arg(key),
            tail: Cmd::new(),
            arity: 2,
        }
    }

    /// Only elements matching a glob-style pattern (`MATCH`).
    pub fn pattern(mut self, pattern: impl ToArgs) -> Self {
        self.tail.push_arg("MATCH").push_arg(pattern);
        self
    }

    /// A hint of how many elements each call looks at (`COUNT`).
    pub fn count(mut self, count: u64) -> Self {
        self.tail.push_arg("COUNT").push_arg(count);
        self
    }

    /// Only keys of this type (`TYPE`, for `SCAN`).
    pub fn key_type(mut self, key_type: impl ToArgs) -> Self {
        self.tail.push_arg("TYPE").push_arg(key_type);
        self
    }

    /// The scanned key (`HSCAN key ...`), `None` for `SCAN`.
    pub fn key(&self) -> Option<&[u8]> {
        if self.head.is("SCAN") {
            return None;
        }
        self.head.arg_at(1)
    }

    /// The command for one step at `cursor`.
    pub fn command(&self, cursor: u64) -> Cmd {
        let mut c = self.head.clone().arg(cursor);
        for a in self.tail.args() {
            c.write_bytes(a);
        }
        c
    }
}

/// The state of one cursor iteration: which command to send next, and the elements of the
/// last reply not handed out yet.
#[derive(Debug, Clone)]
pub struct ScanState {
    options: ScanOptions,
    cursor: u64,
    finished: bool,
    buffer: VecDeque<Frame>,
}

impl ScanState {
    /// A new iteration, from cursor 0.
    pub fn new(options: ScanOptions) -> Self {
        ScanState {
            options,
            cursor: 0,
            finished: false,
            buffer: VecDeque::new(),
        }
    }

    /// An iteration that is over (after an error).
    pub fn finished() -> Self {
        ScanState {
            options: ScanOptions::keys(),
            cursor: 0,
            finished: true,
            buffer: VecDeque::new(),
        }
    }

    /// The next item's frame (an array of two for pairs), if one is buffered.
    pub fn pop(&mut self) -> Option<Frame> {
        match self.options.arity {
            1 => self.buffer.pop_front(),
            n if self.buffer.len() >= n => Some(Frame::Array(self.buffer.drain(..n).collect())),
            _ => None,
        }
    }

    /// The command to send for more, or `None` when the server said the iteration is over.
    pub fn next_command(&self) -> Option<Cmd> {
        (!self.finished).then(|| self.options.command(self.cursor))
    }

    /// Takes a reply (`[cursor, [elements...]]`) to the last command.
    pub fn feed(&mut self, reply: Frame) -> Result<()> {
        let bad = |frame: &Frame| {
            Error::from(TypeError::new::<(u64, Vec<Frame>)>(
                frame,
                "not a scan reply",
            ))
        };
        let (cursor, items): (u64, Vec<Frame>) = match reply {
            Frame::Error(_) => return convert::<()>(reply).map(|_| ()),
            Frame::Array(ref parts) if parts.len() == 2 => {
                convert(reply.clone()).map_err(|_| bad(&reply))?
            }
            other => return Err(bad(&other)),
        };
        if items.len() % self.options.arity != 0 {
            return Err(Error::from(TypeError::new::<Vec<Frame>>(
                &Frame::Array(items),
                "odd number of elements in a pair scan",
            )));
        }
        self.cursor = cursor;
        self.finished = cursor == 0;
        self.buffer.extend(items);
        Ok(())
    }
}

/// A whole cursor iteration, as a client steps it: one [`ScanState`] per shard the keys
/// live on, visited one after the other. A single node is one shard; a cluster's shards
/// are its masters (each named by a slot it serves), a sharded client's its shards. A
/// keyed scan (`HSCAN key`, ...) is one shard: the key's.
///
/// Clients drive it through [`Request::Scan`](crate::Request::Scan): on each step they
/// [`plan`](ScanCursor::plan) it once, send [`command_for`](ScanCursor::command_for) the
/// node serving the [current shard](ScanCursor::shard), and [`feed`](ScanCursor::feed) the
/// reply. If the node serving a shard changes mid-scan (a failover), that shard starts over
/// from cursor 0 on the new node: its keys may come twice, never go missing (unless they
/// moved to a shard already visited).
#[derive(Debug, Clone)]
pub struct ScanCursor {
    options: ScanOptions,
    /// The shards not yet visited; `None` until planned.
    left: Option<VecDeque<u64>>,
    /// The shard being visited, the node its cursor belongs to, and its cursor.
    current: Option<(u64, Option<Addr>, ScanState)>,
    /// Set after an error: the iteration is over.
    failed: bool,
}

impl ScanCursor {
    /// A new iteration.
    pub fn new(options: ScanOptions) -> Self {
        ScanCursor {
            options,
            left: None,
            current: None,
            failed: false,
        }
    }

    /// The key of a keyed scan (`HSCAN key ...`): it goes where the key lives. `None` for
    /// `SCAN`, which visits every shard.
    pub fn key(&self) -> Option<&[u8]> {
        self.options.key()
    }

    /// Whether the shards to visit are set yet.
    pub fn is_planned(&self) -> bool {
        self.left.is_some()
    }

    /// Sets the shards to visit, once (later calls do nothing). A keyed scan, or a client
    /// of one node, gives one shard.
    pub fn plan(&mut self, shards: impl IntoIterator<Item = u64>) {
        if self.left.is_some() {
            return;
        }
        let mut left: VecDeque<u64> = shards.into_iter().collect();
        if self.key().is_some() {
            left.truncate(1);
        }
        self.current = left
            .pop_front()
            .map(|s| (s, None, ScanState::new(self.options.clone())));
        self.left = Some(left);
    }

    /// The shard to step next; `None` when the iteration is over.
    pub fn shard(&mut self) -> Option<u64> {
        loop {
            let (shard, _, state) = self.current.as_ref()?;
            if self.failed {
                return None;
            }
            if state.next_command().is_some() {
                return Some(*shard);
            }
            let next = self.left.as_mut().and_then(VecDeque::pop_front);
            self.current = next.map(|s| (s, None, ScanState::new(self.options.clone())));
        }
    }

    /// The command for the current shard, sent to `node` (a shard whose node changed
    /// starts over: a cursor means nothing on another node).
    pub fn command_for(&mut self, node: Option<&Addr>) -> Option<Cmd> {
        let (_, on, state) = self.current.as_mut()?;
        if let Some(node) = node {
            if on.as_ref() != Some(node) {
                if on.is_some() {
                    *state = ScanState::new(self.options.clone());
                }
                *on = Some(node.clone());
            }
        }
        state.next_command().map(Cmd::idempotent)
    }

    /// Takes the reply to the last command. An error ends the iteration (it is not retried
    /// for ever) and is returned.
    pub fn feed(&mut self, reply: Frame) -> Result<()> {
        let fed = match self.current.as_mut() {
            Some((_, _, state)) => state.feed(reply),
            None => Ok(()),
        };
        if fed.is_err() {
            self.failed = true;
        }
        fed
    }

    /// Ends the iteration after an error on the way to the server.
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// The next buffered item (an array of two for pairs).
    pub fn pop(&mut self) -> Option<Frame> {
        self.current.as_mut().and_then(|(_, _, s)| s.pop())
    }

    /// Whether nothing is left: every shard visited (or an error ended it) and every item
    /// handed out.
    pub fn is_done(&mut self) -> bool {
        self.is_planned() && self.shard().is_none() && self.pop_peek_empty()
    }

    fn pop_peek_empty(&self) -> bool {
        self.current
            .as_ref()
            .is_none_or(|(_, _, s)| s.buffer.is_empty())
    }

    /// The node the current shard's cursor belongs to, once a step was sent.
    pub fn node(&self) -> Option<&Addr> {
        self.current.as_ref().and_then(|(_, node, _)| node.as_ref())
    }

    /// For a client of one node, at `node`: the command of the next step, if any (feed it
    /// the reply). A cursor that was stepped on another node starts over here.
    pub fn single_step(&mut self, node: &Addr) -> Option<Cmd> {
        self.plan([0]);
        self.shard()?;
        self.command_for(Some(node))
    }
}

/// An async cursor iteration over any client, a [`futures_core::Stream`] of items:
/// `while let Some(item) = scan.next().await`, or `StreamExt` adapters.
///
/// Like Redis' own guarantee, an element present for the whole iteration is returned at
/// least once; one added or removed meanwhile may or may not be.
///
/// ```no_run
/// # async fn demo(client: &impl slotline_command::Execute) -> slotline_command::Result<()> {
/// use slotline_command::{Query, ScanOptions};
/// let mut keys = client.scan::<String>(ScanOptions::keys().pattern("user:*"));
/// while let Some(key) = keys.next().await {
///     println!("{}", key?);
/// }
/// let fields: Vec<(String, String)> = client.scan(ScanOptions::hash("h")).collect_all().await?;
/// # let _ = fields; Ok(()) }
/// ```
pub struct ScanStream<'a, C: ?Sized, T> {
    client: &'a C,
    /// The cursor between steps (taken by the step in flight).
    cursor: Option<Box<ScanCursor>>,
    step: Option<StepFuture<'a>>,
    _item: PhantomData<fn() -> T>,
}

type StepFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<crate::Response>> + Send + 'a>>;

impl<C: ?Sized, T> std::fmt::Debug for ScanStream<'_, C, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanStream")
            .field("cursor", &self.cursor)
            .field("stepping", &self.step.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a, C: crate::Execute + ?Sized, T: FromReply> ScanStream<'a, C, T> {
    /// A new iteration on `client`.
    pub fn new(client: &'a C, options: ScanOptions) -> Self {
        ScanStream {
            client,
            cursor: Some(Box::new(ScanCursor::new(options))),
            step: None,
            _item: PhantomData,
        }
    }

    /// The next item, `None` at the end.
    pub async fn next(&mut self) -> Option<Result<T>> {
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut *self).poll_next_item(cx)).await
    }

    /// Every remaining item.
    pub async fn collect_all(mut self) -> Result<Vec<T>> {
        let mut all = Vec::new();
        while let Some(item) = self.next().await {
            all.push(item?);
        }
        Ok(all)
    }

    fn poll_next_item(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<T>>> {
        use std::task::Poll;
        loop {
            if let Some(step) = self.step.as_mut() {
                let response = std::task::ready!(step.as_mut().poll(cx));
                self.step = None;
                match response {
                    Ok(crate::Response::Scan(cursor)) => self.cursor = Some(cursor),
                    Ok(other) => {
                        return Poll::Ready(Some(Err(Error::unexpected_reply(format!(
                            "a scan step answered with {other:?}"
                        )))))
                    }
                    // The cursor went with the failed step: the iteration is over.
                    Err(e) => return Poll::Ready(Some(Err(e))),
                }
            }
            let Some(cursor) = self.cursor.as_mut() else {
                return Poll::Ready(None);
            };
            if let Some(frame) = cursor.pop() {
                return Poll::Ready(Some(T::from_reply(frame)));
            }
            if cursor.is_done() {
                return Poll::Ready(None);
            }
            let Some(cursor) = self.cursor.take() else {
                return Poll::Ready(None);
            };
            self.step = Some(Box::pin(self.client.execute(crate::Request::Scan(cursor))));
        }
    }
}

impl<C: crate::Execute + ?Sized, T: FromReply> futures_core::Stream for ScanStream<'_, C, T> {
    type Item = Result<T>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<T>>> {
        self.get_mut().poll_next_item(cx)
    }
}

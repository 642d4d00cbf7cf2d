//! Cursor iteration (`SCAN`, `HSCAN`, `SSCAN`, `ZSCAN`): one sans-IO state machine that the
//! async [`ScanStream`] and the blocking [`ScanIter`](crate::blocking::ScanIter) drive.

use std::collections::VecDeque;
use std::marker::PhantomData;

use slotline_resp::Frame;

use crate::args::ToArgs;
use crate::error::TypeError;
use crate::reply::convert;
use crate::{cmd, Cmd, Error, FromReply, Query, Result};

/// What to scan and how: built with [`ScanOptions::keys`], [`ScanOptions::hash`],
/// [`ScanOptions::set`] or [`ScanOptions::sorted_set`], refined with `pattern`, `count`
/// and `key_type`.
///
/// ```
/// use slotline_conn::ScanOptions;
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
            Error::Type(TypeError::new::<(u64, Vec<Frame>)>(
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
            return Err(Error::Type(TypeError::new::<Vec<Frame>>(
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

/// An async cursor iteration over any [`Query`] client: `while let Some(item) =
/// scan.next().await`.
///
/// Like Redis' own guarantee, an element present for the whole iteration is returned at
/// least once; one added or removed meanwhile may or may not be.
///
/// ```no_run
/// # async fn demo(client: &slotline_conn::Client) -> slotline_conn::Result<()> {
/// use slotline_conn::{Query, ScanOptions};
/// let mut keys = client.scan::<String>(ScanOptions::keys().pattern("user:*"));
/// while let Some(key) = keys.next().await {
///     println!("{}", key?);
/// }
/// let fields: Vec<(String, String)> = client.scan(ScanOptions::hash("h")).collect_all().await?;
/// # let _ = fields; Ok(()) }
/// ```
#[derive(Debug)]
pub struct ScanStream<'a, Q: ?Sized, T> {
    client: &'a Q,
    state: ScanState,
    _item: PhantomData<fn() -> T>,
}

impl<'a, Q: Query + ?Sized, T: FromReply> ScanStream<'a, Q, T> {
    /// A new iteration on `client`.
    pub fn new(client: &'a Q, options: ScanOptions) -> Self {
        ScanStream {
            client,
            state: ScanState::new(options),
            _item: PhantomData,
        }
    }

    /// The next item, `None` at the end.
    pub async fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(frame) = self.state.pop() {
                return Some(T::from_reply(frame));
            }
            let cmd = self.state.next_command()?;
            let step = match self.client.send_command(&cmd).await {
                Ok(reply) => self.state.feed(reply),
                Err(e) => Err(e),
            };
            if let Err(e) = step {
                // Stop after an error rather than retrying the same step for ever.
                self.state = ScanState::finished();
                return Some(Err(e));
            }
        }
    }

    /// Every remaining item.
    pub async fn collect_all(mut self) -> Result<Vec<T>> {
        let mut all = Vec::new();
        while let Some(item) = self.next().await {
            all.push(item?);
        }
        Ok(all)
    }
}

impl<Q: Query + ?Sized, T: FromReply> Clone for ScanStream<'_, Q, T> {
    fn clone(&self) -> Self {
        ScanStream {
            client: self.client,
            state: self.state.clone(),
            _item: PhantomData,
        }
    }
}

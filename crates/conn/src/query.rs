//! The async [`Query`] trait every async client type implements, and [`Commands`], the
//! typed helpers every `Query` gets.

use std::future::Future;

use slotline_resp::{Frame, Reply};

use crate::commands::{block_time, command_list, eval_cmd};
use crate::reply::{convert, convert_read};
use crate::scan::{ScanOptions, ScanStream};
use crate::script::ScriptCall;
use crate::{cmd, Cmd, FromReply, Pipeline, Result, ToArgs};

/// Sends commands and pipelines. Every async client in slotline implements it (a single
/// connection, the shared client, replication, sentinel and cluster clients), and with it
/// gets [`Commands`].
pub trait Query: Sync {
    /// Sends one command; returns its reply still in the received bytes, to be read through
    /// [`Reply::view`] without building [`Frame`]s (an error reply is returned as is).
    /// [`query`](Query::query) and every typed command convert from it.
    fn send_command_reply(&self, cmd: &Cmd) -> impl Future<Output = Result<Reply>> + Send;

    /// Sends one command; returns its raw reply (an error reply as a [`Frame::Error`]).
    fn send_command(&self, cmd: &Cmd) -> impl Future<Output = Result<Frame>> + Send {
        async move { self.send_command_reply(cmd).await.map(Reply::into_frame) }
    }

    /// Sends a pipeline in one round trip; returns its raw replies, one per command (plus
    /// `MULTI`'s and `EXEC`'s for a transaction).
    fn send_pipeline(&self, pipe: &Pipeline) -> impl Future<Output = Result<Vec<Frame>>> + Send;

    /// Sends one command and converts its reply; an error reply is an [`Error::Server`](crate::Error::Server).
    fn query<T: FromReply>(&self, cmd: &Cmd) -> impl Future<Output = Result<T>> + Send {
        async move { convert_read(self.send_command_reply(cmd).await?.view()) }
    }

    /// Runs a pipeline and converts the array of its kept replies (see
    /// [`Pipeline::collect`]). An aborted transaction converts from a null array.
    fn pipeline<T: FromReply>(&self, pipe: &Pipeline) -> impl Future<Output = Result<T>> + Send {
        async move {
            let replies = self.send_pipeline(pipe).await?;
            match pipe.collect(replies)? {
                Some(results) => convert(results),
                None => T::from_reply(Frame::NullArray),
            }
        }
    }

    /// Runs the pipeline as a `MULTI`/`EXEC` transaction. `Ok(None)` means `EXEC` was
    /// aborted because a key under `WATCH` changed; nothing in it ran.
    fn transaction<T: FromReply>(
        &self,
        pipe: &Pipeline,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        async move {
            let pipe = &*pipe.as_transaction();
            let replies = self.send_pipeline(pipe).await?;
            match pipe.collect(replies)? {
                Some(results) => convert(results).map(Some),
                None => Ok(None),
            }
        }
    }

    /// Iterates with a cursor (`SCAN`, `HSCAN`, `SSCAN`, `ZSCAN`, per `options`).
    fn scan<T: FromReply>(&self, options: ScanOptions) -> ScanStream<'_, Self, T> {
        ScanStream::new(self, options)
    }

    /// Runs a script by SHA1 (`EVALSHA`), sending its source (`EVAL`) only when the server
    /// does not know it yet (`NOSCRIPT`).
    fn invoke_script<T: FromReply>(
        &self,
        call: &ScriptCall<'_>,
    ) -> impl Future<Output = Result<T>> + Send {
        let evalsha = call.evalsha_cmd();
        let eval = call.eval_cmd();
        async move {
            match self.send_command(&evalsha).await? {
                Frame::Error(line) if line.starts_with(b"NOSCRIPT") => {
                    convert(self.send_command(&eval).await?)
                }
                reply => convert(reply),
            }
        }
    }
}

macro_rules! async_flavour {
    ($(
        $(#[$meta:meta])*
        fn $name:ident $(<$($rv:ident),+>)? ($($arg:ident : $argty:ty),*) -> $ret:ty = $build:expr;
    )*) => {
        /// The typed helpers, for every async client (`use slotline_conn::Commands`).
        ///
        /// ```no_run
        /// # async fn demo() -> slotline_conn::Result<()> {
        /// use slotline_conn::{Client, Commands};
        /// let c = Client::connect("redis://127.0.0.1:6379/0").await?;
        /// c.set("foo", "bar").await?;
        /// let v: Option<String> = c.get("foo").await?;
        /// let n = c.incr("hits").await?;
        /// # let _ = (v, n); Ok(()) }
        /// ```
        pub trait Commands: Query {
            $(
                $(#[$meta])*
                fn $name $(<$($rv: FromReply),+>)? (&self, $($arg: $argty),*) -> impl Future<Output = Result<$ret>> + Send {
                    let cmd: Cmd = $build;
                    async move { self.query::<$ret>(&cmd).await }
                }
            )*
        }
    };
}

command_list!(async_flavour);

impl<Q: Query + ?Sized> Commands for Q {}

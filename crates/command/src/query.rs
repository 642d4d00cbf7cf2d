//! [`Execute`], the one primitive every async client implements; [`Query`] and
//! [`Commands`], what every `Execute` gets. Those two are implemented for every `Execute`
//! at once and cannot be overridden, so a client that wraps another (the facade, a
//! blocking twin) forwards one method and behaves exactly as the client it wraps.

use std::future::Future;

use slotline_resp::{Frame, Reply};

use crate::commands::{command_list, eval_cmd};
use crate::reply::{convert, convert_read};
use crate::scan::{ScanCursor, ScanOptions, ScanStream};
use crate::script::ScriptCall;
use crate::{cmd, Cmd, Error, FromReply, Pipeline, Result, ToArgs};

/// What a client is asked to do.
#[derive(Debug)]
pub enum Request<'a> {
    /// One command: answered with [`Response::Reply`].
    Command(&'a Cmd),
    /// A pipeline, or a transaction ([`Pipeline::is_atomic`]): answered with
    /// [`Response::Replies`], one per command (and `MULTI`'s and `EXEC`'s).
    Pipeline(&'a Pipeline),
    /// One step of a cursor iteration: the client sends the next command where the
    /// cursor's current shard lives and feeds it the reply; answered with
    /// [`Response::Scan`].
    Scan(Box<ScanCursor>),
}

/// What a client answers to a [`Request`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Response {
    /// A command's reply, still in its received bytes (an error reply as it is).
    Reply(Reply),
    /// A pipeline's replies.
    Replies(Vec<Reply>),
    /// The cursor after one step, its new items buffered in it.
    Scan(Box<ScanCursor>),
}

impl Response {
    fn mismatch(self, asked: &str) -> Error {
        Error::unexpected_reply(format!("a client answered {asked} with {self:?}"))
    }
}

/// The one primitive every async client in slotline implements (a single connection, the
/// shared client, replication, sentinel and cluster clients, the facade): with it comes
/// [`Query`] and [`Commands`].
pub trait Execute: Sync {
    /// Carries out one request.
    fn execute(&self, request: Request<'_>) -> impl Future<Output = Result<Response>> + Send;
}

/// Commands, pipelines, transactions, scans and scripts, for every [`Execute`].
pub trait Query: Execute {
    /// Sends one command; returns its reply still in the received bytes, to be read through
    /// [`Reply::view`] without building [`Frame`]s (an error reply is returned as is).
    /// [`query`](Query::query) and every typed command convert from it.
    fn send_command_reply(&self, cmd: &Cmd) -> impl Future<Output = Result<Reply>> + Send {
        async move {
            match self.execute(Request::Command(cmd)).await? {
                Response::Reply(reply) => Ok(reply),
                other => Err(other.mismatch("a command")),
            }
        }
    }

    /// Sends one command; returns its raw reply (an error reply as a [`Frame::Error`]).
    fn send_command(&self, cmd: &Cmd) -> impl Future<Output = Result<Frame>> + Send {
        async move { self.send_command_reply(cmd).await.map(Reply::into_frame) }
    }

    /// Sends a pipeline in one round trip; returns its replies still in their bytes, one
    /// per command (plus `MULTI`'s and `EXEC`'s for a transaction).
    fn send_pipeline_replies(
        &self,
        pipe: &Pipeline,
    ) -> impl Future<Output = Result<Vec<Reply>>> + Send {
        async move {
            match self.execute(Request::Pipeline(pipe)).await? {
                Response::Replies(replies) => Ok(replies),
                other => Err(other.mismatch("a pipeline")),
            }
        }
    }

    /// Sends a pipeline in one round trip; returns its raw replies.
    fn send_pipeline(&self, pipe: &Pipeline) -> impl Future<Output = Result<Vec<Frame>>> + Send {
        async move {
            let replies = self.send_pipeline_replies(pipe).await?;
            Ok(replies.into_iter().map(Reply::into_frame).collect())
        }
    }

    /// Sends one command and converts its reply; an error reply is an [`Error::from`](crate::Error::from).
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

    /// Iterates with a cursor (`SCAN`, `HSCAN`, `SSCAN`, `ZSCAN`, per `options`), over
    /// every shard the client spreads keys on (every master of a cluster).
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
            let reply = self.send_command(&evalsha).await?;
            let kind = crate::ServerErrorKind::of_reply(&reply);
            if crate::script::wants_source(kind.as_ref()) {
                return convert(self.send_command(&eval).await?);
            }
            convert(reply)
        }
    }
}

impl<C: Execute + ?Sized> Query for C {}

macro_rules! async_flavour {
    ($(
        $(#[$meta:meta])*
        fn $name:ident $(<$($rv:ident),+>)? ($($arg:ident : $argty:ty),*) -> $ret:ty = $build:expr;
    )*) => {
        /// The typed helpers, for every async client (`use slotline_command::Commands`).
        ///
        /// ```no_run
        /// use slotline_command::{Commands, Execute, Result};
        /// async fn demo(c: &impl Execute) -> Result<()> {
        /// c.set("foo", "bar").await?;
        /// let v: Option<String> = c.get("foo").await?;
        /// let n = c.incr("hits").await?;
        /// # let _ = (v, n);
        /// Ok(())
        /// }
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

impl<C: Execute + ?Sized> Commands for C {}

//! The blocking [`Execute`] primitive and what every blocking client gets with it,
//! [`Query`] and [`Commands`]: the same names as the async ones, implemented once for every
//! `Execute` (they cannot be overridden).

use slotline_resp::{Frame, Reply};

use super::ScanIter;
use crate::commands::{command_list, eval_cmd};
use crate::reply::{convert, convert_read};
use crate::scan::ScanOptions;
use crate::script::ScriptCall;
use crate::{cmd, Cmd, Error, FromReply, Pipeline, Request, Response, Result, ToArgs};

/// The one primitive every blocking client in slotline implements: carries out a
/// [`Request`], blocking the calling thread. With it comes [`Query`] and [`Commands`].
pub trait Execute {
    /// Carries out one request.
    fn execute(&self, request: Request<'_>) -> Result<Response>;
}

fn mismatch(response: Response, asked: &str) -> Error {
    Error::unexpected_reply(format!("a client answered {asked} with {response:?}"))
}

/// Commands, pipelines, transactions, scans and scripts, for every blocking [`Execute`].
pub trait Query: Execute {
    /// Sends one command; returns its reply still in the received bytes, to be read through
    /// [`Reply::view`] without building [`Frame`]s (an error reply is returned as is).
    /// [`query`](Query::query) and every typed command convert from it.
    fn send_command_reply(&self, cmd: &Cmd) -> Result<Reply> {
        match self.execute(Request::Command(cmd))? {
            Response::Reply(reply) => Ok(reply),
            other => Err(mismatch(other, "a command")),
        }
    }

    /// Sends one command; returns its raw reply (an error reply as a [`Frame::Error`]).
    fn send_command(&self, cmd: &Cmd) -> Result<Frame> {
        self.send_command_reply(cmd).map(Reply::into_frame)
    }

    /// Sends a pipeline in one round trip; returns its replies still in their bytes.
    fn send_pipeline_replies(&self, pipe: &Pipeline) -> Result<Vec<Reply>> {
        match self.execute(Request::Pipeline(pipe))? {
            Response::Replies(replies) => Ok(replies),
            other => Err(mismatch(other, "a pipeline")),
        }
    }

    /// Sends a pipeline in one round trip; returns its raw replies.
    fn send_pipeline(&self, pipe: &Pipeline) -> Result<Vec<Frame>> {
        let replies = self.send_pipeline_replies(pipe)?;
        Ok(replies.into_iter().map(Reply::into_frame).collect())
    }

    /// Sends one command and converts its reply; an error reply is an [`Error::from`].
    fn query<T: FromReply>(&self, cmd: &Cmd) -> Result<T> {
        convert_read(self.send_command_reply(cmd)?.view())
    }

    /// Runs a pipeline and converts the array of its kept replies.
    fn pipeline<T: FromReply>(&self, pipe: &Pipeline) -> Result<T> {
        let replies = self.send_pipeline(pipe)?;
        match pipe.collect(replies)? {
            Some(results) => convert(results),
            None => T::from_reply(Frame::NullArray),
        }
    }

    /// Runs the pipeline as a `MULTI`/`EXEC` transaction; `Ok(None)` when `EXEC` was
    /// aborted because a key under `WATCH` changed.
    fn transaction<T: FromReply>(&self, pipe: &Pipeline) -> Result<Option<T>> {
        let pipe = &*pipe.as_transaction();
        let replies = self.send_pipeline(pipe)?;
        match pipe.collect(replies)? {
            Some(results) => convert(results).map(Some),
            None => Ok(None),
        }
    }

    /// Iterates with a cursor (`SCAN`, `HSCAN`, `SSCAN`, `ZSCAN`, per `options`), over
    /// every shard the client spreads keys on.
    fn scan<T: FromReply>(&self, options: ScanOptions) -> ScanIter<'_, Self, T> {
        ScanIter::new(self, options)
    }

    /// Runs a script by SHA1 (`EVALSHA`), sending its source (`EVAL`) only on `NOSCRIPT`.
    fn invoke_script<T: FromReply>(&self, call: &ScriptCall<'_>) -> Result<T> {
        let first = self.query(&call.evalsha_cmd());
        if crate::script::wants_source(first.as_ref().err().and_then(Error::server_kind)) {
            return self.query(&call.eval_cmd());
        }
        first
    }
}

impl<C: Execute + ?Sized> Query for C {}

macro_rules! blocking_flavour {
    ($(
        $(#[$meta:meta])*
        fn $name:ident $(<$($rv:ident),+>)? ($($arg:ident : $argty:ty),*) -> $ret:ty = $build:expr;
    )*) => {
        /// The typed helpers, for every blocking client (`use slotline_command::blocking::Commands`).
        pub trait Commands: Query {
            $(
                $(#[$meta])*
                fn $name $(<$($rv: FromReply),+>)? (&self, $($arg: $argty),*) -> Result<$ret> {
                    self.query::<$ret>(&$build)
                }
            )*
        }
    };
}

command_list!(blocking_flavour);

impl<C: Execute + ?Sized> Commands for C {}

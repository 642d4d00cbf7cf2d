//! [`Pipeline`]: many commands in one round trip, optionally as a `MULTI`/`EXEC` transaction.

use std::time::Duration;

use bytes::BytesMut;
use slotline_resp::Frame;

use crate::args::ToArgs;
use crate::error::{ServerError, ServerErrorKind};
use crate::{cmd, Cmd, Error, Hold, Result};

/// Commands sent together and answered together, in order.
///
/// ```
/// use slotline_command::{cmd, pipe};
/// let mut p = pipe();
/// p.cmd("SET").arg("a").arg(1).ignore()
///  .add(cmd("INCR").arg("a"))
///  .cmd("GET").arg("a");
/// assert_eq!(p.len(), 3);
/// // Run it with `client.pipeline::<(i64, String)>(&p)`; `p.atomic()` makes it MULTI/EXEC.
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pipeline {
    cmds: Vec<Cmd>,
    ignored: Vec<bool>,
    atomic: bool,
}

/// A new, empty pipeline.
pub fn pipe() -> Pipeline {
    Pipeline::new()
}

impl Pipeline {
    /// Runs this pipeline on `client` and converts the array of its kept replies:
    /// [`Query::pipeline`](crate::Query::pipeline) (or `transaction` for an atomic one,
    /// which is `None` when `EXEC` was aborted) without a trait to import.
    pub async fn query_async<T: crate::FromReply>(
        &self,
        client: &(impl crate::Execute + ?Sized),
    ) -> Result<T> {
        crate::Query::pipeline(client, self).await
    }

    /// The blocking [`query_async`](Pipeline::query_async).
    pub fn query<T: crate::FromReply>(
        &self,
        client: &(impl crate::blocking::Execute + ?Sized),
    ) -> Result<T> {
        crate::blocking::Query::pipeline(client, self)
    }
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Self {
        Pipeline::default()
    }

    /// An empty pipeline with room for `n` commands.
    pub fn with_capacity(n: usize) -> Self {
        Pipeline {
            cmds: Vec::with_capacity(n),
            ignored: Vec::with_capacity(n),
            atomic: false,
        }
    }

    /// Makes this pipeline a transaction: sent between `MULTI` and `EXEC`.
    pub fn atomic(&mut self) -> &mut Self {
        self.atomic = true;
        self
    }

    /// This pipeline as a transaction: itself when already atomic, else an atomic copy.
    pub fn as_transaction(&self) -> std::borrow::Cow<'_, Pipeline> {
        if self.atomic {
            std::borrow::Cow::Borrowed(self)
        } else {
            let mut copy = self.clone();
            copy.atomic = true;
            std::borrow::Cow::Owned(copy)
        }
    }

    /// Whether this pipeline is a transaction.
    pub fn is_atomic(&self) -> bool {
        self.atomic
    }

    /// Appends a command.
    pub fn add(&mut self, cmd: Cmd) -> &mut Self {
        self.cmds.push(cmd);
        self.ignored.push(false);
        self
    }

    /// Starts a new command with its name; [`arg`](Self::arg) adds to it.
    pub fn cmd(&mut self, name: &str) -> &mut Self {
        self.add(cmd(name))
    }

    /// Adds an argument to the last command (starting one if there is none).
    pub fn arg<T: ToArgs>(&mut self, arg: T) -> &mut Self {
        match self.cmds.last_mut() {
            Some(last) => {
                last.push_arg(arg);
            }
            None => {
                self.add(Cmd::new().arg(arg));
            }
        }
        self
    }

    /// Drops the reply of the last command from the result (its errors still count).
    pub fn ignore(&mut self) -> &mut Self {
        if let Some(last) = self.ignored.last_mut() {
            *last = true;
        }
        self
    }

    /// Number of commands (without `MULTI`/`EXEC`).
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// Whether there is no command.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// The commands, in order.
    pub fn cmds(&self) -> &[Cmd] {
        &self.cmds
    }

    /// Whether the reply of command `index` is dropped from the result.
    pub fn is_ignored(&self, index: usize) -> bool {
        self.ignored.get(index).copied().unwrap_or(false)
    }

    /// Removes every command, keeping the allocation and the atomic flag.
    pub fn clear(&mut self) {
        self.cmds.clear();
        self.ignored.clear();
    }

    /// Number of replies the server sends for this pipeline (`MULTI`/`EXEC` included).
    pub fn reply_count(&self) -> usize {
        self.cmds.len() + if self.atomic { 2 } else { 0 }
    }

    /// How long the server may hold the pipeline's replies: the sum of its commands' holds
    /// (they run one after another), [`Hold::Never`] for a transaction (inside `MULTI` a
    /// blocking command answers at once).
    pub fn hold(&self) -> Hold {
        if self.atomic {
            return Hold::Never;
        }
        let mut total = Hold::Never;
        for c in &self.cmds {
            total = match (total, c.hold()) {
                (Hold::Forever, _) | (_, Hold::Forever) => return Hold::Forever,
                (held, Hold::Never) => held,
                (Hold::Never, held) => held,
                (Hold::Upto(a), Hold::Upto(b)) => Hold::Upto(a.saturating_add(b)),
            };
        }
        total
    }

    /// The pipeline's response timeout, given the connection's: extended by its
    /// [`hold`](Pipeline::hold).
    pub fn response_timeout(&self, base: Option<Duration>) -> Option<Duration> {
        self.hold().response_timeout(base)
    }

    /// Refuses a pipeline with a command a request/response client cannot read (see
    /// [`Cmd::check_request_response`]).
    pub fn check_request_response(&self) -> Result<()> {
        self.cmds.iter().try_for_each(Cmd::check_request_response)
    }

    /// Bytes the pipeline takes on the wire.
    pub fn encoded_len(&self) -> usize {
        let wrap = if self.atomic { 15 + 14 } else { 0 };
        wrap + self.cmds.iter().map(Cmd::encoded_len).sum::<usize>()
    }

    /// Appends every command (between `MULTI` and `EXEC` if atomic) to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        if self.atomic {
            dst.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
        }
        for c in &self.cmds {
            c.encode(dst);
        }
        if self.atomic {
            dst.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        }
    }

    /// Turns the raw replies (exactly [`reply_count`](Self::reply_count) of them) into the
    /// result: an array of the replies that are not ignored, or `None` when a transaction
    /// was aborted because a `WATCH`ed key changed.
    ///
    /// An error reply to an ignored command, or a transaction refused as a whole (an
    /// [`ExecAbort`](crate::ServerErrorKind::ExecAbort) error whose message includes the
    /// error of the command that was refused; nothing ran), is an `Err`;
    /// an error reply to a kept command stays in the array, so that converting the array
    /// reports it (or keeps it, when converting into [`Frame`]s).
    pub fn collect(&self, replies: Vec<Frame>) -> Result<Option<Frame>> {
        if replies.len() != self.reply_count() {
            return Err(Error::unexpected_reply(format!(
                "pipeline expected {} replies, got {}",
                self.reply_count(),
                replies.len()
            )));
        }
        let results = if self.atomic {
            let mut iter = replies.into_iter();
            let mut first_error = None;
            for frame in iter.by_ref().take(self.cmds.len() + 1) {
                if let (Frame::Error(line), None) = (&frame, &first_error) {
                    first_error = Some(ServerError::parse(line.clone()));
                }
            }
            match iter.next() {
                Some(Frame::Array(items)) if items.len() == self.cmds.len() => items,
                // Aborted (a watched key changed): RESP2 sends a null array, RESP3 its null.
                Some(Frame::NullArray | Frame::Null) => return Ok(None),
                Some(Frame::Error(line)) => {
                    let exec = ServerError::parse(line);
                    return Err(Error::from(match first_error {
                        // A queued command was refused, so nothing ran: keep the EXECABORT
                        // kind (a caller must tell this from a command failing inside a
                        // transaction that did run) and name the refusal that caused it.
                        Some(first) if exec.kind == ServerErrorKind::ExecAbort => {
                            let mut line =
                                BytesMut::with_capacity(exec.line.len() + first.line.len() + 3);
                            line.extend_from_slice(&exec.line);
                            line.extend_from_slice(b" (");
                            line.extend_from_slice(&first.line);
                            line.extend_from_slice(b")");
                            ServerError {
                                kind: ServerErrorKind::ExecAbort,
                                line: line.freeze(),
                            }
                        }
                        Some(first) => first,
                        None => exec,
                    }));
                }
                other => {
                    return Err(Error::unexpected_reply(format!(
                        "EXEC answered {other:?} to a transaction of {} commands",
                        self.cmds.len()
                    )))
                }
            }
        } else {
            replies
        };
        let mut kept = Vec::with_capacity(results.len());
        for (frame, ignored) in results.into_iter().zip(&self.ignored) {
            match (frame, ignored) {
                (Frame::Error(line), true) => return Err(Error::from(ServerError::parse(line))),
                (_, true) => {}
                (frame, false) => kept.push(frame),
            }
        }
        Ok(Some(Frame::Array(kept)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_plain_and_atomic_replies() {
        let mut p = pipe();
        p.cmd("SET").arg("a").arg(1).ignore().cmd("GET").arg("a");
        let out = p
            .collect(vec![Frame::simple("OK"), Frame::bulk("1")])
            .unwrap();
        assert_eq!(out, Some(Frame::Array(vec![Frame::bulk("1")])));

        p.atomic();
        assert_eq!(p.reply_count(), 4);
        let mut wire = BytesMut::new();
        p.encode(&mut wire);
        assert_eq!(wire.len(), p.encoded_len());
        assert!(wire.starts_with(b"*1\r\n$5\r\nMULTI\r\n"));
        let queued = || Frame::simple("QUEUED");
        let ok = p
            .collect(vec![
                Frame::simple("OK"),
                queued(),
                queued(),
                Frame::Array(vec![Frame::simple("OK"), Frame::bulk("1")]),
            ])
            .unwrap();
        assert_eq!(ok, Some(Frame::Array(vec![Frame::bulk("1")])));
        let aborted = p
            .collect(vec![
                Frame::simple("OK"),
                queued(),
                queued(),
                Frame::NullArray,
            ])
            .unwrap();
        assert_eq!(aborted, None);
        let refused = p
            .collect(vec![
                Frame::simple("OK"),
                Frame::error("ERR unknown command"),
                queued(),
                Frame::error("EXECABORT Transaction discarded"),
            ])
            .unwrap_err();
        assert!(refused.to_string().contains("unknown command"));
        assert_eq!(refused.server_kind(), Some(&ServerErrorKind::ExecAbort));
    }
}

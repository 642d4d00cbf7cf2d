//! [`ScanIter`]: blocking cursor iteration, driving the same state machine as the async one.

use std::marker::PhantomData;

use super::Query;
use crate::scan::{ScanOptions, ScanState};
use crate::{FromReply, Result};

/// A blocking cursor iteration over any blocking [`Query`] client, as an `Iterator`.
///
/// ```no_run
/// use slotline_conn::blocking::{Connection, Query};
/// use slotline_conn::ScanOptions;
/// let con = Connection::connect("redis://127.0.0.1:6379")?;
/// for key in con.scan::<String>(ScanOptions::keys().pattern("user:*")) {
///     println!("{}", key?);
/// }
/// # Ok::<(), slotline_conn::Error>(())
/// ```
#[derive(Debug)]
pub struct ScanIter<'a, Q: ?Sized, T> {
    client: &'a Q,
    state: ScanState,
    _item: PhantomData<fn() -> T>,
}

impl<'a, Q: Query + ?Sized, T: FromReply> ScanIter<'a, Q, T> {
    /// A new iteration on `client`.
    pub fn new(client: &'a Q, options: ScanOptions) -> Self {
        ScanIter {
            client,
            state: ScanState::new(options),
            _item: PhantomData,
        }
    }
}

impl<Q: Query + ?Sized, T: FromReply> Iterator for ScanIter<'_, Q, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(frame) = self.state.pop() {
                return Some(T::from_reply(frame));
            }
            let cmd = self.state.next_command()?;
            let step = self
                .client
                .send_command(&cmd)
                .and_then(|reply| self.state.feed(reply));
            if let Err(e) = step {
                // Stop after an error rather than retrying the same step for ever.
                self.state = ScanState::finished();
                return Some(Err(e));
            }
        }
    }
}

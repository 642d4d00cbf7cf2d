//! [`ScanIter`]: blocking cursor iteration, stepping the same [`ScanCursor`] as the async
//! stream.

use std::marker::PhantomData;

use super::Execute;
use crate::scan::{ScanCursor, ScanOptions};
use crate::{Error, FromReply, Request, Response, Result};

/// A blocking cursor iteration over any blocking client, as an `Iterator`.
///
/// ```no_run
/// use slotline_command::blocking::{Execute, Query};
/// use slotline_command::ScanOptions;
/// fn demo(con: &impl Execute) -> slotline_command::Result<()> {
///     for key in con.scan::<String>(ScanOptions::keys().pattern("user:*")) {
///         println!("{}", key?);
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct ScanIter<'a, C: ?Sized, T> {
    client: &'a C,
    /// `None` once a step failed: the iteration is over.
    cursor: Option<Box<ScanCursor>>,
    _item: PhantomData<fn() -> T>,
}

impl<'a, C: Execute + ?Sized, T: FromReply> ScanIter<'a, C, T> {
    /// A new iteration on `client`.
    pub fn new(client: &'a C, options: ScanOptions) -> Self {
        ScanIter {
            client,
            cursor: Some(Box::new(ScanCursor::new(options))),
            _item: PhantomData,
        }
    }
}

impl<C: Execute + ?Sized, T: FromReply> Iterator for ScanIter<'_, C, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            let cursor = self.cursor.as_mut()?;
            if let Some(frame) = cursor.pop() {
                return Some(T::from_reply(frame));
            }
            if cursor.is_done() {
                return None;
            }
            let cursor = self.cursor.take()?;
            match self.client.execute(Request::Scan(cursor)) {
                Ok(Response::Scan(cursor)) => self.cursor = Some(cursor),
                Ok(other) => {
                    return Some(Err(Error::unexpected_reply(format!(
                        "a scan step answered with {other:?}"
                    ))))
                }
                // The cursor went with the failed step: the iteration is over.
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

//! [`Monitor`]: a connection given over to `MONITOR`, yielding the server's lines.

use bytes::Bytes;

use crate::connection::Connection;
use crate::Result;

/// A connection in `MONITOR` mode: every command the server runs, one line each
/// (`1700000000.123456 [0 127.0.0.1:50000] "SET" "k" "v"`), until it is dropped. Made by
/// [`Connection::into_monitor`]; the shared client refuses `MONITOR` (its replies never
/// end).
///
/// ```no_run
/// # async fn demo() -> slotline_conn::Result<()> {
/// let con = slotline_conn::Connection::connect("redis://127.0.0.1:6379").await?;
/// let mut monitor = con.into_monitor().await?;
/// while let Some(line) = monitor.next_line().await? {
///     println!("{}", String::from_utf8_lossy(&line));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Monitor {
    con: Connection,
}

impl Connection {
    /// Sends `MONITOR` and gives the connection over to its stream of lines.
    pub async fn into_monitor(self) -> Result<Monitor> {
        let reply = self.first_reply(&crate::cmd("MONITOR")).await?;
        if let Some(line) = reply.view().to_error_line() {
            return Err(crate::ServerError::parse(line).into());
        }
        Ok(Monitor { con: self })
    }
}

impl Monitor {
    /// The next line the server sent; `None` when it closed the connection.
    pub async fn next_line(&mut self) -> Result<Option<Bytes>> {
        match self.con.next_reply().await {
            Ok(reply) => {
                Ok(Some(reply.view().to_bytes().unwrap_or_else(|| {
                    Bytes::from(format!("{:?}", reply.view()))
                })))
            }
            Err(e) if e.kind() == crate::ErrorKind::Closed => Ok(None),
            Err(e) => Err(e),
        }
    }
}

//! The async driver of the discovery machine: carries its requests over tokio sockets.

use slotline_conn::{Connection, Query};
use slotline_resp::Frame;

use crate::logic::{Ask, Discovery, Input, Step};
use crate::{Result, SentinelState};

/// Runs `discovery` to its end; applies what it learned to the sentinel list.
pub(crate) async fn run(
    inner: &SentinelState,
    mut discovery: Discovery,
) -> Result<crate::logic::Found> {
    let mut input = Input::Start;
    loop {
        input = match discovery.step(input) {
            Step::Send(ask) => Input::Replies(send(inner, &ask).await),
            Step::Sleep(delay) => {
                tokio::time::sleep(delay).await;
                Input::Slept
            }
            Step::Done(finished) => return inner.finish(finished),
        };
    }
}

/// One ask on a connection of its own (sentinels and checks are asked rarely: on a
/// (re)connect, a refresh).
async fn send(inner: &SentinelState, ask: &Ask) -> slotline_conn::Result<Vec<Frame>> {
    let con = Connection::connect(inner.config_for(&ask.peer)).await?;
    con.send_pipeline(&ask.pipe).await
}

/// `ROLE` on a data node, with the short check settings.
pub(crate) async fn role(
    inner: &SentinelState,
    addr: slotline_conn::Addr,
) -> slotline_conn::Result<Frame> {
    let con = Connection::connect(inner.config.check_conn(addr)).await?;
    con.send_command(&slotline_conn::cmd("ROLE")).await
}

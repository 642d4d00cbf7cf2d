//! The task that fails requests whose deadline passed and closes dedicated connections
//! left unused: one timer for the whole client instead of one per request.

use std::sync::Arc;

use super::shared::ClientState;

/// Sleeps until the earliest deadline or idle expiry (or until a request with an earlier
/// one arrives), fails what has expired, closes what sat unused, and so on until the
/// client is dropped.
pub(crate) async fn run(shared: Arc<ClientState>) {
    let mut next = None;
    loop {
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = shared.sweep_wake.notified() => {}
                }
            }
            None => shared.sweep_wake.notified().await,
        }
        if shared.lock().shutdown {
            return;
        }
        let now = tokio::time::Instant::now();
        let expired = shared.expire(now);
        let idle = shared.dedicated.prune(now, &shared.current_addr());
        next = match (expired, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

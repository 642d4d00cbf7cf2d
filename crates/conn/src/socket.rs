//! Socket options shared by the async and blocking drivers.

use socket2::{SockRef, TcpKeepalive};

use crate::config::ConnectionConfig;

/// Turns Nagle off and sets keepalive and `TCP_USER_TIMEOUT` as configured, so that a peer
/// that vanished without a RST is noticed.
pub(crate) fn tune_tcp(sock: SockRef<'_>, config: &ConnectionConfig) -> std::io::Result<()> {
    sock.set_tcp_nodelay(true)?;
    if let Some(idle) = config.tcp_keepalive {
        let interval = (idle / 3).max(std::time::Duration::from_secs(1));
        let keepalive = TcpKeepalive::new().with_time(idle).with_interval(interval);
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
        let keepalive = keepalive.with_retries(3);
        sock.set_tcp_keepalive(&keepalive)?;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(timeout) = config.tcp_user_timeout {
        sock.set_tcp_user_timeout(Some(timeout))?;
    }
    Ok(())
}

//! What a test does with a running process: where it is, talk to it, and kill, stop,
//! continue or restart it.

use super::*;

impl Process {
    /// `redis-server` or `redis-sentinel`.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The pid of the running process (`None` after a kill).
    pub fn pid(&self) -> Option<u32> {
        lock(&self.state).child.as_ref().map(Child::id)
    }

    /// Whether the process is alive (it may be stopped).
    pub fn is_running(&self) -> bool {
        let _ = self.try_reap();
        lock(&self.state).child.is_some()
    }

    /// Whether the process is stopped with `SIGSTOP`.
    pub fn is_stopped(&self) -> bool {
        lock(&self.state).stopped
    }

    /// Whether it is cut off the network by [`partition`](Process::partition).
    pub fn is_partitioned(&self) -> bool {
        lock(&self.state).partitioned
    }

    /// Whether it should answer: running, not stopped, not partitioned.
    pub fn is_reachable(&self) -> bool {
        self.is_running() && !self.is_stopped() && !self.is_partitioned()
    }

    /// The process's own directory (config, log, `nodes.conf`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its config file.
    pub fn config_path(&self) -> &Path {
        &self.conf
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The credentials the test bed uses to talk to it.
    pub fn auth(&self) -> Option<&Auth> {
        self.auth.as_ref()
    }

    /// The last `lines` lines of its log (and of its stdout/stderr, if any).
    pub fn log_tail(&self, lines: usize) -> String {
        self.log_text(lines)
    }

    pub(super) fn log_text(&self, lines: usize) -> String {
        let mut s = tail(&self.log, lines);
        let out = tail(&self.stdout, lines);
        if !out.trim().is_empty() {
            s.push_str("\n[stdout/stderr]\n");
            s.push_str(&out);
        }
        s
    }

    /// Opens an authenticated connection.
    pub fn conn(&self) -> Result<Conn> {
        Conn::connect_auth(self.addr, self.auth.as_ref())
    }

    /// Runs one command on a fresh authenticated connection.
    pub fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Frame> {
        wire::query(self.addr, self.auth.as_ref(), args)
    }

    /// Runs one command and returns its reply as text.
    pub(crate) fn text<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<String> {
        let reply = self.cmd(args)?;
        wire::text(self.addr, &reply)
    }

    /// Kills the process with `SIGKILL` and reaps it. Does nothing if it is not running.
    pub fn kill(&self) -> Result<()> {
        let mut st = lock(&self.state);
        if let Some(mut child) = st.child.take() {
            let _ = sys::signal(child.id(), Signal::Kill);
            child
                .wait()
                .map_err(|e| Error::io(format!("waiting for {}", self.addr), e))?;
        }
        st.stopped = false;
        Ok(())
    }

    /// Freezes the process with `SIGSTOP`: its sockets stay open but nothing answers (a hung
    /// node, no RST).
    pub fn stop(&self) -> Result<()> {
        self.signal(Signal::Stop)?;
        lock(&self.state).stopped = true;
        Ok(())
    }

    /// Cuts it off the network (see [`crate::net`]): packets to and/or from its port (and
    /// its cluster bus port) are dropped, silently, until [`heal`](Process::heal). Only in
    /// a namespace of the test's own ([`crate::net::isolated`]); elsewhere it would cut the
    /// port off on the machine's loopback.
    pub fn partition(&self, direction: crate::Direction) -> Result<()> {
        crate::net::partition(&self.lease.ports(), direction)?;
        lock(&self.state).partitioned = true;
        Ok(())
    }

    /// Ends a [`partition`](Process::partition).
    pub fn heal(&self) -> Result<()> {
        crate::net::heal(&self.lease.ports())?;
        lock(&self.state).partitioned = false;
        Ok(())
    }

    /// Resumes a process frozen with [`Process::stop`] (`SIGCONT`).
    pub fn cont(&self) -> Result<()> {
        self.signal(Signal::Cont)?;
        lock(&self.state).stopped = false;
        Ok(())
    }

    fn signal(&self, sig: Signal) -> Result<()> {
        let st = lock(&self.state);
        let Some(child) = st.child.as_ref() else {
            return Err(Error::Invalid(format!(
                "{} at {} is not running",
                self.kind.name(),
                self.addr
            )));
        };
        sys::signal(child.id(), sig)
            .map_err(|e| Error::io(format!("signalling {} ({sig:?})", self.addr), e))
    }

    /// Kills the process if it runs, starts it again on the same port with the same directory
    /// and config (a cluster node keeps its id, a sentinel its state), and waits until it
    /// answers.
    pub fn restart(&self) -> Result<()> {
        self.restart_timeout(Duration::from_secs(10))
    }

    /// [`Process::restart`] with a custom deadline.
    pub fn restart_timeout(&self, timeout: Duration) -> Result<()> {
        self.kill()?;
        // The old socket is gone with the process; Redis binds with SO_REUSEADDR.
        self.spawn_child()?;
        self.wait_started(timeout).map_err(|e| match e {
            StartError::PortTaken(e) | StartError::Fatal(e) => e,
        })
    }

    /// A timeout error whose text includes the tail of this process's log.
    pub(crate) fn log_for_error(&self) -> String {
        self.log_report(15)
    }

    /// The tails of the log and of stdout/stderr, each under a header naming the file, for
    /// error messages (empty when both are empty).
    pub(super) fn log_report(&self, lines: usize) -> String {
        let mut out = String::new();
        for path in [&self.log, &self.stdout] {
            let text = tail(path, lines);
            if !text.trim().is_empty() {
                out.push_str(&format!(
                    "\n--- last lines of {} ---\n{}",
                    path.display(),
                    text.trim_end()
                ));
            }
        }
        out
    }
}

//! One `redis-server` or `redis-sentinel` process: its directory, config, log, port lease,
//! and the faults that can be done to it.

mod control;

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use slotline_resp::Frame;

use crate::error::{Error, Result};
use crate::ports::{self, PortLease};
use crate::sys::{self, Signal};
use crate::wait::POLL_INTERVAL;
use crate::wire::{self, Auth, Conn};

/// Which program a [`Process`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `redis-server` (a data node).
    Server,
    /// `redis-sentinel`.
    Sentinel,
}

impl Kind {
    /// The program's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Server => "redis-server",
            Kind::Sentinel => "redis-sentinel",
        }
    }

    fn file_stem(self) -> &'static str {
        match self {
            Kind::Server => "redis",
            Kind::Sentinel => "sentinel",
        }
    }
}

/// Environment variable that overrides the path of `redis-server`.
pub const ENV_REDIS_SERVER: &str = "SLOTLINE_REDIS_SERVER";
/// Environment variable that overrides the path of `redis-sentinel`.
pub const ENV_REDIS_SENTINEL: &str = "SLOTLINE_REDIS_SENTINEL";
/// Environment variable that, when set to anything but `0`, keeps the temporary directories
/// (configs, logs) after teardown.
pub const ENV_KEEP: &str = "SLOTLINE_TESTBED_KEEP";

/// How to run one kind of program: the binary and extra leading arguments.
#[derive(Debug, Clone)]
struct Program {
    path: PathBuf,
    /// `--sentinel` when `redis-server` stands in for a missing `redis-sentinel`.
    sentinel_flag: bool,
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn program(kind: Kind) -> Result<Program> {
    let (env, name) = match kind {
        Kind::Server => (ENV_REDIS_SERVER, "redis-server"),
        Kind::Sentinel => (ENV_REDIS_SENTINEL, "redis-sentinel"),
    };
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(Program {
                path: p,
                sentinel_flag: false,
            })
        } else {
            Err(Error::RedisNotFound {
                binary: name,
                env,
                detail: format!("{env}={} is not a file", p.display()),
            })
        };
    }
    if let Some(p) = find_in_path(name) {
        return Ok(Program {
            path: p,
            sentinel_flag: false,
        });
    }
    if kind == Kind::Sentinel {
        // `redis-server --sentinel` is the same thing.
        if let Ok(server) = program(Kind::Server) {
            return Ok(Program {
                path: server.path,
                sentinel_flag: true,
            });
        }
    }
    Err(Error::RedisNotFound {
        binary: name,
        env,
        detail: "not in PATH".into(),
    })
}

/// Checks that `redis-server` (and, when `sentinel`, `redis-sentinel`) can be found.
pub fn check_binaries(sentinel: bool) -> Result<()> {
    program(Kind::Server)?;
    if sentinel {
        program(Kind::Sentinel)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The spawner thread.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. So
// every child is spawned by one thread that never exits: children then die exactly when the
// whole test process dies (including by SIGKILL), and never because a test thread ended.

struct SpawnRequest {
    program: PathBuf,
    args: Vec<String>,
    cwd: PathBuf,
    stdout: PathBuf,
    reply: mpsc::Sender<std::io::Result<Child>>,
}

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        let spawned = std::thread::Builder::new()
            .name("slotline-testbed-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop never ends.
                while let Ok(req) = rx.recv() {
                    let _ = req.reply.send(spawn_now(&req));
                }
            });
        if let Err(e) = spawned {
            // Without the thread every request fails with a clear error (the channel is
            // closed because `rx` was dropped with the closure).
            eprintln!("slotline-testbed: cannot start the spawner thread: {e}");
        }
        Mutex::new(tx)
    })
}

fn spawn_now(req: &SpawnRequest) -> std::io::Result<Child> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&req.stdout)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(&req.program);
    cmd.args(&req.args)
        .current_dir(&req.cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // Own process group: a terminal's Ctrl-C reaches the test bed, which tears down in order,
    // rather than every Redis at once.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    sys::kill_on_parent_death(&mut cmd);
    cmd.spawn()
}

fn spawn(program: &Path, args: Vec<String>, cwd: &Path, stdout: &Path) -> Result<Child> {
    let (reply, rx) = mpsc::channel();
    let req = SpawnRequest {
        program: program.to_path_buf(),
        args,
        cwd: cwd.to_path_buf(),
        stdout: stdout.to_path_buf(),
        reply,
    };
    let context = || format!("spawning {}", program.display());
    let sent = lock(spawner()).send(req);
    sent.map_err(|_| Error::io(context(), std::io::ErrorKind::BrokenPipe.into()))?;
    rx.recv()
        .map_err(|_| Error::io(context(), std::io::ErrorKind::BrokenPipe.into()))?
        .map_err(|e| Error::io(context(), e))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------
// Temporary directories.

/// The directory of one topology: `<tmp>/slotline-testbed-<pid>-<n>`, removed on drop.
#[derive(Debug)]
pub(crate) struct TopoDir {
    path: PathBuf,
}

impl TopoDir {
    pub(crate) fn new(topology: &str) -> Result<TopoDir> {
        static N: AtomicU64 = AtomicU64::new(0);
        static SWEPT: OnceLock<()> = OnceLock::new();
        SWEPT.get_or_init(sweep_stale_dirs);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "slotline-testbed-{}-{n}-{topology}",
            std::process::id()
        ));
        fs::create_dir_all(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        Ok(TopoDir { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TopoDir {
    fn drop(&mut self) {
        if std::env::var_os(ENV_KEEP).is_some_and(|v| v != "0") {
            eprintln!("slotline-testbed: kept {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Removes the directories of test processes that died without cleaning up (killed).
fn sweep_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix("slotline-testbed-"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !sys::pid_alive(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Processes.

/// What a process is started with.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) kind: Kind,
    /// Config lines besides the ones every process gets (port, bind, dir, log, ...).
    pub(crate) config: Vec<String>,
    /// Credentials to talk to it.
    pub(crate) auth: Option<Auth>,
    /// Whether it is a cluster node (leases the bus port too).
    pub(crate) cluster: bool,
    /// TLS only (plaintext off) when set.
    pub(crate) tls: Option<crate::tls::TlsSetup>,
}

/// Quotes a value for a Redis config file.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One running (or killed, or stopped) `redis-server` / `redis-sentinel`.
///
/// Every method takes `&self`: a topology can be shared across threads (e.g. in an `Arc`)
/// while one thread injects faults and others run traffic.
#[derive(Debug)]
pub struct Process {
    kind: Kind,
    addr: SocketAddr,
    dir: PathBuf,
    conf: PathBuf,
    log: PathBuf,
    stdout: PathBuf,
    program: Program,
    auth: Option<Auth>,
    state: Mutex<State>,
    _tls: Option<crate::tls::TlsPort>,
    lease: PortLease,
}

#[derive(Debug)]
struct State {
    child: Option<Child>,
    stopped: bool,
    partitioned: bool,
}

/// Outcome of one start attempt.
pub(crate) enum StartError {
    /// The port was taken by something outside the test bed: try another one.
    PortTaken(Error),
    /// Anything else.
    Fatal(Error),
}

impl Process {
    /// Leases a port, writes the config and spawns the process; does not wait for it.
    fn launch(spec: &Spec, parent: &Path) -> Result<Process> {
        Process::launch_on(spec, parent, ports::lease(spec.cluster)?)
    }

    fn launch_on(spec: &Spec, parent: &Path, lease: PortLease) -> Result<Process> {
        let program = program(spec.kind)?;
        let port = lease.port();
        let dir = parent.join(format!("{}-{port}", spec.kind.file_stem()));
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let conf = dir.join(format!("{}.conf", spec.kind.file_stem()));
        let log = dir.join(format!("{}.log", spec.kind.file_stem()));
        let stdout = dir.join("stdout.log");
        let dir_s = dir.to_string_lossy();
        let log_s = log.to_string_lossy();
        let listen = match &spec.tls {
            None => format!("port {port}\n"),
            Some(tls) => {
                let mut lines = tls.files.server_config(port, tls.require_client_cert);
                if spec.cluster {
                    lines.push("tls-cluster yes".into());
                }
                lines.join("\n") + "\n"
            }
        };
        let tls_port = match &spec.tls {
            Some(tls) => Some(crate::tls::TlsPort::register(port, &tls.files)?),
            None => None,
        };
        let mut text = format!(
            "# written by slotline-testbed\n{listen}bind 127.0.0.1\ndaemonize no\n\
             dir {}\nlogfile {}\nloglevel notice\n",
            quote(&dir_s),
            quote(&log_s)
        );
        if spec.kind == Kind::Server {
            // Disk-based full syncs: a replica is streamed writes as soon as the (tiny) RDB
            // is sent, instead of after its first REPLCONF ACK (up to 1 s later) as with
            // diskless syncs, so "link up" really means "receiving writes".
            text.push_str(
                "save \"\"\nappendonly no\nrepl-diskless-sync no\n\
                 repl-diskless-sync-delay 0\nenable-debug-command local\n",
            );
            if crate::net::is_isolated() {
                // Its own connections (replication, the cluster bus) leave from an address
                // of its own, so that a partition can drop them too; it still announces
                // 127.0.0.1, where it listens. Protected mode would refuse peers from
                // those addresses (they are not 127.0.0.1); nothing outside the namespace
                // can reach it anyway.
                text.push_str(&format!(
                    "bind-source-addr {}\nreplica-announce-ip 127.0.0.1\nprotected-mode no\n",
                    crate::net::source_ip(port)
                ));
                if spec.cluster {
                    text.push_str("cluster-announce-ip 127.0.0.1\n");
                }
            }
        }
        for line in &spec.config {
            text.push_str(line);
            text.push('\n');
        }
        fs::write(&conf, text).map_err(|e| Error::io(format!("writing {}", conf.display()), e))?;
        let p = Process {
            kind: spec.kind,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
            conf,
            log,
            stdout,
            program,
            auth: spec.auth.clone(),
            state: Mutex::new(State {
                child: None,
                stopped: false,
                partitioned: false,
            }),
            _tls: tls_port,
            lease,
        };
        p.spawn_child()?;
        Ok(p)
    }

    fn spawn_child(&self) -> Result<()> {
        let mut args = vec![self.conf.to_string_lossy().into_owned()];
        if self.program.sentinel_flag {
            args.push("--sentinel".into());
        }
        let child = spawn(&self.program.path, args, &self.dir, &self.stdout)?;
        let mut st = lock(&self.state);
        st.child = Some(child);
        st.stopped = false;
        Ok(())
    }

    /// Starts several processes at once and waits until each answers; a process whose port
    /// turned out to be taken by a foreign program is started again on another port.
    pub(crate) fn start_all(
        specs: &[Spec],
        parent: &Path,
        timeout: Duration,
    ) -> Result<Vec<Process>> {
        let mut slots: Vec<Option<Process>> = Vec::with_capacity(specs.len());
        for spec in specs {
            slots.push(Some(Process::launch(spec, parent)?));
        }
        let mut out = Vec::with_capacity(specs.len());
        for (spec, slot) in specs.iter().zip(slots) {
            let mut attempt = 0;
            let mut p = slot;
            loop {
                let proc_ = match p.take() {
                    Some(proc_) => proc_,
                    None => Process::launch(spec, parent)?,
                };
                match proc_.wait_started(timeout) {
                    Ok(()) => {
                        out.push(proc_);
                        break;
                    }
                    Err(StartError::PortTaken(e)) => {
                        attempt += 1;
                        drop(proc_);
                        if attempt >= 5 {
                            return Err(e);
                        }
                    }
                    Err(StartError::Fatal(e)) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    /// Starts one process and waits until it answers (retrying elsewhere on a taken port).
    pub(crate) fn start(spec: &Spec, parent: &Path, timeout: Duration) -> Result<Process> {
        let mut all = Process::start_all(std::slice::from_ref(spec), parent, timeout)?;
        all.pop()
            .ok_or_else(|| Error::Invalid("no process was started".into()))
    }

    /// Waits until the process answers `INFO server` with its own pid.
    pub(crate) fn wait_started(&self, timeout: Duration) -> Result<(), StartError> {
        let deadline = Instant::now() + timeout;
        let Some(pid) = self.pid() else {
            return Err(StartError::Fatal(Error::Invalid(format!(
                "{} at {} is not running",
                self.kind.name(),
                self.addr
            ))));
        };
        loop {
            if let Some(status) = self.try_reap() {
                let log = self.log_text(40);
                let e = Error::Exited {
                    what: self.kind.name(),
                    addr: self.addr,
                    status: status.to_string(),
                    log: self.log_report(40),
                };
                return Err(
                    if log.contains("Address already in use")
                        || log.contains("Failed listening on port")
                        || log.contains("Could not create server TCP listening socket")
                    {
                        StartError::PortTaken(e)
                    } else {
                        StartError::Fatal(e)
                    },
                );
            }
            match self.probe_pid() {
                Ok(Some(p)) if p == pid => return Ok(()),
                Ok(Some(_)) => {
                    // Someone else answers on our port: ours will fail to bind.
                    self.kill_quietly();
                    return Err(StartError::PortTaken(Error::Invalid(format!(
                        "port {} is taken by another process",
                        self.addr.port()
                    ))));
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(StartError::Fatal(Error::Timeout {
                    what: format!("{} at {} to answer", self.kind.name(), self.addr),
                    after: timeout,
                    last: "no answer to INFO server".into(),
                    log: self.log_report(20),
                }));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn probe_pid(&self) -> Result<Option<u32>> {
        let mut c = Conn::connect_timeout(self.addr, Duration::from_millis(500))?;
        if let Some(auth) = &self.auth {
            c.auth(auth)?;
        }
        let info = c.cmd(&["INFO", "server"])?;
        let info = wire::text(self.addr, &info)?;
        Ok(crate::info::field(&info, "process_id").and_then(|p| p.parse().ok()))
    }

    /// Reaps the child if it exited; returns its status.
    fn try_reap(&self) -> Option<ExitStatus> {
        let mut st = lock(&self.state);
        let child = st.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                st.child = None;
                Some(status)
            }
            _ => None,
        }
    }

    fn kill_quietly(&self) {
        let mut st = lock(&self.state);
        if let Some(mut child) = st.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        st.stopped = false;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SIGKILL works on a stopped process too.
        self.kill_quietly();
    }
}

/// The last `lines` lines of a file (reads at most the last 64 KiB).
fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            kind: Kind::Server,
            config: Vec::new(),
            auth: None,
            cluster: false,
            tls: None,
        }
    }

    #[test]
    fn a_port_taken_by_a_stranger_is_detected() {
        let dir = TopoDir::new("unit-port-taken").unwrap();
        let lease = ports::lease(false).unwrap();
        // A foreign listener grabs the port between the lease and redis's bind.
        let _stranger = std::net::TcpListener::bind(("127.0.0.1", lease.port())).unwrap();
        let p = Process::launch_on(&spec(), dir.path(), lease).unwrap();
        match p.wait_started(Duration::from_secs(10)) {
            Err(StartError::PortTaken(e)) => {
                assert!(e.to_string().contains("Address already in use"), "{e}")
            }
            Err(StartError::Fatal(e)) => panic!("not recognised as a taken port: {e}"),
            Ok(()) => panic!("redis started on a taken port"),
        }
        assert!(!p.is_running());
    }

    #[test]
    fn config_values_are_quoted() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}

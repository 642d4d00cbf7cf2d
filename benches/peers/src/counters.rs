//! What one measured run cost the client process, counted by the kernel: CPU time, write and
//! read system calls, and context switches, of every thread of the run; and the context
//! switches of the redis-server processes that answered it.
//!
//! # How the calls and switches are counted
//!
//! A [`Meter`] opens its counters with `perf_event_open(pid = 0, cpu = -1, inherit = 1)`
//! from the main thread *before* the run's threads exist (the tokio runtime, the blocking
//! client's worker, the caller threads): the kernel gives every thread created afterwards,
//! and their own children, a copy of each counter. Reading the main thread's counter sums
//! its own count, that of every live copy and that of every copy whose thread has exited
//! (folded into it on exit), so a reading at any moment covers the whole run so far, and
//! the difference of two readings is what happened between them. The measured run is
//! taken as that difference ([`Meter::start`] after the warm-up, [`Meter::finish`] when the
//! last caller is done), so the connection, its warm-up on the same connection and the
//! runtime's start-up and shutdown are left out, while every thread of the run is in.
//!
//! Counted: the software counter `PERF_COUNT_SW_CONTEXT_SWITCHES` (every time one of the
//! threads leaves a CPU, whether it blocked or was preempted) and the tracepoints
//! `syscalls:sys_enter_<call>` of the write-like calls ([`WRITE_CALLS`]) and read-like calls
//! ([`READ_CALLS`]) on any file descriptor: sockets, and also the runtime's `eventfd`
//! wake-ups (a write to wake a worker parked in `epoll_wait`, a read to reset it), which are
//! system calls the client makes per request just the same. Calls that fail (`EAGAIN`) count.
//! Reading the counters is itself one `read` per counter: [`Meter::finish`] subtracts them.
//!
//! Left out: threads that existed before the meter was opened (none take part in a run:
//! every run builds its runtime or client afresh; the test bed's spawner thread idles), the
//! meter's own `/proc` reads of the servers (made before the first reading and after the
//! second), other processes (the spinner of the
//! contended rows, redis-benchmark, started while no meter is open, or before), and the
//! cost of counting itself, which slows every side's system calls alike by a little.
//!
//! Without tracepoints (tracefs not mounted, or a kernel without syscall tracepoints) the
//! call counts are `None`, shown as n/a; without perf events the context switches come from
//! `getrusage(RUSAGE_SELF)` (every thread of the process, alive or gone).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;
use std::time::Duration;

/// The write-like system calls counted as write calls.
pub const WRITE_CALLS: [&str; 4] = ["write", "writev", "sendto", "sendmsg"];

/// The read-like system calls counted as read calls.
pub const READ_CALLS: [&str; 4] = ["read", "readv", "recvfrom", "recvmsg"];

/// Where tracefs may be mounted.
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// `perf_event_attr` up to `PERF_ATTR_SIZE_VER0` (64 bytes), which every kernel with perf
/// events accepts; the fields after it are zero.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// The bit fields: `disabled` is bit 0, `inherit` bit 1, `exclude_hv` bit 6.
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_COUNT_SW_CONTEXT_SWITCHES: u64 = 3;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
const FLAG_INHERIT: u64 = 1 << 1;
const FLAG_EXCLUDE_HV: u64 = 1 << 6;

/// One counting (not sampling) perf event of this thread and its future children.
struct Counter(OwnedFd);

impl Counter {
    /// Opens and starts the counter; `None` if the kernel refuses it.
    fn open(kind: u32, config: u64) -> Option<Counter> {
        let attr = PerfEventAttr {
            kind,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config,
            // Kernel time is not excluded: context switches and tracepoints happen there.
            flags: FLAG_INHERIT | FLAG_EXCLUDE_HV,
            ..PerfEventAttr::default()
        };
        // SAFETY: `attr` is a valid `perf_event_attr` of the size it declares; the call
        // returns a new file descriptor or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                0 as libc::pid_t,
                -1 as libc::c_int,
                -1 as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        // SAFETY: a non-negative return is a file descriptor that nothing else owns.
        (fd >= 0).then(|| Counter(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) }))
    }

    /// The count so far, over this thread and every thread that inherited the counter: one
    /// `read` system call.
    fn value(&self) -> Option<u64> {
        let mut value = 0u64;
        // SAFETY: reads 8 bytes into `value` from a descriptor this counter owns.
        let n = unsafe {
            libc::read(
                self.0.as_raw_fd(),
                (&mut value as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        (n == std::mem::size_of::<u64>() as isize).then_some(value)
    }
}

/// The id of the tracepoint `syscalls:sys_enter_<call>`, from tracefs.
fn tracepoint_id(call: &str) -> Option<u64> {
    TRACEFS.iter().find_map(|root| {
        std::fs::read_to_string(format!("{root}/events/syscalls/sys_enter_{call}/id"))
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

/// The tracepoint ids of [`WRITE_CALLS`] and [`READ_CALLS`], looked up once; `None` (said
/// once on stderr) if any is missing.
fn tracepoint_ids() -> Option<&'static ([u64; 4], [u64; 4])> {
    static IDS: OnceLock<Option<([u64; 4], [u64; 4])>> = OnceLock::new();
    IDS.get_or_init(|| {
        let ids = |calls: [&str; 4]| -> Option<[u64; 4]> {
            let v: Option<Vec<u64>> = calls.iter().map(|c| tracepoint_id(c)).collect();
            v?.try_into().ok()
        };
        let found = ids(WRITE_CALLS).zip(ids(READ_CALLS));
        if found.is_none() {
            eprintln!(
                "slotline-peers: no syscall tracepoints under {} (as root: `mount -t tracefs nodev /sys/kernel/tracing`): write and read calls are n/a",
                TRACEFS.join(" or ")
            );
        }
        found
    })
    .as_ref()
}

/// Counters of this process's system calls and context switches for one run, and the
/// redis-server processes whose context switches are counted beside them.
pub struct Meter {
    /// Context switches; `None`: from `getrusage`.
    switches: Option<Counter>,
    /// One counter per write-like call; empty without tracepoints.
    writes: Vec<Counter>,
    /// One counter per read-like call; empty without tracepoints.
    reads: Vec<Counter>,
    /// The servers' pids.
    servers: Vec<u32>,
}

/// A reading of a [`Meter`], where a run starts.
pub struct Mark {
    cpu: Option<Duration>,
    switches: Option<u64>,
    writes: Option<u64>,
    reads: Option<u64>,
    server_switches: Option<u64>,
}

/// What one run cost (see the [module](self) for what each count includes).
#[derive(Debug, Clone, Copy, Default)]
pub struct Costs {
    /// This process's CPU time (user + system).
    pub cpu: Option<Duration>,
    /// Write-like system calls.
    pub writes: Option<u64>,
    /// Read-like system calls.
    pub reads: Option<u64>,
    /// Context switches of the run's threads.
    pub switches: Option<u64>,
    /// Context switches of the servers' threads.
    pub server_switches: Option<u64>,
}

impl Meter {
    /// Opens the counters, on the calling thread (the main thread): call it before the
    /// run's runtime, client or threads are made. `servers`: the pids whose context
    /// switches to count too.
    pub fn open(servers: Vec<u32>) -> Meter {
        let switches = Counter::open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES);
        let open_all = |ids: &[u64; 4]| -> Vec<Counter> {
            let counters: Vec<Counter> = ids
                .iter()
                .filter_map(|&id| Counter::open(PERF_TYPE_TRACEPOINT, id))
                .collect();
            if counters.len() == ids.len() {
                counters
            } else {
                Vec::new()
            }
        };
        let (writes, reads) = match tracepoint_ids() {
            Some((w, r)) => (open_all(w), open_all(r)),
            None => (Vec::new(), Vec::new()),
        };
        Meter {
            switches,
            writes,
            reads,
            servers,
        }
    }

    /// Reads every counter where the measured run starts.
    pub fn start(&self) -> Mark {
        // The servers first, so that their `/proc` files are read outside the run.
        let server_switches = server_switches(&self.servers);
        let (switches, writes, reads) = self.read_counters();
        Mark {
            cpu: rusage().map(|r| r.0),
            switches,
            writes,
            reads,
            server_switches,
        }
    }

    /// What happened since `mark`.
    pub fn finish(&self, mark: Mark) -> Costs {
        let cpu = rusage().map(|r| r.0);
        let (switches, writes, reads) = self.read_counters();
        let server_switches = server_switches(&self.servers);
        let since = |after: Option<u64>, before: Option<u64>| {
            after.zip(before).map(|(a, b)| a.saturating_sub(b))
        };
        // Reading the counters is one `read` per counter: between the two readings those of
        // the counters after `read`'s own in the first, and those up to it in the second,
        // one reading's worth in all.
        let own_reads = self.counters() as u64;
        Costs {
            cpu: cpu.zip(mark.cpu).map(|(a, b)| a.saturating_sub(b)),
            switches: since(switches, mark.switches),
            writes: since(writes, mark.writes),
            reads: since(reads, mark.reads).map(|n| n.saturating_sub(own_reads)),
            server_switches: since(server_switches, mark.server_switches),
        }
    }

    /// How many perf counters one reading reads.
    fn counters(&self) -> usize {
        usize::from(self.switches.is_some()) + self.writes.len() + self.reads.len()
    }

    /// Context switches, write calls, read calls, so far.
    fn read_counters(&self) -> (Option<u64>, Option<u64>, Option<u64>) {
        let switches = match &self.switches {
            Some(c) => c.value(),
            None => rusage().map(|r| r.1),
        };
        let sum = |counters: &[Counter]| -> Option<u64> {
            if counters.is_empty() {
                return None;
            }
            counters.iter().map(Counter::value).sum()
        };
        (switches, sum(&self.writes), sum(&self.reads))
    }
}

/// This process's CPU time (user + system) and context switches (voluntary + involuntary),
/// over all its threads, alive or gone.
fn rusage() -> Option<(Duration, u64)> {
    // SAFETY: `getrusage` fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Some((
        time(usage.ru_utime) + time(usage.ru_stime),
        (usage.ru_nvcsw + usage.ru_nivcsw) as u64,
    ))
}

/// The context switches of every thread of the processes `pids` so far
/// (`/proc/<pid>/task/*/status`); `None` if there are no pids or one cannot be read.
fn server_switches(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    let mut total = 0;
    for pid in pids {
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let Ok(status) = std::fs::read_to_string(task.ok()?.path().join("status")) else {
                // A thread that ended meanwhile.
                continue;
            };
            total += status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    Some(total)
}

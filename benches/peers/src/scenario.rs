//! What a row measures: the scenario (topology, callers, requests) and the tokio runtime
//! flavour it runs on.

/// The scenarios, as the issue that asked for them names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// 50 tasks on one shared client, one node.
    Node,
    /// One task, sequential GETs, one node.
    Single,
    /// 50 tasks on one cluster client, 3 masters × 1 replica.
    Cluster,
    /// 50 threads: one blocking slotline client against 50 redis-rs sync connections (no
    /// fred: it has no blocking client).
    Blocking,
    /// 50 tasks on one shared client, one node over TLS (redis-rs and fred with rustls).
    Tls,
    /// [`Scenario::Node`] with every client speaking RESP3 (`HELLO 3`).
    Resp3,
    /// One RESP3 connection subscribed to a channel, its messages handed to 50 subscriber
    /// tasks while 8 tasks publish on it ([`crate::fanout`]); a request is a delivery.
    Fanout,
    /// The read-heavy load of [`Scenario::Cached`] without any cache: its baseline.
    Hot,
    /// Read-heavy: 50 tasks GET over 1,000 hot keys of 100 bytes, slotline's client-side
    /// cache on (RESP3, 64 MiB) beside redis-rs's (`cache-aio`, RESP3) and fred without
    /// one (it has none).
    Cached,
}

impl Scenario {
    /// `node`, `single`, `cluster`, `blocking`, `tls`, `resp3`, `fanout`, `hot` or `cached`.
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "node" => Scenario::Node,
            "single" => Scenario::Single,
            "cluster" => Scenario::Cluster,
            "blocking" => Scenario::Blocking,
            "tls" => Scenario::Tls,
            "resp3" => Scenario::Resp3,
            "fanout" => Scenario::Fanout,
            "hot" => Scenario::Hot,
            "cached" => Scenario::Cached,
            other => return Err(format!("unknown scenario {other:?}")),
        })
    }

    /// The row's label.
    pub fn label(self) -> &'static str {
        match self {
            Scenario::Node => "one node, 50 tasks, GET",
            Scenario::Single => "one node, 1 task, sequential GET",
            Scenario::Cluster => "cluster 3×1, 50 tasks, GET",
            Scenario::Blocking => "one node, 50 threads, GET",
            Scenario::Tls => "one node over TLS, 50 tasks, GET",
            Scenario::Resp3 => "one node over RESP3, 50 tasks, GET",
            Scenario::Fanout => "RESP3 pub/sub, 8 publishers, 50 subscribers: deliveries",
            Scenario::Hot => "one node, 50 tasks, GET over 1,000 hot keys (RESP3, no cache)",
            Scenario::Cached => {
                "one node, 50 tasks, GET over 1,000 hot keys, client-side caches on (fred: none)"
            }
        }
    }

    /// The keys its load reads: the hot ones for the read-heavy `cached` row.
    pub fn keys(self) -> crate::load::KeySet {
        match self {
            Scenario::Hot | Scenario::Cached => crate::load::KeySet::Hot,
            _ => crate::load::KeySet::All,
        }
    }

    /// Tasks or threads, each one request at a time.
    pub fn callers(self) -> usize {
        match self {
            Scenario::Single => 1,
            _ => 50,
        }
    }

    /// Requests per run before `--scale`.
    pub fn requests(self) -> u64 {
        match self {
            Scenario::Node
            | Scenario::Blocking
            | Scenario::Tls
            | Scenario::Resp3
            | Scenario::Hot => 400_000,
            Scenario::Cached => 4_000_000,
            Scenario::Cluster => 300_000,
            Scenario::Single => 40_000,
            Scenario::Fanout => 4_000_000,
        }
    }
}

/// A tokio runtime flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `new_current_thread`.
    Current,
    /// `new_multi_thread`, with this many workers (`None`: one per core).
    Multi(Option<usize>),
}

impl Flavour {
    /// `current`, `multi` or `multi:N`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "current" => Ok(Flavour::Current),
            "multi" => Ok(Flavour::Multi(None)),
            _ => match s.strip_prefix("multi:").map(str::parse::<usize>) {
                Some(Ok(n)) if n > 0 => Ok(Flavour::Multi(Some(n))),
                _ => Err(format!("unknown runtime {s:?} (current, multi, multi:N)")),
            },
        }
    }

    /// The row's label.
    pub fn label(self) -> String {
        match self {
            Flavour::Current => "current-thread".into(),
            Flavour::Multi(None) => format!(
                "`#[tokio::main]` ({} workers)",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            ),
            Flavour::Multi(Some(n)) => format!("multi-thread, {n} worker(s)"),
        }
    }

    /// A fresh runtime of this flavour.
    pub fn build(self) -> tokio::runtime::Runtime {
        let mut b = match self {
            Flavour::Current => tokio::runtime::Builder::new_current_thread(),
            Flavour::Multi(n) => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                if let Some(n) = n {
                    b.worker_threads(n);
                }
                b
            }
        };
        b.enable_all().build().expect("a tokio runtime")
    }
}

//! `slotline-testbed up <standalone|replication|sentinel|sharded-sentinel|cluster> [--json]`: starts a Redis
//! topology on 127.0.0.1, prints one line when it is ready, and runs until SIGINT/SIGTERM,
//! then tears everything down.

use std::io::Write;
use std::process::ExitCode;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use slotline_testbed::{
    Cluster, Direction, FaultProxy, LinkMode, Replication, SentinelTopology, Standalone, Topology,
};

const USAGE: &str =
    "usage: slotline-testbed up <standalone|replication|sentinel|sharded-sentinel|cluster> [--json]
         [--replicas N] [--masters N] [--requirepass PASSWORD] [--tls]
       slotline-testbed partition PORT[,BUS_PORT] [both|to|from]
       slotline-testbed heal PORT[,BUS_PORT]
       slotline-testbed proxy HOST:PORT   (then pass | delay MS | stall | cut | reset on stdin)

Starts the topology on 127.0.0.1, prints one line when it is ready (with --json:
{\"topology\":..,\"nodes\":[{\"addr\":..,\"role\":..}],\"sentinels\":[..],\"service\":..,
\"services\":[{\"name\":..,\"nodes\":[..]}],\"tls\":..}),
and runs until SIGINT/SIGTERM, then stops every process and removes its files.
--replicas: replicas (replication, sentinel), of each service (sharded-sentinel: three
services svc1, svc2, svc3, one replica each by default) or per master (cluster).
--tls: TLS only (replication, the cluster bus and sentinels too), with a CA, server and
client certificates made for the run; --json prints their paths under \"tls\".
partition drops every packet to and/or from a node (its ports, and the connections it
opens from its own source address, when started inside a namespace with SLOTLINE_NETNS=1)
with nftables, in this network namespace, until heal: run both inside the namespace the
topology runs in (unshare --net).";

struct Options {
    topology: String,
    json: bool,
    replicas: Option<usize>,
    masters: Option<usize>,
    requirepass: Option<String>,
    tls: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("up") => {}
        Some("-h" | "--help" | "help") => return Err(String::new()),
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("missing command".into()),
    }
    let mut opts = Options {
        topology: String::new(),
        json: false,
        replicas: None,
        masters: None,
        requirepass: None,
        tls: false,
    };
    let number = |v: Option<&String>, name: &str| -> Result<usize, String> {
        v.and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--json" => opts.json = true,
            "--tls" => opts.tls = true,
            "--replicas" => opts.replicas = Some(number(it.next(), "--replicas")?),
            "--masters" => opts.masters = Some(number(it.next(), "--masters")?),
            "--requirepass" => {
                opts.requirepass = Some(it.next().cloned().ok_or("--requirepass needs a password")?)
            }
            "-h" | "--help" => return Err(String::new()),
            t if !t.starts_with('-') && opts.topology.is_empty() => opts.topology = t.into(),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if opts.topology.is_empty() {
        return Err("missing topology".into());
    }
    Ok(opts)
}

fn start(o: &Options) -> slotline_testbed::Result<Topology> {
    // `local()`: the CLI starts processes even when SLOTLINE_TEST_* points elsewhere.
    Ok(match o.topology.as_str() {
        "standalone" => {
            let mut b = Standalone::builder().local();
            if o.tls {
                b = b.tls();
            }
            if let Some(p) = &o.requirepass {
                b = b.requirepass(p);
            }
            Topology::Standalone(b.start()?)
        }
        "replication" => {
            let mut b = Replication::builder().local();
            if o.tls {
                b = b.tls();
            }
            if let Some(n) = o.replicas {
                b = b.replicas(n);
            }
            if let Some(p) = &o.requirepass {
                b = b.requirepass(p);
            }
            Topology::Replication(b.start()?)
        }
        "sentinel" | "sharded-sentinel" => {
            let mut b = if o.topology == "sentinel" {
                SentinelTopology::builder().local()
            } else {
                SentinelTopology::sharded()
            };
            if o.tls {
                b = b.tls();
            }
            if let Some(n) = o.replicas {
                b = b.replicas(n);
            }
            if let Some(p) = &o.requirepass {
                b = b.requirepass(p);
            }
            Topology::Sentinel(b.start()?)
        }
        "cluster" => {
            let mut b = Cluster::builder().local();
            if o.tls {
                b = b.tls();
            }
            if let Some(n) = o.masters {
                b = b.masters(n);
            }
            if let Some(n) = o.replicas {
                b = b.replicas(n);
            }
            if let Some(p) = &o.requirepass {
                b = b.requirepass(p);
            }
            Topology::Cluster(b.start()?)
        }
        _ => Topology::start(&o.topology)?,
    })
}

/// `partition PORT[,PORT...] [both|to|from]` and `heal PORT[,PORT...]`: network faults in
/// this network namespace (see `slotline_testbed::net`).
fn net_verb(args: &[String]) -> Option<Result<(), String>> {
    let verb = args.first()?.as_str();
    if verb != "partition" && verb != "heal" {
        return None;
    }
    let run = || -> Result<(), String> {
        let ports: Vec<u16> = args
            .get(1)
            .ok_or(format!(
                "{verb} needs PORT[,PORT...] (a node's port, then its bus port)"
            ))?
            .split(',')
            .map(|p| p.trim().parse().map_err(|_| format!("bad port {p:?}")))
            .collect::<Result<_, _>>()?;
        if verb == "heal" {
            return slotline_testbed::net::heal(&ports).map_err(|e| e.to_string());
        }
        let direction = match args.get(2) {
            None => Direction::Both,
            Some(d) => {
                Direction::parse(d).ok_or(format!("bad direction {d:?}: both, to or from"))?
            }
        };
        slotline_testbed::net::partition(&ports, direction).map_err(|e| e.to_string())
    };
    Some(run())
}

/// `proxy HOST:PORT`: a fault proxy in front of a node, printing where it listens, then
/// taking one command a line on stdin (`pass`, `delay MS`, `stall`, `cut`, `reset`) until
/// end of input.
fn proxy_verb(args: &[String]) -> Option<Result<(), String>> {
    if args.first().map(String::as_str) != Some("proxy") {
        return None;
    }
    let run = || -> Result<(), String> {
        use std::io::BufRead;
        let target: std::net::SocketAddr = args
            .get(1)
            .ok_or("proxy needs HOST:PORT")?
            .parse()
            .map_err(|e| format!("bad address: {e}"))?;
        let proxy = FaultProxy::start(target).map_err(|e| e.to_string())?;
        println!("{}", proxy.addr());
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| e.to_string())?;
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["pass"] => proxy.set_mode(LinkMode::Pass),
                ["stall"] => proxy.set_mode(LinkMode::Stall),
                ["delay", ms] => {
                    let ms: u64 = ms.parse().map_err(|_| format!("bad delay {ms:?}"))?;
                    proxy.set_mode(LinkMode::Delay(std::time::Duration::from_millis(ms)));
                }
                ["cut"] => proxy.cut(),
                ["reset"] => proxy.reset(),
                [] => continue,
                _ => eprintln!("slotline-testbed proxy: pass, delay MS, stall, cut or reset"),
            }
            println!("ok");
        }
        Ok(())
    };
    Some(run())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(result) = net_verb(&args).or_else(|| proxy_verb(&args)) {
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("slotline-testbed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("slotline-testbed: {msg}");
            }
            eprintln!("{USAGE}");
            return if msg.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    // Register before starting anything: a signal during startup is delivered afterwards and
    // still tears everything down.
    let mut signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("slotline-testbed: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let topology = match start(&opts) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("slotline-testbed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let d = topology.describe();
    let line = if opts.json {
        d.to_json()
    } else {
        format!("{} (Ctrl-C to stop)", d.to_human())
    };
    let mut out = std::io::stdout().lock();
    let printed = writeln!(out, "{line}").and_then(|()| out.flush());
    drop(out);
    if let Err(e) = printed {
        eprintln!("slotline-testbed: cannot write to stdout: {e}");
        return ExitCode::FAILURE;
    }
    // Blocks in a read of signal-hook's self-pipe: no busy loop.
    let signal = signals.forever().next();
    drop(topology);
    if let Some(sig) = signal {
        eprintln!("slotline-testbed: signal {sig}: stopped every process");
    }
    ExitCode::SUCCESS
}

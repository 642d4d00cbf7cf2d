//! `slotline topology --url URL`: who serves what.

use slotline_conn::{cmd, Addr, Query};

use super::format::format_reply;
use super::CliError;
use crate::Target;

/// Prints the slot map of a cluster, or the sentinel view of a service, or a node's role.
pub(super) async fn run_topology(url: &str) -> Result<(), CliError> {
    let target = Target::parse(url).map_err(|e| e.to_string())?;
    match target {
        Target::Cluster(url) => cluster_table(&url).await,
        Target::Sentinel {
            sentinels,
            service,
            config,
            ..
        } => sentinel_table(sentinels, &service, *config).await,
        Target::ShardedSentinel {
            sentinels,
            services,
            config,
            ..
        } => sharded_table(sentinels, services, *config).await,
        Target::Node(config) => {
            let client = slotline_conn::Client::connect(config)
                .await
                .map_err(|e| e.to_string())?;
            let role = client
                .send_command(&cmd("ROLE"))
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", format_reply(&role));
            Ok(())
        }
    }
}

async fn cluster_table(url: &str) -> Result<(), CliError> {
    let client = slotline_cluster::ClusterClient::open(url)
        .await
        .map_err(|e| format!("cannot reach the cluster: {e}"))?;
    let map = client.slot_map();
    let shards = map.shards();
    let mut rows = vec![[
        "slots".to_string(),
        "count".to_string(),
        "master".to_string(),
        "replicas".to_string(),
    ]];
    for (first, last, shard) in map.ranges() {
        let (master, replicas) = shards
            .get(shard)
            .map(|s| (s.master.as_ref().map(Addr::to_string), list(&s.replicas)))
            .unwrap_or_default();
        rows.push([
            format!("{first}-{last}"),
            (u32::from(last) - u32::from(first) + 1).to_string(),
            master.unwrap_or_else(|| "(none)".into()),
            replicas,
        ]);
    }
    print_table(&rows);
    println!(
        "{} of 16384 slots served by {} masters",
        map.covered_slots(),
        map.serving_masters().len()
    );
    Ok(())
}

async fn sentinel_table(
    sentinels: Vec<Addr>,
    service: &str,
    config: slotline_sentinel::SentinelConfig,
) -> Result<(), CliError> {
    let sentinel =
        slotline_sentinel::Sentinel::new(sentinels, config).map_err(|e| e.to_string())?;
    let master = sentinel
        .master_addr(service)
        .await
        .map_err(|e| e.to_string())?;
    let replicas = sentinel
        .replica_addrs(service)
        .await
        .map_err(|e| e.to_string())?;
    let mut rows = vec![["role".to_string(), "address".to_string()]];
    rows.push(["master".into(), master.to_string()]);
    for r in &replicas {
        rows.push(["replica".into(), r.to_string()]);
    }
    for s in sentinel.sentinel_addrs() {
        rows.push(["sentinel".into(), s.to_string()]);
    }
    println!("service {service}");
    print_table(&rows);
    Ok(())
}

/// One row per shard: its service, its share of the ring, its master and replicas.
async fn sharded_table(
    sentinels: Vec<Addr>,
    services: Vec<String>,
    config: slotline_sentinel::SentinelConfig,
) -> Result<(), CliError> {
    let ring = slotline_sentinel::Ring::new(services.iter().cloned())?;
    let sentinel =
        slotline_sentinel::Sentinel::new(sentinels, config).map_err(|e| e.to_string())?;
    let mut rows = vec![[
        "shard".to_string(),
        "service".to_string(),
        "ring share".to_string(),
        "master".to_string(),
        "replicas".to_string(),
    ]];
    for (i, (service, share)) in services.iter().zip(ring.shares()).enumerate() {
        let master = sentinel
            .master_addr(service)
            .await
            .map_or_else(|e| format!("(down: {e})"), |a| a.to_string());
        let replicas = sentinel
            .replica_addrs(service)
            .await
            .map_or_else(|e| format!("(unknown: {e})"), |r| list(&r));
        rows.push([
            i.to_string(),
            service.clone(),
            format!("{:.1} %", share * 100.0),
            master,
            replicas,
        ]);
    }
    print_table(&rows);
    let sentinels: Vec<Addr> = sentinel.sentinel_addrs();
    println!(
        "{} shards on a ketama ring (md5, as twemproxy); sentinels {}",
        services.len(),
        list(&sentinels)
    );
    Ok(())
}

fn list(addrs: &[Addr]) -> String {
    if addrs.is_empty() {
        return "-".into();
    }
    addrs
        .iter()
        .map(Addr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints rows as aligned columns, the first row as a header.
fn print_table<const N: usize>(rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            println!("{}", rule.join("  "));
        }
    }
}

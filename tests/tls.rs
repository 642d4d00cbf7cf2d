//! TLS in every mode: one node (a subscriber too), a sentinel service (failover followed over TLS), sharded
//! sentinel services, a cluster (a master killed), async and blocking; mutual TLS; and
//! each refusal clear, naming its cause, within the connect timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use slotline::{Client, Commands};
use slotline_testbed::{ServerCert, Standalone, TlsFiles};

/// A TLS node, started once per test binary.
fn tls_node() -> &'static Standalone {
    static T: std::sync::OnceLock<Standalone> = std::sync::OnceLock::new();
    T.get_or_init(|| Standalone::builder().tls().start().expect("a TLS node"))
}

on_both_runtimes! {
    /// Commands, pipelines and a held BLPOP over TLS, through the async facade.
    async fn a_node_over_tls_async() {
        let c = Client::open(&tls_node().url()).await.unwrap();
        let key = format!("tls:async:{:?}", std::thread::current().id());
        c.set(&key, "secret").await.unwrap();
        let v: Option<String> = c.get(&key).await.unwrap();
        assert_eq!(v.as_deref(), Some("secret"));
        let _: i64 = c.rpush(format!("{key}:q"), "job").await.unwrap();
        let job: Option<(String, String)> = c.blpop(format!("{key}:q"), 1.0).await.unwrap();
        assert_eq!(job.map(|j| j.1).as_deref(), Some("job"));
        // A subscriber (over RESP3, on the client's own TLS connection).
        let mut sub = c.pubsub().await.unwrap();
        sub.subscribe(format!("{key}:ch")).await.unwrap();
        let _: i64 = c.publish(format!("{key}:ch"), "over tls").await.unwrap();
        let msg = support::bounded("a message over TLS", sub.next_message())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(msg.payload::<String>().unwrap(), "over tls");
    }
}

#[test]
fn a_node_over_tls_blocking() {
    use slotline::blocking::{Client, Commands};
    let c = Client::open(&tls_node().url()).unwrap();
    c.set("tls:blocking", 7).unwrap();
    assert_eq!(c.get::<i64>("tls:blocking").unwrap(), 7);
}

/// Connects through the facade with `url` and runs one GET; returns the error, checking it
/// came within the connect timeout (1 s) and a margin.
async fn refused(url: &str) -> slotline::Error {
    let url = support::with_option(url, "connect_timeout=1s");
    let started = Instant::now();
    let result = async {
        let c = Client::open(&url).await?;
        c.get::<Option<String>>("tls:refused").await
    }
    .await;
    let took = started.elapsed();
    let err = result.expect_err("the connection must be refused");
    assert!(
        took < Duration::from_millis(1500),
        "{url}: refused after {took:?}: {err}"
    );
    err
}

/// `rediss://127.0.0.1:port?ssl_ca_certs=<ca>` for a node.
fn url_with_ca(node: &Standalone, ca: &std::path::Path) -> String {
    format!("rediss://{}?ssl_ca_certs={}", node.addr(), ca.display())
}

/// Certificates of a CA the test nodes do not use.
fn stranger_files() -> &'static TlsFiles {
    static F: std::sync::OnceLock<(TlsFiles, std::path::PathBuf)> = std::sync::OnceLock::new();
    let (files, _) = F.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("slotline-tls-stranger-{}", std::process::id()));
        (TlsFiles::generate(&dir).unwrap(), dir)
    });
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_their_cause() {
    let node = tls_node();
    let files = node.tls_files().unwrap();

    // A server whose certificate a CA we do not trust signed.
    let err = refused(&url_with_ca(node, &stranger_files().ca_cert)).await;
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // The platform's roots do not know the test CA either.
    let err = refused(&format!("rediss://{}", node.addr())).await;
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // A certificate for another name.
    let other = Standalone::builder()
        .tls_server_cert(ServerCert::Named(vec!["redis.example".into()]))
        .start()
        .unwrap();
    let ca = &other.tls_files().unwrap().ca_cert;
    let err = refused(&url_with_ca(&other, ca)).await;
    assert!(err.to_string().contains("not valid for name"), "{err}");
    // ... which the name given for verification (SNI) makes right, as does turning the
    // name check off.
    for option in ["ssl_server_name=redis.example", "ssl_check_hostname=false"] {
        let c = Client::open(&format!("{}&{option}", url_with_ca(&other, ca)))
            .await
            .unwrap();
        c.set("tls:named", 1).await.unwrap();
    }

    // An expired certificate.
    let expired = Standalone::builder()
        .tls_server_cert(ServerCert::Expired)
        .start()
        .unwrap();
    let err = refused(&url_with_ca(
        &expired,
        &expired.tls_files().unwrap().ca_cert,
    ))
    .await;
    assert!(err.to_string().contains("expired"), "{err}");
    // ... which only the explicit opt-out accepts.
    let c = Client::open(&format!("rediss://{}?ssl_cert_reqs=none", expired.addr()))
        .await
        .unwrap();
    c.set("tls:insecure", 1).await.unwrap();

    // A server that requires a client certificate, and gets none; then gets one.
    let mutual = Standalone::builder().require_client_cert().start().unwrap();
    let mf = mutual.tls_files().unwrap();
    let err = refused(&url_with_ca(&mutual, &mf.ca_cert)).await;
    assert!(err.to_string().contains("client certificate"), "{err}");
    let with_cert = format!(
        "{}&ssl_certfile={}&ssl_keyfile={}",
        url_with_ca(&mutual, &mf.ca_cert),
        mf.client_cert.display(),
        mf.client_key.display()
    );
    let c = Client::open(&with_cert).await.unwrap();
    c.set("tls:mutual", 1).await.unwrap();
    assert_eq!(c.get::<i64>("tls:mutual").await.unwrap(), 1);

    // Plaintext to the TLS port, TLS to a plaintext port.
    let err = refused(&format!("redis://{}", node.addr())).await;
    assert!(err.to_string().contains("rediss://"), "{err}");
    let plain = support::standalone();
    let err = refused(&url_with_ca(plain, &files.ca_cert)).await;
    assert!(err.to_string().contains("redis://"), "{err}");
}

#[test]
fn refusals_name_their_cause_blocking() {
    use slotline::blocking::Client;
    let node = tls_node();
    let expired = Standalone::builder()
        .tls_server_cert(ServerCert::Expired)
        .start()
        .unwrap();
    for (url, cause) in [
        (
            url_with_ca(node, &stranger_files().ca_cert),
            "UnknownIssuer",
        ),
        (
            url_with_ca(&expired, &expired.tls_files().unwrap().ca_cert),
            "expired",
        ),
        (format!("redis://{}", node.addr()), "rediss://"),
    ] {
        let started = Instant::now();
        let err = Client::open(&support::with_option(&url, "connect_timeout=1s"))
            .and_then(|c| slotline::blocking::Commands::get::<Option<String>>(&c, "k"))
            .expect_err("refused");
        assert!(started.elapsed() < Duration::from_millis(1500), "{err}");
        assert!(err.to_string().contains(cause), "{url}: {err}");
    }
}

/// `?ssl_ca_certs=<ca>` for a topology's CA.
fn ca_option(files: &TlsFiles) -> String {
    format!("ssl_ca_certs={}", files.ca_cert.display())
}

/// A sentinel service over TLS (sentinels and data nodes): the master and replica clients
/// work, async and blocking, and follow a failover over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_service_over_tls() {
    let t = std::sync::Arc::new(
        slotline_testbed::SentinelTopology::builder()
            .tls()
            .start()
            .unwrap(),
    );
    let base = format!(
        "rediss+sentinel://{}/{}?{}",
        support::join(t.sentinel_addrs()),
        t.service(),
        ca_option(t.tls_files().unwrap())
    );
    let master = Client::open(&base).await.unwrap();
    let replicas = Client::open(&format!("{base}&role=replica")).await.unwrap();
    master.set("tls:sentinel", "one").await.unwrap();
    support::bounded("the write to reach a replica over TLS", async {
        while replicas
            .get::<Option<String>>("tls:sentinel")
            .await
            .ok()
            .flatten()
            .as_deref()
            != Some("one")
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    let blocking_url = base.clone();
    support::off_runtime(move || {
        use slotline::blocking::{Client, Commands};
        let c = Client::open(&blocking_url).unwrap();
        c.set("tls:sentinel:blocking", 1).unwrap();
        assert_eq!(c.get::<i64>("tls:sentinel:blocking").unwrap(), 1);
    })
    .await;

    let old = t.master_addr().unwrap();
    let failing = t.clone();
    let new = support::off_runtime(move || failing.failover().unwrap()).await;
    assert_ne!(old, new);
    support::bounded("writes on the new master over TLS", async {
        loop {
            let on_new = || {
                t.conn(new)
                    .and_then(|mut c| c.cmd(&["GET", "tls:sentinel"]))
                    .is_ok_and(|v| v.as_str() == Some("two"))
            };
            if master.set("tls:sentinel", "two").await.is_ok() && on_new() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(master.get::<String>("tls:sentinel").await.unwrap(), "two");
}

/// Sharding with sentinel over TLS: three services, keys split over their masters and
/// merged back, each on the master the ring names, async and blocking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_sentinel_services_over_tls() {
    let t = slotline_testbed::SentinelTopology::sharded()
        .tls()
        .start()
        .unwrap();
    let url = format!(
        "rediss+sentinel://{}/{}?{}",
        support::join(t.sentinel_addrs()),
        t.services().join(","),
        ca_option(t.tls_files().unwrap())
    );
    let c = Client::open(&url).await.unwrap();
    assert_eq!(c.mode(), "sharded-sentinel");
    let keys: Vec<String> = (0..30).map(|i| format!("tls:sharded:{i}")).collect();
    let pairs: Vec<(&String, usize)> = keys.iter().zip(0..).collect();
    c.mset(&pairs).await.unwrap();
    let got: Vec<Option<usize>> = c.mget(&keys).await.unwrap();
    assert_eq!(got, (0..30).map(Some).collect::<Vec<_>>());
    let ring = slotline_sentinel::Ring::new(t.services()).unwrap();
    let mut shards = std::collections::BTreeSet::new();
    for (i, k) in keys.iter().enumerate() {
        let shard = ring.shard_of(k.as_bytes());
        shards.insert(shard);
        let master = t.master_addr_of(t.services()[shard]).unwrap();
        let on = t.conn(master).unwrap().cmd(&["GET", k.as_str()]).unwrap();
        assert_eq!(on.as_str(), Some(i.to_string().as_str()), "{k}");
    }
    assert_eq!(shards.len(), 3, "30 keys should touch every shard");
    support::off_runtime(move || {
        use slotline::blocking::{Client, Commands};
        let c = Client::open(&url).unwrap();
        let got: Vec<Option<usize>> = c.mget(&keys).unwrap();
        assert_eq!(got, (0..30).map(Some).collect::<Vec<_>>());
        assert_eq!(c.del(&keys).unwrap(), 30);
    })
    .await;
}

/// A cluster over TLS (the bus too): keys on every master, a live reshard, and a master
/// killed: its replica takes over and writes resume, async and blocking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_over_tls() {
    let c = std::sync::Arc::new(slotline_testbed::Cluster::builder().tls().start().unwrap());
    let url = format!(
        "rediss+cluster://{}?{}",
        support::join(&c.seed_addrs()),
        ca_option(c.tls_files().unwrap())
    );
    let client = Client::open(&url).await.unwrap();
    let keys: Vec<String> = (0..100).map(|i| format!("tls:cluster:{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        client.set(k, i).await.unwrap();
    }
    let blocking_url = url.clone();
    support::off_runtime(move || {
        use slotline::blocking::{Client, Commands};
        let c = Client::open(&blocking_url).unwrap();
        assert_eq!(c.get::<i64>("tls:cluster:7").unwrap(), 7);
    })
    .await;

    // A live reshard of one key's slot.
    let slot = c.keyslot(&keys[3]).unwrap();
    let (_, target) = support::owner_and_other(&c, slot);
    let moving = c.clone();
    support::off_runtime(move || moving.move_slot(slot, target).unwrap()).await;
    assert_eq!(client.get::<i64>(&keys[3]).await.unwrap(), 3);

    // A master killed.
    let victim = c.slot_owner(c.keyslot(&keys[0]).unwrap()).unwrap();
    let killing = c.clone();
    support::off_runtime(move || {
        killing.kill(victim).unwrap();
        killing
            .wait_for_failover(victim, support::DEADLINE)
            .unwrap()
    })
    .await;
    support::bounded("writes after the failover over TLS", async {
        while client.set(&keys[0], "after").await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(client.get::<String>(&keys[0]).await.unwrap(), "after");
    for (i, k) in keys.iter().enumerate().skip(1) {
        assert_eq!(client.get::<i64>(k).await.unwrap(), i as i64, "{k}");
    }
}

/// A cluster whose certificates name hosts only, its nodes announced by IP: refused when
/// each node is checked against the address it is announced at (the default), reached when
/// every node is checked against the startup host (`ssl_node_name=startup`) or against the
/// host name it announces (`ssl_node_name=hostname`), async and blocking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_nodes_checked_against_host_names() {
    let names = vec!["localhost".to_string(), "*.nodes.slotline.test".to_string()];
    let c = std::sync::Arc::new(
        slotline_testbed::Cluster::builder()
            .tls_server_cert(ServerCert::Named(names))
            .start()
            .unwrap(),
    );
    let hostname = |a: std::net::SocketAddr| format!("n{}.nodes.slotline.test", a.port());
    let announcing = c.clone();
    support::off_runtime(move || {
        announcing
            .announce_hostnames(hostname, support::DEADLINE)
            .unwrap()
    })
    .await;
    let ca = ca_option(c.tls_files().unwrap());
    let by_name: Vec<String> = c
        .seed_addrs()
        .iter()
        .map(|a| format!("localhost:{}", a.port()))
        .collect();

    // Announced by IP, checked against the IP: the certificate does not name it.
    let by_ip = format!("rediss+cluster://{}?{ca}", support::join(&c.seed_addrs()));
    let err = refused(&by_ip).await;
    assert!(err.to_string().contains("not valid for name"), "{err}");
    // Reached by name, but the nodes are still checked against the IPs they announce.
    let err = refused(&format!("rediss+cluster://{}?{ca}", by_name.join(","))).await;
    assert!(err.to_string().contains("not valid for name"), "{err}");

    let keys: Vec<String> = (0..60).map(|i| format!("tls:named:{i}")).collect();
    for option in ["ssl_node_name=startup", "ssl_node_name=hostname"] {
        let url = format!("rediss+cluster://{}?{ca}&{option}", by_name.join(","));
        let client = Client::open(&url).await.unwrap();
        let Client::Cluster(cluster) = &client else {
            panic!("{url} opened {}", client.mode())
        };
        // Every master reached, at the IP it announces.
        let masters: Vec<_> = cluster
            .slot_map()
            .serving_masters()
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        assert_eq!(masters.len(), 3, "{masters:?}");
        assert!(
            masters
                .iter()
                .all(|a| a.to_string().starts_with("127.0.0.1:")),
            "{masters:?}"
        );
        for (i, k) in keys.iter().enumerate() {
            client.set(k, i).await.unwrap();
        }
        let got: Vec<Option<usize>> = client.mget(&keys).await.unwrap();
        assert_eq!(got, (0..60).map(Some).collect::<Vec<_>>(), "{option}");
        assert_eq!(client.del(&keys).await.unwrap(), 60);
        // A connection of its own to a key's master is checked against the same name.
        let own = cluster.dedicated_for_key(&keys[0]).await.unwrap();
        let pong: String = slotline::Query::query(&own, &slotline::cmd("PING"))
            .await
            .unwrap();
        assert_eq!(pong, "PONG");

        support::off_runtime(move || {
            use slotline::blocking::{Client, Commands};
            let c = Client::open(&url).unwrap();
            c.set("tls:named:blocking", option).unwrap();
            assert_eq!(c.get::<String>("tls:named:blocking").unwrap(), option);
            let (startup, config) = slotline_cluster::ClusterConfig::from_url(&url).unwrap();
            let cluster =
                slotline_cluster::blocking::ClusterClient::connect(startup, config).unwrap();
            let own = cluster.dedicated_for_key("tls:named:blocking").unwrap();
            let got: String = slotline::conn::blocking::Query::query(
                &own,
                &slotline::cmd("GET").arg("tls:named:blocking"),
            )
            .unwrap();
            assert_eq!(got, option);
        })
        .await;
    }

    // Checked against announced host names, but asked first at an IP: the startup node is
    // checked against the address it was given by, which the certificate does not name.
    let err = refused(&format!("{by_ip}&ssl_node_name=hostname")).await;
    assert!(err.to_string().contains("not valid for name"), "{err}");
}

/// A master with replicas over TLS (replication too): `Replicated` finds the replicas from
/// the master's `ROLE` and reads from them over TLS, async and blocking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_over_tls() {
    use slotline_conn::{ReadFrom, Replicated};
    let r = slotline_testbed::Replication::builder()
        .tls()
        .start()
        .unwrap();
    let url = r.url_for(r.master_addr());
    let c = Replicated::discover(url.as_str(), ReadFrom::Replica)
        .await
        .unwrap();
    assert_eq!(c.replicas().len(), 2);
    slotline_conn::Commands::set(&c, "tls:replicated", "v")
        .await
        .unwrap();
    support::bounded("the write to reach a replica over TLS", async {
        while slotline_conn::Commands::get::<Option<String>>(&c, "tls:replicated")
            .await
            .unwrap()
            .as_deref()
            != Some("v")
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    support::off_runtime(move || {
        let c =
            slotline_conn::blocking::Replicated::discover(url.as_str(), ReadFrom::Replica).unwrap();
        assert_eq!(
            slotline_conn::blocking::Commands::get::<String>(&c, "tls:replicated").unwrap(),
            "v"
        );
    })
    .await;
}

//! The test-bed servers every row runs against, started once, filled once, and how each
//! client reaches them.

use fred::prelude::{Config as FredConfig, ServerConfig as FredServers};
use fred::types::config::TlsConnector;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

use crate::load::{self, KEYSPACE};
use crate::scenario::{Flavour, Scenario};

/// The servers, started once for every row.
pub struct Servers {
    /// A plain node, for every scenario but the cluster and TLS ones.
    pub node: Option<slotline_testbed::Standalone>,
    /// 3 masters × 1 replica, for [`Scenario::Cluster`].
    pub cluster: Option<slotline_testbed::Cluster>,
    /// A node serving TLS only, for [`Scenario::Tls`].
    pub tls_node: Option<slotline_testbed::Standalone>,
}

impl Servers {
    /// Starts what `scenarios` need.
    pub fn start(scenarios: &[Scenario]) -> Servers {
        let needs_node = scenarios
            .iter()
            .any(|s| !matches!(s, Scenario::Cluster | Scenario::Tls));
        Servers {
            node: needs_node
                .then(|| slotline_testbed::Standalone::start().expect("a redis-server")),
            cluster: scenarios
                .contains(&Scenario::Cluster)
                .then(|| slotline_testbed::Cluster::start().expect("a cluster")),
            tls_node: scenarios.contains(&Scenario::Tls).then(|| {
                slotline_testbed::Standalone::builder()
                    .tls()
                    .start()
                    .expect("a TLS redis-server")
            }),
        }
    }

    /// `redis://127.0.0.1:port` of the plain node.
    pub fn node_url(&self) -> String {
        self.node.as_ref().map(|n| n.url()).unwrap_or_default()
    }

    /// `rediss://...?ssl_ca_certs=<its CA>`.
    pub fn tls_url(&self) -> String {
        self.tls_node.as_ref().map(|n| n.url()).unwrap_or_default()
    }

    /// A redis-rs client of the TLS node, trusting its CA.
    pub fn redis_rs_tls(&self) -> redis::Client {
        let node = self.tls_node.as_ref().expect("a TLS node");
        let ca = std::fs::read(&node.tls_files().expect("its CA").ca_cert).expect("read the CA");
        redis::Client::build_with_tls(
            format!("rediss://{}", node.addr()),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca),
            },
        )
        .expect("redis-rs TLS client")
    }

    /// The cluster's masters, `redis://127.0.0.1:port` each.
    pub fn cluster_urls(&self) -> Vec<String> {
        self.cluster_masters()
            .into_iter()
            .map(|a| format!("redis://{a}"))
            .collect()
    }

    fn cluster_masters(&self) -> Vec<std::net::SocketAddr> {
        self.cluster
            .as_ref()
            .and_then(|c| c.masters().ok())
            .unwrap_or_default()
    }

    /// fred's configuration for `scenario`'s servers: the plain node, the TLS node (rustls,
    /// trusting its CA as the redis-rs client does), or the cluster from its masters.
    pub fn fred_config(&self, scenario: Scenario) -> FredConfig {
        match scenario {
            Scenario::Cluster => FredConfig {
                server: FredServers::new_clustered(
                    self.cluster_masters()
                        .into_iter()
                        .map(|a| (a.ip().to_string(), a.port()))
                        .collect(),
                ),
                ..FredConfig::default()
            },
            Scenario::Tls => {
                let node = self.tls_node.as_ref().expect("a TLS node");
                let ca = &node.tls_files().expect("its CA").ca_cert;
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(ca).expect("read the CA") {
                    roots
                        .add(cert.expect("a CA certificate"))
                        .expect("trust the CA");
                }
                let tls = rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                FredConfig {
                    server: FredServers::new_centralized(
                        node.addr().ip().to_string(),
                        node.addr().port(),
                    ),
                    tls: Some(TlsConnector::from(tls).into()),
                    ..FredConfig::default()
                }
            }
            Scenario::Resp3 | Scenario::Hot | Scenario::Cached => FredConfig {
                version: fred::types::RespVersion::RESP3,
                ..FredConfig::from_url(&self.node_url()).expect("fred's config of the node")
            },
            _ => FredConfig::from_url(&self.node_url()).expect("fred's config of the node"),
        }
    }

    /// The pids of the redis-servers that answer `scenario` (the cluster's masters).
    pub fn pids(&self, scenario: Scenario) -> Vec<u32> {
        match scenario {
            Scenario::Cluster => {
                let Some(cluster) = &self.cluster else {
                    return Vec::new();
                };
                self.cluster_masters()
                    .into_iter()
                    .filter_map(|a| cluster.process(a).ok()?.pid())
                    .collect()
            }
            Scenario::Tls => self.tls_node.iter().filter_map(standalone_pid).collect(),
            _ => self.node.iter().filter_map(standalone_pid).collect(),
        }
    }

    /// Sets every key of the keyspace (3-byte values), on the nodes and on the cluster, and
    /// the hot keys (100-byte values) on the nodes.
    pub fn fill_keys(&self) {
        let fill = async {
            let mut buf = [0u8; 16];
            let keys: Vec<Vec<u8>> = (0..KEYSPACE)
                .map(|n| {
                    let len = load::key(n, &mut buf);
                    buf[..len].to_vec()
                })
                .collect();
            let nodes = [
                self.node.as_ref().map(|_| self.node_url()),
                self.tls_node.as_ref().map(|_| self.tls_url()),
            ];
            for url in nodes.into_iter().flatten() {
                let c = slotline_conn::Client::connect(url.as_str())
                    .await
                    .expect("connect to the node");
                for chunk in keys.chunks(500) {
                    let pairs: Vec<(&[u8], &str)> = chunk.iter().map(|k| (&k[..], "xxx")).collect();
                    slotline_conn::Commands::mset(&c, &pairs)
                        .await
                        .expect("MSET");
                }
                let hot_value = "h".repeat(load::HOT_VALUE_LEN);
                let hot: Vec<(Vec<u8>, &str)> = (KEYSPACE..KEYSPACE + load::HOT_KEYS)
                    .map(|n| {
                        let len = load::key(n, &mut buf);
                        (buf[..len].to_vec(), hot_value.as_str())
                    })
                    .collect();
                let pairs: Vec<(&[u8], &str)> = hot.iter().map(|(k, v)| (&k[..], *v)).collect();
                slotline_conn::Commands::mset(&c, &pairs).await.expect("MSET");
            }
            if self.cluster.is_some() {
                let c = slotline_cluster::ClusterClient::connect(
                    self.cluster_urls(),
                    slotline_cluster::ClusterConfig::default(),
                )
                .await
                .expect("connect to the cluster");
                for chunk in keys.chunks(500) {
                    let pairs: Vec<(&[u8], &str)> = chunk.iter().map(|k| (&k[..], "xxx")).collect();
                    slotline_conn::Commands::mset(&c, &pairs)
                        .await
                        .expect("MSET");
                }
            }
        };
        Flavour::Current.build().block_on(fill);
    }
}

/// The pid of a test-bed node's process.
fn standalone_pid(node: &slotline_testbed::Standalone) -> Option<u32> {
    node.process().ok()?.pid()
}

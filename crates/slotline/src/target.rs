//! What a URL names: one node, a sentinel-managed service, several of them sharded by the
//! client, or a cluster.

use slotline_conn::url::{parse_db_path, RedisUrl};
use slotline_conn::{Addr, ConnectionConfig, Error, Result, TlsConfig, DEFAULT_PORT};
use slotline_sentinel::{SentinelConfig, DEFAULT_SENTINEL_PORT};

/// The deployment a URL names, with everything needed to connect to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Target {
    /// `redis://`, `rediss://`, `redis+unix://`: one node.
    Node(ConnectionConfig),
    /// `redis+sentinel://h1:p1,h2:p2/service[/db][?role=replica]`.
    Sentinel {
        /// The sentinels, in the order given.
        sentinels: Vec<Addr>,
        /// The service (master name).
        service: String,
        /// Sentinel and data-node settings.
        config: Box<SentinelConfig>,
        /// Whether reads go to a replica (`role=replica`) rather than the master.
        replica: bool,
    },
    /// `redis+sentinel://h1:p1,h2:p2/svc1,svc2,svc3[/db][?role=replica]`: several services
    /// are sharded by the client over a ketama ring (see
    /// [`ShardedClient`](slotline_sentinel::ShardedClient)).
    ShardedSentinel {
        /// The sentinels, in the order given.
        sentinels: Vec<Addr>,
        /// The services, in shard order.
        services: Vec<String>,
        /// Sentinel and data-node settings.
        config: Box<SentinelConfig>,
        /// Whether reads go to each shard's replicas (`role=replica`); writes still go to
        /// the masters.
        replica: bool,
    },
    /// `redis+cluster://h1:p1,h2:p2`: the original URL, read by `slotline-cluster`.
    Cluster(String),
}

impl Target {
    /// Reads a URL.
    ///
    /// ```
    /// use slotline::Target;
    /// let t = Target::parse("redis+sentinel://:secret@127.0.0.1:26379,127.0.0.1:26380/mymaster/2?role=replica")?;
    /// let Target::Sentinel { sentinels, service, config, replica } = t else { panic!() };
    /// assert_eq!((sentinels.len(), service.as_str(), config.node.db, replica), (2, "mymaster", 2, true));
    /// assert_eq!(config.node.password.as_deref(), Some("secret"));
    ///
    /// let t = Target::parse("redis+sentinel://127.0.0.1:26379/svc1,svc2,svc3")?;
    /// let Target::ShardedSentinel { services, .. } = t else { panic!() };
    /// assert_eq!(services, ["svc1", "svc2", "svc3"]);
    /// # Ok::<(), slotline::Error>(())
    /// ```
    pub fn parse(url: &str) -> Result<Target> {
        let parsed = RedisUrl::parse(url)?;
        match parsed.scheme.as_str() {
            "redis" | "rediss" | "redis+unix" | "unix" => {
                Ok(Target::Node(parsed.into_connection_config()?))
            }
            "redis+cluster" | "rediss+cluster" => {
                // Read it now, so that a bad option (`read_from=bogus`, a db) is refused
                // here rather than at connect time.
                slotline_cluster::ClusterConfig::from_url(url)?;
                Ok(Target::Cluster(url.to_string()))
            }
            "redis+sentinel" | "rediss+sentinel" => sentinel_target(parsed),
            other => Err(Error::config(format!(
                "unknown scheme {other:?}: expected redis://, rediss://, redis+unix://, \
                 redis+sentinel:// or redis+cluster://"
            ))),
        }
    }
}

fn sentinel_target(url: RedisUrl) -> Result<Target> {
    let bad = |why: &str| Error::config(format!("invalid sentinel URL: {why}"));
    let sentinels: Vec<Addr> = url
        .hosts
        .iter()
        .map(|(host, port)| Addr::tcp(host.clone(), port.unwrap_or(DEFAULT_SENTINEL_PORT)))
        .collect();
    let mut parts = url.path.trim_start_matches('/').splitn(2, '/');
    let service = parts
        .next()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("no service name (expected redis+sentinel://host:26379/mymaster)"))?
        .to_string();
    let services: Vec<String> = service.split(',').map(str::to_string).collect();
    if services.iter().any(String::is_empty) {
        return Err(bad(&format!(
            "an empty service name in {service:?} (expected /svc1,svc2,svc3)"
        )));
    }
    let mut node = ConnectionConfig::new(Addr::tcp("127.0.0.1", DEFAULT_PORT));
    node.db = parse_db_path(parts.next().unwrap_or(""))?;
    node.tls = url
        .scheme
        .starts_with("rediss")
        .then(|| Box::new(TlsConfig::new()));
    node.username = url.username.clone();
    node.password = url.password.clone();
    url.apply_options(
        &mut node,
        &[
            "role",
            "sentinel_password",
            "sentinel_username",
            "sentinel_tls",
        ],
    )?;
    if node.username.is_some() && node.password.is_none() {
        return Err(bad(
            "a user name needs a password (redis+sentinel://user:pass@host/service)",
        ));
    }
    let replica = match url.option("role").unwrap_or("master") {
        "master" | "primary" => false,
        "replica" | "slave" => true,
        other => return Err(bad(&format!("role={other:?} (expected master or replica)"))),
    };
    // TLS to the sentinels as to the data nodes, unless `sentinel_tls=off`.
    let sentinel_tls = match url.option("sentinel_tls").unwrap_or("on") {
        "on" | "yes" | "true" => node.tls.as_deref().cloned(),
        "off" | "no" | "false" => None,
        other => return Err(bad(&format!("sentinel_tls={other:?} (expected on or off)"))),
    };
    let mut config = SentinelConfig::default()
        .with_node_config(node)
        .with_sentinel_tls(sentinel_tls);
    match (
        url.option("sentinel_username"),
        url.option("sentinel_password"),
    ) {
        (Some(user), Some(pass)) => config = config.with_sentinel_user(user, pass),
        (None, Some(pass)) => config = config.with_sentinel_password(pass),
        (Some(_), None) => return Err(bad("sentinel_username needs sentinel_password")),
        (None, None) => {}
    }
    let config = Box::new(config);
    if services.len() > 1 {
        return Ok(Target::ShardedSentinel {
            sentinels,
            services,
            config,
            replica,
        });
    }
    Ok(Target::Sentinel {
        sentinels,
        service,
        config,
        replica,
    })
}

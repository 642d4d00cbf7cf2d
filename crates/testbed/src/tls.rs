//! TLS for test-bed topologies: a CA, a server certificate and a client certificate made
//! per run with `rcgen` (nothing downloaded), and the test bed's own TLS client, used to
//! drive and probe the nodes whose ports speak TLS.
//!
//! ```no_run
//! # fn main() -> slotline_testbed::Result<()> {
//! let node = slotline_testbed::Standalone::builder().tls().start()?;
//! let files = node.tls_files().expect("a TLS node");
//! println!("rediss://{}?ssl_ca_certs={}", node.addr(), files.ca_cert.display());
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::ServerName;

use crate::error::{Error, Result};

/// How the server certificate of [`TlsFiles::generate_with`] is made (the refusal tests use
/// the odd ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCert {
    /// Valid now, for `localhost`, `127.0.0.1` and `::1`.
    Loopback,
    /// Valid now, for these DNS names only (so not for the loopback address).
    Named(Vec<String>),
    /// For the loopback names, but expired in 2021.
    Expired,
}

/// The PEM files of one TLS set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate that signed the others.
    pub ca_cert: PathBuf,
    /// The servers' certificate (also shown by the servers to each other).
    pub server_cert: PathBuf,
    /// Its key.
    pub server_key: PathBuf,
    /// A client certificate signed by the CA, for mutual TLS.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// A CA, a server certificate for the loopback names and a client certificate, written
    /// into `dir`.
    pub fn generate(dir: &Path) -> Result<TlsFiles> {
        TlsFiles::generate_with(dir, ServerCert::Loopback)
    }

    /// The same with the server certificate made as `server` says.
    pub fn generate_with(dir: &Path, server: ServerCert) -> Result<TlsFiles> {
        let bad = |e: rcgen::Error| Error::Invalid(format!("generating TLS certificates: {e}"));
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(bad)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: another set-up's CA is an unknown issuer, not a namesake.
        ca.distinguished_name.push(
            DnType::CommonName,
            format!("slotline test-bed CA ({})", dir.display()),
        );
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca =
            CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(bad)?).map_err(bad)?;

        let mut params = match &server {
            ServerCert::Named(names) => CertificateParams::new(names.clone()).map_err(bad)?,
            _ => {
                let mut p = CertificateParams::new(vec!["localhost".to_string()]).map_err(bad)?;
                p.subject_alt_names
                    .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
                p.subject_alt_names
                    .push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
                p
            }
        };
        if server == ServerCert::Expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        params
            .distinguished_name
            .push(DnType::CommonName, "slotline test-bed server");
        // Servers show it to each other too (replication, the cluster bus, sentinels).
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let server_key = KeyPair::generate().map_err(bad)?;
        let server_cert = params.signed_by(&server_key, &ca).map_err(bad)?;

        let mut client = CertificateParams::new(Vec::<String>::new()).map_err(bad)?;
        client
            .distinguished_name
            .push(DnType::CommonName, "slotline test-bed client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().map_err(bad)?;
        let client_cert = client.signed_by(&client_key, &ca).map_err(bad)?;

        let files = TlsFiles {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        };
        for (path, text) in [
            (&files.ca_cert, ca.pem()),
            (&files.server_cert, server_cert.pem()),
            (&files.server_key, server_key.serialize_pem()),
            (&files.client_cert, client_cert.pem()),
            (&files.client_key, client_key.serialize_pem()),
        ] {
            std::fs::write(path, text)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        }
        Ok(files)
    }

    /// The `redis.conf` lines of a node serving TLS on `port` (plaintext off); with
    /// `require_client_cert`, clients must show a certificate signed by the CA.
    pub(crate) fn server_config(&self, port: u16, require_client_cert: bool) -> Vec<String> {
        let q = |p: &Path| crate::process::quote(&p.to_string_lossy());
        vec![
            "port 0".to_string(),
            format!("tls-port {port}"),
            format!("tls-cert-file {}", q(&self.server_cert)),
            format!("tls-key-file {}", q(&self.server_key)),
            format!("tls-ca-cert-file {}", q(&self.ca_cert)),
            format!(
                "tls-auth-clients {}",
                if require_client_cert {
                    "yes"
                } else {
                    "optional"
                }
            ),
            "tls-replication yes".to_string(),
        ]
    }

    /// The test bed's own client set-up: shows the client certificate, trusts any server
    /// (it drives its own nodes, odd certificates included).
    fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        slotline_conn::TlsConfig::new()
            .insecure_no_verify()
            .with_client_cert(&self.client_cert, &self.client_key)
            .client_config()
            .map_err(|e| Error::Invalid(format!("test-bed TLS client: {e}")))
    }
}

/// TLS of a topology's processes: its files, and whether clients must show a certificate.
#[derive(Debug, Clone)]
pub(crate) struct TlsSetup {
    pub(crate) files: TlsFiles,
    pub(crate) require_client_cert: bool,
}

/// What a topology builder was asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsRequest {
    pub(crate) on: bool,
    pub(crate) server: Option<ServerCert>,
    pub(crate) require_client_cert: bool,
}

impl TlsRequest {
    /// The files for a topology in `dir`, generated now; `None` without TLS.
    pub(crate) fn setup(&self, dir: &Path) -> Result<Option<TlsSetup>> {
        if !self.on {
            return Ok(None);
        }
        let server = self.server.clone().unwrap_or(ServerCert::Loopback);
        Ok(Some(TlsSetup {
            files: TlsFiles::generate_with(&dir.join("tls"), server)?,
            require_client_cert: self.require_client_cert,
        }))
    }
}

/// The ports of this process's test-bed nodes that speak TLS, with the client set-up to
/// reach them: the test bed's own connections ([`crate::wire::Conn`]) look here.
fn registry() -> &'static Mutex<HashMap<u16, Arc<rustls::ClientConfig>>> {
    static PORTS: OnceLock<Mutex<HashMap<u16, Arc<rustls::ClientConfig>>>> = OnceLock::new();
    PORTS.get_or_init(Mutex::default)
}

/// The TLS client set-up for a test-bed node on `port`, if that port speaks TLS.
pub(crate) fn client_for(port: u16) -> Option<Arc<rustls::ClientConfig>> {
    crate::process::lock(registry()).get(&port).cloned()
}

/// Marks a port as speaking TLS while it lives.
#[derive(Debug)]
pub(crate) struct TlsPort(u16);

impl TlsPort {
    pub(crate) fn register(port: u16, files: &TlsFiles) -> Result<TlsPort> {
        let config = files.client_config()?;
        crate::process::lock(registry()).insert(port, config);
        Ok(TlsPort(port))
    }
}

impl Drop for TlsPort {
    fn drop(&mut self) {
        crate::process::lock(registry()).remove(&self.0);
    }
}

/// The name the test bed's client sends (it accepts any certificate).
pub(crate) fn loopback_name() -> ServerName<'static> {
    ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into())
}

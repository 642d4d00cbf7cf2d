//! [`TlsConfig`]: how a connection speaks TLS (rustls, no OpenSSL): which certificates it
//! trusts, the client certificate it shows, the name it checks, and the explicit opt-out of
//! verification for self-signed test set-ups.
//!
//! The server's certificate is verified by default, against the platform's trusted roots
//! (read from the operating system's store by `rustls-native-certs`: the same roots the
//! machine's other programs trust, updated with it, rather than a bundle frozen into the
//! binary) or against the CA file given. The name checked (and sent as SNI) is the host
//! connected to, unless [`server_name`](TlsConfig::server_name) says otherwise: a node
//! reached by IP whose certificate names a host.
//!
//! ```
//! use slotline_conn::{ConnectionConfig, TlsConfig};
//! let tls = TlsConfig::new()
//!     .with_ca_file("/etc/redis/ca.crt")
//!     .with_client_cert("/etc/redis/client.crt", "/etc/redis/client.key")
//!     .with_server_name("redis.internal");
//! let config = ConnectionConfig::from_url("rediss://10.0.0.5:6380")?.with_tls(tls);
//! # let _ = config; Ok::<(), slotline_conn::Error>(())
//! ```

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use slotline_command::RefusedHandshake;

use crate::{Error, Result};

/// TLS settings of a connection (see the [module](self) documentation).
#[derive(Clone)]
#[non_exhaustive]
pub struct TlsConfig {
    /// PEM file of the CA certificates to trust; `None`: the platform's roots.
    pub ca_file: Option<PathBuf>,
    /// PEM files of the client certificate chain and its private key, for servers that
    /// ask for one (mutual TLS, `tls-auth-clients yes`).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The name sent as SNI and checked against the server's certificate; `None`: the
    /// host connected to (an IP address is checked against the certificate's IP names).
    pub server_name: Option<String>,
    /// Whether the certificate must name the host (default true; `false` still checks
    /// that a trusted CA signed it).
    pub check_hostname: bool,
    /// Whether the server's certificate is verified at all (default true). Off only for
    /// self-signed test set-ups: anyone on the path can then impersonate the server.
    pub verify: bool,
    /// The rustls configuration built from the above, once per configuration (clones
    /// share it; certificates are read again only by a new `TlsConfig`).
    built: Arc<OnceLock<std::result::Result<Arc<rustls::ClientConfig>, String>>>,
}

impl TlsConfig {
    /// Verified TLS against the platform's roots, checking the host name.
    pub fn new() -> Self {
        TlsConfig {
            ca_file: None,
            client_cert: None,
            server_name: None,
            check_hostname: true,
            verify: true,
            built: Arc::default(),
        }
    }

    /// Trusts the CA certificates of this PEM file instead of the platform's roots.
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self.rebuilt()
    }

    /// Shows this client certificate (PEM chain) with its private key (PEM).
    pub fn with_client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert = Some((cert.into(), key.into()));
        self.rebuilt()
    }

    /// Sends `name` as SNI and checks the certificate against it.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Checks that a trusted CA signed the certificate, but not the name in it.
    pub fn without_hostname_check(mut self) -> Self {
        self.check_hostname = false;
        self.rebuilt()
    }

    /// Accepts any certificate (self-signed test set-ups only: the connection is encrypted
    /// but not authenticated).
    pub fn insecure_no_verify(mut self) -> Self {
        self.verify = false;
        self.rebuilt()
    }

    fn rebuilt(mut self) -> Self {
        self.built = Arc::default();
        self
    }

    /// The name to send and check for a connection to `host`.
    pub(crate) fn name_for(&self, host: &str) -> Result<ServerName<'static>> {
        let name = self.server_name.as_deref().unwrap_or(host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(name.to_string())
            .map_err(|_| Error::config(format!("TLS: {name:?} is not a valid server name")))
    }

    /// The rustls configuration, built (and its files read) on first use; public for
    /// connections slotline does not make itself (a proxy, the test bed's own probes).
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        self.built
            .get_or_init(|| self.build().map(Arc::new))
            .clone()
            .map_err(Error::config)
    }

    fn build(&self) -> std::result::Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let webpki = match self.verify {
            false => None,
            true => Some(
                WebPkiServerVerifier::builder_with_provider(
                    Arc::new(self.roots()?),
                    provider.clone(),
                )
                .build()
                .map_err(|e| format!("TLS: no usable CA certificate: {e}"))?,
            ),
        };
        let verifier = Arc::new(Verifier {
            webpki,
            check_hostname: self.check_hostname,
            provider,
        });
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        match &self.client_cert {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain = read_certs(cert)?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("TLS: reading the key {}: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("TLS: the client certificate and key: {e}"))
            }
        }
    }

    fn roots(&self) -> std::result::Result<RootCertStore, String> {
        let mut roots = RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                for cert in read_certs(path)? {
                    roots
                        .add(cert)
                        .map_err(|e| format!("TLS: a CA certificate in {}: {e}", path.display()))?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(format!(
                        "TLS: the platform has no trusted root certificates ({} errors); give a CA file (ssl_ca_certs)",
                        found.errors.len()
                    ));
                }
            }
        }
        Ok(roots)
    }
}

fn read_certs(path: &std::path::Path) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect())
        .map_err(|e| format!("TLS: reading {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("TLS: no certificate in {}", path.display()));
    }
    Ok(certs)
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig::new()
    }
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field("server_name", &self.server_name)
            .field("check_hostname", &self.check_hostname)
            .field("verify", &self.verify)
            .finish()
    }
}

impl PartialEq for TlsConfig {
    fn eq(&self, other: &Self) -> bool {
        self.ca_file == other.ca_file
            && self.client_cert == other.client_cert
            && self.server_name == other.server_name
            && self.check_hostname == other.check_hostname
            && self.verify == other.verify
    }
}

/// What a connect timeout during the TLS handshake waited for: a plaintext server reads a
/// client hello as the start of a command and waits for its end.
pub(crate) const HANDSHAKE_UNANSWERED: &str =
    "the TLS handshake (no answer: does this port speak TLS? for a plaintext port use redis://)";

/// What a TLS handshake error says, with a hint where the usual cause is known. A
/// refusal by TLS itself (a certificate not trusted or not for the name, a peer that does
/// not speak TLS: rustls' `InvalidData`) is marked [`RefusedHandshake`]: trying again
/// would be refused again, so it is never retried (see [`RefusedHandshake::is_cause_of`]); a
/// handshake cut short by the network is an ordinary I/O error.
pub(crate) fn handshake_error(e: &std::io::Error) -> std::io::Error {
    let text = e.to_string();
    let hint = if text.contains("corrupt message") || text.contains("InvalidContentType") {
        " (does this port speak TLS? for a plaintext port use redis://)"
    } else if text.contains("CertificateRequired") || text.contains("certificate required") {
        " (the server requires a client certificate: ssl_certfile and ssl_keyfile)"
    } else {
        ""
    };
    let message = format!("TLS handshake failed: {text}{hint}");
    match e.kind() {
        std::io::ErrorKind::InvalidData => {
            std::io::Error::new(e.kind(), RefusedHandshake::new(message))
        }
        kind => std::io::Error::new(kind, message),
    }
}

/// `e` with `context` before its message, still a [`RefusedHandshake`] if it was one.
pub(crate) fn in_context(e: &std::io::Error, context: impl std::fmt::Display) -> std::io::Error {
    let message = format!("{context}: {e}");
    if RefusedHandshake::is_cause_of(e) {
        return std::io::Error::new(e.kind(), RefusedHandshake::new(message));
    }
    std::io::Error::new(e.kind(), message)
}

/// A failure of the set-up round trip over TLS (see `protocol::handshake`), told as the
/// TLS refusal it usually is (a client certificate the server wants); it never ran.
pub(crate) fn setup_error(e: Error) -> Error {
    match e.io_error() {
        Some(source) => Error::io(handshake_error(source), false),
        None => e,
    }
}

/// Verifies the server's certificate as [`TlsConfig`] says: against the roots (`webpki`),
/// with or without its name, or not at all (`webpki` `None`). Handshake signatures are
/// always checked, so the handshake itself is sound.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    check_hostname: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_hostname => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

//! The settings every topology builder has, written once: [`common_setters!`] gives a
//! builder with the fields `requirepass`, `config`, `timeout`, `local` and `tls` the methods
//! of the same names (and `tls_server_cert`).

/// The common builder methods, for a builder whose topology is `$topology` (named in the
/// docs) and whose environment variable is `$env`. Pick the methods: `requirepass`,
/// `config`, `timeout`, `local`, `tls`, `tls_server_cert`.
macro_rules! common_setters {
    ($env:literal; $($method:ident),+) => {
        $($crate::builder::common_setters!(@ $env; $method);)+
    };
    (@ $env:literal; requirepass) => {
        /// Sets `requirepass` (the `default` user's password) on every node, and
        /// `masterauth` where nodes replicate.
        pub fn requirepass(mut self, password: impl Into<String>) -> Self {
            self.requirepass = Some(password.into());
            self
        }
    };
    (@ $env:literal; config) => {
        /// Adds a raw `redis.conf` line (e.g. `"maxmemory 10mb"`) to every data node.
        pub fn config(mut self, line: impl Into<String>) -> Self {
            self.config.push(line.into());
            self
        }
    };
    (@ $env:literal; timeout) => {
        /// Deadline for the topology to be ready (default 30 s).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.timeout = timeout;
            self
        }
    };
    (@ $env:literal; local) => {
        #[doc = concat!("Always start locally, even when `", $env, "` is set (for tests that")]
        /// need a particular configuration or faults).
        pub fn local(mut self) -> Self {
            self.local = true;
            self
        }
    };
    (@ $env:literal; tls) => {
        /// Serves TLS only (plaintext off; replication, sentinels and the cluster bus over
        /// TLS too), with a CA, server and client certificates made for this topology (see
        /// its `tls_files`); clients may show a certificate.
        pub fn tls(mut self) -> Self {
            self.tls.on = true;
            self.local = true;
            self
        }
    };
    (@ $env:literal; tls_server_cert) => {
        /// [`tls`](Self::tls) with the server certificate made as `cert` says (for
        /// instance for host names only, which nodes announced by IP do not match).
        pub fn tls_server_cert(mut self, cert: crate::tls::ServerCert) -> Self {
            self.tls.server = Some(cert);
            self.tls()
        }
    };
}

pub(crate) use common_setters;

//! TLS to PostgreSQL. Every connection the platform opens — tenant pools, admin sessions — is
//! TLS with the server's certificate verified against a CA bundle and its name checked against
//! the host connected to (libpq's `verify-full`); SCRAM then binds the authentication to that
//! TLS session (`SCRAM-SHA-256-PLUS`, tls-server-end-point) whenever the server offers it. A
//! server that does not speak TLS, or whose certificate does not verify, is refused before a
//! password is sent.
//!
//! The bundle is named by `DATABASE_CA_FILE`: a PEM file (on AWS the RDS bundle, shipped in a
//! layer; locally the CA `scripts/services.sh` makes), or `system` for the operating system's
//! trust store (a managed PostgreSQL with a publicly trusted certificate). There is no
//! plaintext setting.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::{ChannelBinding, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::platform::config::{ConfigError, Env};

/// The environment variable naming the CA bundle.
pub const CA_FILE_VAR: &str = "DATABASE_CA_FILE";

/// Where the trusted certificate authorities come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// A PEM bundle of CA certificates.
    File(PathBuf),
    /// The operating system's trust store.
    System,
}

/// Why the TLS setup could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read the CA bundle {path}: {source}")]
    Read {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("the CA bundle {0} holds no certificate")]
    Empty(PathBuf),
    #[error("the CA bundle {path} holds no usable certificate ({rejected} rejected)")]
    Unusable { path: PathBuf, rejected: usize },
    #[error("the system trust store holds no certificate")]
    NoSystemRoots,
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A verifying TLS connector for PostgreSQL, built once per container and cloned cheaply.
#[derive(Clone)]
pub struct DatabaseTls {
    source: CaSource,
    connector: MakeRustlsConnect,
}

impl fmt::Debug for DatabaseTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseTls")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl PartialEq for DatabaseTls {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for DatabaseTls {}

impl DatabaseTls {
    /// `DATABASE_CA_FILE` (required): a PEM path, or `system`. Read at cold start: a missing or
    /// unreadable bundle stops the function before it serves anything.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let value = env.required(CA_FILE_VAR)?;
        let source = if value == "system" {
            CaSource::System
        } else {
            CaSource::File(PathBuf::from(value))
        };
        Self::new(source).map_err(|e| ConfigError::Invalid {
            name: CA_FILE_VAR,
            reason: e.to_string(),
        })
    }

    /// Trusting the CAs of `source`.
    pub fn new(source: CaSource) -> Result<Self, TlsSetupError> {
        let roots = match &source {
            CaSource::File(path) => roots_from_pem(path)?,
            CaSource::System => system_roots()?,
        };
        Self::trusting(source, roots)
    }

    /// A connector that trusts no server: for code that never connects (unit tests).
    #[cfg(test)]
    pub(crate) fn trusting_nothing() -> Self {
        Self::trusting(CaSource::File(PathBuf::new()), RootCertStore::empty())
            .expect("the default protocol versions are supported")
    }

    fn trusting(source: CaSource, roots: RootCertStore) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            source,
            connector: MakeRustlsConnect::new(config),
        })
    }

    /// Where the trusted CAs come from.
    pub fn source(&self) -> &CaSource {
        &self.source
    }

    /// The connector for `Config::connect` and connection pools.
    pub fn connector(&self) -> MakeRustlsConnect {
        self.connector.clone()
    }

    /// Makes `config` refuse anything but TLS, and bind SCRAM to the TLS session when the
    /// server offers it (`Require` would refuse a server or proxy that does not).
    pub fn secure(config: &mut tokio_postgres::Config) -> &mut tokio_postgres::Config {
        config
            .ssl_mode(SslMode::Require)
            .channel_binding(ChannelBinding::Prefer)
    }

    /// Opens a verified connection with `config`; the caller drives the connection future.
    pub async fn connect(
        &self,
        mut config: tokio_postgres::Config,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<
                tokio_postgres::Socket,
                <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
                    tokio_postgres::Socket,
                >>::Stream,
            >,
        ),
        tokio_postgres::Error,
    > {
        Self::secure(&mut config);
        config.connect(self.connector()).await
    }
}

fn roots_from_pem(path: &Path) -> Result<RootCertStore, TlsSetupError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsSetupError::Read {
            path: path.to_owned(),
            source,
        })?;
    if certificates.is_empty() {
        return Err(TlsSetupError::Empty(path.to_owned()));
    }
    let mut roots = RootCertStore::empty();
    let (added, rejected) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(TlsSetupError::Unusable {
            path: path.to_owned(),
            rejected,
        });
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    // Unreadable individual files are skipped, as every TLS client does.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if roots.is_empty() {
        return Err(TlsSetupError::NoSystemRoots);
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::config::pairs_env;

    #[test]
    fn the_ca_file_is_required_and_must_hold_a_certificate() {
        let err = DatabaseTls::from_env(&pairs_env(&[])).unwrap_err();
        assert_eq!(err, ConfigError::Missing(CA_FILE_VAR));

        let err =
            DatabaseTls::from_env(&pairs_env(&[(CA_FILE_VAR, "/nonexistent/ca.pem")])).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = DatabaseTls::new(CaSource::File(empty)).unwrap_err();
        assert!(matches!(err, TlsSetupError::Empty(_)), "{err}");

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = DatabaseTls::new(CaSource::File(garbage)).unwrap_err();
        assert!(matches!(err, TlsSetupError::Unusable { .. }), "{err}");
    }

    #[test]
    fn secured_configs_require_tls_and_prefer_channel_binding() {
        let mut config = tokio_postgres::Config::new();
        DatabaseTls::secure(&mut config);
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert_eq!(config.get_channel_binding(), ChannelBinding::Prefer);
    }
}

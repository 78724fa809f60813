//! AWS SDK configuration, loaded once per cold start. `AWS_ENDPOINT_URL` points every client at a
//! local emulator; S3 then needs path-style addressing (no per-bucket DNS names on loopback).
//!
//! The SDK's HTTPS client trusts the roots of Amazon Trust Services, compiled in: every AWS
//! service endpoint's certificate chains to one of them, so a cold start reads no certificate
//! store and parses five certificates instead of the system's hundred and forty (the default
//! reads and decodes the whole system store, a third of a function's init). `AWS_CA_BUNDLE` (the
//! variable the AWS CLI and the other SDKs honour) names a PEM bundle to trust instead, for a
//! TLS-inspecting proxy or an emulator behind TLS.

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// Amazon Root CA 1–4 and Starfield Services Root CA G2 (which cross-signs them).
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("amazon-trust-services.pem");
/// Names a PEM bundle to trust instead.
const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";

/// The shared SDK configuration: region and credentials from the environment where Lambda sets
/// them, else from the standard provider chains.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let bundle = std::env::var_os(CA_BUNDLE_VAR).and_then(|path| {
        let path = std::path::PathBuf::from(path);
        trusted_bundle(&path)
            .inspect_err(|reason| {
                tracing::warn!(path = %path.display(), %reason,
                    "AWS_CA_BUNDLE unusable; trusting Amazon Trust Services");
            })
            .ok()
    });
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client(
        bundle.unwrap_or_else(|| AMAZON_TRUST_SERVICES.to_vec()),
    ));
    // Lambda puts the region and the role's credentials in the environment, where the default
    // chains look first. Taken from there directly, the chains' other sources are not built at
    // all: the web-identity provider alone constructs an STS client, and the instance-metadata
    // ones their own clients (a tenth of a function's init). Elsewhere the default chains apply.
    if ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().any(is_set) {
        loader = loader.region(aws_config::environment::EnvironmentVariableRegionProvider::new());
    }
    if ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(is_set)
    {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    loader.load().await
}

/// Whether the environment variable `name` holds something.
fn is_set(name: &&str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// The SDK's HTTPS client (rustls on aws-lc, as the default one), trusting the CAs of `pem`.
fn https_client(pem: Vec<u8>) -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(pem);
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .unwrap_or_default(),
        )
        .build_https()
}

/// The bundle at `path`, if it holds certificates a client can trust (the SDK's client would
/// panic on a PEM it cannot parse).
fn trusted_bundle(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certificates.is_empty() {
        return Err("no certificate in it".into());
    }
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates {
        roots.add(certificate).map_err(|e| e.to_string())?;
    }
    Ok(pem)
}

/// An S3 client that also works against an emulator endpoint.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let builder =
        aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// A client built on its first use, for one that only some requests need (mail, archives): a
/// cold start does not pay for building it (an SDK client's first construction parses its
/// service's endpoint rules). Clones share the one client.
#[derive(Clone)]
pub struct LazyClient<C> {
    sdk: aws_config::SdkConfig,
    build: fn(&aws_config::SdkConfig) -> C,
    client: std::sync::Arc<std::sync::OnceLock<C>>,
}

impl<C> LazyClient<C> {
    pub fn new(sdk: &aws_config::SdkConfig, build: fn(&aws_config::SdkConfig) -> C) -> Self {
        Self {
            sdk: sdk.clone(),
            build,
            client: Default::default(),
        }
    }

    /// The client, built now if this is its first use.
    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)(&self.sdk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_are_the_five_amazon_trust_services_roots() {
        let roots: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(roots.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        for root in roots {
            store.add(root).unwrap();
        }
    }

    #[test]
    fn a_lazy_client_is_built_once_on_first_use_and_shared_by_its_clones() {
        static BUILT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        fn build(_: &aws_config::SdkConfig) -> usize {
            BUILT.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
        }
        let lazy = LazyClient::new(&aws_config::SdkConfig::builder().build(), build);
        let clone = lazy.clone();
        assert_eq!(BUILT.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(*clone.get(), 1);
        assert_eq!(*lazy.get(), 1);
        assert_eq!(BUILT.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_bundle_is_trusted_only_when_every_certificate_in_it_parses() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.pem");
        std::fs::write(&good, AMAZON_TRUST_SERVICES).unwrap();
        assert_eq!(trusted_bundle(&good).unwrap(), AMAZON_TRUST_SERVICES);
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        assert!(
            trusted_bundle(&empty)
                .unwrap_err()
                .contains("no certificate")
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(trusted_bundle(&broken).is_err());
        assert!(trusted_bundle(&dir.path().join("missing.pem")).is_err());
    }
}

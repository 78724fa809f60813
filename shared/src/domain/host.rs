//! Which part of the platform a request is for, from its host (DESIGN §4 steps 1–2):
//! `app.<root>` → central login, `api.<root>` → platform admin, `<label>.<root>` → a tenant.

use crate::domain::subdomain::{Subdomain, SubdomainError};
use std::collections::BTreeSet;

/// Where the platform lives and which subdomains no tenant may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainConfig {
    /// Apex domain, lower-case, e.g. `taskifai.com` or `localhost`.
    pub root_domain: String,
    /// The built-in reserved names plus `RESERVED_SUBDOMAINS`.
    pub reserved: BTreeSet<String>,
}

/// The platform surface a host names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// `app.<root>`: tenant discovery.
    App,
    /// `api.<root>`: platform administration.
    Api,
    /// `<subdomain>.<root>`: a tenant's application.
    Tenant(Subdomain),
}

/// Why a host is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("the request has no host")]
    Missing,
    #[error("the host is not under this platform's domain")]
    ForeignDomain,
    #[error("the host must be exactly one label under the platform's domain")]
    Nested,
    #[error(transparent)]
    Subdomain(#[from] SubdomainError),
}

/// Normalises a raw host (lower-case, no port, no trailing dot) and classifies it.
pub fn classify_host(raw: Option<&str>, domain: &DomainConfig) -> Result<HostKind, HostError> {
    let host = normalize_host(raw.ok_or(HostError::Missing)?);
    if host.is_empty() {
        return Err(HostError::Missing);
    }
    let label = host
        .strip_suffix(domain.root_domain.as_str())
        .and_then(|rest| rest.strip_suffix('.'))
        .ok_or(HostError::ForeignDomain)?;
    if label.contains('.') {
        return Err(HostError::Nested);
    }
    match label {
        "app" => Ok(HostKind::App),
        "api" => Ok(HostKind::Api),
        label => Ok(HostKind::Tenant(Subdomain::parse(label, &domain.reserved)?)),
    }
}

/// Lower-case, port and trailing dot removed. IPv6 literals keep their brackets.
pub fn normalize_host(raw: &str) -> String {
    let raw = raw.trim();
    let without_port = match raw.rfind(':') {
        Some(i) if !raw[i..].contains(']') && raw[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            &raw[..i]
        }
        _ => raw,
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::subdomain::RESERVED_SUBDOMAINS;

    fn domain(root: &str) -> DomainConfig {
        DomainConfig {
            root_domain: root.to_owned(),
            reserved: RESERVED_SUBDOMAINS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }

    fn tenant(s: &str) -> HostKind {
        HostKind::Tenant(Subdomain::parse(s, &domain("x.com").reserved).unwrap())
    }

    #[test]
    fn classifies_platform_hosts() {
        let d = domain("taskifai.com");
        assert_eq!(
            classify_host(Some("app.taskifai.com"), &d),
            Ok(HostKind::App)
        );
        assert_eq!(
            classify_host(Some("API.TaskifAI.com:443"), &d),
            Ok(HostKind::Api)
        );
        assert_eq!(
            classify_host(Some("acme.taskifai.com."), &d),
            Ok(tenant("acme"))
        );
        let local = domain("localhost");
        assert_eq!(
            classify_host(Some("demo.localhost:9000"), &local),
            Ok(tenant("demo"))
        );
    }

    #[test]
    fn rejects_foreign_nested_and_bad_hosts() {
        let d = domain("taskifai.com");
        assert_eq!(classify_host(None, &d), Err(HostError::Missing));
        assert_eq!(classify_host(Some(""), &d), Err(HostError::Missing));
        assert_eq!(
            classify_host(Some("taskifai.com"), &d),
            Err(HostError::ForeignDomain)
        );
        assert_eq!(
            classify_host(Some("evil.com"), &d),
            Err(HostError::ForeignDomain)
        );
        assert_eq!(
            classify_host(Some("acme.nottaskifai.com"), &d),
            Err(HostError::ForeignDomain)
        );
        assert_eq!(
            classify_host(Some("eviltaskifai.com"), &d),
            Err(HostError::ForeignDomain)
        );
        assert_eq!(
            classify_host(Some("a.b.taskifai.com"), &d),
            Err(HostError::Nested)
        );
        assert_eq!(
            classify_host(Some("www.taskifai.com"), &d),
            Err(HostError::Subdomain(SubdomainError::Reserved("www".into())))
        );
        assert_eq!(
            classify_host(Some("a_b.taskifai.com"), &d),
            Err(HostError::Subdomain(SubdomainError::Charset))
        );
        assert_eq!(
            classify_host(Some("ab.taskifai.com"), &d),
            Err(HostError::Subdomain(SubdomainError::Length))
        );
    }

    #[test]
    fn strips_ports_but_not_ipv6_brackets() {
        assert_eq!(normalize_host("Demo.Localhost:9000"), "demo.localhost");
        assert_eq!(normalize_host("[::1]:9000"), "[::1]");
        assert_eq!(normalize_host("[::1]"), "[::1]");
    }
}

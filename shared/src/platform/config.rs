//! Typed configuration read from the environment once, at cold start. A missing or malformed
//! variable is an error that names the variable, so a misconfigured function fails before it
//! serves anything.

use std::collections::BTreeSet;

pub use crate::domain::host::DomainConfig;
use crate::domain::subdomain::{RESERVED_SUBDOMAINS, Subdomain};

/// A configuration problem, always naming the variable at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads variables through a lookup function so tests need not touch the process environment.
pub struct Env<F: Fn(&str) -> Option<String>>(pub F);

impl Env<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Env(|name| std::env::var(name).ok())
    }
}

/// An environment from a map (tests, the local platform, the CLI's env file).
pub fn map_env(
    vars: std::collections::BTreeMap<String, String>,
) -> Env<impl Fn(&str) -> Option<String>> {
    Env(move |name: &str| vars.get(name).cloned())
}

/// An environment from literal pairs (tests).
pub fn pairs_env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
    map_env(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// A variable that must be present and non-empty.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        match (self.0)(name) {
            Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
            _ => Err(ConfigError::Missing(name)),
        }
    }

    /// A variable that may be absent or empty.
    pub fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

impl DomainConfig {
    /// `ROOT_DOMAIN` (required) and `RESERVED_SUBDOMAINS` (optional, comma-separated).
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let root_domain = env.required("ROOT_DOMAIN")?.to_ascii_lowercase();
        let root_domain = root_domain.trim_end_matches('.').to_owned();
        let valid = !root_domain.is_empty()
            && root_domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid {
            return Err(ConfigError::Invalid {
                name: "ROOT_DOMAIN",
                reason: format!("{root_domain:?} is not a domain name"),
            });
        }
        let mut reserved: BTreeSet<String> = RESERVED_SUBDOMAINS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for name in env
            .optional("RESERVED_SUBDOMAINS")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
        {
            Subdomain::check_syntax(&name).map_err(|e| ConfigError::Invalid {
                name: "RESERVED_SUBDOMAINS",
                reason: format!("{name:?}: {e}"),
            })?;
            reserved.insert(name);
        }
        Ok(Self {
            root_domain,
            reserved,
        })
    }
}

/// The platform's DynamoDB tables. Admins and audit events have their own, so each can be
/// granted apart: only provisioning reaches the admins; functions may only append to the audit
/// log (PutItem), and only provisioning reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// `REGISTRY_TABLE`: tenants, subdomain claims, memberships, idempotency keys, counters.
    pub registry: String,
    /// `ADMINS_TABLE`: platform administrators.
    pub admins: String,
    /// `AUDIT_TABLE`: audit events, append-only.
    pub audit: String,
}

impl Tables {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            registry: env.required("REGISTRY_TABLE")?,
            admins: env.required("ADMINS_TABLE")?,
            audit: env.required("AUDIT_TABLE")?,
        })
    }
}

/// What every function reads about the platform: its domain, its tables, and how tenant URLs
/// are written. Read once at cold start; each function's settings start from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSettings {
    pub domain: DomainConfig,
    pub tables: Tables,
    /// `TENANT_URL_FORMAT`, default `https://{subdomain}.{root_domain}`
    /// (`http://{subdomain}.localhost:9000` locally).
    pub tenant_url_format: String,
}

impl PlatformSettings {
    /// `ROOT_DOMAIN`, `RESERVED_SUBDOMAINS`, the tables, `TENANT_URL_FORMAT`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            domain: DomainConfig::from_env(env)?,
            tables: Tables::from_env(env)?,
            tenant_url_format: env
                .optional("TENANT_URL_FORMAT")
                .unwrap_or_else(|| "https://{subdomain}.{root_domain}".into()),
        })
    }

    /// A tenant's URL (its sign-in page, and the issuer of its tokens).
    pub fn tenant_url(&self, subdomain: &str) -> String {
        self.tenant_url_format
            .replace("{subdomain}", subdomain)
            .replace("{root_domain}", &self.domain.root_domain)
    }
}

/// Unwraps configuration at cold start; on error, logs which variable is at fault and exits,
/// so the function never serves with a half-read configuration.
pub fn or_exit<T>(result: Result<T, ConfigError>) -> T {
    result.unwrap_or_else(|err| {
        tracing::error!(error = %err, "configuration error");
        std::process::exit(78)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        pairs_env(vars)
    }

    #[test]
    fn missing_root_domain_names_the_variable() {
        let err = DomainConfig::from_env(&env(&[])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("ROOT_DOMAIN"));
        assert_eq!(
            err.to_string(),
            "environment variable ROOT_DOMAIN is not set"
        );
    }

    #[test]
    fn blank_counts_as_missing() {
        let err = DomainConfig::from_env(&env(&[("ROOT_DOMAIN", "  ")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("ROOT_DOMAIN"));
    }

    #[test]
    fn malformed_root_domain_is_rejected() {
        let err = DomainConfig::from_env(&env(&[("ROOT_DOMAIN", "exa mple..com")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "ROOT_DOMAIN",
                ..
            }
        ));
    }

    #[test]
    fn extra_reserved_names_are_added_and_checked() {
        let cfg = DomainConfig::from_env(&env(&[
            ("ROOT_DOMAIN", "TaskifAI.com."),
            ("RESERVED_SUBDOMAINS", "status, Billing"),
        ]))
        .unwrap();
        assert_eq!(cfg.root_domain, "taskifai.com");
        for name in ["www", "api", "admin", "app", "staging", "status", "billing"] {
            assert!(cfg.reserved.contains(name), "{name}");
        }
        let err = DomainConfig::from_env(&env(&[
            ("ROOT_DOMAIN", "taskifai.com"),
            ("RESERVED_SUBDOMAINS", "ok-name,bad_name"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "RESERVED_SUBDOMAINS",
                ..
            }
        ));
    }
}

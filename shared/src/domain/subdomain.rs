//! `Subdomain`: a tenant's DNS label, validated once (seed rules: `[a-z0-9-]`, 3–50 characters,
//! no leading or trailing hyphen, not reserved; hyphens in the third and fourth place only for a
//! valid internationalised `xn--` label) and trusted from then on.

use std::collections::BTreeSet;
use std::fmt;

/// Names no tenant may take, whatever the configuration adds.
pub const RESERVED_SUBDOMAINS: [&str; 13] = [
    "www", "api", "admin", "app", "staging", "mail", "auth", "login", "status", "cdn", "docs",
    "help", "support",
];

pub const MIN_LEN: usize = 3;
pub const MAX_LEN: usize = 50;

/// Why a label is not a usable tenant subdomain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubdomainError {
    #[error("a subdomain must be {MIN_LEN} to {MAX_LEN} characters long")]
    Length,
    #[error("a subdomain may contain only lower-case letters, digits and hyphens")]
    Charset,
    #[error("a subdomain may not start or end with a hyphen")]
    Hyphen,
    #[error("the subdomain {0:?} is reserved")]
    Reserved(String),
    #[error(
        "a subdomain with hyphens in the third and fourth place must be a valid xn-- (punycode) name"
    )]
    Punycode,
}

/// A valid, non-reserved tenant subdomain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Subdomain(String);

impl Subdomain {
    /// Validates `label` as given (no case folding: the caller decides whether input is
    /// case-insensitive, as host names are).
    pub fn parse(label: &str, reserved: &BTreeSet<String>) -> Result<Self, SubdomainError> {
        Self::check_syntax(label)?;
        if reserved.contains(label) {
            return Err(SubdomainError::Reserved(label.to_owned()));
        }
        Ok(Self(label.to_owned()))
    }

    /// The syntax rules alone, without the reserved-name check.
    pub fn check_syntax(label: &str) -> Result<(), SubdomainError> {
        if !(MIN_LEN..=MAX_LEN).contains(&label.len()) {
            return Err(SubdomainError::Length);
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(SubdomainError::Charset);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(SubdomainError::Hyphen);
        }
        // `ab--…` is reserved for IDNA: only `xn--` with punycode that decodes is a name browsers
        // and URL parsers accept (an invalid one made the request conversion panic).
        if label.get(2..4) == Some("--")
            && !(label.starts_with("xn--") && idna::domain_to_unicode(label).1.is_ok())
        {
            return Err(SubdomainError::Punycode);
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subdomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserved() -> BTreeSet<String> {
        RESERVED_SUBDOMAINS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    #[test]
    fn accepts_seed_examples() {
        for ok in [
            "demo",
            "bibbi",
            "customer1",
            "customer-inc",
            "abc",
            &"a".repeat(50),
        ] {
            assert_eq!(Subdomain::parse(ok, &reserved()).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_bad_labels_with_the_reason() {
        let cases = [
            ("ab", SubdomainError::Length),
            (&"a".repeat(51) as &str, SubdomainError::Length),
            ("Demo", SubdomainError::Charset),
            ("de_mo", SubdomainError::Charset),
            ("dé-mo", SubdomainError::Charset),
            ("demo'--", SubdomainError::Charset),
            ("-demo", SubdomainError::Hyphen),
            ("demo-", SubdomainError::Hyphen),
            ("xn--zz", SubdomainError::Punycode),
            ("xn--", SubdomainError::Hyphen),
            ("ab--cd", SubdomainError::Punycode),
        ];
        for (label, want) in cases {
            assert_eq!(Subdomain::parse(label, &reserved()), Err(want), "{label}");
        }
    }

    #[test]
    fn a_valid_punycode_label_is_a_subdomain() {
        // bücher
        assert!(Subdomain::parse("xn--bcher-kva", &reserved()).is_ok());
        assert!(Subdomain::parse("a--b", &reserved()).is_ok());
    }

    #[test]
    fn rejects_reserved_names() {
        for name in RESERVED_SUBDOMAINS {
            assert_eq!(
                Subdomain::parse(name, &reserved()),
                Err(SubdomainError::Reserved(name.to_owned()))
            );
        }
    }
}

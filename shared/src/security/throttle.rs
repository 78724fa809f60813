//! Login and discovery throttling on the registry's windowed counters, so every Lambda container
//! sees the same counts. An attempt is *reserved* before the work it guards (a password check):
//! each counter admits it atomically or refuses it (429 with `Retry-After`), so N concurrent
//! guesses get at most the limit's worth of password checks, never N.
//!
//! Sign-in policy, the same for tenant users and platform admins (a *realm* is a tenant, or the
//! platform):
//! - per (realm, email, source address): 5 failures per 15 minutes, then refused until the window
//!   ends (`LOGIN_MAX_FAILURES_PER_EMAIL`, `THROTTLE_WINDOW_SECONDS`): the hard lockout only ever
//!   hits the address that guessed;
//! - per (realm, email), from anywhere: after the same 5 free failures, one attempt per
//!   `LOGIN_BACKOFF_SECONDS` (default 30) since the previous one: guessing spread over many
//!   addresses is slowed to a crawl, while the account's owner waits seconds, never a lockout
//!   (a tenant's only admin cannot be locked out by a stranger);
//! - per (realm, source address): 30 failures per 15 minutes (`LOGIN_MAX_FAILURES_PER_IP`): one
//!   tenant's failures behind a shared NAT never block another tenant's users.
//!
//! A successful sign-in clears its email's counters and gives back its address's attempt.
//! Discovery counts every request: 20 per source address `DISCOVER_MAX_PER_IP` and 10 per email
//! `DISCOVER_MAX_PER_EMAIL`, per minute. Missing variables take the default, malformed ones are
//! a configuration error.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::future::try_join_all;

use crate::domain::email::Email;
use crate::platform::config::{ConfigError, Env};
use crate::store::registry::{Registry, RegistryError, Reservation};

/// Why an attempt may not go on.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    /// Over the limit: try again in `retry_after` seconds.
    #[error("too many attempts; try again in {retry_after} s")]
    Limited { retry_after: u64 },
    #[error("throttle counters unavailable")]
    Counters(#[from] RegistryError),
}

/// A scope's limit: the registry's counter rule (`max` per `window`, optionally a `backoff`).
pub use crate::store::registry::CounterRule as Limit;

/// What a counter counts; its name is the first part of the registry key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Failed sign-ins of one email from one source address, in one realm (hard).
    LoginEmailIp,
    /// Failed sign-ins of one email from anywhere, in one realm (backoff).
    LoginEmail,
    /// Failed sign-ins from one source address, in one realm (hard).
    LoginIp,
    /// Discovery requests from one source address.
    DiscoverIp,
    /// Discovery requests for one email.
    DiscoverEmail,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginEmailIp => "login-email-ip",
            Self::LoginEmail => "login-email",
            Self::LoginIp => "login-ip",
            Self::DiscoverIp => "discover-ip",
            Self::DiscoverEmail => "discover-email",
        }
    }
}

/// One counter: a scope and who it counts, e.g. `login-email:<tenant_id>:<email>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThrottleKey {
    scope: Scope,
    subject: String,
}

impl ThrottleKey {
    /// The counters one sign-in attempt takes from, in `realm` (a tenant id, or `platform`):
    /// (email, address), email and address; without a parsable email only the address.
    pub fn sign_in(realm: &str, email: Option<&Email>, source_ip: Option<&str>) -> Vec<Self> {
        let ip = ip_subject(source_ip.unwrap_or("unknown"));
        let mut keys = Vec::with_capacity(3);
        if let Some(email) = email {
            keys.push(Self {
                scope: Scope::LoginEmailIp,
                subject: format!("{realm}:{email}:{ip}"),
            });
            keys.push(Self {
                scope: Scope::LoginEmail,
                subject: format!("{realm}:{email}"),
            });
        }
        keys.push(Self {
            scope: Scope::LoginIp,
            subject: format!("{realm}:{ip}"),
        });
        keys
    }

    pub fn discover_ip(ip: &str) -> Self {
        Self {
            scope: Scope::DiscoverIp,
            subject: ip_subject(ip),
        }
    }

    pub fn discover_email(email: &Email) -> Self {
        Self {
            scope: Scope::DiscoverEmail,
            subject: email.to_string(),
        }
    }

    pub fn scope(&self) -> Scope {
        self.scope
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }
}

impl fmt::Display for ThrottleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scope.as_str(), self.subject)
    }
}

/// Who a source address is for counting: an IPv4 address as is, an IPv6 address by its /64 (one
/// subscriber usually holds a whole /64, so per-address counting would be trivially evaded).
/// Anything unparsable is counted as given (bounded, so it cannot bloat the key).
fn ip_subject(raw: &str) -> String {
    let raw = raw.trim();
    match raw.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => raw
            .chars()
            .take(64)
            .collect::<String>()
            .to_ascii_lowercase(),
    }
}

/// The limit of every scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub login_per_email_ip: Limit,
    pub login_per_email: Limit,
    pub login_per_ip: Limit,
    pub discover_per_ip: Limit,
    pub discover_per_email: Limit,
}

impl Default for Limits {
    fn default() -> Self {
        let login = Duration::minutes(15);
        let discover = Duration::minutes(1);
        Self {
            login_per_email_ip: Limit::hard(5, login),
            login_per_email: Limit {
                max: 5,
                window: login,
                backoff: Some(Duration::seconds(30)),
            },
            login_per_ip: Limit::hard(30, login),
            discover_per_ip: Limit::hard(20, discover),
            discover_per_email: Limit::hard(10, discover),
        }
    }
}

/// Longest window `THROTTLE_WINDOW_SECONDS` (and backoff `LOGIN_BACKOFF_SECONDS`) may set.
const MAX_WINDOW_SECONDS: i64 = 86_400;

impl Limits {
    /// The defaults, with whatever the environment overrides (see the module docs).
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let mut limits = Self::default();
        let number = |name: &'static str, upper: i64| -> Result<Option<i64>, ConfigError> {
            env.optional(name)
                .map(|raw| {
                    raw.trim()
                        .parse::<i64>()
                        .ok()
                        .filter(|n| (1..=upper).contains(n))
                        .ok_or_else(|| ConfigError::Invalid {
                            name,
                            reason: format!("{raw:?} is not a whole number from 1 to {upper}"),
                        })
                })
                .transpose()
        };
        if let Some(seconds) = number("THROTTLE_WINDOW_SECONDS", MAX_WINDOW_SECONDS)? {
            for limit in [
                &mut limits.login_per_email_ip,
                &mut limits.login_per_email,
                &mut limits.login_per_ip,
            ] {
                limit.window = Duration::seconds(seconds);
            }
        }
        if let Some(seconds) = number("LOGIN_BACKOFF_SECONDS", MAX_WINDOW_SECONDS)? {
            limits.login_per_email.backoff = Some(Duration::seconds(seconds));
        }
        if let Some(max) = number("LOGIN_MAX_FAILURES_PER_EMAIL", i64::from(u32::MAX))? {
            limits.login_per_email_ip.max = max;
            limits.login_per_email.max = max;
        }
        let overrides = [
            ("LOGIN_MAX_FAILURES_PER_IP", &mut limits.login_per_ip),
            ("DISCOVER_MAX_PER_IP", &mut limits.discover_per_ip),
            ("DISCOVER_MAX_PER_EMAIL", &mut limits.discover_per_email),
        ];
        for (name, limit) in overrides {
            if let Some(max) = number(name, i64::from(u32::MAX))? {
                limit.max = max;
            }
        }
        Ok(limits)
    }

    /// The limit that applies to `scope`.
    pub fn of(&self, scope: Scope) -> Limit {
        match scope {
            Scope::LoginEmailIp => self.login_per_email_ip,
            Scope::LoginEmail => self.login_per_email,
            Scope::LoginIp => self.login_per_ip,
            Scope::DiscoverIp => self.discover_per_ip,
            Scope::DiscoverEmail => self.discover_per_email,
        }
    }
}

/// Whole seconds from `now` until `retry_at`, rounded up, at least 1 (a `Retry-After` of 0
/// would invite an immediate retry that is still refused).
pub fn retry_after(retry_at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let millis = (retry_at - now).num_milliseconds();
    u64::try_from(millis).unwrap_or(0).div_ceil(1000).max(1)
}

/// What time it is for the throttle: the system clock, or a test's.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Counts attempts against [`Limits`] in the registry.
#[derive(Clone)]
pub struct Throttle {
    registry: Registry,
    limits: Limits,
    clock: Clock,
}

impl Throttle {
    pub fn new(registry: Registry, limits: Limits) -> Self {
        Self {
            registry,
            limits,
            clock: Arc::new(Utc::now),
        }
    }

    /// The same throttle reading time from `clock` (tests move time instead of sleeping).
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Reserves a sign-in attempt on every key, all or nothing: at the first key out of
    /// attempts it is refused (429) and the keys already taken are given back, so a refused
    /// attempt never uses up anyone's allowance (a stranger kept busy on an email cannot spend
    /// its owner's (email, address) attempts). Call it before the password check.
    pub async fn attempt(&self, keys: &[ThrottleKey]) -> Result<(), ThrottleError> {
        let now = (self.clock)();
        for (i, key) in keys.iter().enumerate() {
            if let Err(refused) = self.take(key, now).await? {
                for taken in &keys[..i] {
                    self.registry
                        .release_counter(taken.scope.as_str(), &taken.subject, now)
                        .await?;
                }
                return Err(refused);
            }
        }
        Ok(())
    }

    /// Counts a request on each key in order and refuses it (429) at the first key over its
    /// limit; the keys before it keep the count (discovery: a flood counts against its sender
    /// even while it is refused).
    pub async fn hit(&self, keys: &[ThrottleKey]) -> Result<(), ThrottleError> {
        let now = (self.clock)();
        for key in keys {
            self.take(key, now).await??;
        }
        Ok(())
    }

    /// One key's reservation: `Ok(Err(429))` when it is out of attempts.
    async fn take(
        &self,
        key: &ThrottleKey,
        now: DateTime<Utc>,
    ) -> Result<Result<(), ThrottleError>, ThrottleError> {
        let rule = self.limits.of(key.scope);
        let outcome = self
            .registry
            .reserve_counter(key.scope.as_str(), &key.subject, now, rule)
            .await?;
        Ok(match outcome {
            Reservation::Taken { .. } => Ok(()),
            Reservation::Refused { retry_at } => Err(ThrottleError::Limited {
                retry_after: retry_after(retry_at, now),
            }),
        })
    }

    /// A sign-in succeeded: its email's counters start over, its address gets its attempt back
    /// (not its earlier failures, so one valid account cannot launder an address's guesses).
    pub async fn succeeded(&self, keys: &[ThrottleKey]) -> Result<(), ThrottleError> {
        let now = (self.clock)();
        try_join_all(keys.iter().map(|key| async move {
            match key.scope {
                Scope::LoginEmailIp | Scope::LoginEmail => {
                    self.registry
                        .reset_counter(key.scope.as_str(), &key.subject)
                        .await
                }
                _ => {
                    self.registry
                        .release_counter(key.scope.as_str(), &key.subject, now)
                        .await
                }
            }
        }))
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        crate::platform::config::pairs_env(vars)
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let limits = Limits::from_env(&env(&[])).unwrap();
        assert_eq!(limits, Limits::default());
        assert_eq!(
            limits.of(Scope::LoginEmailIp),
            Limit::hard(5, Duration::minutes(15))
        );
        assert_eq!(
            limits.of(Scope::LoginEmail),
            Limit {
                max: 5,
                window: Duration::minutes(15),
                backoff: Some(Duration::seconds(30)),
            }
        );
        assert_eq!(limits.of(Scope::LoginIp).max, 30);
        assert_eq!(
            limits.of(Scope::DiscoverIp),
            Limit::hard(20, Duration::minutes(1))
        );
        assert_eq!(limits.of(Scope::DiscoverEmail).max, 10);
    }

    #[test]
    fn environment_overrides_limits_the_login_window_and_the_backoff() {
        let limits = Limits::from_env(&env(&[
            ("LOGIN_MAX_FAILURES_PER_EMAIL", "3"),
            ("LOGIN_MAX_FAILURES_PER_IP", " 100 "),
            ("THROTTLE_WINDOW_SECONDS", "60"),
            ("LOGIN_BACKOFF_SECONDS", "5"),
            ("DISCOVER_MAX_PER_IP", "50"),
            ("DISCOVER_MAX_PER_EMAIL", "2"),
        ]))
        .unwrap();
        assert_eq!(
            limits.login_per_email_ip,
            Limit::hard(3, Duration::seconds(60))
        );
        assert_eq!(limits.login_per_email.max, 3);
        assert_eq!(limits.login_per_email.backoff, Some(Duration::seconds(5)));
        assert_eq!(limits.login_per_ip, Limit::hard(100, Duration::seconds(60)));
        assert_eq!(limits.discover_per_ip.max, 50);
        assert_eq!(limits.discover_per_email.max, 2);
        assert_eq!(limits.discover_per_email.window, Duration::minutes(1));
    }

    #[test]
    fn malformed_values_name_their_variable() {
        for (name, bad) in [
            ("LOGIN_MAX_FAILURES_PER_EMAIL", "five"),
            ("LOGIN_MAX_FAILURES_PER_IP", "0"),
            ("THROTTLE_WINDOW_SECONDS", "-1"),
            ("THROTTLE_WINDOW_SECONDS", "99999999999999"),
            ("LOGIN_BACKOFF_SECONDS", "0"),
            ("DISCOVER_MAX_PER_IP", "1.5"),
            ("DISCOVER_MAX_PER_EMAIL", "99999999999"),
        ] {
            let err = Limits::from_env(&env(&[(name, bad)])).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={bad}: {err}"
            );
        }
    }

    #[test]
    fn a_sign_in_counts_by_email_and_address_by_email_and_by_address_in_its_realm() {
        let email = Email::parse("Ada@Example.com").unwrap();
        let keys: Vec<String> = ThrottleKey::sign_in("t1", Some(&email), Some("203.0.113.7"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            keys,
            [
                "login-email-ip:t1:ada@example.com:203.0.113.7",
                "login-email:t1:ada@example.com",
                "login-ip:t1:203.0.113.7",
            ]
        );
        // Without an email only the address counts; without an address, "unknown" does.
        assert_eq!(
            ThrottleKey::sign_in("platform", None, None)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["login-ip:platform:unknown"]
        );
        assert_eq!(
            ThrottleKey::discover_email(&email).to_string(),
            "discover-email:ada@example.com"
        );
        let key = ThrottleKey::discover_ip(" 198.51.100.1 ");
        assert_eq!(
            (key.scope(), key.subject()),
            (Scope::DiscoverIp, "198.51.100.1")
        );
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix() {
        let a = ThrottleKey::discover_ip("2001:db8:1:2:aaaa::1");
        let b = ThrottleKey::discover_ip("2001:DB8:1:2:bbbb:cccc:dddd:eeee");
        assert_eq!(a, b);
        assert_eq!(a.subject(), "2001:db8:1:2::/64");
        assert_ne!(a, ThrottleKey::discover_ip("2001:db8:1:3::1"));
        assert_eq!(
            ThrottleKey::discover_ip("::ffff:203.0.113.7").subject(),
            "203.0.113.7"
        );
        let junk = ThrottleKey::discover_ip(&"X".repeat(500));
        assert_eq!(junk.subject(), "x".repeat(64));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
        let now = Utc::now();
        assert_eq!(retry_after(now + Duration::seconds(60), now), 60);
        assert_eq!(retry_after(now + Duration::milliseconds(59_001), now), 60);
        assert_eq!(retry_after(now + Duration::milliseconds(10), now), 1);
        assert_eq!(retry_after(now, now), 1);
        assert_eq!(retry_after(now - Duration::seconds(5), now), 1);
    }
}

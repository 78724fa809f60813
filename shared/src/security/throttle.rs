//! Login and discovery throttling on the registry's windowed counters, so every Lambda container
//! sees the same counts: each key (what is counted) gets at most `max` hits per fixed window, and
//! past that the caller answers 429 with `Retry-After` = seconds until the window ends.
//!
//! Defaults, each overridable from the environment (missing → default, malformed → error):
//! login: 5 failures per (tenant, email) `LOGIN_MAX_FAILURES_PER_EMAIL`, 30 per source IP
//! `LOGIN_MAX_FAILURES_PER_IP`, per 15 minutes `THROTTLE_WINDOW_SECONDS`; discovery: 20 requests
//! per source IP `DISCOVER_MAX_PER_IP` and 10 per email `DISCOVER_MAX_PER_EMAIL`, per minute.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::future::try_join_all;
use uuid::Uuid;

use crate::domain::email::Email;
use crate::platform::config::{ConfigError, Env};
use crate::store::registry::{Registry, RegistryError};

/// Why an attempt may not go on.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    /// Over the limit: try again in `retry_after` seconds.
    #[error("too many attempts; try again in {retry_after} s")]
    Limited { retry_after: u64 },
    #[error("throttle counters unavailable")]
    Counters(#[from] RegistryError),
}

/// At most `max` hits per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: i64,
    pub window: Duration,
}

impl Limit {
    /// Whether the `attempt`-th hit of a window (counting from 1) is allowed.
    pub fn allows(&self, attempt: i64) -> bool {
        attempt <= self.max
    }
}

/// What a counter counts; its name is the first part of the registry key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Failed logins of one email on one tenant.
    LoginEmail,
    /// Failed logins from one source address, on any tenant.
    LoginIp,
    /// Discovery requests from one source address.
    DiscoverIp,
    /// Discovery requests for one email.
    DiscoverEmail,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
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
    pub fn login_email(tenant: &Uuid, email: &Email) -> Self {
        Self {
            scope: Scope::LoginEmail,
            subject: format!("{tenant}:{email}"),
        }
    }

    pub fn login_ip(ip: &str) -> Self {
        Self {
            scope: Scope::LoginIp,
            subject: ip_subject(ip),
        }
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
            login_per_email: Limit {
                max: 5,
                window: login,
            },
            login_per_ip: Limit {
                max: 30,
                window: login,
            },
            discover_per_ip: Limit {
                max: 20,
                window: discover,
            },
            discover_per_email: Limit {
                max: 10,
                window: discover,
            },
        }
    }
}

/// Longest window `THROTTLE_WINDOW_SECONDS` may set.
const MAX_WINDOW_SECONDS: i64 = 86_400;

impl Limits {
    /// The defaults, with whatever the environment overrides (see the module docs).
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let mut limits = Self::default();
        let number = |name: &'static str, upper: i64| -> Result<Option<i64>, ConfigError> {
            env.optional(name)
                .map(|raw| {
                    raw.parse::<i64>()
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
            limits.login_per_email.window = Duration::seconds(seconds);
            limits.login_per_ip.window = Duration::seconds(seconds);
        }
        let overrides = [
            ("LOGIN_MAX_FAILURES_PER_EMAIL", &mut limits.login_per_email),
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
            Scope::LoginEmail => self.login_per_email,
            Scope::LoginIp => self.login_per_ip,
            Scope::DiscoverIp => self.discover_per_ip,
            Scope::DiscoverEmail => self.discover_per_email,
        }
    }
}

/// Whole seconds from `now` until `window_end`, rounded up, at least 1 (a `Retry-After` of 0
/// would invite an immediate retry that is still refused).
pub fn retry_after(window_end: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let millis = (window_end - now).num_milliseconds();
    u64::try_from(millis).unwrap_or(0).div_ceil(1000).max(1)
}

/// The refusal for a request over the limit of one or more keys: it may retry once every window
/// that refuses it has ended. `None` when no window refuses it.
fn refusal(
    refusing_window_ends: impl IntoIterator<Item = DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<ThrottleError> {
    refusing_window_ends
        .into_iter()
        .max()
        .map(|end| ThrottleError::Limited {
            retry_after: retry_after(end, now),
        })
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

    /// Refuses (429) when any key has used up its window, without counting this attempt: call
    /// it before checking a password, and [`Self::record_failure`] when the password is wrong.
    pub async fn check(&self, keys: &[ThrottleKey]) -> Result<(), ThrottleError> {
        let now = (self.clock)();
        let counts = try_join_all(keys.iter().map(|key| async move {
            let count = self
                .registry
                .read_counter(key.scope.as_str(), &key.subject, now)
                .await?;
            Ok::<_, RegistryError>((key, count))
        }))
        .await?;
        let refusing = counts.into_iter().filter_map(|(key, count)| {
            count.and_then(|(hits, end)| {
                (!self.limits.of(key.scope).allows(hits + 1)).then_some(end)
            })
        });
        refusal(refusing, now).map_or(Ok(()), Err)
    }

    /// Counts a failed attempt against every key.
    pub async fn record_failure(&self, keys: &[ThrottleKey]) -> Result<(), ThrottleError> {
        self.bump(keys).await.map(|_| ())
    }

    /// Counts this request against every key and refuses it (429) when any key is over its limit:
    /// for requests that are limited whether or not they succeed (discovery).
    pub async fn hit(&self, keys: &[ThrottleKey]) -> Result<(), ThrottleError> {
        let now = (self.clock)();
        let counts = self.bump(keys).await?;
        let refusing = counts.into_iter().filter_map(|(key, hits, end)| {
            (!self.limits.of(key.scope).allows(hits)).then_some(end)
        });
        refusal(refusing, now).map_or(Ok(()), Err)
    }

    /// Forgets a key's count: a successful login resets its email key (not its IP key, so one
    /// valid account cannot launder an address's failures).
    pub async fn reset(&self, key: &ThrottleKey) -> Result<(), ThrottleError> {
        Ok(self
            .registry
            .reset_counter(key.scope.as_str(), &key.subject)
            .await?)
    }

    /// Adds one to every key's counter; each key's hits in its window and the window's end.
    async fn bump<'k>(
        &self,
        keys: &'k [ThrottleKey],
    ) -> Result<Vec<(&'k ThrottleKey, i64, DateTime<Utc>)>, ThrottleError> {
        let now = (self.clock)();
        try_join_all(keys.iter().map(|key| async move {
            let window = self.limits.of(key.scope).window;
            let (hits, end) = self
                .registry
                .bump_counter(key.scope.as_str(), &key.subject, now, window)
                .await?;
            Ok::<_, RegistryError>((key, hits, end))
        }))
        .await
        .map_err(ThrottleError::from)
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
            limits.of(Scope::LoginEmail),
            Limit {
                max: 5,
                window: Duration::minutes(15)
            }
        );
        assert_eq!(limits.of(Scope::LoginIp).max, 30);
        assert_eq!(
            limits.of(Scope::DiscoverIp),
            Limit {
                max: 20,
                window: Duration::minutes(1)
            }
        );
        assert_eq!(limits.of(Scope::DiscoverEmail).max, 10);
    }

    #[test]
    fn environment_overrides_limits_and_the_login_window() {
        let limits = Limits::from_env(&env(&[
            ("LOGIN_MAX_FAILURES_PER_EMAIL", "3"),
            ("LOGIN_MAX_FAILURES_PER_IP", " 100 "),
            ("THROTTLE_WINDOW_SECONDS", "60"),
            ("DISCOVER_MAX_PER_IP", "50"),
            ("DISCOVER_MAX_PER_EMAIL", "2"),
        ]))
        .unwrap();
        assert_eq!(limits.login_per_email.max, 3);
        assert_eq!(limits.login_per_ip.max, 100);
        assert_eq!(limits.login_per_email.window, Duration::seconds(60));
        assert_eq!(limits.login_per_ip.window, Duration::seconds(60));
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
    fn keys_name_scope_and_subject() {
        let tenant = Uuid::nil();
        let email = Email::parse("Ada@Example.COM").unwrap();
        assert_eq!(
            ThrottleKey::login_email(&tenant, &email).to_string(),
            format!("login-email:{tenant}:ada@example.com")
        );
        assert_eq!(
            ThrottleKey::login_ip("203.0.113.7").to_string(),
            "login-ip:203.0.113.7"
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
        let a = ThrottleKey::login_ip("2001:db8:1:2:aaaa::1");
        let b = ThrottleKey::login_ip("2001:DB8:1:2:bbbb:cccc:dddd:eeee");
        assert_eq!(a, b);
        assert_eq!(a.subject(), "2001:db8:1:2::/64");
        assert_ne!(a, ThrottleKey::login_ip("2001:db8:1:3::1"));
        assert_eq!(
            ThrottleKey::login_ip("::ffff:203.0.113.7").subject(),
            "203.0.113.7"
        );
        let junk = ThrottleKey::login_ip(&"X".repeat(500));
        assert_eq!(junk.subject(), "x".repeat(64));
    }

    #[test]
    fn the_limit_allows_max_attempts_per_window() {
        let limit = Limit {
            max: 5,
            window: Duration::minutes(15),
        };
        assert!((1..=5).all(|n| limit.allows(n)));
        assert!(!limit.allows(6));
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

    #[test]
    fn a_refusal_waits_for_the_last_refusing_window() {
        let now = Utc::now();
        assert!(refusal([], now).is_none());
        let err = refusal(
            [now + Duration::seconds(30), now + Duration::seconds(900)],
            now,
        )
        .unwrap();
        assert!(
            matches!(err, ThrottleError::Limited { retry_after: 900 }),
            "{err:?}"
        );
    }
}

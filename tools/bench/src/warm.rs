//! The warm path: per-request latency of `POST /api/discover`, `GET /api/auth/me` (JWT
//! verification + one tenant-database query) and tenant health through the functions' real
//! handlers once their caches are warm, next to the floor measured in the same run (`SELECT 1`
//! on a held connection to the tenant database, as the tenant's role) and JWT verification
//! alone. The tenant context's counters (connections opened, secret fetches, registry lookups)
//! are read around the measured loop: warm requests must not move them. Also what a login costs
//! (argon2id). Figures are printed by `make bench` after the provisioning report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use local_platform::stack::{self, StackSettings};
use local_platform::template::Template;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::platform::config::Env;
use shared::security::tokens::Expectations;
use shared::store::secrets::{SecretStore, tenant_secret_name};
use shared::tenancy::context::{TENANT_AUDIENCE, TenantClaims};
use shared::tenancy::secret::TenantSecret;

use crate::platform::Platform;
use crate::stats::{Summary, ms};

/// Rounds before anything is timed (connections, caches, allocator).
const WARM_UP: usize = 100;
/// Logins timed for the argon2id cost (each is a full hash verification).
const LOGINS: usize = 20;
/// The registry cache TTL for the run: the measured loop must fit in one TTL to show that warm
/// requests make no registry read (production's default is 5 s; a refresh every TTL is by design).
const REGISTRY_TTL_SECONDS: u64 = 60;
/// The goal: `me` p99 within this many floors plus one JWT verification.
pub const GOAL_FLOOR_FACTOR: u32 = 3;

/// What the tenant context did, read from its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub connections_opened: u64,
    pub secret_fetches: u64,
    pub registry_lookups: u64,
}

impl Counters {
    fn of(app: &auth::App) -> Self {
        Self {
            connections_opened: app.tenant.connections_opened(),
            secret_fetches: app.tenant.stats.secret_fetches.load(Ordering::Relaxed),
            registry_lookups: app.tenant.directory.registry_lookups(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "connections_opened": self.connections_opened,
            "secret_fetches": self.secret_fetches,
            "registry_lookups": self.registry_lookups,
        })
    }
}

/// The warm-path figures.
pub struct Warm {
    pub iterations: usize,
    pub floor: Vec<Duration>,
    pub floor_simple: Vec<Duration>,
    pub jwt_verify: Vec<Duration>,
    pub me: Vec<Duration>,
    pub health: Vec<Duration>,
    pub discover: Vec<Duration>,
    /// One registry read (`GetItem` of a tenant record), interleaved with discovery.
    pub registry_get: Vec<Duration>,
    pub login: Vec<Duration>,
    pub argon2_verify: Vec<Duration>,
    pub before: Counters,
    pub after: Counters,
    /// Wall time of the cached-path loop (it must fit in the registry cache TTL).
    pub cached_loop: Duration,
}

/// The functions' environment on the bench's stack. Deploying finds the resources the platform
/// already created (same prefix and settings as `Platform::start`).
pub(crate) async fn function_env(platform: &Platform) -> Result<BTreeMap<String, String>> {
    let template = Template::load_default()?;
    let region = platform
        .sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let settings = StackSettings::local(platform.prefix.clone(), region, &platform.prefix, 9000);
    let deployed = stack::deploy(&template, &settings, &platform.sdk)
        .await
        .context("finding the bench stack's resources")?;
    let mut env = BTreeMap::new();
    for function in template.functions()? {
        env.extend(deployed.function_env(&function)?);
    }
    env.insert(
        "REGISTRY_CACHE_TTL_SECONDS".into(),
        REGISTRY_TTL_SECONDS.to_string(),
    );
    // Discovery is throttled per address and email (20 and 10 a minute); the benchmark is one
    // address asking for one email thousands of times, so the limits are lifted (the throttle's
    // registry writes still happen on every request).
    for name in ["DISCOVER_MAX_PER_IP", "DISCOVER_MAX_PER_EMAIL"] {
        env.insert(name.into(), u32::MAX.to_string());
    }
    Ok(env)
}

/// An API Gateway payload-format-2.0 event as the gateway builds it for `host` (no port);
/// `path` may carry a query string.
pub(crate) fn event(
    host: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> String {
    let mut headers = json!({
        "host": format!("{host}:9000"),
        "user-agent": "bench",
        "x-forwarded-proto": "http",
        "x-forwarded-for": "203.0.113.10",
    });
    if let Some(token) = token {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let parameters: serde_json::Map<String, Value> = query_pairs(query)
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    let route = format!("{method} {path}");
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": query,
        "queryStringParameters": parameters,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10", "userAgent": "bench"},
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbe01",
            "routeKey": route,
            "stage": "$default",
            "time": "22/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1_795_341_600_000_u64,
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false,
    })
    .to_string()
}

/// The `name=value` pairs of a query string (the bench's own, so never percent-encoded).
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query.split('&').filter_map(|pair| pair.split_once('='))
}

pub(crate) fn request(event: &str) -> Result<lambda_http::Request> {
    lambda_http::request::from_str(event).context("parsing the bench's own event")
}

/// The response's status and JSON body.
pub(crate) fn answer(res: &lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let body = match res.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (res.status().as_u16(), body)
}

/// One timed handler call; the event is parsed before the clock starts (Lambda's runtime does
/// that before the handler too).
async fn timed<F, Fut>(event: &str, handle: F) -> Result<(Duration, u16)>
where
    F: FnOnce(lambda_http::Request) -> Fut,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>>,
{
    let req = request(event)?;
    let started = Instant::now();
    let res = handle(req).await;
    Ok((started.elapsed(), res.status().as_u16()))
}

/// One login through the handler: its time and the token.
async fn login_once(app: &auth::App, login_event: &str) -> Result<(Duration, String)> {
    let req = request(login_event)?;
    let started = Instant::now();
    let res = auth::handle(app, req).await;
    let took = started.elapsed();
    let (status, body) = answer(&res);
    ensure!(status == 200, "login answered {status}: {body}");
    match body["access_token"].as_str() {
        Some(token) if !token.is_empty() => Ok((took, token.to_owned())),
        _ => bail!("login gave no token: {body}"),
    }
}

/// Provisions a tenant, builds the auth and discovery functions in-process and measures. The
/// cached path runs first, right after the login that filled the caches, so it lies well within
/// one registry-cache TTL; discovery and the logins come after.
pub async fn run(platform: &Platform, iterations: usize) -> Result<Warm> {
    let plane = &platform.plane;
    let provisioned = crate::measure::bench_tenant(platform, "warm")
        .await
        .context("provisioning the warm-path tenant")?;
    let (subdomain, email) = (
        provisioned.tenant.subdomain.clone(),
        provisioned.tenant.admin_email.clone(),
    );
    let password = provisioned
        .admin_temporary_password
        .context("a new tenant's admin has a temporary password")?;
    let tenant_id = provisioned.tenant.tenant_id;

    let env = function_env(platform).await?;
    let env = Env(move |name: &str| env.get(name).cloned());
    let auth_app = auth::App::new(&env, &platform.sdk).context("auth function config")?;
    let discovery =
        tenant_discovery::App::new(&env, &platform.sdk).context("tenant-discovery config")?;
    let host = format!("{subdomain}.localhost");
    let secret = tenant_secret(platform, &tenant_id).await?;
    let floor_client = connect_as_tenant(&secret).await?;
    let published = platform
        .plane
        .registry
        .get_tenant(&tenant_id)
        .await?
        .context("the tenant has no registry record")?
        .verifying_keys;

    // The first login resolves the tenant, fetches its secret and opens a connection.
    let login_event = event(
        &host,
        "POST",
        "/api/auth/login",
        None,
        Some(&json!({"email": email, "password": password.expose_secret()})),
    );
    let (_, token) = login_once(&auth_app, &login_event).await?;
    let me_event = event(&host, "GET", "/api/auth/me", Some(&token), None);
    let health_event = event(&host, "GET", "/api/health", None, None);
    let discover_event = event(
        "app.localhost",
        "POST",
        "/api/discover",
        None,
        Some(&json!({"email": email})),
    );
    let expect = Expectations::new(auth_app.tenant.tenant_url(&subdomain), TENANT_AUDIENCE);

    // Every answer checked once, then the warm-up.
    for (name, ev) in [
        ("me", &me_event),
        ("health", &health_event),
        ("discover", &discover_event),
    ] {
        let req = request(ev)?;
        let res = if name == "discover" {
            tenant_discovery::handle(&discovery, req).await
        } else {
            auth::handle(&auth_app, req).await
        };
        let (status, body) = answer(&res);
        ensure!(status == 200, "{name} answered {status}: {body}");
        if name == "discover" {
            ensure!(
                body["tenants"].as_array().is_some_and(|t| !t.is_empty()),
                "discovery did not find the tenant: {body}"
            );
        }
    }
    for _ in 0..WARM_UP {
        timed(&me_event, |r| auth::handle(&auth_app, r)).await?;
        timed(&health_event, |r| auth::handle(&auth_app, r)).await?;
        shared::security::tokens::verify::<TenantClaims>(&token, &published, &expect)?;
        floor_client.query_one("SELECT 1", &[]).await?;
        floor_client.simple_query("SELECT 1").await?;
    }

    // The cached path: floor, JWT, me and health one each per round, so all share the same
    // background load; the context's counters are read around it.
    let before = Counters::of(&auth_app);
    let mut warm = Warm {
        iterations,
        floor: Vec::with_capacity(iterations),
        floor_simple: Vec::with_capacity(iterations),
        jwt_verify: Vec::with_capacity(iterations),
        me: Vec::with_capacity(iterations),
        health: Vec::with_capacity(iterations),
        discover: Vec::with_capacity(iterations),
        registry_get: Vec::with_capacity(iterations),
        login: Vec::with_capacity(LOGINS),
        argon2_verify: Vec::with_capacity(LOGINS),
        before,
        after: before,
        cached_loop: Duration::ZERO,
    };
    let mut failures = 0usize;
    let loop_started = Instant::now();
    for _ in 0..iterations {
        let started = Instant::now();
        floor_client.query_one("SELECT 1", &[]).await?;
        warm.floor.push(started.elapsed());

        let started = Instant::now();
        floor_client.simple_query("SELECT 1").await?;
        warm.floor_simple.push(started.elapsed());

        let started = Instant::now();
        let claims: TenantClaims = shared::security::tokens::verify(&token, &published, &expect)?;
        warm.jwt_verify.push(started.elapsed());
        std::hint::black_box(claims);

        let (took, status) = timed(&me_event, |r| auth::handle(&auth_app, r)).await?;
        warm.me.push(took);
        failures += usize::from(status != 200);

        let (took, status) = timed(&health_event, |r| auth::handle(&auth_app, r)).await?;
        warm.health.push(took);
        failures += usize::from(status != 200);
    }
    warm.cached_loop = loop_started.elapsed();
    warm.after = Counters::of(&auth_app);

    // Discovery reads the registry on every request by design: its own loop, interleaved with
    // one registry read (the floor it is made of).
    for _ in 0..WARM_UP {
        timed(&discover_event, |r| tenant_discovery::handle(&discovery, r)).await?;
        plane.registry.get_tenant(&tenant_id).await?;
    }
    for _ in 0..iterations {
        let (took, status) =
            timed(&discover_event, |r| tenant_discovery::handle(&discovery, r)).await?;
        warm.discover.push(took);
        failures += usize::from(status != 200);

        let started = Instant::now();
        plane.registry.get_tenant(&tenant_id).await?;
        warm.registry_get.push(started.elapsed());
    }
    ensure!(
        failures == 0,
        "{failures} measured requests did not answer 200"
    );

    // Logins: the whole handler (throttle check, user query, argon2id, counter reset, token),
    // then argon2id alone on the stored hash.
    for _ in 0..LOGINS {
        warm.login
            .push(login_once(&auth_app, &login_event).await?.0);
    }
    let hash: String = floor_client
        .query_one(
            "SELECT password_hash FROM users WHERE email = $1",
            &[&email],
        )
        .await?
        .get(0);
    for _ in 0..LOGINS {
        let started = Instant::now();
        let ok = shared::security::password::verify_password(&password, &hash);
        warm.argon2_verify.push(started.elapsed());
        ensure!(ok, "the stored hash does not verify the password");
    }
    Ok(warm)
}

pub(crate) async fn tenant_secret(
    platform: &Platform,
    tenant_id: &uuid::Uuid,
) -> Result<TenantSecret> {
    let plane = &platform.plane;
    let raw = plane
        .secrets
        .get(&tenant_secret_name(
            &plane.settings.secrets_prefix,
            tenant_id,
        ))
        .await?
        .context("the tenant's secret is missing")?;
    serde_json::from_str(raw.expose_secret()).context("the tenant's secret is malformed")
}

/// A connection to the tenant database as the tenant's role, held for the floor.
pub(crate) async fn connect_as_tenant(secret: &TenantSecret) -> Result<tokio_postgres::Client> {
    let db = &secret.db;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&db.host)
        .port(db.port)
        .dbname(&db.database)
        .user(&db.username)
        .password(db.password.expose_secret());
    let (client, connection) = crate::platform::database_tls()?
        .connect(config)
        .await
        .context("connecting to the tenant database")?;
    tokio::spawn(connection);
    Ok(client)
}

/// `4.8 µs`, `312 µs`, `1.24 ms`, `41.2 ms`: warm-path figures need microseconds.
fn fine(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10.0 {
        format!("{us:.1} µs")
    } else if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 10_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.1} ms", us / 1000.0)
    }
}

fn row(out: &mut String, label: &str, samples: &[Duration]) {
    match Summary::of(samples) {
        Some(s) => {
            let _ = writeln!(
                out,
                "  {label:<44} {:>9} {:>9} {:>9} {:>9}",
                fine(s.p50),
                fine(s.p95),
                fine(s.p99),
                fine(s.max)
            );
        }
        None => {
            let _ = writeln!(out, "  {label:<44} {:>9}", "-");
        }
    }
}

impl Warm {
    /// `me` p99 against 3 × floor p99 + JWT-verify p99: (met, me p99, bound).
    pub fn goal(&self) -> Option<(bool, Duration, Duration)> {
        let me = Summary::of(&self.me)?.p99;
        let bound =
            Summary::of(&self.floor)?.p99 * GOAL_FLOOR_FACTOR + Summary::of(&self.jwt_verify)?.p99;
        Some((me <= bound, me, bound))
    }

    pub fn counters_unchanged(&self) -> bool {
        self.before == self.after
    }

    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nWarm path: {} rounds of one request each, after {WARM_UP} warm-up rounds; real handlers \
             in-process, REGISTRY_CACHE_TTL_SECONDS={REGISTRY_TTL_SECONDS}",
            self.iterations
        );
        let _ = writeln!(
            out,
            "  {:<44} {:>9} {:>9} {:>9} {:>9}",
            "", "p50", "p95", "p99", "max"
        );
        row(
            &mut out,
            "floor: SELECT 1, held conn (prepare+execute)",
            &self.floor,
        );
        row(
            &mut out,
            "  SELECT 1, simple protocol (1 round trip)",
            &self.floor_simple,
        );
        row(
            &mut out,
            "JWT verify alone (tokens::verify)",
            &self.jwt_verify,
        );
        row(
            &mut out,
            "GET /api/auth/me (JWT + 1 tenant query)",
            &self.me,
        );
        row(&mut out, "GET /api/health (tenant host)", &self.health);
        row(
            &mut out,
            "POST /api/discover (registry, throttled)",
            &self.discover,
        );
        row(
            &mut out,
            "  registry: one GetItem (its floor)",
            &self.registry_get,
        );
        if let Some((met, me, bound)) = self.goal() {
            let _ = writeln!(
                out,
                "goal: me p99 <= {GOAL_FLOOR_FACTOR}x floor p99 + JWT p99: {}  (me p99 {} vs {})",
                if met { "PASS" } else { "MISS" },
                fine(me),
                fine(bound)
            );
        }
        let (b, a) = (self.before, self.after);
        let _ = writeln!(
            out,
            "tenant context over the me/health rounds ({:.1} s): connections opened {} -> {}, \
             secret fetches {} -> {}, registry lookups {} -> {}: {}",
            self.cached_loop.as_secs_f64(),
            b.connections_opened,
            a.connections_opened,
            b.secret_fetches,
            a.secret_fetches,
            b.registry_lookups,
            a.registry_lookups,
            if self.counters_unchanged() {
                "none while warm (PASS)"
            } else {
                "MOVED (MISS)"
            }
        );
        let _ = writeln!(
            out,
            "  (discovery has no cache by design: each request bumps two throttle counters and reads \
             memberships and tenant records in the registry, here the AWS emulator)"
        );
        let _ = writeln!(
            out,
            "Login cost ({} each; argon2id m={} KiB, t={}, p={})",
            self.login.len(),
            shared::security::password::M_COST_KIB,
            shared::security::password::T_COST,
            shared::security::password::P_COST
        );
        row(
            &mut out,
            "POST /api/auth/login (handler, end to end)",
            &self.login,
        );
        row(&mut out, "argon2id verify alone", &self.argon2_verify);
        out
    }

    pub fn json(&self) -> Value {
        let summary = |s: &[Duration]| {
            Summary::of(s).map_or(Value::Null, |s| {
                let mut v = s.json();
                v["p50_us"] = json!(s.p50.as_micros());
                v["p99_us"] = json!(s.p99.as_micros());
                v
            })
        };
        json!({
            "iterations": self.iterations,
            "registry_cache_ttl_seconds": REGISTRY_TTL_SECONDS,
            "floor_select_1": summary(&self.floor),
            "floor_select_1_simple": summary(&self.floor_simple),
            "jwt_verify": summary(&self.jwt_verify),
            "me": summary(&self.me),
            "health": summary(&self.health),
            "discover": summary(&self.discover),
            "registry_get": summary(&self.registry_get),
            "cached_loop_ms": ms(self.cached_loop),
            "login": summary(&self.login),
            "argon2id_verify": summary(&self.argon2_verify),
            "goal": self.goal().map(|(met, me, bound)| json!({
                "met": met, "me_p99_ms": ms(me), "bound_ms": ms(bound),
            })),
            "counters_before": self.before.json(),
            "counters_after": self.after.json(),
            "counters_unchanged": self.counters_unchanged(),
        })
    }
}

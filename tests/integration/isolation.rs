//! Tenant isolation, end to end through the gateway with three tenants: no tenant's token (nor a
//! forged, re-signed, unsigned, expired or mis-addressed one) opens another tenant's routes, the
//! tenant and platform-admin surfaces do not accept each other's tokens, a suspended tenant
//! refuses even valid tokens, bad hosts are 4xx, injected and oversized input is refused with no
//! effect, and no secret or password ever reaches the logs.
//!
//! Routes come from the SAM template, so routes added later are covered without editing this.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::{Value, json};
use shared::identity::admins::ADMIN_KEYS;
use shared::security::tokens::{SigningKey, issue};
use shared::store::secrets::{SecretStore, platform_secret_name};
use shared::tenancy::context::TENANT_AUDIENCE;
use uuid::Uuid;

use crate::auth::{
    Answer, TenantAdmin, answer, call, change_password, decode_token, issuer, login,
    provisioned_admin, signed_in_admin, signing_secret, tenant_keys, tenant_secret,
};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, access_of, spawn_app, template};
use shared::domain::role::Access;

/// A route of the template with its path parameters filled in.
#[derive(Debug, Clone)]
struct Route {
    method: Method,
    /// As declared, e.g. `/api/auth/users/{id}`.
    declared: String,
    /// With every `{param}` replaced.
    path: String,
}

impl Route {
    /// Health routes are public: they name the host's tenant and nothing else.
    fn is_health(&self) -> bool {
        self.declared.ends_with("/health")
    }

    /// Public routes that read no credentials and no tenant data (health, the API contract),
    /// as the route tables declare them.
    fn answers_anyone(&self) -> bool {
        self.access() == Access::Public && !self.declared.ends_with("/login")
    }

    /// Routes that verify a bearer token, as the route tables declare them.
    fn takes_token(&self) -> bool {
        self.access() != Access::Public
    }

    fn access(&self) -> Access {
        access_of(self.method.as_str(), &self.declared)
    }

    fn has_param(&self) -> bool {
        self.declared.contains('{')
    }

    fn with_param(&self, value: &str) -> String {
        fill(&self.declared, value)
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// `{param}` segments of `declared` replaced by `value`.
fn fill(declared: &str, value: &str) -> String {
    declared
        .split('/')
        .map(|s| if s.starts_with('{') { value } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every route the template gives the HTTP API `api` (`TenantApi`, `AdminApi`, `AppApi`).
fn routes_of(api: &str) -> Vec<Route> {
    template()
        .functions()
        .expect("functions")
        .into_iter()
        .flat_map(|f| f.routes)
        .filter(|r| r.api == api)
        .map(|r| Route {
            method: Method::from_bytes(r.method.replace("ANY", "GET").as_bytes())
                .expect("HTTP method"),
            path: fill(&r.path, &Uuid::new_v4().to_string()),
            declared: r.path,
        })
        .collect()
}

fn tenant_routes() -> Vec<Route> {
    let routes = routes_of("TenantApi");
    // The enumeration itself must work, or every loop below would pass vacuously.
    for expected in ["/api/auth/login", "/api/auth/me", "/api/health"] {
        assert!(
            routes.iter().any(|r| r.declared == expected),
            "{expected} is not among the template's tenant routes: {routes:?}"
        );
    }
    routes
}

/// A body with every field a tenant route reads, filled with `admin`'s own credentials: on
/// another tenant's host even the right password must not help.
fn body_for(admin: &TenantAdmin) -> Value {
    json!({
        "email": admin.email,
        "password": admin.password,
        "current_password": admin.password,
        "new_password": "another fresh passphrase",
        "full_name": "Mallory Intruder",
        "role": "admin",
    })
}

/// Three tenants, each with an admin who has changed the temporary password.
async fn three_tenants(app: &TestApp) -> [TenantAdmin; 3] {
    // One at a time: concurrent clones of the template database would conflict.
    [
        signed_in_admin(app, "iso-a").await,
        signed_in_admin(app, "iso-b").await,
        signed_in_admin(app, "iso-c").await,
    ]
}

/// A request with a raw `Authorization` value (or none).
async fn call_raw(
    app: &TestApp,
    route: &Route,
    host: &str,
    authorization: Option<&str>,
    body: &Value,
) -> Answer {
    let mut req = app.request(route.method.clone(), host, &route.path);
    if let Some(value) = authorization {
        req = req.header(reqwest::header::AUTHORIZATION, value);
    }
    answer(req.json(body)).await
}

/// Fails with every collected problem at once.
fn assert_none(failures: &[String], what: &str) {
    assert!(
        failures.is_empty(),
        "{what}: {} problem(s)\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Values that must never be logged: the admins' passwords and tokens, and every value of the
/// tenants' secrets (database password, signing keys in each encoding).
async fn secrets_of(app: &TestApp, admins: &[&TenantAdmin]) -> Vec<(String, String)> {
    let mut secrets = Vec::new();
    for admin in admins {
        let who = &admin.subdomain;
        secrets.push((
            format!("{who} temporary password"),
            admin.temporary_password.clone(),
        ));
        secrets.push((format!("{who} password"), admin.password.clone()));
        secrets.extend(token_secrets(&format!("{who} token"), &admin.token));
        let (raw, _) = tenant_secret(app, &admin.tenant.tenant_id).await;
        secrets.push((
            format!("{who} database password"),
            raw["db"]["password"].as_str().unwrap().to_owned(),
        ));
        let (signing, _) = signing_secret(app, &admin.tenant.tenant_id).await;
        secrets.extend(key_ring_secrets(who, &signing["ring"]));
    }
    secrets
}

/// A token and its signature part.
fn token_secrets(what: &str, token: &str) -> Vec<(String, String)> {
    let signature = token.rsplit('.').next().unwrap_or_default().to_owned();
    vec![
        (what.to_owned(), token.to_owned()),
        (format!("{what} signature"), signature),
    ]
}

/// Each key of a stored ring: as stored (base64), as bytes in Debug form, as hex.
fn key_ring_secrets(who: &str, ring: &Value) -> Vec<(String, String)> {
    let mut secrets = Vec::new();
    for key in ring["keys"].as_array().expect("keys") {
        let b64 = key["private_key"].as_str().expect("private_key").to_owned();
        let bytes = STANDARD.decode(&b64).expect("base64");
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        secrets.push((format!("{who} signing key (base64)"), b64));
        secrets.push((format!("{who} signing key (bytes)"), format!("{bytes:?}")));
        secrets.push((format!("{who} signing key (hex)"), hex));
        secrets.push((
            format!("{who} signing key (base64url)"),
            URL_SAFE_NO_PAD.encode(&bytes),
        ));
    }
    secrets
}

/// None of `secrets` appears anywhere in the test's captured logs.
fn assert_not_logged(app: &TestApp, secrets: &[(String, String)]) {
    let logs = app.logs.text();
    assert!(!logs.is_empty(), "no logs were captured");
    let leaked: Vec<String> = secrets
        .iter()
        .filter(|(_, value)| value.len() >= 8 && logs.contains(value.as_str()))
        .map(|(what, _)| format!("{what} appears in the logs"))
        .collect();
    assert_none(&leaked, "secrets in logs");
}

/// The admin's user id, from `me`.
async fn user_id(app: &TestApp, admin: &TenantAdmin) -> String {
    let me = call(
        app,
        Method::GET,
        &admin.host,
        "/api/auth/me",
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(me.status, 200, "{}: {}", admin.subdomain, me.body);
    me.body["user_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn no_tenant_route_accepts_another_tenants_token_or_credentials() {
    // GIVEN three tenants, each admin with an unrestricted token
    let app = spawn_app().await;
    let tenants = three_tenants(&app).await;
    let routes = tenant_routes();
    for t in &tenants {
        // (control: each token works on its own host)
        let me = call(
            &app,
            Method::GET,
            &t.host,
            "/api/auth/me",
            Some(&t.token),
            None,
        )
        .await;
        assert_eq!(me.status, 200, "{}: {}", t.subdomain, me.body);
        assert_eq!(me.body["tenant_id"], t.tenant.tenant_id.to_string());
    }

    // WHEN every tenant route of every other tenant is called with a tenant's token and its own
    // email and password in the body
    let mut failures = Vec::new();
    for owner in &tenants {
        for victim in tenants.iter().filter(|v| v.subdomain != owner.subdomain) {
            for route in routes.iter().filter(|r| !r.answers_anyone()) {
                let res = call(
                    &app,
                    route.method.clone(),
                    &victim.host,
                    &route.path,
                    Some(&owner.token),
                    Some(&body_for(owner)),
                )
                .await;
                // THEN each is refused (401/403) and nothing is handed out
                if !matches!(res.status, 401 | 403) || res.body.get("access_token").is_some() {
                    failures.push(format!(
                        "{}'s token on {} {route}: {} {}",
                        owner.subdomain, victim.subdomain, res.status, res.body
                    ));
                }
            }
            // AND health only ever names the host's own tenant
            for route in routes.iter().filter(|r| r.is_health()) {
                let res = call(
                    &app,
                    Method::GET,
                    &victim.host,
                    &route.path,
                    Some(&owner.token),
                    None,
                )
                .await;
                if res.status != 200 || res.body["tenant_id"] != victim.tenant.tenant_id.to_string()
                {
                    failures.push(format!(
                        "health {route} on {}: {} {}",
                        victim.subdomain, res.status, res.body
                    ));
                }
            }
        }
    }
    assert_none(&failures, "cross-tenant calls");
    assert_not_logged(
        &app,
        &secrets_of(&app, &tenants.iter().collect::<Vec<_>>()).await,
    );
}

#[tokio::test]
async fn forged_tampered_and_misaddressed_tokens_are_refused() {
    // GIVEN tenants A and B (and C), B's user and keys, A's keys
    let app = spawn_app().await;
    let [a, b, c] = three_tenants(&app).await;
    let a_ring = tenant_keys(&app, &a.tenant.tenant_id).await;
    let b_ring = tenant_keys(&app, &b.tenant.tenant_id).await;
    let (a_key, b_key) = (a_ring.current().unwrap(), b_ring.current().unwrap());
    let b_kid = b_key.kid.clone();
    let under_b_kid = |key: &SigningKey| {
        let mut key = key.clone();
        key.kid = b_kid.clone();
        key
    };
    let b_user = user_id(&app, &b).await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": b_user,
        "tenant_id": b.tenant.tenant_id,
        "email": b.email,
        "role": "admin",
        "iat": now,
        "exp": now + 3600,
        "iss": issuer(&app, &b.subdomain),
        "aud": TENANT_AUDIENCE,
        "pcr": false,
    });
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims.clone();
        edit(&mut c);
        c
    };
    let signed_by_b = |c: &Value| issue(b_key, c).unwrap();

    // (control: the test's own minting with B's key and these claims is accepted, so each case
    // below differs from a valid token only in what it names)
    let genuine = signed_by_b(&claims);
    let me = call(
        &app,
        Method::GET,
        &b.host,
        "/api/auth/me",
        Some(&genuine),
        None,
    )
    .await;
    assert_eq!(me.status, 200, "control token: {}", me.body);
    assert_eq!(me.body["user_id"], b_user);

    let (a_id, b_id) = (
        a.tenant.tenant_id.to_string(),
        b.tenant.tenant_id.to_string(),
    );
    let b_iss = issuer(&app, &b.subdomain);
    let cases: Vec<(&str, String)> = vec![
        ("tenant A's own token", a.token.clone()),
        ("tenant C's own token", c.token.clone()),
        (
            "A's token with tenant_id and iss edited to B, signature kept",
            edit_payload(&a.token, |p| {
                p["tenant_id"] = json!(b_id);
                p["iss"] = json!(b_iss);
            }),
        ),
        (
            "B's genuine token with tenant_id edited to A, signature kept",
            edit_payload(&genuine, |p| p["tenant_id"] = json!(a_id)),
        ),
        (
            "B's genuine token with sub edited, signature kept",
            edit_payload(&genuine, |p| p["sub"] = json!(Uuid::new_v4())),
        ),
        (
            "claims for B signed with A's key and kid",
            issue(a_key, &claims).unwrap(),
        ),
        (
            "claims for B signed with A's key under B's kid",
            issue(&under_b_kid(a_key), &claims).unwrap(),
        ),
        (
            "claims for B signed with a stranger's key under B's kid",
            issue(&under_b_kid(&SigningKey::generate()), &claims).unwrap(),
        ),
        (
            "claims for B under an unknown kid",
            issue(&SigningKey::generate(), &claims).unwrap(),
        ),
        (
            "unsigned, alg none",
            unsigned(
                json!({"alg": "none", "typ": "JWT", "kid": b_kid}),
                &claims,
                true,
            ),
        ),
        (
            "unsigned, alg None",
            unsigned(
                json!({"alg": "None", "typ": "JWT", "kid": b_kid}),
                &claims,
                true,
            ),
        ),
        (
            "unsigned, alg none, no signature part",
            unsigned(json!({"alg": "none", "kid": b_kid}), &claims, false),
        ),
        (
            "unsigned, alg HS256, empty signature",
            unsigned(
                json!({"alg": "HS256", "typ": "JWT", "kid": b_kid}),
                &claims,
                true,
            ),
        ),
        (
            "genuine token relabelled HS512",
            edit_header(&genuine, |h| h["alg"] = json!("HS512")),
        ),
        (
            "genuine token relabelled RS256 (key confusion)",
            edit_header(&genuine, |h| h["alg"] = json!("RS256")),
        ),
        (
            "genuine token relabelled ES256",
            edit_header(&genuine, |h| h["alg"] = json!("ES256")),
        ),
        (
            "genuine token without its kid",
            edit_header(&genuine, |h| {
                h.as_object_mut().unwrap().remove("kid");
            }),
        ),
        (
            "genuine token with a crit header",
            edit_header(&genuine, |h| h["crit"] = json!(["exp"])),
        ),
        (
            "expired an hour ago",
            signed_by_b(&edited(&|c| {
                c["iat"] = json!(now - 7200);
                c["exp"] = json!(now - 3600);
            })),
        ),
        (
            "expired two minutes ago (past the leeway)",
            signed_by_b(&edited(&|c| {
                c["iat"] = json!(now - 3720);
                c["exp"] = json!(now - 120);
            })),
        ),
        (
            "issued an hour in the future",
            signed_by_b(&edited(&|c| {
                c["iat"] = json!(now + 3600);
                c["exp"] = json!(now + 7200);
            })),
        ),
        (
            "without exp",
            signed_by_b(&edited(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "issuer of tenant A",
            signed_by_b(&edited(&|c| c["iss"] = json!(issuer(&app, &a.subdomain)))),
        ),
        (
            "issuer with another scheme and no port",
            signed_by_b(&edited(&|c| {
                c["iss"] = json!(format!("https://{}.localhost", b.subdomain))
            })),
        ),
        (
            "without iss",
            signed_by_b(&edited(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            })),
        ),
        (
            "platform-admin audience",
            signed_by_b(&edited(&|c| c["aud"] = json!("taskifai-platform-admin"))),
        ),
        (
            "audience as an array holding the tenant audience",
            signed_by_b(&edited(&|c| c["aud"] = json!([TENANT_AUDIENCE, "other"]))),
        ),
        (
            "without aud",
            signed_by_b(&edited(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            })),
        ),
        (
            "tenant A's id, signed with B's key",
            signed_by_b(&edited(&|c| c["tenant_id"] = json!(a_id))),
        ),
        (
            "tenant A's id and issuer, signed with B's key",
            signed_by_b(&edited(&|c| {
                c["tenant_id"] = json!(a_id);
                c["iss"] = json!(issuer(&app, &a.subdomain));
            })),
        ),
        (
            "nil tenant id",
            signed_by_b(&edited(&|c| c["tenant_id"] = json!(Uuid::nil()))),
        ),
        (
            "tenant_id that is not a uuid",
            signed_by_b(&edited(&|c| c["tenant_id"] = json!("' OR '1'='1"))),
        ),
        (
            "unknown role",
            signed_by_b(&edited(&|c| c["role"] = json!("superadmin"))),
        ),
        ("empty", String::new()),
        ("not a JWT", "abc".to_owned()),
        ("three empty parts", "..".to_owned()),
        ("junk parts", "a.b.c".to_owned()),
        ("over 8 KiB", format!("{genuine}{}", "A".repeat(9000))),
    ];

    // WHEN each is sent to every route of B that takes a token
    let routes: Vec<Route> = tenant_routes()
        .into_iter()
        .filter(Route::takes_token)
        .collect();
    let mut failures = Vec::new();
    for (case, token) in &cases {
        for route in &routes {
            let res = call_raw(
                &app,
                route,
                &b.host,
                Some(&format!("Bearer {token}")),
                &body_for(&b),
            )
            .await;
            // THEN each is a 401
            if res.status != 401 {
                failures.push(format!("{case}: {route}: {} {}", res.status, res.body));
            }
        }
    }
    // AND so are requests without a usable Authorization header
    for (case, authorization) in [
        ("no Authorization header", None),
        ("the token without a scheme", Some(genuine.clone())),
        (
            "Basic credentials",
            Some(format!("Basic {}", STANDARD.encode("admin:x"))),
        ),
        ("Bearer with nothing after it", Some("Bearer ".to_owned())),
    ] {
        for route in &routes {
            let res = call_raw(&app, route, &b.host, authorization.as_deref(), &json!({})).await;
            if res.status != 401 {
                failures.push(format!("{case}: {route}: {} {}", res.status, res.body));
            }
        }
    }
    assert_none(&failures, "forged tokens");

    // AND B's genuine tokens still work afterwards
    let me = call(
        &app,
        Method::GET,
        &b.host,
        "/api/auth/me",
        Some(&b.token),
        None,
    )
    .await;
    assert_eq!(me.status, 200);
    let mut secrets = secrets_of(&app, &[&a, &b, &c]).await;
    secrets.extend(token_secrets("minted control token", &genuine));
    assert_not_logged(&app, &secrets);
}

/// `token` with its payload edited and its signature kept.
fn edit_payload(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let (header, mut payload) = decode_token(token);
    edit(&mut payload);
    let signature = token.rsplit('.').next().unwrap();
    format!("{}.{}.{signature}", b64(&header), b64(&payload))
}

/// `token` with its header edited and payload and signature kept.
fn edit_header(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let (mut header, _) = decode_token(token);
    edit(&mut header);
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", b64(&header))
}

/// An unsigned token: `header.payload.` (or `header.payload` without the dot).
fn unsigned(header: Value, payload: &Value, trailing_dot: bool) -> String {
    let dot = if trailing_dot { "." } else { "" };
    format!("{}.{}{dot}", b64(&header), b64(payload))
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

#[tokio::test]
async fn platform_admin_and_tenant_tokens_only_open_their_own_surface() {
    // GIVEN three tenants and a signed-in platform admin
    let app = spawn_app().await;
    let tenants = three_tenants(&app).await;
    let admin_token = app.admin_token().await;
    let listed = answer(app.admin(Method::GET, "/admin/tenants", &admin_token)).await;
    assert_eq!(listed.status, 200, "control: {}", listed.body);

    let mut failures = Vec::new();
    // WHEN the platform admin's token (and credentials) are used on every tenant route
    for t in &tenants {
        for route in tenant_routes().iter().filter(|r| !r.answers_anyone()) {
            let body = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
            let res = call(
                &app,
                route.method.clone(),
                &t.host,
                &route.path,
                Some(&admin_token),
                Some(&body),
            )
            .await;
            // THEN each is a 401
            if res.status != 401 {
                failures.push(format!(
                    "platform token on {} {route}: {} {}",
                    t.subdomain, res.status, res.body
                ));
            }
        }
    }

    // WHEN tenant tokens (genuine, or minted with the tenant's key for the admin audience) are
    // used on every admin route
    let a = &tenants[0];
    let a_key = tenant_keys(&app, &a.tenant.tenant_id).await;
    let now = chrono::Utc::now().timestamp();
    let admin_aud = issue(
        a_key.current().unwrap(),
        &json!({"sub": ADMIN_EMAIL, "role": "platform_admin", "iat": now, "exp": now + 600,
                "iss": format!("http://api.localhost:{}", app.address.port()),
                "aud": "taskifai-platform-admin"}),
    )
    .unwrap();
    let admin_routes: Vec<Route> = routes_of("AdminApi")
        .into_iter()
        .filter(Route::takes_token)
        .collect();
    assert!(
        admin_routes.iter().any(|r| r.declared == "/admin/tenants"),
        "{admin_routes:?}"
    );
    for token in tenants
        .iter()
        .map(|t| t.token.as_str())
        .chain([admin_aud.as_str()])
    {
        for route in &admin_routes {
            let route = Route {
                path: route.with_param(&a.tenant.tenant_id.to_string()),
                ..route.clone()
            };
            let res = call_raw(
                &app,
                &route,
                "api.localhost",
                Some(&format!("Bearer {token}")),
                &json!({}),
            )
            .await;
            // THEN each is a 401
            if res.status != 401 {
                failures.push(format!(
                    "tenant token {} on api {route}: {} {}",
                    decode_token(token).1["iss"],
                    res.status,
                    res.body
                ));
            }
        }
    }
    assert_none(&failures, "tokens across surfaces");
    // AND the tenant is untouched
    let me = call(
        &app,
        Method::GET,
        &a.host,
        "/api/auth/me",
        Some(&a.token),
        None,
    )
    .await;
    assert_eq!(me.status, 200);
    let mut secrets = secrets_of(&app, &tenants.iter().collect::<Vec<_>>()).await;
    secrets.extend(token_secrets("platform admin token", &admin_token));
    secrets.push(("platform admin password".into(), ADMIN_PASSWORD.into()));
    assert_not_logged(&app, &secrets);
}

#[tokio::test]
async fn a_suspended_tenant_refuses_even_valid_tokens_and_others_carry_on() {
    // GIVEN three tenants, B suspended by the platform admin
    let app = spawn_app().await;
    let [a, b, c] = three_tenants(&app).await;
    let admin_token = app.admin_token().await;
    let lifecycle = |action: &str| {
        app.admin(
            Method::PATCH,
            &format!("/admin/tenants/{}/{action}", b.tenant.tenant_id),
            &admin_token,
        )
    };
    assert_eq!(answer(lifecycle("suspend")).await.status, 200);

    // WHEN B's admin calls every route of B, health included, with a valid token and password
    let mut failures = Vec::new();
    for route in tenant_routes() {
        let res = call(
            &app,
            route.method.clone(),
            &b.host,
            &route.path,
            Some(&b.token),
            Some(&body_for(&b)),
        )
        .await;
        // THEN each is 403 tenant_suspended
        if (res.status, res.code()) != (403, "tenant_suspended") {
            failures.push(format!("suspended {route}: {} {}", res.status, res.body));
        }
    }
    assert_none(&failures, "routes of a suspended tenant");

    // AND the other tenants are unaffected
    for t in [&a, &c] {
        let me = call(
            &app,
            Method::GET,
            &t.host,
            "/api/auth/me",
            Some(&t.token),
            None,
        )
        .await;
        assert_eq!(me.status, 200, "{}: {}", t.subdomain, me.body);
        let res = login(&app, &t.host, &t.email, &t.password).await;
        assert_eq!(res.status, 200, "{}: {}", t.subdomain, res.body);
    }

    // AND once reactivated, B's token works again
    assert_eq!(answer(lifecycle("activate")).await.status, 200);
    let me = call(
        &app,
        Method::GET,
        &b.host,
        "/api/auth/me",
        Some(&b.token),
        None,
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_not_logged(&app, &secrets_of(&app, &[&a, &b, &c]).await);
}

#[tokio::test]
async fn unknown_malformed_and_reserved_hosts_are_refused_on_every_route() {
    // GIVEN a tenant whose valid token and password come along on every request
    let app = spawn_app().await;
    let a = signed_in_admin(&app, "hosts").await;
    let hosts = [
        format!(
            "nobody-{}.localhost",
            &Uuid::new_v4().simple().to_string()[..8]
        ),
        "ab.localhost".to_owned(),
        format!("{}.localhost", "a".repeat(64)),
        "-bad.localhost".to_owned(),
        "bad-.localhost".to_owned(),
        "bad_name.localhost".to_owned(),
        "x'or'1'='1.localhost".to_owned(),
        "a.b.localhost".to_owned(),
        format!("x.{}.localhost", a.subdomain),
        "www.localhost".to_owned(),
        "admin.localhost".to_owned(),
        "staging.localhost".to_owned(),
        format!("{}.example.com", a.subdomain),
        format!("{}.localhost.evil.test", a.subdomain),
    ];

    // WHEN every tenant route is called on each host
    let mut failures = Vec::new();
    for host in &hosts {
        for route in tenant_routes() {
            let res = call(
                &app,
                route.method.clone(),
                host,
                &route.path,
                Some(&a.token),
                Some(&body_for(&a)),
            )
            .await;
            // THEN each is a 4xx that gives nothing away
            if !(400..500).contains(&res.status)
                || res.body.get("access_token").is_some()
                || res.body.get("tenant_id").is_some()
            {
                failures.push(format!("{host} {route}: {} {}", res.status, res.body));
            }
        }
    }
    assert_none(&failures, "bad hosts");
    assert_not_logged(&app, &secrets_of(&app, &[&a]).await);
}

/// SQL injection payloads: quotes, comments, stacked queries, unions, NUL, encodings.
const INJECTIONS: [&str; 10] = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "admin@x.example' --",
    "'; DROP TABLE users; --",
    "\" OR \"\"=\"",
    "1; SELECT pg_sleep(5)",
    "' UNION SELECT user_id, email, password_hash FROM users --",
    "%27%20OR%201%3D1",
    "\\'; DROP TABLE users; --",
    "nul\u{0}byte@x.example",
];

/// Everything the injections could have touched: every tenant's users and tables, the registry's
/// tenants and memberships. `last_login_at` is left out: legitimate logins move it.
async fn state(app: &TestApp, admins: &[&TenantAdmin]) -> Vec<String> {
    let mut out = Vec::new();
    for admin in admins {
        let db = app.tenant_db(&admin.tenant.tenant_id).await;
        let tables: String = db
            .query_one(
                "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables \
                 WHERE schemaname = 'public'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        out.push(format!("{}: tables {tables}", admin.subdomain));
        for row in db
            .query(
                "SELECT concat_ws('|', user_id, email, full_name, role, password_hash, \
                 must_change_password, updated_at) FROM users ORDER BY user_id",
                &[],
            )
            .await
            .unwrap()
        {
            out.push(format!(
                "{}: user {}",
                admin.subdomain,
                row.get::<_, String>(0)
            ));
        }
        for m in app
            .registry()
            .memberships_of_tenant(&admin.tenant.tenant_id)
            .await
            .unwrap()
        {
            out.push(format!("membership {} {} {}", m.email, m.tenant_id, m.role));
        }
    }
    for t in app.registry().all_tenants().await.unwrap() {
        out.push(format!(
            "tenant {} {} {:?} keys v{}",
            t.tenant_id, t.subdomain, t.status, t.keys_version
        ));
    }
    out
}

/// Records `res` unless it is a 4xx that hands out no token.
fn expect_4xx(failures: &mut Vec<String>, what: String, res: &Answer) {
    if !(400..500).contains(&res.status) || res.body.get("access_token").is_some() {
        failures.push(format!("{what}: {} {}", res.status, res.body));
    }
}

/// Percent-encodes everything but letters and digits, for injections in a path.
fn encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `POST /api/discover` on `app.`: through the gateway once the template declares it, until
/// then straight into the function's handler with the event the gateway would build.
async fn discover(app: &TestApp, body: &str) -> Answer {
    if routes_of("AppApi")
        .iter()
        .any(|r| r.declared == "/api/discover")
    {
        return answer(
            app.request(Method::POST, "app.localhost", "/api/discover")
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
        .await;
    }
    let event = json!({
        "version": "2.0",
        "routeKey": "POST /api/discover",
        "rawPath": "/api/discover",
        "rawQueryString": "",
        "headers": {
            "host": format!("app.localhost:{}", app.address.port()),
            "content-type": "application/json",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "AppApi",
            "domainName": "app.localhost",
            "domainPrefix": "app",
            "http": {"method": "POST", "path": "/api/discover", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "isolation-test"},
            "requestId": Uuid::new_v4().to_string(),
            "routeKey": "POST /api/discover",
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": body,
        "isBase64Encoded": false,
    });
    let res = app
        .functions
        .invoke_http("tenant-discovery", &event)
        .await
        .expect("discovery handler");
    Answer {
        status: res["statusCode"].as_u64().unwrap() as u16,
        body: res["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null),
        headers: Default::default(),
    }
}

#[tokio::test]
async fn injected_and_oversized_input_is_refused_and_changes_nothing() {
    // GIVEN tenants A (the target) and B, and everything stored about them
    let app = spawn_app().await;
    let a = signed_in_admin(&app, "inject-a").await;
    let b = signed_in_admin(&app, "inject-b").await;
    let before = state(&app, &[&a, &b]).await;
    let big = "x".repeat(70 * 1024);
    let long = format!("{}@x.example", "a".repeat(10_000));
    let mut failures = Vec::new();

    // WHEN injections and oversized strings go into login's email and password
    for (i, sqli) in INJECTIONS.iter().enumerate() {
        let res = login(&app, &a.host, sqli, sqli).await;
        expect_4xx(
            &mut failures,
            format!("login email+password {sqli:?}"),
            &res,
        );
        // the real email with injected passwords, staying under the per-email limit
        if i < 3 {
            let res = login(&app, &a.host, &a.email, sqli).await;
            expect_4xx(&mut failures, format!("login password {sqli:?}"), &res);
        }
    }
    expect_4xx(
        &mut failures,
        "login, 10 KB email".into(),
        &login(&app, &a.host, &long, "x").await,
    );
    expect_4xx(
        &mut failures,
        "login, 70 KiB password".into(),
        &login(&app, &a.host, &a.email, &big).await,
    );

    // … into the password change (current, new, size)
    for sqli in INJECTIONS {
        let res = change_password(&app, &a, sqli, "another fresh passphrase").await;
        expect_4xx(
            &mut failures,
            format!("password change, current {sqli:?}"),
            &res,
        );
    }
    let res = change_password(&app, &a, &a.password, &"long passphrase ".repeat(20)).await;
    expect_4xx(
        &mut failures,
        "password change, 320-character new password".into(),
        &res,
    );
    let res = change_password(&app, &a, &a.password, &big).await;
    expect_4xx(&mut failures, "password change, 70 KiB body".into(), &res);

    // … into the bearer token
    let me = |auth: String| {
        answer(
            app.request(Method::GET, &a.host, "/api/auth/me")
                .header(reqwest::header::AUTHORIZATION, auth),
        )
    };
    for sqli in INJECTIONS.iter().filter(|s| !s.contains('\0')) {
        expect_4xx(
            &mut failures,
            format!("token {sqli:?}"),
            &me(format!("Bearer {sqli}")).await,
        );
    }
    expect_4xx(
        &mut failures,
        "20 KB token".into(),
        &me(format!("Bearer {}", "a".repeat(20_000))).await,
    );

    // … into the host
    for host in ["x' OR '1'='1.localhost", "a;drop table users.localhost"] {
        let res = call(
            &app,
            Method::GET,
            host,
            "/api/auth/me",
            Some(&a.token),
            None,
        )
        .await;
        expect_4xx(&mut failures, format!("host {host:?}"), &res);
    }

    // … into every path parameter, and every body field any route reads, of every tenant route
    // of the template, with A's admin token
    for route in tenant_routes().iter().filter(|r| !r.answers_anyone()) {
        if route.has_param() {
            for value in INJECTIONS
                .iter()
                .map(|s| encode_path(s))
                .chain(["a".repeat(10_000), "..%2F..%2Fadmin".to_owned()])
            {
                let path = route.with_param(&value);
                let res = call(
                    &app,
                    route.method.clone(),
                    &a.host,
                    &path,
                    Some(&a.token),
                    Some(&json!({})),
                )
                .await;
                expect_4xx(&mut failures, format!("{} {path:.80}", route.method), &res);
            }
        }
        let reads_body = matches!(route.method, Method::POST | Method::PATCH | Method::PUT);
        if reads_body && route.declared != "/api/auth/login" {
            for sqli in INJECTIONS {
                let body = json!({
                    "email": sqli, "password": sqli, "current_password": sqli,
                    "new_password": sqli, "full_name": sqli, "role": sqli, "name": sqli,
                    "revoke_previous": sqli,
                });
                let res = call(
                    &app,
                    route.method.clone(),
                    &a.host,
                    &route.path,
                    Some(&a.token),
                    Some(&body),
                )
                .await;
                expect_4xx(
                    &mut failures,
                    format!("{route} with {sqli:?} in every field"),
                    &res,
                );
            }
            let res = call(
                &app,
                route.method.clone(),
                &a.host,
                &route.path,
                Some(&a.token),
                Some(&json!({"email": big, "full_name": big, "role": big})),
            )
            .await;
            expect_4xx(&mut failures, format!("{route} with a 70 KiB body"), &res);
        }
    }

    // … into query strings, which `me` ignores: it still answers for the caller only
    let res = call(
        &app,
        Method::GET,
        &a.host,
        "/api/auth/me?user_id=%27%20OR%20%271%27%3D%271&email=*",
        Some(&a.token),
        None,
    )
    .await;
    let a_user = user_id(&app, &a).await;
    if res.status != 200 || res.body["user_id"] != a_user {
        failures.push(format!(
            "me with an injected query: {} {}",
            res.status, res.body
        ));
    }

    // … and into discovery's email
    for sqli in INJECTIONS.iter().take(6) {
        let res = discover(&app, &json!({"email": sqli}).to_string()).await;
        expect_4xx(&mut failures, format!("discover {sqli:?}"), &res);
    }
    expect_4xx(
        &mut failures,
        "discover, 10 KB email".into(),
        &discover(&app, &json!({"email": long}).to_string()).await,
    );
    expect_4xx(
        &mut failures,
        "discover, 70 KiB body".into(),
        &discover(&app, &json!({"email": big}).to_string()).await,
    );
    assert_none(&failures, "injected or oversized input");

    // THEN nothing stored changed, and both admins still sign in with their passwords
    let after = state(&app, &[&a, &b]).await;
    assert_eq!(before, after, "state changed");
    for t in [&a, &b] {
        let res = login(&app, &t.host, &t.email, &t.password).await;
        assert_eq!(res.status, 200, "{}: {}", t.subdomain, res.body);
    }
    assert_not_logged(&app, &secrets_of(&app, &[&a, &b]).await);
}

#[tokio::test]
async fn secrets_and_passwords_never_reach_the_logs() {
    // GIVEN a platform whose logs are captured, and two tenants
    let app = spawn_app().await;
    let mut a = provisioned_admin(&app, "logs-a").await;
    let b = signed_in_admin(&app, "logs-b").await;
    let mut secrets = vec![];
    secrets.extend(token_secrets("A's temporary-password token", &a.token));

    // WHEN the usual things happen: failed and successful logins, a password change, tokens used
    // where they belong and where they do not, forged tokens, discovery, the platform admin
    let wrong = format!("wrong password {}", Uuid::new_v4().simple());
    secrets.push(("a wrong password".into(), wrong.clone()));
    assert_eq!(login(&app, &a.host, &a.email, &wrong).await.status, 401);
    let users = call(
        &app,
        Method::GET,
        &a.host,
        "/api/auth/users",
        Some(&a.token),
        None,
    )
    .await;
    assert_eq!(users.status, 403);
    let weak = format!("weak{}", &Uuid::new_v4().simple().to_string()[..6]);
    secrets.push(("a rejected weak password".into(), weak.clone()));
    assert_eq!(
        change_password(&app, &a, &a.password.clone(), &weak)
            .await
            .status,
        400
    );
    let new_password = format!("new passphrase {}", Uuid::new_v4().simple());
    let res = change_password(&app, &a, &a.password.clone(), &new_password).await;
    assert_eq!(res.status, 200, "{}", res.body);
    a.password = new_password;
    let res = login(&app, &a.host, &a.email, &a.password).await;
    assert_eq!(res.status, 200);
    a.token = res.body["access_token"].as_str().unwrap().to_owned();
    let created = call(
        &app,
        Method::POST,
        &a.host,
        "/api/auth/users",
        Some(&a.token),
        Some(&json!({"email": format!("viewer@{}.example", a.subdomain),
                     "full_name": "Vera Viewer", "role": "viewer"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    secrets.push((
        "a new user's temporary password".into(),
        created.body["temporary_password"]
            .as_str()
            .unwrap()
            .to_owned(),
    ));
    let rotated = call(
        &app,
        Method::POST,
        &a.host,
        "/api/auth/keys/rotate",
        Some(&a.token),
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let cross = call(
        &app,
        Method::GET,
        &b.host,
        "/api/auth/me",
        Some(&a.token),
        None,
    )
    .await;
    assert_eq!(cross.status, 401);
    let forged = edit_payload(&a.token, |p| p["tenant_id"] = json!(b.tenant.tenant_id));
    secrets.extend(token_secrets("a forged token", &forged));
    let res = call(
        &app,
        Method::GET,
        &b.host,
        "/api/auth/me",
        Some(&forged),
        None,
    )
    .await;
    assert_eq!(res.status, 401);
    discover(&app, &json!({"email": a.email}).to_string()).await;
    let admin_token = app.admin_token().await;
    secrets.extend(token_secrets("platform admin token", &admin_token));
    secrets.push(("platform admin password".into(), ADMIN_PASSWORD.into()));
    let res = call(
        &app,
        Method::GET,
        &a.host,
        "/api/auth/me",
        Some(&admin_token),
        None,
    )
    .await;
    assert_eq!(res.status, 401);
    let res = answer(app.admin(Method::GET, "/admin/tenants", &a.token)).await;
    assert_eq!(res.status, 401);
    let wrong_admin = format!("wrong admin password {}", Uuid::new_v4().simple());
    secrets.push(("a wrong admin password".into(), wrong_admin.clone()));
    let res = answer(
        app.request(Method::POST, "api.localhost", "/admin/login")
            .json(&json!({"email": ADMIN_EMAIL, "password": wrong_admin})),
    )
    .await;
    assert_eq!(res.status, 401);

    // THEN the logs recorded those events …
    let logs = app.logs.text();
    for expected in [
        "tenant token rejected",
        "request rejected",
        "invalid_credentials",
    ] {
        assert!(logs.contains(expected), "no {expected:?} in the logs");
    }
    // … but no password, token or key: the tenants', the platform admin's, or the platform
    // signing keys
    secrets.extend(secrets_of(&app, &[&a, &b]).await);
    let ctx = &app.functions.auth.tenant;
    let platform_keys = ctx
        .secrets()
        .get(&platform_secret_name(ctx.secrets_prefix(), ADMIN_KEYS))
        .await
        .unwrap()
        .expect("the platform key ring exists after an admin login");
    let platform_keys: Value =
        serde_json::from_str(secrecy::ExposeSecret::expose_secret(&platform_keys)).unwrap();
    secrets.extend(key_ring_secrets("platform", &platform_keys));
    assert_not_logged(&app, &secrets);
}

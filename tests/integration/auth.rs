//! Signing in on a tenant host: the token a login issues (claims, header, the tenant's own key),
//! one refusal for wrong passwords and unknown emails alike, the temporary password's
//! restriction until it is changed, and per-email login throttling. The sign-in helpers here
//! are shared with `isolation`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::security::tokens::{Expectations, KeyRing};
use shared::store::registry::TenantRecord;
use shared::store::secrets::{SecretStore, signing_secret_name, tenant_secret_name};
use shared::tenancy::context::{TENANT_AUDIENCE, TenantClaims};
use shared::tenancy::secret::{SigningSecret, TenantSecret};

use crate::helpers::access_of;
use crate::helpers::{TestApp, spawn_app, template, unique_subdomain};
use shared::domain::role::Access;

/// A tenant and its admin, as a test knows them.
pub struct TenantAdmin {
    pub tenant: TenantRecord,
    pub subdomain: String,
    /// `<subdomain>.localhost` (the gateway port is added per request).
    pub host: String,
    pub email: String,
    /// The temporary password provisioning handed out.
    pub temporary_password: String,
    /// The admin's password now (the temporary one until changed).
    pub password: String,
    /// The latest access token.
    pub token: String,
}

/// A response as the tests look at it.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The error code, or "" when the body has none.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// One request through the gateway, with an optional bearer token and JSON body.
pub async fn call(
    app: &TestApp,
    method: Method,
    host: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut req = app.request(method, host, path);
    if let Some(token) = token {
        req = req.header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    answer(req).await
}

/// Sends `req` and reads the answer (a non-JSON body reads as `null`).
pub async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let res = req.send().await.expect("request reaches the gateway");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        headers,
    }
}

/// `POST /api/auth/login` on `host`.
pub async fn login(app: &TestApp, host: &str, email: &str, password: &str) -> Answer {
    let body = json!({"email": email, "password": password});
    call(
        app,
        Method::POST,
        host,
        "/api/auth/login",
        None,
        Some(&body),
    )
    .await
}

/// Provisions a tenant and signs its admin in with the temporary password: the token still
/// carries the password-change restriction.
pub async fn provisioned_admin(app: &TestApp, stem: &str) -> TenantAdmin {
    let subdomain = unique_subdomain(stem);
    let provisioned = app.provision(&subdomain).await;
    let temporary_password = provisioned
        .admin_temporary_password
        .expect("a new tenant's admin gets a temporary password")
        .expose_secret()
        .to_owned();
    let host = format!("{subdomain}.localhost");
    let email = format!("admin@{subdomain}.example");
    let res = login(app, &host, &email, &temporary_password).await;
    assert_eq!(
        res.status, 200,
        "login with the temporary password: {}",
        res.body
    );
    TenantAdmin {
        tenant: provisioned.tenant,
        token: res.body["access_token"].as_str().expect("token").to_owned(),
        subdomain,
        host,
        email,
        password: temporary_password.clone(),
        temporary_password,
    }
}

/// A fresh tenant whose admin has changed the temporary password: a token with no restriction.
pub async fn signed_in_admin(app: &TestApp, stem: &str) -> TenantAdmin {
    let mut admin = provisioned_admin(app, stem).await;
    let new_password = format!("fresh passphrase {}", uuid::Uuid::new_v4().simple());
    let res = change_password(app, &admin, &admin.password.clone(), &new_password).await;
    assert_eq!(res.status, 200, "password change: {}", res.body);
    assert_eq!(res.body["password_change_required"], false);
    admin.token = res.body["access_token"].as_str().expect("token").to_owned();
    admin.password = new_password;
    admin
}

/// `POST /api/auth/password` with the admin's current token.
pub async fn change_password(
    app: &TestApp,
    admin: &TenantAdmin,
    current: &str,
    new: &str,
) -> Answer {
    let body = json!({"current_password": current, "new_password": new});
    call(
        app,
        Method::POST,
        &admin.host,
        "/api/auth/password",
        Some(&admin.token),
        Some(&body),
    )
    .await
}

/// A user of `admin`'s tenant with `role`, invited by the admin and signed in with a password of
/// their own; their token.
pub async fn signed_in_user(app: &TestApp, admin: &TenantAdmin, role: &str) -> String {
    let email = format!(
        "{role}-{}@{}.example",
        uuid::Uuid::new_v4().simple(),
        admin.subdomain
    );
    let invited = call(
        app,
        Method::POST,
        &admin.host,
        "/api/auth/users",
        Some(&admin.token),
        Some(&json!({"email": email, "full_name": "Test User", "role": role})),
    )
    .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let temporary = invited.body["temporary_password"]
        .as_str()
        .expect("password");
    let session = login(app, &admin.host, &email, temporary).await;
    assert_eq!(session.status, 200, "{}", session.body);
    let changed = call(
        app,
        Method::POST,
        &admin.host,
        "/api/auth/password",
        session.body["access_token"].as_str(),
        Some(&json!({"current_password": temporary,
                     "new_password": format!("own passphrase {}", uuid::Uuid::new_v4().simple())})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    changed.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// A token's header and payload, decoded without any verification.
pub fn decode_token(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || {
        let raw = URL_SAFE_NO_PAD
            .decode(parts.next().expect("token part"))
            .expect("base64url");
        serde_json::from_slice::<Value>(&raw).expect("JSON")
    };
    let header = part();
    (header, part())
}

/// A secret as stored in Secrets Manager: raw JSON (to look for its values in logs) and parsed.
async fn stored_secret<T: serde::de::DeserializeOwned>(app: &TestApp, name: &str) -> (Value, T) {
    let raw = app
        .functions
        .auth
        .tenant
        .secrets()
        .get(name)
        .await
        .expect("secrets manager answers")
        .unwrap_or_else(|| panic!("there is a secret {name}"));
    let json = serde_json::from_str(raw.expose_secret()).expect("secret is JSON");
    let parsed = serde_json::from_str(raw.expose_secret()).expect("secret has its shape");
    (json, parsed)
}

/// The tenant's database secret.
pub async fn tenant_secret(app: &TestApp, tenant_id: &uuid::Uuid) -> (Value, TenantSecret) {
    let prefix = app.functions.auth.tenant.secrets_prefix();
    stored_secret(app, &tenant_secret_name(prefix, tenant_id)).await
}

/// The tenant's private token keys, in the signing secret only `auth` may read.
pub async fn signing_secret(app: &TestApp, tenant_id: &uuid::Uuid) -> (Value, SigningSecret) {
    let prefix = app.functions.auth.tenant.secrets_prefix();
    let (json, secret): (Value, SigningSecret) =
        stored_secret(app, &signing_secret_name(prefix, tenant_id)).await;
    assert_eq!(&secret.tenant_id, tenant_id);
    (json, secret)
}

/// The tenant's private token keys.
pub async fn tenant_keys(app: &TestApp, tenant_id: &uuid::Uuid) -> KeyRing {
    signing_secret(app, tenant_id).await.1.ring
}

/// The tenant's URL, the issuer of its tokens.
pub fn issuer(app: &TestApp, subdomain: &str) -> String {
    app.functions.auth.tenant.tenant_url(subdomain)
}

/// Tenant routes from the template that need a signed-in caller (everything but health, login,
/// `me` and the password change, which the temporary password may use).
fn restricted_routes() -> Vec<(Method, String)> {
    template()
        .functions()
        .expect("functions")
        .into_iter()
        .flat_map(|f| f.routes)
        .filter(|r| r.api == "TenantApi")
        .filter(|r| matches!(access_of(&r.method, &r.path), Access::Tenant(_)))
        .map(|r| {
            let method =
                Method::from_bytes(r.method.replace("ANY", "GET").as_bytes()).expect("HTTP method");
            let path = r
                .path
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        uuid::Uuid::new_v4().to_string()
                    } else {
                        s.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            (method, path)
        })
        .collect()
}

#[tokio::test]
async fn login_issues_a_token_signed_with_the_tenants_key_and_its_claims() {
    // GIVEN a new tenant and its admin's temporary password
    let app = spawn_app().await;
    let subdomain = unique_subdomain("login");
    let provisioned = app.provision(&subdomain).await;
    let tenant = provisioned.tenant;
    let password = provisioned
        .admin_temporary_password
        .unwrap()
        .expose_secret()
        .to_owned();
    let host = format!("{subdomain}.localhost");
    let email = format!("admin@{subdomain}.example");

    // WHEN the admin logs in
    let before = chrono::Utc::now().timestamp();
    let res = login(&app, &host, &email, &password).await;

    // THEN a bearer token comes back, flagged for a password change
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["token_type"], "Bearer");
    assert_eq!(res.body["expires_in"], 3600);
    assert_eq!(res.body["password_change_required"], true);
    let token = res.body["access_token"].as_str().unwrap();

    // AND its header pins EdDSA and names the tenant's current key
    let (header, claims) = decode_token(token);
    let ring = tenant_keys(&app, &tenant.tenant_id).await;
    assert_eq!(header["alg"], "EdDSA", "{header}");
    assert_eq!(header["typ"], "JWT", "{header}");
    assert_eq!(
        header["kid"].as_str(),
        Some(ring.current().unwrap().kid.as_str())
    );

    // AND its claims say who, in which tenant, issued by the tenant's URL for tenant APIs
    let me = call(&app, Method::GET, &host, "/api/auth/me", Some(token), None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let iss = issuer(&app, &subdomain);
    assert_eq!(
        iss,
        format!("http://{subdomain}.localhost:{}", app.address.port())
    );
    assert_eq!(claims["sub"], me.body["user_id"], "{claims}");
    assert_eq!(claims["tenant_id"], tenant.tenant_id.to_string());
    assert_eq!(claims["email"], email);
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["iss"], iss);
    assert_eq!(claims["aud"], TENANT_AUDIENCE);
    assert_eq!(claims["pcr"], true);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(
        (before - 5..=chrono::Utc::now().timestamp() + 5).contains(&iat),
        "iat {iat}"
    );
    assert_eq!(exp - iat, 3600);

    // AND `me` shows the same user of the same tenant
    assert_eq!(me.body["tenant_id"], tenant.tenant_id.to_string());
    assert_eq!(me.body["email"], email);
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["password_change_required"], true);
    assert!(me.body.get("password_hash").is_none(), "{}", me.body);

    // AND the token verifies with the tenant's ring and expectations
    let verified: TenantClaims = shared::security::tokens::verify(
        token,
        &ring.verifying_keys(),
        &Expectations::new(iss, TENANT_AUDIENCE),
    )
    .unwrap();
    assert_eq!(verified.tenant_id, tenant.tenant_id);
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_get_the_same_refusal() {
    // GIVEN a tenant with its admin
    let app = spawn_app().await;
    let admin = provisioned_admin(&app, "creds").await;

    // WHEN someone logs in with a wrong password, an unknown email, or not an email at all
    let wrong = login(&app, &admin.host, &admin.email, "not the password at all").await;
    let unknown = login(
        &app,
        &admin.host,
        &format!("nobody@{}.example", admin.subdomain),
        &admin.password,
    )
    .await;
    let not_email = login(&app, &admin.host, "not an email", &admin.password).await;

    // THEN each is the same 401, and none hands out a token
    for (case, res) in [
        ("wrong password", &wrong),
        ("unknown email", &unknown),
        ("not an email", &not_email),
    ] {
        assert_eq!(res.status, 401, "{case}: {}", res.body);
        assert_eq!(res.code(), "invalid_credentials", "{case}");
        assert_eq!(
            res.body["error"]["message"], wrong.body["error"]["message"],
            "{case}"
        );
        assert!(res.body.get("access_token").is_none(), "{case}");
    }

    // AND a request without the fields, or without JSON, is a 400
    let missing = call(
        &app,
        Method::POST,
        &admin.host,
        "/api/auth/login",
        None,
        Some(&json!({"email": admin.email})),
    )
    .await;
    assert_eq!((missing.status, missing.code()), (400, "missing_field"));
    let garbage = answer(
        app.request(Method::POST, &admin.host, "/api/auth/login")
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!((garbage.status, garbage.code()), (400, "invalid_json"));
}

#[tokio::test]
async fn a_temporary_password_opens_only_me_until_it_is_changed() {
    // GIVEN an admin signed in with the temporary password
    let app = spawn_app().await;
    let mut admin = provisioned_admin(&app, "temp").await;
    let temp_token = admin.token.clone();

    // THEN `me` works and says a change is required
    let me = call(
        &app,
        Method::GET,
        &admin.host,
        "/api/auth/me",
        Some(&temp_token),
        None,
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["password_change_required"], true);

    // AND every other authenticated route of the template refuses it with its own code
    let routes = restricted_routes();
    assert!(
        routes
            .iter()
            .any(|(m, p)| *m == Method::GET && p == "/api/auth/users"),
        "{routes:?}"
    );
    for (method, path) in &routes {
        let res = call(
            &app,
            method.clone(),
            &admin.host,
            path,
            Some(&temp_token),
            Some(&json!({})),
        )
        .await;
        assert_eq!(
            (res.status, res.code()),
            (403, "password_change_required"),
            "{method} {path}: {}",
            res.body
        );
    }

    // WHEN the new password is weak, equal to the current one, or the current one is wrong
    let current = admin.password.clone();
    let too_long = "correct horse ".repeat(10);
    for weak in ["short", "aaaaaaaaaaaaaaaa", too_long.as_str()] {
        let res = change_password(&app, &admin, &current, weak).await;
        // THEN it is refused and nothing changes
        assert_eq!((res.status, res.code()), (400, "weak_password"), "{weak}");
    }
    let res = change_password(&app, &admin, &current, &current).await;
    assert_eq!((res.status, res.code()), (400, "password_unchanged"));
    let res = change_password(
        &app,
        &admin,
        "wrong current password",
        "a new good passphrase",
    )
    .await;
    assert_eq!((res.status, res.code()), (401, "invalid_credentials"));
    assert_eq!(
        login(&app, &admin.host, &admin.email, &current)
            .await
            .status,
        200,
        "the temporary password still works"
    );

    // WHEN it is changed to a good one
    let new_password = "a new good passphrase";
    let res = change_password(&app, &admin, &current, new_password).await;

    // THEN a fresh unrestricted token comes back and opens the other routes
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["password_change_required"], false);
    admin.token = res.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(decode_token(&admin.token).1["pcr"], false);
    let users = call(
        &app,
        Method::GET,
        &admin.host,
        "/api/auth/users",
        Some(&admin.token),
        None,
    )
    .await;
    assert!(
        !matches!(users.status, 401 | 403),
        "GET /api/auth/users with the new token: {} {}",
        users.status,
        users.body
    );
    // AND the old token keeps its restriction
    let old = call(
        &app,
        Method::GET,
        &admin.host,
        "/api/auth/users",
        Some(&temp_token),
        None,
    )
    .await;
    assert_eq!((old.status, old.code()), (403, "password_change_required"));
    // AND the temporary password no longer signs in; the new one does, unrestricted
    let res = login(&app, &admin.host, &admin.email, &current).await;
    assert_eq!((res.status, res.code()), (401, "invalid_credentials"));
    let res = login(&app, &admin.host, &admin.email, new_password).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["password_change_required"], false);
    let me = call(
        &app,
        Method::GET,
        &admin.host,
        "/api/auth/me",
        res.body["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(me.body["password_change_required"], false);
}

#[tokio::test]
async fn logins_are_throttled_per_email_after_the_limit_of_failures() {
    // GIVEN a tenant admin and the login limit in force
    let app = spawn_app().await;
    let admin = provisioned_admin(&app, "throttle").await;
    let limit = app.functions.auth.throttle.limits().login_per_email_ip;

    // WHEN the limit's worth of wrong passwords is spent
    for attempt in 1..=limit.max {
        let res = login(&app, &admin.host, &admin.email, "wrong password here").await;
        // THEN each is an ordinary refusal
        assert_eq!(
            (res.status, res.code()),
            (401, "invalid_credentials"),
            "attempt {attempt}"
        );
    }

    // THEN the next attempt is refused with 429 and a Retry-After within the window
    let res = login(&app, &admin.host, &admin.email, "wrong password here").await;
    assert_eq!(
        (res.status, res.code()),
        (429, "too_many_requests"),
        "{}",
        res.body
    );
    let retry_after: i64 = res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=limit.window.num_seconds()).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    // AND so is the correct password while the window lasts
    let res = login(&app, &admin.host, &admin.email, &admin.password).await;
    assert_eq!(res.status, 429, "{}", res.body);
    assert!(res.body.get("access_token").is_none());
    assert!(res.headers.contains_key("retry-after"));

    // AND another email on the same tenant is not held up by this one's count
    let other = login(
        &app,
        &admin.host,
        &format!("someone@{}.example", admin.subdomain),
        "wrong password here",
    )
    .await;
    assert_eq!(other.status, 401, "{}", other.body);
}

#[tokio::test]
async fn a_successful_login_resets_the_email_count() {
    // GIVEN an admin one failure short of the limit
    let app = spawn_app().await;
    let admin = provisioned_admin(&app, "reset").await;
    let max = app.functions.auth.throttle.limits().login_per_email_ip.max;
    assert!(max >= 2, "the test needs a limit of 2 or more, got {max}");
    for _ in 1..max {
        let res = login(&app, &admin.host, &admin.email, "wrong password here").await;
        assert_eq!(res.status, 401);
    }

    // WHEN the right password is given
    let res = login(&app, &admin.host, &admin.email, &admin.password).await;
    assert_eq!(res.status, 200, "{}", res.body);

    // THEN the count starts over: another max-1 failures are plain refusals (without the reset
    // the second of them would be over the limit) and the right password still works
    for attempt in 1..max {
        let res = login(&app, &admin.host, &admin.email, "wrong password here").await;
        assert_eq!(
            res.status, 401,
            "failure {attempt} after the reset: {}",
            res.body
        );
    }
    let res = login(&app, &admin.host, &admin.email, &admin.password).await;
    assert_eq!(res.status, 200, "{}", res.body);
}

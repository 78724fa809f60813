//! Hardening: no function can be crashed by what a client sends. Arbitrary hosts, methods,
//! paths, query strings, headers and bodies go through every HTTP function's real entry point
//! (the same door as in Lambda), and arbitrary queue messages through the processor's: every
//! answer is a response below 500, and nothing panics. Beside them, the other hardening
//! findings' tests: concurrency on throttles, provisioning and tenant records; the platform
//! admin's door; privilege inside PostgreSQL; and who can sign tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use shared::security::tokens::legacy;
use shared::store::secrets::{SecretStore, signing_secret_name, tenant_secret_name};

use crate::helpers::spawn_app;

const FUNCTIONS: [&str; 6] = [
    "tenant-discovery",
    "auth",
    "uploads",
    "analytics",
    "provisioning",
    "web",
];

/// Hosts: ours, near-misses, and anything at all (IDNA, spaces, ports, brackets, control
/// characters).
fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("app.localhost".to_owned()),
        Just("api.localhost".to_owned()),
        Just("acme.localhost".to_owned()),
        "[a-z0-9-]{1,12}\\.localhost(:[0-9]{1,6})?",
        "xn--[a-z0-9-]{0,10}\\.localhost",
        "\\PC{0,30}",
        ".{0,30}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/api/health".to_owned()),
        Just("/api/auth/login".to_owned()),
        Just("/api/uploads/batches/x".to_owned()),
        Just("/admin/tenants".to_owned()),
        Just("/".to_owned()),
        "/[a-z/{}%.+-]{0,40}",
        "/\\PC{0,40}",
    ]
}

fn event() -> impl Strategy<Value = Value> {
    (
        host(),
        prop_oneof![
            Just("GET"),
            Just("POST"),
            Just("PUT"),
            Just("PATCH"),
            Just("DELETE"),
            Just("TRACE")
        ],
        path(),
        ".{0,40}",
        proptest::collection::vec(("[a-z][a-z-]{0,15}", ".{0,30}"), 0..4),
        prop_oneof![
            Just(None),
            ".{0,200}".prop_map(Some),
            Just(Some("{}".to_owned()))
        ],
        any::<bool>(),
    )
        .prop_map(|(host, method, path, query, headers, body, base64)| {
            let mut header_map = serde_json::Map::new();
            for (name, value) in headers {
                header_map.insert(name, json!(value));
            }
            header_map.insert("host".into(), json!(host));
            json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": path,
                "rawQueryString": query,
                "headers": header_map,
                "requestContext": {
                    "accountId": "123456789012", "apiId": "api", "domainName": host,
                    "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                             "sourceIp": "203.0.113.9", "userAgent": "fuzz"},
                    "requestId": "fuzz", "routeKey": "$default", "stage": "$default",
                    "time": "23/Nov/2026:10:00:00 +0000", "timeEpoch": 0
                },
                "body": body,
                "isBase64Encoded": base64
            })
        })
}

#[test]
fn arbitrary_requests_get_an_answer_below_500_from_every_function() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(spawn_app());
    rt.block_on(app.provision("acme"));
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    for function in FUNCTIONS {
        runner
            .run(&event(), |event| {
                let res = rt
                    .block_on(app.functions.invoke_http(function, &event))
                    .expect("an answer");
                let status = res["statusCode"].as_i64().unwrap_or_default();
                prop_assert!(
                    (200..500).contains(&status),
                    "{function}: {status} for {event}: {res}"
                );
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(
        !app.logs.text().contains("panicked"),
        "a panic was caught: {}",
        app.logs.text()
    );
}

#[test]
fn arbitrary_queue_messages_never_panic_the_processor() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(spawn_app());
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let body = prop_oneof![
        ".{0,200}",
        "\\{\"Records\":\\[\\{\"s3\":\\{\"bucket\":\\{\"name\":\".{0,20}\"\\},\"object\":\\{\"key\":\".{0,60}\",\"size\":[0-9]{1,5}\\}\\}\\}\\]\\}",
    ];
    runner
        .run(&proptest::collection::vec(body, 1..4), |bodies| {
            let records: Vec<Value> = bodies
                .iter()
                .enumerate()
                .map(|(i, body)| json!({"messageId": format!("m{i}"), "body": body}))
                .collect();
            let batch = serde_json::from_value(json!({ "Records": records })).expect("SQS event");
            let failures = rt.block_on(upload_processor::process_batch(
                &app.functions.processor,
                batch,
            ));
            // Unreadable messages may be reported for retry; a panic would have failed here.
            prop_assert!(failures.batch_item_failures.len() <= bodies.len());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Statuses of `n` concurrent sign-ins with a wrong password, by status.
async fn concurrent_wrong_logins(
    app: &crate::helpers::TestApp,
    host: &str,
    path: &str,
    email: &str,
    n: usize,
) -> std::collections::BTreeMap<u16, usize> {
    let attempts = (0..n).map(|_| {
        app.request(reqwest::Method::POST, host, path)
            .json(&json!({"email": email, "password": "not the password at all"}))
            .send()
    });
    let mut by_status = std::collections::BTreeMap::new();
    for res in futures_util::future::join_all(attempts).await {
        *by_status
            .entry(res.expect("answer").status().as_u16())
            .or_default() += 1;
    }
    by_status
}

#[tokio::test]
async fn fifty_concurrent_wrong_logins_get_at_most_the_limit_of_password_checks() {
    // GIVEN a tenant admin and the platform admin
    let app = spawn_app().await;
    let admin = crate::auth::provisioned_admin(&app, "race").await;
    app.admin_token().await;
    let limit = app.functions.auth.throttle.limits().login_per_email_ip.max as usize;
    for (host, path, email) in [
        (admin.host.as_str(), "/api/auth/login", admin.email.as_str()),
        ("api.localhost", "/admin/login", crate::helpers::ADMIN_EMAIL),
    ] {
        // WHEN 50 wrong passwords arrive at once
        let by_status = concurrent_wrong_logins(&app, host, path, email, 50).await;
        // THEN at most the limit are checked (401); every other one is refused first (429)
        let checked = by_status.get(&401).copied().unwrap_or_default();
        assert!(checked <= limit, "{host}: {by_status:?}");
        assert_eq!(
            checked + by_status.get(&429).copied().unwrap_or_default(),
            50,
            "{host}: {by_status:?}"
        );
    }
}

#[tokio::test]
async fn platform_admin_sign_in_is_throttled_and_every_attempt_is_audited() {
    // GIVEN the platform admin
    let app = spawn_app().await;
    let token = app.admin_token().await;
    // WHEN 40 wrong passwords come one after the other
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let res = app
            .request(reqwest::Method::POST, "api.localhost", "/admin/login")
            .json(&json!({"email": crate::helpers::ADMIN_EMAIL, "password": "wrong wrong wrong"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    // THEN the first few are refusals of the password, then 429s
    let limit = app.functions.auth.throttle.limits().login_per_email_ip.max as usize;
    assert!(statuses[..limit].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[limit..].iter().all(|s| *s == 429), "{statuses:?}");
    // AND the audit log has the successful sign-in and the failed ones
    let audit: Value = app
        .admin(reqwest::Method::GET, "/admin/audit?limit=100", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logins: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "admin.login")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(logins.contains(&"success"), "{audit}");
    assert_eq!(
        logins.iter().filter(|o| **o == "failure").count(),
        limit,
        "each password checked and refused is recorded: {audit}"
    );
}

/// The temporary password in the newest welcome mail to `email` (the emulator keeps sent mail).
async fn welcome_password(app: &crate::helpers::TestApp, email: &str) -> Option<String> {
    let endpoint = app.sdk.endpoint_url().expect("emulator endpoint");
    let data: Value = app
        .client
        .get(format!("{endpoint}/moto-api/data.json"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    data["ses"]["Message"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["destinations"]["ToAddresses"][0] == email)
        .and_then(|m| m["body"].as_str())
        .and_then(|body| body.lines().find_map(|l| l.strip_prefix("Password: ")))
        .map(str::to_owned)
}

#[tokio::test]
async fn five_identical_concurrent_creations_make_one_working_tenant() {
    // GIVEN the platform admin and one request, with one Idempotency-Key
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let subdomain = crate::helpers::unique_subdomain("twins");
    let email = format!("admin@{subdomain}.example");
    let body = json!({"company_name": "Twins", "subdomain": subdomain,
                      "admin_email": email, "admin_name": "Tess Twin"});
    let key = format!("twins-{}", uuid::Uuid::new_v4());
    // WHEN it is sent 5 times at once
    let sends = (0..5).map(|_| {
        app.admin(reqwest::Method::POST, "/admin/tenants", &token)
            .header("idempotency-key", &key)
            .json(&body)
            .send()
    });
    let mut answers = Vec::new();
    for res in futures_util::future::join_all(sends).await {
        let res = res.expect("answer");
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        answers.push((status, body));
    }
    // THEN one run created it; the others were told it is in progress (or replayed it); no 5xx
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert!(created >= 1, "{answers:?}");
    for (status, body) in &answers {
        assert!(
            matches!(status, 200 | 201)
                || (*status == 409 && body["error"]["code"] == "provisioning_in_progress"),
            "{answers:?}"
        );
    }
    let ids: std::collections::BTreeSet<&str> = answers
        .iter()
        .filter_map(|(_, b)| b["tenant_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "one tenant: {answers:?}");
    // AND that tenant works: active, and its admin signs in with the mailed password
    let password = welcome_password(&app, &email).await.expect("welcome mail");
    let login =
        crate::auth::login(&app, &format!("{subdomain}.localhost"), &email, &password).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let (status, health) = app
        .get(&format!("{subdomain}.localhost"), "/api/health")
        .await;
    assert_eq!(status, 200, "{health}");
}

#[tokio::test]
async fn suspensions_made_during_migrate_all_are_not_undone() {
    // GIVEN tenants whose records say they are behind on the schema (so migrate-all writes them)
    let app = spawn_app().await;
    let plane = &app.functions.provisioning.plane;
    let mut ids = Vec::new();
    for _ in 0..TENANTS {
        let provisioned = app
            .provision(&crate::helpers::unique_subdomain("migrace"))
            .await;
        ids.push(provisioned.tenant.tenant_id);
    }
    for id in &ids {
        app.registry()
            .update_tenant(id, |t| {
                t.schema_version = 0;
                Ok::<_, shared::store::registry::RegistryError>(true)
            })
            .await
            .unwrap();
    }
    // WHEN migrate-all runs while they are suspended one after the other (so that some are
    // suspended after it listed them and before it wrote their version)
    let suspend_all = async {
        let mut results = Vec::new();
        for id in &ids {
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
            results.push(plane.suspend(id, "test").await);
        }
        results
    };
    let (run, suspensions) = tokio::join!(plane.migrate_all("test"), suspend_all);
    run.expect("migrate-all");
    assert!(suspensions.iter().all(Result::is_ok), "{suspensions:?}");
    // THEN every tenant is suspended and at the latest schema: neither write undid the other
    let latest = shared::store::postgres::migrations::latest_version();
    let mut reverted = Vec::new();
    for id in &ids {
        let record = app.registry().get_tenant(id).await.unwrap().unwrap();
        if record.status != shared::store::registry::TenantStatus::Suspended {
            reverted.push(*id);
        }
        assert_eq!(record.schema_version, latest, "{id}");
    }
    assert!(reverted.is_empty(), "suspension undone for {reverted:?}");
}

/// Tenants in the migrate-all race.
const TENANTS: usize = 10;

#[tokio::test]
async fn a_flood_of_unknown_hosts_cannot_grow_the_tenant_cache() {
    use shared::domain::subdomain::Subdomain;
    use shared::tenancy::directory::TenantDirectory;
    // GIVEN a directory that remembers 16 hosts, and one real tenant
    let app = spawn_app().await;
    let real = app
        .provision(&crate::helpers::unique_subdomain("real"))
        .await
        .tenant;
    let directory = TenantDirectory::with_capacity(
        app.registry().clone(),
        std::time::Duration::from_secs(60),
        16,
    );
    // WHEN 200 random hosts are looked up
    for _ in 0..200 {
        let random = format!("x{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let sub = Subdomain::parse(&random, &Default::default()).unwrap();
        assert!(directory.resolve(&sub).await.is_err());
    }
    // THEN it still remembers at most 16, and real tenants resolve as before
    assert!(
        directory.cached_hosts() <= 16,
        "{}",
        directory.cached_hosts()
    );
    let sub = Subdomain::parse(&real.subdomain, &Default::default()).unwrap();
    assert_eq!(
        directory.resolve(&sub).await.unwrap().tenant_id,
        real.tenant_id
    );
}

#[tokio::test]
async fn a_disabled_admin_can_neither_sign_in_nor_use_a_token_already_issued() {
    // GIVEN the platform admin, signed in
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let list = || async {
        app.admin(reqwest::Method::GET, "/admin/tenants", &token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(list().await, 200);
    let email = shared::domain::email::Email::parse(crate::helpers::ADMIN_EMAIL).unwrap();
    let auth = &app.functions.provisioning.auth;
    // WHEN the account is disabled
    assert!(auth.set_disabled(&email, true).await.unwrap());
    // THEN its token stops working (at once here: the tests' registry cache TTL is 0)
    assert_eq!(list().await, 401);
    let login = app
        .request(reqwest::Method::POST, "api.localhost", "/admin/login")
        .json(&json!({"email": crate::helpers::ADMIN_EMAIL, "password": crate::helpers::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401, "a disabled admin cannot sign in");
    // AND enabling it again restores both
    assert!(auth.set_disabled(&email, false).await.unwrap());
    assert_eq!(list().await, 200);
}

/// A connection to a tenant's database as the tenant's own role (what a leaked tenant secret
/// would give).
async fn as_tenant_role(
    app: &crate::helpers::TestApp,
    tenant_id: &uuid::Uuid,
) -> tokio_postgres::Client {
    use secrecy::ExposeSecret;
    let (_, secret) = crate::auth::tenant_secret(app, tenant_id).await;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&secret.db.host)
        .port(secret.db.port)
        .user(&secret.db.username)
        .password(secret.db.password.expose_secret())
        .dbname(&secret.db.database);
    let (client, connection) = crate::helpers::database_tls()
        .connect(config)
        .await
        .expect("the tenant role connects");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn sql_planted_by_a_tenant_role_never_runs_with_the_platforms_rights() {
    // GIVEN a tenant whose role plants SQL that creates a role (only the platform's database
    // role may): a view in place of the migrations' bookkeeping, a function shadowing a
    // built-in the migration runner calls (with the database's search_path putting it first),
    // and a forced row-level policy on a table the deletion archives
    let app = spawn_app().await;
    let tenant = app
        .provision(&crate::helpers::unique_subdomain("planted"))
        .await
        .tenant;
    let names = shared::store::postgres::admin::TenantDbNames::for_tenant(&tenant.tenant_id);
    let marker = format!("planted_{}", uuid::Uuid::new_v4().simple());
    let database = &names.database;
    let db = as_tenant_role(&app, &tenant.tenant_id).await;
    db.batch_execute(&format!(
        "create function public.escalate() returns integer language plpgsql as $$
           begin
             if not exists (select from pg_catalog.pg_roles where rolname = '{marker}') then
               execute 'create role {marker}';
             end if;
             return 0;
           end $$;
         alter table public.schema_migrations rename to schema_migrations_kept;
         create view public.schema_migrations as
           select version + public.escalate() as version, name, checksum, applied_at
           from public.schema_migrations_kept;
         create function public.pg_advisory_xact_lock(bigint) returns void language plpgsql as $$
           begin perform public.escalate(); end $$;
         alter database {database} set search_path = public, pg_catalog;
         alter table public.resellers enable row level security;
         alter table public.resellers force row level security;
         create policy escalate on public.resellers using (public.escalate() = 0);"
    ))
    .await
    .expect("the tenant role owns its schema");
    // WHEN the platform migrates the tenant and archives its tables (as migrate-all and delete do)
    let password = crate::auth::tenant_secret(&app, &tenant.tenant_id)
        .await
        .1
        .db
        .password;
    let migrated = app
        .db_admin()
        .migrate_tenant(
            &names,
            &password,
            shared::store::postgres::migrations::MIGRATIONS,
        )
        .await;
    let exported = app.db_admin().export_tables(&names, &password).await;
    // THEN the planted SQL ran with the tenant role's rights only: it could not create a role
    // (both runs fail on that, which an operator sees; nothing was escalated)
    assert!(
        !app.db_admin().role_exists(&marker).await.unwrap(),
        "the planted SQL ran as the platform"
    );
    assert!(
        migrated.is_err() && exported.is_err(),
        "{migrated:?} {exported:?}"
    );
}

#[tokio::test]
async fn no_lifecycle_change_interleaves_with_a_provisioning_run_of_the_same_tenant() {
    use shared::control_plane::provisioning::ControlPlaneError;
    use shared::store::registry::Lease;
    // GIVEN an active tenant whose provisioning is being run again (a retry holds its lease)
    let app = spawn_app().await;
    let plane = &app.functions.provisioning.plane;
    let tenant = app
        .provision(&crate::helpers::unique_subdomain("leased"))
        .await
        .tenant;
    let now = chrono::Utc::now();
    let run = Lease {
        owner: uuid::Uuid::new_v4(),
        until: now + chrono::Duration::seconds(60),
    };
    assert!(
        app.registry()
            .take_idempotency_lease(&tenant.idempotency_key, &run, now)
            .await
            .unwrap()
    );
    // WHEN it is suspended or deleted meanwhile THEN both wait their turn (409)
    assert!(matches!(
        plane.suspend(&tenant.tenant_id, "test").await,
        Err(ControlPlaneError::InProgress(_))
    ));
    assert!(matches!(
        plane.delete_tenant(&tenant.tenant_id, "test").await,
        Err(ControlPlaneError::InProgress(_))
    ));
    // AND once the run is over, they go through
    app.registry()
        .release_idempotency_lease(&tenant.idempotency_key, &run)
        .await
        .unwrap();
    plane.suspend(&tenant.tenant_id, "test").await.unwrap();
    plane
        .delete_tenant(&tenant.tenant_id, "test")
        .await
        .unwrap();
}

/// Makes `admin`'s tenant look as it did before EdDSA tokens: HS256 keys in its database
/// secret (`jwt`), no signing secret, nothing published on its record. Returns the old keys.
async fn as_before_eddsa(
    app: &crate::helpers::TestApp,
    admin: &crate::auth::TenantAdmin,
) -> legacy::HmacKeys {
    let ctx = &app.functions.auth.tenant;
    let id = admin.tenant.tenant_id;
    let name = tenant_secret_name(ctx.secrets_prefix(), &id);
    let (mut secret, _) = crate::auth::tenant_secret(app, &id).await;
    let old = legacy::HmacKeys {
        keys: vec![legacy::HmacKey::generate()],
    };
    secret["jwt"] = serde_json::to_value(&old).unwrap();
    put_secret(app, &name, &secret).await;
    ctx.secrets()
        .delete(&signing_secret_name(ctx.secrets_prefix(), &id))
        .await
        .unwrap();
    app.registry()
        .update_tenant(&id, |t| {
            t.verifying_keys = Default::default();
            t.keys_version += 1;
            Ok::<_, shared::store::registry::RegistryError>(true)
        })
        .await
        .unwrap();
    old
}

async fn put_secret(app: &crate::helpers::TestApp, name: &str, value: &Value) {
    app.functions
        .auth
        .tenant
        .secrets()
        .put(name, &secrecy::SecretString::from(value.to_string()))
        .await
        .unwrap();
}

/// `GET /api/auth/me` with `token`: its status.
async fn me(app: &crate::helpers::TestApp, host: &str, token: &str) -> u16 {
    crate::auth::call(
        app,
        reqwest::Method::GET,
        host,
        "/api/auth/me",
        Some(token),
        None,
    )
    .await
    .status
}

/// Signs in and returns the token with its algorithm.
async fn sign_in(
    app: &crate::helpers::TestApp,
    admin: &crate::auth::TenantAdmin,
) -> (String, String) {
    let res = crate::auth::login(app, &admin.host, &admin.email, &admin.password).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let token = res.body["access_token"].as_str().unwrap().to_owned();
    let alg = crate::auth::decode_token(&token).0["alg"]
        .as_str()
        .unwrap()
        .to_owned();
    (token, alg)
}

#[tokio::test]
async fn a_tenant_from_before_eddsa_gets_its_key_pair_and_its_hs256_tokens_retire() {
    // GIVEN a tenant as it was before EdDSA: HS256 keys in the database secret only
    let app = spawn_app().await;
    let admin = crate::auth::signed_in_admin(&app, "legacy").await;
    as_before_eddsa(&app, &admin).await;
    let id = admin.tenant.tenant_id;
    // THEN it still signs in (HS256, with its old key) and its tokens work
    let (old_token, alg) = sign_in(&app, &admin).await;
    assert_eq!(alg, "HS256");
    assert_eq!(me(&app, &admin.host, &old_token).await, 200);
    // AND a key rotation waits for the migration run (it alone retires the HS256 keys)
    let rotation = crate::auth::call(
        &app,
        reqwest::Method::POST,
        &admin.host,
        "/api/auth/keys/rotate",
        Some(&old_token),
        None,
    )
    .await;
    assert_eq!(rotation.status, 409, "{}", rotation.body);
    assert_eq!(
        rotation.body["error"]["code"], "keys_not_migrated",
        "{}",
        rotation.body
    );

    // WHEN a migration run goes over it
    let plane = &app.functions.provisioning.plane;
    plane.migrate_all("test").await.expect("migrate-all");
    // THEN its record publishes an EdDSA key whose private half only the signing secret holds
    let record = app.registry().get_tenant(&id).await.unwrap().unwrap();
    assert_eq!(record.verifying_keys.keys.len(), 1);
    let ring = crate::auth::tenant_keys(&app, &id).await;
    assert_eq!(ring.verifying_keys(), record.verifying_keys);
    // AND new sign-ins get EdDSA tokens, while the HS256 one keeps working until it expires
    let (new_token, alg) = sign_in(&app, &admin).await;
    assert_eq!(alg, "EdDSA");
    assert_eq!(me(&app, &admin.host, &new_token).await, 200);
    assert_eq!(me(&app, &admin.host, &old_token).await, 200);
    let (secret, _) = crate::auth::tenant_secret(&app, &id).await;
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(secret["jwt_accepted_until"].clone()).unwrap();
    assert!(
        until > chrono::Utc::now() + chrono::Duration::minutes(60),
        "{until}"
    );

    // WHEN that time has passed (moved back here) and the next run goes over it
    let mut secret = secret;
    secret["jwt_accepted_until"] = json!(chrono::Utc::now() - chrono::Duration::seconds(1));
    let name = tenant_secret_name(app.functions.auth.tenant.secrets_prefix(), &id);
    put_secret(&app, &name, &secret).await;
    plane.migrate_all("test").await.expect("migrate-all");
    // THEN the HS256 keys are gone from the secret and their token is refused
    let (secret, _) = crate::auth::tenant_secret(&app, &id).await;
    assert!(
        secret.get("jwt").is_none(),
        "{:?}",
        secret.as_object().map(|o| o.keys().collect::<Vec<_>>())
    );
    assert!(secret["db"]["password"].is_string());
    assert_eq!(me(&app, &admin.host, &old_token).await, 401);
    // AND the EdDSA token and a new sign-in still work (the database credentials are intact)
    assert_eq!(me(&app, &admin.host, &new_token).await, 200);
    let (_, alg) = sign_in(&app, &admin).await;
    assert_eq!(alg, "EdDSA");
}

#[tokio::test]
async fn nothing_a_data_function_can_read_signs_a_token_it_accepts() {
    // GIVEN a tenant, its database secret (what uploads, analytics and the processor read)
    // and its record (the published public keys)
    let app = spawn_app().await;
    let admin = crate::auth::signed_in_admin(&app, "nomint").await;
    let id = admin.tenant.tenant_id;
    let (secret, _) = crate::auth::tenant_secret(&app, &id).await;
    let record = app.registry().get_tenant(&id).await.unwrap().unwrap();
    // THEN the database secret holds no key material at all
    let fields: Vec<&String> = secret.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["db", "tenant_id"], "{fields:?}");
    // AND a token signed with anything those hold (the public key or the database password
    // as an HMAC secret) is refused by every data function
    let (_, claims) = crate::auth::decode_token(&admin.token);
    let key = &record.verifying_keys.keys[0];
    let public = URL_SAFE_NO_PAD.decode(&key.x).unwrap();
    let password = secret["db"]["password"]
        .as_str()
        .unwrap()
        .as_bytes()
        .to_vec();
    for (what, secret_bytes) in [("public key", public), ("database password", password)] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        let forged = jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&secret_bytes),
        )
        .unwrap();
        for path in [
            "/api/auth/me",
            "/api/uploads/batches",
            "/api/analytics/summary",
        ] {
            let res = crate::auth::call(
                &app,
                reqwest::Method::GET,
                &admin.host,
                path,
                Some(&forged),
                None,
            )
            .await;
            assert_eq!(res.status, 401, "{what} on {path}: {}", res.body);
        }
    }
    // AND the genuine token is accepted on the same routes
    for path in [
        "/api/auth/me",
        "/api/uploads/batches",
        "/api/analytics/summary",
    ] {
        let res = crate::auth::call(
            &app,
            reqwest::Method::GET,
            &admin.host,
            path,
            Some(&admin.token),
            None,
        )
        .await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
    }
}

#[tokio::test]
async fn concurrent_key_rotations_all_end_up_published_and_sign_ins_keep_working() {
    // GIVEN a tenant admin with a token
    let app = spawn_app().await;
    let admin = crate::auth::signed_in_admin(&app, "rotrace").await;
    // WHEN five rotations run at once
    let rotations = futures_util::future::join_all((0..5).map(|_| {
        crate::auth::call(
            &app,
            reqwest::Method::POST,
            &admin.host,
            "/api/auth/keys/rotate",
            Some(&admin.token),
            None,
        )
    }))
    .await;
    let kids: Vec<String> = rotations
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["kid"].as_str().unwrap().to_owned()
        })
        .collect();
    // THEN every new key is published and live (none lost to another's write)
    let record = app
        .registry()
        .get_tenant(&admin.tenant.tenant_id)
        .await
        .unwrap()
        .unwrap();
    for kid in &kids {
        assert!(record.verifying_keys.is_live(kid), "{kid} not published");
    }
    // AND the token from before still works, and sign-ins sign with a published key
    assert_eq!(me(&app, &admin.host, &admin.token).await, 200);
    for _ in 0..3 {
        let (token, alg) = sign_in(&app, &admin).await;
        assert_eq!(alg, "EdDSA");
        assert_eq!(me(&app, &admin.host, &token).await, 200);
    }
}

#[tokio::test]
async fn admins_and_audit_events_left_in_the_registry_table_move_on_the_next_migration_run() {
    // GIVEN an admin and an audit event written as older code did, into the registry table
    let app = spawn_app().await;
    let registry_table = app.deployed.reference("RegistryTable").unwrap().to_owned();
    let old_layout = shared::store::registry::Registry::new(
        aws_sdk_dynamodb::Client::new(&app.sdk),
        &shared::platform::config::Tables {
            registry: registry_table.clone(),
            admins: registry_table.clone(),
            audit: registry_table,
        },
    );
    let email = "veteran@taskifai.localhost";
    let password = "an old admin's passphrase";
    old_layout
        .create_admin(&shared::store::registry::AdminRecord {
            email: email.into(),
            password_hash: shared::security::password::hash_password(&secrecy::SecretString::from(
                password,
            ))
            .unwrap(),
            created_at: chrono::Utc::now(),
            disabled: false,
        })
        .await
        .unwrap();
    let event = shared::store::audit::AuditEvent::new(
        "cli:veteran",
        "tenant.create",
        None,
        shared::store::audit::Outcome::Success,
    );
    shared::store::audit::AuditLog::new(old_layout.clone())
        .record(&event)
        .await
        .unwrap();
    let admin_login = || async {
        app.request(reqwest::Method::POST, "api.localhost", "/admin/login")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    // THEN the admin can still sign in before the run (to start it)
    assert_eq!(admin_login().await, 200);

    // WHEN a migration run goes
    app.functions
        .provisioning
        .plane
        .migrate_all("test")
        .await
        .expect("migrate-all");
    // THEN both are in their own tables and gone from the registry table
    let audit = shared::store::audit::AuditLog::new(app.registry().clone());
    let listed = audit.list(None, 100, None).await.unwrap();
    assert!(listed.items.iter().any(|e| e.event_id == event.event_id));
    let left = shared::store::audit::AuditLog::new(old_layout.clone())
        .list(None, 100, None)
        .await
        .unwrap();
    assert!(left.items.iter().all(|e| e.event_id != event.event_id));
    assert!(app.registry().get_admin(email).await.unwrap().is_some());
    // AND the admin still signs in, and a second run moves nothing and breaks nothing
    assert_eq!(admin_login().await, 200);
    app.functions
        .provisioning
        .plane
        .migrate_all("test")
        .await
        .expect("a second migrate-all");
    assert_eq!(admin_login().await, 200);
}

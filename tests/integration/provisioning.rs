//! Tenant provisioning and lifecycle through the admin API and the control-plane library:
//! a tenant end to end, idempotency and races, bad input, a fault at every step leaving nothing
//! behind, suspend/activate, delete with export, migrate-all, the audit log.

use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::control_plane::provisioning::{
    ControlPlaneError, Faults, NewTenant, NewTenantInput, Step, control_plane_from_env,
};
use shared::store::postgres::admin::TenantDbNames;
use shared::store::registry::TenantStatus;
use shared::store::secrets::SecretStore;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, unique_subdomain};

fn tenant_body(subdomain: &str) -> Value {
    json!({
        "company_name": "Customer Inc",
        "subdomain": subdomain,
        "admin_email": format!("Admin@{subdomain}.example"),
        "admin_name": "John Doe",
    })
}

async fn post_tenant(
    app: &TestApp,
    token: &str,
    body: &Value,
    key: &str,
) -> (u16, Value, Option<String>) {
    let res = app
        .admin(Method::POST, "/admin/tenants", token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let replayed = res
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().await.unwrap_or(Value::Null), replayed)
}

#[tokio::test]
async fn a_new_tenant_is_provisioned_end_to_end() {
    // GIVEN a logged-in platform admin
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let subdomain = unique_subdomain("acme");

    // WHEN it creates a tenant
    let (status, body, _) =
        post_tenant(&app, &token, &tenant_body(&subdomain), "key-e2e-0001").await;

    // THEN the tenant is active and reachable on its own host
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["subdomain"], subdomain);
    assert_eq!(body["status"], "active");
    assert_eq!(
        body["access_url"],
        format!("http://{subdomain}.localhost:{}", app.address.port())
    );
    let tenant_id: Uuid = body["tenant_id"].as_str().unwrap().parse().unwrap();
    let (status, health) = app
        .get(&format!("{subdomain}.localhost"), "/api/health")
        .await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["tenant_id"], tenant_id.to_string());

    // AND every step is recorded, with the schema version
    let res = app
        .admin(Method::GET, &format!("/admin/tenants/{tenant_id}"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let detail: Value = res.json().await.unwrap();
    let steps: Vec<&str> = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, Step::ALL.map(Step::as_str));
    assert_eq!(
        detail["schema_version"],
        shared::store::postgres::migrations::latest_version()
    );

    // AND the database holds the admin (temporary password), the seeded configs and the mail log
    let names = TenantDbNames::for_tenant(&tenant_id);
    let db = app.db_admin().connect_tenant(&names).await.unwrap();
    let admin = db
        .query_one("SELECT email, role, must_change_password FROM users", &[])
        .await
        .unwrap();
    assert_eq!(
        admin.get::<_, String>(0),
        format!("admin@{subdomain}.example")
    );
    assert_eq!(admin.get::<_, String>(1), "admin");
    assert!(admin.get::<_, bool>(2));
    let vendors: Vec<String> = db
        .query(
            "SELECT vendor_name FROM vendor_configs ORDER BY vendor_name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(vendors, ["boxnox", "galilu", "skins"]);
    let boxnox: Value = db
        .query_one(
            "SELECT config_data FROM vendor_configs WHERE vendor_name = 'boxnox'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(boxnox["column_mapping"]["Sales Amount (EUR)"], "sales_eur");
    assert_eq!(boxnox["validation_rules"]["ean_length"], 13);
    let mail = db
        .query_one("SELECT template, status FROM email_logs", &[])
        .await
        .unwrap();
    assert_eq!(
        (mail.get::<_, String>(0), mail.get::<_, String>(1)),
        ("welcome".into(), "sent".into())
    );

    // AND the secret carries the database credentials (and no key); the signing secret the
    // private key the record publishes; the email→tenant membership exists for discovery; the
    // audit log has the creation
    let plane = &app.functions.provisioning.plane;
    let secret = plane
        .secrets
        .get(&shared::store::secrets::tenant_secret_name(
            &plane.settings.secrets_prefix,
            &tenant_id,
        ))
        .await
        .unwrap()
        .unwrap();
    let secret: Value = serde_json::from_str(secret.expose_secret()).unwrap();
    assert_eq!(secret["db"]["database"], names.database);
    assert!(
        secret.get("jwt").is_none(),
        "no HS256 keys for a new tenant"
    );
    let ring = crate::auth::tenant_keys(&app, &tenant_id).await;
    let record = app
        .registry()
        .get_tenant(&tenant_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.verifying_keys, ring.verifying_keys());
    assert_eq!(record.verifying_keys.keys.len(), 1);
    let members = app
        .registry()
        .memberships_of_email(&format!("admin@{subdomain}.example"))
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].tenant_id, tenant_id);
    let res = app
        .admin(
            Method::GET,
            &format!("/admin/audit?tenant_id={tenant_id}"),
            &token,
        )
        .send()
        .await
        .unwrap();
    let audit: Value = res.json().await.unwrap();
    assert!(
        audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "tenant.create" && e["outcome"] == "success")
    );
}

#[tokio::test]
async fn the_tenant_role_reaches_only_its_own_database() {
    // GIVEN two tenants
    let app = spawn_app().await;
    let a = app.provision(&unique_subdomain("alpha")).await;
    let b = app.provision(&unique_subdomain("bravo")).await;
    let plane = &app.functions.provisioning.plane;
    let secret_of =
        |id: Uuid| shared::store::secrets::tenant_secret_name(&plane.settings.secrets_prefix, &id);
    let a_secret: Value = serde_json::from_str(
        plane
            .secrets
            .get(&secret_of(a.tenant.tenant_id))
            .await
            .unwrap()
            .unwrap()
            .expose_secret(),
    )
    .unwrap();

    // WHEN tenant A's credentials connect to A's and to B's database
    let connect = |database: String| {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(a_secret["db"]["host"].as_str().unwrap())
            .port(a_secret["db"]["port"].as_u64().unwrap() as u16)
            .user(a_secret["db"]["username"].as_str().unwrap())
            .password(a_secret["db"]["password"].as_str().unwrap())
            .dbname(&database);
        async move {
            crate::helpers::database_tls()
                .connect(cfg)
                .await
                .map(|(c, conn)| (c, tokio::spawn(conn)))
        }
    };
    let own = connect(TenantDbNames::for_tenant(&a.tenant.tenant_id).database).await;
    let other = connect(TenantDbNames::for_tenant(&b.tenant.tenant_id).database).await;

    // THEN only its own works
    let (client, _) = own.expect("A connects to its own database");
    assert_eq!(
        client
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        1
    );
    let Err(err) = other else {
        panic!("A must not connect to B's database")
    };
    let code = err.as_db_error().map(|e| e.code().clone());
    assert_eq!(
        code,
        Some(tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
}

#[tokio::test]
async fn concurrent_claims_of_one_subdomain_have_exactly_one_winner() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let subdomain = unique_subdomain("race");
    let body = tenant_body(&subdomain);
    let (one, two, three) = tokio::join!(
        post_tenant(&app, &token, &body, "race-key-0001"),
        post_tenant(&app, &token, &body, "race-key-0002"),
        post_tenant(&app, &token, &body, "race-key-0003"),
    );
    let mut statuses = [one.0, two.0, three.0];
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409], "{one:?} {two:?} {three:?}");
    let losers = [&one, &two, &three]
        .into_iter()
        .filter(|r| r.0 == 409)
        .count();
    assert_eq!(losers, 2);
    assert!(
        [&one, &two, &three]
            .iter()
            .filter(|r| r.0 == 409)
            .all(|r| r.1["error"]["code"] == "subdomain_taken")
    );
}

#[tokio::test]
async fn the_idempotency_key_replays_and_guards() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let subdomain = unique_subdomain("idem");
    let (status, first, replayed) =
        post_tenant(&app, &token, &tenant_body(&subdomain), "idem-key-0001").await;
    assert_eq!((status, replayed), (201, None), "{first}");

    // the same key and body: the same tenant, marked as a replay
    let (status, again, replayed) =
        post_tenant(&app, &token, &tenant_body(&subdomain), "idem-key-0001").await;
    assert_eq!((status, replayed.as_deref()), (201, Some("true")));
    assert_eq!(again["tenant_id"], first["tenant_id"]);

    // the same subdomain under another key: conflict
    let (status, body, _) =
        post_tenant(&app, &token, &tenant_body(&subdomain), "idem-key-0002").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("subdomain_taken"))
    );

    // the same key for another request: refused
    let (status, body, _) = post_tenant(
        &app,
        &token,
        &tenant_body(&unique_subdomain("other")),
        "idem-key-0001",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    assert_eq!(app.registry().all_tenants().await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_stores_nothing() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let ok = unique_subdomain("valid");
    let with = |field: &str, value: Value| {
        let mut b = tenant_body(&ok);
        b[field] = value;
        b
    };
    let without = |field: &str| {
        let mut b = tenant_body(&ok);
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let cases = [
        (with("subdomain", json!("ab")), 400, "invalid_subdomain"),
        (
            with("subdomain", json!("a".repeat(51))),
            400,
            "invalid_subdomain",
        ),
        (
            with("subdomain", json!("Bad_Name")),
            400,
            "invalid_subdomain",
        ),
        (with("subdomain", json!("-edge")), 400, "invalid_subdomain"),
        (
            with("subdomain", json!("x'; DROP DATABASE postgres; --")),
            400,
            "invalid_subdomain",
        ),
        (with("subdomain", json!("admin")), 400, "subdomain_reserved"),
        (with("subdomain", json!("www")), 400, "subdomain_reserved"),
        (
            with("admin_email", json!("not-an-email")),
            400,
            "invalid_email",
        ),
        (with("admin_email", json!(42)), 400, "invalid_json"),
        (
            with("company_name", json!("x".repeat(300))),
            400,
            "invalid_company_name",
        ),
        (without("company_name"), 400, "missing_field"),
        (without("admin_name"), 400, "missing_field"),
    ];
    for (body, status, code) in cases {
        let (got, res, _) =
            post_tenant(&app, &token, &body, &format!("bad-{}", Uuid::new_v4())).await;
        assert_eq!(
            (got, res["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {res}"
        );
    }
    let res = app
        .admin(Method::POST, "/admin/tenants", &token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .admin(Method::POST, "/admin/tenants", &token)
        .header("Idempotency-Key", "short")
        .json(&tenant_body(&ok))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // unknown and malformed ids, paging
    let res = app
        .admin(
            Method::GET,
            &format!("/admin/tenants/{}", Uuid::new_v4()),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .admin(Method::GET, "/admin/tenants/not-a-uuid", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    for path in [
        "/admin/tenants?limit=0",
        "/admin/tenants?limit=abc",
        "/admin/tenants?cursor=garbage",
    ] {
        let res = app.admin(Method::GET, path, &token).send().await.unwrap();
        assert_eq!(res.status(), 400, "{path}");
    }
    for (method, path) in [
        (Method::PATCH, "suspend"),
        (Method::PATCH, "activate"),
        (Method::DELETE, ""),
    ] {
        let res = app
            .admin(
                method,
                format!("/admin/tenants/{}/{path}", Uuid::new_v4()).trim_end_matches('/'),
                &token,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    assert!(
        app.registry().all_tenants().await.unwrap().is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn admin_routes_require_a_platform_token() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for auth in [
        None,
        Some("Bearer nonsense"),
        Some("Basic abc"),
        Some(&*format!("Bearer {token}x")),
    ] {
        let mut req = app.request(Method::GET, "api.localhost", "/admin/tenants");
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        assert_eq!(req.send().await.unwrap().status(), 401, "{auth:?}");
    }
    let res = app
        .request(Method::POST, "api.localhost", "/admin/login")
        .json(&json!({"email": crate::helpers::ADMIN_EMAIL, "password": "wrong password!!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .request(Method::POST, "api.localhost", "/admin/login")
        .json(&json!({"email": "nobody@platform.test", "password": "whatever password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // admin routes do not exist on tenant hosts
    let res = app
        .request(Method::GET, "acme.localhost", "/admin/tenants")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        !app.logs.text().contains(crate::helpers::ADMIN_PASSWORD),
        "passwords never reach the logs"
    );
}

#[tokio::test]
async fn a_fault_at_any_step_leaves_nothing_behind() {
    let app = spawn_app().await;
    let env = app.env.clone();
    for step in Step::ALL {
        // GIVEN a control plane whose step N fails after doing its work
        let (mut plane, _) = control_plane_from_env(
            &shared::platform::config::Env(|k: &str| env.get(k).cloned()),
            &app.sdk,
        )
        .unwrap();
        plane.faults = Faults {
            fail_after: Some(step),
        };
        let subdomain = unique_subdomain("fault");
        let request = NewTenant::parse(
            NewTenantInput {
                company_name: Some("Faulty Ltd".into()),
                subdomain: Some(subdomain.clone()),
                admin_email: Some(format!("admin@{subdomain}.example")),
                admin_name: Some("F".into()),
            },
            &plane.settings.platform.domain,
        )
        .unwrap();
        let key = format!("fault-{}", Uuid::new_v4());

        // WHEN provisioning runs
        let err = plane
            .provision(&request, &key, "test", &|_| {})
            .await
            .unwrap_err();

        // THEN it reports the step, and only the failed record remains
        let ControlPlaneError::StepFailed {
            tenant_id,
            step: failed,
            ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(failed, step.as_str());
        let names = TenantDbNames::for_tenant(&tenant_id);
        let db = plane.db().await.unwrap();
        assert!(
            !db.database_exists(&names.database).await.unwrap(),
            "{step:?}: database left"
        );
        assert!(
            !db.role_exists(&names.role).await.unwrap(),
            "{step:?}: role left"
        );
        let prefix = &plane.settings.secrets_prefix;
        for secret in [
            shared::store::secrets::tenant_secret_name(prefix, &tenant_id),
            shared::store::secrets::signing_secret_name(prefix, &tenant_id),
        ] {
            assert!(
                plane.secrets.get(&secret).await.unwrap().is_none(),
                "{step:?}: {secret} left"
            );
        }
        assert!(
            plane
                .registry
                .subdomain_claim(&subdomain)
                .await
                .unwrap()
                .is_none(),
            "{step:?}: claim left"
        );
        assert!(
            plane
                .registry
                .memberships_of_tenant(&tenant_id)
                .await
                .unwrap()
                .is_empty(),
            "{step:?}: membership left"
        );
        let record = plane
            .registry
            .get_tenant(&tenant_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.status, TenantStatus::Failed);
        assert_eq!(record.failure.as_ref().unwrap().step, step.as_str());
        let audit = plane.audit.list(Some(&tenant_id), 10, None).await.unwrap();
        assert!(
            audit.items.iter().any(|e| e.action == "tenant.create"
                && e.outcome == shared::store::audit::Outcome::Failure),
            "{step:?}: no audit"
        );

        // AND a retry with the same key, fault gone, finishes as the same tenant
        plane.faults = Faults::default();
        let done = plane
            .provision(&request, &key, "test", &|_| {})
            .await
            .unwrap();
        assert_eq!(done.tenant.tenant_id, tenant_id);
        assert_eq!(done.tenant.status, TenantStatus::Active);
    }
}

#[tokio::test]
async fn suspension_closes_the_tenant_host_and_activation_reopens_it() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = app.provision(&unique_subdomain("pause")).await.tenant;
    let host = format!("{}.localhost", t.subdomain);
    assert_eq!(app.get(&host, "/api/health").await.0, 200);

    let res = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}/suspend", t.tenant_id),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, body) = app.get(&host, "/api/health").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("tenant_suspended"))
    );
    assert_eq!(app.get(&host, "/api/uploads/health").await.0, 403);

    let res = app
        .admin(
            Method::PATCH,
            &format!("/admin/tenants/{}/activate", t.tenant_id),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&host, "/api/health").await.0, 200);
}

#[tokio::test]
async fn delete_archives_every_table_then_removes_everything() {
    // GIVEN a tenant with some data
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = app.provision(&unique_subdomain("gone")).await.tenant;
    let names = TenantDbNames::for_tenant(&t.tenant_id);
    let db = app.db_admin().connect_tenant(&names).await.unwrap();
    db.execute(
        "INSERT INTO resellers (name, country) VALUES ('Extra', 'Nowhere')",
        &[],
    )
    .await
    .unwrap();
    drop(db);
    // and files: an upload and an export under its prefix
    let s3 = shared::platform::aws::s3_client(&app.sdk);
    for key in ["uploads/b/sales.csv", "exports/e/sales.csv"] {
        s3.put_object()
            .bucket(app.bucket())
            .key(format!("tenants/{}/{key}", t.tenant_id))
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap();
    }

    // WHEN it is deleted (a job)
    let job = app
        .run_job(
            Method::DELETE,
            &format!("/admin/tenants/{}", t.tenant_id),
            &token,
        )
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        (job["total"].as_u64(), job["ok"].as_u64()),
        (Some(1), Some(1))
    );
    let report = &job["results"][0]["report"];

    // THEN every table was exported first
    let tables = report["tables"].as_array().unwrap();
    let resellers = tables.iter().find(|x| x["table"] == "resellers").unwrap();
    assert_eq!(resellers["rows"], 4);
    // (the users' table without their password hashes)
    let users = tables.iter().find(|x| x["table"] == "users").unwrap();
    let users_csv = s3
        .get_object()
        .bucket(app.bucket())
        .key(users["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let users_csv = String::from_utf8(users_csv.body.collect().await.unwrap().to_vec()).unwrap();
    assert!(users_csv.starts_with("user_id,email"), "{users_csv}");
    assert!(!users_csv.contains("password_hash"), "{users_csv}");
    assert!(!users_csv.contains("$argon2"), "{users_csv}");
    let csv = s3
        .get_object()
        .bucket(app.bucket())
        .key(resellers["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let csv = String::from_utf8(csv.body.collect().await.unwrap().to_vec()).unwrap();
    assert!(csv.starts_with("reseller_id,name,country"), "{csv}");
    assert!(csv.contains("Extra,Nowhere"));

    // AND nothing of the tenant remains, its files neither; the subdomain is free again
    let left = s3
        .list_object_versions()
        .bucket(app.bucket())
        .prefix(format!("tenants/{}/", t.tenant_id))
        .send()
        .await
        .unwrap();
    assert!(
        left.versions().is_empty() && left.delete_markers().is_empty(),
        "no version of its files is kept: {left:?}"
    );
    assert!(
        !app.db_admin()
            .database_exists(&names.database)
            .await
            .unwrap()
    );
    assert!(!app.db_admin().role_exists(&names.role).await.unwrap());
    assert!(
        app.registry()
            .get_tenant(&t.tenant_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.registry()
            .subdomain_claim(&t.subdomain)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.registry()
            .memberships_of_tenant(&t.tenant_id)
            .await
            .unwrap()
            .is_empty()
    );
    let plane = &app.functions.provisioning.plane;
    let signing =
        shared::store::secrets::signing_secret_name(&plane.settings.secrets_prefix, &t.tenant_id);
    for secret in [&t.secret_id, &signing] {
        assert!(
            plane.secrets.get(secret).await.unwrap().is_none(),
            "{secret} left"
        );
    }
    assert_eq!(
        app.get(&format!("{}.localhost", t.subdomain), "/api/health")
            .await
            .0,
        404
    );
    let res = app
        .admin(
            Method::DELETE,
            &format!("/admin/tenants/{}", t.tenant_id),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "a second delete finds nothing");
    app.provision(&t.subdomain).await;
}

#[tokio::test]
async fn migrate_all_reports_each_tenant_and_survives_a_broken_one() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let good = app.provision(&unique_subdomain("good")).await.tenant;
    let broken = app.provision(&unique_subdomain("broken")).await.tenant;
    app.db_admin()
        .drop_tenant_database(&TenantDbNames::for_tenant(&broken.tenant_id))
        .await
        .unwrap();

    let job = app.run_job(Method::POST, "/admin/migrations", &token).await;
    assert_eq!(job["status"], "failed", "one tenant failed: {job}");
    let by_id = |id: Uuid| {
        job["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tenant_id"] == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(good.tenant_id)["outcome"], "ok");
    assert_eq!(
        by_id(good.tenant_id)["report"]["to"],
        shared::store::postgres::migrations::latest_version()
    );
    assert_eq!(by_id(good.tenant_id)["subdomain"], good.subdomain);
    assert_eq!(by_id(broken.tenant_id)["outcome"], "failed");
    assert!(
        by_id(broken.tenant_id)["error"]
            .as_str()
            .unwrap()
            .starts_with("migration_failed")
    );
    assert_eq!(
        (
            job["total"].as_u64(),
            job["ok"].as_u64(),
            job["failed"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(
        job["detail"]["template"]["to"],
        shared::store::postgres::migrations::latest_version()
    );
    assert!(job["finished_at"].is_string());
}

#[tokio::test]
async fn tenants_list_in_pages_and_the_audit_log_reads_newest_first() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut created = Vec::new();
    for stem in ["one", "two", "three"] {
        created.push(
            app.provision(&unique_subdomain(stem))
                .await
                .tenant
                .tenant_id,
        );
    }
    let mut seen = Vec::new();
    let mut path = "/admin/tenants?limit=2".to_owned();
    loop {
        let page: Value = app
            .admin(Method::GET, &path, &token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(
            page["tenants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["tenant_id"].as_str().unwrap().parse::<Uuid>().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/admin/tenants?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, created);
    let suspended = created[0];
    app.admin(
        Method::PATCH,
        &format!("/admin/tenants/{suspended}/suspend"),
        &token,
    )
    .send()
    .await
    .unwrap();
    let audit: Value = app
        .admin(Method::GET, "/admin/audit?limit=2", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = &audit["events"][0];
    assert_eq!(first["action"], "tenant.suspend");
    assert_eq!(
        first["actor"],
        format!("admin:{}", crate::helpers::ADMIN_EMAIL)
    );
    assert_eq!(first["tenant_id"], suspended.to_string());
    assert!(audit["next_cursor"].as_str().is_some());
}

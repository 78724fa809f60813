//! Tenant user management and signing-key rotation through the gateway: admins create, list,
//! re-role and delete users (memberships follow), the last admin stays, bad input gets its
//! code, and rotated or revoked keys behave as promised, in this container and in another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::domain::role::Role;
use shared::identity::users::{self as tenant_users, UserAdminError};
use shared::platform::config::Env;
use shared::tenancy::context::Caller;

use crate::helpers::http_event;
use crate::helpers::{TestApp, spawn_app, unique_subdomain};

/// The new password every user in these tests picks.
const NEW_PASSWORD: &str = "a long and fresh passphrase";

/// A provisioned tenant whose admin has replaced the temporary password.
struct Tenant {
    host: String,
    tenant_id: uuid::Uuid,
    admin_email: String,
    /// An admin token without the temporary-password flag.
    admin_token: String,
}

/// `method path` on `host`, with a bearer token and a JSON body when given.
async fn call(
    app: &TestApp,
    method: Method,
    host: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.request(method, host, path);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Signs in; the whole session body.
async fn login(app: &TestApp, host: &str, email: &str, password: &str) -> (u16, Value) {
    let body = json!({"email": email, "password": password});
    call(app, Method::POST, host, "/api/auth/login", None, Some(body)).await
}

/// Replaces a temporary password; the fresh token.
async fn change_password(app: &TestApp, host: &str, token: &str, current: &str) -> String {
    let body = json!({"current_password": current, "new_password": NEW_PASSWORD});
    let (status, session) = call(
        app,
        Method::POST,
        host,
        "/api/auth/password",
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["password_change_required"], false);
    session["access_token"].as_str().unwrap().to_owned()
}

/// First sign-in with a temporary password, then the change it requires; the fresh token.
async fn first_sign_in(app: &TestApp, host: &str, email: &str, temporary: &str) -> String {
    let (status, session) = login(app, host, email, temporary).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["password_change_required"], true);
    change_password(
        app,
        host,
        session["access_token"].as_str().unwrap(),
        temporary,
    )
    .await
}

async fn tenant(app: &TestApp, stem: &str) -> Tenant {
    let provisioned = app.provision(&unique_subdomain(stem)).await;
    let sub = provisioned.tenant.subdomain.clone();
    let host = format!("{sub}.localhost");
    let admin_email = format!("admin@{sub}.example");
    let temporary = provisioned.admin_temporary_password.unwrap();
    let admin_token = first_sign_in(app, &host, &admin_email, temporary.expose_secret()).await;
    Tenant {
        host,
        tenant_id: provisioned.tenant.tenant_id,
        admin_email,
        admin_token,
    }
}

impl Tenant {
    fn email(&self, local: &str) -> String {
        format!(
            "{local}@{}.example",
            self.host.trim_end_matches(".localhost")
        )
    }

    /// Creates a user as the admin; the created user and temporary password.
    async fn create_user(&self, app: &TestApp, email: &str, role: &str) -> (Value, String) {
        let body = json!({"email": email, "full_name": "Test User", "role": role});
        let (status, created) = self
            .as_admin(app, Method::POST, "/api/auth/users", Some(body))
            .await;
        assert_eq!(status, 201, "{created}");
        let password = created["temporary_password"].as_str().unwrap().to_owned();
        (created["user"].clone(), password)
    }

    async fn as_admin(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        call(app, method, &self.host, path, Some(&self.admin_token), body).await
    }
}

fn user_path(user: &Value) -> String {
    format!("/api/auth/users/{}", user["user_id"].as_str().unwrap())
}

fn error_code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

/// The `kid` in a JWT's header.
fn kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_admin_creates_lists_re_roles_and_deletes_a_user() {
    // GIVEN a tenant with its admin signed in
    let app = spawn_app().await;
    let t = tenant(&app, "users").await;

    // WHEN the admin creates an analyst
    let email = t.email("ann");
    let body =
        json!({"email": email.to_uppercase(), "full_name": " Ann Analyst ", "role": "analyst"});
    let (status, created) = t
        .as_admin(&app, Method::POST, "/api/auth/users", Some(body))
        .await;

    // THEN the user is created, normalised, with a temporary password
    assert_eq!(status, 201, "{created}");
    let user = &created["user"];
    assert_eq!(user["email"], email.as_str());
    assert_eq!(user["full_name"], "Ann Analyst");
    assert_eq!(user["role"], "analyst");
    assert_eq!(user["tenant_id"], t.tenant_id.to_string());
    assert_eq!(user["password_change_required"], true);
    let temporary = created["temporary_password"].as_str().unwrap();
    assert!(temporary.len() >= 16);
    // AND discovery finds the tenant for the new email
    let memberships = app.registry().memberships_of_email(&email).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].tenant_id, t.tenant_id);
    assert_eq!(memberships[0].role, "analyst");

    // WHEN a second user is added THEN the list has all three, ordered by email
    t.create_user(&app, &t.email("zed"), "viewer").await;
    let (status, list) = t.as_admin(&app, Method::GET, "/api/auth/users", None).await;
    assert_eq!(status, 200, "{list}");
    let emails: Vec<&str> = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [
            t.admin_email.as_str(),
            email.as_str(),
            t.email("zed").as_str()
        ]
    );

    // WHEN the analyst signs in with the temporary password
    let (status, session) = login(&app, &t.host, &email, temporary).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["password_change_required"], true);
    let flagged = session["access_token"].as_str().unwrap();
    // THEN user management first asks for the password change
    let (status, body) = call(
        &app,
        Method::GET,
        &t.host,
        "/api/auth/users",
        Some(flagged),
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (403, Some("password_change_required"))
    );
    // AND after it, an analyst is simply not allowed
    let analyst_token = change_password(&app, &t.host, flagged, temporary).await;
    let (status, body) = call(
        &app,
        Method::GET,
        &t.host,
        "/api/auth/users",
        Some(&analyst_token),
        None,
    )
    .await;
    assert_eq!((status, error_code(&body)), (403, Some("forbidden")));
    let body = json!({"email": t.email("eve"), "full_name": "Eve", "role": "admin"});
    let (status, _) = call(
        &app,
        Method::POST,
        &t.host,
        "/api/auth/users",
        Some(&analyst_token),
        Some(body),
    )
    .await;
    assert_eq!(status, 403);

    // WHEN the admin makes the analyst a viewer
    let (status, changed) = t
        .as_admin(
            &app,
            Method::PATCH,
            &user_path(user),
            Some(json!({"role": "viewer"})),
        )
        .await;
    // THEN the user and the membership say viewer
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["role"], "viewer");
    assert_eq!(changed["user_id"], user["user_id"]);
    let memberships = app.registry().memberships_of_email(&email).await.unwrap();
    assert_eq!(memberships[0].role, "viewer");

    // WHEN the admin deletes the user
    let res = app
        .request(Method::DELETE, &t.host, &user_path(user))
        .bearer_auth(&t.admin_token)
        .send()
        .await
        .unwrap();
    // THEN it is gone: 204, off the list, no membership, no sign-in, its token refused
    assert_eq!(res.status(), 204);
    assert!(res.text().await.unwrap().is_empty());
    let (_, list) = t.as_admin(&app, Method::GET, "/api/auth/users", None).await;
    assert_eq!(list["users"].as_array().unwrap().len(), 2);
    assert!(
        app.registry()
            .memberships_of_email(&email)
            .await
            .unwrap()
            .is_empty()
    );
    let (status, _) = login(&app, &t.host, &email, NEW_PASSWORD).await;
    assert_eq!(status, 401);
    let (status, _) = call(
        &app,
        Method::GET,
        &t.host,
        "/api/auth/me",
        Some(&analyst_token),
        None,
    )
    .await;
    assert_eq!(status, 401);
    // AND deleting it again is a 404
    let (status, body) = t
        .as_admin(&app, Method::DELETE, &user_path(user), None)
        .await;
    assert_eq!((status, error_code(&body)), (404, Some("user_not_found")));
}

#[tokio::test]
async fn the_last_admin_stays_and_a_demoted_admin_loses_the_powers_at_once() {
    // GIVEN a tenant whose only admin is signed in
    let app = spawn_app().await;
    let t = tenant(&app, "admins").await;
    let (_, list) = t.as_admin(&app, Method::GET, "/api/auth/users", None).await;
    let me = list["users"][0].clone();
    assert_eq!(me["email"], t.admin_email.as_str());

    // WHEN the admin tries to demote or delete themself THEN both are refused
    let (status, body) = t
        .as_admin(
            &app,
            Method::PATCH,
            &user_path(&me),
            Some(json!({"role": "analyst"})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (409, Some("last_admin")));
    let (status, body) = t
        .as_admin(&app, Method::DELETE, &user_path(&me), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (409, Some("cannot_delete_self"))
    );
    // AND re-affirming their own admin role is harmless
    let (status, _) = t
        .as_admin(
            &app,
            Method::PATCH,
            &user_path(&me),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, 200);

    // GIVEN a second admin, signed in
    let (second, temporary) = t.create_user(&app, &t.email("bea"), "admin").await;
    let second_token = first_sign_in(&app, &t.host, &t.email("bea"), &temporary).await;

    // WHEN the first admin steps down THEN that is allowed now
    let (status, changed) = t
        .as_admin(
            &app,
            Method::PATCH,
            &user_path(&me),
            Some(json!({"role": "analyst"})),
        )
        .await;
    assert_eq!(
        (status, changed["role"].as_str()),
        (200, Some("analyst")),
        "{changed}"
    );
    // AND the old admin token, whose claim still says admin, no longer manages users
    let (status, body) = t.as_admin(&app, Method::GET, "/api/auth/users", None).await;
    assert_eq!((status, error_code(&body)), (403, Some("forbidden")));
    let (status, _) = t
        .as_admin(
            &app,
            Method::PATCH,
            &user_path(&me),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, 403);
    // AND the remaining admin is now the last one
    let (status, body) = call(
        &app,
        Method::PATCH,
        &t.host,
        &user_path(&second),
        Some(&second_token),
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!((status, error_code(&body)), (409, Some("last_admin")));
    // AND may delete the former admin
    let (status, _) = call(
        &app,
        Method::DELETE,
        &t.host,
        &user_path(&me),
        Some(&second_token),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(
        app.registry()
            .memberships_of_email(&t.admin_email)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn bad_requests_get_their_codes() {
    // GIVEN a tenant with its admin signed in, and one user
    let app = spawn_app().await;
    let t = tenant(&app, "badreq").await;
    let (user, _) = t.create_user(&app, &t.email("ann"), "viewer").await;

    // WHEN an email is taken (in any case) THEN 409 user_exists, and nothing changes
    for email in [t.email("ann"), t.email("ANN"), t.admin_email.clone()] {
        let body = json!({"email": email, "full_name": "Again", "role": "admin"});
        let (status, body) = t
            .as_admin(&app, Method::POST, "/api/auth/users", Some(body))
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (409, Some("user_exists")),
            "{email}"
        );
    }
    let memberships = app
        .registry()
        .memberships_of_email(&t.email("ann"))
        .await
        .unwrap();
    assert_eq!(memberships[0].role, "viewer");

    // WHEN bodies are malformed THEN 400 with the field's code
    let long_name = "n".repeat(256);
    let email = t.email("new");
    let cases = [
        (json!("not an object"), "invalid_json"),
        (json!({"full_name": "N", "role": "viewer"}), "missing_field"),
        (json!({"email": email, "role": "viewer"}), "missing_field"),
        (json!({"email": email, "full_name": "N"}), "missing_field"),
        (
            json!({"email": "no-at-sign", "full_name": "N", "role": "viewer"}),
            "invalid_email",
        ),
        (
            json!({"email": email, "full_name": "N", "role": "owner"}),
            "invalid_role",
        ),
        (
            json!({"email": email, "full_name": "  ", "role": "viewer"}),
            "invalid_full_name",
        ),
        (
            json!({"email": email, "full_name": long_name, "role": "viewer"}),
            "invalid_full_name",
        ),
        (
            json!({"email": email, "full_name": 7, "role": "viewer"}),
            "invalid_json",
        ),
    ];
    for (body, code) in cases {
        let (status, got) = t
            .as_admin(&app, Method::POST, "/api/auth/users", Some(body.clone()))
            .await;
        assert_eq!((status, error_code(&got)), (400, Some(code)), "{body}");
    }
    let res = app
        .request(Method::POST, &t.host, "/api/auth/users")
        .bearer_auth(&t.admin_token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        app.registry()
            .memberships_of_email(&email)
            .await
            .unwrap()
            .is_empty()
    );

    // AND ids and roles on the user routes are checked
    let unknown = format!("/api/auth/users/{}", uuid::Uuid::new_v4());
    let cases = [
        (
            Method::PATCH,
            "/api/auth/users/42".to_owned(),
            Some(json!({"role": "admin"})),
            400,
            "invalid_user_id",
        ),
        (
            Method::DELETE,
            "/api/auth/users/not-a-uuid".to_owned(),
            None,
            400,
            "invalid_user_id",
        ),
        (
            Method::PATCH,
            unknown.clone(),
            Some(json!({"role": "admin"})),
            404,
            "user_not_found",
        ),
        (Method::DELETE, unknown, None, 404, "user_not_found"),
        (
            Method::PATCH,
            user_path(&user),
            Some(json!({"role": "root"})),
            400,
            "invalid_role",
        ),
        (
            Method::PATCH,
            user_path(&user),
            Some(json!({})),
            400,
            "missing_field",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got_status, got) = t.as_admin(&app, method.clone(), &path, body).await;
        assert_eq!(
            (got_status, error_code(&got)),
            (status, Some(code)),
            "{method} {path}"
        );
    }

    // AND callers without a token, or with a temporary-password one, are turned away
    let (status, _) = call(&app, Method::GET, &t.host, "/api/auth/users", None, None).await;
    assert_eq!(status, 401);
    let (_, temporary) = t.create_user(&app, &t.email("adm"), "admin").await;
    let (_, session) = login(&app, &t.host, &t.email("adm"), &temporary).await;
    let flagged = session["access_token"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, "/api/auth/users".to_owned()),
        (Method::POST, "/api/auth/users".to_owned()),
        (Method::PATCH, user_path(&user)),
        (Method::DELETE, user_path(&user)),
        (Method::POST, "/api/auth/keys/rotate".to_owned()),
    ] {
        let (status, body) = call(
            &app,
            method.clone(),
            &t.host,
            &path,
            Some(flagged),
            Some(json!({})),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (403, Some("password_change_required")),
            "{method} {path}"
        );
    }
    // AND a token of another tenant is no key here
    let other = tenant(&app, "other").await;
    let (status, _) = call(
        &app,
        Method::GET,
        &t.host,
        "/api/auth/users",
        Some(&other.admin_token),
        None,
    )
    .await;
    assert_eq!(status, 401);
}

/// `http_event` as the request lambda_http hands a handler.
fn event(method: &str, host: &str, path: &str, token: Option<&str>) -> lambda_http::Request {
    lambda_http::request::from_str(&http_event(method, host, path, token).to_string()).unwrap()
}

#[tokio::test]
async fn a_demotion_racing_another_cannot_leave_the_tenant_without_an_admin() {
    // GIVEN a tenant whose admins are Amy and Bea, called through the library as the auth
    // function does (the local gateway runs one request at a time, as one Lambda container does)
    let app = spawn_app().await;
    let t = tenant(&app, "race").await;
    let (first, _) = t.create_user(&app, &t.email("amy"), "admin").await;
    let (second, _) = t.create_user(&app, &t.email("bea"), "admin").await;
    let ctx = &app.functions.auth.tenant;
    let registry = &app.functions.auth.registry;
    let tenant = ctx
        .resolve(
            &shared::web::tenant::subdomain(ctx, &event("GET", &t.host, "/api/auth/users", None))
                .unwrap(),
        )
        .await
        .unwrap();
    let caller = |user: &Value| Caller {
        user_id: user["user_id"].as_str().unwrap().parse().unwrap(),
        email: user["email"].as_str().unwrap().to_owned(),
        role: Role::Admin,
        password_change_required: false,
    };
    let (amy, bea) = (caller(&first), caller(&second));
    let (_, list) = t.as_admin(&app, Method::GET, "/api/auth/users", None).await;
    let original = list["users"][0]["user_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    tenant_users::change_role(ctx, registry, &tenant, &amy, original, Role::Viewer)
        .await
        .unwrap();
    // AND Bea's demotion of Amy under way in another session, not yet committed
    let names = shared::store::postgres::admin::TenantDbNames::for_tenant(&t.tenant_id);
    let other_session = app.db_admin().connect_tenant(&names).await.unwrap();
    other_session.batch_execute("BEGIN").await.unwrap();
    other_session
        .execute(
            "UPDATE users SET role = 'viewer' WHERE user_id = $1",
            &[&amy.user_id],
        )
        .await
        .unwrap();

    // WHEN Amy (still an admin as far as committed data goes) demotes Bea meanwhile
    let demotion =
        tenant_users::change_role(ctx, registry, &tenant, &amy, bea.user_id, Role::Viewer);
    tokio::pin!(demotion);
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), &mut demotion).await;

    // THEN the guard waits for the other session's lock on Amy
    assert!(waited.is_err(), "finished without waiting: {waited:?}");
    other_session.batch_execute("COMMIT").await.unwrap();
    // AND, once Amy's demotion commits, refuses: Bea is the last admin
    let refused = demotion.await.unwrap_err();
    assert!(matches!(refused, UserAdminError::LastAdmin), "{refused:?}");
    let users = tenant_users::list_users(ctx, &tenant, &bea).await.unwrap();
    let admins: Vec<&str> = users
        .iter()
        .filter(|u| u.role == Role::Admin)
        .map(|u| u.email.as_str())
        .collect();
    assert_eq!(admins, [bea.email.as_str()]);
}

/// A GET through a second `auth` container: its own caches, the same configuration.
async fn get_in_other_container(other: &auth::App, host: &str, path: &str, token: &str) -> u16 {
    auth::handle(other, event("GET", host, path, Some(token)))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn rotated_keys_sign_new_tokens_and_revocation_bites_everywhere() {
    // GIVEN a tenant, an admin token A signed with the first key, and a second, warm container
    // that has verified A (so it caches the tenant secret)
    let app = spawn_app().await;
    let mut t = tenant(&app, "keys").await;
    let token_a = t.admin_token.clone();
    let env = app.env.clone();
    let other = auth::App::new(&Env(move |name: &str| env.get(name).cloned()), &app.sdk).unwrap();
    assert_eq!(
        get_in_other_container(&other, &t.host, "/api/auth/users", &token_a).await,
        200
    );
    let version_before = app
        .registry()
        .get_tenant(&t.tenant_id)
        .await
        .unwrap()
        .unwrap()
        .keys_version;

    // WHEN the admin rotates the keys without revoking (no body at all)
    let (status, rotated) = t
        .as_admin(&app, Method::POST, "/api/auth/keys/rotate", None)
        .await;

    // THEN a new key signs, both keys verify, nothing is revoked
    assert_eq!(status, 200, "{rotated}");
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, kid(&token_a));
    assert_eq!(rotated["revoked"], json!([]));
    assert_eq!(rotated["active_kids"], json!([kid(&token_a), new_kid]));
    // AND token A still works, here and in the other container
    let (status, _) = t.as_admin(&app, Method::GET, "/api/auth/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        get_in_other_container(&other, &t.host, "/api/auth/users", &token_a).await,
        200
    );
    // AND a fresh login gets a token B from the new key
    let (status, session) = login(&app, &t.host, &t.admin_email, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{session}");
    let token_b = session["access_token"].as_str().unwrap().to_owned();
    assert_eq!(kid(&token_b), new_kid);

    // WHEN the admin rotates again, revoking every older key
    let (status, rotated) = call(
        &app,
        Method::POST,
        &t.host,
        "/api/auth/keys/rotate",
        Some(&token_b),
        Some(json!({"revoke_previous": true})),
    )
    .await;

    // THEN only the newest key is live
    assert_eq!(status, 200, "{rotated}");
    let newest = rotated["kid"].as_str().unwrap().to_owned();
    assert_eq!(rotated["revoked"], json!([kid(&token_a), new_kid]));
    assert_eq!(rotated["active_kids"], json!([newest]));
    // AND tokens A and B are refused at once, in this container and in the warm one
    for token in [&token_a, &token_b] {
        let (status, body) = call(
            &app,
            Method::GET,
            &t.host,
            "/api/auth/me",
            Some(token),
            None,
        )
        .await;
        assert_eq!((status, error_code(&body)), (401, Some("invalid_token")));
        assert_eq!(
            get_in_other_container(&other, &t.host, "/api/auth/me", token).await,
            401
        );
    }
    // AND a fresh login works, signed with the newest key
    let (status, session) = login(&app, &t.host, &t.admin_email, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{session}");
    let token_c = session["access_token"].as_str().unwrap();
    assert_eq!(kid(token_c), newest);
    assert_eq!(
        get_in_other_container(&other, &t.host, "/api/auth/users", token_c).await,
        200
    );
    // AND the registry told every container, the secret kept its database credentials, and the
    // rotations were audited
    let record = app
        .registry()
        .get_tenant(&t.tenant_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.keys_version, version_before + 2);
    assert_eq!(record.status, shared::store::registry::TenantStatus::Active);
    let (status, _) = call(
        &app,
        Method::GET,
        &t.host,
        "/api/auth/users",
        Some(token_c),
        None,
    )
    .await;
    assert_eq!(
        status, 200,
        "the tenant database is still reachable with the stored credentials"
    );
    let audit = shared::store::audit::AuditLog::new(app.registry().clone())
        .list(Some(&t.tenant_id), 50, None)
        .await
        .unwrap();
    let rotations = audit
        .items
        .iter()
        .filter(|e| e.action == "tenant.keys.rotate")
        .count();
    assert_eq!(rotations, 2);

    // AND a malformed body or a non-admin caller is refused
    let res = app
        .request(Method::POST, &t.host, "/api/auth/keys/rotate")
        .bearer_auth(token_c)
        .body("{\"revoke_previous\": \"yes\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    t.admin_token = token_c.to_owned();
    let (_, temporary) = t.create_user(&app, &t.email("ann"), "analyst").await;
    let analyst = first_sign_in(&app, &t.host, &t.email("ann"), &temporary).await;
    let (status, body) = call(
        &app,
        Method::POST,
        &t.host,
        "/api/auth/keys/rotate",
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!((status, error_code(&body)), (403, Some("forbidden")));
}

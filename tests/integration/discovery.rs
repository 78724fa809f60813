//! Central login (`app.<domain>`): `POST /api/discover` lists the active tenants an email belongs
//! to, with their login URLs; bad input gets stable 4xx codes, floods get 429. Also the login
//! throttle of `shared::security::throttle` against the real registry.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};
use shared::ApiError;
use shared::domain::email::Email;
use shared::security::throttle::{Limit, Limits, Throttle, ThrottleError, ThrottleKey};
use shared::store::registry::Membership;

use crate::helpers::{TestApp, spawn_app, unique_subdomain};

/// `POST /api/discover` on `host` with a raw body; status, `Retry-After` and JSON body.
async fn discover_raw(app: &TestApp, host: &str, body: String) -> (u16, Option<u64>, Value) {
    let res = app
        .request(Method::POST, host, "/api/discover")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    (status, retry_after, res.json().await.unwrap_or(Value::Null))
}

/// `POST /api/discover {"email": email}` on the central login host.
async fn discover(app: &TestApp, email: &str) -> (u16, Option<u64>, Value) {
    discover_raw(app, "app.localhost", json!({ "email": email }).to_string()).await
}

async fn add_member(
    app: &TestApp,
    email: &str,
    tenant: &shared::store::registry::TenantRecord,
    name: &str,
) {
    app.registry()
        .put_membership(&Membership {
            email: email.into(),
            tenant_id: tenant.tenant_id,
            subdomain: tenant.subdomain.clone(),
            display_name: name.into(),
            role: "analyst".into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn discovery_lists_only_the_active_tenants_of_an_email_with_their_login_urls() {
    // GIVEN one email in three tenants, one of them suspended, and in a tenant that is gone
    let app = spawn_app().await;
    let (zeta, alpha, gone) = (
        unique_subdomain("zeta"),
        unique_subdomain("alpha"),
        unique_subdomain("gone"),
    );
    let zeta = app.provision(&zeta).await.tenant;
    let alpha = app.provision(&alpha).await.tenant;
    let suspended = app.provision(&gone).await.tenant;
    let email = "multi@customer.example";
    add_member(&app, email, &zeta, "Zeta Retail").await;
    add_member(&app, email, &alpha, "alpha Trading").await;
    add_member(&app, email, &suspended, "Beta Suspended").await;
    let mut vanished = suspended.clone();
    vanished.tenant_id = uuid::Uuid::new_v4();
    add_member(&app, email, &vanished, "Vanished").await;
    app.functions
        .provisioning
        .plane
        .suspend(&suspended.tenant_id, "test")
        .await
        .unwrap();

    // WHEN the email is discovered, in any letter case
    for asked in [email, "Multi@Customer.EXAMPLE", "  multi@customer.example "] {
        let (status, _, body) = discover(&app, asked).await;

        // THEN exactly the two active tenants are offered, by display name, with their URLs
        assert_eq!(status, 200, "{asked}: {body}");
        let port = app.address.port();
        assert_eq!(
            body,
            json!({"tenants": [
                {
                    "tenant_id": alpha.tenant_id,
                    "subdomain": alpha.subdomain,
                    "display_name": "alpha Trading",
                    "login_url": format!("http://{}.localhost:{port}", alpha.subdomain),
                },
                {
                    "tenant_id": zeta.tenant_id,
                    "subdomain": zeta.subdomain,
                    "display_name": "Zeta Retail",
                    "login_url": format!("http://{}.localhost:{port}", zeta.subdomain),
                },
            ]}),
            "{asked}"
        );
    }

    // AND the provisioned admin finds their own tenant
    let (status, _, body) = discover(&app, &format!("admin@{}.example", alpha.subdomain)).await;
    assert_eq!(status, 200);
    assert_eq!(body["tenants"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["tenants"][0]["subdomain"], alpha.subdomain.as_str());

    // AND the log does not carry the email
    assert!(!app.logs.text().contains(email));
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_shape_with_no_tenants() {
    // GIVEN a platform where nobody has this email
    let app = spawn_app().await;

    // WHEN it is discovered
    let (status, _, body) = discover(&app, "nobody@nowhere.example").await;

    // THEN the answer is an ordinary, empty list
    assert_eq!((status, body), (200, json!({"tenants": []})));
}

#[tokio::test]
async fn bad_requests_get_stable_4xx_codes() {
    let app = spawn_app().await;
    let long_email = format!("{}@example.com", "a".repeat(100 * 1024));
    let cases: Vec<(String, u16, &str)> = vec![
        ("not json".into(), 400, "invalid_json"),
        (String::new(), 400, "invalid_json"),
        (r#"["a@b.example"]"#.into(), 400, "invalid_json"),
        ("{}".into(), 400, "missing_field"),
        (r#"{"email": null}"#.into(), 400, "missing_field"),
        (r#"{"mail": "a@b.example"}"#.into(), 400, "missing_field"),
        (r#"{"email": 42}"#.into(), 400, "invalid_email"),
        (r#"{"email": ["a@b.example"]}"#.into(), 400, "invalid_email"),
        (r#"{"email": "not-an-email"}"#.into(), 400, "invalid_email"),
        (r#"{"email": ""}"#.into(), 400, "invalid_email"),
        (
            json!({"email": "a@b.example'; DROP TABLE users;--"}).to_string(),
            400,
            "invalid_email",
        ),
        (
            json!({"email": "\" OR 1=1 --@x.example"}).to_string(),
            400,
            "invalid_email",
        ),
        (
            json!({"email": "admin@x.example' OR '1'='1"}).to_string(),
            400,
            "invalid_email",
        ),
        (
            json!({"email": "EMAIL#x@y.example#TENANT#"}).to_string(),
            400,
            "invalid_email",
        ),
        (
            json!({ "email": long_email }).to_string(),
            413,
            "body_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let shown: String = body.chars().take(60).collect();
        let (got, _, answer) = discover_raw(&app, "app.localhost", body).await;
        assert_eq!(got, status, "{shown}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{shown}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("DROP TABLE"),
            "{shown}: input is not echoed"
        );
    }
}

#[tokio::test]
async fn floods_are_refused_with_retry_after_per_email_and_per_address() {
    // GIVEN the default limits: 10 requests per email and 20 per address, per minute
    let app = spawn_app().await;

    // WHEN one email is asked for 10 times THEN each is answered
    for n in 1..=10 {
        let (status, _, body) = discover(&app, "victim@customer.example").await;
        assert_eq!(status, 200, "request {n}: {body}");
    }
    // WHEN it is asked for once more THEN it is refused until the window ends
    let (status, retry_after, body) = discover(&app, "VICTIM@customer.example").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_requests");
    let retry_after = retry_after.expect("Retry-After");
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    // WHEN the same address asks for other emails THEN it gets up to 20 requests in all
    for n in 12..=20 {
        let (status, _, body) = discover(&app, &format!("other{n}@customer.example")).await;
        assert_eq!(status, 200, "request {n}: {body}");
    }
    // AND after that even malformed requests are refused
    for body in [
        json!({"email": "fresh@customer.example"}).to_string(),
        "nonsense".into(),
    ] {
        let (status, retry_after, answer) = discover_raw(&app, "app.localhost", body).await;
        assert_eq!(status, 429, "{answer}");
        assert!(retry_after.is_some_and(|s| (1..=60).contains(&s)));
    }
}

#[tokio::test]
async fn discovery_is_only_served_on_the_central_login_host() {
    // GIVEN a tenant whose admin could be discovered on app.
    let app = spawn_app().await;
    let subdomain = unique_subdomain("acme");
    app.provision(&subdomain).await;
    let body = json!({ "email": format!("admin@{subdomain}.example") }).to_string();

    // WHEN discovery is asked on the tenant's host or the admin API host THEN there is no such route
    for host in [format!("{subdomain}.localhost"), "api.localhost".into()] {
        let (status, _, answer) = discover_raw(&app, &host, body.clone()).await;
        assert_eq!(status, 404, "{host}: {answer}");
    }

    // AND the function itself refuses a tenant host, should a gateway ever send one
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events/tenant-discovery/discover-ok.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let host = format!("{subdomain}.localhost");
    event["headers"]["host"] = json!(host);
    event["requestContext"]["domainName"] = json!(host);
    event["body"] = json!(body);
    let res = app
        .functions
        .invoke_http("tenant-discovery", &event)
        .await
        .unwrap();
    assert_eq!(res["statusCode"], 404, "{res}");
    let answer: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(answer["error"]["code"], "route_not_found");
}

#[tokio::test]
async fn sign_in_throttling_locks_the_guessing_address_slows_the_email_and_spares_other_tenants() {
    // GIVEN the sign-in throttle on the real registry, with a clock the test moves
    let app = spawn_app().await;
    let now = Arc::new(Mutex::new(chrono::Utc::now()));
    let clock = now.clone();
    let throttle = Throttle::new(app.registry().clone(), Limits::default())
        .with_clock(Arc::new(move || *clock.lock().unwrap()));
    let limits = Limits::default();
    let backoff = limits.login_per_email.backoff.unwrap();
    let tenant = uuid::Uuid::new_v4().to_string();
    let email = Email::parse("ada@customer.example").unwrap();
    let attacker = ThrottleKey::sign_in(&tenant, Some(&email), Some("203.0.113.66"));
    let owner = ThrottleKey::sign_in(&tenant, Some(&email), Some("198.51.100.7"));

    // WHEN one address spends the limit's worth of wrong passwords on the email
    for _ in 0..limits.login_per_email_ip.max {
        throttle.attempt(&attacker).await.unwrap();
    }
    // THEN that address is locked out for the window
    let refused = ApiError::from(throttle.attempt(&attacker).await.unwrap_err());
    assert_eq!(refused.status, 429);
    assert!(
        refused
            .retry_after
            .is_some_and(|s| s > backoff.num_seconds() as u64)
    );
    // AND the owner, elsewhere, is only slowed: a wait of at most the backoff, then a try
    let slowed = ApiError::from(throttle.attempt(&owner).await.unwrap_err());
    assert!(
        slowed
            .retry_after
            .is_some_and(|s| (1..=backoff.num_seconds() as u64).contains(&s)),
        "{slowed:?}"
    );
    *now.lock().unwrap() += backoff + chrono::Duration::seconds(1);
    throttle.attempt(&owner).await.unwrap();
    // AND a correct password clears the email's counters, not the attacker's lockout
    throttle.succeeded(&owner).await.unwrap();
    throttle.attempt(&owner).await.unwrap();
    assert!(throttle.attempt(&attacker).await.is_err());

    // AND another tenant's users behind the attacker's address are not held up
    let elsewhere = ThrottleKey::sign_in(
        &uuid::Uuid::new_v4().to_string(),
        Some(&email),
        Some("203.0.113.66"),
    );
    throttle.attempt(&elsewhere).await.unwrap();
}

#[tokio::test]
async fn a_refused_attempt_spends_nobodys_allowance() {
    // GIVEN an email whose backoff a stranger keeps busy (its free failures used up)
    let app = spawn_app().await;
    let throttle = Throttle::new(app.registry().clone(), Limits::default());
    let email = Email::parse("owner@customer.example").unwrap();
    for n in 0..Limits::default().login_per_email.max {
        let stranger = ThrottleKey::sign_in("t-own", Some(&email), Some(&format!("203.0.113.{n}")));
        throttle.attempt(&stranger).await.unwrap();
    }
    // WHEN the owner tries from home many times while the backoff refuses
    let owner = ThrottleKey::sign_in("t-own", Some(&email), Some("198.51.100.20"));
    for _ in 0..10 {
        assert!(throttle.attempt(&owner).await.is_err());
    }
    // THEN none of those refusals used the owner's own (email, address) attempts
    let key = &owner[0];
    let counter = app
        .registry()
        .read_counter(key.scope().as_str(), key.subject(), chrono::Utc::now())
        .await
        .unwrap();
    assert!(counter.is_none_or(|c| c.hits == 0), "{counter:?}");
}

#[tokio::test]
async fn concurrent_attempts_never_get_more_than_the_limit() {
    // GIVEN one (email, address) with the default limit
    let app = spawn_app().await;
    let throttle = Throttle::new(app.registry().clone(), Limits::default());
    let email = Email::parse("racer@customer.example").unwrap();
    let keys = ThrottleKey::sign_in("t-race", Some(&email), Some("203.0.113.5"));
    // WHEN 50 attempts race
    let outcomes = futures_util::future::join_all((0..50).map(|_| throttle.attempt(&keys))).await;
    // THEN at most the limit's worth get through (a refusal gives back what it had taken, so
    // racing refusals may leave one unused), the rest are refused
    let taken = outcomes.iter().filter(|o| o.is_ok()).count() as i64;
    let max = Limits::default().login_per_email_ip.max;
    assert!((1..=max).contains(&taken), "{taken}: {outcomes:?}");
    assert!(
        outcomes
            .iter()
            .filter_map(|o| o.as_ref().err())
            .all(|e| matches!(e, ThrottleError::Limited { .. })),
        "refusals are 429s, not errors"
    );
}

#[tokio::test]
async fn a_throttle_window_ends() {
    // GIVEN a 1-second window with a single allowed hit, used up
    let app = spawn_app().await;
    let limits = Limits {
        discover_per_email: Limit::hard(1, chrono::Duration::seconds(1)),
        ..Limits::default()
    };
    let now = Arc::new(Mutex::new(chrono::Utc::now()));
    let clock = now.clone();
    let throttle = Throttle::new(app.registry().clone(), limits)
        .with_clock(Arc::new(move || *clock.lock().unwrap()));
    let key = [ThrottleKey::discover_email(
        &Email::parse("tick@customer.example").unwrap(),
    )];
    throttle.hit(&key).await.unwrap();
    assert_eq!(
        ApiError::from(throttle.hit(&key).await.unwrap_err()).status,
        429
    );

    // WHEN the window has passed THEN hits are allowed again
    *now.lock().unwrap() += chrono::Duration::milliseconds(2100);
    throttle.hit(&key).await.unwrap();
}

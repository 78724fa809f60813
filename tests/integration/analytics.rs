//! Analytics end to end: files go through the real pipeline, the figures come back through the
//! real `analytics` handler, and every figure is checked against an independent `GROUP BY` of
//! the raw rows, before and after a batch deletion.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::auth::{Answer, TenantAdmin, call, signed_in_admin, signed_in_user};
use crate::helpers::{TestApp, http_event, spawn_app};
use crate::uploads::{processed, upload_for};

/// A Boxnox-format row: EAN, name, units, EUR, reseller, month, year.
type Line = (u64, &'static str, i64, &'static str, &'static str, u32, u32);

fn csv(lines: &[Line]) -> Vec<u8> {
    let mut out = String::from(
        "Product EAN,Functional Name,Sold Qty,Sales Amount (EUR),Reseller,Month,Year\n",
    );
    for (ean, name, qty, eur, reseller, month, year) in lines {
        out.push_str(&format!(
            "{ean},{name},{qty},{eur},{reseller},{month},{year}\n"
        ));
    }
    out.into_bytes()
}

/// A deterministic spread over 4 months (2024-11 to 2025-02), 3 resellers and 5 products.
fn spread(n: usize, salt: usize) -> Vec<Line> {
    const RESELLERS: [&str; 3] = ["Douglas", "Sephora", "=HYPERLINK(1)"];
    const NAMES: [&str; 5] = ["Rose", "Oud", "Amber", "Musk", "Iris"];
    const AMOUNTS: [&str; 6] = ["10.50", "99.99", "0.01", "250.00", "3.33", "1200.10"];
    (0..n)
        .map(|i| {
            let k = i * 7 + salt;
            let (month, year) = [(11, 2024), (12, 2024), (1, 2025), (2, 2025)][k % 4];
            (
                4_006_381_333_900 + (k % 5) as u64,
                NAMES[k % 5],
                1 + (k % 9) as i64,
                AMOUNTS[k % 6],
                RESELLERS[(k / 3) % 3],
                month,
                year,
            )
        })
        .collect()
}

async fn get(app: &TestApp, who: &TenantAdmin, token: &str, path: &str) -> Answer {
    call(app, Method::GET, &who.host, path, Some(token), None).await
}

/// Adds a second vendor with Boxnox's config.
async fn second_vendor(app: &TestApp, admin: &TenantAdmin, name: &str) {
    let boxnox = get(app, admin, &admin.token, "/api/vendors/boxnox").await;
    assert_eq!(boxnox.status, 200, "{}", boxnox.body);
    let res = call(
        app,
        Method::PUT,
        &admin.host,
        &format!("/api/vendors/{name}"),
        Some(&admin.token),
        Some(&boxnox.body["config"]),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
}

async fn load(app: &TestApp, admin: &TenantAdmin, vendor: &str, lines: &[Line]) -> uuid::Uuid {
    let batch = upload_for(app, admin, vendor, "sales.csv", csv(lines)).await;
    let view = processed(app, admin, &batch).await;
    assert_eq!(view["status"], "completed", "{view}");
    batch
}

/// `group columns → (revenue, units)` by an independent `GROUP BY` of the raw rows.
async fn raw_groups(
    app: &TestApp,
    admin: &TenantAdmin,
    keys: &[&str],
    filter: &str,
) -> BTreeMap<Vec<String>, (String, i64)> {
    let db = app.tenant_db(&admin.tenant.tenant_id).await;
    let columns: Vec<String> = keys
        .iter()
        .map(|k| match *k {
            "month" => "format('%s-%s', year, lpad(month::text, 2, '0'))".to_owned(),
            "vendor" => "vendor_name".to_owned(),
            "product" => "coalesce(product_ean, '')".to_owned(),
            other => format!("coalesce({other}, '')"),
        })
        .collect();
    let list = columns.join(", ");
    let sql = format!(
        "select array[{list}]::text[], sum(sales_eur)::text, sum(quantity)::bigint \
         from sellout_entries join upload_batches using (batch_id) where {filter} group by {list}"
    );
    db.query(&sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, Vec<String>>(0), (r.get(1), r.get(2))))
        .collect()
}

/// The same, from the API's rows.
fn api_groups(body: &Value, keys: &[&str]) -> BTreeMap<Vec<String>, (String, i64)> {
    body["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("rows in {body}"))
        .iter()
        .map(|row| {
            (
                keys.iter()
                    .map(|k| row[*k].as_str().unwrap_or_default().to_owned())
                    .collect(),
                (
                    row["revenue"].as_str().unwrap().to_owned(),
                    row["units"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

const ALL: &str = "from=2024-01&to=2025-12";

async fn check_every_grouping(app: &TestApp, admin: &TenantAdmin) {
    let groupings: &[&[&str]] = &[
        &["month"],
        &["reseller"],
        &["product"],
        &["vendor"],
        &["month", "reseller"],
        &["month", "product"],
        &["reseller", "product"],
        &["vendor", "month"],
    ];
    for keys in groupings {
        let path = format!(
            "/api/analytics/sales?group_by={}&{ALL}&limit=1000",
            keys.join(",")
        );
        let res = get(app, admin, &admin.token, &path).await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
        assert_eq!(
            api_groups(&res.body, keys),
            raw_groups(app, admin, keys, "true").await,
            "{path}"
        );
    }
    let filtered = [
        (
            "from=2024-01&to=2025-12&reseller=Douglas",
            "reseller = 'Douglas'",
        ),
        (
            "from=2024-01&to=2025-12&product=4006381333902",
            "product_ean = '4006381333902'",
        ),
        (
            "from=2024-01&to=2025-12&vendor=boxnox&reseller=Sephora",
            "vendor_name = 'boxnox' and reseller = 'Sephora'",
        ),
        (
            "from=2025-01&to=2025-02&product=4006381333901&reseller=Douglas",
            "(year, month) >= (2025, 1) and product_ean = '4006381333901' and reseller = 'Douglas'",
        ),
    ];
    for (query, sql) in filtered {
        for keys in [&["month"][..], &["reseller"], &["product"]] {
            let path = format!("/api/analytics/sales?group_by={}&{query}", keys.join(","));
            let res = get(app, admin, &admin.token, &path).await;
            assert_eq!(res.status, 200, "{path}: {}", res.body);
            assert_eq!(
                api_groups(&res.body, keys),
                raw_groups(app, admin, keys, sql).await,
                "{path}"
            );
        }
    }
}

/// `(revenue, units, products, resellers)` of the raw rows in a period.
async fn raw_figures(app: &TestApp, admin: &TenantAdmin, filter: &str) -> (String, i64, i64, i64) {
    let db = app.tenant_db(&admin.tenant.tenant_id).await;
    let row = db
        .query_one(
            &format!(
                "select coalesce(sum(sales_eur), 0)::numeric(16, 2)::text, \
                        coalesce(sum(quantity), 0)::bigint, count(distinct product_ean), \
                        count(distinct reseller) \
                 from sellout_entries join upload_batches using (batch_id) where {filter}"
            ),
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

fn figures(body: &Value) -> (String, i64, i64, i64) {
    (
        body["revenue"].as_str().unwrap().to_owned(),
        body["units"].as_i64().unwrap(),
        body["products"].as_i64().unwrap(),
        body["resellers"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn a_new_tenant_reads_zeros_and_empty_lists() {
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "emptyan").await;
    let summary = get(&app, &admin, &admin.token, "/api/analytics/summary").await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert_eq!(summary.body["current"]["revenue"], "0");
    assert_eq!(summary.body["current"]["units"], 0);
    assert_eq!(summary.body["current"]["average_price"], Value::Null);
    assert_eq!(summary.body["change"]["revenue_pct"], Value::Null);
    assert_eq!(summary.body["best"]["product"], Value::Null);
    for path in [
        "/api/analytics/sales?group_by=month",
        "/api/analytics/top-products",
        "/api/analytics/top-resellers",
        "/api/analytics/ecommerce?group_by=country",
    ] {
        let res = get(&app, &admin, &admin.token, path).await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
        assert_eq!(res.body["rows"], json!([]), "{path}");
    }
    let dashboards = get(&app, &admin, &admin.token, "/api/dashboards").await;
    assert_eq!(dashboards.body["dashboards"], json!([]));
}

#[tokio::test]
async fn figures_equal_a_group_by_of_the_raw_rows_through_loads_and_deletions() {
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "exact").await;
    second_vendor(&app, &admin, "nordic").await;
    load(&app, &admin, "boxnox", &spread(60, 0)).await;
    let first_summary = get(
        &app,
        &admin,
        &admin.token,
        "/api/analytics/summary?from=2025-01&to=2025-02",
    )
    .await;
    let second = load(&app, &admin, "nordic", &spread(45, 3)).await;
    check_every_grouping(&app, &admin).await;

    let summary = get(
        &app,
        &admin,
        &admin.token,
        "/api/analytics/summary?from=2025-01&to=2025-02",
    )
    .await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert_eq!(
        figures(&summary.body["current"]),
        raw_figures(&app, &admin, "year = 2025 and month in (1, 2)").await
    );
    assert_eq!(
        figures(&summary.body["previous"]),
        raw_figures(&app, &admin, "year = 2024 and month in (11, 12)").await
    );
    assert_eq!(
        summary.body["previous"]["period"],
        json!({"from": "2024-11", "to": "2024-12"})
    );
    let best = &summary.body["best"]["reseller"];
    let resellers = raw_groups(&app, &admin, &["reseller"], "year = 2025").await;
    let top = resellers
        .iter()
        .max_by(|a, b| {
            let ra: f64 = a.1.0.parse().unwrap();
            let rb: f64 = b.1.0.parse().unwrap();
            ra.total_cmp(&rb)
        })
        .unwrap();
    assert_eq!(best["reseller"].as_str().unwrap(), top.0[0]);

    // Top-N is the head of the grouping, by the metric.
    let top_products = get(
        &app,
        &admin,
        &admin.token,
        "/api/analytics/top-products?metric=units&limit=2&from=2024-01&to=2025-12",
    )
    .await;
    assert_eq!(top_products.status, 200, "{}", top_products.body);
    let rows = top_products.body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["units"].as_i64() >= rows[1]["units"].as_i64());
    assert!(rows[0]["product_name"].is_string(), "{}", rows[0]);

    // Deleting the second batch takes exactly its rows out of every figure.
    let res = call(
        &app,
        Method::DELETE,
        &admin.host,
        &format!("/api/uploads/batches/{second}"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(res.status, 204, "{}", res.body);
    check_every_grouping(&app, &admin).await;
    let after = get(
        &app,
        &admin,
        &admin.token,
        "/api/analytics/summary?from=2025-01&to=2025-02",
    )
    .await;
    assert_eq!(after.body, first_summary.body);
}

#[tokio::test]
async fn pages_walk_every_group_once_and_exports_are_spreadsheet_csv() {
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "pages").await;
    load(&app, &admin, "boxnox", &spread(50, 1)).await;
    let whole = get(
        &app,
        &admin,
        &admin.token,
        &format!("/api/analytics/sales?group_by=reseller,product&{ALL}&limit=1000"),
    )
    .await;
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/analytics/sales?group_by=reseller,product&{ALL}&limit=4");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = get(&app, &admin, &admin.token, &path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        walked.extend(page.body["rows"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(&Value::Array(walked), &whole.body["rows"]);

    // Inline export: BOM, header, one line per group, formulas neutralised.
    let res = app
        .request(
            Method::GET,
            &admin.host,
            &format!("/api/analytics/export.csv?group_by=month,reseller&{ALL}"),
        )
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "month,reseller,revenue_eur,units");
    let groups = raw_groups(&app, &admin, &["month", "reseller"], "true").await;
    assert_eq!(lines.len(), groups.len() + 1);
    assert!(
        lines.iter().any(|l| l.contains(",'=HYPERLINK(1),")),
        "{text}"
    );
    assert!(!lines.iter().any(|l| l.contains(",=HYPERLINK")));

    // A large export goes to the bucket under the tenant's prefix: 303 to a presigned GET.
    let env = shared::platform::config::map_env(app.env.clone());
    let mut small = analytics::App::new(&env, &app.sdk).unwrap();
    small.inline_export_limit = 16;
    let mut event = http_event(
        "GET",
        &admin.host,
        "/api/analytics/export.csv",
        Some(&admin.token),
    );
    event["rawQueryString"] = json!("group_by=month,reseller&from=2024-01&to=2025-12");
    event["queryStringParameters"] =
        json!({"group_by": "month,reseller", "from": "2024-01", "to": "2025-12"});
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    let res = analytics::handle(&small, req).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains(&format!("tenants/{}/exports/", admin.tenant.tenant_id)),
        "{location}"
    );
    let downloaded = app.client.get(&location).send().await.unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn every_bad_filter_is_a_400_naming_its_parameter() {
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "badfilter").await;
    let cases = [
        (
            "/api/analytics/summary?from=2025-13",
            "invalid_parameter",
            "from",
        ),
        ("/api/analytics/summary?to=May", "invalid_parameter", "to"),
        (
            "/api/analytics/summary?from=2025-05&to=2025-01",
            "invalid_range",
            "from",
        ),
        ("/api/analytics/sales", "invalid_parameter", "group_by"),
        (
            "/api/analytics/sales?group_by=week",
            "invalid_parameter",
            "group_by",
        ),
        (
            "/api/analytics/sales?group_by=month,month",
            "invalid_parameter",
            "group_by",
        ),
        (
            "/api/analytics/sales?group_by=month,reseller,product",
            "invalid_parameter",
            "group_by",
        ),
        (
            "/api/analytics/sales?group_by=country",
            "invalid_parameter",
            "group_by",
        ),
        (
            "/api/analytics/sales?group_by=month&limit=1001",
            "invalid_parameter",
            "limit",
        ),
        (
            "/api/analytics/sales?group_by=month&limit=0",
            "invalid_parameter",
            "limit",
        ),
        (
            "/api/analytics/sales?group_by=month&sort=price",
            "invalid_parameter",
            "sort",
        ),
        (
            "/api/analytics/sales?group_by=month&cursor=garbage!",
            "invalid_cursor",
            "cursor",
        ),
        (
            "/api/analytics/top-products?metric=key",
            "invalid_parameter",
            "metric",
        ),
        (
            "/api/analytics/top-resellers?limit=-3",
            "invalid_parameter",
            "limit",
        ),
        (
            "/api/analytics/ecommerce?group_by=reseller",
            "invalid_parameter",
            "group_by",
        ),
        (
            "/api/analytics/export.csv?group_by=month&dataset=orders",
            "invalid_parameter",
            "dataset",
        ),
        ("/api/analytics/export.csv", "invalid_parameter", "group_by"),
    ];
    for (path, code, name) in cases {
        let res = get(&app, &admin, &admin.token, path).await;
        assert_eq!(res.status, 400, "{path}: {}", res.body);
        assert_eq!(res.code(), code, "{path}: {}", res.body);
        let message = res.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(name), "{path}: {message}");
    }
    let long = format!("/api/analytics/summary?reseller={}", "x".repeat(201));
    let res = get(&app, &admin, &admin.token, &long).await;
    assert_eq!((res.status, res.code()), (400, "invalid_parameter"));
}

#[tokio::test]
async fn dashboards_are_private_shared_only_by_admins_and_one_default_each() {
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "dash").await;
    let viewer = signed_in_user(&app, &admin, "viewer").await;
    let body = |name: &str, default: bool, shared: bool| {
        json!({
            "name": name, "is_default": default, "shared": shared,
            "config": {"filters": {"from": "2025-01"}, "widgets": [{"kind": "summary"}, {"kind": "sales_chart", "group_by": "month,reseller"}]}
        })
    };
    let post = |token: &str, b: Value| {
        let token = token.to_owned();
        let app = &app;
        let host = admin.host.clone();
        async move {
            call(
                app,
                Method::POST,
                &host,
                "/api/dashboards",
                Some(&token),
                Some(&b),
            )
            .await
        }
    };
    let private = post(&admin.token, body("Mine", true, false)).await;
    assert_eq!(private.status, 201, "{}", private.body);
    let shared = post(&admin.token, body("Team", false, true)).await;
    assert_eq!(shared.status, 201, "{}", shared.body);
    let refused = post(&viewer, body("Leak", false, true)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "dashboard_forbidden")
    );
    let invalid = post(
        &viewer,
        json!({"name": "x", "config": {"widgets": [{"kind": "sales_chart", "group_by": "week"}]}}),
    )
    .await;
    assert_eq!((invalid.status, invalid.code()), (422, "invalid_dashboard"));
    assert!(
        invalid.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("config.widgets[0].group_by")
    );

    // The viewer sees the shared one only, cannot change it, and keeps their own.
    let listed = get(&app, &admin, &viewer, "/api/dashboards").await;
    let names: Vec<&str> = listed.body["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Team"]);
    let private_id = private.body["dashboard_id"].as_str().unwrap();
    let shared_id = shared.body["dashboard_id"].as_str().unwrap();
    let hidden = get(
        &app,
        &admin,
        &viewer,
        &format!("/api/dashboards/{private_id}"),
    )
    .await;
    assert_eq!((hidden.status, hidden.code()), (404, "dashboard_not_found"));
    let edit = call(
        &app,
        Method::PUT,
        &admin.host,
        &format!("/api/dashboards/{shared_id}"),
        Some(&viewer),
        Some(&body("Mine now", false, false)),
    )
    .await;
    assert_eq!((edit.status, edit.code()), (403, "dashboard_forbidden"));
    let delete = call(
        &app,
        Method::DELETE,
        &admin.host,
        &format!("/api/dashboards/{private_id}"),
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(delete.status, 404);

    // Five concurrent "make this my default": exactly one default, no 5xx.
    let results = futures_util::future::join_all(
        (0..5).map(|i| post(&viewer, body(&format!("Default {i}"), true, false))),
    )
    .await;
    for r in &results {
        assert!(matches!(r.status, 201 | 409), "{} {}", r.status, r.body);
    }
    let listed = get(&app, &admin, &viewer, "/api/dashboards").await;
    let defaults = listed.body["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["is_default"] == true)
        .count();
    assert_eq!(defaults, 1, "{}", listed.body);
    assert_eq!(
        listed.body["dashboards"][0]["is_default"], true,
        "default first"
    );

    // The admin's old default stops being one when another becomes it.
    let update = call(
        &app,
        Method::PUT,
        &admin.host,
        &format!("/api/dashboards/{shared_id}"),
        Some(&admin.token),
        Some(&body("Team", true, true)),
    )
    .await;
    assert_eq!(update.status, 200, "{}", update.body);
    let mine = get(
        &app,
        &admin,
        &admin.token,
        &format!("/api/dashboards/{private_id}"),
    )
    .await;
    assert_eq!(mine.body["is_default"], false);

    // Another tenant's user cannot see or touch any of them, even by id.
    let other = signed_in_admin(&app, "dashother").await;
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let res = call(
            &app,
            method.clone(),
            &other.host,
            &format!("/api/dashboards/{shared_id}"),
            Some(&other.token),
            Some(&body("x", false, false)),
        )
        .await;
        assert_eq!(res.status, 404, "{method} {}", res.body);
    }
    let still = get(
        &app,
        &admin,
        &admin.token,
        &format!("/api/dashboards/{shared_id}"),
    )
    .await;
    assert_eq!(still.body["name"], "Team");
}

//! What `make dev` puts on a fresh platform: a platform admin, a `demo` tenant with a little
//! sample data, and one credentials file (`.local/credentials.json`) saying how to get in.
//! Idempotent: a second run finds both and keeps the passwords already written down.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::control_plane::provisioning::{NewTenant, NewTenantInput, control_plane_from_env};
use shared::platform::config::map_env;
use shared::store::postgres::admin::TenantDbNames;

pub const ADMIN_EMAIL: &str = "ops@taskifai.localhost";
pub const DEMO_SUBDOMAIN: &str = "demo";
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.localhost";

/// Creates the admin and the demo tenant unless they exist; writes `credentials`.
pub async fn bootstrap(
    env: &BTreeMap<String, String>,
    sdk: &aws_config::SdkConfig,
    credentials: &Path,
    gateway_port: u16,
) -> Result<()> {
    let previous: Value = std::fs::read_to_string(credentials)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let (plane, auth) = control_plane_from_env(&map_env(env.clone()), sdk).await?;

    let admin_email = shared::domain::email::Email::parse(ADMIN_EMAIL)?;
    let generated = shared::security::password::generate_password();
    let admin_password = if auth
        .create_admin(&admin_email, &generated)
        .await
        .map_err(anyhow::Error::msg)?
    {
        Some(generated.expose_secret().to_owned())
    } else {
        previous["platform_admin"]["password"]
            .as_str()
            .map(str::to_owned)
    };

    let request = NewTenant::parse(
        NewTenantInput {
            company_name: Some("Demo Company".into()),
            subdomain: Some(DEMO_SUBDOMAIN.into()),
            admin_email: Some(DEMO_ADMIN_EMAIL.into()),
            admin_name: Some("Demo Admin".into()),
        },
        &plane.settings.platform.domain,
    )
    .map_err(anyhow::Error::msg)?;
    let provisioned = plane
        .provision(&request, "local-demo-tenant", "system:make-dev", &|_| {})
        .await
        .map_err(|e| anyhow::Error::msg(shared::ApiError::from(e)))?;
    let tenant = &provisioned.tenant;
    let demo_password = match &provisioned.admin_temporary_password {
        Some(p) => {
            let client = plane
                .db
                .connect_tenant(&TenantDbNames::for_tenant(&tenant.tenant_id))
                .await?;
            client
                .batch_execute(SAMPLE_DATA)
                .await
                .context("loading the demo sample data")?;
            Some(p.expose_secret().to_owned())
        }
        None => previous["demo_tenant"]["admin_password"]
            .as_str()
            .map(str::to_owned),
    };
    let unknown = "(set on an earlier run; see the first run's credentials file)";
    let doc = json!({
        "postgres": {"url": env.get("DATABASE_ADMIN_URL"), "note": "superuser of the local cluster"},
        "aws_emulator": {
            "endpoint": env.get("AWS_ENDPOINT_URL"),
            "region": env.get("AWS_REGION"),
            "access_key_id": env.get("AWS_ACCESS_KEY_ID"),
            "secret_access_key": env.get("AWS_SECRET_ACCESS_KEY"),
        },
        "platform_admin": {
            "email": ADMIN_EMAIL,
            "password": admin_password.as_deref().unwrap_or(unknown),
            "login": format!("POST http://api.localhost:{gateway_port}/admin/login"),
        },
        "demo_tenant": {
            "tenant_id": tenant.tenant_id,
            "url": provisioned.access_url,
            "admin_email": DEMO_ADMIN_EMAIL,
            "admin_password": demo_password.as_deref().unwrap_or(unknown),
            "note": "temporary password: it must be changed at first login",
        },
    });
    write_private(credentials, &serde_json::to_string_pretty(&doc)?)?;
    Ok(())
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// A few months of sales from two resellers, with the monthly rollup to match.
const SAMPLE_DATA: &str = r#"
INSERT INTO products (ean, functional_name, brand) VALUES
  ('4260123456789', 'Hydrating Serum 30ml', 'TaskifAI Demo'),
  ('4260123456796', 'Night Cream 50ml', 'TaskifAI Demo'),
  ('4260123456802', 'Cleansing Foam 150ml', 'TaskifAI Demo')
ON CONFLICT (ean) DO NOTHING;

WITH batch AS (
  INSERT INTO upload_batches (vendor_name, file_name, file_size_bytes, status, rows_total, rows_loaded, completed_at)
  VALUES ('boxnox', 'demo-sample.xlsx', 4096, 'completed', 6, 6, now())
  RETURNING batch_id
)
INSERT INTO sellout_entries (batch_id, source_row, product_ean, functional_name, reseller, vendor_name, quantity, sales_eur, month, year)
SELECT batch_id, r.source_row, r.ean, r.name, r.reseller, 'boxnox', r.qty, r.eur, r.month, 2026
FROM batch, (VALUES
  (1, '4260123456789', 'Hydrating Serum 30ml', 'Galilu', 40, 1196.00, 8),
  (2, '4260123456796', 'Night Cream 50ml', 'Galilu', 25, 1122.50, 8),
  (3, '4260123456789', 'Hydrating Serum 30ml', 'Boxnox', 60, 1794.00, 9),
  (4, '4260123456802', 'Cleansing Foam 150ml', 'Boxnox', 80, 1592.00, 9),
  (5, '4260123456796', 'Night Cream 50ml', 'Skins SA', 30, 1347.00, 10),
  (6, '4260123456789', 'Hydrating Serum 30ml', 'Skins SA', 55, 1644.50, 10)
) AS r(source_row, ean, name, reseller, qty, eur, month);

INSERT INTO sales_monthly (year, month, reseller, product_ean, vendor_name, quantity, sales_eur)
SELECT year, month, reseller, product_ean, vendor_name, sum(quantity), sum(sales_eur)
FROM sellout_entries GROUP BY year, month, reseller, product_ean, vendor_name
ON CONFLICT (year, month, vendor_name, reseller, product_ean) DO UPDATE
  SET quantity = EXCLUDED.quantity, sales_eur = EXCLUDED.sales_eur;
"#;

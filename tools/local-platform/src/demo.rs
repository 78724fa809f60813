//! What `make dev` puts on a fresh platform: a platform admin, a `demo` tenant whose sample sales
//! file arrives through the upload pipeline, and one credentials file (`.local/credentials.json`) saying how to get in.
//! Idempotent: a second run finds both and keeps the passwords already written down.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::control_plane::provisioning::{NewTenant, NewTenantInput, control_plane_from_env};
use shared::ingest::batches::{self, NewUpload, UploadRequest};
use shared::platform::config::map_env;
use shared::store::objects::ObjectStore;
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
    let (plane, auth) = control_plane_from_env(&map_env(env.clone()), sdk)?;

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
            upload_sample(&plane, &tenant.tenant_id)
                .await
                .context("uploading the demo sample file")?;
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

/// Almost two years of Boxnox sales (8 products, 6 resellers), with two rows a person would have
/// to fix, as a vendor would send them.
pub const SAMPLE_FILE: &str = include_str!("../sample/boxnox-demo.csv");
pub const SAMPLE_FILE_NAME: &str = "boxnox-demo.csv";

/// Uploads the sample file for the demo tenant as its admin would: a batch, then the object at
/// the batch's key; the queue and `upload-processor` do the rest.
async fn upload_sample(
    plane: &shared::control_plane::provisioning::ControlPlane<
        shared::store::secrets::AwsSecretStore,
        shared::store::mail::SesMailer,
    >,
    tenant_id: &uuid::Uuid,
) -> Result<()> {
    let client = plane
        .db()
        .await?
        .connect_tenant(&TenantDbNames::for_tenant(tenant_id))
        .await?;
    let admin: uuid::Uuid = client
        .query_one(
            "select user_id from users where email = $1",
            &[&DEMO_ADMIN_EMAIL],
        )
        .await?
        .try_get("user_id")?;
    let upload = NewUpload::parse(UploadRequest {
        vendor: Some("boxnox".into()),
        file_name: Some(SAMPLE_FILE_NAME.into()),
        size_bytes: Some(SAMPLE_FILE.len() as i64),
        content_type: None,
    })
    .map_err(anyhow::Error::msg)?;
    let (batch, key) = batches::create(&client, tenant_id, Some(&admin), &upload)
        .await
        .map_err(anyhow::Error::msg)?;
    ObjectStore::new(
        plane.archive.get().clone(),
        plane.settings.uploads_bucket.clone(),
    )
    .put(&key, SAMPLE_FILE.as_bytes().to_vec(), &upload.content_type)
    .await?;
    println!(
        "demo: uploaded {SAMPLE_FILE_NAME} as batch {}",
        batch.batch_id
    );
    Ok(())
}

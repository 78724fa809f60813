//! The tenant's vendor configs as stored: the current version of each (`vendor_configs`) and every
//! version ever saved (`vendor_config_versions`), so a batch is processed with exactly the
//! version it was uploaded against. Every change is validated as a [`VendorConfig`] first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use crate::ingest::IngestError;
use crate::ingest::batches::valid_vendor_name;
use crate::ingest::vendor::VendorConfig;

/// A vendor config as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VendorView {
    pub vendor: String,
    pub version: i32,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
    pub config: VendorConfig,
}

/// `GET /api/vendors`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VendorList {
    pub vendors: Vec<VendorView>,
}

fn view(row: &Row) -> Result<VendorView, IngestError> {
    let json: serde_json::Value = row.try_get("config_data")?;
    Ok(VendorView {
        vendor: row.try_get("vendor_name")?,
        version: row.try_get("version")?,
        active: row.try_get("is_active")?,
        updated_at: row.try_get("updated_at")?,
        // A stored config that no longer parses would be a bug in a migration: say so.
        config: VendorConfig::parse(&json).map_err(|_| IngestError::Corrupt("vendor config"))?,
    })
}

/// Every vendor, by name (inactive ones too, marked).
pub async fn list(db: &Client) -> Result<VendorList, IngestError> {
    let rows = db
        .query(
            "select vendor_name, version, is_active, updated_at, config_data from vendor_configs \
             order by vendor_name",
            &[],
        )
        .await?;
    let vendors = rows.iter().map(view).collect::<Result<_, _>>()?;
    Ok(VendorList { vendors })
}

/// One vendor's current config.
pub async fn get(db: &Client, name: &str) -> Result<VendorView, IngestError> {
    let row = db
        .query_opt(
            "select vendor_name, version, is_active, updated_at, config_data from vendor_configs \
             where vendor_name = $1",
            &[&name],
        )
        .await?
        .ok_or(IngestError::VendorNotFound)?;
    view(&row)
}

/// Creates the vendor or saves a new version of its config (and activates it). The JSON is
/// validated first; every problem is reported at once.
pub async fn put(
    db: &mut Client,
    name: &str,
    json: &serde_json::Value,
    by: &Uuid,
) -> Result<VendorView, IngestError> {
    if !valid_vendor_name(name) {
        return Err(IngestError::VendorNotFound);
    }
    let config = VendorConfig::parse(json).map_err(IngestError::InvalidConfig)?;
    let stored = config.to_json();
    let tx = db.transaction().await?;
    let row = tx
        .query_one(
            "insert into vendor_configs as v (vendor_name, config_data, is_active, version) \
             values ($1, $2, true, 1) \
             on conflict (vendor_name) do update set config_data = excluded.config_data, \
                 is_active = true, version = v.version + 1, updated_at = now() \
             returning vendor_name, version, is_active, updated_at, config_data",
            &[&name, &stored],
        )
        .await?;
    let version: i32 = row.try_get("version")?;
    tx.execute(
        "insert into vendor_config_versions (vendor_name, version, config_data, created_by) \
         values ($1, $2, $3, $4)",
        &[&name, &version, &stored, by],
    )
    .await?;
    tx.commit().await?;
    view(&row)
}

/// Deactivates a vendor: no new uploads; batches already uploaded are still processed.
pub async fn deactivate(db: &Client, name: &str) -> Result<(), IngestError> {
    let n = db
        .execute(
            "update vendor_configs set is_active = false, updated_at = now() \
             where vendor_name = $1",
            &[&name],
        )
        .await?;
    if n == 0 {
        return Err(IngestError::VendorNotFound);
    }
    Ok(())
}

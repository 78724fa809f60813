//! The rest of the tenant lifecycle: read, list, suspend, activate, delete (export first, then
//! drop everything; safe to retry) and bring every tenant database to the latest schema.

use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use crate::control_plane::provisioning::{ControlPlane, ControlPlaneError};
use crate::identity::admins::RETIRED_ADMIN_KEYS;
use crate::platform::telemetry::ErrorChain;
use crate::security::tokens::KeyRing;
use crate::store::audit::{AuditEvent, Outcome};
use crate::store::mail::Mailer;
use crate::store::objects::ObjectStore;
use crate::store::postgres::admin::TenantDbNames;
use crate::store::postgres::migrations::MIGRATIONS;
use crate::store::registry::{Lease, Page, TenantRecord, TenantStatus};
use crate::store::secrets::{
    SecretStore, get_or_create_json, platform_secret_name, signing_secret_name,
};
use crate::tenancy::context::ACCESS_TOKEN_TTL_SECONDS;
use crate::tenancy::secret::SigningSecret;

/// How long a suspension, activation or deletion holds the tenant's idempotency lease at most (a
/// deletion exports every table first).
const LIFECYCLE_LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// How long past one token lifetime a tenant's HS256 keys are still accepted once it has EdDSA
/// keys: containers sign with the old keys until their cached record shows the new ones.
pub const LEGACY_KEYS_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// One table written to the archive before a delete.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ArchivedTable {
    pub table: String,
    pub rows: u64,
    pub key: String,
}

/// What a delete did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeleteReport {
    pub tenant_id: Uuid,
    pub archive_prefix: String,
    pub tables: Vec<ArchivedTable>,
}

/// What a failed tenant shows in a migrate-all report; the cause is in the logs and the audit log.
pub const MIGRATION_FAILED: &str =
    "migration_failed: this tenant's database could not be migrated; the audit log has the cause";

/// One tenant's result in a migrate-all run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TenantMigration {
    pub tenant_id: Uuid,
    pub subdomain: String,
    pub from: i32,
    pub to: i32,
    pub applied: Vec<i32>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A migrate-all run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MigrationRun {
    pub latest_version: i32,
    pub template: TemplateMigration,
    pub tenants: Vec<TenantMigration>,
    pub migrated: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateMigration {
    pub from: i32,
    pub to: i32,
    pub applied: Vec<i32>,
}

impl<S: SecretStore, M: Mailer> ControlPlane<S, M> {
    pub async fn get_tenant(&self, id: &Uuid) -> Result<TenantRecord, ControlPlaneError> {
        self.registry
            .get_tenant(id)
            .await?
            .ok_or(ControlPlaneError::NotFound(*id))
    }

    pub async fn list_tenants(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<TenantRecord>, ControlPlaneError> {
        Ok(self.registry.list_tenants(limit, cursor).await?)
    }

    /// Active → suspended (a suspended tenant's hosts answer 403). Idempotent.
    pub async fn suspend(&self, id: &Uuid, actor: &str) -> Result<TenantRecord, ControlPlaneError> {
        let change = self.set_status(
            id,
            actor,
            TenantStatus::Suspended,
            TenantStatus::Active,
            "suspend",
        );
        self.leased(id, change).await
    }

    /// Suspended → active. Idempotent.
    pub async fn activate(
        &self,
        id: &Uuid,
        actor: &str,
    ) -> Result<TenantRecord, ControlPlaneError> {
        let change = self.set_status(
            id,
            actor,
            TenantStatus::Active,
            TenantStatus::Suspended,
            "activate",
        );
        self.leased(id, change).await
    }

    /// Runs `op` holding the tenant's idempotency lease, as a provisioning run does: a lifecycle
    /// change never interleaves with a (resumed) provisioning of the same tenant, whose record
    /// writes would undo it; `InProgress` (409) while a run holds it.
    async fn leased<T>(
        &self,
        id: &Uuid,
        op: impl Future<Output = Result<T, ControlPlaneError>>,
    ) -> Result<T, ControlPlaneError> {
        let tenant = self.get_tenant(id).await?;
        let key = &tenant.idempotency_key;
        let now = Utc::now();
        let lease = Lease {
            owner: Uuid::new_v4(),
            until: now + LIFECYCLE_LEASE,
        };
        let held = self
            .registry
            .take_idempotency_lease(key, &lease, now)
            .await?;
        if !held && self.registry.idempotency_claim(key).await?.is_some() {
            return Err(ControlPlaneError::InProgress(*id));
        }
        let result = op.await;
        if held && let Err(err) = self.registry.release_idempotency_lease(key, &lease).await {
            tracing::warn!(error = %ErrorChain(&err), "tenant lease not released; it expires");
        }
        result
    }

    /// `from` → `to`, under the tenant's lease (see [`Self::leased`]).
    async fn set_status(
        &self,
        id: &Uuid,
        actor: &str,
        to: TenantStatus,
        from: TenantStatus,
        action: &'static str,
    ) -> Result<TenantRecord, ControlPlaneError> {
        let mut changed = false;
        let tenant = self
            .registry
            .update_tenant(id, |tenant| {
                // Decided afresh on every try: a retry may find someone else made the change.
                changed = false;
                if tenant.status == to {
                    return Ok(false);
                }
                if tenant.status != from {
                    return Err(ControlPlaneError::InvalidState {
                        tenant_id: *id,
                        status: tenant.status,
                        action,
                    });
                }
                tenant.status = to;
                tenant.updated_at = Utc::now();
                changed = true;
                Ok(true)
            })
            .await?
            .ok_or(ControlPlaneError::NotFound(*id))?;
        if !changed {
            return Ok(tenant);
        }
        self.audit
            .record(&AuditEvent::new(
                actor,
                format!("tenant.{action}"),
                Some(*id),
                Outcome::Success,
            ))
            .await?;
        Ok(tenant)
    }

    /// Exports every table to `archive/<tenant>/<time>/`, then drops the database, role, secret,
    /// memberships, claim and record. A retry continues where a failed run stopped.
    pub async fn delete_tenant(
        &self,
        id: &Uuid,
        actor: &str,
    ) -> Result<DeleteReport, ControlPlaneError> {
        self.leased(id, self.delete_leased(id, actor)).await
    }

    async fn delete_leased(
        &self,
        id: &Uuid,
        actor: &str,
    ) -> Result<DeleteReport, ControlPlaneError> {
        let tenant = self
            .registry
            .update_tenant(id, |tenant| {
                if tenant.status == TenantStatus::Deleting {
                    return Ok(false);
                }
                tenant.status = TenantStatus::Deleting;
                tenant.updated_at = Utc::now();
                Ok::<_, ControlPlaneError>(true)
            })
            .await?
            .ok_or(ControlPlaneError::NotFound(*id))?;
        let result = self.delete_steps(&tenant).await;
        let event = AuditEvent::new(
            actor,
            "tenant.delete",
            Some(*id),
            if result.is_ok() {
                Outcome::Success
            } else {
                Outcome::Failure
            },
        );
        let event = match &result {
            Ok(r) => event.with_detail(format!(
                "{} tables archived under {}",
                r.tables.len(),
                r.archive_prefix
            )),
            Err(e) => event.with_detail(ErrorChain(e).to_string()),
        };
        self.audit.record_best_effort(&event).await;
        result
    }

    /// The tenant's database secret as stored, JSON: the platform works inside a tenant's
    /// database only as the tenant's role (its password is here), and a migration run edits
    /// the retired HS256 keys in it without re-typing the credentials.
    async fn tenant_secret_json(
        &self,
        tenant: &TenantRecord,
    ) -> Result<serde_json::Value, ControlPlaneError> {
        let raw = self
            .secrets
            .get(&tenant.secret_id)
            .await
            .map_err(|e| credentials_step(e.into()))?
            .ok_or_else(|| credentials_step("the tenant has no secret".into()))?;
        serde_json::from_str(secrecy::ExposeSecret::expose_secret(&raw))
            .map_err(|e| credentials_step(e.into()))
    }

    async fn tenant_db_password(
        &self,
        tenant: &TenantRecord,
    ) -> Result<secrecy::SecretString, ControlPlaneError> {
        db_password(&self.tenant_secret_json(tenant).await?)
    }

    async fn delete_steps(&self, tenant: &TenantRecord) -> Result<DeleteReport, ControlPlaneError> {
        let names = TenantDbNames::for_tenant(&tenant.tenant_id);
        let prefix = format!(
            "archive/{}/{}",
            tenant.tenant_id,
            Utc::now().format("%Y%m%dT%H%M%SZ")
        );
        let mut tables = Vec::new();
        let objects = ObjectStore::new(self.archive.get().clone(), &self.settings.uploads_bucket);
        let step = |what: &'static str| {
            move |e: Box<dyn std::error::Error + Send + Sync>| {
                ControlPlaneError::Step(what.into(), e)
            }
        };
        if self
            .db()
            .await?
            .database_exists(&names.database)
            .await
            .map_err(|e| step("checking the database")(e.into()))?
        {
            let exports = self
                .db()
                .await?
                .export_tables(&names, &self.tenant_db_password(tenant).await?)
                .await
                .map_err(|e| step("exporting tables")(e.into()))?;
            for export in exports {
                let key = format!("{prefix}/{}.csv", export.table);
                objects
                    .put(&key, export.csv.to_vec(), "text/csv")
                    .await
                    .map_err(|e| step("archiving a table")(e.into()))?;
                tables.push(ArchivedTable {
                    table: export.table,
                    rows: export.rows,
                    key,
                });
            }
        }
        // Its uploads and exports go with it (the archive keeps the rows they loaded).
        objects
            .delete_prefix(&format!("tenants/{}/", tenant.tenant_id))
            .await
            .map_err(|e| step("deleting the tenant's files")(e.into()))?;
        self.db()
            .await?
            .drop_tenant_database(&names)
            .await
            .map_err(|e| step("dropping the database")(e.into()))?;
        let signing = signing_secret_name(&self.settings.secrets_prefix, &tenant.tenant_id);
        for name in [&tenant.secret_id, &signing] {
            self.secrets
                .delete(name)
                .await
                .map_err(|e| step("deleting the secrets")(e.into()))?;
        }
        for m in self
            .registry
            .memberships_of_tenant(&tenant.tenant_id)
            .await?
        {
            self.registry
                .delete_membership(&m.email, &tenant.tenant_id)
                .await?;
        }
        self.registry
            .release_subdomain(&tenant.subdomain, &tenant.tenant_id)
            .await?;
        self.registry
            .release_idempotency_key(&tenant.idempotency_key)
            .await?;
        self.registry.delete_tenant(&tenant.tenant_id).await?;
        Ok(DeleteReport {
            tenant_id: tenant.tenant_id,
            archive_prefix: prefix,
            tables,
        })
    }

    /// Gives a tenant made before EdDSA tokens its key pair (private half in its signing
    /// secret, public half on its record), and retires its HS256 keys: accepted until every
    /// token they signed has expired, then removed by the next run after that. The deadline is
    /// set before the keys are published, so HS256 is never accepted open-ended beside them.
    async fn upgrade_token_keys(
        &self,
        tenant: &TenantRecord,
        secret: serde_json::Value,
    ) -> Result<(), ControlPlaneError> {
        self.retire_legacy_keys(tenant, secret).await?;
        if !tenant.verifying_keys.is_empty() {
            return Ok(());
        }
        let step = |e: Box<dyn std::error::Error + Send + Sync>| {
            ControlPlaneError::Step("making the tenant's token keys".into(), e)
        };
        let name = signing_secret_name(&self.settings.secrets_prefix, &tenant.tenant_id);
        // Create-if-absent: a concurrent run that made the ring first wins.
        let secret = get_or_create_json(&self.secrets, &name, || SigningSecret {
            tenant_id: tenant.tenant_id,
            ring: KeyRing::generate(),
        })
        .await
        .map_err(|e| step(e.into()))?;
        if secret.tenant_id != tenant.tenant_id {
            return Err(step("the signing secret names another tenant".into()));
        }
        let published = secret.ring.verifying_keys();
        self.registry
            .update_tenant(&tenant.tenant_id, |now| {
                now.verifying_keys.merge(&published);
                now.keys_version += 1;
                now.updated_at = Utc::now();
                Ok::<_, ControlPlaneError>(true)
            })
            .await?;
        Ok(())
    }

    /// A tenant's HS256 keys (its database secret's `jwt`): given a deadline one token
    /// lifetime (plus a margin) away on the first run, removed by the first run past it.
    async fn retire_legacy_keys(
        &self,
        tenant: &TenantRecord,
        mut secret: serde_json::Value,
    ) -> Result<(), ControlPlaneError> {
        let retire = |e: Box<dyn std::error::Error + Send + Sync>| {
            ControlPlaneError::Step("retiring the tenant's HS256 keys".into(), e)
        };
        // Edited in the secret's JSON, so the credentials are never re-typed.
        let Some(fields) = secret.as_object_mut() else {
            return Err(retire("the tenant secret is not a JSON object".into()));
        };
        if !fields.contains_key("jwt") {
            return Ok(());
        }
        let until = fields
            .get("jwt_accepted_until")
            .and_then(|v| serde_json::from_value::<chrono::DateTime<Utc>>(v.clone()).ok());
        let now = Utc::now();
        match until {
            None => {
                // A container may still sign with them until its cached record (registry TTL)
                // shows the new keys: a margin beyond one token lifetime.
                let until =
                    now + chrono::Duration::seconds(ACCESS_TOKEN_TTL_SECONDS) + LEGACY_KEYS_MARGIN;
                fields.insert("jwt_accepted_until".into(), serde_json::json!(until));
            }
            Some(until) if until <= now => {
                fields.remove("jwt");
                fields.remove("jwt_accepted_until");
            }
            Some(_) => return Ok(()),
        }
        self.secrets
            .put(
                &tenant.secret_id,
                &secrecy::SecretString::from(secret.to_string()),
            )
            .await
            .map_err(|e| retire(e.into()))?;
        drop(secret);
        // Containers refetch the secret now, not in 15 minutes.
        self.registry
            .update_tenant(&tenant.tenant_id, |now| {
                now.keys_version += 1;
                Ok::<_, ControlPlaneError>(true)
            })
            .await?;
        Ok(())
    }

    /// What every migration run does once before the tenants: deletes the retired admin key
    /// secret, moves admins and audit events left in the registry table by older code to their
    /// own tables, brings the template to the latest schema and bounds every live tenant's role.
    /// Returns the template's migration and the tenants to migrate (active or suspended).
    pub(crate) async fn prepare_migrations(
        &self,
    ) -> Result<(TemplateMigration, Vec<TenantRecord>), ControlPlaneError> {
        self.secrets
            .delete(&platform_secret_name(
                &self.settings.secrets_prefix,
                RETIRED_ADMIN_KEYS,
            ))
            .await
            .map_err(|e| {
                ControlPlaneError::Step("deleting the retired admin keys".into(), e.into())
            })?;
        let moved = self.registry.move_admins_and_audit().await?;
        if moved > 0 {
            tracing::info!(moved, "admins and audit events moved to their own tables");
        }
        let template = self
            .db()
            .await?
            .ensure_template(MIGRATIONS)
            .await
            .map_err(|e| ControlPlaneError::Step("migrating the template".into(), e.into()))?;
        let live: Vec<TenantRecord> = self
            .registry
            .all_tenants()
            .await?
            .into_iter()
            .filter(|t| matches!(t.status, TenantStatus::Active | TenantStatus::Suspended))
            .collect();
        let names: Vec<TenantDbNames> = live
            .iter()
            .map(|t| TenantDbNames::for_tenant(&t.tenant_id))
            .collect();
        self.db()
            .await?
            .limit_tenant_roles(&names)
            .await
            .map_err(|e| ControlPlaneError::Step("limiting the tenant roles".into(), e.into()))?;
        Ok((
            TemplateMigration {
                from: template.from,
                to: template.to,
                applied: template.applied,
            },
            live,
        ))
    }

    /// Brings one tenant's database and token keys up to date. A failure is reported with a
    /// stable code (the cause goes to the logs and the audit log), never raised: one broken
    /// tenant does not stop a run.
    pub(crate) async fn migrate_tenant(
        &self,
        tenant: &TenantRecord,
        actor: &str,
    ) -> TenantMigration {
        let names = TenantDbNames::for_tenant(&tenant.tenant_id);
        let result = async {
            // Read once: the password to migrate with, the HS256 keys to retire.
            let secret = self.tenant_secret_json(tenant).await?;
            let password = db_password(&secret)?;
            let report = self
                .db()
                .await?
                .migrate_tenant(&names, &password, MIGRATIONS)
                .await
                .map_err(|e| ControlPlaneError::Step("migrating".into(), e.into()))?;
            self.upgrade_token_keys(tenant, secret).await?;
            // Only the version is written, onto the record as it is now: a suspension or key
            // rotation made since the list was read stays.
            self.registry
                .update_tenant(&tenant.tenant_id, |now| {
                    if now.schema_version == report.to {
                        return Ok(false);
                    }
                    now.schema_version = report.to;
                    now.updated_at = Utc::now();
                    Ok::<_, ControlPlaneError>(true)
                })
                .await?;
            Ok::<_, ControlPlaneError>(report)
        }
        .await;
        match result {
            Ok(report) => TenantMigration {
                tenant_id: tenant.tenant_id,
                subdomain: tenant.subdomain.clone(),
                from: report.from,
                to: report.to,
                applied: report.applied,
                status: "ok",
                error: None,
            },
            Err(e) => {
                // The cause (SQL, object names) is for operators: logs and the audit log. The
                // report carries a stable code only.
                let cause = ErrorChain(&e).to_string();
                tracing::error!(tenant_id = %tenant.tenant_id, error = %cause, "tenant migration failed");
                self.audit
                    .record_best_effort(
                        &AuditEvent::new(
                            actor,
                            "tenant.migrate",
                            Some(tenant.tenant_id),
                            Outcome::Failure,
                        )
                        .with_detail(cause),
                    )
                    .await;
                TenantMigration {
                    tenant_id: tenant.tenant_id,
                    subdomain: tenant.subdomain.clone(),
                    from: tenant.schema_version,
                    to: tenant.schema_version,
                    applied: Vec::new(),
                    status: "failed",
                    error: Some(MIGRATION_FAILED.into()),
                }
            }
        }
    }

    /// Brings the template, then every active or suspended tenant, to the latest schema, one
    /// tenant at a time, in this call (tests and the benchmark; the API and `tenantctl` run it
    /// as a job, `jobs`); a failing tenant is reported and the run goes on.
    pub async fn migrate_all(&self, actor: &str) -> Result<MigrationRun, ControlPlaneError> {
        let (template, live) = self.prepare_migrations().await?;
        let mut tenants = Vec::new();
        for tenant in &live {
            tenants.push(self.migrate_tenant(tenant, actor).await);
        }
        let failed = tenants.iter().filter(|t| t.status == "failed").count();
        let run = MigrationRun {
            latest_version: crate::store::postgres::migrations::latest_version(),
            template,
            migrated: tenants.len() - failed,
            failed,
            tenants,
        };
        self.audit
            .record_best_effort(
                &AuditEvent::new(
                    actor,
                    "migrations.run",
                    None,
                    if failed == 0 {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    },
                )
                .with_detail(format!("{} migrated, {} failed", run.migrated, run.failed)),
            )
            .await;
        Ok(run)
    }
}

fn credentials_step(e: Box<dyn std::error::Error + Send + Sync>) -> ControlPlaneError {
    ControlPlaneError::Step("reading the tenant's database credentials".into(), e)
}

/// The database password in a tenant secret's JSON.
fn db_password(secret: &serde_json::Value) -> Result<secrecy::SecretString, ControlPlaneError> {
    let secret = <crate::tenancy::secret::TenantSecret as serde::Deserialize>::deserialize(secret)
        .map_err(|e| credentials_step(e.into()))?;
    Ok(secret.db.password)
}

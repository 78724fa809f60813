//! Tenant provisioning (DESIGN §7): claim subdomain → role + database from the template →
//! migrate → seed defaults → secret → admin user + membership → active → welcome email → audit.
//! Every step is idempotent, progress is recorded per step, and a failing step undoes what was
//! done (including its own partial work) in reverse, so a failure leaves only the `failed` tenant
//! record (step and reason) and its idempotency key; a retry with that key starts again as the
//! same tenant. One implementation behind both the `provisioning` Lambda and `tenantctl`.

use std::time::Instant;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::control_plane::seeds::seed_defaults;
use crate::domain::email::Email;
use crate::domain::subdomain::Subdomain;
use crate::platform::config::{DomainConfig, PlatformSettings};
use crate::platform::metrics::{self, ProvisioningOutcome};
use crate::platform::telemetry::ErrorChain;
use crate::security::password::{generate_password, hash_password, random_token};
use crate::security::tokens::KeyRing;
use crate::store::audit::{AuditEvent, AuditLog, Outcome};
use crate::store::mail::{Mailer, welcome_email};
use crate::store::postgres::admin::{DbAdmin, TenantDbNames};
use crate::store::postgres::migrations::MIGRATIONS;
use crate::store::postgres::tls::DatabaseTls;
use crate::store::registry::{
    Claim, Failure, Lease, Membership, Put, Registry, RegistryError, StepProgress, TenantRecord,
    TenantStatus,
};
use crate::store::secrets::{SecretStore, signing_secret_name, tenant_secret_name};
use crate::tenancy::secret::{DbCredentials, SigningSecret, TenantSecret};

/// The provisioning steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    ClaimSubdomain,
    CreateDatabase,
    Migrate,
    SeedDefaults,
    StoreSecret,
    CreateAdmin,
    Activate,
    WelcomeEmail,
    Audit,
}

impl Step {
    pub const ALL: [Step; 9] = [
        Step::ClaimSubdomain,
        Step::CreateDatabase,
        Step::Migrate,
        Step::SeedDefaults,
        Step::StoreSecret,
        Step::CreateAdmin,
        Step::Activate,
        Step::WelcomeEmail,
        Step::Audit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::ClaimSubdomain => "claim_subdomain",
            Step::CreateDatabase => "create_database",
            Step::Migrate => "migrate",
            Step::SeedDefaults => "seed_defaults",
            Step::StoreSecret => "store_secret",
            Step::CreateAdmin => "create_admin",
            Step::Activate => "activate",
            Step::WelcomeEmail => "welcome_email",
            Step::Audit => "audit",
        }
    }

    pub fn parse(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Test hook: make a step fail after it has done its work (the hardest case for cleanup).
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub fail_after: Option<Step>,
}

/// What a progress observer (the CLI's progress lines) is told.
#[derive(Debug, Clone)]
pub enum StepEvent {
    Started(Step),
    Done(Step, u64),
    Failed(Step, String),
    Undone(Step),
}

/// A validated tenant request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub company_name: String,
    pub subdomain: Subdomain,
    pub admin_email: Email,
    pub admin_name: String,
}

/// The request body of `POST /admin/tenants`, before validation.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct NewTenantInput {
    pub company_name: Option<String>,
    pub subdomain: Option<String>,
    pub admin_email: Option<String>,
    pub admin_name: Option<String>,
}

impl NewTenant {
    /// Validates every field; the first problem is reported with a field-specific code.
    pub fn parse(input: NewTenantInput, domain: &DomainConfig) -> Result<Self, ControlPlaneError> {
        let text = |value: Option<String>, field: &'static str, code: &'static str| {
            let value = value
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| invalid("missing_field", format!("{field} is required")))?;
            if value.chars().count() > 255 || value.chars().any(char::is_control) {
                return Err(invalid(
                    code,
                    format!("{field} must be 1-255 printable characters"),
                ));
            }
            Ok(value)
        };
        let company_name = text(input.company_name, "company_name", "invalid_company_name")?;
        let subdomain_raw = text(input.subdomain, "subdomain", "invalid_subdomain")?;
        let subdomain =
            Subdomain::parse(&subdomain_raw, &domain.reserved).map_err(|e| match e {
                crate::domain::subdomain::SubdomainError::Reserved(_) => {
                    invalid("subdomain_reserved", e.to_string())
                }
                e => invalid("invalid_subdomain", e.to_string()),
            })?;
        let email_raw = text(input.admin_email, "admin_email", "invalid_email")?;
        let admin_email =
            Email::parse(&email_raw).map_err(|e| invalid("invalid_email", e.to_string()))?;
        let admin_name = text(input.admin_name, "admin_name", "invalid_admin_name")?;
        Ok(Self {
            company_name,
            subdomain,
            admin_email,
            admin_name,
        })
    }

    fn fingerprint(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.company_name, self.subdomain, self.admin_email, self.admin_name
        )
    }
}

/// A request the control plane refuses as malformed: a stable code and a message for people.
fn invalid(code: &'static str, message: impl Into<String>) -> ControlPlaneError {
    ControlPlaneError::Invalid {
        code,
        message: message.into(),
    }
}

/// Control-plane failures.
#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("the subdomain {0} is already taken")]
    SubdomainTaken(String),
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    #[error("tenant {0} is being provisioned right now; retry shortly")]
    InProgress(Uuid),
    #[error("no tenant {0}")]
    NotFound(Uuid),
    #[error("no job {0}")]
    JobNotFound(Uuid),
    #[error("tenant {tenant_id} is {status:?}; cannot {action}")]
    InvalidState {
        tenant_id: Uuid,
        status: TenantStatus,
        action: &'static str,
    },
    #[error(
        "provisioning tenant {tenant_id} failed at step {step}: {reason}; completed steps were undone"
    )]
    StepFailed {
        tenant_id: Uuid,
        step: &'static str,
        reason: String,
    },
    #[error("step failed: {0}")]
    Step(String, #[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

fn step_err<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> ControlPlaneError {
    move |e| ControlPlaneError::Step(what.to_owned(), Box::new(e))
}

/// Settings of the control plane.
#[derive(Debug, Clone)]
pub struct ControlPlaneSettings {
    pub platform: PlatformSettings,
    pub secrets_prefix: String,
    pub uploads_bucket: String,
}

/// A finished (or replayed) provisioning.
#[derive(Debug)]
pub struct Provisioned {
    pub tenant: TenantRecord,
    pub access_url: String,
    /// Only when this call created the admin (never for a replay).
    pub admin_temporary_password: Option<SecretString>,
    /// True when the idempotency key returned an earlier result.
    pub replayed: bool,
}

/// The platform's control plane: registry, tenant databases, secrets, mail, audit.
pub struct ControlPlane<S, M> {
    pub registry: Registry,
    pub audit: AuditLog,
    /// Admin access to PostgreSQL: [`ControlPlane::db`].
    pub db: AdminDb,
    pub secrets: S,
    pub mailer: M,
    pub archive: crate::platform::aws::LazyClient<aws_sdk_s3::Client>,
    pub settings: ControlPlaneSettings,
    pub faults: Faults,
    /// Where long operations' per-tenant work is queued (`control_plane::jobs`).
    pub jobs: crate::store::job_queue::JobQueue,
    /// Set once the template database is known to be at the latest schema (per container).
    pub template_ready: tokio::sync::OnceCell<i32>,
}

/// What the steps hand each other.
#[derive(Default)]
struct Carry {
    /// Created with the database, stored by StoreSecret: in memory only until then.
    secret: Option<TenantSecret>,
    /// The tenant's token keys, made with the database (the record publishes their public
    /// half), stored by StoreSecret.
    signing: Option<KeyRing>,
    admin_password: Option<SecretString>,
    /// The admin password's argon2id hash, computed on a blocking thread while the database
    /// is being created.
    admin_hash:
        Option<tokio::task::JoinHandle<Result<String, crate::security::password::PasswordError>>>,
    /// One admin session on the new database for migrate, seed, admin user and mail log.
    tenant_db: Option<tokio_postgres::Client>,
    /// The last progress write, still in flight while the next step runs.
    progress_write: Option<tokio::task::JoinHandle<Result<(), RegistryError>>>,
}

impl Carry {
    /// Waits for the in-flight progress write.
    async fn flush(&mut self) -> Result<(), ControlPlaneError> {
        match self.progress_write.take() {
            Some(write) => write
                .await
                .map_err(step_err("recording progress"))?
                .map_err(ControlPlaneError::from),
            None => Ok(()),
        }
    }
}

/// What a provisioning request's result counts as in the metrics, and the tenant it concerns.
fn provisioning_outcome(
    result: &Result<Provisioned, ControlPlaneError>,
) -> (ProvisioningOutcome, Option<Uuid>) {
    match result {
        Ok(p) if p.replayed => (ProvisioningOutcome::Replayed, Some(p.tenant.tenant_id)),
        Ok(p) => (ProvisioningOutcome::Ok, Some(p.tenant.tenant_id)),
        Err(ControlPlaneError::StepFailed { tenant_id, .. }) => {
            (ProvisioningOutcome::Failed, Some(*tenant_id))
        }
        Err(ControlPlaneError::Step(..) | ControlPlaneError::Registry(_)) => {
            (ProvisioningOutcome::Failed, None)
        }
        Err(
            ControlPlaneError::InProgress(tenant_id)
            | ControlPlaneError::NotFound(tenant_id)
            | ControlPlaneError::InvalidState { tenant_id, .. },
        ) => (ProvisioningOutcome::Rejected, Some(*tenant_id)),
        Err(
            ControlPlaneError::Invalid { .. }
            | ControlPlaneError::JobNotFound(_)
            | ControlPlaneError::SubdomainTaken(_)
            | ControlPlaneError::IdempotencyKeyReused,
        ) => (ProvisioningOutcome::Rejected, None),
    }
}

/// How long a provisioning run holds its idempotency key: twice the provisioning function's
/// timeout (60 s), so only a dead run's lease ever expires. (A run from `tenantctl` has no
/// timeout; at well under a second per run, it does not come near.)
const LEASE: chrono::Duration = chrono::Duration::seconds(120);

impl<S: SecretStore, M: Mailer> ControlPlane<S, M> {
    /// Admin access to the tenant databases' cluster (credentials read on first use).
    pub async fn db(&self) -> Result<&DbAdmin, ControlPlaneError> {
        // Boxed: awaited in every step, its future would otherwise be laid out inside each
        // caller's, past rustc's query depth for the deepest ones (provisioning).
        Box::pin(self.db.get(&self.secrets)).await
    }

    /// Creates a tenant, or replays / resumes the one `idempotency_key` created. The key is
    /// claimed together with a lease: of concurrent requests with one key exactly one runs the
    /// steps, the others get `InProgress` (409) until it finishes or its lease expires; a retry
    /// of a failed tenant takes the lease the same way. Its duration and outcome go to the
    /// provisioning metrics.
    pub async fn provision(
        &self,
        request: &NewTenant,
        idempotency_key: &str,
        actor: &str,
        progress: &(dyn Fn(&StepEvent) + Send + Sync),
    ) -> Result<Provisioned, ControlPlaneError> {
        let started = Instant::now();
        let result = self
            .provision_with_key(request, idempotency_key, actor, progress)
            .await;
        let (outcome, tenant_id) = provisioning_outcome(&result);
        metrics::provisioning(outcome, started.elapsed(), tenant_id.as_ref());
        result
    }

    /// [`Self::provision`]: the idempotency key's claim and lease around the steps.
    async fn provision_with_key(
        &self,
        request: &NewTenant,
        idempotency_key: &str,
        actor: &str,
        progress: &(dyn Fn(&StepEvent) + Send + Sync),
    ) -> Result<Provisioned, ControlPlaneError> {
        validate_idempotency_key(idempotency_key)?;
        self.ensure_template().await?;
        let fresh_id = Uuid::new_v4();
        let claim = Claim {
            tenant_id: fresh_id,
            idempotency_key: idempotency_key.to_owned(),
            fingerprint: request.fingerprint(),
        };
        let now = Utc::now();
        let lease = Lease {
            owner: Uuid::new_v4(),
            until: now + LEASE,
        };
        let (tenant_id, key_is_new) = match self
            .registry
            .claim_idempotency_key(idempotency_key, &claim, &lease)
            .await?
        {
            Put::Created => (fresh_id, true),
            Put::Exists(prev) if prev.fingerprint != claim.fingerprint => {
                return Err(ControlPlaneError::IdempotencyKeyReused);
            }
            Put::Exists(prev) => {
                if !self
                    .registry
                    .take_idempotency_lease(idempotency_key, &lease, now)
                    .await?
                {
                    return Err(ControlPlaneError::InProgress(prev.tenant_id));
                }
                (prev.tenant_id, false)
            }
        };
        let outcome = self
            .provision_leased(
                request,
                idempotency_key,
                tenant_id,
                key_is_new,
                actor,
                progress,
            )
            .await;
        if let Err(err) = self
            .registry
            .release_idempotency_lease(idempotency_key, &lease)
            .await
        {
            // It expires on its own; a retry waits until then.
            tracing::warn!(error = %crate::platform::telemetry::ErrorChain(&err), "idempotency lease not released");
        }
        outcome
    }

    /// [`Self::provision`] once this run holds the key's lease.
    async fn provision_leased(
        &self,
        request: &NewTenant,
        idempotency_key: &str,
        tenant_id: Uuid,
        key_is_new: bool,
        actor: &str,
        progress: &(dyn Fn(&StepEvent) + Send + Sync),
    ) -> Result<Provisioned, ControlPlaneError> {
        // A key claimed just now has no tenant behind it yet.
        let existing = if key_is_new {
            None
        } else {
            self.registry.get_tenant(&tenant_id).await?
        };
        if let Some(t) = &existing {
            match t.status {
                TenantStatus::Active | TenantStatus::Suspended => {
                    return Ok(Provisioned {
                        access_url: self.settings.platform.tenant_url(&t.subdomain),
                        tenant: t.clone(),
                        admin_temporary_password: None,
                        replayed: true,
                    });
                }
                TenantStatus::Deleting => {
                    return Err(ControlPlaneError::InvalidState {
                        tenant_id,
                        status: t.status,
                        action: "provision",
                    });
                }
                // The lease is ours: a run that left it `provisioning` has died.
                TenantStatus::Provisioning | TenantStatus::Failed => {}
            }
        }

        // Step 1 decides whether this request may proceed at all: a subdomain held by another
        // tenant is a conflict, not a failure to undo.
        let subdomain = request.subdomain.as_str();
        let sub_claim = Claim {
            tenant_id,
            idempotency_key: idempotency_key.to_owned(),
            fingerprint: String::new(),
        };
        progress(&StepEvent::Started(Step::ClaimSubdomain));
        let started = Instant::now();
        match self.registry.claim_subdomain(subdomain, &sub_claim).await? {
            Put::Created => {}
            Put::Exists(holder) if holder.tenant_id == tenant_id => {}
            Put::Exists(_) => {
                if key_is_new {
                    self.registry
                        .release_idempotency_key(idempotency_key)
                        .await?;
                }
                progress(&StepEvent::Failed(
                    Step::ClaimSubdomain,
                    "subdomain taken".into(),
                ));
                self.audit
                    .record_best_effort(
                        &AuditEvent::new(actor, "tenant.create", None, Outcome::Failure)
                            .with_detail(format!("subdomain {subdomain} is taken")),
                    )
                    .await;
                return Err(ControlPlaneError::SubdomainTaken(subdomain.to_owned()));
            }
        }
        let now = Utc::now();
        let mut record = TenantRecord {
            tenant_id,
            subdomain: subdomain.to_owned(),
            company_name: request.company_name.clone(),
            admin_email: request.admin_email.to_string(),
            admin_name: request.admin_name.clone(),
            status: TenantStatus::Provisioning,
            steps: Vec::new(),
            failure: None,
            schema_version: 0,
            secret_id: tenant_secret_name(&self.settings.secrets_prefix, &tenant_id),
            idempotency_key: idempotency_key.to_owned(),
            created_at: existing.as_ref().map_or(now, |t| t.created_at),
            updated_at: now,
            // A resumed run writes a new secret: containers must not keep the old one.
            keys_version: existing.as_ref().map_or(0, |t| t.keys_version + 1),
            verifying_keys: Default::default(),
        };
        let mut carry = Carry::default();
        let password = generate_password();
        let to_hash = SecretString::from(password.expose_secret().to_owned());
        carry.admin_hash = Some(tokio::task::spawn_blocking(move || hash_password(&to_hash)));
        carry.admin_password = Some(password);
        let mut started = started;
        for step in Step::ALL {
            if step != Step::ClaimSubdomain {
                progress(&StepEvent::Started(step));
                started = Instant::now();
            }
            let mut outcome = self
                .run_step(step, request, &mut record, &mut carry, actor)
                .await;
            if outcome.is_ok() {
                outcome = self
                    .finish_step(step, &mut record, &mut carry, started, progress)
                    .await;
            }
            if step == Step::Audit && outcome.is_ok() {
                outcome = carry.flush().await;
            }
            if let Err(err) = outcome {
                return Err(self
                    .fail(step, err, &mut record, &mut carry, request, actor, progress)
                    .await);
            }
        }
        Ok(Provisioned {
            access_url: self.settings.platform.tenant_url(subdomain),
            tenant: record,
            admin_temporary_password: carry.admin_password,
            replayed: false,
        })
    }

    /// Makes sure the template database exists at the latest schema (once per container).
    pub async fn ensure_template(&self) -> Result<i32, ControlPlaneError> {
        self.template_ready
            .get_or_try_init(|| async {
                let report = self
                    .db()
                    .await?
                    .ensure_template(MIGRATIONS)
                    .await
                    .map_err(step_err("preparing the template database"))?;
                Ok::<_, ControlPlaneError>(report.to)
            })
            .await
            .copied()
    }

    /// Records a completed step (the injected fault fires here, after the step's work).
    async fn finish_step(
        &self,
        step: Step,
        record: &mut TenantRecord,
        carry: &mut Carry,
        started: Instant,
        progress: &(dyn Fn(&StepEvent) + Send + Sync),
    ) -> Result<(), ControlPlaneError> {
        if self.faults.fail_after == Some(step) {
            return Err(ControlPlaneError::Step(
                "injected fault".into(),
                format!("fault injected after {}", step.as_str()).into(),
            ));
        }
        let duration_ms = started.elapsed().as_millis() as u64;
        record.steps.push(StepProgress {
            step: step.as_str().to_owned(),
            completed_at: Utc::now(),
            duration_ms,
        });
        record.updated_at = Utc::now();
        // Progress is written in order, but the write overlaps the next step's work.
        carry.flush().await?;
        let (registry, snapshot) = (self.registry.clone(), record.clone());
        carry.progress_write = Some(tokio::spawn(
            async move { registry.put_tenant(&snapshot).await },
        ));
        progress(&StepEvent::Done(step, duration_ms));
        Ok(())
    }

    async fn run_step(
        &self,
        step: Step,
        request: &NewTenant,
        record: &mut TenantRecord,
        carry: &mut Carry,
        actor: &str,
    ) -> Result<(), ControlPlaneError> {
        let names = TenantDbNames::for_tenant(&record.tenant_id);
        match step {
            Step::ClaimSubdomain => Ok(()),
            Step::CreateDatabase => {
                // The role's password lives only in the secret; a resumed run sets a new one.
                let password = SecretString::from(random_token(24));
                self.db()
                    .await?
                    .create_role_and_database(&names, &password)
                    .await
                    .map_err(step_err("creating the tenant database"))?;
                // The hand-over runs on the session the next steps use: one connection less.
                let client = self.tenant_session(&names, carry).await?;
                self.db()
                    .await?
                    .hand_over(client, &names)
                    .await
                    .map_err(step_err("handing the database over to the tenant role"))?;
                let secret = TenantSecret {
                    tenant_id: record.tenant_id,
                    db: DbCredentials {
                        host: self.db().await?.host(),
                        port: self.db().await?.port(),
                        database: names.database.clone(),
                        username: names.role.clone(),
                        password,
                    },
                    legacy_keys: None,
                    legacy_accepted_until: None,
                };
                carry.secret = Some(secret);
                let ring = KeyRing::generate();
                record.verifying_keys = ring.verifying_keys();
                carry.signing = Some(ring);
                Ok(())
            }
            Step::Migrate => {
                let client = self.tenant_session(&names, carry).await?;
                let report = crate::store::postgres::migrations::apply_pending(
                    client,
                    Some(&names.role),
                    MIGRATIONS,
                )
                .await
                .map_err(step_err("migrating the tenant database"))?;
                record.schema_version = report.to;
                Ok(())
            }
            Step::SeedDefaults => {
                let client = self.tenant_session(&names, carry).await?;
                seed_defaults(client)
                    .await
                    .map_err(step_err("seeding defaults"))
            }
            Step::StoreSecret => {
                let missing = || {
                    ControlPlaneError::Step(
                        "storing the secret".into(),
                        "no database credentials were created".into(),
                    )
                };
                let secret = carry.secret.take().ok_or_else(missing)?;
                let ring = carry.signing.take().ok_or_else(missing)?;
                let json = SecretString::from(
                    serde_json::to_string(&SecretJson(&secret))
                        .map_err(step_err("serialising the secret"))?,
                );
                let signing = SecretString::from(
                    serde_json::to_string(&SigningSecret {
                        tenant_id: record.tenant_id,
                        ring,
                    })
                    .map_err(step_err("serialising the signing keys"))?,
                );
                let signing_name =
                    signing_secret_name(&self.settings.secrets_prefix, &record.tenant_id);
                tokio::try_join!(
                    self.secrets.put(&record.secret_id, &json),
                    self.secrets.put(&signing_name, &signing),
                )
                .map(|_| ())
                .map_err(step_err("storing the tenant secrets"))
            }
            Step::CreateAdmin => {
                let task = carry.admin_hash.take().ok_or_else(|| {
                    ControlPlaneError::Step(
                        "hashing the admin password".into(),
                        "no password to hash".into(),
                    )
                })?;
                let hash = task
                    .await
                    .map_err(step_err("hashing the admin password"))?
                    .map_err(step_err("hashing the admin password"))?;
                let client = self.tenant_session(&names, carry).await?;
                client
                    .execute(
                        "INSERT INTO users (email, full_name, role, password_hash, must_change_password)
                         VALUES ($1, $2, 'admin', $3, true)
                         ON CONFLICT (email) DO UPDATE
                           SET password_hash = EXCLUDED.password_hash, must_change_password = true,
                               role = 'admin', updated_at = now()",
                        &[&request.admin_email.as_str(), &request.admin_name, &hash],
                    )
                    .await
                    .map_err(step_err("creating the admin user"))?;
                self.registry
                    .put_membership(&Membership {
                        email: request.admin_email.to_string(),
                        tenant_id: record.tenant_id,
                        subdomain: record.subdomain.clone(),
                        display_name: record.company_name.clone(),
                        role: "admin".into(),
                    })
                    .await?;
                Ok(())
            }
            Step::Activate => {
                record.status = TenantStatus::Active;
                Ok(())
            }
            Step::WelcomeEmail => {
                let password = carry.admin_password.as_ref().ok_or_else(|| {
                    ControlPlaneError::Step(
                        "sending the welcome email".into(),
                        "no admin password".into(),
                    )
                })?;
                let access_url = self.settings.platform.tenant_url(&record.subdomain);
                let message = welcome_email(
                    request.admin_email.as_str(),
                    &request.admin_name,
                    &access_url,
                    password,
                );
                let sent = self.mailer.send(&message).await;
                let (status, provider_id, error) = match &sent {
                    Ok(id) => ("sent", Some(id.clone()), None),
                    Err(e) => ("failed", None, Some(ErrorChain(e).to_string())),
                };
                let client = self.tenant_session(&names, carry).await?;
                client
                    .execute(
                        "INSERT INTO email_logs (recipient, subject, template, status, provider_message_id, error)
                         VALUES ($1, $2, 'welcome', $3, $4, $5)",
                        &[&message.to, &message.subject, &status, &provider_id, &error],
                    )
                    .await
                    .map_err(step_err("logging the welcome email"))?;
                // The last step on the database: its session ends here.
                carry.tenant_db = None;
                sent.map(|_| ())
                    .map_err(step_err("sending the welcome email"))
            }
            Step::Audit => self
                .audit
                .record(
                    &AuditEvent::new(
                        actor,
                        "tenant.create",
                        Some(record.tenant_id),
                        Outcome::Success,
                    )
                    .with_detail(format!("subdomain {}", record.subdomain)),
                )
                .await
                .map_err(ControlPlaneError::from),
        }
    }

    /// The provisioning run's session on the new database, opened on first use.
    async fn tenant_session<'c>(
        &self,
        names: &TenantDbNames,
        carry: &'c mut Carry,
    ) -> Result<&'c mut tokio_postgres::Client, ControlPlaneError> {
        if carry.tenant_db.is_none() {
            let client = self
                .db()
                .await?
                .connect_tenant(names)
                .await
                .map_err(step_err("connecting to the tenant database"))?;
            carry.tenant_db = Some(client);
        }
        carry.tenant_db.as_mut().ok_or_else(|| {
            ControlPlaneError::Step(
                "connecting to the tenant database".into(),
                "no session".into(),
            )
        })
    }

    /// Undoes steps `..=failed` in reverse and records the failure.
    #[allow(clippy::too_many_arguments)]
    async fn fail(
        &self,
        failed: Step,
        err: ControlPlaneError,
        record: &mut TenantRecord,
        carry: &mut Carry,
        request: &NewTenant,
        actor: &str,
        progress: &(dyn Fn(&StepEvent) + Send + Sync),
    ) -> ControlPlaneError {
        // No earlier progress write may land after the failure is recorded; the session on
        // the database goes before the database is dropped.
        let _ = carry.flush().await;
        carry.tenant_db = None;
        let reason = ErrorChain(&err).to_string();
        progress(&StepEvent::Failed(failed, reason.clone()));
        let upto = Step::ALL.iter().position(|s| *s == failed).unwrap_or(0);
        let mut undo_errors = Vec::new();
        for step in Step::ALL[..=upto].iter().rev() {
            match self.undo(*step, record, request).await {
                Ok(()) => progress(&StepEvent::Undone(*step)),
                Err(e) => undo_errors.push(format!("{}: {}", step.as_str(), ErrorChain(&e))),
            }
        }
        record.status = TenantStatus::Failed;
        record.steps.clear();
        record.failure = Some(Failure {
            step: failed.as_str().to_owned(),
            reason: reason.clone(),
            at: Utc::now(),
        });
        record.updated_at = Utc::now();
        if let Err(e) = self.registry.put_tenant(record).await {
            undo_errors.push(format!("recording the failure: {}", ErrorChain(&e)));
        }
        let mut detail = format!(
            "step {} failed: {reason}; completed steps undone",
            failed.as_str()
        );
        if !undo_errors.is_empty() {
            detail.push_str(&format!("; undo problems: {}", undo_errors.join("; ")));
            tracing::error!(tenant_id = %record.tenant_id, problems = ?undo_errors, "undo incomplete");
        }
        self.audit
            .record_best_effort(
                &AuditEvent::new(
                    actor,
                    "tenant.create",
                    Some(record.tenant_id),
                    Outcome::Failure,
                )
                .with_detail(detail),
            )
            .await;
        ControlPlaneError::StepFailed {
            tenant_id: record.tenant_id,
            step: failed.as_str(),
            reason,
        }
    }

    async fn undo(
        &self,
        step: Step,
        record: &TenantRecord,
        request: &NewTenant,
    ) -> Result<(), ControlPlaneError> {
        let names = TenantDbNames::for_tenant(&record.tenant_id);
        match step {
            Step::ClaimSubdomain => Ok(self
                .registry
                .release_subdomain(&record.subdomain, &record.tenant_id)
                .await?),
            Step::CreateDatabase => self
                .db()
                .await?
                .drop_tenant_database(&names)
                .await
                .map_err(step_err("dropping the database")),
            Step::StoreSecret => {
                let signing = signing_secret_name(&self.settings.secrets_prefix, &record.tenant_id);
                tokio::try_join!(
                    self.secrets.delete(&record.secret_id),
                    self.secrets.delete(&signing),
                )
                .map(|_| ())
                .map_err(step_err("deleting the secrets"))
            }
            Step::CreateAdmin => Ok(self
                .registry
                .delete_membership(request.admin_email.as_str(), &record.tenant_id)
                .await?),
            // Inside the database (dropped above), a status the failure overwrites, or
            // nothing that can be taken back (a sent email, an audit record).
            Step::Migrate
            | Step::SeedDefaults
            | Step::Activate
            | Step::WelcomeEmail
            | Step::Audit => Ok(()),
        }
    }
}

fn validate_idempotency_key(key: &str) -> Result<(), ControlPlaneError> {
    let ok = (8..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "invalid_idempotency_key",
            "Idempotency-Key must be 8-128 characters of letters, digits, - _ . :",
        ))
    }
}

/// Serialises a secret with its password exposed: only ever written to Secrets Manager.
struct SecretJson<'a>(&'a TenantSecret);

impl Serialize for SecretJson<'_> {
    fn serialize<Ser: serde::Serializer>(&self, ser: Ser) -> Result<Ser::Ok, Ser::Error> {
        serde_json::json!({
            "tenant_id": self.0.tenant_id,
            "db": {
                "host": self.0.db.host,
                "port": self.0.db.port,
                "database": self.0.db.database,
                "username": self.0.db.username,
                "password": self.0.db.password.expose_secret(),
            },
        })
        .serialize(ser)
    }
}

/// The platform's admin access to PostgreSQL, its credentials read from the secret named by
/// `DB_ADMIN_SECRET_ID` (RDS layout: `host`, `port`, `username`, `password`, `dbname`) on first
/// use, not at cold start: a function's init makes no network call.
pub struct AdminDb {
    secret_id: String,
    template_db: String,
    tls: DatabaseTls,
    ready: tokio::sync::OnceCell<DbAdmin>,
}

impl AdminDb {
    /// The database new tenants are cloned from.
    pub fn template_db(&self) -> &str {
        &self.template_db
    }

    async fn get<S: SecretStore>(&self, secrets: &S) -> Result<&DbAdmin, ControlPlaneError> {
        self.ready
            .get_or_try_init(|| async {
                let config = admin_config(secrets, &self.secret_id)
                    .await
                    .map_err(|reason| {
                        ControlPlaneError::Step(
                            format!("reading the database admin secret {}", self.secret_id),
                            reason.into(),
                        )
                    })?;
                Ok(DbAdmin::new(
                    config,
                    self.template_db.clone(),
                    self.tls.clone(),
                ))
            })
            .await
    }
}

/// The admin connection settings in secret `secret_id`; why not, in words.
async fn admin_config<S: SecretStore>(
    secrets: &S,
    secret_id: &str,
) -> Result<tokio_postgres::Config, String> {
    let admin_secret = secrets
        .get(secret_id)
        .await
        .map_err(|e| ErrorChain(&e).to_string())?
        .ok_or_else(|| format!("secret {secret_id} does not exist"))?;
    #[derive(Deserialize)]
    struct AdminSecret {
        host: String,
        port: u16,
        username: String,
        password: SecretString,
        #[serde(default = "default_dbname")]
        dbname: String,
    }
    fn default_dbname() -> String {
        "postgres".into()
    }
    let admin: AdminSecret = serde_json::from_str(admin_secret.expose_secret())
        .map_err(|e| format!("secret is not {{host, port, username, password, dbname}}: {e}"))?;
    let mut pg = tokio_postgres::Config::new();
    pg.host(&admin.host)
        .port(admin.port)
        .user(&admin.username)
        .password(admin.password.expose_secret())
        .dbname(&admin.dbname)
        .application_name("taskifai-control-plane")
        .connect_timeout(std::time::Duration::from_secs(10));
    Ok(pg)
}

/// The control plane as the `provisioning` function and `tenantctl` build it: AWS clients from
/// `sdk`, configuration from `env`; the PostgreSQL admin credentials are read on first use
/// ([`AdminDb`]).
pub fn control_plane_from_env<F: Fn(&str) -> Option<String>>(
    env: &crate::platform::config::Env<F>,
    sdk: &aws_config::SdkConfig,
) -> Result<
    (
        ControlPlane<crate::store::secrets::AwsSecretStore, crate::store::mail::SesMailer>,
        crate::identity::admins::AdminAuth<crate::store::secrets::AwsSecretStore>,
    ),
    crate::platform::config::ConfigError,
> {
    let secrets_prefix = env.required("SECRETS_PREFIX")?;
    let settings = ControlPlaneSettings {
        platform: PlatformSettings::from_env(env)?,
        uploads_bucket: env.required("UPLOADS_BUCKET")?,
        secrets_prefix: secrets_prefix.clone(),
    };
    let registry = Registry::new(
        aws_sdk_dynamodb::Client::new(sdk),
        &settings.platform.tables,
    );
    let secrets =
        crate::store::secrets::AwsSecretStore::new(aws_sdk_secretsmanager::Client::new(sdk));
    let admin_secret_id = env.required("DB_ADMIN_SECRET_ID")?;
    let template_db = env
        .optional("TEMPLATE_DATABASE")
        .unwrap_or_else(|| "taskifai_template".into());
    let mail_from = env.required("MAIL_FROM")?;
    let issuer = settings.platform.tenant_url("api");
    let admin_auth = crate::identity::admins::AdminAuth::new(
        registry.clone(),
        crate::tenancy::context::registry_cache_ttl(env)?,
        crate::security::throttle::Limits::from_env(env)?,
        secrets.clone(),
        &secrets_prefix,
        issuer,
    );
    let plane = ControlPlane {
        audit: AuditLog::new(registry.clone()),
        registry,
        db: AdminDb {
            secret_id: admin_secret_id,
            template_db,
            tls: DatabaseTls::from_env(env)?,
            ready: tokio::sync::OnceCell::new(),
        },
        secrets,
        mailer: crate::store::mail::SesMailer::new(sdk, mail_from),
        archive: crate::platform::aws::LazyClient::new(sdk, crate::platform::aws::s3_client),
        settings,
        faults: Faults::default(),
        jobs: crate::store::job_queue::JobQueue::new(
            aws_sdk_sqs::Client::new(sdk),
            env.required("JOBS_QUEUE_URL")?,
        ),
        template_ready: tokio::sync::OnceCell::new(),
    };
    Ok((plane, admin_auth))
}

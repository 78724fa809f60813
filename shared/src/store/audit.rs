//! The append-only audit log of admin actions and lifecycle steps: who did what to which tenant,
//! how it ended, and when. Stored in the registry; never updated or deleted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::registry::{Page, Registry, RegistryError};

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
    /// `admin:<email>`, `cli:<user>`, `system`.
    pub actor: String,
    /// Dotted name, e.g. `tenant.create`, `tenant.step.create_database`.
    pub action: String,
    pub tenant_id: Option<Uuid>,
    pub outcome: Outcome,
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(
        actor: &str,
        action: impl Into<String>,
        tenant_id: Option<Uuid>,
        outcome: Outcome,
    ) -> Self {
        Self {
            event_id: Uuid::new_v4(),
            at: Utc::now(),
            actor: actor.to_owned(),
            action: action.into(),
            tenant_id,
            outcome,
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Writes and reads the audit log.
#[derive(Clone)]
pub struct AuditLog {
    registry: Registry,
}

impl AuditLog {
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }

    pub async fn record(&self, event: &AuditEvent) -> Result<(), RegistryError> {
        let sort = format!(
            "{}#{}",
            event.at.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            event.event_id
        );
        self.registry
            .append_audit(&sort, event.tenant_id.as_ref(), event)
            .await
    }

    /// Records `event`; a failure to audit is logged, not propagated (used on paths that are
    /// already failing and must finish their cleanup).
    pub async fn record_best_effort(&self, event: &AuditEvent) {
        if let Err(err) = self.record(event).await {
            tracing::error!(error = %crate::platform::telemetry::ErrorChain(&err), action = event.action, "audit write failed");
        }
    }

    /// Newest first.
    pub async fn list(
        &self,
        tenant: Option<&Uuid>,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<AuditEvent>, RegistryError> {
        self.registry.list_audit(tenant, limit, cursor).await
    }
}

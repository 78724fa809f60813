//! The one error type handlers return, and its single mapping to HTTP: clients get a status, a
//! stable `code` and a human `message` as `{"error":{"code","message"}}`; logs get the cause.

use http::StatusCode;
use serde::Serialize;

use crate::platform::telemetry::ErrorChain;

use crate::analytics::AnalyticsError;
use crate::control_plane::provisioning::ControlPlaneError;
use crate::domain::host::HostError;
use crate::domain::subdomain::SubdomainError;
use crate::identity::{IdentityError, UserAdminError};
use crate::ingest::IngestError;
use crate::security::throttle::ThrottleError;
use crate::store::registry::RegistryError;
use crate::tenancy::TenancyError;

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable (`snake_case`); clients may branch on it.
    pub code: &'static str,
    /// For people; never carries internal details.
    pub message: String,
    /// Seconds, sent as `Retry-After` (throttling).
    pub retry_after: Option<u64>,
    /// The methods the path has, sent as `Allow` with a 405.
    pub allow: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            allow: None,
        }
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        let mut err = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many attempts; try again later",
        );
        err.retry_after = Some(retry_after_seconds.max(1));
        err
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 405 with `Allow: <allow, joined>`.
    pub fn method_not_allowed(allow: &[&str]) -> Self {
        let mut err = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not accept that method",
        );
        err.allow = Some(allow.join(", "));
        err
    }

    /// An unexpected failure: the cause is logged here, the client sees only a generic message.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; it has been logged",
        )
    }

    /// The JSON body: `{"error":{"code","message"}}`.
    pub fn body(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
        }
        serde_json::json!({ "error": Inner { code: self.code, message: &self.message } })
    }
}

impl From<HostError> for ApiError {
    fn from(err: HostError) -> Self {
        match err {
            HostError::Subdomain(SubdomainError::Reserved(_)) => {
                Self::not_found("tenant_not_found", "no tenant lives at this address")
            }
            HostError::Subdomain(e) => Self::bad_request("invalid_subdomain", e.to_string()),
            e @ (HostError::Missing | HostError::ForeignDomain | HostError::Nested) => {
                Self::bad_request("invalid_host", e.to_string())
            }
        }
    }
}

/// The one place area errors become HTTP answers: a stable code, a message for people, and the
/// cause chain in the logs only (internal errors).
impl From<TenancyError> for ApiError {
    fn from(err: TenancyError) -> Self {
        use TenancyError as E;
        let message = err.to_string();
        match err {
            E::TenantNotFound => Self::not_found("tenant_not_found", message),
            E::Suspended => Self::forbidden("tenant_suspended", message),
            E::Unavailable(_) => {
                Self::forbidden("tenant_unavailable", "this tenant is not available")
            }
            E::MissingToken => Self::unauthorized("missing_token", message),
            E::InvalidToken(e) => Self::unauthorized(e.code(), message),
            E::OtherTenant(_) => {
                Self::unauthorized("invalid_token", "the token is missing, invalid or expired")
            }
            E::PasswordChangeRequired => Self::forbidden("password_change_required", message),
            E::Forbidden(_) | E::PlatformOnly => Self::forbidden("forbidden", message),
            E::Registry(RegistryError::BadCursor) => Self::bad_cursor(),
            e @ (E::BadSecret { .. }
            | E::CorruptRecord(_)
            | E::NoSigningKey(_)
            | E::Issue(_)
            | E::Registry(_)
            | E::Secrets(_)
            | E::Pool(_)
            | E::Database(_)) => Self::internal(&e),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(err: IngestError) -> Self {
        use IngestError as E;
        use StatusCode as S;
        let message = err.to_string();
        match err {
            E::MissingField(_) => Self::bad_request("missing_field", message),
            E::UnknownVendor(_) => Self::new(S::UNPROCESSABLE_ENTITY, "unknown_vendor", message),
            E::InvalidFileName => Self::bad_request("invalid_file_name", message),
            E::UnsupportedFileType => Self::bad_request("unsupported_file_type", message),
            E::InvalidSize => Self::bad_request("invalid_size", message),
            E::InvalidContentType => Self::bad_request("invalid_content_type", message),
            E::BatchNotFound => Self::not_found("batch_not_found", message),
            E::BatchBusy => Self::new(S::CONFLICT, "batch_processing", message),
            E::BadCursor(_) => Self::bad_cursor(),
            E::InvalidStatus => Self::bad_request("invalid_status", message),
            E::InvalidBatchId => Self::bad_request("invalid_batch_id", message),
            E::InvalidRate(_) => Self::new(S::UNPROCESSABLE_ENTITY, "invalid_fx_rate", message),
            E::VendorNotFound => Self::not_found("vendor_not_found", message),
            E::InvalidConfig(issues) => Self::new(
                S::UNPROCESSABLE_ENTITY,
                "invalid_vendor_config",
                issues
                    .iter()
                    .map(|i| format!("{}: {}", i.field, i.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            E::Tenancy(e) => e.into(),
            e @ (E::Corrupt(_) | E::Csv(_) | E::Objects(_) | E::Database(_)) => Self::internal(&e),
        }
    }
}

impl From<AnalyticsError> for ApiError {
    fn from(err: AnalyticsError) -> Self {
        use AnalyticsError as E;
        let message = err.to_string();
        match err {
            E::InvalidParameter { .. } => Self::bad_request("invalid_parameter", message),
            E::InvalidRange => Self::bad_request("invalid_range", message),
            E::BadCursor(_) => Self::bad_cursor(),
            E::DashboardNotFound => Self::not_found("dashboard_not_found", message),
            E::InvalidDashboardId => Self::bad_request("invalid_dashboard_id", message),
            E::DashboardForbidden(_) => Self::forbidden("dashboard_forbidden", message),
            E::InvalidDashboard(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_dashboard",
                message,
            ),
            E::DefaultConflict => Self::new(StatusCode::CONFLICT, "default_conflict", message),
            E::Tenancy(e) => e.into(),
            e @ (E::Csv(_) | E::Io(_) | E::Database(_)) => Self::internal(&e),
        }
    }
}

impl From<ThrottleError> for ApiError {
    fn from(err: ThrottleError) -> Self {
        match err {
            ThrottleError::Limited { retry_after } => Self::too_many_requests(retry_after),
            e @ ThrottleError::Counters(_) => Self::internal(&e),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(err: IdentityError) -> Self {
        use IdentityError as E;
        let message = err.to_string();
        match err {
            E::InvalidCredentials => Self::unauthorized("invalid_credentials", message),
            E::UserGone => Self::unauthorized("invalid_token", message),
            E::WeakPassword(_) => Self::bad_request("weak_password", message),
            E::PasswordUnchanged => Self::bad_request("password_unchanged", message),
            E::MissingToken => Self::unauthorized("missing_token", message),
            E::InvalidToken(e) => Self::unauthorized(e.code(), message),
            E::NotPlatformAdmin => Self::forbidden("forbidden", message),
            E::AdminDisabled => Self::unauthorized("invalid_token", message),
            E::Throttle(e) => e.into(),
            E::Tenancy(e) => e.into(),
            e @ (E::NoSigningKey
            | E::Issue(_)
            | E::Corrupt(_)
            | E::Hashing(_)
            | E::Task(_)
            | E::Registry(_)
            | E::Secrets(_)
            | E::Database(_)) => Self::internal(&e),
        }
    }
}

impl From<UserAdminError> for ApiError {
    fn from(err: UserAdminError) -> Self {
        use UserAdminError as E;
        use http::StatusCode as S;
        let message = err.to_string();
        match err {
            E::MissingField(_) => ApiError::bad_request("missing_field", message),
            E::InvalidEmail(_) => ApiError::bad_request("invalid_email", message),
            E::InvalidRole => ApiError::bad_request("invalid_role", message),
            E::InvalidFullName => ApiError::bad_request("invalid_full_name", message),
            E::InvalidUserId => ApiError::bad_request("invalid_user_id", message),
            E::UserExists => ApiError::new(S::CONFLICT, "user_exists", message),
            E::NotFound => ApiError::not_found("user_not_found", message),
            E::LastAdmin => ApiError::new(S::CONFLICT, "last_admin", message),
            E::CannotDeleteSelf => ApiError::new(S::CONFLICT, "cannot_delete_self", message),
            E::NoLongerAdmin => ApiError::forbidden("forbidden", message),
            E::KeysNotMigrated => ApiError::new(S::CONFLICT, "keys_not_migrated", message),
            E::Tenancy(e) => e.into(),
            E::Identity(e) => e.into(),
            e @ (E::Db(_)
            | E::Registry(_)
            | E::Secrets(_)
            | E::BadSecret(_)
            | E::Hash(_)
            | E::Task(_)
            | E::TenantGone(_)) => ApiError::internal(&e),
        }
    }
}

impl From<ControlPlaneError> for ApiError {
    fn from(err: ControlPlaneError) -> Self {
        use http::StatusCode as S;
        match err {
            ControlPlaneError::Invalid { code, message } => ApiError::bad_request(code, message),
            e @ ControlPlaneError::SubdomainTaken(_) => {
                ApiError::new(S::CONFLICT, "subdomain_taken", e.to_string())
            }
            e @ ControlPlaneError::IdempotencyKeyReused => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            ),
            e @ ControlPlaneError::InProgress(_) => {
                ApiError::new(S::CONFLICT, "provisioning_in_progress", e.to_string())
            }
            e @ ControlPlaneError::NotFound(_) => {
                ApiError::not_found("tenant_not_found", e.to_string())
            }
            e @ ControlPlaneError::JobNotFound(_) => {
                ApiError::not_found("job_not_found", e.to_string())
            }
            e @ ControlPlaneError::InvalidState { .. } => {
                ApiError::new(S::CONFLICT, "invalid_tenant_state", e.to_string())
            }
            ControlPlaneError::StepFailed {
                tenant_id, step, ..
            } => {
                // The reason (SQL, AWS errors) went to the logs and the audit log; the client
                // learns which step failed and that nothing was left behind.
                tracing::error!(error = %ErrorChain(&err), "provisioning failed");
                ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "provisioning_failed",
                    format!(
                        "provisioning tenant {tenant_id} failed at step {step}; the completed \
                         steps were undone and the audit log has the cause"
                    ),
                )
            }
            ControlPlaneError::Registry(RegistryError::BadCursor) => ApiError::bad_cursor(),
            e => ApiError::internal(&e),
        }
    }
}

impl ApiError {
    fn bad_cursor() -> Self {
        Self::bad_request("invalid_cursor", "the cursor is not one this API returned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_code_and_message() {
        let err = ApiError::bad_request("invalid_email", "that is not an email address");
        assert_eq!(
            err.body(),
            serde_json::json!({"error": {"code": "invalid_email", "message": "that is not an email address"}})
        );
    }

    #[test]
    fn host_errors_map_to_4xx() {
        let reserved: ApiError =
            HostError::Subdomain(SubdomainError::Reserved("www".into())).into();
        assert_eq!(reserved.status, StatusCode::NOT_FOUND);
        let charset: ApiError = HostError::Subdomain(SubdomainError::Charset).into();
        assert_eq!(
            (charset.status, charset.code),
            (StatusCode::BAD_REQUEST, "invalid_subdomain")
        );
        let foreign: ApiError = HostError::ForeignDomain.into();
        assert_eq!(
            (foreign.status, foreign.code),
            (StatusCode::BAD_REQUEST, "invalid_host")
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let cause = std::io::Error::other("password=hunter2 leaked?");
        let err = ApiError::internal(&cause);
        assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.message.contains("hunter2"));
    }
}

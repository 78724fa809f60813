//! The one error type handlers return, and its single mapping to HTTP: clients get a status, a
//! stable `code` and a human `message` as `{"error":{"code","message"}}`; logs get the cause.

use http::StatusCode;
use serde::Serialize;

use crate::domain::subdomain::SubdomainError;
use crate::web::host::HostError;

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

/// Displays an error with its sources: `outer: middle: root`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
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

//! Request and response plumbing shared by the HTTP functions: which host a request came in on,
//! JSON responses, and the health answer every function gives.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::domain::host::{HostKind, classify_host};
use crate::platform::config::DomainConfig;
use crate::web::error::ApiError;

/// The host the client addressed: API Gateway's `requestContext.domainName`, else `Host`.
pub fn request_host(req: &Request) -> Option<String> {
    let from_context = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.domain_name.clone(),
        _ => None,
    };
    from_context.or_else(|| {
        req.headers()
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

/// The API Gateway request id, for logs.
pub fn request_id(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
}

/// The path as the client sent it, without any stage prefix.
pub fn request_path(req: &Request) -> &str {
    let raw = req.raw_http_path();
    if raw.is_empty() {
        req.uri().path()
    } else {
        raw
    }
}

/// Classifies the request's host; a host of another surface than `expected` is a 404, as API
/// Gateway itself would answer for a route that surface does not have.
pub fn expect_host(
    req: &Request,
    domain: &DomainConfig,
    expected: Surface,
) -> Result<HostKind, ApiError> {
    let kind = classify_host(request_host(req).as_deref(), domain)?;
    let matches = matches!(
        (&kind, expected),
        (HostKind::App, Surface::App)
            | (HostKind::Api, Surface::Api)
            | (HostKind::Tenant(_), Surface::Tenant)
    );
    if matches {
        Ok(kind)
    } else {
        Err(route_not_found())
    }
}

/// The three host families a function can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    App,
    Api,
    Tenant,
}

/// A JSON response with the given status.
pub fn json_response<T: Serialize>(status: http::StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => response(status, body),
        Err(e) => error_response(&ApiError::internal(&e)),
    }
}

/// The JSON error response for `err`.
pub fn error_response(err: &ApiError) -> Response<Body> {
    let mut res = response(err.status, err.body().to_string());
    if let Some(seconds) = err.retry_after {
        res.headers_mut()
            .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
    }
    if let Some(allow) = err
        .allow
        .as_deref()
        .and_then(|a| http::HeaderValue::from_str(a).ok())
    {
        res.headers_mut().insert(http::header::ALLOW, allow);
    }
    res
}

/// Turns a handler result into the response Lambda returns.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    match result {
        Ok(res) => res,
        Err(err) => {
            if err.status.is_server_error() {
                tracing::error!(
                    status = err.status.as_u16(),
                    code = err.code,
                    "request failed"
                );
            } else {
                tracing::info!(
                    status = err.status.as_u16(),
                    code = err.code,
                    "request rejected"
                );
            }
            error_response(&err)
        }
    }
}

/// A JSON response from an already serialised body.
pub fn response(status: http::StatusCode, body: String) -> Response<Body> {
    let mut res = Response::new(Body::Text(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    res
}

/// The body of `GET …/health`.
#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub function: &'static str,
    /// `app`, `api` or `tenant`.
    pub surface: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    /// The resolved tenant; filled once the registry lookup exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

impl Health {
    pub fn new(function: &'static str, host: &HostKind) -> Self {
        let (surface, subdomain) = match host {
            HostKind::App => ("app", None),
            HostKind::Api => ("api", None),
            HostKind::Tenant(s) => ("tenant", Some(s.to_string())),
        };
        Self {
            status: "ok",
            function,
            surface,
            subdomain,
            tenant_id: None,
        }
    }
}

/// Runs `route` for `req` inside the request span and turns its result into the response.
pub async fn serve<'r, F, Fut>(req: &'r Request, route: F) -> Response<Body>
where
    F: FnOnce(&'r Request) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Body>, ApiError>>,
{
    use tracing::Instrument;
    let span = crate::platform::telemetry::request_span(
        request_id(req).as_deref(),
        request_host(req).as_deref(),
        req.method().as_str(),
        request_path(req),
    );
    async move { respond(route(req).await) }
        .instrument(span)
        .await
}

/// A CSV download: `text/csv`, not cached, saved as `file_name`.
pub fn csv_response(bytes: Vec<u8>, file_name: &str) -> Response<Body> {
    let mut res = Response::new(Body::Binary(bytes));
    let headers = res.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    if let Ok(value) = http::HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
    {
        headers.insert(http::header::CONTENT_DISPOSITION, value);
    }
    res
}

/// `204`, no body.
pub fn no_content() -> Response<Body> {
    let mut res = Response::new(Body::Empty);
    *res.status_mut() = http::StatusCode::NO_CONTENT;
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    res
}

/// The 404 for a path no route serves.
pub fn route_not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such route on this host")
}

/// Largest JSON body a route accepts.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// The request body as `T`; any malformed, oversized or mistyped body is a 400/413.
pub fn json_body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_JSON_BODY {
        return Err(ApiError::new(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the body is over 64 KiB",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body is not the expected JSON: {e}"),
        )
    })
}

/// A request header as text.
pub fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A query-string parameter.
pub fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// `?limit=` (1–200, default 50) and `?cursor=`.
pub fn paging(req: &Request) -> Result<(i32, Option<String>), ApiError> {
    let limit = match query(req, "limit") {
        None => 50,
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| ApiError::bad_request("invalid_limit", "limit must be 1-200"))?,
    };
    Ok((limit, query(req, "cursor")))
}

/// The client's address as API Gateway saw it.
pub fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

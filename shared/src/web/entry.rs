//! Every HTTP function's door: the API Gateway (v2) event becomes the request the handler takes,
//! and its response the event API Gateway expects. Nothing a client sends may panic a function:
//!
//! - the event is checked before `lambda_http` converts it, for what its conversion would panic
//!   on (a host no URL can have, e.g. `xn--` with invalid punycode; a URI `http` refuses; a body
//!   flagged base64 that is not): those get a 400 with a code, as any bad request;
//! - the conversion and the handler run under `catch_unwind` all the same (release builds
//!   unwind), so a panic nobody foresaw costs one request, answered 500 and logged, never the
//!   execution environment.

use std::panic::AssertUnwindSafe;

use base64::Engine;
use futures_util::FutureExt;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::web::error::ApiError;
use crate::web::http::error_response;

/// Runs the Lambda runtime loop with `handle` behind the door.
pub async fn run<F, Fut>(handle: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = Response<Body>> + Send,
{
    let handle = &handle;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| {
            // Boxed: the handler's future type stays out of the runtime's (deep) types.
            let answered: std::pin::Pin<Box<dyn Future<Output = Value> + Send + '_>> =
                Box::pin(answer(event.payload, handle));
            async move { Ok::<_, std::convert::Infallible>(answered.await) }
        },
    ))
    .await
}

/// One event through `handle`: the response event, whatever the event holds.
pub async fn answer<F, Fut>(event: Value, handle: F) -> Value
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let res = match request_of(event) {
        Ok(req) => match AssertUnwindSafe(handle(req)).catch_unwind().await {
            Ok(res) => res,
            Err(panic) => error_response(&panicked(panic.as_ref())),
        },
        Err(err) => error_response(&err),
    };
    response_event(res)
}

/// The request in `event`, or the 400 its flaw deserves.
pub fn request_of(event: Value) -> Result<Request, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_request",
            "the request is not an HTTP request this API can read",
        )
    };
    let event: ApiGatewayV2httpRequest = serde_json::from_value(event).map_err(|_| invalid())?;
    check(&event)?;
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        Request::from(LambdaRequest::ApiGatewayV2(event))
    }))
    .map_err(|panic| {
        tracing::error!(
            panic = panic_text(panic.as_ref()),
            "the request conversion panicked"
        );
        invalid()
    })
}

/// What `lambda_http`'s conversion unwraps: the URL it builds from scheme, host and path, the
/// URI with the raw query string, and a base64 body.
fn check(event: &ApiGatewayV2httpRequest) -> Result<(), ApiError> {
    let header = |name: http::header::HeaderName| {
        event
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let host = header(http::header::HOST).or_else(|| event.request_context.domain_name.clone());
    let scheme = header(http::header::HeaderName::from_static("x-forwarded-proto"))
        .unwrap_or_else(|| "https".into());
    let path = event.raw_path.as_deref().unwrap_or_default();
    let bad = |code: &'static str, message: &str| ApiError::bad_request(code, message);
    let mut uri = match &host {
        Some(host) => url::Url::parse(&format!("{scheme}://{host}{path}"))
            .map_err(|_| {
                bad(
                    "invalid_host",
                    "the request's host is not a valid host name",
                )
            })?
            .to_string(),
        None => url::Url::parse(&format!("http://localhost{path}"))
            .map_err(|_| bad("invalid_request", "the request's path is not a valid path"))?
            .path()
            .to_owned(),
    };
    if let Some(query) = event.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    http::Uri::try_from(uri)
        .map_err(|_| bad("invalid_request", "the request's URI is not valid"))?;
    if event.is_base64_encoded
        && let Some(body) = &event.body
        && base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_err()
    {
        return Err(bad(
            "invalid_body",
            "the body is marked base64 but is not base64",
        ));
    }
    Ok(())
}

/// A handler's panic: logged with its message, answered as any internal error.
fn panicked(panic: &(dyn std::any::Any + Send)) -> ApiError {
    #[derive(Debug, thiserror::Error)]
    #[error("the handler panicked: {0}")]
    struct Panicked(String);
    ApiError::internal(&Panicked(panic_text(panic)))
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".into())
}

/// The payload-format-2.0 response event of `res` (`Set-Cookie` in `cookies`, a binary body
/// base64 encoded).
pub fn response_event(res: Response<Body>) -> Value {
    let (parts, body) = res.into_parts();
    let mut headers = parts.headers;
    let cookies = headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(http::header::SET_COOKIE);
    let mut event = ApiGatewayV2httpResponse::default();
    event.status_code = i64::from(parts.status.as_u16());
    event.is_base64_encoded = matches!(body, Body::Binary(_));
    event.body = match body {
        Body::Empty => None,
        body => Some(body),
    };
    event.headers = headers;
    event.cookies = cookies;
    serde_json::to_value(event).unwrap_or_else(|e| {
        tracing::error!(error = %e, "response not serialisable");
        serde_json::json!({"statusCode": 500})
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(host: &str, path: &str, query: &str) -> Value {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
            "headers": {"host": host},
            "requestContext": {"domainName": host, "http": {"method": "GET", "path": path,
                "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "t"},
                "requestId": "r", "routeKey": "$default", "stage": "$default",
                "time": "t", "timeEpoch": 0, "accountId": "1", "apiId": "a"},
            "isBase64Encoded": false
        })
    }

    async fn status(event: Value) -> (i64, String) {
        let res = answer(event, |_| async { Response::new(Body::Text("ok".into())) }).await;
        let body: Value =
            serde_json::from_str(res["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        (
            res["statusCode"].as_i64().unwrap(),
            body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }

    #[tokio::test]
    async fn hosts_the_conversion_would_panic_on_are_a_400() {
        // Each of these panics inside lambda_http's conversion when passed through unchecked.
        for host in [
            "xn--zz.localhost",
            "xn--.localhost",
            "a b.localhost",
            "[::1",
        ] {
            assert!(
                std::panic::catch_unwind(|| lambda_http::request::from_str(
                    &event(host, "/", "").to_string()
                ))
                .is_err(),
                "{host} no longer panics lambda_http; the check may be simplified"
            );
            assert_eq!(
                status(event(host, "/", "")).await,
                (400, "invalid_host".into()),
                "{host}"
            );
        }
        assert_eq!(
            status(event("acme.localhost", "/x", "")).await,
            (200, String::new())
        );
    }

    #[tokio::test]
    async fn a_false_base64_body_and_a_broken_uri_are_a_400() {
        let mut e = event("acme.localhost", "/", "");
        e["isBase64Encoded"] = json!(true);
        e["body"] = json!("not base64!");
        assert_eq!(status(e).await, (400, "invalid_body".into()));
        assert_eq!(
            status(event("acme.localhost", "/", "a=\u{7f}")).await,
            (400, "invalid_request".into())
        );
        assert_eq!(
            status(json!({"unexpected": true})).await,
            (400, "invalid_request".into())
        );
    }

    #[tokio::test]
    async fn a_handler_panic_is_a_500_for_that_request_only() {
        let res = answer(event("acme.localhost", "/", ""), |_| async {
            panic!("a bug");
        })
        .await;
        assert_eq!(res["statusCode"], 500);
        assert!(res["body"].as_str().unwrap().contains("internal_error"));
        assert!(!res["body"].as_str().unwrap().contains("a bug"));
    }
}

//! A local API Gateway (HTTP API, payload format 2.0): picks the API by the request's host (exact
//! custom domain first, then the wildcard), the route by method and path as the template declares
//! them, and invokes the route's function with the event API Gateway would send — including
//! `requestContext.domainName`, the host the client addressed.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use serde_json::{Map, Value, json};

use crate::invoke::Invoke;
use crate::stack::Deployed;
use crate::template::Template;

/// API Gateway's payload limit.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// An API's host pattern: `app.localhost`, or `*.localhost` for the wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DomainPattern {
    Exact(String),
    Wildcard(String),
}

impl DomainPattern {
    fn parse(domain: &str) -> Self {
        let domain = domain.to_ascii_lowercase();
        match domain.strip_prefix("*.") {
            Some(parent) => Self::Wildcard(parent.to_owned()),
            None => Self::Exact(domain),
        }
    }
}

#[derive(Debug, Clone)]
struct Route {
    api: String,
    method: String,
    path: String,
    function: String,
}

/// The resolved routing table.
#[derive(Debug, Clone)]
pub struct RouteTable {
    apis: Vec<(String, DomainPattern)>,
    routes: Vec<Route>,
}

/// The route chosen for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub api: String,
    pub function: String,
    pub route_key: String,
    pub path_parameters: Map<String, Value>,
}

impl RouteTable {
    pub fn from_template(template: &Template, deployed: &Deployed) -> Result<Self> {
        let apis = template
            .http_apis()
            .into_iter()
            .map(|a| {
                Ok((
                    a.id.clone(),
                    DomainPattern::parse(&deployed.resolve(&a.domain)?),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let routes = template
            .functions()?
            .into_iter()
            .flat_map(|f| {
                f.routes.into_iter().map(move |r| Route {
                    api: r.api,
                    method: r.method,
                    path: r.path,
                    function: f.binary.clone(),
                })
            })
            .collect();
        Ok(Self { apis, routes })
    }

    /// The hosts served, for the start-up banner.
    pub fn domains(&self) -> Vec<(String, String)> {
        self.apis
            .iter()
            .map(|(id, p)| {
                let host = match p {
                    DomainPattern::Exact(d) => d.clone(),
                    DomainPattern::Wildcard(d) => format!("*.{d}"),
                };
                (id.clone(), host)
            })
            .collect()
    }

    /// The API serving `host` (already lower-case, without port).
    fn api_for_host(&self, host: &str) -> Option<&str> {
        let exact = self
            .apis
            .iter()
            .find(|(_, p)| *p == DomainPattern::Exact(host.to_owned()));
        let wildcard = || {
            self.apis.iter().find(|(_, p)| match p {
                DomainPattern::Wildcard(parent) => host
                    .strip_suffix(parent.as_str())
                    .and_then(|l| l.strip_suffix('.'))
                    .is_some_and(|label| !label.is_empty() && !label.contains('.')),
                DomainPattern::Exact(_) => false,
            })
        };
        exact.or_else(wildcard).map(|(id, _)| id.as_str())
    }

    /// API Gateway's route selection: the most specific matching route wins.
    pub fn find(&self, host: &str, method: &str, path: &str) -> Option<Matched> {
        let api = self.api_for_host(host)?;
        self.routes
            .iter()
            .filter(|r| r.api == api && (r.method == method || r.method == "ANY"))
            .filter_map(|r| {
                match_path(&r.path, path).map(|(params, specificity)| {
                    let rank = (specificity, r.method != "ANY");
                    (rank, r, params)
                })
            })
            .max_by_key(|(rank, _, _)| *rank)
            .map(|(_, r, params)| Matched {
                api: api.to_owned(),
                function: r.function.clone(),
                route_key: format!("{} {}", r.method, r.path),
                path_parameters: params,
            })
    }
}

/// Matches `path` against a template like `/a/{id}/{rest+}`; returns the parameters and a
/// specificity (literal segments count most, greedy parameters least).
fn match_path(template: &str, path: &str) -> Option<(Map<String, Value>, (usize, usize))> {
    let tpl: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut params = Map::new();
    let (mut literal, mut single) = (0, 0);
    for (i, t) in tpl.iter().enumerate() {
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix("+}")) {
            let rest = segs
                .get(i..)
                .filter(|r| !r.is_empty() && !r[0].is_empty())?;
            params.insert(name.to_owned(), Value::String(rest.join("/")));
            return Some((params, (literal, single)));
        }
        let seg = *segs.get(i)?;
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            if seg.is_empty() {
                return None;
            }
            params.insert(name.to_owned(), Value::String(seg.to_owned()));
            single += 1;
        } else if *t == seg {
            literal += 1;
        } else {
            return None;
        }
    }
    (segs.len() == tpl.len()).then_some((params, (literal, single)))
}

/// The gateway: routing table plus the way to reach functions.
pub struct Gateway<I> {
    pub routes: RouteTable,
    pub invoker: I,
    pub account: String,
}

/// API Gateway's own error body.
fn gateway_error(status: StatusCode, message: &str) -> http::Response<Full<Bytes>> {
    let mut res = http::Response::new(Full::new(Bytes::from(
        json!({ "message": message }).to_string(),
    )));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

impl<I: Invoke> Gateway<I> {
    /// Handles one HTTP request the way API Gateway would.
    pub async fn handle(
        &self,
        method: &Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        body: Bytes,
        peer: SocketAddr,
    ) -> http::Response<Full<Bytes>> {
        let raw_host = uri.authority().map(|a| a.host().to_owned()).or_else(|| {
            headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
        let Some(host) = raw_host
            .as_deref()
            .map(shared::domain::host::normalize_host)
        else {
            return gateway_error(StatusCode::BAD_REQUEST, "Bad Request");
        };
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return gateway_error(StatusCode::BAD_REQUEST, "Bad Request");
        }
        let path = uri.path();
        let Some(matched) = self.routes.find(&host, method.as_str(), path) else {
            return gateway_error(StatusCode::NOT_FOUND, "Not Found");
        };
        let event = self.event(&matched, &host, method, uri, headers, &body, peer);
        match self.invoker.invoke(&matched.function, event).await {
            Ok(result) => into_http_response(result),
            Err(err) => {
                tracing::error!(function = matched.function, error = %err, "invocation failed");
                gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        matched: &Matched,
        host: &str,
        method: &Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        body: &Bytes,
        peer: SocketAddr,
    ) -> Value {
        let mut header_map = Map::new();
        let mut cookies = Vec::new();
        for name in headers.keys() {
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if name == http::header::COOKIE {
                cookies.extend(values.iter().flat_map(|v| v.split("; ")).map(str::to_owned));
                continue;
            }
            header_map.insert(name.as_str().to_owned(), Value::String(values.join(",")));
        }
        header_map.insert("host".into(), Value::String(host.to_owned()));
        header_map.insert("x-forwarded-proto".into(), Value::String("http".into()));
        header_map.insert(
            "x-forwarded-for".into(),
            Value::String(peer.ip().to_string()),
        );
        let raw_query = uri.query().unwrap_or_default();
        let mut query = Map::new();
        for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode_component(k);
            let v = decode_component(v);
            match query.get_mut(&k) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                _ => {
                    query.insert(k, Value::String(v));
                }
            }
        }
        let textual = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| {
                ct.starts_with("text/")
                    || ct.contains("json")
                    || ct.contains("xml")
                    || ct.contains("x-www-form-urlencoded")
            });
        let (body_value, is_base64) = if body.is_empty() {
            (Value::Null, false)
        } else {
            match (textual, std::str::from_utf8(body)) {
                (true, Ok(text)) => (Value::String(text.to_owned()), false),
                _ => (Value::String(BASE64.encode(body)), true),
            }
        };
        let now = chrono::Utc::now();
        let label = host.split('.').next().unwrap_or_default();
        json!({
            "version": "2.0",
            "routeKey": matched.route_key,
            "rawPath": uri.path(),
            "rawQueryString": raw_query,
            "cookies": if cookies.is_empty() { Value::Null } else { json!(cookies) },
            "headers": header_map,
            "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
            "pathParameters": if matched.path_parameters.is_empty() { Value::Null } else { Value::Object(matched.path_parameters.clone()) },
            "requestContext": {
                "accountId": self.account,
                "apiId": matched.api,
                "domainName": host,
                "domainPrefix": label,
                "http": {
                    "method": method.as_str(),
                    "path": uri.path(),
                    "protocol": "HTTP/1.1",
                    "sourceIp": peer.ip().to_string(),
                    "userAgent": headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default(),
                },
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": matched.route_key,
                "stage": "$default",
                "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
                "timeEpoch": now.timestamp_millis(),
            },
            "body": body_value,
            "isBase64Encoded": is_base64,
        })
    }
}

fn decode_component(s: &str) -> String {
    shared::ingest::upload_event::decode_key(s).unwrap_or_else(|_| s.to_owned())
}

/// A payload-format-2.0 function result → HTTP. A result without `statusCode` is a 200 whose
/// body is the JSON itself, as API Gateway treats it.
pub fn into_http_response(result: Value) -> http::Response<Full<Bytes>> {
    let Some(status) = result.get("statusCode").and_then(Value::as_u64) else {
        let mut res = http::Response::new(Full::new(Bytes::from(result.to_string())));
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return res;
    };
    let body = match (result["body"].as_str(), result["isBase64Encoded"].as_bool()) {
        (Some(b), Some(true)) => BASE64.decode(b).unwrap_or_default(),
        (Some(b), _) => b.as_bytes().to_vec(),
        (None, _) => Vec::new(),
    };
    let mut res = http::Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = res.headers_mut();
    for (k, v) in result["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            http::HeaderName::try_from(k.as_str()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    for (k, vs) in result["multiValueHeaders"]
        .as_object()
        .into_iter()
        .flatten()
    {
        for v in vs
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::try_from(k.as_str()),
                HeaderValue::from_str(v),
            ) {
                headers.append(name, value);
            }
        }
    }
    for cookie in result["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(http::header::SET_COOKIE, value);
        }
    }
    res
}

/// Serves the gateway on `listener` until the task is dropped.
pub async fn serve<I: Invoke>(listener: tokio::net::TcpListener, gateway: Arc<Gateway<I>>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let gateway = gateway.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let res = match Limited::new(body, MAX_BODY).collect().await {
                            Ok(collected) => {
                                gateway
                                    .handle(
                                        &parts.method,
                                        &parts.uri,
                                        &parts.headers,
                                        collected.to_bytes(),
                                        peer,
                                    )
                                    .await
                            }
                            Err(_) => gateway_error(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                "Request Entity Too Large",
                            ),
                        };
                        Ok::<_, std::convert::Infallible>(res)
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(err) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(error = %err, "connection closed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let route = |api: &str, method: &str, path: &str, function: &str| Route {
            api: api.into(),
            method: method.into(),
            path: path.into(),
            function: function.into(),
        };
        RouteTable {
            apis: vec![
                ("App".into(), DomainPattern::parse("app.localhost")),
                ("Tenant".into(), DomainPattern::parse("*.localhost")),
            ],
            routes: vec![
                route("App", "GET", "/api/health", "discovery"),
                route("Tenant", "GET", "/api/health", "auth"),
                route("Tenant", "GET", "/api/uploads/batches/{id}", "uploads"),
                route("Tenant", "GET", "/api/uploads/batches/latest", "latest"),
                route("Tenant", "ANY", "/api/files/{path+}", "files"),
            ],
        }
    }

    #[test]
    fn exact_domain_beats_wildcard() {
        let t = table();
        assert_eq!(
            t.find("app.localhost", "GET", "/api/health")
                .unwrap()
                .function,
            "discovery"
        );
        assert_eq!(
            t.find("acme.localhost", "GET", "/api/health")
                .unwrap()
                .function,
            "auth"
        );
        assert!(t.find("a.b.localhost", "GET", "/api/health").is_none());
        assert!(t.find("localhost", "GET", "/api/health").is_none());
        assert!(t.find("acme.example.com", "GET", "/api/health").is_none());
    }

    #[test]
    fn routes_by_method_and_most_specific_path() {
        let t = table();
        assert!(t.find("acme.localhost", "POST", "/api/health").is_none());
        let m = t
            .find("acme.localhost", "GET", "/api/uploads/batches/42")
            .unwrap();
        assert_eq!(m.function, "uploads");
        assert_eq!(m.path_parameters["id"], "42");
        assert_eq!(m.route_key, "GET /api/uploads/batches/{id}");
        assert_eq!(
            t.find("acme.localhost", "GET", "/api/uploads/batches/latest")
                .unwrap()
                .function,
            "latest"
        );
        let m = t
            .find("acme.localhost", "DELETE", "/api/files/a/b.csv")
            .unwrap();
        assert_eq!(m.path_parameters["path"], "a/b.csv");
        assert!(t.find("acme.localhost", "GET", "/api/files/").is_none());
        assert!(
            t.find("acme.localhost", "GET", "/api/uploads/batches/")
                .is_none()
        );
    }

    #[test]
    fn results_without_status_code_are_200_json() {
        let res = into_http_response(json!({"hello": "world"}));
        assert_eq!(res.status(), StatusCode::OK);
        let res =
            into_http_response(json!({"statusCode": 404, "headers": {"x-a": "1"}, "body": "{}"}));
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()["x-a"], "1");
    }
}

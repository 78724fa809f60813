//! `web`: the browser front end, on every host. The page (`page.html`) is the same shell on
//! `app.`, `api.` and tenant hosts, told its surface; the browser's modules under `assets/` do
//! the rest by calling the surface's API on the same origin. Everything is embedded in the
//! binary: no CDN, no runtime download.
//!
//! On a tenant host a page is served only for a live tenant, like every other tenant route: an
//! unknown or suspended tenant gets its 404 or 403, as JSON to API clients and, to a browser, as
//! the page (whose script shows why). Assets are the same for every host and always served, so
//! that page can render.
//!
//! Caching: assets live under `/assets/<build>/…`, where `<build>` is a digest of every embedded
//! file, and are cached for a year; the page is `no-cache`, so a deploy is seen on the next load.
//! Every answer carries the security headers, the page a strict Content-Security-Policy: scripts
//! and styles from this origin only, API calls to this origin and (tenant hosts) the uploads
//! bucket, no framing.

use std::hash::{DefaultHasher, Hash, Hasher};

use http::{HeaderValue, header};
use lambda_http::{Body, Request, Response};
use rust_embed::RustEmbed;
use shared::ApiError;
use shared::domain::host::{HostKind, classify_host};
use shared::platform::config::{ConfigError, Env, PlatformSettings};
use shared::store::registry::Registry;
use shared::tenancy::context::registry_cache_ttl;
use shared::tenancy::directory::TenantDirectory;
use shared::web::api::web::{Op, ROUTES};
use shared::web::http::{
    header as request_header, request_host, request_path, route_not_found, serve,
};
use shared::web::router::Router;

/// The function's name, as deployed.
pub const NAME: &str = "web";

/// The browser's modules, styles and icons.
#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// The page shell; `%BUILD%` and `%SURFACE%` are filled in per request.
const PAGE: &str = include_str!("../page.html");

/// Where the assets of one build live.
const ASSETS: &str = "/assets/";

/// What the function reads at cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub platform: PlatformSettings,
    /// How long a tenant's registry record is trusted (how soon a suspension bites).
    pub registry_cache_ttl: std::time::Duration,
    /// The origin the browser PUTs uploads to (the presigned URLs' origin).
    pub uploads_origin: String,
}

impl Settings {
    /// The platform's settings, `REGISTRY_CACHE_TTL_SECONDS` and `UPLOADS_BUCKET`; the uploads
    /// origin is where the
    /// SDK presigns: the configured endpoint (the local emulator), or the bucket's regional host.
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let bucket = env.required("UPLOADS_BUCKET")?;
        let uploads_origin = match sdk.endpoint_url() {
            Some(endpoint) => origin_of(endpoint),
            None => {
                let region = sdk.region().map_or("us-east-1", |r| r.as_ref());
                format!("https://{bucket}.s3.{region}.amazonaws.com")
            }
        };
        Ok(Self {
            platform: PlatformSettings::from_env(env)?,
            registry_cache_ttl: registry_cache_ttl(env)?,
            uploads_origin,
        })
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{authority}")
        }
        None => url.to_owned(),
    }
}

/// What the handler needs, built once per cold start.
pub struct App {
    platform: PlatformSettings,
    directory: TenantDirectory,
    build: String,
    uploads_origin: String,
    router: Router<Op>,
}

impl App {
    /// Reads the configuration through `env` (`Env::process()` in Lambda).
    pub fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self::from_settings(Settings::from_env(env, sdk)?, sdk))
    }

    pub fn from_settings(settings: Settings, sdk: &aws_config::SdkConfig) -> Self {
        let registry = Registry::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &settings.platform.tables,
        );
        Self {
            directory: TenantDirectory::new(registry, settings.registry_cache_ttl),
            platform: settings.platform,
            build: build_id(),
            uploads_origin: settings.uploads_origin,
            router: Router::new(&ROUTES),
        }
    }

    /// The digest naming this build's asset folder.
    pub fn build(&self) -> &str {
        &self.build
    }
}

/// A digest of every embedded file, stable for one binary.
fn build_id() -> String {
    let mut names: Vec<_> = Assets::iter().collect();
    names.sort();
    let mut hasher = DefaultHasher::new();
    PAGE.hash(&mut hasher);
    for name in names {
        name.hash(&mut hasher);
        if let Some(file) = Assets::get(&name) {
            file.metadata.sha256_hash().hash(&mut hasher);
        }
    }
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

/// Handles one API Gateway request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let mut res = serve(&req, |req| async move {
        let host = classify_host(request_host(req).as_deref(), &app.platform.domain)?;
        let path = match app.router.find(req.method(), request_path(req))?.op() {
            Op::Root => "/",
            Op::Path => request_path(req),
        };
        if let Some(rest) = path.strip_prefix(ASSETS) {
            return asset(app, rest);
        }
        if is_api_path(path) {
            return Err(route_not_found());
        }
        if let HostKind::Tenant(subdomain) = &host
            && let Err(err) = app.directory.resolve(subdomain).await
        {
            let err = ApiError::from(err);
            if !wants_html(req) {
                return Err(err);
            }
            let mut res = page(app, &host);
            *res.status_mut() = err.status;
            return Ok(res);
        }
        Ok(page(app, &host))
    })
    .await;
    security_headers(res.headers_mut());
    // A page's path answers a browser with HTML and an API client with JSON.
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    res
}

/// Whether the client is a browser asking for a page (API clients get JSON errors).
fn wants_html(req: &Request) -> bool {
    request_header(req, "accept").is_some_and(|accept| accept.contains("text/html"))
}

/// Paths the API functions own: never answered with the page, so a typo in an API call is a
/// JSON 404, not HTML.
fn is_api_path(path: &str) -> bool {
    ["/api", "/admin"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// The page for `host`'s surface, with its Content-Security-Policy.
fn page(app: &App, host: &HostKind) -> Response<Body> {
    let (surface, connect) = match host {
        HostKind::App => ("app", String::new()),
        HostKind::Api => ("console", String::new()),
        // A tenant's page PUTs uploads straight to the bucket and follows large exports there.
        HostKind::Tenant(_) => ("tenant", format!(" {}", app.uploads_origin)),
    };
    let html = PAGE
        .replace("%BUILD%", &app.build)
        .replace("%SURFACE%", surface);
    let mut res = Response::new(Body::Text(html));
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'{connect}; manifest-src 'self'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    res
}

/// `/assets/<build>/<file>`: cached for a year when `<build>` is this build's; under another
/// build's folder (a page of the previous deploy) the current file, revalidated every time, so
/// nothing stale is ever cached for long.
fn asset(app: &App, rest: &str) -> Result<Response<Body>, ApiError> {
    let (build, name) = rest.split_once('/').ok_or_else(asset_not_found)?;
    let file = Assets::get(name).ok_or_else(asset_not_found)?;
    let (kind, text) = content_type(name).unwrap_or(("application/octet-stream", false));
    let mut res = Response::new(if text {
        Body::Text(String::from_utf8_lossy(&file.data).into_owned())
    } else {
        Body::Binary(file.data.into_owned())
    });
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if build == app.build {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    Ok(res)
}

fn asset_not_found() -> ApiError {
    ApiError::not_found("asset_not_found", "no such file in the front end")
}

/// The media type of an asset by its extension, and whether it is text.
fn content_type(name: &str) -> Option<(&'static str, bool)> {
    let extension = name.rsplit_once('.')?.1;
    Some(match extension {
        "js" => ("text/javascript; charset=utf-8", true),
        "css" => ("text/css; charset=utf-8", true),
        "svg" => ("image/svg+xml", true),
        "json" => ("application/json", true),
        "webmanifest" => ("application/manifest+json", true),
        "png" => ("image/png", false),
        "woff2" => ("font/woff2", false),
        _ => return None,
    })
}

/// The headers every answer carries (the seeds' web server's, and a referrer policy that keeps
/// page paths out of requests to other origins).
fn security_headers(headers: &mut http::HeaderMap) {
    for (name, value) in [
        (
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            http::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            http::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_of_keeps_scheme_host_and_port() {
        assert_eq!(origin_of("http://127.0.0.1:4566"), "http://127.0.0.1:4566");
        assert_eq!(
            origin_of("https://s3.example.com/path?x"),
            "https://s3.example.com"
        );
    }

    #[test]
    fn api_paths_are_never_pages() {
        for path in ["/api", "/api/nothing", "/admin", "/admin/tenants/x"] {
            assert!(is_api_path(path), "{path}");
        }
        for path in ["/", "/uploads", "/apiary", "/administration", "/login"] {
            assert!(!is_api_path(path), "{path}");
        }
    }

    #[test]
    fn every_asset_has_a_media_type() {
        for name in Assets::iter() {
            assert!(content_type(&name).is_some(), "{name} has no media type");
        }
    }

    #[test]
    fn the_page_loads_its_modules_from_the_build_folder() {
        assert!(PAGE.contains("/assets/%BUILD%/"));
        assert!(PAGE.contains("%SURFACE%"));
        assert!(!PAGE.contains("<script>"), "inline scripts break the CSP");
    }
}

#[cfg(test)]
mod events_tests;

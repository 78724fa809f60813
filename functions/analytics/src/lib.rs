//! `analytics` on a tenant's host: summary, grouped figures, top-N, e-commerce figures, CSV
//! exports and saved dashboards, every answer from the rollups. Routes come from
//! `shared::web::api::analytics::ROUTES`; the work is in `shared::analytics`.

use std::time::{Duration, Instant};

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::analytics::dashboards::{self, DashboardInput, Viewer};
use shared::analytics::filters::{
    Dataset, Dimension, Filters, GroupedQuery, TopQuery, parse_dataset,
};
use shared::analytics::{AnalyticsError, export, query};
use shared::platform::config::{ConfigError, Env};
use shared::platform::metrics;
use shared::store::objects::ObjectStore;
use shared::tenancy::context::{Tenant, TenantContext, TenantSettings};
use shared::web;
use shared::web::api::analytics::{Op, ROUTES};
use shared::web::http::{
    Surface, csv_response, expect_host, json_body, json_response, no_content, request_path, serve,
};
use shared::web::router::{Found, Router};

/// The function's name, as deployed and as reported by its health check.
pub const NAME: &str = "analytics";

/// Exports up to this size are answered inline; larger ones go to the bucket behind a
/// presigned GET (a Lambda response carries 6 MB, and binary bodies travel base64-encoded).
pub const INLINE_EXPORT_LIMIT: u64 = 4 * 1024 * 1024;

/// How long the download URL of a large export is valid.
pub const EXPORT_URL_TTL: Duration = Duration::from_secs(5 * 60);

/// What the function reads at cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tenant: TenantSettings,
    /// `UPLOADS_BUCKET`: large exports are written under the tenant's prefix.
    pub uploads_bucket: String,
}

impl Settings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            tenant: TenantSettings::from_env(env)?,
            uploads_bucket: env.required("UPLOADS_BUCKET")?,
        })
    }
}

/// What the handler needs, built once per cold start.
pub struct App {
    pub tenant: TenantContext,
    pub objects: ObjectStore,
    pub router: Router<Op>,
    /// [`INLINE_EXPORT_LIMIT`]; tests lower it to exercise the bucket path.
    pub inline_export_limit: u64,
}

impl App {
    /// Reads the configuration through `env` (`Env::process()` in Lambda).
    pub fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let settings = Settings::from_env(env)?;
        Ok(Self {
            tenant: TenantContext::from_settings(settings.tenant, sdk),
            objects: ObjectStore::new(
                shared::platform::aws::s3_client(sdk),
                settings.uploads_bucket,
            ),
            router: Router::new(&ROUTES),
            inline_export_limit: INLINE_EXPORT_LIMIT,
        })
    }
}

/// Handles one API Gateway request; the latency of each analytics route goes to the
/// `AnalyticsLatency` metric.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let started = Instant::now();
    // Routed once: the handler works on the match, the metric names its route.
    let found = app.router.find(req.method(), request_path(&req));
    let endpoint = found
        .as_ref()
        .ok()
        .filter(|found| found.op() != Op::Health)
        .map(|found| format!("{} {}", found.route.spec.method, found.route.spec.path));
    let res = serve(&req, |req| route(app, req, found)).await;
    if let Some(endpoint) = endpoint {
        metrics::analytics_request(&endpoint, started.elapsed(), res.status().as_u16());
    }
    res
}

async fn route(
    app: &App,
    req: &Request,
    found: Result<Found<'_, '_, Op>, ApiError>,
) -> Result<Response<Body>, ApiError> {
    expect_host(req, &app.tenant.platform.domain, Surface::Tenant)?;
    let found = found?;
    if found.op() == Op::Health {
        return Ok(json_response(
            StatusCode::OK,
            &web::tenant::health(&app.tenant, req, NAME).await?,
        ));
    }
    let (tenant, caller) = web::tenant::signed_in(&app.tenant, req, found.access()).await?;
    let viewer = Viewer {
        user_id: caller.user_id,
        role: caller.role,
    };
    let params = |name: &str| web::http::query(req, name);
    let mut conn = app.tenant.connect(&tenant).await?;
    let db: &mut tokio_postgres::Client = &mut conn;
    match found.op() {
        Op::Health => Err(web::http::route_not_found()),
        Op::Summary => ok(&query::summary(db, &Filters::parse(&params, Dataset::Sales)?).await?),
        Op::Sales => ok(&query::grouped(db, &GroupedQuery::parse(&params, Dataset::Sales)?).await?),
        Op::Ecommerce => {
            ok(&query::grouped(db, &GroupedQuery::parse(&params, Dataset::Ecommerce)?).await?)
        }
        Op::TopProducts => {
            ok(&query::top(db, &TopQuery::parse(&params, Dimension::Product)?).await?)
        }
        Op::TopResellers => {
            ok(&query::top(db, &TopQuery::parse(&params, Dimension::Reseller)?).await?)
        }
        Op::Export => {
            let dataset = parse_dataset(params("dataset").as_deref())?;
            export_csv(app, &tenant, db, &GroupedQuery::parse(&params, dataset)?).await
        }
        Op::ListDashboards => ok(&dashboards::list(db, viewer).await?),
        Op::GetDashboard => ok(&dashboards::get(db, viewer, found.param("id")).await?),
        Op::CreateDashboard => {
            let input = DashboardInput::parse(&json_body(req)?)?;
            Ok(json_response(
                StatusCode::CREATED,
                &dashboards::create(db, viewer, &input).await?,
            ))
        }
        Op::PutDashboard => {
            let input = DashboardInput::parse(&json_body(req)?)?;
            ok(&dashboards::update(db, viewer, found.param("id"), &input).await?)
        }
        Op::DeleteDashboard => {
            dashboards::delete(db, viewer, found.param("id")).await?;
            Ok(no_content())
        }
    }
}

/// The export, written to a local file as rows arrive; inline when small, else put under the
/// tenant's prefix in the bucket and answered with `303` to a presigned GET.
async fn export_csv(
    app: &App,
    tenant: &Tenant,
    db: &tokio_postgres::Client,
    question: &GroupedQuery,
) -> Result<Response<Body>, ApiError> {
    let file = tempfile::NamedTempFile::new().map_err(AnalyticsError::from)?;
    let written = export::write_csv(db, question, file.as_file()).await?;
    let name = format!(
        "{}-{}-{}-{}.csv",
        tenant.subdomain.as_str(),
        if question.dataset == Dataset::Sales {
            "sales"
        } else {
            "ecommerce"
        },
        written.period.from,
        written.period.to
    );
    let size = file
        .as_file()
        .metadata()
        .map_err(AnalyticsError::from)?
        .len();
    if size <= app.inline_export_limit {
        let bytes = std::fs::read(file.path()).map_err(AnalyticsError::from)?;
        return Ok(csv_response(bytes, &name));
    }
    let key = format!(
        "tenants/{}/exports/{}/{name}",
        tenant.tenant_id,
        uuid::Uuid::new_v4()
    );
    let url = async {
        app.objects
            .put_temporary_file(&key, file.path(), "text/csv; charset=utf-8")
            .await?;
        app.objects.presign_get(&key, &name, EXPORT_URL_TTL).await
    }
    .await
    .map_err(|e| ApiError::internal(&e))?;
    tracing::info!(
        rows = written.rows,
        bytes = size,
        "large export written to the bucket"
    );
    let mut res = json_response(
        StatusCode::SEE_OTHER,
        &export::ExportLink {
            download_url: url.clone(),
            expires_in_seconds: EXPORT_URL_TTL.as_secs(),
            rows: written.rows,
            bytes: size,
        },
    );
    if let Ok(location) = http::HeaderValue::from_str(&url) {
        res.headers_mut().insert(http::header::LOCATION, location);
    }
    Ok(res)
}

fn ok<T: serde::Serialize>(value: &T) -> Result<Response<Body>, ApiError> {
    Ok(json_response(StatusCode::OK, value))
}

#[cfg(test)]
mod events_tests;

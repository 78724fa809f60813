//! `uploads` on a tenant's host: upload batches (a presigned PUT per file; processing happens in
//! `upload-processor`), their rejected rows, the tenant's vendor configs and FX rates. Routes come
//! from `shared::web::api::uploads::ROUTES`; the work is in `shared::ingest`.

use std::time::Duration;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::ingest::batches::{self, BatchStatus, NewUpload, UploadRequest};
use shared::ingest::{IngestError, fx, vendors};
use shared::platform::config::{ConfigError, Env};
use shared::store::audit::{AuditEvent, AuditLog, Outcome};
use shared::store::objects::ObjectStore;
use shared::tenancy::context::{Caller, Tenant, TenantContext, TenantSettings};
use shared::web;
use shared::web::api::uploads::{Op, ROUTES, UploadTicket};
use shared::web::http::{
    Surface, csv_response, expect_host, json_body, json_response, no_content, paging, query,
    request_path, serve,
};
use shared::web::router::Router;
use uuid::Uuid;

/// The function's name, as deployed and as reported by its health check.
pub const NAME: &str = "uploads";

/// How long a presigned upload URL is valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);

/// What the function reads at cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tenant: TenantSettings,
    /// `UPLOADS_BUCKET`.
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
    pub audit: AuditLog,
    pub router: Router<Op>,
}

impl App {
    /// Reads the configuration through `env` (`Env::process()` in Lambda).
    pub fn new<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let settings = Settings::from_env(env)?;
        let tenant = TenantContext::from_settings(settings.tenant, sdk);
        Ok(Self {
            audit: AuditLog::new(tenant.directory.registry().clone()),
            objects: ObjectStore::new(
                shared::platform::aws::s3_client(sdk),
                settings.uploads_bucket,
            ),
            tenant,
            router: Router::new(&ROUTES),
        })
    }
}

/// Handles one API Gateway request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    serve(&req, |req| route(app, req)).await
}

async fn route(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    expect_host(req, &app.tenant.platform.domain, Surface::Tenant)?;
    let found = app.router.find(req.method(), request_path(req))?;
    if found.op() == Op::Health {
        return Ok(json_response(
            StatusCode::OK,
            &web::tenant::health(&app.tenant, req, NAME).await?,
        ));
    }
    let (tenant, caller) = web::tenant::signed_in(&app.tenant, req, found.access()).await?;
    let mut db = app.tenant.connect(&tenant).await?;
    match found.op() {
        Op::Health => unreachable_route(),
        Op::CreateUpload => create_upload(app, req, &tenant, &caller, &db).await,
        Op::ListBatches => {
            let (limit, cursor) = paging(req)?;
            let status = query(req, "status")
                .map(|s| BatchStatus::parse(&s).ok_or(IngestError::InvalidStatus))
                .transpose()?;
            Ok(json_response(
                StatusCode::OK,
                &batches::list(&db, status, limit, cursor.as_deref()).await?,
            ))
        }
        Op::GetBatch => Ok(json_response(
            StatusCode::OK,
            &batch(&db, found.param("id")).await?,
        )),
        Op::BatchErrors => {
            let batch = batch(&db, found.param("id")).await?;
            let (limit, cursor) = paging(req)?;
            Ok(json_response(
                StatusCode::OK,
                &batches::errors(&db, &batch.batch_id, limit, cursor.as_deref()).await?,
            ))
        }
        Op::BatchErrorsCsv => {
            let batch = batch(&db, found.param("id")).await?;
            let csv = batches::errors_csv(&db, &batch.batch_id).await?;
            Ok(csv_response(csv, &format!("{}-errors.csv", batch.batch_id)))
        }
        Op::DeleteBatch => {
            let id = batch_id(found.param("id"))?;
            let deleted = batches::delete(&mut db, &id).await?;
            app.audit
                .record_best_effort(
                    &AuditEvent::new(
                        &format!("user:{}", caller.email),
                        "batch.delete",
                        Some(tenant.tenant_id),
                        Outcome::Success,
                    )
                    .with_detail(format!(
                        "batch {} ({}, {} rows loaded)",
                        deleted.batch_id, deleted.file_name, deleted.rows_loaded
                    )),
                )
                .await;
            Ok(no_content())
        }
        Op::ListVendors => Ok(json_response(StatusCode::OK, &vendors::list(&db).await?)),
        Op::GetVendor => Ok(json_response(
            StatusCode::OK,
            &vendors::get(&db, found.param("name")).await?,
        )),
        Op::PutVendor => {
            let json: serde_json::Value = json_body(req)?;
            Ok(json_response(
                StatusCode::OK,
                &vendors::put(&mut db, found.param("name"), &json, &caller.user_id).await?,
            ))
        }
        Op::DeleteVendor => {
            vendors::deactivate(&db, found.param("name")).await?;
            Ok(no_content())
        }
        Op::GetFxRates => Ok(json_response(StatusCode::OK, &fx::list(&db).await?)),
        Op::PutFxRates => {
            let rates: fx::FxRates = json_body(req)?;
            fx::put(&db, &rates).await?;
            Ok(json_response(StatusCode::OK, &fx::list(&db).await?))
        }
    }
}

/// Answered above; kept out of `unreachable!` so no request can panic the function.
fn unreachable_route() -> Result<Response<Body>, ApiError> {
    Err(shared::web::http::route_not_found())
}

async fn create_upload(
    app: &App,
    req: &Request,
    tenant: &Tenant,
    caller: &Caller,
    db: &tokio_postgres::Client,
) -> Result<Response<Body>, ApiError> {
    let upload = NewUpload::parse(json_body::<UploadRequest>(req)?)?;
    let (batch, key) =
        batches::create(db, &tenant.tenant_id, Some(&caller.user_id), &upload).await?;
    let put = app
        .objects
        .presign_put(
            &key,
            &upload.content_type,
            upload.size_bytes,
            UPLOAD_URL_TTL,
        )
        .await
        .map_err(IngestError::from)?;
    tracing::info!(batch_id = %batch.batch_id, vendor = upload.vendor, "upload started");
    Ok(json_response(
        StatusCode::CREATED,
        &UploadTicket {
            batch_id: batch.batch_id,
            upload_url: put.url,
            upload_headers: put.headers,
            expires_at: put.expires_at,
            batch,
        },
    ))
}

fn batch_id(raw: &str) -> Result<Uuid, IngestError> {
    Uuid::parse_str(raw).map_err(|_| IngestError::InvalidBatchId)
}

async fn batch(
    db: &tokio_postgres::Client,
    raw_id: &str,
) -> Result<batches::BatchView, IngestError> {
    batches::get(db, &batch_id(raw_id)?)
        .await?
        .ok_or(IngestError::BatchNotFound)
}

#[cfg(test)]
mod events_tests;

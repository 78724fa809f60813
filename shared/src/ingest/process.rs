//! The processor: one uploaded object → one batch loaded exactly once.
//!
//! Nothing in the message is trusted: the bucket must be the uploads bucket, the key must have
//! the exact layout, the tenant must exist and be active, and the batch must exist in *that*
//! tenant's database with that object key. The batch is claimed with a lease (`pending →
//! processing`, or a `processing` batch whose lease ran out); `completed` and `failed` are final,
//! so a redelivered message does nothing. The object is spooled to a local file (constant
//! memory), read and mapped on a blocking thread, and its rows stream through binary COPY into
//! the tenant database inside one transaction that also stores the rejected rows, the new
//! products and resellers, the rollup delta and the batch's outcome: a crash anywhere leaves the
//! batch as it was. A bad file fails the batch with a reason a person understands (never
//! retried); a transient fault releases the lease and asks for a retry, and the third failed
//! attempt fails the batch before the message goes to the dead-letter queue.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Datelike;
use rust_decimal::Decimal;
use tokio::io::AsyncReadExt;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use crate::ingest::mapping::{MappedRow, Mapper, OrderRow, RowError, SelloutRow};
use crate::ingest::read::{self, FileError, ReadOptions};
use crate::ingest::rollup;
use crate::ingest::upload_event::CreatedObject;
use crate::ingest::vendor::{Target, VendorConfig};
use crate::platform::metrics::{self, UploadLoaded};
use crate::platform::telemetry::ErrorChain;
use crate::store::objects::{ObjectError, ObjectStore};
use crate::store::secrets::SecretStore;
use crate::tenancy::TenancyError;
use crate::tenancy::context::TenantContext;

/// How long a claimed batch belongs to the run that claimed it: longer than the processor's
/// timeout (120 s in the template), so a live run is never taken over, and shorter than the
/// queue's visibility timeout, so the redelivery after a crashed run takes it over.
pub const LEASE: Duration = Duration::from_secs(3 * 60);
/// Receives after which a transient failure fails the batch (the queue's `maxReceiveCount`).
pub const MAX_RECEIVES: u32 = 3;
/// Sales rows handed from the reading thread to the loader at once.
const CHUNK: usize = 2048;

/// What became of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded (possibly with rejected rows).
    Completed {
        batch_id: Uuid,
        loaded: u64,
        rejected: u64,
    },
    /// The file cannot be loaded; the batch says why. Never retried.
    Failed { batch_id: Uuid, reason: String },
    /// The batch was already finished: a redelivery, acknowledged and ignored.
    AlreadyDone { batch_id: Uuid },
    /// Not ours to process (foreign bucket, malformed key, unknown tenant or batch): logged and
    /// acknowledged, so it never blocks the queue.
    Ignored { reason: String },
    /// Try again later (transient fault, or another run holds the lease).
    Retry { reason: String },
}

/// The processor's dependencies, built once per container.
pub struct Processor<S> {
    pub tenants: TenantContext<S>,
    pub objects: ObjectStore,
    /// Test hook: fail after the rows are copied, before the commit.
    pub fail_before_commit: AtomicBool,
}

/// Why one attempt did not load the batch.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    /// The file (or the config it is read with) cannot be loaded: final.
    #[error("{0}")]
    BadFile(String),
    /// Anything else: worth another attempt.
    #[error(transparent)]
    Transient(#[from] Box<dyn std::error::Error + Send + Sync>),
}

impl From<tokio_postgres::Error> for AttemptError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Transient(Box::new(e))
    }
}

impl From<FileError> for AttemptError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Io(io) => Self::Transient(Box::new(io)),
            other => Self::BadFile(other.to_string()),
        }
    }
}

/// A claimed batch.
struct Claim {
    batch_id: Uuid,
    vendor: String,
    config_version: i32,
    object_key: String,
}

impl<S: SecretStore> Processor<S> {
    pub fn new(tenants: TenantContext<S>, objects: ObjectStore) -> Self {
        Self {
            tenants,
            objects,
            fail_before_commit: AtomicBool::new(false),
        }
    }

    /// Processes one created object; `receives` is the message's receive count.
    pub async fn process(&self, object: &CreatedObject, receives: u32) -> Outcome {
        if object.bucket != self.objects.bucket() {
            return ignored(format!("object in foreign bucket {:?}", object.bucket));
        }
        let (Ok(tenant_id), Ok(batch_id)) = (
            Uuid::parse_str(&object.upload.tenant_id),
            Uuid::parse_str(&object.upload.batch_id),
        ) else {
            return ignored(format!(
                "key {:?} does not name a tenant and a batch",
                object.key
            ));
        };
        tracing::Span::current().record("tenant_id", tracing::field::display(tenant_id));
        let tenant = match self.tenants.resolve_id(&tenant_id).await {
            Ok(tenant) => tenant,
            Err(
                e @ (TenancyError::TenantNotFound
                | TenancyError::Suspended
                | TenancyError::Unavailable(_)),
            ) => {
                return ignored(format!("tenant {tenant_id}: {e}"));
            }
            Err(e) => return retry(&e),
        };
        let mut db = match self.tenants.connect(&tenant).await {
            Ok(db) => db,
            Err(e) => return retry(&e),
        };
        let claim = match claim(&db, &batch_id, &object.key).await {
            Ok(Claimed::Yes(claim)) => claim,
            Ok(Claimed::Finished) => return Outcome::AlreadyDone { batch_id },
            Ok(Claimed::Busy) => {
                return Outcome::Retry {
                    reason: "another run holds the batch's lease".into(),
                };
            }
            Ok(Claimed::Unknown) => {
                return ignored(format!(
                    "tenant {tenant_id} has no batch {batch_id} at {:?}",
                    object.key
                ));
            }
            Err(e) => return retry(&e),
        };
        match self.attempt(&mut db, &claim).await {
            Ok(figures) => {
                metrics::upload_loaded(&tenant_id, &batch_id, &claim.vendor, &figures);
                Outcome::Completed {
                    batch_id,
                    loaded: figures.rows_loaded,
                    rejected: figures.rows_rejected,
                }
            }
            Err(AttemptError::BadFile(reason)) => {
                if let Err(e) = finish_failed(&db, &batch_id, &reason).await {
                    return retry(&e);
                }
                Outcome::Failed { batch_id, reason }
            }
            Err(AttemptError::Transient(cause)) => {
                let cause = ErrorChain(cause.as_ref()).to_string();
                tracing::warn!(%batch_id, error = %cause, receives, "batch attempt failed");
                let last = receives >= MAX_RECEIVES;
                let released = if last {
                    finish_failed(
                        &db,
                        &batch_id,
                        "the file could not be processed after 3 attempts; the platform's \
                         operators have been alerted",
                    )
                    .await
                } else {
                    release(&db, &batch_id).await
                };
                if let Err(e) = released {
                    tracing::warn!(%batch_id, error = %e, "could not release the batch");
                }
                Outcome::Retry { reason: cause }
            }
        }
    }

    /// One attempt at loading a claimed batch, in one transaction.
    async fn attempt(
        &self,
        db: &mut tokio_postgres::Client,
        claim: &Claim,
    ) -> Result<UploadLoaded, AttemptError> {
        let started = Instant::now();
        let config = load_config(db, &claim.vendor, claim.config_version).await?;
        let rates = load_rates(db).await?;

        // Spool the object to a local file: constant memory, and random access for XLSX.
        let dir = tempfile::tempdir().map_err(|e| AttemptError::Transient(Box::new(e)))?;
        let path = dir.path().join("upload");
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| AttemptError::Transient(Box::new(e)))?;
        let bytes = match self.objects.download_to(&claim.object_key, &mut file).await {
            Ok(bytes) => bytes,
            Err(ObjectError::NotFound(_)) => {
                return Err(AttemptError::BadFile("the uploaded file is gone".into()));
            }
            Err(e) => return Err(AttemptError::Transient(Box::new(e))),
        };
        drop(file);
        let downloaded = started.elapsed();

        let kind = read::detect(&path)?;
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Rows>(4);
        let reader = {
            let path = path.clone();
            let config = config.clone();
            let spool = dir.path().join("errors.tsv");
            let batch_id = claim.batch_id;
            let vendor = claim.vendor.clone();
            tokio::task::spawn_blocking(move || {
                read_and_map(&path, &config, &vendor, &rates, &batch_id, &spool, &sender)
            })
        };

        let tx = db.transaction().await?;
        let copy_started = Instant::now();
        let loaded = match config.target {
            Target::Sellout => {
                copy_lines::<SelloutLine>(&tx, &claim.batch_id, &claim.vendor, &mut receiver)
                    .await?
            }
            Target::Ecommerce => {
                copy_lines::<OrderLine>(&tx, &claim.batch_id, &claim.vendor, &mut receiver).await?
            }
        };
        let read_summary = reader
            .await
            .map_err(|e| AttemptError::Transient(Box::new(e)))??;
        let copied = copy_started.elapsed();
        if read_summary.rows == 0 {
            return Err(AttemptError::BadFile("the file has no data rows".into()));
        }
        if loaded == 0 {
            return Err(AttemptError::BadFile(format!(
                "none of the file's {} rows could be loaded; the first reason: {}",
                read_summary.rows,
                read_summary.first_error.as_deref().unwrap_or("unknown")
            )));
        }
        copy_errors(&tx, &read_summary.error_spool).await?;
        let rollup_started = Instant::now();
        upsert_dimensions(&tx, &read_summary).await?;
        rollup::add(&tx, &read_summary.delta).await?;
        let rolled = rollup_started.elapsed();
        if self.fail_before_commit.load(Ordering::Relaxed) {
            return Err(AttemptError::Transient(
                "injected fault before commit".into(),
            ));
        }
        let stages = serde_json::json!({
            "download": downloaded.as_millis() as u64,
            "read": read_summary.read_ms,
            "map": read_summary.map_ms,
            "copy": copied.as_millis() as u64,
            "rollup": rolled.as_millis() as u64,
            "bytes": bytes,
        });
        // Only onto the batch this attempt claimed: one deleted (or taken over) meanwhile makes
        // the whole load roll back, so no raw row outlives its batch.
        let completed = tx.execute(
            "update upload_batches set status = 'completed', rows_total = $2, rows_loaded = $3, \
                 rows_failed = $4, file_kind = $5, encoding = $6, stage_ms = $7, \
                 completed_at = now(), lease_until = null, failure_reason = null \
             where batch_id = $1 and status = 'processing'",
            &[
                &claim.batch_id,
                &to_i32(read_summary.rows),
                &to_i32(loaded),
                &to_i32(read_summary.rejected),
                &kind_name(&kind),
                &read_summary.encoding,
                &stages,
            ],
        )
        .await?;
        if completed != 1 {
            return Err(AttemptError::Transient(
                "the batch was deleted or taken over during this attempt".into(),
            ));
        }
        tx.commit().await?;
        tracing::info!(
            batch_id = %claim.batch_id,
            rows = read_summary.rows,
            loaded,
            rejected = read_summary.rejected,
            ms = started.elapsed().as_millis() as u64,
            "batch loaded"
        );
        Ok(UploadLoaded {
            rows_loaded: loaded,
            rows_rejected: read_summary.rejected,
            bytes,
            took: started.elapsed(),
        })
    }
}

fn ignored(reason: String) -> Outcome {
    tracing::warn!(%reason, "upload message ignored");
    Outcome::Ignored { reason }
}

fn retry(e: &(dyn std::error::Error + 'static)) -> Outcome {
    let reason = ErrorChain(e).to_string();
    tracing::warn!(%reason, "upload message will be retried");
    Outcome::Retry { reason }
}

fn to_i32(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn kind_name(kind: &read::FileKind) -> &'static str {
    match kind {
        read::FileKind::Csv => "csv",
        read::FileKind::Xlsx => "xlsx",
    }
}

enum Claimed {
    Yes(Claim),
    Finished,
    Busy,
    Unknown,
}

/// `pending` (or `processing` with an expired lease) → `processing` with a fresh lease, in one
/// conditional update: of concurrent deliveries exactly one wins.
async fn claim(
    db: &tokio_postgres::Client,
    batch_id: &Uuid,
    key: &str,
) -> Result<Claimed, tokio_postgres::Error> {
    let lease = i64::try_from(LEASE.as_secs()).unwrap_or(1200);
    let claimed = db
        .query_opt(
            "update upload_batches set status = 'processing', attempts = attempts + 1, \
                 lease_until = now() + make_interval(secs => $3), \
                 started_at = coalesce(started_at, now()) \
             where batch_id = $1 and object_key = $2 \
               and (status = 'pending' or (status = 'processing' and lease_until < now())) \
             returning vendor_name, vendor_config_version",
            &[batch_id, &key, &(lease as f64)],
        )
        .await?;
    if let Some(row) = claimed {
        return Ok(Claimed::Yes(Claim {
            batch_id: *batch_id,
            vendor: row.try_get("vendor_name")?,
            config_version: row
                .try_get::<_, Option<i32>>("vendor_config_version")?
                .unwrap_or(1),
            object_key: key.to_owned(),
        }));
    }
    let state = db
        .query_opt(
            "select status from upload_batches where batch_id = $1 and object_key = $2",
            &[batch_id, &key],
        )
        .await?;
    Ok(match state {
        None => Claimed::Unknown,
        Some(row) => match row.try_get::<_, String>("status")?.as_str() {
            "completed" | "failed" => Claimed::Finished,
            _ => Claimed::Busy,
        },
    })
}

/// Back to `pending` for the next delivery.
async fn release(
    db: &tokio_postgres::Client,
    batch_id: &Uuid,
) -> Result<(), tokio_postgres::Error> {
    db.execute(
        "update upload_batches set status = 'pending', lease_until = null \
         where batch_id = $1 and status = 'processing'",
        &[batch_id],
    )
    .await
    .map(drop)
}

/// `failed`, final, with a reason for people.
async fn finish_failed(
    db: &tokio_postgres::Client,
    batch_id: &Uuid,
    reason: &str,
) -> Result<(), tokio_postgres::Error> {
    db.execute(
        "update upload_batches set status = 'failed', failure_reason = $2, \
             completed_at = now(), lease_until = null \
         where batch_id = $1 and status = 'processing'",
        &[batch_id, &reason],
    )
    .await
    .map(drop)
}

async fn load_config(
    db: &tokio_postgres::Client,
    vendor: &str,
    version: i32,
) -> Result<VendorConfig, AttemptError> {
    let row = db
        .query_opt(
            "select config_data from vendor_config_versions where vendor_name = $1 and version = $2",
            &[&vendor, &version],
        )
        .await?
        .ok_or_else(|| {
            AttemptError::BadFile(format!("vendor {vendor} has no config version {version}"))
        })?;
    let json: serde_json::Value = row.try_get("config_data")?;
    VendorConfig::parse(&json).map_err(|issues| {
        AttemptError::BadFile(format!(
            "the {vendor} vendor config is invalid: {}",
            issues
                .iter()
                .map(|i| format!("{}: {}", i.field, i.message))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })
}

/// (currency, year, month) → EUR per unit.
type Rates = HashMap<(String, i16, i16), Decimal>;

async fn load_rates(db: &tokio_postgres::Client) -> Result<Rates, AttemptError> {
    let rows = db
        .query(
            "select currency, year, month, rate_to_eur from fx_rates",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                (
                    r.try_get::<_, String>("currency")?,
                    r.try_get("year")?,
                    r.try_get("month")?,
                ),
                r.try_get("rate_to_eur")?,
            ))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(AttemptError::from)
}

/// What the reading thread hands the loader.
enum Rows {
    Sellout(Vec<SelloutLine>),
    Orders(Vec<OrderLine>),
}

struct SelloutLine {
    row: SelloutRow,
    sales_eur: Option<Decimal>,
}

struct OrderLine {
    row: OrderRow,
    sales_eur: Option<Decimal>,
    /// The order date's.
    year: i16,
    month: i16,
}

/// What the reading thread learned.
struct ReadSummary {
    rows: u64,
    rejected: u64,
    first_error: Option<String>,
    encoding: &'static str,
    error_spool: std::path::PathBuf,
    /// EAN → functional name (the first one seen).
    products: BTreeMap<String, Option<String>>,
    resellers: std::collections::BTreeSet<String>,
    /// The loaded rows summed at each rollup table's grain.
    delta: rollup::Delta,
    read_ms: u64,
    map_ms: u64,
}

/// Reads and maps the whole file on the calling (blocking) thread, sending sales rows to the
/// loader and spooling rejected rows to `spool` as COPY text lines.
fn read_and_map(
    path: &Path,
    config: &VendorConfig,
    vendor: &str,
    rates: &Rates,
    batch_id: &Uuid,
    spool: &Path,
    sender: &tokio::sync::mpsc::Sender<Rows>,
) -> Result<ReadSummary, AttemptError> {
    let options = ReadOptions {
        header_row: config.header_row,
        delimiter: config.delimiter.and_then(|c| u8::try_from(c).ok()),
        sheet: config.sheet.clone(),
        ..ReadOptions::default()
    };
    let started = Instant::now();
    let mut map_time = Duration::ZERO;
    let mut errors = std::io::BufWriter::new(
        std::fs::File::create(spool).map_err(|e| AttemptError::Transient(Box::new(e)))?,
    );
    // Set by the header callback, read by the row callback (both alive during the read).
    let setup: std::cell::OnceCell<(Vec<String>, Result<Mapper, String>)> =
        std::cell::OnceCell::new();
    let mut summary = ReadSummary {
        rows: 0,
        rejected: 0,
        first_error: None,
        encoding: "",
        error_spool: spool.to_owned(),
        products: BTreeMap::new(),
        resellers: Default::default(),
        delta: rollup::Delta::new(config.target),
        read_ms: 0,
        map_ms: 0,
    };
    let mut sellout = Vec::with_capacity(CHUNK);
    let mut orders = Vec::with_capacity(CHUNK);
    let mut spool_failed: Option<std::io::Error> = None;
    let mut closed = false;

    let file_summary = read::read(
        path,
        &options,
        |cells| {
            let mapper = Mapper::new(config, cells).map_err(|missing| missing.message(vendor));
            let _ = setup.set((cells.to_vec(), mapper));
            Ok(())
        },
        |raw| {
            let Some((header, Ok(mapper))) = setup.get() else {
                return ControlFlow::Break(());
            };
            summary.rows += 1;
            let mapping = Instant::now();
            let mapped = mapper.map(raw.number, &raw.cells);
            let rejected = |errors: Vec<RowError>| errors;
            let problems = match mapped {
                MappedRow::Sellout(rows) => {
                    // Straight into the chunk; taken back out if any of them is rejected.
                    let mut problems = Vec::new();
                    let start = sellout.len();
                    for row in rows {
                        match in_eur(rates, &row.currency, row.year, row.month, row.amount) {
                            Ok(sales_eur) => sellout.push(SelloutLine { row, sales_eur }),
                            Err(message) => problems.push(RowError {
                                row: raw.number,
                                column: None,
                                code: "no_fx_rate",
                                message,
                            }),
                        }
                    }
                    if problems.is_empty() {
                        for line in &sellout[start..] {
                            note_dimensions(
                                &mut summary,
                                line.row.product_ean.as_deref(),
                                line.row.functional_name.as_deref(),
                                line.row.reseller.as_deref(),
                            );
                            let row = &line.row;
                            summary.delta.add(
                                row.year,
                                row.month,
                                &[
                                    Some(vendor),
                                    row.reseller.as_deref(),
                                    row.product_ean.as_deref(),
                                ],
                                row.quantity,
                                line.sales_eur,
                            );
                        }
                    } else {
                        sellout.truncate(start);
                    }
                    problems
                }
                MappedRow::Ecommerce(rows) => {
                    let mut problems = Vec::new();
                    let start = orders.len();
                    for row in rows {
                        let (year, month) = (
                            i16::try_from(row.order_date.year()).unwrap_or(0),
                            i16::try_from(row.order_date.month()).unwrap_or(0),
                        );
                        match in_eur(rates, &row.currency, year, month, row.amount) {
                            Ok(sales_eur) => orders.push(OrderLine {
                                row,
                                sales_eur,
                                year,
                                month,
                            }),
                            Err(message) => problems.push(RowError {
                                row: raw.number,
                                column: None,
                                code: "no_fx_rate",
                                message,
                            }),
                        }
                    }
                    if problems.is_empty() {
                        for line in &orders[start..] {
                            note_dimensions(
                                &mut summary,
                                line.row.product_ean.as_deref(),
                                line.row.functional_name.as_deref(),
                                None,
                            );
                            summary.delta.add(
                                line.year,
                                line.month,
                                &[line.row.country.as_deref(), line.row.product_ean.as_deref()],
                                line.row.quantity,
                                line.sales_eur,
                            );
                        }
                    } else {
                        orders.truncate(start);
                    }
                    problems
                }
                MappedRow::Rejected(errors) => rejected(errors),
            };
            map_time += mapping.elapsed();
            if !problems.is_empty() {
                summary.rejected += 1;
                if summary.first_error.is_none() {
                    summary.first_error = problems
                        .first()
                        .map(|p| format!("row {}: {}", p.row, p.message));
                }
                if let Err(e) = spool_errors(&mut errors, batch_id, header, &raw.cells, &problems) {
                    spool_failed = Some(e);
                    return ControlFlow::Break(());
                }
            }
            if sellout.len() >= CHUNK {
                let chunk = std::mem::replace(&mut sellout, Vec::with_capacity(CHUNK));
                if sender.blocking_send(Rows::Sellout(chunk)).is_err() {
                    closed = true;
                    return ControlFlow::Break(());
                }
            }
            if orders.len() >= CHUNK {
                let chunk = std::mem::replace(&mut orders, Vec::with_capacity(CHUNK));
                if sender.blocking_send(Rows::Orders(chunk)).is_err() {
                    closed = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        },
    )?;
    if let Some((_, Err(reason))) = setup.get() {
        return Err(AttemptError::BadFile(reason.clone()));
    }
    if let Some(e) = spool_failed {
        return Err(AttemptError::Transient(Box::new(e)));
    }
    if closed {
        return Err(AttemptError::Transient("the loader stopped".into()));
    }
    if !sellout.is_empty() && sender.blocking_send(Rows::Sellout(sellout)).is_err() {
        return Err(AttemptError::Transient("the loader stopped".into()));
    }
    if !orders.is_empty() && sender.blocking_send(Rows::Orders(orders)).is_err() {
        return Err(AttemptError::Transient("the loader stopped".into()));
    }
    errors
        .flush()
        .map_err(|e| AttemptError::Transient(Box::new(e)))?;
    summary.encoding = file_summary.encoding;
    summary.map_ms = map_time.as_millis() as u64;
    summary.read_ms = (started.elapsed().saturating_sub(map_time)).as_millis() as u64;
    Ok(summary)
}

fn note_dimensions(
    summary: &mut ReadSummary,
    ean: Option<&str>,
    name: Option<&str>,
    reseller: Option<&str>,
) {
    if let Some(ean) = ean
        && !summary.products.contains_key(ean)
    {
        summary
            .products
            .insert(ean.to_owned(), name.map(str::to_owned));
    }
    if let Some(reseller) = reseller
        && !summary.resellers.contains(reseller)
    {
        summary.resellers.insert(reseller.to_owned());
    }
}

/// `amount` in EUR with the tenant's rate for that month, rounded to cents; never a silent 1:1.
fn in_eur(
    rates: &Rates,
    currency: &str,
    year: i16,
    month: i16,
    amount: Option<Decimal>,
) -> Result<Option<Decimal>, String> {
    let Some(amount) = amount else {
        return Ok(None);
    };
    if currency == "EUR" {
        return Ok(Some(amount.round_dp(2)));
    }
    rates
        .get(&(currency.to_owned(), year, month))
        .map(|rate| Some((amount * rate).round_dp(2)))
        .ok_or_else(|| {
            format!("there is no {currency} → EUR rate for {year}-{month:02} (PUT /api/fx-rates)")
        })
}

/// Rejected rows as COPY text lines: batch id, row number, column, code, message, the raw row as
/// JSON (header → value).
fn spool_errors(
    out: &mut impl std::io::Write,
    batch_id: &Uuid,
    header: &[String],
    cells: &[String],
    problems: &[RowError],
) -> std::io::Result<()> {
    let raw: serde_json::Map<String, serde_json::Value> = cells
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let name = header
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("column {}", i + 1));
            (name, serde_json::Value::String(value.clone()))
        })
        .collect();
    let raw = serde_json::Value::Object(raw).to_string();
    for p in problems {
        writeln!(
            out,
            "{batch_id}\t{}\t{}\t{}\t{}\t{}",
            p.row,
            p.column
                .as_deref()
                .map_or_else(|| "\\N".to_owned(), copy_text),
            copy_text(p.code),
            copy_text(&p.message),
            copy_text(&raw)
        )?;
    }
    Ok(())
}

/// A value in COPY's text format: backslash, tab, newline and carriage return escaped.
fn copy_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// A sales row as one binary COPY line of its table.
trait CopyLine: Sized {
    const COPY: &'static str;
    const TYPES: [Type; 12];
    /// This line's lines, when `rows` are of this kind.
    fn of(rows: Rows) -> Option<Vec<Self>>;
    fn values<'a>(
        &'a self,
        batch_id: &'a Uuid,
        vendor: &'a &'a str,
    ) -> [&'a (dyn ToSql + Sync); 12];
}

impl CopyLine for SelloutLine {
    const COPY: &'static str = "copy sellout_entries (batch_id, source_row, product_ean, \
         functional_name, reseller, vendor_name, quantity, sales_eur, amount, currency, month, year) \
         from stdin binary";
    const TYPES: [Type; 12] = [
        Type::UUID,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
        Type::NUMERIC,
        Type::NUMERIC,
        Type::BPCHAR,
        Type::INT2,
        Type::INT2,
    ];

    fn of(rows: Rows) -> Option<Vec<Self>> {
        match rows {
            Rows::Sellout(lines) => Some(lines),
            Rows::Orders(_) => None,
        }
    }

    fn values<'a>(
        &'a self,
        batch_id: &'a Uuid,
        vendor: &'a &'a str,
    ) -> [&'a (dyn ToSql + Sync); 12] {
        let row = &self.row;
        [
            batch_id,
            &row.source_row,
            &row.product_ean,
            &row.functional_name,
            &row.reseller,
            vendor,
            &row.quantity,
            &self.sales_eur,
            &row.amount,
            &row.currency,
            &row.month,
            &row.year,
        ]
    }
}

impl CopyLine for OrderLine {
    const COPY: &'static str = "copy ecommerce_orders (batch_id, source_row, external_order_id, \
         product_ean, functional_name, quantity, sales_eur, amount, currency, order_date, country, \
         city) from stdin binary";
    const TYPES: [Type; 12] = [
        Type::UUID,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
        Type::NUMERIC,
        Type::NUMERIC,
        Type::BPCHAR,
        Type::DATE,
        Type::TEXT,
        Type::TEXT,
    ];

    fn of(rows: Rows) -> Option<Vec<Self>> {
        match rows {
            Rows::Orders(lines) => Some(lines),
            Rows::Sellout(_) => None,
        }
    }

    fn values<'a>(&'a self, batch_id: &'a Uuid, _: &'a &'a str) -> [&'a (dyn ToSql + Sync); 12] {
        let row = &self.row;
        [
            batch_id,
            &row.source_row,
            &row.external_order_id,
            &row.product_ean,
            &row.functional_name,
            &row.quantity,
            &self.sales_eur,
            &row.amount,
            &row.currency,
            &row.order_date,
            &row.country,
            &row.city,
        ]
    }
}

/// Streams the reading thread's rows of kind `L` into their table; the rows written.
async fn copy_lines<L: CopyLine>(
    tx: &tokio_postgres::Transaction<'_>,
    batch_id: &Uuid,
    vendor: &str,
    rows: &mut tokio::sync::mpsc::Receiver<Rows>,
) -> Result<u64, AttemptError> {
    let sink = tx.copy_in(L::COPY).await?;
    let writer = BinaryCopyInWriter::new(sink, &L::TYPES);
    let mut writer = std::pin::pin!(writer);
    while let Some(chunk) = rows.recv().await {
        for line in L::of(chunk).unwrap_or_default() {
            writer
                .as_mut()
                .write(&line.values(batch_id, &vendor))
                .await?;
        }
    }
    Ok(writer.as_mut().finish().await?)
}

/// Streams the spooled rejected rows into `error_reports`.
async fn copy_errors(
    tx: &tokio_postgres::Transaction<'_>,
    spool: &Path,
) -> Result<(), AttemptError> {
    use futures_util::SinkExt;
    let sink = tx
        .copy_in(
            "copy error_reports (batch_id, row_number, column_name, error_code, message, raw_row) \
             from stdin with (format text)",
        )
        .await?;
    let mut sink = std::pin::pin!(sink);
    let mut file = tokio::fs::File::open(spool)
        .await
        .map_err(|e| AttemptError::Transient(Box::new(e)))?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| AttemptError::Transient(Box::new(e)))?;
        if n == 0 {
            break;
        }
        sink.send(bytes::Bytes::copy_from_slice(&buf[..n])).await?;
    }
    sink.as_mut().finish().await?;
    Ok(())
}

/// New products and resellers the batch names.
async fn upsert_dimensions(
    tx: &tokio_postgres::Transaction<'_>,
    summary: &ReadSummary,
) -> Result<(), AttemptError> {
    let (eans, names): (Vec<&str>, Vec<Option<&str>>) = summary
        .products
        .iter()
        .map(|(ean, name)| (ean.as_str(), name.as_deref()))
        .unzip();
    let resellers: Vec<&str> = summary.resellers.iter().map(String::as_str).collect();
    tx.execute(
        "insert into products (ean, functional_name) \
         select * from unnest($1::text[], $2::text[]) on conflict (ean) do nothing",
        &[&eans, &names],
    )
    .await?;
    tx.execute(
        "insert into resellers (name) select * from unnest($1::text[]) \
         on conflict (name) do nothing",
        &[&resellers],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        assert_eq!(copy_text("a\tb\nc\\d\re"), "a\\tb\\nc\\\\d\\re");
        assert_eq!(copy_text("plain"), "plain");
    }

    #[test]
    fn amounts_convert_with_the_months_rate_and_never_silently() {
        let rates: Rates = HashMap::from([(("PLN".into(), 2024, 3), Decimal::new(23, 2))]);
        let amount = Some(Decimal::new(10000, 2));
        assert_eq!(
            in_eur(&rates, "PLN", 2024, 3, amount),
            Ok(Some(Decimal::new(2300, 2)))
        );
        assert_eq!(in_eur(&rates, "EUR", 2024, 3, amount), Ok(amount));
        assert!(
            in_eur(&rates, "PLN", 2024, 4, amount)
                .unwrap_err()
                .contains("2024-04")
        );
        assert_eq!(in_eur(&rates, "PLN", 2024, 4, None), Ok(None));
    }
}

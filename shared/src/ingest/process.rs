//! The processor: one uploaded object → one batch loaded exactly once.
//!
//! Nothing in the message is trusted: the bucket must be the uploads bucket, the key must have
//! the exact layout, the tenant must exist and be active, and the batch must exist in *that*
//! tenant's database with that object key. The batch is claimed with a lease (`pending →
//! processing`, or a `processing` batch whose lease ran out); `completed` and `failed` are final,
//! so a redelivered message does nothing. The object is read as it downloads (constant memory)
//! and mapped on a blocking thread, and its rows stream through binary COPY into
//! the tenant database inside one transaction that also stores the rejected rows, the new
//! products and resellers, the rollup delta and the batch's outcome: a crash anywhere leaves the
//! batch as it was. A bad file fails the batch with a reason a person understands (never
//! retried); a transient fault releases the lease and asks for a retry, and the third failed
//! attempt fails the batch before the message goes to the dead-letter queue.

use std::collections::HashMap;
use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chrono::Datelike;
use rust_decimal::Decimal;
use tokio::io::AsyncReadExt;
use tokio_util::io::SyncIoBridge;
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

use crate::ingest::mapping::{MappedRow, Mapper, OrderRow, RowError, SelloutRow};
use crate::ingest::read::{self, FileError, ReadOptions};
use crate::ingest::rollup;
use crate::ingest::upload_event::CreatedObject;
use crate::ingest::vendor::{Target, VendorConfig};
use crate::platform::metrics::{self, UploadLoaded};
use crate::platform::telemetry::ErrorChain;
use crate::store::objects::{ObjectError, ObjectStore};
use crate::store::postgres::{copy, migrations};
use crate::store::secrets::SecretStore;
use crate::tenancy::TenancyError;
use crate::tenancy::context::TenantContext;

/// How long a claimed batch belongs to the run that claimed it: longer than the processor's
/// timeout (120 s in the template), so a live run is never taken over, and shorter than the
/// queue's visibility timeout, so the redelivery after a crashed run takes it over.
pub const LEASE: Duration = Duration::from_secs(3 * 60);
/// Receives after which a transient failure fails the batch (the queue's `maxReceiveCount`).
pub const MAX_RECEIVES: u32 = 3;

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
        // The object is asked for while the database is reached and the batch claimed. Nothing
        // reads it before the claim holds; a refused claim drops the download.
        let download =
            AbortOnDropHandle::new(tokio::spawn(open(self.objects.clone(), object.key.clone())));
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
        match self.attempt(&mut db, &claim, download).await {
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
        download: AbortOnDropHandle<Result<Download, AttemptError>>,
    ) -> Result<UploadLoaded, AttemptError> {
        let started = Instant::now();
        // Three questions pipelined on the one connection: one wait, not three.
        let (config, rates, raw_vendor) = {
            let db: &tokio_postgres::Client = db;
            tokio::try_join!(
                load_config(db, &claim.vendor, claim.config_version),
                load_rates(db),
                raw_rows_carry_vendor(db),
            )?
        };
        let object = download
            .await
            .map_err(|e| AttemptError::Transient(Box::new(e)))??;
        // The blocking reader waits on the download through the runtime it is handed.
        let object = SyncIoBridge::new(object);
        let dir = tempfile::tempdir().map_err(|e| AttemptError::Transient(Box::new(e)))?;

        let (sender, mut receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
        let reader = {
            let config = config.clone();
            let spool = dir.path().join("errors.tsv");
            let batch_id = claim.batch_id;
            let vendor = claim.vendor.clone();
            tokio::task::spawn_blocking(move || {
                let batch = BatchRows {
                    batch_id: &batch_id,
                    vendor: &vendor,
                    raw_vendor: raw_vendor.then_some(vendor.as_str()),
                    rates: &rates,
                };
                read_and_map(object, &config, &batch, &spool, &sender)
            })
        };

        let tx = db.transaction().await?;
        let copy_started = Instant::now();
        let loaded = copy_rows(
            &tx,
            copy_statement(config.target, raw_vendor),
            &mut receiver,
        )
        .await?;
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
        let ordering = {
            let delta = Arc::clone(&read_summary.delta);
            AbortOnDropHandle::new(tokio::task::spawn_blocking(move || delta.in_key_order()))
        };
        copy_errors(&tx, &read_summary.error_spool).await?;
        let rollup_started = Instant::now();
        upsert_dimensions(&tx, &read_summary).await?;
        let ordered = ordering
            .await
            .map_err(|e| AttemptError::Transient(Box::new(e)))?;
        rollup::add(&tx, &read_summary.delta, &ordered).await?;
        let rolled = rollup_started.elapsed();
        if self.fail_before_commit.load(Ordering::Relaxed) {
            return Err(AttemptError::Transient(
                "injected fault before commit".into(),
            ));
        }
        let stages = serde_json::json!({
            "download": read_summary.file.waited.as_millis() as u64,
            "read": read_summary.read_ms,
            "map": read_summary.map_ms,
            "copy": copied.as_millis() as u64,
            "rollup": rolled.as_millis() as u64,
            "bytes": read_summary.file.bytes,
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
                &kind_name(&read_summary.file.kind),
                &read_summary.file.encoding,
                &stages,
            ],
        )
        .await?;
        if completed != 1 {
            return Err(AttemptError::Transient(
                "the batch was deleted or taken over during this attempt".into(),
            ));
        }
        let committing = Instant::now();
        tx.commit().await?;
        // The commit's own time joins the stages once it is over: not part of the load, so a
        // failure here only loses the figure.
        let committed = committing.elapsed().as_millis() as u64;
        if let Err(e) = db
            .execute(
                "update upload_batches set stage_ms = stage_ms || jsonb_build_object('commit', $2::int8) \
                 where batch_id = $1",
                &[&claim.batch_id, &(committed as i64)],
            )
            .await
        {
            tracing::warn!(batch_id = %claim.batch_id, error = %e, "commit time not recorded");
        }
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
            bytes: read_summary.file.bytes,
            took: started.elapsed(),
        })
    }
}

/// An uploaded object's bytes as they download.
type Download = Box<dyn tokio::io::AsyncBufRead + Send + Unpin>;

async fn open(objects: ObjectStore, key: String) -> Result<Download, AttemptError> {
    match objects.open(&key).await {
        Ok(object) => Ok(Box::new(object)),
        Err(ObjectError::NotFound(_)) => {
            Err(AttemptError::BadFile("the uploaded file is gone".into()))
        }
        Err(e) => Err(AttemptError::Transient(Box::new(e))),
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

/// What the reading thread learned.
struct ReadSummary {
    rows: u64,
    rejected: u64,
    first_error: Option<String>,
    /// What the file was, as read.
    file: read::Summary,
    error_spool: std::path::PathBuf,
    /// The products and resellers the loaded rows name.
    named: Named,
    /// The loaded rows summed at each rollup table's grain.
    delta: Arc<rollup::Delta>,
    read_ms: u64,
    /// Estimated from one row in [`MAP_SAMPLE`].
    map_ms: u64,
}

/// The mapping of one row in this many is timed and the figure scaled up: two clock reads for
/// every row were about 3 % of the reading thread's time.
const MAP_SAMPLE: u32 = 16;

/// What the reading thread keeps track of while it reads.
struct Reading {
    rows: u64,
    rejected: u64,
    first_error: Option<String>,
    named: Named,
    sums: rollup::Summing,
}

/// Reads and maps the whole file on the calling (blocking) thread, sending the loaded rows to
/// the loader in binary COPY format and spooling rejected rows to `spool` as COPY text lines.
fn read_and_map(
    object: impl std::io::Read,
    config: &VendorConfig,
    batch: &BatchRows<'_>,
    spool: &Path,
    sender: &tokio::sync::mpsc::Sender<bytes::Bytes>,
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
    let mut reading = Reading {
        rows: 0,
        rejected: 0,
        first_error: None,
        named: Named::default(),
        sums: rollup::Summing::start(config.target)
            .map_err(|e| AttemptError::Transient(Box::new(e)))?,
    };
    let mut chunk = BytesMut::with_capacity(copy::CHUNK_BYTES + 4096);
    // Scratch for `BatchRows::load`: each line's EUR amount, kept from row to row (no allocation).
    let mut in_euros: Vec<Option<Decimal>> = Vec::new();
    let mut spool_failed: Option<std::io::Error> = None;
    let mut closed = false;

    let file = read::read(
        object,
        &options,
        |cells| {
            let mapper =
                Mapper::new(config, cells).map_err(|missing| missing.message(batch.vendor));
            let _ = setup.set((cells.to_vec(), mapper));
            Ok(())
        },
        |raw| {
            let Some((header, Ok(mapper))) = setup.get() else {
                return ControlFlow::Break(());
            };
            // The load gave up (its transaction failed): reading on would only download.
            if sender.is_closed() {
                closed = true;
                return ControlFlow::Break(());
            }
            reading.rows += 1;
            let mapping = reading
                .rows
                .is_multiple_of(u64::from(MAP_SAMPLE))
                .then(Instant::now);
            // A raw row's lines go straight into the chunk, and are cut off again if any of
            // them is rejected: a row loads whole or not at all.
            let mark = chunk.len();
            let problems = match mapper.map(raw.number, &raw.cells) {
                MappedRow::Sellout(rows) => {
                    batch.load(&rows, raw.number, &mut chunk, &mut in_euros, &mut reading)
                }
                MappedRow::Ecommerce(rows) => {
                    batch.load(&rows, raw.number, &mut chunk, &mut in_euros, &mut reading)
                }
                MappedRow::Rejected(errors) => errors,
            };
            if let Some(mapping) = mapping {
                map_time += mapping.elapsed() * MAP_SAMPLE;
            }
            if !problems.is_empty() {
                chunk.truncate(mark);
                reading.rejected += 1;
                if reading.first_error.is_none() {
                    reading.first_error = problems
                        .first()
                        .map(|p| format!("row {}: {}", p.row, p.message));
                }
                if let Err(e) =
                    spool_errors(&mut errors, batch.batch_id, header, &raw.cells, &problems)
                {
                    spool_failed = Some(e);
                    return ControlFlow::Break(());
                }
            }
            if chunk.len() >= copy::CHUNK_BYTES
                && sender.blocking_send(chunk.split().freeze()).is_err()
            {
                closed = true;
                return ControlFlow::Break(());
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
    if closed || (!chunk.is_empty() && sender.blocking_send(chunk.freeze()).is_err()) {
        return Err(AttemptError::Transient("the loader stopped".into()));
    }
    errors
        .flush()
        .map_err(|e| AttemptError::Transient(Box::new(e)))?;
    Ok(ReadSummary {
        rows: reading.rows,
        rejected: reading.rejected,
        first_error: reading.first_error,
        error_spool: spool.to_owned(),
        named: reading.named,
        delta: Arc::new(reading.sums.finish()),
        map_ms: map_time.as_millis() as u64,
        read_ms: (started.elapsed().saturating_sub(map_time + file.waited)).as_millis() as u64,
        file,
    })
}

/// What every mapped row of one batch is loaded with.
struct BatchRows<'a> {
    batch_id: &'a Uuid,
    vendor: &'a str,
    /// The vendor again where the raw sell-out rows still carry it (see [`raw_rows_carry_vendor`]).
    raw_vendor: Option<&'a str>,
    rates: &'a Rates,
}

impl BatchRows<'_> {
    /// Converts one raw row's mapped lines to EUR and encodes them into `chunk`, then adds them to
    /// the rollups and notes their products and resellers; or, when a line has no rate, answers
    /// the problems and leaves everything else to the caller (which cuts the chunk back).
    fn load<L: Line>(
        &self,
        lines: &[L],
        number: u64,
        chunk: &mut BytesMut,
        in_euros: &mut Vec<Option<Decimal>>,
        reading: &mut Reading,
    ) -> Vec<RowError> {
        let mut problems = Vec::new();
        in_euros.clear();
        for line in lines {
            let (year, month) = line.period();
            match in_eur(self.rates, line.currency(), year, month, line.amount()) {
                Ok(sales_eur) => {
                    line.encode(chunk, self.batch_id, self.raw_vendor, sales_eur);
                    in_euros.push(sales_eur);
                }
                Err(message) => problems.push(no_fx_rate(number, message)),
            }
        }
        if problems.is_empty() {
            for (line, &sales_eur) in lines.iter().zip(in_euros.iter()) {
                line.add_to(reading, self.vendor, sales_eur);
            }
        }
        problems
    }
}

/// A mapped row of either target, as the loader takes it.
trait Line {
    /// The month its amount is converted at and its rollups group it by.
    fn period(&self) -> (i16, i16);
    fn currency(&self) -> &str;
    fn amount(&self) -> Option<Decimal>;
    /// Appends it to `buf` as a binary COPY row of its raw table (see [`copy_statement`]).
    fn encode(
        &self,
        buf: &mut BytesMut,
        batch_id: &Uuid,
        raw_vendor: Option<&str>,
        sales_eur: Option<Decimal>,
    );
    /// Adds it to the batch's rollup sums and notes the product and reseller it names.
    fn add_to(&self, reading: &mut Reading, vendor: &str, sales_eur: Option<Decimal>);
}

impl Line for SelloutRow<'_> {
    fn period(&self) -> (i16, i16) {
        (self.year, self.month)
    }

    fn currency(&self) -> &str {
        &self.currency
    }

    fn amount(&self) -> Option<Decimal> {
        self.amount
    }

    fn encode(
        &self,
        buf: &mut BytesMut,
        batch_id: &Uuid,
        raw_vendor: Option<&str>,
        sales_eur: Option<Decimal>,
    ) {
        let (amount, currency) = original(self.amount, &self.currency, sales_eur);
        let mut row = copy::row(buf, 11 + i16::from(raw_vendor.is_some()));
        row.uuid(batch_id)
            .int4(self.source_row)
            .text(self.product_ean.as_deref())
            .text(self.functional_name.as_deref())
            .text(self.reseller.as_deref());
        if raw_vendor.is_some() {
            row.text(raw_vendor);
        }
        row.int4(self.quantity)
            .numeric(sales_eur)
            .numeric(amount)
            .text(currency)
            .int2(self.month)
            .int2(self.year);
    }

    fn add_to(&self, reading: &mut Reading, vendor: &str, sales_eur: Option<Decimal>) {
        let dimensions = [
            Some(vendor),
            self.reseller.as_deref(),
            self.product_ean.as_deref(),
        ];
        let ids = reading
            .sums
            .add(self.year, self.month, &dimensions, self.quantity, sales_eur);
        reading.named.note(
            self.product_ean.as_ref().map(|_| ids[2]),
            self.functional_name.as_deref(),
            self.reseller.as_ref().map(|_| ids[1]),
        );
    }
}

impl Line for OrderRow<'_> {
    fn period(&self) -> (i16, i16) {
        (
            i16::try_from(self.order_date.year()).unwrap_or(0),
            i16::try_from(self.order_date.month()).unwrap_or(0),
        )
    }

    fn currency(&self) -> &str {
        &self.currency
    }

    fn amount(&self) -> Option<Decimal> {
        self.amount
    }

    fn encode(
        &self,
        buf: &mut BytesMut,
        batch_id: &Uuid,
        _: Option<&str>,
        sales_eur: Option<Decimal>,
    ) {
        let (amount, currency) = original(self.amount, &self.currency, sales_eur);
        copy::row(buf, 12)
            .uuid(batch_id)
            .int4(self.source_row)
            .text(self.external_order_id.as_deref())
            .text(self.product_ean.as_deref())
            .text(self.functional_name.as_deref())
            .int4(self.quantity)
            .numeric(sales_eur)
            .numeric(amount)
            .text(currency)
            .date(self.order_date)
            .text(self.country.as_deref())
            .text(self.city.as_deref());
    }

    fn add_to(&self, reading: &mut Reading, _: &str, sales_eur: Option<Decimal>) {
        let (year, month) = self.period();
        let dimensions = [self.country.as_deref(), self.product_ean.as_deref()];
        let ids = reading
            .sums
            .add(year, month, &dimensions, self.quantity, sales_eur);
        reading.named.note(
            self.product_ean.as_ref().map(|_| ids[1]),
            self.functional_name.as_deref(),
            None,
        );
    }
}

/// The original amount and currency as a raw row stores them: neither where the amount was in
/// EUR and is exactly `sales_eur` (see migration 0006), so most rows cost the load no conversion
/// of them.
fn original(
    amount: Option<Decimal>,
    currency: &str,
    sales_eur: Option<Decimal>,
) -> (Option<Decimal>, Option<&str>) {
    if currency == "EUR" && amount == sales_eur {
        (None, None)
    } else {
        (amount, Some(currency))
    }
}

fn no_fx_rate(row: u64, message: String) -> RowError {
    RowError {
        row,
        column: None,
        code: "no_fx_rate",
        message,
    }
}

/// The products and resellers a batch's loaded rows name, by their ids in its
/// [`rollup::Delta`] (which has seen every value): no second lookup by name per row.
#[derive(Debug, Default)]
struct Named {
    /// Per id, which of [`Self::PRODUCT`] and [`Self::RESELLER`] it has been seen as.
    seen: Vec<u8>,
    /// Product id → the functional name it first came with.
    products: Vec<(u32, Option<String>)>,
    resellers: Vec<u32>,
}

impl Named {
    const PRODUCT: u8 = 1;
    const RESELLER: u8 = 2;

    fn note(&mut self, product: Option<u32>, name: Option<&str>, reseller: Option<u32>) {
        if let Some(id) = product
            && self.first(id, Self::PRODUCT)
        {
            self.products.push((id, name.map(str::to_owned)));
        }
        if let Some(id) = reseller
            && self.first(id, Self::RESELLER)
        {
            self.resellers.push(id);
        }
    }

    fn first(&mut self, id: u32, kind: u8) -> bool {
        let i = id as usize;
        if self.seen.len() <= i {
            self.seen.resize(i + 1, 0);
        }
        let first = self.seen[i] & kind == 0;
        self.seen[i] |= kind;
        first
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

/// The raw rows' COPY statements, in the column order [`Line::encode`] writes; `raw_vendor`: the
/// sell-out rows still carry `vendor_name` (see [`raw_rows_carry_vendor`]).
fn copy_statement(target: Target, raw_vendor: bool) -> &'static str {
    match (target, raw_vendor) {
        (Target::Sellout, false) => {
            "copy sellout_entries (batch_id, source_row, product_ean, functional_name, reseller, \
             quantity, sales_eur, amount, currency, month, year) from stdin binary"
        }
        (Target::Sellout, true) => {
            "copy sellout_entries (batch_id, source_row, product_ean, functional_name, reseller, \
             vendor_name, quantity, sales_eur, amount, currency, month, year) from stdin binary"
        }
        (Target::Ecommerce, _) => {
            "copy ecommerce_orders (batch_id, source_row, external_order_id, product_ean, \
             functional_name, quantity, sales_eur, amount, currency, order_date, country, city) \
             from stdin binary"
        }
    }
}

/// The schema version whose migration took `vendor_name` off the raw sell-out rows (0008).
const RAW_ROWS_WITHOUT_VENDOR: i32 = 8;

/// Whether this tenant's raw sell-out rows still carry `vendor_name`: its database is not yet
/// at [`RAW_ROWS_WITHOUT_VENDOR`] (deployed code runs before the migration run that follows it),
/// so uploads keep loading in between.
async fn raw_rows_carry_vendor(db: &tokio_postgres::Client) -> Result<bool, AttemptError> {
    let version = migrations::current_version(db)
        .await
        .map_err(|e| AttemptError::Transient(Box::new(e)))?;
    Ok(version < RAW_ROWS_WITHOUT_VENDOR)
}

/// Streams the reading thread's encoded rows through the raw table's COPY `statement`; the rows
/// written.
async fn copy_rows(
    tx: &tokio_postgres::Transaction<'_>,
    statement: &str,
    chunks: &mut tokio::sync::mpsc::Receiver<bytes::Bytes>,
) -> Result<u64, AttemptError> {
    use futures_util::SinkExt;
    let sink = tx.copy_in(statement).await?;
    let mut sink = std::pin::pin!(sink);
    sink.feed(bytes::Bytes::from_static(copy::HEADER)).await?;
    while let Some(chunk) = chunks.recv().await {
        sink.feed(chunk).await?;
    }
    sink.feed(bytes::Bytes::from_static(copy::TRAILER)).await?;
    Ok(sink.as_mut().finish().await?)
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

/// New products and resellers the batch names (in name order, as every load inserts them).
async fn upsert_dimensions(
    tx: &tokio_postgres::Transaction<'_>,
    summary: &ReadSummary,
) -> Result<(), AttemptError> {
    let name = |id: u32| summary.delta.name(id);
    let mut products: Vec<(&str, Option<&str>)> = summary
        .named
        .products
        .iter()
        .map(|(id, functional)| (name(*id), functional.as_deref()))
        .collect();
    products.sort_unstable();
    let (eans, names): (Vec<&str>, Vec<Option<&str>>) = products.into_iter().unzip();
    let mut resellers: Vec<&str> = summary.named.resellers.iter().map(|&id| name(id)).collect();
    resellers.sort_unstable();
    // Known ones are filtered out by a plain index lookup first: a conflicting insert costs
    // five times more (its defaults are built and the insert attempted before it is skipped).
    tx.execute(
        "insert into products (ean, functional_name) \
         select * from unnest($1::text[], $2::text[]) as new (ean, functional_name) \
         where not exists (select from products p where p.ean = new.ean) \
         on conflict (ean) do nothing",
        &[&eans, &names],
    )
    .await?;
    tx.execute(
        "insert into resellers (name) select * from unnest($1::text[]) as new (name) \
         where not exists (select from resellers r where r.name = new.name) \
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
    fn only_an_amount_that_is_not_its_euros_is_kept_beside_them() {
        let eur = |cents| Some(Decimal::new(cents, 2));
        assert_eq!(original(eur(1250), "EUR", eur(1250)), (None, None));
        assert_eq!(original(None, "EUR", None), (None, None));
        let precise = Some(Decimal::new(12_345, 3));
        assert_eq!(original(precise, "EUR", eur(1234)), (precise, Some("EUR")));
        assert_eq!(
            original(eur(10_000), "PLN", eur(2_500)),
            (eur(10_000), Some("PLN"))
        );
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

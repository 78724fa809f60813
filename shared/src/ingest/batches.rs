//! Upload batches in the tenant database: a batch is created `pending` with the vendor config
//! version it will be processed with and the object key its file must arrive at; listing,
//! reading, its rejected rows (as pages or CSV), and deleting one together with its rows and its
//! share of the rollups, in one transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, GenericClient, Row};
use uuid::Uuid;

use crate::domain::{cursor, spreadsheet};
use crate::ingest::IngestError;
use crate::ingest::rollup;
use crate::ingest::vendor::Target;

/// Largest file a batch may declare.
pub const MAX_FILE_BYTES: i64 = 100 * 1024 * 1024;
/// Longest file name kept (after sanitising).
const MAX_FILE_NAME: usize = 120;

/// The body of `POST /api/uploads`, before validation.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct UploadRequest {
    pub vendor: Option<String>,
    pub file_name: Option<String>,
    pub size_bytes: Option<i64>,
    pub content_type: Option<String>,
}

/// A validated upload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub vendor: String,
    /// Safe as the last segment of an object key and in a `Content-Disposition`.
    pub file_name: String,
    pub size_bytes: i64,
    pub content_type: String,
}

impl NewUpload {
    pub fn parse(input: UploadRequest) -> Result<Self, IngestError> {
        let vendor = input
            .vendor
            .ok_or(IngestError::MissingField("vendor"))?
            .trim()
            .to_ascii_lowercase();
        if !valid_vendor_name(&vendor) {
            return Err(IngestError::UnknownVendor(vendor));
        }
        let file_name = sanitise_file_name(
            &input
                .file_name
                .ok_or(IngestError::MissingField("file_name"))?,
        )
        .ok_or(IngestError::InvalidFileName)?;
        let kind = FileType::of(&file_name).ok_or(IngestError::UnsupportedFileType)?;
        let size_bytes = input
            .size_bytes
            .ok_or(IngestError::MissingField("size_bytes"))?;
        if !(1..=MAX_FILE_BYTES).contains(&size_bytes) {
            return Err(IngestError::InvalidSize);
        }
        let content_type = match input.content_type.map(|c| c.trim().to_owned()) {
            Some(c) if !c.is_empty() => {
                if c.len() > 100 || !c.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                    return Err(IngestError::InvalidContentType);
                }
                c
            }
            _ => kind.content_type().to_owned(),
        };
        Ok(Self {
            vendor,
            file_name,
            size_bytes,
            content_type,
        })
    }
}

/// What a file's name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileType {
    Csv,
    Xlsx,
}

impl FileType {
    fn of(name: &str) -> Option<Self> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" => Some(Self::Csv),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// Vendor names as stored: lower-case letters, digits, `-` and `_`, 1–64 characters.
pub fn valid_vendor_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The last path segment of `raw`, with anything but letters, digits, `.`, `-`, `_` and spaces
/// replaced by `_`, trimmed, at most [`MAX_FILE_NAME`] characters (keeping the extension).
/// `None` when nothing usable is left.
pub fn sanitise_file_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.' || c == '_') {
        return None;
    }
    if cleaned.chars().count() <= MAX_FILE_NAME {
        return Some(cleaned);
    }
    let (stem, ext) = cleaned.rsplit_once('.').unwrap_or((&cleaned, ""));
    let keep = MAX_FILE_NAME.saturating_sub(ext.chars().count() + 1);
    Some(format!(
        "{}.{ext}",
        stem.chars().take(keep).collect::<String>()
    ))
}

/// Where a batch's file lives in the uploads bucket.
pub fn object_key(tenant_id: &Uuid, batch_id: &Uuid, file_name: &str) -> String {
    format!("tenants/{tenant_id}/uploads/{batch_id}/{file_name}")
}

/// Lifecycle of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Pending,
    Processing,
    Completed,
    Failed,
}

impl BatchStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "processing" => Some(Self::Processing),
            "completed" => Some(Self::Completed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

/// A batch as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchView {
    pub batch_id: Uuid,
    pub vendor: String,
    pub vendor_config_version: Option<i32>,
    pub file_name: String,
    pub size_bytes: Option<i64>,
    pub status: BatchStatus,
    /// Data rows read from the file.
    pub rows_total: i32,
    /// Sales rows loaded (a pivoted row yields one per month).
    pub rows_loaded: i32,
    /// File rows rejected; their reasons are at `…/errors`.
    pub rows_rejected: i32,
    pub failure_reason: Option<String>,
    pub uploaded_by: Option<Uuid>,
    pub uploaded_by_email: Option<String>,
    pub attempts: i32,
    pub file_kind: Option<String>,
    pub encoding: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Milliseconds per processing stage: `download` (waiting for the object's bytes as they
    /// stream in), `read` (parsing, and waiting for the COPY to take the rows), `map` (mapping and
    /// validating, estimated from one row in 16), `copy` (the raw rows' COPY, which runs alongside
    /// the three before), `rollup` (products, resellers and rollup sums) and `commit` (added once
    /// committed); and the file's `bytes`.
    #[schema(value_type = Option<Object>)]
    pub stage_ms: Option<serde_json::Value>,
}

const BATCH_COLUMNS: &str = "b.batch_id, b.vendor_name, b.vendor_config_version, b.file_name, \
     b.file_size_bytes, b.status, b.rows_total, b.rows_loaded, b.rows_failed, b.failure_reason, \
     b.uploaded_by, u.email as uploaded_by_email, b.attempts, b.file_kind, b.encoding, \
     b.created_at, b.started_at, b.completed_at, b.stage_ms";

fn batch_view(row: &Row) -> Result<BatchView, IngestError> {
    let status: String = row.try_get("status")?;
    Ok(BatchView {
        batch_id: row.try_get("batch_id")?,
        vendor: row.try_get("vendor_name")?,
        vendor_config_version: row.try_get("vendor_config_version")?,
        file_name: row.try_get("file_name")?,
        size_bytes: row.try_get("file_size_bytes")?,
        status: BatchStatus::parse(&status).ok_or(IngestError::Corrupt("batch status"))?,
        rows_total: row.try_get("rows_total")?,
        rows_loaded: row.try_get("rows_loaded")?,
        rows_rejected: row.try_get("rows_failed")?,
        failure_reason: row.try_get("failure_reason")?,
        uploaded_by: row.try_get("uploaded_by")?,
        uploaded_by_email: row.try_get("uploaded_by_email")?,
        attempts: row.try_get("attempts")?,
        file_kind: row.try_get("file_kind")?,
        encoding: row.try_get("encoding")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        completed_at: row.try_get("completed_at")?,
        stage_ms: row.try_get("stage_ms")?,
    })
}

/// A new `pending` batch for `upload`, with the vendor's current config version. Unknown or
/// deactivated vendors are refused.
pub async fn create(
    db: &Client,
    tenant_id: &Uuid,
    uploaded_by: Option<&Uuid>,
    upload: &NewUpload,
) -> Result<(BatchView, String), IngestError> {
    let batch_id = Uuid::new_v4();
    let key = object_key(tenant_id, &batch_id, &upload.file_name);
    let inserted = db
        .query_opt(
            "insert into upload_batches (batch_id, uploaded_by, vendor_name, file_name, \
                 file_size_bytes, object_key, content_type, vendor_config_version) \
             select $1, $2, vendor_name, $3, $4, $5, $6, version \
             from vendor_configs where vendor_name = $7 and is_active \
             returning batch_id",
            &[
                &batch_id,
                &uploaded_by,
                &upload.file_name,
                &upload.size_bytes,
                &key,
                &upload.content_type,
                &upload.vendor,
            ],
        )
        .await?;
    if inserted.is_none() {
        return Err(IngestError::UnknownVendor(upload.vendor.clone()));
    }
    let view = get(db, &batch_id)
        .await?
        .ok_or(IngestError::BatchNotFound)?;
    Ok((view, key))
}

/// One batch.
pub async fn get<C: GenericClient>(
    db: &C,
    batch_id: &Uuid,
) -> Result<Option<BatchView>, IngestError> {
    let sql = format!(
        "select {BATCH_COLUMNS} from upload_batches b \
         left join users u on u.user_id = b.uploaded_by where b.batch_id = $1"
    );
    db.query_opt(&sql, &[batch_id])
        .await?
        .as_ref()
        .map(batch_view)
        .transpose()
}

/// One page of a listing, with the cursor of the next.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchPage {
    pub batches: Vec<BatchView>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct BatchCursor {
    at: DateTime<Utc>,
    id: Uuid,
}

/// Batches, newest first, optionally of one status.
pub async fn list(
    db: &Client,
    status: Option<BatchStatus>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<BatchPage, IngestError> {
    let after: Option<BatchCursor> = cursor.map(cursor::decode).transpose()?;
    let (at, id) = after.map_or((None, None), |c| (Some(c.at), Some(c.id)));
    let sql = format!(
        "select {BATCH_COLUMNS} from upload_batches b \
         left join users u on u.user_id = b.uploaded_by \
         where ($1::text is null or b.status = $1) \
           and ($2::timestamptz is null or (b.created_at, b.batch_id) < ($2, $3)) \
         order by b.created_at desc, b.batch_id desc limit $4"
    );
    let rows = db
        .query(
            &sql,
            &[
                &status.map(BatchStatus::as_str),
                &at,
                &id,
                &i64::from(limit + 1),
            ],
        )
        .await?;
    let mut batches = rows.iter().map(batch_view).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if batches.len() > usize::try_from(limit).unwrap_or(0) {
        batches.truncate(usize::try_from(limit).unwrap_or(0));
        batches.last().map(|b| {
            cursor::encode(&BatchCursor {
                at: b.created_at,
                id: b.batch_id,
            })
        })
    } else {
        None
    };
    Ok(BatchPage {
        batches,
        next_cursor,
    })
}

/// A rejected row of a file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowErrorView {
    /// The row's number as the user sees it in the file (header row included).
    pub row_number: Option<i32>,
    /// The file's column header, where one column is at fault.
    pub column: Option<String>,
    pub code: String,
    pub message: String,
    /// The row as read: header → value.
    #[schema(value_type = Option<Object>)]
    pub raw: Option<serde_json::Value>,
}

/// `GET …/errors`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorPage {
    pub errors: Vec<RowErrorView>,
    pub next_cursor: Option<String>,
}

/// A batch's rejected rows in file order.
pub async fn errors(
    db: &Client,
    batch_id: &Uuid,
    limit: i32,
    cursor: Option<&str>,
) -> Result<ErrorPage, IngestError> {
    let after: Option<i64> = cursor.map(cursor::decode).transpose()?;
    let rows = db
        .query(
            "select error_id, row_number, column_name, error_code, message, raw_row \
             from error_reports where batch_id = $1 and ($2::bigint is null or error_id > $2) \
             order by error_id limit $3",
            &[batch_id, &after, &i64::from(limit + 1)],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in rows.iter().take(usize::try_from(limit).unwrap_or(0)) {
        last = Some(row.try_get::<_, i64>("error_id")?);
        out.push(RowErrorView {
            row_number: row.try_get("row_number")?,
            column: row.try_get("column_name")?,
            code: row.try_get("error_code")?,
            message: row.try_get("message")?,
            raw: row.try_get("raw_row")?,
        });
    }
    let next_cursor = (rows.len() > out.len())
        .then(|| last.map(|id| cursor::encode(&id)))
        .flatten();
    Ok(ErrorPage {
        errors: out,
        next_cursor,
    })
}

/// Every rejected row of a batch as CSV (UTF-8 with BOM, so spreadsheets read it right): row,
/// column, code, message, then the raw values as `header=value` pairs.
pub async fn errors_csv(db: &Client, batch_id: &Uuid) -> Result<Vec<u8>, IngestError> {
    let rows = db
        .query(
            "select row_number, column_name, error_code, message, raw_row from error_reports \
             where batch_id = $1 order by error_id",
            &[batch_id],
        )
        .await?;
    let mut out = csv::Writer::from_writer(spreadsheet::BOM.to_vec());
    out.write_record(["row", "column", "code", "message", "values"])
        .map_err(IngestError::Csv)?;
    for row in &rows {
        let number: Option<i32> = row.try_get("row_number")?;
        let raw: Option<serde_json::Value> = row.try_get("raw_row")?;
        let values = raw
            .as_ref()
            .and_then(|v| v.as_object())
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let column: Option<String> = row.try_get("column_name")?;
        let message: String = row.try_get("message")?;
        out.write_record([
            number.map(|n| n.to_string()).unwrap_or_default().as_str(),
            &spreadsheet::cell(column.as_deref().unwrap_or_default()),
            row.try_get("error_code")?,
            &spreadsheet::cell(&message),
            &spreadsheet::cell(&values),
        ])
        .map_err(IngestError::Csv)?;
    }
    out.into_inner()
        .map_err(|e| IngestError::Csv(csv::Error::from(e.into_error())))
}

/// Deletes a batch with its rows, errors and its share of the rollups, in one transaction. A
/// batch being processed cannot be deleted (its rows are not all there yet).
pub async fn delete(db: &mut Client, batch_id: &Uuid) -> Result<BatchView, IngestError> {
    let tx = db.transaction().await?;
    let row = tx
        .query_opt(
            "select status from upload_batches where batch_id = $1 for update",
            &[batch_id],
        )
        .await?
        .ok_or(IngestError::BatchNotFound)?;
    let status: String = row.try_get("status")?;
    if status == "processing" {
        return Err(IngestError::BatchBusy);
    }
    let view = get(&tx, batch_id)
        .await?
        .ok_or(IngestError::BatchNotFound)?;
    for target in [Target::Sellout, Target::Ecommerce] {
        rollup::remove(&tx, target, batch_id).await?;
    }
    // Its raw rows (no foreign key: loading would pay a check per row), then the batch with
    // its errors (on delete cascade).
    for table in ["sellout_entries", "ecommerce_orders", "upload_batches"] {
        tx.execute(
            &format!("delete from {table} where batch_id = $1"),
            &[batch_id],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(vendor: &str, name: &str, size: i64) -> UploadRequest {
        UploadRequest {
            vendor: Some(vendor.into()),
            file_name: Some(name.into()),
            size_bytes: Some(size),
            content_type: None,
        }
    }

    #[test]
    fn a_valid_request_gets_a_clean_name_and_a_content_type() {
        // GIVEN a request naming a path with odd characters WHEN parsed
        let upload =
            NewUpload::parse(request(" Boxnox ", "C:\\reports\\März <2024>.CSV", 10)).unwrap();
        // THEN the vendor is normalised, the name is the last segment made safe
        assert_eq!(upload.vendor, "boxnox");
        assert_eq!(upload.file_name, "März _2024_.CSV");
        assert_eq!(upload.content_type, "text/csv");
        let xlsx = NewUpload::parse(request("skins", "../../etc/passwd.xlsx", 10)).unwrap();
        assert_eq!(xlsx.file_name, "passwd.xlsx");
    }

    #[test]
    fn bad_requests_are_refused_with_their_reason() {
        // GIVEN requests with each kind of fault WHEN parsed THEN each is refused for its reason
        let code = |r: UploadRequest| NewUpload::parse(r).unwrap_err().to_string();
        assert!(code(request("boxnox", "sales.pdf", 10)).contains("CSV or XLSX"));
        assert!(code(request("boxnox", "sales.csv", 0)).contains("100 MB"));
        assert!(code(request("boxnox", "sales.csv", MAX_FILE_BYTES + 1)).contains("100 MB"));
        assert!(code(request("box nox", "sales.csv", 10)).contains("vendor"));
        assert!(code(request("boxnox", "///", 10)).contains("file name"));
        assert!(matches!(
            NewUpload::parse(UploadRequest::default()),
            Err(IngestError::MissingField("vendor"))
        ));
    }

    #[test]
    fn long_names_keep_their_extension() {
        let long = format!("{}.xlsx", "a".repeat(300));
        let name = sanitise_file_name(&long).unwrap();
        assert_eq!(name.chars().count(), MAX_FILE_NAME);
        assert!(name.ends_with(".xlsx"));
        assert_eq!(sanitise_file_name("..."), None);
        assert_eq!(
            sanitise_file_name(".hidden.csv").as_deref(),
            Some("hidden.csv")
        );
    }
}

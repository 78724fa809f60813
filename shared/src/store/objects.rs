//! The uploads bucket (S3): presigned PUT URLs for browsers and clients, an object as a stream
//! for the processor (constant memory whatever the object's size), and large analytics exports
//! behind presigned GET URLs.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use chrono::{DateTime, Utc};

/// Object-store failures. `NotFound` is final; the others may pass.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object {0} does not exist")]
    NotFound(String),
    #[error("object store request failed: {0}")]
    Aws(String, #[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The tag of objects the bucket's lifecycle rule expires after a day (see the template).
pub const TEMPORARY_TAG: &str = "taskifai-lifetime=temporary";

/// A presigned upload: PUT the bytes to `url` with exactly `headers`.
#[derive(Debug, Clone)]
pub struct PresignedPut {
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// One bucket.
#[derive(Clone)]
pub struct ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl ObjectStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A URL that lets its holder PUT one object at `key` for `ttl`, with the content type and
    /// length bound into the signature (S3 refuses a different length or type).
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: i64,
        ttl: Duration,
    ) -> Result<PresignedPut, ObjectError> {
        let config = PresigningConfig::expires_in(ttl)
            .map_err(|e| ObjectError::Aws("presigning".into(), Box::new(e)))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(content_length)
            .presigned(config)
            .await
            .map_err(|e| ObjectError::Aws("presign put".into(), Box::new(e)))?;
        let headers = BTreeMap::from([("Content-Type".to_owned(), content_type.to_owned())]);
        let expires_at = Utc::now()
            + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::minutes(15));
        Ok(PresignedPut {
            url: request.uri().to_owned(),
            headers,
            expires_at,
        })
    }

    /// The object at `key` as a stream of bytes, read as they arrive (constant memory whatever
    /// the object's size). A failure midway is an I/O error of the stream.
    pub async fn open(
        &self,
        key: &str,
    ) -> Result<impl tokio::io::AsyncBufRead + Send + Unpin + 'static, ObjectError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                    ObjectError::NotFound(key.to_owned())
                } else {
                    ObjectError::Aws("get object".into(), Box::new(e))
                }
            })?;
        Ok(out.body.into_async_read())
    }

    /// Uploads a local file to `key`, streamed from disk and tagged [`TEMPORARY_TAG`]: the
    /// bucket's lifecycle rule deletes it a day later (large exports).
    pub async fn put_temporary_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> Result<(), ObjectError> {
        let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
            .await
            .map_err(|e| ObjectError::Aws("read local file".into(), Box::new(e)))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .tagging(TEMPORARY_TAG)
            .body(body)
            .send()
            .await
            .map_err(|e| ObjectError::Aws("put object".into(), Box::new(e)))?;
        Ok(())
    }

    /// A URL that lets its holder GET the object at `key` for `ttl`, downloaded as
    /// `file_name`.
    pub async fn presign_get(
        &self,
        key: &str,
        file_name: &str,
        ttl: Duration,
    ) -> Result<String, ObjectError> {
        let config = PresigningConfig::expires_in(ttl)
            .map_err(|e| ObjectError::Aws("presigning".into(), Box::new(e)))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(format!("attachment; filename=\"{file_name}\""))
            .presigned(config)
            .await
            .map_err(|e| ObjectError::Aws("presign get".into(), Box::new(e)))?;
        Ok(request.uri().to_owned())
    }

    /// Deletes every object under `prefix` (a deleted tenant's uploads and exports) for good:
    /// every version and delete marker (the bucket is versioned, so deleting by key alone would
    /// only hide them), in pages of 1,000; how many versions there were. A version that cannot
    /// be deleted is an error, never an endless retry.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, ObjectError> {
        let aws = |what: &str| {
            let what = what.to_owned();
            move |e: Box<dyn std::error::Error + Send + Sync>| ObjectError::Aws(what, e)
        };
        let mut deleted = 0;
        loop {
            // Listing again from the start: what was deleted is gone from it.
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .send()
                .await
                .map_err(|e| aws("list object versions")(e.into()))?;
            let versions = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                );
            let ids: Vec<_> = versions
                .filter_map(|(key, version)| {
                    aws_sdk_s3::types::ObjectIdentifier::builder()
                        .key(key?)
                        .set_version_id(version.map(str::to_owned))
                        .build()
                        .ok()
                })
                .collect();
            if ids.is_empty() {
                return Ok(deleted);
            }
            deleted += ids.len();
            let batch = aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| aws("delete objects")(e.into()))?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(batch)
                .send()
                .await
                .map_err(|e| aws("delete objects")(e.into()))?;
            if let Some(failed) = out.errors().first() {
                return Err(ObjectError::Aws(
                    "delete objects".into(),
                    format!(
                        "{} could not be deleted: {}",
                        failed.key().unwrap_or("an object"),
                        failed.message().unwrap_or("no reason given")
                    )
                    .into(),
                ));
            }
        }
    }

    /// Writes `bytes` at `key` (exports, tests, the demo data).
    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), ObjectError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| ObjectError::Aws("put object".into(), Box::new(e)))?;
        Ok(())
    }
}

//! Reads S3 `ObjectCreated` notifications delivered through SQS, leniently enough for both real
//! AWS records and the local emulator's (which omit `userIdentity` and `requestParameters`), and
//! turns object keys into `UploadKey`s. The emulator's first message is an `s3:TestEvent`
//! without records; it yields nothing.

use percent_encoding::percent_decode_str;
use serde::Deserialize;

/// Where an upload lives: `tenants/{tenant_id}/uploads/{batch_id}/{file_name}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UploadKey {
    pub tenant_id: String,
    pub batch_id: String,
    pub file_name: String,
}

impl UploadKey {
    /// Parses a decoded object key.
    pub fn parse(key: &str) -> Result<Self, UploadEventError> {
        let bad = || UploadEventError::UnexpectedKey(key.to_owned());
        let mut parts = key.splitn(5, '/');
        let (Some("tenants"), Some(tenant_id), Some("uploads"), Some(batch_id), Some(file_name)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let is_id = |s: &str| {
            (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !is_id(tenant_id) || !is_id(batch_id) || file_name.is_empty() || file_name.contains('/')
        {
            return Err(bad());
        }
        Ok(Self {
            tenant_id: tenant_id.to_owned(),
            batch_id: batch_id.to_owned(),
            file_name: file_name.to_owned(),
        })
    }

    /// The object key for this upload.
    pub fn object_key(&self) -> String {
        format!(
            "tenants/{}/uploads/{}/{}",
            self.tenant_id, self.batch_id, self.file_name
        )
    }
}

/// One created object, as read from a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    /// Decoded key.
    pub key: String,
    pub size: Option<u64>,
    pub upload: UploadKey,
}

/// Why a notification could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadEventError {
    #[error("message body is not an S3 event notification: {0}")]
    NotAnS3Event(String),
    #[error("object key {0:?} is not encoded correctly")]
    BadEncoding(String),
    #[error("object key {0:?} is not tenants/<tenant>/uploads/<batch>/<file>")]
    UnexpectedKey(String),
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "Records")]
    records: Option<Vec<Record>>,
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_name: Option<String>,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: Bucket,
    object: Object,
}

#[derive(Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Deserialize)]
struct Object {
    key: String,
    size: Option<u64>,
}

/// Where the platform writes objects of its own under a tenant's prefix (large analytics
/// exports): the bucket notification announces them too, and they are not uploads.
pub const EXPORTS_SEGMENT: &str = "exports";

/// Whether `key` is `tenants/<tenant>/exports/…`: written by the platform, not uploaded.
fn is_platform_export(key: &str) -> bool {
    let mut parts = key.split('/');
    parts.next() == Some("tenants")
        && parts.next().is_some_and(|t| !t.is_empty())
        && parts.next() == Some(EXPORTS_SEGMENT)
}

/// The created objects an SQS message body announces; empty for a test event, for records
/// that are not object creations, and for the platform's own exports.
pub fn created_objects(body: &str) -> Result<Vec<CreatedObject>, UploadEventError> {
    let notification: Notification =
        serde_json::from_str(body).map_err(|e| UploadEventError::NotAnS3Event(e.to_string()))?;
    let Some(records) = notification.records else {
        return match notification.event.as_deref() {
            Some("s3:TestEvent") => Ok(Vec::new()),
            _ => Err(UploadEventError::NotAnS3Event("no Records".into())),
        };
    };
    records
        .into_iter()
        .filter(|r| {
            r.event_name
                .as_deref()
                .is_none_or(|name| name.starts_with("ObjectCreated:"))
        })
        .filter_map(|r| {
            let key = match decode_key(&r.s3.object.key) {
                Ok(key) => key,
                Err(e) => return Some(Err(e)),
            };
            if is_platform_export(&key) {
                return None;
            }
            Some(UploadKey::parse(&key).map(|upload| CreatedObject {
                upload,
                bucket: r.s3.bucket.name,
                size: r.s3.object.size,
                key,
            }))
        })
        .collect()
}

/// S3 notifications form-encode keys: `+` is a space, everything else percent-encoded.
pub fn decode_key(raw: &str) -> Result<String, UploadEventError> {
    let plus_decoded = raw.replace('+', " ");
    percent_decode_str(&plus_decoded)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| UploadEventError::BadEncoding(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMULATOR_RECORD: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3",
        "awsRegion":"us-east-1","eventTime":"2026-11-22T10:00:00.000Z","eventName":"ObjectCreated:Put",
        "s3":{"s3SchemaVersion":"1.0","configurationId":"x","bucket":{"name":"uploads","arn":"arn:aws:s3:::uploads"},
        "object":{"key":"tenants%2Ft-1%2Fuploads%2Fb-2%2FMy+Sales+%2850%25%29.csv","size":42,"eTag":"abc"}}}]}"#;

    #[test]
    fn reads_emulator_records_and_decodes_keys() {
        let objects = created_objects(EMULATOR_RECORD).unwrap();
        assert_eq!(objects.len(), 1);
        let o = &objects[0];
        assert_eq!(o.bucket, "uploads");
        assert_eq!(o.key, "tenants/t-1/uploads/b-2/My Sales (50%).csv");
        assert_eq!(o.size, Some(42));
        assert_eq!(
            o.upload,
            UploadKey {
                tenant_id: "t-1".into(),
                batch_id: "b-2".into(),
                file_name: "My Sales (50%).csv".into()
            }
        );
        assert_eq!(o.upload.object_key(), o.key);
    }

    #[test]
    fn the_platforms_own_exports_are_not_uploads() {
        let body = EMULATOR_RECORD.replace(
            "tenants%2Ft-1%2Fuploads%2Fb-2%2FMy+Sales+%2850%25%29.csv",
            "tenants%2Ft-1%2Fexports%2Fe-3%2Fdemo-sales.csv",
        );
        assert_eq!(created_objects(&body), Ok(vec![]));
        let foreign = EMULATOR_RECORD.replace("%2Fuploads%2F", "%2Fexported%2F");
        assert!(
            created_objects(&foreign).is_err(),
            "only the exports segment is skipped"
        );
    }

    #[test]
    fn test_event_yields_nothing() {
        let body = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-22T10:00:00Z","Bucket":"uploads"}"#;
        assert_eq!(created_objects(body), Ok(vec![]));
    }

    #[test]
    fn malformed_bodies_and_keys_are_errors_not_panics() {
        for body in [
            "",
            "not json",
            "{}",
            "[]",
            r#"{"Records":[{"s3":{}}]}"#,
            r#"{"Records":"x"}"#,
        ] {
            assert!(
                matches!(
                    created_objects(body),
                    Err(UploadEventError::NotAnS3Event(_))
                ),
                "{body}"
            );
        }
        for key in [
            "tenants/t/uploads/b",
            "tenants/t/uploads/b/",
            "tenants/t/other/b/f.csv",
            "archive/t/uploads/b/f.csv",
            "tenants/../uploads/b/f.csv",
            "tenants/t/uploads/b/dir/f.csv",
        ] {
            assert!(UploadKey::parse(key).is_err(), "{key}");
        }
        assert!(matches!(
            decode_key("%FF%FE"),
            Err(UploadEventError::BadEncoding(_))
        ));
    }

    #[test]
    fn ignores_non_creation_records() {
        let body = EMULATOR_RECORD.replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert_eq!(created_objects(&body), Ok(vec![]));
    }
}

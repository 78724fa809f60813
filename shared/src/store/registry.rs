//! The platform registry: one DynamoDB table (`pk`/`sk`, index `gsi1`) holding tenants,
//! subdomain claims, idempotency keys, email→tenant memberships, counters and background jobs
//! (`jobs`). Key layouts live in [`keys`] and nowhere else. Records are stored as a JSON `data`
//! attribute beside the key attributes, plus `status` where conditions need it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::verifying_keys::VerifyingKeys;
use crate::platform::config::Tables;

mod jobs;
pub use jobs::{JOB_RETENTION, JobKind, JobRecord, JobResult, JobTally, ResultOutcome};

/// Registry failures; the SDK error is kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry request failed: {0}")]
    Aws(String, #[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("registry item {0} is corrupt: {1}")]
    Corrupt(String, #[source] serde_json::Error),
    #[error("the page cursor is not valid")]
    BadCursor,
    #[error("registry item {0} kept changing under concurrent writes")]
    Contention(String),
}

fn aws<E: std::error::Error + Send + Sync + 'static>(
    what: &str,
) -> impl FnOnce(E) -> RegistryError {
    let what = what.to_owned();
    move |e| RegistryError::Aws(what, Box::new(e))
}

/// A conditional write's outcome: `Some(output)` when it was applied, `None` when its
/// condition refused it (someone else got there first, or the rule says no), an error else.
fn applied<T, E>(
    result: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
    what: &str,
) -> Result<Option<T>, RegistryError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.code() == Some("ConditionalCheckFailedException")) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws(what)(e)),
    }
}

/// Every key layout of the table.
pub mod keys {
    use uuid::Uuid;

    pub const TENANTS_INDEX: &str = "TENANTS";

    pub fn tenant(id: &Uuid) -> (String, String) {
        (format!("TENANT#{id}"), "META".into())
    }
    pub fn subdomain_claim(subdomain: &str) -> (String, String) {
        (format!("SUBDOMAIN#{subdomain}"), "CLAIM".into())
    }
    pub fn idempotency(key: &str) -> (String, String) {
        (format!("IDEMPOTENCY#{key}"), "PROVISION".into())
    }
    pub fn membership(email: &str, tenant: &Uuid) -> (String, String) {
        (format!("EMAIL#{email}"), format!("TENANT#{tenant}"))
    }
    pub fn members_index(tenant: &Uuid) -> String {
        format!("MEMBERS#{tenant}")
    }
    pub fn admin(email: &str) -> (String, String) {
        (format!("ADMIN#{email}"), "PROFILE".into())
    }
    pub fn audit(sort: &str) -> (String, String) {
        ("AUDIT".into(), sort.to_owned())
    }
    pub fn tenant_audit_index(tenant: &Uuid) -> String {
        format!("AUDIT#TENANT#{tenant}")
    }
    pub fn counter(scope: &str, subject: &str) -> (String, String) {
        (format!("COUNTER#{scope}#{subject}"), "COUNT".into())
    }
    pub fn job(id: &Uuid) -> (String, String) {
        (format!("JOB#{id}"), "JOB".into())
    }
    /// A job's results have a partition of their own, apart from the job item.
    pub fn job_results(id: &Uuid) -> String {
        format!("JOB#{id}#RESULTS")
    }
    pub fn job_result(id: &Uuid, tenant: &Uuid) -> (String, String) {
        (job_results(id), format!("TENANT#{tenant}"))
    }
}

/// Lifecycle states of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Provisioning,
    Active,
    Suspended,
    Deleting,
    Failed,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleting => "deleting",
            Self::Failed => "failed",
        }
    }
}

/// A completed provisioning step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepProgress {
    pub step: String,
    pub completed_at: DateTime<Utc>,
    pub duration_ms: u64,
}

/// Why provisioning stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Failure {
    pub step: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A tenant as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub tenant_id: Uuid,
    pub subdomain: String,
    pub company_name: String,
    pub admin_email: String,
    pub admin_name: String,
    pub status: TenantStatus,
    pub steps: Vec<StepProgress>,
    pub failure: Option<Failure>,
    pub schema_version: i32,
    pub secret_id: String,
    pub idempotency_key: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped whenever the tenant's keys or secrets change, so every container refetches
    /// them within the registry cache TTL (a revocation bites at once, not in 15 minutes).
    #[serde(default)]
    pub keys_version: u32,
    /// The public halves of the tenant's token keys: what every function verifies with. Empty
    /// for a tenant made before tokens were EdDSA, until a migration run gives it keys.
    #[serde(default)]
    pub verifying_keys: VerifyingKeys,
}

/// Email → tenant, for discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub email: String,
    pub tenant_id: Uuid,
    pub subdomain: String,
    pub display_name: String,
    pub role: String,
}

/// A platform administrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRecord {
    pub email: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    /// A disabled admin cannot sign in, and their tokens stop working.
    #[serde(default)]
    pub disabled: bool,
}

/// A provisioning run's hold on an idempotency key: only the holder works on its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub owner: Uuid,
    pub until: DateTime<Utc>,
}

/// Who holds a subdomain, or the idempotency key's earlier request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub tenant_id: Uuid,
    pub idempotency_key: String,
    /// For idempotency items: a digest of the request, to refuse a reused key.
    #[serde(default)]
    pub fingerprint: String,
}

/// Result of a create-if-absent write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put<T> {
    Created,
    Exists(T),
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back to get the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// The registry table, with the admins and audit tables beside it.
#[derive(Clone)]
pub struct Registry {
    client: aws_sdk_dynamodb::Client,
    table: String,
    admins_table: String,
    audit_table: String,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl Registry {
    pub fn new(client: aws_sdk_dynamodb::Client, tables: &Tables) -> Self {
        Self {
            client,
            table: tables.registry.clone(),
            admins_table: tables.admins.clone(),
            audit_table: tables.audit.clone(),
        }
    }

    /// The same client on another of the platform's tables.
    fn on(&self, table: &str) -> Self {
        Self {
            table: table.to_owned(),
            ..self.clone()
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn item<T: Serialize>((pk, sk): (String, String), data: &T) -> Item {
        let json = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
        HashMap::from([
            ("pk".into(), s(pk)),
            ("sk".into(), s(sk)),
            ("data".into(), s(json)),
        ])
    }

    fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, RegistryError> {
        let key = item
            .get("pk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let data = item
            .get("data")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            .unwrap_or("null");
        serde_json::from_str(data).map_err(|e| RegistryError::Corrupt(key, e))
    }

    /// The raw item at a key (consistent read).
    async fn get_item(&self, (pk, sk): (String, String)) -> Result<Option<Item>, RegistryError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(aws("get item"))?;
        Ok(out.item)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        key: (String, String),
    ) -> Result<Option<T>, RegistryError> {
        self.get_item(key)
            .await?
            .as_ref()
            .map(Self::decode)
            .transpose()
    }

    /// Writes `item` only if its key is free; otherwise returns what holds it.
    async fn put_new<T: DeserializeOwned>(&self, item: Item) -> Result<Put<T>, RegistryError> {
        let key = (
            item["pk"].as_s().cloned().unwrap_or_default(),
            item["sk"].as_s().cloned().unwrap_or_default(),
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Put::Created),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                match self.get(key).await? {
                    Some(existing) => Ok(Put::Exists(existing)),
                    // Deleted in between: report it as held, the caller retries.
                    None => Err(RegistryError::Aws("put if absent".into(), Box::new(e))),
                }
            }
            Err(e) => Err(aws("put if absent")(e)),
        }
    }

    async fn put(&self, item: Item) -> Result<(), RegistryError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(aws("put item"))?;
        Ok(())
    }

    async fn delete(&self, (pk, sk): (String, String)) -> Result<(), RegistryError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(aws("delete item"))?;
        Ok(())
    }

    /// One page of the items whose `gsi1pk` (on index `gsi1`) or `pk` (on the table) is
    /// `partition`, in sort-key order.
    async fn query_page<T: DeserializeOwned>(
        &self,
        on_index: bool,
        partition: &str,
        limit: i32,
        cursor: Option<&str>,
        newest_first: bool,
    ) -> Result<Page<T>, RegistryError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(if on_index { "gsi1pk = :p" } else { "pk = :p" })
            .expression_attribute_values(":p", s(partition))
            .scan_index_forward(!newest_first)
            .limit(limit.clamp(1, 1000));
        if on_index {
            q = q.index_name("gsi1");
        }
        if let Some(cursor) = cursor {
            q = q.set_exclusive_start_key(Some(decode_cursor(cursor)?));
        }
        let out = q.send().await.map_err(aws("query"))?;
        let items = out
            .items()
            .iter()
            .map(Self::decode)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: out.last_evaluated_key.as_ref().map(encode_cursor),
        })
    }

    /// Every item of an index partition (all pages).
    async fn all_of_index<T: DeserializeOwned>(
        &self,
        partition: &str,
    ) -> Result<Vec<T>, RegistryError> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page: Page<T> = self
                .query_page(true, partition, 1000, cursor.as_deref(), false)
                .await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    // ------------------------------------------------------------------ tenants

    pub async fn get_tenant(&self, id: &Uuid) -> Result<Option<TenantRecord>, RegistryError> {
        self.get(keys::tenant(id)).await
    }

    /// A tenant record as stored: listed (oldest first) through `gsi1`, `status` beside the data.
    fn tenant_item(t: &TenantRecord) -> Item {
        let mut item = Self::item(keys::tenant(&t.tenant_id), t);
        item.insert("status".into(), s(t.status.as_str()));
        item.insert("gsi1pk".into(), s(keys::TENANTS_INDEX));
        let sort = format!(
            "{}#{}",
            t.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            t.tenant_id
        );
        item.insert("gsi1sk".into(), s(sort));
        item
    }

    /// Writes the tenant record.
    pub async fn put_tenant(&self, t: &TenantRecord) -> Result<(), RegistryError> {
        let item = Self::tenant_item(t);
        self.put(item).await
    }

    pub async fn delete_tenant(&self, id: &Uuid) -> Result<(), RegistryError> {
        self.delete(keys::tenant(id)).await
    }

    /// Tenants, oldest first, `limit` per page.
    pub async fn list_tenants(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<TenantRecord>, RegistryError> {
        self.query_page(true, keys::TENANTS_INDEX, limit, cursor, false)
            .await
    }

    /// Every tenant (all pages).
    pub async fn all_tenants(&self) -> Result<Vec<TenantRecord>, RegistryError> {
        self.all_of_index(keys::TENANTS_INDEX).await
    }

    /// The tenant living at `subdomain` (claim, then record).
    pub async fn tenant_by_subdomain(
        &self,
        subdomain: &str,
    ) -> Result<Option<TenantRecord>, RegistryError> {
        match self.subdomain_claim(subdomain).await? {
            Some(claim) => self.get_tenant(&claim.tenant_id).await,
            None => Ok(None),
        }
    }

    // ------------------------------------------------------------------ claims

    /// Claims `subdomain` for `claim.tenant_id`; exactly one of concurrent claims wins.
    pub async fn claim_subdomain(
        &self,
        subdomain: &str,
        claim: &Claim,
    ) -> Result<Put<Claim>, RegistryError> {
        self.put_new(Self::item(keys::subdomain_claim(subdomain), claim))
            .await
    }

    pub async fn subdomain_claim(&self, subdomain: &str) -> Result<Option<Claim>, RegistryError> {
        self.get(keys::subdomain_claim(subdomain)).await
    }

    /// Releases the claim if `tenant` holds it.
    pub async fn release_subdomain(
        &self,
        subdomain: &str,
        tenant: &Uuid,
    ) -> Result<(), RegistryError> {
        if self
            .subdomain_claim(subdomain)
            .await?
            .is_some_and(|c| c.tenant_id == *tenant)
        {
            self.delete(keys::subdomain_claim(subdomain)).await?;
        }
        Ok(())
    }

    /// Records which tenant an idempotency key created.
    /// Claims `key` for `claim`, leased to `lease` (the run that works on it); exactly one of
    /// concurrent claims wins.
    pub async fn claim_idempotency_key(
        &self,
        key: &str,
        claim: &Claim,
        lease: &Lease,
    ) -> Result<Put<Claim>, RegistryError> {
        let mut item = Self::item(keys::idempotency(key), claim);
        item.insert("lease_owner".into(), s(lease.owner.to_string()));
        item.insert(
            "lease_until".into(),
            AttributeValue::N(lease.until.timestamp_millis().to_string()),
        );
        self.put_new(item).await
    }

    /// The claim of idempotency key `key`, if any.
    pub async fn idempotency_claim(&self, key: &str) -> Result<Option<Claim>, RegistryError> {
        self.get(keys::idempotency(key)).await
    }

    /// Takes the lease of an existing claim if nobody holds it (never leased, released, or
    /// expired at `now`): one conditional write, so of concurrent runs exactly one gets it.
    pub async fn take_idempotency_lease(
        &self,
        key: &str,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<bool, RegistryError> {
        let (pk, sk) = keys::idempotency(key);
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET lease_owner = :owner, lease_until = :until")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
            )
            .expression_attribute_values(":owner", s(lease.owner.to_string()))
            .expression_attribute_values(
                ":until",
                AttributeValue::N(lease.until.timestamp_millis().to_string()),
            )
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.timestamp_millis().to_string()),
            )
            .send()
            .await;
        Ok(applied(res, "take idempotency lease")?.is_some())
    }

    /// Ends `lease` (if it is still the holder's), so a retry need not wait for it to expire.
    pub async fn release_idempotency_lease(
        &self,
        key: &str,
        lease: &Lease,
    ) -> Result<(), RegistryError> {
        let (pk, sk) = keys::idempotency(key);
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET lease_until = :zero")
            .condition_expression("lease_owner = :owner")
            .expression_attribute_values(":owner", s(lease.owner.to_string()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        applied(res, "release idempotency lease").map(|_| ())
    }

    pub async fn release_idempotency_key(&self, key: &str) -> Result<(), RegistryError> {
        self.delete(keys::idempotency(key)).await
    }

    // ------------------------------------------------------------------ memberships

    pub async fn put_membership(&self, m: &Membership) -> Result<(), RegistryError> {
        let mut item = Self::item(keys::membership(&m.email, &m.tenant_id), m);
        item.insert("gsi1pk".into(), s(keys::members_index(&m.tenant_id)));
        item.insert("gsi1sk".into(), s(m.email.clone()));
        self.put(item).await
    }

    pub async fn delete_membership(&self, email: &str, tenant: &Uuid) -> Result<(), RegistryError> {
        self.delete(keys::membership(email, tenant)).await
    }

    /// The tenants an email belongs to.
    pub async fn memberships_of_email(
        &self,
        email: &str,
    ) -> Result<Vec<Membership>, RegistryError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND begins_with(sk, :t)")
            .expression_attribute_values(":p", s(format!("EMAIL#{email}")))
            .expression_attribute_values(":t", s("TENANT#"))
            .send()
            .await
            .map_err(aws("query memberships"))?;
        out.items().iter().map(Self::decode).collect()
    }

    /// Everyone who belongs to `tenant`.
    pub async fn memberships_of_tenant(
        &self,
        tenant: &Uuid,
    ) -> Result<Vec<Membership>, RegistryError> {
        self.all_of_index(&keys::members_index(tenant)).await
    }

    // ------------------------------------------------------------------ admins

    pub async fn create_admin(
        &self,
        admin: &AdminRecord,
    ) -> Result<Put<AdminRecord>, RegistryError> {
        self.on(&self.admins_table)
            .put_new(Self::item(keys::admin(&admin.email), admin))
            .await
    }

    /// An admin, from the admins table, or (until a migration run has moved it) from where
    /// older code kept it in the registry table, so the first admin can still sign in to run it.
    pub async fn get_admin(&self, email: &str) -> Result<Option<AdminRecord>, RegistryError> {
        match self.on(&self.admins_table).get(keys::admin(email)).await? {
            Some(admin) => Ok(Some(admin)),
            None => self.get(keys::admin(email)).await,
        }
    }

    /// Disables or re-enables an admin; false when there is no such admin.
    pub async fn set_admin_disabled(
        &self,
        email: &str,
        disabled: bool,
    ) -> Result<bool, RegistryError> {
        let Some(mut admin) = self.get_admin(email).await? else {
            return Ok(false);
        };
        admin.disabled = disabled;
        self.on(&self.admins_table)
            .put(Self::item(keys::admin(email), &admin))
            .await?;
        Ok(true)
    }

    // ------------------------------------------------------------------ audit

    /// Appends an event; items are never overwritten (`sort` is unique).
    pub(crate) async fn append_audit<T: Serialize>(
        &self,
        sort: &str,
        tenant: Option<&Uuid>,
        event: &T,
    ) -> Result<(), RegistryError> {
        let mut item = Self::item(keys::audit(sort), event);
        if let Some(tenant) = tenant {
            item.insert("gsi1pk".into(), s(keys::tenant_audit_index(tenant)));
            item.insert("gsi1sk".into(), s(sort));
        }
        // PutItem alone (the only right functions have on this table): a collision fails the
        // condition instead of overwriting.
        let result = self
            .client
            .put_item()
            .table_name(&self.audit_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        applied(result, "append audit")?.map(|_| ()).ok_or_else(|| {
            RegistryError::Aws("append audit".into(), "audit event id collision".into())
        })
    }

    /// Audit events, newest first; of one tenant when given.
    pub(crate) async fn list_audit<T: DeserializeOwned>(
        &self,
        tenant: Option<&Uuid>,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<T>, RegistryError> {
        let audit = self.on(&self.audit_table);
        match tenant {
            Some(tenant) => {
                audit
                    .query_page(true, &keys::tenant_audit_index(tenant), limit, cursor, true)
                    .await
            }
            None => {
                audit
                    .query_page(false, &keys::audit("").0, limit, cursor, true)
                    .await
            }
        }
    }

    /// Moves admin and audit items that older code kept in the registry table to their own
    /// tables (already there: kept as they are); returns how many items moved. Idempotent, so
    /// every migration run can call it.
    pub async fn move_admins_and_audit(&self) -> Result<usize, RegistryError> {
        let mut moved = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :admin) OR pk = :audit")
                .expression_attribute_values(":admin", s("ADMIN#"))
                .expression_attribute_values(":audit", s(keys::audit("").0))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(aws("scan for admins and audit"))?;
            for item in page.items.unwrap_or_default() {
                let is_admin = item["pk"].as_s().is_ok_and(|pk| pk.starts_with("ADMIN#"));
                let key = (
                    item["pk"].as_s().cloned().unwrap_or_default(),
                    item["sk"].as_s().cloned().unwrap_or_default(),
                );
                let target = if is_admin {
                    &self.admins_table
                } else {
                    &self.audit_table
                };
                let copied = self
                    .client
                    .put_item()
                    .table_name(target)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await;
                applied(copied, "copy an admin or audit item")?;
                self.delete(key).await?;
                moved += 1;
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(moved);
            }
        }
    }

    // ------------------------------------------------------------------ counters

    /// Takes one attempt from a windowed counter, atomically: a new window starts (with one
    /// hit) where none is open, else the hit is added only while `hits < max`, or, with a
    /// `backoff`, also once `backoff` has passed since the previous attempt (slowed instead of
    /// blocked). Concurrent callers cannot all slip through: at most what the rule allows is taken.
    /// The emulator never expires items, so windows are checked here rather than left to TTL,
    /// and an increment only ever lands on an item that has its window (a reset racing it
    /// cannot leave a counter without expiry).
    pub async fn reserve_counter(
        &self,
        scope: &str,
        subject: &str,
        now: DateTime<Utc>,
        rule: CounterRule,
    ) -> Result<Reservation, RegistryError> {
        let (pk, sk) = keys::counter(scope, subject);
        let n = |v: i64| AttributeValue::N(v.to_string());
        let next = now + rule.backoff.unwrap_or_default();
        for _ in 0..3 {
            let fresh = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s(sk.clone()))
                .update_expression("SET hits = :one, expires_at = :exp, next_at = :next")
                // A counter without a window (left by older code) starts over too.
                .condition_expression(
                    "attribute_not_exists(pk) OR attribute_not_exists(expires_at) \
                     OR expires_at <= :now",
                )
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":exp", n((now + rule.window).timestamp()))
                .expression_attribute_values(":next", n(next.timestamp()))
                .expression_attribute_values(":now", n(now.timestamp()))
                .send()
                .await;
            if applied(fresh, "start counter")?.is_some() {
                return Ok(Reservation::Taken { hits: 1 });
            }
            let allowed = if rule.backoff.is_some() {
                "expires_at > :now AND (hits < :max OR next_at <= :now)"
            } else {
                "expires_at > :now AND hits < :max"
            };
            let more = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s(sk.clone()))
                .update_expression("SET next_at = :next ADD hits :one")
                .condition_expression(allowed)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max", n(rule.max))
                .expression_attribute_values(":next", n(next.timestamp()))
                .expression_attribute_values(":now", n(now.timestamp()))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
                .send()
                .await;
            if let Some(out) = applied(more, "count attempt")? {
                let hits = out
                    .attributes
                    .and_then(|a| a.get("hits").and_then(|v| v.as_n().ok()).cloned())
                    .and_then(|h| h.parse().ok())
                    .unwrap_or(rule.max);
                return Ok(Reservation::Taken { hits });
            }
            // Refused by the rule, or the window ended or was reset in between (then again).
            if let Some(counter) = self.read_counter(scope, subject, now).await?
                && counter.hits >= rule.max
            {
                let retry_at = match rule.backoff {
                    Some(_) => counter.next_at.max(now),
                    None => counter.window_end,
                };
                return Ok(Reservation::Refused { retry_at });
            }
        }
        // Three rounds lost to concurrent writers: refuse this one briefly.
        Ok(Reservation::Refused { retry_at: now })
    }

    /// Gives back an attempt taken with [`Registry::reserve_counter`] (one that succeeded and
    /// should not count); nothing when the window has ended.
    pub async fn release_counter(
        &self,
        scope: &str,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RegistryError> {
        let (pk, sk) = keys::counter(scope, subject);
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("ADD hits :minus")
            .condition_expression("expires_at > :now AND hits > :zero")
            .expression_attribute_values(":minus", AttributeValue::N("-1".into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .send()
            .await;
        applied(res, "release attempt").map(|_| ())
    }

    /// Forgets a counter (a successful login resets its email's failures).
    pub async fn reset_counter(&self, scope: &str, subject: &str) -> Result<(), RegistryError> {
        self.delete(keys::counter(scope, subject)).await
    }

    /// A counter's state, without adding to it; `None` when it has no window open at `now`
    /// (never taken, reset, or its window ended).
    pub async fn read_counter(
        &self,
        scope: &str,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Counter>, RegistryError> {
        let Some(attrs) = self.get_item(keys::counter(scope, subject)).await? else {
            return Ok(None);
        };
        let num = |k: &str| {
            attrs
                .get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
        };
        let time = |k: &str| num(k).and_then(|t| DateTime::from_timestamp(t, 0));
        Ok(match (num("hits"), time("expires_at")) {
            (Some(hits), Some(window_end)) if window_end > now => Some(Counter {
                hits,
                window_end,
                next_at: time("next_at").unwrap_or(now),
            }),
            _ => None,
        })
    }
}

/// How a counter admits attempts: at most `max` per `window`; past that, with a `backoff`,
/// one attempt per `backoff` after the previous one instead of none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterRule {
    pub max: i64,
    pub window: chrono::Duration,
    pub backoff: Option<chrono::Duration>,
}

impl CounterRule {
    /// A hard limit: `max` per `window`, then refused until the window ends.
    pub const fn hard(max: i64, window: chrono::Duration) -> Self {
        Self {
            max,
            window,
            backoff: None,
        }
    }
}

/// The outcome of [`Registry::reserve_counter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Taken: the window's count with this attempt.
    Taken { hits: i64 },
    /// Refused until `retry_at`.
    Refused { retry_at: DateTime<Utc> },
}

/// A counter's open window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub hits: i64,
    pub window_end: DateTime<Utc>,
    /// The earliest next attempt under a backoff rule.
    pub next_at: DateTime<Utc>,
}

// ------------------------------------------------------------------ compare-and-set on tenants

impl Registry {
    /// The tenant record with its stored form, to change it with [`Registry::replace_tenant`]
    /// without losing a concurrent write (a suspension, say).
    pub async fn get_tenant_for_update(
        &self,
        id: &Uuid,
    ) -> Result<Option<(TenantRecord, String)>, RegistryError> {
        let Some(item) = self.get_item(keys::tenant(id)).await? else {
            return Ok(None);
        };
        let record = Self::decode(&item)?;
        let stored = item
            .get("data")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        Ok(Some((record, stored)))
    }

    /// Changes tenant `id`'s record with compare-and-set: reads it, lets `change` edit it
    /// (`Ok(false)`: leave it as it is), and writes it only if nobody wrote in between, else
    /// again from a fresh read. So a write never undoes a concurrent one (a suspension, a
    /// `keys_version` bump). `None` when there is no such tenant.
    pub async fn update_tenant<E: From<RegistryError>>(
        &self,
        id: &Uuid,
        mut change: impl FnMut(&mut TenantRecord) -> Result<bool, E>,
    ) -> Result<Option<TenantRecord>, E> {
        const TRIES: usize = 8;
        for _ in 0..TRIES {
            let Some((mut record, stored)) = self.get_tenant_for_update(id).await? else {
                return Ok(None);
            };
            if !change(&mut record)? || self.replace_tenant(&record, &stored).await? {
                return Ok(Some(record));
            }
        }
        Err(RegistryError::Contention(format!("TENANT#{id}")).into())
    }

    /// Writes `t` (as [`Registry::put_tenant`] does) only if the stored record is still
    /// `expected`, the form [`Registry::get_tenant_for_update`] returned. False when it changed
    /// (or vanished) in between: read again and retry.
    pub async fn replace_tenant(
        &self,
        t: &TenantRecord,
        expected: &str,
    ) -> Result<bool, RegistryError> {
        let item = Self::tenant_item(t);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // `data` is a DynamoDB reserved word.
            .condition_expression("#data = :expected")
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(":expected", s(expected))
            .send()
            .await;
        Ok(applied(result, "replace tenant")?.is_some())
    }
}

fn encode_cursor(key: &Item) -> String {
    let map: HashMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.as_str(), v.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).unwrap_or_default())
}

fn decode_cursor(cursor: &str) -> Result<Item, RegistryError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| RegistryError::BadCursor)?;
    let map: HashMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| RegistryError::BadCursor)?;
    let allowed = ["pk", "sk", "gsi1pk", "gsi1sk"];
    if map.is_empty() || map.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(RegistryError::BadCursor);
    }
    Ok(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key: Item = HashMap::from([("pk".into(), s("A")), ("sk".into(), s("B"))]);
        let decoded = decode_cursor(&encode_cursor(&key)).unwrap();
        assert_eq!(decoded, key);
        for bad in [
            "",
            "!!!",
            "e30",
            &URL_SAFE_NO_PAD.encode(br#"{"evil":"x"}"#),
        ] {
            assert!(
                matches!(decode_cursor(bad), Err(RegistryError::BadCursor)),
                "{bad}"
            );
        }
    }
}

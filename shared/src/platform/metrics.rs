//! Metrics as CloudWatch Embedded Metric Format (EMF): one JSON line per event on stdout, which
//! CloudWatch Logs turns into metrics — no API call, no permission, nothing at cold start. Each
//! event below is one function call at its call site; this module does the formatting.
//!
//! Dimensions are kept bounded: every distinct combination of dimension values is a metric of
//! its own (and billed as one). Tenant ids go into a dimension only where a per-tenant series is
//! the point (sign-in failures per tenant, a tenant's upload volume); elsewhere they are a
//! property, searchable in Logs Insights but not a metric.
//!
//! Lines are written only inside a Lambda execution environment (`AWS_LAMBDA_FUNCTION_NAME` is
//! set), so tools and tests that run the same code keep their stdout; `METRICS_EMF=on|off`
//! overrides that. `METRICS_NAMESPACE` (default `TaskifAI`) names the namespace and
//! `METRICS_ENVIRONMENT`, when set, adds an `Environment` dimension to every series.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::platform::config::Env;

/// The namespace when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "TaskifAI";

/// The units this module writes (CloudWatch's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    Count,
    Bytes,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "Milliseconds",
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
        }
    }
}

/// Where metrics go and under which names; read once from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    pub namespace: String,
    /// The value of the `Environment` dimension every series gets, if any.
    pub environment: Option<String>,
}

impl Settings {
    /// `METRICS_EMF` (`on`/`off`; default on inside Lambda), `METRICS_NAMESPACE`,
    /// `METRICS_ENVIRONMENT`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Self {
        let in_lambda = env.optional("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let enabled = match env.optional("METRICS_EMF").as_deref() {
            Some("off" | "false" | "0") => false,
            Some(_) => true,
            None => in_lambda,
        };
        Self {
            enabled,
            namespace: env
                .optional("METRICS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            environment: env.optional("METRICS_ENVIRONMENT"),
        }
    }

    /// The process's settings (read at the first event).
    fn process() -> &'static Self {
        static SETTINGS: OnceLock<Settings> = OnceLock::new();
        SETTINGS.get_or_init(|| Self::from_env(&Env::process()))
    }
}

/// One EMF document: metrics that share dimension sets, the dimensions' values and properties.
#[derive(Debug, Clone)]
pub struct Event {
    dimension_sets: &'static [&'static [&'static str]],
    dimensions: Vec<(&'static str, String)>,
    metrics: Vec<(&'static str, Unit, Value)>,
    properties: Vec<(&'static str, Value)>,
}

impl Event {
    /// An event whose metrics are published once per dimension set (`&[]`: no dimension, the
    /// platform-wide series).
    pub fn new(dimension_sets: &'static [&'static [&'static str]]) -> Self {
        Self {
            dimension_sets,
            dimensions: Vec::new(),
            metrics: Vec::new(),
            properties: Vec::new(),
        }
    }

    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    pub fn count(mut self, name: &'static str, n: u64) -> Self {
        self.metrics.push((name, Unit::Count, json!(n)));
        self
    }

    pub fn bytes(mut self, name: &'static str, n: u64) -> Self {
        self.metrics.push((name, Unit::Bytes, json!(n)));
        self
    }

    /// A duration in milliseconds, to the microsecond.
    pub fn millis(mut self, name: &'static str, d: Duration) -> Self {
        self.metrics.push((
            name,
            Unit::Milliseconds,
            json!(d.as_micros() as f64 / 1000.0),
        ));
        self
    }

    /// A value that is logged but is no metric and no dimension.
    pub fn property(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.properties.push((name, value.into()));
        self
    }

    /// The document as CloudWatch reads it, stamped `timestamp_ms`.
    pub fn document(&self, settings: &Settings, timestamp_ms: i64) -> Value {
        let environment = settings.environment.as_deref();
        let dimension_sets: Vec<Vec<&str>> = self
            .dimension_sets
            .iter()
            .map(|set| {
                environment
                    .map(|_| "Environment")
                    .into_iter()
                    .chain(set.iter().copied())
                    .collect()
            })
            .collect();
        let metrics: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let mut doc = Map::new();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": settings.namespace,
                    "Dimensions": dimension_sets,
                    "Metrics": metrics,
                }],
            }),
        );
        for (name, value) in &self.properties {
            doc.insert((*name).into(), value.clone());
        }
        if let Some(environment) = environment {
            doc.insert("Environment".into(), json!(environment));
        }
        for (name, value) in &self.dimensions {
            doc.insert((*name).into(), json!(value));
        }
        for (name, _, value) in &self.metrics {
            doc.insert((*name).into(), value.clone());
        }
        Value::Object(doc)
    }

    /// Writes the event as one line on stdout (when metrics are enabled).
    pub fn emit(self) {
        let settings = Settings::process();
        if !settings.enabled {
            return;
        }
        let doc = self.document(settings, chrono::Utc::now().timestamp_millis());
        // Best effort: a metric that cannot be written must not fail the request.
        let _ = write_line(&mut std::io::stdout().lock(), &doc);
    }
}

/// `doc` as one line in one write, so it never interleaves with the JSON logs (which
/// `tracing-subscriber` writes a whole line at a time through the same stdout) and CloudWatch
/// Logs sees it as a log event of its own.
pub fn write_line(out: &mut impl Write, doc: &Value) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(doc)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// How a provisioning request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisioningOutcome {
    /// A new tenant is active.
    Ok,
    /// An idempotency key's earlier result, returned again (no work done).
    Replayed,
    /// Refused before any step ran: invalid input, subdomain taken, key reused, in progress.
    Rejected,
    /// A step failed (and the completed ones were undone), or the registry was unavailable.
    Failed,
}

impl ProvisioningOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Replayed => "replayed",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }
}

/// `Provisionings` (count) and `ProvisioningDuration` by `Outcome`; the tenant is a property.
pub fn provisioning(outcome: ProvisioningOutcome, took: Duration, tenant_id: Option<&Uuid>) {
    provisioning_event(outcome, took, tenant_id).emit();
}

fn provisioning_event(
    outcome: ProvisioningOutcome,
    took: Duration,
    tenant_id: Option<&Uuid>,
) -> Event {
    let event = Event::new(&[&["Outcome"]])
        .dimension("Outcome", outcome.as_str())
        .count("Provisionings", 1)
        .millis("ProvisioningDuration", took);
    match tenant_id {
        Some(id) => event.property("TenantId", id.to_string()),
        None => event,
    }
}

/// How a tenant user's sign-in ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Ok,
    /// Wrong email or password.
    Failed,
    /// Refused by the sign-in throttle before the password was checked.
    Throttled,
    /// Anything else (database, registry, key store): an operational fault, not a guess.
    Error,
}

impl LoginOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Throttled => "throttled",
            Self::Error => "error",
        }
    }
}

/// `Logins` (count) by `Outcome`, platform-wide and per tenant: failures against one tenant are
/// what an attack on its users looks like.
pub fn login(tenant_id: &Uuid, outcome: LoginOutcome) {
    login_event(tenant_id, outcome).emit();
}

fn login_event(tenant_id: &Uuid, outcome: LoginOutcome) -> Event {
    Event::new(&[&["Outcome"], &["TenantId", "Outcome"]])
        .dimension("TenantId", tenant_id.to_string())
        .dimension("Outcome", outcome.as_str())
        .count("Logins", 1)
}

/// What loading one upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLoaded {
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    pub bytes: u64,
    /// From the claimed batch to the commit (download, read, map, COPY, rollup).
    pub took: Duration,
}

/// `UploadRowsLoaded`, `UploadRowsRejected`, `UploadBytes` and `UploadDuration`, platform-wide
/// and per tenant (each tenant's upload volume is what it uses of the platform).
pub fn upload_loaded(tenant_id: &Uuid, batch_id: &Uuid, vendor: &str, figures: &UploadLoaded) {
    upload_event(tenant_id, batch_id, vendor, figures).emit();
}

fn upload_event(tenant_id: &Uuid, batch_id: &Uuid, vendor: &str, figures: &UploadLoaded) -> Event {
    Event::new(&[&[], &["TenantId"]])
        .dimension("TenantId", tenant_id.to_string())
        .count("UploadRowsLoaded", figures.rows_loaded)
        .count("UploadRowsRejected", figures.rows_rejected)
        .bytes("UploadBytes", figures.bytes)
        .millis("UploadDuration", figures.took)
        .property("BatchId", batch_id.to_string())
        .property("Vendor", vendor)
}

/// `AnalyticsLatency` by `Endpoint` (the route's `METHOD /path/{template}`: as many values as
/// routes); the status code is a property.
pub fn analytics_request(endpoint: &str, took: Duration, status: u16) {
    analytics_event(endpoint, took, status).emit();
}

fn analytics_event(endpoint: &str, took: Duration, status: u16) -> Event {
    Event::new(&[&["Endpoint"]])
        .dimension("Endpoint", endpoint)
        .millis("AnalyticsLatency", took)
        .property("StatusCode", status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::config::pairs_env;

    fn settings(environment: Option<&str>) -> Settings {
        Settings {
            enabled: true,
            namespace: DEFAULT_NAMESPACE.into(),
            environment: environment.map(str::to_owned),
        }
    }

    /// Parses `doc` back from its line and checks it as CloudWatch would: every metric the
    /// directive names is a number at the top level, every top-level number is a declared
    /// metric or a known property, every dimension of every set has a string value.
    fn check_shape(doc: &Value, properties: &[&str]) -> Value {
        let mut line = Vec::new();
        write_line(&mut line, doc).unwrap();
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1, "one line");
        let parsed: Value = serde_json::from_slice(&line).unwrap();
        let aws = &parsed["_aws"];
        assert!(aws["Timestamp"].is_i64());
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        assert_eq!(directive["Namespace"], "TaskifAI");
        let declared: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert!(["Milliseconds", "Count", "Bytes"].contains(&m["Unit"].as_str().unwrap()));
                m["Name"].as_str().unwrap()
            })
            .collect();
        assert!(!declared.is_empty());
        for name in &declared {
            assert!(
                parsed[name].is_number(),
                "metric {name} has a numeric value"
            );
        }
        for (key, value) in parsed.as_object().unwrap() {
            if value.is_number() && !properties.contains(&key.as_str()) {
                assert!(
                    declared.contains(&key.as_str()),
                    "{key} is declared in _aws"
                );
            }
        }
        for set in directive["Dimensions"].as_array().unwrap() {
            for key in set.as_array().unwrap() {
                let key = key.as_str().unwrap();
                assert!(
                    parsed[key].is_string(),
                    "dimension {key} has a string value"
                );
            }
        }
        parsed
    }

    fn dimension_sets(doc: &Value) -> &Value {
        &doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    }

    #[test]
    fn provisioning_is_by_outcome_with_the_tenant_as_a_property() {
        // GIVEN a provisioning that took 812.5 ms
        let id = Uuid::new_v4();
        let event = provisioning_event(
            ProvisioningOutcome::Ok,
            Duration::from_micros(812_500),
            Some(&id),
        );
        // WHEN written
        let doc = check_shape(&event.document(&settings(None), 1_795_341_600_000), &[]);
        // THEN one series per outcome, the tenant only as a property
        assert_eq!(dimension_sets(&doc), &json!([["Outcome"]]));
        assert_eq!(doc["Outcome"], "ok");
        assert_eq!(doc["ProvisioningDuration"], 812.5);
        assert_eq!(doc["Provisionings"], 1);
        assert_eq!(doc["TenantId"], id.to_string());
        assert_eq!(doc["_aws"]["Timestamp"], 1_795_341_600_000_i64);
    }

    #[test]
    fn logins_are_platform_wide_and_per_tenant() {
        let id = Uuid::new_v4();
        let event = login_event(&id, LoginOutcome::Throttled);
        let doc = check_shape(&event.document(&settings(None), 0), &[]);
        assert_eq!(
            dimension_sets(&doc),
            &json!([["Outcome"], ["TenantId", "Outcome"]])
        );
        assert_eq!(doc["Outcome"], "throttled");
        assert_eq!(doc["TenantId"], id.to_string());
        assert_eq!(doc["Logins"], 1);
    }

    #[test]
    fn uploads_carry_every_figure_and_the_environment_joins_each_set() {
        // GIVEN a configured environment
        let (id, batch) = (Uuid::new_v4(), Uuid::new_v4());
        let figures = UploadLoaded {
            rows_loaded: 1_598_400,
            rows_rejected: 1_600,
            bytes: 100_000_000,
            took: Duration::from_millis(9_000),
        };
        let event = upload_event(&id, &batch, "boxnox", &figures);
        // WHEN written
        let doc = check_shape(&event.document(&settings(Some("prod")), 0), &[]);
        // THEN every set starts with Environment, the platform-wide one has nothing else
        assert_eq!(
            dimension_sets(&doc),
            &json!([["Environment"], ["Environment", "TenantId"]])
        );
        assert_eq!(doc["Environment"], "prod");
        assert_eq!(doc["UploadRowsLoaded"], 1_598_400);
        assert_eq!(doc["UploadBytes"], 100_000_000);
        assert_eq!(doc["UploadDuration"], 9000.0);
        assert_eq!(doc["BatchId"], batch.to_string());
        assert_eq!(doc["Vendor"], "boxnox");
        let units: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Unit"].as_str().unwrap())
            .collect();
        assert_eq!(units, ["Count", "Count", "Bytes", "Milliseconds"]);
    }

    #[test]
    fn analytics_latency_is_by_endpoint_and_the_status_is_a_property() {
        let event = analytics_event(
            "GET /api/analytics/dashboards/{id}",
            Duration::from_micros(4_250),
            200,
        );
        let doc = check_shape(&event.document(&settings(None), 0), &["StatusCode"]);
        assert_eq!(doc["Endpoint"], "GET /api/analytics/dashboards/{id}");
        assert_eq!(doc["AnalyticsLatency"], 4.25);
        assert_eq!(doc["StatusCode"], 200);
    }

    #[test]
    fn lines_follow_each_other_whole() {
        let mut out = Vec::new();
        for n in 0..3 {
            let doc = Event::new(&[&[]])
                .count("Logins", n)
                .document(&settings(None), 0);
            write_line(&mut out, &doc).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2]["Logins"], 2);
    }

    #[test]
    fn enabled_inside_lambda_unless_switched_off() {
        // GIVEN no Lambda environment THEN nothing is written (tools, tests keep their stdout)
        let outside = Settings::from_env(&pairs_env(&[]));
        assert!(!outside.enabled);
        assert_eq!(outside.namespace, "TaskifAI");
        assert_eq!(outside.environment, None);
        // GIVEN a Lambda execution environment
        let inside = Settings::from_env(&pairs_env(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "taskifai-auth"),
            ("METRICS_NAMESPACE", "TaskifAI/Test"),
            ("METRICS_ENVIRONMENT", "dev"),
        ]));
        assert!(inside.enabled);
        assert_eq!(inside.namespace, "TaskifAI/Test");
        assert_eq!(inside.environment.as_deref(), Some("dev"));
        // AND the switch wins either way
        let off = Settings::from_env(&pairs_env(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "taskifai-auth"),
            ("METRICS_EMF", "off"),
        ]));
        assert!(!off.enabled);
        assert!(Settings::from_env(&pairs_env(&[("METRICS_EMF", "on")])).enabled);
    }
}

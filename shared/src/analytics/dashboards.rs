//! Saved dashboards: a user's named set of widgets and filters. A user sees their own and the
//! tenant's shared ones; only admins share, and a shared dashboard is edited by its owner or an
//! admin. Each user has at most one default (a partial unique index holds it under races).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, GenericClient, Row};
use uuid::Uuid;

use crate::analytics::AnalyticsError;
use crate::analytics::filters::{Dataset, Filters, Grouping, MAX_LIMIT, parse_metric};
use crate::domain::role::Role;

/// What a widget shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WidgetKind {
    Summary,
    SalesChart,
    SalesTable,
    TopProducts,
    TopResellers,
    Ecommerce,
}

/// One widget: its kind and the request it makes (`group_by`, `metric`, `limit` as the
/// analytics routes take them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    pub kind: WidgetKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// A dashboard's content: filters applied to every widget, and the widgets in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    #[serde(default)]
    pub filters: Filters,
    #[serde(default)]
    pub widgets: Vec<Widget>,
}

/// `POST /api/dashboards` and `PUT /api/dashboards/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardInput {
    pub name: String,
    #[serde(default)]
    pub config: DashboardConfig,
    /// The caller's default dashboard (any previous default stops being one).
    #[serde(default)]
    pub is_default: bool,
    /// Visible to every user of the tenant (admins only).
    #[serde(default)]
    pub shared: bool,
}

/// A dashboard as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DashboardView {
    pub dashboard_id: Uuid,
    pub name: String,
    pub config: DashboardConfig,
    pub is_default: bool,
    pub shared: bool,
    /// Whether the caller owns it.
    pub mine: bool,
    /// Whether the caller may change or delete it.
    pub editable: bool,
    pub owner_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /api/dashboards`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DashboardList {
    pub dashboards: Vec<DashboardView>,
}

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub user_id: Uuid,
    pub role: Role,
}

const MAX_WIDGETS: usize = 24;
const MAX_NAME: usize = 100;
/// The most dashboards one user may own.
const MAX_PER_USER: i64 = 100;

impl DashboardInput {
    /// Parses a request body, naming the field of the first problem.
    pub fn parse(json: &serde_json::Value) -> Result<Self, AnalyticsError> {
        let input: Self = serde_path_to_error::deserialize(json).map_err(|e| {
            let path = e.path().to_string();
            AnalyticsError::InvalidDashboard(format!("{path}: {}", e.into_inner()))
        })?;
        input.check()?;
        Ok(input)
    }

    fn check(&self) -> Result<(), AnalyticsError> {
        let bad = |field: String, message: &str| {
            Err(AnalyticsError::InvalidDashboard(format!(
                "{field}: {message}"
            )))
        };
        let name_len = self.name.trim().chars().count();
        if name_len == 0 || name_len > MAX_NAME {
            return bad("name".into(), "1 to 100 characters");
        }
        self.config
            .filters
            .check()
            .map_err(|e| AnalyticsError::InvalidDashboard(format!("config.filters.{e}")))?;
        if self.config.widgets.len() > MAX_WIDGETS {
            return bad("config.widgets".into(), "at most 24 widgets");
        }
        for (i, w) in self.config.widgets.iter().enumerate() {
            let at = |field: &str| format!("config.widgets[{i}].{field}");
            if w.title
                .as_ref()
                .is_some_and(|t| t.chars().count() > MAX_NAME)
            {
                return bad(at("title"), "at most 100 characters");
            }
            let dataset = if w.kind == WidgetKind::Ecommerce {
                Dataset::Ecommerce
            } else {
                Dataset::Sales
            };
            if let Some(group_by) = &w.group_by {
                Grouping::parse(group_by, dataset).map_err(|e| {
                    AnalyticsError::InvalidDashboard(format!("{}: {e}", at("group_by")))
                })?;
            }
            parse_metric(w.metric.as_deref())
                .map_err(|e| AnalyticsError::InvalidDashboard(format!("{}: {e}", at("metric"))))?;
            if let Some(limit) = w.limit
                && !(1..=MAX_LIMIT).contains(&limit)
            {
                return bad(at("limit"), "from 1 to 1000");
            }
        }
        Ok(())
    }
}

const SELECT: &str = "select d.dashboard_id, d.user_id, d.name, d.config, d.is_default, d.shared, \
                             d.created_at, d.updated_at, u.email \
                      from dashboard_configs d left join users u on u.user_id = d.user_id";

fn view(row: &Row, viewer: Viewer) -> Result<DashboardView, AnalyticsError> {
    let owner: Option<Uuid> = row.try_get("user_id")?;
    let shared: bool = row.try_get("shared")?;
    let config: serde_json::Value = row.try_get("config")?;
    let mine = owner == Some(viewer.user_id);
    Ok(DashboardView {
        dashboard_id: row.try_get("dashboard_id")?,
        name: row.try_get("name")?,
        // Rows written before this version may hold any JSON: shown empty, not an error.
        config: serde_json::from_value(config).unwrap_or_default(),
        is_default: row.try_get::<_, bool>("is_default")? && mine,
        shared,
        mine,
        editable: mine || (shared && viewer.role == Role::Admin),
        owner_email: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The caller's dashboards and the tenant's shared ones: the default first, then by name.
pub async fn list(db: &Client, viewer: Viewer) -> Result<DashboardList, AnalyticsError> {
    let rows = db
        .query(
            &format!(
                "{SELECT} where d.user_id = $1 or d.shared \
                 order by (d.user_id = $1 and d.is_default) desc, lower(d.name), d.dashboard_id"
            ),
            &[&viewer.user_id],
        )
        .await?;
    Ok(DashboardList {
        dashboards: rows
            .iter()
            .map(|r| view(r, viewer))
            .collect::<Result<_, _>>()?,
    })
}

/// A dashboard the caller can see; another user's private one does not exist for them.
pub async fn get(
    db: &impl GenericClient,
    viewer: Viewer,
    raw_id: &str,
) -> Result<DashboardView, AnalyticsError> {
    let id = parse_id(raw_id)?;
    let row = db
        .query_opt(
            &format!("{SELECT} where d.dashboard_id = $1 and (d.user_id = $2 or d.shared)"),
            &[&id, &viewer.user_id],
        )
        .await?
        .ok_or(AnalyticsError::DashboardNotFound)?;
    view(&row, viewer)
}

fn parse_id(raw: &str) -> Result<Uuid, AnalyticsError> {
    Uuid::parse_str(raw).map_err(|_| AnalyticsError::InvalidDashboardId)
}

fn may_share(viewer: Viewer, input: &DashboardInput) -> Result<(), AnalyticsError> {
    if input.shared && viewer.role != Role::Admin {
        return Err(AnalyticsError::DashboardForbidden(
            "only admins share dashboards with the tenant",
        ));
    }
    Ok(())
}

/// Creates a dashboard owned by the caller.
pub async fn create(
    db: &mut Client,
    viewer: Viewer,
    input: &DashboardInput,
) -> Result<DashboardView, AnalyticsError> {
    may_share(viewer, input)?;
    let tx = db.transaction().await?;
    let owned: i64 = tx
        .query_one(
            "select count(*) from dashboard_configs where user_id = $1",
            &[&viewer.user_id],
        )
        .await?
        .try_get(0)?;
    if owned >= MAX_PER_USER {
        return Err(AnalyticsError::InvalidDashboard(
            "name: you already have 100 dashboards; delete one first".into(),
        ));
    }
    if input.is_default {
        clear_default(&tx, viewer.user_id).await?;
    }
    let id: Uuid = tx
        .query_one(
            "insert into dashboard_configs (user_id, name, config, is_default, shared) \
             values ($1, $2, $3, $4, $5) returning dashboard_id",
            &[
                &viewer.user_id,
                &input.name.trim(),
                &config_json(input),
                &input.is_default,
                &input.shared,
            ],
        )
        .await
        .map_err(default_race)?
        .try_get(0)?;
    let view = get(&tx, viewer, &id.to_string()).await?;
    tx.commit().await.map_err(default_race)?;
    Ok(view)
}

/// Replaces a dashboard's name, content and flags.
pub async fn update(
    db: &mut Client,
    viewer: Viewer,
    raw_id: &str,
    input: &DashboardInput,
) -> Result<DashboardView, AnalyticsError> {
    may_share(viewer, input)?;
    let tx = db.transaction().await?;
    let current = editable(&tx, viewer, raw_id).await?;
    if input.is_default && !current.mine {
        return Err(AnalyticsError::DashboardForbidden(
            "only your own dashboards can be your default",
        ));
    }
    if input.is_default {
        clear_default(&tx, viewer.user_id).await?;
    }
    tx.execute(
        "update dashboard_configs set name = $2, config = $3, is_default = $4, shared = $5, \
             updated_at = now() \
         where dashboard_id = $1",
        &[
            &current.dashboard_id,
            &input.name.trim(),
            &config_json(input),
            &input.is_default,
            &input.shared,
        ],
    )
    .await
    .map_err(default_race)?;
    let view = get(&tx, viewer, raw_id).await?;
    tx.commit().await.map_err(default_race)?;
    Ok(view)
}

/// Deletes a dashboard the caller may edit.
pub async fn delete(db: &mut Client, viewer: Viewer, raw_id: &str) -> Result<(), AnalyticsError> {
    let tx = db.transaction().await?;
    let current = editable(&tx, viewer, raw_id).await?;
    tx.execute(
        "delete from dashboard_configs where dashboard_id = $1",
        &[&current.dashboard_id],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The dashboard, locked, if the caller may change it: 404 if they cannot see it, 403 if they
/// can only read it.
async fn editable(
    tx: &tokio_postgres::Transaction<'_>,
    viewer: Viewer,
    raw_id: &str,
) -> Result<DashboardView, AnalyticsError> {
    let id = parse_id(raw_id)?;
    tx.execute(
        "select 1 from dashboard_configs where dashboard_id = $1 for update",
        &[&id],
    )
    .await?;
    let current = get(tx, viewer, raw_id).await?;
    if !current.editable {
        return Err(AnalyticsError::DashboardForbidden(
            "a shared dashboard is changed by its owner or an admin",
        ));
    }
    Ok(current)
}

async fn clear_default(
    tx: &tokio_postgres::Transaction<'_>,
    user_id: Uuid,
) -> Result<(), AnalyticsError> {
    tx.execute(
        "update dashboard_configs set is_default = false where user_id = $1 and is_default",
        &[&user_id],
    )
    .await?;
    Ok(())
}

fn config_json(input: &DashboardInput) -> serde_json::Value {
    serde_json::to_value(&input.config).unwrap_or_default()
}

/// A concurrent request made another default first: the unique index refused this one.
fn default_race(e: tokio_postgres::Error) -> AnalyticsError {
    if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        AnalyticsError::DefaultConflict
    } else {
        AnalyticsError::Database(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<DashboardInput, String> {
        DashboardInput::parse(&json).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_dashboard_parses() {
        let input = parse(serde_json::json!({
            "name": "Monthly",
            "is_default": true,
            "config": {
                "filters": {"from": "2025-01", "to": "2025-12", "vendor": "boxnox"},
                "widgets": [
                    {"kind": "summary"},
                    {"kind": "sales_chart", "group_by": "month,reseller"},
                    {"kind": "top_products", "metric": "units", "limit": 10},
                    {"kind": "ecommerce", "group_by": "country"}
                ]
            }
        }))
        .unwrap();
        assert_eq!(input.config.widgets.len(), 4);
        assert!(input.is_default && !input.shared);
    }

    #[test]
    fn each_problem_names_its_field() {
        let cases = [
            (serde_json::json!({"name": ""}), "name"),
            (serde_json::json!({"name": "x", "colour": 1}), "colour"),
            (
                serde_json::json!({"name": "x", "config": {"filters": {"from": "2025-13"}}}),
                "config.filters.from",
            ),
            (
                serde_json::json!({"name": "x", "config": {"filters": {"from": "2025-05", "to": "2025-01"}}}),
                "config.filters",
            ),
            (
                serde_json::json!({"name": "x", "config": {"widgets": [{"kind": "pie"}]}}),
                "config.widgets[0].kind",
            ),
            (
                serde_json::json!({"name": "x", "config": {"widgets": [{"kind": "sales_chart", "group_by": "week"}]}}),
                "config.widgets[0].group_by",
            ),
            (
                serde_json::json!({"name": "x", "config": {"widgets": [{"kind": "ecommerce", "group_by": "vendor"}]}}),
                "config.widgets[0].group_by",
            ),
            (
                serde_json::json!({"name": "x", "config": {"widgets": [{"kind": "top_products", "limit": 0}]}}),
                "config.widgets[0].limit",
            ),
            (
                serde_json::json!({"name": "x", "config": {"widgets": [{"kind": "top_products", "metric": "x"}]}}),
                "config.widgets[0].metric",
            ),
        ];
        for (json, field) in cases {
            let err = parse(json.clone()).unwrap_err();
            assert!(err.contains(field), "{json}: {err}");
        }
        let many = serde_json::json!({"name": "x", "config": {"widgets": vec![serde_json::json!({"kind": "summary"}); 25]}});
        assert!(parse(many).unwrap_err().contains("config.widgets"));
    }
}

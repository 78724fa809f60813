//! The analytics questions as SQL over the rollups: grouped figures (one or two dimensions,
//! sorted, paginated), top-N, and the period summary with its comparison. Each query reads the
//! smallest rollup that holds the dimensions it groups and filters by
//! ([`crate::ingest::rollup`]); none reads raw rows.

use chrono::Datelike;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use crate::analytics::AnalyticsError;
use crate::analytics::filters::{
    Dataset, Dimension, Filters, GroupedQuery, Month, Period, Sort, TopQuery,
};
use crate::domain::cursor;
use crate::ingest::rollup::Rollup;
use crate::ingest::vendor::Target;

/// One group's figures. Only the grouped dimensions are present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GroupRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "2025-03")]
    pub month: Option<Month>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reseller: Option<String>,
    /// The product's EAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The product's name, when the tenant has one for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// EUR, a decimal string.
    #[schema(value_type = String, example = "1234.50")]
    pub revenue: Decimal,
    pub units: i64,
    /// E-commerce only: the number of orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders: Option<i64>,
}

/// A page of grouped figures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupPage {
    pub period: Period,
    pub group_by: Vec<Dimension>,
    pub sort: Sort,
    pub rows: Vec<GroupRow>,
    pub next_cursor: Option<String>,
}

/// The largest groups by a metric.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TopList {
    pub period: Period,
    pub metric: Sort,
    pub rows: Vec<GroupRow>,
}

/// The figures of one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub period: Period,
    #[schema(value_type = String, example = "1234.50")]
    pub revenue: Decimal,
    pub units: i64,
    /// Distinct products with sales.
    pub products: i64,
    /// Distinct resellers with sales.
    pub resellers: i64,
    /// Revenue per unit, EUR; null without units.
    #[schema(value_type = Option<String>, example = "24.69")]
    pub average_price: Option<Decimal>,
}

/// Change from the previous period in percent (one decimal); null when the previous was zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Change {
    #[schema(value_type = Option<String>, example = "12.5")]
    pub revenue_pct: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub units_pct: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub products_pct: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub resellers_pct: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub average_price_pct: Option<Decimal>,
}

/// The best month, reseller and product of the period, by revenue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Best {
    pub month: Option<GroupRow>,
    pub reseller: Option<GroupRow>,
    pub product: Option<GroupRow>,
}

/// `GET /api/analytics/summary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub current: Figures,
    /// The period of equal length just before.
    pub previous: Figures,
    pub change: Change,
    pub best: Best,
}

/// Where a page starts.
#[derive(Serialize, Deserialize)]
struct PageCursor {
    offset: i64,
}

/// Resolves the period a request covers: `to` defaults to the latest month with data (this
/// month for a tenant without any), `from` to 11 months before `to`.
pub async fn period(
    db: &impl GenericClient,
    dataset: Dataset,
    filters: &Filters,
) -> Result<Period, AnalyticsError> {
    if let (Some(from), Some(to)) = (filters.from, filters.to) {
        return Ok(Period { from, to });
    }
    let to = match filters.to {
        Some(to) => to,
        None => {
            let latest = latest_month(db, dataset).await?.unwrap_or_else(this_month);
            filters.from.map_or(latest, |from| from.max(latest))
        }
    };
    let from = filters.from.unwrap_or_else(|| to.plus(-11));
    Ok(Period { from, to })
}

fn this_month() -> Month {
    let today = chrono::Utc::now().date_naive();
    Month {
        year: i16::try_from(today.year()).unwrap_or(2000),
        month: i16::try_from(today.month()).unwrap_or(1),
    }
}

async fn latest_month(
    db: &impl GenericClient,
    dataset: Dataset,
) -> Result<Option<Month>, AnalyticsError> {
    let table = rollups(dataset)[0].table;
    let row = db
        .query_opt(
            &format!("select year, month from {table} order by year desc, month desc limit 1"),
            &[],
        )
        .await?;
    Ok(row.map(|r| Month {
        year: r.get(0),
        month: r.get(1),
    }))
}

fn rollups(dataset: Dataset) -> &'static [Rollup] {
    match dataset {
        Dataset::Sales => Target::Sellout.rollups(),
        Dataset::Ecommerce => Target::Ecommerce.rollups(),
    }
}

/// A statement being built with its parameters.
#[derive(Default)]
struct Sql {
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Sql {
    fn bind<T: ToSql + Sync + Send + 'static>(&mut self, value: T) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The smallest rollup of `dataset` holding every dimension in `grouping` and `filters`.
fn rollup_for(dataset: Dataset, grouping: &[Dimension], filters: &Filters) -> &'static Rollup {
    let all = rollups(dataset);
    let needed: Vec<&str> = grouping
        .iter()
        .copied()
        .chain(filters.values().map(|(d, _)| d))
        .flat_map(Dimension::columns)
        .copied()
        .collect();
    all.iter()
        .find(|r| needed.iter().all(|c| r.keys.contains(c)))
        .unwrap_or(&all[all.len() - 1])
}

/// `where` for the period and the dimension filters.
fn where_clause(sql: &mut Sql, filters: &Filters, period: Period) -> String {
    let mut parts = vec![format!(
        "(year, month) >= ({}::smallint, {}::smallint) and (year, month) <= ({}::smallint, {}::smallint)",
        sql.bind(period.from.year),
        sql.bind(period.from.month),
        sql.bind(period.to.year),
        sql.bind(period.to.month),
    )];
    for (dimension, value) in filters.values() {
        let column = dimension.columns()[0];
        parts.push(format!("{column} = {}", sql.bind(value.to_owned())));
    }
    parts.join(" and ")
}

/// The grouped figures, one query: `limit` rows from `offset`, plus one to tell whether more
/// follow.
struct Grouped<'a> {
    dataset: Dataset,
    filters: &'a Filters,
    period: Period,
    grouping: &'a [Dimension],
    sort: Sort,
    /// Every group when `None` (exports).
    limit: Option<i64>,
    offset: i64,
}

impl Grouped<'_> {
    fn statement(&self) -> (String, Sql) {
        let rollup = rollup_for(self.dataset, self.grouping, self.filters);
        let mut sql = Sql::default();
        let keys: Vec<&str> = self
            .grouping
            .iter()
            .flat_map(|d| d.columns())
            .copied()
            .collect();
        let key_list = keys.join(", ");
        let order = |prefix: &str| {
            let by_key = keys
                .iter()
                .map(|k| format!("{prefix}{k}"))
                .collect::<Vec<_>>()
                .join(", ");
            match self.sort {
                Sort::Revenue => format!("{prefix}revenue desc, {by_key}"),
                Sort::Units => format!("{prefix}units desc, {by_key}"),
                Sort::Key => by_key,
            }
        };
        let orders = if rollup.count == "orders" {
            ", sum(orders)::bigint as orders"
        } else {
            ", null::bigint as orders"
        };
        let filter = where_clause(&mut sql, self.filters, self.period);
        let page = match self.limit {
            Some(limit) => format!(
                "limit {} offset {}",
                sql.bind(limit + 1),
                sql.bind(self.offset)
            ),
            None => String::new(),
        };
        // Names are looked up for the page's rows only.
        let (name, join) = if self.grouping.contains(&Dimension::Product) {
            (
                "p.functional_name",
                "left join products p on p.ean = g.product_ean",
            )
        } else {
            ("null::text", "")
        };
        let text = format!(
            "select g.*, {name} as product_name from ( \
                 select {key_list}, sum(sales_eur) as revenue, sum(quantity)::bigint as units \
                        {orders} \
                 from {table} where {filter} group by {key_list} \
                 order by {inner} {page} \
             ) g {join} order by {outer}",
            table = rollup.table,
            inner = order(""),
            outer = order("g."),
        );
        (text, sql)
    }

    async fn run(&self, db: &impl GenericClient) -> Result<Vec<GroupRow>, AnalyticsError> {
        let (text, sql) = self.statement();
        let rows = db.query(&text, &sql.params()).await?;
        rows.iter()
            .map(|row| decode_row(self.grouping, row))
            .collect::<Result<_, _>>()
    }
}

/// A result row of `grouping`'s dimensions and the figures.
fn decode_row(
    grouping: &[Dimension],
    row: &tokio_postgres::Row,
) -> Result<GroupRow, AnalyticsError> {
    let text = |d: Dimension| -> Result<Option<String>, tokio_postgres::Error> {
        if grouping.contains(&d) {
            row.try_get(d.columns()[0]).map(Some)
        } else {
            Ok(None)
        }
    };
    Ok(GroupRow {
        month: if grouping.contains(&Dimension::Month) {
            Some(Month {
                year: row.try_get("year")?,
                month: row.try_get("month")?,
            })
        } else {
            None
        },
        vendor: text(Dimension::Vendor)?,
        reseller: text(Dimension::Reseller)?,
        product: text(Dimension::Product)?,
        product_name: row.try_get("product_name")?,
        country: text(Dimension::Country)?,
        revenue: row.try_get("revenue")?,
        units: row.try_get("units")?,
        orders: row.try_get("orders")?,
    })
}

/// One page of a grouped question.
pub async fn grouped(
    db: &impl GenericClient,
    question: &GroupedQuery,
) -> Result<GroupPage, AnalyticsError> {
    let offset = match &question.cursor {
        Some(c) => cursor::decode::<PageCursor>(c)?.offset.max(0),
        None => 0,
    };
    let limit = question.limit;
    let period = period(db, question.dataset, &question.filters).await?;
    let query = Grouped {
        dataset: question.dataset,
        filters: &question.filters,
        period,
        grouping: question.grouping.dimensions(),
        sort: question.sort,
        limit: Some(limit),
        offset,
    };
    let mut rows = query.run(db).await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(GroupPage {
        period,
        group_by: question.grouping.dimensions().to_vec(),
        sort: question.sort,
        rows,
        next_cursor: more.then(|| {
            cursor::encode(&PageCursor {
                offset: offset + limit,
            })
        }),
    })
}

/// Every group of a grouped question (its page and cursor aside), in order, handed to `each` as
/// it arrives from the database (exports: constant memory whatever the number of groups).
/// Returns the period covered.
pub async fn each_group(
    db: &impl GenericClient,
    question: &GroupedQuery,
    mut each: impl FnMut(&GroupRow) -> Result<(), AnalyticsError>,
) -> Result<Period, AnalyticsError> {
    let period = period(db, question.dataset, &question.filters).await?;
    let query = Grouped {
        dataset: question.dataset,
        filters: &question.filters,
        period,
        grouping: question.grouping.dimensions(),
        sort: question.sort,
        limit: None,
        offset: 0,
    };
    let (text, sql) = query.statement();
    let rows = db.query_raw(&text, sql.params()).await?;
    futures_util::pin_mut!(rows);
    while let Some(row) = futures_util::TryStreamExt::try_next(&mut rows).await? {
        each(&decode_row(query.grouping, &row)?)?;
    }
    Ok(period)
}

/// The `limit` largest groups of one dimension by `metric`.
pub async fn top(db: &impl GenericClient, question: &TopQuery) -> Result<TopList, AnalyticsError> {
    let period = period(db, Dataset::Sales, &question.filters).await?;
    let mut rows = Grouped {
        dataset: Dataset::Sales,
        filters: &question.filters,
        period,
        grouping: &[question.dimension],
        sort: question.metric,
        limit: Some(question.limit),
        offset: 0,
    }
    .run(db)
    .await?;
    rows.truncate(usize::try_from(question.limit).unwrap_or(usize::MAX));
    Ok(TopList {
        period,
        metric: question.metric,
        rows,
    })
}

/// One dimension's groups over a period, seen whole: the number of (named) groups, the totals,
/// and the largest group by revenue. One aggregation answers all three.
struct Spread {
    groups: i64,
    revenue: Decimal,
    units: i64,
    best: Option<GroupRow>,
}

async fn spread(
    db: &impl GenericClient,
    filters: &Filters,
    period: Period,
    dimension: Dimension,
) -> Result<Spread, AnalyticsError> {
    let grouping = [dimension];
    let rollup = rollup_for(Dataset::Sales, &grouping, filters);
    let mut sql = Sql::default();
    let filter = where_clause(&mut sql, filters, period);
    let keys = dimension.columns().join(", ");
    let named = if dimension == Dimension::Month {
        "true".to_owned()
    } else {
        format!("{keys} <> ''")
    };
    // One aggregation; the totals read it whole, the best group is picked from it, and only
    // that one row is joined to its product name.
    let text = format!(
        "with g as ( \
             select {keys}, {named} as named, sum(sales_eur) as revenue, \
                    sum(quantity)::bigint as units \
             from {table} where {filter} group by {keys} \
         ), best as ( \
             select * from g where named order by revenue desc, {keys} limit 1 \
         ) \
         select t.groups, t.total_revenue, t.total_units, b.*, {name} as product_name, \
                null::bigint as orders \
         from (select count(*) filter (where named) as groups, \
                      coalesce(sum(revenue), 0) as total_revenue, \
                      coalesce(sum(units), 0) as total_units from g) t \
         left join best b on true",
        table = rollup.table,
        name = if dimension == Dimension::Product {
            "(select functional_name from products p where p.ean = b.product_ean)"
        } else {
            "null::text"
        },
    );
    let row = db.query_one(&text, &sql.params()).await?;
    let named: Option<bool> = row.try_get("named")?;
    let total_units: Decimal = row.try_get("total_units")?;
    Ok(Spread {
        groups: row.try_get("groups")?,
        revenue: row.try_get("total_revenue")?,
        units: i64::try_from(total_units).unwrap_or(i64::MAX),
        best: if named == Some(true) {
            Some(decode_row(&grouping, &row)?)
        } else {
            None
        },
    })
}

/// The period's figures, the previous period's, the change and the best month, reseller and
/// product. A tenant without data gets zeros.
pub async fn summary(
    db: &impl GenericClient,
    filters: &Filters,
) -> Result<Summary, AnalyticsError> {
    let current = period(db, Dataset::Sales, filters).await?;
    let previous = current.previous();
    let (resellers, products, months, prev_resellers, prev_products) = futures_util::try_join!(
        spread(db, filters, current, Dimension::Reseller),
        spread(db, filters, current, Dimension::Product),
        spread(db, filters, current, Dimension::Month),
        spread(db, filters, previous, Dimension::Reseller),
        spread(db, filters, previous, Dimension::Product),
    )?;
    let figures = |period, totals: &Spread, products: &Spread| Figures {
        period,
        revenue: totals.revenue,
        units: totals.units,
        products: products.groups,
        resellers: totals.groups,
        average_price: (totals.units > 0).then(|| {
            (totals.revenue / Decimal::from(totals.units))
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        }),
    };
    let now = figures(current, &resellers, &products);
    let before = figures(previous, &prev_resellers, &prev_products);
    let change = Change {
        revenue_pct: pct(now.revenue, before.revenue),
        units_pct: pct(now.units.into(), before.units.into()),
        products_pct: pct(now.products.into(), before.products.into()),
        resellers_pct: pct(now.resellers.into(), before.resellers.into()),
        average_price_pct: match (now.average_price, before.average_price) {
            (Some(a), Some(b)) => pct(a, b),
            _ => None,
        },
    };
    Ok(Summary {
        current: now,
        previous: before,
        change,
        best: Best {
            month: months.best,
            reseller: resellers.best,
            product: products.best,
        },
    })
}

/// `(now − before) / before` in percent, one decimal; none when `before` is zero.
fn pct(now: Decimal, before: Decimal) -> Option<Decimal> {
    (!before.is_zero()).then(|| {
        ((now - before) * Decimal::ONE_HUNDRED / before)
            .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(reseller: Option<&str>, product: Option<&str>) -> Filters {
        Filters {
            reseller: reseller.map(str::to_owned),
            product: product.map(str::to_owned),
            ..Filters::default()
        }
    }

    #[test]
    fn each_question_reads_the_smallest_rollup_that_holds_its_dimensions() {
        let table = |g: &[Dimension], f: &Filters| rollup_for(Dataset::Sales, g, f).table;
        let none = Filters::default();
        assert_eq!(
            table(&[Dimension::Month], &none),
            "sales_monthly_by_reseller"
        );
        assert_eq!(
            table(&[Dimension::Month, Dimension::Vendor], &none),
            "sales_monthly_by_reseller"
        );
        assert_eq!(
            table(&[Dimension::Product], &none),
            "sales_monthly_by_product"
        );
        assert_eq!(
            table(&[Dimension::Month], &filters(None, Some("4006"))),
            "sales_monthly_by_product"
        );
        assert_eq!(
            table(&[Dimension::Product], &filters(Some("Douglas"), None)),
            "sales_monthly"
        );
        assert_eq!(
            table(&[Dimension::Reseller, Dimension::Product], &none),
            "sales_monthly"
        );
        assert_eq!(
            rollup_for(Dataset::Ecommerce, &[Dimension::Country], &none).table,
            "ecommerce_monthly"
        );
    }

    #[test]
    fn the_statement_binds_every_value_and_orders_deterministically() {
        let f = Filters {
            vendor: Some("x'; drop table users; --".into()),
            ..Filters::default()
        };
        let period = Period {
            from: Month::parse("2024-01").unwrap(),
            to: Month::parse("2024-12").unwrap(),
        };
        let (text, sql) = Grouped {
            dataset: Dataset::Sales,
            filters: &f,
            period,
            grouping: &[Dimension::Month, Dimension::Reseller],
            sort: Sort::Units,
            limit: Some(10),
            offset: 20,
        }
        .statement();
        assert!(!text.contains("drop table"));
        assert_eq!(sql.params.len(), 7);
        assert!(text.contains("order by g.units desc, g.year, g.month, g.reseller"));
    }

    #[test]
    fn percentages_round_and_skip_a_zero_base() {
        assert_eq!(
            pct(Decimal::from(150), Decimal::from(100)),
            Some(Decimal::from(50))
        );
        assert_eq!(
            pct(Decimal::from(1), Decimal::from(3)),
            Some(Decimal::new(-667, 1))
        );
        assert_eq!(pct(Decimal::from(5), Decimal::ZERO), None);
    }
}

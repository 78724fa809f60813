//! The rollups analytics read, kept exact here: a loaded batch's rows are added in the load
//! transaction and a deleted batch's rows subtracted in the deletion transaction.
//!
//! Each target (sell-out lines, e-commerce orders) has rollups keyed by subsets of its dimensions,
//! listed smallest first; a query reads the first one whose keys hold every dimension it groups
//! or filters by. The batch's rows are grouped once into a temporary delta table at the finest
//! grain and every rollup is upserted from it, so the raw rows are read once per batch.

use uuid::Uuid;

use crate::ingest::vendor::Target;

/// One rollup table: the columns it is keyed by (`year`, `month` and dimensions) and the column
/// counting the raw rows behind each of its rows (a group emptied by deletions is removed even
/// when its sums are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollup {
    pub table: &'static str,
    pub keys: &'static [&'static str],
    pub count: &'static str,
}

/// Sell-out rollups, smallest first: months × vendors × resellers, months × vendors × products,
/// and the full grain.
pub const SELLOUT: &[Rollup] = &[
    Rollup {
        table: "sales_monthly_by_reseller",
        keys: &["year", "month", "vendor_name", "reseller"],
        count: "entries",
    },
    Rollup {
        table: "sales_monthly_by_product",
        keys: &["year", "month", "vendor_name", "product_ean"],
        count: "entries",
    },
    Rollup {
        table: "sales_monthly",
        keys: &["year", "month", "vendor_name", "reseller", "product_ean"],
        count: "entries",
    },
];

/// The e-commerce rollup: months × countries × products.
pub const ECOMMERCE: &[Rollup] = &[Rollup {
    table: "ecommerce_monthly",
    keys: &["year", "month", "country", "product_ean"],
    count: "orders",
}];

impl Target {
    /// Its rollups, smallest first.
    pub fn rollups(self) -> &'static [Rollup] {
        match self {
            Self::Sellout => SELLOUT,
            Self::Ecommerce => ECOMMERCE,
        }
    }

    /// The temporary delta table's columns: the finest grain, then the sums.
    fn delta_columns(self) -> &'static str {
        match self {
            Self::Sellout => {
                "year smallint, month smallint, vendor_name text, reseller text, \
                 product_ean text, quantity bigint, sales_eur numeric, n bigint"
            }
            Self::Ecommerce => {
                "year smallint, month smallint, country text, product_ean text, \
                 quantity bigint, sales_eur numeric, n bigint"
            }
        }
    }

    /// Fills the delta with the batch (`$1`) grouped at the finest grain.
    fn fill_delta(self) -> &'static str {
        match self {
            Self::Sellout => {
                "insert into batch_delta \
                 select year, month, vendor_name, coalesce(reseller, ''), \
                        coalesce(product_ean, ''), sum(quantity), coalesce(sum(sales_eur), 0), \
                        count(*) \
                 from sellout_entries where batch_id = $1 group by 1, 2, 3, 4, 5"
            }
            Self::Ecommerce => {
                "insert into batch_delta \
                 select extract(year from order_date)::smallint, \
                        extract(month from order_date)::smallint, coalesce(country, ''), \
                        coalesce(product_ean, ''), sum(quantity), coalesce(sum(sales_eur), 0), \
                        count(*) \
                 from ecommerce_orders where batch_id = $1 group by 1, 2, 3, 4"
            }
        }
    }
}

/// Adds a batch's rows (already in the raw table) to every rollup of `target`.
pub(crate) async fn add(
    tx: &tokio_postgres::Transaction<'_>,
    target: Target,
    batch_id: &Uuid,
) -> Result<(), tokio_postgres::Error> {
    apply(tx, target, batch_id, Change::Add).await
}

/// Subtracts a batch's rows (still in the raw table) from every rollup of `target`, removing the
/// groups they emptied.
pub(crate) async fn remove(
    tx: &tokio_postgres::Transaction<'_>,
    target: Target,
    batch_id: &Uuid,
) -> Result<(), tokio_postgres::Error> {
    apply(tx, target, batch_id, Change::Remove).await
}

#[derive(Clone, Copy)]
enum Change {
    Add,
    Remove,
}

async fn apply(
    tx: &tokio_postgres::Transaction<'_>,
    target: Target,
    batch_id: &Uuid,
    change: Change,
) -> Result<(), tokio_postgres::Error> {
    tx.batch_execute(&format!(
        "create temp table batch_delta ({}) on commit drop",
        target.delta_columns()
    ))
    .await?;
    tx.execute(target.fill_delta(), &[batch_id]).await?;
    tx.batch_execute("analyze batch_delta").await?;
    for rollup in target.rollups() {
        tx.batch_execute(&statement(rollup, change)).await?;
    }
    tx.batch_execute("drop table batch_delta").await
}

/// The SQL that adds the delta to (or subtracts it from) one rollup.
fn statement(rollup: &Rollup, change: Change) -> String {
    let Rollup { table, keys, count } = rollup;
    let key_list = keys.join(", ");
    let grouped = format!(
        "select {key_list}, sum(quantity) as quantity, sum(sales_eur) as sales_eur, \
         sum(n) as n from batch_delta group by {key_list}"
    );
    match change {
        // In key order: the rollup's primary key is then filled page after page, not at random.
        Change::Add => format!(
            "insert into {table} as m ({key_list}, quantity, sales_eur, {count}) {grouped} \
             order by {key_list} \
             on conflict ({key_list}) do update \
             set quantity = m.quantity + excluded.quantity, \
                 sales_eur = m.sales_eur + excluded.sales_eur, \
                 {count} = m.{count} + excluded.{count}"
        ),
        Change::Remove => {
            let matched = keys
                .iter()
                .map(|k| format!("m.{k} = d.{k}"))
                .collect::<Vec<_>>()
                .join(" and ");
            format!(
                "update {table} m set quantity = m.quantity - d.quantity, \
                     sales_eur = m.sales_eur - d.sales_eur, {count} = m.{count} - d.n \
                 from ({grouped}) d where {matched}; \
                 delete from {table} m using ({grouped}) d where {matched} and m.{count} <= 0"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollups_are_listed_smallest_first_and_end_with_the_finest_grain() {
        for target in [Target::Sellout, Target::Ecommerce] {
            let rollups = target.rollups();
            let finest = rollups.last().expect("a rollup");
            for r in rollups {
                assert!(r.keys.starts_with(&["year", "month"]), "{}", r.table);
                assert!(
                    r.keys.iter().all(|k| finest.keys.contains(k)),
                    "{}",
                    r.table
                );
                assert!(r.keys.len() <= finest.keys.len());
            }
            assert!(
                finest
                    .keys
                    .iter()
                    .all(|k| target.delta_columns().contains(k))
            );
        }
    }

    #[test]
    fn removal_matches_every_key_and_drops_emptied_groups() {
        let sql = statement(&SELLOUT[0], Change::Remove);
        assert!(sql.contains("m.reseller = d.reseller"));
        assert!(sql.contains("m.vendor_name = d.vendor_name"));
        assert!(sql.contains("m.entries <= 0"));
        let sql = statement(&ECOMMERCE[0], Change::Add);
        assert!(sql.contains("orders = m.orders + excluded.orders"));
    }
}

//! Grouped figures as CSV a spreadsheet opens correctly: UTF-8 with a byte-order mark, ISO
//! months (`2025-03`), amounts with a decimal point and no thousands separator, and text cells
//! that cannot run as formulas. Rows are written as they arrive, so memory stays flat whatever
//! the number of groups.

use std::io::Write;

use tokio_postgres::GenericClient;

use crate::analytics::AnalyticsError;
use crate::analytics::filters::{Dataset, Dimension, GroupedQuery, Grouping, Period};
use crate::analytics::query::{self, GroupRow};
use crate::domain::spreadsheet;

/// What was written.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    pub period: Period,
    pub rows: u64,
}

/// A large export's answer (`303`, with the URL also in `Location`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ExportLink {
    pub download_url: String,
    pub expires_in_seconds: u64,
    pub rows: u64,
    pub bytes: u64,
}

/// Writes the header and every group of `question` to `out`.
pub async fn write_csv<W: Write>(
    db: &impl GenericClient,
    question: &GroupedQuery,
    out: W,
) -> Result<Written, AnalyticsError> {
    let (dataset, grouping) = (question.dataset, &question.grouping);
    let mut out = std::io::BufWriter::new(out);
    out.write_all(spreadsheet::BOM)?;
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(header(dataset, grouping))?;
    let mut rows = 0u64;
    let period = query::each_group(db, question, |row| {
        csv.write_record(record(dataset, grouping, row))?;
        rows += 1;
        Ok(())
    })
    .await?;
    csv.flush()?;
    Ok(Written { period, rows })
}

fn header(dataset: Dataset, grouping: &Grouping) -> Vec<&'static str> {
    let mut names = Vec::new();
    for dimension in grouping.dimensions() {
        match dimension {
            Dimension::Product => names.extend(["product_ean", "product_name"]),
            other => names.push(other.name()),
        }
    }
    names.extend(["revenue_eur", "units"]);
    if dataset == Dataset::Ecommerce {
        names.push("orders");
    }
    names
}

fn record(dataset: Dataset, grouping: &Grouping, row: &GroupRow) -> Vec<String> {
    let text =
        |v: &Option<String>| spreadsheet::cell(v.as_deref().unwrap_or_default()).into_owned();
    let mut cells = Vec::new();
    for dimension in grouping.dimensions() {
        match dimension {
            Dimension::Month => cells.push(row.month.map(|m| m.to_string()).unwrap_or_default()),
            Dimension::Vendor => cells.push(text(&row.vendor)),
            Dimension::Reseller => cells.push(text(&row.reseller)),
            Dimension::Product => {
                cells.push(text(&row.product));
                cells.push(text(&row.product_name));
            }
            Dimension::Country => cells.push(text(&row.country)),
        }
    }
    cells.push(row.revenue.to_string());
    cells.push(row.units.to_string());
    if dataset == Dataset::Ecommerce {
        cells.push(row.orders.unwrap_or_default().to_string());
    }
    cells
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::analytics::filters::Month;

    #[test]
    fn records_follow_the_header_and_cannot_run_formulas() {
        let grouping = Grouping::parse("month,product", Dataset::Sales).unwrap();
        let row = GroupRow {
            month: Month::parse("2025-03"),
            vendor: None,
            reseller: None,
            product: Some("4006381333931".into()),
            product_name: Some("=HYPERLINK(\"x\")".into()),
            country: None,
            revenue: Decimal::new(123_456_789, 2),
            units: -3,
            orders: None,
        };
        let header = header(Dataset::Sales, &grouping);
        let record = record(Dataset::Sales, &grouping, &row);
        assert_eq!(
            header,
            [
                "month",
                "product_ean",
                "product_name",
                "revenue_eur",
                "units"
            ]
        );
        assert_eq!(
            record,
            [
                "2025-03",
                "4006381333931",
                "'=HYPERLINK(\"x\")",
                "1234567.89",
                "-3"
            ]
        );
    }
}

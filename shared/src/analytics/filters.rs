//! What an analytics request asks for, validated: the period (`from`/`to` as `YYYY-MM`), the
//! dimension filters, the grouping, the order and the page. Every refusal names its parameter.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::analytics::AnalyticsError;

/// A calendar month, `YYYY-MM` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i16,
    pub month: i16,
}

impl Month {
    /// `YYYY-MM`, years 2000–2100 (the rollups' range).
    pub fn parse(raw: &str) -> Option<Self> {
        let (year, month) = raw.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let year: i16 = year.parse().ok()?;
        let month: i16 = month.parse().ok()?;
        ((2000..=2100).contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    /// Months since year 0: consecutive months are consecutive numbers.
    pub fn index(self) -> i32 {
        i32::from(self.year) * 12 + i32::from(self.month) - 1
    }

    /// The month `index` (see [`Month::index`]), clamped to the supported years.
    pub fn from_index(index: i32) -> Self {
        let index = index.clamp(2000 * 12, 2100 * 12 + 11);
        Self {
            year: i16::try_from(index / 12).unwrap_or(2000),
            month: i16::try_from(index % 12 + 1).unwrap_or(1),
        }
    }

    pub fn plus(self, months: i32) -> Self {
        Self::from_index(self.index() + months)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("a month is YYYY-MM"))
    }
}

impl utoipa::PartialSchema for Month {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^\d{4}-(0[1-9]|1[0-2])$"))
            .examples([serde_json::json!("2025-03")])
            .into()
    }
}

impl utoipa::ToSchema for Month {}

/// A whole number of months, `from` to `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Period {
    pub from: Month,
    pub to: Month,
}

impl Period {
    pub fn months(self) -> i32 {
        self.to.index() - self.from.index() + 1
    }

    /// The period of equal length just before this one.
    pub fn previous(self) -> Self {
        let n = self.months();
        Self {
            from: self.from.plus(-n),
            to: self.from.plus(-1),
        }
    }
}

/// What rows can be grouped and filtered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Month,
    Vendor,
    Reseller,
    Product,
    Country,
}

impl Dimension {
    pub fn name(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Vendor => "vendor",
            Self::Reseller => "reseller",
            Self::Product => "product",
            Self::Country => "country",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [
            Self::Month,
            Self::Vendor,
            Self::Reseller,
            Self::Product,
            Self::Country,
        ]
        .into_iter()
        .find(|d| d.name() == raw)
    }

    /// The rollup key columns that hold it.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Month => &["year", "month"],
            Self::Vendor => &["vendor_name"],
            Self::Reseller => &["reseller"],
            Self::Product => &["product_ean"],
            Self::Country => &["country"],
        }
    }
}

/// Which data a request reads: sell-out lines or e-commerce orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    Sales,
    Ecommerce,
}

impl Dataset {
    /// The dimensions it can be grouped and filtered by.
    pub fn dimensions(self) -> &'static [Dimension] {
        match self {
            Self::Sales => &[
                Dimension::Month,
                Dimension::Vendor,
                Dimension::Reseller,
                Dimension::Product,
            ],
            Self::Ecommerce => &[Dimension::Month, Dimension::Country, Dimension::Product],
        }
    }
}

/// How grouped rows are ordered: by a figure (largest first) or by the group's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    Revenue,
    Units,
    Key,
}

/// A request's query parameters, by name.
pub trait Params {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Params for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.trim().is_empty())
    }
}

/// The longest accepted filter value (reseller names, EANs, vendor names, countries).
const MAX_FILTER_LEN: usize = 200;

/// Filters on the rows: a period (each end optional until resolved against the data) and one
/// value per dimension at most.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "2025-01")]
    pub from: Option<Month>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "2025-12")]
    pub to: Option<Month>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reseller: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Filters {
    /// `from`, `to` and the dimension filters `dataset` has.
    pub fn parse(params: &impl Params, dataset: Dataset) -> Result<Self, AnalyticsError> {
        let month = |name: &'static str| {
            params
                .get(name)
                .map(|raw| {
                    Month::parse(raw.trim()).ok_or(AnalyticsError::InvalidParameter {
                        name,
                        message: "a month as YYYY-MM (2000-01 to 2100-12)",
                    })
                })
                .transpose()
        };
        let mut filters = Self {
            from: month("from")?,
            to: month("to")?,
            ..Self::default()
        };
        for dimension in dataset.dimensions() {
            let slot = match dimension {
                Dimension::Month => continue,
                Dimension::Vendor => &mut filters.vendor,
                Dimension::Reseller => &mut filters.reseller,
                Dimension::Product => &mut filters.product,
                Dimension::Country => &mut filters.country,
            };
            *slot = params.get(dimension.name()).map(|v| v.trim().to_owned());
        }
        filters.check()?;
        Ok(filters)
    }

    /// The rules `parse` applies, for filters that arrive as JSON (saved dashboards).
    pub fn check(&self) -> Result<(), AnalyticsError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(AnalyticsError::InvalidRange);
        }
        for (name, value) in self.values() {
            if value.chars().count() > MAX_FILTER_LEN || value.trim().is_empty() {
                return Err(AnalyticsError::InvalidParameter {
                    name: name.name(),
                    message: "1 to 200 characters",
                });
            }
        }
        Ok(())
    }

    /// The dimension filters that are set.
    pub fn values(&self) -> impl Iterator<Item = (Dimension, &str)> {
        [
            (Dimension::Vendor, &self.vendor),
            (Dimension::Reseller, &self.reseller),
            (Dimension::Product, &self.product),
            (Dimension::Country, &self.country),
        ]
        .into_iter()
        .filter_map(|(d, v)| v.as_deref().map(|v| (d, v)))
    }
}

/// One or two dimensions to group by (`group_by=month` or `group_by=month,reseller`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping(Vec<Dimension>);

impl Grouping {
    pub fn parse(raw: &str, dataset: Dataset) -> Result<Self, AnalyticsError> {
        const BAD: AnalyticsError = AnalyticsError::InvalidParameter {
            name: "group_by",
            message: "one or two distinct dimensions, comma-separated, of this dataset's",
        };
        let dims = raw
            .split(',')
            .map(|part| {
                Dimension::parse(part.trim())
                    .filter(|d| dataset.dimensions().contains(d))
                    .ok_or(BAD)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if dims.is_empty() || dims.len() > 2 || (dims.len() == 2 && dims[0] == dims[1]) {
            return Err(BAD);
        }
        Ok(Self(dims))
    }

    pub fn one(dimension: Dimension) -> Self {
        Self(vec![dimension])
    }

    pub fn dimensions(&self) -> &[Dimension] {
        &self.0
    }
}

/// `sort=revenue|units|key`; by default months in order, anything else by revenue.
fn parse_sort(raw: Option<&str>, grouping: &Grouping) -> Result<Sort, AnalyticsError> {
    match raw.map(str::trim) {
        None if grouping.dimensions().first() == Some(&Dimension::Month) => Ok(Sort::Key),
        None | Some("revenue") => Ok(Sort::Revenue),
        Some("units") => Ok(Sort::Units),
        Some("key") => Ok(Sort::Key),
        Some(_) => Err(AnalyticsError::InvalidParameter {
            name: "sort",
            message: "revenue, units or key",
        }),
    }
}

/// `metric=revenue|units` (top-N), revenue by default.
pub fn parse_metric(raw: Option<&str>) -> Result<Sort, AnalyticsError> {
    match raw.map(str::trim) {
        None | Some("revenue") => Ok(Sort::Revenue),
        Some("units") => Ok(Sort::Units),
        Some(_) => Err(AnalyticsError::InvalidParameter {
            name: "metric",
            message: "revenue or units",
        }),
    }
}

/// The most rows one page may carry.
pub const MAX_LIMIT: i64 = 1000;

/// `limit=1..1000`, `default` when absent.
fn parse_limit(raw: Option<&str>, default: i64) -> Result<i64, AnalyticsError> {
    raw.map_or(Ok(default), |raw| {
        raw.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or(AnalyticsError::InvalidParameter {
                name: "limit",
                message: "a whole number from 1 to 1000",
            })
    })
}

/// `dataset=sales|ecommerce` (exports), sales by default.
pub fn parse_dataset(raw: Option<&str>) -> Result<Dataset, AnalyticsError> {
    match raw.map(str::trim) {
        None | Some("sales") => Ok(Dataset::Sales),
        Some("ecommerce") => Ok(Dataset::Ecommerce),
        Some(_) => Err(AnalyticsError::InvalidParameter {
            name: "dataset",
            message: "sales or ecommerce",
        }),
    }
}

/// A grouped question as `…/sales`, `…/ecommerce` and `…/export.csv` take it: `group_by`
/// (required), the filters, `sort`, `limit` (default 100) and `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupedQuery {
    pub dataset: Dataset,
    pub filters: Filters,
    pub grouping: Grouping,
    pub sort: Sort,
    pub limit: i64,
    pub cursor: Option<String>,
}

impl GroupedQuery {
    pub fn parse(params: &impl Params, dataset: Dataset) -> Result<Self, AnalyticsError> {
        let filters = Filters::parse(params, dataset)?;
        let raw = params
            .get("group_by")
            .ok_or(AnalyticsError::InvalidParameter {
                name: "group_by",
                message: "given (e.g. group_by=month)",
            })?;
        let grouping = Grouping::parse(&raw, dataset)?;
        Ok(Self {
            sort: parse_sort(params.get("sort").as_deref(), &grouping)?,
            limit: parse_limit(params.get("limit").as_deref(), 100)?,
            cursor: params.get("cursor"),
            dataset,
            filters,
            grouping,
        })
    }
}

/// A top-N question (`…/top-products`, `…/top-resellers`): the filters, `metric` and `limit`
/// (default 10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopQuery {
    pub filters: Filters,
    pub dimension: Dimension,
    pub metric: Sort,
    pub limit: i64,
}

impl TopQuery {
    pub fn parse(params: &impl Params, dimension: Dimension) -> Result<Self, AnalyticsError> {
        Ok(Self {
            filters: Filters::parse(params, Dataset::Sales)?,
            dimension,
            metric: parse_metric(params.get("metric").as_deref())?,
            limit: parse_limit(params.get("limit").as_deref(), 10)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &'static [(&'static str, &'static str)]) -> impl Params {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn refused_parameter(err: AnalyticsError) -> &'static str {
        match err {
            AnalyticsError::InvalidParameter { name, .. } => name,
            AnalyticsError::InvalidRange => "range",
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn months_parse_strictly_and_count_across_years() {
        let m = Month::parse("2024-11").unwrap();
        assert_eq!(m.plus(2).to_string(), "2025-01");
        assert_eq!(m.plus(-11).to_string(), "2023-12");
        for bad in [
            "2024-13", "2024-00", "2024-1", "24-01", "1999-12", "2101-01", "2024/01", "", "-",
            "2024-011", "+024-01",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        let p = Period {
            from: Month::parse("2024-01").unwrap(),
            to: Month::parse("2024-03").unwrap(),
        };
        assert_eq!(p.months(), 3);
        assert_eq!(
            p.previous(),
            Period {
                from: Month::parse("2023-10").unwrap(),
                to: Month::parse("2023-12").unwrap()
            }
        );
    }

    #[test]
    fn every_bad_filter_names_its_parameter() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("from", "2024-13")], "from"),
            (&[("to", "soon")], "to"),
            (&[("from", "2024-05"), ("to", "2024-04")], "range"),
            (&[("reseller", "r".repeat(201).leak())], "reseller"),
        ];
        for (pairs, name) in cases {
            let pairs: &'static [(&'static str, &'static str)] = pairs.to_vec().leak();
            let err = Filters::parse(&params(pairs), Dataset::Sales).unwrap_err();
            assert_eq!(refused_parameter(err), *name);
        }
        for bad in [
            "",
            "week",
            "month,month",
            "month,reseller,product",
            "country",
            "month,",
        ] {
            let err = Grouping::parse(bad, Dataset::Sales).unwrap_err();
            assert_eq!(refused_parameter(err), "group_by", "{bad}");
        }
        assert_eq!(
            refused_parameter(Grouping::parse("vendor", Dataset::Ecommerce).unwrap_err()),
            "group_by"
        );
        for bad in ["0", "1001", "-1", "ten", "1.5"] {
            assert_eq!(
                refused_parameter(parse_limit(Some(bad), 50).unwrap_err()),
                "limit"
            );
        }
        assert_eq!(
            refused_parameter(
                parse_sort(Some("price"), &Grouping::one(Dimension::Vendor)).unwrap_err()
            ),
            "sort"
        );
        assert_eq!(
            refused_parameter(parse_metric(Some("key")).unwrap_err()),
            "metric"
        );
    }

    #[test]
    fn good_requests_parse() {
        let f = Filters::parse(
            &params(&[
                ("from", "2024-01"),
                ("to", "2024-12"),
                ("vendor", " boxnox "),
                ("country", "DE"),
            ]),
            Dataset::Sales,
        )
        .unwrap();
        assert_eq!(f.vendor.as_deref(), Some("boxnox"));
        assert_eq!(f.country, None, "sales have no country filter");
        let g = Grouping::parse("month, reseller", Dataset::Sales).unwrap();
        assert_eq!(g.dimensions(), [Dimension::Month, Dimension::Reseller]);
        assert_eq!(parse_sort(None, &g).unwrap(), Sort::Key);
        assert_eq!(
            parse_sort(None, &Grouping::one(Dimension::Product)).unwrap(),
            Sort::Revenue
        );
        assert_eq!(parse_limit(None, 50).unwrap(), 50);
        assert_eq!(parse_limit(Some("1000"), 50).unwrap(), 1000);
    }
}

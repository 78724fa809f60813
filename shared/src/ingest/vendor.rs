//! A vendor's file format, typed and validated: how the columns of one vendor's sales report map
//! to sales rows. Stored per tenant as JSONB in `vendor_configs.config_data`; [`VendorConfig::parse`]
//! is the only way in, so everything downstream (the [`mapping`](super::mapping)) trusts it.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use chrono::format::{Item, StrftimeItems};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How one vendor's report maps to sales rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VendorConfig {
    /// Which table the rows go to.
    #[serde(default)]
    pub target: Target,
    /// 0-based index of the header row; rows above it are skipped.
    #[serde(default)]
    pub header_row: usize,
    /// File header text → field. Headers are matched ignoring case and surrounding spaces.
    pub column_mapping: BTreeMap<String, Field>,
    /// Months as columns: each recognised month column of a row becomes one sales row.
    #[serde(default)]
    pub pivot_format: bool,
    /// Where a pivot file's year comes from; required exactly when `pivot_format` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pivot: Option<Pivot>,
    /// ISO 4217 code of the amounts, or the fallback when `currency_column` is set and empty.
    pub currency: String,
    /// A column holding each row's ISO 4217 currency code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_column: Option<String>,
    /// `.` or `,`.
    #[serde(default = "dot")]
    pub decimal_separator: char,
    /// One of space, `,`, `.`, `'`; none means numbers carry no grouping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thousands_separator: Option<char>,
    /// chrono strftime formats for a `date` column, tried in order before ISO `%Y-%m-%d` and
    /// Excel serial numbers.
    #[serde(default)]
    pub date_formats: Vec<String>,
    /// CSV delimiter: `,`, `;`, tab or `|`; none means detected by the reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<char>,
    /// XLSX sheet name; none means the first sheet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    #[serde(default)]
    pub validation_rules: ValidationRules,
}

/// The table a vendor's rows are loaded into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Monthly sales per product and reseller.
    #[default]
    Sellout,
    /// Dated online orders.
    Ecommerce,
}

/// What a column holds. The names are those of the stored configs, so `sales_eur` is the amount
/// in the config's currency whatever that is (converted to EUR at load time).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    ProductEan,
    FunctionalName,
    Quantity,
    SalesEur,
    Reseller,
    Month,
    Year,
    Date,
    Country,
    City,
    OrderId,
    /// A column the file has and the load skips.
    Ignore,
}

impl Field {
    /// The name used in configs, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::ProductEan => "product_ean",
            Self::FunctionalName => "functional_name",
            Self::Quantity => "quantity",
            Self::SalesEur => "sales_eur",
            Self::Reseller => "reseller",
            Self::Month => "month",
            Self::Year => "year",
            Self::Date => "date",
            Self::Country => "country",
            Self::City => "city",
            Self::OrderId => "order_id",
            Self::Ignore => "ignore",
        }
    }

    /// Whether rows of `target` have somewhere to put this field; mapping one they don't is a
    /// mistake the user should hear about rather than a silently dropped column.
    fn stored_for(self, target: Target) -> bool {
        !matches!(
            (self, target),
            (Self::Reseller | Self::Month | Self::Year, Target::Ecommerce)
                | (Self::Country | Self::City | Self::OrderId, Target::Sellout)
        )
    }
}

/// Where a pivot file's year comes from: `{"year": 2024}` or `{"year_column": "Year"}`. A month
/// header carrying its own year (`2024-01`, `Jan 2024`) wins over both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Pivot {
    #[serde(rename = "year")]
    Year(i32),
    #[serde(rename = "year_column")]
    YearColumn(String),
}

/// Per-row checks beyond the types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationRules {
    /// Fields whose cell may not be empty (quantity and the period are always required).
    #[serde(default)]
    pub required_fields: Vec<Field>,
    /// Exact number of digits of an EAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ean_length: Option<usize>,
    /// Inclusive `[first, last]` month accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month_range: Option<[u8; 2]>,
    /// Inclusive `[first, last]` year accepted; [`DEFAULT_YEAR_RANGE`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year_range: Option<[i32; 2]>,
    #[serde(default = "yes")]
    pub non_negative_quantity: bool,
    /// Accepted reseller names, compared ignoring case; empty accepts any.
    #[serde(default)]
    pub allowed_resellers: Vec<String>,
}

/// Years accepted when a config sets no `year_range`: wide enough for any real report, narrow
/// enough to catch a day number or an Excel serial read as a year.
pub const DEFAULT_YEAR_RANGE: [i32; 2] = [2000, 2100];

impl Default for ValidationRules {
    fn default() -> Self {
        Self {
            required_fields: Vec::new(),
            ean_length: None,
            month_range: None,
            year_range: None,
            non_negative_quantity: true,
            allowed_resellers: Vec::new(),
        }
    }
}

impl ValidationRules {
    /// The accepted years, with the default applied.
    pub fn year_range(&self) -> [i32; 2] {
        self.year_range.unwrap_or(DEFAULT_YEAR_RANGE)
    }

    /// The accepted months, with the default (all) applied.
    pub fn month_range(&self) -> [u8; 2] {
        self.month_range.unwrap_or([1, 12])
    }
}

fn dot() -> char {
    '.'
}

fn yes() -> bool {
    true
}

/// One thing wrong with a config, for the person editing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConfigIssue {
    /// JSON path of the offending value, e.g. `validation_rules.month_range` or
    /// `column_mapping.Sold Qty`; empty for the document itself.
    pub field: String,
    pub message: String,
}

impl ConfigIssue {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Thousands separators a config may name.
const THOUSANDS_SEPARATORS: [char; 4] = [' ', ',', '.', '\''];
/// CSV delimiters a config may name.
const DELIMITERS: [char; 4] = [',', ';', '\t', '|'];
/// Beyond this a "header row" is a misconfiguration, not a long preamble.
const MAX_HEADER_ROW: usize = 1000;
/// Longest EAN-like code accepted (GS1 codes top out at 18 digits; this leaves room).
const MAX_EAN_LENGTH: usize = 32;
/// Bounds any structural error count: each round removes one key, so this only guards
/// against pathological documents.
const MAX_STRUCTURAL_ISSUES: usize = 100;

impl VendorConfig {
    /// Parses and validates a stored or submitted config. Every problem is reported: each
    /// unknown key or wrongly typed value by its path, then (when the types are right, so
    /// defaults cannot stand in for a value the user did give) every semantic problem.
    pub fn parse(value: &Value) -> Result<Self, Vec<ConfigIssue>> {
        let (config, issues, only_unknown_keys) = Self::deserialize_reporting_all(value);
        let mut issues = issues;
        if let Some(config) = config {
            if only_unknown_keys {
                issues.extend(config.check());
            }
            if issues.is_empty() {
                return Ok(config);
            }
        }
        Err(issues)
    }

    /// The stored form: every field explicit except absent optional ones.
    pub fn to_json(&self) -> Value {
        // Serializing can only fail for non-string map keys, which this type does not have.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Deserializes, and on each structural error removes the offending key and tries again, so
    /// one round reports them all. Returns the config of the last round (if it deserialized),
    /// the issues, and whether every issue was an unknown key (whose removal changes nothing).
    fn deserialize_reporting_all(value: &Value) -> (Option<Self>, Vec<ConfigIssue>, bool) {
        let mut issues = Vec::new();
        let mut only_unknown_keys = true;
        let mut value = value.clone();
        // serde also reads a struct from an array, by position; a config is an object only.
        let Some(object) = value.as_object_mut() else {
            issues.push(ConfigIssue::new("", "a vendor config is a JSON object"));
            return (None, issues, false);
        };
        if object
            .get("validation_rules")
            .is_some_and(|rules| !rules.is_object())
        {
            issues.push(ConfigIssue::new("validation_rules", "expected an object"));
            object.remove("validation_rules");
            only_unknown_keys = false;
        }
        loop {
            let error = match serde_path_to_error::deserialize::<_, Self>(&value) {
                Ok(config) => return (Some(config), issues, only_unknown_keys),
                Err(error) => error,
            };
            let mut path: Vec<PathSegment> = error
                .path()
                .iter()
                .filter_map(|segment| match segment {
                    serde_path_to_error::Segment::Map { key } => {
                        Some(PathSegment::Key(key.clone()))
                    }
                    serde_path_to_error::Segment::Seq { index } => Some(PathSegment::Index(*index)),
                    serde_path_to_error::Segment::Enum { variant } => {
                        Some(PathSegment::Variant(variant.clone()))
                    }
                    serde_path_to_error::Segment::Unknown => None,
                })
                .collect();
            let message = error.into_inner().to_string();
            let unknown_key = message.starts_with("unknown field");
            only_unknown_keys &= unknown_key;
            // serde reports a missing field at its parent; name the field itself.
            let missing = quoted_name(&message, "missing field `");
            if let Some(name) = &missing {
                path.push(PathSegment::Key(name.clone()));
            }
            issues.push(ConfigIssue::new(path_text(&path), message));
            // A missing field cannot be removed, and an empty path is the document itself.
            if missing.is_some() || issues.len() >= MAX_STRUCTURAL_ISSUES {
                return (None, issues, false);
            }
            // A bad array element takes its whole array: removing only the element would shift
            // the indexes of the errors still to be found. A bad variant's value takes the enum:
            // an empty object is no variant at all.
            while matches!(
                path.last(),
                Some(PathSegment::Index(_) | PathSegment::Variant(_))
            ) {
                path.pop();
            }
            if !remove(&mut value, &path) {
                return (None, issues, false);
            }
        }
    }

    /// The semantic checks, all of them.
    fn check(&self) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        let mut issue =
            |field: &str, message: String| issues.push(ConfigIssue::new(field, message));
        let rules = &self.validation_rules;

        if !is_currency_code(&self.currency) {
            issue(
                "currency",
                format!(
                    "{:?} is not an ISO 4217 code (three upper-case letters, e.g. \"EUR\")",
                    self.currency
                ),
            );
        }
        if self.header_row > MAX_HEADER_ROW {
            issue(
                "header_row",
                format!(
                    "{} is beyond the first {MAX_HEADER_ROW} rows",
                    self.header_row
                ),
            );
        }

        // Column names and what they map to.
        let mut seen_names: BTreeMap<String, &str> = BTreeMap::new();
        let mut mapped: BTreeMap<Field, &str> = BTreeMap::new();
        for (name, field) in &self.column_mapping {
            let path = format!("column_mapping.{name}");
            let key = header_key(name);
            if key.is_empty() {
                issue(&path, "a column name cannot be empty".to_owned());
                continue;
            }
            // Still mapped, so what follows is checked as the user meant it.
            if let Some(first) = seen_names.insert(key, name) {
                issue(
                    &path,
                    format!(
                        "the same column as {first:?} (names match ignoring case and surrounding spaces)"
                    ),
                );
            }
            if *field == Field::Ignore {
                continue;
            }
            if let Some(first) = mapped.get(field) {
                issue(
                    &path,
                    format!("`{}` is already mapped from {first:?}", field.name()),
                );
                continue;
            }
            mapped.insert(*field, name);
            if !field.stored_for(self.target) {
                issue(
                    &path,
                    format!(
                        "{} files have no `{}`; map the column to `ignore`",
                        target_name(self.target),
                        field.name()
                    ),
                );
            }
        }
        let has = |field: Field| mapped.contains_key(&field);

        // What each kind of file cannot do without.
        match (self.target, self.pivot_format) {
            (Target::Sellout, false) => {
                if !has(Field::Quantity) {
                    issue(
                        "column_mapping",
                        "a sellout file needs a column mapped to `quantity`".to_owned(),
                    );
                }
                let by_month = has(Field::Month) || has(Field::Year);
                if has(Field::Date) && by_month {
                    issue(
                        "column_mapping",
                        "map either `date` or `month` and `year`, not both".to_owned(),
                    );
                } else if !(has(Field::Date) || (has(Field::Month) && has(Field::Year))) {
                    issue(
                        "column_mapping",
                        "a sellout file needs columns mapped to `month` and `year` (or to `date`)"
                            .to_owned(),
                    );
                }
            }
            (Target::Sellout, true) => {
                for field in [
                    Field::Quantity,
                    Field::SalesEur,
                    Field::Month,
                    Field::Year,
                    Field::Date,
                ] {
                    if let Some(name) = mapped.get(&field) {
                        issue(
                            &format!("column_mapping.{name}"),
                            format!(
                                "a pivot file takes quantities and months from its month columns; \
                                 `{}` cannot be mapped",
                                field.name()
                            ),
                        );
                    }
                }
            }
            (Target::Ecommerce, pivot) => {
                if pivot {
                    issue(
                        "pivot_format",
                        "only sellout files can have months as columns".to_owned(),
                    );
                }
                for field in [Field::Date, Field::Quantity] {
                    if !has(field) {
                        issue(
                            "column_mapping",
                            format!(
                                "an ecommerce file needs a column mapped to `{}`",
                                field.name()
                            ),
                        );
                    }
                }
            }
        }

        match (self.pivot_format, &self.pivot) {
            (true, None) => issue(
                "pivot",
                "pivot_format is true: say where the year comes from, {\"year\": 2024} or \
                 {\"year_column\": \"Year\"}"
                    .to_owned(),
            ),
            (false, Some(_)) => issue(
                "pivot",
                "only used when pivot_format is true; remove it or set pivot_format".to_owned(),
            ),
            (_, Some(Pivot::Year(year))) => {
                let [first, last] = rules.year_range();
                if !(first..=last).contains(year) {
                    issue(
                        "pivot.year",
                        format!("{year} is outside the accepted years {first}..={last}"),
                    );
                }
            }
            (_, Some(Pivot::YearColumn(name))) => {
                if header_key(name).is_empty() {
                    issue(
                        "pivot.year_column",
                        "a column name cannot be empty".to_owned(),
                    );
                } else if let Some(field) = self.mapped_elsewhere(name) {
                    issue(
                        "pivot.year_column",
                        format!("{name:?} is also mapped to `{}`", field.name()),
                    );
                }
            }
            (false, None) => {}
        }

        if let Some(name) = &self.currency_column {
            if header_key(name).is_empty() {
                issue(
                    "currency_column",
                    "a column name cannot be empty".to_owned(),
                );
            } else if let Some(field) = self.mapped_elsewhere(name) {
                issue(
                    "currency_column",
                    format!("{name:?} is also mapped to `{}`", field.name()),
                );
            }
        }

        if !['.', ','].contains(&self.decimal_separator) {
            issue(
                "decimal_separator",
                format!("{:?} is not \".\" or \",\"", self.decimal_separator),
            );
        }
        if let Some(thousands) = self.thousands_separator {
            if !THOUSANDS_SEPARATORS.contains(&thousands) {
                issue(
                    "thousands_separator",
                    format!("{thousands:?} is not one of \" \", \",\", \".\", \"'\""),
                );
            } else if thousands == self.decimal_separator {
                issue(
                    "thousands_separator",
                    format!("{thousands:?} is also the decimal separator"),
                );
            }
        }
        if let Some(delimiter) = self.delimiter
            && !DELIMITERS.contains(&delimiter)
        {
            issue(
                "delimiter",
                format!("{delimiter:?} is not one of \",\", \";\", tab, \"|\""),
            );
        }
        if self.sheet.as_deref().is_some_and(|s| s.trim().is_empty()) {
            issue("sheet", "a sheet name cannot be empty".to_owned());
        }
        for (i, format) in self.date_formats.iter().enumerate() {
            if let Err(why) = date_format(format) {
                issue(&format!("date_formats[{i}]"), format!("{format:?} {why}"));
            }
        }

        for (i, field) in rules.required_fields.iter().enumerate() {
            let implied =
                self.pivot_format && matches!(field, Field::Quantity | Field::Month | Field::Year);
            if *field == Field::Ignore {
                issue(
                    &format!("validation_rules.required_fields[{i}]"),
                    "`ignore` cannot be required".to_owned(),
                );
            } else if !implied && !has(*field) {
                issue(
                    &format!("validation_rules.required_fields[{i}]"),
                    format!(
                        "`{}` is required but no column is mapped to it",
                        field.name()
                    ),
                );
            }
        }
        if let Some(length) = rules.ean_length
            && (length == 0 || length > MAX_EAN_LENGTH)
        {
            issue(
                "validation_rules.ean_length",
                format!("{length} is not between 1 and {MAX_EAN_LENGTH}"),
            );
        }
        if let Some([first, last]) = rules.month_range
            && (!(1..=12).contains(&first) || !(1..=12).contains(&last) || first > last)
        {
            issue(
                "validation_rules.month_range",
                format!("[{first}, {last}] is not a range of months within 1..=12"),
            );
        }
        if let Some([first, last]) = rules.year_range {
            // Years are stored as smallint and dates need four digits.
            if !(1..=9999).contains(&first) || !(1..=9999).contains(&last) || first > last {
                issue(
                    "validation_rules.year_range",
                    format!("[{first}, {last}] is not a range of years within 1..=9999"),
                );
            }
        }
        if !rules.allowed_resellers.is_empty() && !has(Field::Reseller) {
            issue(
                "validation_rules.allowed_resellers",
                "set, but no column is mapped to `reseller`".to_owned(),
            );
        }
        issues
    }

    /// The field a column name is mapped to in `column_mapping`, unless that is `ignore`.
    fn mapped_elsewhere(&self, name: &str) -> Option<Field> {
        let key = header_key(name);
        self.column_mapping
            .iter()
            .find(|(other, field)| **field != Field::Ignore && header_key(other) == key)
            .map(|(_, field)| *field)
    }
}

/// How header texts are compared: trimmed, ignoring case.
pub(crate) fn header_key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

fn target_name(target: Target) -> &'static str {
    match target {
        Target::Sellout => "sellout",
        Target::Ecommerce => "ecommerce",
    }
}

/// A date format, compiled once; `Err` says why it cannot read a whole date.
pub(crate) fn date_format(format: &str) -> Result<Vec<Item<'static>>, &'static str> {
    let items = StrftimeItems::new(format)
        .parse_to_owned()
        .map_err(|_| "is not a valid strftime format")?;
    // A format that writes a date and reads the same date back names day, month and year. Writing
    // goes through fmt::Write because chrono reports an unusable specifier (a time on a date) as
    // a formatting error, which `to_string` would turn into a panic.
    let probe = NaiveDate::from_ymd_opt(2024, 3, 17).ok_or("")?;
    let mut written = String::new();
    fmt::Write::write_fmt(
        &mut written,
        format_args!("{}", probe.format_with_items(items.iter())),
    )
    .map_err(|_| "holds more than a date (a time or time zone)")?;
    let mut parsed = chrono::format::Parsed::new();
    let read = chrono::format::parse(&mut parsed, &written, items.iter())
        .ok()
        .and_then(|()| parsed.to_naive_date().ok());
    if read != Some(probe) {
        return Err("does not name a whole date (day, month and year)");
    }
    Ok(items)
}

enum PathSegment {
    Key(String),
    Index(usize),
    /// An externally tagged enum's variant: a key in the JSON, but not one to remove alone.
    Variant(String),
}

/// `validation_rules.required_fields[2]`, `column_mapping.Sold Qty`.
fn path_text(path: &[PathSegment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            PathSegment::Key(key) | PathSegment::Variant(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            PathSegment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

/// Removes the value at `path`; false when there is nothing there to remove (the document
/// itself, or a path serde named but the JSON does not have).
fn remove(value: &mut Value, path: &[PathSegment]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = value;
    for segment in parents {
        let next = match (segment, node) {
            (PathSegment::Key(key) | PathSegment::Variant(key), Value::Object(map)) => {
                map.get_mut(key)
            }
            (PathSegment::Index(index), Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        let Some(next) = next else {
            return false;
        };
        node = next;
    }
    match (last, node) {
        (PathSegment::Key(key), Value::Object(map)) => map.remove(key).is_some(),
        _ => false,
    }
}

/// `name` out of "missing field `name`".
fn quoted_name(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::seeds::DEFAULT_VENDOR_CONFIGS;
    use serde_json::json;

    fn boxnox() -> Value {
        json!({"currency": "EUR", "header_row": 0, "pivot_format": false,
            "column_mapping": {"Product EAN": "product_ean", "Functional Name": "functional_name", "Sold Qty": "quantity", "Sales Amount (EUR)": "sales_eur", "Reseller": "reseller", "Month": "month", "Year": "year"},
            "validation_rules": {"ean_length": 13, "month_range": [1, 12], "required_fields": ["product_ean", "quantity", "month", "year"]}})
    }

    /// Whether `whole` has every key of `part` with the same value, recursively in objects.
    fn holds(whole: &Value, part: &Value) -> bool {
        match (whole, part) {
            (Value::Object(whole), Value::Object(part)) => part
                .iter()
                .all(|(k, v)| whole.get(k).is_some_and(|w| holds(w, v))),
            _ => whole == part,
        }
    }

    fn issues_of(value: &Value) -> Vec<ConfigIssue> {
        match VendorConfig::parse(value) {
            Ok(config) => panic!("expected issues, parsed {config:?}"),
            Err(issues) => issues,
        }
    }

    fn fields(issues: &[ConfigIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.field.as_str()).collect()
    }

    #[test]
    fn every_seed_parses_and_round_trips() {
        for (name, text) in DEFAULT_VENDOR_CONFIGS {
            // GIVEN a seeded config
            let seed: Value = serde_json::from_str(text).expect("seed is JSON");
            // WHEN parsed and written back
            let config =
                VendorConfig::parse(&seed).unwrap_or_else(|issues| panic!("{name}: {issues:?}"));
            let written = config.to_json();
            // THEN it parses to the same config, and every key the seed gave keeps its value
            assert_eq!(VendorConfig::parse(&written), Ok(config.clone()), "{name}");
            assert!(
                holds(&written, &seed),
                "{name}: {written} lacks part of {seed}"
            );
            assert_eq!(config.target, Target::Sellout, "{name}");
        }
    }

    #[test]
    fn the_boxnox_seed_reads_as_expected() {
        // GIVEN the boxnox seed WHEN parsed
        let config = VendorConfig::parse(&boxnox()).expect("valid");
        // THEN its fields and defaults are what the mapping relies on
        assert_eq!(config.currency, "EUR");
        assert_eq!(config.column_mapping["Sold Qty"], Field::Quantity);
        assert_eq!(config.column_mapping["Sales Amount (EUR)"], Field::SalesEur);
        assert_eq!(config.decimal_separator, '.');
        assert_eq!(config.thousands_separator, None);
        assert_eq!(config.validation_rules.ean_length, Some(13));
        assert_eq!(config.validation_rules.year_range(), [2000, 2100]);
        assert!(config.validation_rules.non_negative_quantity);
        assert_eq!(
            config.validation_rules.required_fields,
            [
                Field::ProductEan,
                Field::Quantity,
                Field::Month,
                Field::Year
            ]
        );
    }

    #[test]
    fn unknown_keys_are_named_by_their_path() {
        // GIVEN a config with a misspelt key at the top and another inside validation_rules
        let mut value = boxnox();
        value["curency"] = json!("EUR");
        value["validation_rules"]["ean_lenght"] = json!(13);
        // WHEN parsed
        let issues = issues_of(&value);
        // THEN both are reported by path, with serde's list of what is expected
        assert_eq!(fields(&issues), ["curency", "validation_rules.ean_lenght"]);
        assert!(
            issues[0].message.contains("unknown field `curency`"),
            "{issues:?}"
        );
        assert!(issues[0].message.contains("`currency`"), "{issues:?}");
    }

    #[test]
    fn unknown_keys_do_not_hide_semantic_issues() {
        // GIVEN an unknown key and a bad currency
        let mut value = boxnox();
        value["colour"] = json!("blue");
        value["currency"] = json!("eur");
        // WHEN parsed THEN both are reported
        assert_eq!(fields(&issues_of(&value)), ["colour", "currency"]);
    }

    #[test]
    fn wrong_types_are_named_by_their_path_all_at_once() {
        // GIVEN wrong types in three places, one of them a column's field name
        let mut value = boxnox();
        value["header_row"] = json!("first");
        value["column_mapping"]["Sold Qty"] = json!("qty");
        value["validation_rules"]["month_range"] = json!([1, "twelve"]);
        value["pivot"] = json!({"year": "2024"});
        // WHEN parsed
        let issues = issues_of(&value);
        // THEN each is reported at its path, and no semantic issue is guessed from defaults
        assert_eq!(
            fields(&issues),
            [
                "column_mapping.Sold Qty",
                "header_row",
                "pivot.year",
                "validation_rules.month_range[1]"
            ],
            "{issues:?}"
        );
        assert!(
            issues[0].message.contains("unknown variant `qty`"),
            "{issues:?}"
        );
    }

    #[test]
    fn a_missing_required_key_is_named() {
        // GIVEN a config without a currency
        let mut value = boxnox();
        value.as_object_mut().expect("object").remove("currency");
        // WHEN parsed THEN the issue names the key
        let issues = issues_of(&value);
        assert_eq!(fields(&issues), ["currency"]);
        assert!(issues[0].message.contains("missing field"));
    }

    #[test]
    fn a_document_that_is_not_an_object_is_one_issue() {
        // GIVEN an array WHEN parsed THEN one issue about the document itself
        // (serde alone would read an array by position)
        let issues = issues_of(&json!(["sellout", 0, {}]));
        assert_eq!(fields(&issues), [""]);
        // AND validation_rules given as an array is named, like any wrong type
        let mut value = boxnox();
        value["validation_rules"] = json!([["product_ean"], 13]);
        assert_eq!(fields(&issues_of(&value)), ["validation_rules"]);
    }

    #[test]
    fn semantic_issues_are_reported_together_with_their_paths() {
        // GIVEN a config wrong in many ways at once
        let value = json!({
            "currency": "euro",
            "header_row": 1001,
            "column_mapping": {"Qty": "quantity", "Units": "quantity", "Month": "month", "EAN": "product_ean", "Country": "country"},
            "decimal_separator": ",",
            "thousands_separator": ",",
            "delimiter": ":",
            "date_formats": ["%d.%m", "%Q"],
            "validation_rules": {
                "required_fields": ["reseller"],
                "month_range": [3, 1],
                "year_range": [2030, 2020],
                "ean_length": 0,
                "allowed_resellers": ["Douglas"]
            }
        });
        // WHEN parsed
        let issues = issues_of(&value);
        // THEN every problem is there, each at its path
        assert_eq!(
            fields(&issues),
            [
                "currency",
                "header_row",
                "column_mapping.Country",
                "column_mapping.Units",
                "column_mapping",
                "thousands_separator",
                "delimiter",
                "date_formats[0]",
                "date_formats[1]",
                "validation_rules.required_fields[0]",
                "validation_rules.ean_length",
                "validation_rules.month_range",
                "validation_rules.year_range",
                "validation_rules.allowed_resellers",
            ],
            "{issues:#?}"
        );
        assert!(
            issues[3].message.contains("already mapped from \"Qty\""),
            "{issues:?}"
        );
        assert!(
            issues[4].message.contains("`month` and `year`"),
            "{issues:?}"
        );
    }

    #[test]
    fn month_range_outside_the_calendar_is_an_issue() {
        // GIVEN month_range [0, 13]
        let mut value = boxnox();
        value["validation_rules"]["month_range"] = json!([0, 13]);
        // WHEN parsed THEN it is named
        assert_eq!(fields(&issues_of(&value)), ["validation_rules.month_range"]);
    }

    #[test]
    fn pivot_and_pivot_format_must_agree() {
        // GIVEN pivot_format without pivot, and pivot without pivot_format
        let mut without = boxnox();
        without["pivot_format"] = json!(true);
        let mut unused = boxnox();
        unused["pivot"] = json!({"year": 2024});
        // WHEN parsed
        let without = issues_of(&without);
        let unused = issues_of(&unused);
        // THEN the pivot key is named; a pivot file also may not map quantity, month or year
        assert_eq!(
            fields(&without),
            [
                "column_mapping.Sold Qty",
                "column_mapping.Sales Amount (EUR)",
                "column_mapping.Month",
                "column_mapping.Year",
                "pivot"
            ]
        );
        assert_eq!(fields(&unused), ["pivot"]);
    }

    #[test]
    fn a_pivot_config_parses() {
        // GIVEN a pivot config with the year in a column
        let value = json!({
            "currency": "EUR", "pivot_format": true, "pivot": {"year_column": "Year"},
            "column_mapping": {"EAN": "product_ean", "Name": "functional_name"},
            "validation_rules": {"required_fields": ["product_ean", "quantity"]}
        });
        // WHEN parsed THEN it is valid and writes back the same pivot
        let config = VendorConfig::parse(&value).expect("valid");
        assert_eq!(config.pivot, Some(Pivot::YearColumn("Year".into())));
        assert_eq!(config.to_json()["pivot"], json!({"year_column": "Year"}));
    }

    #[test]
    fn ecommerce_needs_date_and_quantity_and_stores_no_reseller() {
        // GIVEN an ecommerce config with neither date nor quantity, and a reseller column
        let value = json!({
            "target": "ecommerce", "currency": "EUR",
            "column_mapping": {"Shop": "reseller", "Order": "order_id"}
        });
        // WHEN parsed
        let issues = issues_of(&value);
        // THEN the reseller column and both missing fields are reported
        assert_eq!(
            fields(&issues),
            ["column_mapping.Shop", "column_mapping", "column_mapping"]
        );
        assert!(issues[1].message.contains("`date`"));
        assert!(issues[2].message.contains("`quantity`"));
    }

    #[test]
    fn column_names_differing_only_in_case_are_one_column() {
        // GIVEN "Sold Qty" and " sold qty" both mapped
        let mut value = boxnox();
        value["column_mapping"][" sold qty"] = json!("ignore");
        // WHEN parsed THEN the second spelling is reported
        assert_eq!(fields(&issues_of(&value)), ["column_mapping.Sold Qty"]);
    }

    #[test]
    fn date_formats_must_name_a_whole_date() {
        // GIVEN formats of each kind WHEN checked THEN only the whole-date ones pass
        assert!(date_format("%d.%m.%Y").is_ok());
        assert!(date_format("%d/%m/%y").is_ok());
        assert!(date_format("%m/%Y").is_err());
        assert!(date_format("%Y-%m-%d %H:%M").is_err());
        assert!(date_format("%").is_err());
    }
}

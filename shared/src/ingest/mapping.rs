//! One raw row of a vendor file → the validated sales rows it yields, or everything wrong with
//! it. A [`Mapper`] is built once per file from the [`VendorConfig`] and the file's header, so
//! the per-row work is indexing, parsing and the output strings only.
//!
//! Accepted cell formats (cells are trimmed; an empty cell is an absent value):
//! - **numbers**: optional `-`/`+` or accounting parentheses `(12.50)`, digits, the config's
//!   decimal separator at most once, and the config's thousands separator only between groups of
//!   three digits (`1.234,56`; a space separator also matches no-break spaces). Nothing else:
//!   no currency symbols, no exponent. Amounts keep every decimal given.
//! - **quantity**: a number with no fraction; `12.0` (a spreadsheet's rendering of a whole
//!   number) is accepted even when the config's separators would not read it.
//! - **month**: `1`–`12` (also `01`, `3.0`), or an English month name or abbreviation in any case
//!   (`March`, `Mar`, `Mar.`, `Sept`).
//! - **year**: a whole number (also `2024.0`) within the config's year range.
//! - **date**: the config's `date_formats` in order, then ISO `2024-01-31` (optionally followed
//!   by `T` or a space and a time), then an Excel serial day number 1–2958465, fraction ignored
//!   (`45292` is 2024-01-01).
//! - **EAN**: digits only; a trailing `.0` (a spreadsheet's rendering of a numeric cell) is
//!   dropped.
//! - **currency column**: three letters, stored upper-case; empty means the config's currency.
//! - **pivot month headers** (columns not in `column_mapping`): a month as above (`Jan`,
//!   `January`, `1`, `01`), `2024-01`, `Jan 2024`, `Jan-2024`, or `Jan-24`/`Jan 24` (20xx). A
//!   header's own year wins over the config's pivot year. Pivot cells are quantities; pivot rows
//!   carry no amount.

use std::borrow::Cow;
use std::fmt;

use chrono::format::{Item, Parsed};
use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta};
use rust_decimal::Decimal;
use serde::Serialize;

use super::read::trimmed;
use super::vendor::{Field, Pivot, Target, VendorConfig, date_format, header_key};

/// What one data row became. Its texts borrow the row's cells (or the config) where they are
/// kept as written: no allocation per row for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappedRow<'a> {
    /// Sellout rows: one, or one per filled month column of a pivot file; none for a blank row.
    Sellout(Vec<SelloutRow<'a>>),
    /// Ecommerce order lines: one, or none for a blank row.
    Ecommerce(Vec<OrderRow<'a>>),
    /// Everything wrong with the row; it yields nothing.
    Rejected(Vec<RowError>),
}

/// A month's sales of one product, as the vendor reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelloutRow<'a> {
    /// The row number the user sees in the file.
    pub source_row: i32,
    pub product_ean: Option<Cow<'a, str>>,
    pub functional_name: Option<Cow<'a, str>>,
    pub reseller: Option<Cow<'a, str>>,
    pub quantity: i32,
    /// In `currency`, with the decimals given; converted and rounded at load.
    pub amount: Option<Decimal>,
    pub currency: Cow<'a, str>,
    pub month: i16,
    pub year: i16,
}

/// One ecommerce order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRow<'a> {
    pub source_row: i32,
    pub external_order_id: Option<Cow<'a, str>>,
    pub product_ean: Option<Cow<'a, str>>,
    pub functional_name: Option<Cow<'a, str>>,
    pub quantity: i32,
    /// In `currency`, with the decimals given; converted and rounded at load.
    pub amount: Option<Decimal>,
    pub currency: Cow<'a, str>,
    pub order_date: NaiveDate,
    pub country: Option<Cow<'a, str>>,
    pub city: Option<Cow<'a, str>>,
}

/// One thing wrong with a row, for the person who uploaded the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based, as the user sees it.
    pub row: u64,
    /// The file's header text of the offending column; none for the row as a whole.
    pub column: Option<String>,
    /// Stable: `extra_columns`, `missing_value`, `invalid_quantity`, `negative_quantity`,
    /// `invalid_amount`, `invalid_month`, `month_out_of_range`, `invalid_year`,
    /// `year_out_of_range`, `invalid_date`, `invalid_ean`, `reseller_not_allowed`,
    /// `invalid_currency`.
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: {}", self.row, self.message)
    }
}

/// The file's header lacks columns the config maps: the file is not in this vendor's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingColumns {
    /// The config's names of the columns not found.
    pub columns: Vec<String>,
    /// A pivot file whose header has no column read as a month.
    pub month_columns: bool,
    /// The file's header as read.
    pub header: Vec<String>,
}

/// How many header texts a message lists before summarising the rest.
const LISTED_HEADERS: usize = 30;

impl MissingColumns {
    /// The message for the uploader, naming the vendor whose format was expected.
    pub fn message(&self, vendor: &str) -> String {
        self.describe(Some(vendor))
    }

    fn describe(&self, vendor: Option<&str>) -> String {
        let mut text = String::from("the file has ");
        let quoted = |names: &[String]| {
            names
                .iter()
                .map(|n| format!("{:?}", n.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.columns.len() {
            0 => {}
            1 => text.push_str(&format!("no column {}", quoted(&self.columns))),
            _ => text.push_str(&format!("no columns {}", quoted(&self.columns))),
        }
        if self.month_columns {
            if !self.columns.is_empty() {
                text.push_str(" and ");
            }
            text.push_str(
                "no month columns (headers such as \"Jan\", \"January\", \"01\" or \"2024-01\")",
            );
        }
        if let Some(vendor) = vendor {
            text.push_str(&format!(" (vendor {vendor})"));
        }
        let named: Vec<String> = self
            .header
            .iter()
            .filter(|h| !h.trim().is_empty())
            .cloned()
            .collect();
        if named.is_empty() {
            text.push_str("; its header row is empty");
        } else {
            text.push_str("; its columns are: ");
            text.push_str(&quoted(&named[..named.len().min(LISTED_HEADERS)]));
            if named.len() > LISTED_HEADERS {
                text.push_str(&format!(" and {} more", named.len() - LISTED_HEADERS));
            }
        }
        text
    }
}

impl fmt::Display for MissingColumns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(None))
    }
}

impl std::error::Error for MissingColumns {}

/// A mapped column: where it is in the row and what the file calls it.
#[derive(Debug, Clone)]
struct Column {
    index: usize,
    header: String,
}

/// A pivot file's month column.
#[derive(Debug, Clone)]
struct MonthColumn {
    column: Column,
    month: u8,
    /// From the header itself (`2024-01`), winning over the config's pivot year.
    year: Option<i32>,
}

#[derive(Debug, Clone)]
enum PivotYear {
    Fixed(i32),
    Column(Column),
}

#[derive(Debug, Clone)]
struct PivotPlan {
    year: PivotYear,
    months: Vec<MonthColumn>,
}

/// The column of each field the config maps (`ignore` excluded).
#[derive(Debug, Clone, Default)]
struct Columns {
    product_ean: Option<Column>,
    functional_name: Option<Column>,
    quantity: Option<Column>,
    amount: Option<Column>,
    reseller: Option<Column>,
    month: Option<Column>,
    year: Option<Column>,
    date: Option<Column>,
    country: Option<Column>,
    city: Option<Column>,
    order_id: Option<Column>,
}

impl Columns {
    fn slot(&mut self, field: Field) -> Option<&mut Option<Column>> {
        Some(match field {
            Field::ProductEan => &mut self.product_ean,
            Field::FunctionalName => &mut self.functional_name,
            Field::Quantity => &mut self.quantity,
            Field::SalesEur => &mut self.amount,
            Field::Reseller => &mut self.reseller,
            Field::Month => &mut self.month,
            Field::Year => &mut self.year,
            Field::Date => &mut self.date,
            Field::Country => &mut self.country,
            Field::City => &mut self.city,
            Field::OrderId => &mut self.order_id,
            Field::Ignore => return None,
        })
    }

    fn get(&self, field: Field) -> Option<&Column> {
        match field {
            Field::ProductEan => self.product_ean.as_ref(),
            Field::FunctionalName => self.functional_name.as_ref(),
            Field::Quantity => self.quantity.as_ref(),
            Field::SalesEur => self.amount.as_ref(),
            Field::Reseller => self.reseller.as_ref(),
            Field::Month => self.month.as_ref(),
            Field::Year => self.year.as_ref(),
            Field::Date => self.date.as_ref(),
            Field::Country => self.country.as_ref(),
            Field::City => self.city.as_ref(),
            Field::OrderId => self.order_id.as_ref(),
            Field::Ignore => None,
        }
    }
}

/// The number format of a config.
#[derive(Debug, Clone, Copy)]
struct Numbers {
    decimal: char,
    thousands: Option<char>,
}

/// Maps a file's rows with one vendor config; built once per file.
#[derive(Debug, Clone)]
pub struct Mapper {
    target: Target,
    width: usize,
    columns: Columns,
    /// Columns whose cell may not be empty: the config's required fields and what a row cannot
    /// do without (quantity, the period), each once.
    required: Vec<Column>,
    currency_column: Option<Column>,
    currency: String,
    pivot: Option<PivotPlan>,
    numbers: Numbers,
    date_formats: Vec<Vec<Item<'static>>>,
    ean_length: Option<usize>,
    month_range: [u8; 2],
    year_range: [i32; 2],
    non_negative_quantity: bool,
    allowed_resellers: Vec<String>,
}

impl Mapper {
    /// Matches the config's `column_mapping` (and its currency and pivot year columns) against
    /// the file's header, ignoring case and surrounding spaces; the first of equal headers wins.
    /// Columns mapped to `ignore` may be absent. `Err` lists what is missing.
    pub fn new(config: &VendorConfig, header: &[String]) -> Result<Mapper, MissingColumns> {
        let keys: Vec<String> = header.iter().map(|h| header_key(h)).collect();
        let find = |name: &str| {
            let key = header_key(name);
            keys.iter().position(|k| *k == key).map(|index| Column {
                index,
                header: header[index].trim().to_owned(),
            })
        };
        let mut missing = Vec::new();
        let mut taken = vec![false; header.len()];
        let mut columns = Columns::default();
        for (name, field) in &config.column_mapping {
            match (find(name), columns.slot(*field)) {
                (Some(column), slot) => {
                    taken[column.index] = true;
                    if let Some(slot) = slot {
                        slot.get_or_insert(column);
                    }
                }
                (None, Some(_)) => missing.push(name.clone()),
                (None, None) => {}
            }
        }
        let mut find_extra = |name: &str| {
            let column = find(name);
            match &column {
                Some(column) => taken[column.index] = true,
                None => missing.push(name.to_owned()),
            }
            column
        };
        let currency_column = config.currency_column.as_deref().and_then(&mut find_extra);
        let pivot_year = match (config.pivot_format, &config.pivot) {
            (true, Some(Pivot::YearColumn(name))) => find_extra(name).map(PivotYear::Column),
            (true, Some(Pivot::Year(year))) => Some(PivotYear::Fixed(*year)),
            // A validated config has a pivot; without one, only headers can give the year.
            (true, None) => Some(PivotYear::Fixed(0)),
            (false, _) => None,
        };
        let mut month_columns_missing = false;
        let pivot = pivot_year.map(|year| {
            let months: Vec<MonthColumn> = header
                .iter()
                .enumerate()
                .filter(|(index, _)| !taken[*index])
                .filter_map(|(index, text)| {
                    let (month, year) = month_header(text.trim())?;
                    Some(MonthColumn {
                        column: Column {
                            index,
                            header: text.trim().to_owned(),
                        },
                        month,
                        year,
                    })
                })
                .collect();
            month_columns_missing = months.is_empty();
            PivotPlan { year, months }
        });
        if !missing.is_empty() || month_columns_missing {
            return Err(MissingColumns {
                columns: missing,
                month_columns: month_columns_missing,
                header: header.to_vec(),
            });
        }

        let rules = &config.validation_rules;
        let mut needed: Vec<Field> = rules.required_fields.clone();
        match (&pivot, config.target) {
            (Some(_), _) => {}
            (None, Target::Ecommerce) => needed.extend([Field::Quantity, Field::Date]),
            (None, Target::Sellout) if columns.date.is_some() => {
                needed.extend([Field::Quantity, Field::Date]);
            }
            (None, Target::Sellout) => needed.extend([Field::Quantity, Field::Month, Field::Year]),
        }
        let mut required: Vec<Column> = Vec::new();
        for field in needed {
            if let Some(column) = columns.get(field)
                && !required.iter().any(|r| r.index == column.index)
            {
                required.push(column.clone());
            }
        }
        if let Some(PivotPlan {
            year: PivotYear::Column(column),
            months,
        }) = &pivot
            && months.iter().any(|m| m.year.is_none())
        {
            required.push(column.clone());
        }

        Ok(Mapper {
            target: config.target,
            width: header.len(),
            columns,
            required,
            currency_column,
            currency: config.currency.clone(),
            pivot,
            numbers: Numbers {
                decimal: config.decimal_separator,
                thousands: config.thousands_separator,
            },
            // A validated config's formats all compile; any other is skipped, not fatal.
            date_formats: config
                .date_formats
                .iter()
                .filter_map(|f| date_format(f).ok())
                .collect(),
            ean_length: rules.ean_length,
            month_range: rules.month_range(),
            year_range: rules.year_range(),
            non_negative_quantity: rules.non_negative_quantity,
            allowed_resellers: rules.allowed_resellers.clone(),
        })
    }

    /// One data row (its 1-based number as the user sees it, and its cells) → the sales rows it
    /// yields, or all of its errors. A row whose cells are all empty yields nothing.
    pub fn map<'a>(&'a self, number: u64, cells: &'a [String]) -> MappedRow<'a> {
        let Some(last) = cells.iter().rposition(|c| !trimmed(c).is_empty()) else {
            return match self.target {
                Target::Sellout => MappedRow::Sellout(Vec::new()),
                Target::Ecommerce => MappedRow::Ecommerce(Vec::new()),
            };
        };
        let row = Row { cells };
        let mut errors = Errors {
            row: number,
            list: Vec::new(),
        };
        if last >= self.width {
            errors.list.push(RowError {
                row: number,
                column: None,
                code: "extra_columns",
                message: format!(
                    "the row has {} cells but the header only {} columns",
                    last + 1,
                    self.width
                ),
            });
        }
        for column in &self.required {
            if row.get(column).is_none() {
                errors.missing(column);
            }
        }

        let c = &self.columns;
        let product_ean = row.parse(c.product_ean.as_ref(), &mut errors, |v| {
            self.ean(v).map(Cow::Borrowed)
        });
        let functional_name = row.text(c.functional_name.as_ref());
        let reseller = row.parse(c.reseller.as_ref(), &mut errors, |v| self.reseller(v));
        let currency = match &self.currency_column {
            Some(column) => match row.get(column) {
                Some(v) => currency(v).unwrap_or_else(|e| {
                    errors.bad(column, e, v);
                    Cow::Borrowed("")
                }),
                None => Cow::Borrowed(self.currency.as_str()),
            },
            None => Cow::Borrowed(self.currency.as_str()),
        };
        let source_row = i32::try_from(number).unwrap_or(i32::MAX);

        if let Some(pivot) = &self.pivot {
            let rows = self.pivot_rows(pivot, &row, &mut errors, |quantity, month, year| {
                SelloutRow {
                    source_row,
                    product_ean: product_ean.clone(),
                    functional_name: functional_name.clone(),
                    reseller: reseller.clone(),
                    quantity,
                    amount: None,
                    currency: currency.clone(),
                    month,
                    year,
                }
            });
            return errors.or(MappedRow::Sellout(rows));
        }

        let quantity = row.parse(c.quantity.as_ref(), &mut errors, |v| self.quantity(v));
        let amount = row.parse(c.amount.as_ref(), &mut errors, |v| self.amount(v));
        let date = row.parse(c.date.as_ref(), &mut errors, |v| self.date(v));
        match self.target {
            Target::Sellout => {
                let period = match (&c.date, date) {
                    (Some(column), Some(date)) => {
                        let value = row.get(column).unwrap_or_default();
                        self.period_of(date, column, value, &mut errors)
                    }
                    (None, _) => {
                        let month = row.parse(c.month.as_ref(), &mut errors, |v| self.month(v));
                        let year = row.parse(c.year.as_ref(), &mut errors, |v| self.year(v));
                        month.zip(year)
                    }
                    (Some(_), None) => None,
                };
                let Some((quantity, (month, year))) = quantity.zip(period) else {
                    return errors.unmapped_or_rejected();
                };
                errors.or(MappedRow::Sellout(vec![SelloutRow {
                    source_row,
                    product_ean,
                    functional_name,
                    reseller,
                    quantity,
                    amount,
                    currency,
                    month,
                    year,
                }]))
            }
            Target::Ecommerce => {
                if let (Some(column), Some(date)) = (&c.date, date)
                    && let Err(e) = self.in_year_range(date.year())
                {
                    errors.bad(column, e, row.get(column).unwrap_or_default());
                }
                let Some((quantity, order_date)) = quantity.zip(date) else {
                    return errors.unmapped_or_rejected();
                };
                errors.or(MappedRow::Ecommerce(vec![OrderRow {
                    source_row,
                    external_order_id: row.text(c.order_id.as_ref()),
                    product_ean,
                    functional_name,
                    quantity,
                    amount,
                    currency,
                    order_date,
                    country: row.text(c.country.as_ref()),
                    city: row.text(c.city.as_ref()),
                }]))
            }
        }
    }

    /// A pivot row's filled month cells, one row each.
    fn pivot_rows<'a>(
        &self,
        pivot: &PivotPlan,
        row: &Row<'a>,
        errors: &mut Errors,
        make: impl Fn(i32, i16, i16) -> SelloutRow<'a>,
    ) -> Vec<SelloutRow<'a>> {
        // The row's own year, read once; only needed when some month header has no year.
        let base_year = if pivot.months.iter().all(|m| m.year.is_some()) {
            None
        } else {
            match &pivot.year {
                PivotYear::Fixed(year) => match self.in_year_range(*year) {
                    Ok(year) => Some(year),
                    Err((code, why)) => {
                        errors.list.push(RowError {
                            row: errors.row,
                            column: None,
                            code,
                            message: format!("the configured pivot year {year} is {why}"),
                        });
                        None
                    }
                },
                PivotYear::Column(column) => row.parse(Some(column), errors, |v| self.year(v)),
            }
        };
        let mut rows = Vec::new();
        for month_column in &pivot.months {
            let column = &month_column.column;
            let Some(value) = row.get(column) else {
                continue;
            };
            let month = self
                .in_month_range(month_column.month)
                .map_err(|e| errors.header(column, e))
                .ok();
            let year = match month_column.year {
                Some(year) => self
                    .in_year_range(year)
                    .map_err(|e| errors.header(column, e))
                    .ok(),
                None => base_year,
            };
            let quantity = self
                .quantity(value)
                .map_err(|e| errors.bad(column, e, value));
            if let (Ok(quantity), Some(month), Some(year)) = (quantity, month, year) {
                rows.push(make(quantity, month, year));
            }
        }
        rows
    }

    /// Month and year of a sellout row's date, within the config's ranges.
    fn period_of(
        &self,
        date: NaiveDate,
        column: &Column,
        value: &str,
        errors: &mut Errors,
    ) -> Option<(i16, i16)> {
        // Datelike's month is 1..=12, so the cast cannot truncate.
        let month = self
            .in_month_range(date.month() as u8)
            .map_err(|e| errors.bad(column, e, value));
        let year = self
            .in_year_range(date.year())
            .map_err(|e| errors.bad(column, e, value));
        month.ok().zip(year.ok())
    }

    fn quantity(&self, value: &str) -> Result<i32, Problem> {
        let number = Number::parse(value, self.numbers)
            .or_else(|| whole(value).map(Number::from_whole))
            .ok_or(("invalid_quantity", Cow::Borrowed("not a whole number")))?;
        let whole = number
            .integer()
            .ok_or(("invalid_quantity", Cow::Borrowed("not a whole number")))?;
        let quantity = i32::try_from(whole).map_err(|_| {
            (
                "invalid_quantity",
                Cow::Borrowed("too large for a quantity"),
            )
        })?;
        if quantity < 0 && self.non_negative_quantity {
            return Err((
                "negative_quantity",
                Cow::Borrowed("negative quantities are not accepted"),
            ));
        }
        Ok(quantity)
    }

    fn amount(&self, value: &str) -> Result<Decimal, Problem> {
        Number::parse(value, self.numbers)
            .and_then(Number::decimal)
            .ok_or_else(|| {
                let example = match (self.numbers.decimal, self.numbers.thousands) {
                    (',', Some('.')) => "1.234,56",
                    (',', Some(' ')) => "1 234,56",
                    (',', _) => "1234,56",
                    (_, Some(',')) => "1,234.56",
                    (_, Some(' ')) => "1 234.56",
                    (_, Some('\'')) => "1'234.56",
                    _ => "1234.56",
                };
                (
                    "invalid_amount",
                    Cow::Owned(format!("not an amount written like {example}")),
                )
            })
    }

    fn month(&self, value: &str) -> Result<i16, Problem> {
        let month = whole(value)
            .and_then(|n| u8::try_from(n).ok())
            .filter(|n| (1..=12).contains(n))
            .or_else(|| month_name(value))
            .ok_or((
                "invalid_month",
                Cow::Borrowed("not a month (1-12 or a month name)"),
            ))?;
        self.in_month_range(month)
    }

    fn year(&self, value: &str) -> Result<i16, Problem> {
        let year = whole(value).ok_or(("invalid_year", Cow::Borrowed("not a year")))?;
        // Too large for an i32 is as much out of range as 2101.
        self.in_year_range(i32::try_from(year).unwrap_or(i32::MAX))
    }

    fn in_month_range(&self, month: u8) -> Result<i16, Problem> {
        let [first, last] = self.month_range;
        if (first..=last).contains(&month) {
            Ok(i16::from(month))
        } else {
            Err((
                "month_out_of_range",
                Cow::Owned(format!("outside the accepted months {first}-{last}")),
            ))
        }
    }

    fn in_year_range(&self, year: i32) -> Result<i16, Problem> {
        let [first, last] = self.year_range;
        match i16::try_from(year) {
            Ok(short) if (first..=last).contains(&year) => Ok(short),
            _ => Err((
                "year_out_of_range",
                Cow::Owned(format!("outside the accepted years {first}-{last}")),
            )),
        }
    }

    fn date(&self, value: &str) -> Result<NaiveDate, Problem> {
        for items in &self.date_formats {
            let mut parsed = Parsed::new();
            if chrono::format::parse(&mut parsed, value, items.iter()).is_ok()
                && let Ok(date) = parsed.to_naive_date()
            {
                return Ok(date);
            }
        }
        iso_date(value)
            .or_else(|| excel_serial(value))
            .ok_or(("invalid_date", Cow::Borrowed("not a date")))
    }

    fn ean<'v>(&self, value: &'v str) -> Result<&'v str, Problem> {
        let digits = strip_zero_fraction(value);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            let why = if value.contains(['E', 'e']) && value.bytes().any(|b| b.is_ascii_digit()) {
                "written in scientific notation, which loses digits (format the column as text)"
            } else {
                "not made of digits only"
            };
            return Err(("invalid_ean", Cow::Borrowed(why)));
        }
        match self.ean_length {
            Some(length) if digits.len() != length => Err((
                "invalid_ean",
                Cow::Owned(format!("{} digits, not {length}", digits.len())),
            )),
            _ => Ok(digits),
        }
    }

    /// The reseller as the config spells it when resellers are restricted.
    fn reseller<'a>(&'a self, value: &'a str) -> Result<Cow<'a, str>, Problem> {
        if self.allowed_resellers.is_empty() {
            return Ok(Cow::Borrowed(value));
        }
        // Lower-casing without allocating, so restricted resellers cost no more per row.
        let same = |allowed: &str| {
            allowed
                .trim()
                .chars()
                .flat_map(char::to_lowercase)
                .eq(value.chars().flat_map(char::to_lowercase))
        };
        self.allowed_resellers
            .iter()
            .find(|allowed| same(allowed))
            .map(|allowed| Cow::Borrowed(allowed.trim()))
            .ok_or_else(|| {
                (
                    "reseller_not_allowed",
                    Cow::Owned(format!(
                        "not one of the accepted resellers ({})",
                        self.allowed_resellers.join(", ")
                    )),
                )
            })
    }
}

/// An error code and why, before it is tied to a column.
type Problem = (&'static str, Cow<'static, str>);

/// A row's cells, trimmed on access.
struct Row<'a> {
    cells: &'a [String],
}

impl<'a> Row<'a> {
    fn get(&self, column: &Column) -> Option<&'a str> {
        self.cells
            .get(column.index)
            .map(|c| trimmed(c))
            .filter(|c| !c.is_empty())
    }

    fn text(&self, column: Option<&Column>) -> Option<Cow<'a, str>> {
        column.and_then(|c| self.get(c)).map(Cow::Borrowed)
    }

    /// The parsed value of a mapped, filled cell; a parse failure is recorded against the column.
    fn parse<T>(
        &self,
        column: Option<&Column>,
        errors: &mut Errors,
        parse: impl FnOnce(&'a str) -> Result<T, Problem>,
    ) -> Option<T> {
        let column = column?;
        let value = self.get(column)?;
        parse(value).map_err(|e| errors.bad(column, e, value)).ok()
    }
}

struct Errors {
    row: u64,
    list: Vec<RowError>,
}

/// Longest cell text quoted in a message; the rest is elided.
const QUOTED_CELL_CHARS: usize = 60;

impl Errors {
    fn bad(&mut self, column: &Column, (code, why): Problem, value: &str) {
        let shown: Cow<str> = match value.char_indices().nth(QUOTED_CELL_CHARS) {
            Some((end, _)) => Cow::Owned(format!("{}…", &value[..end])),
            None => Cow::Borrowed(value),
        };
        self.list.push(RowError {
            row: self.row,
            column: Some(column.header.clone()),
            code,
            message: format!("{:?} is {shown:?}: {why}", column.header),
        });
    }

    /// A problem with a pivot month column itself rather than with its cell.
    fn header(&mut self, column: &Column, (code, why): Problem) {
        self.list.push(RowError {
            row: self.row,
            column: Some(column.header.clone()),
            code,
            message: format!("the month column {:?} is {why}", column.header),
        });
    }

    fn missing(&mut self, column: &Column) {
        self.list.push(RowError {
            row: self.row,
            column: Some(column.header.clone()),
            code: "missing_value",
            message: format!("{:?} is empty", column.header),
        });
    }

    /// `mapped` unless the row had errors.
    fn or(self, mapped: MappedRow<'_>) -> MappedRow<'_> {
        if self.list.is_empty() {
            mapped
        } else {
            MappedRow::Rejected(self.list)
        }
    }

    /// A row without its quantity or period: its errors say why, and with none, the config
    /// (built without [`VendorConfig::parse`]) maps no column to them.
    fn unmapped_or_rejected<'a>(mut self) -> MappedRow<'a> {
        if self.list.is_empty() {
            self.list.push(RowError {
                row: self.row,
                column: None,
                code: "missing_value",
                message: "the vendor config maps no column to the quantity or the period"
                    .to_owned(),
            });
        }
        MappedRow::Rejected(self.list)
    }
}

/// A decimal number as written, before it becomes a quantity or an amount.
#[derive(Debug, Clone, Copy)]
struct Number {
    negative: bool,
    mantissa: u128,
    scale: u32,
}

/// rust_decimal's limits: a 96-bit mantissa and at most 28 decimals.
const MAX_MANTISSA: u128 = (1 << 96) - 1;
const MAX_SCALE: u32 = 28;

impl Number {
    fn from_whole(n: u64) -> Self {
        Self {
            negative: false,
            mantissa: u128::from(n),
            scale: 0,
        }
    }

    /// Reads `value` with the config's separators; see the module doc for the grammar.
    fn parse(value: &str, numbers: Numbers) -> Option<Self> {
        let (negative, body) =
            if let Some(inner) = value.strip_prefix('(').and_then(|v| v.strip_suffix(')')) {
                (true, inner)
            } else if let Some(rest) = value.strip_prefix('-') {
                (true, rest)
            } else {
                (false, value.strip_prefix('+').unwrap_or(value))
            };
        let is_thousands = |c: char| match numbers.thousands {
            // Spreadsheets group with no-break spaces where the user typed a space.
            Some(' ') => matches!(c, ' ' | '\u{a0}' | '\u{202f}'),
            Some(sep) => c == sep,
            None => false,
        };
        let mut mantissa: u128 = 0;
        let mut scale = 0;
        let mut digits = 0;
        let mut in_fraction = false;
        let mut grouped = false;
        let mut group = 0;
        // Groups after a thousands separator are exactly three digits; the first, one to three.
        let group_ok = |grouped: bool, group: usize| !grouped || group == 3;
        for c in body.chars() {
            if let Some(d) = c.to_digit(10) {
                mantissa = mantissa.checked_mul(10)?.checked_add(u128::from(d))?;
                if mantissa > MAX_MANTISSA {
                    return None;
                }
                digits += 1;
                if in_fraction {
                    scale += 1;
                    if scale > MAX_SCALE {
                        return None;
                    }
                } else {
                    group += 1;
                }
            } else if c == numbers.decimal && !in_fraction {
                if !group_ok(grouped, group) {
                    return None;
                }
                in_fraction = true;
            } else if is_thousands(c) && !in_fraction {
                if group == 0 || (grouped && group != 3) || (!grouped && group > 3) {
                    return None;
                }
                grouped = true;
                group = 0;
            } else {
                return None;
            }
        }
        if digits == 0 || (!in_fraction && !group_ok(grouped, group)) {
            return None;
        }
        Some(Self {
            negative,
            mantissa,
            scale,
        })
    }

    fn decimal(self) -> Option<Decimal> {
        let signed = i128::try_from(self.mantissa).ok()?;
        let signed = if self.negative { -signed } else { signed };
        Decimal::try_from_i128_with_scale(signed, self.scale).ok()
    }

    /// The value when it has no fractional part (`12.00` is 12).
    fn integer(self) -> Option<i64> {
        let unit = 10u128.checked_pow(self.scale)?;
        if !self.mantissa.is_multiple_of(unit) {
            return None;
        }
        let magnitude = i64::try_from(self.mantissa / unit).ok()?;
        Some(if self.negative { -magnitude } else { magnitude })
    }
}

/// A plain whole number as a spreadsheet writes it: digits, optionally `.0…`.
fn whole(value: &str) -> Option<u64> {
    let digits = strip_zero_fraction(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `4006381333931.0` → `4006381333931`; anything else unchanged.
fn strip_zero_fraction(value: &str) -> &str {
    match value.split_once('.') {
        Some((whole, zeros)) if !zeros.is_empty() && zeros.bytes().all(|b| b == b'0') => whole,
        _ => value,
    }
}

/// English month names, abbreviations and "Sept", matched ignoring case and a trailing dot.
fn month_name(value: &str) -> Option<u8> {
    const NAMES: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let value = value.strip_suffix('.').unwrap_or(value);
    if value.eq_ignore_ascii_case("sept") {
        return Some(9);
    }
    NAMES
        .iter()
        .position(|name| {
            value.eq_ignore_ascii_case(name)
                || (value.len() == 3
                    && name.get(..3).is_some_and(|a| value.eq_ignore_ascii_case(a)))
        })
        .and_then(|i| u8::try_from(i + 1).ok())
}

/// A pivot header read as a month, with the year when the header names one.
fn month_header(text: &str) -> Option<(u8, Option<i32>)> {
    let number = |s: &str| (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let month_number = |s: &str| {
        number(s)
            .then(|| s.parse::<u8>().ok())
            .flatten()
            .filter(|m| (1..=12).contains(m))
    };
    if let Some(month) = month_number(text).or_else(|| month_name(text)) {
        return Some((month, None));
    }
    // 2024-01
    if let Some((year, month)) = text.split_once('-')
        && year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
    {
        let month = month_number(month)?;
        return Some((month, year.parse().ok()));
    }
    // Jan 2024, Jan-2024, Jan-24
    let (name, year) = text.rsplit_once([' ', '-'])?;
    let month = month_name(name.trim())?;
    let year: i32 = match year.len() {
        4 | 2 if year.bytes().all(|b| b.is_ascii_digit()) => year.parse().ok()?,
        _ => return None,
    };
    Some((month, Some(if year < 100 { 2000 + year } else { year })))
}

/// `2024-01-31`, optionally followed by `T` or a space and a time.
fn iso_date(value: &str) -> Option<NaiveDate> {
    let b = value.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = value.get(range)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)?;
    let rest = value.get(10..)?;
    if rest.is_empty() {
        return Some(date);
    }
    let time = rest.strip_prefix(['T', ' '])?;
    let valid = ["%H:%M:%S%.f", "%H:%M"]
        .iter()
        .any(|f| NaiveTime::parse_from_str(time, f).is_ok());
    valid.then_some(date)
}

/// Excel's day numbers (1900 date system) as written by readers that lose the cell's date type.
fn excel_serial(value: &str) -> Option<NaiveDate> {
    /// Excel's last day, 9999-12-31.
    const LAST_SERIAL: u64 = 2_958_465;
    let days = match value.split_once('.') {
        Some((days, fraction)) if fraction.bytes().all(|b| b.is_ascii_digit()) => days,
        Some(_) => return None,
        None => value,
    };
    if days.is_empty() || !days.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let days: u64 = days.parse().ok()?;
    if !(1..=LAST_SERIAL).contains(&days) {
        return None;
    }
    // 1899-12-30 rather than 1900-01-01 absorbs Excel's fictitious 1900-02-29 for every date
    // after it, which is every date a sales report holds.
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    epoch.checked_add_signed(TimeDelta::try_days(i64::try_from(days).ok()?)?)
}

fn currency(value: &str) -> Result<Cow<'_, str>, Problem> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
        // Borrowed when already upper-case, as nearly every file writes it.
        Ok(if value.bytes().all(|b| b.is_ascii_uppercase()) {
            Cow::Borrowed(value)
        } else {
            Cow::Owned(value.to_ascii_uppercase())
        })
    } else {
        Err((
            "invalid_currency",
            Cow::Borrowed("not a currency code (three letters, e.g. EUR)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::seeds::DEFAULT_VENDOR_CONFIGS;
    use serde_json::{Value, json};

    impl MappedRow<'_> {
        /// The same, owning its texts (so that a test can map a row made on the fly).
        fn into_owned(self) -> MappedRow<'static> {
            let own = |text: Option<Cow<'_, str>>| text.map(|t| Cow::Owned(t.into_owned()));
            match self {
                MappedRow::Sellout(rows) => MappedRow::Sellout(
                    rows.into_iter()
                        .map(|r| SelloutRow {
                            product_ean: own(r.product_ean),
                            functional_name: own(r.functional_name),
                            reseller: own(r.reseller),
                            currency: Cow::Owned(r.currency.into_owned()),
                            ..r
                        })
                        .collect(),
                ),
                MappedRow::Ecommerce(rows) => MappedRow::Ecommerce(
                    rows.into_iter()
                        .map(|r| OrderRow {
                            external_order_id: own(r.external_order_id),
                            product_ean: own(r.product_ean),
                            functional_name: own(r.functional_name),
                            currency: Cow::Owned(r.currency.into_owned()),
                            country: own(r.country),
                            city: own(r.city),
                            ..r
                        })
                        .collect(),
                ),
                MappedRow::Rejected(errors) => MappedRow::Rejected(errors),
            }
        }
    }

    const BOXNOX_HEADER: [&str; 7] = [
        "Product EAN",
        "Functional Name",
        "Sold Qty",
        "Sales Amount (EUR)",
        "Reseller",
        "Month",
        "Year",
    ];

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    fn config(value: Value) -> VendorConfig {
        VendorConfig::parse(&value).unwrap_or_else(|issues| panic!("{issues:?}"))
    }

    fn boxnox_config() -> VendorConfig {
        let (_, text) = DEFAULT_VENDOR_CONFIGS
            .iter()
            .find(|(name, _)| *name == "boxnox")
            .expect("boxnox seed");
        config(serde_json::from_str(text).expect("JSON"))
    }

    /// boxnox with changes to its JSON.
    fn boxnox_with(change: impl FnOnce(&mut Value)) -> VendorConfig {
        let mut value = boxnox_config().to_json();
        change(&mut value);
        config(value)
    }

    fn mapper(config: &VendorConfig, header: &[&str]) -> Mapper {
        Mapper::new(config, &strings(header)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn boxnox() -> Mapper {
        mapper(&boxnox_config(), &BOXNOX_HEADER)
    }

    fn good_boxnox_row() -> [&'static str; 7] {
        [
            "4006381333931",
            "Hydra Serum 30ml",
            "12",
            "359.40",
            "Douglas",
            "3",
            "2024",
        ]
    }

    fn sellout(mapped: MappedRow<'_>) -> Vec<SelloutRow<'_>> {
        match mapped {
            MappedRow::Sellout(rows) => rows,
            other => panic!("expected sellout rows, got {other:?}"),
        }
    }

    fn rejected(mapped: MappedRow<'_>) -> Vec<RowError> {
        match mapped {
            MappedRow::Rejected(errors) => errors,
            other => panic!("expected errors, got {other:?}"),
        }
    }

    /// The errors of boxnox row 7 after `change` to the good row.
    fn boxnox_errors(change: impl FnOnce(&mut [&'static str; 7])) -> Vec<RowError> {
        let mut row = good_boxnox_row();
        change(&mut row);
        rejected(boxnox().map(7, &strings(&row)))
    }

    /// The one error expected, as (code, column).
    fn only(errors: &[RowError]) -> (&'static str, Option<&str>) {
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].row, 7);
        (errors[0].code, errors[0].column.as_deref())
    }

    fn decimal(text: &str) -> Decimal {
        text.parse().expect("decimal literal")
    }

    #[test]
    fn a_good_boxnox_row_is_one_exact_sellout_row() {
        // GIVEN the boxnox seed and its header, spelt and spaced a little differently
        let header = [
            "product ean",
            " Functional Name ",
            "SOLD QTY",
            "Sales Amount (EUR)",
            "Reseller",
            "Month",
            "Year",
        ];
        let mapper = mapper(&boxnox_config(), &header);
        // WHEN a good row is mapped
        let mut cells = strings(&good_boxnox_row());
        cells[1] = "  Hydra Serum 30ml ".into();
        let rows = sellout(mapper.map(2, &cells));
        // THEN it is exactly one sellout row in the config's currency
        assert_eq!(
            rows,
            [SelloutRow {
                source_row: 2,
                product_ean: Some("4006381333931".into()),
                functional_name: Some("Hydra Serum 30ml".into()),
                reseller: Some("Douglas".into()),
                quantity: 12,
                amount: Some(decimal("359.40")),
                currency: "EUR".into(),
                month: 3,
                year: 2024,
            }]
        );
    }

    #[test]
    fn optional_cells_may_be_empty_and_blank_rows_yield_nothing() {
        // GIVEN a row without name, amount and reseller, and a row of blanks
        let row = ["4006381333931", "", "5", " ", "", "Mar", "2024"];
        // WHEN mapped
        let rows = sellout(boxnox().map(3, &strings(&row)).into_owned());
        let blank = boxnox().map(4, &strings(&["", " ", ""])).into_owned();
        // THEN the first has no optional values and the blank row yields nothing
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (&rows[0].functional_name, rows[0].amount, &rows[0].reseller),
            (&None, None, &None)
        );
        assert_eq!(rows[0].month, 3);
        assert_eq!(blank, MappedRow::Sellout(Vec::new()));
    }

    #[test]
    fn every_error_of_a_row_is_reported() {
        // GIVEN a row wrong in four columns
        let errors = boxnox_errors(|row| {
            row[0] = "";
            row[2] = "abc";
            row[5] = "13";
            row[6] = "1999";
        });
        // WHEN/THEN all four are reported, each with its column and the row number
        let found: Vec<(&str, Option<&str>, u64)> = errors
            .iter()
            .map(|e| (e.code, e.column.as_deref(), e.row))
            .collect();
        assert_eq!(
            found,
            [
                ("missing_value", Some("Product EAN"), 7),
                ("invalid_quantity", Some("Sold Qty"), 7),
                ("invalid_month", Some("Month"), 7),
                ("year_out_of_range", Some("Year"), 7),
            ]
        );
        assert_eq!(
            errors[1].message,
            r#""Sold Qty" is "abc": not a whole number"#
        );
        assert_eq!(errors[0].message, r#""Product EAN" is empty"#);
    }

    #[test]
    fn extra_cells_are_an_error_but_empty_trailing_ones_are_not() {
        // GIVEN a row with one more filled cell than the header, and one with an empty extra
        let mut extra = strings(&good_boxnox_row());
        extra.push("surplus".into());
        let mut trailing = strings(&good_boxnox_row());
        trailing.push(" ".into());
        // WHEN mapped
        let errors = rejected(boxnox().map(7, &extra));
        // THEN only the first is rejected, for the row as a whole
        assert_eq!(only(&errors), ("extra_columns", None));
        assert!(errors[0].message.contains("8 cells"), "{errors:?}");
        assert_eq!(sellout(boxnox().map(7, &trailing)).len(), 1);
    }

    #[test]
    fn quantities_are_whole_numbers() {
        // GIVEN quantities in each accepted and rejected form
        let quantity = |text: &'static str| {
            let mut row = good_boxnox_row();
            row[2] = text;
            boxnox().map(7, &strings(&row)).into_owned()
        };
        // WHEN/THEN whole numbers (also a spreadsheet's 12.0) are read
        for (text, expected) in [("12", 12), ("12.0", 12), ("+3", 3), ("0", 0), ("007", 7)] {
            assert_eq!(sellout(quantity(text))[0].quantity, expected, "{text}");
        }
        // AND fractions, words and overflow are invalid, negatives refused
        for text in ["1.5", "abc", "1e3", "99999999999", "1,000"] {
            let errors = rejected(quantity(text));
            assert_eq!(
                only(&errors),
                ("invalid_quantity", Some("Sold Qty")),
                "{text}"
            );
        }
        assert_eq!(
            only(&rejected(quantity("-2"))),
            ("negative_quantity", Some("Sold Qty"))
        );
        assert_eq!(
            only(&rejected(quantity("(2)"))),
            ("negative_quantity", Some("Sold Qty"))
        );
    }

    #[test]
    fn negative_quantities_pass_when_the_config_allows_them() {
        // GIVEN a config accepting returns
        let config = boxnox_with(|v| v["validation_rules"]["non_negative_quantity"] = json!(false));
        let mut row = good_boxnox_row();
        row[2] = "-2";
        // WHEN mapped THEN the quantity is negative
        let rows = sellout(
            mapper(&config, &BOXNOX_HEADER)
                .map(7, &strings(&row))
                .into_owned(),
        );
        assert_eq!(rows[0].quantity, -2);
    }

    #[test]
    fn thousands_separators_group_by_three() {
        // GIVEN a config with comma thousands
        let config = boxnox_with(|v| v["thousands_separator"] = json!(","));
        let mapper = mapper(&config, &BOXNOX_HEADER);
        let map = |qty: &'static str, amount: &'static str| {
            let mut row = good_boxnox_row();
            row[2] = qty;
            row[3] = amount;
            mapper.map(7, &strings(&row)).into_owned()
        };
        // WHEN/THEN proper grouping is read
        let rows = sellout(map("1,234", "1,234,567.891"));
        assert_eq!(
            (rows[0].quantity, rows[0].amount),
            (1234, Some(decimal("1234567.891")))
        );
        // AND misplaced separators are not
        for (qty, amount, code) in [
            ("1,5", "1", "invalid_quantity"),
            ("12,34", "1", "invalid_quantity"),
            ("1", "1,2345.00", "invalid_amount"),
            ("1", ",123", "invalid_amount"),
            ("1", "1.234,5", "invalid_amount"),
        ] {
            let errors = rejected(map(qty, amount));
            assert_eq!(only(&errors).0, code, "{qty} {amount}");
        }
    }

    #[test]
    fn comma_decimal_with_dot_thousands_reads_european_amounts() {
        // GIVEN a config with "," decimals and "." thousands
        let config = boxnox_with(|v| {
            v["decimal_separator"] = json!(",");
            v["thousands_separator"] = json!(".");
        });
        let mapper = mapper(&config, &BOXNOX_HEADER);
        let amount = |text: &'static str| {
            let mut row = good_boxnox_row();
            row[3] = text;
            mapper.map(7, &strings(&row)).into_owned()
        };
        // WHEN/THEN "1.234,56" is 1234.56 exactly, decimals kept as given
        assert_eq!(
            sellout(amount("1.234,56"))[0].amount,
            Some(decimal("1234.56"))
        );
        assert_eq!(sellout(amount("-0,125"))[0].amount, Some(decimal("-0.125")));
        assert_eq!(
            sellout(amount("1234,5000"))[0].amount,
            Some(decimal("1234.5000"))
        );
        // AND a dot-decimal amount or garbage is invalid
        for text in ["1234.56", "12 €", "n/a", "1.234.56"] {
            let errors = rejected(amount(text));
            assert_eq!(
                only(&errors),
                ("invalid_amount", Some("Sales Amount (EUR)")),
                "{text}"
            );
            assert!(errors[0].message.contains("1.234,56"), "{errors:?}");
        }
    }

    #[test]
    fn space_thousands_also_match_no_break_spaces() {
        // GIVEN a config with space thousands and comma decimals
        let config = boxnox_with(|v| {
            v["decimal_separator"] = json!(",");
            v["thousands_separator"] = json!(" ");
        });
        let mut row = good_boxnox_row();
        row[3] = "12\u{a0}345,60";
        // WHEN mapped THEN the amount is read
        let rows = sellout(
            mapper(&config, &BOXNOX_HEADER)
                .map(7, &strings(&row))
                .into_owned(),
        );
        assert_eq!(rows[0].amount, Some(decimal("12345.60")));
    }

    #[test]
    fn months_are_numbers_or_english_names_within_the_range() {
        // GIVEN month cells in every accepted form
        let month = |text: &'static str| {
            let mut row = good_boxnox_row();
            row[5] = text;
            boxnox().map(7, &strings(&row)).into_owned()
        };
        // WHEN/THEN each is read
        for (text, expected) in [
            ("1", 1),
            ("01", 1),
            ("12.0", 12),
            ("march", 3),
            ("MAR", 3),
            ("Mar.", 3),
            ("Sept", 9),
            ("December", 12),
        ] {
            assert_eq!(sellout(month(text))[0].month, expected, "{text}");
        }
        for text in ["0", "13", "Marz", "2024-03", "1.5"] {
            assert_eq!(
                only(&rejected(month(text))),
                ("invalid_month", Some("Month")),
                "{text}"
            );
        }
        // AND a range narrower than the year refuses the months outside it
        let config = boxnox_with(|v| v["validation_rules"]["month_range"] = json!([1, 6]));
        let mut row = good_boxnox_row();
        row[5] = "Jul";
        let errors = rejected(mapper(&config, &BOXNOX_HEADER).map(7, &strings(&row)));
        assert_eq!(only(&errors), ("month_out_of_range", Some("Month")));
        assert_eq!(
            errors[0].message,
            r#""Month" is "Jul": outside the accepted months 1-6"#
        );
    }

    #[test]
    fn years_are_whole_numbers_within_the_range() {
        // GIVEN year cells
        let year = |text: &'static str| {
            let mut row = good_boxnox_row();
            row[6] = text;
            boxnox().map(7, &strings(&row)).into_owned()
        };
        // WHEN/THEN years in the default range are read, others refused
        assert_eq!(sellout(year("2024.0"))[0].year, 2024);
        for text in ["24", "2101", "99999999999"] {
            assert_eq!(
                only(&rejected(year(text))),
                ("year_out_of_range", Some("Year")),
                "{text}"
            );
        }
        for text in ["twenty", "2024-01", "-2024"] {
            assert_eq!(
                only(&rejected(year(text))),
                ("invalid_year", Some("Year")),
                "{text}"
            );
        }
    }

    #[test]
    fn eans_are_digits_of_the_configured_length() {
        // GIVEN EAN cells
        let ean = |text: &'static str| {
            let mut row = good_boxnox_row();
            row[0] = text;
            boxnox().map(7, &strings(&row)).into_owned()
        };
        // WHEN/THEN a spreadsheet's "….0" is dropped
        assert_eq!(
            sellout(ean("4006381333931.0"))[0].product_ean.as_deref(),
            Some("4006381333931")
        );
        // AND short, lettered or scientific EANs are invalid
        let errors = rejected(ean("40063813339"));
        assert_eq!(only(&errors), ("invalid_ean", Some("Product EAN")));
        assert!(
            errors[0].message.contains("11 digits, not 13"),
            "{errors:?}"
        );
        for text in ["40063813339AB", "4.00638E+12", "4006381333931.5"] {
            assert_eq!(
                only(&rejected(ean(text))),
                ("invalid_ean", Some("Product EAN")),
                "{text}"
            );
        }
        assert!(
            rejected(ean("4.00638E+12"))[0]
                .message
                .contains("scientific")
        );
    }

    #[test]
    fn resellers_are_checked_against_the_allowed_list_ignoring_case() {
        // GIVEN a config allowing two resellers
        let config = boxnox_with(|v| {
            v["validation_rules"]["allowed_resellers"] = json!(["Douglas", "Müller"]);
        });
        let mapper = mapper(&config, &BOXNOX_HEADER);
        let reseller = |text: &'static str| {
            let mut row = good_boxnox_row();
            row[4] = text;
            mapper.map(7, &strings(&row)).into_owned()
        };
        // WHEN/THEN an allowed one in any case is stored as the config spells it
        assert_eq!(
            sellout(reseller("MÜLLER"))[0].reseller.as_deref(),
            Some("Müller")
        );
        assert_eq!(
            sellout(reseller("douglas"))[0].reseller.as_deref(),
            Some("Douglas")
        );
        // AND another is refused
        let errors = rejected(reseller("Sephora"));
        assert_eq!(only(&errors), ("reseller_not_allowed", Some("Reseller")));
        assert!(errors[0].message.contains("Douglas, Müller"), "{errors:?}");
    }

    #[test]
    fn a_currency_column_overrides_the_config_currency() {
        // GIVEN boxnox with a currency column
        let config = boxnox_with(|v| v["currency_column"] = json!("Currency"));
        let mut header = BOXNOX_HEADER.to_vec();
        header.push("Currency");
        let mapper = mapper(&config, &header);
        let currency = |text: &'static str| {
            let mut row = good_boxnox_row().to_vec();
            row.push(text);
            mapper.map(7, &strings(&row)).into_owned()
        };
        // WHEN/THEN a code is upper-cased, an empty cell falls back, anything else is refused
        assert_eq!(sellout(currency("pln"))[0].currency, "PLN");
        assert_eq!(sellout(currency(""))[0].currency, "EUR");
        assert_eq!(
            only(&rejected(currency("zł"))),
            ("invalid_currency", Some("Currency"))
        );
    }

    fn orders_config() -> VendorConfig {
        config(json!({
            "target": "ecommerce", "currency": "EUR",
            "date_formats": ["%d.%m.%Y"],
            "column_mapping": {"Order": "order_id", "EAN": "product_ean", "Qty": "quantity",
                "Total": "sales_eur", "Date": "date", "Country": "country", "City": "city"}
        }))
    }

    const ORDERS_HEADER: [&str; 7] = ["Order", "EAN", "Qty", "Total", "Date", "Country", "City"];

    fn order_date(text: &str) -> MappedRow<'static> {
        let row = ["A-1", "4006381333931", "1", "19.90", text, "DE", "Berlin"];
        mapper(&orders_config(), &ORDERS_HEADER)
            .map(7, &strings(&row))
            .into_owned()
    }

    fn the_order(mapped: MappedRow<'_>) -> OrderRow<'_> {
        match mapped {
            MappedRow::Ecommerce(mut rows) if rows.len() == 1 => rows.remove(0),
            other => panic!("expected one order, got {other:?}"),
        }
    }

    #[test]
    fn an_excel_serial_date_is_a_date() {
        // GIVEN an ecommerce row whose date is Excel's day number 45292
        // WHEN mapped
        let order = the_order(order_date("45292"));
        // THEN it is 2024-01-01 and the rest of the order is kept
        assert_eq!(
            order,
            OrderRow {
                source_row: 7,
                external_order_id: Some("A-1".into()),
                product_ean: Some("4006381333931".into()),
                functional_name: None,
                quantity: 1,
                amount: Some(decimal("19.90")),
                currency: "EUR".into(),
                order_date: NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
                country: Some("DE".into()),
                city: Some("Berlin".into()),
            }
        );
    }

    #[test]
    fn dates_follow_the_config_formats_then_iso_then_serials() {
        // GIVEN dates in each accepted form WHEN mapped THEN each is read
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        for (text, expected) in [
            ("31.01.2024", day(2024, 1, 31)),
            ("2024-01-31", day(2024, 1, 31)),
            ("2024-01-31T10:15:00", day(2024, 1, 31)),
            ("2024-01-31 10:15", day(2024, 1, 31)),
            ("45322.75", day(2024, 1, 31)),
        ] {
            assert_eq!(the_order(order_date(text)).order_date, expected, "{text}");
        }
        // AND anything else is invalid, and a serial far in the past is out of range
        for text in [
            "31/01/2024",
            "2024-02-30",
            "2024-01-31x",
            "0",
            "2958466",
            "soon",
        ] {
            assert_eq!(
                only(&rejected(order_date(text))),
                ("invalid_date", Some("Date")),
                "{text}"
            );
        }
        assert_eq!(
            only(&rejected(order_date("12"))),
            ("year_out_of_range", Some("Date"))
        );
    }

    #[test]
    fn a_sellout_date_column_gives_month_and_year() {
        // GIVEN a sellout config with a date instead of month and year
        let config = config(json!({
            "currency": "ZAR", "date_formats": ["%d/%m/%Y"],
            "column_mapping": {"Barcode": "product_ean", "Units": "quantity", "Day": "date"}
        }));
        let mapper = mapper(&config, &["Barcode", "Units", "Day"]);
        // WHEN a row is mapped
        let rows = sellout(
            mapper
                .map(9, &strings(&["6001234567890", "4", "15/11/2024"]))
                .into_owned(),
        );
        // THEN its month and year are the date's
        assert_eq!(
            (rows[0].month, rows[0].year, rows[0].quantity),
            (11, 2024, 4)
        );
        assert_eq!(rows[0].currency, "ZAR");
    }

    #[test]
    fn a_pivot_row_is_one_sellout_row_per_filled_month() {
        // GIVEN a pivot config with a fixed year and a header of twelve month spellings
        let config = config(json!({
            "currency": "EUR", "pivot_format": true, "pivot": {"year": 2024},
            "column_mapping": {"EAN": "product_ean", "Name": "functional_name", "Total": "ignore"}
        }));
        let header = [
            "EAN", "Name", "Jan", "February", "03", "4", "May", "JUN", "Jul.", "Aug", "Sept",
            "October", "Nov", "Dec", "Total",
        ];
        let mapper = mapper(&config, &header);
        let mut row = vec!["4006381333931", "Serum"];
        row.extend([
            "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
        ]);
        row.push("78");
        // WHEN a row with every month filled is mapped
        let rows = sellout(mapper.map(5, &strings(&row)).into_owned());
        // THEN there are twelve rows, month m with quantity m, and no amount
        assert_eq!(rows.len(), 12);
        for (i, r) in rows.iter().enumerate() {
            let month = i16::try_from(i + 1).expect("small");
            assert_eq!(
                (r.month, r.year, r.quantity),
                (month, 2024, i32::from(month))
            );
            assert_eq!(r.product_ean.as_deref(), Some("4006381333931"));
            assert_eq!((r.amount, r.source_row), (None, 5));
        }
        // AND empty month cells yield no row, bad ones an error on that month's column
        row[3] = "";
        row[5] = "x";
        let errors = rejected(mapper.map(5, &strings(&row)));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            (errors[0].code, errors[0].column.as_deref()),
            ("invalid_quantity", Some("4"))
        );
        row[5] = "";
        assert_eq!(sellout(mapper.map(5, &strings(&row))).len(), 10);
    }

    #[test]
    fn pivot_years_come_from_the_header_or_the_year_column() {
        // GIVEN a pivot config reading the year from a column, and headers with and without one
        let config = config(json!({
            "currency": "EUR", "pivot_format": true, "pivot": {"year_column": "Year"},
            "column_mapping": {"EAN": "product_ean"}
        }));
        let header = ["EAN", "Year", "Dec 2023", "2024-01", "Feb-24", "Mar"];
        let mapper = mapper(&config, &header);
        // WHEN a row is mapped
        let rows = sellout(
            mapper
                .map(3, &strings(&["4006381333931", "2025", "1", "2", "3", "4"]))
                .into_owned(),
        );
        // THEN a header's year wins, and the column's year fills the rest
        let periods: Vec<(i16, i16)> = rows.iter().map(|r| (r.year, r.month)).collect();
        assert_eq!(periods, [(2023, 12), (2024, 1), (2024, 2), (2025, 3)]);
        // AND an empty year cell is a missing value
        let errors = rejected(mapper.map(3, &strings(&["4006381333931", "", "1", "", "", "4"])));
        assert_eq!(
            (errors[0].code, errors[0].column.as_deref()),
            ("missing_value", Some("Year"))
        );
    }

    #[test]
    fn a_missing_column_fails_the_file_with_a_readable_message() {
        // GIVEN a boxnox file without "Sold Qty" and "Reseller"
        let header = strings(&[
            "Product EAN",
            "Functional Name",
            "Qty",
            "Sales Amount (EUR)",
            "Month",
            "Year",
        ]);
        // WHEN matched
        let Err(missing) = Mapper::new(&boxnox_config(), &header) else {
            panic!("expected missing columns");
        };
        // THEN both are listed with the file's columns
        assert_eq!(missing.columns, ["Reseller", "Sold Qty"]);
        assert_eq!(
            missing.message("boxnox"),
            "the file has no columns \"Reseller\", \"Sold Qty\" (vendor boxnox); its columns are: \
             \"Product EAN\", \"Functional Name\", \"Qty\", \"Sales Amount (EUR)\", \"Month\", \"Year\""
        );
        // AND a single missing column reads in the singular
        let header = strings(&[
            "Product EAN",
            "Functional Name",
            "Sold Qty",
            "Sales Amount (EUR)",
            "Month",
            "Year",
        ]);
        let Err(missing) = Mapper::new(&boxnox_config(), &header) else {
            panic!("expected missing columns");
        };
        assert!(
            missing
                .to_string()
                .starts_with("the file has no column \"Reseller\"; its columns are: ")
        );
    }

    #[test]
    fn a_pivot_file_without_month_columns_fails() {
        // GIVEN a pivot config and a header without months
        let config = config(json!({
            "currency": "EUR", "pivot_format": true, "pivot": {"year": 2024},
            "column_mapping": {"EAN": "product_ean"}
        }));
        // WHEN matched THEN the month columns are reported missing
        let Err(missing) = Mapper::new(&config, &strings(&["EAN", "Total", "13"])) else {
            panic!("expected missing month columns");
        };
        assert!(missing.month_columns && missing.columns.is_empty());
        assert!(
            missing.to_string().contains("no month columns"),
            "{missing}"
        );
    }

    #[test]
    fn ignored_columns_may_be_absent() {
        // GIVEN a config ignoring a column the file lacks
        let config = boxnox_with(|v| v["column_mapping"]["Notes"] = json!("ignore"));
        // WHEN matched THEN the header is accepted
        assert!(Mapper::new(&config, &strings(&BOXNOX_HEADER)).is_ok());
    }

    /// xorshift64: deterministic and dependency-free.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }

    #[test]
    fn random_cells_never_panic() {
        // GIVEN mappers of every shape and a pool of awkward cell texts
        let comma = boxnox_with(|v| {
            v["decimal_separator"] = json!(",");
            v["thousands_separator"] = json!(" ");
            v["validation_rules"]["allowed_resellers"] = json!(["Douglas"]);
            v["currency_column"] = json!("Cur");
        });
        let mut comma_header = BOXNOX_HEADER.to_vec();
        comma_header.push("Cur");
        let pivot = config(json!({
            "currency": "EUR", "pivot_format": true, "pivot": {"year_column": "Year"},
            "column_mapping": {"EAN": "product_ean"}
        }));
        let mappers = [
            boxnox(),
            mapper(&comma, &comma_header),
            mapper(&orders_config(), &ORDERS_HEADER),
            mapper(&pivot, &["EAN", "Year", "Jan", "2024-02", "Mar 24"]),
        ];
        let pool = [
            "",
            " ",
            "0",
            "-0",
            "12",
            "12.0",
            "1.5",
            "-3",
            "(4)",
            "1,234",
            "1.234,56",
            "1 234,5",
            "99999999999999999999999999999999",
            "0.0000000000000000000000000000001",
            ".",
            ",",
            "-",
            "()",
            "+",
            "4006381333931",
            "4006381333931.0",
            "4.00638E+12",
            "Jan",
            "sept.",
            "13",
            "2024",
            "45292",
            "2958465",
            "2958466",
            "2024-02-30",
            "2024-01-01T25:00",
            "31.01.2024",
            "EUR",
            "zł",
            "Douglas",
            "DOUGLAS",
            "ÿ̶̢",
            "\u{a0}",
            "\u{202f}1",
            "1\u{a0}000",
            "١٢",
            "𝟙𝟚",
            "NaN",
            "inf",
            "1e400",
            "'",
            "\"",
            "\u{feff}12",
        ];
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        for i in 0..2000u64 {
            let mapper = &mappers[random.below(mappers.len())];
            let width = random.below(12);
            let cells: Vec<String> = (0..width)
                .map(|_| match random.below(4) {
                    // Mostly pool texts, sometimes random characters.
                    0 => (0..random.below(8))
                        .map(|_| char::from_u32((random.next() % 0x3000) as u32).unwrap_or('?'))
                        .collect(),
                    _ => pool[random.below(pool.len())].to_owned(),
                })
                .collect();
            // WHEN mapped
            let mapped = mapper.map(i + 2, &cells);
            // THEN it is rows or errors of this row, never a panic or an empty rejection
            match mapped {
                MappedRow::Rejected(errors) => {
                    assert!(!errors.is_empty());
                    assert!(
                        errors
                            .iter()
                            .all(|e| e.row == i + 2 && !e.message.is_empty())
                    );
                }
                MappedRow::Sellout(rows) => {
                    assert!(
                        rows.iter()
                            .all(|r| i64::from(r.source_row) == (i + 2) as i64)
                    );
                }
                MappedRow::Ecommerce(rows) => {
                    assert!(
                        rows.iter()
                            .all(|r| i64::from(r.source_row) == (i + 2) as i64)
                    );
                }
            }
        }
    }
}

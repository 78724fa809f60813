//! The tenant's monthly FX rates: amounts in another currency are converted to EUR with the rate
//! of their month; a month without a rate rejects the row (never a silent 1:1).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::ingest::IngestError;

/// One month's rate: 1 `currency` = `rate_to_eur` EUR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FxRate {
    /// ISO 4217, e.g. `PLN`.
    pub currency: String,
    /// `YYYY-MM`.
    pub month: String,
    #[schema(value_type = String, example = "0.2315")]
    pub rate_to_eur: Decimal,
}

/// `GET` and `PUT /api/fx-rates`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FxRates {
    pub rates: Vec<FxRate>,
}

/// At most this many rates per request.
const MAX_RATES: usize = 5000;

/// Every rate, by currency then month.
pub async fn list(db: &Client) -> Result<FxRates, IngestError> {
    let rows = db
        .query(
            "select currency, year, month, rate_to_eur from fx_rates order by 1, 2, 3",
            &[],
        )
        .await?;
    let rates = rows
        .iter()
        .map(|r| {
            Ok(FxRate {
                currency: r.try_get("currency")?,
                month: format!(
                    "{:04}-{:02}",
                    r.try_get::<_, i16>("year")?,
                    r.try_get::<_, i16>("month")?
                ),
                rate_to_eur: r.try_get("rate_to_eur")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()?;
    Ok(FxRates { rates })
}

/// Sets the given rates (others stay); all or nothing. Returns how many were written.
pub async fn put(db: &Client, input: &FxRates) -> Result<usize, IngestError> {
    if input.rates.len() > MAX_RATES {
        return Err(IngestError::InvalidRate(format!(
            "at most {MAX_RATES} rates per request"
        )));
    }
    let mut currencies = Vec::with_capacity(input.rates.len());
    let mut years = Vec::with_capacity(input.rates.len());
    let mut months = Vec::with_capacity(input.rates.len());
    let mut values = Vec::with_capacity(input.rates.len());
    for (i, rate) in input.rates.iter().enumerate() {
        let (year, month) =
            parse(rate).map_err(|m| IngestError::InvalidRate(format!("rates[{i}]: {m}")))?;
        currencies.push(rate.currency.as_str());
        years.push(year);
        months.push(month);
        values.push(rate.rate_to_eur);
    }
    db.execute(
        "insert into fx_rates (currency, year, month, rate_to_eur) \
         select * from unnest($1::text[], $2::int2[], $3::int2[], $4::numeric[]) \
         on conflict (currency, year, month) do update \
         set rate_to_eur = excluded.rate_to_eur, updated_at = now()",
        &[&currencies, &years, &months, &values],
    )
    .await?;
    Ok(input.rates.len())
}

fn parse(rate: &FxRate) -> Result<(i16, i16), String> {
    let c = &rate.currency;
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("currency {c:?} is not an ISO code like PLN"));
    }
    if c == "EUR" {
        return Err("EUR needs no rate".into());
    }
    let (year, month) = rate
        .month
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i16>().ok()?, m.parse::<i16>().ok()?)))
        .filter(|(y, m)| (2000..=2100).contains(y) && (1..=12).contains(m) && rate.month.len() == 7)
        .ok_or_else(|| format!("month {:?} is not YYYY-MM", rate.month))?;
    if rate.rate_to_eur <= Decimal::ZERO || rate.rate_to_eur > Decimal::from(1_000_000) {
        return Err("rate_to_eur must be a positive number".into());
    }
    Ok((year, month))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(currency: &str, month: &str, value: &str) -> FxRate {
        FxRate {
            currency: currency.into(),
            month: month.into(),
            rate_to_eur: value.parse().unwrap(),
        }
    }

    #[test]
    fn valid_rates_parse_and_bad_ones_say_why() {
        assert_eq!(parse(&rate("PLN", "2024-03", "0.23")), Ok((2024, 3)));
        assert!(
            parse(&rate("pln", "2024-03", "0.23"))
                .unwrap_err()
                .contains("ISO")
        );
        assert!(
            parse(&rate("EUR", "2024-03", "1"))
                .unwrap_err()
                .contains("EUR")
        );
        assert!(
            parse(&rate("PLN", "2024-3", "0.23"))
                .unwrap_err()
                .contains("YYYY-MM")
        );
        assert!(
            parse(&rate("PLN", "2024-13", "0.23"))
                .unwrap_err()
                .contains("YYYY-MM")
        );
        assert!(
            parse(&rate("PLN", "2024-03", "0"))
                .unwrap_err()
                .contains("positive")
        );
        assert!(
            parse(&rate("PLN", "2024-03", "-1"))
                .unwrap_err()
                .contains("positive")
        );
    }
}

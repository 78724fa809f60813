//! What every new tenant database starts with: the seeds' vendor file formats (Boxnox, Galilu,
//! Skins) and their resellers, inserted once at provisioning and left alone afterwards.

use tokio_postgres::Client;

use crate::store::postgres::admin::{TenantDbError, step};

/// Inserts the default vendor configs and resellers, leaving existing ones as they are.
pub async fn seed_defaults(client: &Client) -> Result<(), TenantDbError> {
    let (vendors, configs): (Vec<&str>, Vec<&str>) = DEFAULT_VENDOR_CONFIGS.iter().copied().unzip();
    let (resellers, countries): (Vec<&str>, Vec<&str>) = DEFAULT_RESELLERS.iter().copied().unzip();
    // One statement, so the seed is all or nothing.
    client
        .execute(
            "with vendors as ( \
                 insert into vendor_configs (vendor_name, config_data, is_active) \
                 select v, c::jsonb, true from unnest($1::text[], $2::text[]) as t(v, c) \
                 on conflict (vendor_name) do nothing \
                 returning vendor_name, version, config_data \
             ), versions as ( \
                 insert into vendor_config_versions (vendor_name, version, config_data) \
                 select * from vendors \
             ) \
             insert into resellers (name, country) \
             select * from unnest($3::text[], $4::text[]) \
             on conflict (name) do nothing",
            &[&vendors, &configs, &resellers, &countries],
        )
        .await
        .map_err(step("seed", "defaults"))?;
    Ok(())
}

/// The vendor file formats every tenant starts with: (vendor_name, config_data).
pub const DEFAULT_VENDOR_CONFIGS: &[(&str, &str)] = &[
    (
        "boxnox",
        r#"{"currency": "EUR", "header_row": 0, "pivot_format": false,
            "column_mapping": {"Product EAN": "product_ean", "Functional Name": "functional_name", "Sold Qty": "quantity", "Sales Amount (EUR)": "sales_eur", "Reseller": "reseller", "Month": "month", "Year": "year"},
            "validation_rules": {"ean_length": 13, "month_range": [1, 12], "required_fields": ["product_ean", "quantity", "month", "year"]}}"#,
    ),
    (
        "galilu",
        r#"{"currency": "PLN", "header_row": 0, "pivot_format": false,
            "column_mapping": {"EAN": "product_ean", "Nazwa produktu": "functional_name", "Ilość": "quantity", "Wartość (PLN)": "sales_eur", "Miesiąc": "month", "Rok": "year"},
            "validation_rules": {"ean_length": 13, "month_range": [1, 12], "required_fields": ["product_ean", "quantity", "month", "year"]}}"#,
    ),
    (
        "skins",
        r#"{"currency": "ZAR", "header_row": 0, "pivot_format": false,
            "column_mapping": {"Barcode": "product_ean", "Description": "functional_name", "Units Sold": "quantity", "Net Sales (ZAR)": "sales_eur", "Store": "reseller", "Month": "month", "Year": "year"},
            "validation_rules": {"ean_length": 13, "month_range": [1, 12], "required_fields": ["product_ean", "quantity", "month", "year"]}}"#,
    ),
];

/// The resellers every tenant starts with: (name, country).
pub const DEFAULT_RESELLERS: &[(&str, &str)] = &[
    ("Galilu", "Poland"),
    ("Boxnox", "Europe"),
    ("Skins SA", "South Africa"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_vendor_configs_are_valid_json_with_the_boxnox_seed() {
        // GIVEN the embedded vendor configs
        // WHEN parsed
        let parsed: Vec<(&str, serde_json::Value)> = DEFAULT_VENDOR_CONFIGS
            .iter()
            .map(|(name, json)| (*name, serde_json::from_str(json).expect("valid JSON")))
            .collect();
        // THEN every one has the shape ingest reads, and boxnox is exactly the seed
        for (name, config) in &parsed {
            assert!(config["column_mapping"].is_object(), "{name}");
            assert_eq!(config["header_row"], 0, "{name}");
            assert_eq!(
                config["validation_rules"]["required_fields"],
                serde_json::json!(["product_ean", "quantity", "month", "year"]),
                "{name}"
            );
        }
        let boxnox = serde_json::json!({"currency": "EUR", "header_row": 0, "pivot_format": false,
            "column_mapping": {"Product EAN": "product_ean", "Functional Name": "functional_name", "Sold Qty": "quantity", "Sales Amount (EUR)": "sales_eur", "Reseller": "reseller", "Month": "month", "Year": "year"},
            "validation_rules": {"ean_length": 13, "month_range": [1, 12], "required_fields": ["product_ean", "quantity", "month", "year"]}});
        assert_eq!(parsed[0], ("boxnox", boxnox));
    }
}

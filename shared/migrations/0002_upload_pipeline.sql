-- The upload pipeline: versioned vendor configs, batches that record the config version they use
-- and a processing lease (exactly-once loading), monthly FX rates, the original amount beside
-- the EUR one, and a raw table indexed only for what loading, batch deletion and exports need
-- (analytics read the rollup).

-- Every version of every vendor config, so a batch is processed with exactly the version it was
-- uploaded against, whatever an admin edits meanwhile.
alter table vendor_configs add column version integer not null default 1;
create table vendor_config_versions (
    vendor_name text not null,
    version     integer not null check (version > 0),
    config_data jsonb not null,
    created_at  timestamptz not null default now(),
    created_by  uuid references users (user_id) on delete set null,
    primary key (vendor_name, version)
);
insert into vendor_config_versions (vendor_name, version, config_data)
select vendor_name, version, config_data from vendor_configs;

alter table upload_batches
    add column vendor_config_version integer,
    add column content_type text,
    add column lease_until timestamptz,
    add column attempts integer not null default 0,
    add column file_kind text,
    add column encoding text,
    add column stage_ms jsonb;
-- The batch listing's order and filter.
create index upload_batches_status_created_idx on upload_batches (status, created_at desc);

-- Monthly conversion rates: 1 unit of `currency` = `rate_to_eur` EUR in that month.
create table fx_rates (
    currency    char(3) not null check (currency ~ '^[A-Z]{3}$'),
    year        smallint not null check (year between 2000 and 2100),
    month       smallint not null check (month between 1 and 12),
    rate_to_eur numeric(18, 8) not null check (rate_to_eur > 0),
    updated_at  timestamptz not null default now(),
    primary key (currency, year, month)
);

-- The original amount and its currency (`currency`) are kept beside `sales_eur`.
alter table sellout_entries add column amount numeric(16, 4);
alter table ecommerce_orders add column amount numeric(16, 4);
-- A pivoted file yields one row per month from one source row.
alter table sellout_entries drop constraint sellout_entries_batch_id_source_row_key;
alter table ecommerce_orders drop constraint ecommerce_orders_batch_id_source_row_key;
drop index sellout_entries_period_idx;
drop index sellout_entries_reseller_idx;
drop index sellout_entries_product_ean_idx;
drop index ecommerce_orders_order_date_idx;
-- Nothing looks rows up by their id: no primary-key index to maintain on every loaded row.
alter table sellout_entries drop constraint sellout_entries_pkey;
alter table ecommerce_orders drop constraint ecommerce_orders_pkey;
-- Batch deletion, the batch's rollup delta and exports by batch.
create index sellout_entries_batch_idx on sellout_entries (batch_id);
create index ecommerce_orders_batch_idx on ecommerce_orders (batch_id);
create index error_reports_batch_row_idx on error_reports (batch_id, row_number);
drop index error_reports_batch_id_idx;

-- How many raw rows make each rollup row, so a batch deletion removes the rows it emptied (a
-- group can legitimately sum to zero).
alter table sales_monthly add column entries bigint not null default 0;

-- The ecommerce rollup, kept like sales_monthly.
create table ecommerce_monthly (
    year        smallint not null check (year between 2000 and 2100),
    month       smallint not null check (month between 1 and 12),
    country     text not null default '',
    product_ean text not null default '',
    quantity    bigint not null default 0,
    sales_eur   numeric(16, 2) not null default 0,
    orders      bigint not null default 0,
    primary key (year, month, country, product_ean)
);

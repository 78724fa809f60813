-- The tenant database schema: one PostgreSQL database per tenant, everything in schema public.
-- Run once by the migration runner, inside a transaction, as the role that will own the objects.

create table users (
    user_id              uuid primary key default gen_random_uuid(),
    email                text not null unique check (email = lower(email)),
    full_name            text not null,
    role                 text not null check (role in ('admin', 'analyst', 'viewer')),
    password_hash        text not null,
    must_change_password boolean not null default false,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    last_login_at        timestamptz
);

create table products (
    product_id      uuid primary key default gen_random_uuid(),
    ean             text not null unique,
    functional_name text,
    brand           text,
    created_at      timestamptz not null default now()
);

create table resellers (
    reseller_id uuid primary key default gen_random_uuid(),
    name        text not null unique,
    country     text,
    created_at  timestamptz not null default now()
);

create table upload_batches (
    batch_id        uuid primary key default gen_random_uuid(),
    uploaded_by     uuid references users (user_id) on delete set null,
    vendor_name     text not null,
    file_name       text not null,
    file_size_bytes bigint check (file_size_bytes >= 0),
    object_key      text,
    status          text not null default 'pending'
                    check (status in ('pending', 'processing', 'completed', 'failed')),
    rows_total      integer not null default 0,
    rows_loaded     integer not null default 0,
    rows_failed     integer not null default 0,
    failure_reason  text,
    created_at      timestamptz not null default now(),
    started_at      timestamptz,
    completed_at    timestamptz
);
create index upload_batches_created_at_idx on upload_batches (created_at desc);
-- Lets "on delete set null" find a user's batches without a scan.
create index upload_batches_uploaded_by_idx on upload_batches (uploaded_by);

create table sellout_entries (
    entry_id        bigint generated always as identity primary key,
    batch_id        uuid not null references upload_batches (batch_id) on delete cascade,
    source_row      integer not null,
    product_ean     text,
    functional_name text,
    reseller        text,
    vendor_name     text not null,
    quantity        integer not null,
    sales_eur       numeric(14, 2),
    currency        char(3) not null default 'EUR',
    month           smallint not null check (month between 1 and 12),
    year            smallint not null check (year between 2000 and 2100),
    created_at      timestamptz not null default now(),
    unique (batch_id, source_row)
);
create index sellout_entries_period_idx on sellout_entries (year, month);
create index sellout_entries_reseller_idx on sellout_entries (reseller);
create index sellout_entries_product_ean_idx on sellout_entries (product_ean);

create table ecommerce_orders (
    order_id          bigint generated always as identity primary key,
    batch_id          uuid references upload_batches (batch_id) on delete cascade,
    source_row        integer,
    external_order_id text,
    product_ean       text,
    functional_name   text,
    quantity          integer not null,
    sales_eur         numeric(14, 2),
    currency          char(3) not null default 'EUR',
    order_date        date not null,
    country           text,
    city              text,
    created_at        timestamptz not null default now(),
    unique (batch_id, source_row)
);
create index ecommerce_orders_order_date_idx on ecommerce_orders (order_date);

create table error_reports (
    error_id    bigint generated always as identity primary key,
    batch_id    uuid not null references upload_batches (batch_id) on delete cascade,
    row_number  integer,
    column_name text,
    error_code  text not null,
    message     text not null,
    raw_row     jsonb,
    created_at  timestamptz not null default now()
);
create index error_reports_batch_id_idx on error_reports (batch_id);

create table vendor_configs (
    vendor_name text primary key,
    config_data jsonb not null,
    is_active   boolean not null default true,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create table dashboard_configs (
    dashboard_id uuid primary key default gen_random_uuid(),
    user_id      uuid references users (user_id) on delete cascade,
    name         text not null,
    config       jsonb not null default '{}',
    is_default   boolean not null default false,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);
create index dashboard_configs_user_id_idx on dashboard_configs (user_id);

create table email_logs (
    email_id            uuid primary key default gen_random_uuid(),
    recipient           text not null,
    subject             text not null,
    template            text not null,
    status              text not null check (status in ('sent', 'failed')),
    provider_message_id text,
    error               text,
    sent_at             timestamptz not null default now()
);

create table conversation_history (
    message_id uuid primary key default gen_random_uuid(),
    user_id    uuid references users (user_id) on delete cascade,
    session_id uuid not null,
    role       text not null check (role in ('user', 'assistant')),
    content    text not null,
    created_at timestamptz not null default now()
);
-- A session's messages in order; also serves the cascade from users via user_id below.
create index conversation_history_session_idx on conversation_history (session_id, created_at);
create index conversation_history_user_id_idx on conversation_history (user_id);

-- The monthly rollup of sellout_entries, kept current at ingest (empty string = not given, so
-- the primary key can cover every dimension).
create table sales_monthly (
    year        smallint not null check (year between 2000 and 2100),
    month       smallint not null check (month between 1 and 12),
    reseller    text not null default '',
    product_ean text not null default '',
    vendor_name text not null,
    quantity    bigint not null default 0,
    sales_eur   numeric(16, 2) not null default 0,
    primary key (year, month, vendor_name, reseller, product_ean)
);

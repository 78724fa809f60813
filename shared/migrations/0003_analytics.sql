-- Analytics: two small rollups beside the full-grain `sales_monthly`, so that every question is
-- answered from the smallest rollup that holds its dimensions (months × vendors × resellers has
-- a few thousand rows per year, months × vendors × products a few hundred thousand, whatever the
-- number of raw rows); and saved dashboards a user can share with the tenant.

create table sales_monthly_by_reseller (
    year        smallint not null check (year between 2000 and 2100),
    month       smallint not null check (month between 1 and 12),
    vendor_name text not null,
    reseller    text not null,
    quantity    bigint not null default 0,
    sales_eur   numeric(16, 2) not null default 0,
    entries     bigint not null default 0,
    primary key (year, month, vendor_name, reseller)
);

create table sales_monthly_by_product (
    year        smallint not null check (year between 2000 and 2100),
    month       smallint not null check (month between 1 and 12),
    vendor_name text not null,
    product_ean text not null,
    quantity    bigint not null default 0,
    sales_eur   numeric(16, 2) not null default 0,
    entries     bigint not null default 0,
    primary key (year, month, vendor_name, product_ean)
);
-- One product's months (a product filter).
create index sales_monthly_by_product_product_idx
    on sales_monthly_by_product (product_ean, year, month);

insert into sales_monthly_by_reseller
select year, month, vendor_name, reseller, sum(quantity), sum(sales_eur), sum(entries)
from sales_monthly group by 1, 2, 3, 4;
insert into sales_monthly_by_product
select year, month, vendor_name, product_ean, sum(quantity), sum(sales_eur), sum(entries)
from sales_monthly group by 1, 2, 3, 4;

-- Saved dashboards: shared ones are visible to the whole tenant; at most one default per user.
alter table dashboard_configs add column shared boolean not null default false;
update dashboard_configs set is_default = false
where dashboard_id not in (
    select distinct on (user_id) dashboard_id from dashboard_configs
    where is_default order by user_id, updated_at desc
);
create unique index dashboard_configs_one_default_idx
    on dashboard_configs (user_id) where is_default;
create index dashboard_configs_shared_idx on dashboard_configs (shared) where shared;

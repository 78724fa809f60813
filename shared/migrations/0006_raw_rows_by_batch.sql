-- Raw rows without an index: on PostgreSQL 15 the BRIN index on `batch_id` looked up its block
-- range for every inserted row, about 40 % of the server's time in a file's COPY. Instead each
-- raw table is hash-partitioned by batch: all of a batch's rows lie in one of 16 partitions, so
-- deleting a batch reads a sixteenth of the rows and loading maintains no index. `created_at`
-- repeated the batch's own time on every row (a default evaluated per row): dropped.
--
-- `amount` and `currency` keep a row's original amount beside `sales_eur`. Where the file's
-- amount was in EUR and is exactly `sales_eur` (nearly every row of most tenants) both are now
-- NULL: they would say nothing `sales_eur` does not, and a NULL costs the load no conversion.
-- Read them as `coalesce(amount, sales_eur)` and `coalesce(currency, 'EUR')`.
drop view sales_monthly;

alter table sellout_entries rename to sellout_entries_unpartitioned;
create table sellout_entries (
    batch_id        uuid not null,
    source_row      integer not null,
    product_ean     text,
    functional_name text,
    reseller        text,
    vendor_name     text not null,
    quantity        integer not null,
    sales_eur       numeric(14, 2),
    currency        char(3),
    month           smallint not null,
    year            smallint not null,
    amount          numeric(16, 4),
    constraint sellout_entries_month_check check (month between 1 and 12),
    constraint sellout_entries_year_check check (year between 2000 and 2100)
) partition by hash (batch_id);

alter table ecommerce_orders rename to ecommerce_orders_unpartitioned;
create table ecommerce_orders (
    batch_id          uuid,
    source_row        integer,
    external_order_id text,
    product_ean       text,
    functional_name   text,
    quantity          integer not null,
    sales_eur         numeric(14, 2),
    currency          char(3),
    order_date        date not null,
    country           text,
    city              text,
    amount            numeric(16, 4)
) partition by hash (batch_id);

do $$
begin
    for r in 0..15 loop
        execute format(
            'create table %I partition of sellout_entries for values with (modulus 16, remainder %s)',
            'sellout_entries_' || r, r);
        execute format(
            'create table %I partition of ecommerce_orders for values with (modulus 16, remainder %s)',
            'ecommerce_orders_' || r, r);
    end loop;
end
$$;

insert into sellout_entries (batch_id, source_row, product_ean, functional_name, reseller,
                             vendor_name, quantity, sales_eur, currency, month, year, amount)
select batch_id, source_row, product_ean, functional_name, reseller,
       vendor_name, quantity, sales_eur, currency, month, year, amount
from sellout_entries_unpartitioned;
drop table sellout_entries_unpartitioned;

insert into ecommerce_orders (batch_id, source_row, external_order_id, product_ean,
                              functional_name, quantity, sales_eur, currency, order_date,
                              country, city, amount)
select batch_id, source_row, external_order_id, product_ean,
       functional_name, quantity, sales_eur, currency, order_date,
       country, city, amount
from ecommerce_orders_unpartitioned;
drop table ecommerce_orders_unpartitioned;

create view sales_monthly as
select year, month, vendor_name,
       coalesce(reseller, '') as reseller,
       coalesce(product_ean, '') as product_ean,
       sum(quantity)::bigint as quantity,
       coalesce(sum(sales_eur), 0)::numeric(16, 2) as sales_eur,
       count(*) as entries
from sellout_entries
group by 1, 2, 3, 4, 5;

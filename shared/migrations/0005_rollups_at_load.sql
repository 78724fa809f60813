-- The full grain of sell-out (month × vendor × reseller × product) has about as many rows as the
-- raw table: a vendor's report already has one line per product, reseller and month. Keeping it
-- as a table cost more than loading the rows themselves (a 1.6 M-row file: 12 s of upserts
-- against 3 s of COPY), for the few questions that combine reseller and product. It becomes a
-- view over the raw rows with the same columns; the two small rollups and `ecommerce_monthly`
-- stay tables, added to in memory while a file is read (`ingest::rollup`).
drop table sales_monthly;
create view sales_monthly as
select year, month, vendor_name,
       coalesce(reseller, '') as reseller,
       coalesce(product_ean, '') as product_ean,
       sum(quantity)::bigint as quantity,
       coalesce(sum(sales_eur), 0)::numeric(16, 2) as sales_eur,
       count(*) as entries
from sellout_entries
group by 1, 2, 3, 4, 5;

-- Rollup rows are updated in place by every batch touching their month: room on each page lets
-- those updates stay on the page (no index entry per update).
alter table sales_monthly_by_reseller set (fillfactor = 90);
alter table sales_monthly_by_product set (fillfactor = 90);
alter table ecommerce_monthly set (fillfactor = 90);

-- A product's months are read through the key's month prefix (a year of a 5,000-product
-- catalogue is 60,000 index entries); the separate product index doubled the cost of adding to
-- this rollup.
drop index sales_monthly_by_product_product_idx;

-- A batch's raw rows arrive in one COPY, so they lie together: a BRIN index finds them for batch
-- deletion and exports at almost no cost per loaded row (a B-tree entry per row was a third of
-- the server's time in COPY).
drop index sellout_entries_batch_idx;
create index sellout_entries_batch_idx on sellout_entries using brin (batch_id)
    with (autosummarize = on);
drop index ecommerce_orders_batch_idx;
create index ecommerce_orders_batch_idx on ecommerce_orders using brin (batch_id)
    with (autosummarize = on);

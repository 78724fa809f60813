-- A sell-out batch is one vendor's file: `upload_batches.vendor_name` already says whose every raw
-- row is. Repeated on each raw row it cost the server a text field per row in a file's COPY,
-- about 7 % of it. Dropped (a catalogue change: existing rows are not rewritten); the full-grain
-- view reads the vendor from the row's batch, as batch deletion does.
drop view sales_monthly;
alter table sellout_entries drop column vendor_name;
create view sales_monthly as
select r.year, r.month, b.vendor_name,
       coalesce(r.reseller, '') as reseller,
       coalesce(r.product_ean, '') as product_ean,
       sum(r.quantity)::bigint as quantity,
       coalesce(sum(r.sales_eur), 0)::numeric(16, 2) as sales_eur,
       count(*) as entries
from sellout_entries r
join upload_batches b using (batch_id)
group by 1, 2, 3, 4, 5;

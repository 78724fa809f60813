-- Loading a file pays, per raw row, only for the row and the batch index: no foreign-key
-- check (a trigger per row) and no identity value. Raw rows belong to their batch through
-- `batch_id`; deleting a batch deletes its rows and errors explicitly, in its transaction.
alter table sellout_entries drop constraint sellout_entries_batch_id_fkey;
alter table ecommerce_orders drop constraint ecommerce_orders_batch_id_fkey;
alter table sellout_entries drop column entry_id;
alter table ecommerce_orders drop column order_id;

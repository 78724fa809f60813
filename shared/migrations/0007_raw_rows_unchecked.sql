-- A raw sell-out row's month and year were checked three times: by the mapper (the vendor
-- config's ranges), by these constraints, and by the rollup tables' own checks (`month between
-- 1 and 12`, `year between 2000 and 2100`), which every loaded row is added to in the same
-- transaction, so a row outside them still fails its whole load. Checked on each of a file's raw
-- rows, these two cost about 4 % of the server's time in its COPY: dropped. The rollups' checks
-- stay.
alter table sellout_entries
    drop constraint sellout_entries_month_check,
    drop constraint sellout_entries_year_check;

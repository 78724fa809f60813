//! The rollups analytics read, kept exact here: a loaded batch's rows are added in the load
//! transaction and a deleted batch's rows subtracted in the deletion transaction.
//!
//! Each target (sell-out lines, e-commerce orders) has rollups keyed by subsets of its dimensions,
//! listed smallest first; a query reads the first one whose keys hold every dimension it groups
//! or filters by. The small rollups are tables. The sell-out full grain (month × vendor ×
//! reseller × product) is a view grouping the raw rows: it has about as many rows as the raw
//! table, so keeping it would cost more than loading the rows.
//!
//! At load, the reading thread sums the batch's rows at each table's grain in memory
//! ([`Delta`]); the sums go by binary COPY straight into a table that cannot hold any of their
//! groups yet (a vendor's new months), else to a temporary table, from which one `UPDATE` plus
//! one `INSERT` apply them (set-based: no per-row conflict check). At deletion the same temporary
//! table is filled by grouping the batch's raw rows. Loads and deletions of one tenant take their
//! target's rollup lock first, so two of them never race on a new group.

use bytes::BytesMut;
use foldhash::HashMap;
use futures_util::SinkExt as _;
use rust_decimal::Decimal;
use std::hash::BuildHasher as _;
use uuid::Uuid;

use crate::ingest::vendor::Target;
use crate::store::postgres::copy;

/// One rollup: the columns it is keyed by (`year`, `month` and dimensions), the column counting
/// the raw rows behind each of its rows (a group emptied by deletions is removed even when its
/// sums are zero), and whether it is a table kept here or a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollup {
    pub table: &'static str,
    pub keys: &'static [&'static str],
    pub count: &'static str,
    pub kept: Kept,
}

/// How a rollup stays exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// A table, added to at load and subtracted from at batch deletion.
    Table,
    /// A view grouping the raw rows when read: nothing to keep.
    View,
}

/// Sell-out rollups, smallest first: months × vendors × resellers, months × vendors × products,
/// and the full grain.
pub const SELLOUT: &[Rollup] = &[
    Rollup {
        table: "sales_monthly_by_reseller",
        keys: &["year", "month", "vendor_name", "reseller"],
        count: "entries",
        kept: Kept::Table,
    },
    Rollup {
        table: "sales_monthly_by_product",
        keys: &["year", "month", "vendor_name", "product_ean"],
        count: "entries",
        kept: Kept::Table,
    },
    Rollup {
        table: "sales_monthly",
        keys: &["year", "month", "vendor_name", "reseller", "product_ean"],
        count: "entries",
        kept: Kept::View,
    },
];

/// The e-commerce rollup: months × countries × products.
pub const ECOMMERCE: &[Rollup] = &[Rollup {
    table: "ecommerce_monthly",
    keys: &["year", "month", "country", "product_ean"],
    count: "orders",
    kept: Kept::Table,
}];

/// The most dimensions (besides the month) a rollup table is keyed by.
const MAX_DIMENSIONS: usize = 3;
// A group's place in key order (see `Delta::in_key_order`) is its month and values' ranks in 128 bits.
const _: () = assert!(32 + 32 * MAX_DIMENSIONS <= 128);

impl Target {
    /// Its rollups, smallest first.
    pub fn rollups(self) -> &'static [Rollup] {
        match self {
            Self::Sellout => SELLOUT,
            Self::Ecommerce => ECOMMERCE,
        }
    }

    /// The dimensions a raw row carries into the rollups besides its month, in the order
    /// [`Delta::add`] takes their values.
    pub(crate) fn dimensions(self) -> &'static [&'static str] {
        match self {
            Self::Sellout => &["vendor_name", "reseller", "product_ean"],
            Self::Ecommerce => &["country", "product_ean"],
        }
    }

    /// The raw rows of the batch `$1` as `r`, with (for sell-out, whose vendor is the batch's)
    /// the batch as `b`.
    fn batch_rows(self) -> &'static str {
        match self {
            Self::Sellout => {
                "sellout_entries r join upload_batches b on b.batch_id = r.batch_id \
                 where r.batch_id = $1"
            }
            Self::Ecommerce => "ecommerce_orders r where r.batch_id = $1",
        }
    }

    /// A rollup key as an expression over a raw row `r` of batch `b`: an absent dimension is
    /// `''`, and a sell-out row's vendor is its batch's.
    fn raw_key(self, key: &str) -> String {
        match (self, key) {
            (Self::Ecommerce, "year" | "month") => {
                format!("extract({key} from r.order_date)::smallint")
            }
            (_, "vendor_name") => "b.vendor_name".to_owned(),
            (_, "year" | "month") => format!("r.{key}"),
            _ => format!("coalesce(r.{key}, '')"),
        }
    }

    /// The number of this target's rollup lock (within [`LOCK_CLASS`]).
    fn lock(self) -> i32 {
        match self {
            Self::Sellout => 1,
            Self::Ecommerce => 2,
        }
    }

    fn tables(self) -> impl Iterator<Item = &'static Rollup> {
        self.rollups().iter().filter(|r| r.kept == Kept::Table)
    }
}

/// The first key of the two-key advisory locks taken here: `hashtext('ingest::rollup')`.
const LOCK_CLASS: &str = "hashtext('ingest::rollup')";

/// A group's month and dimension values (interned, see [`Values`]).
type Key = (i16, i16, [u32; MAX_DIMENSIONS]);

/// What a group adds to its rollup row. EUR amounts are whole cents (every one is rounded to
/// cents before it is summed): integer adds, and a smaller map entry, which matters when a file
/// has hundreds of thousands of groups and nearly every row's lookup misses the cache.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Sums {
    quantity: i64,
    cents: i64,
    rows: i64,
}

impl Sums {
    fn sales_eur(&self) -> Decimal {
        Decimal::new(self.cents, 2)
    }
}

/// `eur` rounded to cents, in cents; beyond ±92 quadrillion EUR, which no numeric column here
/// can hold either, it saturates.
fn cents(eur: Decimal) -> i64 {
    let eur = eur.round_dp(2);
    let scale = 10i128.pow(2 - eur.scale().min(2));
    let cents = eur.mantissa().saturating_mul(scale);
    i64::try_from(cents).unwrap_or(if cents < 0 { i64::MIN } else { i64::MAX })
}

/// A batch's rows summed in memory at the grain of each rollup table, while its file is read:
/// memory follows the number of groups, not of rows. Built by [`Summing`].
#[derive(Debug)]
pub(crate) struct Delta {
    target: Target,
    values: Values,
    groups: Groups,
}

/// Every dimension value a batch's rows named, interned: each gets an id, its place in `names`.
#[derive(Debug, Default)]
struct Values {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
    /// Per dimension, the id of the value the last row had.
    last: [Option<u32>; MAX_DIMENSIONS],
}

impl Values {
    /// The ids of one row's dimension values (an absent one counts as `''`, as in the rollups).
    fn ids(&mut self, dimensions: &[Option<&str>]) -> [u32; MAX_DIMENSIONS] {
        let mut ids = [0u32; MAX_DIMENSIONS];
        for (i, value) in dimensions.iter().enumerate().take(MAX_DIMENSIONS) {
            let value = value.unwrap_or("");
            // A file repeats values from row to row (one vendor, runs of one reseller).
            ids[i] = match self.last[i] {
                Some(last) if self.name(last) == value => last,
                _ => self.id(value),
            };
            self.last[i] = Some(ids[i]);
        }
        ids
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 2^32 distinct values");
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }
}

/// One row as the rollups take it: its month, its interned dimension values, its sums.
#[derive(Debug, Clone, Copy)]
struct Contribution {
    year: i16,
    month: i16,
    ids: [u32; MAX_DIMENSIONS],
    quantity: i32,
    cents: i64,
}

/// The groups of each rollup table.
#[derive(Debug)]
struct Groups {
    /// Per rollup table: the positions in [`Target::dimensions`] of its key's dimensions.
    grains: Vec<(&'static Rollup, Vec<usize>)>,
    /// Per rollup table, its groups.
    groups: Vec<ShardedSums>,
}

impl Groups {
    fn new(target: Target) -> Self {
        let dimensions = target.dimensions();
        let grains: Vec<_> = target
            .tables()
            .map(|rollup| {
                let positions = rollup.keys[2..]
                    .iter()
                    .map(|k| {
                        dimensions
                            .iter()
                            .position(|d| d == k)
                            .expect("a rollup key is a dimension of its target")
                    })
                    .collect();
                (rollup, positions)
            })
            .collect();
        Self {
            groups: grains.iter().map(|_| ShardedSums::default()).collect(),
            grains,
        }
    }

    fn add(&mut self, row: &Contribution) {
        for ((_, positions), groups) in self.grains.iter().zip(&mut self.groups) {
            let mut key = [0u32; MAX_DIMENSIONS];
            for (slot, &p) in key.iter_mut().zip(positions) {
                *slot = row.ids[p];
            }
            groups.add((row.year, row.month, key), row.quantity, row.cents);
        }
    }

    /// Every row added is in its group.
    fn settle(&mut self) {
        for groups in &mut self.groups {
            groups.settle();
        }
    }
}

/// The shards a rollup table's groups are split into by their key's hash.
const SHARDS: usize = 64;
/// Rows a shard collects before they are added to its groups.
const PENDING_ROWS: usize = 1024;

/// One rollup table's groups, split by hash into shards small enough for a core's cache (a file
/// of 300 k groups makes one map of about 20 MB, where every row's lookup missed the cache). A
/// row waits in its shard's pending list; a full list is added to the shard's groups at once,
/// while they are in cache. At most about 2 MB of pending rows per table.
#[derive(Debug)]
struct ShardedSums {
    shard_of: foldhash::fast::RandomState,
    shards: Vec<Shard>,
}

#[derive(Debug, Default)]
struct Shard {
    groups: HashMap<Key, Sums>,
    /// A key, a quantity and EUR cents per row.
    pending: Vec<(Key, i32, i64)>,
}

impl Default for ShardedSums {
    fn default() -> Self {
        Self {
            shard_of: foldhash::fast::RandomState::default(),
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl ShardedSums {
    fn add(&mut self, key: Key, quantity: i32, cents: i64) {
        // Bits of the hash the shard's own map does not index by (it uses the lowest and the
        // highest).
        let shard = &mut self.shards[(self.shard_of.hash_one(key) >> 32) as usize % SHARDS];
        if shard.pending.capacity() == 0 {
            shard.pending.reserve_exact(PENDING_ROWS);
        }
        shard.pending.push((key, quantity, cents));
        if shard.pending.len() >= PENDING_ROWS {
            shard.settle();
        }
    }

    /// Adds every pending row to its group.
    fn settle(&mut self) {
        for shard in &mut self.shards {
            shard.settle();
            shard.pending = Vec::new();
        }
    }

    /// The groups, in no order; rows still pending are not in them (see [`Self::settle`]).
    fn iter(&self) -> impl Iterator<Item = (&Key, &Sums)> {
        self.shards.iter().flat_map(|shard| &shard.groups)
    }
}

impl Shard {
    fn settle(&mut self) {
        for (key, quantity, cents) in self.pending.drain(..) {
            let sums = self.groups.entry(key).or_default();
            sums.quantity += i64::from(quantity);
            sums.cents += cents;
            sums.rows += 1;
        }
    }
}

/// Rows handed to the summing thread at a time: few hand-overs, little memory (about 256 KiB).
const BLOCK_ROWS: usize = 8192;

/// Sums a batch's rows into a [`Delta`] as its file is read. The reading thread only interns
/// each row's values (a few distinct ones, looked up in cache); the group lookups, which miss the
/// cache when a file has hundreds of thousands of groups, run on a thread of their own, fed in
/// blocks of rows. That thread ends with [`Summing::finish`], or when this is dropped.
#[derive(Debug)]
pub(crate) struct Summing {
    target: Target,
    values: Values,
    block: Vec<Contribution>,
    sender: Option<std::sync::mpsc::SyncSender<Vec<Contribution>>>,
    summer: std::thread::JoinHandle<Groups>,
}

impl Summing {
    /// Starts the summing thread (the error is the operating system's refusal to start it).
    pub(crate) fn start(target: Target) -> std::io::Result<Self> {
        let (sender, blocks) = std::sync::mpsc::sync_channel::<Vec<Contribution>>(2);
        let mut groups = Groups::new(target);
        let summer = std::thread::Builder::new()
            .name("rollup-sums".into())
            .spawn(move || {
                for block in blocks {
                    for row in &block {
                        groups.add(row);
                    }
                }
                groups.settle();
                groups
            })?;
        Ok(Self {
            target,
            values: Values::default(),
            block: Vec::with_capacity(BLOCK_ROWS),
            sender: Some(sender),
            summer,
        })
    }

    /// Adds one raw row: its month, its dimension values in [`Target::dimensions`] order (an
    /// absent one counts as `''`, as in the rollups), its quantity and EUR amount. Answers the
    /// values' ids (see [`Delta::name`]).
    pub(crate) fn add(
        &mut self,
        year: i16,
        month: i16,
        dimensions: &[Option<&str>],
        quantity: i32,
        sales_eur: Option<Decimal>,
    ) -> [u32; MAX_DIMENSIONS] {
        let ids = self.values.ids(dimensions);
        self.block.push(Contribution {
            year,
            month,
            ids,
            quantity,
            cents: sales_eur.map_or(0, cents),
        });
        if self.block.len() >= BLOCK_ROWS {
            self.hand_over();
        }
        ids
    }

    fn hand_over(&mut self) {
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK_ROWS));
        self.send(block);
    }

    fn send(&mut self, block: Vec<Contribution>) {
        // A summing thread that is gone has panicked: `finish` says so.
        if let Some(sender) = &self.sender
            && sender.send(block).is_err()
        {
            self.sender = None;
        }
    }

    /// Every row added, summed. A panic of the summing thread resumes here.
    pub(crate) fn finish(mut self) -> Delta {
        let last = std::mem::take(&mut self.block);
        self.send(last);
        self.sender = None;
        match self.summer.join() {
            Ok(groups) => Delta {
                target: self.target,
                values: self.values,
                groups,
            },
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Delta {
    /// The value with this id.
    pub(crate) fn name(&self, id: u32) -> &str {
        self.values.name(id)
    }

    /// Each rollup table's groups in its key order, for [`add`]: the table's key index is then
    /// filled page after page. Sorting 300 k groups takes tens of milliseconds: the loader does
    /// it on another thread while the server stores the batch's errors and new products.
    pub(crate) fn in_key_order(&self) -> InKeyOrder {
        let names = &self.values.names;
        // Each value's place in sorted order, so that groups sort by integers.
        let mut by_name: Vec<usize> = (0..names.len()).collect();
        by_name.sort_unstable_by_key(|&id| &names[id]);
        let mut rank = vec![0usize; names.len()];
        for (place, id) in by_name.into_iter().enumerate() {
            rank[id] = place;
        }
        InKeyOrder(
            self.groups
                .groups
                .iter()
                .map(|groups| ordered(groups, &rank))
                .collect(),
        )
    }

    /// [`Self::in_key_order`] of rollup table `i`, with the values' names.
    #[cfg(test)]
    fn sorted(&self, i: usize) -> Vec<(i16, i16, [&str; MAX_DIMENSIONS], Sums)> {
        let InKeyOrder(mut tables) = self.in_key_order();
        tables
            .swap_remove(i)
            .into_iter()
            .map(|((year, month, key), sums)| (year, month, key.map(|id| self.name(id)), sums))
            .collect()
    }
}

/// One table's groups in key order, given each value's `rank` among the names.
fn ordered(groups: &ShardedSums, rank: &[usize]) -> Vec<(Key, Sums)> {
    let rank_of = |id: u32| rank.get(id as usize).map_or(0, |&r| r as u128);
    // A group's place in key order as one integer, computed once per group rather than at
    // every comparison (300 k groups: 150 ms less): month (the sign bit flipped, so that the
    // unsigned order is the signed one), then the values' ranks.
    let place = |&(year, month, key): &Key| {
        let month = (u128::from(year.cast_unsigned() ^ 0x8000) << 16)
            | u128::from(month.cast_unsigned() ^ 0x8000);
        key.iter()
            .fold(month, |place, &id| (place << 32) | rank_of(id))
    };
    let mut groups: Vec<(u128, Key, Sums)> = groups
        .iter()
        .map(|(key, &sums)| (place(key), *key, sums))
        .collect();
    groups.sort_unstable_by_key(|&(place, ..)| place);
    groups
        .into_iter()
        .map(|(_, key, sums)| (key, sums))
        .collect()
}

/// Each rollup table's groups in its key order ([`Delta::in_key_order`]).
#[derive(Debug)]
pub(crate) struct InKeyOrder(Vec<Vec<(Key, Sums)>>);

/// Adds a loaded batch's sums to every rollup table of its target. Where the table has no row
/// yet in the batch's months for the values of its first dimension (the vendor: a vendor's new
/// months), none of the batch's groups can be there: they are copied straight in. Otherwise they
/// go through a temporary table, an `UPDATE` of the groups already there and an `INSERT` of the
/// others.
pub(crate) async fn add(
    tx: &tokio_postgres::Transaction<'_>,
    delta: &Delta,
    ordered: &InKeyOrder,
) -> Result<(), tokio_postgres::Error> {
    lock(tx, delta.target).await?;
    for ((rollup, _), groups) in delta.groups.grains.iter().zip(&ordered.0) {
        if may_hold_groups_of(tx, delta, rollup, groups).await? {
            create_delta_table(tx, rollup).await?;
            copy_groups(tx, "rollup_delta", delta, rollup, groups).await?;
            tx.batch_execute(&statement(rollup, Change::Add)).await?;
        } else {
            let Rollup {
                table, keys, count, ..
            } = rollup;
            let into = format!(
                "{table} ({}, quantity, sales_eur, {count})",
                keys.join(", ")
            );
            copy_groups(tx, &into, delta, rollup, groups).await?;
        }
    }
    Ok(())
}

/// Whether `rollup` has a row in one of the months of `groups` (in key order) with one of their
/// values of its first dimension: then some of them may already be there.
async fn may_hold_groups_of(
    tx: &tokio_postgres::Transaction<'_>,
    delta: &Delta,
    rollup: &Rollup,
    groups: &[(Key, Sums)],
) -> Result<bool, tokio_postgres::Error> {
    // Key order is month first: each month's groups are together.
    let mut months: Vec<(i16, i16)> = groups.iter().map(|&((y, m, _), _)| (y, m)).collect();
    months.dedup();
    let mut firsts: Vec<u32> = groups.iter().map(|((.., key), _)| key[0]).collect();
    firsts.sort_unstable();
    firsts.dedup();
    let (years, months): (Vec<i16>, Vec<i16>) = months.into_iter().unzip();
    let firsts: Vec<&str> = firsts.into_iter().map(|id| delta.name(id)).collect();
    let row = tx
        .query_one(
            &format!(
                "select exists (select from {table} \
                 where (year, month) in (select * from unnest($1::int2[], $2::int2[])) \
                 and {first} = any($3))",
                table = rollup.table,
                first = rollup.keys[2],
            ),
            &[&years, &months, &firsts],
        )
        .await?;
    row.try_get(0)
}

/// Sends the groups of `rollup`, in its key order, by binary COPY into `into` (a table with the
/// rollup's keys and then quantity, EUR sales and row count).
async fn copy_groups(
    tx: &tokio_postgres::Transaction<'_>,
    into: &str,
    delta: &Delta,
    rollup: &Rollup,
    groups: &[(Key, Sums)],
) -> Result<(), tokio_postgres::Error> {
    let sink = tx
        .copy_in(&format!("copy {into} from stdin binary"))
        .await?;
    let mut sink = std::pin::pin!(sink);
    let width = rollup.keys.len() - 2;
    let fields = i16::try_from(rollup.keys.len() + 3).unwrap_or(i16::MAX);
    let mut buf = BytesMut::with_capacity(copy::CHUNK_BYTES + 4096);
    buf.extend_from_slice(copy::HEADER);
    for &((year, month, values), sums) in groups {
        let mut row = copy::row(&mut buf, fields);
        row.int2(year).int2(month);
        for &id in &values[..width] {
            row.text(Some(delta.name(id)));
        }
        row.int8(sums.quantity)
            .numeric(Some(sums.sales_eur()))
            .int8(sums.rows);
        if buf.len() >= copy::CHUNK_BYTES {
            sink.feed(buf.split().freeze()).await?;
        }
    }
    buf.extend_from_slice(copy::TRAILER);
    sink.feed(buf.freeze()).await?;
    sink.as_mut().finish().await?;
    Ok(())
}

/// Subtracts a batch's rows (still in the raw table) from every rollup table of `target`,
/// removing the groups they emptied.
pub(crate) async fn remove(
    tx: &tokio_postgres::Transaction<'_>,
    target: Target,
    batch_id: &Uuid,
) -> Result<(), tokio_postgres::Error> {
    lock(tx, target).await?;
    for rollup in target.tables() {
        create_delta_table(tx, rollup).await?;
        let keys = rollup
            .keys
            .iter()
            .map(|k| target.raw_key(k))
            .collect::<Vec<_>>()
            .join(", ");
        tx.execute(
            &format!(
                "insert into rollup_delta select {keys}, sum(r.quantity), \
                 coalesce(sum(r.sales_eur), 0), count(*) from {} group by {keys}",
                target.batch_rows()
            ),
            &[batch_id],
        )
        .await?;
        tx.batch_execute(&statement(rollup, Change::Remove)).await?;
    }
    Ok(())
}

/// Serialises the rollup changes of one target in this tenant database until the transaction
/// ends.
async fn lock(
    tx: &tokio_postgres::Transaction<'_>,
    target: Target,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        &format!("select pg_advisory_xact_lock({LOCK_CLASS}, $1)"),
        &[&target.lock()],
    )
    .await
    .map(drop)
}

/// A temporary `rollup_delta` with `rollup`'s keys and the sums (dropped by the statement that
/// applies it).
async fn create_delta_table(
    tx: &tokio_postgres::Transaction<'_>,
    rollup: &Rollup,
) -> Result<(), tokio_postgres::Error> {
    let keys = rollup
        .keys
        .iter()
        .map(|k| match *k {
            "year" | "month" => format!("{k} smallint"),
            _ => format!("{k} text"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    tx.batch_execute(&format!(
        "create temp table rollup_delta ({keys}, quantity bigint, sales_eur numeric, n bigint) \
         on commit drop"
    ))
    .await
}

#[derive(Clone, Copy)]
enum Change {
    Add,
    Remove,
}

/// The SQL that adds `rollup_delta` to (or subtracts it from) one rollup table, then drops it.
fn statement(rollup: &Rollup, change: Change) -> String {
    let Rollup {
        table, keys, count, ..
    } = rollup;
    let matched = keys
        .iter()
        .map(|k| format!("m.{k} = d.{k}"))
        .collect::<Vec<_>>()
        .join(" and ");
    let sign = match change {
        Change::Add => '+',
        Change::Remove => '-',
    };
    let update = format!(
        // Not analysed: the planner sizes a fresh table from its pages, which is enough here.
        "update {table} m set quantity = m.quantity {sign} d.quantity, \
             sales_eur = m.sales_eur {sign} d.sales_eur, {count} = m.{count} {sign} d.n \
         from rollup_delta d where {matched};"
    );
    let rest = match change {
        // The delta arrives in key order and is read in that order.
        Change::Add => {
            let key_list = keys
                .iter()
                .map(|k| format!("d.{k}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "insert into {table} ({}, quantity, sales_eur, {count}) \
                 select {key_list}, d.quantity, d.sales_eur, d.n from rollup_delta d \
                 where not exists (select from {table} m where {matched});",
                keys.join(", ")
            )
        }
        Change::Remove => {
            format!(
                "delete from {table} m using rollup_delta d where {matched} and m.{count} <= 0;"
            )
        }
    };
    // A delta usually holds far fewer groups than the table (a month's file against years of
    // them): at the default random-page cost the planner hashes the whole table to join it, at
    // an SSD's (the database is cached or on SSD) it looks each group up by the key instead, which
    // costs by the delta's size, not the table's. A delta as large as the table is still hashed.
    format!("set local random_page_cost = 1.1; {update} {rest} drop table rollup_delta")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollups_are_listed_smallest_first_and_tables_fit_the_in_memory_key() {
        for target in [Target::Sellout, Target::Ecommerce] {
            let rollups = target.rollups();
            let finest = rollups.last().expect("a rollup");
            for r in rollups {
                assert!(r.keys.starts_with(&["year", "month"]), "{}", r.table);
                assert!(
                    r.keys.iter().all(|k| finest.keys.contains(k)),
                    "{}",
                    r.table
                );
                assert!(r.keys.len() <= finest.keys.len());
            }
            for r in target.tables() {
                assert!(r.keys.len() - 2 <= MAX_DIMENSIONS, "{}", r.table);
            }
            assert!(target.dimensions().len() <= MAX_DIMENSIONS);
            // Groups::new panics if a table's key is not a dimension of the target.
            assert_eq!(Groups::new(target).grains.len(), target.tables().count());
        }
    }

    #[test]
    fn the_delta_sums_rows_per_group_of_each_table_in_key_order() {
        let mut summing = Summing::start(Target::Sellout).unwrap();
        let eur = |cents| Some(Decimal::new(cents, 2));
        summing.add(
            2025,
            3,
            &[Some("boxnox"), Some("B"), Some("1")],
            2,
            eur(150),
        );
        summing.add(2025, 3, &[Some("boxnox"), Some("A"), Some("1")], 3, None);
        summing.add(2025, 3, &[Some("boxnox"), None, Some("2")], 1, eur(-50));
        summing.add(2024, 12, &[Some("boxnox"), Some("A"), None], 4, eur(1));
        let delta = summing.finish();
        let by_reseller: Vec<_> = delta
            .sorted(0)
            .into_iter()
            .map(|(y, m, v, s)| (y, m, v[..2].join("/"), s.quantity, s.sales_eur(), s.rows))
            .collect();
        assert_eq!(
            by_reseller,
            [
                (2024, 12, "boxnox/A".into(), 4, Decimal::new(1, 2), 1),
                (2025, 3, "boxnox/".into(), 1, Decimal::new(-50, 2), 1),
                (2025, 3, "boxnox/A".into(), 3, Decimal::ZERO, 1),
                (2025, 3, "boxnox/B".into(), 2, Decimal::new(150, 2), 1),
            ]
        );
        let by_product: Vec<_> = delta
            .sorted(1)
            .into_iter()
            .map(|(y, m, v, s)| (y, m, v[..2].join("/"), s.quantity, s.rows))
            .collect();
        assert_eq!(
            by_product,
            [
                (2024, 12, "boxnox/".into(), 4, 1),
                (2025, 3, "boxnox/1".into(), 5, 2),
                (2025, 3, "boxnox/2".into(), 1, 1),
            ]
        );
    }

    #[test]
    fn rows_handed_over_in_many_blocks_are_all_summed() {
        // GIVEN more rows than several blocks hold, in two groups of the product rollup
        let mut summing = Summing::start(Target::Sellout).unwrap();
        let rows = 3 * BLOCK_ROWS + 5;
        for i in 0..rows {
            let product = if i % 2 == 0 { "even" } else { "odd" };
            summing.add(2025, 1, &[Some("v"), None, Some(product)], 1, None);
        }
        // WHEN summed THEN every row is counted once
        let delta = summing.finish();
        let counted: i64 = delta.sorted(1).iter().map(|(.., sums)| sums.rows).sum();
        assert_eq!(counted, rows as i64);
        assert_eq!(delta.sorted(1).len(), 2);
    }

    #[test]
    fn the_sums_of_many_groups_are_those_of_a_plain_group_by() {
        // GIVEN 60,000 rows in about 20,000 groups of the product rollup, spread over every shard
        let mut summing = Summing::start(Target::Sellout).unwrap();
        let mut expected = std::collections::BTreeMap::<(i16, i16, String), Sums>::new();
        for i in 0..60_000i64 {
            let (product, month) = (format!("{:05}", i % 2_999), (1 + i % 7) as i16);
            let (quantity, cents) = ((i % 13) as i32, i % 1_001 - 500);
            summing.add(
                2025,
                month,
                &[Some("v"), Some("r"), Some(&product)],
                quantity,
                Some(Decimal::new(cents, 2)),
            );
            let sums = expected.entry((2025, month, product)).or_default();
            sums.quantity += i64::from(quantity);
            sums.cents += cents;
            sums.rows += 1;
        }
        // WHEN summed
        let delta = summing.finish();
        // THEN each group has the sums a GROUP BY gives, in key order
        let by_product: Vec<_> = delta
            .sorted(1)
            .into_iter()
            .map(|(y, m, v, s)| ((y, m, v[1].to_owned()), s))
            .collect();
        assert_eq!(by_product, expected.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn amounts_are_summed_in_whole_cents() {
        assert_eq!(cents(Decimal::new(1234, 2)), 1234);
        assert_eq!(cents(Decimal::new(12, 0)), 1200);
        assert_eq!(cents(Decimal::new(-5, 1)), -50);
        assert_eq!(cents(Decimal::new(12_346, 3)), 1235);
        assert_eq!(cents(Decimal::MAX), i64::MAX);
        assert_eq!(cents(Decimal::MIN), i64::MIN);
    }

    #[test]
    fn statements_match_every_key_and_removal_drops_emptied_groups() {
        let sql = statement(&SELLOUT[0], Change::Remove);
        assert!(sql.contains("m.reseller = d.reseller"));
        assert!(sql.contains("m.vendor_name = d.vendor_name"));
        assert!(sql.contains("m.entries <= 0"));
        assert!(sql.contains("quantity = m.quantity - d.quantity"));
        let sql = statement(&ECOMMERCE[0], Change::Add);
        assert!(sql.contains("orders = m.orders + d.n"));
        assert!(sql.contains("where not exists (select from ecommerce_monthly m"));
        assert!(sql.ends_with("drop table rollup_delta"));
    }

    #[test]
    fn raw_keys_read_a_raw_row_as_the_rollups_do() {
        assert_eq!(
            Target::Sellout.raw_key("reseller"),
            "coalesce(r.reseller, '')"
        );
        assert_eq!(Target::Sellout.raw_key("year"), "r.year");
        assert_eq!(Target::Sellout.raw_key("vendor_name"), "b.vendor_name");
        assert_eq!(
            Target::Ecommerce.raw_key("month"),
            "extract(month from r.order_date)::smallint"
        );
    }
}

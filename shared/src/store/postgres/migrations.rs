//! The tenant schema's migrations, embedded in the binary, and the small runner that applies
//! them to one database over tokio-postgres, once each, recording them in `schema_migrations`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::store::postgres::sql::quote_ident;

/// One schema change: applied once per database, in version order, inside a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// Hex SHA-256 of the SQL: recorded when applied, so an edited migration is noticed.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes()).iter().fold(
            String::with_capacity(64),
            |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            },
        )
    }
}

/// Every migration of the tenant schema, versions 1..n in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenant_schema",
        sql: include_str!("../../../migrations/0001_tenant_schema.sql"),
    },
    Migration {
        version: 2,
        name: "upload_pipeline",
        sql: include_str!("../../../migrations/0002_upload_pipeline.sql"),
    },
    Migration {
        version: 3,
        name: "analytics",
        sql: include_str!("../../../migrations/0003_analytics.sql"),
    },
    Migration {
        version: 4,
        name: "lean_raw_rows",
        sql: include_str!("../../../migrations/0004_lean_raw_rows.sql"),
    },
    Migration {
        version: 5,
        name: "rollups_at_load",
        sql: include_str!("../../../migrations/0005_rollups_at_load.sql"),
    },
    Migration {
        version: 6,
        name: "raw_rows_by_batch",
        sql: include_str!("../../../migrations/0006_raw_rows_by_batch.sql"),
    },
    Migration {
        version: 7,
        name: "raw_rows_unchecked",
        sql: include_str!("../../../migrations/0007_raw_rows_unchecked.sql"),
    },
    Migration {
        version: 8,
        name: "raw_rows_without_vendor",
        sql: include_str!("../../../migrations/0008_raw_rows_without_vendor.sql"),
    },
];

/// The version a fully migrated tenant database is at.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// What `apply_pending` did: the database went from version `from` to `to` by applying `applied`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub from: i32,
    pub to: i32,
    pub applied: Vec<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("migration {version} was modified after it was applied (checksum differs)")]
    Modified { version: i32 },
    #[error("migration list is invalid: {0}")]
    InvalidList(String),
    #[error("migration {version} ({name}) failed")]
    Apply {
        version: i32,
        name: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("migration bookkeeping failed")]
    Postgres(#[from] tokio_postgres::Error),
}

/// Serialises runners on one database (advisory locks are per database). "taskmigr" in ASCII.
const RUNNER_LOCK_KEY: i64 = 0x7461_736b_6d69_6772;

const BOOKKEEPING_TABLE: &str = "\
    create table if not exists public.schema_migrations (
        version    integer primary key,
        name       text not null,
        checksum   text not null,
        applied_at timestamptz not null default now()
    )";

/// The highest applied version; 0 when the database was never migrated.
pub async fn current_version(client: &impl GenericClient) -> Result<i32, MigrationError> {
    let row = client
        .query_one(
            "select to_regclass('public.schema_migrations') is not null",
            &[],
        )
        .await?;
    if !row.try_get::<_, bool>(0)? {
        return Ok(0);
    }
    let row = client
        .query_one(
            "select coalesce(max(version), 0) from public.schema_migrations",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Applies every migration of `migrations` not yet recorded, in order, each in its own
/// transaction. With `owner`, every transaction runs `SET LOCAL ROLE owner` first: every object
/// it creates (and `schema_migrations` itself) belongs to that role, and every statement, the
/// bookkeeping's reads and writes included, runs with that role's rights, so nothing the owner
/// could plant in its database (a trigger, a view in place of the bookkeeping table) ever runs
/// with the platform's. Concurrent runners on one database are serialised by an advisory lock;
/// one applies, the others find it done.
///
/// An applied migration whose SQL changed is an error; applied versions the list doesn't know
/// (a database migrated by newer code) are tolerated.
pub async fn apply_pending(
    client: &mut Client,
    owner: Option<&str>,
    migrations: &[Migration],
) -> Result<MigrationReport, MigrationError> {
    validate(migrations)?;
    let (from, applied) = {
        let tx = locked_transaction(client, owner).await?;
        let from = current_version(&tx).await?;
        ensure_bookkeeping(&tx).await?;
        let applied = applied_checksums(&tx).await?;
        tx.commit().await?;
        (from, applied)
    };
    for m in migrations {
        if let Some(checksum) = applied.get(&m.version) {
            verify(m, checksum)?;
        }
    }

    let mut done = Vec::new();
    for m in migrations
        .iter()
        .filter(|m| !applied.contains_key(&m.version))
    {
        let tx = locked_transaction(client, owner).await?;
        // Another runner may have applied it between our read and our lock.
        let row = tx
            .query_opt(
                "select checksum from public.schema_migrations where version = $1",
                &[&m.version],
            )
            .await?;
        if let Some(row) = row {
            verify(m, &row.try_get::<_, String>(0)?)?;
            continue;
        }
        let apply = |source| MigrationError::Apply {
            version: m.version,
            name: m.name,
            source,
        };
        tx.batch_execute(m.sql).await.map_err(apply)?;
        tx.execute(
            "insert into public.schema_migrations (version, name, checksum) values ($1, $2, $3)",
            &[&m.version, &m.name, &m.checksum()],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        done.push(m.version);
    }

    let to = {
        let tx = locked_transaction(client, owner).await?;
        let to = current_version(&tx).await?;
        tx.commit().await?;
        to
    };
    Ok(MigrationReport {
        from,
        to,
        applied: done,
    })
}

/// Versions must be positive and strictly increasing; that is what "in order" relies on.
fn validate(migrations: &[Migration]) -> Result<(), MigrationError> {
    let mut previous = 0;
    for m in migrations {
        if m.version <= previous {
            return Err(MigrationError::InvalidList(format!(
                "version {} follows {previous}; versions must be positive and increasing",
                m.version
            )));
        }
        previous = m.version;
    }
    Ok(())
}

fn verify(m: &Migration, applied_checksum: &str) -> Result<(), MigrationError> {
    if applied_checksum == m.checksum() {
        Ok(())
    } else {
        Err(MigrationError::Modified { version: m.version })
    }
}

/// A transaction holding the runner lock, acting as `owner` when given.
async fn locked_transaction<'c>(
    client: &'c mut Client,
    owner: Option<&str>,
) -> Result<Transaction<'c>, MigrationError> {
    let tx = client.transaction().await?;
    tx.execute("select pg_advisory_xact_lock($1)", &[&RUNNER_LOCK_KEY])
        .await?;
    if let Some(role) = owner {
        tx.batch_execute(&format!("set local role {}", quote_ident(role)))
            .await?;
    }
    Ok(tx)
}

async fn ensure_bookkeeping(tx: &Transaction<'_>) -> Result<(), MigrationError> {
    let exists: bool = tx
        .query_one(
            "select to_regclass('public.schema_migrations') is not null",
            &[],
        )
        .await?
        .try_get(0)?;
    if exists {
        return Ok(());
    }
    tx.batch_execute(BOOKKEEPING_TABLE).await?;
    Ok(())
}

async fn applied_checksums(tx: &Transaction<'_>) -> Result<BTreeMap<i32, String>, MigrationError> {
    tx.query(
        "select version, checksum from public.schema_migrations",
        &[],
    )
    .await?
    .iter()
    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_are_numbered_one_to_n() {
        // GIVEN the embedded migrations
        // WHEN their versions are listed
        let versions: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
        // THEN they are 1..=n, so latest_version is n and the list validates
        let expected: Vec<i32> = (1..=MIGRATIONS.len() as i32).collect();
        assert_eq!(versions, expected);
        assert_eq!(latest_version(), MIGRATIONS.len() as i32);
        assert!(validate(MIGRATIONS).is_ok());
        assert!(MIGRATIONS.iter().all(|m| !m.sql.trim().is_empty()));
    }

    #[test]
    fn checksum_is_hex_sha256_of_the_sql() {
        // GIVEN a migration with known SQL
        let m = Migration {
            version: 1,
            name: "abc",
            sql: "abc",
        };
        // WHEN its checksum is taken
        // THEN it is SHA-256("abc") in lower-case hex, and changes with the SQL
        assert_eq!(
            m.checksum(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let edited = Migration { sql: "abd", ..m };
        assert_ne!(edited.checksum(), m.checksum());
    }

    #[test]
    fn out_of_order_or_duplicate_versions_are_rejected() {
        // GIVEN lists with a duplicate, a decreasing and a zero version
        let m = |version| Migration {
            version,
            name: "m",
            sql: "select 1",
        };
        // WHEN validated THEN each is rejected, and a gap is allowed
        assert!(validate(&[m(1), m(1)]).is_err());
        assert!(validate(&[m(2), m(1)]).is_err());
        assert!(validate(&[m(0)]).is_err());
        assert!(validate(&[m(1), m(3)]).is_ok());
    }
}

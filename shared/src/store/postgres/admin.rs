//! Platform-admin operations on tenant databases: the migrated template they are cloned from,
//! creating, migrating, exporting and dropping one database + login role per tenant.
//!
//! Every session is TLS with the server's certificate verified (`tls`).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, IsolationLevel};
use uuid::Uuid;

use crate::store::postgres::migrations::{self, Migration, MigrationError, MigrationReport};
use crate::store::postgres::sql::{quote_ident, quote_literal};
use crate::store::postgres::tls::DatabaseTls;

/// Re-exported so callers can build the password argument without depending on `secrecy`.
pub use secrecy::SecretString;

/// A tenant's database and login role: both `t_<uuid as 32 hex digits>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDbNames {
    pub database: String,
    pub role: String,
}

impl TenantDbNames {
    pub fn for_tenant(tenant_id: &Uuid) -> Self {
        let name = format!("t_{}", tenant_id.simple());
        Self {
            database: name.clone(),
            role: name,
        }
    }
}

/// One table of a tenant database as CSV with a header line.
#[derive(Debug, Clone)]
pub struct TableExport {
    pub table: String,
    pub rows: u64,
    pub csv: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantDbError {
    #[error("invalid admin database URL")]
    AdminUrl(#[source] tokio_postgres::Error),
    #[error("invalid identifier {name:?}: {reason}")]
    InvalidIdentifier { name: String, reason: &'static str },
    #[error("could not connect to database {database}")]
    Connect {
        database: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("{step} {object} failed")]
    Step {
        step: &'static str,
        object: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("migrating database {database} failed")]
    Migration {
        database: String,
        #[source]
        source: MigrationError,
    },
    #[error("database query failed")]
    Postgres(#[from] tokio_postgres::Error),
}

/// Advisory-lock namespaces (first key of the two-key form) on the admin database: one for a
/// template's creation/migration (exclusive) vs. cloning it (shared), one per tenant database.
const TEMPLATE_LOCK: i32 = 0x7470_6c00; // "tpl\0"
const TENANT_LOCK: i32 = 0x746e_7400; // "tnt\0"

/// How long to wait for a closed connection's backend to leave the template database.
const BACKEND_EXIT_WAIT: Duration = Duration::from_secs(5);

/// Connections one tenant's role may hold at once, over every container: a tenant cannot take
/// the cluster's whole connection budget.
pub const TENANT_CONNECTION_LIMIT: i32 = 50;
/// The longest statement a tenant's role may run: a bound on a runaway query, above the
/// largest upload's load and roll-up.
pub const TENANT_STATEMENT_TIMEOUT: &str = "120s";

/// Columns never written to a deleted tenant's archive.
const NOT_ARCHIVED: [&str; 1] = ["password_hash"];

/// Admin access to the cluster holding the tenant databases. Every operation opens its own
/// connections (admin credentials) and closes them before returning.
#[derive(Debug, Clone)]
pub struct DbAdmin {
    admin: Config,
    template_db: String,
    tls: DatabaseTls,
}

impl DbAdmin {
    /// `admin`: superuser (or `rds_superuser`-like) connection to the admin database.
    /// Sets an application name and a 10 s connect timeout unless the config has them; every
    /// session is verified by `tls`.
    pub fn new(mut admin: Config, template_db: impl Into<String>, tls: DatabaseTls) -> Self {
        if admin.get_application_name().is_none() {
            admin.application_name("taskifai-tenant-admin");
        }
        if admin.get_connect_timeout().is_none() {
            admin.connect_timeout(Duration::from_secs(10));
        }
        Self {
            admin,
            template_db: template_db.into(),
            tls,
        }
    }

    /// From a `postgres://user:password@host:port/dbname` URL (or key=value string).
    pub fn from_url(
        url: &str,
        template_db: impl Into<String>,
        tls: DatabaseTls,
    ) -> Result<Self, TenantDbError> {
        let admin = url.parse::<Config>().map_err(TenantDbError::AdminUrl)?;
        Ok(Self::new(admin, template_db, tls))
    }

    /// The host tenants connect to (stored in tenant secrets).
    pub fn host(&self) -> String {
        match self.admin.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            #[cfg(unix)]
            Some(Host::Unix(path)) => path.display().to_string(),
            None => self
                .admin
                .get_hostaddrs()
                .first()
                .map_or_else(|| "localhost".to_owned(), ToString::to_string),
        }
    }

    /// The port tenants connect to (stored in tenant secrets).
    pub fn port(&self) -> u16 {
        self.admin.get_ports().first().copied().unwrap_or(5432)
    }

    pub fn template_db(&self) -> &str {
        &self.template_db
    }

    /// The NOLOGIN role owning the template's objects: `<template_db>_owner`.
    pub fn template_owner(&self) -> String {
        format!("{}_owner", self.template_db)
    }

    /// Creates the template database and its owner role if missing and migrates it.
    /// Idempotent; concurrent callers are serialised and all see it done. Every connection to
    /// the template is closed before this returns, so it can be cloned right away.
    #[tracing::instrument(skip_all, fields(template = %self.template_db))]
    pub async fn ensure_template(
        &self,
        migrations: &[Migration],
    ) -> Result<MigrationReport, TenantDbError> {
        let template = checked(&self.template_db)?;
        let owner = self.template_owner();
        checked(&owner)?;

        let admin = self.connect(None).await?;
        lock(
            &admin.client,
            "lock template",
            TEMPLATE_LOCK,
            template,
            false,
        )
        .await?;
        if !role_exists(&admin.client, &owner).await? {
            let sql = format!("create role {} nologin", quote_ident(&owner));
            run(&admin.client, &sql, "create role", &owner).await?;
        }
        // Lets a non-superuser admin (managed PostgreSQL) SET ROLE to it.
        let sql = format!("grant {} to current_user", quote_ident(&owner));
        run(&admin.client, &sql, "grant role", &owner).await?;
        if !database_exists(&admin.client, template).await? {
            // Owned by the admin, not by the owner role: REASSIGN OWNED in each clone must not
            // carry the clone's database itself along. From template0: nothing a cluster added
            // to template1 ends up in every tenant.
            let sql = format!(
                "create database {} template template0 encoding 'UTF8'",
                quote_ident(template)
            );
            run(&admin.client, &sql, "create database", template).await?;
        }
        let sql = format!(
            "revoke connect on database {} from public",
            quote_ident(template)
        );
        run(&admin.client, &sql, "revoke connect on", template).await?;
        // Tenant roles reach their own database only: PUBLIC may connect to the cluster's
        // stock databases by default. Best effort (a managed service may own them).
        for stock in ["postgres", "template1"] {
            let open = admin
                .client
                .query_one(
                    "select has_database_privilege('public', $1, 'CONNECT')",
                    &[&stock],
                )
                .await
                .map_or(true, |row| row.get::<_, bool>(0));
            if !open {
                continue;
            }
            let sql = format!(
                "revoke connect on database {} from public",
                quote_ident(stock)
            );
            if let Err(err) = admin.client.batch_execute(&sql).await {
                tracing::warn!(database = stock, error = %err, "could not revoke PUBLIC's CONNECT");
            }
        }

        let mut tpl = self.connect(Some(template)).await?;
        let pid = backend_pid(&tpl.client).await;
        let migrated = async {
            let sql = format!(
                "grant usage, create on schema public to {}",
                quote_ident(&owner)
            );
            run(&tpl.client, &sql, "grant schema public to", &owner).await?;
            migrations::apply_pending(&mut tpl.client, Some(&owner), migrations)
                .await
                .map_err(|source| TenantDbError::Migration {
                    database: template.to_owned(),
                    source,
                })
        }
        .await;
        tpl.close().await;
        if let Ok(pid) = pid {
            wait_for_backend_exit(&admin.client, pid).await?;
        }
        let report = migrated?;

        unlock(&admin.client, TEMPLATE_LOCK, template, false).await?;
        admin.close().await;
        tracing::info!(from = report.from, to = report.to, "template ready");
        Ok(report)
    }

    /// The template's migration version; 0 when it doesn't exist.
    pub async fn template_version(&self) -> Result<i32, TenantDbError> {
        let template = checked(&self.template_db)?;
        let admin = self.connect(None).await?;
        if !database_exists(&admin.client, template).await? {
            admin.close().await;
            return Ok(0);
        }
        let tpl = self.connect(Some(template)).await?;
        let pid = backend_pid(&tpl.client).await;
        let version = migrations::current_version(&tpl.client).await;
        tpl.close().await;
        if let Ok(pid) = pid {
            wait_for_backend_exit(&admin.client, pid).await?;
        }
        admin.close().await;
        version.map_err(|source| TenantDbError::Migration {
            database: template.to_owned(),
            source,
        })
    }

    /// Drops the template database and its owner role (tests; retiring a template). Idempotent.
    /// Fails while tenant databases still hold grants to the owner role, i.e. never after
    /// `create_tenant_database` completed for them.
    pub async fn drop_template(&self) -> Result<(), TenantDbError> {
        let template = checked(&self.template_db)?;
        let owner = self.template_owner();
        let admin = self.connect(None).await?;
        lock(
            &admin.client,
            "lock template",
            TEMPLATE_LOCK,
            template,
            false,
        )
        .await?;
        let sql = format!(
            "drop database if exists {} with (force)",
            quote_ident(template)
        );
        run(&admin.client, &sql, "drop database", template).await?;
        let sql = format!("drop role if exists {}", quote_ident(&owner));
        run(&admin.client, &sql, "drop role", &owner).await?;
        unlock(&admin.client, TEMPLATE_LOCK, template, false).await?;
        admin.close().await;
        Ok(())
    }

    /// Role (with its password), database cloned from the template and access to it, then the
    /// hand-over of the cloned objects to the role. Idempotent: a resumed provisioning re-runs it
    /// and the role gets the new password.
    pub async fn create_tenant_database(
        &self,
        names: &TenantDbNames,
        password: &SecretString,
    ) -> Result<(), TenantDbError> {
        self.create_role_and_database(names, password).await?;
        let tenant = self.connect(Some(checked(&names.database)?)).await?;
        let handed_over = self.hand_over(&tenant.client, names).await;
        tenant.close().await;
        handed_over
    }

    /// Creates the tenant's login role and its database cloned from the template, owned by that
    /// role and reachable by no other role; the objects inside still belong to the template owner
    /// until `hand_over`. Idempotent, so a provisioning interrupted anywhere can be resumed; an
    /// existing role gets `password`.
    ///
    /// The password is sent as a SCRAM-SHA-256 verifier computed here, so the cleartext never
    /// reaches the server (nor its statement log).
    #[tracing::instrument(skip_all, fields(database = %names.database))]
    pub async fn create_role_and_database(
        &self,
        names: &TenantDbNames,
        password: &SecretString,
    ) -> Result<(), TenantDbError> {
        let database = checked(&names.database)?;
        let role = checked(&names.role)?;
        let template = checked(&self.template_db)?;

        let admin = self.connect(None).await?;
        lock(&admin.client, "lock tenant", TENANT_LOCK, database, false).await?;

        let verifier =
            postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes());
        let (verb, step) = if role_exists(&admin.client, role).await? {
            ("alter role", "set password of role")
        } else {
            ("create role", "create role")
        };
        let sql = format!(
            "{verb} {} with login password {}",
            quote_ident(role),
            quote_literal(&verifier)
        );
        run(&admin.client, &sql, step, role).await?;
        limit_role(&admin.client, role).await?;
        // Lets a non-superuser admin (managed PostgreSQL) create the database OWNER role and
        // SET ROLE to it for migrations.
        let sql = format!("grant {} to current_user", quote_ident(role));
        run(&admin.client, &sql, "grant role", role).await?;

        if !database_exists(&admin.client, database).await? {
            // Shared: clones run side by side, never while the template is being migrated.
            lock(
                &admin.client,
                "lock template",
                TEMPLATE_LOCK,
                template,
                true,
            )
            .await?;
            let sql = format!(
                "create database {} template {} owner {}",
                quote_ident(database),
                quote_ident(template),
                quote_ident(role)
            );
            run(&admin.client, &sql, "create database", database).await?;
            unlock(&admin.client, TEMPLATE_LOCK, template, true).await?;
        }
        let sql = format!(
            "revoke all on database {db} from public; \
             grant connect, temporary on database {db} to {role}",
            db = quote_ident(database),
            role = quote_ident(role)
        );
        run(&admin.client, &sql, "restrict access to database", database).await?;

        unlock(&admin.client, TENANT_LOCK, database, false).await?;
        admin.close().await;
        Ok(())
    }

    /// Gives the tenant's role everything in its new database (cloned objects belong to the
    /// template owner) and the `public` schema; `client` is an admin session on that database.
    /// Part of `create_tenant_database`; provisioning calls it on the session it goes on to use.
    pub async fn hand_over(
        &self,
        client: &tokio_postgres::Client,
        names: &TenantDbNames,
    ) -> Result<(), TenantDbError> {
        let role = checked(&names.role)?;
        let template_owner = self.template_owner();
        let owner_exists = role_exists(client, &template_owner).await?;
        let mut sql = String::from("begin; ");
        if owner_exists {
            // DROP OWNED after the reassignment only revokes the template owner's grants.
            sql += &format!(
                "reassign owned by {owner} to {role}; drop owned by {owner}; ",
                owner = quote_ident(&template_owner),
                role = quote_ident(role)
            );
        }
        sql += &format!(
            "revoke all on schema public from public; \
             grant usage, create on schema public to {}; commit",
            quote_ident(role)
        );
        run(client, &sql, "hand objects over to", role).await
    }

    /// Drops the tenant's database (terminating its sessions) and role. Idempotent.
    #[tracing::instrument(skip_all, fields(database = %names.database))]
    pub async fn drop_tenant_database(&self, names: &TenantDbNames) -> Result<(), TenantDbError> {
        let database = checked(&names.database)?;
        let role = checked(&names.role)?;
        let admin = self.connect(None).await?;
        lock(&admin.client, "lock tenant", TENANT_LOCK, database, false).await?;
        let sql = format!(
            "drop database if exists {} with (force)",
            quote_ident(database)
        );
        run(&admin.client, &sql, "drop database", database).await?;
        let sql = format!("drop role if exists {}", quote_ident(role));
        run(&admin.client, &sql, "drop role", role).await?;
        unlock(&admin.client, TENANT_LOCK, database, false).await?;
        admin.close().await;
        Ok(())
    }

    /// An admin session on the tenant's database; its connection task runs in the background
    /// until the client is dropped.
    pub async fn connect_tenant(&self, names: &TenantDbNames) -> Result<Client, TenantDbError> {
        let session = self.connect(Some(checked(&names.database)?)).await?;
        Ok(session.client)
    }

    /// Applies pending migrations to the tenant's database, creating objects as the tenant's role.
    pub async fn migrate_tenant(
        &self,
        names: &TenantDbNames,
        password: &SecretString,
        migrations: &[Migration],
    ) -> Result<MigrationReport, TenantDbError> {
        let mut session = self.connect_as_tenant(names, password).await?;
        let report = migrations::apply_pending(&mut session.client, None, migrations).await;
        session.close().await;
        report.map_err(|source| TenantDbError::Migration {
            database: names.database.clone(),
            source,
        })
    }

    /// Gives every role of `tenants` its limits (see [`TENANT_CONNECTION_LIMIT`]), on one
    /// connection: tenants made before the limits existed get them with the next migrate-all.
    /// A role that cannot be changed (a broken tenant) is logged and skipped; its migration
    /// reports the tenant.
    pub async fn limit_tenant_roles(&self, tenants: &[TenantDbNames]) -> Result<(), TenantDbError> {
        let admin = self.connect(None).await?;
        for names in tenants {
            let limited = match checked(&names.role) {
                Ok(role) => limit_role(&admin.client, role).await,
                Err(e) => Err(e),
            };
            if let Err(error) = limited {
                tracing::warn!(role = names.role, %error, "tenant role not limited");
            }
        }
        admin.close().await;
        Ok(())
    }

    /// Every base table of schema `public`, by name, as CSV with a header line, all from one
    /// snapshot. Held in memory: fine for today's tenant sizes.
    pub async fn export_tables(
        &self,
        names: &TenantDbNames,
        password: &SecretString,
    ) -> Result<Vec<TableExport>, TenantDbError> {
        let mut session = self.connect_as_tenant(names, password).await?;
        let exports = async {
            let tx = session
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let tables = tx
                .query(
                    "select c.relname::text from pg_catalog.pg_class c \
                     join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
                     where n.nspname = 'public' and c.relkind in ('r', 'p') \
                       and not c.relispartition \
                     order by c.relname collate \"C\"",
                    &[],
                )
                .await?;
            let mut exports = Vec::with_capacity(tables.len());
            for row in tables {
                let table: String = row.try_get(0)?;
                // Every column but credentials: an archive holds no password hashes.
                let columns: Vec<String> = tx
                    .query(
                        "select a.attname::text from pg_catalog.pg_attribute a \
                         where a.attrelid = ('public.' || quote_ident($1))::regclass \
                           and a.attnum > 0 and not a.attisdropped order by a.attnum",
                        &[&table],
                    )
                    .await?
                    .iter()
                    .map(|r| r.try_get::<_, String>(0))
                    .collect::<Result<_, _>>()?;
                let columns: Vec<String> = columns
                    .iter()
                    .filter(|c| !NOT_ARCHIVED.contains(&c.as_str()))
                    .map(|c| quote_ident(c))
                    .collect();
                let sql = format!(
                    "copy (select {} from public.{}) to stdout with (format csv, header true)",
                    columns.join(", "),
                    quote_ident(&table)
                );
                let stream = tx
                    .copy_out(&sql)
                    .await
                    .map_err(step("export table", &table))?;
                let mut stream = std::pin::pin!(stream);
                let mut csv = BytesMut::new();
                while let Some(chunk) = stream
                    .try_next()
                    .await
                    .map_err(step("export table", &table))?
                {
                    csv.extend_from_slice(&chunk);
                }
                exports.push(TableExport {
                    rows: csv_records(&csv).saturating_sub(1),
                    table,
                    csv: csv.freeze(),
                });
            }
            tx.commit().await?;
            Ok::<_, TenantDbError>(exports)
        }
        .await;
        session.close().await;
        exports
    }

    /// Databases named like a tenant's (`t_` + 32 hex digits), by name: to find orphans.
    pub async fn tenant_databases(&self) -> Result<Vec<String>, TenantDbError> {
        let admin = self.connect(None).await?;
        let rows = admin
            .client
            .query(
                "select datname::text from pg_catalog.pg_database \
                 where datname ~ '^t_[0-9a-f]{32}$' order by datname",
                &[],
            )
            .await;
        admin.close().await;
        rows?
            .iter()
            .map(|row| row.try_get(0).map_err(TenantDbError::from))
            .collect()
    }

    pub async fn database_exists(&self, name: &str) -> Result<bool, TenantDbError> {
        let admin = self.connect(None).await?;
        let exists = database_exists(&admin.client, name).await;
        admin.close().await;
        exists
    }

    pub async fn role_exists(&self, name: &str) -> Result<bool, TenantDbError> {
        let admin = self.connect(None).await?;
        let exists = role_exists(&admin.client, name).await;
        admin.close().await;
        exists
    }

    /// Admin credentials on `database`, or on the admin database for `None`.
    /// A session as the platform's role (on `database`, else its default one). Its
    /// `search_path` is pinned to `public` alone, whatever a database owner set as the default:
    /// `pg_catalog` is then searched first, so no function or operator of a tenant's can stand
    /// in for a built-in, and what the session creates lands in `public`.
    async fn connect(&self, database: Option<&str>) -> Result<Session, TenantDbError> {
        let mut config = self.admin.clone();
        if let Some(database) = database {
            config.dbname(database);
        }
        config.options("-c search_path=public");
        self.open(config).await
    }

    /// A session on a tenant's database as the tenant's own role: work inside a database a
    /// tenant role owns runs with that role's rights only, so nothing it could plant there (a
    /// trigger, a view, a policy, a function shadowing a built-in) runs with the platform's.
    async fn connect_as_tenant(
        &self,
        names: &TenantDbNames,
        password: &SecretString,
    ) -> Result<Session, TenantDbError> {
        let mut config = self.admin.clone();
        config
            .dbname(checked(&names.database)?)
            .user(checked(&names.role)?)
            .password(password.expose_secret());
        self.open(config).await
    }

    async fn open(&self, config: Config) -> Result<Session, TenantDbError> {
        let database = config.get_dbname().unwrap_or_default().to_owned();
        let (client, connection) =
            self.tls
                .connect(config)
                .await
                .map_err(|source| TenantDbError::Connect {
                    database: database.clone(),
                    source,
                })?;
        let connection = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, database, "postgres connection failed");
            }
        });
        Ok(Session { client, connection })
    }
}

/// A connection and the task driving it; `close` waits until the server was told goodbye.
struct Session {
    client: Client,
    connection: JoinHandle<()>,
}

impl Session {
    async fn close(self) {
        drop(self.client);
        // The task only ends; a panic in it would already have been reported.
        let _ = self.connection.await;
    }
}

/// Identifiers longer than 63 bytes are silently truncated by PostgreSQL: refuse them instead.
fn checked(name: &str) -> Result<&str, TenantDbError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > 63 {
        "longer than 63 bytes"
    } else if name.contains('\0') {
        "contains NUL"
    } else {
        return Ok(name);
    };
    Err(TenantDbError::InvalidIdentifier {
        name: name.to_owned(),
        reason,
    })
}

pub(crate) fn step(
    step: &'static str,
    object: &str,
) -> impl FnOnce(tokio_postgres::Error) -> TenantDbError {
    let object = object.to_owned();
    move |source| TenantDbError::Step {
        step,
        object,
        source,
    }
}

async fn run(
    client: &Client,
    sql: &str,
    what: &'static str,
    object: &str,
) -> Result<(), TenantDbError> {
    client.batch_execute(sql).await.map_err(step(what, object))
}

async fn lock(
    client: &Client,
    what: &'static str,
    namespace: i32,
    name: &str,
    shared: bool,
) -> Result<(), TenantDbError> {
    let sql = if shared {
        "select pg_advisory_lock_shared($1, hashtext($2))"
    } else {
        "select pg_advisory_lock($1, hashtext($2))"
    };
    client
        .execute(sql, &[&namespace, &name])
        .await
        .map(drop)
        .map_err(step(what, name))
}

/// Session locks also go with the connection; unlocking explicitly keeps the order obvious.
async fn unlock(
    client: &Client,
    namespace: i32,
    name: &str,
    shared: bool,
) -> Result<(), TenantDbError> {
    let sql = if shared {
        "select pg_advisory_unlock_shared($1, hashtext($2))"
    } else {
        "select pg_advisory_unlock($1, hashtext($2))"
    };
    client.execute(sql, &[&namespace, &name]).await?;
    Ok(())
}

async fn database_exists(client: &Client, name: &str) -> Result<bool, TenantDbError> {
    let row = client
        .query_one(
            "select exists (select 1 from pg_catalog.pg_database where datname = $1)",
            &[&name],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// A tenant role's limits: its connections and the duration of its statements.
async fn limit_role(client: &Client, role: &str) -> Result<(), TenantDbError> {
    let sql = format!(
        "alter role {} connection limit {TENANT_CONNECTION_LIMIT}",
        quote_ident(role)
    );
    run(client, &sql, "limit role connections", role).await?;
    let sql = format!(
        "alter role {} set statement_timeout = {}",
        quote_ident(role),
        quote_literal(TENANT_STATEMENT_TIMEOUT)
    );
    run(client, &sql, "limit role statements", role).await
}

async fn role_exists(client: &Client, name: &str) -> Result<bool, TenantDbError> {
    let row = client
        .query_one(
            "select exists (select 1 from pg_catalog.pg_roles where rolname = $1)",
            &[&name],
        )
        .await?;
    Ok(row.try_get(0)?)
}

async fn backend_pid(client: &Client) -> Result<i32, TenantDbError> {
    Ok(client
        .query_one("select pg_backend_pid()", &[])
        .await?
        .try_get(0)?)
}

/// A closed connection's backend lingers for a moment, and CREATE DATABASE ... TEMPLATE fails
/// while any backend is connected to the template: wait until it is gone.
async fn wait_for_backend_exit(admin: &Client, pid: i32) -> Result<(), TenantDbError> {
    let deadline = tokio::time::Instant::now() + BACKEND_EXIT_WAIT;
    loop {
        let alive: bool = admin
            .query_one(
                "select exists (select 1 from pg_catalog.pg_stat_activity where pid = $1)",
                &[&pid],
            )
            .await?
            .try_get(0)?;
        if !alive {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(pid, "template connection's backend still there");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// CSV records (lines outside quoted fields) in COPY's CSV output; quoted fields may hold
/// newlines, doubled quotes toggle twice.
fn csv_records(csv: &[u8]) -> u64 {
    let mut quoted = false;
    let mut records = 0;
    for &byte in csv {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => records += 1,
            _ => {}
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_t_and_the_simple_uuid() {
        // GIVEN a tenant id
        let id = Uuid::parse_str("0191f7a2-3c4d-7e8f-9a0b-1c2d3e4f5a6b").expect("uuid");
        // WHEN its database names are derived
        let names = TenantDbNames::for_tenant(&id);
        // THEN database and role are t_ + 32 lower-case hex digits
        assert_eq!(names.database, "t_0191f7a23c4d7e8f9a0b1c2d3e4f5a6b");
        assert_eq!(names.role, names.database);
        assert!(checked(&names.database).is_ok());
    }

    #[test]
    fn identifiers_postgres_would_truncate_are_refused() {
        // GIVEN names of 63 and 64 bytes, an empty one and one with NUL
        // WHEN checked THEN only the 63-byte one passes
        assert!(checked(&"a".repeat(63)).is_ok());
        assert!(checked(&"a".repeat(64)).is_err());
        assert!(checked("").is_err());
        assert!(checked("a\0b").is_err());
    }

    #[test]
    fn admin_url_gives_host_and_port_and_never_shows_the_password() {
        // GIVEN an admin URL with a password
        let admin = DbAdmin::from_url(
            "postgres://admin:s3cr3t@db.internal:6543/postgres",
            "tpl",
            DatabaseTls::trusting_nothing(),
        )
        .expect("url parses");
        // WHEN host, port and Debug are read
        // THEN they come from the URL, and the password is nowhere in Debug
        assert_eq!(admin.host(), "db.internal");
        assert_eq!(admin.port(), 6543);
        assert_eq!(admin.template_owner(), "tpl_owner");
        assert!(!format!("{admin:?}").contains("s3cr3t"));
        assert!(
            DbAdmin::from_url(
                "postgres://a:b@h:notaport/x",
                "tpl",
                DatabaseTls::trusting_nothing()
            )
            .is_err()
        );
    }

    #[test]
    fn csv_records_ignore_newlines_inside_quoted_fields() {
        // GIVEN COPY CSV output with a header, a multi-line field and a doubled quote
        let csv = b"id,note\n1,\"two\nlines\"\n2,\"say \"\"hi\"\"\"\n";
        // WHEN records are counted THEN the header and two rows are found
        assert_eq!(csv_records(csv), 3);
        assert_eq!(csv_records(b"id,note\n"), 1);
    }
}

//! Tenant databases on the real PostgreSQL: the template, per-tenant databases and roles, their
//! isolation, migrations, default data and exports. Each test has its own template and tenants.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use secrecy::ExposeSecret;
use shared::control_plane::seeds::seed_defaults;
use shared::store::postgres::admin::{DbAdmin, SecretString, TenantDbError, TenantDbNames};
use shared::store::postgres::migrations::{MIGRATIONS, Migration, MigrationError, latest_version};
use shared::store::postgres::sql::{quote_ident, quote_literal};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

fn database_admin_url() -> String {
    std::env::var("DATABASE_ADMIN_URL").expect(
        "DATABASE_ADMIN_URL is not set: run the tests with `make test` (it starts PostgreSQL)",
    )
}

/// A template of this test's own, and the tenants made from it; all dropped afterwards.
struct Fixture {
    db: DbAdmin,
    tenants: Mutex<Vec<TenantDbNames>>,
}

impl Fixture {
    fn new() -> Self {
        let template = format!("tpl_{}", Uuid::new_v4().simple());
        Self {
            db: DbAdmin::from_url(
                &database_admin_url(),
                template,
                crate::helpers::database_tls(),
            )
            .expect("admin URL parses"),
            tenants: Mutex::new(Vec::new()),
        }
    }

    /// Names for a new tenant, remembered for clean-up.
    fn tenant(&self) -> TenantDbNames {
        let names = TenantDbNames::for_tenant(&Uuid::new_v4());
        self.tenants.lock().unwrap().push(names.clone());
        names
    }

    /// A migrated template and one tenant database made from it, with its password.
    async fn provisioned_tenant(&self) -> (TenantDbNames, String) {
        self.db.ensure_template(MIGRATIONS).await.unwrap();
        let names = self.tenant();
        let password = random_password();
        self.db
            .create_tenant_database(&names, &SecretString::from(password.clone()))
            .await
            .unwrap();
        (names, password)
    }

    async fn clean_up(&self) {
        let tenants = self.tenants.lock().unwrap().clone();
        for names in tenants {
            self.db.drop_tenant_database(&names).await.unwrap();
        }
        self.db.drop_template().await.unwrap();
    }
}

/// Runs `test` with a fresh fixture and cleans up whether or not it panicked.
async fn with_fixture<F, Fut>(test: F)
where
    F: FnOnce(Arc<Fixture>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let fixture = Arc::new(Fixture::new());
    let outcome = tokio::spawn(test(fixture.clone())).await;
    fixture.clean_up().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn random_password() -> String {
    // Quotes and a backslash: the password must survive SQL quoting.
    format!("pw'\\\"{}", Uuid::new_v4().simple())
}

/// Logs in over TCP (scram-sha-256: the password is really checked) as `user`.
async fn connect_as(
    db: &DbAdmin,
    user: &str,
    password: &str,
    database: &str,
) -> Result<Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(db.host())
        .port(db.port())
        .user(user)
        .password(password)
        .dbname(database);
    let (client, connection) = crate::helpers::database_tls().connect(config).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

async fn connect_admin() -> Client {
    let (client, connection) = crate::helpers::database_tls()
        .connect(database_admin_url().parse().unwrap())
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn ensure_template_applies_every_migration_once() {
    with_fixture(|fx| async move {
        // GIVEN a template name that doesn't exist yet
        assert!(!fx.db.database_exists(fx.db.template_db()).await.unwrap());

        // WHEN the template is ensured
        let started = Instant::now();
        let first = fx.db.ensure_template(MIGRATIONS).await.unwrap();
        println!("ensure_template (fresh): {:?}", started.elapsed());

        // THEN every migration was applied, in a database and with an owner role that now exist
        assert_eq!(first.from, 0);
        assert_eq!(first.to, latest_version());
        assert_eq!(first.applied, (1..=latest_version()).collect::<Vec<_>>());
        assert_eq!(fx.db.template_version().await.unwrap(), latest_version());
        assert!(fx.db.database_exists(fx.db.template_db()).await.unwrap());
        assert!(fx.db.role_exists(&fx.db.template_owner()).await.unwrap());

        // WHEN it is ensured again
        let started = Instant::now();
        let second = fx.db.ensure_template(MIGRATIONS).await.unwrap();
        println!("ensure_template (no-op): {:?}", started.elapsed());

        // THEN nothing is applied
        assert_eq!(second.from, latest_version());
        assert_eq!(second.to, latest_version());
        assert!(second.applied.is_empty());
    })
    .await;
}

#[tokio::test]
async fn concurrent_ensure_template_calls_agree() {
    with_fixture(|fx| async move {
        // GIVEN a template name that doesn't exist yet
        // WHEN three callers ensure it at once
        let (a, b, c) = tokio::join!(
            fx.db.ensure_template(MIGRATIONS),
            fx.db.ensure_template(MIGRATIONS),
            fx.db.ensure_template(MIGRATIONS),
        );

        // THEN all succeed at the latest version, and each migration was applied exactly once
        let reports = [a.unwrap(), b.unwrap(), c.unwrap()];
        assert!(reports.iter().all(|r| r.to == latest_version()));
        let mut applied: Vec<i32> = reports.iter().flat_map(|r| r.applied.clone()).collect();
        applied.sort_unstable();
        assert_eq!(applied, (1..=latest_version()).collect::<Vec<_>>());
        // AND a tenant can be cloned from it right away (no connection left on the template)
        let names = fx.tenant();
        fx.db
            .create_tenant_database(&names, &SecretString::from(random_password()))
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn tenant_role_logs_in_to_its_own_database_and_owns_its_tables() {
    with_fixture(|fx| async move {
        // GIVEN a migrated template
        fx.db.ensure_template(MIGRATIONS).await.unwrap();
        let names = fx.tenant();
        let password = random_password();

        // WHEN the tenant's database is created
        let started = Instant::now();
        fx.db
            .create_tenant_database(&names, &SecretString::from(password.clone()))
            .await
            .unwrap();
        println!("create_tenant_database: {:?}", started.elapsed());

        // THEN its role logs in with its password and can write and read its tables
        let tenant = connect_as(&fx.db, &names.role, &password, &names.database)
            .await
            .unwrap();
        tenant
            .execute(
                "insert into users (email, full_name, role, password_hash) \
                 values ('ada@example.com', 'Ada', 'admin', 'x')",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(count(&tenant, "select count(*) from users").await, 1);
        // AND it owns every relation in public (tables, indexes, sequences)
        let foreign: i64 = tenant
            .query_one(
                "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                 where n.nspname = 'public' and pg_get_userbyid(c.relowner) <> $1",
                &[&names.role],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(foreign, 0);
        assert!(
            count(
                &tenant,
                "select count(*) from pg_tables where schemaname = 'public'"
            )
            .await
                >= 12
        );
        // AND its role is limited: connections, and how long a statement may run
        let limits = tenant
            .query_one(
                "select rolconnlimit, rolconfig::text from pg_roles where rolname = $1",
                &[&names.role],
            )
            .await
            .unwrap();
        assert_eq!(
            limits.get::<_, i32>(0),
            shared::store::postgres::admin::TENANT_CONNECTION_LIMIT
        );
        let config: Option<String> = limits.get(1);
        assert!(
            config
                .as_deref()
                .is_some_and(|c| c.contains("statement_timeout=120s")),
            "{config:?}"
        );
        let timeout: String = tenant
            .query_one("show statement_timeout", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(timeout, "2min", "its sessions run under the timeout");
        // AND its schema is at the latest version without migrating
        let report = fx
            .db
            .migrate_tenant(&names, &SecretString::from(password.clone()), MIGRATIONS)
            .await
            .unwrap();
        assert_eq!(
            (report.from, report.to),
            (latest_version(), latest_version())
        );
        assert!(report.applied.is_empty());
        // AND the tenant database shows up among the tenant databases
        assert!(
            fx.db
                .tenant_databases()
                .await
                .unwrap()
                .contains(&names.database)
        );

        // WHEN the role logs in with a wrong password
        let wrong = connect_as(&fx.db, &names.role, "not-the-password", &names.database).await;
        // THEN it is refused
        let err = wrong.expect_err("wrong password refused");
        assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn tenant_role_cannot_reach_another_tenant_or_the_template() {
    with_fixture(|fx| async move {
        // GIVEN two tenants
        let (a, a_password) = fx.provisioned_tenant().await;
        let b = fx.tenant();
        fx.db
            .create_tenant_database(&b, &SecretString::from(random_password()))
            .await
            .unwrap();

        // WHEN tenant A's role connects to B's database, the template and the stock databases
        for database in [
            b.database.as_str(),
            fx.db.template_db(),
            "postgres",
            "template1",
        ] {
            let err = connect_as(&fx.db, &a.role, &a_password, database)
                .await
                .err()
                .unwrap_or_else(|| panic!("A's role reached {database}"));

            // THEN it is refused for lack of CONNECT
            let db_error = err.as_db_error().expect("a server error");
            assert_eq!(db_error.code(), &SqlState::INSUFFICIENT_PRIVILEGE);
            assert!(
                db_error
                    .message()
                    .contains("permission denied for database"),
                "{db_error:?}"
            );
            assert!(
                db_error.detail().unwrap_or_default().contains("CONNECT"),
                "{db_error:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn provisioning_resumes_and_dropping_is_idempotent() {
    with_fixture(|fx| async move {
        // GIVEN a tenant database created once
        let (names, first_password) = fx.provisioned_tenant().await;

        // WHEN it is created again (a resumed provisioning) with a new password
        let second_password = random_password();
        fx.db
            .create_tenant_database(&names, &SecretString::from(second_password.clone()))
            .await
            .unwrap();

        // THEN the new password works and the old one doesn't
        connect_as(&fx.db, &names.role, &second_password, &names.database)
            .await
            .unwrap();
        assert!(
            connect_as(&fx.db, &names.role, &first_password, &names.database)
                .await
                .is_err()
        );

        // WHEN it is dropped twice
        let started = Instant::now();
        fx.db.drop_tenant_database(&names).await.unwrap();
        println!("drop_tenant_database: {:?}", started.elapsed());
        fx.db.drop_tenant_database(&names).await.unwrap();

        // THEN neither the database nor the role exists
        assert!(!fx.db.database_exists(&names.database).await.unwrap());
        assert!(!fx.db.role_exists(&names.role).await.unwrap());
        assert!(
            !fx.db
                .tenant_databases()
                .await
                .unwrap()
                .contains(&names.database)
        );
    })
    .await;
}

#[tokio::test]
async fn migrate_tenant_applies_new_migrations_as_the_tenant_role_and_spots_edits() {
    with_fixture(|fx| async move {
        // GIVEN a tenant database and one migration more than it has
        let (names, password) = fx.provisioned_tenant().await;
        let next = latest_version() + 1;
        let mut migrations = MIGRATIONS.to_vec();
        migrations.push(Migration {
            version: next,
            name: "test_extra",
            sql: "create table test_extra (id integer primary key, note text)",
        });

        // WHEN the tenant is migrated
        let password = SecretString::from(password);
        let report = fx
            .db
            .migrate_tenant(&names, &password, &migrations)
            .await
            .unwrap();

        // THEN only the new migration is applied, and its table belongs to the tenant's role
        assert_eq!(report.from, latest_version());
        assert_eq!(report.to, next);
        assert_eq!(report.applied, vec![next]);
        let admin = fx.db.connect_tenant(&names).await.unwrap();
        let owner: String = admin
            .query_one(
                "select tableowner::text from pg_tables where tablename = 'test_extra'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(owner, names.role);
        let tenant = connect_as(
            &fx.db,
            &names.role,
            password.expose_secret(),
            &names.database,
        )
        .await
        .unwrap();
        tenant
            .execute("insert into test_extra (id) values (1)", &[])
            .await
            .unwrap();

        // WHEN the applied migration's SQL is edited and the tenant migrated again
        let last = migrations.len() - 1;
        migrations[last].sql = "create table test_extra (id bigint primary key)";
        let edited = fx.db.migrate_tenant(&names, &password, &migrations).await;

        // THEN the edit is reported for that version
        match edited {
            Err(TenantDbError::Migration {
                source: MigrationError::Modified { version },
                ..
            }) => assert_eq!(version, next),
            other => panic!("expected Modified, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn seed_defaults_is_idempotent_and_seeds_the_boxnox_config() {
    with_fixture(|fx| async move {
        // GIVEN a new tenant database
        let (names, _) = fx.provisioned_tenant().await;
        let client = fx.db.connect_tenant(&names).await.unwrap();

        // WHEN the defaults are seeded twice
        seed_defaults(&client).await.unwrap();
        seed_defaults(&client).await.unwrap();

        // THEN there are three vendor configs and three resellers, boxnox exactly as specified
        assert_eq!(count(&client, "select count(*) from vendor_configs").await, 3);
        assert_eq!(count(&client, "select count(*) from resellers").await, 3);
        let row = client
            .query_one(
                "select config_data, is_active from vendor_configs where vendor_name = 'boxnox'",
                &[],
            )
            .await
            .unwrap();
        let boxnox: serde_json::Value = row.get(0);
        assert_eq!(
            boxnox,
            serde_json::json!({"currency": "EUR", "header_row": 0, "pivot_format": false,
             "column_mapping": {"Product EAN": "product_ean", "Functional Name": "functional_name", "Sold Qty": "quantity", "Sales Amount (EUR)": "sales_eur", "Reseller": "reseller", "Month": "month", "Year": "year"},
             "validation_rules": {"ean_length": 13, "month_range": [1, 12], "required_fields": ["product_ean", "quantity", "month", "year"]}})
        );
        assert!(row.get::<_, bool>(1));
        let mut resellers: Vec<(String, String)> = client
            .query("select name, country from resellers order by name", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        resellers.sort();
        assert_eq!(
            resellers,
            [("Boxnox", "Europe"), ("Galilu", "Poland"), ("Skins SA", "South Africa")]
                .map(|(n, c)| (n.to_owned(), c.to_owned()))
        );
    })
    .await;
}

#[tokio::test]
async fn export_tables_returns_every_table_as_csv_with_row_counts() {
    with_fixture(|fx| async move {
        // GIVEN a tenant database with two users, a batch and three sellout rows (one with a
        // quoted, multi-line product name)
        let (names, password) = fx.provisioned_tenant().await;
        let client = fx.db.connect_tenant(&names).await.unwrap();
        client
            .batch_execute(
                "insert into users (email, full_name, role, password_hash) values \
                   ('a@example.com', 'A', 'admin', 'x'), ('b@example.com', 'B', 'viewer', 'y'); \
                 insert into upload_batches (batch_id, vendor_name, file_name) values \
                   ('00000000-0000-0000-0000-000000000001', 'boxnox', 'jan.xlsx'); \
                 insert into sellout_entries (batch_id, source_row, functional_name, quantity, month, year) \
                 select '00000000-0000-0000-0000-000000000001', n, \
                        case n when 2 then e'Cream \"50ml\"\\nsecond line' else 'Serum' end, \
                        n, 1, 2025 \
                 from generate_series(1, 3) n;",
            )
            .await
            .unwrap();

        // WHEN its tables are exported
        let started = Instant::now();
        let exports = fx
            .db
            .export_tables(&names, &SecretString::from(password))
            .await
            .unwrap();
        println!("export_tables: {:?}", started.elapsed());

        // THEN every base table is there, by name, each CSV opening with its header line
        let tables: Vec<&str> = exports.iter().map(|e| e.table.as_str()).collect();
        assert_eq!(
            tables,
            [
                "conversation_history",
                "dashboard_configs",
                "ecommerce_monthly",
                "ecommerce_orders",
                "email_logs",
                "error_reports",
                "fx_rates",
                "products",
                "resellers",
                "sales_monthly_by_product",
                "sales_monthly_by_reseller",
                "schema_migrations",
                "sellout_entries",
                "upload_batches",
                "users",
                "vendor_config_versions",
                "vendor_configs",
            ]
        );
        let export = |name: &str| exports.iter().find(|e| e.table == name).unwrap();
        for e in &exports {
            let header = e.csv.split(|&b| b == b'\n').next().unwrap();
            assert!(!header.is_empty(), "{} has no header", e.table);
        }
        assert!(export("users").csv.starts_with(b"user_id,email,full_name,role,"));
        // AND the row counts match what was inserted
        assert_eq!(export("users").rows, 2);
        assert_eq!(export("upload_batches").rows, 1);
        assert_eq!(export("sellout_entries").rows, 3);
        assert_eq!(export("schema_migrations").rows, MIGRATIONS.len() as u64);
        assert_eq!(export("products").rows, 0);
    })
    .await;
}

#[tokio::test]
async fn quoted_identifiers_and_literals_mean_themselves_to_the_server() {
    // GIVEN strings with quotes, backslashes and injection attempts
    let admin = connect_admin().await;
    for s in [
        "plain",
        "it's",
        r#"x"; DROP ROLE postgres; --"#,
        r"back\slash",
        r"\'; DROP ROLE postgres; --",
        r#"mixed '"\ all"#,
    ] {
        // WHEN they are spliced into SQL quoted
        let sql = format!("select {} as {}", quote_literal(s), quote_ident(s));
        let rows = admin.query(&sql, &[]).await.unwrap();

        // THEN the server reads back exactly the original, as value and as column name
        assert_eq!(rows[0].get::<_, String>(0), s);
        assert_eq!(rows[0].columns()[0].name(), s);
    }
}

#[tokio::test]
async fn the_platform_works_with_a_role_that_is_not_a_superuser() {
    // The admin credentials every test uses are the platform role's, as in production.
    let admin = connect_admin().await;
    let row = admin
        .query_one(
            "select rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    let (superuser, createdb, createrole): (bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2));
    assert_eq!((superuser, createdb, createrole), (false, true, true));
}

//! The bench's own platform: a uniquely named stack on the AWS emulator, its own template
//! database, the control plane built from the stack's resolved environment — and their removal.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use local_platform::stack::{self, Deployed, StackSettings};
use local_platform::template::Template;
use shared::control_plane::provisioning::{ControlPlane, control_plane_from_env};
use shared::platform::config::Env;
use shared::platform::telemetry::ErrorChain;
use shared::store::mail::SesMailer;
use shared::store::postgres::admin::TenantDbNames;
use shared::store::secrets::{
    AwsSecretStore, SecretStore, signing_secret_name, tenant_secret_name,
};
use uuid::Uuid;

use crate::concurrent::for_each_concurrent;

pub type Plane = ControlPlane<AwsSecretStore, SesMailer>;

pub struct Platform {
    pub plane: Arc<Plane>,
    /// Stack prefix, e.g. `bench-1a2b3c4d`.
    pub prefix: String,
    /// Short tag for subdomains and database names.
    pub tag: String,
    pub admin_url: String,
    pub sdk: aws_config::SdkConfig,
    /// Every tenant provisioned so far: the cleanup must not depend on the emulator's registry
    /// alone (its state is in memory; a restart loses it, but not the databases).
    pub created: Arc<Mutex<Vec<Uuid>>>,
    /// The environment the stack gives its functions (for the processor's child process).
    pub env: BTreeMap<String, String>,
    /// The template and the stack it was deployed as (each function's own environment).
    pub template: Template,
    pub deployed: Deployed,
    admin_secret: String,
}

/// What the report says about the machine.
pub struct Facts {
    pub postgres_version: String,
    pub fsync: String,
    pub synchronous_commit: String,
    pub full_page_writes: String,
    pub emulator: String,
    pub cpus: usize,
}

/// What the cleanup did.
pub struct Cleanup {
    pub tenants: usize,
    pub failures: Vec<String>,
    pub took: Duration,
}

impl Platform {
    /// Deploys the stack, stores the database admin secret and builds the control plane the
    /// way the provisioning function does, with a template database of its own.
    pub async fn start(prefix: Option<String>) -> Result<Self> {
        let sdk = shared::platform::aws::sdk_config().await;
        let Some(emulator) = sdk.endpoint_url().map(str::to_owned) else {
            bail!("AWS_ENDPOINT_URL must point at the AWS emulator: run scripts/bench.sh");
        };
        let admin_url = std::env::var("DATABASE_ADMIN_URL")
            .context("DATABASE_ADMIN_URL must be set: run scripts/bench.sh")?;
        let hex = uuid::Uuid::new_v4().simple().to_string();
        let prefix = prefix.unwrap_or_else(|| format!("bench-{}", &hex[..8]));
        let tag = format!("b{}", &hex[..6]);
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let template = Template::load_default()?;
        // The prefix doubles as the environment, so secrets and bucket are this stack's own.
        let settings = StackSettings::local(prefix.clone(), region, &prefix, 9000);
        let deployed = stack::deploy(&template, &settings, &sdk)
            .await
            .with_context(|| format!("deploying stack {prefix} on the emulator at {emulator}"))?;
        let admin_secret = stack::put_database_admin_secret(&deployed, &sdk, &admin_url).await?;
        let mut env = BTreeMap::new();
        for function in template.functions()? {
            env.extend(deployed.function_env(&function)?);
        }
        // Its own template: cloning fails while anyone else is connected to the template, and
        // other work on this cluster (tests, `make dev`) uses the default one.
        env.insert(
            "TEMPLATE_DATABASE".to_owned(),
            format!("{}_template", prefix.replace('-', "_")),
        );
        let function_env = env.clone();
        let (plane, _) =
            control_plane_from_env(&Env(move |name: &str| env.get(name).cloned()), &sdk)
                .context("building the control plane from the stack's environment")?;
        Ok(Self {
            plane: Arc::new(plane),
            prefix,
            tag,
            admin_url,
            sdk,
            created: Arc::default(),
            env: function_env,
            template,
            deployed,
            admin_secret,
        })
    }

    /// A superuser session on the admin database.
    pub async fn admin_client(&self) -> Result<tokio_postgres::Client> {
        let (client, connection) = database_tls()?
            .connect(self.admin_url.parse()?)
            .await
            .context("connecting to PostgreSQL")?;
        tokio::spawn(connection);
        Ok(client)
    }

    pub async fn facts(&self) -> Result<Facts> {
        let client = self.admin_client().await?;
        let mut show = BTreeMap::new();
        for name in [
            "server_version",
            "fsync",
            "synchronous_commit",
            "full_page_writes",
        ] {
            let row = client.query_one(&format!("show {name}"), &[]).await?;
            show.insert(name, row.try_get::<_, String>(0)?);
        }
        let mut take = |name| show.remove(name).unwrap_or_default();
        Ok(Facts {
            postgres_version: take("server_version"),
            fsync: take("fsync"),
            synchronous_commit: take("synchronous_commit"),
            full_page_writes: take("full_page_writes"),
            emulator: self.sdk.endpoint_url().unwrap_or_default().to_owned(),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
        })
    }

    /// Drops every tenant's database and role and deletes its secret (`concurrency` at a time),
    /// then the template, the stack's emulator resources and the database admin secret.
    pub async fn clean_up(&self, concurrency: usize) -> Cleanup {
        let started = Instant::now();
        let mut failures = Vec::new();
        let mut tenants: Vec<Uuid> = match self.plane.registry.all_tenants().await {
            Ok(t) => t.iter().map(|t| t.tenant_id).collect(),
            Err(e) => {
                failures.push(format!("listing tenants: {}", ErrorChain(&e)));
                Vec::new()
            }
        };
        tenants.extend(self.created.lock().map(|c| c.clone()).unwrap_or_default());
        tenants.sort_unstable();
        tenants.dedup();
        let count = tenants.len();
        let tenants = Arc::new(tenants);
        let db = match self.plane.db().await {
            Ok(db) => Some(db.clone()),
            Err(e) => {
                failures.push(format!("the database admin: {}", ErrorChain(&e)));
                None
            }
        };
        let (plane, shared_db) = (self.plane.clone(), Arc::new(db.clone()));
        let dropped = for_each_concurrent(count, concurrency, move |i| {
            let (plane, tenants, db) = (plane.clone(), tenants.clone(), shared_db.clone());
            async move {
                let id = &tenants[i];
                let names = TenantDbNames::for_tenant(id);
                let prefix = &plane.settings.secrets_prefix;
                let mut problems = Vec::new();
                if let Some(db) = db.as_ref()
                    && let Err(e) = db.drop_tenant_database(&names).await
                {
                    problems.push(format!("{}: {}", names.database, ErrorChain(&e)));
                }
                for secret in [
                    tenant_secret_name(prefix, id),
                    signing_secret_name(prefix, id),
                ] {
                    if let Err(e) = plane.secrets.delete(&secret).await {
                        problems.push(format!("{secret}: {}", ErrorChain(&e)));
                    }
                }
                problems
            }
        })
        .await;
        match dropped {
            Ok(results) => failures.extend(results.into_iter().flatten()),
            Err(e) => failures.push(format!("cleanup task: {e}")),
        }
        // The template's owner role still holds grants while any clone is left.
        if failures.is_empty()
            && let Some(db) = &db
            && let Err(e) = db.drop_template().await
        {
            failures.push(format!("dropping the template: {}", ErrorChain(&e)));
        }
        if let Err(e) = stack::destroy(&self.deployed, &self.template, &self.sdk).await {
            failures.push(format!("removing the stack: {e:#}"));
        }
        if let Err(e) = self.plane.secrets.delete(&self.admin_secret).await {
            failures.push(format!("{}: {}", self.admin_secret, ErrorChain(&e)));
        }
        Cleanup {
            tenants: count,
            failures,
            took: started.elapsed(),
        }
    }
}

/// The verifying TLS connector for the local PostgreSQL (`DATABASE_CA_FILE`, from the bench's
/// script).
pub fn database_tls() -> Result<shared::store::postgres::tls::DatabaseTls> {
    Ok(shared::store::postgres::tls::DatabaseTls::from_env(
        &shared::platform::config::Env::process(),
    )?)
}

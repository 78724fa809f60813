//! `tenantctl`: the platform admin API's operations from a terminal, done by the same library
//! (`shared::control_plane`). Long operations (migrate, delete) start a job as the API does and
//! follow it until the platform's `admin-jobs` function has done every tenant. `run` executes
//! one parsed command; the binary and the integration tests both call it.

pub mod cli;
pub mod env_file;
pub mod output;

use std::io::{BufRead, Write};
use std::sync::Mutex;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use shared::ApiError;
use shared::control_plane::jobs::JobStatus;
use shared::control_plane::provisioning::{
    ControlPlane, ControlPlaneError, NewTenant, NewTenantInput, StepEvent, control_plane_from_env,
};
use shared::domain::email::Email;
use shared::identity::IdentityError;
use shared::identity::admins::AdminAuth;
use shared::platform::config::{ConfigError, DomainConfig, Env};
use shared::platform::telemetry::ErrorChain;
use shared::store::mail::SesMailer;
use shared::store::secrets::AwsSecretStore;
use uuid::Uuid;

use crate::cli::{AdminCommand, Cli, Command, CreateTenant, TenantsCommand};

/// Where a command reads and writes; the binary passes the process's streams.
pub struct Terminal<'a> {
    pub stdin: &'a mut dyn BufRead,
    pub stdout: &'a mut (dyn Write + Send),
    pub stderr: &'a mut (dyn Write + Send),
}

/// A failed command: printed as `error: <code>: <message>`, exits with `exit_code`.
#[derive(Debug)]
pub struct CliError {
    pub code: String,
    pub message: String,
    pub exit_code: u8,
}

impl CliError {
    /// Bad input: exit status 2.
    pub fn usage(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            exit_code: 2,
        }
    }

    fn failed(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            exit_code: 1,
        }
    }
}

impl From<ApiError> for CliError {
    fn from(e: ApiError) -> Self {
        let exit_code = if e.status.is_client_error() { 2 } else { 1 };
        Self {
            code: e.code.to_owned(),
            message: e.message,
            exit_code,
        }
    }
}

impl CliError {
    /// The API's code and status; for server-side failures the whole cause chain instead of
    /// the API's generic message, since the operator at the terminal is the one to act on it.
    fn with_chain<E: std::error::Error + Into<ApiError> + 'static>(e: E) -> Self {
        let chain = ErrorChain(&e).to_string();
        let mut err = CliError::from(e.into());
        if err.exit_code == 1 {
            err.message = chain;
        }
        err
    }
}

impl From<ControlPlaneError> for CliError {
    fn from(e: ControlPlaneError) -> Self {
        Self::with_chain(e)
    }
}

impl From<IdentityError> for CliError {
    fn from(e: IdentityError) -> Self {
        Self::with_chain(e)
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        Self::usage("invalid_configuration", e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::failed("io_error", e.to_string())
    }
}

/// The AWS SDK configuration from `env` (endpoint, region and static keys when set there, the
/// standard chain otherwise), so that values from `--env-file` reach the SDK too.
pub async fn sdk_config<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = env.optional("AWS_ENDPOINT_URL") {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = env
        .optional("AWS_REGION")
        .or_else(|| env.optional("AWS_DEFAULT_REGION"))
    {
        loader = loader.region(Region::new(region));
    }
    if let (Some(id), Some(secret)) = (
        env.optional("AWS_ACCESS_KEY_ID"),
        env.optional("AWS_SECRET_ACCESS_KEY"),
    ) {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            id,
            secret,
            env.optional("AWS_SESSION_TOKEN"),
            None,
            "tenantctl-env",
        ));
    }
    loader.load().await
}

/// Runs one command and returns the process exit status; errors are printed on stderr.
pub async fn run<F: Fn(&str) -> Option<String>>(
    cli: &Cli,
    env: &Env<F>,
    sdk: &SdkConfig,
    term: &mut Terminal<'_>,
) -> u8 {
    match execute(cli, env, sdk, term).await {
        Ok(status) => status,
        Err(e) => {
            let _ = writeln!(term.stderr, "error: {}: {}", e.code, e.message);
            e.exit_code
        }
    }
}

/// Parses `args` (the program name first) and runs the command; a usage error is printed as
/// clap prints it (`--help` on stdout), with clap's exit status.
pub async fn run_args<F, I, T>(
    args: I,
    env: &Env<F>,
    sdk: &SdkConfig,
    term: &mut Terminal<'_>,
) -> u8
where
    F: Fn(&str) -> Option<String>,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    match Cli::try_parse_from(args) {
        Ok(cli) => run(&cli, env, sdk, term).await,
        Err(e) => {
            let stream: &mut dyn Write = if e.use_stderr() {
                term.stderr
            } else {
                term.stdout
            };
            let _ = write!(stream, "{}", e.render());
            u8::try_from(e.exit_code()).unwrap_or(2)
        }
    }
}

type Plane = ControlPlane<AwsSecretStore, SesMailer>;

fn control_plane<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    sdk: &SdkConfig,
) -> Result<(Plane, AdminAuth<AwsSecretStore>), CliError> {
    Ok(control_plane_from_env(env, sdk)?)
}

fn print(
    term: &mut Terminal<'_>,
    json: bool,
    value: serde_json::Value,
    human: &str,
) -> Result<(), CliError> {
    if json {
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| CliError::failed("serialisation_failed", e.to_string()))?;
        writeln!(term.stdout, "{text}")?;
    } else {
        write!(term.stdout, "{human}")?;
    }
    term.stdout.flush()?;
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value, CliError> {
    serde_json::to_value(value).map_err(|e| CliError::failed("serialisation_failed", e.to_string()))
}

async fn execute<F: Fn(&str) -> Option<String>>(
    cli: &Cli,
    env: &Env<F>,
    sdk: &SdkConfig,
    term: &mut Terminal<'_>,
) -> Result<u8, CliError> {
    let actor = format!(
        "cli:{}",
        env.optional("USER").unwrap_or_else(|| "unknown".into())
    );
    let json = cli.json;
    match &cli.command {
        Command::Admin(AdminCommand::Create {
            email,
            password_stdin,
        }) => create_admin(env, sdk, term, json, email, *password_stdin).await,
        Command::Admin(AdminCommand::Disable { email }) => {
            set_admin_disabled(env, sdk, term, json, email, true).await
        }
        Command::Admin(AdminCommand::Enable { email }) => {
            set_admin_disabled(env, sdk, term, json, email, false).await
        }
        Command::Tenants(TenantsCommand::Create(args)) => {
            create_tenant(env, sdk, term, json, &actor, args).await
        }
        Command::Tenants(TenantsCommand::List { limit, cursor, all }) => {
            let (plane, _) = control_plane(env, sdk)?;
            let mut items = Vec::new();
            let mut cursor = cursor.clone();
            loop {
                let page = plane.list_tenants(*limit, cursor.as_deref()).await?;
                items.extend(page.items);
                cursor = page.next_cursor;
                if !*all || cursor.is_none() {
                    break;
                }
            }
            let human = if items.is_empty() {
                "no tenants\n".to_owned()
            } else {
                output::tenants_table(&items)
            };
            let value = json!({ "items": to_json(&items)?, "next_cursor": cursor });
            print(term, json, value, &human)?;
            if let (Some(c), false) = (&cursor, json) {
                writeln!(term.stderr, "more: tenantctl tenants list --cursor {c}")?;
            }
            Ok(0)
        }
        Command::Tenants(TenantsCommand::Get { id }) => {
            let (plane, _) = control_plane(env, sdk)?;
            let tenant = plane.get_tenant(id).await?;
            print(
                term,
                json,
                to_json(&tenant)?,
                &output::tenant_details(&tenant),
            )?;
            Ok(0)
        }
        Command::Tenants(
            change @ (TenantsCommand::Suspend { id } | TenantsCommand::Activate { id }),
        ) => {
            let (plane, _) = control_plane(env, sdk)?;
            let tenant = match change {
                TenantsCommand::Suspend { .. } => plane.suspend(id, &actor).await?,
                _ => plane.activate(id, &actor).await?,
            };
            let human = format!(
                "tenant {} ({}) is {}\n",
                tenant.tenant_id,
                tenant.subdomain,
                tenant.status.as_str()
            );
            print(term, json, to_json(&tenant)?, &human)?;
            Ok(0)
        }
        Command::Tenants(TenantsCommand::Delete { id, yes, wait }) => {
            if !*yes {
                return Err(CliError::usage(
                    "confirmation_required",
                    format!(
                        "deleting tenant {id} archives its tables, then drops its database, role, \
                         secret and registry entries; pass --yes to confirm"
                    ),
                ));
            }
            let (plane, _) = control_plane(env, sdk)?;
            let started = plane.start_deletion(id, &actor).await?;
            follow_job(&plane, term, json, started.job_id, wait).await
        }
        Command::Migrate { wait } => {
            let (plane, _) = control_plane(env, sdk)?;
            let started = plane.start_migrations(&actor).await?;
            writeln!(
                term.stderr,
                "job {}: migrating {} tenant(s)",
                started.job_id, started.total
            )?;
            follow_job(&plane, term, json, started.job_id, wait).await
        }
        Command::Job { id, wait } => {
            let (plane, _) = control_plane(env, sdk)?;
            follow_job(&plane, term, json, *id, wait).await
        }
        Command::Audit {
            tenant,
            limit,
            cursor,
        } => {
            let (plane, _) = control_plane(env, sdk)?;
            let page = plane
                .audit
                .list(tenant.as_ref(), *limit, cursor.as_deref())
                .await
                .map_err(ControlPlaneError::from)?;
            let human = if page.items.is_empty() {
                "no audit events\n".to_owned()
            } else {
                output::audit_table(&page.items)
            };
            print(term, json, to_json(&page)?, &human)?;
            if let (Some(c), false) = (&page.next_cursor, json) {
                writeln!(term.stderr, "more: tenantctl audit --cursor {c}")?;
            }
            Ok(0)
        }
    }
}

/// Waits for job `id` (unless `--no-wait`), drawing its progress on stderr, then prints it with
/// every per-tenant result. Exit status 1 when a tenant failed.
async fn follow_job(
    plane: &Plane,
    term: &mut Terminal<'_>,
    json: bool,
    id: Uuid,
    wait: &cli::Wait,
) -> Result<u8, CliError> {
    let stall = std::time::Duration::from_secs(wait.stall_timeout);
    let mut view = plane.job(&id, 1, None).await?;
    let mut last_progress = (view.done, std::time::Instant::now());
    while !wait.no_wait && view.status == JobStatus::Running {
        write!(term.stderr, "\r{}", output::progress_bar(&view))?;
        term.stderr.flush()?;
        if last_progress.1.elapsed() > stall {
            writeln!(term.stderr)?;
            return Err(CliError::failed(
                "job_stalled",
                format!(
                    "job {id}: no tenant finished in {} s (is admin-jobs running? `make dev` \
                     runs it); it goes on without us: tenantctl job {id}",
                    wait.stall_timeout
                ),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        view = plane.job(&id, 1, None).await?;
        if view.done != last_progress.0 {
            last_progress = (view.done, std::time::Instant::now());
        }
    }
    if !wait.no_wait {
        writeln!(term.stderr, "\r{}", output::progress_bar(&view))?;
    }
    // Every result, a page at a time (the counts above are final: no need to count again).
    let mut results = Vec::new();
    let mut cursor = None;
    loop {
        let page = plane
            .registry
            .job_results(&id, 1000, cursor.as_deref())
            .await
            .map_err(ControlPlaneError::from)?;
        results.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    view.results = results;
    view.next_cursor = None;
    print(term, json, to_json(&view)?, &output::job_report(&view))?;
    if view.failed > 0 {
        writeln!(
            term.stderr,
            "error: job_failed: {} of {} tenant(s) failed",
            view.failed, view.total
        )?;
        return Ok(1);
    }
    Ok(0)
}

async fn set_admin_disabled<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    sdk: &SdkConfig,
    term: &mut Terminal<'_>,
    json: bool,
    email: &str,
    disabled: bool,
) -> Result<u8, CliError> {
    let email = Email::parse(email).map_err(|e| CliError::usage("invalid_email", e.to_string()))?;
    let (_, auth) = control_plane(env, sdk)?;
    if !auth.set_disabled(&email, disabled).await? {
        return Err(CliError::usage(
            "admin_not_found",
            format!("there is no platform admin {email}"),
        ));
    }
    let state = if disabled { "disabled" } else { "enabled" };
    print(
        term,
        json,
        json!({ "email": email.as_str(), "disabled": disabled }),
        &format!("platform admin {email} {state}\n"),
    )?;
    Ok(0)
}

async fn create_admin<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    sdk: &SdkConfig,
    term: &mut Terminal<'_>,
    json: bool,
    email: &str,
    password_stdin: bool,
) -> Result<u8, CliError> {
    let email = Email::parse(email).map_err(|e| CliError::usage("invalid_email", e.to_string()))?;
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        term.stdin.read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Err(CliError::usage("missing_password", "no password on stdin"));
        }
        (SecretString::from(line.to_owned()), false)
    } else {
        (shared::security::password::generate_password(), true)
    };
    let (_, auth) = control_plane(env, sdk)?;
    let created = auth.create_admin(&email, &password).await?;
    // A generated password is shown only if it is now the admin's password.
    let shown = (created && generated).then(|| password.expose_secret().to_owned());
    let human = match &shown {
        Some(p) => format!("created platform admin {email}\npassword (shown once): {p}\n"),
        None if created => format!("created platform admin {email}\n"),
        None => format!("platform admin {email} already exists; left unchanged\n"),
    };
    let mut value = json!({ "email": email.as_str(), "created": created });
    if let Some(p) = shown {
        value["password"] = json!(p);
    }
    print(term, json, value, &human)?;
    Ok(0)
}

async fn create_tenant<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    sdk: &SdkConfig,
    term: &mut Terminal<'_>,
    json: bool,
    actor: &str,
    args: &CreateTenant,
) -> Result<u8, CliError> {
    // Validated before anything remote is touched.
    let request = NewTenant::parse(
        NewTenantInput {
            company_name: Some(args.company.clone()),
            subdomain: Some(args.subdomain.clone()),
            admin_email: Some(args.admin_email.clone()),
            admin_name: Some(args.admin_name.clone()),
        },
        &DomainConfig::from_env(env)?,
    )?;
    let key = args
        .idempotency_key
        .clone()
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let (plane, _) = control_plane(env, sdk)?;
    let result = {
        let stderr = Mutex::new(&mut *term.stderr);
        let progress = |event: &StepEvent| {
            if let (Some(line), Ok(mut w)) = (output::progress_line(event), stderr.lock()) {
                let _ = writeln!(w, "{line}");
            }
        };
        plane.provision(&request, &key, actor, &progress).await
    };
    let provisioned = match result {
        Ok(p) => p,
        Err(e) => {
            if matches!(
                e,
                ControlPlaneError::StepFailed { .. }
                    | ControlPlaneError::InProgress(_)
                    | ControlPlaneError::Step(..)
                    | ControlPlaneError::Registry(_)
            ) {
                writeln!(
                    term.stderr,
                    "hint: retry with --idempotency-key {key} to resume the same tenant"
                )?;
            }
            return Err(e.into());
        }
    };
    let t = &provisioned.tenant;
    if provisioned.replayed {
        writeln!(
            term.stderr,
            "replayed: idempotency key {key} already created this tenant; nothing was done"
        )?;
    }
    let mut value = json!({
        "tenant_id": t.tenant_id,
        "subdomain": t.subdomain,
        "status": t.status,
        "created_at": t.created_at,
        "access_url": provisioned.access_url,
        "replayed": provisioned.replayed,
    });
    let mut human = output::fields(&[
        ("tenant id", t.tenant_id.to_string()),
        ("subdomain", t.subdomain.clone()),
        ("status", t.status.as_str().into()),
        ("url", provisioned.access_url.clone()),
        ("admin", t.admin_email.clone()),
    ]);
    match (
        &provisioned.admin_temporary_password,
        args.show_admin_password,
    ) {
        (Some(password), true) => {
            value["admin_temporary_password"] = json!(password.expose_secret());
            human.push_str(&format!(
                "admin temporary password (shown once): {}\n",
                password.expose_secret()
            ));
        }
        (Some(_), false) => {
            human.push_str("the admin's temporary password was sent in the welcome email\n")
        }
        (None, _) => {}
    }
    print(term, json, value, &human)?;
    Ok(0)
}

//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

const AFTER_HELP: &str = "\
Configuration comes from the environment the provisioning function gets (REGISTRY_TABLE,
SECRETS_PREFIX, UPLOADS_BUCKET, MAIL_FROM, DB_ADMIN_SECRET_ID, ROOT_DOMAIN, TENANT_URL_FORMAT,
AWS_*). With --env-file, values from the file fill in only what the process environment lacks
(a variable set and non-empty in the process wins), e.g. --env-file .local/functions.env.
RUST_LOG=info writes the library's logs (JSON) to stderr.

Exit status: 0 done; 1 failed (server side, or `migrate` with a failed tenant); 2 bad input
(arguments, configuration, or a request the platform refused).";

/// Platform admin CLI: the admin API's operations on tenants, through the same library.
#[derive(Debug, Parser)]
#[command(name = "tenantctl", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// KEY=VALUE lines (# comments) filling in what the process environment lacks.
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Machine output: one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Platform admins.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Tenant lifecycle.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Bring the template and every active or suspended tenant database to the latest schema:
    /// the template now, the tenants as a job (progress on stderr, then a per-tenant report).
    Migrate {
        #[command(flatten)]
        wait: Wait,
    },
    /// A job's progress and per-tenant results.
    Job {
        id: Uuid,
        #[command(flatten)]
        wait: Wait,
    },
    /// The audit log, newest first.
    Audit {
        /// Only this tenant's events.
        #[arg(long, value_name = "ID")]
        tenant: Option<Uuid>,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(1..=1000))]
        limit: i32,
        /// Continue from a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Bootstrap a platform admin; an existing admin is left unchanged.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of stdin instead of generating one (the
        /// generated password is printed once).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an admin: no sign-in, and their tokens stop working within the registry cache TTL.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled admin again.
    Enable {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Provision a tenant (progress per step on stderr).
    Create(CreateTenant),
    /// Tenants, oldest first.
    List {
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(1..=1000))]
        limit: i32,
        /// Continue from a previous page.
        #[arg(long, conflicts_with = "all")]
        cursor: Option<String>,
        /// Every page.
        #[arg(long)]
        all: bool,
    },
    /// One tenant's record.
    Get { id: Uuid },
    /// Active → suspended: the tenant's hosts answer 403.
    Suspend { id: Uuid },
    /// Suspended → active.
    Activate { id: Uuid },
    /// Archive every table, then drop the database, role, secret and registry entries (a job).
    Delete {
        id: Uuid,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        wait: Wait,
    },
}

/// How a command that starts a job waits for it.
#[derive(Debug, Clone, Copy, Args)]
pub struct Wait {
    /// Print the job id and return at once (`tenantctl job <id>` shows it later).
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting after this many seconds without progress (the job goes on).
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub stall_timeout: u64,
}

#[derive(Debug, Args)]
pub struct CreateTenant {
    #[arg(long)]
    pub company: String,
    #[arg(long)]
    pub subdomain: String,
    #[arg(long)]
    pub admin_email: String,
    #[arg(long)]
    pub admin_name: String,
    /// Retrying with the same key resumes or replays the same tenant (default: a new key).
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Print the admin's temporary password (otherwise it is only in the welcome email).
    #[arg(long)]
    pub show_admin_password: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from([
            "tenantctl",
            "tenants",
            "list",
            "--json",
            "--env-file",
            "x.env",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.env_file, Some(PathBuf::from("x.env")));
    }

    #[test]
    fn bad_ids_and_limits_are_usage_errors() {
        for args in [
            &["tenantctl", "tenants", "get", "not-a-uuid"][..],
            &["tenantctl", "tenants", "list", "--limit", "0"],
            &["tenantctl", "tenants", "list", "--all", "--cursor", "c"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }
}

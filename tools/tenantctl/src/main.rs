//! `tenantctl`: parses the command line, layers `--env-file` under the process environment and
//! runs the command (see `tenantctl --help`).

use std::process::ExitCode;

use clap::Parser;
use shared::platform::config::Env;
use tenantctl::cli::Cli;
use tenantctl::{Terminal, env_file};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // stdout carries results (one JSON document with --json): logs only on request, to stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing::subscriber::set_global_default(
            shared::platform::telemetry::json_subscriber(std::io::stderr),
        );
    }
    let file = match cli.env_file.as_deref().map(env_file::load).transpose() {
        Ok(file) => file.unwrap_or_default(),
        Err(e) => {
            eprintln!("error: invalid_env_file: {e}");
            return ExitCode::from(2);
        }
    };
    let env = Env(env_file::layered(|name| std::env::var(name).ok(), file));
    let sdk = tenantctl::sdk_config(&env).await;
    let mut term = Terminal {
        stdin: &mut std::io::stdin().lock(),
        stdout: &mut std::io::stdout(),
        stderr: &mut std::io::stderr(),
    };
    ExitCode::from(tenantctl::run(&cli, &env, &sdk, &mut term).await)
}

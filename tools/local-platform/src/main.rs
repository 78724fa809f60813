//! `local-platform`: runs the platform on this machine. See the README's "Local platform".

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use local_platform::gateway::{self, Gateway, RouteTable};
use local_platform::invoke::RuntimeApiInvoker;
use local_platform::poller;
use local_platform::stack::{self, StackSettings};
use local_platform::template::{Template, default_template_path};

#[derive(Parser)]
#[command(
    about = "The TaskifAI platform on this machine: emulator resources, API gateway, SQS poller"
)]
struct Cli {
    /// The SAM template to read.
    #[arg(long, default_value_os_t = default_template_path())]
    template: PathBuf,
    /// Prefix of every emulator resource name.
    #[arg(long, default_value = "taskifai-local")]
    prefix: String,
    /// Where local state (env file) goes.
    #[arg(long, default_value = ".local")]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the template's resources on the emulator and write the functions' env file.
    Resources,
    /// Resources, then `cargo lambda watch` behind the gateway, and the SQS poller.
    Dev {
        /// Gateway port (all hosts: app., api., <tenant>. under localhost).
        #[arg(long, default_value_t = 9000)]
        port: u16,
        /// Port of `cargo lambda watch`'s Invoke API.
        #[arg(long, default_value_t = 9001)]
        functions_port: u16,
    },
    /// Write each surface's OpenAPI document (generated from the route tables) into a folder.
    Openapi {
        #[arg(default_value = "infra/openapi")]
        out: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    shared::platform::telemetry::init();
    let cli = Cli::parse();
    if let Command::Openapi { out } = &cli.command {
        return write_openapi(out);
    }
    let template = Template::load(&cli.template)?;
    let sdk = shared::platform::aws::sdk_config().await;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let port = match cli.command {
        Command::Dev { port, .. } => port,
        Command::Resources | Command::Openapi { .. } => 9000,
    };
    let settings = StackSettings::local(cli.prefix.clone(), region.clone(), "local", port);
    let deployed = stack::deploy(&template, &settings, &sdk).await.context(
        "creating the template's resources on the AWS emulator (is it running? AWS_ENDPOINT_URL?)",
    )?;

    if let Ok(url) = std::env::var("DATABASE_ADMIN_URL") {
        let name = stack::put_database_admin_secret(&deployed, &sdk, &url).await?;
        println!("database admin secret: {name}");
    }
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for f in template.functions()? {
        env.extend(deployed.function_env(&f)?);
    }
    for key in [
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        if let Ok(v) = std::env::var(key) {
            env.insert(key.into(), v);
        }
    }
    std::fs::create_dir_all(&cli.state_dir)?;
    let env_file = cli.state_dir.join("functions.env");
    // Single-quoted: values hold spaces, <>, {} (MAIL_FROM, TENANT_URL_FORMAT) and must not be
    // expanded by dotenv readers.
    let text: String = env.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect();
    std::fs::write(&env_file, text)?;
    println!("resources on the emulator:");
    for (id, p) in &deployed.resolver.resources {
        if !p.attributes.contains_key("Arn") || id.ends_with("Function") {
            continue;
        }
        println!("  {id:<28} {}", p.reference);
    }
    println!("functions' environment: {}", env_file.display());
    if std::env::var("DATABASE_ADMIN_URL").is_ok() {
        let mut demo_env = env.clone();
        demo_env.insert(
            "DATABASE_ADMIN_URL".into(),
            std::env::var("DATABASE_ADMIN_URL")?,
        );
        let credentials = cli.state_dir.join("credentials.json");
        local_platform::demo::bootstrap(&demo_env, &sdk, &credentials, port)
            .await
            .context("provisioning the demo tenant")?;
        println!(
            "demo tenant and platform admin: credentials in {}",
            credentials.display()
        );
    }

    let Command::Dev {
        port,
        functions_port,
    } = cli.command
    else {
        return Ok(());
    };
    let routes = RouteTable::from_template(&template, &deployed)?;
    let mut watch = tokio::process::Command::new("cargo")
        .args([
            "lambda",
            "watch",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(functions_port.to_string())
        .arg("--env-file")
        .arg(&env_file)
        .kill_on_drop(true)
        .spawn()
        .context("starting `cargo lambda watch` (run scripts/bootstrap.sh first)")?;
    let invoker = Arc::new(RuntimeApiInvoker::new(format!(
        "http://127.0.0.1:{functions_port}"
    )));
    let gateway = Arc::new(Gateway {
        routes: routes.clone(),
        invoker: invoker.clone(),
        account: settings.account.clone(),
    });
    for addr in [
        SocketAddr::from(([127, 0, 0, 1], port)),
        SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], port)),
    ] {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                tokio::spawn(gateway::serve(listener, gateway.clone()));
            }
            Err(e) if addr.is_ipv6() => {
                tracing::warn!(error = %e, "no IPv6 loopback; serving 127.0.0.1 only")
            }
            Err(e) => return Err(e).with_context(|| format!("binding the gateway to {addr}")),
        }
    }
    // The poller starts once the Invoke API listens, so no message is received just to fail.
    let functions_addr = SocketAddr::from(([127, 0, 0, 1], functions_port));
    while tokio::net::TcpStream::connect(functions_addr)
        .await
        .is_err()
    {
        if let Ok(Some(status)) = watch.try_wait() {
            anyhow::bail!("cargo lambda watch exited: {status}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let triggers = poller::triggers(&template, &deployed, &region)?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    tokio::spawn(poller::run(sqs, triggers.clone(), invoker));

    println!("\nlocal platform (Ctrl-C stops it):");
    for (api, host) in routes.domains() {
        let example = host.replace('*', "demo");
        println!("  {api:<10} http://{example}:{port}/api/health   (hosts {host})");
    }
    for t in &triggers {
        println!("  SQS {} -> {}", t.queue_url, t.function);
    }
    println!("  functions (cargo lambda watch Invoke API): http://127.0.0.1:{functions_port}");

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("stopping"),
        _ = terminate.recv() => println!("stopping"),
        status = watch.wait() => println!("cargo lambda watch exited: {status:?}"),
    }
    if let Some(pid) = watch.id() {
        // SIGTERM lets cargo-lambda stop the function processes it started.
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), watch.wait()).await;
    }
    Ok(())
}

/// `local-platform openapi [DIR]`: the committed contract, regenerated.
fn write_openapi(out: &std::path::Path) -> Result<()> {
    use shared::web::api::openapi::{document_json, file_name};
    use shared::web::http::Surface;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for surface in [Surface::App, Surface::Api, Surface::Tenant] {
        let path = out.join(file_name(surface));
        std::fs::write(&path, document_json(surface))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

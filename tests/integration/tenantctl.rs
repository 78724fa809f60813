//! `tenantctl`: the CLI's command runner, in-process against a test platform, with the
//! environment the provisioning function gets.

use ::tenantctl::Terminal;
use serde_json::Value;
use shared::control_plane::provisioning::Step;
use shared::platform::config::Env;
use shared::store::postgres::admin::TenantDbNames;
use shared::store::registry::TenantStatus;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, unique_subdomain};

/// Runs `tenantctl <args>`; (exit status, stdout, stderr).
async fn tenantctl(app: &TestApp, args: &[&str]) -> (u8, String, String) {
    let vars = app.env.clone();
    let env = Env(move |name: &str| vars.get(name).cloned());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = ::tenantctl::run_args(
        std::iter::once("tenantctl").chain(args.iter().copied()),
        &env,
        &app.sdk,
        &mut Terminal {
            stdin: &mut std::io::empty(),
            stdout: &mut out,
            stderr: &mut err,
        },
    )
    .await;
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[tokio::test]
async fn tenantctl_creates_lists_suspends_and_deletes_a_tenant() {
    // GIVEN a platform whose jobs run (deletion is one)
    let app = spawn_app().await;
    app.start_event_sources();
    let subdomain = unique_subdomain("cli");

    // WHEN tenantctl creates a tenant
    let (code, out, err) = tenantctl(
        &app,
        &[
            "--json",
            "tenants",
            "create",
            "--company",
            "Cli Inc",
            "--subdomain",
            &subdomain,
            "--admin-email",
            "ada@cli.example",
            "--admin-name",
            "Ada Admin",
        ],
    )
    .await;
    // THEN every step reports on stderr and stdout is one JSON document, without the password
    assert_eq!(code, 0, "stderr: {err}");
    for (i, step) in Step::ALL.iter().enumerate() {
        let line = format!("[{}/{}] {} ", i + 1, Step::ALL.len(), step.as_str());
        assert!(
            err.lines()
                .any(|l| l.starts_with(&line) && l.contains(" done  (")),
            "no progress line for {}: {err}",
            step.as_str()
        );
    }
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["status"], "active");
    assert_eq!(created["subdomain"], subdomain.as_str());
    assert_eq!(created["replayed"], false);
    assert!(created.get("admin_temporary_password").is_none());
    let id: Uuid = created["tenant_id"].as_str().unwrap().parse().unwrap();

    // WHEN the tenants are listed THEN the new one is there, active
    let (code, out, _) = tenantctl(&app, &["tenants", "list"]).await;
    assert_eq!(code, 0);
    let row = out.lines().find(|l| l.contains(&subdomain)).unwrap();
    assert!(row.contains("active"), "{out}");

    // WHEN it is suspended THEN the registry says so
    let (code, out, _) = tenantctl(&app, &["--json", "tenants", "suspend", &id.to_string()]).await;
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "suspended"
    );
    let record = app.registry().get_tenant(&id).await.unwrap().unwrap();
    assert_eq!(record.status, TenantStatus::Suspended);

    // WHEN a delete is not confirmed THEN nothing happens
    let (code, _, err) = tenantctl(&app, &["tenants", "delete", &id.to_string()]).await;
    assert_eq!(code, 2);
    assert!(err.starts_with("error: confirmation_required: "), "{err}");
    assert!(app.registry().get_tenant(&id).await.unwrap().is_some());

    // WHEN it is confirmed THEN the tenant and its database are gone
    let (code, _, err) = tenantctl(&app, &["tenants", "delete", &id.to_string(), "--yes"]).await;
    assert_eq!(code, 0, "stderr: {err}");
    let (code, _, err) = tenantctl(&app, &["tenants", "get", &id.to_string()]).await;
    assert_eq!(code, 2);
    assert!(err.starts_with("error: tenant_not_found: "), "{err}");
    let names = TenantDbNames::for_tenant(&id);
    assert!(
        !app.db_admin()
            .database_exists(&names.database)
            .await
            .unwrap()
    );

    // AND the audit log names the CLI as the actor
    let (code, out, _) = tenantctl(&app, &["--json", "audit", "--tenant", &id.to_string()]).await;
    assert_eq!(code, 0);
    let events: Value = serde_json::from_str(&out).unwrap();
    let actions: Vec<(&str, &str)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    for action in ["tenant.create", "tenant.suspend", "tenant.delete"] {
        assert!(actions.contains(&(action, "cli:unknown")), "{actions:?}");
    }
}

#[tokio::test]
async fn tenantctl_migrate_runs_a_job_and_reports_every_tenant() {
    // GIVEN a platform whose jobs run, with three tenants
    let app = spawn_app().await;
    app.start_event_sources();
    let mut subdomains = Vec::new();
    for stem in ["mig-a", "mig-b", "mig-c"] {
        subdomains.push(
            app.provision(&unique_subdomain(stem))
                .await
                .tenant
                .subdomain,
        );
    }

    // WHEN migrate runs
    let (code, out, err) = tenantctl(&app, &["migrate"]).await;

    // THEN it followed the job to the end and reports each tenant at the latest version
    assert_eq!(code, 0, "stderr: {err}");
    assert!(err.contains("3/3"), "a progress bar: {err}");
    assert!(out.contains("3 of 3 done, 3 ok, 0 failed"), "{out}");
    let latest = shared::store::postgres::migrations::latest_version().to_string();
    for subdomain in &subdomains {
        let line = out
            .lines()
            .find(|l| l.starts_with(subdomain.as_str()))
            .unwrap_or_else(|| panic!("{subdomain} in {out}"));
        assert!(line.contains(" ok "), "{line}");
        assert!(line.contains(&latest), "{line}");
    }

    // AND with --no-wait it hands back the job, which `tenantctl job` follows
    let (code, out, err) = tenantctl(&app, &["--json", "migrate", "--no-wait"]).await;
    assert_eq!(code, 0, "stderr: {err}");
    let started: Value = serde_json::from_str(&out).unwrap();
    let id = started["job_id"].as_str().unwrap().to_owned();
    let (code, out, err) = tenantctl(&app, &["--json", "job", &id]).await;
    assert_eq!(code, 0, "stderr: {err}");
    let job: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(job["status"], "succeeded");
    assert_eq!(job["results"].as_array().unwrap().len(), 3);

    // AND an unknown job is a clear error
    let (code, _, err) = tenantctl(&app, &["job", &Uuid::new_v4().to_string()]).await;
    assert_eq!(code, 2);
    assert!(err.starts_with("error: job_not_found: "), "{err}");
}

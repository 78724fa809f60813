//! Jobs: long admin operations off the request path. Each tenant is done once whatever the
//! queue redelivers, a message can only act on a tenant its job covers, garbage is dropped,
//! concurrent deletions of one tenant delete it once, and only platform admins see jobs.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use shared::control_plane::provisioning::ControlPlaneError;
use shared::store::job_queue::JobMessage;
use shared::store::postgres::admin::TenantDbNames;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, unique_subdomain};

fn jobs_queue(app: &TestApp) -> String {
    app.deployed
        .reference("JobsQueue")
        .expect("jobs queue")
        .to_owned()
}

async fn send(app: &TestApp, body: &str) {
    aws_sdk_sqs::Client::new(&app.sdk)
        .send_message()
        .queue_url(jobs_queue(app))
        .message_body(body)
        .send()
        .await
        .expect("send");
}

/// Starts a job with `method path`; its status URL, without running it.
async fn start(app: &TestApp, method: Method, path: &str, token: &str) -> (Uuid, String) {
    let res = app.admin(method, path, token).send().await.unwrap();
    assert_eq!(res.status(), 202);
    let started: Value = res.json().await.unwrap();
    (
        started["job_id"].as_str().unwrap().parse().unwrap(),
        started["status_url"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn redelivered_messages_do_each_tenant_once() {
    // GIVEN a migration job over two tenants, each of whose messages the queue delivers twice
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let a = app.provision(&unique_subdomain("twice-a")).await.tenant;
    let b = app.provision(&unique_subdomain("twice-b")).await.tenant;
    let (job_id, status_url) = start(&app, Method::POST, "/admin/migrations", &token).await;
    for tenant in [&a, &b] {
        let message = JobMessage {
            job_id,
            tenant_id: tenant.tenant_id,
        };
        send(&app, &serde_json::to_string(&message).unwrap()).await;
    }

    // WHEN every message is processed
    let job = app.finish_job(&status_url, &token).await;

    // THEN each tenant has one result and the counts match the job's size
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        (
            job["total"].as_u64(),
            job["done"].as_u64(),
            job["ok"].as_u64()
        ),
        (Some(2), Some(2), Some(2))
    );
    let results = job["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    // AND a delivery after the end changes nothing
    let plane = &app.functions.admin_jobs.plane;
    plane
        .run_job_message(&JobMessage {
            job_id,
            tenant_id: a.tenant_id,
        })
        .await
        .expect("a late redelivery is acknowledged");
    let again = app.finish_job(&status_url, &token).await;
    assert_eq!(again["results"], job["results"]);
}

#[tokio::test]
async fn a_message_cannot_reach_a_tenant_its_job_does_not_cover() {
    // GIVEN a job deleting tenant A, and a forged message of that job naming tenant B
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let a = app.provision(&unique_subdomain("doomed")).await.tenant;
    let b = app.provision(&unique_subdomain("bystander")).await.tenant;
    let (job_id, status_url) = start(
        &app,
        Method::DELETE,
        &format!("/admin/tenants/{}", a.tenant_id),
        &token,
    )
    .await;
    let forged = JobMessage {
        job_id,
        tenant_id: b.tenant_id,
    };
    send(&app, &serde_json::to_string(&forged).unwrap()).await;

    // WHEN the queue is processed
    let job = app.finish_job(&status_url, &token).await;

    // THEN A is deleted and B untouched: its record, its database
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["total"], 1);
    assert_eq!(job["results"][0]["tenant_id"], a.tenant_id.to_string());
    assert!(
        app.registry()
            .get_tenant(&a.tenant_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.registry()
            .get_tenant(&b.tenant_id)
            .await
            .unwrap()
            .is_some()
    );
    let names = TenantDbNames::for_tenant(&b.tenant_id);
    assert!(
        app.db_admin()
            .database_exists(&names.database)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn unreadable_messages_and_unknown_jobs_are_dropped_not_retried() {
    // GIVEN garbage and a message of a job that does not exist on the jobs queue
    let app = spawn_app().await;
    send(&app, "not json at all").await;
    send(
        &app,
        &json!({"job_id": Uuid::new_v4(), "tenant_id": Uuid::new_v4()}).to_string(),
    )
    .await;
    let trigger = app.jobs_trigger();
    let sqs = aws_sdk_sqs::Client::new(&app.sdk);

    // WHEN admin-jobs receives them
    let mut received = 0;
    while received < 2 {
        let outcome = local_platform::poller::poll_once(
            &sqs,
            &trigger,
            app.functions.as_ref(),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        // THEN both are acknowledged: neither could ever succeed
        assert_eq!(outcome.failed, 0, "{outcome:?}");
        received += outcome.received;
    }
}

#[tokio::test]
async fn concurrent_deletions_of_one_tenant_delete_it_once() {
    // GIVEN two deletion jobs for the same tenant, started together
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = app.provision(&unique_subdomain("twice-gone")).await.tenant;
    let path = format!("/admin/tenants/{}", t.tenant_id);
    let ((first, first_url), (second, second_url)) = tokio::join!(
        start(&app, Method::DELETE, &path, &token),
        start(&app, Method::DELETE, &path, &token)
    );

    // WHEN both run at once (a deletion leased by the other is retried, as the queue would)
    let plane = &app.functions.admin_jobs.plane;
    let run = |job_id| async move {
        let message = JobMessage {
            job_id,
            tenant_id: t.tenant_id,
        };
        for _ in 0..50 {
            match plane.run_job_message(&message).await {
                Err(ControlPlaneError::InProgress(_)) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
        panic!("the other deletion never finished");
    };
    let (a, b) = tokio::join!(run(first), run(second));
    a.unwrap();
    b.unwrap();

    // THEN one deleted it and the other found nothing left to do
    let mut outcomes = Vec::new();
    for url in [&first_url, &second_url] {
        let job = app.finish_job(url, &token).await;
        assert_eq!(job["failed"], 0, "{job}");
        outcomes.push(job["results"][0]["outcome"].as_str().unwrap().to_owned());
    }
    outcomes.sort();
    assert_eq!(outcomes, ["ok", "skipped"]);
    assert!(
        app.registry()
            .get_tenant(&t.tenant_id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn only_platform_admins_read_jobs_and_bad_ids_get_clear_errors() {
    // GIVEN a job, and a tenant admin's token
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let tenant_admin = crate::auth::provisioned_admin(&app, "nosy").await;
    let (_, status_url) = start(&app, Method::POST, "/admin/migrations", &token).await;
    let tenant_token = tenant_admin.token;

    // WHEN it is read without a platform token THEN it is refused
    for bearer in [None, Some(tenant_token.as_str())] {
        let mut req = app.request(Method::GET, "api.localhost", &status_url);
        if let Some(bearer) = bearer {
            req = req.bearer_auth(bearer);
        }
        assert_eq!(req.send().await.unwrap().status(), 401, "{bearer:?}");
    }
    // AND a malformed id or an unknown job get stable codes
    for (path, status, code) in [
        ("/admin/jobs/not-a-uuid".to_owned(), 400, "invalid_job_id"),
        (
            format!("/admin/jobs/{}", Uuid::new_v4()),
            404,
            "job_not_found",
        ),
    ] {
        let res = app.admin(Method::GET, &path, &token).send().await.unwrap();
        assert_eq!(res.status(), status, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{path}");
    }
    // AND deleting a tenant that does not exist starts nothing
    let res = app
        .admin(
            Method::DELETE,
            &format!("/admin/tenants/{}", Uuid::new_v4()),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

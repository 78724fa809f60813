//! The route tables are the one list of routes: every template route is served by its
//! function's table and every table route is in the template; a method a path does not have gets
//! 405 with `Allow` from the table; the OpenAPI documents cover every route and the committed
//! copies in `infra/openapi/` are current.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use shared::web::api::openapi::{document_json, file_name, routes_of};
use shared::web::api::{admin, analytics, auth, discovery, uploads, web};
use shared::web::http::Surface;
use shared::web::router::RouteSpec;

use crate::helpers::{http_event, spawn_app, template};

const SURFACES: [Surface; 3] = [Surface::App, Surface::Api, Surface::Tenant];

/// Each HTTP function's table, by binary name.
fn tables() -> Vec<(&'static str, Vec<&'static RouteSpec>)> {
    fn specs<Op>(routes: &'static [shared::web::router::Route<Op>]) -> Vec<&'static RouteSpec> {
        routes.iter().map(|r| &r.spec).collect()
    }
    vec![
        ("tenant-discovery", specs(&discovery::ROUTES)),
        ("auth", specs(&auth::ROUTES)),
        ("uploads", specs(&uploads::ROUTES)),
        ("analytics", specs(&analytics::ROUTES)),
        ("provisioning", specs(&admin::ROUTES)),
        ("web", specs(&web::ROUTES)),
    ]
}

#[test]
fn every_template_route_is_in_its_functions_table_and_back() {
    // GIVEN the SAM template's routes per function and the functions' route tables
    let functions = template().functions().expect("functions");
    for (binary, table) in tables() {
        let declared: BTreeSet<(String, String)> = functions
            .iter()
            .find(|f| f.binary == binary)
            .unwrap_or_else(|| panic!("{binary} is in the template"))
            .routes
            .iter()
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect();
        // WHEN the table is listed the same way
        let served: BTreeSet<(String, String)> = table
            .iter()
            .map(|s| (s.method.as_str().to_owned(), s.path.to_owned()))
            .collect();
        // THEN they are the same set
        assert_eq!(served, declared, "{binary}: table vs template");
    }
}

fn host_of(function: &str) -> &'static str {
    match function {
        "tenant-discovery" => "app.localhost",
        "provisioning" => "api.localhost",
        _ => "acme.localhost",
    }
}

#[tokio::test]
async fn a_method_the_table_lacks_gets_405_with_allow_from_the_table_on_every_function() {
    // GIVEN every function and every path of its table (parameters filled in)
    let app = spawn_app().await;
    app.provision("acme").await;
    for (function, table) in tables() {
        let paths: BTreeSet<&str> = table.iter().map(|s| s.path).collect();
        for path in paths {
            let allowed: Vec<&str> = table
                .iter()
                .filter(|s| s.path == path)
                .map(|s| s.method.as_str())
                .collect();
            let concrete = path.replace("{id}", "00000000-0000-4000-8000-000000000000");
            // WHEN it is called with a method none of its routes has
            let res = app
                .functions
                .invoke_http(
                    function,
                    &http_event("TRACE", host_of(function), &concrete, None),
                )
                .await
                .unwrap();
            // THEN 405, with exactly the table's methods in Allow
            assert_eq!(res["statusCode"], 405, "{function} TRACE {path}: {res}");
            assert_eq!(
                res["headers"]["allow"],
                allowed.join(", "),
                "{function} {path}"
            );
            let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "method_not_allowed");
        }
    }
}

#[tokio::test]
async fn each_surface_serves_its_openapi_document_covering_every_route() {
    // GIVEN a platform with a live tenant
    let app = spawn_app().await;
    app.provision("acme").await;
    for (surface, host) in [
        (Surface::App, "app.localhost"),
        (Surface::Api, "api.localhost"),
        (Surface::Tenant, "acme.localhost"),
    ] {
        // WHEN the surface's contract is fetched through the gateway
        let (status, doc) = app.get(host, "/api/openapi.json").await;
        // THEN it is an OpenAPI 3.1 document with every route of the surface
        assert_eq!(status, 200, "{host}");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
        for spec in routes_of(surface) {
            let path = spec.path.replace("+}", "}");
            let method = spec.method.as_str().to_ascii_lowercase();
            let op = &doc["paths"][&path][&method];
            assert!(op.is_object(), "{host}: {method} {path} missing");
            assert!(
                op["responses"][spec.ok.0.to_string()].is_object(),
                "{host}: {method} {path} lacks its success response"
            );
            // Every schema it refers to is in the document.
            for reference in refs(op) {
                let name = reference.trim_start_matches("#/components/schemas/");
                assert!(
                    doc["components"]["schemas"][name].is_object(),
                    "{host}: {reference} dangling"
                );
            }
        }
        // AND the served document is the generated one
        assert_eq!(
            doc,
            serde_json::from_str::<Value>(&document_json(surface)).unwrap()
        );
    }
}

fn refs(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(r)) => vec![r.clone()],
                _ => refs(v),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(refs).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn committed_openapi_documents_are_current() {
    // GIVEN the documents generated from the route tables
    for surface in SURFACES {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../infra/openapi")
            .join(file_name(surface));
        // WHEN compared with the committed copy
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        // THEN they are the same (`make openapi` rewrites them)
        assert!(
            committed == document_json(surface),
            "{} is stale: run `make openapi`",
            file.display()
        );
    }
}

/// One grant of a function's policies, as text: `<action> <resource>[ <condition>]`, the
/// resource shortened (`RegistryTable`, `UploadsBucket/tenants/*`, `secret:tenants/*`) and SAM's
/// policy templates named as such.
fn grants_of(function: &str) -> BTreeSet<String> {
    let template = template();
    let id = template
        .functions()
        .expect("functions")
        .into_iter()
        .find(|f| f.binary == function)
        .unwrap_or_else(|| panic!("{function} is in the template"))
        .id;
    let short = |v: &Value| -> String {
        if let Some(att) = v.get("Fn::GetAtt") {
            return att[0].as_str().unwrap_or_default().to_owned();
        }
        let text = v
            .get("Fn::Sub")
            .and_then(Value::as_str)
            .or_else(|| v.as_str())
            .unwrap_or_default();
        match text.split_once(":secret:") {
            Some((_, name)) => format!(
                "secret:{}",
                name.trim_start_matches("taskifai/${Environment}/")
            ),
            None => text
                .replace("${UploadsBucket.Arn}", "UploadsBucket")
                .replace(
                    "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:",
                    "ses:",
                ),
        }
    };
    let list = |v: &Value| -> Vec<Value> {
        match v {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        }
    };
    let mut grants = BTreeSet::new();
    for policy in list(&template.resources[&id].properties["Policies"]) {
        let Some(statements) = policy.get("Statement") else {
            // A SAM policy template: its name and its table.
            let (name, args) = policy.as_object().unwrap().iter().next().unwrap();
            grants.insert(format!(
                "{name} {}",
                args["TableName"]["Ref"].as_str().unwrap_or("?")
            ));
            continue;
        };
        for statement in list(statements) {
            assert_eq!(
                statement["Effect"], "Allow",
                "{function}: only Allow statements"
            );
            let condition = statement
                .get("Condition")
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            for action in list(&statement["Action"]) {
                for resource in list(&statement["Resource"]) {
                    grants.insert(format!(
                        "{} {}{condition}",
                        action.as_str().unwrap(),
                        short(&resource)
                    ));
                }
            }
        }
    }
    grants
}

#[test]
fn only_the_signing_functions_can_read_private_token_keys() {
    // GIVEN every function's secret grants
    let mut readers = BTreeSet::new();
    for function in template().functions().expect("functions") {
        let reads = |name: &str| {
            grants_of(&function.binary).iter().any(|g| {
                g.starts_with("secretsmanager:GetSecretValue ") && {
                    let resource = g.split(' ').nth(1).unwrap_or_default();
                    let pattern = resource.trim_start_matches("secret:");
                    pattern == "*"
                        || pattern
                            .strip_suffix('*')
                            .is_some_and(|p| name.starts_with(p))
                }
            })
        };
        // THEN only auth and provisioning can read a tenant's private keys, and only
        // provisioning the platform admins'
        if reads("signing-keys/some-tenant") {
            readers.insert(format!("{} tenant keys", function.binary));
        }
        if reads("platform/admin-token-keys") {
            readers.insert(format!("{} admin keys", function.binary));
        }
    }
    assert_eq!(
        readers,
        BTreeSet::from([
            "auth tenant keys".to_owned(),
            "provisioning tenant keys".to_owned(),
            "provisioning admin keys".to_owned(),
        ])
    );
}

#[test]
fn functions_only_put_audit_events_and_only_provisioning_reaches_the_admins() {
    // GIVEN every function's grants on the audit and admins tables
    for function in template().functions().expect("functions") {
        for grant in grants_of(&function.binary) {
            let action = grant.split(' ').next().unwrap_or_default();
            // THEN audit events are only put (and read by provisioning), never updated or deleted
            if grant.contains("AuditTable") {
                let allowed = action == "dynamodb:PutItem"
                    || (action == "dynamodb:Query" && function.binary == "provisioning");
                assert!(allowed, "{}: {grant}", function.binary);
            }
            // AND the admins table is provisioning's alone
            if grant.contains("AdminsTable") {
                assert_eq!(function.binary, "provisioning", "{grant}");
            }
        }
    }
}

#[test]
fn every_function_has_exactly_the_grants_it_needs() {
    // What each function needs, and nothing else: a new grant is a deliberate change here.
    let keys = |prefixes: &[&str]| {
        format!(
            " {}",
            serde_json::json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": prefixes}})
        )
    };
    let get_tenant = format!(
        "dynamodb:GetItem RegistryTable{}",
        keys(&["SUBDOMAIN#*", "TENANT#*"])
    );
    let tenant_secret = "secretsmanager:GetSecretValue secret:tenants/*".to_owned();
    let audit = "dynamodb:PutItem AuditTable".to_owned();
    let expected: [(&str, Vec<String>); 7] = [
        (
            "tenant-discovery",
            vec![
                format!("dynamodb:Query RegistryTable{}", keys(&["EMAIL#*"])),
                format!(
                    "dynamodb:GetItem RegistryTable{}",
                    keys(&["TENANT#*", "COUNTER#*"])
                ),
                format!("dynamodb:UpdateItem RegistryTable{}", keys(&["COUNTER#*"])),
            ],
        ),
        (
            "auth",
            vec![
                format!(
                    "dynamodb:GetItem RegistryTable{}",
                    keys(&["SUBDOMAIN#*", "TENANT#*", "COUNTER#*"])
                ),
                format!("dynamodb:UpdateItem RegistryTable{}", keys(&["COUNTER#*"])),
                format!("dynamodb:DeleteItem RegistryTable{}", keys(&["COUNTER#*"])),
                format!("dynamodb:PutItem RegistryTable{}", keys(&["EMAIL#*"])),
                format!("dynamodb:DeleteItem RegistryTable{}", keys(&["EMAIL#*"])),
                format!("dynamodb:PutItem RegistryTable{}", keys(&["TENANT#*"])),
                audit.clone(),
                tenant_secret.clone(),
                "secretsmanager:GetSecretValue secret:signing-keys/*".into(),
                "secretsmanager:PutSecretValue secret:signing-keys/*".into(),
            ],
        ),
        (
            "uploads",
            vec![
                get_tenant.clone(),
                tenant_secret.clone(),
                audit.clone(),
                "s3:PutObject UploadsBucket/tenants/*".into(),
            ],
        ),
        (
            "upload-processor",
            vec![
                format!("dynamodb:GetItem RegistryTable{}", keys(&["TENANT#*"])),
                tenant_secret.clone(),
                "s3:GetObject UploadsBucket/tenants/*".into(),
            ],
        ),
        (
            "analytics",
            vec![
                get_tenant.clone(),
                tenant_secret.clone(),
                "s3:PutObject UploadsBucket/tenants/*/exports/*".into(),
                "s3:PutObjectTagging UploadsBucket/tenants/*/exports/*".into(),
                "s3:GetObject UploadsBucket/tenants/*/exports/*".into(),
            ],
        ),
        (
            // The control plane: every registry item is its business.
            "provisioning",
            vec![
                "DynamoDBCrudPolicy RegistryTable".into(),
                "DynamoDBCrudPolicy AdminsTable".into(),
                "dynamodb:PutItem AuditTable".into(),
                "dynamodb:Query AuditTable".into(),
                "dynamodb:Query ${AuditTable.Arn}/index/*".into(),
                "secretsmanager:CreateSecret secret:*".into(),
                "secretsmanager:GetSecretValue secret:*".into(),
                "secretsmanager:PutSecretValue secret:*".into(),
                "secretsmanager:DeleteSecret secret:*".into(),
                "secretsmanager:DescribeSecret secret:*".into(),
                "secretsmanager:GetSecretValue secret:${DatabaseAdminSecretId}-*".into(),
                "s3:PutObject UploadsBucket/archive/*".into(),
                "s3:DeleteObject UploadsBucket/tenants/*".into(),
                "s3:DeleteObjectVersion UploadsBucket/tenants/*".into(),
                format!(
                    "s3:ListBucket UploadsBucket {}",
                    serde_json::json!({"StringLike": {"s3:prefix": ["tenants/*"]}})
                ),
                format!(
                    "s3:ListBucketVersions UploadsBucket {}",
                    serde_json::json!({"StringLike": {"s3:prefix": ["tenants/*"]}})
                ),
                "ses:SendEmail ses:identity/${RootDomain}".into(),
            ],
        ),
        ("web", vec![get_tenant.clone()]),
    ];
    let listed: BTreeSet<&str> = expected.iter().map(|(f, _)| *f).collect();
    let deployed: BTreeSet<String> = template()
        .functions()
        .expect("functions")
        .into_iter()
        .map(|f| f.binary)
        .collect();
    assert_eq!(
        listed,
        deployed.iter().map(String::as_str).collect(),
        "every function's grants are listed"
    );
    for (function, needs) in expected {
        let needs: BTreeSet<String> = needs.into_iter().collect();
        assert_eq!(grants_of(function), needs, "{function}'s grants");
    }
}

#[test]
fn every_function_logs_with_retention_and_alarms_watch_functions_queues_and_apis() {
    let template = template();
    let reference = |id: &str| serde_json::json!({"Ref": id});
    let alarms: Vec<&Value> = template
        .ids_of_type("AWS::CloudWatch::Alarm")
        .map(|id| &template.resources[id].properties)
        .collect();
    let watched = |metric: &str, dimension: &Value| {
        alarms.iter().any(|a| {
            a["MetricName"] == metric
                && a["Dimensions"][0]["Value"] == *dimension
                && a["AlarmActions"][0] == reference("AlarmTopic")
        })
    };
    // GIVEN every function THEN it logs JSON to its own group, kept LogRetentionDays, and its
    // errors and throttles raise alarms
    for function in template.functions().expect("functions") {
        let logging = &template.resources[&function.id].properties["LoggingConfig"];
        assert_eq!(logging["LogFormat"], "JSON", "{}", function.binary);
        let group = logging["LogGroup"]["Ref"].as_str().unwrap_or_default();
        let group = template
            .resources
            .get(group)
            .unwrap_or_else(|| panic!("{}: no log group {group}", function.binary));
        assert_eq!(group.kind, "AWS::Logs::LogGroup");
        assert_eq!(
            group.properties["RetentionInDays"],
            reference("LogRetentionDays")
        );
        for metric in ["Errors", "Throttles"] {
            assert!(
                watched(metric, &reference(&function.id)),
                "{}: no {metric} alarm",
                function.binary
            );
        }
    }
    // AND the dead-letter queue and the queue's oldest message are watched
    let queue = |id: &str| serde_json::json!({"Fn::GetAtt": [id, "QueueName"]});
    assert!(watched(
        "ApproximateNumberOfMessagesVisible",
        &queue("ProcessingDeadLetterQueue")
    ));
    assert!(watched(
        "ApproximateAgeOfOldestMessage",
        &queue("ProcessingQueue")
    ));
    // AND every API is reached only through its domain, logs its requests, is throttled, and
    // its 5xx raise an alarm
    for id in template.ids_of_type("AWS::Serverless::HttpApi") {
        let api = &template.resources[id].properties;
        assert_eq!(api["DisableExecuteApiEndpoint"], true, "{id}");
        assert!(
            api["AccessLogSettings"]["DestinationArn"].is_object(),
            "{id}"
        );
        assert!(
            api["DefaultRouteSettings"]["ThrottlingRateLimit"].is_number(),
            "{id}"
        );
        assert!(watched("5xx", &reference(id)), "{id}: no 5xx alarm");
    }
    // AND no table can be deleted by accident
    for id in template.ids_of_type("AWS::DynamoDB::Table") {
        let table = &template.resources[id].properties;
        assert_eq!(table["DeletionProtectionEnabled"], true, "{id}");
    }
}

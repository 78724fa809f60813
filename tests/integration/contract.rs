//! The route tables are the one list of routes: every template route is served by its
//! function's table and every table route is in the template; a method a path does not have gets
//! 405 with `Allow` from the table; the OpenAPI documents cover every route and the committed
//! copies in `infra/openapi/` are current. And what `infra/template.yaml` deploys beyond routes:
//! each function's grants, logs and alarms; the database functions' network, CA bundle and
//! concurrency within the connection budget (with `samconfig.toml`); the mail identity's DKIM.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use local_platform::template::default_template_path;
use serde_json::{Value, json};
use shared::store::postgres::pool::MAX_CONNECTIONS_PER_TENANT;
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

/// Whether `function` may read the secret `name` (under the environment's prefix).
fn reads_secret(function: &str, name: &str) -> bool {
    grants_of(function).iter().any(|g| {
        g.starts_with("secretsmanager:GetSecretValue ") && {
            let resource = g.split(' ').nth(1).unwrap_or_default();
            let pattern = resource.trim_start_matches("secret:");
            pattern == "*"
                || pattern
                    .strip_suffix('*')
                    .is_some_and(|p| name.starts_with(p))
        }
    })
}

#[test]
fn only_the_signing_functions_can_read_private_token_keys() {
    // GIVEN every function's secret grants
    let mut readers = BTreeSet::new();
    for function in template().functions().expect("functions") {
        let reads = |name: &str| reads_secret(&function.binary, name);
        // THEN only auth, provisioning and its jobs can read a tenant's private keys (sign-in;
        // making, upgrading and deleting them), and only provisioning the platform admins'
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
            "admin-jobs tenant keys".to_owned(),
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
    // What provisioning and admin-jobs both need to migrate, archive and delete tenants.
    let lifecycle: Vec<String> = vec![
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
    ];
    let expected: [(&str, Vec<String>); 8] = [
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
                "ses:SendEmail ses:identity/${RootDomain}".into(),
                "sqs:SendMessage JobsQueue".into(),
            ]
            .into_iter()
            .chain(lifecycle.clone())
            .collect(),
        ),
        (
            // Provisioning's work on one tenant at a time: no mail, no admins, no queueing.
            "admin-jobs",
            vec![
                "DynamoDBCrudPolicy RegistryTable".into(),
                audit.clone(),
                "secretsmanager:CreateSecret secret:tenants/*".into(),
                "secretsmanager:CreateSecret secret:signing-keys/*".into(),
                "secretsmanager:GetSecretValue secret:tenants/*".into(),
                "secretsmanager:GetSecretValue secret:signing-keys/*".into(),
                "secretsmanager:PutSecretValue secret:tenants/*".into(),
                "secretsmanager:PutSecretValue secret:signing-keys/*".into(),
                "secretsmanager:DeleteSecret secret:tenants/*".into(),
                "secretsmanager:DeleteSecret secret:signing-keys/*".into(),
                "secretsmanager:DescribeSecret secret:tenants/*".into(),
                "secretsmanager:DescribeSecret secret:signing-keys/*".into(),
            ]
            .into_iter()
            .chain(lifecycle.clone())
            .collect(),
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

/// The functions that reach PostgreSQL: those that may read a tenant's database credentials.
fn database_functions() -> BTreeSet<String> {
    template()
        .functions()
        .expect("functions")
        .into_iter()
        .map(|f| f.binary)
        .filter(|binary| reads_secret(binary, "tenants/some-tenant"))
        .collect()
}

#[test]
fn the_functions_that_reach_postgresql_run_in_the_vpc_with_the_ca_bundle_and_no_other_does() {
    let template = template();
    let reference = |id: &str| json!({"Ref": id});
    // GIVEN the functions that can read database credentials
    let database = database_functions();
    assert_eq!(
        database,
        [
            "admin-jobs",
            "analytics",
            "auth",
            "provisioning",
            "upload-processor",
            "uploads"
        ]
        .map(String::from)
        .into(),
        "tenant-discovery and web only talk to DynamoDB"
    );
    for function in template.functions().expect("functions") {
        let props = &template.resources[&function.id].properties;
        let layers = props["Layers"].as_array().cloned().unwrap_or_default();
        if database.contains(&function.binary) {
            // THEN they run in the private subnets, in the functions' security group, with the
            // CA bundle's layer and DATABASE_CA_FILE
            let vpc = &props["VpcConfig"];
            assert_eq!(
                vpc["SecurityGroupIds"],
                json!([{"Fn::GetAtt": ["FunctionsSecurityGroup", "GroupId"]}]),
                "{}",
                function.binary
            );
            assert_eq!(vpc["SubnetIds"], reference("PrivateSubnetIds"));
            assert!(
                layers.contains(&reference("RdsCaLayer")),
                "{}",
                function.binary
            );
            assert_eq!(
                function.environment.get("DATABASE_CA_FILE"),
                Some(&reference("DatabaseCaFile")),
                "{}",
                function.binary
            );
        } else {
            // AND the others stay outside the VPC, without either
            assert!(props.get("VpcConfig").is_none(), "{}", function.binary);
            assert!(layers.is_empty(), "{}", function.binary);
            assert!(!function.environment.contains_key("DATABASE_CA_FILE"));
        }
    }
    // AND the default DATABASE_CA_FILE is where the layer puts the bundle: a layer's files land
    // under /opt, and its content is the template-relative ContentUri
    let layer = &template.resources["RdsCaLayer"];
    assert_eq!(layer.kind, "AWS::Serverless::LayerVersion");
    let content = layer.properties["ContentUri"].as_str().expect("ContentUri");
    let default = template.parameters["DatabaseCaFile"]["Default"]
        .as_str()
        .expect("DatabaseCaFile default");
    assert_eq!(default, "/opt/rds-ca/global-bundle.pem");
    let infra = default_template_path().parent().expect("infra").to_owned();
    assert!(
        infra.join(content).is_dir(),
        "{content} is the layer's directory"
    );
    assert_eq!(
        infra
            .join(content)
            .join(default.trim_start_matches("/opt/"))
            .strip_prefix(&infra)
            .ok(),
        Some(std::path::Path::new("rds-ca/rds-ca/global-bundle.pem")),
        "`make rds-ca` downloads the bundle to infra/rds-ca/rds-ca/global-bundle.pem"
    );
}

#[test]
fn the_database_is_open_to_the_functions_on_5432_and_aws_apis_through_endpoints() {
    let template = template();
    let functions_group = json!({"Fn::GetAtt": ["FunctionsSecurityGroup", "GroupId"]});
    let database_group = json!({"Ref": "DatabaseSecurityGroupId"});
    let port = |rule: &Value, port: u16| {
        rule["IpProtocol"] == "tcp" && rule["FromPort"] == port && rule["ToPort"] == port
    };
    // GIVEN the ingress rules the stack adds to groups it does not own
    let ingress: Vec<&Value> = template
        .ids_of_type("AWS::EC2::SecurityGroupIngress")
        .map(|id| &template.resources[id].properties)
        .collect();
    // THEN the database's group lets the functions' group in on 5432
    assert!(
        ingress.iter().any(|rule| rule["GroupId"] == database_group
            && rule["SourceSecurityGroupId"] == functions_group
            && port(rule, 5432)),
        "{ingress:?}"
    );
    // AND the functions' group may leave for the database on 5432
    let functions = &template.resources["FunctionsSecurityGroup"].properties;
    let egress = functions["SecurityGroupEgress"].as_array().expect("egress");
    assert!(
        egress
            .iter()
            .any(|rule| rule["DestinationSecurityGroupId"] == database_group && port(rule, 5432))
    );
    // AND DynamoDB and S3 have gateway endpoints on the private route tables, Secrets Manager an
    // interface endpoint with private DNS whose group lets the functions in on 443
    let endpoint = |service: &str| {
        let name = json!({"Fn::Sub": format!("com.amazonaws.${{AWS::Region}}.{service}")});
        template
            .ids_of_type("AWS::EC2::VPCEndpoint")
            .map(|id| &template.resources[id].properties)
            .find(|e| e["ServiceName"] == name)
            .unwrap_or_else(|| panic!("no {service} endpoint"))
    };
    for service in ["dynamodb", "s3"] {
        let gateway = endpoint(service);
        assert_eq!(gateway["VpcEndpointType"], "Gateway", "{service}");
        assert_eq!(
            gateway["RouteTableIds"],
            json!({"Ref": "PrivateRouteTableIds"})
        );
    }
    let secrets = endpoint("secretsmanager");
    assert_eq!(secrets["VpcEndpointType"], "Interface");
    assert_eq!(secrets["PrivateDnsEnabled"], true);
    assert_eq!(secrets["SubnetIds"], json!({"Ref": "PrivateSubnetIds"}));
    let group = secrets["SecurityGroupIds"][0]["Fn::GetAtt"][0]
        .as_str()
        .expect("the endpoint's own group");
    let rules = template.resources[group].properties["SecurityGroupIngress"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        rules
            .iter()
            .any(|rule| rule["SourceSecurityGroupId"] == functions_group && port(rule, 443)),
        "{rules:?}"
    );
}

/// The most PostgreSQL connections one instance of a database function holds at once: a tenant
/// function's pool for the tenant it serves (one request at a time), provisioning's admin
/// sessions (preparing the template holds the admin database and the template at once), and
/// admin-jobs' batch of tenants worked on at once, each with an admin and a tenant session.
fn connections_per_instance(function: &str, props: &Value) -> u64 {
    match function {
        "provisioning" => 2,
        "admin-jobs" => {
            let batch = props["Events"]["Jobs"]["Properties"]["BatchSize"]
                .as_u64()
                .expect("admin-jobs' batch size");
            batch * 2
        }
        _ => MAX_CONNECTIONS_PER_TENANT as u64,
    }
}

/// Each environment of samconfig.toml (`[<env>.global.parameters]`): its parameter_overrides,
/// one quoted `Name=value` a line as the file writes them (`Name=""` is empty).
fn samconfig_environments() -> BTreeMap<String, BTreeMap<String, String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samconfig.toml");
    let text = std::fs::read_to_string(path).expect("samconfig.toml");
    let mut environments: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            current = header
                .strip_suffix(".global.parameters]")
                .map(str::to_owned);
            continue;
        }
        let Some(environment) = &current else {
            continue;
        };
        let Some(quote) = line.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let item = line[1..].split(quote).next().unwrap_or_default();
        if let Some((name, value)) = item.split_once('=') {
            environments
                .entry(environment.clone())
                .or_default()
                .insert(name.to_owned(), value.trim_matches('"').to_owned());
        }
    }
    environments
}

#[test]
fn every_samconfig_environment_names_every_parameter() {
    // GIVEN the template's parameters and samconfig's environments
    let parameters: BTreeSet<&String> = template().parameters.keys().collect();
    let environments = samconfig_environments();
    assert!(
        environments.contains_key("dev") && environments.contains_key("prod"),
        "{environments:?}"
    );
    for (environment, overrides) in &environments {
        // THEN each sets every parameter, so none silently takes the template's (dev) default
        let named: BTreeSet<&String> = overrides.keys().collect();
        assert_eq!(named, parameters, "samconfig.toml [{environment}]");
    }
    // AND prod shares no network or database placeholder with dev
    for name in [
        "VpcId",
        "PrivateSubnetIds",
        "DatabaseSecurityGroupId",
        "DatabaseAdminSecretId",
    ] {
        assert_ne!(
            environments["prod"][name], environments["dev"][name],
            "{name}"
        );
    }
}

#[test]
fn the_database_functions_concurrency_fits_the_connection_budget_in_every_environment() {
    let template = template();
    let parameter = |name: &str| &template.parameters[name];
    // GIVEN each database function's reserved concurrency, a Number parameter
    let database = database_functions();
    let mut concurrency = BTreeMap::new();
    for function in template.functions().expect("functions") {
        if !database.contains(&function.binary) {
            continue;
        }
        let props = &template.resources[&function.id].properties;
        let name = props["ReservedConcurrentExecutions"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no reserved concurrency", function.binary))
            .to_owned();
        assert_eq!(parameter(&name)["Type"], "Number", "{name}");
        assert!(parameter(&name)["MinValue"].as_u64() >= Some(1), "{name}");
        // AND the queue's pollers are capped at the processor's concurrency (SQS: 2 at least)
        for event in props["Events"]
            .as_object()
            .into_iter()
            .flat_map(|e| e.values())
        {
            if event["Type"] == "SQS" {
                assert_eq!(
                    event["Properties"]["ScalingConfig"]["MaximumConcurrency"],
                    json!({"Ref": name}),
                    "{}",
                    function.binary
                );
                assert!(parameter(&name)["MinValue"].as_u64() >= Some(2), "{name}");
            }
        }
        let connections = connections_per_instance(&function.binary, props);
        concurrency.insert(function.binary, (name, connections));
    }
    // WHEN the worst case is counted with the template's defaults and in every environment
    let defaults: BTreeMap<String, String> = template
        .parameters
        .iter()
        .filter_map(|(name, p)| {
            let default = match &p["Default"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((name.clone(), default))
        })
        .collect();
    let mut settings = samconfig_environments();
    settings.insert("template defaults".into(), defaults.clone());
    for (environment, overrides) in settings {
        let value = |name: &str| -> u64 {
            overrides
                .get(name)
                .or_else(|| defaults.get(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{environment}: {name} is not a number"))
        };
        let worst: u64 = concurrency
            .iter()
            .map(|(_, (name, connections))| value(name) * connections)
            .sum();
        // THEN every instance of every database function at once stays within the budget
        let budget = value("DatabaseConnectionBudget");
        assert!(
            worst <= budget,
            "{environment}: {worst} connections at full concurrency > DatabaseConnectionBudget {budget}"
        );
    }
}

/// A resource's `Condition`. The parsed template keeps only Type, Properties and Metadata, so
/// this reads the YAML: the resource's block, indented under its two-space id line.
fn condition_of(id: &str) -> Option<String> {
    let text = std::fs::read_to_string(default_template_path()).expect("template");
    let head = format!("  {id}:");
    text.lines()
        .skip_while(|line| *line != head)
        .skip(1)
        .take_while(|line| line.starts_with("    ") || line.trim().is_empty())
        .find_map(|line| line.strip_prefix("    Condition: "))
        .map(str::to_owned)
}

#[test]
fn the_mail_identity_publishes_its_dkim_records_unless_an_existing_one_is_used() {
    let template = template();
    let identity = |attribute: &str| json!({"Fn::GetAtt": ["MailIdentity", attribute]});
    // GIVEN the SES identity of the root domain, made only when CreateMailIdentity is "true"
    assert_eq!(
        template.resources["MailIdentity"].kind,
        "AWS::SES::EmailIdentity"
    );
    let condition = condition_of("MailIdentity").expect("MailIdentity has a condition");
    assert_eq!(condition, "CreatesMailIdentity");
    assert_eq!(
        template.parameters["CreateMailIdentity"]["AllowedValues"],
        json!(["true", "false"])
    );
    // THEN each of its three Easy DKIM tokens is a CNAME in the hosted zone, under the same
    // condition
    for n in 1..=3 {
        let (id, record) = template
            .ids_of_type("AWS::Route53::RecordSet")
            .map(|id| (id, &template.resources[id].properties))
            .find(|(_, r)| r["Name"] == identity(&format!("DkimDNSTokenName{n}")))
            .unwrap_or_else(|| panic!("no record for DKIM token {n}"));
        assert_eq!(record["Type"], "CNAME", "{id}");
        assert_eq!(
            record["HostedZoneId"],
            json!({"Ref": "HostedZoneId"}),
            "{id}"
        );
        assert_eq!(
            record["ResourceRecords"],
            json!([identity(&format!("DkimDNSTokenValue{n}"))]),
            "{id}"
        );
        assert_eq!(
            condition_of(id).as_deref(),
            Some(condition.as_str()),
            "{id}"
        );
    }
}

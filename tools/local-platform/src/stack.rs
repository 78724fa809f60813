//! Creates the template's data resources (DynamoDB tables, S3 buckets with their queue
//! notifications, SQS queues with their redrive policies) on the AWS emulator, idempotently,
//! under a name prefix — `taskifai-local` for `make dev`, a unique one per test.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow};
use aws_sdk_dynamodb::types as ddb;
use aws_sdk_s3::types as s3t;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::template::{Function, Physical, Resolver, Template};

/// Where and under which names to create the stack.
#[derive(Debug, Clone)]
pub struct StackSettings {
    /// Prefix of every physical name; lower-case letters, digits and hyphens.
    pub prefix: String,
    pub region: String,
    pub account: String,
    /// Template parameter values; template defaults fill the rest.
    pub parameters: BTreeMap<String, String>,
}

impl StackSettings {
    /// The settings `make dev` uses: `ROOT_DOMAIN=localhost`, the emulator's default account.
    /// `environment` names the secrets prefix (`taskifai/<environment>`); tests use their
    /// unique prefix so their secrets never meet.
    pub fn local(
        prefix: impl Into<String>,
        region: impl Into<String>,
        environment: &str,
        gateway_port: u16,
    ) -> Self {
        let parameters = [
            ("Environment", environment.to_owned()),
            ("RootDomain", "localhost".to_owned()),
            (
                "CertificateArn",
                "arn:aws:acm:us-east-1:123456789012:certificate/local".to_owned(),
            ),
            ("HostedZoneId", "ZLOCAL".to_owned()),
            (
                "DatabaseAdminSecretId",
                format!("taskifai/{environment}/platform/database-admin"),
            ),
            (
                "TenantUrlFormat",
                format!("http://{{subdomain}}.localhost:{gateway_port}"),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(
            // The local PostgreSQL's CA (scripts/env.sh), in place of the RDS bundle's path.
            std::env::var("DATABASE_CA_FILE")
                .ok()
                .map(|ca| ("DatabaseCaFile".to_owned(), ca)),
        )
        .collect();
        Self {
            prefix: prefix.into(),
            region: region.into(),
            account: "123456789012".into(),
            parameters,
        }
    }

    fn physical_name(&self, logical_id: &str) -> String {
        let mut kebab = String::new();
        for (i, c) in logical_id.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                kebab.push('-');
            }
            kebab.push(c.to_ascii_lowercase());
        }
        format!("{}-{kebab}", self.prefix)
    }
}

/// The stack as created: how to resolve the template against it.
pub struct Deployed {
    pub resolver: Resolver,
}

impl Deployed {
    /// A resource's `!Ref` value: table or bucket name, queue URL.
    pub fn reference(&self, logical_id: &str) -> Result<&str> {
        self.resolver
            .resources
            .get(logical_id)
            .map(|p| p.reference.as_str())
            .ok_or_else(|| anyhow!("no resource {logical_id} in the stack"))
    }

    /// A function's environment with every intrinsic resolved.
    pub fn function_env(&self, function: &Function) -> Result<BTreeMap<String, String>> {
        function
            .environment
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.resolver.resolve(v)?)))
            .collect()
    }

    /// A template value resolved against this stack.
    pub fn resolve(&self, v: &Value) -> Result<String> {
        Ok(self.resolver.resolve(v)?)
    }
}

/// Creates (or finds) every supported resource of `template` on the emulator.
pub async fn deploy(
    template: &Template,
    settings: &StackSettings,
    sdk: &aws_config::SdkConfig,
) -> Result<Deployed> {
    let mut parameters: BTreeMap<String, String> = template
        .parameters
        .iter()
        .filter_map(|(k, v)| v.get("Default").map(|d| (k.clone(), value_string(d))))
        .collect();
    parameters.extend(settings.parameters.clone());
    for (k, v) in [
        ("AWS::Region", settings.region.clone()),
        ("AWS::AccountId", settings.account.clone()),
        ("AWS::Partition", "aws".into()),
        ("AWS::StackName", settings.prefix.clone()),
        ("AWS::URLSuffix", "amazonaws.com".into()),
    ] {
        parameters.insert(k.into(), v);
    }
    let mut resolver = Resolver {
        parameters,
        resources: BTreeMap::new(),
    };
    let arn = |service: &str, rest: &str| {
        format!(
            "arn:aws:{service}:{}:{}:{rest}",
            settings.region, settings.account
        )
    };

    let sqs = aws_sdk_sqs::Client::new(sdk);
    for id in template.ids_of_type("AWS::SQS::Queue") {
        let name = settings.physical_name(id);
        let url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .with_context(|| format!("creating queue {name}"))?
            .queue_url
            .ok_or_else(|| anyhow!("queue {name} has no URL"))?;
        resolver.resources.insert(
            id.clone(),
            Physical {
                reference: url,
                attributes: [
                    ("Arn".into(), arn("sqs", &name)),
                    ("QueueName".into(), name),
                ]
                .into(),
            },
        );
    }
    for id in template.ids_of_type("AWS::DynamoDB::Table") {
        let name = settings.physical_name(id);
        resolver.resources.insert(
            id.clone(),
            Physical {
                attributes: [("Arn".into(), arn("dynamodb", &format!("table/{name}")))].into(),
                reference: name,
            },
        );
    }
    for id in template.ids_of_type("AWS::S3::Bucket") {
        let name = settings.physical_name(id);
        resolver.resources.insert(
            id.clone(),
            Physical {
                attributes: [("Arn".into(), format!("arn:aws:s3:::{name}"))].into(),
                reference: name,
            },
        );
    }
    for f in template.functions()? {
        resolver.resources.insert(
            f.id.clone(),
            Physical {
                attributes: [(
                    "Arn".into(),
                    arn("lambda", &format!("function:{}", f.binary)),
                )]
                .into(),
                reference: f.binary.clone(),
            },
        );
    }
    for id in template.ids_of_type("AWS::Serverless::HttpApi") {
        resolver.resources.insert(
            id.clone(),
            Physical {
                reference: id.clone(),
                attributes: BTreeMap::new(),
            },
        );
    }

    for id in template.ids_of_type("AWS::SQS::Queue") {
        configure_queue(&sqs, &resolver, id, &template.resources[id].properties).await?;
    }
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    for id in template.ids_of_type("AWS::DynamoDB::Table") {
        create_table(&dynamodb, &resolver, id, &template.resources[id].properties).await?;
    }
    let s3 = shared::platform::aws::s3_client(sdk);
    for id in template.ids_of_type("AWS::S3::Bucket") {
        create_bucket(&s3, &resolver, id, &template.resources[id].properties).await?;
    }
    let ses = aws_sdk_sesv2::Client::new(sdk);
    for id in template.ids_of_type("AWS::SES::EmailIdentity") {
        let identity = resolver.resolve(&template.resources[id].properties["EmailIdentity"])?;
        match ses
            .create_email_identity()
            .email_identity(&identity)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_already_exists_exception()) => {}
            Err(e) => return Err(e).with_context(|| format!("creating mail identity {identity}")),
        }
    }
    Ok(Deployed { resolver })
}

async fn configure_queue(
    sqs: &aws_sdk_sqs::Client,
    resolver: &Resolver,
    id: &str,
    props: &Value,
) -> Result<()> {
    let url = &resolver.resources[id].reference;
    let mut attributes = BTreeMap::new();
    for (key, attr) in [
        ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
        (
            "MessageRetentionPeriod",
            QueueAttributeName::MessageRetentionPeriod,
        ),
        ("DelaySeconds", QueueAttributeName::DelaySeconds),
    ] {
        if let Some(v) = props.get(key) {
            attributes.insert(attr, resolver.resolve(v)?);
        }
    }
    if let Some(redrive) = props.get("RedrivePolicy") {
        let policy = serde_json::json!({
            "deadLetterTargetArn": resolver.resolve(&redrive["deadLetterTargetArn"])?,
            "maxReceiveCount": resolver.resolve(&redrive["maxReceiveCount"])?.parse::<u32>()?,
        });
        attributes.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    if !attributes.is_empty() {
        sqs.set_queue_attributes()
            .queue_url(url)
            .set_attributes(Some(attributes.into_iter().collect()))
            .send()
            .await
            .with_context(|| format!("configuring queue {id}"))?;
    }
    Ok(())
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    resolver: &Resolver,
    id: &str,
    props: &Value,
) -> Result<()> {
    let name = &resolver.resources[id].reference;
    let key_schema = |v: &Value| -> Result<Vec<ddb::KeySchemaElement>> {
        list(v)
            .map(|k| {
                Ok(ddb::KeySchemaElement::builder()
                    .attribute_name(str_of(&k["AttributeName"])?)
                    .key_type(ddb::KeyType::from(str_of(&k["KeyType"])?))
                    .build()?)
            })
            .collect()
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(ddb::BillingMode::from(
            props["BillingMode"].as_str().unwrap_or("PAY_PER_REQUEST"),
        ))
        .set_key_schema(Some(key_schema(&props["KeySchema"])?));
    for a in list(&props["AttributeDefinitions"]) {
        request = request.attribute_definitions(
            ddb::AttributeDefinition::builder()
                .attribute_name(str_of(&a["AttributeName"])?)
                .attribute_type(ddb::ScalarAttributeType::from(str_of(&a["AttributeType"])?))
                .build()?,
        );
    }
    for g in list(&props["GlobalSecondaryIndexes"]) {
        request = request.global_secondary_indexes(
            ddb::GlobalSecondaryIndex::builder()
                .index_name(str_of(&g["IndexName"])?)
                .set_key_schema(Some(key_schema(&g["KeySchema"])?))
                .projection(
                    ddb::Projection::builder()
                        .projection_type(ddb::ProjectionType::from(
                            g["Projection"]["ProjectionType"].as_str().unwrap_or("ALL"),
                        ))
                        .build(),
                )
                .build()?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(e).with_context(|| format!("creating table {name}")),
    }
    if let Some(attr) = props["TimeToLiveSpecification"]["AttributeName"].as_str() {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                ddb::TimeToLiveSpecification::builder()
                    .attribute_name(attr)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("enabling TTL on {name}"))?;
    }
    Ok(())
}

async fn create_bucket(
    s3: &aws_sdk_s3::Client,
    resolver: &Resolver,
    id: &str,
    props: &Value,
) -> Result<()> {
    let name = &resolver.resources[id].reference;
    match s3.create_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
            }) => {}
        Err(e) => return Err(e).with_context(|| format!("creating bucket {name}")),
    }
    if props.get("BucketEncryption").is_some() {
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(
                s3t::ServerSideEncryptionConfiguration::builder()
                    .rules(
                        s3t::ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                s3t::ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(s3t::ServerSideEncryption::Aes256)
                                    .build()?,
                            )
                            .build(),
                    )
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("encrypting bucket {name}"))?;
    }
    let block = &props["PublicAccessBlockConfiguration"];
    if block.is_object() {
        let flag = |k: &str| block[k].as_bool().unwrap_or(false);
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                s3t::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(flag("BlockPublicAcls"))
                    .block_public_policy(flag("BlockPublicPolicy"))
                    .ignore_public_acls(flag("IgnorePublicAcls"))
                    .restrict_public_buckets(flag("RestrictPublicBuckets"))
                    .build(),
            )
            .send()
            .await
            .with_context(|| format!("blocking public access to {name}"))?;
    }
    if props["VersioningConfiguration"]["Status"] == "Enabled" {
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                s3t::VersioningConfiguration::builder()
                    .status(s3t::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .with_context(|| format!("enabling versioning on {name}"))?;
    }
    let rules: Vec<s3t::CorsRule> = list(&props["CorsConfiguration"]["CorsRules"])
        .map(|rule| {
            let strings = |k: &str| -> Result<Vec<String>> {
                Ok(list(&rule[k])
                    .map(|v| resolver.resolve(v))
                    .collect::<Result<_, _>>()?)
            };
            let mut origins = strings("AllowedOrigins")?;
            // The tenant origins as the local gateway serves them (plain HTTP, a port).
            origins.push(resolver.local_tenant_origin());
            Ok(s3t::CorsRule::builder()
                .set_allowed_methods(Some(strings("AllowedMethods")?))
                .set_allowed_origins(Some(origins))
                .set_allowed_headers(Some(strings("AllowedHeaders")?))
                .set_max_age_seconds(rule["MaxAge"].as_i64().and_then(|n| i32::try_from(n).ok()))
                .build()?)
        })
        .collect::<Result<_>>()?;
    if !rules.is_empty() {
        s3.put_bucket_cors()
            .bucket(name)
            .cors_configuration(
                s3t::CorsConfiguration::builder()
                    .set_cors_rules(Some(rules))
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("setting CORS on {name}"))?;
    }
    let mut notifications = s3t::NotificationConfiguration::builder();
    for q in list(&props["NotificationConfiguration"]["QueueConfigurations"]) {
        let mut config = s3t::QueueConfiguration::builder()
            .queue_arn(resolver.resolve(&q["Queue"])?)
            .events(s3t::Event::from(str_of(&q["Event"])?));
        let rules: Vec<s3t::FilterRule> = list(&q["Filter"]["S3Key"]["Rules"])
            .map(|r| {
                Ok(s3t::FilterRule::builder()
                    .name(s3t::FilterRuleName::from(
                        str_of(&r["Name"])?.to_ascii_lowercase().as_str(),
                    ))
                    .value(str_of(&r["Value"])?)
                    .build())
            })
            .collect::<Result<_>>()?;
        if !rules.is_empty() {
            config = config.filter(
                s3t::NotificationConfigurationFilter::builder()
                    .key(
                        s3t::S3KeyFilter::builder()
                            .set_filter_rules(Some(rules))
                            .build(),
                    )
                    .build(),
            );
        }
        notifications = notifications.queue_configurations(config.build()?);
    }
    s3.put_bucket_notification_configuration()
        .bucket(name)
        .notification_configuration(notifications.build())
        .send()
        .await
        .with_context(|| format!("configuring notifications of {name}"))?;
    Ok(())
}

/// Stores the PostgreSQL admin credentials (from a `postgres://user:pw@host:port/db` URL) in
/// the secret the template's `DatabaseAdminSecretId` names, as an operator would on AWS.
pub async fn put_database_admin_secret(
    deployed: &Deployed,
    sdk: &aws_config::SdkConfig,
    url: &str,
) -> Result<String> {
    let name = deployed
        .resolver
        .parameters
        .get("DatabaseAdminSecretId")
        .cloned()
        .ok_or_else(|| anyhow!("the template has no DatabaseAdminSecretId parameter"))?;
    let config: tokio_postgres::Config = url
        .parse()
        .context("DATABASE_ADMIN_URL is not a PostgreSQL URL")?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    let value = serde_json::json!({
        "host": host,
        "port": config.get_ports().first().copied().unwrap_or(5432),
        "username": config.get_user().unwrap_or("postgres"),
        "password": String::from_utf8_lossy(config.get_password().unwrap_or_default()),
        "dbname": config.get_dbname().unwrap_or("postgres"),
    });
    use shared::store::secrets::SecretStore;
    let store =
        shared::store::secrets::AwsSecretStore::new(aws_sdk_secretsmanager::Client::new(sdk));
    store
        .put(&name, &secrecy::SecretString::from(value.to_string()))
        .await
        .context("storing the database admin secret")?;
    Ok(name)
}

/// Deletes what `deploy` created (tests clean up after themselves).
pub async fn destroy(
    deployed: &Deployed,
    template: &Template,
    sdk: &aws_config::SdkConfig,
) -> Result<()> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    for id in template.ids_of_type("AWS::SQS::Queue") {
        sqs.delete_queue()
            .queue_url(deployed.reference(id)?)
            .send()
            .await?;
    }
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    for id in template.ids_of_type("AWS::DynamoDB::Table") {
        dynamodb
            .delete_table()
            .table_name(deployed.reference(id)?)
            .send()
            .await?;
    }
    let s3 = shared::platform::aws::s3_client(sdk);
    for id in template.ids_of_type("AWS::S3::Bucket") {
        let bucket = deployed.reference(id)?;
        let versions = s3.list_object_versions().bucket(bucket).send().await?;
        for v in versions.versions() {
            s3.delete_object()
                .bucket(bucket)
                .key(v.key().unwrap_or_default())
                .set_version_id(v.version_id().map(str::to_owned))
                .send()
                .await?;
        }
        s3.delete_bucket().bucket(bucket).send().await?;
    }
    Ok(())
}

fn list(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn str_of(v: &Value) -> Result<&str> {
    v.as_str()
        .ok_or_else(|| anyhow!("expected a string, found {v}"))
}

fn value_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

//! The Secrets Manager store against the emulator: put/get/delete, create-only semantics,
//! concurrent get-or-create of a key ring, and errors that never carry a secret's value.
//! Each test uses its own uniquely named secrets.

use aws_sdk_secretsmanager::config::retry::RetryConfig;
use secrecy::{ExposeSecret, SecretString};
use shared::security::tokens::KeyRing;
use shared::store::secrets::{
    AwsSecretStore, CreateOutcome, SecretStore, SecretsError, get_or_create_json,
    platform_secret_name,
};
use uuid::Uuid;

async fn store() -> AwsSecretStore {
    let sdk = shared::platform::aws::sdk_config().await;
    AwsSecretStore::new(aws_sdk_secretsmanager::Client::new(&sdk))
}

/// A secret name no other test (or run) uses.
fn unique_name(what: &str) -> String {
    platform_secret_name(&format!("test-{}", Uuid::new_v4()), what)
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value)
}

#[tokio::test]
async fn put_get_and_delete_round_trip() {
    // GIVEN a store and a name that does not exist yet
    let store = store().await;
    let name = unique_name("round-trip");
    assert!(store.get(&name).await.unwrap().is_none());

    // WHEN a value is put THEN it reads back
    store.put(&name, &secret("first value")).await.unwrap();
    let got = store.get(&name).await.unwrap().unwrap();
    assert_eq!(got.expose_secret(), "first value");

    // WHEN it is put again THEN the new value replaces the old
    store.put(&name, &secret("second value")).await.unwrap();
    let got = store.get(&name).await.unwrap().unwrap();
    assert_eq!(got.expose_secret(), "second value");

    // WHEN it is deleted THEN it is gone
    store.delete(&name).await.unwrap();
    assert!(store.get(&name).await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_a_missing_secret_is_ok() {
    let store = store().await;
    let name = unique_name("never-created");
    store.delete(&name).await.unwrap();
    // AND deleting twice is fine too
    store.put(&name, &secret("v")).await.unwrap();
    store.delete(&name).await.unwrap();
    store.delete(&name).await.unwrap();
}

#[tokio::test]
async fn create_never_overwrites() {
    // GIVEN a created secret
    let store = store().await;
    let name = unique_name("create-only");
    let first = store.create(&name, &secret("original")).await.unwrap();
    assert_eq!(first, CreateOutcome::Created);

    // WHEN it is created again with another value
    let second = store.create(&name, &secret("usurper")).await.unwrap();

    // THEN the second create reports it exists and the original value stays
    assert_eq!(second, CreateOutcome::AlreadyExists);
    let got = store.get(&name).await.unwrap().unwrap();
    assert_eq!(got.expose_secret(), "original");
    store.delete(&name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_get_or_create_agrees_on_one_key_ring() {
    // GIVEN five tasks racing to create the same key ring
    let store = store().await;
    let name = unique_name("signing-keys");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let store = store.clone();
        let name = name.clone();
        tasks.spawn(async move {
            get_or_create_json(&store, &name, KeyRing::generate)
                .await
                .unwrap()
        });
    }

    // WHEN they all finish
    let rings = tasks.join_all().await;

    // THEN every task holds the stored ring (same kid, same secret)
    let stored: KeyRing =
        serde_json::from_str(store.get(&name).await.unwrap().unwrap().expose_secret()).unwrap();
    let stored_json = serde_json::to_value(&stored).unwrap();
    assert_eq!(stored.keys.len(), 1);
    for ring in &rings {
        assert_eq!(serde_json::to_value(ring).unwrap(), stored_json);
    }
    store.delete(&name).await.unwrap();
}

#[tokio::test]
async fn errors_never_show_the_secret_value() {
    const VALUE: &str = "hunter2-do-not-log-me";

    // GIVEN a store whose endpoint refuses connections
    let sdk = shared::platform::aws::sdk_config().await;
    let config = aws_sdk_secretsmanager::config::Builder::from(&sdk)
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(RetryConfig::disabled())
        .build();
    let unreachable = AwsSecretStore::new(aws_sdk_secretsmanager::Client::from_conf(config));
    let name = unique_name("unreachable");

    // WHEN values are written through it THEN the errors name the secret but not the value
    let errors = [
        unreachable.put(&name, &secret(VALUE)).await.unwrap_err(),
        unreachable.create(&name, &secret(VALUE)).await.unwrap_err(),
    ];
    for err in &errors {
        assert!(matches!(err, SecretsError::Aws { .. }), "{err:?}");
        let shown = format!(
            "{err:?} {err} {}",
            shared::platform::telemetry::ErrorChain(err)
        );
        assert!(shown.contains(&name), "{shown}");
        assert!(!shown.contains(VALUE), "{shown}");
    }

    // GIVEN a real secret that is not the JSON a caller expects
    let store = store().await;
    let name = unique_name("not-json");
    store
        .put(&name, &secret(&format!(r#"{{"keys": "{VALUE}"}}"#)))
        .await
        .unwrap();

    // WHEN it is read as a key ring THEN the error does not quote it
    let err = get_or_create_json(&store, &name, KeyRing::generate)
        .await
        .unwrap_err();
    assert!(matches!(err, SecretsError::Json { .. }), "{err:?}");
    let shown = format!("{err:?} {err}");
    assert!(!shown.contains(VALUE), "{shown}");
    store.delete(&name).await.unwrap();
}

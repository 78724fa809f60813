//! Secrets (tenant database credentials, signing key rings) behind a narrow async trait, with
//! the Secrets Manager implementation beside it and an in-memory one for unit tests.
//!
//! Errors name the secret, never its value.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_secretsmanager::Error as SdkError;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a secret operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secrets manager failed to {op} secret {name:?}")]
    Aws {
        op: &'static str,
        name: String,
        #[source]
        source: Box<SdkError>,
    },
    #[error("secret {name:?} has no string value (binary secrets are not used here)")]
    NotText { name: String },
    /// The parser's message is withheld: serde_json quotes offending values, which here are
    /// parts of the secret. Category and position are enough to find the fault.
    #[error(
        "secret {name:?} is not the expected JSON ({category:?} error at line {line}, column {column})"
    )]
    Json {
        name: String,
        category: serde_json::error::Category,
        line: usize,
        column: usize,
    },
    #[error("secret {name:?} kept appearing and disappearing under concurrent create/delete")]
    Vanished { name: String },
}

impl SecretsError {
    fn aws(op: &'static str, name: &str, source: impl Into<SdkError>) -> Self {
        Self::Aws {
            op,
            name: name.to_owned(),
            source: Box::new(source.into()),
        }
    }

    fn json(name: &str, err: &serde_json::Error) -> Self {
        Self::Json {
            name: name.to_owned(),
            category: err.classify(),
            line: err.line(),
            column: err.column(),
        }
    }
}

/// What [`SecretStore::create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// A secret of that name was already there; it was left untouched.
    AlreadyExists,
}

/// The secret operations the platform needs. Used as a generic parameter, not as `dyn`.
pub trait SecretStore: Send + Sync {
    /// The secret's current string value; `None` if there is no such secret.
    fn get(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretString>, SecretsError>> + Send;

    /// Creates the secret; never overwrites one that exists.
    fn create(
        &self,
        name: &str,
        value: &SecretString,
    ) -> impl Future<Output = Result<CreateOutcome, SecretsError>> + Send;

    /// Creates the secret or replaces its value.
    fn put(
        &self,
        name: &str,
        value: &SecretString,
    ) -> impl Future<Output = Result<(), SecretsError>> + Send;

    /// Deletes the secret at once, without a recovery window. Deleting a missing secret is Ok.
    fn delete(&self, name: &str) -> impl Future<Output = Result<(), SecretsError>> + Send;
}

/// `{prefix}/tenants/{tenant_id}`: a tenant's database credentials, readable by every function
/// that works on its data.
pub fn tenant_secret_name(prefix: &str, tenant_id: &uuid::Uuid) -> String {
    format!("{prefix}/tenants/{tenant_id}")
}

/// `{prefix}/signing-keys/{tenant_id}`: a tenant's private token keys, a separate secret (and
/// name prefix) so that only the functions that sign tokens can be granted it.
pub fn signing_secret_name(prefix: &str, tenant_id: &uuid::Uuid) -> String {
    format!("{prefix}/signing-keys/{tenant_id}")
}

/// `{prefix}/platform/{name}`: platform-wide secrets.
pub fn platform_secret_name(prefix: &str, name: &str) -> String {
    format!("{prefix}/platform/{name}")
}

/// Reads the JSON secret `name`, or creates it from `make()` if there is none. When another
/// creator wins the race, its value is read back and returned, so every caller ends up with
/// the same value.
pub async fn get_or_create_json<T, S>(
    store: &S,
    name: &str,
    make: impl FnOnce() -> T,
) -> Result<T, SecretsError>
where
    T: Serialize + DeserializeOwned,
    S: SecretStore,
{
    if let Some(existing) = store.get(name).await? {
        return parse_json(name, &existing);
    }
    let value = make();
    let json = SecretString::from(
        serde_json::to_string(&value).map_err(|e| SecretsError::json(name, &e))?,
    );
    match store.create(name, &json).await? {
        CreateOutcome::Created => Ok(value),
        CreateOutcome::AlreadyExists => {
            let winner = store
                .get(name)
                .await?
                .ok_or_else(|| SecretsError::Vanished {
                    name: name.to_owned(),
                })?;
            parse_json(name, &winner)
        }
    }
}

fn parse_json<T: DeserializeOwned>(name: &str, secret: &SecretString) -> Result<T, SecretsError> {
    serde_json::from_str(secret.expose_secret()).map_err(|e| SecretsError::json(name, &e))
}

/// Secrets Manager.
#[derive(Debug, Clone)]
pub struct AwsSecretStore {
    client: aws_sdk_secretsmanager::Client,
}

impl AwsSecretStore {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

impl SecretStore for AwsSecretStore {
    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretsError> {
        let output = match self.client.get_secret_value().secret_id(name).send().await {
            Ok(output) => output,
            Err(err) => {
                return match SdkError::from(err) {
                    SdkError::ResourceNotFoundException(_) => Ok(None),
                    err => Err(SecretsError::aws("read", name, err)),
                };
            }
        };
        match output.secret_string {
            Some(value) => Ok(Some(SecretString::from(value))),
            None => Err(SecretsError::NotText {
                name: name.to_owned(),
            }),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    async fn create(
        &self,
        name: &str,
        value: &SecretString,
    ) -> Result<CreateOutcome, SecretsError> {
        let result = self
            .client
            .create_secret()
            .name(name)
            .secret_string(value.expose_secret())
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(err) => match SdkError::from(err) {
                SdkError::ResourceExistsException(_) => Ok(CreateOutcome::AlreadyExists),
                err => Err(SecretsError::aws("create", name, err)),
            },
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    async fn put(&self, name: &str, value: &SecretString) -> Result<(), SecretsError> {
        // Two tries: a secret created by someone else between our put and our create is
        // simply put again.
        for _ in 0..2 {
            let result = self
                .client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value.expose_secret())
                .send()
                .await;
            match result.map_err(SdkError::from) {
                Ok(_) => return Ok(()),
                Err(SdkError::ResourceNotFoundException(_)) => {}
                Err(err) => return Err(SecretsError::aws("update", name, err)),
            }
            match self.create(name, value).await? {
                CreateOutcome::Created => return Ok(()),
                CreateOutcome::AlreadyExists => {}
            }
        }
        Err(SecretsError::Vanished {
            name: name.to_owned(),
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    async fn delete(&self, name: &str) -> Result<(), SecretsError> {
        let result = self
            .client
            .delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await;
        match result.map_err(SdkError::from) {
            Ok(_) | Err(SdkError::ResourceNotFoundException(_)) => Ok(()),
            Err(err) => Err(SecretsError::aws("delete", name, err)),
        }
    }
}

/// An in-process store with Secrets Manager's semantics, for unit tests of code generic over
/// [`SecretStore`].
#[derive(Default)]
pub struct MemorySecretStore {
    secrets: Mutex<BTreeMap<String, SecretString>>,
}

impl MemorySecretStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SecretString>> {
        // A panic elsewhere while holding the lock cannot leave a map half-updated.
        self.secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The names stored, in order.
    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}

impl std::fmt::Debug for MemorySecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySecretStore")
            .field("names", &self.names())
            .finish()
    }
}

impl SecretStore for MemorySecretStore {
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretsError> {
        Ok(self.lock().get(name).cloned())
    }

    async fn create(
        &self,
        name: &str,
        value: &SecretString,
    ) -> Result<CreateOutcome, SecretsError> {
        let mut secrets = self.lock();
        if secrets.contains_key(name) {
            return Ok(CreateOutcome::AlreadyExists);
        }
        secrets.insert(name.to_owned(), value.clone());
        Ok(CreateOutcome::Created)
    }

    async fn put(&self, name: &str, value: &SecretString) -> Result<(), SecretsError> {
        self.lock().insert(name.to_owned(), value.clone());
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<(), SecretsError> {
        self.lock().remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_the_layout() {
        let id = uuid::Uuid::nil();
        assert_eq!(
            tenant_secret_name("taskifai/dev", &id),
            "taskifai/dev/tenants/00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            platform_secret_name("taskifai/dev", "admin-signing-keys"),
            "taskifai/dev/platform/admin-signing-keys"
        );
    }

    #[tokio::test]
    async fn get_or_create_json_creates_once_then_reads() {
        // GIVEN an empty store
        let store = MemorySecretStore::default();

        // WHEN the value is asked for twice with different makers
        let first: Vec<u32> = get_or_create_json(&store, "p/x", || vec![1, 2])
            .await
            .unwrap();
        let second: Vec<u32> = get_or_create_json(&store, "p/x", || vec![3]).await.unwrap();

        // THEN the first maker's value is stored and returned both times
        assert_eq!(first, vec![1, 2]);
        assert_eq!(second, vec![1, 2]);
    }

    /// A store where another creator always wins the race between our get and our create.
    struct LosingRace(MemorySecretStore);

    impl SecretStore for LosingRace {
        async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretsError> {
            self.0.get(name).await
        }
        async fn create(
            &self,
            name: &str,
            _: &SecretString,
        ) -> Result<CreateOutcome, SecretsError> {
            self.0.put(name, &SecretString::from("[7]")).await?;
            Ok(CreateOutcome::AlreadyExists)
        }
        async fn put(&self, name: &str, value: &SecretString) -> Result<(), SecretsError> {
            self.0.put(name, value).await
        }
        async fn delete(&self, name: &str) -> Result<(), SecretsError> {
            self.0.delete(name).await
        }
    }

    #[tokio::test]
    async fn get_or_create_json_returns_the_winners_value_after_a_lost_race() {
        let store = LosingRace(MemorySecretStore::default());
        let got: Vec<u32> = get_or_create_json(&store, "p/x", || vec![1]).await.unwrap();
        assert_eq!(got, vec![7]);
    }

    #[tokio::test]
    async fn json_errors_do_not_quote_the_secret() {
        // GIVEN a stored secret that is not the expected shape
        let store = MemorySecretStore::default();
        store
            .put(
                "p/x",
                &SecretString::from(r#"{"password": "hunter2-s3cret"}"#),
            )
            .await
            .unwrap();

        // WHEN it is read as another type
        let err = get_or_create_json::<Vec<u32>, _>(&store, "p/x", Vec::new)
            .await
            .unwrap_err();

        // THEN the error says where, not what
        assert!(matches!(err, SecretsError::Json { .. }), "{err:?}");
        assert!(!format!("{err:?} {err}").contains("hunter2"), "{err:?}");
    }

    #[tokio::test]
    async fn the_memory_store_never_overwrites_on_create() {
        let store = MemorySecretStore::default();
        let a = SecretString::from("a");
        assert_eq!(store.create("n", &a).await.unwrap(), CreateOutcome::Created);
        let b = SecretString::from("b");
        assert_eq!(
            store.create("n", &b).await.unwrap(),
            CreateOutcome::AlreadyExists
        );
        assert_eq!(store.get("n").await.unwrap().unwrap().expose_secret(), "a");
        store.delete("n").await.unwrap();
        store.delete("n").await.unwrap();
        assert!(store.get("n").await.unwrap().is_none());
        store
            .put("n", &SecretString::from("topsecret"))
            .await
            .unwrap();
        assert!(!format!("{store:?}").contains("topsecret"));
    }
}

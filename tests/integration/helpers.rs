//! `spawn_app`: a whole platform per test, sharing nothing with other tests.
//! Needs the AWS emulator and PostgreSQL that `make test` starts (`AWS_ENDPOINT_URL`,
//! `DATABASE_ADMIN_URL`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lambda_events::event::sqs::SqsEvent;
use local_platform::gateway::{self, Gateway, RouteTable};
use local_platform::invoke::{Invoke, InvokeError};
use local_platform::stack::{self, Deployed, StackSettings};
use local_platform::template::Template;
use serde_json::{Value, json};

/// The template, parsed once per test binary.
pub fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| Template::load_default().expect("infra/template.yaml parses"))
}

/// Who may call `method path`, as the route tables declare it.
pub fn access_of(method: &str, path: &str) -> shared::domain::role::Access {
    use shared::web::http::Surface;
    [Surface::App, Surface::Api, Surface::Tenant]
        .into_iter()
        .flat_map(shared::web::api::openapi::routes_of)
        .chain(shared::web::api::web::ROUTES.iter().map(|r| &r.spec))
        .find(|spec| spec.method.as_str() == method && spec.path == path)
        .map(|spec| spec.access)
        .unwrap_or_else(|| panic!("{method} {path} is in no route table"))
}

/// A v2 API Gateway event for `method path` on `host`.
pub fn http_event(method: &str, host: &str, path: &str, token: Option<&str>) -> Value {
    let mut headers = json!({"host": host});
    if let Some(token) = token {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "TenantApi",
            "domainName": host,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "test"},
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "22/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1_795_341_600_000_u64,
        },
        "isBase64Encoded": false,
    })
}

/// The functions, as Lambda would run them, called in-process.
pub struct InProcess {
    pub discovery: tenant_discovery::App,
    pub auth: auth::App,
    pub uploads: uploads::App,
    pub analytics: analytics::App,
    pub provisioning: provisioning::App,
    pub processor: upload_processor::App,
    pub admin_jobs: admin_jobs::App,
    pub web: web::App,
}

/// The environment the template gives the functions on this stack, plus test overrides.
pub fn function_env(deployed: &Deployed) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for f in template().functions().expect("functions") {
        env.extend(deployed.function_env(&f).expect("function env resolves"));
    }
    // Suspensions must bite at once in tests; production uses the default TTL.
    env.insert("REGISTRY_CACHE_TTL_SECONDS".into(), "0".into());
    env
}

impl InProcess {
    /// Builds every function from `env`.
    pub fn new(env: &BTreeMap<String, String>, sdk: &aws_config::SdkConfig) -> Self {
        let env = env.clone();
        let env = shared::platform::config::map_env(env);
        Self {
            discovery: tenant_discovery::App::new(&env, sdk).expect("tenant-discovery config"),
            auth: auth::App::new(&env, sdk).expect("auth config"),
            uploads: uploads::App::new(&env, sdk).expect("uploads config"),
            analytics: analytics::App::new(&env, sdk).expect("analytics config"),
            provisioning: provisioning::App::new(&env, sdk).expect("provisioning config"),
            processor: upload_processor::App::new(&env, sdk).expect("upload-processor config"),
            admin_jobs: admin_jobs::App::new(&env, sdk).expect("admin-jobs config"),
            web: web::App::new(&env, sdk).expect("web config"),
        }
    }

    /// One API Gateway v2 event through a function's real handler, behind the same door as in
    /// Lambda (`shared::web::entry`); the response event.
    pub async fn invoke_http(&self, function: &str, event: &Value) -> Result<Value, InvokeError> {
        use shared::web::entry::answer;
        let event = event.clone();
        Ok(match function {
            "tenant-discovery" => {
                answer(event, |req| tenant_discovery::handle(&self.discovery, req)).await
            }
            "auth" => answer(event, |req| auth::handle(&self.auth, req)).await,
            "uploads" => answer(event, |req| uploads::handle(&self.uploads, req)).await,
            "analytics" => answer(event, |req| analytics::handle(&self.analytics, req)).await,
            "provisioning" => {
                answer(event, |req| provisioning::handle(&self.provisioning, req)).await
            }
            "web" => answer(event, |req| web::handle(&self.web, req)).await,
            other => {
                return Err(InvokeError::Unreachable {
                    function: other.into(),
                    reason: "no such HTTP function".into(),
                });
            }
        })
    }
}

impl Invoke for InProcess {
    async fn invoke(&self, function: &str, event: Value) -> Result<Value, InvokeError> {
        let batch = || -> Result<SqsEvent, InvokeError> {
            serde_json::from_value(event.clone()).map_err(|e| InvokeError::FunctionError {
                function: function.into(),
                payload: e.to_string(),
            })
        };
        let response = match function {
            "upload-processor" => upload_processor::process_batch(&self.processor, batch()?).await,
            "admin-jobs" => admin_jobs::process_batch(&self.admin_jobs, batch()?).await,
            _ => return self.invoke_http(function, &event).await,
        };
        Ok(serde_json::to_value(response).expect("serialisable"))
    }
}

/// One test's platform.
pub struct TestApp {
    pub address: SocketAddr,
    pub deployed: Deployed,
    pub env: BTreeMap<String, String>,
    pub sdk: aws_config::SdkConfig,
    pub functions: Arc<InProcess>,
    pub client: reqwest::Client,
    pub logs: LogCapture,
    _log_guard: tracing::subscriber::DefaultGuard,
}

/// Starts a platform with fresh, uniquely named resources.
pub async fn spawn_app() -> TestApp {
    let logs = LogCapture::default();
    let log_guard = tracing::subscriber::set_default(shared::platform::telemetry::json_subscriber(
        logs.clone(),
    ));
    let sdk = shared::platform::aws::sdk_config().await;
    assert!(
        sdk.endpoint_url().is_some(),
        "AWS_ENDPOINT_URL must point at the emulator: run the tests with `make test`"
    );
    let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let settings = StackSettings::local(prefix.clone(), region, &prefix, address.port());
    let deployed = stack::deploy(template(), &settings, &sdk)
        .await
        .expect("the template's resources deploy on the emulator");
    stack::put_database_admin_secret(&deployed, &sdk, &database_admin_url())
        .await
        .expect("database admin secret");
    let routes = RouteTable::from_template(template(), &deployed).expect("routes resolve");
    let env = function_env(&deployed);
    let functions = Arc::new(InProcess::new(&env, &sdk));
    let gateway = Arc::new(Gateway {
        routes,
        invoker: functions.clone(),
        account: settings.account.clone(),
    });
    tokio::spawn(gateway::serve(listener, gateway));
    TestApp {
        address,
        deployed,
        env,
        sdk,
        functions,
        client: reqwest::Client::new(),
        logs,
        _log_guard: log_guard,
    }
}

impl TestApp {
    /// A request to `host` (e.g. `acme.localhost`) through the gateway.
    pub fn request(
        &self,
        method: reqwest::Method,
        host: &str,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("http://{}{path}", self.address))
            .header(
                reqwest::header::HOST,
                format!("{host}:{}", self.address.port()),
            )
    }

    pub async fn get(&self, host: &str, path: &str) -> (u16, Value) {
        let res = self
            .request(reqwest::Method::GET, host, path)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        let body = res.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub fn queue_url(&self) -> &str {
        self.deployed
            .reference("ProcessingQueue")
            .expect("processing queue")
    }

    pub fn bucket(&self) -> &str {
        self.deployed
            .reference("UploadsBucket")
            .expect("uploads bucket")
    }
}

/// The PostgreSQL superuser URL `make test` exports.
pub fn database_admin_url() -> String {
    std::env::var("DATABASE_ADMIN_URL")
        .expect("DATABASE_ADMIN_URL must be set: run the tests with `make test`")
}

/// The verifying TLS connector for the local PostgreSQL (`DATABASE_CA_FILE`, from `make test`).
pub fn database_tls() -> shared::store::postgres::tls::DatabaseTls {
    shared::store::postgres::tls::DatabaseTls::from_env(&shared::platform::config::Env::process())
        .expect("DATABASE_CA_FILE must name the local CA: run the tests with `make test`")
}

impl Drop for TestApp {
    /// Drops the databases and roles of this test's tenants (the emulator's resources are
    /// uniquely named and simply left behind).
    fn drop(&mut self) {
        let table = |id: &str| {
            self.deployed
                .reference(id)
                .unwrap_or_else(|e| panic!("{id} is not deployed: {e}"))
                .to_owned()
        };
        let tables = shared::platform::config::Tables {
            registry: table("RegistryTable"),
            admins: table("AdminsTable"),
            audit: table("AuditTable"),
        };
        let sdk = self.sdk.clone();
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let registry = shared::store::registry::Registry::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    &tables,
                );
                let db = shared::store::postgres::admin::DbAdmin::from_url(
                    &database_admin_url(),
                    "taskifai_template",
                    database_tls(),
                )
                .expect("db admin");
                for tenant in registry.all_tenants().await.unwrap_or_default() {
                    let names = shared::store::postgres::admin::TenantDbNames::for_tenant(
                        &tenant.tenant_id,
                    );
                    let _ = db.drop_tenant_database(&names).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Collects the JSON log lines written while a test runs.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Every captured line, parsed.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("log lock").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The platform admin every test can log in as.
pub const ADMIN_EMAIL: &str = "ops@platform.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// Bootstraps the platform admin (as `tenantctl admin create` does) and logs in through
    /// the API; returns the bearer token.
    pub async fn admin_token(&self) -> String {
        let email = shared::domain::email::Email::parse(ADMIN_EMAIL).unwrap();
        self.functions
            .provisioning
            .auth
            .create_admin(&email, &secrecy::SecretString::from(ADMIN_PASSWORD))
            .await
            .expect("admin bootstrap");
        let res = self
            .request(reqwest::Method::POST, "api.localhost", "/admin/login")
            .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("login request");
        assert_eq!(res.status(), 200, "admin login");
        let body: Value = res.json().await.expect("login body");
        body["access_token"].as_str().expect("token").to_owned()
    }

    /// An admin API request with the bearer token.
    pub fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.request(method, "api.localhost", path)
            .bearer_auth(token)
    }

    /// Runs the queue pollers of `make dev` for this platform (uploads, jobs) until the test
    /// ends.
    pub fn start_event_sources(&self) {
        let triggers = local_platform::poller::triggers(template(), &self.deployed, "us-east-1")
            .expect("triggers");
        tokio::spawn(local_platform::poller::run(
            aws_sdk_sqs::Client::new(&self.sdk),
            triggers,
            self.functions.clone(),
        ));
    }

    /// Starts a job through the admin API (`method path` answering 202) and runs `admin-jobs`
    /// on the jobs queue, as the event source would, until every tenant is done; the job's view
    /// with its first 200 results.
    pub async fn run_job(&self, method: reqwest::Method, path: &str, token: &str) -> Value {
        let res = self
            .admin(method, path, token)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 202, "{path} starts a job");
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .expect("a Location to follow");
        let started: Value = res.json().await.expect("job body");
        assert_eq!(started["status_url"], location);
        self.finish_job(&location, token).await
    }

    /// The jobs queue → `admin-jobs` trigger of this platform.
    pub fn jobs_trigger(&self) -> local_platform::poller::SqsTrigger {
        local_platform::poller::triggers(template(), &self.deployed, "us-east-1")
            .expect("triggers")
            .into_iter()
            .find(|t| t.function == "admin-jobs")
            .expect("admin-jobs is triggered by the jobs queue")
    }

    /// Runs `admin-jobs` until the job at `status_url` is done; its view.
    pub async fn finish_job(&self, status_url: &str, token: &str) -> Value {
        let trigger = self.jobs_trigger();
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let view: Value = self
                .admin(
                    reqwest::Method::GET,
                    &format!("{status_url}?limit=200"),
                    token,
                )
                .send()
                .await
                .expect("job request")
                .json()
                .await
                .expect("job body");
            if view["status"] != "running" {
                return view;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the job did not finish: {view}"
            );
            local_platform::poller::poll_once(
                &sqs,
                &trigger,
                self.functions.as_ref(),
                std::time::Duration::from_millis(200),
            )
            .await
            .expect("poll the jobs queue");
        }
    }

    /// Provisions a tenant through the library (the CLI's path), which also hands back the
    /// admin's temporary password.
    pub async fn provision(
        &self,
        subdomain: &str,
    ) -> shared::control_plane::provisioning::Provisioned {
        let plane = &self.functions.provisioning.plane;
        let request = shared::control_plane::provisioning::NewTenant::parse(
            shared::control_plane::provisioning::NewTenantInput {
                company_name: Some(format!("{subdomain} Inc")),
                subdomain: Some(subdomain.into()),
                admin_email: Some(format!("admin@{subdomain}.example")),
                admin_name: Some("Ada Admin".into()),
            },
            &plane.settings.platform.domain,
        )
        .expect("valid request");
        plane
            .provision(
                &request,
                &format!("test-{subdomain}-{}", uuid::Uuid::new_v4()),
                "test",
                &|_| {},
            )
            .await
            .expect("provisioning succeeds")
    }

    pub fn registry(&self) -> &shared::store::registry::Registry {
        &self.functions.provisioning.plane.registry
    }

    /// The platform's admin access to PostgreSQL, as the control plane builds it on first use.
    pub fn db_admin(&self) -> &'static shared::store::postgres::admin::DbAdmin {
        static DB: OnceLock<shared::store::postgres::admin::DbAdmin> = OnceLock::new();
        DB.get_or_init(|| {
            shared::store::postgres::admin::DbAdmin::from_url(
                &database_admin_url(),
                "taskifai_template",
                database_tls(),
            )
            .expect("admin URL parses")
        })
    }

    /// A session in a tenant's database, as its own role (what the tests read rows through).
    pub async fn tenant_db(&self, tenant_id: &uuid::Uuid) -> tokio_postgres::Client {
        self.db_admin()
            .connect_tenant(&shared::store::postgres::admin::TenantDbNames::for_tenant(
                tenant_id,
            ))
            .await
            .expect("the tenant database accepts its role")
    }
}

/// A unique, valid subdomain.
pub fn unique_subdomain(stem: &str) -> String {
    format!("{stem}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

//! The front end in a real browser: headless Chromium, driven over WebDriver (chromedriver),
//! against the real local platform (gateway, functions, emulator, PostgreSQL) with the queue
//! poller running as in `make dev`. Each step saves a screenshot under `target/screenshots/`,
//! and every assertion is on what the page shows.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::{Value, json};

use crate::auth::{call, provisioned_admin, signed_in_admin};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app, unique_subdomain};

/// How long a page may take to show what a step waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// One Chromium at a time: two cores do not run several browsers beside the other tests.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A headless Chromium session for one test, with its own profile and download folder.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    test: &'static str,
    step: usize,
    downloads: PathBuf,
    profile: PathBuf,
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

impl Browser {
    async fn start(test: &'static str) -> Self {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("address").port()
        };
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver runs (scripts/bootstrap.sh installs it)");
        let scratch =
            std::env::temp_dir().join(format!("taskifai-browser-{}", uuid::Uuid::new_v4()));
        let (downloads, profile) = (scratch.join("downloads"), scratch.join("profile"));
        std::fs::create_dir_all(&downloads).expect("download folder");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--no-first-run", "--lang=en-US",
                    "--window-size=1280,900", format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {
                    "intl.accept_languages": "en-US",
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(err) if started.elapsed() < Duration::from_secs(20) => {
                    tracing::debug!(error = %err, "waiting for chromedriver");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => panic!("no browser session: {err}"),
            }
        };
        std::fs::create_dir_all(screenshots()).expect("screenshot folder");
        Self {
            client,
            _driver: driver,
            test,
            step: 0,
            downloads,
            profile,
        }
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigation");
    }

    /// Saves the page as `target/screenshots/<test>-<nn>-<name>.png`.
    async fn shot(&mut self, name: &str) {
        self.step += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = screenshots().join(format!("{}-{:02}-{name}.png", self.test, self.step));
        std::fs::write(path, png).expect("screenshot written");
    }

    /// The first element matching `css`, once it is there.
    async fn find(&mut self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(err) => self.fail(&format!("no {css}: {err}")).await,
        }
    }

    async fn fill(&mut self, css: &str, text: &str) {
        let element = self.find(css).await;
        element.clear().await.expect("clear");
        element.send_keys(text).await.expect("typing");
    }

    async fn click(&mut self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Clicks the button or link whose text is `text`.
    async fn press(&mut self, text: &str) {
        let xpath =
            format!("//*[self::button or self::a][normalize-space()='{text}' and not(@disabled)]");
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await
        {
            Ok(element) => element.click().await.expect("click"),
            Err(err) => {
                self.fail(&format!("no button or link '{text}': {err}"))
                    .await
            }
        }
    }

    /// Waits until the text of `css` contains `expected`; that text.
    async fn wait_text(&mut self, css: &str, expected: &str) -> String {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && text.contains(expected)
            {
                return text;
            }
            if started.elapsed() > PATIENCE {
                self.fail(&format!("{css} never showed '{expected}'")).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |all| all.len())
    }

    /// Fails the test with what the page shows, after a screenshot of it.
    async fn fail(&mut self, why: &str) -> ! {
        self.shot("failure").await;
        let text = match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let url = self.client.current_url().await.map(|u| u.to_string());
        panic!("{why}\nat {url:?}\npage shows:\n{text}");
    }

    async fn close(self) {
        let _ = self.client.close().await;
        let _ = std::fs::remove_dir_all(self.profile.parent().unwrap_or(&self.profile));
    }
}

/// `364013.82` as en-US shows euros: `€364,013.82`.
fn euros(amount: &str) -> String {
    let (whole, cents) = amount.split_once('.').unwrap_or((amount, "00"));
    let digits: Vec<char> = whole.chars().collect();
    let mut grouped = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(*c);
    }
    format!("€{grouped}.{cents:0<2}")
}

fn url(app: &TestApp, host: &str, path: &str) -> String {
    format!("http://{host}:{}{path}", app.address.port())
}

#[tokio::test]
async fn a_new_user_finds_their_workspace_changes_the_password_uploads_and_reads_the_dashboard() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    app.start_event_sources();
    let admin = provisioned_admin(&app, "journey").await;
    let mut b = Browser::start("journey").await;

    // The central sign-in finds the workspace by email.
    b.goto(&url(&app, "app.localhost", "/")).await;
    b.wait_text("h1", "Sign in to TaskifAI").await;
    b.fill("input[name=email]", &admin.email).await;
    b.shot("central-sign-in").await;
    b.press("Continue").await;
    b.wait_text(".results", &format!("{} Inc", admin.subdomain))
        .await;
    b.shot("workspaces").await;
    b.click(".choice").await;

    // The workspace's sign-in has the email filled in.
    b.wait_text("h1", "Sign in").await;
    let email = b
        .find("input[name=email]")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(email.as_deref(), Some(admin.email.as_str()));
    b.fill("input[name=password]", &admin.temporary_password)
        .await;
    b.press("Sign in").await;

    // The temporary password must be replaced first.
    b.wait_text("h1", "Choose your password").await;
    b.shot("forced-password-change").await;
    let password = "a passphrase of my own 42";
    b.fill("input[name=current]", &admin.temporary_password)
        .await;
    b.fill("input[name=new]", password).await;
    b.fill("input[name=again]", password).await;
    b.press("Save password").await;
    b.wait_text("main", "Your password has been changed").await;
    b.wait_text("main", "No sales in this view yet").await;
    b.shot("empty-dashboard").await;

    // Upload the sample file; the batch page follows it until it is loaded.
    b.press("Upload a file").await;
    b.wait_text("h2", "Upload a sales file").await;
    b.find("select[name=vendor]")
        .await
        .select_by_value("boxnox")
        .await
        .unwrap();
    let file = b.downloads.join(local_platform::demo::SAMPLE_FILE_NAME);
    std::fs::write(&file, local_platform::demo::SAMPLE_FILE).unwrap();
    b.find("input[type=file]")
        .await
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    b.wait_text(".drop .chosen", local_platform::demo::SAMPLE_FILE_NAME)
        .await;
    b.shot("file-chosen").await;
    b.press("Upload").await;
    let loaded = b.wait_text(".notice.success", "rows loaded").await;
    b.shot("batch-completed").await;

    // The dashboard shows the revenue the API computes from the loaded rows.
    let token = crate::auth::login(&app, &admin.host, &admin.email, password).await;
    let token = token.body["access_token"].as_str().unwrap().to_owned();
    let summary = call(
        &app,
        Method::GET,
        &admin.host,
        "/api/analytics/summary",
        Some(&token),
        None,
    )
    .await;
    let revenue = summary.body["current"]["revenue"]
        .as_str()
        .unwrap()
        .to_owned();
    let rows = summary.body["current"]["units"].as_i64().unwrap();
    assert!(rows > 0, "{loaded}: {}", summary.body);
    b.press("Dashboard").await;
    b.wait_text("[data-stat=revenue] .stat-value", &euros(&revenue))
        .await;
    assert!(
        b.count(".chart .bar").await > 0,
        "the monthly chart has bars"
    );
    assert!(
        b.count(".ranked li").await > 0,
        "resellers and products are ranked"
    );
    b.shot("dashboard").await;

    // On a phone-sized screen nothing is wider than the screen.
    b.client.set_window_size(390, 844).await.unwrap();
    b.wait_text("[data-stat=revenue] .stat-value", &euros(&revenue))
        .await;
    let overflow = b
        .client
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().is_some_and(|px| px <= 0),
        "{overflow} px too wide"
    );
    b.shot("dashboard-phone").await;
    b.client.set_window_size(1280, 900).await.unwrap();

    // The CSV export downloads what the dashboard shows.
    b.press("Export CSV").await;
    let started = Instant::now();
    let csv = loop {
        let done = std::fs::read_dir(&b.downloads)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "csv") && p != &file);
        if let Some(path) = done {
            break std::fs::read_to_string(path).unwrap();
        }
        assert!(started.elapsed() < PATIENCE, "no CSV was downloaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(csv.lines().count() > 1, "{csv}");
    assert!(csv.lines().next().unwrap().contains("revenue"), "{csv}");

    // Another workspace is another origin: nothing of this session is there, and this
    // workspace's token planted in its storage is refused by its API.
    let other = provisioned_admin(&app, "other").await;
    let stolen = b
        .client
        .execute("return localStorage.getItem('taskifai.session')", vec![])
        .await
        .unwrap();
    assert!(
        stolen.as_str().is_some_and(|s| s.contains("token")),
        "{stolen}"
    );
    b.goto(&url(&app, &other.host, "/")).await;
    b.wait_text("h1", "Sign in").await;
    b.wait_text(".lead", &other.subdomain).await;
    b.client
        .execute(
            "localStorage.setItem('taskifai.session', arguments[0])",
            vec![stolen],
        )
        .await
        .unwrap();
    b.goto(&url(&app, &other.host, "/")).await;
    b.wait_text(".notice", "Your session has expired").await;
    b.wait_text("h1", "Sign in").await;
    assert_eq!(b.count(".stat").await, 0, "no figures of either workspace");
    b.shot("foreign-token-refused").await;
    b.close().await;
}

#[tokio::test]
async fn a_platform_admin_creates_suspends_migrates_and_deletes_a_tenant() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    app.start_event_sources();
    app.admin_token().await;
    let subdomain = unique_subdomain("console");
    let mut b = Browser::start("console").await;

    b.goto(&url(&app, "api.localhost", "/")).await;
    b.wait_text("h1", "Platform console").await;
    b.fill("input[name=email]", ADMIN_EMAIL).await;
    b.fill("input[name=password]", ADMIN_PASSWORD).await;
    b.press("Sign in").await;
    b.wait_text("h1", "Tenants").await;
    b.shot("tenants").await;

    b.press("Create tenant").await;
    b.fill("input[name=company_name]", "Browser Company").await;
    b.fill("input[name=subdomain]", &subdomain).await;
    b.fill("input[name=admin_name]", "Bea Browser").await;
    b.fill(
        "input[name=admin_email]",
        &format!("bea@{subdomain}.example"),
    )
    .await;
    b.press("Create tenant").await;
    b.wait_text(".notice.success", "is active at").await;
    assert_eq!(b.count("li.step.done").await, 9, "every step is shown done");
    b.shot("tenant-created").await;

    b.press("Open the tenant").await;
    b.wait_text("h1", "Browser Company").await;
    b.press("Suspend").await;
    b.click("dialog button[type=submit]").await;
    b.wait_text("h1 .badge", "Suspended").await;
    b.shot("tenant-suspended").await;

    // The tenant's own pages say so.
    b.goto(&url(&app, &format!("{subdomain}.localhost"), "/"))
        .await;
    b.wait_text("h1", "Workspace suspended").await;
    b.shot("suspended-workspace").await;

    // Migrating every tenant is a job the console follows to its per-tenant report.
    b.goto(&url(&app, "api.localhost", "/migrations")).await;
    b.press("Migrate all tenants").await;
    b.wait_text(".notice.success", "1 tenants migrated, 0 failed")
        .await;
    b.wait_text("table", &subdomain).await;
    b.shot("migrated").await;

    // Deleting, confirmed by typing the subdomain, is one too.
    b.press("Tenants").await;
    b.press("Browser Company").await;
    b.wait_text("h1", "Browser Company").await;
    b.press("Delete").await;
    b.fill("dialog input", &subdomain).await;
    b.click("dialog button[type=submit]").await;
    b.wait_text(".notice", "Browser Company was deleted").await;
    b.shot("tenant-deleted").await;
    b.close().await;
}

#[tokio::test]
async fn viewers_get_no_upload_controls_and_errors_show_their_reasons() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    app.start_event_sources();
    let admin = signed_in_admin(&app, "states").await;
    let invited = call(
        &app,
        Method::POST,
        &admin.host,
        "/api/auth/users",
        Some(&admin.token),
        Some(&json!({"email": format!("vic@{}.example", admin.subdomain), "full_name": "Vic Viewer", "role": "viewer"})),
    )
    .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let viewer_email = invited.body["user"]["email"].as_str().unwrap().to_owned();
    let viewer_password = invited.body["temporary_password"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut b = Browser::start("states").await;

    // A wrong password shows the API's message.
    b.goto(&url(
        &app,
        &admin.host,
        &format!("/signin?email={viewer_email}"),
    ))
    .await;
    b.fill("input[name=password]", "not the password at all")
        .await;
    b.press("Sign in").await;
    b.wait_text(".notice.error", "email or password is wrong")
        .await;
    b.shot("wrong-password").await;

    // A viewer reads the uploads but has nothing to upload with.
    b.fill("input[name=password]", &viewer_password).await;
    b.press("Sign in").await;
    // A mistyped temporary password is an error on the page, not the end of the session.
    b.fill("input[name=current]", "not my temporary one").await;
    b.fill("input[name=new]", "viewer passphrase 1234").await;
    b.fill("input[name=again]", "viewer passphrase 1234").await;
    b.press("Save password").await;
    b.wait_text(".notice.error", "email or password is wrong")
        .await;
    b.wait_text("h1", "Choose your password").await;
    b.fill("input[name=current]", &viewer_password).await;
    b.fill("input[name=new]", "viewer passphrase 1234").await;
    b.fill("input[name=again]", "viewer passphrase 1234").await;
    b.press("Save password").await;
    b.wait_text("main", "Your password has been changed").await;
    b.press("Uploads").await;
    b.wait_text("main", "Uploading needs the analyst or admin role")
        .await;
    assert_eq!(
        b.count("form.upload").await,
        0,
        "a viewer sees no upload form"
    );
    assert_eq!(b.count("input[type=file]").await, 0);
    assert_eq!(b.count("a[href='/users']").await, 0, "nor the users page");
    b.shot("viewer-uploads").await;

    // An admin's file that is not a spreadsheet fails with its reason.
    b.click(".menu summary").await;
    b.press("Sign out").await;
    b.wait_text(".notice", "You are signed out").await;
    b.fill("input[name=email]", &admin.email).await;
    b.fill("input[name=password]", &admin.password).await;
    b.press("Sign in").await;
    b.wait_text("h1", "Dashboard").await;
    b.press("Uploads").await;
    b.wait_text("h2", "Upload a sales file").await;
    let file = b.downloads.join("report.xlsx");
    std::fs::write(&file, "this is no spreadsheet, only text").unwrap();
    b.find("input[type=file]")
        .await
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    b.press("Upload").await;
    b.wait_text(".notice.error", "The file could not be loaded")
        .await;
    b.shot("bad-file").await;

    // A vendor configuration the API refuses shows the reason next to its field.
    b.press("Vendors").await;
    b.press("boxnox").await;
    b.wait_text("h1", "Vendor boxnox").await;
    b.fill("input[name=currency]", "E1R").await;
    b.press("Save as a new version").await;
    b.wait_text(
        "input[name=currency] ~ .field-error",
        "not an ISO 4217 code",
    )
    .await;
    b.shot("vendor-validation").await;
    b.close().await;
}

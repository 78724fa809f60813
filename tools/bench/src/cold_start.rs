//! Cold start: each function's release binary started the way Lambda starts it, against a local
//! Lambda Runtime API on loopback, beside `hello-lambda` (a `lambda_http` hello-world built the
//! same way: what the runtime alone costs). Init is process start → the first
//! `GET …/invocation/next`; the first request is the event handed out → its response posted.
//! Each function gets a cheap event that needs no session (its health route on its own host,
//! derived from the template; an `s3:TestEvent` for the queue consumer), the environment the
//! stack gives it and what Lambda itself sets; the process is killed after its first answer.
//!
//! Goal: init within 2x the hello-world's, and nothing but config parsing and client
//! construction at init. The "no network" half is checked by one more init per function with
//! every AWS endpoint (`AWS_ENDPOINT_URL`, and the instance metadata endpoint) pointed at a
//! listener that counts and drops connections: the database hosts live in secrets, so that
//! covers them too. Init must reach `next` with no connection made.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use local_platform::template::{Function, Template};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use crate::platform::Platform;
use crate::stats::{Summary, human};

/// The reference binary (`tools/hello-lambda`).
pub const HELLO: &str = "hello-lambda";
/// The goal: a function's median init within this many times the hello-world's.
pub const GOAL_RATIO: f64 = 2.0;
/// How long a process may take to ask for its first event, and then to answer it.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The queue consumer's first event: S3's test notification, which it acknowledges and skips.
const SQS_TEST_EVENT: &str = include_str!("../../../events/upload-processor/s3-test-event.json");
/// The runtime API's prefix.
const RUNTIME: &str = "/2018-06-01/runtime";

/// The workspace packages the run starts: every function of the template, and the reference.
/// (Folder = package = binary name.)
pub fn packages() -> Result<Vec<String>> {
    let mut names: Vec<String> = Template::load_default()?
        .functions()?
        .into_iter()
        .map(|f| f.binary)
        .collect();
    names.push(HELLO.to_owned());
    Ok(names)
}

/// `cargo build --release -p <each>`, in one invocation so that every binary gets the same
/// profile, target and feature set; cargo's output goes to stderr. How long it took.
pub fn build(packages: &[String]) -> Result<Duration> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args(["build", "--release"]);
    for package in packages {
        command.args(["-p", package]);
    }
    let started = Instant::now();
    let status = command
        .stdout(Stdio::inherit())
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release of the functions failed ({status})");
    }
    Ok(started.elapsed())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the release binaries are: beside this (release) bench.
fn release_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("the bench's own folder")?;
    if dir.file_name().and_then(|n| n.to_str()) != Some("release") {
        bail!(
            "the cold-start run compares release binaries: run the bench with --release \
             (scripts/bench.sh), or skip it with --cold-start 0"
        );
    }
    Ok(dir.to_owned())
}

/// One binary's figures.
#[derive(Debug)]
pub struct Binary {
    pub name: String,
    pub size_bytes: u64,
    /// What its first event was.
    pub probe: String,
    pub init: Vec<Duration>,
    pub first_request: Vec<Duration>,
    /// The first answers, e.g. `200` or `0 batch item failures`, with how often each came.
    pub answers: BTreeMap<String, usize>,
    /// Whether every answer was a success (2xx/3xx; no batch item failure).
    pub answers_ok: bool,
    pub errors: Vec<String>,
    pub network: Network,
}

/// What the no-network init did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// Reached `next` after connecting to the AWS endpoint this many times (0: no network).
    Connections(usize),
    /// Never reached `next` (and connected this many times on the way).
    InitFailed {
        connections: usize,
        error: String,
    },
    NotChecked,
}

impl Network {
    fn human(&self) -> String {
        match self {
            Network::Connections(0) => "none".into(),
            Network::Connections(n) => format!("{n} conn."),
            Network::InitFailed { connections, .. } => format!("failed, {connections} conn."),
            Network::NotChecked => "-".into(),
        }
    }
}

/// The whole run.
#[derive(Debug)]
pub struct ColdStart {
    pub runs: usize,
    /// The `cargo build` step, when this run did it.
    pub build: Option<Duration>,
    pub hello: Binary,
    pub functions: Vec<Binary>,
}

/// A function's first event and what it is called in the report.
struct Probe {
    label: String,
    event: Bytes,
}

/// Runs every function (and the reference) `runs` times, round-robin so that load from the
/// rest of the machine falls on all alike, then the no-network init once each.
pub async fn run(platform: &Platform, runs: usize, build: Option<Duration>) -> Result<ColdStart> {
    let dir = release_dir()?;
    let tenant_host = cold_tenant(platform).await?;
    let domains = api_domains(platform)?;
    let functions = platform.template.functions()?;
    let region = platform
        .sdk
        .region()
        .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());

    let mut targets = vec![(
        HELLO.to_owned(),
        lambda_env(&platform.prefix, HELLO, 128, &region, &BTreeMap::new()),
        Probe {
            label: "GET / (app host)".into(),
            event: Bytes::from(crate::warm::event(&domains.app, "GET", "/", None, None)),
        },
    )];
    for function in &functions {
        let own = platform.deployed.function_env(function)?;
        let memory = memory_size(&platform.template, function);
        let env = lambda_env(&platform.prefix, &function.binary, memory, &region, &own);
        targets.push((
            function.binary.clone(),
            env,
            probe(function, &domains, &tenant_host)?,
        ));
    }

    let mut figures = targets
        .iter()
        .map(|(name, _, probe)| Binary::new(&dir, name, &probe.label))
        .collect::<Result<Vec<_>>>()?;

    eprintln!(
        "bench: cold start, {} binaries x {runs} runs",
        targets.len()
    );
    for _ in 0..runs {
        for ((name, env, probe), out) in targets.iter().zip(figures.iter_mut()) {
            match start(&dir.join(name), env, Some(probe.event.clone())).await {
                Ok(run) => {
                    out.init.push(run.init);
                    if let Some((took, answer)) = run.first {
                        out.first_request.push(took);
                        let (text, ok) = describe(&answer);
                        out.answers_ok &= ok;
                        *out.answers.entry(text).or_default() += 1;
                    }
                }
                Err(e) => out.errors.push(format!("{e:#}")),
            }
        }
    }

    // No network at init: every AWS endpoint is a listener that counts and drops connections.
    let sentinel = Sentinel::start().await?;
    for ((name, env, _), out) in targets.iter().zip(figures.iter_mut()) {
        let mut env = env.clone();
        env.insert("AWS_ENDPOINT_URL".into(), sentinel.url());
        env.insert("AWS_EC2_METADATA_SERVICE_ENDPOINT".into(), sentinel.url());
        env.remove("AWS_EC2_METADATA_DISABLED");
        sentinel.connections.store(0, Ordering::SeqCst);
        let started = start(&dir.join(name), &env, None).await;
        let connections = sentinel.connections.load(Ordering::SeqCst);
        out.network = match started {
            Ok(_) => Network::Connections(connections),
            Err(e) => Network::InitFailed {
                connections,
                error: format!("{e:#}"),
            },
        };
    }
    sentinel.task.abort();

    let mut figures = figures.into_iter();
    let hello = figures.next().context("the reference's figures")?;
    Ok(ColdStart {
        runs,
        build,
        hello,
        functions: figures.collect(),
    })
}

/// A tenant of its own, so that tenant-host health checks answer 200; its host.
async fn cold_tenant(platform: &Platform) -> Result<String> {
    let tenant = crate::measure::bench_tenant(platform, "cold").await?.tenant;
    Ok(format!(
        "{}.{}",
        tenant.subdomain, platform.plane.settings.platform.domain.root_domain
    ))
}

/// The hosts of the template's HTTP APIs, by API id (`*` for the tenant wildcard).
struct Domains {
    by_api: BTreeMap<String, String>,
    app: String,
}

fn api_domains(platform: &Platform) -> Result<Domains> {
    let mut by_api = BTreeMap::new();
    for api in platform.template.http_apis() {
        by_api.insert(api.id.clone(), platform.deployed.resolve(&api.domain)?);
    }
    let app = by_api
        .values()
        .find(|d| d.starts_with("app."))
        .cloned()
        .context("the template has no app. API")?;
    Ok(Domains { by_api, app })
}

/// A function's first event: an SQS test notification for a queue consumer, else its health
/// route (or, without one, its first GET route without parameters) on its API's host.
fn probe(function: &Function, domains: &Domains, tenant_host: &str) -> Result<Probe> {
    if !function.sqs_sources.is_empty() {
        return Ok(Probe {
            label: "SQS: s3:TestEvent notification".into(),
            event: Bytes::from_static(SQS_TEST_EVENT.as_bytes()),
        });
    }
    let gets = || {
        function
            .routes
            .iter()
            .filter(|r| r.method == "GET" && !r.path.contains('{'))
    };
    let route = gets()
        .find(|r| r.path.ends_with("/health"))
        .or_else(|| gets().next())
        .ok_or_else(|| anyhow!("{}: no GET route without parameters", function.binary))?;
    let domain = domains
        .by_api
        .get(&route.api)
        .ok_or_else(|| anyhow!("{}: no API {}", function.binary, route.api))?;
    let (host, kind) = match domain.strip_prefix("*.") {
        Some(_) => (tenant_host.to_owned(), "tenant"),
        None => (domain.clone(), domain.split('.').next().unwrap_or_default()),
    };
    Ok(Probe {
        label: format!("GET {} ({kind} host)", route.path),
        event: Bytes::from(crate::warm::event(&host, "GET", &route.path, None, None)),
    })
}

/// The function's `MemorySize`, else the template's global one, else Lambda's default.
fn memory_size(template: &Template, function: &Function) -> u64 {
    template
        .resources
        .get(&function.id)
        .and_then(|r| r.properties["MemorySize"].as_u64())
        .or_else(|| template.globals["Function"]["MemorySize"].as_u64())
        .unwrap_or(128)
}

/// What Lambda sets in a `provided.al2023` execution environment, the credentials and emulator
/// endpoint the local platform passes on, and the function's own variables from the stack.
fn lambda_env(
    prefix: &str,
    binary: &str,
    memory: u64,
    region: &str,
    own: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let name = format!("{prefix}-{binary}");
    let mut env: BTreeMap<String, String> = [
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/22/[$LATEST]0123456789abcdef0123456789abcdef".into(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_REGION", region.into()),
        ("AWS_DEFAULT_REGION", region.into()),
        ("_HANDLER", "bootstrap".into()),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("TZ", ":UTC".into()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for key in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_EC2_METADATA_DISABLED",
    ] {
        if let Ok(value) = std::env::var(key) {
            env.insert(key.into(), value);
        }
    }
    env.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// One process's timings.
struct Started {
    init: Duration,
    /// Event handed out → response posted, and the response.
    first: Option<(Duration, Answer)>,
}

enum Answer {
    Response(Bytes),
    Error(Bytes),
}

/// `200`, `0 failures` (batch items), `error: …`, and whether that is a success.
fn describe(answer: &Answer) -> (String, bool) {
    match answer {
        Answer::Response(body) => {
            let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            if let Some(status) = value["statusCode"].as_u64() {
                (status.to_string(), (200..400).contains(&status))
            } else if let Some(failures) = value["batchItemFailures"].as_array() {
                (format!("{} failures", failures.len()), failures.is_empty())
            } else {
                ("response".into(), true)
            }
        }
        Answer::Error(body) => (format!("error: {}", String::from_utf8_lossy(body)), false),
    }
}

/// Starts `binary` with `env` against a runtime API of its own; with an event, hands it out
/// and waits for the answer. The process is killed either way.
async fn start(
    binary: &Path,
    env: &BTreeMap<String, String>,
    event: Option<Bytes>,
) -> Result<Started> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (signals, mut received) = mpsc::unbounded_channel();
    let name = env
        .get("AWS_LAMBDA_FUNCTION_NAME")
        .cloned()
        .unwrap_or_default();
    let api = Arc::new(RuntimeApi {
        event,
        request_id: Uuid::new_v4().to_string(),
        function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        handed_out: AtomicBool::new(false),
        signals,
    });
    let serving = api.event.is_some();
    let server = AbortOnDrop(tokio::spawn(serve(listener, api)));

    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let watched = watch(&mut child, &mut received, spawned, serving).await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    drop(server);
    let mut output = stdout.await.unwrap_or_default();
    output.extend(stderr.await.unwrap_or_default());
    watched.map_err(|e| e.context(format!("{}: {}", binary.display(), tail(&output))))
}

/// Waits for the first poll, then (when `serving`) for the answer.
async fn watch(
    child: &mut tokio::process::Child,
    received: &mut mpsc::UnboundedReceiver<Signal>,
    spawned: Instant,
    serving: bool,
) -> Result<Started> {
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    let init = loop {
        tokio::select! {
            signal = received.recv() => match signal {
                Some(Signal::Next(at)) => break at.saturating_duration_since(spawned),
                Some(Signal::InitError(body)) => {
                    bail!("reported an init error: {}", String::from_utf8_lossy(&body))
                }
                Some(_) => {}
                None => bail!("the runtime API stopped"),
            },
            status = child.wait() => bail!("exited ({}) before asking for an event", status?),
            () = &mut init_deadline => bail!("did not ask for an event within {INIT_TIMEOUT:?}"),
        }
    };
    if !serving {
        return Ok(Started { init, first: None });
    }
    let request_deadline = tokio::time::sleep(REQUEST_TIMEOUT);
    tokio::pin!(request_deadline);
    let mut handed_out = None;
    loop {
        tokio::select! {
            signal = received.recv() => {
                let (at, answer) = match signal {
                    Some(Signal::HandedOut(at)) => {
                        handed_out = Some(at);
                        continue;
                    }
                    Some(Signal::Response(at, body)) => (at, Answer::Response(body)),
                    Some(Signal::Error(at, body)) => (at, Answer::Error(body)),
                    Some(Signal::Next(_) | Signal::InitError(_)) => continue,
                    None => bail!("the runtime API stopped"),
                };
                let took = at.saturating_duration_since(handed_out.unwrap_or(at));
                return Ok(Started { init, first: Some((took, answer)) });
            }
            status = child.wait() => bail!("exited ({}) before answering its event", status?),
            () = &mut request_deadline => bail!("did not answer within {REQUEST_TIMEOUT:?}"),
        }
    }
}

/// The last lines the process wrote, stdout then stderr (for errors).
fn tail(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().collect();
    let last = lines[lines.len().saturating_sub(3)..].join(" | ");
    if last.is_empty() {
        "no output".into()
    } else {
        last
    }
}

/// Reads a pipe to its end (so the process never blocks on a full pipe).
fn drain<R: tokio::io::AsyncRead + Unpin + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    tokio::spawn(async move {
        let mut out = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut out).await;
        }
        out
    })
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the runtime API saw, in order.
enum Signal {
    Next(Instant),
    HandedOut(Instant),
    Response(Instant, Bytes),
    Error(Instant, Bytes),
    InitError(Bytes),
}

/// A Lambda Runtime API for one process: one event at most, then every poll waits (until the
/// process is killed).
struct RuntimeApi {
    event: Option<Bytes>,
    request_id: String,
    function_arn: String,
    handed_out: AtomicBool,
    signals: mpsc::UnboundedSender<Signal>,
}

/// Serves the runtime API on `listener`; aborting the task closes every connection.
async fn serve(listener: TcpListener, api: Arc<RuntimeApi>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        let api = api.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| answer(api.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    api: Arc<RuntimeApi>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let signal = |s| {
        let _ = api.signals.send(s);
    };
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(RUNTIME) else {
        return Ok(status(StatusCode::NOT_FOUND));
    };
    if req.method() == Method::GET && rest == "/invocation/next" {
        signal(Signal::Next(at));
        let event = match (&api.event, api.handed_out.swap(true, Ordering::SeqCst)) {
            (Some(event), false) => event.clone(),
            _ => std::future::pending::<Bytes>().await,
        };
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            + REQUEST_TIMEOUT;
        let res = Response::builder()
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &api.request_id)
            .header(
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string(),
            )
            .header("lambda-runtime-invoked-function-arn", &api.function_arn)
            .header(
                "lambda-runtime-trace-id",
                "Root=1-6740a1e0-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0",
            )
            .body(Full::new(event))
            .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR));
        signal(Signal::HandedOut(Instant::now()));
        return Ok(res);
    }
    if req.method() != Method::POST {
        return Ok(status(StatusCode::NOT_FOUND));
    }
    let invocation = rest
        .strip_prefix("/invocation/")
        .and_then(|r| r.split_once('/'))
        .map(|(_, what)| what.to_owned());
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    match (rest, invocation.as_deref()) {
        ("/init/error", _) => signal(Signal::InitError(body)),
        (_, Some("response")) => signal(Signal::Response(at, body)),
        (_, Some("error")) => signal(Signal::Error(at, body)),
        _ => return Ok(status(StatusCode::NOT_FOUND)),
    }
    Ok(status(StatusCode::ACCEPTED))
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(b"{}")));
    *res.status_mut() = code;
    res
}

/// A listener that counts connections and drops them: where every AWS endpoint points during
/// the no-network init.
struct Sentinel {
    port: u16,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Sentinel {
    async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Ok(Self {
            port,
            connections,
            task,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Binary {
    /// No figures yet: the built binary's size only.
    fn new(dir: &Path, name: &str, probe: &str) -> Result<Self> {
        let path = dir.join(name);
        let size_bytes = std::fs::metadata(&path)
            .with_context(|| {
                format!(
                    "{} is not built: run `cargo build --release -p {name}`, or the bench \
                     without --cold-start-prebuilt",
                    path.display()
                )
            })?
            .len();
        Ok(Self {
            name: name.to_owned(),
            size_bytes,
            probe: probe.to_owned(),
            init: Vec::new(),
            first_request: Vec::new(),
            answers: BTreeMap::new(),
            answers_ok: true,
            errors: Vec::new(),
            network: Network::NotChecked,
        })
    }

    fn init_p50(&self) -> Option<Duration> {
        Summary::of(&self.init).map(|s| s.p50)
    }

    /// Median init over the reference's.
    fn ratio(&self, hello: &Binary) -> Option<f64> {
        Some(self.init_p50()?.as_secs_f64() / hello.init_p50()?.as_secs_f64().max(1e-9))
    }

    /// Init within the goal, no network at init, and every run answered.
    fn passes(&self, hello: &Binary) -> bool {
        self.ratio(hello).is_some_and(|r| r <= GOAL_RATIO)
            && self.network == Network::Connections(0)
            && self.errors.is_empty()
    }

    fn json(&self, hello: &Binary) -> Value {
        json!({
            "binary": self.name,
            "size_bytes": self.size_bytes,
            "probe": self.probe,
            "init": Summary::of(&self.init).map(|s| s.json()),
            "first_request": Summary::of(&self.first_request).map(|s| s.json()),
            "init_vs_hello": self.ratio(hello),
            "answers": self.answers,
            "answers_ok": self.answers_ok,
            "init_network": match &self.network {
                Network::Connections(n) => json!({"connections": n}),
                Network::InitFailed { connections, error } => {
                    json!({"connections": connections, "init_failed": error})
                }
                Network::NotChecked => Value::Null,
            },
            "errors": self.errors,
            "pass": self.passes(hello),
        })
    }
}

impl ColdStart {
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nCold start: release binaries (host target, one cargo build) against a local Lambda \
             Runtime API, {} runs each; init = process start -> first GET /next, first request = \
             event handed out -> response posted",
            self.runs
        );
        let _ = writeln!(
            out,
            "  init network: connections made during one more init with every AWS endpoint (and \
             instance metadata) pointed at a listener that counts and drops them"
        );
        if let Some(took) = self.build {
            let _ = writeln!(out, "  cargo build --release: {}", human(took));
        }
        let _ = writeln!(
            out,
            "  {:<17} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}  {:<10} {:<14} {:<11} first event",
            "binary",
            "size",
            "init p50",
            "init max",
            "vs hello",
            "1st p50",
            "1st max",
            "1st answer",
            "init network",
            "goal"
        );
        for b in std::iter::once(&self.hello).chain(&self.functions) {
            let init = Summary::of(&b.init);
            let first = Summary::of(&b.first_request);
            let show = |s: Option<Summary>, pick: fn(&Summary) -> Duration| {
                s.map_or_else(|| "-".to_owned(), |s| human(pick(&s)))
            };
            let ratio = b
                .ratio(&self.hello)
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"));
            let answers = match b.answers.len() {
                0 => "-".to_owned(),
                1 => b.answers.keys().next().cloned().unwrap_or_default(),
                _ => "mixed".to_owned(),
            };
            let verdict = if b.name == self.hello.name {
                "(reference)"
            } else if b.passes(&self.hello) {
                "PASS"
            } else {
                "FAIL"
            };
            let _ = writeln!(
                out,
                "  {:<17} {:>5.1} MB {:>9} {:>9} {:>9} {:>9} {:>9}  {:<10} {:<14} {verdict:<11} {}",
                b.name,
                b.size_bytes as f64 / 1_000_000.0,
                show(init, |s| s.p50),
                show(init, |s| s.max),
                ratio,
                show(first, |s| s.p50),
                show(first, |s| s.max),
                truncate(&answers, 10),
                b.network.human(),
                b.probe,
            );
        }
        let passed = self
            .functions
            .iter()
            .filter(|b| b.passes(&self.hello))
            .count();
        let _ = writeln!(
            out,
            "goal: init p50 <= {GOAL_RATIO}x {}'s ({}) and no network call at init: {passed}/{} \
             PASS",
            self.hello.name,
            self.hello.init_p50().map_or_else(|| "-".to_owned(), human),
            self.functions.len()
        );
        for b in std::iter::once(&self.hello).chain(&self.functions) {
            if let Network::InitFailed { error, .. } = &b.network {
                let _ = writeln!(out, "  {} without network: {}", b.name, first_line(error));
            }
            for e in &b.errors {
                let _ = writeln!(out, "  {} run failed: {}", b.name, first_line(e));
            }
            if !b.answers_ok {
                let _ = writeln!(out, "  {} first answers: {:?}", b.name, b.answers);
            }
        }
        out
    }

    pub fn json(&self) -> Value {
        json!({
            "runs": self.runs,
            "build_seconds": self.build.map(|d| d.as_secs_f64()),
            "goal_ratio": GOAL_RATIO,
            "reference": self.hello.json(&self.hello),
            "functions": self.functions.iter().map(|b| b.json(&self.hello)).collect::<Vec<_>>(),
        })
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn first_line(s: &str) -> &str {
    let line = s.lines().next().unwrap_or_default();
    match line.char_indices().nth(300) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_http_status_or_batch_failures() {
        let http = Answer::Response(Bytes::from_static(br#"{"statusCode":200,"body":"{}"}"#));
        assert_eq!(describe(&http), ("200".to_owned(), true));
        let missing = Answer::Response(Bytes::from_static(br#"{"statusCode":404}"#));
        assert_eq!(describe(&missing), ("404".to_owned(), false));
        let sqs = Answer::Response(Bytes::from_static(br#"{"batchItemFailures":[]}"#));
        assert_eq!(describe(&sqs), ("0 failures".to_owned(), true));
        let failed = Answer::Error(Bytes::from_static(b"boom"));
        assert!(!describe(&failed).1);
    }

    #[test]
    fn the_environment_is_lambdas_then_the_functions_own() {
        let own = BTreeMap::from([
            ("ROOT_DOMAIN".to_owned(), "localhost".to_owned()),
            ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
        ]);
        let env = lambda_env("bench-1", "auth", 256, "us-east-1", &own);
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "bench-1-auth");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
        assert_eq!(env["ROOT_DOMAIN"], "localhost");
        // The function's own variables win.
        assert_eq!(env["AWS_REGION"], "eu-west-1");
    }
}

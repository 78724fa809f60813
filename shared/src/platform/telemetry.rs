//! JSON logs through `tracing-subscriber`: one line per event, with the fields of the current
//! request span (`request_id`, `host`, later `tenant_id`). `RUST_LOG` sets the filter.

use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber for the process. Call once, first thing in `main`.
pub fn init() {
    let subscriber = json_subscriber(std::io::stdout);
    // A second init (tests, local tools) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The subscriber `init` installs, writing to `writer`; tests capture logs through it.
pub fn json_subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(writer)
        .finish()
}

/// The span every HTTP request runs in.
pub fn request_span(
    request_id: Option<&str>,
    host: Option<&str>,
    method: &str,
    path: &str,
) -> Span {
    tracing::info_span!(
        "request",
        request_id = request_id.unwrap_or("-"),
        host = host.unwrap_or("-"),
        method,
        path,
        tenant_id = tracing::field::Empty,
    )
}

/// Displays an error with its sources: `outer: middle: root`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

//! Lambda entry point: configuration and clients once, then the SQS event loop.

use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    let sdk = shared::platform::aws::sdk_config().await;
    let app = shared::platform::config::or_exit(admin_jobs::App::new(
        &shared::platform::config::Env::process(),
        &sdk,
    ));
    run(service_fn(|event| async {
        Ok::<_, std::convert::Infallible>(admin_jobs::handle(&app, event).await)
    }))
    .await
}

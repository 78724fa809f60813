//! Lambda entry point: configuration once, then the runtime loop.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    let sdk = shared::platform::aws::sdk_config().await;
    let app = shared::platform::config::or_exit(web::App::new(
        &shared::platform::config::Env::process(),
        &sdk,
    ));
    run(service_fn(|req| async {
        Ok::<_, std::convert::Infallible>(web::handle(&app, req).await)
    }))
    .await
}

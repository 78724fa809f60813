//! Lambda entry point: configuration and clients once, then the runtime loop behind the door
//! every HTTP function shares (`shared::web::entry`: no request can panic the function).

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    let sdk = shared::platform::aws::sdk_config().await;
    let app = shared::platform::config::or_exit(provisioning::App::new(
        &shared::platform::config::Env::process(),
        &sdk,
    ));
    shared::web::entry::run(|req| provisioning::handle(&app, req)).await
}

//! Lambda entry point: the SQS event loop.

use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::platform::telemetry::init();
    run(service_fn(|event| async {
        Ok::<_, std::convert::Infallible>(upload_processor::handle(event).await)
    }))
    .await
}

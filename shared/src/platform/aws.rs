//! AWS SDK configuration, loaded once per cold start. `AWS_ENDPOINT_URL` points every client at a
//! local emulator; S3 then needs path-style addressing (no per-bucket DNS names on loopback).

use aws_config::BehaviorVersion;

/// The shared SDK configuration from the standard environment and profile chain.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An S3 client that also works against an emulator endpoint.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let builder =
        aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// A configuration that reaches no AWS endpoint until a request is made: for handler tests of
/// answers that come before any AWS call (host and route checks).
pub fn offline_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build()
}

/// A sample event from the repository's `events/` folder as the request lambda_http hands a
/// handler (for the function crates' handler tests).
pub fn sample_event(function: &str, case: &str) -> Result<lambda_http::Request, String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(function)
        .join(case);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    lambda_http::request::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

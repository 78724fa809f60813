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

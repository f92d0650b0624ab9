//! The AWS SDK configuration every function builds its clients from, with one retry policy,
//! and AWS errors in the service's own words, for any of the SDKs.

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::region::ProvideRegion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::sdk_http::SdkHttpClient;

/// Attempts per AWS call: throttling, 5xx, timeouts and connection errors are retried with
/// jittered exponential backoff. The framework's work deadline bounds the whole, so a busy
/// region costs time rather than a failed stack. Where a third of the calls fail, 10 attempts
/// still lose one call in about 36,000 (0.35^10); 15 lose one in about 7 million, while the
/// SDK's retry quota (500 tokens per process) lasts.
pub const MAX_ATTEMPTS: u32 = 15;

/// Endpoints and region from the environment (`AWS_ENDPOINT_URL` for local runs), and the
/// retry policy.
pub async fn load_config() -> aws_types::SdkConfig {
    let mut loader = aws_config::from_env();
    // Lambda puts the credentials and region in the environment, where the default chains
    // look first. Taken from there directly, the chains' other links (profile, web identity
    // with its STS client, ECS, instance metadata) are not built at start-up for nothing.
    let env_credentials = EnvironmentVariableCredentialsProvider::new();
    if env_credentials.provide_credentials().await.is_ok() {
        loader = loader.credentials_provider(env_credentials);
    }
    if let Some(region) = EnvironmentVariableRegionProvider::new().region().await {
        loader = loader.region(region);
    }
    loader
        .http_client(http_client())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(3)),
        )
        // A stalled answer is given up and retried, not waited on for the whole work time.
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(5))
                .build(),
        )
        .load()
        .await
}

/// The HTTP client over the function's shared TLS configuration. Without one (`SSL_CERT_DIR`
/// or a proxy set, or a region outside the partitions the compiled-in roots cover), the
/// SDK's own client, which goes through proxies and loads the system's trust store.
fn http_client() -> SharedHttpClient {
    match crate::tls_config() {
        Some(tls) => SharedHttpClient::new(SdkHttpClient::new(tls)),
        None => Builder::new().build_with_connector_fn(move |settings, components| {
            let mut connector = ConnectorBuilder::default()
                .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(TlsContext::default());
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        }),
    }
}

/// An AWS SDK error in the service's own words (`Code: message`), else its chain of causes.
pub fn aws_error<E>(error: &E) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => crate::error_chain(error),
    }
}

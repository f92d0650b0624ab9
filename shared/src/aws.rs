//! The AWS SDK configuration every function builds its clients from, with one retry policy.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Attempts per AWS call: throttling, 5xx, timeouts and connection errors are retried with
/// jittered exponential backoff. The framework's work deadline bounds the whole, so a busy
/// region costs time rather than a failed stack.
pub const MAX_ATTEMPTS: u32 = 10;

/// Endpoints and region from the environment (`AWS_ENDPOINT_URL` for local runs), and the
/// retry policy.
pub async fn load_config() -> aws_types::SdkConfig {
    aws_config::from_env()
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

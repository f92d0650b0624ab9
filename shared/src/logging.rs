//! Structured logs: JSON under Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// Initializes logging once. Level from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, default INFO.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    // The SDKs log request details at debug; keep them at INFO unless asked by RUST_LOG.
    let quiet = if level > LevelFilter::INFO {
        ",aws_smithy_runtime=info,aws_sdk_ssm=info,aws_sdk_kms=info,hyper=info,hyper_util=info,rustls=info"
    } else {
        ""
    };
    let filter = EnvFilter::builder().parse_lossy(format!("{level}{quiet}"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stdout);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init()
    } else {
        builder.without_time().try_init()
    };
    // Already initialized (a test, or a second call): keep the first.
    drop(result);
}

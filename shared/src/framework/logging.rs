//! Structured logs: JSON under Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Initializes logging once. Level from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, default INFO.
///
/// The level applies to this framework and to `function_crate` (pass
/// `env!("CARGO_CRATE_NAME")`); every other crate stays at INFO or above whatever is asked,
/// because below it they log raw events (the presigned ResponseURL), requests and responses
/// (secrets).
pub fn init(function_crate: &str) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = targets(level, function_crate);
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(std::io::stdout);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let result = if json {
        let layer = layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true);
        tracing_subscriber::registry()
            .with(layer)
            .with(filter)
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(layer.without_time())
            .with(filter)
            .try_init()
    };
    // Already initialized (a test, or a second call): keep the first.
    drop(result);
}

/// A filter by target: no regular expressions to compile at start-up, as `EnvFilter` would.
fn targets(level: LevelFilter, function_crate: &str) -> Targets {
    let framework = module_path!().split("::").next().unwrap_or_default();
    [framework, function_crate]
        .into_iter()
        .filter(|name| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .fold(
            Targets::new().with_default(level.min(LevelFilter::INFO)),
            |targets, name| targets.with_target(name, level),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    use tracing::Level;

    #[test]
    fn only_our_crates_go_below_info() {
        let t = targets(LevelFilter::TRACE, "service_database");
        assert!(t.would_enable("service_database::apply", &Level::TRACE));
        assert!(t.would_enable("shared::framework::runtime", &Level::TRACE));
        assert!(!t.would_enable("aws_smithy_runtime::client", &Level::DEBUG));
        assert!(t.would_enable("aws_smithy_runtime::client", &Level::INFO));

        let t = targets(LevelFilter::WARN, "x");
        assert!(!t.would_enable("x", &Level::INFO));
        assert!(!t.would_enable("hyper", &Level::INFO));
        assert!(t.would_enable("hyper", &Level::WARN));

        // A name that is no crate name adds no target.
        let t = targets(LevelFilter::DEBUG, "a=trace,b");
        assert!(!t.would_enable("a=trace,b", &Level::DEBUG));
        assert!(t.would_enable("shared", &Level::DEBUG));
    }
}

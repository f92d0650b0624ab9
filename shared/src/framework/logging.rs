//! Structured logs: JSON under Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

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
    let filter = EnvFilter::builder().parse_lossy(directives(level, function_crate));
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

fn directives(level: LevelFilter, function_crate: &str) -> String {
    let others = level.min(LevelFilter::INFO);
    let own = |name: &str| {
        if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            format!(",{name}={level}")
        } else {
            String::new()
        }
    };
    format!(
        "{others}{}{}",
        own(module_path!().split("::").next().unwrap_or_default()),
        own(function_crate)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_crates_go_below_info() {
        assert_eq!(
            directives(LevelFilter::TRACE, "service_database"),
            "info,shared=trace,service_database=trace"
        );
        assert_eq!(
            directives(LevelFilter::WARN, "x"),
            "warn,shared=warn,x=warn"
        );
        // A name that is no crate name adds no directive.
        assert_eq!(
            directives(LevelFilter::DEBUG, "a=trace,b"),
            "info,shared=debug"
        );
    }
}

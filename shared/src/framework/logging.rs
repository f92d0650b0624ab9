//! Structured logs: JSON under Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Initializes logging once. Level from `AWS_LAMBDA_LOG_LEVEL` (`FATAL` reads as ERROR), else
/// `RUST_LOG`, else INFO.
///
/// The level applies to this framework and to `function_crate` (pass
/// `env!("CARGO_CRATE_NAME")`); every other crate stays at INFO or above whatever is asked,
/// because below it they log raw events (the presigned ResponseURL), requests and responses
/// (secrets).
pub fn init(function_crate: &str) {
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().and_then(|v| parse_level(&v)))
        .unwrap_or(LevelFilter::INFO);
    let levels = Levels::new(level, function_crate);
    let filter = filter_fn(move |meta: &Metadata<'_>| levels.enabled(meta.target(), meta.level()))
        .with_max_level_hint(level);
    let layer = tracing_subscriber::fmt::layer()
        .log_internal_errors(true)
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

/// A level as Lambda's log settings name it (`FATAL` included); empty or unknown is none.
fn parse_level(value: &str) -> Option<LevelFilter> {
    match value.trim() {
        "" => None,
        v if v.eq_ignore_ascii_case("fatal") => Some(LevelFilter::ERROR),
        v => v.parse().ok(),
    }
}

/// Our crates (the framework and the function) at the level asked; every other crate at
/// INFO or above. A plain filter on the target: nothing to parse or compile at start-up.
struct Levels {
    own: Vec<String>,
    level: LevelFilter,
}

impl Levels {
    fn new(level: LevelFilter, function_crate: &str) -> Self {
        let framework = module_path!().split("::").next().unwrap_or_default();
        let own = [framework, function_crate]
            .into_iter()
            .filter(|name| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            .map(str::to_owned)
            .collect();
        Self { own, level }
    }

    fn enabled(&self, target: &str, level: &Level) -> bool {
        // The crate itself or a module under it: a bare prefix would also take in another
        // crate whose name starts the same (`shared_memory`).
        let ours = self.own.iter().any(|name| {
            target
                .strip_prefix(name.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        });
        let max = if ours {
            self.level
        } else {
            self.level.min(LevelFilter::INFO)
        };
        *level <= max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_as_lambda_names_them() {
        assert_eq!(parse_level("FATAL"), Some(LevelFilter::ERROR));
        assert_eq!(parse_level(" debug "), Some(LevelFilter::DEBUG));
        assert_eq!(parse_level("TRACE"), Some(LevelFilter::TRACE));
        assert_eq!(parse_level(""), None);
        assert_eq!(parse_level("debug,hyper=trace"), None);
    }

    #[test]
    fn only_our_crates_go_below_info() {
        let l = Levels::new(LevelFilter::TRACE, "service_database");
        assert!(l.enabled("service_database", &Level::TRACE));
        assert!(l.enabled("service_database::apply", &Level::TRACE));
        assert!(l.enabled("shared::framework::runtime", &Level::TRACE));
        assert!(!l.enabled("aws_smithy_runtime::client", &Level::DEBUG));
        assert!(l.enabled("aws_smithy_runtime::client", &Level::INFO));
        // Another crate whose name starts like ours is not ours.
        assert!(!l.enabled("shared_memory", &Level::DEBUG));
        assert!(!l.enabled("service_database_x::a", &Level::DEBUG));

        let l = Levels::new(LevelFilter::WARN, "x");
        assert!(!l.enabled("x", &Level::INFO));
        assert!(!l.enabled("hyper", &Level::INFO));
        assert!(l.enabled("hyper", &Level::WARN));

        // A name that is no crate name is not ours.
        let l = Levels::new(LevelFilter::DEBUG, "a=trace,b");
        assert!(!l.enabled("a=trace,b", &Level::DEBUG));
        assert!(l.enabled("shared", &Level::DEBUG));
    }
}

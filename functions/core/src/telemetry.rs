//! Structured JSON logs via `tracing`. Fields are chosen at each call site; phones, emails, names
//! and message bodies are never logged (types holding them redact `Debug`).

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the JSON subscriber (level from `RUST_LOG`, default `info`). Call once in `main`.
pub fn init() {
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_max_level(tracing::level_filters::LevelFilter::TRACE)
        .finish()
        .with(filter)
        .try_init();
}

/// The levels `RUST_LOG` asks for: a level (`info`), targets with levels (`warn,rising_core=debug`),
/// or both; anything else (unset, empty, unreadable) is `info`.
///
/// `tracing_subscriber`'s `EnvFilter` would also read span and field filters, which these functions
/// never need; it compiles in a regex engine for them (`matchers`, `regex-automata`) and keeps
/// per-span filter state at run time.
pub fn log_filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_rust_log_info_and_above_are_logged() {
        for unset in [None, Some(""), Some("  ")] {
            let filter = log_filter(unset);
            assert!(filter.would_enable("rising_core::outbound", &Level::INFO));
            assert!(filter.would_enable("aws_smithy_runtime", &Level::WARN));
            assert!(!filter.would_enable("rising_core::outbound", &Level::DEBUG));
        }
    }

    #[test]
    fn rust_log_sets_the_level_and_per_target_levels() {
        let filter = log_filter(Some("warn,rising_core=debug"));
        assert!(filter.would_enable("rising_core::sms", &Level::DEBUG));
        assert!(!filter.would_enable("rising_core::sms", &Level::TRACE));
        assert!(!filter.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(filter.would_enable("aws_smithy_runtime", &Level::WARN));
        assert!(log_filter(Some("error")).would_enable("x", &Level::ERROR));
        assert!(!log_filter(Some("error")).would_enable("x", &Level::WARN));
    }

    #[test]
    fn an_unreadable_rust_log_falls_back_to_info() {
        let filter = log_filter(Some("[span{field=\"x\"}]=debug,=="));
        assert!(filter.would_enable("rising_core", &Level::INFO));
        assert!(!filter.would_enable("rising_core", &Level::DEBUG));
    }
}

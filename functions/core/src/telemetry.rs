//! Structured JSON logs via `tracing`. Fields are chosen at each call site; phones, emails, names
//! and message bodies are never logged (types holding them redact `Debug`).

/// Installs the JSON subscriber (level from `RUST_LOG`, default `info`). Call once in `main`.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}

//! Log set-up for every function. JSON when `AWS_LAMBDA_LOG_FORMAT=JSON` (as in Lambda), text
//! otherwise; level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, default INFO.
//!
//! Whatever level is asked for, only elastic-jit's own code logs below INFO: the Lambda
//! runtime logs whole invocation events (bearer tokens and request bodies included) at TRACE,
//! and the HTTP and AWS SDK layers log requests at DEBUG/TRACE. Those targets are capped at
//! INFO by a filter the environment cannot change.

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterFn, Filtered};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

/// Crates whose own logs may go below INFO (they never log tokens, events or secrets).
const OWN_TARGETS: [&str; 6] = [
    "shared",
    "discover",
    "provision",
    "revoke",
    "rotate",
    "cleanup",
];

/// Is `meta` allowed through the fixed cap?
fn within_cap(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::INFO || is_own(meta.target())
}

fn is_own(target: &str) -> bool {
    let root = target.split("::").next().unwrap_or(target);
    OWN_TARGETS.contains(&root)
}

/// The level the environment asks for, as an `EnvFilter` (INFO when unset or unreadable).
fn requested(level: Option<&str>) -> EnvFilter {
    let level = level.unwrap_or("info").to_lowercase();
    EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The subscriber for `level`, writing to `writer`: the requested filter, then the cap.
pub fn subscriber<W>(level: Option<&str>, json: bool, writer: W) -> impl tracing::Subscriber
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let cap = FilterFn::new(within_cap);
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer);
    let layer: Box<dyn Layer<Registry> + Send + Sync> = if json {
        Box::new(fmt.json())
    } else {
        Box::new(fmt.with_ansi(false))
    };
    let capped: Filtered<_, _, Registry> = layer.with_filter(cap);
    Registry::default().with(capped.with_filter(requested(level)))
}

/// Install the process's subscriber (once, at start-up, from `main`).
pub fn init_tracing() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber(
        level.as_deref(),
        json,
        std::io::stdout,
    ));
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    fn logged(level: &str, json: bool) -> String {
        let out = Captured::default();
        let sub = subscriber(Some(level), json, out.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", "RAW-EVENT Bearer eyJtoken");
            tracing::debug!(target: "lambda_runtime_api_client", "RAW-BODY");
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "SDK-REQUEST");
            tracing::debug!(target: "hyper_util::client", "HTTP-REQUEST");
            tracing::info!(target: "lambda_runtime", "runtime-info");
            tracing::debug!(target: "shared::grants", "own-debug");
        });
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn no_requested_level_raises_the_runtime_or_sdk_above_info() {
        for level in [
            "trace",
            "TRACE",
            "lambda_runtime=trace",
            "lambda_runtime::layers=trace,lambda_runtime_api_client=trace",
            "trace,aws_smithy_runtime=trace,hyper_util=trace",
        ] {
            for json in [false, true] {
                let out = logged(level, json);
                for leak in [
                    "RAW-EVENT",
                    "eyJtoken",
                    "RAW-BODY",
                    "SDK-REQUEST",
                    "HTTP-REQUEST",
                ] {
                    assert!(
                        !out.contains(leak),
                        "{level} (json {json}) logged {leak}: {out}"
                    );
                }
                if level.to_lowercase().starts_with("trace") {
                    assert!(out.contains("runtime-info"), "{level}: INFO still logs");
                }
            }
        }
        assert!(logged("trace", false).contains("own-debug"));
        assert!(!logged("info", false).contains("own-debug"));
        assert!(!logged("not a level ===", false).contains("own-debug"));
    }
}

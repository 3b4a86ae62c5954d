//! Process-wide telemetry shared by every dsync service.
//!
//! Every service's `main.rs` is expected to do roughly:
//!
//! ```no_run
//! # async fn run() -> Result<(), dsync_telemetry::TelemetryError> {
//! use dsync_telemetry::{admin, shutdown, TelemetrySettings};
//!
//! let settings = TelemetrySettings::default(); // usually flattened into the service's clap struct
//! let _guard = dsync_telemetry::init("orders-service", &settings)?;
//!
//! let token = shutdown::token_on_signal();
//! let readiness = admin::Readiness::new();
//! let server = admin::AdminServer::bind(
//!     admin::AdminSettings::default().admin_addr,
//!     prometheus::Registry::new(),
//!     readiness.clone(),
//! )?;
//! let admin_task = server.spawn(token.clone());
//! // ... run the service until `token` is cancelled ...
//! # let _ = admin_task;
//! # Ok(())
//! # }
//! ```
//!
//! Modules:
//! - [`propagation`]: W3C `traceparent` formatting/parsing and linking `tracing` spans to
//!   remote parents (used for Kafka headers).
//! - [`admin`]: the admin HTTP server (`/metrics`, `/healthz`, `/readyz`) and [`admin::Readiness`].
//! - [`http`]: the HTTP server loop every server of the product runs (header-read and idle
//!   timeout, graceful shutdown).
//! - [`shutdown`]: SIGTERM/SIGINT handling.

pub mod admin;
pub mod http;
pub mod propagation;
pub mod shutdown;

use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The one error type of this crate.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `RUST_LOG` is set but is not a valid `EnvFilter` directive list.
    #[error("invalid RUST_LOG filter: {0}")]
    InvalidLogFilter(#[source] tracing_subscriber::filter::FromEnvError),
    /// The OTLP span exporter could not be built (e.g. a malformed endpoint).
    #[error("cannot build the OTLP exporter for endpoint {endpoint:?}: {source}")]
    Exporter {
        /// The traces endpoint that was used.
        endpoint: String,
        /// The underlying error.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// The admin server could not bind its listening socket.
    #[error("cannot bind the admin server to {addr}: {source}")]
    Bind {
        /// The address that was requested.
        addr: std::net::SocketAddr,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The admin server failed while serving.
    #[error("admin server error: {0}")]
    Serve(#[source] std::io::Error),
    /// The spawned admin server task panicked or was aborted.
    #[error("admin server task failed: {0}")]
    Join(#[source] tokio::task::JoinError),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable, one line per event (ANSI colours when stderr is a terminal).
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Telemetry command-line flags; `#[command(flatten)]` this into a service's settings.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct TelemetrySettings {
    /// Log output format.
    #[arg(long = "log-format", env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// OTLP/HTTP (protobuf) collector base URL, e.g. `http://otel-collector:4318`; `/v1/traces`
    /// is appended unless already present. Spans are only exported when this is set.
    #[arg(long = "otlp-endpoint", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Human,
            otlp_endpoint: None,
        }
    }
}

/// Keeps the installed tracing pipeline alive; flushes and shuts down span export on drop.
///
/// Only the guard returned by the call to [`init`] that actually installed the global
/// subscriber *and* configured an OTLP exporter does anything on drop: it flushes pending
/// spans and shuts the tracer provider down. Without an exporter there is nothing to flush,
/// and the provider is kept alive so that spans keep getting valid trace ids for the rest of
/// the process (important when many tests share one process). Guards from later calls are
/// inert.
#[derive(Debug)]
#[must_use = "dropping the guard immediately shuts down span export"]
pub struct TelemetryGuard {
    installed: bool,
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    fn inert() -> Self {
        Self {
            installed: false,
            provider: None,
        }
    }

    /// True if this guard comes from the call that installed the global subscriber.
    pub fn is_installer(&self) -> bool {
        self.installed
    }

    /// True if spans are being exported over OTLP and this guard will flush them on drop.
    pub fn is_exporting(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(err) = provider.force_flush() {
                tracing::warn!(error = %err, "flushing spans failed");
            }
            if let Err(err) = provider.shutdown() {
                tracing::warn!(error = %err, "shutting down the tracer provider failed");
            }
        }
    }
}

/// Whether some call of ours already installed (or tried to install) the global subscriber.
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Installs the global tracing pipeline for a service.
///
/// - an [`EnvFilter`] from `RUST_LOG` (default `info`) in front of the log output;
/// - a `tracing_subscriber::fmt` layer writing human or JSON lines to stderr;
/// - a `tracing-opentelemetry` layer (spans at `INFO` and above, independent of `RUST_LOG`)
///   backed by an SDK tracer provider, so every such span has a valid W3C trace id even
///   without an exporter;
/// - when [`TelemetrySettings::otlp_endpoint`] is set, an OTLP/HTTP protobuf exporter behind a
///   batch span processor.
///
/// Also sets the global text-map propagator to W3C TraceContext, the global tracer provider,
/// and bridges `log` records (e.g. from librdkafka) into `tracing`.
///
/// Safe to call more than once per process: later calls (and calls made after some other
/// code installed a global subscriber) return an inert guard without error.
///
/// # Errors
///
/// [`TelemetryError::InvalidLogFilter`] if `RUST_LOG` is malformed,
/// [`TelemetryError::Exporter`] if the OTLP exporter cannot be built. Neither is returned by
/// a call made after the pipeline is installed.
pub fn init(
    service_name: &str,
    settings: &TelemetrySettings,
) -> Result<TelemetryGuard, TelemetryError> {
    install(service_name, settings, false)
}

/// Test convenience: like [`init`] with human format, no exporter, `RUST_LOG` or `warn` as the
/// filter (an invalid `RUST_LOG` falls back to `warn`), and output captured by the test harness.
/// Never fails and may be called from every test.
pub fn init_for_tests() {
    let settings = TelemetrySettings::default();
    match install("dsync-test", &settings, true) {
        // Keep the provider alive for the rest of the test process.
        Ok(guard) => std::mem::forget(guard),
        // Unreachable in practice: tests never configure an exporter and the filter is lossy.
        Err(err) => {
            tracing::warn!(error = %err, "init_for_tests could not install telemetry");
        }
    }
}

fn install(
    service_name: &str,
    settings: &TelemetrySettings,
    for_tests: bool,
) -> Result<TelemetryGuard, TelemetryError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if *installed {
        return Ok(TelemetryGuard::inert());
    }

    let env_filter = if for_tests {
        EnvFilter::builder()
            .with_default_directive(LevelFilter::WARN.into())
            .from_env_lossy()
    } else {
        EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .from_env()
            .map_err(TelemetryError::InvalidLogFilter)?
    };

    let endpoint = settings
        .otlp_endpoint
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(traces_endpoint);

    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|source| TelemetryError::Exporter {
                endpoint: endpoint.clone(),
                source,
            })?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer(service_name.to_owned());

    let writer = if for_tests {
        BoxMakeWriter::new(tracing_subscriber::fmt::TestWriter::new())
    } else {
        BoxMakeWriter::new(std::io::stderr)
    };
    let fmt_layer = match settings.log_format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(!for_tests && std::io::stderr().is_terminal())
            .with_filter(env_filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .with_filter(env_filter)
            .boxed(),
    };
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(LevelFilter::INFO);

    let had_global = tracing::dispatcher::has_been_set();
    let subscriber = tracing_subscriber::registry()
        .with(fmt_layer)
        .with(otel_layer);
    // `try_init` sets the global subscriber, then the `log` bridge. The latter can fail on its
    // own when some other `log` logger exists; our subscriber is installed all the same then.
    let ours = match subscriber.try_init() {
        Ok(()) => true,
        Err(_) => !had_global && tracing::dispatcher::has_been_set(),
    };
    // Either way, never try again in this process.
    *installed = true;
    if !ours {
        // Someone else owns the global subscriber; our provider would never see a span.
        let _ = provider.shutdown();
        return Ok(TelemetryGuard::inert());
    }

    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    tracing::debug!(service = service_name, otlp_endpoint = ?endpoint, "telemetry installed");

    Ok(TelemetryGuard {
        installed: true,
        provider: endpoint.is_some().then_some(provider),
    })
}

/// Turns an `OTEL_EXPORTER_OTLP_ENDPOINT`-style base URL into the OTLP/HTTP traces URL.
fn traces_endpoint(base: &str) -> String {
    if base.trim_end_matches('/').ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{}/v1/traces", base.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        telemetry: TelemetrySettings,
    }

    #[test]
    fn traces_endpoint_appends_signal_path_once() {
        assert_eq!(
            traces_endpoint("http://collector:4318"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_endpoint("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_endpoint("http://collector:4318/v1/traces"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_endpoint("http://gw/otlp"),
            "http://gw/otlp/v1/traces"
        );
    }

    #[test]
    fn settings_parse_from_flags() {
        let cli = Cli::try_parse_from([
            "svc",
            "--log-format",
            "json",
            "--otlp-endpoint",
            "http://c:4318",
        ])
        .expect("valid flags");
        assert_eq!(cli.telemetry.log_format, LogFormat::Json);
        assert_eq!(
            cli.telemetry.otlp_endpoint.as_deref(),
            Some("http://c:4318")
        );
        assert!(Cli::try_parse_from(["svc", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn default_settings_are_human_without_exporter() {
        let s = TelemetrySettings::default();
        assert_eq!(s.log_format, LogFormat::Human);
        assert!(s.otlp_endpoint.is_none());
    }

    #[test]
    fn init_is_idempotent() {
        init_for_tests();
        init_for_tests();
        let guard = init("svc", &TelemetrySettings::default()).expect("second init succeeds");
        assert!(!guard.is_installer());
        assert!(!guard.is_exporting());
    }
}

//! The registry's metrics. Names are constants here, in one place; label values are bounded
//! (route templates, methods, status classes, operation kinds).

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

use crate::RegistryError;

/// HTTP requests, by route template, method and status class (`2xx`, `4xx`, ...).
pub const HTTP_REQUESTS: &str = "dsync_registry_http_requests_total";
/// HTTP request latency, by route template and method.
pub const HTTP_DURATION: &str = "dsync_registry_http_request_duration_seconds";
/// Operations of the schemas topic applied, by kind and outcome (`ok`, `rejected`, `skipped`).
pub const OPS_APPLIED: &str = "dsync_registry_log_ops_applied_total";
/// Offset of the last record of the schemas topic applied.
pub const APPLIED_OFFSET: &str = "dsync_registry_log_applied_offset";
/// Time from proposing a write to having applied it, by operation kind.
pub const WRITE_DURATION: &str = "dsync_registry_write_duration_seconds";
/// Schema ids in use.
pub const SCHEMAS: &str = "dsync_registry_schemas";
/// Subjects with at least one version not deleted.
pub const SUBJECTS: &str = "dsync_registry_subjects";

/// Handles to the registry's metrics.
#[derive(Debug, Clone)]
pub struct RegistryMetrics {
    pub(crate) http_requests: IntCounterVec,
    pub(crate) http_duration: HistogramVec,
    pub(crate) ops_applied: IntCounterVec,
    pub(crate) applied_offset: IntGauge,
    pub(crate) write_duration: HistogramVec,
    pub(crate) schemas: IntGauge,
    pub(crate) subjects: IntGauge,
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: Result<T, prometheus::Error>,
) -> Result<T, RegistryError> {
    let c = c.map_err(|e| RegistryError::Config(format!("metric definition: {e}")))?;
    registry
        .register(Box::new(c.clone()))
        .map_err(|e| RegistryError::Config(format!("metric registration: {e}")))?;
    Ok(c)
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl RegistryMetrics {
    /// Registers the metrics in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, RegistryError> {
        Ok(Self {
            http_requests: reg(
                registry,
                IntCounterVec::new(
                    Opts::new(HTTP_REQUESTS, "REST API requests."),
                    &["route", "method", "status"],
                ),
            )?,
            http_duration: reg(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(HTTP_DURATION, "REST API request latency.")
                        .buckets(LATENCY_BUCKETS.to_vec()),
                    &["route", "method"],
                ),
            )?,
            ops_applied: reg(
                registry,
                IntCounterVec::new(
                    Opts::new(OPS_APPLIED, "Operations of the schemas topic applied."),
                    &["op", "outcome"],
                ),
            )?,
            applied_offset: reg(
                registry,
                IntGauge::new(
                    APPLIED_OFFSET,
                    "Offset of the last schemas-topic record applied.",
                ),
            )?,
            write_duration: reg(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        WRITE_DURATION,
                        "Time from proposing a write to having applied it.",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                    &["op"],
                ),
            )?,
            schemas: reg(registry, IntGauge::new(SCHEMAS, "Schema ids in use."))?,
            subjects: reg(
                registry,
                IntGauge::new(SUBJECTS, "Subjects with a version not deleted."),
            )?,
        })
    }
}

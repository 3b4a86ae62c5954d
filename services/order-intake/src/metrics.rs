//! order-intake's metrics. Names are constants here, in one place; label values are bounded
//! (outcomes, channels, reason codes, route templates, topics).

use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::IntakeError;

/// Orders by outcome (`accepted`, `rejected`, `duplicate`, `conflict`) and channel.
pub const ORDERS: &str = "dsync_order_intake_orders_total";
/// Rejection reasons, by code (one order may count several).
pub const REJECTION_REASONS: &str = "dsync_order_intake_rejection_reasons_total";
/// Lines accepted with a submitted price beyond the tolerance, by flag.
pub const PRICE_FLAGS: &str = "dsync_order_intake_price_flags_total";
/// Time to validate one submission against master data and state (the decision itself).
pub const VALIDATION_DURATION: &str = "dsync_order_intake_validation_duration_seconds";
/// Time from submission (`occurred_at`) to its outcome being on the broker, by channel.
pub const INTAKE_LATENCY: &str = "dsync_order_intake_submission_to_outcome_seconds";
/// Submissions published by this instance whose outcome is not known yet.
pub const PENDING: &str = "dsync_order_intake_orders_pending_validation";
/// Submissions published by this instance without an outcome for longer than `--stuck-after`.
pub const STUCK: &str = "dsync_order_intake_orders_stuck_in_validation";
/// HTTP requests, by route template, method and status code.
pub const HTTP_REQUESTS: &str = "dsync_order_intake_http_requests_total";
/// HTTP request latency, by route template and method.
pub const HTTP_DURATION: &str = "dsync_order_intake_http_request_duration_seconds";
/// POST answers that waited for the outcome, by how they ended (`outcome`, `timeout`).
pub const RESULT_WAITS: &str = "dsync_order_intake_result_waits_total";
/// Records of followed topics applied, by topic and result (`applied`, `ignored`, `poison`).
pub const FOLLOWED_RECORDS: &str = "dsync_order_intake_followed_records_total";
/// Master data entries held, by table (customers, items, prices, locations, availability).
pub const MASTER_DATA: &str = "dsync_order_intake_master_data_entries";
/// Orders in the local order history (outcomes known), for duplicate detection and exposure.
pub const KNOWN_ORDERS: &str = "dsync_order_intake_known_orders";
/// Catch-ups with the order history after a submissions partition was (re)assigned.
pub const PARTITION_CATCH_UPS: &str = "dsync_order_intake_partition_catch_ups_total";

/// Handles to the service's metrics.
#[derive(Debug, Clone)]
pub struct IntakeMetrics {
    pub(crate) orders: IntCounterVec,
    pub(crate) rejection_reasons: IntCounterVec,
    pub(crate) price_flags: IntCounterVec,
    pub(crate) validation_duration: HistogramVec,
    pub(crate) intake_latency: HistogramVec,
    pub(crate) pending: IntGauge,
    pub(crate) stuck: IntGauge,
    pub(crate) http_requests: IntCounterVec,
    pub(crate) http_duration: HistogramVec,
    pub(crate) result_waits: IntCounterVec,
    pub(crate) followed: IntCounterVec,
    pub(crate) master_data: IntGaugeVec,
    pub(crate) known_orders: IntGauge,
    pub(crate) catch_ups: IntCounterVec,
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: Result<T, prometheus::Error>,
) -> Result<T, IntakeError> {
    let c = c.map_err(|e| IntakeError::Config(format!("metric definition: {e}")))?;
    registry
        .register(Box::new(c.clone()))
        .map_err(|e| IntakeError::Config(format!("metric registration: {e}")))?;
    Ok(c)
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

impl IntakeMetrics {
    /// Registers the metrics in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, IntakeError> {
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                labels,
            )
        };
        Ok(Self {
            orders: reg(
                registry,
                IntCounterVec::new(
                    Opts::new(ORDERS, "Orders by outcome and channel."),
                    &["outcome", "channel"],
                ),
            )?,
            rejection_reasons: reg(
                registry,
                IntCounterVec::new(
                    Opts::new(REJECTION_REASONS, "Rejection reasons by code."),
                    &["code"],
                ),
            )?,
            price_flags: reg(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        PRICE_FLAGS,
                        "Accepted lines whose submitted price differs beyond the tolerance.",
                    ),
                    &["flag"],
                ),
            )?,
            validation_duration: reg(
                registry,
                histogram(
                    VALIDATION_DURATION,
                    "Time to validate one submission.",
                    &["channel"],
                ),
            )?,
            intake_latency: reg(
                registry,
                histogram(
                    INTAKE_LATENCY,
                    "Time from submission to its outcome on the broker.",
                    &["channel"],
                ),
            )?,
            pending: reg(
                registry,
                IntGauge::new(
                    PENDING,
                    "Submissions published here whose outcome is not known yet.",
                ),
            )?,
            stuck: reg(
                registry,
                IntGauge::new(
                    STUCK,
                    "Submissions published here without an outcome past --stuck-after.",
                ),
            )?,
            http_requests: reg(
                registry,
                IntCounterVec::new(
                    Opts::new(HTTP_REQUESTS, "Order API requests."),
                    &["route", "method", "status"],
                ),
            )?,
            http_duration: reg(
                registry,
                histogram(
                    HTTP_DURATION,
                    "Order API request latency.",
                    &["route", "method"],
                ),
            )?,
            result_waits: reg(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        RESULT_WAITS,
                        "POST answers that waited for the outcome, by how the wait ended.",
                    ),
                    &["result"],
                ),
            )?,
            followed: reg(
                registry,
                IntCounterVec::new(
                    Opts::new(FOLLOWED_RECORDS, "Records of followed topics applied."),
                    &["topic", "result"],
                ),
            )?,
            master_data: reg(
                registry,
                IntGaugeVec::new(
                    Opts::new(MASTER_DATA, "Master data entries held."),
                    &["table"],
                ),
            )?,
            known_orders: reg(
                registry,
                IntGauge::new(KNOWN_ORDERS, "Orders with a known outcome."),
            )?,
            catch_ups: reg(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        PARTITION_CATCH_UPS,
                        "Catch-ups with the order history after a partition assignment.",
                    ),
                    &["result"],
                ),
            )?,
        })
    }
}

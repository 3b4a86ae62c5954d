//! Standard metrics of every consumer and producer. Names are constants here, in one place;
//! label values are bounded (declared topic names, partition numbers, error classes).

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::BusError;

/// Records consumed, by topic.
pub const RECORDS_CONSUMED: &str = "dsync_bus_records_consumed_total";
/// Records produced (delivery acknowledged), by topic.
pub const RECORDS_PRODUCED: &str = "dsync_bus_records_produced_total";
/// Handler latency, by topic.
pub const HANDLER_DURATION: &str = "dsync_bus_handler_duration_seconds";
/// Handler failures, by topic and class (transient, poison, fatal).
pub const HANDLER_ERRORS: &str = "dsync_bus_handler_errors_total";
/// Retries of transient failures, by topic.
pub const HANDLER_RETRIES: &str = "dsync_bus_handler_retries_total";
/// Records dead-lettered, by source topic and reason (poison, parked).
pub const DEAD_LETTERED: &str = "dsync_bus_dead_lettered_total";
/// Consumer lag per partition, from the fetch high-water mark.
pub const CONSUMER_LAG: &str = "dsync_bus_consumer_lag";
/// Producer delivery failures, by topic.
pub const PRODUCE_ERRORS: &str = "dsync_bus_produce_errors_total";
/// Time from handing a record to the producer to the broker's acknowledgement, by topic.
pub const PRODUCE_ACK: &str = "dsync_bus_produce_ack_seconds";
/// Records this process produced and handed straight to its own worker for the partition
/// (`taken`), or left to the fetch (`fetched`: not next in line, or the partition is not ours).
pub const LOCAL_DELIVERIES: &str = "dsync_bus_local_deliveries_total";
/// Times a member left and rejoined its group because the group did not cover its partitions,
/// by group and reason (see `membership::Problem::label`).
pub const CONSUMER_REJOINS: &str = "dsync_bus_consumer_rejoins_total";
/// Partitions this member owns, by group (as the membership watchdog last saw them).
pub const PARTITIONS_OWNED: &str = "dsync_bus_consumer_partitions_owned";
/// Records a materializer (`reader::Materializer`) read, by topic and result: `applied`
/// (changed the state), `unchanged`, `ignored` (not wanted), `skipped` (undecodable).
pub const MATERIALIZED: &str = "dsync_bus_materialized_records_total";

/// Handles to the standard metrics, registered once per registry.
#[derive(Debug, Clone)]
pub struct BusMetrics {
    pub(crate) consumed: IntCounterVec,
    pub(crate) produced: IntCounterVec,
    pub(crate) handler_duration: HistogramVec,
    pub(crate) handler_errors: IntCounterVec,
    pub(crate) retries: IntCounterVec,
    pub(crate) dead_lettered: IntCounterVec,
    pub(crate) lag: IntGaugeVec,
    pub(crate) produce_errors: IntCounterVec,
    pub(crate) local_deliveries: IntCounterVec,
    pub(crate) produce_ack: HistogramVec,
    pub(crate) rejoins: IntCounterVec,
    pub(crate) partitions_owned: IntGaugeVec,
    pub(crate) materialized: IntCounterVec,
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: T,
) -> Result<T, BusError> {
    match registry.register(Box::new(c.clone())) {
        Ok(()) => Ok(c),
        Err(e) => Err(BusError::Internal(format!("metric registration: {e}"))),
    }
}

impl BusMetrics {
    /// Registers the standard metrics in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, BusError> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
                .map_err(|e| BusError::Internal(e.to_string()))
        };
        Ok(Self {
            consumed: reg(
                registry,
                counter(RECORDS_CONSUMED, "Records consumed.", &["topic"])?,
            )?,
            produced: reg(
                registry,
                counter(
                    RECORDS_PRODUCED,
                    "Records produced and acknowledged.",
                    &["topic"],
                )?,
            )?,
            handler_duration: reg(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(HANDLER_DURATION, "Handler latency, outputs included.")
                        .buckets(vec![
                            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                            2.5, 5.0,
                        ]),
                    &["topic"],
                )
                .map_err(|e| BusError::Internal(e.to_string()))?,
            )?,
            handler_errors: reg(
                registry,
                counter(
                    HANDLER_ERRORS,
                    "Handler failures by class.",
                    &["topic", "class"],
                )?,
            )?,
            retries: reg(
                registry,
                counter(
                    HANDLER_RETRIES,
                    "Retries of transient failures.",
                    &["topic"],
                )?,
            )?,
            dead_lettered: reg(
                registry,
                counter(
                    DEAD_LETTERED,
                    "Records dead-lettered.",
                    &["topic", "reason"],
                )?,
            )?,
            lag: reg(
                registry,
                IntGaugeVec::new(
                    Opts::new(CONSUMER_LAG, "Records behind the fetch high-water mark."),
                    &["topic", "partition"],
                )
                .map_err(|e| BusError::Internal(e.to_string()))?,
            )?,
            produce_errors: reg(
                registry,
                counter(PRODUCE_ERRORS, "Producer delivery failures.", &["topic"])?,
            )?,
            produce_ack: reg(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(PRODUCE_ACK, "Enqueue to broker acknowledgement.").buckets(
                        vec![
                            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                            2.5, 5.0,
                        ],
                    ),
                    &["topic"],
                )
                .map_err(|e| BusError::Internal(e.to_string()))?,
            )?,
            local_deliveries: reg(
                registry,
                counter(
                    LOCAL_DELIVERIES,
                    "Own records handed to the local worker (taken) or left to the fetch.",
                    &["topic", "result"],
                )?,
            )?,
            rejoins: reg(
                registry,
                counter(
                    CONSUMER_REJOINS,
                    "Rejoins of a group that did not cover its partitions.",
                    &["group", "reason"],
                )?,
            )?,
            partitions_owned: reg(
                registry,
                IntGaugeVec::new(
                    Opts::new(PARTITIONS_OWNED, "Partitions owned by this member."),
                    &["group"],
                )
                .map_err(|e| BusError::Internal(e.to_string()))?,
            )?,
            materialized: reg(
                registry,
                counter(
                    MATERIALIZED,
                    "Records read by a materializer, by result (applied, unchanged, ignored, skipped).",
                    &["topic", "result"],
                )?,
            )?,
        })
    }

    /// Metrics registered in a private registry (tools and tests that do not export them).
    pub fn unregistered() -> Self {
        #[allow(clippy::expect_used)]
        Self::new(&Registry::new()).expect("fresh registry accepts the standard metrics")
    }
}

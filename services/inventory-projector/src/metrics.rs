//! The projector's business metrics: every name in one place.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::ProjectorError;

/// Movements (and counts) applied to the projection.
pub const MOVEMENTS_APPLIED: &str = "dsync_inventory_movements_applied_total";
/// Movements ignored as duplicates (same warehouse and source sequence seen before).
pub const DUPLICATES: &str = "dsync_inventory_duplicates_total";
/// Sequence gaps detected (a movement named a predecessor that has not arrived).
pub const GAPS_DETECTED: &str = "dsync_inventory_sequence_gaps_detected_total";
/// Gaps still open after the grace period, reported as InventorySequenceGapDetected.
pub const GAPS_REPORTED: &str = "dsync_inventory_sequence_gaps_reported_total";
/// Gaps currently open on the partitions this instance owns.
pub const GAPS_OPEN: &str = "dsync_inventory_sequence_gaps_open";
/// Units of drift found by counts (absolute value of counted - expected).
pub const DRIFT_UNITS: &str = "dsync_inventory_drift_units_total";
/// Drift events (one per mismatched SKU and location), by `corrected`.
pub const DRIFT_EVENTS: &str = "dsync_inventory_drift_events_total";
/// Reservation outcomes by `outcome`: reserved, backordered, unavailable, released,
/// filled (a backorder filled by arriving stock), consumed (picked or shipped), duplicate,
/// stale, unknown_line.
pub const RESERVATIONS: &str = "dsync_inventory_reservations_total";
/// Units consumed from reservations by picks and shipments.
pub const RESERVED_UNITS_CONSUMED: &str = "dsync_inventory_reserved_units_consumed_total";
/// AvailabilityChanged events published.
pub const AVAILABILITY_PUBLISHED: &str = "dsync_inventory_availability_published_total";
/// Records whose event type the projector does not handle (skipped).
pub const IGNORED: &str = "dsync_inventory_ignored_records_total";
/// Inputs delivered again after their state was saved; their outputs were re-emitted.
pub const REEMITTED: &str = "dsync_inventory_reemitted_inputs_total";
/// Positions (SKU and location) held for the owned partitions.
pub const STATE_POSITIONS: &str = "dsync_inventory_state_positions";
/// SKUs held for the owned partitions.
pub const STATE_SKUS: &str = "dsync_inventory_state_skus";
/// Changelog records read while restoring owned partitions.
pub const RESTORED_RECORDS: &str = "dsync_inventory_restored_records_total";

/// The metrics, registered.
#[derive(Debug, Clone)]
pub struct ProjectorMetrics {
    /// [`MOVEMENTS_APPLIED`].
    pub movements_applied: IntCounter,
    /// [`DUPLICATES`].
    pub duplicates: IntCounter,
    /// [`GAPS_DETECTED`].
    pub gaps_detected: IntCounter,
    /// [`GAPS_REPORTED`].
    pub gaps_reported: IntCounter,
    /// [`GAPS_OPEN`].
    pub gaps_open: IntGauge,
    /// [`DRIFT_UNITS`].
    pub drift_units: IntCounter,
    /// [`DRIFT_EVENTS`].
    pub drift_events: IntCounterVec,
    /// [`RESERVATIONS`].
    pub reservations: IntCounterVec,
    /// [`RESERVED_UNITS_CONSUMED`].
    pub consumed_units: IntCounter,
    /// [`AVAILABILITY_PUBLISHED`].
    pub availability_published: IntCounter,
    /// [`IGNORED`].
    pub ignored: IntCounter,
    /// [`REEMITTED`].
    pub reemitted: IntCounter,
    /// [`STATE_POSITIONS`].
    pub state_positions: IntGauge,
    /// [`STATE_SKUS`].
    pub state_skus: IntGauge,
    /// [`RESTORED_RECORDS`].
    pub restored: IntCounter,
}

impl ProjectorMetrics {
    /// Creates and registers them in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, ProjectorError> {
        let m = Self::unregistered()?;
        let reg = |c: Box<dyn prometheus::core::Collector>| {
            registry
                .register(c)
                .map_err(|e| ProjectorError::Config(format!("registering metrics: {e}")))
        };
        reg(Box::new(m.movements_applied.clone()))?;
        reg(Box::new(m.duplicates.clone()))?;
        reg(Box::new(m.gaps_detected.clone()))?;
        reg(Box::new(m.gaps_reported.clone()))?;
        reg(Box::new(m.gaps_open.clone()))?;
        reg(Box::new(m.drift_units.clone()))?;
        reg(Box::new(m.drift_events.clone()))?;
        reg(Box::new(m.reservations.clone()))?;
        reg(Box::new(m.consumed_units.clone()))?;
        reg(Box::new(m.availability_published.clone()))?;
        reg(Box::new(m.ignored.clone()))?;
        reg(Box::new(m.reemitted.clone()))?;
        reg(Box::new(m.state_positions.clone()))?;
        reg(Box::new(m.state_skus.clone()))?;
        reg(Box::new(m.restored.clone()))?;
        Ok(m)
    }

    /// The metrics without a registry (tests, rebuilds).
    pub fn unregistered() -> Result<Self, ProjectorError> {
        let err = |e: prometheus::Error| ProjectorError::Config(format!("metric: {e}"));
        let c = |n: &str, h: &str| IntCounter::new(n, h).map_err(err);
        let g = |n: &str, h: &str| IntGauge::new(n, h).map_err(err);
        Ok(Self {
            movements_applied: c(MOVEMENTS_APPLIED, "Movements and counts applied.")?,
            duplicates: c(DUPLICATES, "Movements ignored as duplicates.")?,
            gaps_detected: c(GAPS_DETECTED, "Sequence gaps detected.")?,
            gaps_reported: c(
                GAPS_REPORTED,
                "Sequence gaps reported after the grace period.",
            )?,
            gaps_open: g(GAPS_OPEN, "Open sequence gaps on owned partitions.")?,
            drift_units: c(DRIFT_UNITS, "Units of drift found by counts.")?,
            drift_events: IntCounterVec::new(
                Opts::new(DRIFT_EVENTS, "Drift events by whether corrected."),
                &["corrected"],
            )
            .map_err(err)?,
            reservations: IntCounterVec::new(
                Opts::new(RESERVATIONS, "Reservation outcomes."),
                &["outcome"],
            )
            .map_err(err)?,
            consumed_units: c(
                RESERVED_UNITS_CONSUMED,
                "Reserved units consumed by picks and shipments.",
            )?,
            availability_published: c(AVAILABILITY_PUBLISHED, "AvailabilityChanged published.")?,
            ignored: c(IGNORED, "Records of event types not handled.")?,
            reemitted: c(
                REEMITTED,
                "Inputs delivered again whose outputs were re-emitted.",
            )?,
            state_positions: g(STATE_POSITIONS, "Positions held for owned partitions.")?,
            state_skus: g(STATE_SKUS, "SKUs held for owned partitions.")?,
            restored: c(RESTORED_RECORDS, "Changelog records read while restoring.")?,
        })
    }
}

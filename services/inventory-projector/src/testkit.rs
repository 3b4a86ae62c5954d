//! Test fixtures shared by this crate's unit tests and the integration tests (`test-util`
//! feature): the input events of the projector, as the WMS and the fulfillment orchestrator
//! publish them, in warehouse `W1`, with deterministic ids and times.

use chrono::{DateTime, Utc};
use dsync_events::{
    AtpPolicy, CountScope, CycleCountSnapshot, Event, EventMetadata, InventoryMovementRecorded,
    LocationCount, MovementType, OrderChannel, ReleaseReason, ReservationReleaseRequested,
    ReservationRequested,
};

/// Metadata of an input event `id` that occurred at `at_ms` in `source`.
pub fn meta<E: Event>(id: &str, at_ms: i64, source: &str) -> EventMetadata {
    EventMetadata {
        event_id: id.into(),
        event_type: E::RECORD_NAME.into(),
        occurred_at: DateTime::<Utc>::from_timestamp_millis(at_ms).unwrap_or_default(),
        correlation_id: id.into(),
        causation_id: None,
        source_system: source.into(),
        schema_version: i32::try_from(E::SCHEMA_VERSION).unwrap_or(1),
    }
}

/// A movement of `sku` at `loc` in warehouse `W1`, number `seq` of the WMS (`prev`: the SKU's
/// previous one), for an order line when `order` is given.
pub fn movement(
    sku: &str,
    loc: &str,
    seq: i64,
    prev: Option<i64>,
    ty: MovementType,
    delta: i64,
    order: Option<(&str, i32)>,
) -> InventoryMovementRecorded {
    InventoryMovementRecorded {
        metadata: meta::<InventoryMovementRecorded>(
            &format!("mv-{sku}-{seq}"),
            1_767_225_600_000 + seq,
            "wms-w1",
        ),
        warehouse_id: "W1".into(),
        source_sequence: seq,
        previous_sku_sequence: prev,
        movement_type: ty,
        sku: sku.into(),
        location_id: loc.into(),
        quantity_delta_base: delta,
        lot_number: None,
        reason_code: None,
        reference_document_type: None,
        reference_document_number: None,
        order_id: order.map(|(o, _)| o.into()),
        order_line_number: order.map(|(_, l)| l),
    }
}

/// A count `id` of `sku` in `W1` at sequence point `seq`.
pub fn count(
    sku: &str,
    id: &str,
    seq: i64,
    scope: CountScope,
    counts: &[(&str, i64)],
) -> CycleCountSnapshot {
    CycleCountSnapshot {
        metadata: meta::<CycleCountSnapshot>(
            &format!("cc-{id}-{sku}"),
            1_767_225_700_000 + seq,
            "wms-w1",
        ),
        snapshot_id: id.into(),
        warehouse_id: "W1".into(),
        source_sequence: seq,
        scope,
        sku: sku.into(),
        counts: counts
            .iter()
            .map(|(l, q)| LocationCount {
                location_id: (*l).into(),
                counted_quantity_base: *q,
            })
            .collect(),
        snapshot_sku_count: 1,
    }
}

/// A reservation request `id` for line 1 of `order`.
pub fn reserve(
    id: &str,
    sku: &str,
    loc: &str,
    order: &str,
    qty: i64,
    policy: AtpPolicy,
) -> ReservationRequested {
    ReservationRequested {
        metadata: meta::<ReservationRequested>(id, 1_767_225_650_000, "fulfillment-orchestrator"),
        request_id: id.into(),
        order_id: order.into(),
        line_number: 1,
        sku: sku.into(),
        location_id: loc.into(),
        quantity_base: qty,
        policy,
        channel: OrderChannel::Http,
        requested_ship_date: None,
    }
}

/// A release request `id` for line 1 of `order` (`qty` None: everything).
pub fn release(
    id: &str,
    sku: &str,
    loc: &str,
    order: &str,
    qty: Option<i64>,
) -> ReservationReleaseRequested {
    ReservationReleaseRequested {
        metadata: meta::<ReservationReleaseRequested>(
            id,
            1_767_225_660_000,
            "fulfillment-orchestrator",
        ),
        request_id: id.into(),
        order_id: order.into(),
        line_number: 1,
        sku: sku.into(),
        location_id: loc.into(),
        quantity_base: qty,
        reason: ReleaseReason::OrderCancelled,
        reason_text: None,
    }
}

//! Warehouse movements and cycle-count snapshots (`inventory.movements`).

use std::collections::BTreeMap;

use dsync_events::{
    CountScope, CycleCountSnapshot, InventoryDriftDetected, InventoryMovementRecorded, MovementType,
};

use super::{fill_backorders, line_key, publish_changes, Cause, Ctx, Effects, Output};
use crate::state::{Observed, Position, SkuState};

/// Applies one movement: deduplicated on (warehouse, source sequence), gaps tracked, the
/// delta added to on hand unless an adopted count already covers its sequence, a PICK or SHIP
/// for an order line consumes the line's reservation (once), queued backorders are filled and
/// availability is published when a channel's ATP changed. Returns whether the state changed.
pub fn apply_movement(
    ctx: &Ctx,
    st: &mut SkuState,
    m: &InventoryMovementRecorded,
    now_ms: i64,
    fx: &mut Effects,
) -> bool {
    let sku = m.sku.as_str();
    let loc = m.location_id.as_str();
    let tracker = st.trackers.entry(m.warehouse_id.to_string()).or_default();
    match tracker.observe(
        m.source_sequence,
        m.previous_sku_sequence,
        now_ms,
        ctx.max_pending,
    ) {
        Observed::Duplicate => {
            fx.counts.duplicates += 1;
            return false;
        }
        Observed::New { gap_opened, .. } => {
            if gap_opened {
                fx.counts.gaps_opened += 1;
            }
        }
    }
    let at = m.metadata.occurred_at.timestamp_millis();
    st.latest_event_at = st.latest_event_at.max(at);
    let pos = st
        .positions
        .entry(loc.to_owned())
        .or_insert_with(|| Position::new(&m.warehouse_id));
    if pos.warehouse_id.is_empty() {
        pos.warehouse_id = m.warehouse_id.to_string();
    }
    pos.last_movement_at = Some(pos.last_movement_at.map_or(at, |t| t.max(at)));
    if m.source_sequence > pos.count_seq {
        pos.on_hand += m.quantity_delta_base;
        pos.record_history(m.source_sequence, m.quantity_delta_base, ctx.count_history);
    }
    // Otherwise it is already reflected in the count adopted at a later sequence point.
    if matches!(m.movement_type, MovementType::Pick | MovementType::Ship)
        && m.quantity_delta_base < 0
    {
        if let (Some(order), Some(line_no)) = (&m.order_id, m.order_line_number) {
            let key = line_key(order, line_no);
            if let Some(line) = pos.lines.get_mut(&key) {
                let consumed = (-m.quantity_delta_base).min(line.reserved);
                line.reserved -= consumed;
                fx.counts.consumed_units += consumed as u64;
                if consumed > 0 {
                    fx.counts.outcomes[5] += 1;
                }
                if line.reserved == 0 && line.backordered == 0 {
                    pos.lines.remove(&key);
                }
            }
        }
    }
    fx.counts.applied += 1;
    fx.touched.insert(loc.to_owned());
    let cause = Cause::of(&m.metadata);
    if let Some(pos) = st.positions.get_mut(loc) {
        fill_backorders(ctx, sku, loc, pos, &cause, fx);
    }
    publish_changes(ctx, sku, st, &cause, fx);
    true
}

/// Applies a count: for each counted location (and, for a FULL count, each other location of
/// the warehouse holding the SKU, counted as zero) the projected on hand as of the count's
/// sequence point is compared with the count; a difference is an InventoryDriftDetected, and
/// the projection adopts the count (on hand = counted + movements after the sequence point)
/// unless the drift exceeds the auto-correction limit. Counts older than the sequence point
/// already adopted, or older than the movement history kept, are skipped.
pub fn apply_snapshot(
    ctx: &Ctx,
    st: &mut SkuState,
    s: &CycleCountSnapshot,
    fx: &mut Effects,
) -> bool {
    let sku = s.sku.as_str();
    let at_seq = s.source_sequence;
    let mut counted: BTreeMap<String, i64> = s
        .counts
        .iter()
        .map(|c| (c.location_id.to_string(), c.counted_quantity_base))
        .collect();
    if s.scope == CountScope::Full {
        for (loc, pos) in &st.positions {
            if pos.warehouse_id == s.warehouse_id.as_str() {
                counted.entry(loc.clone()).or_insert(0);
            }
        }
    }
    let cause = Cause::of(&s.metadata);
    let mut changed = false;
    for (loc, qty) in counted {
        let pos = st
            .positions
            .entry(loc.clone())
            .or_insert_with(|| Position::new(&s.warehouse_id));
        if pos.warehouse_id.is_empty() {
            pos.warehouse_id = s.warehouse_id.to_string();
        }
        if at_seq <= pos.count_seq || at_seq <= pos.reported_count_seq {
            fx.counts.duplicates += 1;
            continue;
        }
        if at_seq < pos.history_floor {
            fx.counts.stale_counts += 1;
            continue;
        }
        let after: i64 = pos
            .history
            .iter()
            .filter(|h| h.seq > at_seq)
            .map(|h| h.delta)
            .sum();
        let expected = pos.on_hand - after;
        let diff = qty - expected;
        let correct = ctx
            .drift_auto_correct_max
            .is_none_or(|max| diff.abs() <= max);
        if diff != 0 {
            fx.counts.drift_units += diff.unsigned_abs();
            if correct {
                fx.counts.drifts_corrected += 1;
            } else {
                fx.counts.drifts_reported += 1;
            }
            if fx.emit {
                let fact = format!("drift/{}/{sku}/{loc}", s.snapshot_id);
                let drift_id =
                    dsync_bus::EventHeaders::deterministic_id(super::SOURCE_SYSTEM, &fact);
                fx.outputs.push(Output::Drift(InventoryDriftDetected {
                    metadata: cause.metadata::<InventoryDriftDetected>(&format!("{fact}/event")),
                    drift_id: drift_id.into(),
                    sku: sku.into(),
                    warehouse_id: s.warehouse_id.clone(),
                    location_id: loc.as_str().into(),
                    snapshot_id: s.snapshot_id.clone(),
                    source_sequence: at_seq,
                    expected_quantity_base: expected,
                    counted_quantity_base: qty,
                    difference_base: diff,
                    corrected: correct,
                }));
            }
        }
        if correct {
            pos.on_hand = qty + after;
            pos.count_seq = at_seq;
            pos.history.retain(|h| h.seq > at_seq);
            pos.history_floor = pos.history_floor.max(at_seq);
        } else {
            pos.reported_count_seq = at_seq;
        }
        changed = true;
        fx.touched.insert(loc);
    }
    if !changed {
        return false;
    }
    fx.counts.applied += 1;
    st.latest_event_at = st
        .latest_event_at
        .max(s.metadata.occurred_at.timestamp_millis());
    let touched: Vec<String> = fx.touched.iter().cloned().collect();
    for loc in touched {
        if let Some(pos) = st.positions.get_mut(&loc) {
            fill_backorders(ctx, sku, &loc, pos, &cause, fx);
        }
    }
    publish_changes(ctx, sku, st, &cause, fx);
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::handlers::Output;

    /// A movement of SKU `S1` at `loc`.
    pub fn mv(
        seq: i64,
        prev: Option<i64>,
        ty: MovementType,
        loc: &str,
        delta: i64,
    ) -> InventoryMovementRecorded {
        crate::testkit::movement("S1", loc, seq, prev, ty, delta, None)
    }

    /// A count `id` of SKU `S1`.
    pub fn count(
        id: &str,
        seq: i64,
        scope: CountScope,
        counts: &[(&str, i64)],
    ) -> CycleCountSnapshot {
        crate::testkit::count("S1", id, seq, scope, counts)
    }

    fn on_hand(st: &SkuState, loc: &str) -> i64 {
        st.positions.get(loc).map_or(0, |p| p.on_hand)
    }

    #[test]
    fn duplicates_are_ignored_and_out_of_order_deltas_commute() {
        let ctx = Ctx::default();
        let mut st = SkuState::default();
        let mut fx = Effects::emitting();
        assert!(apply_movement(
            &ctx,
            &mut st,
            &mv(1, Some(0), MovementType::Receipt, "L1", 10),
            0,
            &mut fx
        ));
        assert!(!apply_movement(
            &ctx,
            &mut st,
            &mv(1, Some(0), MovementType::Receipt, "L1", 10),
            0,
            &mut fx
        ));
        // 3 before 2.
        assert!(apply_movement(
            &ctx,
            &mut st,
            &mv(3, Some(2), MovementType::Adjustment, "L1", -1),
            0,
            &mut fx
        ));
        assert_eq!(fx.counts.gaps_opened, 1);
        assert_eq!(st.trackers["W1"].gaps.len(), 1);
        assert!(apply_movement(
            &ctx,
            &mut st,
            &mv(2, Some(1), MovementType::Receipt, "L1", 5),
            0,
            &mut fx
        ));
        assert!(st.trackers["W1"].gaps.is_empty());
        assert_eq!(st.trackers["W1"].watermark, 3);
        assert_eq!(on_hand(&st, "L1"), 14);
        assert_eq!(fx.counts.duplicates, 1);
        assert_eq!(fx.counts.applied, 3);
        let versions: Vec<i64> = fx
            .outputs
            .iter()
            .filter_map(|o| match o {
                Output::Availability(a) => Some(a.position_version),
                _ => None,
            })
            .collect();
        assert_eq!(versions, vec![1, 2, 3]);
    }

    #[test]
    fn count_resets_on_hand_at_its_sequence_point_and_reports_drift() {
        let ctx = Ctx::default();
        let mut st = SkuState::default();
        let mut fx = Effects::emitting();
        apply_movement(
            &ctx,
            &mut st,
            &mv(1, Some(0), MovementType::Receipt, "L1", 10),
            0,
            &mut fx,
        );
        // 5 names 2 as its predecessor, which arrives only after the count.
        apply_movement(
            &ctx,
            &mut st,
            &mv(5, Some(2), MovementType::Adjustment, "L1", -2),
            0,
            &mut fx,
        );
        // The count at sequence 3 says 7 (projection as of 3: 10): drift -3; the movement at 5
        // applies on top: 5.
        let mut fx = Effects::emitting();
        assert!(apply_snapshot(
            &ctx,
            &mut st,
            &count("C1", 3, CountScope::Partial, &[("L1", 7)]),
            &mut fx
        ));
        assert_eq!(on_hand(&st, "L1"), 5);
        let drifts: Vec<_> = fx
            .outputs
            .iter()
            .filter_map(|o| match o {
                Output::Drift(d) => Some(d.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(drifts.len(), 1);
        assert_eq!(drifts[0].expected_quantity_base, 10);
        assert_eq!(drifts[0].counted_quantity_base, 7);
        assert_eq!(drifts[0].difference_base, -3);
        assert!(drifts[0].corrected);
        // A late movement below the count's sequence point does not change on hand again.
        let mut fx = Effects::emitting();
        assert!(apply_movement(
            &ctx,
            &mut st,
            &mv(2, Some(1), MovementType::Adjustment, "L1", -3),
            0,
            &mut fx
        ));
        assert_eq!(on_hand(&st, "L1"), 5);
        // The same count again, and an older one, change nothing.
        assert!(!apply_snapshot(
            &ctx,
            &mut st,
            &count("C1", 3, CountScope::Partial, &[("L1", 7)]),
            &mut fx
        ));
        assert!(!apply_snapshot(
            &ctx,
            &mut st,
            &count("C0", 2, CountScope::Partial, &[("L1", 1)]),
            &mut fx
        ));
    }

    #[test]
    fn full_count_zeroes_uncounted_locations_and_big_drift_is_only_reported() {
        let ctx = Ctx {
            drift_auto_correct_max: Some(5),
            ..Ctx::default()
        };
        let mut st = SkuState::default();
        let mut fx = Effects::emitting();
        apply_movement(
            &ctx,
            &mut st,
            &mv(1, Some(0), MovementType::Receipt, "L1", 10),
            0,
            &mut fx,
        );
        apply_movement(
            &ctx,
            &mut st,
            &mv(2, Some(1), MovementType::Receipt, "L2", 3),
            0,
            &mut fx,
        );
        let mut fx = Effects::emitting();
        assert!(apply_snapshot(
            &ctx,
            &mut st,
            &count("C1", 2, CountScope::Full, &[("L1", 30)]),
            &mut fx
        ));
        // L1: drift +20 > 5, reported, not corrected. L2: absent from a FULL count: zero, -3.
        assert_eq!(on_hand(&st, "L1"), 10);
        assert_eq!(on_hand(&st, "L2"), 0);
        assert_eq!(fx.counts.drifts_reported, 1);
        assert_eq!(fx.counts.drifts_corrected, 1);
        assert_eq!(fx.counts.drift_units, 23);
    }
}

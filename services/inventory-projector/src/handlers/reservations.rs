//! Reservation and release requests (`inventory.reservation-requests`).
//!
//! One partition owner handles every request and movement of a SKU in order, so the decision
//! "is this unit still available" is taken against the one current state: the last unit is
//! promised once. Requests are deduplicated by request_id (kept for the retention), so a
//! request delivered again after a restart, a rebalance or a replay changes nothing.

use chrono::NaiveDate;
use dsync_events::{
    AtpPolicy, ReservationReleaseRequested, ReservationReleased, ReservationRequested,
    StockBackordered, StockReserved, StockUnavailable,
};

use super::{channel_atp, fill_backorders, line_key, publish_changes, Cause, Ctx, Effects, Output};
use crate::state::{Line, Position, RequestRecord, SkuState};
use crate::ProjectorError;

/// Whether a request is new; records the time and prunes records past the retention.
/// `Ok(false)`: duplicate or stale (counted, nothing else to do).
fn admit(ctx: &Ctx, st: &mut SkuState, request_id: &str, at: i64, fx: &mut Effects) -> bool {
    if st.requests.contains_key(request_id) {
        fx.counts.duplicates += 1;
        return false;
    }
    let horizon = st.latest_event_at.saturating_sub(ctx.request_retention_ms);
    if at < horizon {
        fx.counts.outcomes[6] += 1;
        return false;
    }
    st.latest_event_at = st.latest_event_at.max(at);
    let horizon = st.latest_event_at.saturating_sub(ctx.request_retention_ms);
    st.requests.retain(|_, r| r.occurred_at >= horizon);
    true
}

fn days(d: Option<NaiveDate>) -> Option<i32> {
    d.map(|d| {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        (d - epoch).num_days() as i32
    })
}

/// Reserves for an order line what its channel may promise; the shortfall is refused (REJECT:
/// nothing reserved), queued (BACKORDER) or given up (PARTIAL). Returns whether the state
/// changed (false for a duplicate or stale request).
pub fn apply_reservation(
    ctx: &Ctx,
    st: &mut SkuState,
    r: &ReservationRequested,
    fx: &mut Effects,
) -> Result<bool, ProjectorError> {
    if r.quantity_base <= 0 {
        return Err(ProjectorError::Invalid(format!(
            "request {}: quantity_base {} must be positive",
            r.request_id, r.quantity_base
        )));
    }
    let at = r.metadata.occurred_at.timestamp_millis();
    if !admit(ctx, st, &r.request_id, at, fx) {
        return Ok(false);
    }
    let sku = r.sku.as_str();
    let loc = r.location_id.as_str();
    let cause = Cause::of(&r.metadata);
    let available = st
        .positions
        .get(loc)
        .map_or(0, |p| channel_atp(ctx, sku, loc, p, r.channel));
    let want = r.quantity_base;
    let (reserve, backorder, unavailable) = match r.policy {
        AtpPolicy::Backorder => {
            let t = want.min(available);
            (t, want - t, 0)
        }
        AtpPolicy::Partial => {
            let t = want.min(available);
            (t, 0, want - t)
        }
        // REJECT, and a policy this version does not know: all or nothing.
        _ => {
            if available >= want {
                (want, 0, 0)
            } else {
                (0, 0, want)
            }
        }
    };
    st.requests.insert(
        r.request_id.to_string(),
        RequestRecord {
            occurred_at: at,
            kind: 0,
            location_id: loc.to_owned(),
            reserved: reserve,
            backordered: backorder,
            unavailable,
            released: 0,
        },
    );
    let key = line_key(&r.order_id, r.line_number);
    let (line_reserved, line_backordered) = if reserve > 0 || backorder > 0 {
        let pos = st
            .positions
            .entry(loc.to_owned())
            .or_insert_with(|| Position::new(""));
        pos.queue_counter += 1;
        let queued_at = pos.queue_counter;
        let line = pos.lines.entry(key.clone()).or_insert_with(|| Line {
            order_id: r.order_id.to_string(),
            line_number: r.line_number,
            channel: r.channel.as_str().to_owned(),
            ..Line::default()
        });
        line.reserved += reserve;
        if backorder > 0 {
            line.backordered += backorder;
            line.queued_at = queued_at;
            line.requested_ship_date = days(r.requested_ship_date);
            line.backorder_request_id = r.request_id.to_string();
            line.channel = r.channel.as_str().to_owned();
        }
        fx.touched.insert(loc.to_owned());
        (line.reserved, line.backordered)
    } else {
        st.positions
            .get(loc)
            .and_then(|p| p.lines.get(&key))
            .map_or((0, 0), |l| (l.reserved, l.backordered))
    };
    if reserve > 0 {
        fx.counts.outcomes[0] += 1;
    }
    if backorder > 0 {
        fx.counts.outcomes[1] += 1;
    }
    if unavailable > 0 {
        fx.counts.outcomes[2] += 1;
    }
    if fx.emit {
        let id = r.request_id.as_str();
        if reserve > 0 {
            fx.outputs.push(Output::Reserved(StockReserved {
                metadata: cause.metadata::<StockReserved>(&format!("{id}/reserved")),
                request_id: r.request_id.clone(),
                order_id: r.order_id.clone(),
                line_number: r.line_number,
                sku: r.sku.clone(),
                location_id: r.location_id.clone(),
                reserved_quantity_base: reserve,
                line_reserved_total_base: line_reserved,
                from_backorder: false,
            }));
        }
        if backorder > 0 {
            fx.outputs.push(Output::Backordered(StockBackordered {
                metadata: cause.metadata::<StockBackordered>(&format!("{id}/backordered")),
                request_id: r.request_id.clone(),
                order_id: r.order_id.clone(),
                line_number: r.line_number,
                sku: r.sku.clone(),
                location_id: r.location_id.clone(),
                backordered_quantity_base: backorder,
                line_backordered_total_base: line_backordered,
            }));
        }
        if unavailable > 0 {
            fx.outputs.push(Output::Unavailable(StockUnavailable {
                metadata: cause.metadata::<StockUnavailable>(&format!("{id}/unavailable")),
                request_id: r.request_id.clone(),
                order_id: r.order_id.clone(),
                line_number: r.line_number,
                sku: r.sku.clone(),
                location_id: r.location_id.clone(),
                requested_quantity_base: want,
                unavailable_quantity_base: unavailable,
                available_quantity_base: available,
                policy: r.policy,
            }));
        }
    }
    publish_changes(ctx, sku, st, &cause, fx);
    Ok(true)
}

/// Gives back what an order line holds: `quantity_base` reserved units (then queued ones), or
/// everything when null. A line (or SKU, or location) the projector does not know is answered
/// with a ReservationReleased of zero units: a business outcome, not a failure. Freed units
/// fill queued backorders.
pub fn apply_release(
    ctx: &Ctx,
    st: &mut SkuState,
    r: &ReservationReleaseRequested,
    fx: &mut Effects,
) -> bool {
    let at = r.metadata.occurred_at.timestamp_millis();
    if !admit(ctx, st, &r.request_id, at, fx) {
        return false;
    }
    let sku = r.sku.as_str();
    let loc = r.location_id.as_str();
    let cause = Cause::of(&r.metadata);
    let key = line_key(&r.order_id, r.line_number);
    let mut released = (0, 0);
    let mut remaining = 0;
    let mut known = false;
    if let Some(pos) = st.positions.get_mut(loc) {
        if let Some(line) = pos.lines.get_mut(&key) {
            known = true;
            let (a, b) = match r.quantity_base {
                None => (line.reserved, line.backordered),
                Some(q) => {
                    let q = q.max(0);
                    let a = q.min(line.reserved);
                    (a, (q - a).min(line.backordered))
                }
            };
            line.reserved -= a;
            line.backordered -= b;
            remaining = line.reserved;
            released = (a, b);
            if line.reserved == 0 && line.backordered == 0 {
                pos.lines.remove(&key);
            }
            fx.touched.insert(loc.to_owned());
            fill_backorders(ctx, sku, loc, pos, &cause, fx);
        }
    }
    fx.counts.outcomes[if known { 3 } else { 7 }] += 1;
    st.requests.insert(
        r.request_id.to_string(),
        RequestRecord {
            occurred_at: at,
            kind: 1,
            location_id: loc.to_owned(),
            released: released.0 + released.1,
            ..RequestRecord::default()
        },
    );
    if fx.emit {
        fx.outputs.push(Output::Released(ReservationReleased {
            metadata: cause.metadata::<ReservationReleased>(&format!("{}/released", r.request_id)),
            request_id: r.request_id.clone(),
            order_id: r.order_id.clone(),
            line_number: r.line_number,
            sku: r.sku.clone(),
            location_id: r.location_id.clone(),
            released_quantity_base: released.0,
            released_backorder_quantity_base: released.1,
            line_reserved_total_base: remaining,
            reason: r.reason,
        }));
    }
    publish_changes(ctx, sku, st, &cause, fx);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::movements::apply_movement;
    use crate::handlers::movements::tests::mv;
    use dsync_events::MovementType;

    fn req(id: &str, order: &str, qty: i64, policy: AtpPolicy) -> ReservationRequested {
        crate::testkit::reserve(id, "S1", "L1", order, qty, policy)
    }

    fn release(id: &str, order: &str, qty: Option<i64>) -> ReservationReleaseRequested {
        crate::testkit::release(id, "S1", "L1", order, qty)
    }

    fn stocked(n: i64) -> (Ctx, SkuState) {
        let ctx = Ctx::default();
        let mut st = SkuState::default();
        apply_movement(
            &ctx,
            &mut st,
            &mv(1, Some(0), MovementType::Receipt, "L1", n),
            0,
            &mut Effects::silent(),
        );
        (ctx, st)
    }

    fn pos(st: &SkuState) -> &Position {
        &st.positions["L1"]
    }

    #[test]
    fn the_last_unit_is_promised_once() -> Result<(), ProjectorError> {
        let (ctx, mut st) = stocked(1);
        let mut fx = Effects::emitting();
        assert!(apply_reservation(
            &ctx,
            &mut st,
            &req("r1", "O1", 1, AtpPolicy::Reject),
            &mut fx
        )?);
        assert!(apply_reservation(
            &ctx,
            &mut st,
            &req("r2", "O2", 1, AtpPolicy::Reject),
            &mut fx
        )?);
        // Delivered again: nothing changes.
        assert!(!apply_reservation(
            &ctx,
            &mut st,
            &req("r1", "O1", 1, AtpPolicy::Reject),
            &mut fx
        )?);
        assert_eq!(fx.counts.outcomes[0], 1);
        assert_eq!(fx.counts.outcomes[2], 1);
        assert_eq!(pos(&st).reserved(), 1);
        assert_eq!(pos(&st).available(), 0);
        let kinds: Vec<&str> = fx
            .outputs
            .iter()
            .map(|o| match o {
                Output::Reserved(_) => "reserved",
                Output::Unavailable(_) => "unavailable",
                Output::Availability(_) => "availability",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, vec!["reserved", "availability", "unavailable"]);
        Ok(())
    }

    #[test]
    fn backorder_is_filled_when_stock_arrives_and_partial_gives_up_the_rest(
    ) -> Result<(), ProjectorError> {
        let (ctx, mut st) = stocked(3);
        let mut fx = Effects::emitting();
        apply_reservation(
            &ctx,
            &mut st,
            &req("r1", "O1", 5, AtpPolicy::Backorder),
            &mut fx,
        )?;
        assert_eq!(pos(&st).reserved(), 3);
        assert_eq!(pos(&st).backordered(), 2);
        apply_reservation(
            &ctx,
            &mut st,
            &req("r2", "O2", 4, AtpPolicy::Partial),
            &mut fx,
        )?;
        assert_eq!(fx.counts.outcomes[2], 1);
        let mut fx = Effects::emitting();
        apply_movement(
            &ctx,
            &mut st,
            &mv(2, Some(1), MovementType::Receipt, "L1", 10),
            0,
            &mut fx,
        );
        assert_eq!(pos(&st).backordered(), 0);
        assert_eq!(pos(&st).reserved(), 5);
        let fill = fx.outputs.iter().find_map(|o| match o {
            Output::Reserved(r) => Some(r.clone()),
            _ => None,
        });
        let fill = fill.ok_or_else(|| ProjectorError::Internal("no fill".into()))?;
        assert!(fill.from_backorder);
        assert_eq!(fill.request_id.as_str(), "r1");
        assert_eq!(fill.reserved_quantity_base, 2);
        Ok(())
    }

    #[test]
    fn cancel_releases_and_pick_consumes_once() -> Result<(), ProjectorError> {
        let (ctx, mut st) = stocked(10);
        let mut fx = Effects::emitting();
        apply_reservation(
            &ctx,
            &mut st,
            &req("r1", "O1", 4, AtpPolicy::Reject),
            &mut fx,
        )?;
        apply_reservation(
            &ctx,
            &mut st,
            &req("r2", "O2", 3, AtpPolicy::Reject),
            &mut fx,
        )?;
        assert!(apply_release(
            &ctx,
            &mut st,
            &release("x1", "O2", None),
            &mut fx
        ));
        assert!(!apply_release(
            &ctx,
            &mut st,
            &release("x1", "O2", None),
            &mut fx
        ));
        assert_eq!(pos(&st).reserved(), 4);
        let mut pick = mv(2, Some(1), MovementType::Pick, "L1", -4);
        pick.order_id = Some("O1".into());
        pick.order_line_number = Some(1);
        assert!(apply_movement(&ctx, &mut st, &pick, 0, &mut fx));
        assert!(!apply_movement(&ctx, &mut st, &pick, 0, &mut fx));
        assert_eq!(pos(&st).on_hand, 6);
        assert_eq!(pos(&st).reserved(), 0);
        assert_eq!(fx.counts.consumed_units, 4);
        // Unknown line: a zero release, not an error.
        let mut fx = Effects::emitting();
        assert!(apply_release(
            &ctx,
            &mut st,
            &release("x2", "NOPE", Some(1)),
            &mut fx
        ));
        assert_eq!(fx.counts.outcomes[7], 1);
        assert!(matches!(&fx.outputs[..], [Output::Released(r)] if r.released_quantity_base == 0));
        Ok(())
    }

    #[test]
    fn invalid_quantity_is_refused() {
        let (ctx, mut st) = stocked(1);
        assert!(apply_reservation(
            &ctx,
            &mut st,
            &req("r1", "O1", 0, AtpPolicy::Reject),
            &mut Effects::silent()
        )
        .is_err());
    }
}

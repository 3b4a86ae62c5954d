//! Applying `orders.events`, order-intake's changelog, to the order history: outcomes
//! (`OrderAccepted`, `OrderRejected`) become known orders (duplicate indexes, exposure), and
//! `OrderCancelled` takes the cancelled value out of the customer's exposure. Other event types
//! are skipped without decoding (by their `event_type` header).
//!
//! An outcome record carries two headers besides the standard ones: the submission's content
//! hash and event id, so a restarted instance tells a retry from a conflicting reuse of the
//! key, and a redelivered submission from a new one.

use std::sync::Arc;

use dsync_events::AnyEvent;

use crate::state::{IntakeState, OrderRecord};

/// Header of outcome records: the content hash of the submission decided.
pub const CONTENT_HASH_HEADER: &str = "intake.content_hash";
/// Header of outcome records: the event id of the submission decided.
pub const SUBMISSION_HEADER: &str = "intake.submission_event_id";

/// Whether records of `event_type` matter to order-intake.
pub fn wanted(event_type: &str) -> bool {
    matches!(
        event_type,
        "OrderAccepted" | "OrderRejected" | "OrderCancelled"
    )
}

/// What applying a record did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// An outcome; `true` when it was new.
    Outcome(Arc<OrderRecord>, bool),
    /// A cancellation changed the exposure.
    Cancelled,
    /// Nothing changed.
    Ignored,
}

/// The record of an outcome event, if it is one.
pub fn outcome_record(
    event: AnyEvent,
    content_hash: Option<String>,
    submission_event_id: Option<String>,
) -> Option<OrderRecord> {
    match event {
        AnyEvent::OrderAccepted(a) => {
            Some(OrderRecord::accepted(a, content_hash, submission_event_id))
        }
        AnyEvent::OrderRejected(r) => {
            Some(OrderRecord::rejected(r, content_hash, submission_event_id))
        }
        _ => None,
    }
}

/// Applies one decoded event of `orders.events`.
pub fn apply(
    state: &mut IntakeState,
    event: AnyEvent,
    content_hash: Option<String>,
    submission_event_id: Option<String>,
) -> Applied {
    if let AnyEvent::OrderCancelled(c) = &event {
        return if state.apply_cancel(c) {
            Applied::Cancelled
        } else {
            Applied::Ignored
        };
    }
    match outcome_record(event, content_hash, submission_event_id) {
        Some(rec) => {
            let (held, inserted) = state.record(rec);
            Applied::Outcome(held, inserted)
        }
        None => Applied::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testkit::*;
    use dsync_events::{CancelledLine, OrderCancelled, OrderRejected};

    #[test]
    fn outcomes_are_recorded_once_and_cancellations_release_exposure() {
        let mut state = IntakeState::default();
        let a = accepted("O1", "C1", 10_000, &[(1, 10, 10_000)]);
        let Applied::Outcome(rec, true) = apply(
            &mut state,
            a.clone().into(),
            Some("h1".into()),
            Some("s1".into()),
        ) else {
            panic!("first outcome is new");
        };
        assert_eq!(rec.status(), "ACCEPTED");
        assert_eq!(state.open_orders_value("C1", 0), 10_000);
        // the same outcome again (write-through, then the follower): no double count
        assert!(matches!(
            apply(&mut state, a.into(), Some("h1".into()), Some("s1".into())),
            Applied::Outcome(_, false)
        ));
        assert_eq!(state.open_orders_value("C1", 0), 10_000);
        // a later, different outcome for the same order does not replace the first
        let r = OrderRejected {
            order_id: "O1".into(),
            customer_id: "C1".into(),
            ..Default::default()
        };
        let Applied::Outcome(held, false) = apply(&mut state, r.into(), None, None) else {
            panic!("first outcome stands");
        };
        assert!(held.is_accepted());

        let cancel = OrderCancelled {
            order_id: "O1".into(),
            customer_id: "C1".into(),
            lines: vec![CancelledLine {
                line_number: 1,
                sku: "SKU-1".into(),
                cancelled_quantity_base: 4,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut c = cancel.clone();
        c.metadata.event_id = "cancel-1".into();
        assert_eq!(
            apply(&mut state, c.clone().into(), None, None),
            Applied::Cancelled
        );
        assert_eq!(
            apply(&mut state, c.into(), None, None),
            Applied::Ignored,
            "deduplicated by event id"
        );
        assert_eq!(state.open_orders_value("C1", 0), 6_000);
    }
}

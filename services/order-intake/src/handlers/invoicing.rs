//! Applying `invoicing.events`: a posted invoice moves its amount from "accepted, not yet
//! invoiced" into the ERP's open balance. The customer's exposure counts it in the open
//! balance once the ERP's `balance_as_of` is at or after the posting time, and in the open
//! orders until then, so it is never counted twice nor missed.

use dsync_events::AnyEvent;

use crate::state::IntakeState;

/// Whether records of `event_type` matter to order-intake.
pub fn wanted(event_type: &str) -> bool {
    event_type == "InvoicePosted"
}

/// Applies one decoded event of `invoicing.events`; whether it changed anything.
pub fn apply(state: &mut IntakeState, event: &AnyEvent) -> bool {
    match event {
        AnyEvent::InvoicePosted(inv) => state.apply_invoice(inv),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testkit::*;
    use chrono::TimeZone;
    use dsync_events::{InvoicePosted, Money};

    #[test]
    fn an_invoice_leaves_the_open_orders_once_the_balance_includes_it() {
        let mut state = IntakeState::default();
        crate::handlers::order_events::apply(
            &mut state,
            accepted("O1", "C1", 10_000, &[(1, 10, 10_000)]).into(),
            None,
            None,
        );
        let mut inv = InvoicePosted {
            invoice_request_id: "IR1".into(),
            order_id: "O1".into(),
            customer_id: "C1".into(),
            merchandise_amount: Money {
                amount_minor: 10_000,
                currency: "USD".into(),
            },
            ..Default::default()
        };
        inv.metadata.occurred_at = chrono::Utc
            .timestamp_millis_opt(5_000)
            .single()
            .expect("ts");
        let event = AnyEvent::from(inv);
        assert!(apply(&mut state, &event));
        assert!(!apply(&mut state, &event), "the same invoice twice");
        // the ERP balance was computed before the posting: still in the open orders
        assert_eq!(state.open_orders_value("C1", 4_999), 10_000);
        // the balance includes it now
        assert_eq!(state.open_orders_value("C1", 5_000), 0);
    }
}

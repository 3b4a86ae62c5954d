//! The order history: every outcome order-intake published (from `orders.events`, its
//! changelog), the duplicate indexes (idempotency key, partner + PO number) and each
//! customer's credit exposure from accepted orders not yet invoiced or cancelled.
//!
//! Applying is idempotent (the same outcome may arrive twice: written through by the deciding
//! worker, then read back by the follower) and the first outcome of an order stands.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::handlers::submissions::mul_div_round;
use dsync_events::{
    CompactString, InvoicePosted, OrderAccepted, OrderCancelled, OrderChannel, OrderRejected,
    PartnerPoReference,
};

/// The identity of an EDI purchase order: partner, PO number and (for blanket-order releases)
/// release number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartnerPoKey {
    /// Trading partner id.
    pub partner_id: CompactString,
    /// PO number (850 BEG03).
    pub po_number: CompactString,
    /// Release number (850 BEG04), if any.
    pub release_number: Option<CompactString>,
}

impl PartnerPoKey {
    /// The key of a partner PO reference.
    pub fn of(p: &PartnerPoReference) -> Self {
        Self {
            partner_id: p.partner_id.clone(),
            po_number: p.po_number.clone(),
            release_number: p.release_number.clone(),
        }
    }
}

/// An order's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Accepted.
    Accepted(Arc<OrderAccepted>),
    /// Rejected.
    Rejected(Arc<OrderRejected>),
}

/// What order-intake knows about a decided order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    /// Order id.
    pub order_id: CompactString,
    /// Customer.
    pub customer_id: CompactString,
    /// Idempotency key.
    pub idempotency_key: CompactString,
    /// Channel.
    pub channel: OrderChannel,
    /// Partner PO, for EDI orders.
    pub partner_po: Option<PartnerPoKey>,
    /// Content hash of the submission decided (header `intake.content_hash`); `None` when
    /// the outcome carries none (then a resubmission with the key is a duplicate, never a
    /// conflict).
    pub content_hash: Option<String>,
    /// Event id of the submission decided (header `intake.submission_event_id`).
    pub submission_event_id: Option<String>,
    /// The outcome event.
    pub outcome: Outcome,
}

impl OrderRecord {
    /// The record of an accepted order.
    pub fn accepted(
        e: OrderAccepted,
        content_hash: Option<String>,
        submission_event_id: Option<String>,
    ) -> Self {
        Self {
            order_id: e.order_id.clone(),
            customer_id: e.customer_id.clone(),
            idempotency_key: e.idempotency_key.clone(),
            channel: e.channel,
            partner_po: e.partner_po.as_ref().map(PartnerPoKey::of),
            content_hash,
            submission_event_id,
            outcome: Outcome::Accepted(Arc::new(e)),
        }
    }

    /// The record of a rejected order.
    pub fn rejected(
        e: OrderRejected,
        content_hash: Option<String>,
        submission_event_id: Option<String>,
    ) -> Self {
        Self {
            order_id: e.order_id.clone(),
            customer_id: e.customer_id.clone(),
            idempotency_key: e.idempotency_key.clone(),
            channel: e.channel,
            partner_po: e.partner_po.as_ref().map(PartnerPoKey::of),
            content_hash,
            submission_event_id,
            outcome: Outcome::Rejected(Arc::new(e)),
        }
    }

    /// `ACCEPTED` or `REJECTED`.
    pub fn status(&self) -> &'static str {
        match self.outcome {
            Outcome::Accepted(_) => "ACCEPTED",
            Outcome::Rejected(_) => "REJECTED",
        }
    }

    /// Whether the order was accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self.outcome, Outcome::Accepted(_))
    }

    /// Event id of the outcome event.
    pub fn event_id(&self) -> &str {
        match &self.outcome {
            Outcome::Accepted(e) => &e.metadata.event_id,
            Outcome::Rejected(e) => &e.metadata.event_id,
        }
    }

    /// Whether a submission with `content_hash` is the same order as this one (a retry), as
    /// opposed to different content under the same key (a conflict).
    pub fn same_content(&self, content_hash: &str) -> bool {
        self.content_hash
            .as_deref()
            .is_none_or(|h| h == content_hash)
    }
}

#[derive(Debug, Default, Clone)]
struct Exposure {
    /// Sum of the totals of accepted orders.
    accepted: i64,
    /// Value cancelled from them.
    cancelled: i64,
    /// Posted invoices: (posting time in ms, merchandise amount).
    invoices: Vec<(i64, i64)>,
}

/// The order history and the per-customer state derived from it.
#[derive(Debug, Default, Clone)]
pub struct IntakeState {
    orders: HashMap<CompactString, Arc<OrderRecord>>,
    keys: HashMap<(CompactString, CompactString), CompactString>,
    partner_pos: HashMap<PartnerPoKey, CompactString>,
    exposure: HashMap<CompactString, Exposure>,
    cancelled: HashMap<CompactString, i64>,
    applied: HashSet<CompactString>,
}

impl IntakeState {
    /// Records an outcome; the first outcome of an order stands. Returns the record held and
    /// whether this call inserted it.
    pub fn record(&mut self, rec: OrderRecord) -> (Arc<OrderRecord>, bool) {
        if let Some(held) = self.orders.get(&rec.order_id) {
            return (Arc::clone(held), false);
        }
        let rec = Arc::new(rec);
        self.keys.insert(
            (rec.customer_id.clone(), rec.idempotency_key.clone()),
            rec.order_id.clone(),
        );
        if let Outcome::Accepted(a) = &rec.outcome {
            if let Some(p) = &rec.partner_po {
                self.partner_pos
                    .entry(p.clone())
                    .or_insert_with(|| rec.order_id.clone());
            }
            self.exposure
                .entry(rec.customer_id.clone())
                .or_default()
                .accepted += a.order_total.amount_minor;
        }
        self.orders.insert(rec.order_id.clone(), Arc::clone(&rec));
        (rec, true)
    }

    /// A decided order.
    pub fn order(&self, order_id: &str) -> Option<Arc<OrderRecord>> {
        self.orders.get(order_id).cloned()
    }

    /// The order decided for a customer's idempotency key.
    pub fn by_key(&self, customer_id: &str, key: &str) -> Option<Arc<OrderRecord>> {
        let id = self
            .keys
            .get(&(CompactString::from(customer_id), CompactString::from(key)))?;
        self.order(id)
    }

    /// The accepted order with this partner PO, if any.
    pub fn accepted_partner_po(&self, key: &PartnerPoKey) -> Option<Arc<OrderRecord>> {
        self.partner_pos.get(key).and_then(|id| self.order(id))
    }

    /// Applies a cancellation: the cancelled lines' value leaves the customer's exposure.
    /// Returns whether it changed anything.
    pub fn apply_cancel(&mut self, c: &OrderCancelled) -> bool {
        if !self.applied.insert(c.metadata.event_id.clone()) {
            return false;
        }
        let Some(rec) = self.orders.get(&c.order_id) else {
            return false;
        };
        let Outcome::Accepted(a) = &rec.outcome else {
            return false;
        };
        let mut value = 0i64;
        for cl in &c.lines {
            if let Some(l) = a.lines.iter().find(|l| l.line_number == cl.line_number) {
                let net = l.ordered_quantity_base - l.cancelled_quantity_base;
                value += mul_div_round(l.line_total.amount_minor, cl.cancelled_quantity_base, net);
            }
        }
        let total = a.order_total.amount_minor;
        let customer = a.customer_id.clone();
        let done = self.cancelled.entry(c.order_id.clone()).or_insert(0);
        let value = value.min(total - *done).max(0);
        *done += value;
        self.exposure.entry(customer).or_default().cancelled += value;
        value > 0
    }

    /// Applies a posted invoice. Returns whether it was new.
    pub fn apply_invoice(&mut self, inv: &InvoicePosted) -> bool {
        let id = CompactString::from(format!("invoice:{}", inv.invoice_request_id));
        if !self.applied.insert(id) {
            return false;
        }
        self.exposure
            .entry(inv.customer_id.clone())
            .or_default()
            .invoices
            .push((
                inv.metadata.occurred_at.timestamp_millis(),
                inv.merchandise_amount.amount_minor,
            ));
        true
    }

    /// Value of the customer's accepted orders not yet in the ERP's open balance: accepted
    /// totals, less cancellations, less invoices posted at or before `balance_as_of_ms` (the
    /// time the ERP computed the open balance, which includes them).
    pub fn open_orders_value(&self, customer_id: &str, balance_as_of_ms: i64) -> i64 {
        let Some(e) = self.exposure.get(customer_id) else {
            return 0;
        };
        let in_balance: i64 = e
            .invoices
            .iter()
            .filter(|(at, _)| *at <= balance_as_of_ms)
            .map(|(_, amount)| *amount)
            .sum();
        (e.accepted - e.cancelled - in_balance).max(0)
    }

    /// Orders known.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// Whether no order is known.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }
}

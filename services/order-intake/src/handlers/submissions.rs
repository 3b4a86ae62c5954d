//! The validation of one submitted order (`orders.submissions`), as plain logic over the typed
//! event, the master data and the customer's order history: [`classify`] tells a new order from
//! a redelivery, a duplicate or a conflicting reuse of its idempotency key; [`decide`] checks
//! every rule and builds `OrderAccepted` or `OrderRejected` with every reason found.
//! [`SubmissionHandler`] is the consumer's `dsync_bus::Handler` over them.
//!
//! Rules, in the order reported:
//!
//! * structure: a customer id, at least one line, line numbers >= 1 and unique
//!   (`INVALID_ORDER`); the cancel-after date not before the submission date
//!   (`SHIP_WINDOW_EXPIRED`); an accepted order with the same partner + PO number exists
//!   (`DUPLICATE_ORDER`);
//! * customer: known (`UNKNOWN_CUSTOMER`), active (`CUSTOMER_INACTIVE`), not on hold
//!   (`CUSTOMER_ON_HOLD`), order currency = customer currency (`CURRENCY_MISMATCH`);
//! * ship-to: the given `ship_to_id`, else the ship-to whose `edi_location_id` is the partner's
//!   location code, else a one-time address, else the customer's default ship-to, active
//!   (`UNKNOWN_SHIP_TO`);
//! * per line: the item by SKU, else vendor part number (= our SKU), else GTIN
//!   (`UNKNOWN_ITEM`); sellable with status ACTIVE or NEW (`ITEM_NOT_SELLABLE`); the unit one
//!   of the item's orderable units (`UNKNOWN_UNIT`); quantity > 0 and a whole number of base
//!   units after conversion (`INVALID_QUANTITY`); a price: the customer's contract price, else
//!   its list price, valid on the submission date, in the order currency, preferring an entry
//!   quoted in the ordered unit (`NO_PRICE`); the submitted unit price compared within the
//!   tolerance (flagged on the line, or `PRICE_MISMATCH` when configured to reject);
//!   available-to-promise for the order's channel over every active, ATP-eligible location,
//!   consumed line by line, under the customer's policy: REJECT (`INSUFFICIENT_STOCK`),
//!   BACKORDER (the short quantity stays on order) or PARTIAL (the short quantity is
//!   cancelled; an order of which nothing can be promised is rejected);
//! * credit: open balance (ERP) + open accepted orders of this intake + this order (net of
//!   cancelled quantities) <= credit limit, when the customer has one
//!   (`CREDIT_LIMIT_EXCEEDED`).
//!
//! Amounts are integers in minor units; line totals round half up.

mod handler;

pub use handler::SubmissionHandler;

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use dsync_bus::EventHeaders;
use dsync_events::{
    AcceptedOrderLine, AggregateType, AtpPolicy, BusinessException, CompactString,
    CustomerUpserted, Event, EventMetadata, ExceptionKind, ItemStatus, ItemUnit, ItemUpserted,
    Money, OrderAccepted, OrderChannel, OrderRejected, OrderShipTo, OrderSubmitted, PriceFlag,
    PriceKind, PriceListEntryUpserted, RejectionCode, RejectionReason, Severity,
    SubmittedOrderLine,
};
use serde::Serialize;

use crate::settings::PriceMismatchPolicy;
use crate::state::{MasterData, OrderRecord};

/// `source_system` of the events order-intake writes.
pub const SOURCE_SYSTEM: &str = "order-intake";

/// Namespace of the deterministic ids of order-intake's outputs.
const ID_NAMESPACE: &str = "order-intake";

pub use dsync_events::order_id_for;

/// The event id of the outcome (`OrderAccepted` / `OrderRejected`) of a submission.
pub fn outcome_event_id(submission_event_id: &str) -> String {
    EventHeaders::deterministic_id(ID_NAMESPACE, &format!("{submission_event_id}/outcome"))
}

/// The event id of the duplicate report (`BusinessException`) of a submission.
pub fn duplicate_event_id(submission_event_id: &str) -> String {
    EventHeaders::deterministic_id(ID_NAMESPACE, &format!("{submission_event_id}/duplicate"))
}

/// A hash of what was ordered: channel, customer, PO references (without EDI control numbers,
/// which change when a partner resends a PO), ship-to, dates, currency and lines; not the
/// metadata, ids or `submitted_by`. Two submissions with the same key and the same hash are
/// the same order; with another hash, a conflicting reuse of the key.
pub fn content_hash(sub: &OrderSubmitted) -> String {
    #[derive(Serialize)]
    struct Content<'a> {
        channel: &'static str,
        customer_id: &'a str,
        customer_po_number: Option<&'a str>,
        partner_po: Option<(&'a str, &'a str, Option<&'a str>, Option<NaiveDate>)>,
        ship_to: &'a OrderShipTo,
        requested_ship_date: Option<NaiveDate>,
        cancel_after_date: Option<NaiveDate>,
        currency: &'a str,
        lines: &'a [SubmittedOrderLine],
    }
    let content = Content {
        channel: sub.channel.as_str(),
        customer_id: &sub.customer_id,
        customer_po_number: sub.customer_po_number.as_deref(),
        partner_po: sub.partner_po.as_ref().map(|p| {
            (
                p.partner_id.as_str(),
                p.po_number.as_str(),
                p.release_number.as_deref(),
                p.po_date,
            )
        }),
        ship_to: &sub.ship_to,
        requested_ship_date: sub.requested_ship_date,
        cancel_after_date: sub.cancel_after_date,
        currency: &sub.currency,
        lines: &sub.lines,
    };
    // Serializing plain data into a Vec cannot fail.
    let bytes = serde_json::to_vec(&content).unwrap_or_default();
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, &bytes)
        .simple()
        .to_string()
}

/// How a submission relates to what is already known about its order.
#[derive(Debug, Clone, PartialEq)]
pub enum Prior {
    /// No outcome yet: validate.
    New,
    /// The very submission already decided (redelivered after a crash or rebalance, or
    /// replayed): its outcome is on the broker; nothing to publish.
    Redelivery(Arc<OrderRecord>),
    /// Another submission of the same order (same key, same content): reported, the first
    /// outcome stands.
    Duplicate(Arc<OrderRecord>),
    /// The key was already used for different content: reported, the first outcome stands.
    Conflict(Arc<OrderRecord>),
}

/// Classifies a submission against the outcome held for its order (by order id or by key).
pub fn classify(
    known: Option<Arc<OrderRecord>>,
    submission_event_id: &str,
    content_hash: &str,
) -> Prior {
    match known {
        None => Prior::New,
        Some(r) if r.submission_event_id.as_deref() == Some(submission_event_id) => {
            Prior::Redelivery(r)
        }
        Some(r) if r.same_content(content_hash) => Prior::Duplicate(r),
        Some(r) => Prior::Conflict(r),
    }
}

/// Validation settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Tolerance on submitted prices, in percent of the resolved price.
    pub price_tolerance_percent: f64,
    /// What a price beyond the tolerance does.
    pub price_mismatch: PriceMismatchPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            price_tolerance_percent: 1.0,
            price_mismatch: PriceMismatchPolicy::Flag,
        }
    }
}

/// What the customer's order history contributes (read by the partition owner, the single
/// writer of the customer's history).
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Value of the customer's accepted orders not yet invoiced into the open balance nor
    /// cancelled (this order excluded).
    pub open_orders_value: i64,
    /// Another accepted order with the same partner + PO number.
    pub partner_po_accepted_as: Option<CompactString>,
}

/// Ids and times of the outcome event.
#[derive(Debug, Clone)]
pub struct OutcomeMeta {
    /// Event id (deterministic from the submission).
    pub event_id: String,
    /// Decision time.
    pub occurred_at: DateTime<Utc>,
    /// Correlation id of the order's flow.
    pub correlation_id: String,
    /// The submission's event id.
    pub causation_id: String,
}

impl OutcomeMeta {
    fn metadata<E: Event>(&self) -> EventMetadata {
        EventMetadata {
            event_id: self.event_id.as_str().into(),
            event_type: E::RECORD_NAME.into(),
            occurred_at: self.occurred_at,
            correlation_id: self.correlation_id.as_str().into(),
            causation_id: Some(self.causation_id.as_str().into()),
            source_system: SOURCE_SYSTEM.into(),
            schema_version: i32::try_from(E::SCHEMA_VERSION).unwrap_or(1),
        }
    }
}

/// The outcome of a validation.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Every rule passed.
    Accepted(Box<OrderAccepted>),
    /// At least one reason.
    Rejected(Box<OrderRejected>),
}

struct Reasons(Vec<RejectionReason>);

impl Reasons {
    fn add(
        &mut self,
        code: RejectionCode,
        message: String,
        line: Option<i32>,
        field: Option<String>,
    ) {
        self.0.push(RejectionReason {
            code,
            message: message.into(),
            line_number: line,
            field: field.map(CompactString::from),
        });
    }

    fn order(&mut self, code: RejectionCode, message: String, field: &str) {
        self.add(code, message, None, Some(field.to_owned()));
    }
}

fn money(amount_minor: i64, currency: &str) -> Money {
    Money {
        amount_minor,
        currency: currency.into(),
    }
}

/// `a * b / d` rounded half up (away from zero for negatives), saturating.
pub fn mul_div_round(a: i64, b: i64, d: i64) -> i64 {
    if d == 0 {
        return 0;
    }
    let n = i128::from(a) * i128::from(b);
    let d = i128::from(d);
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    let q = if n >= 0 {
        (2 * n + d) / (2 * d)
    } else {
        -((-2 * n + d) / (2 * d))
    };
    i64::try_from(q).unwrap_or(if q > 0 { i64::MAX } else { i64::MIN })
}

fn sellable(item: &ItemUpserted) -> bool {
    item.sellable && matches!(item.status, ItemStatus::Active | ItemStatus::New)
}

/// The item a line names: by SKU, else vendor part number (our SKU as the buyer quotes it),
/// else GTIN. `Err(field)` names the identifier that matched nothing.
fn resolve_item<'a>(
    md: &'a MasterData,
    line: &SubmittedOrderLine,
) -> Result<&'a ItemUpserted, &'static str> {
    if let Some(sku) = &line.sku {
        return md.item(sku).ok_or("sku");
    }
    if let Some(vpn) = &line.vendor_part_number {
        if let Some(item) = md.item(vpn) {
            return Ok(item);
        }
        if line.gtin.is_none() {
            return Err("vendor_part_number");
        }
    }
    if let Some(gtin) = &line.gtin {
        return md.item_by_gtin(gtin).map(|(i, _)| i).ok_or("gtin");
    }
    Err("sku")
}

/// The price entry for an item: the customer's contract price if one is valid, else its list
/// price; valid on `date`, in `currency`, quoted in a unit of the item. Among several, the one
/// in the ordered unit, then the latest `valid_from`, then the smallest entry id.
fn resolve_price<'a>(
    md: &'a MasterData,
    c: &CustomerUpserted,
    item: &ItemUpserted,
    currency: &str,
    date: NaiveDate,
    ordered_unit: &str,
) -> Option<(&'a PriceListEntryUpserted, i64)> {
    let pick = |kind: PriceKind, list: &str| {
        md.prices_for(kind, list, &item.sku)
            .filter(|p| {
                p.valid_from <= date
                    && p.valid_to.is_none_or(|to| date <= to)
                    && p.unit_price.currency == currency
            })
            .filter_map(|p| {
                item.units
                    .iter()
                    .find(|u| u.unit.eq_ignore_ascii_case(&p.unit) && u.factor_to_base > 0)
                    .map(|u| (p, u.factor_to_base))
            })
            .max_by_key(|(p, _)| {
                (
                    p.unit.eq_ignore_ascii_case(ordered_unit),
                    p.valid_from,
                    Reverse(p.entry_id.clone()),
                )
            })
    };
    c.contract_id
        .as_deref()
        .and_then(|contract| pick(PriceKind::Contract, contract))
        .or_else(|| pick(PriceKind::List, &c.price_list_id))
}

/// Compares the submitted price (per ordered unit) with the resolved one.
fn price_flag(
    submitted: Option<&Money>,
    price_minor: i64,
    price_factor: i64,
    ordered_factor: i64,
    tolerance_percent: f64,
) -> PriceFlag {
    let Some(s) = submitted else {
        return PriceFlag::NotSubmitted;
    };
    #[allow(clippy::cast_precision_loss)]
    let resolved = price_minor as f64 * ordered_factor as f64 / price_factor as f64;
    #[allow(clippy::cast_precision_loss)]
    let sub = s.amount_minor as f64;
    if (sub - resolved).abs() <= resolved.abs() * tolerance_percent / 100.0 + 1e-9 {
        PriceFlag::Matched
    } else if sub > resolved {
        PriceFlag::SubmittedHigher
    } else {
        PriceFlag::SubmittedLower
    }
}

/// Available-to-promise of `sku` for `channel`: the channel's ATP summed over every active,
/// ATP-eligible location holding it.
fn atp(md: &MasterData, sku: &str, channel: OrderChannel) -> i64 {
    md.availability_of(sku)
        .filter(|p| {
            md.location(&p.location_id)
                .is_some_and(|l| l.active && l.atp_eligible)
        })
        .map(|p| {
            p.channel_atp
                .iter()
                .find(|c| c.channel == channel)
                .map_or(0, |c| c.atp_base.max(0))
        })
        .sum()
}

fn resolve_ship_to(
    sub: &OrderSubmitted,
    c: &CustomerUpserted,
    reasons: &mut Reasons,
) -> OrderShipTo {
    let st = &sub.ship_to;
    let known = |s: &dsync_events::CustomerShipTo| OrderShipTo {
        ship_to_id: Some(s.ship_to_id.clone()),
        partner_location_id: st.partner_location_id.clone(),
        name: st.name.clone().or_else(|| Some(s.name.clone())),
        address: Some(s.address.clone()),
    };
    if let Some(id) = &st.ship_to_id {
        match c.ship_tos.iter().find(|s| s.ship_to_id == id && s.active) {
            Some(s) => return known(s),
            None => reasons.order(
                RejectionCode::UnknownShipTo,
                format!(
                    "ship-to {id} is not an active ship-to of customer {}",
                    c.customer_id
                ),
                "ship_to.ship_to_id",
            ),
        }
    } else if let Some(loc) = &st.partner_location_id {
        match c
            .ship_tos
            .iter()
            .find(|s| s.edi_location_id.as_ref() == Some(loc) && s.active)
        {
            Some(s) => return known(s),
            None => reasons.order(
                RejectionCode::UnknownShipTo,
                format!(
                    "partner location {loc} is not the EDI location of an active ship-to of customer {}",
                    c.customer_id
                ),
                "ship_to.partner_location_id",
            ),
        }
    } else if st.address.is_some() {
        return st.clone();
    } else {
        match c.ship_tos.iter().find(|s| s.is_default && s.active) {
            Some(s) => return known(s),
            None => reasons.order(
                RejectionCode::UnknownShipTo,
                format!(
                    "no ship-to given and customer {} has no active default ship-to",
                    c.customer_id
                ),
                "ship_to",
            ),
        }
    }
    st.clone()
}

fn check_structure(
    sub: &OrderSubmitted,
    date: NaiveDate,
    history: &History,
    reasons: &mut Reasons,
) {
    if sub.customer_id.trim().is_empty() {
        reasons.order(
            RejectionCode::InvalidOrder,
            "customer_id is empty".into(),
            "customer_id",
        );
    }
    if sub.lines.is_empty() {
        reasons.order(
            RejectionCode::InvalidOrder,
            "the order has no lines".into(),
            "lines",
        );
    }
    let mut seen = HashSet::new();
    for (i, l) in sub.lines.iter().enumerate() {
        if l.line_number < 1 || !seen.insert(l.line_number) {
            reasons.add(
                RejectionCode::InvalidOrder,
                format!("line number {} is not unique and positive", l.line_number),
                Some(l.line_number),
                Some(format!("lines[{i}].line_number")),
            );
        }
    }
    if let Some(cancel_after) = sub.cancel_after_date {
        if cancel_after < date {
            reasons.order(
                RejectionCode::ShipWindowExpired,
                format!("cancel-after date {cancel_after} is before the submission date {date}"),
                "cancel_after_date",
            );
        }
        if sub.requested_ship_date.is_some_and(|r| r > cancel_after) {
            reasons.order(
                RejectionCode::InvalidOrder,
                "requested ship date is after the cancel-after date".into(),
                "requested_ship_date",
            );
        }
    }
    if let (Some(other), Some(p)) = (&history.partner_po_accepted_as, &sub.partner_po) {
        reasons.order(
            RejectionCode::DuplicateOrder,
            format!(
                "purchase order {} of partner {} was already accepted as order {other}",
                p.po_number, p.partner_id
            ),
            "partner_po.po_number",
        );
    }
}

fn check_customer<'a>(
    sub: &OrderSubmitted,
    md: &'a MasterData,
    reasons: &mut Reasons,
) -> Option<&'a CustomerUpserted> {
    let Some(c) = md.customer(&sub.customer_id) else {
        reasons.order(
            RejectionCode::UnknownCustomer,
            format!("customer {} is not known to the ERP", sub.customer_id),
            "customer_id",
        );
        return None;
    };
    if !c.active {
        reasons.order(
            RejectionCode::CustomerInactive,
            format!("customer {} is not active", c.customer_id),
            "customer_id",
        );
    }
    if c.on_hold {
        let why = c
            .hold_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        reasons.order(
            RejectionCode::CustomerOnHold,
            format!("customer {} is on hold{why}", c.customer_id),
            "customer_id",
        );
    }
    if sub.currency != c.currency {
        reasons.order(
            RejectionCode::CurrencyMismatch,
            format!(
                "order currency {} is not the customer's currency {}",
                sub.currency, c.currency
            ),
            "currency",
        );
    }
    Some(c)
}

/// Validates a new submission and builds its outcome event: the order-level checks, each line
/// ([`check_line`], then [`promise_line`] for a known customer), the PARTIAL "nothing
/// promised" rule, the credit check, then the event.
pub fn decide(
    sub: &OrderSubmitted,
    md: &MasterData,
    history: &History,
    policy: &Policy,
    meta: &OutcomeMeta,
) -> Decision {
    let mut reasons = Reasons(Vec::new());
    let date = sub.metadata.occurred_at.date_naive();
    check_structure(sub, date, history, &mut reasons);
    let customer = check_customer(sub, md, &mut reasons);
    let ship_to = match customer {
        Some(c) => resolve_ship_to(sub, c, &mut reasons),
        None => sub.ship_to.clone(),
    };
    let atp_policy = match customer.map(|c| c.atp_policy) {
        Some(p @ (AtpPolicy::Backorder | AtpPolicy::Partial)) => p,
        _ => AtpPolicy::Reject,
    };
    let mut remaining_atp: HashMap<CompactString, i64> = HashMap::new();
    let mut lines = Vec::with_capacity(sub.lines.len());
    for (i, line) in sub.lines.iter().enumerate() {
        let Some(checked) = check_line(md, line, i, &mut reasons) else {
            continue;
        };
        let Some(customer) = customer else { continue };
        let ctx = LineContext {
            sub,
            md,
            customer,
            policy,
            atp_policy,
            date,
        };
        if let Some(l) = promise_line(&ctx, &checked, &mut remaining_atp, &mut reasons) {
            lines.push(l);
        }
    }
    if atp_policy == AtpPolicy::Partial {
        check_something_promised(sub, &lines, &mut reasons);
    }
    let order_total: i64 = lines.iter().map(|l| l.line_total.amount_minor).sum();
    let exposure_after = customer.and_then(|c| check_credit(c, history, order_total, &mut reasons));
    if !reasons.0.is_empty() {
        return Decision::Rejected(Box::new(OrderRejected {
            metadata: meta.metadata::<OrderRejected>(),
            order_id: sub.order_id.clone(),
            customer_id: sub.customer_id.clone(),
            channel: sub.channel,
            idempotency_key: sub.idempotency_key.clone(),
            customer_po_number: sub.customer_po_number.clone(),
            partner_po: sub.partner_po.clone(),
            reasons: reasons.0,
        }));
    }
    Decision::Accepted(Box::new(OrderAccepted {
        metadata: meta.metadata::<OrderAccepted>(),
        order_id: sub.order_id.clone(),
        customer_id: sub.customer_id.clone(),
        channel: sub.channel,
        idempotency_key: sub.idempotency_key.clone(),
        customer_po_number: sub.customer_po_number.clone(),
        partner_po: sub.partner_po.clone(),
        ship_to,
        requested_ship_date: sub.requested_ship_date,
        cancel_after_date: sub.cancel_after_date,
        currency: sub.currency.clone(),
        atp_policy,
        lines,
        order_total: money(order_total, &sub.currency),
        credit_exposure_after: exposure_after,
    }))
}

/// A line whose item, unit and quantity passed [`check_line`].
#[derive(Debug)]
struct CheckedLine<'a> {
    /// Index in the submission (field paths).
    index: usize,
    line: &'a SubmittedOrderLine,
    item: &'a ItemUpserted,
    unit: &'a ItemUnit,
    /// The quantity in base units.
    ordered_base: i64,
}

/// What [`promise_line`] checks a line against.
struct LineContext<'a> {
    sub: &'a OrderSubmitted,
    md: &'a MasterData,
    customer: &'a CustomerUpserted,
    policy: &'a Policy,
    atp_policy: AtpPolicy,
    date: NaiveDate,
}

/// The item (`UNKNOWN_ITEM`, `ITEM_NOT_SELLABLE`), unit (`UNKNOWN_UNIT`) and quantity
/// (`INVALID_QUANTITY`) of line `i`; `None` (with its reason) when one of them fails.
fn check_line<'a>(
    md: &'a MasterData,
    line: &'a SubmittedOrderLine,
    i: usize,
    reasons: &mut Reasons,
) -> Option<CheckedLine<'a>> {
    let n = Some(line.line_number);
    let field = |f: &str| Some(format!("lines[{i}].{f}"));
    let item = match resolve_item(md, line) {
        Ok(item) => item,
        Err(f) => {
            let given = match f {
                "gtin" => line.gtin.as_deref(),
                "vendor_part_number" => line.vendor_part_number.as_deref(),
                _ => line.sku.as_deref(),
            };
            let message = match given {
                Some(g) => format!("line {}: item {g} is not known", line.line_number),
                None => format!(
                    "line {}: no SKU, vendor part number or GTIN",
                    line.line_number
                ),
            };
            reasons.add(RejectionCode::UnknownItem, message, n, field(f));
            return None;
        }
    };
    if !sellable(item) {
        reasons.add(
            RejectionCode::ItemNotSellable,
            format!(
                "line {}: item {} is not sellable (status {})",
                line.line_number,
                item.sku,
                item.status.as_str()
            ),
            n,
            field("sku"),
        );
        return None;
    }
    let Some(unit) = item
        .units
        .iter()
        .find(|u| u.unit.eq_ignore_ascii_case(line.unit.trim()))
        .filter(|u| u.orderable && u.factor_to_base > 0)
    else {
        let known: Vec<&str> = item
            .units
            .iter()
            .filter(|u| u.orderable)
            .map(|u| u.unit.as_str())
            .collect();
        reasons.add(
            RejectionCode::UnknownUnit,
            format!(
                "line {}: unit {} is not an orderable unit of item {} ({})",
                line.line_number,
                line.unit,
                item.sku,
                known.join(", ")
            ),
            n,
            field("unit"),
        );
        return None;
    };
    let ordered_base = match base_quantity(line.quantity, unit.factor_to_base) {
        Ok(b) => b,
        Err(problem) => {
            reasons.add(
                RejectionCode::InvalidQuantity,
                format!(
                    "line {}: quantity {} {} {}",
                    line.line_number,
                    line.quantity,
                    unit.unit,
                    problem.describe(&item.base_unit, unit.factor_to_base)
                ),
                n,
                field("quantity"),
            );
            return None;
        }
    };
    Some(CheckedLine {
        index: i,
        line,
        item,
        unit,
        ordered_base,
    })
}

/// The price (`NO_PRICE`), the promise against what is left to promise of the item (consumed
/// line by line; `INSUFFICIENT_STOCK` under REJECT) and the submitted price's flag
/// ([`check_submitted_price`]) of a checked line; its accepted line.
fn promise_line(
    ctx: &LineContext<'_>,
    checked: &CheckedLine<'_>,
    remaining_atp: &mut HashMap<CompactString, i64>,
    reasons: &mut Reasons,
) -> Option<AcceptedOrderLine> {
    let CheckedLine {
        index: i,
        line,
        item,
        unit,
        ordered_base,
    } = *checked;
    let (n, currency, date) = (Some(line.line_number), ctx.sub.currency.as_str(), ctx.date);
    let field = |f: &str| Some(format!("lines[{i}].{f}"));
    let Some((entry, price_factor)) =
        resolve_price(ctx.md, ctx.customer, item, currency, date, &unit.unit)
    else {
        reasons.add(
            RejectionCode::NoPrice,
            format!(
                "line {}: no contract or list price for item {} in {currency} on {date}",
                line.line_number, item.sku
            ),
            n,
            field("sku"),
        );
        return None;
    };
    let available = remaining_atp
        .entry(item.sku.clone())
        .or_insert_with(|| atp(ctx.md, &item.sku, ctx.sub.channel));
    let promised = ordered_base.min((*available).max(0));
    *available -= promised;
    let short = ordered_base - promised;
    let (backordered, cancelled) = match ctx.atp_policy {
        AtpPolicy::Backorder => (short, 0),
        AtpPolicy::Partial => (0, short),
        _ => {
            if short > 0 {
                reasons.add(
                    RejectionCode::InsufficientStock,
                    format!(
                        "line {}: {ordered_base} {} of {} ordered, {promised} available to promise",
                        line.line_number, item.base_unit, item.sku
                    ),
                    n,
                    field("quantity"),
                );
            }
            (0, 0)
        }
    };
    let flag = check_submitted_price(ctx.policy, checked, entry, price_factor, reasons);
    let net = ordered_base - cancelled;
    Some(AcceptedOrderLine {
        line_number: line.line_number,
        partner_line_id: line.partner_line_id.clone(),
        sku: item.sku.clone(),
        ordered_quantity: line.quantity,
        ordered_unit: line.unit.clone(),
        base_unit: item.base_unit.clone(),
        ordered_quantity_base: ordered_base,
        promised_quantity_base: promised,
        backordered_quantity_base: backordered,
        cancelled_quantity_base: cancelled,
        unit_price: entry.unit_price.clone(),
        price_unit: entry.unit.clone(),
        price_kind: entry.kind,
        price_list_id: entry.price_list_id.clone(),
        price_entry_id: Some(entry.entry_id.clone()),
        submitted_unit_price: line.submitted_unit_price.clone(),
        price_flag: flag,
        line_total: money(
            mul_div_round(net, entry.unit_price.amount_minor, price_factor),
            currency,
        ),
    })
}

/// The submitted unit price against ours, within the tolerance: its flag, and
/// `PRICE_MISMATCH` when the policy rejects a flagged price.
fn check_submitted_price(
    policy: &Policy,
    checked: &CheckedLine<'_>,
    entry: &PriceListEntryUpserted,
    price_factor: i64,
    reasons: &mut Reasons,
) -> PriceFlag {
    let (line, i) = (checked.line, checked.index);
    let flag = price_flag(
        line.submitted_unit_price.as_ref(),
        entry.unit_price.amount_minor,
        price_factor,
        checked.unit.factor_to_base,
        policy.price_tolerance_percent,
    );
    if matches!(flag, PriceFlag::SubmittedHigher | PriceFlag::SubmittedLower)
        && policy.price_mismatch == PriceMismatchPolicy::Reject
    {
        reasons.add(
            RejectionCode::PriceMismatch,
            format!(
                "line {}: submitted price {} differs from the {} price {} per {} beyond {}%",
                line.line_number,
                line.submitted_unit_price
                    .as_ref()
                    .map_or(0, |m| m.amount_minor),
                entry.kind.as_str(),
                entry.unit_price.amount_minor,
                entry.unit,
                policy.price_tolerance_percent
            ),
            Some(line.line_number),
            Some(format!("lines[{i}].submitted_unit_price")),
        );
    }
    flag
}

/// PARTIAL: an order of which nothing can be promised is rejected (`INSUFFICIENT_STOCK` on
/// every line).
fn check_something_promised(
    sub: &OrderSubmitted,
    lines: &[AcceptedOrderLine],
    reasons: &mut Reasons,
) {
    if lines.is_empty() || lines.iter().any(|l| l.promised_quantity_base != 0) {
        return;
    }
    for l in lines {
        reasons.add(
            RejectionCode::InsufficientStock,
            format!(
                "line {}: nothing of {} available to promise",
                l.line_number, l.sku
            ),
            Some(l.line_number),
            sub.lines
                .iter()
                .position(|s| s.line_number == l.line_number)
                .map(|i| format!("lines[{i}].quantity")),
        );
    }
}

/// Open balance + open orders + this order against the customer's credit limit
/// (`CREDIT_LIMIT_EXCEEDED`); the exposure after this order, when there is a limit.
fn check_credit(
    c: &CustomerUpserted,
    history: &History,
    order_total: i64,
    reasons: &mut Reasons,
) -> Option<Money> {
    let limit = c.credit_limit.as_ref()?;
    let after = c.open_balance.amount_minor + history.open_orders_value + order_total;
    if after > limit.amount_minor {
        reasons.order(
            RejectionCode::CreditLimitExceeded,
            format!(
                "credit exposure {after} (open balance {} + open orders {} + this order {order_total}) exceeds the limit {} {}",
                c.open_balance.amount_minor,
                history.open_orders_value,
                limit.amount_minor,
                limit.currency
            ),
            "lines",
        );
    }
    Some(money(after, &limit.currency))
}

/// The report of an EDI submission that was not processed because its order already has an
/// outcome: a resolved, informational `EDI_DUPLICATE` exception for a resent PO (same
/// content), an open warning for a PO resent with different content (`IDEMPOTENCY_KEY_CONFLICT`
/// in the details: the first order stands, a person decides whether a change order is needed).
pub fn duplicate_report(
    sub: &OrderSubmitted,
    submission_event_id: &str,
    original: &OrderRecord,
    conflict: bool,
    meta: &OutcomeMeta,
) -> BusinessException {
    let partner = sub.partner_po.as_ref();
    let po = partner.map_or("", |p| p.po_number.as_str());
    let aggregate_id = partner
        .and_then(|p| p.edi_document_id.clone())
        .unwrap_or_else(|| CompactString::from(submission_event_id));
    let mut details = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        details.insert(k.to_owned(), CompactString::from(v));
    };
    put(
        "reason_code",
        if conflict {
            RejectionCode::IdempotencyKeyConflict.as_str()
        } else {
            RejectionCode::DuplicateOrder.as_str()
        },
    );
    put("original_order_id", &original.order_id);
    put("original_status", original.status());
    put("idempotency_key", &sub.idempotency_key);
    put("po_number", po);
    put("submission_event_id", submission_event_id);
    if let Some(id) = &original.submission_event_id {
        put("original_submission_event_id", id);
    }
    if let Some(icn) = partner.and_then(|p| p.interchange_control_number.as_deref()) {
        put("interchange_control_number", icn);
    }
    let message = if conflict {
        format!(
            "purchase order {po} was received again with different content; order {} ({}) stands and the new content was not processed: send a change order or cancel if the change is intended",
            original.order_id,
            original.status()
        )
    } else {
        format!(
            "purchase order {po} was received again; it is order {} ({}), not processed twice",
            original.order_id,
            original.status()
        )
    };
    let exception_id = EventHeaders::deterministic_id(
        "order-intake/exception",
        &format!("EDI_DUPLICATE/{}/{submission_event_id}", original.order_id),
    );
    BusinessException {
        metadata: meta.metadata::<BusinessException>(),
        exception_id: exception_id.into(),
        kind: ExceptionKind::EdiDuplicate,
        severity: if conflict {
            Severity::Warning
        } else {
            Severity::Info
        },
        aggregate_type: AggregateType::EdiDocument,
        aggregate_id,
        order_id: Some(original.order_id.clone()),
        customer_id: Some(sub.customer_id.clone()),
        partner_id: partner.map(|p| p.partner_id.clone()),
        message: message.into(),
        details,
        raised_at: meta.occurred_at,
        occurrence_count: 1,
        resolved: !conflict,
        resolved_at: (!conflict).then_some(meta.occurred_at),
        resolved_by: (!conflict).then(|| CompactString::from(SOURCE_SYSTEM)),
        resolution: (!conflict).then(|| {
            CompactString::from(format!(
                "duplicate of order {}: the first outcome stands",
                original.order_id
            ))
        }),
    }
}

/// Most base units one line may order (beyond this an `f64` quantity stops being exact).
pub const MAX_BASE_QUANTITY: i64 = 1_000_000_000_000_000;

/// Why a line's quantity cannot be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuantityProblem {
    /// Zero, negative, or not a whole number of base units.
    NotWhole,
    /// More than [`MAX_BASE_QUANTITY`] base units.
    TooLarge,
}

impl QuantityProblem {
    fn describe(self, base_unit: &str, factor: i64) -> String {
        match self {
            QuantityProblem::NotWhole => {
                format!("is not a positive whole number of {base_unit} (factor {factor})")
            }
            QuantityProblem::TooLarge => format!(
                "is too large: at most {MAX_BASE_QUANTITY} {base_unit} per line (factor {factor})"
            ),
        }
    }
}

/// `quantity` of a unit of `factor` base units, as a whole number of base units.
fn base_quantity(quantity: f64, factor: i64) -> Result<i64, QuantityProblem> {
    #[allow(clippy::cast_precision_loss)]
    let base_f = quantity * factor as f64;
    #[allow(clippy::cast_precision_loss)]
    let max = MAX_BASE_QUANTITY as f64;
    if base_f.is_nan() {
        return Err(QuantityProblem::NotWhole);
    }
    if base_f > max {
        return Err(QuantityProblem::TooLarge);
    }
    let base = base_f.round();
    if base < 1.0 || (base_f - base).abs() > 1e-6 {
        return Err(QuantityProblem::NotWhole);
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(base as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testkit::*;
    use dsync_events::{PartnerPoReference, WarehouseLocationUpserted};

    fn meta() -> OutcomeMeta {
        OutcomeMeta {
            event_id: outcome_event_id("sub-1"),
            occurred_at: chrono::DateTime::<Utc>::default(),
            correlation_id: "corr-1".into(),
            causation_id: "sub-1".into(),
        }
    }

    fn run(sub: &OrderSubmitted, md: &MasterData) -> Decision {
        decide(sub, md, &History::default(), &Policy::default(), &meta())
    }

    fn accepted(d: Decision) -> OrderAccepted {
        match d {
            Decision::Accepted(a) => *a,
            Decision::Rejected(r) => panic!("expected accepted, got {:?}", r.reasons),
        }
    }

    fn codes(d: &Decision) -> Vec<(RejectionCode, Option<i32>, Option<String>)> {
        match d {
            Decision::Accepted(_) => panic!("expected rejected"),
            Decision::Rejected(r) => r
                .reasons
                .iter()
                .map(|x| (x.code, x.line_number, x.field.as_deref().map(str::to_owned)))
                .collect(),
        }
    }

    fn has(d: &Decision, code: RejectionCode) -> bool {
        codes(d).iter().any(|(c, _, _)| *c == code)
    }

    #[test]
    fn accepts_with_resolved_prices_base_quantities_and_totals() {
        let md = master();
        let sub = submission(
            "C1",
            &[
                ("SKU-1", 2.0, "CS"),
                ("SKU-2", 1.0, "CS"),
                ("SKU-2", 3.0, "EA"),
            ],
        );
        let a = accepted(run(&sub, &md));
        assert_eq!(a.metadata.event_type, "OrderAccepted");
        assert_eq!(a.metadata.causation_id.as_deref(), Some("sub-1"));
        assert_eq!(a.metadata.source_system, SOURCE_SYSTEM);
        assert_eq!(a.lines.len(), 3);
        let l1 = &a.lines[0];
        assert_eq!(
            (l1.ordered_quantity_base, l1.base_unit.as_str()),
            (24, "EA")
        );
        assert_eq!(l1.unit_price.amount_minor, 100);
        assert_eq!(l1.price_unit, "EA");
        assert_eq!(l1.line_total.amount_minor, 2400);
        assert_eq!(l1.price_flag, PriceFlag::NotSubmitted);
        assert_eq!(l1.price_kind, PriceKind::List);
        // priced per case, 3 eaches = half a case
        let l3 = &a.lines[2];
        assert_eq!(
            (l3.ordered_quantity_base, l3.line_total.amount_minor),
            (3, 600)
        );
        assert_eq!(a.order_total.amount_minor, 2400 + 1200 + 600);
        assert_eq!(a.credit_exposure_after.map(|m| m.amount_minor), Some(4200));
        assert_eq!(
            a.ship_to.ship_to_id.as_deref(),
            Some("S1"),
            "default ship-to"
        );
        assert!(a.ship_to.address.is_some());
        assert_eq!(a.atp_policy, AtpPolicy::Reject);
    }

    #[test]
    fn customer_unknown_inactive_on_hold_and_currency() {
        let mut md = master();
        let d = run(&submission("NOPE", &[("SKU-1", 1.0, "EA")]), &md);
        assert_eq!(
            codes(&d),
            vec![(
                RejectionCode::UnknownCustomer,
                None,
                Some("customer_id".into())
            )]
        );

        let mut c = customer("C1");
        c.on_hold = true;
        c.hold_reason = Some("CREDIT: past due".into());
        c.active = false;
        c.currency = "EUR".into();
        md.upsert_customer(c);
        let d = run(&submission("C1", &[("SKU-1", 1.0, "EA")]), &md);
        assert!(has(&d, RejectionCode::CustomerOnHold));
        assert!(has(&d, RejectionCode::CustomerInactive));
        assert!(
            has(&d, RejectionCode::CurrencyMismatch),
            "every reason is reported"
        );
        let Decision::Rejected(r) = d else {
            unreachable!()
        };
        assert!(r.reasons.iter().any(|x| x.message.contains("past due")));
    }

    #[test]
    fn a_line_is_checked_alone_item_unit_quantity() {
        let md = master();
        let sub = submission(
            "C1",
            &[
                ("SKU-1", 1.0, "EA"),
                ("NOPE", 1.0, "EA"),
                ("SKU-1", 1.0, "PAIL"),
            ],
        );
        let mut reasons = Reasons(Vec::new());
        let ok = check_line(&md, &sub.lines[0], 0, &mut reasons).expect("valid line");
        assert_eq!((ok.item.sku.as_str(), ok.ordered_base), ("SKU-1", 1));
        assert!(reasons.0.is_empty());
        assert!(check_line(&md, &sub.lines[1], 1, &mut reasons).is_none());
        assert!(check_line(&md, &sub.lines[2], 2, &mut reasons).is_none());
        let found: Vec<(RejectionCode, Option<&str>)> = reasons
            .0
            .iter()
            .map(|r| (r.code, r.field.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                (RejectionCode::UnknownItem, Some("lines[1].sku")),
                (RejectionCode::UnknownUnit, Some("lines[2].unit")),
            ]
        );
    }

    #[test]
    fn the_credit_check_alone() {
        let mut c = customer("C1");
        c.credit_limit = Some(usd(10_000));
        c.open_balance = usd(5_000);
        let history = History {
            open_orders_value: 4_000,
            ..History::default()
        };
        let mut reasons = Reasons(Vec::new());
        let after = check_credit(&c, &history, 1_000, &mut reasons);
        assert_eq!(after.map(|m| m.amount_minor), Some(10_000));
        assert!(reasons.0.is_empty());
        check_credit(&c, &history, 1_001, &mut reasons);
        assert_eq!(reasons.0.len(), 1);
        assert_eq!(reasons.0[0].code, RejectionCode::CreditLimitExceeded);
        c.credit_limit = None;
        assert_eq!(check_credit(&c, &history, i64::MAX / 4, &mut reasons), None);
    }

    #[test]
    fn credit_exposure_counts_open_balance_open_orders_and_this_order() {
        let mut md = master();
        let mut c = customer("C1");
        c.credit_limit = Some(usd(10_000));
        c.open_balance = usd(5_000);
        md.upsert_customer(c);
        let sub = submission("C1", &[("SKU-1", 10.0, "EA")]); // 1,000
        let history = |open| History {
            open_orders_value: open,
            ..History::default()
        };
        // exactly at the limit: accepted
        let d = decide(&sub, &md, &history(4_000), &Policy::default(), &meta());
        assert_eq!(
            accepted(d).credit_exposure_after.map(|m| m.amount_minor),
            Some(10_000)
        );
        // one cent over
        let d = decide(&sub, &md, &history(4_001), &Policy::default(), &meta());
        assert_eq!(
            codes(&d),
            vec![(
                RejectionCode::CreditLimitExceeded,
                None,
                Some("lines".into())
            )]
        );
        // no limit: never exceeded, no exposure reported
        let mut c = customer("C1");
        c.credit_limit = None;
        md.upsert_customer(c);
        let d = decide(
            &sub,
            &md,
            &history(i64::MAX / 4),
            &Policy::default(),
            &meta(),
        );
        assert_eq!(accepted(d).credit_exposure_after, None);
    }

    #[test]
    fn items_units_and_quantities() {
        let mut md = master();
        let mut gone = item("SKU-3", 10);
        gone.status = ItemStatus::Discontinued;
        md.upsert_item(gone);
        let mut component = item("SKU-4", 10);
        component.sellable = false;
        md.upsert_item(component);
        let sub = submission(
            "C1",
            &[
                ("NOPE", 1.0, "EA"),
                ("SKU-3", 1.0, "EA"),
                ("SKU-4", 1.0, "EA"),
                ("SKU-1", 1.0, "BX"),
                ("SKU-1", 1.0, "PL"),
                ("SKU-1", 0.1, "CS"),
                ("SKU-1", 0.0, "EA"),
                ("SKU-1", 1.5, "CS"),
            ],
        );
        let d = run(&sub, &md);
        let got = codes(&d);
        let expect = [
            (RejectionCode::UnknownItem, 1, "lines[0].sku"),
            (RejectionCode::ItemNotSellable, 2, "lines[1].sku"),
            (RejectionCode::ItemNotSellable, 3, "lines[2].sku"),
            (RejectionCode::UnknownUnit, 4, "lines[3].unit"),
            (RejectionCode::UnknownUnit, 5, "lines[4].unit"),
            (RejectionCode::InvalidQuantity, 6, "lines[5].quantity"),
            (RejectionCode::InvalidQuantity, 7, "lines[6].quantity"),
        ];
        assert_eq!(
            got,
            expect
                .iter()
                .map(|(c, n, f)| (*c, Some(*n), Some((*f).to_owned())))
                .collect::<Vec<_>>(),
            "1.5 cases = 18 eaches is fine"
        );
    }

    #[test]
    fn quantities_convert_to_whole_base_units_within_the_bound() {
        assert_eq!(base_quantity(1.5, 12), Ok(18));
        assert_eq!(base_quantity(1.0, 1), Ok(1));
        assert_eq!(base_quantity(1e15, 1), Ok(MAX_BASE_QUANTITY));
        assert_eq!(base_quantity(0.1, 12), Err(QuantityProblem::NotWhole));
        assert_eq!(base_quantity(0.0, 1), Err(QuantityProblem::NotWhole));
        assert_eq!(base_quantity(-3.0, 1), Err(QuantityProblem::NotWhole));
        assert_eq!(base_quantity(f64::NAN, 1), Err(QuantityProblem::NotWhole));
        assert_eq!(base_quantity(1e18, 1), Err(QuantityProblem::TooLarge));
        assert_eq!(base_quantity(1e15, 12), Err(QuantityProblem::TooLarge));
        assert_eq!(
            base_quantity(f64::INFINITY, 1),
            Err(QuantityProblem::TooLarge)
        );
        let too_large = QuantityProblem::TooLarge.describe("EA", 1);
        assert_eq!(
            too_large,
            "is too large: at most 1000000000000000 EA per line (factor 1)"
        );
        assert!(QuantityProblem::NotWhole
            .describe("EA", 12)
            .contains("positive whole number"));
    }

    #[test]
    fn items_by_gtin_and_vendor_part_number_ship_to_by_partner_location() {
        let md = master();
        let mut sub = submission("C1", &[("x", 2.0, "CS"), ("x", 1.0, "EA")]);
        sub.lines[0].sku = None;
        sub.lines[0].gtin = Some("SKU-2-CS".into());
        sub.lines[1].sku = None;
        sub.lines[1].vendor_part_number = Some("SKU-1".into());
        sub.ship_to.partner_location_id = Some("STORE-1".into());
        let a = accepted(run(&sub, &md));
        assert_eq!(a.lines[0].sku, "SKU-2");
        assert_eq!(a.lines[0].ordered_quantity_base, 12);
        assert_eq!(a.lines[1].sku, "SKU-1");
        assert_eq!(a.ship_to.ship_to_id.as_deref(), Some("S1"));
        assert_eq!(a.ship_to.partner_location_id.as_deref(), Some("STORE-1"));

        let mut bad = sub.clone();
        bad.ship_to.partner_location_id = Some("STORE-9".into());
        bad.lines[0].gtin = Some("GTIN-NOPE".into());
        let d = run(&bad, &md);
        assert_eq!(
            codes(&d),
            vec![
                (
                    RejectionCode::UnknownShipTo,
                    None,
                    Some("ship_to.partner_location_id".into())
                ),
                (
                    RejectionCode::UnknownItem,
                    Some(1),
                    Some("lines[0].gtin".into())
                ),
            ]
        );
        let mut one_time = submission("C1", &[("SKU-1", 1.0, "EA")]);
        one_time.ship_to.address = Some(address());
        one_time.ship_to.name = Some("Pop-up".into());
        let a = accepted(run(&one_time, &md));
        assert_eq!(a.ship_to.ship_to_id, None);
        assert_eq!(a.ship_to.name.as_deref(), Some("Pop-up"));
        let mut unknown = submission("C1", &[("SKU-1", 1.0, "EA")]);
        unknown.ship_to.ship_to_id = Some("S9".into());
        assert!(has(&run(&unknown, &md), RejectionCode::UnknownShipTo));
    }

    #[test]
    fn contract_price_before_list_price_and_validity() {
        let mut md = master();
        let mut c = customer("C1");
        c.contract_id = Some("K-C1".into());
        md.upsert_customer(c);
        md.upsert_price(contract_price("K1", "K-C1", "SKU-1", "CS", 1000));
        let mut expired = contract_price("K2", "K-C1", "SKU-2", "CS", 1);
        expired.valid_to = NaiveDate::from_ymd_opt(2026, 5, 31);
        md.upsert_price(expired);
        let a = accepted(run(
            &submission("C1", &[("SKU-1", 2.0, "CS"), ("SKU-2", 1.0, "CS")]),
            &md,
        ));
        assert_eq!(
            (
                a.lines[0].price_kind,
                a.lines[0].price_list_id.as_str(),
                a.lines[0].unit_price.amount_minor
            ),
            (PriceKind::Contract, "K-C1", 1000)
        );
        assert_eq!(a.lines[0].price_entry_id.as_deref(), Some("K1"));
        assert_eq!(a.lines[0].line_total.amount_minor, 2000);
        assert_eq!(
            a.lines[1].price_kind,
            PriceKind::List,
            "expired contract price: list price"
        );
        md.delete_price("P1");
        md.delete_price("K1");
        let d = run(&submission("C1", &[("SKU-1", 1.0, "EA")]), &md);
        assert_eq!(
            codes(&d),
            vec![(RejectionCode::NoPrice, Some(1), Some("lines[0].sku".into()))]
        );
    }

    #[test]
    fn submitted_prices_are_flagged_beyond_the_tolerance() {
        let md = master();
        let mut sub = submission(
            "C1",
            &[
                ("SKU-2", 1.0, "EA"),
                ("SKU-2", 1.0, "EA"),
                ("SKU-2", 1.0, "EA"),
            ],
        );
        sub.lines[0].submitted_unit_price = Some(usd(201)); // resolved 200 per EA: within 1 %
        sub.lines[1].submitted_unit_price = Some(usd(250));
        sub.lines[2].submitted_unit_price = Some(usd(150));
        let a = accepted(run(&sub, &md));
        let flags: Vec<PriceFlag> = a.lines.iter().map(|l| l.price_flag).collect();
        assert_eq!(
            flags,
            [
                PriceFlag::Matched,
                PriceFlag::SubmittedHigher,
                PriceFlag::SubmittedLower
            ]
        );
        assert_eq!(
            a.lines[1].unit_price.amount_minor, 1200,
            "priced at the resolved price"
        );
        let strict = Policy {
            price_tolerance_percent: 0.1,
            price_mismatch: PriceMismatchPolicy::Reject,
        };
        let d = decide(&sub, &md, &History::default(), &strict, &meta());
        assert_eq!(
            codes(&d)
                .iter()
                .map(|(c, n, _)| (*c, *n))
                .collect::<Vec<_>>(),
            [
                (RejectionCode::PriceMismatch, Some(1)),
                (RejectionCode::PriceMismatch, Some(2)),
                (RejectionCode::PriceMismatch, Some(3))
            ]
        );
    }

    #[test]
    fn available_to_promise_under_each_policy() {
        let mut md = master();
        md.apply_availability(availability("SKU-1", "L1", 30, 2));
        // stock in a location that does not count towards ATP
        let mut q = location("Q1");
        q.atp_eligible = false;
        md.upsert_location(q);
        md.apply_availability(availability("SKU-1", "Q1", 500, 1));
        // two lines of the same SKU draw from the same ATP: 24 + 12 > 30
        let sub = submission("C1", &[("SKU-1", 2.0, "CS"), ("SKU-1", 1.0, "CS")]);
        let d = run(&sub, &md);
        assert_eq!(
            codes(&d),
            vec![(
                RejectionCode::InsufficientStock,
                Some(2),
                Some("lines[1].quantity".into())
            )]
        );
        let with = |md: &mut MasterData, p: AtpPolicy| {
            let mut c = customer("C1");
            c.atp_policy = p;
            md.upsert_customer(c);
        };
        with(&mut md, AtpPolicy::Backorder);
        let a = accepted(run(&sub, &md));
        assert_eq!(a.atp_policy, AtpPolicy::Backorder);
        let l = &a.lines[1];
        assert_eq!(
            (
                l.ordered_quantity_base,
                l.promised_quantity_base,
                l.backordered_quantity_base,
                l.cancelled_quantity_base
            ),
            (12, 6, 6, 0)
        );
        assert_eq!(
            a.order_total.amount_minor, 3600,
            "backordered units are still ordered"
        );
        with(&mut md, AtpPolicy::Partial);
        let a = accepted(run(&sub, &md));
        let l = &a.lines[1];
        assert_eq!(
            (
                l.promised_quantity_base,
                l.backordered_quantity_base,
                l.cancelled_quantity_base
            ),
            (6, 0, 6)
        );
        assert_eq!(
            l.line_total.amount_minor, 600,
            "cancelled units are not charged"
        );
        assert_eq!(a.order_total.amount_minor, 3000);
        md.apply_availability(availability("SKU-1", "L1", 0, 3));
        let d = run(&sub, &md);
        assert!(codes(&d)
            .iter()
            .all(|(c, _, _)| *c == RejectionCode::InsufficientStock));
        assert_eq!(codes(&d).len(), 2);
        // an inactive location does not count either
        let mut l1: WarehouseLocationUpserted = location("L1");
        l1.active = false;
        md.upsert_location(l1);
        md.apply_availability(availability("SKU-1", "L1", 1000, 4));
        assert!(has(&run(&sub, &md), RejectionCode::InsufficientStock));
    }

    #[test]
    fn structure_ship_window_and_partner_po_duplicates() {
        let md = master();
        let mut sub = submission("C1", &[("SKU-1", 1.0, "EA"), ("SKU-1", 1.0, "EA")]);
        sub.lines[1].line_number = 1;
        sub.cancel_after_date = NaiveDate::from_ymd_opt(2026, 5, 1);
        sub.partner_po = Some(PartnerPoReference {
            partner_id: "ACME".into(),
            po_number: "PO-1".into(),
            ..Default::default()
        });
        let history = History {
            partner_po_accepted_as: Some("O-ORIGINAL".into()),
            ..History::default()
        };
        let d = decide(&sub, &md, &history, &Policy::default(), &meta());
        let got: Vec<RejectionCode> = codes(&d).into_iter().map(|(c, _, _)| c).collect();
        assert_eq!(
            got,
            [
                RejectionCode::InvalidOrder,
                RejectionCode::ShipWindowExpired,
                RejectionCode::DuplicateOrder
            ]
        );
        let Decision::Rejected(r) = d else {
            unreachable!()
        };
        assert!(r.reasons[2].message.contains("O-ORIGINAL"));
        assert_eq!(r.metadata.event_type, "OrderRejected");
        let empty = submission("C1", &[]);
        assert_eq!(
            codes(&run(&empty, &md)),
            vec![(RejectionCode::InvalidOrder, None, Some("lines".into()))]
        );
    }

    #[test]
    fn classification_and_content_hash() {
        let sub = submission("C1", &[("SKU-1", 1.0, "EA")]);
        let h = content_hash(&sub);
        let mut resent = sub.clone();
        resent.metadata.event_id = "sub-2".into();
        resent.submitted_by = Some("someone else".into());
        resent.partner_po = None;
        assert_eq!(
            content_hash(&resent),
            h,
            "metadata and submitter are not content"
        );
        let mut changed = sub.clone();
        changed.lines[0].quantity = 2.0;
        assert_ne!(content_hash(&changed), h);
        let mut edi = sub.clone();
        edi.partner_po = Some(PartnerPoReference {
            partner_id: "ACME".into(),
            po_number: "PO-1".into(),
            interchange_control_number: Some("000000001".into()),
            ..Default::default()
        });
        let mut edi_again = edi.clone();
        if let Some(p) = edi_again.partner_po.as_mut() {
            p.interchange_control_number = Some("000000002".into());
        }
        assert_eq!(
            content_hash(&edi),
            content_hash(&edi_again),
            "control numbers change on resend"
        );

        let rec = Arc::new(OrderRecord::accepted(
            crate::handlers::testkit::accepted("O1", "C1", 100, &[(1, 1, 100)]),
            Some(h.clone()),
            Some("sub-1".into()),
        ));
        assert_eq!(classify(None, "sub-1", &h), Prior::New);
        assert!(matches!(
            classify(Some(Arc::clone(&rec)), "sub-1", &h),
            Prior::Redelivery(_)
        ));
        assert!(matches!(
            classify(Some(Arc::clone(&rec)), "sub-2", &h),
            Prior::Duplicate(_)
        ));
        assert!(matches!(
            classify(Some(rec), "sub-2", "other"),
            Prior::Conflict(_)
        ));
        assert_eq!(order_id_for("C1", "K1"), order_id_for("C1", "K1"));
        assert_ne!(order_id_for("C1", "K1"), order_id_for("C2", "K1"));
    }

    #[test]
    fn duplicate_reports() {
        let mut sub = submission("C1", &[("SKU-1", 1.0, "EA")]);
        sub.channel = OrderChannel::Edi;
        sub.partner_po = Some(PartnerPoReference {
            partner_id: "ACME".into(),
            po_number: "PO-1".into(),
            edi_document_id: Some("DOC-9".into()),
            ..Default::default()
        });
        let rec = OrderRecord::accepted(
            crate::handlers::testkit::accepted("O1", "C1", 100, &[(1, 1, 100)]),
            Some("h".into()),
            Some("sub-0".into()),
        );
        let m = OutcomeMeta {
            event_id: duplicate_event_id("sub-1"),
            ..meta()
        };
        let dup = duplicate_report(&sub, "sub-1", &rec, false, &m);
        assert_eq!(dup.kind, ExceptionKind::EdiDuplicate);
        assert_eq!((dup.resolved, dup.severity), (true, Severity::Info));
        assert_eq!(dup.aggregate_id, "DOC-9");
        assert_eq!(dup.order_id.as_deref(), Some("O1"));
        assert_eq!(
            dup.details.get("reason_code").map(CompactString::as_str),
            Some("DUPLICATE_ORDER")
        );
        assert_eq!(dup.metadata.event_type, "BusinessException");
        let conflict = duplicate_report(&sub, "sub-1", &rec, true, &m);
        assert_eq!(
            (conflict.resolved, conflict.severity),
            (false, Severity::Warning)
        );
        assert_eq!(
            conflict
                .details
                .get("reason_code")
                .map(CompactString::as_str),
            Some("IDEMPOTENCY_KEY_CONFLICT")
        );
        assert_ne!(conflict.exception_id, "");
    }
}

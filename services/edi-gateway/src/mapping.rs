//! The 850 purchase order mapped to the canonical order events through the partner profile.
//!
//! * BEG01 `00` original and `07` duplicate -> `OrderSubmitted` (channel EDI) on
//!   `orders.submissions`, keyed by customer id. A `07` copy carries the same idempotency key
//!   as its original, so order-intake never accepts it twice; it is flagged with the header
//!   `x12.beg01 = 07` and an `EDI_DUPLICATE` exception (INFO).
//! * BEG01 `01` cancellation -> `OrderCancelRequested` (reason PARTNER_CANCELLATION) on
//!   `orders.events`, keyed by the order id of the original.
//! * Any other purpose (04 change, 05 replace, ...) is not mapped: `EDI_MAPPING_FAILED`.
//! * Customer: the N1*BT party through `customers.bill_to`, else the N1*ST party through
//!   `customers.ship_to`, else `customers.default_customer_id`; none -> `EDI_MAPPING_FAILED`.
//! * Ship-to: N1*ST N104 as `partner_location_id` (order-intake resolves it against the
//!   customer's ship-tos), `ship_to_id` when the profile maps it, name and N3/N4 address.
//! * Lines: one per PO1 in order (`line_number` 1, 2, ...; PO101 as `partner_line_id`),
//!   buyer part (BP, IN), vendor part (VP, VN), GTIN (UP, UK, EN, UA), SKU through the item
//!   cross-reference (buyer part, then vendor part, then GTIN; `null` when none matches:
//!   order-intake matches the other identifiers), quantity, unit through the unit map, PO104 as
//!   the submitted unit price in minor units of the currency (CUR02, else the profile's).
//! * Dates: BEG05 PO date, DTM*010 requested ship date, DTM*001 cancel-after date.

use chrono::{DateTime, NaiveDate, Utc};
use dsync_events::{
    Address, CancelReason, CompactString, Money, OrderCancelRequested, OrderChannel, OrderShipTo,
    OrderSubmitted, PartnerPoReference, SubmittedOrderLine,
};
use dsync_x12::po850::{Party, PurchaseOrder};
use dsync_x12::{Date, Decimal, Purpose};

use crate::events::metadata;
use crate::ids;
use crate::profile::{PartnerProfile, PartyMapping};

/// Where an 850 came from: its envelope and the event that recorded its receipt.
#[derive(Debug, Clone)]
pub struct PoSource<'a> {
    /// ISA13.
    pub isa13: &'a str,
    /// GS06.
    pub gs06: &'a str,
    /// ST02.
    pub st02: &'a str,
    /// Document id of the set.
    pub doc_id: &'a str,
    /// Event id of its EdiDocumentReceived (correlation and causation of what follows).
    pub received_event_id: &'a str,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

/// What an 850 becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum PoMapping {
    /// An order submission (BEG01 00 or 07); `duplicate_copy` for 07.
    Submit {
        /// The event.
        event: Box<OrderSubmitted>,
        /// BEG01 07.
        duplicate_copy: bool,
    },
    /// A cancel request (BEG01 01).
    Cancel(Box<OrderCancelRequested>),
    /// Not mapped; why.
    NotMapped {
        /// For a person.
        reason: String,
        /// The order id, when the customer was resolved.
        order_id: Option<String>,
    },
}

/// X12 date to calendar date.
pub fn naive_date(d: Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
}

/// Minor-unit exponent of an ISO 4217 currency.
pub fn currency_exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "CLP" | "VND" | "ISK" | "PYG" | "UGX" | "XAF" | "XOF" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "LYD" | "IQD" => 3,
        _ => 2,
    }
}

/// A decimal amount in minor units, rounded half away from zero.
pub fn minor_units(d: Decimal, exponent: u32) -> Option<i64> {
    let scale = u32::from(d.scale());
    let m = i128::from(d.mantissa());
    let v = if scale <= exponent {
        m.checked_mul(10i128.checked_pow(exponent - scale)?)?
    } else {
        let div = 10i128.checked_pow(scale - exponent)?;
        let q = m / div;
        let r = (m % div).abs();
        if r * 2 >= div {
            q + m.signum()
        } else {
            q
        }
    };
    i64::try_from(v).ok()
}

fn find_party<'p>(list: &'p [PartyMapping], party: &Party<'_>) -> Option<&'p PartyMapping> {
    let id = party.id?;
    list.iter().find(|m| {
        m.id == id
            && m.qualifier
                .as_deref()
                .is_none_or(|q| Some(q) == party.id_qualifier)
    })
}

/// The customer (and our ship-to id) of an 850.
pub fn resolve_customer(
    profile: &PartnerProfile,
    po: &PurchaseOrder<'_>,
) -> Option<(String, Option<String>)> {
    let ship = po.ship_to().and_then(|p| find_party(&profile.ship_to, p));
    let ship_to_id = ship.and_then(|m| m.ship_to_id.clone());
    if let Some(m) = po.bill_to().and_then(|p| find_party(&profile.bill_to, p)) {
        return Some((m.customer_id.clone(), ship_to_id));
    }
    if let Some(m) = ship {
        return Some((m.customer_id.clone(), ship_to_id));
    }
    profile.default_customer_id.clone().map(|c| (c, ship_to_id))
}

fn text(s: Option<&str>) -> Option<CompactString> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(CompactString::from)
}

fn address(p: &Party<'_>) -> Option<Address> {
    let line1 = p.address.first()?;
    let city = p.city?;
    Some(Address {
        line1: (*line1).into(),
        line2: text(p.address.get(1).copied()),
        city: city.into(),
        region: text(p.state),
        postal_code: text(p.postal_code),
        country_code: p.country.unwrap_or("US").to_ascii_uppercase().into(),
    })
}

/// Maps one accepted 850.
pub fn map_850(profile: &PartnerProfile, po: &PurchaseOrder<'_>, src: &PoSource<'_>) -> PoMapping {
    let key = ids::idempotency_key(&profile.id, po.po_number, po.release_number);
    let Some((customer_id, ship_to_id)) = resolve_customer(profile, po) else {
        return PoMapping::NotMapped {
            reason: format!(
                "PO {}: no customer for N1*BT {:?} / N1*ST {:?} in the partner profile (customers.bill_to, customers.ship_to, customers.default_customer_id)",
                po.po_number,
                po.bill_to().and_then(|p| p.id),
                po.ship_to().and_then(|p| p.id),
            ),
            order_id: None,
        };
    };
    let order_id = ids::order_id(&customer_id, &key);
    match po.purpose {
        Purpose::Original | Purpose::Duplicate => {}
        Purpose::Cancellation => {
            let event_type = "OrderCancelRequested";
            return PoMapping::Cancel(Box::new(OrderCancelRequested {
                metadata: metadata::<OrderCancelRequested>(
                    ids::event_id(src.doc_id, event_type),
                    src.received_at,
                    src.received_event_id,
                    Some(src.received_event_id),
                    &profile.source_system(),
                ),
                order_id: order_id.into(),
                customer_id: customer_id.into(),
                channel: OrderChannel::Edi,
                requested_by: Some(profile.source_system().into()),
                line_numbers: None,
                reason: CancelReason::PartnerCancellation,
                reason_text: Some(
                    format!("850 BEG01 01: partner cancelled PO {}", po.po_number).into(),
                ),
            }));
        }
        other => {
            return PoMapping::NotMapped {
                reason: format!(
                    "PO {}: BEG01 {} ({}) is not supported; apply the change by hand",
                    po.po_number,
                    other.code(),
                    other.description()
                ),
                order_id: Some(order_id),
            }
        }
    }
    let currency = po
        .currency
        .map(|c| c.code)
        .filter(|c| c.len() == 3)
        .unwrap_or(&profile.currency)
        .to_owned();
    let exponent = currency_exponent(&currency);
    let lines = po
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let buyer = l.buyer_part().or_else(|| l.buyer_item());
            let vendor = l.vendor_part().or_else(|| l.product_id("VN"));
            let gtin = l
                .upc()
                .or_else(|| l.product_id("UK"))
                .or_else(|| l.product_id("EN"))
                .or_else(|| l.product_id("UA"));
            SubmittedOrderLine {
                line_number: i32::try_from(i + 1).unwrap_or(i32::MAX),
                partner_line_id: text(l.line_number),
                sku: profile
                    .items
                    .sku(buyer, vendor, gtin)
                    .map(CompactString::from),
                buyer_part_number: text(buyer),
                vendor_part_number: text(vendor),
                gtin: text(gtin),
                quantity: l.quantity.to_f64(),
                unit: profile.unit(l.unit).into(),
                submitted_unit_price: l.unit_price.and_then(|p| {
                    minor_units(p, exponent).map(|amount_minor| Money {
                        amount_minor,
                        currency: currency.as_str().into(),
                    })
                }),
            }
        })
        .collect();
    let ship = po.ship_to();
    let event = OrderSubmitted {
        metadata: metadata::<OrderSubmitted>(
            ids::event_id(src.doc_id, "OrderSubmitted"),
            src.received_at,
            src.received_event_id,
            Some(src.received_event_id),
            &profile.source_system(),
        ),
        order_id: order_id.into(),
        idempotency_key: key.into(),
        channel: OrderChannel::Edi,
        customer_id: customer_id.into(),
        customer_po_number: text(Some(po.po_number)),
        partner_po: Some(PartnerPoReference {
            partner_id: profile.id.as_str().into(),
            po_number: po.po_number.into(),
            po_date: naive_date(po.po_date),
            release_number: text(po.release_number),
            interchange_control_number: Some(src.isa13.into()),
            group_control_number: Some(src.gs06.into()),
            transaction_set_control_number: Some(src.st02.into()),
            edi_document_id: Some(src.doc_id.into()),
        }),
        ship_to: OrderShipTo {
            ship_to_id: ship_to_id.map(Into::into),
            partner_location_id: ship.and_then(|p| text(p.id)),
            name: ship.and_then(|p| text(p.name)),
            address: ship.and_then(address),
        },
        requested_ship_date: po.date("010").and_then(|d| d.date).and_then(naive_date),
        cancel_after_date: po.date("001").and_then(|d| d.date).and_then(naive_date),
        currency: currency.into(),
        lines,
        submitted_by: None,
    };
    PoMapping::Submit {
        event: Box::new(event),
        duplicate_copy: po.purpose == Purpose::Duplicate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_rounds_half_away_from_zero() {
        assert_eq!(minor_units(Decimal::new(425, 2), 2), Some(425));
        assert_eq!(minor_units(Decimal::from_int(52), 2), Some(5200));
        assert_eq!(minor_units(Decimal::new(12345, 3), 2), Some(1235));
        assert_eq!(minor_units(Decimal::new(12344, 3), 2), Some(1234));
        assert_eq!(minor_units(Decimal::new(-12345, 3), 2), Some(-1235));
        assert_eq!(minor_units(Decimal::new(1999, 2), 0), Some(20));
        assert_eq!(currency_exponent("JPY"), 0);
    }
}

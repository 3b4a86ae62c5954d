//! Fixtures for the handlers' unit tests, on the shared ones of [`crate::testkit`].
#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use dsync_events::{
    AcceptedOrderLine, Address, CustomerUpserted, OrderAccepted, OrderChannel, OrderShipTo,
    OrderSubmitted, PriceKind, PriceListEntryUpserted, SubmittedOrderLine,
    WarehouseLocationUpserted,
};

use crate::state::MasterData;

pub use crate::testkit::{availability, item, usd};

pub fn address() -> Address {
    crate::testkit::address("1 Main St")
}

/// An active customer with a credit limit of 10,000.00.
pub fn customer(id: &str) -> CustomerUpserted {
    crate::testkit::customer(id, Some(1_000_000))
}

pub fn list_price(
    entry: &str,
    list: &str,
    sku: &str,
    unit: &str,
    amount: i64,
) -> PriceListEntryUpserted {
    crate::testkit::price(entry, PriceKind::List, list, sku, unit, amount)
}

pub fn contract_price(
    entry: &str,
    contract: &str,
    sku: &str,
    unit: &str,
    amount: i64,
) -> PriceListEntryUpserted {
    crate::testkit::price(entry, PriceKind::Contract, contract, sku, unit, amount)
}

/// A location of warehouse WH1.
pub fn location(id: &str) -> WarehouseLocationUpserted {
    crate::testkit::location(id, "WH1")
}

/// C1 (limit 10,000.00), SKU-1 (case of 12, 1.00 per EA), SKU-2 (case of 6, 12.00 per CS),
/// location L1 with 1,000 of each.
pub fn master() -> MasterData {
    let mut md = MasterData::default();
    md.upsert_customer(customer("C1"));
    md.upsert_item(item("SKU-1", 12));
    md.upsert_item(item("SKU-2", 6));
    md.upsert_price(list_price("P1", "LIST", "SKU-1", "EA", 100));
    md.upsert_price(list_price("P2", "LIST", "SKU-2", "CS", 1200));
    md.upsert_location(location("L1"));
    md.apply_availability(availability("SKU-1", "L1", 1000, 1));
    md.apply_availability(availability("SKU-2", "L1", 1000, 1));
    md
}

pub fn submission(customer: &str, lines: &[(&str, f64, &str)]) -> OrderSubmitted {
    let mut s = OrderSubmitted {
        order_id: "O1".into(),
        idempotency_key: "K1".into(),
        channel: OrderChannel::Http,
        customer_id: customer.into(),
        ship_to: OrderShipTo::default(),
        currency: "USD".into(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, (sku, q, u))| SubmittedOrderLine {
                line_number: i32::try_from(i).unwrap() + 1,
                sku: Some((*sku).into()),
                quantity: *q,
                unit: (*u).into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    s.metadata.event_id = "sub-1".into();
    s.metadata.occurred_at = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    s
}

pub fn accepted(
    order: &str,
    customer: &str,
    total: i64,
    lines: &[(i32, i64, i64)],
) -> OrderAccepted {
    OrderAccepted {
        order_id: order.into(),
        customer_id: customer.into(),
        idempotency_key: format!("key-{order}").into(),
        currency: "USD".into(),
        lines: lines
            .iter()
            .map(|(n, base, t)| AcceptedOrderLine {
                line_number: *n,
                sku: "SKU-1".into(),
                ordered_quantity_base: *base,
                promised_quantity_base: *base,
                line_total: usd(*t),
                ..Default::default()
            })
            .collect(),
        order_total: usd(total),
        ..Default::default()
    }
}

//! Fixtures for the handlers' unit tests.
#![allow(clippy::unwrap_used)]

use chrono::{NaiveDate, TimeZone, Utc};
use dsync_events::{
    AcceptedOrderLine, Address, AtpPolicy, AvailabilityChanged, ChannelAtp, CustomerShipTo,
    CustomerUpserted, ItemStatus, ItemUnit, ItemUpserted, LocationKind, Money, OrderAccepted,
    OrderChannel, OrderShipTo, OrderSubmitted, PriceKind, PriceListEntryUpserted,
    SubmittedOrderLine, WarehouseLocationUpserted,
};

use crate::state::MasterData;

pub fn usd(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "USD".into(),
    }
}

pub fn address() -> Address {
    Address {
        line1: "1 Main St".into(),
        city: "Springfield".into(),
        region: Some("IL".into()),
        postal_code: Some("62701".into()),
        country_code: "US".into(),
        ..Default::default()
    }
}

pub fn customer(id: &str) -> CustomerUpserted {
    CustomerUpserted {
        customer_id: id.into(),
        name: format!("Customer {id}").into(),
        active: true,
        currency: "USD".into(),
        credit_limit: Some(usd(1_000_000)),
        open_balance: usd(0),
        price_list_id: "LIST".into(),
        atp_policy: AtpPolicy::Reject,
        ship_tos: vec![CustomerShipTo {
            ship_to_id: "S1".into(),
            name: "Main store".into(),
            address: address(),
            edi_location_id: Some("STORE-1".into()),
            is_default: true,
            active: true,
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn item(sku: &str, case: i64) -> ItemUpserted {
    let unit = |u: &str, f: i64, orderable: bool| ItemUnit {
        unit: u.into(),
        factor_to_base: f,
        gtin: Some(format!("GTIN-{sku}-{u}").into()),
        orderable,
    };
    ItemUpserted {
        sku: sku.into(),
        description: format!("Item {sku}").into(),
        base_unit: "EA".into(),
        units: vec![
            unit("EA", 1, true),
            unit("CS", case, true),
            unit("PL", case * 50, false),
        ],
        status: ItemStatus::Active,
        sellable: true,
        ..Default::default()
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn list_price(
    entry: &str,
    list: &str,
    sku: &str,
    unit: &str,
    amount: i64,
) -> PriceListEntryUpserted {
    PriceListEntryUpserted {
        entry_id: entry.into(),
        kind: PriceKind::List,
        price_list_id: list.into(),
        sku: sku.into(),
        unit: unit.into(),
        unit_price: usd(amount),
        valid_from: day(2020, 1, 1),
        valid_to: None,
        ..Default::default()
    }
}

pub fn contract_price(
    entry: &str,
    contract: &str,
    sku: &str,
    unit: &str,
    amount: i64,
) -> PriceListEntryUpserted {
    PriceListEntryUpserted {
        kind: PriceKind::Contract,
        ..list_price(entry, contract, sku, unit, amount)
    }
}

pub fn location(id: &str) -> WarehouseLocationUpserted {
    WarehouseLocationUpserted {
        location_id: id.into(),
        name: format!("Location {id}").into(),
        warehouse_id: "WH1".into(),
        location_kind: LocationKind::Stock,
        atp_eligible: true,
        address: address(),
        time_zone: "America/Chicago".into(),
        active: true,
        ..Default::default()
    }
}

pub fn availability(sku: &str, loc: &str, atp: i64, version: i64) -> AvailabilityChanged {
    AvailabilityChanged {
        sku: sku.into(),
        location_id: loc.into(),
        warehouse_id: "WH1".into(),
        base_unit: "EA".into(),
        on_hand_base: atp,
        available_base: atp,
        channel_atp: OrderChannel::ALL
            .iter()
            .map(|c| ChannelAtp {
                channel: *c,
                atp_base: atp,
                safety_stock_base: 0,
            })
            .collect(),
        position_version: version,
        ..Default::default()
    }
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

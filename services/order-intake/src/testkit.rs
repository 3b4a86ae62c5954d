//! Test fixtures shared by this crate's unit tests and the integration tests (`test-util`
//! feature): typed ERP master data and inventory positions as their owners publish them.

use chrono::{NaiveDate, Utc};
use dsync_events::{
    Address, AtpPolicy, AvailabilityChanged, ChannelAtp, CustomerShipTo, CustomerUpserted, Event,
    EventMetadata, ItemStatus, ItemUnit, ItemUpserted, LocationKind, Money, OrderChannel,
    PriceKind, PriceListEntryUpserted, WarehouseLocationUpserted,
};

/// Metadata of an event published now by `source`, with a fresh id.
pub fn meta<E: Event>(source: &str) -> EventMetadata {
    let id = uuid::Uuid::new_v4().to_string();
    EventMetadata {
        event_id: id.as_str().into(),
        event_type: E::RECORD_NAME.into(),
        occurred_at: Utc::now(),
        correlation_id: id.as_str().into(),
        causation_id: None,
        source_system: source.into(),
        schema_version: i32::try_from(E::SCHEMA_VERSION).unwrap_or(1),
    }
}

/// An amount in USD.
pub fn usd(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "USD".into(),
    }
}

/// A US address.
pub fn address(line1: &str) -> Address {
    Address {
        line1: line1.into(),
        line2: None,
        city: "Springfield".into(),
        region: Some("IL".into()),
        postal_code: Some("62701".into()),
        country_code: "US".into(),
    }
}

/// An active USD customer buying from price list `LIST`, with a default ship-to `S1` (EDI
/// location `STORE-1`), the given credit limit and policy REJECT.
pub fn customer(id: &str, credit_limit_minor: Option<i64>) -> CustomerUpserted {
    CustomerUpserted {
        metadata: meta::<CustomerUpserted>("erp"),
        customer_id: id.into(),
        name: format!("Customer {id}").into(),
        active: true,
        currency: "USD".into(),
        credit_limit: credit_limit_minor.map(usd),
        open_balance: usd(0),
        balance_as_of: Utc::now(),
        on_hold: false,
        hold_reason: None,
        price_list_id: "LIST".into(),
        contract_id: None,
        atp_policy: AtpPolicy::Reject,
        crm_account_id: None,
        edi_partner_id: None,
        bill_to: None,
        ship_tos: vec![CustomerShipTo {
            ship_to_id: "S1".into(),
            name: "Main store".into(),
            address: address("1 Main St"),
            edi_location_id: Some("STORE-1".into()),
            default_warehouse_id: None,
            is_default: true,
            active: true,
        }],
    }
}

/// An active, sellable item with base unit EA and a case of `case` eaches (GTINs
/// `<sku>-EA` / `<sku>-CS`), and a pallet that cannot be ordered.
pub fn item(sku: &str, case: i64) -> ItemUpserted {
    let unit = |u: &str, f: i64, orderable: bool| ItemUnit {
        unit: u.into(),
        factor_to_base: f,
        gtin: Some(format!("{sku}-{u}").into()),
        orderable,
    };
    ItemUpserted {
        metadata: meta::<ItemUpserted>("erp"),
        sku: sku.into(),
        description: format!("Item {sku}").into(),
        base_unit: "EA".into(),
        units: vec![
            unit("EA", 1, true),
            unit("CS", case, true),
            unit("PL", case * 40, false),
        ],
        status: ItemStatus::Active,
        sellable: true,
        category: None,
    }
}

/// A price entry valid from 2020-01-01, open-ended.
pub fn price(
    entry: &str,
    kind: PriceKind,
    list: &str,
    sku: &str,
    unit: &str,
    amount_minor: i64,
) -> PriceListEntryUpserted {
    PriceListEntryUpserted {
        metadata: meta::<PriceListEntryUpserted>("erp"),
        entry_id: entry.into(),
        kind,
        price_list_id: list.into(),
        sku: sku.into(),
        unit: unit.into(),
        unit_price: usd(amount_minor),
        valid_from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default(),
        valid_to: None,
    }
}

/// An active, ATP-eligible stock location of warehouse `warehouse`.
pub fn location(id: &str, warehouse: &str) -> WarehouseLocationUpserted {
    WarehouseLocationUpserted {
        metadata: meta::<WarehouseLocationUpserted>("erp"),
        location_id: id.into(),
        name: format!("Location {id}").into(),
        warehouse_id: warehouse.into(),
        location_kind: LocationKind::Stock,
        atp_eligible: true,
        address: address("9 Dock Rd"),
        time_zone: "America/Chicago".into(),
        active: true,
        wms_source_system: None,
    }
}

/// The position of `sku@location` in warehouse `WH1` with `atp` available to every channel.
pub fn availability(sku: &str, location: &str, atp: i64, version: i64) -> AvailabilityChanged {
    AvailabilityChanged {
        metadata: meta::<AvailabilityChanged>("inventory-projector"),
        sku: sku.into(),
        location_id: location.into(),
        warehouse_id: "WH1".into(),
        base_unit: "EA".into(),
        on_hand_base: atp,
        reserved_base: 0,
        backordered_base: 0,
        available_base: atp,
        channel_atp: OrderChannel::ALL
            .iter()
            .filter(|c| **c != OrderChannel::Unknown)
            .map(|c| ChannelAtp {
                channel: *c,
                atp_base: atp,
                safety_stock_base: 0,
            })
            .collect(),
        position_version: version,
        last_movement_at: None,
    }
}

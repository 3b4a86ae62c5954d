//! Helpers shared by the tests and the benchmark: a realistic `OrderAccepted`, populated Avro
//! values for any schema, and `apache-avro` encode/decode as the reference implementation.

#![allow(dead_code)]

use std::collections::HashMap;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::{Name, Schema};
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use chrono::{NaiveDate, TimeZone, Utc};
use dsync_events::{
    AcceptedOrderLine, Address, AtpPolicy, EventMetadata, Money, OrderAccepted, OrderChannel,
    OrderShipTo, PartnerPoReference, PriceFlag, PriceKind,
};

/// An accepted EDI order with `lines` lines, every optional field set.
pub fn order_accepted(lines: usize) -> OrderAccepted {
    let usd = |amount_minor| Money {
        amount_minor,
        currency: "USD".into(),
    };
    OrderAccepted {
        metadata: EventMetadata {
            event_id: "7f1c2a8e-4c1b-5d7e-9a51-0c3e2f4b6d80".into(),
            event_type: "OrderAccepted".into(),
            occurred_at: Utc
                .timestamp_millis_opt(1_767_225_600_123)
                .single()
                .expect("timestamp"),
            correlation_id: "0b9d6c2e-1f3a-5e4d-8c7b-6a5f4e3d2c1b".into(),
            causation_id: Some("3e2d1c0b-9a8f-5e7d-6c5b-4a3f2e1d0c9b".into()),
            source_system: "order-intake".into(),
            schema_version: 1,
        },
        order_id: "5a4b3c2d-1e0f-5a9b-8c7d-6e5f4a3b2c1d".into(),
        customer_id: "C-100234".into(),
        channel: OrderChannel::Edi,
        idempotency_key: "ACME-PO-4500012345".into(),
        customer_po_number: Some("4500012345".into()),
        partner_po: Some(PartnerPoReference {
            partner_id: "ACME".into(),
            po_number: "4500012345".into(),
            po_date: NaiveDate::from_ymd_opt(2026, 1, 2),
            release_number: None,
            interchange_control_number: Some("000012345".into()),
            group_control_number: Some("12345".into()),
            transaction_set_control_number: Some("0001".into()),
            edi_document_id: Some("edi-9f8e7d6c".into()),
        }),
        ship_to: OrderShipTo {
            ship_to_id: Some("C-100234-ST-07".into()),
            partner_location_id: Some("0071".into()),
            name: Some("ACME DC 71".into()),
            address: Some(Address {
                line1: "4100 Distribution Way".into(),
                line2: Some("Dock 12".into()),
                city: "Dallas".into(),
                region: Some("TX".into()),
                postal_code: Some("75201".into()),
                country_code: "US".into(),
            }),
        },
        requested_ship_date: NaiveDate::from_ymd_opt(2026, 1, 9),
        cancel_after_date: NaiveDate::from_ymd_opt(2026, 1, 20),
        currency: "USD".into(),
        atp_policy: AtpPolicy::Backorder,
        lines: (0..lines)
            .map(|i| AcceptedOrderLine {
                line_number: i as i32 + 1,
                partner_line_id: Some(format!("{:03}", i + 1).into()),
                sku: format!("SKU-{:05}", 10_000 + i * 7).into(),
                ordered_quantity: 12.0 + i as f64,
                ordered_unit: "CS".into(),
                base_unit: "EA".into(),
                ordered_quantity_base: (12 + i as i64) * 24,
                promised_quantity_base: (12 + i as i64) * 24 - 6,
                backordered_quantity_base: 6,
                cancelled_quantity_base: 0,
                unit_price: usd(1_299),
                price_unit: "EA".into(),
                price_kind: PriceKind::Contract,
                price_list_id: "CONTRACT-ACME-2026".into(),
                price_entry_id: Some(format!("PE-{}", 77_000 + i).into()),
                submitted_unit_price: Some(usd(1_299)),
                price_flag: PriceFlag::Matched,
                line_total: usd(1_299 * (12 + i as i64) * 24),
            })
            .collect(),
        order_total: usd(2_000_000),
        credit_exposure_after: Some(usd(15_000_000)),
    }
}

/// A value of `schema` with every field set: unions take their non-null branch, arrays and
/// maps have two entries, enums a symbol other than the default, numbers vary by position.
pub fn populated(schema: &Schema) -> Value {
    let mut names = HashMap::new();
    collect_names(schema, &mut names);
    let mut counter = 0;
    populate(schema, &names, &mut counter)
}

fn collect_names(schema: &Schema, names: &mut HashMap<Name, Schema>) {
    match schema {
        Schema::Record(r) => {
            names.insert(r.name.clone(), schema.clone());
            for f in &r.fields {
                collect_names(&f.schema, names);
            }
        }
        Schema::Enum(e) => {
            names.insert(e.name.clone(), schema.clone());
        }
        Schema::Array(a) => collect_names(&a.items, names),
        Schema::Map(m) => collect_names(&m.types, names),
        Schema::Union(u) => {
            for v in u.variants() {
                collect_names(v, names);
            }
        }
        _ => {}
    }
}

fn populate(schema: &Schema, names: &HashMap<Name, Schema>, n: &mut i64) -> Value {
    *n += 1;
    let k = *n;
    match schema {
        Schema::Null => Value::Null,
        Schema::Boolean => Value::Boolean(k % 2 == 0),
        Schema::Int => Value::Int(k as i32 * 3),
        Schema::Long => Value::Long(k * 1_000_003),
        Schema::Float => Value::Float(k as f32 + 0.25),
        Schema::Double => Value::Double(k as f64 + 0.5),
        Schema::String => Value::String(format!("value-{k}")),
        Schema::Bytes => Value::Bytes(vec![1, 2, k as u8]),
        Schema::TimestampMillis => Value::TimestampMillis(1_767_225_600_000 + k),
        Schema::Date => Value::Date(20_000 + k as i32),
        Schema::Record(r) => Value::Record(
            r.fields
                .iter()
                .map(|f| (f.name.clone(), populate(&f.schema, names, n)))
                .collect(),
        ),
        Schema::Enum(e) => {
            let candidates: Vec<(usize, &String)> = e
                .symbols
                .iter()
                .enumerate()
                .filter(|(_, s)| Some(*s) != e.default.as_ref())
                .collect();
            let (i, s) = candidates[k as usize % candidates.len()];
            Value::Enum(i as u32, s.clone())
        }
        Schema::Array(a) => Value::Array(vec![
            populate(&a.items, names, n),
            populate(&a.items, names, n),
        ]),
        Schema::Map(m) => Value::Map(
            [
                (format!("key-{k}-a"), populate(&m.types, names, n)),
                (format!("key-{k}-b"), populate(&m.types, names, n)),
            ]
            .into_iter()
            .collect(),
        ),
        Schema::Union(u) => {
            let (i, branch) = u
                .variants()
                .iter()
                .enumerate()
                .find(|(_, v)| !matches!(v, Schema::Null))
                .expect("a non-null branch");
            Value::Union(i as u32, Box::new(populate(branch, names, n)))
        }
        Schema::Ref { name } => populate(&names[name].clone(), names, n),
        other => panic!("populated(): unsupported schema {other:?}"),
    }
}

/// Encodes with `apache-avro` (the reference implementation).
pub fn avro_encode(schema: &Schema, value: Value) -> Vec<u8> {
    let mut out = Vec::new();
    GenericDatumWriter::builder(schema)
        .build()
        .expect("writer")
        .write_value(&mut out, value)
        .expect("apache-avro encodes the value");
    out
}

/// Decodes with `apache-avro`, checking that the whole body is consumed.
pub fn avro_decode(schema: &Schema, body: &[u8]) -> Value {
    let mut slice = body;
    let v = GenericDatumReader::builder(schema)
        .build()
        .expect("reader")
        .read_value(&mut slice)
        .expect("apache-avro decodes the body");
    assert!(slice.is_empty(), "{} trailing bytes", slice.len());
    v
}

/// Runs a future that completes without waiting (cache hits make no I/O).
pub fn now<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the future waited (a registry request?)"),
    }
}

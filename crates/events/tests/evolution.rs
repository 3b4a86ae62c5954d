//! Schema evolution through the decoder's resolution path: a consumer built on v1 reads v2
//! data (a field added with a default) and a consumer built on v2 reads v1 data; enum symbols
//! unknown to the reader become its default; an incompatible writer is a schema mismatch.
//!
//! `testdata/OrderAccepted.v2.avsc` is a test-only v2 of `OrderAccepted`: v1 plus
//! `priority: string`, default `"STANDARD"`.

mod common;

use apache_avro::types::Value;
use dsync_events::{
    encode_framed, AcceptedOrderLine, AnyEvent, AtpPolicy, CompactString, Event, EventCodec,
    EventMetadata, EventsError, Money, OrderAccepted, OrderChannel, OrderShipTo,
    PartnerPoReference, RegistrySettings, SchemaRegistryClient,
};
use serde::{Deserialize, Serialize};

const V2_JSON: &str = include_str!("../testdata/OrderAccepted.v2.avsc");

/// What a service built on the v2 schema would have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderAcceptedV2 {
    metadata: EventMetadata,
    order_id: CompactString,
    customer_id: CompactString,
    channel: OrderChannel,
    idempotency_key: CompactString,
    customer_po_number: Option<CompactString>,
    partner_po: Option<PartnerPoReference>,
    ship_to: OrderShipTo,
    #[serde(with = "dsync_events::serde_util::date_option")]
    requested_ship_date: Option<chrono::NaiveDate>,
    #[serde(with = "dsync_events::serde_util::date_option")]
    cancel_after_date: Option<chrono::NaiveDate>,
    currency: CompactString,
    atp_policy: AtpPolicy,
    lines: Vec<AcceptedOrderLine>,
    order_total: Money,
    credit_exposure_after: Option<Money>,
    /// A `String` works as well as a `CompactString` in a hand-written type.
    priority: String,
}

dsync_events::avro_record!(OrderAcceptedV2 {
    metadata,
    order_id,
    customer_id,
    channel,
    idempotency_key,
    customer_po_number,
    partner_po,
    ship_to,
    requested_ship_date,
    cancel_after_date,
    currency,
    atp_policy,
    lines,
    order_total,
    credit_exposure_after,
    priority,
});

dsync_events::impl_event!(
    OrderAcceptedV2,
    record = "OrderAccepted",
    full_name = "com.distsync.events.OrderAccepted",
    topic = "orders.events",
    path = "crates/events/testdata/OrderAccepted.v2.avsc",
    version = 2,
    schema = V2_JSON,
);

fn v2_of(v1: &OrderAccepted, priority: &str) -> OrderAcceptedV2 {
    let mut metadata = v1.metadata.clone();
    metadata.schema_version = 2;
    OrderAcceptedV2 {
        metadata,
        order_id: v1.order_id.clone(),
        customer_id: v1.customer_id.clone(),
        channel: v1.channel,
        idempotency_key: v1.idempotency_key.clone(),
        customer_po_number: v1.customer_po_number.clone(),
        partner_po: v1.partner_po.clone(),
        ship_to: v1.ship_to.clone(),
        requested_ship_date: v1.requested_ship_date,
        cancel_after_date: v1.cancel_after_date,
        currency: v1.currency.clone(),
        atp_policy: v1.atp_policy,
        lines: v1.lines.clone(),
        order_total: v1.order_total.clone(),
        credit_exposure_after: v1.credit_exposure_after.clone(),
        priority: priority.to_owned(),
    }
}

const V1_ID: u32 = 1;
const V2_ID: u32 = 2;

/// A codec whose registry knows v1 as id 1 and v2 as id 2 (no HTTP).
fn codec() -> EventCodec {
    let client = SchemaRegistryClient::new(&RegistrySettings::default()).expect("client");
    client
        .preload(V1_ID, OrderAccepted::SCHEMA_JSON)
        .expect("v1");
    client.preload(V2_ID, V2_JSON).expect("v2");
    EventCodec::new(client)
}

#[test]
fn v2_differs_from_v1_and_is_backward_compatible() {
    use apache_avro::schema_compatibility::SchemaCompatibility;
    assert_ne!(
        OrderAccepted::event_schema().fingerprint(),
        OrderAcceptedV2::event_schema().fingerprint()
    );
    SchemaCompatibility::can_read(OrderAccepted::schema(), OrderAcceptedV2::schema())
        .expect("v2 reads v1");
    SchemaCompatibility::can_read(OrderAcceptedV2::schema(), OrderAccepted::schema())
        .expect("v1 reads v2");
}

#[test]
fn v1_reader_reads_v2_bytes() {
    let codec = codec();
    let v1 = common::order_accepted(5);
    let v2 = v2_of(&v1, "RUSH");
    let bytes = encode_framed(V2_ID, &v2).expect("encode v2");

    let read: OrderAccepted = common::now(codec.decode(&bytes)).expect("v1 reads v2");
    let mut expected = v1.clone();
    expected.metadata.schema_version = 2;
    assert_eq!(read, expected);

    // decode_any dispatches by the writer's name and resolves the same way.
    let any = common::now(codec.decode_any(&bytes)).expect("decode_any");
    assert_eq!(any, AnyEvent::OrderAccepted(expected));
}

#[test]
fn v2_reader_reads_v1_bytes_with_the_default() {
    let codec = codec();
    let v1 = common::order_accepted(5);
    let bytes = encode_framed(V1_ID, &v1).expect("encode v1");
    let read: OrderAcceptedV2 = common::now(codec.decode(&bytes)).expect("v2 reads v1");
    let mut expected = v2_of(&v1, "STANDARD");
    expected.metadata.schema_version = 1;
    assert_eq!(read, expected);
    assert_eq!(read.priority, "STANDARD", "the schema default, not Rust's");
}

#[test]
fn same_version_takes_the_direct_path() {
    let codec = codec();
    let v1 = common::order_accepted(5);
    let read: OrderAccepted =
        common::now(codec.decode(&encode_framed(V1_ID, &v1).expect("encode"))).expect("decode");
    assert_eq!(read, v1);
    let v2 = v2_of(&v1, "RUSH");
    let read: OrderAcceptedV2 =
        common::now(codec.decode(&encode_framed(V2_ID, &v2).expect("encode"))).expect("decode");
    assert_eq!(read, v2);
}

/// A schema derived from v1 by editing its JSON.
fn derived_schema(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut json: serde_json::Value =
        serde_json::from_str(OrderAccepted::SCHEMA_JSON).expect("json");
    edit(&mut json);
    json.to_string()
}

fn field_mut<'a>(schema: &'a mut serde_json::Value, name: &str) -> &'a mut serde_json::Value {
    schema["fields"]
        .as_array_mut()
        .expect("fields")
        .iter_mut()
        .find(|f| f["name"] == name)
        .expect("field")
}

fn set_field(record: &mut Value, name: &str, value: Value) {
    let Value::Record(fields) = record else {
        panic!("not a record")
    };
    fields.iter_mut().find(|(n, _)| n == name).expect("field").1 = value;
}

#[test]
fn unknown_enum_symbol_reads_as_the_default() {
    // A later version added the channel MARKETPLACE.
    let newer = derived_schema(|s| {
        let symbols = field_mut(s, "channel")["type"]["symbols"]
            .as_array_mut()
            .expect("symbols");
        symbols.insert(4, "MARKETPLACE".into());
    });
    let newer_schema = apache_avro::Schema::parse_str(&newer).expect("parse");
    let v1 = common::order_accepted(2);
    let mut value = common::avro_decode(
        OrderAccepted::schema(),
        &dsync_events::encode_body(&v1).expect("encode"),
    );
    set_field(&mut value, "channel", Value::Enum(4, "MARKETPLACE".into()));
    let mut payload = vec![0, 0, 0, 0, 9];
    payload.extend(common::avro_encode(&newer_schema, value));

    let codec = codec();
    codec.client().preload(9, &newer).expect("preload");
    let read: OrderAccepted = common::now(codec.decode(&payload)).expect("decode");
    assert_eq!(read.channel, OrderChannel::Unknown);
    assert_eq!(read.lines, v1.lines);
}

#[test]
fn incompatible_writer_is_a_schema_mismatch() {
    // A writer without `currency`, which v1 requires (no default).
    let broken = derived_schema(|s| {
        s["fields"]
            .as_array_mut()
            .expect("fields")
            .retain(|f| f["name"] != "currency");
    });
    let broken_schema = apache_avro::Schema::parse_str(&broken).expect("parse");
    let v1 = common::order_accepted(1);
    let Value::Record(mut fields) = common::avro_decode(
        OrderAccepted::schema(),
        &dsync_events::encode_body(&v1).expect("encode"),
    ) else {
        panic!("record")
    };
    fields.retain(|(n, _)| n != "currency");
    let mut payload = vec![0, 0, 0, 0, 10];
    payload.extend(common::avro_encode(&broken_schema, Value::Record(fields)));

    let codec = codec();
    codec.client().preload(10, &broken).expect("preload");
    let err = common::now(codec.decode::<OrderAccepted>(&payload)).expect_err("mismatch");
    assert!(matches!(err, EventsError::SchemaMismatch(_)), "{err}");
    assert!(err.is_poison());
    let err = common::now(codec.decode_any(&payload)).expect_err("mismatch");
    assert!(matches!(err, EventsError::SchemaMismatch(_)), "{err}");
}

#[test]
fn truncated_body_on_the_resolution_path() {
    let codec = codec();
    let v2 = v2_of(&common::order_accepted(3), "RUSH");
    let bytes = encode_framed(V2_ID, &v2).expect("encode");
    let cut = &bytes[..bytes.len() - 4];
    let err = common::now(codec.decode::<OrderAccepted>(cut)).expect_err("truncated");
    assert!(matches!(err, EventsError::Truncated(_)), "{err}");
    let mut long = bytes.clone();
    long.push(0);
    let err = common::now(codec.decode::<OrderAccepted>(&long)).expect_err("trailing");
    assert!(matches!(err, EventsError::Decode(_)), "{err}");
}

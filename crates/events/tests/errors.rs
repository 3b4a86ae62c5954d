//! Bad payloads give typed errors, and the bus classifies them as poison. Bytes are crafted by
//! hand; schema ids are preloaded into the client's cache (no registry involved; the HTTP
//! answers, unknown ids included, are in `registry_http.rs`).

mod common;

use dsync_bus::{ErrorClass, HandlerError};
use dsync_events::{
    encode_framed, Event, EventCodec, EventsError, OrderAccepted, OrderRejected, RegistrySettings,
    SchemaRegistryClient,
};

const ORDER_ACCEPTED_ID: u32 = 11;
const ORDER_REJECTED_ID: u32 = 12;
const FOREIGN_ID: u32 = 13;
const NOT_A_RECORD_ID: u32 = 14;

fn codec() -> EventCodec {
    let client = SchemaRegistryClient::new(&RegistrySettings::default()).expect("client");
    client
        .preload(ORDER_ACCEPTED_ID, OrderAccepted::SCHEMA_JSON)
        .expect("preload");
    client
        .preload(ORDER_REJECTED_ID, OrderRejected::SCHEMA_JSON)
        .expect("preload");
    client
        .preload(
            FOREIGN_ID,
            r#"{"type":"record","name":"Invoice","namespace":"com.example","fields":[{"name":"id","type":"string"}]}"#,
        )
        .expect("preload");
    client
        .preload(NOT_A_RECORD_ID, r#""string""#)
        .expect("preload");
    EventCodec::new(client)
}

fn decode(payload: &[u8]) -> EventsError {
    common::now(codec().decode::<OrderAccepted>(payload)).expect_err("must fail")
}

fn assert_poison(e: EventsError) {
    assert!(e.is_poison(), "{e}");
    let h = HandlerError::from(e);
    assert_eq!(h.class(), ErrorClass::Poison, "{h}");
}

#[test]
fn wrong_magic_byte() {
    let mut payload = encode_framed(ORDER_ACCEPTED_ID, &common::order_accepted(1)).expect("enc");
    payload[0] = 1;
    let e = decode(&payload);
    assert!(matches!(e, EventsError::WrongMagicByte(1)), "{e}");
    assert_poison(e);
    // A JSON producer on an Avro topic.
    let e = decode(br#"{"order_id":"x"}"#);
    assert!(matches!(e, EventsError::WrongMagicByte(b'{')), "{e}");
    let e = common::now(codec().decode_any(b"\x07abc")).expect_err("fails");
    assert!(matches!(e, EventsError::WrongMagicByte(7)), "{e}");
}

#[test]
fn truncated_header() {
    for payload in [&[][..], &[0], &[0, 0, 0, 11]] {
        let e = decode(payload);
        assert!(matches!(e, EventsError::Truncated(_)), "{e}");
        assert_poison(e);
    }
}

#[test]
fn truncated_body() {
    let payload = encode_framed(ORDER_ACCEPTED_ID, &common::order_accepted(5)).expect("enc");
    // Header only, a cut inside the metadata, a cut inside the last line.
    for len in [5, 12, payload.len() - 3] {
        let e = decode(&payload[..len]);
        assert!(matches!(e, EventsError::Truncated(_)), "cut at {len}: {e}");
        assert_poison(e);
    }
}

#[test]
fn schema_mismatch_when_the_writer_is_another_event_type() {
    // An OrderRejected-shaped payload read as OrderAccepted: refused by name, before decoding.
    let payload = [0, 0, 0, 0, ORDER_REJECTED_ID as u8, 0x02, b'x'];
    let e = decode(&payload);
    assert!(
        matches!(e, EventsError::SchemaMismatch(ref m) if m.contains("OrderRejected")),
        "{e}"
    );
    assert_poison(e);
    let payload = [0, 0, 0, 0, NOT_A_RECORD_ID as u8, 0x02, b'x'];
    let e = decode(&payload);
    assert!(matches!(e, EventsError::SchemaMismatch(_)), "{e}");
    let e = common::now(codec().decode_any(&payload)).expect_err("fails");
    assert!(matches!(e, EventsError::SchemaMismatch(_)), "{e}");
}

#[test]
fn unknown_event_type_in_decode_any() {
    let payload = [0, 0, 0, 0, FOREIGN_ID as u8, 0x02, b'x'];
    let e = common::now(codec().decode_any(&payload)).expect_err("fails");
    assert!(e.is_unknown_event_type(), "{e}");
    assert!(matches!(e, EventsError::UnknownEventType(ref n) if n == "com.example.Invoice"));
    assert_poison(e);
    let name = common::now(codec().writer_full_name(&payload)).expect("name");
    assert_eq!(name, "com.example.Invoice");
}

#[test]
fn undecodable_body() {
    // event_id with a negative length (zig-zag 0x03 = -2).
    let e = decode(&[0, 0, 0, 0, ORDER_ACCEPTED_ID as u8, 0x03, b'a']);
    assert!(matches!(e, EventsError::Decode(_)), "{e}");
    assert_poison(e);

    // event_id that is not UTF-8.
    let e = decode(&[0, 0, 0, 0, ORDER_ACCEPTED_ID as u8, 0x04, 0xff, 0xfe]);
    assert!(matches!(e, EventsError::Decode(_)), "{e}");

    // A valid record followed by garbage.
    let mut payload = encode_framed(ORDER_ACCEPTED_ID, &common::order_accepted(1)).expect("enc");
    payload.extend_from_slice(b"junk");
    let e = decode(&payload);
    assert!(
        matches!(e, EventsError::Decode(ref m) if m.contains("4 bytes after")),
        "{e}"
    );
    assert_poison(e);

    // An enum index out of range: the channel of a valid event replaced by index 99.
    let event = common::order_accepted(0);
    let body = dsync_events::encode_body(&event).expect("enc");
    // Locate the channel: right after metadata, order_id and customer_id.
    // metadata, order_id and customer_id are strings and longs, easy to encode by hand.
    let mut prefix = Vec::new();
    fn zigzag(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let b = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
    }
    fn string(out: &mut Vec<u8>, s: &str) {
        zigzag(out, s.len() as i64);
        out.extend_from_slice(s.as_bytes());
    }
    let m = &event.metadata;
    string(&mut prefix, &m.event_id);
    string(&mut prefix, &m.event_type);
    zigzag(&mut prefix, m.occurred_at.timestamp_millis());
    string(&mut prefix, &m.correlation_id);
    prefix.push(2); // union branch 1
    string(&mut prefix, m.causation_id.as_deref().expect("set"));
    string(&mut prefix, &m.source_system);
    zigzag(&mut prefix, m.schema_version.into());
    string(&mut prefix, &event.order_id);
    string(&mut prefix, &event.customer_id);
    assert_eq!(&body[..prefix.len()], &prefix[..], "hand encoding matches");
    let mut bad = vec![0, 0, 0, 0, ORDER_ACCEPTED_ID as u8];
    bad.extend_from_slice(&prefix);
    zigzag(&mut bad, 99);
    bad.extend_from_slice(&body[prefix.len() + 1..]);
    let e = decode(&bad);
    assert!(matches!(e, EventsError::Decode(_)), "{e}");
    assert_poison(e);
}

#[test]
fn registry_unreachable_is_transient() {
    // Nothing listens on port 1 of the loopback address.
    let settings = RegistrySettings {
        url: "http://127.0.0.1:1".into(),
        timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let codec = EventCodec::from_settings(&settings).expect("codec");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let e = rt
        .block_on(codec.decode::<OrderAccepted>(&[0, 0, 0, 0, 42, 0]))
        .expect_err("unreachable");
    assert!(matches!(e, EventsError::Registry(_)), "{e}");
    assert_eq!(HandlerError::from(e).class(), ErrorClass::Transient);
    let e = rt
        .block_on(codec.encode("orders.events", &common::order_accepted(1)))
        .expect_err("unreachable");
    assert!(e.is_transient(), "{e}");
}

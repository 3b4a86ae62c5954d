//! For every event type: its schema is its file, and a value with every field set round-trips
//! through Avro, checked against `apache-avro` as the reference implementation.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use dsync_events::{
    decode_body, encode_body, encode_framed, schemas, visit_event_type, AnyEvent, Event,
    EventCodec, EventTypeVisitor, RegistrySettings, SchemaRegistryClient, EVENT_TYPES,
};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_schema_file_is_listed_and_every_event_has_a_type() {
    let mut files = BTreeSet::new();
    for dir in std::fs::read_dir(repo_root().join("schemas")).expect("schemas/") {
        let dir = dir.expect("entry").path();
        if !dir.is_dir() || dir.ends_with("common") {
            continue;
        }
        for f in std::fs::read_dir(&dir).expect("dir") {
            let f = f.expect("entry").path();
            if f.extension().and_then(|e| e.to_str()) == Some("avsc") {
                let rel = f
                    .strip_prefix(repo_root())
                    .expect("under the repo")
                    .to_str()
                    .expect("utf-8")
                    .to_owned();
                files.insert(rel);
            }
        }
    }
    let listed: BTreeSet<String> = schemas::ALL.iter().map(|(_, _, p)| p.to_string()).collect();
    assert_eq!(listed, files);
    assert!(files.len() >= 40, "{} schema files", files.len());

    for (full, json, path) in schemas::ALL {
        let on_disk = std::fs::read_to_string(repo_root().join(path)).expect("read");
        assert_eq!(*json, on_disk, "{path}");
        let parsed = apache_avro::Schema::parse_str(json).expect("parses");
        let apache_avro::Schema::Record(r) = &parsed else {
            panic!("{path} is not a record")
        };
        assert_eq!(r.name.fullname(None), *full, "{path}");
    }

    let names: BTreeSet<&str> = schemas::ALL.iter().map(|(f, _, _)| *f).collect();
    let types: BTreeSet<&str> = EVENT_TYPES.iter().copied().collect();
    assert_eq!(names, types, "every event schema has a Rust type");
    assert_eq!(EVENT_TYPES.len(), 40);
}

struct CheckType;

impl EventTypeVisitor for CheckType {
    type Output = ();

    fn visit<E: Event + Into<AnyEvent>>(self) {
        check::<E>();
    }
}

fn check<E: Event + Into<AnyEvent>>() {
    let name = E::FULL_NAME;

    // The type's schema is its file.
    let file = std::fs::read_to_string(repo_root().join(E::SCHEMA_PATH)).expect("schema file");
    let from_file = apache_avro::Schema::parse_str(&file).expect("file parses");
    assert_eq!(
        E::schema().canonical_form(),
        from_file.canonical_form(),
        "{name}: type schema != {}",
        E::SCHEMA_PATH
    );
    assert_eq!(E::SCHEMA_JSON, file, "{name}");
    assert_eq!(format!("com.distsync.events.{}", E::RECORD_NAME), name);
    assert_eq!(E::event_schema().full_name(), name);
    assert_eq!(
        E::subject(E::TOPIC),
        format!("{}-com.distsync.events.{}", E::TOPIC, E::RECORD_NAME)
    );
    assert!(
        dsync_events::topics::ALL.contains(&E::TOPIC),
        "{name}: {}",
        E::TOPIC
    );

    // A value with every field set, written by apache-avro, decodes into the Rust type...
    let value = common::populated(E::schema());
    let reference_bytes = common::avro_encode(E::schema(), value.clone());
    let event: E = decode_body(&reference_bytes)
        .unwrap_or_else(|e| panic!("{name}: decoding apache-avro's bytes: {e}"));

    // ...encodes back to a body apache-avro reads as the same value...
    let ours = encode_body(&event).unwrap_or_else(|e| panic!("{name}: encoding: {e}"));
    assert_eq!(
        common::avro_decode(E::schema(), &ours),
        value,
        "{name}: apache-avro reads our bytes as another value"
    );
    // (byte-identical except where apache-avro writes a map in hash order)
    if !E::SCHEMA_JSON.contains("\"map\"") {
        assert_eq!(
            ours, reference_bytes,
            "{name}: bytes differ from apache-avro's"
        );
    }

    // The serde form is Avro-shaped too: serde-based Avro codecs (serde_avro_fast, apache-avro's
    // serde, hence schema_registry_converter) agree with the generated codec.
    let fast_schema: serde_avro_fast::Schema = E::SCHEMA_JSON.parse().expect("schema");
    let via_serde = serde_avro_fast::to_datum_vec(
        &event,
        &mut serde_avro_fast::ser::SerializerConfig::new(&fast_schema),
    )
    .unwrap_or_else(|e| panic!("{name}: serde_avro_fast: {e}"));
    assert_eq!(
        common::avro_decode(E::schema(), &via_serde),
        value,
        "{name}: serde_avro_fast"
    );
    let via_apache = apache_avro::to_value(&event)
        .and_then(|v| v.resolve(E::schema()))
        .unwrap_or_else(|e| panic!("{name}: apache-avro serde: {e}"));
    assert_eq!(via_apache, value, "{name}: apache-avro serde");
    let from_apache: E = apache_avro::from_value(&value)
        .unwrap_or_else(|e| panic!("{name}: apache-avro from_value: {e}"));
    assert_eq!(
        serde_json::to_value(&from_apache).expect("json"),
        serde_json::to_value(&event).expect("json"),
        "{name}: apache-avro from_value"
    );

    // ...and decodes to the same Rust value, also through the wire format and AnyEvent.
    let again: E = decode_body(&ours).expect("decode");
    let again_json = serde_json::to_value(&again).expect("json");
    let event_json = serde_json::to_value(&event).expect("json");
    assert_eq!(again_json, event_json, "{name}");

    let client = SchemaRegistryClient::new(&RegistrySettings::default()).expect("client");
    client.preload(7, E::SCHEMA_JSON).expect("preload");
    let codec = EventCodec::new(client);
    let framed = encode_framed(7, &event).expect("framed");
    assert_eq!(&framed[..5], &[0, 0, 0, 0, 7]);
    assert_eq!(&framed[5..], &ours[..]);
    let typed: E = common::now(codec.decode(&framed)).expect("decode");
    assert_eq!(serde_json::to_value(&typed).expect("json"), event_json);
    let any = common::now(codec.decode_any(&framed)).expect("decode_any");
    assert_eq!(any.full_name(), name);
    assert_eq!(any.topic(), E::TOPIC);
    assert_eq!(any.metadata(), event.metadata());
    assert_eq!(any, event.into());
    assert_eq!(
        AnyEvent::from_body(name, &ours).expect("from_body"),
        any,
        "{name}"
    );
    assert_eq!(any.encode_body().expect("encode"), ours);
}

#[test]
fn every_event_type_matches_its_file_and_round_trips() {
    for name in EVENT_TYPES {
        visit_event_type(name, CheckType).unwrap_or_else(|| panic!("{name} not dispatched"));
    }
}

#[test]
fn unknown_names_are_not_dispatched() {
    assert!(visit_event_type("com.distsync.events.Nope", CheckType).is_none());
    assert!(matches!(
        AnyEvent::from_body("com.distsync.events.Nope", &[]),
        Err(dsync_events::EventsError::UnknownEventType(_))
    ));
}

#[test]
fn generated_types_are_usable() {
    use dsync_events::{OrderAccepted, OrderChannel};
    let e = common::order_accepted(5);
    assert_eq!(OrderAccepted::TOPIC, dsync_events::topics::ORDERS_EVENTS);
    assert_eq!(OrderAccepted::SCHEMA_VERSION, 1);
    assert_eq!(OrderChannel::default(), OrderChannel::Unknown);
    assert_eq!(OrderChannel::Edi.as_str(), "EDI");
    assert_eq!(OrderChannel::from_symbol("CRM"), Some(OrderChannel::Crm));
    assert_eq!(OrderChannel::ALL.len(), 5);
    assert_eq!(e.metadata().event_type, OrderAccepted::RECORD_NAME);
    let h = e.metadata.to_headers(None);
    assert_eq!(h.event_id, e.metadata.event_id);
    assert_eq!(
        h.causation_id.as_deref(),
        e.metadata.causation_id.as_deref()
    );
    let _default = OrderAccepted::default();
}

//! Encode/decode benchmark of an `OrderAccepted` with 5 lines (`cargo bench -p dsync-events`).
//!
//! No external harness: every case is warmed up, then timed in batches; the table gives the
//! median and mean nanoseconds per event over the batches, and the payload size. "wire" rows go
//! through `EventCodec` with a preloaded registry client (the steady state: no HTTP), polled
//! once without a runtime. Targets: encode <= 1 us, decode <= 1.5 us.

#![allow(clippy::print_stdout)] // the table is the output

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use apache_avro::types::Value;
use dsync_events::{
    decode_body, encode_body, encode_framed, Event, EventCodec, OrderAccepted, RegistrySettings,
    SchemaRegistryClient,
};

const TOPIC: &str = "orders.events";
const WARMUP: usize = 20_000;
const BATCH: usize = 200;
const BATCHES: usize = 1_500;

struct Row {
    name: &'static str,
    p50: f64,
    mean: f64,
    bytes: usize,
}

/// Runs the case unless command-line filters exclude it (`cargo bench -p dsync-events -- decode`).
fn measure<T>(name: &'static str, bytes: usize, mut op: impl FnMut() -> T) -> Option<Row> {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
        return None;
    }
    for _ in 0..WARMUP {
        black_box(op());
    }
    let mut per_op = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(op());
        }
        per_op.push(start.elapsed().as_nanos() as f64 / BATCH as f64);
    }
    per_op.sort_by(f64::total_cmp);
    let p50 = per_op[per_op.len() / 2];
    let mean = per_op.iter().sum::<f64>() / per_op.len() as f64;
    Some(Row {
        name,
        p50,
        mean,
        bytes,
    })
}

fn main() {
    let event = common::order_accepted(5);
    let body = encode_body(&event).expect("encode");
    assert_eq!(decode_body::<OrderAccepted>(&body).expect("decode"), event);

    let client = SchemaRegistryClient::new(&RegistrySettings::default()).expect("client");
    client
        .preload_subject(
            &OrderAccepted::subject(TOPIC),
            1,
            OrderAccepted::SCHEMA_JSON,
        )
        .expect("preload");
    let codec = EventCodec::new(client);
    let framed = common::now(codec.encode(TOPIC, &event)).expect("encode");
    assert_eq!(framed, encode_framed(1, &event).expect("framed"));

    // A v2 writer (one field added with a default) for the resolution path.
    let v2_json = include_str!("../testdata/OrderAccepted.v2.avsc");
    let v2 = apache_avro::Schema::parse_str(v2_json).expect("v2");
    let Value::Record(mut fields) = common::avro_decode(OrderAccepted::schema(), &body) else {
        panic!("record")
    };
    fields.push(("priority".into(), Value::String("RUSH".into())));
    let mut framed_v2 = vec![0, 0, 0, 0, 2];
    framed_v2.extend(common::avro_encode(&v2, Value::Record(fields)));
    codec.client().preload(2, v2_json).expect("preload v2");
    let from_v2: OrderAccepted = common::now(codec.decode(&framed_v2)).expect("resolve");
    assert_eq!(from_v2, event);

    let schema = OrderAccepted::schema();
    let fast_schema: serde_avro_fast::Schema = OrderAccepted::SCHEMA_JSON.parse().expect("schema");
    let reference_value = common::avro_decode(schema, &body);
    let rows = [
        measure("encode, Avro body (generated code)", body.len(), || {
            encode_body(black_box(&event)).expect("encode")
        }),
        measure(
            "encode, wire format (EventCodec::encode)",
            framed.len(),
            || common::now(codec.encode(TOPIC, black_box(&event))).expect("encode"),
        ),
        measure("decode, Avro body (generated code)", body.len(), || {
            decode_body::<OrderAccepted>(black_box(&body)).expect("decode")
        }),
        measure(
            "decode, wire format (EventCodec::decode)",
            framed.len(),
            || common::now(codec.decode::<OrderAccepted>(black_box(&framed))).expect("decode"),
        ),
        measure(
            "decode, wire format (EventCodec::decode_any)",
            framed.len(),
            || common::now(codec.decode_any(black_box(&framed))).expect("decode"),
        ),
        measure(
            "decode, v2 writer -> v1 reader (resolution)",
            framed_v2.len(),
            || common::now(codec.decode::<OrderAccepted>(black_box(&framed_v2))).expect("decode"),
        ),
        measure(
            "comparison: serde_avro_fast encode (serde)",
            body.len(),
            || {
                let mut config = serde_avro_fast::ser::SerializerConfig::new(&fast_schema);
                serde_avro_fast::to_datum_vec(black_box(&event), &mut config).expect("encode")
            },
        ),
        measure(
            "comparison: serde_avro_fast decode (serde)",
            body.len(),
            || {
                serde_avro_fast::from_datum_slice::<OrderAccepted>(black_box(&body), &fast_schema)
                    .expect("decode")
            },
        ),
        measure(
            "comparison: apache-avro encode of a Value",
            body.len(),
            || common::avro_encode(schema, black_box(&reference_value).clone()),
        ),
        measure(
            "comparison: apache-avro decode to a Value",
            body.len(),
            || common::avro_decode(schema, black_box(&body)),
        ),
    ];

    println!();
    println!("OrderAccepted, 5 lines; {BATCHES} batches of {BATCH} after {WARMUP} warm-up ops");
    println!();
    println!("| operation | ns/op p50 | ns/op mean | bytes |");
    println!("|---|---:|---:|---:|");
    for r in rows.iter().flatten() {
        println!(
            "| {} | {:.0} | {:.0} | {} |",
            r.name, r.p50, r.mean, r.bytes
        );
    }
    println!();
    let (Some(encode), Some(decode)) = (&rows[1], &rows[3]) else {
        return;
    };
    let (encode, decode) = (encode.p50, decode.p50);
    println!(
        "targets (wire format, p50): encode {encode:.0} ns <= 1000 ns: {}; decode {decode:.0} ns <= 1500 ns: {}",
        if encode <= 1000.0 { "met" } else { "MISSED" },
        if decode <= 1500.0 { "met" } else { "MISSED" },
    );
}

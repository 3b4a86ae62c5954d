//! The events crate against the real registry and broker: typed events encoded in the Confluent
//! wire format through our registry, carried by the bus, decoded by a consumer; a v1 consumer
//! reads v2 data registered in the registry; undecodable records are dead-lettered as poison
//! with the decoder's reason while the partition keeps flowing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apache_avro::types::Value;
use dsync_bus::dlq;
use dsync_bus::{
    BusMetrics, ConsumerConfig, ConsumerLoop, EventHeaders, EventProducer, Handler, HandlerError,
    HandlerResult, InboundRecord, OutboundRecord,
};
use dsync_events::{AnyEvent, Event, EventCodec, OrderCancelRequested};
use dsync_tests::registry::TestRegistry;
use dsync_tests::{eventually, Check, TestEnv};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

fn cancel_request(order: &str, n: i64) -> anyhow::Result<OrderCancelRequested> {
    Ok(serde_json::from_value(json!({
        "metadata": {
            "event_id": EventHeaders::deterministic_id("test", &format!("{order}/{n}")),
            "event_type": "OrderCancelRequested",
            "occurred_at": 1_767_225_600_123_i64 + n,
            "correlation_id": order,
            "causation_id": null,
            "source_system": "crm",
            "schema_version": 1
        },
        "order_id": order,
        "customer_id": "C-100234",
        "channel": "HTTP",
        "requested_by": "jane@example.com",
        "line_numbers": [1, 3],
        "reason": "CUSTOMER_REQUEST",
        "reason_text": "customer called"
    }))?)
}

/// Decodes every record; poison when it cannot.
struct Decoding {
    codec: EventCodec,
    decoded: Mutex<Vec<AnyEvent>>,
}

impl Handler for Decoding {
    async fn handle(&self, record: &InboundRecord) -> HandlerResult {
        let event = self
            .codec
            .decode_record(record)
            .await
            .map_err(HandlerError::from)?;
        self.decoded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
        Ok(vec![])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_events_cross_the_broker_through_the_registry_and_bad_bytes_are_poison(
) -> anyhow::Result<()> {
    let env = TestEnv::new();
    let registry = TestRegistry::start(&env).await?;
    let topic = env.topic("ev", 2).await?;
    let codec = registry.codec()?;
    let producer = EventProducer::new(&env.settings, BusMetrics::unregistered())?;

    let sent: Vec<OrderCancelRequested> = (0..5)
        .map(|n| cancel_request(&format!("order-{n}"), n))
        .collect::<anyhow::Result<_>>()?;
    for e in &sent {
        let out = codec
            .outbound(&topic, e.order_id.as_bytes(), e, None)
            .await?;
        assert_eq!(out.headers.event_id, e.metadata.event_id.as_str());
        assert_eq!(out.headers.event_type, "OrderCancelRequested");
        producer.send(&out).await?;
    }
    // The schema is registered under the TopicRecordNameStrategy subject.
    let subject = OrderCancelRequested::subject(&topic);
    let versions = registry
        .get(&format!("/subjects/{subject}/versions"))
        .await?
        .ok()?;
    assert_eq!(versions, json!([1]));

    // Poison: not the wire format, and an id the registry never issued.
    let bad = |payload: Vec<u8>| {
        OutboundRecord::new(
            &topic,
            b"order-0".to_vec(),
            payload,
            EventHeaders::new_root("OrderCancelRequested", uuid::Uuid::new_v4().to_string()),
        )
    };
    producer.send(&bad(b"{\"json\": true}".to_vec())).await?;
    producer
        .send(&bad(vec![0, 0, 0, 0x7f, 0x7f, 2, 4, 6]))
        .await?;

    let handler = Arc::new(Decoding {
        codec: registry.codec()?,
        decoded: Mutex::new(Vec::new()),
    });
    let stop = CancellationToken::new();
    let metrics = BusMetrics::unregistered();
    let consumer = ConsumerLoop::new(
        env.settings.clone(),
        ConsumerConfig::new(env.unique("ev"), &[topic.as_str()]),
        Arc::clone(&handler),
        EventProducer::new(&env.settings, metrics.clone())?,
        metrics,
    );
    let task = tokio::spawn(consumer.run(stop.clone()));
    let dead = env.wait_for(&dlq::dlq_topic(&topic), 2, WAIT).await?;
    eventually("events decoded", WAIT, || async {
        let n = handler.decoded.lock().map(|d| d.len()).unwrap_or(0);
        Ok(Check::when(n >= sent.len(), (), || format!("{n} decoded")))
    })
    .await?;
    stop.cancel();
    task.await??;

    let mut got: Vec<OrderCancelRequested> = handler
        .decoded
        .lock()
        .map(|d| d.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|e| match e {
            AnyEvent::OrderCancelRequested(e) => Ok(e),
            other => Err(anyhow::anyhow!("unexpected {}", other.record_name())),
        })
        .collect::<anyhow::Result<_>>()?;
    got.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    assert_eq!(got, sent, "every event decoded to the value sent");

    let reasons: Vec<String> = dead
        .iter()
        .map(|d| {
            String::from_utf8_lossy(d.header(dlq::H_ERROR_MESSAGE).unwrap_or_default()).into_owned()
        })
        .collect();
    assert_eq!(dead.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.to_lowercase().contains("magic")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains(&0x7f7f.to_string()) || r.to_lowercase().contains("unknown schema")),
        "{reasons:?}"
    );
    registry.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_consumer_reads_v2_data_registered_in_the_registry() -> anyhow::Result<()> {
    let env = TestEnv::new();
    let registry = TestRegistry::start(&env).await?;
    let topic = "orders.cancel-test";
    let subject = OrderCancelRequested::subject(topic);
    // v1 registered by the producer, then v2: a field added with a default.
    registry
        .register(&subject, OrderCancelRequested::SCHEMA_JSON)
        .await?;
    let mut v2: serde_json::Value = serde_json::from_str(OrderCancelRequested::SCHEMA_JSON)?;
    v2["fields"]
        .as_array_mut()
        .ok_or_else(|| anyhow::anyhow!("fields"))?
        .push(json!({"name": "priority", "type": "string", "default": "STANDARD", "doc": "Handling priority."}));
    let v2_text = v2.to_string();
    let v2_id = registry.register(&subject, &v2_text).await?;

    // Data written with v2 by someone else (apache-avro, generic values).
    let v2_schema = apache_avro::Schema::parse_str(&v2_text)?;
    let v1_value = apache_avro::to_value(cancel_request("order-9", 9)?)?;
    let Value::Record(mut fields) = v1_value else {
        anyhow::bail!("not a record")
    };
    fields.push(("priority".into(), Value::String("RUSH".into())));
    let mut body = Vec::new();
    apache_avro::writer::datum::GenericDatumWriter::builder(&v2_schema)
        .build()?
        .write_value(&mut body, Value::Record(fields))?;
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(v2_id as u32).to_be_bytes());
    framed.extend_from_slice(&body);

    let codec = registry.codec()?;
    let decoded: OrderCancelRequested = codec.decode(&framed).await?;
    assert_eq!(
        decoded,
        cancel_request("order-9", 9)?,
        "v1 reader ignores the added field"
    );
    registry.stop().await?;
    Ok(())
}

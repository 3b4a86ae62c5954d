//! Bounded reads: a topic from the beginning to its current end, and the end offsets themselves.
//!
//! Broker quirk handled here, once: on tansu's `memory://` engine, ListOffsets(latest) reports a
//! wrong high-water mark after multi-record batches, while the fetch response's high-water mark
//! and partition-EOF events are right. So "where does the topic end" is never answered from
//! ListOffsets: a reader consumes until every partition signalled EOF and takes the consumer's
//! position there. Against Apache Kafka the answer is the same.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use crate::admin::topic_partitions;
use crate::record::InboundRecord;
use crate::{BusError, KafkaSettings};

fn reader_consumer(settings: &KafkaSettings) -> Result<BaseConsumer, BusError> {
    let mut cfg = settings.client_config();
    settings.apply_overrides(&mut cfg);
    cfg.set("group.id", "dsync-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest");
    cfg.create().map_err(|e| BusError::kafka("creating reader", e))
}

/// Polls until every assigned partition reported EOF; returns the records read (if `keep`).
fn drain_to_eof(
    consumer: &BaseConsumer,
    partitions: i32,
    keep: bool,
    timeout: Duration,
) -> Result<Vec<InboundRecord>, BusError> {
    let deadline = Instant::now() + timeout;
    let mut at_eof: HashSet<i32> = HashSet::new();
    let mut out = Vec::new();
    while (at_eof.len() as i32) < partitions {
        if Instant::now() > deadline {
            return Err(BusError::Timeout(format!(
                "reading to end: {} of {partitions} partitions reached EOF",
                at_eof.len()
            )));
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                at_eof.remove(&rdkafka::Message::partition(&m));
                if keep {
                    out.push(InboundRecord::from_owned(&m.detach()));
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_eof.insert(p);
            }
            Some(Err(e)) => return Err(BusError::kafka("reading to end", e)),
        }
    }
    Ok(out)
}

fn assign_all(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: i32,
    offset: Offset,
) -> Result<(), BusError> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, offset)
            .map_err(|e| BusError::kafka("building assignment", e))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| BusError::kafka("assign", e))
}

async fn partitions_of(settings: &KafkaSettings, topic: &str) -> Result<i32, BusError> {
    topic_partitions(settings, Some(topic))
        .await?
        .get(topic)
        .copied()
        .ok_or_else(|| BusError::Topic {
            topic: topic.to_owned(),
            reason: "does not exist".into(),
        })
}

/// Every record of `topic`, partition by partition in offset order, from the beginning to the
/// end as it was when the read reached it.
pub async fn read_to_end(
    settings: &KafkaSettings,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<InboundRecord>, BusError> {
    let partitions = partitions_of(settings, topic).await?;
    let consumer = reader_consumer(settings)?;
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        assign_all(&consumer, &topic, partitions, Offset::Beginning)?;
        drain_to_eof(&consumer, partitions, true, timeout)
    })
    .await
    .map_err(|e| BusError::Internal(e.to_string()))?
}

/// Blocking variant of [`read_to_end`] for callers already on a blocking thread.
pub(crate) fn read_to_end_blocking(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<Vec<InboundRecord>, BusError> {
    let consumer = reader_consumer(settings)?;
    assign_all(&consumer, topic, partitions, Offset::Beginning)?;
    drain_to_eof(&consumer, partitions, true, timeout)
}

/// The end offset (offset of the next record to be written) of every partition of `topic`,
/// taken from the fetch path: start at the reported end, read to EOF, take the position.
pub async fn end_offsets(
    settings: &KafkaSettings,
    topic: &str,
) -> Result<HashMap<i32, i64>, BusError> {
    let partitions = partitions_of(settings, topic).await?;
    let consumer = reader_consumer(settings)?;
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        assign_all(&consumer, &topic, partitions, Offset::End)?;
        drain_to_eof(&consumer, partitions, false, Duration::from_secs(30))?;
        let pos = consumer
            .position()
            .map_err(|e| BusError::kafka("position", e))?;
        let mut out = HashMap::new();
        for e in pos.elements_for_topic(&topic) {
            let o = e.offset().to_raw().unwrap_or(0).max(0);
            out.insert(e.partition(), o);
        }
        Ok(out)
    })
    .await
    .map_err(|e| BusError::Internal(e.to_string()))?
}

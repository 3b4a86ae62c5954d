//! The producer: idempotent, `acks=all`, keyed by aggregate id, standard headers on every record,
//! and delivery awaited so callers commit inputs only after their outputs are durable.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use tracing::{debug, warn};

use crate::metrics::BusMetrics;
use crate::{BusError, KafkaSettings, OutboundRecord};

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Partition written.
    pub partition: i32,
    /// Offset assigned by the broker.
    pub offset: i64,
    /// The record's timestamp (milliseconds since the epoch) as the broker stored it.
    pub timestamp_ms: Option<i64>,
}

/// A cheap-to-clone handle on one idempotent producer.
#[derive(Clone)]
pub struct EventProducer {
    inner: FutureProducer,
    metrics: BusMetrics,
}

impl std::fmt::Debug for EventProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventProducer").finish_non_exhaustive()
    }
}

impl EventProducer {
    /// Creates the producer. `--kafka-config` overrides apply last.
    pub fn new(settings: &KafkaSettings, metrics: BusMetrics) -> Result<Self, BusError> {
        settings.validate()?;
        let mut cfg = settings.client_config();
        cfg.set("enable.idempotence", "true")
            .set("acks", "all")
            // Same key -> same partition as Java clients and Kafka Connect (murmur2), so topics
            // written by other tools stay co-partitioned with ours.
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "0")
            .set("message.timeout.ms", "30000")
            .set("queue.buffering.max.messages", "200000");
        settings.apply_overrides(&mut cfg);
        let inner: FutureProducer = cfg
            .create()
            .map_err(|e| BusError::kafka("creating producer", e))?;
        Ok(Self { inner, metrics })
    }

    /// Enqueues one record (in call order) and returns its delivery future. When the local
    /// queue is full it waits for room rather than failing.
    fn enqueue(&self, r: &OutboundRecord) -> Result<DeliveryFuture, BusError> {
        let headers = r.headers.to_kafka(&r.extra_headers);
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&r.topic)
            .key(r.key.as_slice())
            .headers(headers);
        if let Some(p) = &r.payload {
            record = record.payload(p.as_slice());
        }
        let mut waited = Duration::ZERO;
        loop {
            match self.inner.send_result(record) {
                Ok(f) => return Ok(f),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    if waited > Duration::from_secs(30) {
                        return Err(BusError::Timeout("producer queue full for 30 s".into()));
                    }
                    self.inner.poll(Timeout::After(Duration::from_millis(10)));
                    waited += Duration::from_millis(10);
                }
                Err((e, _)) => {
                    self.metrics
                        .produce_errors
                        .with_label_values(&[&r.topic])
                        .inc();
                    return Err(BusError::kafka(format!("enqueue to {}", r.topic), e));
                }
            }
        }
    }

    async fn await_delivery(
        &self,
        topic: &str,
        started: Instant,
        f: DeliveryFuture,
    ) -> Result<Delivered, BusError> {
        match f.await {
            Ok(Ok(d)) => {
                self.metrics.produced.with_label_values(&[topic]).inc();
                self.metrics
                    .produce_ack
                    .with_label_values(&[topic])
                    .observe(started.elapsed().as_secs_f64());
                Ok(Delivered {
                    partition: d.partition,
                    offset: d.offset,
                    timestamp_ms: d.timestamp.to_millis(),
                })
            }
            Ok(Err((e, _))) => {
                self.metrics
                    .produce_errors
                    .with_label_values(&[topic])
                    .inc();
                warn!(topic, error = %e, "delivery failed");
                Err(BusError::kafka(format!("deliver to {topic}"), e))
            }
            Err(_) => Err(BusError::Internal("producer dropped the delivery".into())),
        }
    }

    /// Publishes one record and waits until the broker acknowledged it (`acks=all`).
    #[tracing::instrument(skip_all, fields(topic = %record.topic, event_id = %record.headers.event_id, correlation_id = %record.headers.correlation_id))]
    pub async fn send(&self, record: &OutboundRecord) -> Result<Delivered, BusError> {
        let started = Instant::now();
        let f = self.enqueue(record)?;
        let d = self.await_delivery(&record.topic, started, f).await?;
        debug!(partition = d.partition, offset = d.offset, "delivered");
        Ok(d)
    }

    /// Publishes records in order (per key order is kept by the idempotent producer) and waits
    /// for every acknowledgement. Fails if any record failed; the caller retries the whole set
    /// and consumers absorb the duplicates by event id.
    pub async fn send_all(&self, records: &[OutboundRecord]) -> Result<Vec<Delivered>, BusError> {
        let started = Instant::now();
        let mut futures = Vec::with_capacity(records.len());
        for r in records {
            futures.push(self.enqueue(r).map(|f| (r.topic.as_str(), f))?);
        }
        try_join_all(
            futures
                .into_iter()
                .map(|(t, f)| self.await_delivery(t, started, f)),
        )
        .await
    }

    /// Enqueues records in order now and returns a future of their acknowledgements, so the
    /// caller can go on while the broker works (pipelining). Per-partition order is kept by the
    /// idempotent producer.
    pub fn enqueue_all(
        &self,
        records: &[OutboundRecord],
    ) -> Result<impl Future<Output = Result<Vec<Delivered>, BusError>> + Send + 'static, BusError>
    {
        let started = Instant::now();
        let mut futures = Vec::with_capacity(records.len());
        for r in records {
            futures.push((r.topic.clone(), self.enqueue(r)?));
        }
        let this = self.clone();
        Ok(async move {
            let mut out = Vec::with_capacity(futures.len());
            for (topic, f) in futures {
                out.push(this.await_delivery(&topic, started, f).await?);
            }
            Ok(out)
        })
    }

    /// Publishes a record with exactly the given key, value and headers (dead-lettering keeps
    /// the original bytes untouched).
    pub(crate) async fn send_raw(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: rdkafka::message::OwnedHeaders,
    ) -> Result<Delivered, BusError> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(headers);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(p) = payload {
            record = record.payload(p);
        }
        let started = Instant::now();
        let f = match self.inner.send_result(record) {
            Ok(f) => f,
            Err((e, _)) => {
                self.metrics
                    .produce_errors
                    .with_label_values(&[topic])
                    .inc();
                return Err(BusError::kafka(format!("enqueue to {topic}"), e));
            }
        };
        self.await_delivery(topic, started, f).await
    }

    /// Waits until everything enqueued has been delivered or `timeout` passed.
    pub fn flush(&self, timeout: Duration) -> Result<(), BusError> {
        self.inner
            .flush(timeout)
            .map_err(|e| BusError::kafka("flush", e))
    }
}

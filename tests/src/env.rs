//! The broker every test talks to, fresh names, raw produce and read, and the positive markers a
//! check that something did *not* happen waits for first ([`TestEnv::wait_caught_up`]).

use std::collections::HashMap;
use std::time::Duration;

use dsync_bus::{
    ensure_topics, BusMetrics, EventHeaders, EventProducer, InboundRecord, KafkaSettings,
    OutboundRecord, TopicSpec,
};

use crate::eventually::{eventually, Check};

/// The broker every test talks to: `DSYNC_TEST_BROKERS`, else `KAFKA_BROKERS`, else the local
/// stack's `127.0.0.1:9092`.
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// Connection settings.
    pub settings: KafkaSettings,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// Connects to the test broker (no I/O yet).
    pub fn new() -> Self {
        dsync_telemetry::init_for_tests();
        let brokers = std::env::var("DSYNC_TEST_BROKERS")
            .or_else(|_| std::env::var("KAFKA_BROKERS"))
            .unwrap_or_else(|_| "127.0.0.1:9092".to_owned());
        Self {
            settings: KafkaSettings::local(brokers),
        }
    }

    /// A name no other test uses.
    pub fn unique(&self, name: &str) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        format!("test-{name}-{}", &id[..12])
    }

    /// Creates a fresh topic and returns its name.
    pub async fn topic(&self, name: &str, partitions: i32) -> anyhow::Result<String> {
        let t = self.unique(name);
        ensure_topics(&self.settings, &[TopicSpec::stream(&t, partitions)]).await?;
        Ok(t)
    }

    /// A producer with metrics in a private registry.
    pub fn producer(&self) -> anyhow::Result<EventProducer> {
        Ok(EventProducer::new(
            &self.settings,
            BusMetrics::unregistered(),
        )?)
    }

    /// Publishes `(key, payload)` records in order with fresh root headers; returns their event
    /// ids.
    pub async fn produce(
        &self,
        topic: &str,
        records: &[(impl AsRef<str>, String)],
    ) -> anyhow::Result<Vec<String>> {
        let p = self.producer()?;
        let out: Vec<OutboundRecord> = records
            .iter()
            .map(|(k, v)| {
                let id = uuid::Uuid::new_v4().to_string();
                OutboundRecord::new(
                    topic,
                    k.as_ref().as_bytes().to_vec(),
                    v.as_bytes().to_vec(),
                    EventHeaders::new_root("TestEvent", id),
                )
            })
            .collect();
        p.send_all(&out).await?;
        Ok(out.into_iter().map(|r| r.headers.event_id).collect())
    }

    /// Every record of a topic, from the beginning to its current end.
    pub async fn read_all(&self, topic: &str) -> anyhow::Result<Vec<InboundRecord>> {
        Ok(dsync_bus::reader::read_to_end(&self.settings, topic, Duration::from_secs(60)).await?)
    }

    /// Every record of a topic like [`TestEnv::read_all`], none for a topic the code under test
    /// has not created yet.
    pub async fn records(&self, topic: &str) -> anyhow::Result<Vec<InboundRecord>> {
        if self.end_offsets(topic).await?.values().sum::<i64>() == 0 {
            return Ok(Vec::new());
        }
        self.read_all(topic).await
    }

    /// End offsets by partition; none for a topic that does not exist yet.
    pub async fn end_offsets(&self, topic: &str) -> anyhow::Result<HashMap<i32, i64>> {
        match dsync_bus::reader::end_offsets(&self.settings, topic).await {
            Ok(ends) => Ok(ends),
            Err(dsync_bus::BusError::Topic { .. }) => Ok(HashMap::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until `topic` holds at least `n` records (counted from its end offsets), then
    /// returns them all.
    pub async fn wait_for(
        &self,
        topic: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<InboundRecord>> {
        eventually(&format!("{topic}: {n} records"), timeout, || async {
            let count: i64 = self.end_offsets(topic).await?.values().sum();
            Ok(Check::when(count as usize >= n, (), || {
                format!("{count} records")
            }))
        })
        .await?;
        self.read_all(topic).await
    }

    /// Committed offsets of a group, by partition.
    pub async fn committed(
        &self,
        group: &str,
        topic: &str,
    ) -> anyhow::Result<HashMap<i32, Option<i64>>> {
        Ok(dsync_bus::admin::committed_offsets(&self.settings, group, topic).await?)
    }

    /// The marker before an absence check on what a consumer does: waits until `group` has
    /// committed, on every partition of each of `topics`, the end offset the partition had when
    /// this was called. Offsets are committed only once a record's outputs are durable, so from
    /// then on everything the group will ever do with those records is on the broker (and in the
    /// handler's counters).
    pub async fn wait_caught_up(
        &self,
        group: &str,
        topics: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let mut ends = Vec::with_capacity(topics.len());
        for t in topics {
            ends.push((*t, self.end_offsets(t).await?));
        }
        let what = format!("group {group} caught up with {topics:?}");
        eventually(&what, timeout, || async {
            let mut behind = Vec::new();
            for (topic, end) in &ends {
                let committed = self.committed(group, topic).await?;
                for (p, e) in end {
                    let c = committed.get(p).copied().flatten().unwrap_or(0);
                    if c < *e {
                        behind.push(format!("{topic}/{p} at {c} of {e}"));
                    }
                }
            }
            behind.sort();
            Ok(Check::when(behind.is_empty(), (), || behind.join(", ")))
        })
        .await
    }
}

/// The value of a counter or gauge in `registry`, summed over the series whose labels include
/// `labels`.
pub fn metric_value(registry: &prometheus::Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            labels.iter().all(|(k, v)| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == *k && l.value() == *v)
            })
        })
        .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
        .sum()
}

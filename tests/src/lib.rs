//! Helpers for integration tests: a connection to the real broker started by the test command,
//! fresh topic and group names per test (so tests run in parallel and never see each other's
//! data), a scripted handler whose behaviour each record's payload chooses, and the schema
//! registry in-process on a fresh schemas topic ([`registry`]).

pub mod edi;
pub mod intake;
pub mod inventory;
pub mod registry;

pub use registry::{RegistryClient, Reply, TestRegistry};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use dsync_bus::{
    ensure_topics, BusMetrics, EventHeaders, EventProducer, Handler, HandlerError, HandlerResult,
    InboundRecord, KafkaSettings, OutboundRecord, TopicSpec,
};

/// Header the scripted handler puts on each output: `<topic>/<partition>/<offset>` of its input.
pub const SOURCE_HEADER: &str = "test.source";

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
        records: &[(&str, String)],
    ) -> anyhow::Result<Vec<String>> {
        let p = self.producer()?;
        let out: Vec<OutboundRecord> = records
            .iter()
            .map(|(k, v)| {
                let id = uuid::Uuid::new_v4().to_string();
                OutboundRecord::new(
                    topic,
                    k.as_bytes().to_vec(),
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

    /// Waits until `topic` holds at least `n` records (counted from its end offsets), then
    /// returns them all.
    pub async fn wait_for(
        &self,
        topic: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<InboundRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            // A topic the code under test has not created yet counts as empty.
            let count: i64 = match dsync_bus::reader::end_offsets(&self.settings, topic).await {
                Ok(ends) => ends.values().sum(),
                Err(dsync_bus::BusError::Topic { .. }) => 0,
                Err(e) => return Err(e.into()),
            };
            if count as usize >= n {
                return self.read_all(topic).await;
            }
            if Instant::now() > deadline {
                bail!("{topic}: {count} records after {timeout:?}, expected {n}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Committed offsets of a group, by partition.
    pub async fn committed(
        &self,
        group: &str,
        topic: &str,
    ) -> anyhow::Result<HashMap<i32, Option<i64>>> {
        Ok(dsync_bus::admin::committed_offsets(&self.settings, group, topic).await?)
    }
}

/// What the scripted handler saw: one entry per attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Record key.
    pub key: String,
    /// Record payload.
    pub payload: String,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
}

/// A handler that relays each record to `out_topic`, behaving as the payload says:
/// `<id>|ok`, `<id>|transient=N` (fails N times, then succeeds), `<id>|poison`, `<id>|fatal`
/// (until [`ScriptedHandler::fix`] is called), `<id>|sleep=MS`.
#[derive(Debug)]
pub struct ScriptedHandler {
    out_topic: String,
    attempts: Mutex<HashMap<(String, i32, i64), u32>>,
    seen: Mutex<Vec<Seen>>,
    durable: Mutex<Vec<(i32, i64)>>,
    fixed: AtomicBool,
}

impl ScriptedHandler {
    /// Relays to `out_topic`.
    pub fn new(out_topic: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            out_topic: out_topic.into(),
            attempts: Mutex::new(HashMap::new()),
            seen: Mutex::new(Vec::new()),
            durable: Mutex::new(Vec::new()),
            fixed: AtomicBool::new(false),
        })
    }

    /// From now on `fatal` records are processed like `ok` ones (the bug was fixed).
    pub fn fix(&self) {
        self.fixed.store(true, Ordering::SeqCst);
    }

    /// (partition, offset) of every record the bus reported finished, in call order.
    pub fn durable(&self) -> Vec<(i32, i64)> {
        self.durable
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Every attempt so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
}

/// Parses the source coordinates the scripted handler wrote on an output.
pub fn source_of(r: &InboundRecord) -> anyhow::Result<(String, i32, i64)> {
    let s = std::str::from_utf8(r.header(SOURCE_HEADER).context("no source header")?)?;
    let mut it = s.rsplitn(3, '/');
    let offset = it.next().context("offset")?.parse()?;
    let partition = it.next().context("partition")?.parse()?;
    let topic = it.next().context("topic")?.to_owned();
    Ok((topic, partition, offset))
}

/// The payload text of a record.
pub fn payload_of(r: &InboundRecord) -> String {
    String::from_utf8_lossy(r.payload.as_deref().unwrap_or_default()).into_owned()
}

impl Handler for ScriptedHandler {
    async fn handle(&self, record: &InboundRecord) -> HandlerResult {
        let payload = payload_of(record);
        let coords = (record.topic.clone(), record.partition, record.offset);
        let attempt = {
            let mut a = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
            let n = a.entry(coords).or_insert(0);
            *n += 1;
            *n
        };
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Seen {
                key: record.key_str().unwrap_or_default().to_owned(),
                payload: payload.clone(),
                partition: record.partition,
                offset: record.offset,
            });
        let action = payload.split('|').nth(1).unwrap_or("ok");
        if let Some(n) = action.strip_prefix("transient=") {
            let n: u32 = n.parse().unwrap_or(1);
            if attempt <= n {
                return Err(HandlerError::transient(format!(
                    "scripted transient {attempt}/{n}"
                )));
            }
        } else if action == "poison" {
            return Err(HandlerError::poison(
                "scripted poison: payload cannot be decoded",
            ));
        } else if action == "fatal" && !self.fixed.load(Ordering::SeqCst) {
            return Err(HandlerError::fatal("scripted fatal: invariant broken"));
        } else if let Some(ms) = action.strip_prefix("sleep=") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(1))).await;
        }
        let id = EventHeaders::deterministic_id("scripted", &record.headers.event_id);
        let out = OutboundRecord::new(
            &self.out_topic,
            record.key.clone().unwrap_or_default(),
            payload.into_bytes(),
            record.headers.child("Relayed", id),
        )
        .with_header(
            SOURCE_HEADER,
            format!("{}/{}/{}", record.topic, record.partition, record.offset),
        );
        Ok(vec![out])
    }

    fn durable(&self, record: &InboundRecord) {
        self.durable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((record.partition, record.offset));
    }
}

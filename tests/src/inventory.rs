//! The inventory projector in-process for tests and the benchmark: a registry on a fresh
//! schemas topic, a unique topic prefix (fresh topics), typed event builders, and running
//! [`App`] instances that can be stopped and restarted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::Parser as _;
use dsync_bus::{BusMetrics, EventProducer, OutboundRecord};
use dsync_events::{
    AnyEvent, AtpPolicy, CountScope, CycleCountSnapshot, Event, EventCodec, EventMetadata,
    InventoryMovementRecorded, LocationCount, MovementType, OrderChannel, RegistrySettings,
    ReleaseReason, ReservationReleaseRequested, ReservationRequested,
};
use dsync_inventory_projector::projector::Projector;
use dsync_inventory_projector::{App, Settings, Topics};
use dsync_service::HostError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{TestEnv, TestRegistry};

/// The API key the test instances accept.
pub const API_KEY: &str = "test-key-1";

/// A test world: broker, registry, fresh topics.
#[derive(Debug)]
pub struct InventoryEnv {
    /// Broker.
    pub env: TestEnv,
    /// Registry (in-process).
    pub registry: TestRegistry,
    /// Topic prefix of this world.
    pub prefix: String,
    /// Topic names.
    pub topics: Topics,
    /// Codec against the registry.
    pub codec: EventCodec,
    /// Producer for inputs.
    pub producer: EventProducer,
    /// Input partitions.
    pub partitions: i32,
}

/// A running instance.
#[derive(Debug)]
pub struct RunningProjector {
    /// `http://<api addr>`.
    pub url: String,
    /// The projector (state, digest).
    pub projector: Arc<Projector>,
    /// Its metrics.
    pub metrics: prometheus::Registry,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), HostError>>>,
}

impl RunningProjector {
    /// Stops it gracefully and waits.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.await??;
        }
        Ok(())
    }

    /// A counter's value (summed over labels matching `labels`).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.metrics
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
}

impl RunningProjector {
    /// Waits until the instance owns `n` input partitions.
    pub async fn wait_owned(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while self.projector.owned().len() != n {
            if Instant::now() > deadline {
                bail!("owns {:?}, expected {n} partitions", self.projector.owned());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }
}

impl Drop for RunningProjector {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn ts(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}

/// Metadata of an input event.
pub fn meta<E: Event>(id: &str, at_ms: i64, source: &str) -> EventMetadata {
    EventMetadata {
        event_id: id.into(),
        event_type: E::RECORD_NAME.into(),
        occurred_at: ts(at_ms),
        correlation_id: id.into(),
        causation_id: None,
        source_system: source.into(),
        schema_version: E::SCHEMA_VERSION as i32,
    }
}

/// A movement of `sku` at `loc` in warehouse `W1`.
pub fn movement(
    sku: &str,
    loc: &str,
    seq: i64,
    prev: Option<i64>,
    ty: MovementType,
    delta: i64,
    order: Option<(&str, i32)>,
) -> InventoryMovementRecorded {
    InventoryMovementRecorded {
        metadata: meta::<InventoryMovementRecorded>(
            &format!("mv-{sku}-{seq}"),
            1_767_225_600_000 + seq,
            "wms-w1",
        ),
        warehouse_id: "W1".into(),
        source_sequence: seq,
        previous_sku_sequence: prev,
        movement_type: ty,
        sku: sku.into(),
        location_id: loc.into(),
        quantity_delta_base: delta,
        lot_number: None,
        reason_code: None,
        reference_document_type: None,
        reference_document_number: None,
        order_id: order.map(|(o, _)| o.into()),
        order_line_number: order.map(|(_, l)| l),
    }
}

/// A count of `sku` in `W1` at sequence point `seq`.
pub fn count(
    sku: &str,
    id: &str,
    seq: i64,
    scope: CountScope,
    counts: &[(&str, i64)],
) -> CycleCountSnapshot {
    CycleCountSnapshot {
        metadata: meta::<CycleCountSnapshot>(
            &format!("cc-{id}-{sku}"),
            1_767_225_700_000 + seq,
            "wms-w1",
        ),
        snapshot_id: id.into(),
        warehouse_id: "W1".into(),
        source_sequence: seq,
        scope,
        sku: sku.into(),
        counts: counts
            .iter()
            .map(|(l, q)| LocationCount {
                location_id: (*l).into(),
                counted_quantity_base: *q,
            })
            .collect(),
        snapshot_sku_count: 1,
    }
}

/// A reservation request.
pub fn reserve(
    id: &str,
    sku: &str,
    loc: &str,
    order: &str,
    qty: i64,
    policy: AtpPolicy,
) -> ReservationRequested {
    ReservationRequested {
        metadata: meta::<ReservationRequested>(id, 1_767_225_650_000, "fulfillment-orchestrator"),
        request_id: id.into(),
        order_id: order.into(),
        line_number: 1,
        sku: sku.into(),
        location_id: loc.into(),
        quantity_base: qty,
        policy,
        channel: OrderChannel::Http,
        requested_ship_date: None,
    }
}

/// A release request (`qty` None: everything).
pub fn release(
    id: &str,
    sku: &str,
    loc: &str,
    order: &str,
    qty: Option<i64>,
) -> ReservationReleaseRequested {
    ReservationReleaseRequested {
        metadata: meta::<ReservationReleaseRequested>(
            id,
            1_767_225_660_000,
            "fulfillment-orchestrator",
        ),
        request_id: id.into(),
        order_id: order.into(),
        line_number: 1,
        sku: sku.into(),
        location_id: loc.into(),
        quantity_base: qty,
        reason: ReleaseReason::OrderCancelled,
        reason_text: None,
    }
}

impl InventoryEnv {
    /// A fresh world with `partitions` input partitions.
    pub async fn new(partitions: i32) -> anyhow::Result<Self> {
        let env = TestEnv::new();
        let registry = TestRegistry::start(&env).await?;
        let prefix = format!("{}.", env.unique("inv"));
        let topics = Topics::with_prefix(&prefix);
        let codec = EventCodec::from_settings(&RegistrySettings {
            url: registry.url.clone(),
            ..RegistrySettings::default()
        })?;
        let producer = EventProducer::new(&env.settings, BusMetrics::unregistered())?;
        let me = Self {
            env,
            registry,
            prefix,
            topics,
            codec,
            producer,
            partitions,
        };
        // Declare the inputs up front so events can be produced before an instance starts.
        dsync_bus::ensure_topics(
            &me.env.settings,
            &[
                dsync_bus::TopicSpec::stream(&me.topics.movements, partitions),
                dsync_bus::TopicSpec::stream(&me.topics.requests, partitions),
            ],
        )
        .await?;
        Ok(me)
    }

    /// Settings of an instance in group `group` (extra flags appended).
    pub fn settings(&self, group: &str, extra: &[&str]) -> anyhow::Result<Settings> {
        let parts = self.partitions.to_string();
        let mut args = vec![
            "inventory-projector",
            "--http-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
            "--api-keys",
            API_KEY,
            "--topic-prefix",
            &self.prefix,
            "--group-id",
            group,
            "--input-partitions",
            &parts,
            "--output-partitions",
            "2",
            "--kafka-brokers",
            &self.env.settings.brokers,
            "--schema-registry-url",
            &self.registry.url,
        ];
        args.extend_from_slice(extra);
        Ok(Settings::try_parse_from(args)?)
    }

    /// Starts an instance.
    pub async fn start(&self, settings: Settings) -> anyhow::Result<RunningProjector> {
        let stop = CancellationToken::new();
        let app = App::build(settings).await?;
        let url = app.url();
        let projector = Arc::clone(app.projector());
        let metrics = app.metrics_registry().clone();
        let task = app.spawn(stop.clone());
        Ok(RunningProjector {
            url,
            projector,
            metrics,
            stop,
            task: Some(task),
        })
    }

    async fn send<E: Event>(&self, topic: &str, key: &str, events: &[E]) -> anyhow::Result<()> {
        let mut out: Vec<OutboundRecord> = Vec::with_capacity(events.len());
        for e in events {
            out.push(self.codec.outbound(topic, key.as_bytes(), e, None).await?);
        }
        self.producer.send_all(&out).await?;
        Ok(())
    }

    /// Publishes movements (each on its SKU's partition).
    pub async fn movements(&self, events: &[InventoryMovementRecorded]) -> anyhow::Result<()> {
        for e in events {
            self.send(&self.topics.movements, &e.sku, std::slice::from_ref(e))
                .await?;
        }
        Ok(())
    }

    /// Publishes counts.
    pub async fn counts(&self, events: &[CycleCountSnapshot]) -> anyhow::Result<()> {
        for e in events {
            self.send(&self.topics.movements, &e.sku, std::slice::from_ref(e))
                .await?;
        }
        Ok(())
    }

    /// Publishes reservation requests (concurrently: one batch).
    pub async fn reservations(&self, events: &[ReservationRequested]) -> anyhow::Result<()> {
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            out.push(
                self.codec
                    .outbound(&self.topics.requests, e.sku.as_bytes(), e, None)
                    .await?,
            );
        }
        self.producer.send_all(&out).await?;
        Ok(())
    }

    /// Publishes release requests.
    pub async fn releases(&self, events: &[ReservationReleaseRequested]) -> anyhow::Result<()> {
        for e in events {
            self.send(&self.topics.requests, &e.sku, std::slice::from_ref(e))
                .await?;
        }
        Ok(())
    }

    /// Every event of a topic, decoded, in partition/offset order.
    pub async fn events(&self, topic: &str) -> anyhow::Result<Vec<AnyEvent>> {
        let mut out = Vec::new();
        for r in self.env.read_all(topic).await? {
            out.push(self.codec.decode_record(&r).await?);
        }
        Ok(out)
    }

    /// Waits until `check` over the decoded events of `topic` holds.
    pub async fn wait_events(
        &self,
        topic: &str,
        timeout: Duration,
        check: impl Fn(&[AnyEvent]) -> bool,
    ) -> anyhow::Result<Vec<AnyEvent>> {
        let deadline = Instant::now() + timeout;
        loop {
            let evs = self.events(topic).await?;
            if check(&evs) {
                return Ok(evs);
            }
            if Instant::now() > deadline {
                bail!(
                    "{topic}: condition not met after {timeout:?} ({} events)",
                    evs.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `GET /v1/availability/{sku}` with the test key; status and body.
    pub async fn availability(
        &self,
        p: &RunningProjector,
        sku: &str,
        location: Option<&str>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut url = format!("{}/v1/availability/{sku}", p.url);
        if let Some(l) = location {
            url.push_str(&format!("?location={l}"));
        }
        let resp = reqwest::Client::new()
            .get(url)
            .header("authorization", format!("Bearer {API_KEY}"))
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body = serde_json::from_str(&resp.text().await?).unwrap_or(serde_json::Value::Null);
        Ok((status, body))
    }

    /// Waits until the SKU's on hand at `loc` (over HTTP) equals `want`.
    pub async fn wait_on_hand(
        &self,
        p: &RunningProjector,
        sku: &str,
        loc: &str,
        want: i64,
        timeout: Duration,
    ) -> anyhow::Result<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, body) = self.availability(p, sku, Some(loc)).await?;
            if status == 200 && body["positions"][0]["on_hand"].as_i64() == Some(want) {
                return Ok(body);
            }
            if Instant::now() > deadline {
                bail!("{sku}@{loc}: on hand {want} not reached: {status} {body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Reservation results by request id: (reserved units, unavailable units, backordered units).
pub fn results_by_request(events: &[AnyEvent]) -> anyhow::Result<HashMap<String, (i64, i64, i64)>> {
    let mut seen_ids = std::collections::HashSet::new();
    let mut out: HashMap<String, (i64, i64, i64)> = HashMap::new();
    for e in events {
        let (id, eid) = match e {
            AnyEvent::StockReserved(x) => {
                (x.request_id.to_string(), x.metadata.event_id.to_string())
            }
            AnyEvent::StockUnavailable(x) => {
                (x.request_id.to_string(), x.metadata.event_id.to_string())
            }
            AnyEvent::StockBackordered(x) => {
                (x.request_id.to_string(), x.metadata.event_id.to_string())
            }
            _ => continue,
        };
        // Consumers deduplicate by event id; so does this count.
        if !seen_ids.insert(eid) {
            continue;
        }
        let entry = out.entry(id).or_default();
        match e {
            AnyEvent::StockReserved(x) => entry.0 += x.reserved_quantity_base,
            AnyEvent::StockUnavailable(x) => entry.1 += x.unavailable_quantity_base,
            AnyEvent::StockBackordered(x) => entry.2 += x.backordered_quantity_base,
            _ => {}
        }
    }
    Ok(out)
}

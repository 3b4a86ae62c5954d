//! The inventory projector in-process for tests and the benchmark: a [`ServiceEnv`] (registry on
//! a fresh schemas topic, a unique topic prefix), the projector's own event builders
//! (`dsync_inventory_projector::testkit`), and running instances that can be stopped and
//! restarted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser as _;
use dsync_events::{
    AnyEvent, CycleCountSnapshot, InventoryMovementRecorded, ReservationReleaseRequested,
    ReservationRequested,
};
use dsync_inventory_projector::projector::Projector;
use dsync_inventory_projector::{Settings, Topics};

use crate::eventually::{eventually, Check};
use crate::{Running, ServiceEnv, ANY_PORT};

pub use dsync_inventory_projector::testkit::{count, meta, movement, release, reserve};

/// The API key the test instances accept.
pub const API_KEY: &str = "test-key-1";

/// A test world: a [`ServiceEnv`] (also reachable through `Deref`), the projector's topic names
/// under its prefix, the input partition count.
#[derive(Debug)]
pub struct InventoryEnv {
    /// Broker, registry, prefix, group, codec, producer.
    pub svc: ServiceEnv,
    /// Topic names.
    pub topics: Topics,
    /// Input partitions.
    pub partitions: i32,
}

crate::service::deref_to_service_env!(InventoryEnv);

/// A running instance.
pub type RunningProjector = Running<dsync_inventory_projector::App>;

impl Running<dsync_inventory_projector::App> {
    /// The projector (state, digest).
    pub fn projector(&self) -> &Arc<Projector> {
        self.parts()
    }

    /// Waits until the instance owns `n` input partitions.
    pub async fn wait_owned(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        eventually(&format!("{n} partitions owned"), timeout, || async {
            let owned = self.projector().owned();
            Ok(Check::when(owned.len() == n, (), || {
                format!("owns {owned:?}")
            }))
        })
        .await
    }
}

impl InventoryEnv {
    /// A fresh world with `partitions` input partitions.
    pub async fn new(partitions: i32) -> anyhow::Result<Self> {
        let svc = ServiceEnv::start("inv").await?;
        let topics = Topics::with_prefix(&svc.prefix);
        // Declare the inputs up front so events can be produced before an instance starts.
        dsync_bus::ensure_topics(
            &svc.env.settings,
            &[
                dsync_bus::TopicSpec::stream(&topics.movements, partitions),
                dsync_bus::TopicSpec::stream(&topics.requests, partitions),
            ],
        )
        .await?;
        Ok(Self {
            svc,
            topics,
            partitions,
        })
    }

    /// Settings of an instance in group `group` (extra flags appended).
    pub fn settings(&self, group: &str, extra: &[&str]) -> anyhow::Result<Settings> {
        let parts = self.partitions.to_string();
        let credential = format!("test:{API_KEY}");
        let mut args = vec![
            "inventory-projector",
            "--api-keys",
            &credential,
            "--bearer-tokens",
            &credential,
            "--input-partitions",
            &parts,
            "--output-partitions",
            "2",
        ];
        args.extend_from_slice(extra);
        let mut s = Settings::try_parse_from(args)?;
        s.http_addr = ANY_PORT;
        s.topic_prefix = self.prefix.clone();
        s.group_id = group.to_owned();
        s.common = self.svc.common(s.common);
        Ok(s)
    }

    /// Starts an instance.
    pub async fn start(&self, settings: Settings) -> anyhow::Result<RunningProjector> {
        Running::start(settings).await
    }

    /// Publishes movements, one after the other (each on its SKU's partition).
    pub async fn movements(&self, events: &[InventoryMovementRecorded]) -> anyhow::Result<()> {
        for e in events {
            self.publish(&self.topics.movements, &e.sku, e).await?;
        }
        Ok(())
    }

    /// Publishes counts, one after the other.
    pub async fn counts(&self, events: &[CycleCountSnapshot]) -> anyhow::Result<()> {
        for e in events {
            self.publish(&self.topics.movements, &e.sku, e).await?;
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

    /// Publishes release requests, one after the other.
    pub async fn releases(&self, events: &[ReservationReleaseRequested]) -> anyhow::Result<()> {
        for e in events {
            self.publish(&self.topics.requests, &e.sku, e).await?;
        }
        Ok(())
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
        eventually(&format!("{sku}@{loc}: on hand {want}"), timeout, || async {
            let (status, body) = self.availability(p, sku, Some(loc)).await?;
            let done = status == 200 && body["positions"][0]["on_hand"].as_i64() == Some(want);
            let seen = format!("{status} {body}");
            Ok(Check::when(done, body, || seen))
        })
        .await
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

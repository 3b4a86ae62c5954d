//! order-intake in-process for tests: a registry of its own, fresh topic names (a unique
//! `--topic-prefix`) and consumer group, typed ERP master data published with the events codec,
//! instances started and stopped at will on free ports, and a small HTTP client.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::{NaiveDate, Utc};
use dsync_bus::{EventProducer, InboundRecord};
use dsync_events::{
    Address, AnyEvent, AtpPolicy, AvailabilityChanged, ChannelAtp, CustomerShipTo,
    CustomerUpserted, Event, EventCodec, EventMetadata, ItemStatus, ItemUnit, ItemUpserted,
    LocationKind, Money, OrderChannel, PriceKind, PriceListEntryUpserted, RegistrySettings,
    WarehouseLocationUpserted,
};
use dsync_order_intake::topics::Topics;
use dsync_order_intake::{App, Settings};
use dsync_service::HostError;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{TestEnv, TestRegistry};

/// The API key the test instances accept (client `test`).
pub const API_KEY: &str = "test-api-key";
/// The bearer token the test instances accept (client `crm`).
pub const BEARER: &str = "test-bearer-token";

/// A test deployment: registry, topics, group.
#[derive(Debug)]
pub struct IntakeEnv {
    /// The broker.
    pub env: TestEnv,
    /// The registry.
    pub registry: TestRegistry,
    /// `--topic-prefix`.
    pub prefix: String,
    /// `--group-id`.
    pub group: String,
    /// Topic names.
    pub topics: Topics,
    /// Codec on the registry.
    pub codec: EventCodec,
    /// Producer.
    pub producer: EventProducer,
}

/// Metadata of a test event published by `source`.
pub fn meta<E: Event>(source: &str) -> EventMetadata {
    let id = uuid::Uuid::new_v4().to_string();
    EventMetadata {
        event_id: id.as_str().into(),
        event_type: E::RECORD_NAME.into(),
        occurred_at: Utc::now(),
        correlation_id: id.as_str().into(),
        causation_id: None,
        source_system: source.into(),
        schema_version: i32::try_from(E::SCHEMA_VERSION).unwrap_or(1),
    }
}

/// An amount in USD.
pub fn usd(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "USD".into(),
    }
}

/// A US address.
pub fn address(line1: &str) -> Address {
    Address {
        line1: line1.into(),
        line2: None,
        city: "Springfield".into(),
        region: Some("IL".into()),
        postal_code: Some("62701".into()),
        country_code: "US".into(),
    }
}

/// An active USD customer buying from price list `LIST`, with a default ship-to `S1` (EDI
/// location `STORE-1`), the given credit limit and policy REJECT.
pub fn customer(id: &str, credit_limit_minor: Option<i64>) -> CustomerUpserted {
    CustomerUpserted {
        metadata: meta::<CustomerUpserted>("erp"),
        customer_id: id.into(),
        name: format!("Customer {id}").into(),
        active: true,
        currency: "USD".into(),
        credit_limit: credit_limit_minor.map(usd),
        open_balance: usd(0),
        balance_as_of: Utc::now(),
        on_hold: false,
        hold_reason: None,
        price_list_id: "LIST".into(),
        contract_id: None,
        atp_policy: AtpPolicy::Reject,
        crm_account_id: None,
        edi_partner_id: None,
        bill_to: None,
        ship_tos: vec![CustomerShipTo {
            ship_to_id: "S1".into(),
            name: "Main store".into(),
            address: address("1 Main St"),
            edi_location_id: Some("STORE-1".into()),
            default_warehouse_id: None,
            is_default: true,
            active: true,
        }],
    }
}

/// An active, sellable item with base unit EA and a case of `case` eaches (GTINs
/// `<sku>-EA` / `<sku>-CS`), and a pallet that cannot be ordered.
pub fn item(sku: &str, case: i64) -> ItemUpserted {
    let unit = |u: &str, f: i64, orderable: bool| ItemUnit {
        unit: u.into(),
        factor_to_base: f,
        gtin: Some(format!("{sku}-{u}").into()),
        orderable,
    };
    ItemUpserted {
        metadata: meta::<ItemUpserted>("erp"),
        sku: sku.into(),
        description: format!("Item {sku}").into(),
        base_unit: "EA".into(),
        units: vec![
            unit("EA", 1, true),
            unit("CS", case, true),
            unit("PL", case * 40, false),
        ],
        status: ItemStatus::Active,
        sellable: true,
        category: None,
    }
}

/// A price entry valid from 2020-01-01, open-ended.
pub fn price(
    entry: &str,
    kind: PriceKind,
    list: &str,
    sku: &str,
    unit: &str,
    amount_minor: i64,
) -> PriceListEntryUpserted {
    PriceListEntryUpserted {
        metadata: meta::<PriceListEntryUpserted>("erp"),
        entry_id: entry.into(),
        kind,
        price_list_id: list.into(),
        sku: sku.into(),
        unit: unit.into(),
        unit_price: usd(amount_minor),
        valid_from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default(),
        valid_to: None,
    }
}

/// An active, ATP-eligible stock location of warehouse `warehouse`.
pub fn location(id: &str, warehouse: &str) -> WarehouseLocationUpserted {
    WarehouseLocationUpserted {
        metadata: meta::<WarehouseLocationUpserted>("erp"),
        location_id: id.into(),
        name: format!("Location {id}").into(),
        warehouse_id: warehouse.into(),
        location_kind: LocationKind::Stock,
        atp_eligible: true,
        address: address("9 Dock Rd"),
        time_zone: "America/Chicago".into(),
        active: true,
        wms_source_system: None,
    }
}

/// The position of `sku@location` with `atp` available to every channel.
pub fn availability(sku: &str, location: &str, atp: i64, version: i64) -> AvailabilityChanged {
    AvailabilityChanged {
        metadata: meta::<AvailabilityChanged>("inventory-projector"),
        sku: sku.into(),
        location_id: location.into(),
        warehouse_id: "WH1".into(),
        base_unit: "EA".into(),
        on_hand_base: atp,
        reserved_base: 0,
        backordered_base: 0,
        available_base: atp,
        channel_atp: OrderChannel::ALL
            .iter()
            .filter(|c| **c != OrderChannel::Unknown)
            .map(|c| ChannelAtp {
                channel: *c,
                atp_base: atp,
                safety_stock_base: 0,
            })
            .collect(),
        position_version: version,
        last_movement_at: None,
    }
}

/// A running instance.
#[derive(Debug)]
pub struct RunningIntake {
    /// `http://host:port` of the API.
    pub url: String,
    /// `http://host:port` of the admin server.
    pub admin_url: String,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), HostError>>>,
}

impl RunningIntake {
    /// Stops the instance (graceful: the consumer drains and leaves the group).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.await??;
        }
        Ok(())
    }
}

impl Drop for RunningIntake {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: HashMap<String, String>,
    /// Body (JSON, or a JSON string when it is not JSON).
    pub body: Value,
}

impl HttpReply {
    /// A header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// `body.status`.
    pub fn order_status(&self) -> &str {
        self.body["status"].as_str().unwrap_or_default()
    }

    /// `body.order_id`.
    pub fn order_id(&self) -> &str {
        self.body["order_id"].as_str().unwrap_or_default()
    }

    /// The rejection reason codes.
    pub fn reason_codes(&self) -> Vec<String> {
        self.body["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["code"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `X-API-Key`.
    ApiKey,
    /// `Authorization: Bearer`.
    Bearer,
    /// Nothing.
    None,
    /// A wrong API key.
    WrongKey,
}

/// Sends a request to the API.
pub async fn request(
    method: reqwest::Method,
    url: &str,
    auth: Auth,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> anyhow::Result<HttpReply> {
    let client = reqwest::Client::new();
    let mut req = client.request(method, url);
    req = match auth {
        Auth::ApiKey => req.header("x-api-key", API_KEY),
        Auth::Bearer => req.header("authorization", format!("Bearer {BEARER}")),
        Auth::WrongKey => req.header("x-api-key", "nope"),
        Auth::None => req,
    };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let text = resp.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(HttpReply {
        status,
        headers,
        body,
    })
}

/// `POST /v1/orders` with the API key, `key` as Idempotency-Key and `body` as JSON.
pub async fn post_order(base: &str, key: &str, body: &Value) -> anyhow::Result<HttpReply> {
    request(
        reqwest::Method::POST,
        &format!("{base}/v1/orders"),
        Auth::ApiKey,
        &[
            ("idempotency-key", key),
            ("content-type", "application/json"),
        ],
        Some(body.to_string()),
    )
    .await
}

/// `GET <base><path>` with the API key.
pub async fn get(base: &str, path: &str) -> anyhow::Result<HttpReply> {
    request(
        reqwest::Method::GET,
        &format!("{base}{path}"),
        Auth::ApiKey,
        &[],
        None,
    )
    .await
}

/// An outcome event read back from `orders.events`, with its record.
#[derive(Debug, Clone)]
pub struct Published {
    /// The record.
    pub record: InboundRecord,
    /// The decoded event.
    pub event: AnyEvent,
}

impl IntakeEnv {
    /// A registry and fresh names; the topics are created by the first instance (or
    /// [`IntakeEnv::publish`], which creates them first).
    pub async fn start() -> anyhow::Result<Self> {
        let env = TestEnv::new();
        let registry = TestRegistry::start(&env).await?;
        let prefix = format!("{}.", env.unique("oi"));
        let group = env.unique("oi-group");
        let topics = Topics::with_prefix(&prefix);
        dsync_bus::ensure_topics(&env.settings, &topics.specs()).await?;
        let codec = EventCodec::from_settings(&RegistrySettings {
            url: registry.url.clone(),
            ..RegistrySettings::default()
        })?;
        let producer = env.producer()?;
        Ok(Self {
            env,
            registry,
            prefix,
            group,
            topics,
            codec,
            producer,
        })
    }

    /// Settings of an instance of this deployment (free ports, test credentials, a 10 s
    /// result wait so slow CI machines still get synchronous answers).
    pub fn settings(&self) -> anyhow::Result<Settings> {
        use clap::Parser as _;
        let mut s = Settings::try_parse_from([
            "order-intake",
            "--http-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
            "--result-wait",
            "10s",
        ])?;
        s.topic_prefix = self.prefix.clone();
        s.group_id = self.group.clone();
        s.api_keys = vec![dsync_order_intake::settings::Credential {
            name: "test".into(),
            secret: API_KEY.into(),
        }];
        s.bearer_tokens = vec![dsync_order_intake::settings::Credential {
            name: "crm".into(),
            secret: BEARER.into(),
        }];
        s.common.kafka = self.env.settings.clone();
        s.common.registry.url = self.registry.url.clone();
        Ok(s)
    }

    /// Builds and runs an instance.
    pub async fn run(&self, settings: Settings) -> anyhow::Result<RunningIntake> {
        let app = App::build(settings).await?;
        let url = app.url();
        let admin_url = format!("http://{}", app.admin_addr());
        let stop = CancellationToken::new();
        let task = app.spawn(stop.clone());
        Ok(RunningIntake {
            url,
            admin_url,
            stop,
            task: Some(task),
        })
    }

    /// Builds and runs an instance with the default test settings.
    pub async fn run_default(&self) -> anyhow::Result<RunningIntake> {
        self.run(self.settings()?).await
    }

    /// Publishes a typed event to `topic` under `key`.
    pub async fn publish<E: Event>(&self, topic: &str, key: &str, event: &E) -> anyhow::Result<()> {
        let out = self
            .codec
            .outbound(topic, key.as_bytes().to_vec(), event, None)
            .await?;
        self.producer.send(&out).await?;
        Ok(())
    }

    /// Publishes customers, items, prices, locations and availability.
    pub async fn master_data(
        &self,
        customers: &[CustomerUpserted],
        items: &[ItemUpserted],
        prices: &[PriceListEntryUpserted],
        locations: &[WarehouseLocationUpserted],
        positions: &[AvailabilityChanged],
    ) -> anyhow::Result<()> {
        let t = &self.topics;
        for c in customers {
            self.publish(&t.customers, &c.customer_id, c).await?;
        }
        for i in items {
            self.publish(&t.items, &i.sku, i).await?;
        }
        for p in prices {
            self.publish(&t.prices, &p.entry_id, p).await?;
        }
        for l in locations {
            self.publish(&t.locations, &l.location_id, l).await?;
        }
        for a in positions {
            self.publish(&t.availability, &format!("{}@{}", a.sku, a.location_id), a)
                .await?;
        }
        Ok(())
    }

    /// Every event of `topic`, decoded (records this build cannot decode are skipped).
    pub async fn events_of(&self, topic: &str) -> anyhow::Result<Vec<Published>> {
        let records = self.env.read_all(topic).await?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            if let Ok(event) = self.codec.decode_record(&record).await {
                out.push(Published { record, event });
            }
        }
        Ok(out)
    }

    /// The outcome events of `orders.events`.
    pub async fn outcomes(&self) -> anyhow::Result<Vec<Published>> {
        self.events_of(&self.topics.events).await
    }

    /// Waits until `orders.events` holds an outcome for each of `order_ids`; returns them
    /// (all outcomes of those orders, in topic order).
    pub async fn wait_outcomes(
        &self,
        order_ids: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<Vec<Published>> {
        let deadline = Instant::now() + timeout;
        loop {
            let all = self.outcomes().await?;
            let of: Vec<Published> = all
                .into_iter()
                .filter(|p| order_ids.contains(&order_id_of(&p.event).unwrap_or_default()))
                .collect();
            let seen = order_ids
                .iter()
                .filter(|id| of.iter().any(|p| order_id_of(&p.event) == Some(**id)))
                .count();
            if seen == order_ids.len() {
                return Ok(of);
            }
            if Instant::now() > deadline {
                bail!("{seen} of {} outcomes after {timeout:?}", order_ids.len());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls `GET /v1/orders/{id}` on `base` until the status is not PENDING / 404.
    pub async fn wait_status(
        &self,
        base: &str,
        order_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<HttpReply> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = get(base, &format!("/v1/orders/{order_id}")).await?;
            if r.status == 200 && r.order_status() != "PENDING" {
                return Ok(r);
            }
            if Instant::now() > deadline {
                bail!("order {order_id} still {} after {timeout:?}", r.status);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Prometheus text of an instance's `/metrics`.
    pub async fn metrics(&self, running: &RunningIntake) -> anyhow::Result<String> {
        let r = reqwest::get(format!("{}/metrics", running.admin_url)).await?;
        r.text().await.context("metrics body")
    }
}

/// The order id of an order event.
pub fn order_id_of(e: &AnyEvent) -> Option<&str> {
    match e {
        AnyEvent::OrderAccepted(a) => Some(&a.order_id),
        AnyEvent::OrderRejected(r) => Some(&r.order_id),
        AnyEvent::OrderSubmitted(s) => Some(&s.order_id),
        _ => None,
    }
}

//! order-intake in-process for tests: a [`ServiceEnv`] (registry, fresh topic names through a
//! unique `--topic-prefix`, consumer group), typed ERP master data published with the events
//! codec, instances started and stopped at will on free ports, and a small HTTP client. The
//! master-data builders are order-intake's own fixtures (`dsync_order_intake::testkit`).

use std::collections::HashMap;
use std::time::Duration;

use dsync_events::{
    AnyEvent, AvailabilityChanged, CustomerUpserted, ItemUpserted, PriceListEntryUpserted,
    WarehouseLocationUpserted,
};
use dsync_order_intake::topics::Topics;
use dsync_order_intake::Settings;
use serde_json::Value;

use crate::eventually::{eventually, Check};
use crate::{Running, ServiceEnv, ANY_PORT};

pub use crate::Published;
pub use dsync_order_intake::testkit::{
    address, availability, customer, item, location, meta, price, usd,
};

/// The API key the test instances accept (client `test`).
pub const API_KEY: &str = "test-api-key";
/// The bearer token the test instances accept (client `crm`).
pub const BEARER: &str = "test-bearer-token";

/// A test deployment: a [`ServiceEnv`] (also reachable through `Deref`) and order-intake's
/// topic names under its prefix.
#[derive(Debug)]
pub struct IntakeEnv {
    /// Broker, registry, prefix, group, codec, producer.
    pub svc: ServiceEnv,
    /// Topic names.
    pub topics: Topics,
}

crate::service::deref_to_service_env!(IntakeEnv);

/// A running instance.
pub type RunningIntake = Running<dsync_order_intake::App>;

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

/// [`post_order`] as a client that honours 503 (the instance cannot decide now, during a
/// rebalance): sent again with the same Idempotency-Key until the instance takes it.
pub async fn post_order_retrying(
    base: &str,
    key: &str,
    body: &Value,
    timeout: Duration,
) -> anyhow::Result<HttpReply> {
    eventually(&format!("order {key} taken"), timeout, || async {
        let r = post_order(base, key, body).await?;
        let seen = format!("{} {}", r.status, r.body);
        Ok(Check::when(r.status != 503, r, || seen))
    })
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

impl IntakeEnv {
    /// A registry and fresh names; the topics are created up front.
    pub async fn start() -> anyhow::Result<Self> {
        let svc = ServiceEnv::start("oi").await?;
        let topics = Topics::with_prefix(&svc.prefix);
        dsync_bus::ensure_topics(&svc.env.settings, &topics.specs()).await?;
        Ok(Self { svc, topics })
    }

    /// Settings of an instance of this deployment (free ports, test credentials, a 10 s
    /// result wait so slow CI machines still get synchronous answers).
    pub fn settings(&self) -> anyhow::Result<Settings> {
        use clap::Parser as _;
        let mut s = Settings::try_parse_from(["order-intake", "--result-wait", "10s"])?;
        s.http_addr = ANY_PORT;
        s.topic_prefix = self.prefix.clone();
        s.group_id = self.group.clone();
        s.auth.api_keys = vec![dsync_order_intake::settings::Credential {
            name: "test".into(),
            secret: API_KEY.into(),
        }];
        s.auth.bearer_tokens = vec![dsync_order_intake::settings::Credential {
            name: "crm".into(),
            secret: BEARER.into(),
        }];
        s.common = self.svc.common(s.common);
        Ok(s)
    }

    /// Builds and runs an instance.
    /// Returns once the instance is ready (`/readyz`): it answers 503 `not_deciding` to
    /// submissions until its consumer group covers its partitions.
    pub async fn run(&self, settings: Settings) -> anyhow::Result<RunningIntake> {
        Running::start(settings).await
    }

    /// Builds and runs an instance with the default test settings.
    pub async fn run_default(&self) -> anyhow::Result<RunningIntake> {
        self.run(self.settings()?).await
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

    /// The outcome events of `orders.events`.
    pub async fn outcomes(&self) -> anyhow::Result<Vec<Published>> {
        self.published(&self.topics.events).await
    }

    /// Waits until `orders.events` holds an outcome for each of `order_ids`; returns them
    /// (all outcomes of those orders, in topic order).
    pub async fn wait_outcomes(
        &self,
        order_ids: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<Vec<Published>> {
        let what = format!("outcomes of {order_ids:?}");
        eventually(&what, timeout, || async {
            let of: Vec<Published> = self
                .outcomes()
                .await?
                .into_iter()
                .filter(|p| order_ids.contains(&order_id_of(&p.event).unwrap_or_default()))
                .collect();
            let seen = order_ids
                .iter()
                .filter(|id| of.iter().any(|p| order_id_of(&p.event) == Some(**id)))
                .count();
            Ok(Check::when(seen == order_ids.len(), of, || {
                format!("{seen} of {}", order_ids.len())
            }))
        })
        .await
    }

    /// Polls `GET /v1/orders/{id}` on `base` until the status is not PENDING / 404.
    pub async fn wait_status(
        &self,
        base: &str,
        order_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<HttpReply> {
        eventually(&format!("order {order_id} decided"), timeout, || async {
            let r = get(base, &format!("/v1/orders/{order_id}")).await?;
            let done = r.status == 200 && r.order_status() != "PENDING";
            let seen = format!("{} {}", r.status, r.order_status());
            Ok(Check::when(done, r, || seen))
        })
        .await
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

//! The real services in-process: [`TestService`] is what the kit needs of a service's `App`
//! (build from settings, addresses, spawn with a shutdown token), [`Running`] the handle of a
//! running instance (its addresses, stop and wait), and [`ServiceEnv`] the environment every
//! service test starts from (the broker, a registry of its own, a fresh topic prefix and consumer
//! group, a codec on the registry, a producer, port 0).
//!
//! A new service plugs in with an `impl TestService for its::App` (a few lines, next to the
//! others at the end of this file: build, [`Handles`], spawn), a `type RunningX =
//! Running<its::App>`, and an environment holding a [`ServiceEnv`] whose settings function
//! sets the prefix, the group, port 0 and [`ServiceEnv::common`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dsync_bus::{EventProducer, InboundRecord};
use dsync_events::{AnyEvent, Event, EventCodec};
use dsync_service::CommonSettings;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::eventually::{eventually, Check};
use crate::{metric_value, TestEnv, TestRegistry};

/// `127.0.0.1:0`: every listener of a test instance takes a free port.
pub const ANY_PORT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// What the test kit needs of a service's `App`.
pub trait TestService: Sized + Send + 'static {
    /// Its settings.
    type Settings;
    /// Its start-up error.
    type Error: std::error::Error + Send + Sync + 'static;
    /// What it fails with once running.
    type RunError: std::error::Error + Send + Sync + 'static;
    /// What a test keeps of the built app besides its addresses (its core, for state checks).
    type Parts: Send + Sync + 'static;

    /// Builds and binds an instance; `stop` is the token [`TestService::spawn`] gets next (for
    /// services whose build already starts something that must stop with it).
    fn build(
        settings: Self::Settings,
        stop: &CancellationToken,
    ) -> impl Future<Output = Result<Self, Self::Error>>;
    /// What the handle keeps of the built app.
    fn handles(&self) -> Handles<Self::Parts>;
    /// Runs the instance in a task until `stop` fires.
    fn spawn(self, stop: CancellationToken) -> JoinHandle<Result<(), Self::RunError>>;
    /// Waits, once spawned, until the instance can be used (default: at once);
    /// `admin_url` is its admin server ([`admin_ready`]).
    fn ready(
        _parts: &Self::Parts,
        _admin_url: &str,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }
}

/// What [`Running`] keeps of a built app.
#[derive(Debug)]
pub struct Handles<P> {
    /// The API's address.
    pub http: SocketAddr,
    /// The admin server's address.
    pub admin: SocketAddr,
    /// What the test keeps ([`TestService::Parts`]).
    pub parts: P,
    /// The metrics registry served on `/metrics`, when the app hands it out.
    pub metrics: Option<prometheus::Registry>,
}

impl<P> Handles<P> {
    /// The addresses and parts of an app, with its metrics registry when it hands it out.
    pub fn new(
        http: SocketAddr,
        admin: SocketAddr,
        parts: P,
        metrics: Option<&prometheus::Registry>,
    ) -> Self {
        Self {
            http,
            admin,
            parts,
            metrics: metrics.cloned(),
        }
    }
}

/// A running instance: built, spawned with its own shutdown token, stopped gracefully by
/// [`Running::stop`] (or cancelled when dropped).
pub struct Running<S: TestService> {
    /// `http://<API address>`.
    pub url: String,
    /// `http://<admin server address>`.
    pub admin_url: String,
    parts: S::Parts,
    metrics: Option<prometheus::Registry>,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), S::RunError>>>,
}

impl<S: TestService> std::fmt::Debug for Running<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("service", &std::any::type_name::<S>())
            .field("url", &self.url)
            .field("admin_url", &self.admin_url)
            .finish_non_exhaustive()
    }
}

impl<S: TestService> Running<S> {
    /// Builds an instance with `settings` and runs it.
    pub async fn start(settings: S::Settings) -> anyhow::Result<Self> {
        let stop = CancellationToken::new();
        let app = S::build(settings, &stop).await?;
        let h = app.handles();
        let task = app.spawn(stop.clone());
        let running = Self {
            url: format!("http://{}", h.http),
            admin_url: format!("http://{}", h.admin),
            parts: h.parts,
            metrics: h.metrics,
            stop,
            task: Some(task),
        };
        S::ready(&running.parts, &running.admin_url).await?;
        Ok(running)
    }

    /// Waits until the instance is ready again (after a rebalance, say), as at the start.
    pub async fn wait_ready(&self) -> anyhow::Result<()> {
        S::ready(&self.parts, &self.admin_url).await
    }

    /// What the test kept of the app.
    pub fn parts(&self) -> &S::Parts {
        &self.parts
    }

    /// A counter's or gauge's value in the instance's metrics registry, summed over the series
    /// whose labels include `labels` (0 for a service that does not hand its registry out: use
    /// [`Running::metrics_text`]).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.metrics
            .as_ref()
            .map_or(0.0, |m| metric_value(m, name, labels))
    }

    /// The Prometheus text of the admin server's `/metrics`.
    pub async fn metrics_text(&self) -> anyhow::Result<String> {
        Ok(reqwest::get(format!("{}/metrics", self.admin_url))
            .await?
            .text()
            .await?)
    }

    /// Stops the instance gracefully and waits until it has; its error, if it failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.await??;
        }
        Ok(())
    }
}

impl<S: TestService> Drop for Running<S> {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The environment of a service test: the broker, a registry of its own (on a fresh schemas
/// topic), a fresh topic prefix and consumer group, a codec on the registry and a producer.
#[derive(Debug)]
pub struct ServiceEnv {
    /// The broker.
    pub env: TestEnv,
    /// The registry.
    pub registry: TestRegistry,
    /// `--topic-prefix` (ends with a dot).
    pub prefix: String,
    /// The consumer group of the instances (`--group-id`).
    pub group: String,
    /// Codec on the registry.
    pub codec: EventCodec,
    /// Producer.
    pub producer: EventProducer,
}

impl ServiceEnv {
    /// A fresh environment; `name` goes into the prefix and group, for the broker's logs.
    pub async fn start(name: &str) -> anyhow::Result<Self> {
        let env = TestEnv::new();
        let registry = TestRegistry::start(&env).await?;
        let prefix = format!("{}.", env.unique(name));
        let group = env.unique(&format!("{name}-group"));
        let codec = registry.codec()?;
        let producer = env.producer()?;
        Ok(Self {
            env,
            registry,
            prefix,
            group,
            codec,
            producer,
        })
    }

    /// The flags every service shares, pointing at this environment: the test broker, this
    /// registry, the admin server on a free port.
    pub fn common(&self, mut common: CommonSettings) -> CommonSettings {
        common.kafka = self.env.settings.clone();
        common.registry.url = self.registry.url.clone();
        common.admin.admin_addr = ANY_PORT;
        common
    }

    /// A prefixed topic name (`orders.submissions` -> `<prefix>orders.submissions`).
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Publishes a typed event to `topic` (a full name) under `key`.
    pub async fn publish<E: Event>(&self, topic: &str, key: &str, event: &E) -> anyhow::Result<()> {
        let out = self
            .codec
            .outbound(topic, key.as_bytes().to_vec(), event, None)
            .await?;
        self.producer.send(&out).await?;
        Ok(())
    }

    /// Every event of `topic` (a full name), decoded, in partition and offset order; none for a
    /// topic that does not exist yet. A record that does not decode is an error.
    pub async fn events(&self, topic: &str) -> anyhow::Result<Vec<AnyEvent>> {
        let mut out = Vec::new();
        for r in self.env.records(topic).await? {
            out.push(self.codec.decode_record(&r).await?);
        }
        Ok(out)
    }

    /// Every event of `topic` this build decodes, with its record (others are skipped).
    pub async fn published(&self, topic: &str) -> anyhow::Result<Vec<Published>> {
        let records = self.env.records(topic).await?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            if let Ok(event) = self.codec.decode_record(&record).await {
                out.push(Published { record, event });
            }
        }
        Ok(out)
    }

    /// Waits until `check` holds over the decoded events of `topic`; returns them.
    pub async fn wait_events(
        &self,
        topic: &str,
        timeout: Duration,
        check: impl Fn(&[AnyEvent]) -> bool,
    ) -> anyhow::Result<Vec<AnyEvent>> {
        eventually(&format!("{topic}: condition"), timeout, || async {
            let evs = self.events(topic).await?;
            let done = check(&evs);
            let n = evs.len();
            Ok(Check::when(done, evs, || format!("{n} events")))
        })
        .await
    }

    /// Waits until `pick` finds at least `n` events on `topic`; returns what it picked.
    pub async fn wait_picked<T>(
        &self,
        topic: &str,
        n: usize,
        timeout: Duration,
        pick: impl Fn(AnyEvent) -> Option<T>,
    ) -> anyhow::Result<Vec<T>> {
        eventually(
            &format!("{topic}: {n} matching events"),
            timeout,
            || async {
                let found: Vec<T> = self
                    .events(topic)
                    .await?
                    .into_iter()
                    .filter_map(&pick)
                    .collect();
                let k = found.len();
                Ok(Check::when(k >= n, found, || format!("{k} matching")))
            },
        )
        .await
    }

    /// [`TestEnv::wait_caught_up`] for this environment's group.
    pub async fn wait_caught_up(&self, topics: &[&str], timeout: Duration) -> anyhow::Result<()> {
        self.env.wait_caught_up(&self.group, topics, timeout).await
    }
}

/// An event read back from a topic, with its record.
#[derive(Debug, Clone)]
pub struct Published {
    /// The record.
    pub record: InboundRecord,
    /// The decoded event.
    pub event: AnyEvent,
}

impl TestService for dsync_order_intake::App {
    type Settings = dsync_order_intake::Settings;
    type Error = dsync_order_intake::IntakeError;
    type RunError = dsync_service::HostError;
    type Parts = Arc<dsync_order_intake::core::Core>;

    async fn build(settings: Self::Settings, _: &CancellationToken) -> Result<Self, Self::Error> {
        Self::build(settings).await
    }
    fn handles(&self) -> Handles<Self::Parts> {
        let parts = Arc::clone(self.core());
        Handles::new(self.local_addr(), self.admin_addr(), parts, None)
    }
    fn spawn(self, stop: CancellationToken) -> JoinHandle<Result<(), Self::RunError>> {
        self.spawn(stop)
    }
    /// Submissions are refused (503) until the state is loaded and the group covers its
    /// partitions, which is what `/readyz` says.
    async fn ready(_: &Self::Parts, admin_url: &str) -> anyhow::Result<()> {
        admin_ready(admin_url, Duration::from_secs(60)).await
    }
}

impl TestService for dsync_edi_gateway::App {
    type Settings = dsync_edi_gateway::Settings;
    type Error = dsync_edi_gateway::GatewayError;
    type RunError = dsync_service::HostError;
    type Parts = Arc<dsync_edi_gateway::Gateway>;

    async fn build(settings: Self::Settings, _: &CancellationToken) -> Result<Self, Self::Error> {
        Self::build(settings).await
    }
    fn handles(&self) -> Handles<Self::Parts> {
        let (parts, metrics) = (Arc::clone(self.gateway()), Some(self.metrics_registry()));
        Handles::new(self.http_addr(), self.admin_addr(), parts, metrics)
    }
    fn spawn(self, stop: CancellationToken) -> JoinHandle<Result<(), Self::RunError>> {
        self.spawn(stop)
    }
}

impl TestService for dsync_inventory_projector::App {
    type Settings = dsync_inventory_projector::Settings;
    type Error = dsync_inventory_projector::ProjectorError;
    type RunError = dsync_service::HostError;
    type Parts = Arc<dsync_inventory_projector::projector::Projector>;

    async fn build(settings: Self::Settings, _: &CancellationToken) -> Result<Self, Self::Error> {
        Self::build(settings).await
    }
    fn handles(&self) -> Handles<Self::Parts> {
        let (parts, metrics) = (Arc::clone(self.projector()), Some(self.metrics_registry()));
        Handles::new(self.local_addr(), self.admin_addr(), parts, metrics)
    }
    fn spawn(self, stop: CancellationToken) -> JoinHandle<Result<(), Self::RunError>> {
        self.spawn(stop)
    }
}

impl TestService for dsync_schema_registry::App {
    type Settings = dsync_schema_registry::Settings;
    type Error = dsync_schema_registry::RegistryError;
    type RunError = dsync_schema_registry::RegistryError;
    type Parts = Arc<dsync_schema_registry::store::Store>;

    async fn build(settings: Self::Settings, _: &CancellationToken) -> Result<Self, Self::Error> {
        Self::build(settings).await
    }
    fn handles(&self) -> Handles<Self::Parts> {
        let (parts, metrics) = (Arc::clone(self.store()), Some(self.metrics_registry()));
        Handles::new(self.local_addr(), self.admin_addr(), parts, metrics)
    }
    fn spawn(self, stop: CancellationToken) -> JoinHandle<Result<(), Self::RunError>> {
        self.spawn(stop)
    }
    /// Usable once it has loaded its schemas topic.
    async fn ready(store: &Self::Parts, _: &str) -> anyhow::Result<()> {
        use anyhow::Context as _;
        store
            .wait_loaded(Duration::from_secs(60))
            .await
            .context("registry did not load its topic")
    }
}

/// Waits until the admin server at `admin_url` answers `/readyz` with 200.
pub async fn admin_ready(admin_url: &str, timeout: Duration) -> anyhow::Result<()> {
    let url = format!("{admin_url}/readyz");
    eventually(&format!("{url} 200"), timeout, || async {
        let (status, body) = match reqwest::get(&url).await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        };
        Ok(Check::when(status == 200, (), || {
            format!("{status} {body}")
        }))
    })
    .await
}

/// `Deref<Target = ServiceEnv>` through the field `svc`, for the environments of the services.
macro_rules! deref_to_service_env {
    ($t:ty) => {
        impl std::ops::Deref for $t {
            type Target = $crate::ServiceEnv;

            fn deref(&self) -> &$crate::ServiceEnv {
                &self.svc
            }
        }
    };
}
pub(crate) use deref_to_service_env;

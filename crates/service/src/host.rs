//! The service host: a [`Service`] declares what it needs while it is built (topics, schemas,
//! HTTP router, consumer loops, tasks) on a [`Host`]; [`App`] runs it; [`main`] is a
//! service's whole `main.rs`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use dsync_bus::{
    BoxError, BusMetrics, ConsumerConfig, ConsumerLoop, EventProducer, Handler, KafkaSettings,
    TopicSpec,
};
use dsync_events::{Event, EventCodec};
use dsync_telemetry::admin::{AdminServer, Readiness};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::shutdown::ShutdownSignal;
use crate::tasks::{HostError, TaskKind, TaskSet};
use crate::{CommonSettings, ServiceError};

/// Exit code of a failed start (settings, profiles, topics, schemas, listeners, state load).
pub const EXIT_START: u8 = 1;

/// A one-shot mode that replaces the service's run (e.g. inventory-projector's `--rebuild`).
pub type OneShot<'a, E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send + 'a>>;

/// A service, as the host sees it.
pub trait Service: Sized + Send + Sync + 'static {
    /// Its name (logs, traces, `--version`).
    const NAME: &'static str;
    /// Its settings: one clap struct that flattens [`CommonSettings`].
    type Settings: clap::Parser + Send + 'static;
    /// Its error type.
    type Error: std::error::Error + From<ServiceError> + Send + Sync + 'static;

    /// The common part of the settings.
    fn common(settings: &Self::Settings) -> &CommonSettings;

    /// Checks what clap cannot, naming the flag at fault. Runs before anything starts.
    fn validate(settings: &Self::Settings) -> Result<(), Self::Error> {
        let _ = settings;
        Ok(())
    }

    /// Builds the service: declares its topics and schemas, loads its state, binds its HTTP
    /// API and adds its consumer loops and tasks to `host`. What it returns is what callers
    /// (tests, diagnostics) reach through [`App`]'s `Deref`.
    fn build(
        settings: Self::Settings,
        host: &mut Host,
    ) -> impl Future<Output = Result<Self, Self::Error>> + Send;

    /// Called once every task has stopped.
    fn stopped(&self) {}

    /// A mode that runs instead of the service when the settings ask for it.
    fn one_shot(settings: &Self::Settings) -> Option<OneShot<'_, Self::Error>> {
        let _ = settings;
        None
    }
}

type Deferred = Box<dyn FnOnce(&mut TaskSet) + Send>;

/// What the host offers a service while it is built: the shared runtime (producer, codec,
/// metrics registry, readiness) and the declarations of what it runs.
pub struct Host {
    common: CommonSettings,
    metrics: prometheus::Registry,
    readiness: Readiness,
    bus_metrics: BusMetrics,
    producer: EventProducer,
    codec: EventCodec,
    admin_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    tasks: TaskSet,
    /// Started when the service runs (behind a mutex only so that `Host` is `Sync`).
    deferred: std::sync::Mutex<Vec<Deferred>>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("admin_addr", &self.admin_addr)
            .field("http_addr", &self.http_addr)
            .field("tasks", &self.tasks)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Validates the common settings, creates the producer and codec, registers the broker
    /// readiness probe and starts the admin server.
    async fn start(common: &CommonSettings) -> Result<Host, ServiceError> {
        common.validate()?;
        let metrics = prometheus::Registry::new();
        let readiness = Readiness::new();
        let bus_metrics = BusMetrics::new(&metrics)?;
        let producer = EventProducer::new(&common.kafka, bus_metrics.clone())?;
        let codec = EventCodec::from_settings(&common.registry)?;
        dsync_bus::admin::register_broker_probe(&readiness, &common.kafka)?;
        let server =
            AdminServer::bind(common.admin.admin_addr, metrics.clone(), readiness.clone())?;
        let admin_addr = server.local_addr();
        let mut tasks = TaskSet::new();
        tasks.spawn_last("admin server", TaskKind::Admin, move |stop| {
            server.run(stop.cancelled_owned())
        });
        info!(%admin_addr, "admin server listening");
        Ok(Host {
            common: common.clone(),
            metrics,
            readiness,
            bus_metrics,
            producer,
            codec,
            admin_addr,
            http_addr: None,
            tasks,
            deferred: std::sync::Mutex::default(),
        })
    }

    /// The common settings.
    pub fn settings(&self) -> &CommonSettings {
        &self.common
    }

    /// The Kafka connection settings.
    pub fn kafka(&self) -> &KafkaSettings {
        &self.common.kafka
    }

    /// The Prometheus registry served on `/metrics`; the service registers its metrics here.
    pub fn metrics(&self) -> &prometheus::Registry {
        &self.metrics
    }

    /// The readiness checks served on `/readyz` (the broker probe is registered).
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// The bus's standard metrics (registered in [`Host::metrics`]).
    pub fn bus_metrics(&self) -> &BusMetrics {
        &self.bus_metrics
    }

    /// The service's producer.
    pub fn producer(&self) -> &EventProducer {
        &self.producer
    }

    /// The event codec (registry client with caches).
    pub fn codec(&self) -> &EventCodec {
        &self.codec
    }

    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The token the tasks stop on (cancelled on shutdown, on the first failure, or when the
    /// build fails), for what the service starts itself.
    pub fn stop_token(&self) -> CancellationToken {
        self.tasks.stop_token()
    }

    /// Creates the topics that do not exist yet.
    pub async fn declare_topics(&self, specs: &[TopicSpec]) -> Result<(), ServiceError> {
        dsync_bus::ensure_topics(&self.common.kafka, specs).await?;
        Ok(())
    }

    /// Registers (or looks up, per `--schema-registry-auto-register`) `E`'s schema under its
    /// subject on `topic`, so a schema the registry refuses stops the start naming the subject.
    pub async fn register<E: Event>(&self, topic: &str) -> Result<u32, ServiceError> {
        self.codec
            .schema_id::<E>(topic)
            .await
            .map_err(|source| ServiceError::Register {
                subject: E::subject(topic),
                source,
            })
    }

    /// Binds the HTTP API's listener now (port 0 picks a free port) and serves `router` on it
    /// once the service runs, stopping gracefully on shutdown. Returns the bound address.
    pub fn bind_http(
        &mut self,
        addr: SocketAddr,
        router: axum::Router,
    ) -> Result<SocketAddr, ServiceError> {
        let bind_err = |source| ServiceError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let bound = listener.local_addr().map_err(bind_err)?;
        self.http_addr = Some(bound);
        self.defer("http api", TaskKind::Http, move |stop| async move {
            let serve_err = |source| ServiceError::Bind {
                addr: bound,
                source,
            };
            let listener = tokio::net::TcpListener::from_std(listener).map_err(serve_err)?;
            info!(addr = %bound, "HTTP API listening");
            // The shared server loop: header-read and idle timeouts for every service.
            crate::http::serve(listener, router, stop.cancelled_owned())
                .await
                .map_err(serve_err)
        });
        Ok(bound)
    }

    /// A consumer loop over `kafka` (the service's settings, possibly with overrides) with the
    /// host's producer, bus metrics and readiness; run it with [`Host::run_consumer`].
    pub fn consumer<H: Handler>(
        &self,
        kafka: KafkaSettings,
        config: ConsumerConfig,
        handler: Arc<H>,
    ) -> ConsumerLoop<H> {
        ConsumerLoop::new(
            kafka,
            config,
            handler,
            self.producer.clone(),
            self.bus_metrics.clone(),
        )
        .with_readiness(self.readiness.clone())
    }

    /// Runs `consumer` as the task `name` once the service runs.
    pub fn run_consumer<H: Handler>(&mut self, name: impl Into<String>, consumer: ConsumerLoop<H>) {
        self.defer(name, TaskKind::Consumer, move |stop| consumer.run(stop));
    }

    /// Starts `task(stop)` now (during the build: followers the build waits on).
    pub fn spawn_task<F, Fut, E>(&mut self, name: impl Into<String>, kind: TaskKind, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.tasks.spawn(name, kind, task);
    }

    /// Starts `task(stop)` once the service runs.
    pub fn run_task<F, Fut, E>(&mut self, name: impl Into<String>, kind: TaskKind, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.defer(name, kind, task);
    }

    /// Once the service runs, calls `work` every `every` (the first time one period after the
    /// start) until the stop token is cancelled; a run in progress finishes first.
    pub fn run_every<F, Fut>(&mut self, name: impl Into<String>, every: Duration, mut work: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.defer(name, TaskKind::Background, move |stop| async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return Ok::<(), std::convert::Infallible>(()),
                    () = tokio::time::sleep(every) => {}
                }
                work().await;
            }
        });
    }

    fn defer<F, Fut, E>(&mut self, name: impl Into<String>, kind: TaskKind, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let name = name.into();
        self.deferred
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(move |set: &mut TaskSet| {
                set.spawn(name, kind, task)
            }));
    }
}

/// A built service, not yet running: its listeners are bound, its state loaded. Derefs to the
/// service.
pub struct App<S: Service> {
    service: Arc<S>,
    host: Host,
}

impl<S: Service> std::fmt::Debug for App<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("service", &S::NAME)
            .field("http_addr", &self.host.http_addr)
            .field("admin_addr", &self.host.admin_addr)
            .finish_non_exhaustive()
    }
}

impl<S: Service> std::ops::Deref for App<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.service
    }
}

impl<S: Service> App<S> {
    /// Validates the settings, starts the host (producer, codec, admin server) and builds the
    /// service. A failure stops whatever was started.
    pub async fn build(settings: S::Settings) -> Result<Self, S::Error> {
        S::validate(&settings)?;
        let mut host = Host::start(S::common(&settings)).await?;
        let service = S::build(settings, &mut host).await?;
        info!(
            service = S::NAME,
            http_addr = ?host.http_addr,
            admin_addr = %host.admin_addr,
            "built"
        );
        Ok(Self {
            service: Arc::new(service),
            host,
        })
    }

    /// The HTTP API's address (`0.0.0.0:0` for a service without one).
    pub fn http_addr(&self) -> SocketAddr {
        self.host
            .http_addr
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Same as [`App::http_addr`].
    pub fn local_addr(&self) -> SocketAddr {
        self.http_addr()
    }

    /// `http://<http_addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.http_addr())
    }

    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub fn admin_addr(&self) -> SocketAddr {
        self.host.admin_addr
    }

    /// The metrics registry served on `/metrics`.
    pub fn metrics_registry(&self) -> &prometheus::Registry {
        &self.host.metrics
    }

    /// The readiness checks served on `/readyz`.
    pub fn readiness(&self) -> &Readiness {
        &self.host.readiness
    }

    /// The service.
    pub fn service(&self) -> &Arc<S> {
        &self.service
    }

    /// Runs every task until `shutdown` asks for it (a cancelled token is a drain) or a task
    /// fails; returns the first failure.
    pub async fn run(self, shutdown: impl Into<ShutdownSignal>) -> Result<(), HostError> {
        let shutdown = shutdown.into();
        let App { service, host } = self;
        let Host {
            mut tasks,
            deferred,
            common,
            ..
        } = host;
        let deferred = deferred
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for start in deferred {
            start(&mut tasks);
        }
        info!(service = S::NAME, tasks = tasks.len(), "running");
        let result = tasks.join(&shutdown, common.shutdown_deadline).await;
        service.stopped();
        info!(service = S::NAME, ok = result.is_ok(), "stopped");
        result
    }

    /// Runs it in a task.
    pub fn spawn(self, shutdown: impl Into<ShutdownSignal>) -> JoinHandle<Result<(), HostError>> {
        tokio::spawn(self.run(shutdown.into()))
    }

    /// Runs it in a task and returns the handle to reach and stop it.
    pub fn start(self) -> Running<S> {
        let shutdown = ShutdownSignal::new();
        Running {
            http_addr: self.http_addr(),
            admin_addr: self.admin_addr(),
            service: Arc::clone(&self.service),
            task: Some(self.spawn(shutdown.clone())),
            shutdown,
        }
    }
}

/// A running service; dropping it asks for a drain. Derefs to the service.
#[derive(Debug)]
pub struct Running<S: Service> {
    http_addr: SocketAddr,
    admin_addr: SocketAddr,
    service: Arc<S>,
    shutdown: ShutdownSignal,
    task: Option<JoinHandle<Result<(), HostError>>>,
}

impl<S: Service> std::ops::Deref for Running<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.service
    }
}

impl<S: Service> Running<S> {
    /// The HTTP API's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `http://<http_addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The admin server's address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The service.
    pub fn service(&self) -> &Arc<S> {
        &self.service
    }

    /// Drains (as on SIGTERM) and waits until it has stopped.
    pub async fn stop(mut self) -> Result<(), HostError> {
        self.shutdown.drain();
        self.wait().await
    }

    /// Stops at once (as on SIGINT) and waits.
    pub async fn kill(mut self) -> Result<(), HostError> {
        self.shutdown.stop();
        self.wait().await
    }

    async fn wait(&mut self) -> Result<(), HostError> {
        match self.task.take() {
            Some(t) => match t.await {
                Ok(r) => r,
                Err(e) => Err(HostError::Panicked {
                    name: S::NAME.to_owned(),
                    kind: TaskKind::Background,
                    message: e.to_string(),
                }),
            },
            None => Ok(()),
        }
    }
}

impl<S: Service> Drop for Running<S> {
    fn drop(&mut self) {
        self.shutdown.drain();
    }
}

/// A service's `main`: parses the settings, starts telemetry, builds the service and runs it
/// until SIGTERM (drain within `--shutdown-deadline`) or SIGINT (stop). The exit code says what
/// failed (see the crate docs).
pub fn main<S: Service>() -> ExitCode {
    let settings = <S::Settings as clap::Parser>::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: cannot start the async runtime: {e}", S::NAME);
            return ExitCode::from(EXIT_START);
        }
    };
    runtime.block_on(run_main::<S>(settings))
}

async fn run_main<S: Service>(settings: S::Settings) -> ExitCode {
    let _telemetry = match dsync_telemetry::init(S::NAME, &S::common(&settings).telemetry) {
        Ok(guard) => guard,
        Err(e) => return failed(S::NAME, "start", &e, EXIT_START),
    };
    if let Some(job) = S::one_shot(&settings) {
        return match job.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => failed(S::NAME, "run", &e, EXIT_START),
        };
    }
    let shutdown = ShutdownSignal::on_signals();
    let app = match App::<S>::build(settings).await {
        Ok(app) => app,
        Err(e) => return failed(S::NAME, "start", &e, EXIT_START),
    };
    match app.run(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(S::NAME, "run", &e, e.exit_code()),
    }
}

fn failed(service: &str, stage: &str, e: &dyn std::error::Error, code: u8) -> ExitCode {
    let chain = error_chain(e);
    tracing::error!(service, stage, error = %chain, exit_code = code, "failed");
    eprintln!("{service}: {chain}");
    ExitCode::from(code)
}

/// `error: source: source ...`
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        // `#[error(transparent)]` and "{0}" messages repeat their source.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

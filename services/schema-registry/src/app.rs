//! The application: wires the store, the REST API and the admin server together.

use std::net::SocketAddr;
use std::sync::Arc;

use dsync_bus::{ensure_topics, BusMetrics, EventProducer, TopicSpec};
use dsync_telemetry::admin::{AdminServer, Readiness};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::info;

use crate::api::{self, Api};
use crate::metrics::RegistryMetrics;
use crate::state::State;
use crate::store::{Store, READY_CHECK};
use crate::{RegistryError, Settings};

/// A registry instance, built and bound but not yet serving.
pub struct App {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    admin: AdminServer,
    router: axum::Router,
    store: Arc<Store>,
    registry: prometheus::Registry,
    readiness: Readiness,
    follow_task: JoinHandle<()>,
    /// Stops following the topic when the app is dropped without running.
    follow_stop: DropGuard,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("local_addr", &self.local_addr)
            .field("admin_addr", &self.admin.local_addr())
            .finish_non_exhaustive()
    }
}

impl App {
    /// Creates the schemas topic if missing, starts loading it, and binds the API and admin
    /// listeners. Requests are answered once the topic is loaded (`/readyz` says when).
    #[tracing::instrument(skip_all, fields(topic = %settings.schemas_topic))]
    pub async fn build(settings: Settings) -> Result<App, RegistryError> {
        settings.validate()?;
        let topic = settings.schemas_topic.clone();
        let registry = prometheus::Registry::new();
        let metrics = RegistryMetrics::new(&registry)?;
        let bus_metrics = BusMetrics::new(&registry)?;

        ensure_topics(&settings.kafka, &[TopicSpec::compacted(&topic, 1)]).await?;
        let producer = EventProducer::new(&settings.kafka, bus_metrics)?;
        let store = Arc::new(Store::new(
            State::new(settings.default_compatibility),
            producer,
            topic.clone(),
            settings.write_timeout,
            metrics.clone(),
        ));
        // Everything before its end offset of now must be applied before the instance answers.
        let follower = store.follower(&settings.kafka).await?;
        let end = follower.ends().get(&0).copied().unwrap_or(0);

        let readiness = Readiness::new();
        readiness.set(READY_CHECK, false, format!("loading {topic}"));
        dsync_bus::admin::register_broker_probe(&readiness, &settings.kafka)?;

        let stop = CancellationToken::new();
        let follow_task =
            tokio::spawn(Arc::clone(&store).follow(follower, readiness.clone(), stop.clone()));

        let addr = settings.http_addr;
        let bind_err = |source| RegistryError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        let admin = AdminServer::bind(
            settings.admin.admin_addr,
            registry.clone(),
            readiness.clone(),
        )?;
        let router = api::router(Arc::new(Api {
            store: Arc::clone(&store),
            metrics,
            load_timeout: settings.write_timeout,
        }));
        info!(%local_addr, admin_addr = %admin.local_addr(), end_offset = end, "schema registry built");
        Ok(App {
            listener,
            local_addr,
            admin,
            router,
            store,
            registry,
            readiness,
            follow_task,
            follow_stop: stop.drop_guard(),
        })
    }

    /// The address the REST API is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address the admin server is bound to.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.local_addr()
    }

    /// `http://<local_addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The metrics registry served on `/metrics`.
    pub fn metrics_registry(&self) -> &prometheus::Registry {
        &self.registry
    }

    /// The readiness checks served on `/readyz`.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// The store (state and log), for inspection.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Serves the REST API and the admin server until `shutdown` is cancelled, then lets
    /// in-flight requests finish and stops following the topic.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), RegistryError> {
        let admin_task = self.admin.spawn(shutdown.clone());
        let listener =
            tokio::net::TcpListener::from_std(self.listener).map_err(RegistryError::Serve)?;
        info!(addr = %self.local_addr, "schema registry listening");
        let served = axum::serve(listener, self.router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await
            .map_err(RegistryError::Serve);
        shutdown.cancel();
        drop(self.follow_stop);
        let _ = self.follow_task.await;
        let admin = admin_task.await;
        served?;
        match admin {
            Ok(r) => r?,
            Err(e) => return Err(RegistryError::Config(format!("admin server task: {e}"))),
        }
        info!("schema registry stopped");
        Ok(())
    }

    /// Spawns [`App::run`] on the current runtime.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<Result<(), RegistryError>> {
        tokio::spawn(self.run(shutdown))
    }
}

//! The application: topics, runtime, consumer loop, gap reporter and availability API.

use std::net::SocketAddr;
use std::sync::Arc;

use dsync_bus::{ensure_topics, ConsumerConfig, ConsumerLoop, PoisonPolicy};
use dsync_events::{
    AvailabilityChanged, InventoryDriftDetected, InventorySequenceGapDetected, ReservationReleased,
    StockBackordered, StockReserved, StockUnavailable,
};
use dsync_service::Runtime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::api::{self, Api};
use crate::metrics::ProjectorMetrics;
use crate::projector::Projector;
use crate::rebuild::partitions_of;
use crate::{ProjectorError, Settings};

/// A projector instance, built and bound but not yet running.
pub struct App {
    settings: Settings,
    runtime: Runtime,
    projector: Arc<Projector>,
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("local_addr", &self.local_addr)
            .field("admin_addr", &self.runtime.admin_addr())
            .finish_non_exhaustive()
    }
}

impl App {
    /// Declares the topics, checks co-partitioning, registers the output schemas, and binds
    /// the API. The admin server runs until `shutdown` fires.
    #[tracing::instrument(skip_all, fields(group = %settings.group_id))]
    pub async fn build(
        settings: Settings,
        shutdown: CancellationToken,
    ) -> Result<App, ProjectorError> {
        settings.validate()?;
        let ctx = settings.ctx()?;
        let topics = settings.topics();
        let kafka = &settings.common.kafka;
        let (n, m) = (settings.input_partitions, settings.output_partitions);
        ensure_topics(kafka, &topics.specs(n, m)).await?;
        let partitions = partitions_of(kafka, &topics.movements).await?;
        for t in [&topics.requests, &topics.state, &topics.journal] {
            let k = partitions_of(kafka, t).await?;
            if k != partitions {
                return Err(ProjectorError::Config(format!(
                    "{t} has {k} partitions but {} has {partitions}: they must be co-partitioned",
                    topics.movements
                )));
            }
        }
        let runtime = Runtime::start(&settings.common, shutdown).await?;
        let codec = runtime.codec.clone();
        codec
            .schema_id::<AvailabilityChanged>(&topics.availability)
            .await?;
        codec
            .schema_id::<StockReserved>(&topics.reservations)
            .await?;
        codec
            .schema_id::<StockBackordered>(&topics.reservations)
            .await?;
        codec
            .schema_id::<StockUnavailable>(&topics.reservations)
            .await?;
        codec
            .schema_id::<ReservationReleased>(&topics.reservations)
            .await?;
        codec
            .schema_id::<InventoryDriftDetected>(&topics.reconciliation)
            .await?;
        codec
            .schema_id::<InventorySequenceGapDetected>(&topics.reconciliation)
            .await?;
        let metrics = ProjectorMetrics::new(&runtime.metrics)?;
        let projector = Arc::new(Projector::new(
            kafka.clone(),
            topics,
            partitions,
            ctx,
            codec,
            runtime.producer.clone(),
            metrics,
        ));
        let addr = settings.http_addr;
        let bind_err = |source| ProjectorError::Http { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        info!(%local_addr, partitions, "inventory projector built");
        Ok(App {
            settings,
            runtime,
            projector,
            listener,
            local_addr,
        })
    }

    /// The availability API's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<local_addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The admin server's address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.runtime.admin_addr()
    }

    /// The projector (state, digest, lookups).
    pub fn projector(&self) -> &Arc<Projector> {
        &self.projector
    }

    /// The metrics registry served on `/metrics`.
    pub fn metrics_registry(&self) -> &prometheus::Registry {
        &self.runtime.metrics
    }

    /// Consumes, reports gaps and serves the API until `shutdown` fires (graceful: in-flight
    /// records finish and are committed) or the consumer stops on a fatal failure.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ProjectorError> {
        let App {
            settings,
            runtime,
            projector,
            listener,
            local_addr,
        } = self;
        let topics = projector.topics().clone();
        let config = ConsumerConfig::new(
            &settings.group_id,
            &[topics.movements.as_str(), topics.requests.as_str()],
        )
        .poison_policy(PoisonPolicy::Skip);
        let consumer = ConsumerLoop::new(
            settings.common.kafka.clone(),
            config,
            Arc::clone(&projector),
            runtime.producer.clone(),
            runtime.bus_metrics.clone(),
        )
        .with_readiness(runtime.readiness.clone());
        let stop = shutdown.child_token();
        let consumer_task = tokio::spawn(consumer.run(stop.clone()));

        let gaps = Arc::clone(&projector);
        let (grace, every) = (settings.gap_grace, settings.gap_check_interval);
        let gap_stop = stop.clone();
        let gap_task: JoinHandle<()> = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    () = gap_stop.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(e) = gaps.report_gaps(grace).await {
                            warn!(error = %e, "reporting sequence gaps failed; will retry");
                        }
                    }
                }
            }
        });

        let router = api::router(Arc::new(Api {
            projector: Arc::clone(&projector),
            auth: dsync_service::auth::Authenticator::new("inventory-projector", &settings.auth),
        }));
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| ProjectorError::Http {
                addr: local_addr,
                source,
            })?;
        info!(addr = %local_addr, "availability API listening");
        let http_stop = stop.clone();
        let http_task = tokio::spawn(dsync_service::http::serve(
            listener,
            router,
            http_stop.cancelled_owned(),
        ));

        let consumed = consumer_task
            .await
            .map_err(|e| ProjectorError::Internal(e.to_string()));
        // Whatever ended the consumer ends the rest.
        stop.cancel();
        shutdown.cancel();
        let _ = gap_task.await;
        let served = http_task
            .await
            .map_err(|e| ProjectorError::Internal(e.to_string()))?;
        let joined = runtime.join().await;
        consumed??;
        served.map_err(|source| ProjectorError::Http {
            addr: local_addr,
            source,
        })?;
        joined?;
        info!("inventory projector stopped");
        Ok(())
    }

    /// Spawns [`App::run`] on the current runtime.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<Result<(), ProjectorError>> {
        tokio::spawn(self.run(shutdown))
    }
}

//! The service, as the host runs it: topics (co-partitioning checked), the schemas it writes,
//! the consumer loop over movements and requests, the gap reporter and the availability API.
//! `--rebuild` runs [`crate::rebuild`] instead.

use std::sync::Arc;

use dsync_bus::{ConsumerConfig, PoisonPolicy};
use dsync_events::{
    AvailabilityChanged, InventoryDriftDetected, InventorySequenceGapDetected, ReservationReleased,
    StockBackordered, StockReserved, StockUnavailable,
};
use dsync_service::{CommonSettings, Host, OneShot};
use tracing::{info, warn};

use crate::api::{self, Api};
use crate::metrics::ProjectorMetrics;
use crate::projector::Projector;
use crate::rebuild::partitions_of;
use crate::{ProjectorError, Settings};

/// A built projector, not yet running.
pub type App = dsync_service::App<Service>;

/// inventory-projector, as the host sees it.
#[derive(Debug)]
pub struct Service {
    projector: Arc<Projector>,
}

impl Service {
    /// The projector (state, digest, lookups).
    pub fn projector(&self) -> &Arc<Projector> {
        &self.projector
    }
}

impl dsync_service::Service for Service {
    const NAME: &'static str = "inventory-projector";
    type Settings = Settings;
    type Error = ProjectorError;

    fn common(settings: &Settings) -> &CommonSettings {
        &settings.common
    }

    fn validate(settings: &Settings) -> Result<(), ProjectorError> {
        settings.validate()
    }

    /// Declares the topics, checks co-partitioning, registers the output schemas, binds the API.
    #[tracing::instrument(skip_all, fields(group = %settings.group_id))]
    async fn build(settings: Settings, host: &mut Host) -> Result<Self, ProjectorError> {
        let ctx = settings.ctx()?;
        let topics = settings.topics();
        let kafka = &settings.common.kafka;
        let (n, m) = (settings.input_partitions, settings.output_partitions);
        host.declare_topics(&topics.specs(n, m)).await?;
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
        host.register::<AvailabilityChanged>(&topics.availability)
            .await?;
        host.register::<StockReserved>(&topics.reservations).await?;
        host.register::<StockBackordered>(&topics.reservations)
            .await?;
        host.register::<StockUnavailable>(&topics.reservations)
            .await?;
        host.register::<ReservationReleased>(&topics.reservations)
            .await?;
        host.register::<InventoryDriftDetected>(&topics.reconciliation)
            .await?;
        host.register::<InventorySequenceGapDetected>(&topics.reconciliation)
            .await?;
        let metrics = ProjectorMetrics::new(host.metrics())?;
        let projector = Arc::new(Projector::new(
            kafka.clone(),
            topics.clone(),
            partitions,
            ctx,
            host.codec().clone(),
            host.producer().clone(),
            metrics,
        ));

        let config = ConsumerConfig::new(
            &settings.group_id,
            &[topics.movements.as_str(), topics.requests.as_str()],
        )
        .poison_policy(PoisonPolicy::Skip);
        let consumer = host.consumer(kafka.clone(), config, Arc::clone(&projector));
        host.run_consumer("inventory consumer", consumer);
        let (p, grace) = (Arc::clone(&projector), settings.gap_grace);
        host.run_every("gap reporter", settings.gap_check_interval, move || {
            let p = Arc::clone(&p);
            async move {
                if let Err(e) = p.report_gaps(grace).await {
                    warn!(error = %e, "reporting sequence gaps failed; will retry");
                }
            }
        });
        let router = api::router(Arc::new(Api {
            projector: Arc::clone(&projector),
            auth: dsync_service::auth::Authenticator::new("inventory-projector", &settings.auth),
        }));
        host.bind_http(settings.http_addr, router)?;
        info!(partitions, "inventory projector built");
        Ok(Service { projector })
    }

    /// `--rebuild`: recomputes the state from the input topics and prints its digest (one JSON
    /// line on stdout, the program's output in this mode).
    fn one_shot(settings: &Settings) -> Option<OneShot<'_, ProjectorError>> {
        settings.rebuild.then(|| -> OneShot<'_, ProjectorError> {
            Box::pin(async move {
                let report = crate::rebuild::rebuild_from_settings(settings).await?;
                let line = serde_json::to_string(&report)
                    .map_err(|e| ProjectorError::Internal(e.to_string()))?;
                #[allow(clippy::print_stdout)]
                {
                    println!("{line}");
                }
                Ok(())
            })
        })
    }
}

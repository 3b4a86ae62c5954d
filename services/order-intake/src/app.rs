//! The service, as the host runs it: topics and schemas, the followers loading the master
//! data and the order history, the submissions consumer, the HTTP API and the pending-orders
//! gauges.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dsync_bus::reader::{Materializer, Progress};
use dsync_bus::{ConsumerConfig, KafkaSettings};
use dsync_events::{BusinessException, EventCodec, OrderAccepted, OrderRejected, OrderSubmitted};
use dsync_service::{CommonSettings, Host, TaskKind};
use futures::future::try_join_all;
use futures::FutureExt as _;
use tracing::info;

use crate::api::{self, Api};
use crate::core::Core;
use crate::follow::{self, Decoding, EventSink, HistorySink, InvoiceSink, MasterSink};
use crate::handlers::submissions::{Policy, SubmissionHandler};
use crate::metrics::IntakeMetrics;
use crate::state::Table;
use crate::topics::Topics;
use crate::{IntakeError, Settings};

/// Readiness check: master data and order history loaded.
pub const READY_CHECK: &str = "state";

/// A built order-intake (topics declared, state loaded, listener bound), not yet serving.
pub type App = dsync_service::App<Service>;

/// order-intake, as the host sees it.
#[derive(Debug)]
pub struct Service {
    core: Arc<Core>,
}

impl Service {
    /// The shared core (state inspection).
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }
}

struct Followed {
    topic: String,
    sink: Arc<dyn EventSink>,
    progress: Arc<Progress>,
}

/// `kafka` with `fetch.wait.max.ms` set to `wait`.
fn with_fetch_wait(kafka: &KafkaSettings, wait: Duration) -> KafkaSettings {
    let mut kafka = kafka.clone();
    kafka.overrides.insert(
        0,
        ("fetch.wait.max.ms".to_owned(), wait.as_millis().to_string()),
    );
    kafka
}

/// Opens a follower of `f.topic` (its end offsets, to wait for, read now).
async fn open_follower(
    kafka: &KafkaSettings,
    codec: &EventCodec,
    metrics: &IntakeMetrics,
    f: Followed,
) -> Result<(Materializer<Decoding>, Arc<Progress>, HashMap<i32, i64>), IntakeError> {
    let follower = follow::follower(kafka, codec, metrics, &f.topic, f.sink)
        .await?
        .with_progress(Arc::clone(&f.progress));
    let ends = follower.ends().clone();
    Ok((follower, f.progress, ends))
}

impl dsync_service::Service for Service {
    const NAME: &'static str = "order-intake";
    type Settings = Settings;
    type Error = IntakeError;

    fn common(settings: &Settings) -> &CommonSettings {
        &settings.common
    }

    fn validate(settings: &Settings) -> Result<(), IntakeError> {
        settings.validate()
    }

    /// Declares the topics, registers the schemas, loads the master data and the order history
    /// (everything written before start-up), binds the API; the submissions consumer starts
    /// when the service runs.
    #[tracing::instrument(skip_all, fields(prefix = %settings.topic_prefix, group = %settings.group_id))]
    async fn build(settings: Settings, host: &mut Host) -> Result<Self, IntakeError> {
        let started = Instant::now();
        let readiness = host.readiness().clone();
        readiness.set(READY_CHECK, false, "loading master data and order history");
        let metrics = IntakeMetrics::new(host.metrics())?;
        let kafka = settings.common.kafka.clone();
        let topics = Topics::with_prefix(&settings.topic_prefix);
        host.declare_topics(&topics.specs()).await?;
        host.register::<OrderSubmitted>(&topics.submissions).await?;
        host.register::<OrderAccepted>(&topics.events).await?;
        host.register::<OrderRejected>(&topics.events).await?;
        host.register::<BusinessException>(&topics.exceptions)
            .await?;

        let history_progress = Arc::new(Progress::new(&topics.events));
        let core = Arc::new(Core::new(
            metrics.clone(),
            topics.clone(),
            host.producer().clone(),
            host.codec().clone(),
            kafka.clone(),
            Policy {
                price_tolerance_percent: settings.price_tolerance_percent,
                price_mismatch: settings.price_mismatch,
            },
            settings.load_timeout,
            Arc::clone(&history_progress),
        ));
        let master = |topic: &str, table: Table| Followed {
            topic: topic.to_owned(),
            sink: Arc::new(MasterSink {
                table,
                core: Arc::clone(&core),
            }),
            progress: Arc::new(Progress::new(topic)),
        };
        let followed = vec![
            master(&topics.customers, Table::Customers),
            master(&topics.items, Table::Items),
            master(&topics.prices, Table::Prices),
            master(&topics.locations, Table::Locations),
            master(&topics.availability, Table::Availability),
            Followed {
                topic: topics.events.clone(),
                sink: Arc::new(HistorySink {
                    core: Arc::clone(&core),
                }),
                progress: history_progress,
            },
            Followed {
                topic: topics.invoicing.clone(),
                sink: Arc::new(InvoiceSink {
                    core: Arc::clone(&core),
                }),
                progress: Arc::new(Progress::new(&topics.invoicing)),
            },
        ];
        let follower_kafka = with_fetch_wait(&kafka, settings.follower_fetch_wait);
        let opened = try_join_all(
            followed
                .into_iter()
                .map(|f| open_follower(&follower_kafka, host.codec(), &metrics, f)),
        )
        .await?;
        let mut loads = Vec::new();
        for (follower, progress, ends) in opened {
            let name = format!("{} follower", progress.topic());
            host.spawn_task(name, TaskKind::Follower, |stop| {
                follow::run(follower, stop).map(Ok::<(), IntakeError>)
            });
            loads.push(async move { progress.wait_caught_up(&ends, settings.load_timeout).await });
        }
        try_join_all(loads).await?;
        let known = core.history.read().map(|h| h.len()).unwrap_or_default();
        readiness.set(READY_CHECK, true, format!("{known} orders known"));
        info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            orders = known,
            "master data and order history loaded"
        );

        let consumer = host.consumer(
            with_fetch_wait(&kafka, settings.consumer_fetch_wait),
            ConsumerConfig::new(&settings.group_id, &[topics.submissions.as_str()])
                .poison_policy(settings.poison_policy)
                .max_in_flight(settings.pipeline_depth as usize),
            Arc::new(SubmissionHandler::new(Arc::clone(&core))),
        );
        let router = api::router(
            Arc::new(Api {
                core: Arc::clone(&core),
                auth: dsync_service::auth::Authenticator::new("order-intake", &settings.auth),
                result_wait: settings.result_wait,
                max_lines: settings.max_lines,
                local: consumer.local_delivery(),
                readiness: host.readiness().clone(),
                decide_checks: vec![
                    READY_CHECK.to_owned(),
                    format!("consumer:{}", settings.group_id),
                ],
            }),
            settings.max_body_bytes,
        );
        host.bind_http(settings.http_addr, router)?;
        host.run_consumer(format!("{} consumer", topics.submissions), consumer);
        let (c, stuck_after) = (Arc::clone(&core), settings.stuck_after);
        host.run_every("pending gauges", Duration::from_secs(1), move || {
            let (pending, stuck) = c.pending.counts(stuck_after);
            c.metrics
                .pending
                .set(i64::try_from(pending).unwrap_or(i64::MAX));
            c.metrics
                .stuck
                .set(i64::try_from(stuck).unwrap_or(i64::MAX));
            std::future::ready(())
        });
        Ok(Service { core })
    }
}

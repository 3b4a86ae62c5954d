//! The application: topics, the shared runtime, the followers, the submissions consumer and
//! the HTTP API wired together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dsync_bus::reader::Progress;
use dsync_bus::{ensure_topics, ConsumerConfig, ConsumerLoop, KafkaSettings};
use dsync_events::{BusinessException, EventCodec, OrderAccepted, OrderRejected, OrderSubmitted};
use dsync_service::Runtime;
use futures::future::try_join_all;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::info;

use crate::api::{self, Api};
use crate::consumer::SubmissionHandler;
use crate::core::Core;
use crate::follow::{self, EventSink, HistorySink, InvoiceSink, MasterSink};
use crate::handlers::submissions::Policy;
use crate::metrics::IntakeMetrics;
use crate::state::Table;
use crate::topics::Topics;
use crate::{IntakeError, Settings};

/// Readiness check: master data and order history loaded.
pub const READY_CHECK: &str = "state";

/// An order-intake instance, built (topics declared, state loaded, listener bound) but not yet
/// serving.
pub struct App {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    router: axum::Router,
    consumer: ConsumerLoop<SubmissionHandler>,
    runtime: Runtime,
    core: Arc<Core>,
    stuck_after: Duration,
    follow_tasks: Vec<JoinHandle<()>>,
    /// Stops the followers and the admin server (also when dropped without running).
    inner: CancellationToken,
    _guard: DropGuard,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("local_addr", &self.local_addr)
            .field("admin_addr", &self.runtime.admin_addr())
            .finish_non_exhaustive()
    }
}

struct Followed {
    topic: String,
    sink: Arc<dyn EventSink>,
    progress: Arc<Progress>,
}

/// Starts following `f.topic` and returns the task and the end offsets to wait for.
async fn start_follower(
    kafka: &KafkaSettings,
    codec: &EventCodec,
    metrics: &IntakeMetrics,
    stop: &CancellationToken,
    f: Followed,
) -> Result<
    (
        JoinHandle<()>,
        Arc<Progress>,
        std::collections::HashMap<i32, i64>,
    ),
    IntakeError,
> {
    let follower = follow::follower(kafka, codec, metrics, &f.topic, f.sink)
        .await?
        .with_progress(Arc::clone(&f.progress));
    let ends = follower.ends().clone();
    let task = tokio::spawn(follow::run(follower, stop.clone()));
    Ok((task, f.progress, ends))
}

impl App {
    /// Declares the topics, starts the shared runtime (producer, codec, admin server), loads
    /// the master data and the order history (everything written before start-up), and binds
    /// the API listener. The submissions consumer starts with [`App::run`].
    #[tracing::instrument(skip_all, fields(prefix = %settings.topic_prefix, group = %settings.group_id))]
    pub async fn build(settings: Settings) -> Result<App, IntakeError> {
        settings.validate()?;
        let started = Instant::now();
        let inner = CancellationToken::new();
        let runtime = Runtime::start(&settings.common, inner.clone()).await?;
        let readiness = runtime.readiness.clone();
        readiness.set(READY_CHECK, false, "loading master data and order history");
        let metrics = IntakeMetrics::new(&runtime.metrics)?;
        let kafka = settings.common.kafka.clone();
        let topics = Topics::with_prefix(&settings.topic_prefix);
        ensure_topics(&kafka, &topics.specs()).await?;
        let codec = runtime.codec.clone();
        // Fail fast when the registry refuses our schemas.
        codec
            .schema_id::<OrderSubmitted>(&topics.submissions)
            .await?;
        codec.schema_id::<OrderAccepted>(&topics.events).await?;
        codec.schema_id::<OrderRejected>(&topics.events).await?;
        codec
            .schema_id::<BusinessException>(&topics.exceptions)
            .await?;

        let history_progress = Arc::new(Progress::new(&topics.events));
        let core = Arc::new(Core::new(
            metrics.clone(),
            topics.clone(),
            runtime.producer.clone(),
            codec.clone(),
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
        let mut follower_kafka = kafka.clone();
        follower_kafka.overrides.insert(
            0,
            (
                "fetch.wait.max.ms".to_owned(),
                settings.follower_fetch_wait.as_millis().to_string(),
            ),
        );
        let started_followers = try_join_all(
            followed
                .into_iter()
                .map(|f| start_follower(&follower_kafka, &codec, &metrics, &inner, f)),
        )
        .await?;
        let mut follow_tasks = Vec::new();
        let mut loads = Vec::new();
        for (task, progress, ends) in started_followers {
            follow_tasks.push(task);
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

        let mut consumer_kafka = kafka.clone();
        consumer_kafka.overrides.insert(
            0,
            (
                "fetch.wait.max.ms".to_owned(),
                settings.consumer_fetch_wait.as_millis().to_string(),
            ),
        );
        let consumer = ConsumerLoop::new(
            consumer_kafka,
            ConsumerConfig::new(&settings.group_id, &[topics.submissions.as_str()])
                .poison_policy(settings.poison_policy)
                .max_in_flight(settings.pipeline_depth as usize),
            Arc::new(SubmissionHandler::new(Arc::clone(&core))),
            runtime.producer.clone(),
            runtime.bus_metrics.clone(),
        )
        .with_readiness(readiness);

        let addr = settings.http_addr;
        let bind_err = |source| IntakeError::Serve {
            addr: addr.to_string(),
            source,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        let router = api::router(
            Arc::new(Api {
                core: Arc::clone(&core),
                auth: dsync_service::auth::Authenticator::new("order-intake", &settings.auth),
                result_wait: settings.result_wait,
                max_lines: settings.max_lines,
                local: consumer.local_delivery(),
                readiness: runtime.readiness.clone(),
                decide_checks: vec![
                    READY_CHECK.to_owned(),
                    format!("consumer:{}", settings.group_id),
                ],
            }),
            settings.max_body_bytes,
        );
        info!(%local_addr, admin_addr = %runtime.admin_addr(), "order-intake built");
        Ok(App {
            listener,
            local_addr,
            router,
            consumer,
            runtime,
            core,
            stuck_after: settings.stuck_after,
            follow_tasks,
            _guard: inner.clone().drop_guard(),
            inner,
        })
    }

    /// The address the API is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<local_addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub fn admin_addr(&self) -> SocketAddr {
        self.runtime.admin_addr()
    }

    /// The shared core (state inspection).
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Serves the API and runs the submissions consumer until `shutdown` is cancelled (or the
    /// consumer stops on a fatal failure, which is returned); then drains, stops following and
    /// stops the admin server.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), IntakeError> {
        let App {
            listener,
            local_addr,
            router,
            consumer,
            runtime,
            core,
            stuck_after,
            follow_tasks,
            inner,
            _guard,
        } = self;
        let stop = inner.clone();
        let link = tokio::spawn(async move {
            shutdown.cancelled().await;
            stop.cancel();
        });
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| IntakeError::Serve {
                addr: local_addr.to_string(),
                source,
            })?;
        let http = {
            let stop = inner.clone();
            tokio::spawn(dsync_service::http::serve(
                listener,
                router,
                stop.cancelled_owned(),
            ))
        };
        let gauges = {
            let core = Arc::clone(&core);
            let stop = inner.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        _ = tick.tick() => {
                            let (pending, stuck) = core.pending.counts(stuck_after);
                            core.metrics.pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
                            core.metrics.stuck.set(i64::try_from(stuck).unwrap_or(i64::MAX));
                        }
                    }
                }
            })
        };
        info!(addr = %local_addr, "order-intake serving");
        let consumed = consumer.run(inner.clone()).await;
        // The consumer stopped: on shutdown, or fatally (then stop everything else too).
        inner.cancel();
        let served = http.await;
        let _ = gauges.await;
        for t in follow_tasks {
            let _ = t.await;
        }
        link.abort();
        let admin = runtime.join().await;
        consumed?;
        match served {
            Ok(r) => r.map_err(|source| IntakeError::Serve {
                addr: local_addr.to_string(),
                source,
            })?,
            Err(e) => return Err(IntakeError::Internal(format!("HTTP server task: {e}"))),
        }
        admin?;
        info!("order-intake stopped");
        Ok(())
    }

    /// Spawns [`App::run`] on the current runtime.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<Result<(), IntakeError>> {
        tokio::spawn(self.run(shutdown))
    }
}

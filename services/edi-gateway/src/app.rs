//! The application: loads the profiles, starts the runtime, rebuilds the state, finishes the
//! journal, then runs the inbox watchers, the upload endpoint, the `orders.events` consumer,
//! the overdue sweep and the journal retry until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use dsync_bus::{
    ensure_topics, ConsumerConfig, ConsumerLoop, Handler, HandlerResult, InboundRecord,
    PoisonPolicy,
};
use dsync_events::{
    BusinessException, EdiDocumentAcknowledged, EdiDocumentReceived, EdiDocumentSent,
    OrderCancelRequested, OrderSubmitted,
};
use dsync_service::Runtime;
use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{error, info, warn};

use crate::gateway::Gateway;
use crate::http;
use crate::metrics::GatewayMetrics;
use crate::profile::load_profiles;
use crate::topics::Topics;
use crate::{inbox, GatewayError, Settings};

/// Readiness check set once the state is rebuilt and the journal finished.
pub const READY_CHECK: &str = "edi-gateway";

/// A built gateway, not yet running.
pub struct App {
    settings: Settings,
    runtime: Runtime,
    gateway: Arc<Gateway>,
    listener: std::net::TcpListener,
    http_addr: SocketAddr,
    admin_stop: CancellationToken,
    _admin_guard: DropGuard,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("http_addr", &self.http_addr)
            .field("admin_addr", &self.runtime.admin_addr())
            .finish_non_exhaustive()
    }
}

struct OrderEvents(Arc<Gateway>);

impl Handler for OrderEvents {
    async fn handle(&self, record: &InboundRecord) -> HandlerResult {
        self.0.on_order_event(record).await
    }
}

impl App {
    /// Validates the settings and profiles (an invalid profile fails here, naming the file and
    /// the field), starts the runtime, declares the topics, registers the schemas it writes,
    /// rebuilds the state from `edi.documents` and finishes the journal's work.
    #[tracing::instrument(skip_all, fields(profiles = %settings.profiles_dir.display()))]
    pub async fn build(settings: Settings) -> Result<App, GatewayError> {
        settings.validate()?;
        let profiles = load_profiles(&settings.profiles_dir, &settings.data_dir)?;
        info!(partners = profiles.len(), "partner profiles loaded");
        let admin_stop = CancellationToken::new();
        let runtime = Runtime::start(&settings.common, admin_stop.clone()).await?;
        runtime
            .readiness
            .set(READY_CHECK, false, "rebuilding state from edi.documents");
        let metrics = GatewayMetrics::new(&runtime.metrics)?;
        let topics = Topics::with_prefix(&settings.topic_prefix);
        ensure_topics(&settings.common.kafka, &topics.specs()).await?;
        let codec = &runtime.codec;
        codec
            .schema_id::<OrderSubmitted>(&topics.submissions)
            .await?;
        codec
            .schema_id::<OrderCancelRequested>(&topics.order_events)
            .await?;
        codec
            .schema_id::<EdiDocumentReceived>(&topics.edi_documents)
            .await?;
        codec
            .schema_id::<EdiDocumentSent>(&topics.edi_documents)
            .await?;
        codec
            .schema_id::<EdiDocumentAcknowledged>(&topics.edi_documents)
            .await?;
        codec
            .schema_id::<BusinessException>(&topics.exceptions)
            .await?;
        let gateway = Arc::new(Gateway::new(
            profiles,
            topics,
            settings.usage_mode,
            &settings.data_dir,
            runtime.producer.clone(),
            runtime.codec.clone(),
            metrics,
        )?);
        gateway
            .load_state(&settings.common.kafka, settings.load_timeout)
            .await?;
        gateway.recover().await?;
        let addr = settings.http_addr;
        let bind_err = |source| GatewayError::Http {
            addr: addr.to_string(),
            source,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let http_addr = listener.local_addr().map_err(bind_err)?;
        runtime.readiness.set(READY_CHECK, true, "state rebuilt");
        info!(%http_addr, admin_addr = %runtime.admin_addr(), "edi-gateway built");
        Ok(App {
            settings,
            runtime,
            gateway,
            listener,
            http_addr,
            _admin_guard: admin_stop.clone().drop_guard(),
            admin_stop,
        })
    }

    /// Where the upload endpoint listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub fn admin_addr(&self) -> SocketAddr {
        self.runtime.admin_addr()
    }

    /// The gateway's core (tests, diagnostics).
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// The metrics registry served on `/metrics`.
    pub fn metrics_registry(&self) -> &prometheus::Registry {
        &self.runtime.metrics
    }

    /// Runs until `shutdown` (or until the consumer stops on a fatal error, which is returned).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), GatewayError> {
        let s = &self.settings;
        let stop = shutdown.child_token();
        let mut tasks: JoinSet<Result<&'static str, GatewayError>> = JoinSet::new();

        for p in self.gateway.profiles().iter() {
            let (g, p, stop, every) = (
                Arc::clone(&self.gateway),
                Arc::clone(p),
                stop.clone(),
                s.inbox_poll_interval,
            );
            tasks.spawn(async move {
                inbox::watch(g, p, every, stop).await;
                Ok("inbox")
            });
        }

        let (g, every, st) = (
            Arc::clone(&self.gateway),
            s.overdue_sweep_interval,
            stop.clone(),
        );
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = st.cancelled() => return Ok("overdue sweep"),
                    () = tokio::time::sleep(every) => {}
                }
                if let Err(e) = g.sweep_overdue(chrono::Utc::now()).await {
                    warn!(error = %e, "overdue sweep failed; retrying at the next interval");
                }
            }
        });

        let (g, every, st) = (
            Arc::clone(&self.gateway),
            s.journal_retry_interval,
            stop.clone(),
        );
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = st.cancelled() => return Ok("journal retry"),
                    () = tokio::time::sleep(every) => {}
                }
                if g.pending_plans() > 0 {
                    g.retry_pending().await;
                }
            }
        });

        let consumer = ConsumerLoop::new(
            s.common.kafka.clone(),
            ConsumerConfig::new(&s.group_id, &[self.gateway.topics().order_events.as_str()])
                .poison_policy(PoisonPolicy::Skip),
            Arc::new(OrderEvents(Arc::clone(&self.gateway))),
            self.runtime.producer.clone(),
            self.runtime.bus_metrics.clone(),
        )
        .with_readiness(self.runtime.readiness.clone());
        let st = stop.clone();
        tasks.spawn(async move {
            consumer.run(st).await?;
            Ok("orders.events consumer")
        });

        if !s.upload_api_keys.is_empty() {
            warn!("--upload-api-key (EDI_UPLOAD_API_KEYS) is deprecated: use --api-keys (API_KEYS) or --bearer-tokens (BEARER_TOKENS)");
        }
        let router = http::router(Arc::clone(&self.gateway), s.upload_auth(), s.max_body_bytes);
        let listener = tokio::net::TcpListener::from_std(self.listener).map_err(|source| {
            GatewayError::Http {
                addr: self.http_addr.to_string(),
                source,
            }
        })?;
        let (st, addr) = (stop.clone(), self.http_addr);
        tasks.spawn(async move {
            dsync_service::http::serve(listener, router, st.cancelled_owned())
                .await
                .map_err(|source| GatewayError::Http {
                    addr: addr.to_string(),
                    source,
                })?;
            Ok("upload endpoint")
        });
        info!(addr = %self.http_addr, "edi-gateway running");

        let mut result = Ok(());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(name)) => info!(task = name, "stopped"),
                Ok(Err(e)) => {
                    error!(error = %e, "a task failed; stopping");
                    if result.is_ok() {
                        result = Err(e);
                    }
                    stop.cancel();
                }
                Err(e) => {
                    error!(error = %e, "a task panicked; stopping");
                    if result.is_ok() {
                        result = Err(GatewayError::Internal(e.to_string()));
                    }
                    stop.cancel();
                }
            }
        }
        // whatever is still journaled is finished at the next start
        let left = self.gateway.pending_plans();
        if left > 0 {
            warn!(
                plans = left,
                "stopping with journaled work left; it is finished at the next start"
            );
        }
        self.admin_stop.cancel();
        let _ = self.runtime.join().await;
        result
    }

    /// Runs in a task.
    pub fn spawn(
        self,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<Result<(), GatewayError>> {
        tokio::spawn(self.run(shutdown))
    }
}

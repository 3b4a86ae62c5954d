//! The service, as the host runs it: loads the profiles, declares the topics and the schemas
//! it writes, rebuilds the state, finishes the journal, binds the upload endpoint, then runs
//! the inbox watchers, the `orders.events` consumer, the overdue sweep and the journal retry.

use std::sync::Arc;

use dsync_bus::{ConsumerConfig, PoisonPolicy};
use dsync_events::{
    BusinessException, EdiDocumentAcknowledged, EdiDocumentReceived, EdiDocumentSent,
    OrderCancelRequested, OrderSubmitted,
};
use dsync_service::{CommonSettings, Host, TaskKind};
use tracing::{info, warn};

use crate::gateway::Gateway;
use crate::handlers::orders_events::OrderEventsHandler;
use crate::http;
use crate::metrics::GatewayMetrics;
use crate::profile::load_profiles;
use crate::topics::Topics;
use crate::{inbox, GatewayError, Settings};

/// Readiness check set once the state is rebuilt and the journal finished.
pub const READY_CHECK: &str = "edi-gateway";

/// A built gateway (run it with [`App::run`] or [`App::spawn`]).
pub type App = dsync_service::App<Service>;

/// edi-gateway, as the host sees it.
#[derive(Debug)]
pub struct Service {
    gateway: Arc<Gateway>,
}

impl Service {
    /// The gateway's core (tests, diagnostics).
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }
}

impl dsync_service::Service for Service {
    const NAME: &'static str = "edi-gateway";
    type Settings = Settings;
    type Error = GatewayError;

    fn common(settings: &Settings) -> &CommonSettings {
        &settings.common
    }

    fn validate(settings: &Settings) -> Result<(), GatewayError> {
        settings.validate()
    }

    /// An invalid profile fails the build, naming the file and the field.
    #[tracing::instrument(skip_all, fields(profiles = %settings.profiles_dir.display()))]
    async fn build(settings: Settings, host: &mut Host) -> Result<Self, GatewayError> {
        let profiles = load_profiles(&settings.profiles_dir, &settings.data_dir)?;
        info!(partners = profiles.len(), "partner profiles loaded");
        let readiness = host.readiness().clone();
        readiness.set(READY_CHECK, false, "rebuilding state from edi.documents");
        let metrics = GatewayMetrics::new(host.metrics())?;
        let topics = Topics::with_prefix(&settings.topic_prefix);
        host.declare_topics(&topics.specs()).await?;
        host.register::<OrderSubmitted>(&topics.submissions).await?;
        host.register::<OrderCancelRequested>(&topics.order_events)
            .await?;
        host.register::<EdiDocumentReceived>(&topics.edi_documents)
            .await?;
        host.register::<EdiDocumentSent>(&topics.edi_documents)
            .await?;
        host.register::<EdiDocumentAcknowledged>(&topics.edi_documents)
            .await?;
        host.register::<BusinessException>(&topics.exceptions)
            .await?;
        let gateway = Arc::new(Gateway::new(
            profiles,
            topics,
            settings.usage_mode,
            &settings.data_dir,
            host.producer().clone(),
            host.codec().clone(),
            metrics,
        )?);
        gateway
            .load_state(host.kafka(), settings.load_timeout)
            .await?;
        gateway.recover().await?;
        if !settings.upload_api_keys.is_empty() {
            warn!("--upload-api-key (EDI_UPLOAD_API_KEYS) is deprecated: use --api-keys (API_KEYS) or --bearer-tokens (BEARER_TOKENS)");
        }
        let router = http::router(
            Arc::clone(&gateway),
            settings.upload_auth(),
            settings.max_body_bytes,
        );
        host.bind_http(settings.http_addr, router)?;
        readiness.set(READY_CHECK, true, "state rebuilt");

        for p in gateway.profiles().iter() {
            let (g, p, every) = (
                Arc::clone(&gateway),
                Arc::clone(p),
                settings.inbox_poll_interval,
            );
            host.run_task(
                format!("inbox {}", p.id),
                TaskKind::Background,
                move |stop| async move {
                    inbox::watch(g, p, every, stop).await;
                    Ok::<(), GatewayError>(())
                },
            );
        }
        let g = Arc::clone(&gateway);
        host.run_every(
            "overdue sweep",
            settings.overdue_sweep_interval,
            move || {
                let g = Arc::clone(&g);
                async move {
                    if let Err(e) = g.sweep_overdue(chrono::Utc::now()).await {
                        warn!(error = %e, "overdue sweep failed; retrying at the next interval");
                    }
                }
            },
        );
        let g = Arc::clone(&gateway);
        host.run_every(
            "journal retry",
            settings.journal_retry_interval,
            move || {
                let g = Arc::clone(&g);
                async move {
                    if g.pending_plans() > 0 {
                        g.retry_pending().await;
                    }
                }
            },
        );
        let order_events = gateway.topics().order_events.clone();
        let consumer = host.consumer(
            settings.common.kafka.clone(),
            ConsumerConfig::new(&settings.group_id, &[order_events.as_str()])
                .poison_policy(PoisonPolicy::Skip),
            Arc::new(OrderEventsHandler::new(Arc::clone(&gateway))),
        );
        host.run_consumer(format!("{order_events} consumer"), consumer);
        Ok(Service { gateway })
    }

    fn stopped(&self) {
        // whatever is still journaled is finished at the next start
        let left = self.gateway.pending_plans();
        if left > 0 {
            warn!(
                plans = left,
                "stopping with journaled work left; it is finished at the next start"
            );
        }
    }
}

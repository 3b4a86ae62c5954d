//! What every service shares at start-up.
//!
//! A service's settings struct flattens [`CommonSettings`] (Kafka connection, schema registry,
//! telemetry, admin server) next to its own flags; its `App::build` starts a [`Runtime`] and
//! takes from it the producer, the event codec, the metrics registry and the readiness handle.
//! The runtime serves `/metrics`, `/healthz` and `/readyz` until the shutdown token fires.
//!
//! A service with an HTTP API also uses [`auth`] (API keys and bearer tokens, the same rules in
//! every service) and [`http`] (the JSON error shape, body limits, JSON rejections, the server
//! loop with its timeouts).

pub mod auth;
pub mod http;

use std::net::SocketAddr;

use dsync_bus::{BusError, BusMetrics, Classify, ErrorClass, EventProducer, KafkaSettings};
use dsync_events::{EventCodec, EventsError, RegistrySettings};
use dsync_telemetry::admin::{AdminServer, AdminSettings, Readiness};
use dsync_telemetry::{TelemetryError, TelemetrySettings};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Flags every service takes.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonSettings {
    /// Kafka connection.
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// Schema registry.
    #[command(flatten)]
    pub registry: RegistrySettings,
    /// Logs and traces.
    #[command(flatten)]
    pub telemetry: TelemetrySettings,
    /// Admin HTTP server.
    #[command(flatten)]
    pub admin: AdminSettings,
}

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Kafka settings or broker.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// Registry settings.
    #[error(transparent)]
    Events(#[from] EventsError),
    /// Admin server.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
}

impl Classify for ServiceError {
    /// The class of the Kafka or registry failure; the admin server's failures are fatal.
    fn class(&self) -> ErrorClass {
        match self {
            ServiceError::Bus(e) => e.class(),
            ServiceError::Events(e) => e.class(),
            ServiceError::Telemetry(_) => ErrorClass::Fatal,
        }
    }
}

/// The shared machinery of one running service.
#[derive(Debug)]
pub struct Runtime {
    /// Prometheus registry served on `/metrics`; the service registers its own metrics here.
    pub metrics: prometheus::Registry,
    /// Readiness checks served on `/readyz` (the broker probe is registered).
    pub readiness: Readiness,
    /// The bus's standard metrics, registered in [`Runtime::metrics`].
    pub bus_metrics: BusMetrics,
    /// The service's producer.
    pub producer: EventProducer,
    /// The event codec (registry client with caches).
    pub codec: EventCodec,
    admin_addr: SocketAddr,
    admin_task: JoinHandle<Result<(), TelemetryError>>,
}

impl Runtime {
    /// Validates the settings, creates the producer and codec, registers the broker readiness
    /// probe and starts the admin server (which stops when `shutdown` fires).
    pub async fn start(
        settings: &CommonSettings,
        shutdown: CancellationToken,
    ) -> Result<Self, ServiceError> {
        settings.kafka.validate()?;
        let metrics = prometheus::Registry::new();
        let readiness = Readiness::new();
        let bus_metrics = BusMetrics::new(&metrics)?;
        let producer = EventProducer::new(&settings.kafka, bus_metrics.clone())?;
        let codec = EventCodec::from_settings(&settings.registry)?;
        dsync_bus::admin::register_broker_probe(&readiness, &settings.kafka)?;
        let server = AdminServer::bind(
            settings.admin.admin_addr,
            metrics.clone(),
            readiness.clone(),
        )?;
        let admin_addr = server.local_addr();
        let admin_task = server.spawn(shutdown);
        tracing::info!(%admin_addr, "admin server listening");
        Ok(Self {
            metrics,
            readiness,
            bus_metrics,
            producer,
            codec,
            admin_addr,
            admin_task,
        })
    }

    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Waits for the admin server to stop (after the shutdown token fired).
    pub async fn join(self) -> Result<(), ServiceError> {
        match self.admin_task.await {
            Ok(r) => Ok(r?),
            Err(e) => Err(ServiceError::Bus(BusError::Internal(e.to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let table = [
            (
                ServiceError::Bus(BusError::Timeout("x".into())),
                ErrorClass::Transient,
            ),
            (
                ServiceError::Bus(BusError::Config("x".into())),
                ErrorClass::Fatal,
            ),
            (
                ServiceError::Events(EventsError::Registry("down".into())),
                ErrorClass::Transient,
            ),
            (
                ServiceError::Events(EventsError::Decode("x".into())),
                ErrorClass::Poison,
            ),
            (
                ServiceError::Events(EventsError::Config("x".into())),
                ErrorClass::Fatal,
            ),
            (
                ServiceError::Telemetry(TelemetryError::Serve(std::io::Error::other("closed"))),
                ErrorClass::Fatal,
            ),
        ];
        for (e, class) in table {
            assert_eq!(e.class(), class, "{e}");
        }
    }
}

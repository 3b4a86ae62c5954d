//! The service host: what every service shares, done the same way for each.
//!
//! A service is a library implementing [`Service`]: its settings struct flattens
//! [`CommonSettings`] (Kafka, schema registry, telemetry, admin server, shutdown deadline) next
//! to its own flags, and its [`Service::build`] declares on the [`Host`] what it needs — its
//! topics ([`Host::declare_topics`]), the event types it writes ([`Host::register`], failing the
//! start with the subject named), its HTTP router ([`Host::bind_http`], port 0 in tests), its
//! consumer loops ([`Host::consumer`], [`Host::run_consumer`]) and background tasks
//! ([`Host::spawn_task`] now, [`Host::run_task`] once running) — and takes from it the
//! producer, the codec, the metrics registry and the readiness handle. The host validates the
//! settings, starts the admin server (`/metrics`, `/healthz`, `/readyz`), and runs every task in
//! one [`TaskSet`]: the first task to fail cancels the others.
//!
//! A service with an HTTP API also uses [`auth`] (API keys and bearer tokens, the same rules in
//! every service) and [`http`] (the JSON error shape, body limits, JSON rejections, the server
//! loop with its timeouts).
//!
//! Its `main.rs` is one line: `fn main() -> ExitCode { dsync_service::main::<Service>() }`.
//! Tests build and run it in-process: [`App::build`], then [`App::start`] (a [`Running`]
//! handle with the addresses and `stop`) or [`App::spawn`] with a cancellation token.
//!
//! # Shutdown
//!
//! SIGTERM drains: the stop token every task gets is cancelled — consumers finish and commit
//! what is in flight and leave their group, the HTTP API stops accepting and answers what it
//! has — and the process exits once they have, or aborts them when `--shutdown-deadline`
//! (`SHUTDOWN_DEADLINE`, 30 s) passes. SIGINT (or a second signal) stops at once. The admin
//! server stops last, so probes and metrics answer during the drain. A cancelled token passed
//! to [`App::run`] is a drain ([`ShutdownSignal`]).
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | stopped on request (SIGTERM drained, SIGINT) |
//! | 1 | the start failed (settings, profiles, topics, schema registration, listeners, state load) |
//! | 2 | invalid command line (clap) |
//! | 3 | the admin server failed |
//! | 4 | the HTTP API failed |
//! | 5 | a consumer loop stopped on a fatal error |
//! | 6 | a follower failed |
//! | 7 | a background task failed |
//! | 8 | the drain did not finish within `--shutdown-deadline` |
//!
//! A panic counts as a failure of its task. The failed task's name is in the last ERROR log
//! line and on stderr.

pub mod auth;
mod host;
pub mod http;
mod shutdown;
mod tasks;

pub use host::{error_chain, main, App, Host, OneShot, Running, Service, EXIT_START};
pub use shutdown::ShutdownSignal;
pub use tasks::{HostError, TaskKind, TaskSet};

use std::net::SocketAddr;
use std::time::Duration;

use dsync_bus::{BusError, Classify, ErrorClass, KafkaSettings};
use dsync_events::{EventsError, RegistrySettings};
use dsync_telemetry::admin::AdminSettings;
use dsync_telemetry::{TelemetryError, TelemetrySettings};

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
    /// How long a SIGTERM drain may take before the tasks left are aborted (e.g. `30s`).
    #[arg(long = "shutdown-deadline", env = "SHUTDOWN_DEADLINE", default_value = "30s", value_parser = dsync_bus::parse_duration)]
    pub shutdown_deadline: Duration,
}

impl CommonSettings {
    /// Checks what clap cannot, naming the flag at fault.
    pub fn validate(&self) -> Result<(), ServiceError> {
        self.kafka.validate()?;
        if self.shutdown_deadline.is_zero() {
            return Err(ServiceError::Bus(BusError::Config(
                "--shutdown-deadline (SHUTDOWN_DEADLINE) must be positive".into(),
            )));
        }
        Ok(())
    }
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
    /// The registry refused (or could not be asked about) a schema the service writes.
    #[error("registering the schema of subject {subject}: {source}")]
    Register {
        /// The subject (`<topic>-<record full name>`).
        subject: String,
        /// The registry's answer.
        #[source]
        source: EventsError,
    },
    /// A listener could not be bound or served.
    #[error("HTTP listener on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Classify for ServiceError {
    /// The class of the Kafka or registry failure; listeners and metrics failures are fatal.
    fn class(&self) -> ErrorClass {
        match self {
            ServiceError::Bus(e) => e.class(),
            ServiceError::Events(e) | ServiceError::Register { source: e, .. } => e.class(),
            ServiceError::Telemetry(_) | ServiceError::Bind { .. } => ErrorClass::Fatal,
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
            (
                ServiceError::Register {
                    subject: "orders.events-OrderAccepted".into(),
                    source: EventsError::Registry("down".into()),
                },
                ErrorClass::Transient,
            ),
            (
                ServiceError::Bind {
                    addr: SocketAddr::from(([127, 0, 0, 1], 1)),
                    source: std::io::Error::other("in use"),
                },
                ErrorClass::Fatal,
            ),
        ];
        for (e, class) in table {
            assert_eq!(e.class(), class, "{e}");
        }
    }
}

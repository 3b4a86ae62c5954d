//! The crate's single error type.

use dsync_bus::{BusError, HandlerError};
use dsync_events::EventsError;

/// Failures of order-intake: start-up, the broker, the registry, state loading.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// A setting is missing or inconsistent; the message names the flag.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Kafka (topics, producer, consumer, readers).
    #[error(transparent)]
    Bus(#[from] BusError),
    /// Encoding or decoding events, the schema registry.
    #[error(transparent)]
    Events(#[from] EventsError),
    /// The shared service runtime (admin server, producer, codec).
    #[error(transparent)]
    Service(#[from] dsync_service::ServiceError),
    /// Binding or serving the HTTP API.
    #[error("HTTP server on {addr}: {source}")]
    Serve {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A topic was not loaded in time (start-up, or catching up after a partition assignment).
    #[error("timed out: {0}")]
    Timeout(String),
    /// A background task ended abnormally.
    #[error("internal: {0}")]
    Internal(String),
}

impl IntakeError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            IntakeError::Bus(e) => e.is_transient(),
            IntakeError::Events(e) => e.class() == dsync_bus::ErrorClass::Transient,
            IntakeError::Timeout(_) => true,
            _ => false,
        }
    }
}

impl From<IntakeError> for HandlerError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Events(e) => HandlerError::from(e),
            IntakeError::Bus(e) => HandlerError::from(e),
            IntakeError::Timeout(m) => HandlerError::transient(m),
            other => HandlerError::fatal(other.to_string()),
        }
    }
}

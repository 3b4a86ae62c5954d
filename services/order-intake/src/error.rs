//! The crate's single error type.

use dsync_bus::{BusError, Classify, ErrorClass};
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

impl Classify for IntakeError {
    /// Kafka and the registry by their own classes; a topic not loaded in time is transient
    /// (the next attempt waits again); configuration, the HTTP server and broken internals are
    /// fatal.
    fn class(&self) -> ErrorClass {
        match self {
            IntakeError::Bus(e) => e.class(),
            IntakeError::Events(e) => e.class(),
            IntakeError::Service(e) => e.class(),
            IntakeError::Timeout(_) => ErrorClass::Transient,
            IntakeError::Config(_) | IntakeError::Serve { .. } | IntakeError::Internal(_) => {
                ErrorClass::Fatal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsync_bus::HandlerError;

    #[test]
    fn classes() {
        let table = [
            (IntakeError::Config("x".into()), ErrorClass::Fatal),
            (
                IntakeError::Bus(BusError::Timeout("x".into())),
                ErrorClass::Transient,
            ),
            (
                IntakeError::Bus(BusError::Config("x".into())),
                ErrorClass::Fatal,
            ),
            (
                IntakeError::Events(EventsError::Registry("down".into())),
                ErrorClass::Transient,
            ),
            (
                IntakeError::Events(EventsError::WrongMagicByte(1)),
                ErrorClass::Poison,
            ),
            (
                IntakeError::Events(EventsError::Encode("x".into())),
                ErrorClass::Fatal,
            ),
            (
                IntakeError::Service(dsync_service::ServiceError::Bus(BusError::Timeout(
                    "x".into(),
                ))),
                ErrorClass::Transient,
            ),
            (
                IntakeError::Serve {
                    addr: "127.0.0.1:1".into(),
                    source: std::io::Error::other("x"),
                },
                ErrorClass::Fatal,
            ),
            (
                IntakeError::Timeout("orders.events".into()),
                ErrorClass::Transient,
            ),
            (IntakeError::Internal("x".into()), ErrorClass::Fatal),
        ];
        for (e, class) in table {
            assert_eq!(e.class(), class, "{e}");
            assert_eq!(HandlerError::from(e).class(), class);
        }
    }
}

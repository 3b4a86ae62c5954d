//! The crate's single error type.

use dsync_bus::BusError;
use dsync_events::EventsError;
use dsync_service::ServiceError;

/// Failures of the inventory projector.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    /// A setting is invalid; the message names the flag.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The safety stock rules file cannot be read or parsed.
    #[error("safety stock rules {path}: {reason}")]
    Rules {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Kafka.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// Registry or event codec.
    #[error(transparent)]
    Events(#[from] EventsError),
    /// Service start-up.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A changelog record cannot be decoded (corrupt state: restore stops).
    #[error("changelog {topic}/{partition}@{offset}: {reason}")]
    Changelog {
        /// Changelog topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// Why.
        reason: String,
    },
    /// A request violates the contract (dead-lettered as poison).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The HTTP listener.
    #[error("http server on {addr}: {source}")]
    Http {
        /// Address.
        addr: std::net::SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A background task ended abnormally.
    #[error("internal: {0}")]
    Internal(String),
}

//! The crate's single error type.

use dsync_bus::{BusError, Classify, ErrorClass};
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

impl Classify for ProjectorError {
    /// Kafka and the registry by their own classes; a request that violates the contract is
    /// poison; configuration, the rules file, a corrupt changelog, the HTTP listener and broken
    /// internals are fatal (retrying cannot fix them).
    fn class(&self) -> ErrorClass {
        match self {
            ProjectorError::Bus(e) => e.class(),
            ProjectorError::Events(e) => e.class(),
            ProjectorError::Service(e) => e.class(),
            ProjectorError::Invalid(_) => ErrorClass::Poison,
            ProjectorError::Config(_)
            | ProjectorError::Rules { .. }
            | ProjectorError::Changelog { .. }
            | ProjectorError::Http { .. }
            | ProjectorError::Internal(_) => ErrorClass::Fatal,
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
            (ProjectorError::Config("x".into()), ErrorClass::Fatal),
            (
                ProjectorError::Rules {
                    path: "rules.json".into(),
                    reason: "x".into(),
                },
                ErrorClass::Fatal,
            ),
            (
                ProjectorError::Bus(BusError::Timeout("x".into())),
                ErrorClass::Transient,
            ),
            (
                ProjectorError::Bus(BusError::Topic {
                    topic: "t".into(),
                    reason: "missing".into(),
                }),
                ErrorClass::Fatal,
            ),
            (
                ProjectorError::Events(EventsError::Registry("down".into())),
                ErrorClass::Transient,
            ),
            (
                ProjectorError::Events(EventsError::Decode("x".into())),
                ErrorClass::Poison,
            ),
            (
                ProjectorError::Events(EventsError::Encode("x".into())),
                ErrorClass::Fatal,
            ),
            (
                ProjectorError::Service(ServiceError::Bus(BusError::Timeout("x".into()))),
                ErrorClass::Transient,
            ),
            (
                ProjectorError::Changelog {
                    topic: "t".into(),
                    partition: 0,
                    offset: 1,
                    reason: "x".into(),
                },
                ErrorClass::Fatal,
            ),
            (
                ProjectorError::Invalid("quantity".into()),
                ErrorClass::Poison,
            ),
            (
                ProjectorError::Http {
                    addr: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
                    source: std::io::Error::other("x"),
                },
                ErrorClass::Fatal,
            ),
            (ProjectorError::Internal("join".into()), ErrorClass::Fatal),
        ];
        for (e, class) in table {
            assert_eq!(e.class(), class, "{e}");
            assert_eq!(HandlerError::from(e).class(), class);
        }
    }
}

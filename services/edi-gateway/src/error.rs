//! The crate's one error type.

use std::path::PathBuf;

use dsync_bus::{BusError, Classify, ErrorClass};
use dsync_events::EventsError;
use dsync_service::ServiceError;
use dsync_x12::X12Error;

/// Everything that can go wrong in the gateway (start-up, archive, journal, publishing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A partner profile is invalid: the file and the field are named.
    #[error("partner profile {}: {field}: {message}", file.display())]
    Profile {
        /// The profile file.
        file: PathBuf,
        /// Path of the offending field (`interchange.partner_id`, `items[2].sku`, ...).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The set of profiles is unusable (directory unreadable, no profile, two files for one
    /// partner).
    #[error("partner profiles: {0}")]
    Profiles(String),
    /// A setting is invalid; the message names the flag.
    #[error("invalid settings: {0}")]
    Config(String),
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A journal entry cannot be read or written.
    #[error("journal {}: {message}", path.display())]
    Journal {
        /// The entry.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A partner's control numbers reached 999999999.
    #[error("partner {partner}: {which} control numbers exhausted (999999999 reached)")]
    ControlNumbersExhausted {
        /// Partner id.
        partner: String,
        /// ISA13, GS06 or ST02.
        which: &'static str,
    },
    /// An X12 document cannot be rendered.
    #[error("x12: {0}")]
    X12(#[from] X12Error),
    /// The bus failed (broker, topics).
    #[error(transparent)]
    Bus(#[from] BusError),
    /// Encoding or decoding an event failed.
    #[error(transparent)]
    Events(#[from] EventsError),
    /// The service runtime could not start.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A metric could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The upload endpoint could not be bound or served.
    #[error("http server on {addr}: {source}")]
    Http {
        /// Listen address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An unknown partner id.
    #[error("unknown partner {0}")]
    UnknownPartner(String),
    /// An internal invariant broke (a task panicked, a channel closed).
    #[error("internal: {0}")]
    Internal(String),
}

impl GatewayError {
    /// An I/O error with its context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        GatewayError::Io {
            context: context.into(),
            source,
        }
    }
}

impl Classify for GatewayError {
    /// Kafka and the registry by their own classes. An X12 document that cannot be rendered
    /// from the input and an unknown partner are poison (the same input fails the same way
    /// every time). A file system error is transient only when waiting can fix it (interrupted,
    /// timed out, busy, disk or quota full, a network file system unreachable); a missing
    /// directory, a permission, a read-only or corrupt file system need an operator: fatal, like
    /// invalid profiles or settings, a corrupt journal, exhausted control numbers and broken
    /// internals.
    fn class(&self) -> ErrorClass {
        match self {
            GatewayError::Bus(e) => e.class(),
            GatewayError::Events(e) => e.class(),
            GatewayError::Service(e) => e.class(),
            GatewayError::Io { source, .. } => io_class(source),
            GatewayError::X12(_) | GatewayError::UnknownPartner(_) => ErrorClass::Poison,
            GatewayError::Profile { .. }
            | GatewayError::Profiles(_)
            | GatewayError::Config(_)
            | GatewayError::Journal { .. }
            | GatewayError::ControlNumbersExhausted { .. }
            | GatewayError::Metrics(_)
            | GatewayError::Http { .. }
            | GatewayError::Internal(_) => ErrorClass::Fatal,
        }
    }
}

/// Transient for the I/O failures that go away by themselves.
fn io_class(e: &std::io::Error) -> ErrorClass {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::Interrupted
        | K::WouldBlock
        | K::TimedOut
        | K::ResourceBusy
        | K::StorageFull
        | K::QuotaExceeded
        | K::StaleNetworkFileHandle
        | K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::BrokenPipe
        | K::NetworkDown
        | K::NetworkUnreachable
        | K::HostUnreachable => ErrorClass::Transient,
        _ => ErrorClass::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsync_bus::HandlerError;
    use std::io::{Error as IoError, ErrorKind};

    fn io(kind: ErrorKind) -> GatewayError {
        GatewayError::io("writing outbox/855.x12", IoError::from(kind))
    }

    #[test]
    fn classes() {
        let table = [
            (
                GatewayError::Profile {
                    file: "p.toml".into(),
                    field: "id".into(),
                    message: "x".into(),
                },
                ErrorClass::Fatal,
            ),
            (GatewayError::Profiles("none".into()), ErrorClass::Fatal),
            (GatewayError::Config("x".into()), ErrorClass::Fatal),
            (io(ErrorKind::Interrupted), ErrorClass::Transient),
            (io(ErrorKind::TimedOut), ErrorClass::Transient),
            (io(ErrorKind::StorageFull), ErrorClass::Transient),
            (io(ErrorKind::QuotaExceeded), ErrorClass::Transient),
            (io(ErrorKind::ResourceBusy), ErrorClass::Transient),
            (io(ErrorKind::StaleNetworkFileHandle), ErrorClass::Transient),
            (io(ErrorKind::PermissionDenied), ErrorClass::Fatal),
            (io(ErrorKind::NotFound), ErrorClass::Fatal),
            (io(ErrorKind::ReadOnlyFilesystem), ErrorClass::Fatal),
            (io(ErrorKind::InvalidData), ErrorClass::Fatal),
            (io(ErrorKind::Other), ErrorClass::Fatal),
            (
                GatewayError::Journal {
                    path: "j/1.json".into(),
                    message: "x".into(),
                },
                ErrorClass::Fatal,
            ),
            (
                GatewayError::ControlNumbersExhausted {
                    partner: "acme".into(),
                    which: "ISA13",
                },
                ErrorClass::Fatal,
            ),
            (
                GatewayError::X12(X12Error::Render {
                    segment: "N1".into(),
                    position: 2,
                    detail: "contains the element separator".into(),
                }),
                ErrorClass::Poison,
            ),
            (
                GatewayError::X12(X12Error::InvalidInput("3 line acks for 2 lines".into())),
                ErrorClass::Poison,
            ),
            (
                GatewayError::UnknownPartner("nobody".into()),
                ErrorClass::Poison,
            ),
            (
                GatewayError::Bus(BusError::Timeout("x".into())),
                ErrorClass::Transient,
            ),
            (
                GatewayError::Bus(BusError::Config("x".into())),
                ErrorClass::Fatal,
            ),
            (
                GatewayError::Events(EventsError::Registry("down".into())),
                ErrorClass::Transient,
            ),
            (
                GatewayError::Events(EventsError::Truncated("3 bytes".into())),
                ErrorClass::Poison,
            ),
            (
                GatewayError::Events(EventsError::Encode("x".into())),
                ErrorClass::Fatal,
            ),
            (
                GatewayError::Metrics(prometheus::Error::Msg("x".into())),
                ErrorClass::Fatal,
            ),
            (
                GatewayError::Http {
                    addr: "127.0.0.1:1".into(),
                    source: IoError::other("x"),
                },
                ErrorClass::Fatal,
            ),
            (GatewayError::Internal("x".into()), ErrorClass::Fatal),
        ];
        for (e, class) in table {
            assert_eq!(e.class(), class, "{e}");
            assert_eq!(HandlerError::from(e).class(), class);
        }
    }

    #[test]
    fn the_chain_reaches_the_dead_letter_reason() {
        let h = HandlerError::from(io(ErrorKind::PermissionDenied));
        assert_eq!(
            h.to_string(),
            "writing outbox/855.x12: permission denied",
            "the I/O cause is kept"
        );
    }
}

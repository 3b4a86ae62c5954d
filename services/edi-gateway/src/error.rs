//! The crate's one error type.

use std::path::PathBuf;

use dsync_bus::BusError;
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

    /// Whether retrying later may succeed (broker or registry unavailable, disk hiccup).
    pub fn is_transient(&self) -> bool {
        match self {
            GatewayError::Bus(e) => e.is_transient(),
            GatewayError::Events(e) => e.is_transient(),
            GatewayError::Io { .. } => true,
            _ => false,
        }
    }
}

impl From<GatewayError> for dsync_bus::HandlerError {
    fn from(e: GatewayError) -> Self {
        if e.is_transient() {
            dsync_bus::HandlerError::transient(e.to_string())
        } else {
            dsync_bus::HandlerError::fatal(e.to_string())
        }
    }
}

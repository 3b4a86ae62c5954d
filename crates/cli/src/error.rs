//! The library's error type.

use std::path::PathBuf;

use dsync_bus::BusError;
use dsync_events::EventsError;

/// Why a command failed as a whole (bad input lines are not errors: they are reported in the
/// command's summary).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Reading or writing a file or stream.
    #[error("{what}: {source}")]
    Io {
        /// What was being read or written.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Kafka.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// Schema registry or codec.
    #[error(transparent)]
    Events(#[from] EventsError),
    /// The run stopped on a failure that is not the input's (broker, registry, I/O) after
    /// `published` records had been published.
    #[error("stopped at line {line} after {published} records were published: {source}")]
    Aborted {
        /// Records published and acknowledged before the failure.
        published: u64,
        /// The last input line handled.
        line: usize,
        /// The cause.
        #[source]
        source: Box<CliError>,
    },
    /// The event type is not one of this build.
    #[error("unknown event type {name:?} (known: {known})")]
    UnknownEventType {
        /// The name given.
        name: String,
        /// The known record names.
        known: String,
    },
    /// The topic does not exist and is not in the catalog (so it is not created).
    #[error("topic {0:?} does not exist (only catalog topics are created by this tool)")]
    NoSuchTopic(String),
    /// Invalid arguments or an input that cannot be read at all (e.g. an unknown CSV column).
    #[error("{0}")]
    Usage(String),
    /// A CSV file could not be parsed.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: csv::Error,
    },
    /// The sample catalogue embedded in this build does not parse.
    #[error("crates/cli/data/sample-catalog.json: {0}")]
    SampleCatalog(String),
    /// JSON could not be written.
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl CliError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

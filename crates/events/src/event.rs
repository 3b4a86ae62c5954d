//! The [`Event`] trait every generated event type implements, and its compiled schema.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use apache_avro::rabin::Rabin;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::datum::AvroDatum;
use crate::{AnyEvent, EventMetadata, EventsError};

/// An event type of the catalog: its names, topic, schema file and metadata block.
///
/// Implemented by the generated types with [`impl_event!`](crate::impl_event); a hand-written
/// type (a tool reading an older or newer version) can use the same macro, with
/// [`avro_record!`](crate::avro_record) for its binary codec. Serde (`Serialize`,
/// `DeserializeOwned`) gives the Avro-shaped JSON form; the wire codec is [`AvroDatum`].
pub trait Event: AvroDatum + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Record name, e.g. `OrderAccepted` (also `metadata.event_type` and the `event_type` header).
    const RECORD_NAME: &'static str;
    /// Full record name, e.g. `com.distsync.events.OrderAccepted`.
    const FULL_NAME: &'static str;
    /// Topic the event type travels on (`schemas/topics.json`).
    const TOPIC: &'static str;
    /// The schema file's content (the newest version of the event).
    const SCHEMA_JSON: &'static str;
    /// The schema file, relative to the repository root.
    const SCHEMA_PATH: &'static str;
    /// The schema version (`N` of `<Record>.vN.avsc`, 1 for `<Record>.avsc`); producers write it
    /// into `metadata.schema_version`.
    const SCHEMA_VERSION: u32;

    /// The schema, parsed once.
    fn event_schema() -> &'static EventSchema;

    /// The schema as `apache-avro` parsed it.
    fn schema() -> &'static apache_avro::Schema {
        Self::event_schema().avro()
    }

    /// The event's metadata block.
    fn metadata(&self) -> &EventMetadata;

    /// The event's metadata block, mutable.
    fn metadata_mut(&mut self) -> &mut EventMetadata;

    /// Registry subject of this type on `topic` (Confluent `TopicRecordNameStrategy`).
    fn subject(topic: &str) -> String {
        format!("{topic}-{}", Self::FULL_NAME)
    }
}

/// Calls back with the event type found by name; see [`visit_event_type`](crate::visit_event_type).
pub trait EventTypeVisitor {
    /// What the visit returns.
    type Output;
    /// Called with the event type.
    fn visit<E: Event + Into<AnyEvent>>(self) -> Self::Output;
}

/// An event type's schema, parsed, with its identity.
pub struct EventSchema {
    json: &'static str,
    full_name: String,
    avro: apache_avro::Schema,
    canonical: String,
    fingerprint: u64,
    /// Largest body encoded so far (plus slack), so encoding allocates once.
    size_hint: AtomicUsize,
}

impl EventSchema {
    /// Parses a schema (a record).
    pub fn parse(json: &'static str) -> Result<Self, EventsError> {
        let avro = apache_avro::Schema::parse_str(json)
            .map_err(|e| EventsError::Config(format!("invalid schema: {e}")))?;
        let full_name = match &avro {
            apache_avro::Schema::Record(r) => r.name.fullname(None),
            _ => return Err(EventsError::Config("schema is not a record".into())),
        };
        let canonical = avro.canonical_form();
        let fingerprint = fingerprint_of(&avro);
        Ok(Self {
            json,
            full_name,
            avro,
            canonical,
            fingerprint,
            size_hint: AtomicUsize::new(128),
        })
    }

    /// Parses a schema known to be valid (the generated types' files, checked by the tests).
    ///
    /// # Panics
    /// When the schema is invalid.
    #[doc(hidden)]
    pub fn parse_static(json: &'static str) -> Self {
        Self::parse(json).unwrap_or_else(|e| panic!("built-in event schema: {e}"))
    }

    /// The schema text.
    pub fn json(&self) -> &'static str {
        self.json
    }

    /// The full record name.
    pub fn full_name(&self) -> &str {
        &self.full_name
    }

    /// As `apache-avro` parsed it.
    pub fn avro(&self) -> &apache_avro::Schema {
        &self.avro
    }

    /// Parsing Canonical Form.
    pub fn canonical_form(&self) -> &str {
        &self.canonical
    }

    /// CRC-64-AVRO (Rabin) fingerprint of the Parsing Canonical Form: equal fingerprints mean
    /// identical binary encodings.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    pub(crate) fn size_hint(&self) -> usize {
        self.size_hint.load(Ordering::Relaxed)
    }

    pub(crate) fn remember_size(&self, len: usize) {
        if len > self.size_hint.load(Ordering::Relaxed) && len <= 1 << 20 {
            self.size_hint.store(len + len / 8, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for EventSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSchema")
            .field("full_name", &self.full_name)
            .field("fingerprint", &format_args!("{:016x}", self.fingerprint))
            .finish_non_exhaustive()
    }
}

/// CRC-64-AVRO fingerprint of a schema's Parsing Canonical Form.
pub(crate) fn fingerprint_of(schema: &apache_avro::Schema) -> u64 {
    let fp = schema.fingerprint::<Rabin>();
    let mut b = [0u8; 8];
    for (dst, src) in b.iter_mut().zip(fp.bytes.iter()) {
        *dst = *src;
    }
    u64::from_le_bytes(b)
}

pub(crate) fn record_name_of<E: Event>(_: &E) -> &'static str {
    E::RECORD_NAME
}

pub(crate) fn full_name_of<E: Event>(_: &E) -> &'static str {
    E::FULL_NAME
}

pub(crate) fn topic_of<E: Event>(_: &E) -> &'static str {
    E::TOPIC
}

/// Implements [`Event`] for a struct with a `metadata: EventMetadata` field.
///
/// ```ignore
/// dsync_events::impl_event!(OrderAcceptedV2, record = "OrderAccepted",
///     full_name = "com.distsync.events.OrderAccepted", topic = "orders.events",
///     path = "testdata/OrderAccepted.v2.avsc", version = 2,
///     schema = include_str!("../testdata/OrderAccepted.v2.avsc"));
/// ```
#[macro_export]
macro_rules! impl_event {
    ($ty:ty, record = $record:expr, full_name = $full:expr, topic = $topic:expr,
     path = $path:expr, version = $version:expr, schema = $schema:expr $(,)?) => {
        impl $crate::Event for $ty {
            const RECORD_NAME: &'static str = $record;
            const FULL_NAME: &'static str = $full;
            const TOPIC: &'static str = $topic;
            const SCHEMA_JSON: &'static str = $schema;
            const SCHEMA_PATH: &'static str = $path;
            const SCHEMA_VERSION: u32 = $version;

            fn event_schema() -> &'static $crate::EventSchema {
                static SCHEMA: ::std::sync::OnceLock<$crate::EventSchema> =
                    ::std::sync::OnceLock::new();
                SCHEMA.get_or_init(|| $crate::EventSchema::parse_static(Self::SCHEMA_JSON))
            }

            fn metadata(&self) -> &$crate::EventMetadata {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut $crate::EventMetadata {
                &mut self.metadata
            }
        }
    };
}

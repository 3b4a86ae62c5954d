//! Encoding and decoding events in the Confluent wire format through the registry.
//!
//! * Encoding: the generated [`AvroDatum`] code of the event type, behind the 5-byte header of
//!   the id the registry gave the schema under `<topic>-<full name>`.
//! * Decoding: the writer schema comes from the id (cached). When its Parsing Canonical Form
//!   equals the reader's (the same version: the steady state), the generated decoder reads the
//!   body directly. Otherwise (another version) the body is first checked against the writer
//!   schema, `apache-avro` decodes it with the writer schema and resolves it against the reader
//!   schema by the Avro rules (defaults for added fields, removed fields skipped, enum defaults
//!   for unknown symbols, promotions), and the resolved value is re-encoded with the reader
//!   schema and read by the same generated decoder, so every event reaches its Rust type
//!   through one decoder. The resolver of each (writer, reader) pair is built and
//!   compatibility-checked once, and cached.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use crate::datum::{self, AvroDatum, DatumError};
use crate::registry::RegisteredSchema;
use crate::{
    visit_event_type, wire, AnyEvent, Event, EventTypeVisitor, EventsError, RegistrySettings,
    SchemaRegistryClient,
};
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use apache_avro::writer::datum::GenericDatumWriter;

/// Serializer and deserializer of events in the Confluent wire format. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventCodec {
    client: SchemaRegistryClient,
    ids: Arc<RwLock<SchemaIds>>,
}

/// (event type, topic) -> schema id, so encoding builds no subject string in steady state.
type SchemaIds = HashMap<TypeId, Vec<(Box<str>, u32)>>;

impl EventCodec {
    /// A codec over a registry client.
    pub fn new(client: SchemaRegistryClient) -> Self {
        Self {
            client,
            ids: Arc::default(),
        }
    }

    /// A codec with a new client for the settings.
    pub fn from_settings(settings: &RegistrySettings) -> Result<Self, EventsError> {
        SchemaRegistryClient::new(settings).map(Self::new)
    }

    /// The registry client.
    pub fn client(&self) -> &SchemaRegistryClient {
        &self.client
    }

    /// The record that publishes `event` on `topic` under `key`: the encoded value and the
    /// standard headers taken from the event's metadata block, with the current span's W3C
    /// trace context (or the one given, for events caused by a traced input).
    pub async fn outbound<E: Event>(
        &self,
        topic: &str,
        key: impl Into<Vec<u8>>,
        event: &E,
        fallback_traceparent: Option<&str>,
    ) -> Result<dsync_bus::OutboundRecord, EventsError> {
        let payload = self.encode(topic, event).await?;
        let traceparent = dsync_telemetry::propagation::current_traceparent()
            .or_else(|| fallback_traceparent.map(str::to_owned));
        Ok(dsync_bus::OutboundRecord::new(
            topic,
            key,
            payload,
            event.metadata().to_headers(traceparent),
        ))
    }

    /// Decodes the value of a consumed record (a tombstone is [`EventsError::Truncated`]).
    pub async fn decode_record(
        &self,
        record: &dsync_bus::InboundRecord,
    ) -> Result<AnyEvent, EventsError> {
        self.decode_any(record.payload.as_deref().unwrap_or_default())
            .await
    }

    /// Encodes `event` for `topic`: the id of its schema under the subject
    /// `<topic>-<full name>` (registered or looked up once, per the settings), then the body.
    pub async fn encode<E: Event>(&self, topic: &str, event: &E) -> Result<Vec<u8>, EventsError> {
        let id = match self.cached_id::<E>(topic) {
            Some(id) => id,
            None => self.schema_id::<E>(topic).await?,
        };
        encode_framed(id, event)
    }

    /// The id of `E`'s schema under its subject on `topic` (registers or looks it up once).
    /// Services call this at start for the types they produce, to fail fast.
    pub async fn schema_id<E: Event>(&self, topic: &str) -> Result<u32, EventsError> {
        if let Some(id) = self.cached_id::<E>(topic) {
            return Ok(id);
        }
        let id = self
            .client
            .id_for(&E::subject(topic), E::SCHEMA_JSON)
            .await?;
        self.ids
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(TypeId::of::<E>())
            .or_default()
            .push((topic.into(), id));
        Ok(id)
    }

    fn cached_id<E: Event>(&self, topic: &str) -> Option<u32> {
        let ids = self.ids.read().unwrap_or_else(PoisonError::into_inner);
        ids.get(&TypeId::of::<E>())?
            .iter()
            .find(|(t, _)| &**t == topic)
            .map(|(_, id)| *id)
    }

    /// Decodes a payload as `E`. The writer's record must be `E`'s (any version resolvable
    /// against `E`'s schema).
    pub async fn decode<E: Event>(&self, payload: &[u8]) -> Result<E, EventsError> {
        let (id, body) = wire::split(payload)?;
        if let Some(decoded) = self
            .client
            .with_cached_schema(id, |writer| decode_with_writer::<E>(writer, body))
        {
            return decoded;
        }
        let writer = self.client.schema_by_id(id).await?;
        decode_with_writer::<E>(&writer, body)
    }

    /// Decodes a payload as whichever event type its writer schema names.
    ///
    /// [`EventsError::UnknownEventType`] when the writer's record is not a type of this build
    /// (consumers ignore those).
    pub async fn decode_any(&self, payload: &[u8]) -> Result<AnyEvent, EventsError> {
        let (id, body) = wire::split(payload)?;
        if let Some(decoded) = self
            .client
            .with_cached_schema(id, |writer| decode_any_with_writer(writer, body))
        {
            return decoded;
        }
        let writer = self.client.schema_by_id(id).await?;
        decode_any_with_writer(&writer, body)
    }

    /// [`EventCodec::decode_any`] without waiting: `None` when the writer schema is not cached
    /// yet (then use `decode_any`, which fetches it). For tight synchronous loops.
    pub fn decode_any_cached(&self, payload: &[u8]) -> Option<Result<AnyEvent, EventsError>> {
        let (id, body) = match wire::split(payload) {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        self.client
            .with_cached_schema(id, |writer| decode_any_with_writer(writer, body))
    }

    /// The full record name the payload's writer schema declares (fetching the schema when not
    /// cached), without decoding the body.
    pub async fn writer_full_name(&self, payload: &[u8]) -> Result<String, EventsError> {
        let (id, _) = wire::split(payload)?;
        let writer = self.writer_schema(id).await?;
        writer.full_name().map(str::to_owned).ok_or_else(|| {
            EventsError::SchemaMismatch(format!("writer schema {id} is not a record"))
        })
    }

    async fn writer_schema(&self, id: u32) -> Result<Arc<RegisteredSchema>, EventsError> {
        match self.client.cached_schema(id) {
            Some(s) => Ok(s),
            None => self.client.schema_by_id(id).await,
        }
    }
}

fn decode_any_with_writer(writer: &RegisteredSchema, body: &[u8]) -> Result<AnyEvent, EventsError> {
    let name = writer.full_name().ok_or_else(|| {
        EventsError::SchemaMismatch(format!("writer schema {} is not a record", writer.id()))
    })?;
    visit_event_type(name, DecodeAny { writer, body })
        .unwrap_or_else(|| Err(EventsError::UnknownEventType(name.to_owned())))
}

struct DecodeAny<'a> {
    writer: &'a RegisteredSchema,
    body: &'a [u8],
}

impl EventTypeVisitor for DecodeAny<'_> {
    type Output = Result<AnyEvent, EventsError>;

    fn visit<E: Event + Into<AnyEvent>>(self) -> Self::Output {
        decode_with_writer::<E>(self.writer, self.body).map(Into::into)
    }
}

impl AnyEvent {
    /// Decodes an Avro body (no wire header) written with the current schema of the event
    /// type whose full record name is `full_name`.
    pub fn from_body(full_name: &str, body: &[u8]) -> Result<AnyEvent, EventsError> {
        struct FromBody<'a>(&'a [u8]);
        impl EventTypeVisitor for FromBody<'_> {
            type Output = Result<AnyEvent, EventsError>;
            fn visit<E: Event + Into<AnyEvent>>(self) -> Self::Output {
                decode_body::<E>(self.0).map(Into::into)
            }
        }
        visit_event_type(full_name, FromBody(body))
            .unwrap_or_else(|| Err(EventsError::UnknownEventType(full_name.to_owned())))
    }
}

/// Encodes the Avro body of `event` (no wire header) with its type's schema.
pub fn encode_body<E: Event>(event: &E) -> Result<Vec<u8>, EventsError> {
    let schema = E::event_schema();
    let mut out = Vec::with_capacity(schema.size_hint());
    event.write_avro(&mut out);
    schema.remember_size(out.len());
    Ok(out)
}

/// Encodes `event` in the wire format with the given schema id (header and body).
pub fn encode_framed<E: Event>(schema_id: u32, event: &E) -> Result<Vec<u8>, EventsError> {
    let schema = E::event_schema();
    let mut out = Vec::with_capacity(wire::HEADER_LEN + schema.size_hint());
    wire::write_header(&mut out, schema_id);
    event.write_avro(&mut out);
    schema.remember_size(out.len() - wire::HEADER_LEN);
    Ok(out)
}

/// Decodes an Avro body (no wire header) written with `E`'s own schema.
pub fn decode_body<E: Event>(body: &[u8]) -> Result<E, EventsError> {
    read_datum(body)
}

fn read_datum<T: AvroDatum>(body: &[u8]) -> Result<T, EventsError> {
    let mut rest = body;
    let value = T::read_avro(&mut rest).map_err(|e| datum_error(e, body.len()))?;
    if !rest.is_empty() {
        return Err(EventsError::Decode(format!(
            "{} bytes after the end of the record",
            rest.len()
        )));
    }
    Ok(value)
}

fn datum_error(e: DatumError, len: usize) -> EventsError {
    match e {
        DatumError::Eof => EventsError::Truncated(format!("Avro body of {len} bytes ends early")),
        DatumError::Invalid(why) => EventsError::Decode(why.to_owned()),
    }
}

/// Decodes `body`, written with `writer`, as `E`: directly when the writer schema is `E`'s
/// (same canonical form), through schema resolution otherwise.
pub(crate) fn decode_with_writer<E: Event>(
    writer: &RegisteredSchema,
    body: &[u8],
) -> Result<E, EventsError> {
    if writer.full_name() != Some(E::FULL_NAME) {
        return Err(EventsError::SchemaMismatch(format!(
            "writer schema {} is {}, not {}",
            writer.id(),
            writer.full_name().unwrap_or("not a record"),
            E::FULL_NAME
        )));
    }
    let reader = E::event_schema();
    if writer.fingerprint() == reader.fingerprint() {
        return read_datum(body);
    }
    // Check the body against the writer schema first, for exact truncation and trailing-byte
    // errors (apache-avro reads a truncated string as null).
    let mut rest = body;
    skip_datum(writer.schema(), writer.names(), &mut rest, 0)
        .map_err(|e| datum_error(e, body.len()))?;
    if !rest.is_empty() {
        return Err(EventsError::Decode(format!(
            "{} bytes after the end of the record",
            rest.len()
        )));
    }
    let resolution = resolution(writer.schema(), reader.avro())?;
    let resolved = resolution.read(writer.id(), E::FULL_NAME, body)?;
    read_datum(&resolved)
}

type Names = std::collections::HashMap<apache_avro::schema::Name, &'static apache_avro::Schema>;

/// Reads past one datum of `schema`, checking lengths, indexes and that it is all there.
fn skip_datum(
    schema: &apache_avro::Schema,
    names: &Names,
    input: &mut &[u8],
    depth: usize,
) -> Result<(), DatumError> {
    use apache_avro::schema::{DecimalSchema, InnerDecimalSchema, UuidSchema};
    use apache_avro::Schema as S;
    if depth > 64 {
        return Err(DatumError::Invalid("nested deeper than 64 levels"));
    }
    let take = |input: &mut &[u8], n: usize| -> Result<(), DatumError> {
        if input.len() < n {
            return Err(DatumError::Eof);
        }
        *input = &input[n..];
        Ok(())
    };
    let len = |input: &mut &[u8]| -> Result<usize, DatumError> {
        let n = datum::read_long(input)?;
        usize::try_from(n).map_err(|_| DatumError::Invalid("negative length"))
    };
    match schema {
        S::Null => Ok(()),
        S::Boolean => bool::read_avro(input).map(drop),
        S::Int | S::Date | S::TimeMillis => datum::read_int(input).map(drop),
        S::Long
        | S::TimeMicros
        | S::TimestampMillis
        | S::TimestampMicros
        | S::TimestampNanos
        | S::LocalTimestampMillis
        | S::LocalTimestampMicros
        | S::LocalTimestampNanos => datum::read_long(input).map(drop),
        S::Float => take(input, 4),
        S::Double => take(input, 8),
        S::String => {
            let n = len(input)?;
            if input.len() < n {
                return Err(DatumError::Eof);
            }
            std::str::from_utf8(&input[..n])
                .map_err(|_| DatumError::Invalid("string is not UTF-8"))?;
            take(input, n)
        }
        S::Bytes
        | S::BigDecimal
        | S::Uuid(UuidSchema::String | UuidSchema::Bytes)
        | S::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Bytes,
            ..
        }) => {
            let n = len(input)?;
            take(input, n)
        }
        S::Fixed(f)
        | S::Duration(f)
        | S::Uuid(UuidSchema::Fixed(f))
        | S::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Fixed(f),
            ..
        }) => take(input, f.size),
        S::Array(a) => loop {
            let n = datum::read_block_count(input)?;
            if n == 0 {
                return Ok(());
            }
            for _ in 0..n {
                skip_datum(&a.items, names, input, depth + 1)?;
            }
        },
        S::Map(m) => loop {
            let n = datum::read_block_count(input)?;
            if n == 0 {
                return Ok(());
            }
            for _ in 0..n {
                skip_datum(&S::String, names, input, depth + 1)?;
                skip_datum(&m.types, names, input, depth + 1)?;
            }
        },
        S::Union(u) => {
            let i = datum::read_long(input)?;
            let branch = usize::try_from(i)
                .ok()
                .and_then(|i| u.variants().get(i))
                .ok_or(DatumError::Invalid("union branch out of range"))?;
            skip_datum(branch, names, input, depth + 1)
        }
        S::Record(r) => {
            for f in &r.fields {
                skip_datum(&f.schema, names, input, depth + 1)?;
            }
            Ok(())
        }
        S::Enum(e) => {
            let i = datum::read_int(input)?;
            if i < 0 || i as usize >= e.symbols.len() {
                return Err(DatumError::Invalid("enum index out of range"));
            }
            Ok(())
        }
        S::Ref { name } => {
            let target = names
                .get(name)
                .ok_or(DatumError::Invalid("reference to an unknown named type"))?;
            skip_datum(target, names, input, depth + 1)
        }
    }
}

/// The cached resolver of one (writer schema, reader schema) pair.
struct Resolution {
    reader: GenericDatumReader<'static>,
    writer: GenericDatumWriter<'static>,
    compatibility: Compatibility,
}

impl Resolution {
    /// Decodes with the writer schema, resolves against the reader schema, and re-encodes the
    /// result with the reader schema.
    fn read(&self, writer_id: u32, reader_name: &str, body: &[u8]) -> Result<Vec<u8>, EventsError> {
        let mut slice = body;
        let value = self.reader.read_value(&mut slice).map_err(|e| {
            if is_eof(&e) {
                EventsError::Truncated(format!("Avro body of {} bytes ends early", body.len()))
            } else if self.compatibility == Compatibility::Partial {
                EventsError::SchemaMismatch(format!(
                    "resolving writer schema {writer_id} against {reader_name}: {e}"
                ))
            } else {
                EventsError::Decode(e.to_string())
            }
        })?;
        if !slice.is_empty() {
            return Err(EventsError::Decode(format!(
                "{} bytes after the end of the record",
                slice.len()
            )));
        }
        let mut out = Vec::with_capacity(body.len() + 16);
        self.writer.write_value(&mut out, value).map_err(|e| {
            EventsError::SchemaMismatch(format!(
                "resolved value of writer schema {writer_id} does not fit {reader_name}: {e}"
            ))
        })?;
        Ok(out)
    }
}

fn is_eof(e: &apache_avro::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::UnexpectedEof;
        }
        source = s.source();
    }
    false
}

type ResolutionCache = RwLock<HashMap<(usize, usize), Result<Arc<Resolution>, String>>>;

/// The resolver of a (writer, reader) pair, built and compatibility-checked once per process.
fn resolution(
    writer: &'static apache_avro::Schema,
    reader: &'static apache_avro::Schema,
) -> Result<Arc<Resolution>, EventsError> {
    static CACHE: OnceLock<ResolutionCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (
        writer as *const apache_avro::Schema as usize,
        reader as *const apache_avro::Schema as usize,
    );
    let cached = cache
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
        .cloned();
    let entry = match cached {
        Some(entry) => entry,
        None => {
            let built = build_resolution(writer, reader);
            cache
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key)
                .or_insert(built)
                .clone()
        }
    };
    entry.map_err(EventsError::SchemaMismatch)
}

fn build_resolution(
    writer: &'static apache_avro::Schema,
    reader: &'static apache_avro::Schema,
) -> Result<Arc<Resolution>, String> {
    let compatibility = SchemaCompatibility::can_read(writer, reader)
        .map_err(|e| format!("the reader schema cannot read the writer schema: {e}"))?;
    let datum_reader = GenericDatumReader::builder(writer)
        .reader_schema(reader)
        .build()
        .map_err(|e| format!("building the schema resolution: {e}"))?;
    let datum_writer = GenericDatumWriter::builder(reader)
        .build()
        .map_err(|e| format!("building the reader schema's writer: {e}"))?;
    Ok(Arc::new(Resolution {
        reader: datum_reader,
        writer: datum_writer,
        compatibility,
    }))
}

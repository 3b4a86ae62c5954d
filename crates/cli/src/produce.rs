//! `dsync produce`: JSON lines or CSV in, Avro events through the registry out.
//!
//! Each input record is the event's fields as JSON (one object per line) or one CSV row (see
//! [`crate::csv_input`] for the column mapping). The metadata block is optional; what it
//! lacks is filled in: `event_id` (a UUIDv5 of the topic and the line's text, so loading the
//! same file twice gives the same ids and consumers drop the repeats), `event_type`,
//! `occurred_at` (now), `correlation_id` (= `event_id`), `source_system` (`--source-system`)
//! and `schema_version`. Omitted fields with a schema default take it, dates and timestamps
//! may be written as text, and the record is then checked against the event's Rust type (an
//! unknown field is an error too). It is encoded in the Confluent wire format under the subject
//! `<topic>-<full record name>` (registered when missing, per the registry settings) and
//! published with the standard headers, keyed by the topic's key format from the catalog
//! (`{customer_id}`, `{sku}@{location_id}`) or `--key-field`.
//!
//! A bad record is reported with its line number and the field at fault. By default the first
//! one stops the run: the records before it are published, nothing after it is read. With
//! `--skip-bad` every good record is published and every bad one reported at the end. Either
//! way a bad record makes the command fail.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::io::BufRead;
use std::path::PathBuf;
use std::pin::Pin;

use clap::{Args, ValueEnum};
use dsync_bus::{BusMetrics, EventHeaders, EventProducer, KafkaSettings, OutboundRecord};
use dsync_events::{AnyEvent, Event, EventCodec, EventTypeVisitor, EventsError, RegistrySettings};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::avro::{FieldError, Model};
use crate::catalog::{self, TopicDef, TypeInfo};
use crate::csv_input::CsvMapping;
use crate::CliError;

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One JSON object per line: the event's fields (Avro JSON shape).
    Jsonl,
    /// CSV with a header row of field paths (master data; see the docs of `dsync produce`).
    Csv,
}

/// `dsync produce` arguments.
#[derive(Debug, Clone, Args)]
pub struct ProduceArgs {
    /// Topic to publish to. Catalog topics (schemas/topics.json) are created when missing;
    /// any other topic must exist.
    #[arg(long, env = "DSYNC_TOPIC")]
    pub topic: String,

    /// Event type (record name, e.g. CustomerUpserted). Default: each line's
    /// metadata.event_type, else the topic's own type (a master-data topic's ...Upserted).
    #[arg(long, env = "DSYNC_EVENT_TYPE")]
    pub event_type: Option<String>,

    /// Input format. Default: csv for a *.csv file, else jsonl.
    #[arg(long, value_enum, env = "DSYNC_FORMAT")]
    pub format: Option<InputFormat>,

    /// Field (dotted path) whose value is the record key. Default: the topic's key format in
    /// the catalog (for a topic outside it, the key format of the event type's own topic).
    #[arg(long, env = "DSYNC_KEY_FIELD")]
    pub key_field: Option<String>,

    /// metadata.source_system of records that do not give one (erp, crm, wms-<warehouse>...).
    #[arg(long, env = "DSYNC_SOURCE_SYSTEM", default_value = "dsync")]
    pub source_system: String,

    /// Publish every good record and report all bad ones at the end (still exits non-zero),
    /// instead of stopping at the first bad one.
    #[arg(long, env = "DSYNC_SKIP_BAD")]
    pub skip_bad: bool,

    /// Validate only: read and check every record, publish nothing (no broker or registry
    /// needed).
    #[arg(long)]
    pub dry_run: bool,

    /// Records published per batch (each batch waits for the broker's acknowledgements).
    #[arg(long, env = "DSYNC_BATCH_SIZE", default_value_t = 500)]
    pub batch_size: usize,

    /// Input file; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
}

impl ProduceArgs {
    /// Arguments for `topic` with every other setting at its default.
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            event_type: None,
            format: None,
            key_field: None,
            source_system: "dsync".into(),
            skip_bad: false,
            dry_run: false,
            batch_size: 500,
            file: None,
        }
    }
}

/// A record that could not be published, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// Line number in the input (1-based; for CSV the line the row starts on).
    pub line: usize,
    /// Path of the field at fault (`lines[0].quantity`), if one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl LineError {
    fn new(line: usize, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            line,
            field: field.filter(|f| !f.is_empty()).map(str::to_owned),
            message: message.into(),
        }
    }

    fn field(line: usize, e: FieldError) -> Self {
        Self::new(line, Some(&e.path), e.message)
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: field {field}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct ProduceSummary {
    /// Topic written.
    pub topic: String,
    /// Input name (file path or `stdin`).
    pub input: String,
    /// Records read (blank and `#` comment lines excluded).
    pub read: u64,
    /// Records that passed validation.
    pub valid: u64,
    /// Records published and acknowledged.
    pub published: u64,
    /// Published records by event type.
    pub by_event_type: BTreeMap<String, u64>,
    /// Bad records.
    pub bad: Vec<LineError>,
    /// The line of the bad record that stopped the run (not with `--skip-bad`).
    pub stopped_at: Option<usize>,
    /// Nothing was published on purpose.
    pub dry_run: bool,
}

impl ProduceSummary {
    /// No bad record.
    pub fn is_clean(&self) -> bool {
        self.bad.is_empty()
    }
}

impl fmt::Display for ProduceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let types = self
            .by_event_type
            .iter()
            .map(|(t, n)| format!("{t}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        if self.dry_run {
            write!(
                f,
                "{}: {} of {} records valid for {} (dry run, nothing published)",
                self.input, self.valid, self.read, self.topic
            )?;
        } else {
            let plural = if self.published == 1 { "" } else { "s" };
            write!(
                f,
                "{}: published {} record{plural} to {}",
                self.input, self.published, self.topic
            )?;
            if !types.is_empty() {
                write!(f, " ({types})")?;
            }
        }
        if let Some(line) = self.stopped_at {
            write!(
                f,
                "; stopped at the bad record on line {line}: nothing after it was read (--skip-bad publishes the good ones and reports every bad one)"
            )?;
        } else if !self.bad.is_empty() {
            write!(
                f,
                "; {} bad records skipped (lines {})",
                self.bad.len(),
                self.bad
                    .iter()
                    .map(|b| b.line.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        Ok(())
    }
}

/// How long the input may pause before the pending records are published.
const INPUT_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// One input record.
struct Item {
    line: usize,
    /// The record's text, for the deterministic event id.
    raw: String,
    value: Result<Value, LineError>,
}

/// Publishes the records of the file (or standard input) the arguments name.
pub async fn produce(
    kafka: &KafkaSettings,
    registry: &RegistrySettings,
    args: &ProduceArgs,
) -> Result<ProduceSummary, CliError> {
    let path = args.file.clone().filter(|p| p.as_os_str() != "-");
    match path {
        None => {
            let input = std::io::BufReader::new(std::io::stdin());
            produce_from(kafka, registry, args, input, "stdin").await
        }
        Some(p) => {
            let file = std::fs::File::open(&p)
                .map_err(|e| CliError::io(format!("opening {}", p.display()), e))?;
            let name = p.display().to_string();
            let mut args = args.clone();
            if args.format.is_none() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
            {
                args.format = Some(InputFormat::Csv);
            }
            produce_from(kafka, registry, &args, std::io::BufReader::new(file), &name).await
        }
    }
}

/// Publishes the records read from `input` (`input_name` names it in reports).
pub async fn produce_from<R: BufRead + Send + 'static>(
    kafka: &KafkaSettings,
    registry: &RegistrySettings,
    args: &ProduceArgs,
    input: R,
    input_name: &str,
) -> Result<ProduceSummary, CliError> {
    let mut run = Run::new(kafka, registry, args, input_name).await?;
    let source = match args.format.unwrap_or(InputFormat::Jsonl) {
        InputFormat::Jsonl => Source::Jsonl,
        InputFormat::Csv => {
            let ty = run.forced.or(run.topic_default).ok_or_else(|| {
                CliError::Usage(format!(
                    "CSV input holds one event type: pass --event-type (topic {} has no single default)",
                    args.topic
                ))
            })?;
            Source::Csv(run.model(ty)?.clone())
        }
    };
    let mut rx = spawn_reader(input, source, input_name.to_owned());
    loop {
        let next = match rx.try_recv() {
            Ok(item) => Some(item),
            Err(mpsc::error::TryRecvError::Empty) => {
                // Input is slow (a pipe, a person typing): publish what is pending rather than
                // holding it until the batch is full.
                match tokio::time::timeout(INPUT_PAUSE, rx.recv()).await {
                    Ok(item) => item,
                    Err(_) => {
                        run.flush().await?;
                        rx.recv().await
                    }
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => None,
        };
        let Some(item) = next else { break };
        let item = match item {
            Ok(item) => item,
            // The input cannot be read at all (e.g. an unknown CSV column): nothing was sent.
            Err(e) if run.summary.read == 0 => return Err(e),
            Err(e) => return Err(run.aborted(e)),
        };
        run.summary.read += 1;
        let line = item.line;
        match run.prepare(item).await {
            Ok(record) => {
                run.summary.valid += 1;
                if let Some(r) = record {
                    run.pending.push(r);
                    if run.pending.len() >= args.batch_size.max(1) {
                        run.flush().await?;
                    }
                }
            }
            Err(Prepare::Line(e)) => {
                run.summary.bad.push(e);
                if !args.skip_bad {
                    run.flush().await?;
                    run.summary.stopped_at = Some(line);
                    break;
                }
            }
            Err(Prepare::Fatal(e)) => {
                run.last_line = line;
                return Err(run.aborted(e));
            }
        }
        run.last_line = line;
    }
    run.flush().await?;
    Ok(run.summary)
}

enum Source {
    Jsonl,
    Csv(Model),
}

enum Prepare {
    Line(LineError),
    Fatal(CliError),
}

impl From<CliError> for Prepare {
    fn from(e: CliError) -> Self {
        Prepare::Fatal(e)
    }
}

/// Reads the input on a thread of its own (blocking reads), one item per record.
fn spawn_reader<R: BufRead + Send + 'static>(
    input: R,
    source: Source,
    name: String,
) -> mpsc::Receiver<Result<Item, CliError>> {
    let (tx, rx) = mpsc::channel(1024);
    let spawned = std::thread::Builder::new()
        .name("produce-input".into())
        .spawn({
            let tx = tx.clone();
            move || match source {
                Source::Jsonl => read_jsonl(input, &name, &tx),
                Source::Csv(model) => read_csv(input, &model, &name, &tx),
            }
        });
    if let Err(e) = spawned {
        let _ = tx.try_send(Err(CliError::io("starting the input reader", e)));
    }
    rx
}

fn read_jsonl<R: BufRead>(mut input: R, name: &str, tx: &mpsc::Sender<Result<Item, CliError>>) {
    let mut line = 0usize;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(CliError::io(format!("reading {name}"), e)));
                return;
            }
        }
        line += 1;
        let item = match std::str::from_utf8(&buf) {
            Err(e) => Item {
                line,
                raw: String::new(),
                value: Err(LineError::new(line, None, format!("not UTF-8: {e}"))),
            },
            Ok(text) => {
                let text = text.trim();
                if text.is_empty() || text.starts_with('#') {
                    continue;
                }
                Item {
                    line,
                    raw: text.to_owned(),
                    value: serde_json::from_str::<Value>(text)
                        .map_err(|e| LineError::new(line, None, format!("invalid JSON: {e}"))),
                }
            }
        };
        if tx.blocking_send(Ok(item)).is_err() {
            return;
        }
    }
}

fn read_csv<R: BufRead>(
    input: R,
    model: &Model,
    name: &str,
    tx: &mpsc::Sender<Result<Item, CliError>>,
) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(input);
    let mapping = match reader.headers() {
        Ok(h) => {
            let headers: Vec<&str> = h.iter().collect();
            CsvMapping::new(model, &headers)
                .map_err(|m| CliError::Usage(format!("{name}: header row: {m}")))
        }
        Err(e) => Err(CliError::Csv {
            path: name.into(),
            source: e,
        }),
    };
    let mapping = match mapping {
        Ok(m) if !m.is_empty() => m,
        Ok(_) => {
            let _ = tx.blocking_send(Err(CliError::Usage(format!("{name}: no header row"))));
            return;
        }
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    };
    let mut record = csv::StringRecord::new();
    loop {
        let item = match reader.read_record(&mut record) {
            Ok(false) => return,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                let cells: Vec<&str> = record.iter().collect();
                Item {
                    line,
                    raw: cells.join("\u{1f}"),
                    value: mapping
                        .row(model, &cells)
                        .map_err(|e| LineError::field(line, e)),
                }
            }
            Err(e) => match (e.position().map(|p| p.line() as usize), e.kind()) {
                (
                    Some(line),
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. },
                ) => Item {
                    line,
                    raw: String::new(),
                    value: Err(LineError::new(line, None, e.to_string())),
                },
                _ => {
                    let _ = tx.blocking_send(Err(CliError::Csv {
                        path: name.into(),
                        source: e,
                    }));
                    return;
                }
            },
        };
        if tx.blocking_send(Ok(item)).is_err() {
            return;
        }
    }
}

/// The state of one run.
struct Run<'a> {
    args: &'a ProduceArgs,
    topic_info: Option<&'static TopicDef>,
    /// `--event-type`.
    forced: Option<TypeInfo>,
    /// The topic's own type.
    topic_default: Option<TypeInfo>,
    models: HashMap<&'static str, Model>,
    schema_ids: HashMap<&'static str, u32>,
    codec: Option<EventCodec>,
    producer: Option<EventProducer>,
    pending: Vec<OutboundRecord>,
    last_line: usize,
    summary: ProduceSummary,
}

impl<'a> Run<'a> {
    async fn new(
        kafka: &KafkaSettings,
        registry: &RegistrySettings,
        args: &'a ProduceArgs,
        input_name: &str,
    ) -> Result<Self, CliError> {
        let topic_info = catalog::topic(&args.topic);
        let forced = args
            .event_type
            .as_deref()
            .map(catalog::event_type)
            .transpose()?;
        if let (Some(t), Some(info)) = (forced, topic_info) {
            if !info.carries(t.record) {
                return Err(CliError::Usage(format!(
                    "topic {} carries {}, not {}",
                    info.name,
                    info.event_types.join(", "),
                    t.record
                )));
            }
        }
        let topic_default = topic_info
            .and_then(catalog::default_event_type)
            .map(catalog::event_type)
            .transpose()?;
        let (codec, producer) = if args.dry_run {
            (None, None)
        } else {
            match topic_info {
                Some(info) => dsync_bus::ensure_topics(kafka, &[info.spec("")]).await?,
                None => {
                    let existing =
                        dsync_bus::admin::topic_partitions(kafka, Some(&args.topic)).await?;
                    if !existing.contains_key(&args.topic) {
                        return Err(CliError::NoSuchTopic(args.topic.clone()));
                    }
                }
            }
            (
                Some(EventCodec::from_settings(registry)?),
                Some(EventProducer::new(kafka, BusMetrics::unregistered())?),
            )
        };
        Ok(Self {
            args,
            topic_info,
            forced,
            topic_default,
            models: HashMap::new(),
            schema_ids: HashMap::new(),
            codec,
            producer,
            pending: Vec::new(),
            last_line: 0,
            summary: ProduceSummary {
                topic: args.topic.clone(),
                input: input_name.to_owned(),
                dry_run: args.dry_run,
                ..ProduceSummary::default()
            },
        })
    }

    fn aborted(&self, e: CliError) -> CliError {
        CliError::Aborted {
            published: self.summary.published,
            line: self.last_line,
            source: Box::new(e),
        }
    }

    fn model(&mut self, ty: TypeInfo) -> Result<&Model, CliError> {
        if !self.models.contains_key(ty.record) {
            let m = Model::parse(ty.schema_json)
                .map_err(|e| CliError::Usage(format!("schema of {}: {e}", ty.record)))?;
            self.models.insert(ty.record, m);
        }
        self.models
            .get(ty.record)
            .ok_or_else(|| CliError::Usage(format!("schema of {}", ty.record)))
    }

    /// Publishes the pending records and waits for their acknowledgements.
    async fn flush(&mut self) -> Result<(), CliError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Some(p) = &self.producer {
            if let Err(e) = p.send_all(&self.pending).await {
                return Err(self.aborted(CliError::Bus(e)));
            }
        }
        self.summary.published += self.pending.len() as u64;
        for r in self.pending.drain(..) {
            *self
                .summary
                .by_event_type
                .entry(r.headers.event_type)
                .or_default() += 1;
        }
        Ok(())
    }

    /// The event type of a record.
    fn type_of(&self, obj: &Map<String, Value>, line: usize) -> Result<TypeInfo, LineError> {
        if let Some(t) = self.forced {
            return Ok(t);
        }
        let named = obj
            .get("metadata")
            .and_then(|m| m.get("event_type"))
            .and_then(Value::as_str);
        match (named, self.topic_default) {
            (Some(name), _) => {
                let t = catalog::event_type(name).map_err(|e| {
                    LineError::new(line, Some("metadata.event_type"), e.to_string())
                })?;
                if let Some(info) = self.topic_info {
                    if !info.carries(t.record) {
                        return Err(LineError::new(
                            line,
                            Some("metadata.event_type"),
                            format!(
                                "{} does not travel on {} (it carries {})",
                                t.record,
                                info.name,
                                info.event_types.join(", ")
                            ),
                        ));
                    }
                }
                Ok(t)
            }
            (None, Some(t)) => Ok(t),
            (None, None) => Err(LineError::new(
                line,
                Some("metadata.event_type"),
                "no event type: pass --event-type or set metadata.event_type",
            )),
        }
    }

    /// Validates and encodes one record; `None` in a dry run.
    async fn prepare(&mut self, item: Item) -> Result<Option<OutboundRecord>, Prepare> {
        let line = item.line;
        let Value::Object(mut obj) = item.value.map_err(Prepare::Line)? else {
            return Err(Prepare::Line(LineError::new(
                line,
                None,
                "expected a JSON object (the event's fields)",
            )));
        };
        let ty = self.type_of(&obj, line).map_err(Prepare::Line)?;
        fill_metadata(
            &mut obj,
            ty,
            &self.args.topic,
            &item.raw,
            &self.args.source_system,
        )
        .map_err(|e| Prepare::Line(LineError::field(line, e)))?;
        let normalized = self
            .model(ty)?
            .normalize_root(Value::Object(obj))
            .map_err(|e| Prepare::Line(LineError::field(line, e)))?;
        let (event, typed) = dsync_events::visit_event_type(ty.full_name, Validate(normalized))
            .ok_or_else(|| CliError::Usage(format!("unknown event type {}", ty.full_name)))?
            .map_err(|e| Prepare::Line(LineError::field(line, e)))?;
        let key = self
            .key(ty, &typed)
            .map_err(|e| Prepare::Line(LineError::field(line, e)))?;
        let Some(codec) = self.codec.clone() else {
            return Ok(None);
        };
        let id = match self.schema_ids.get(ty.record) {
            Some(id) => *id,
            None => {
                let id = dsync_events::visit_event_type(
                    ty.full_name,
                    SchemaId {
                        codec: &codec,
                        topic: &self.args.topic,
                    },
                )
                .ok_or_else(|| CliError::Usage(format!("unknown event type {}", ty.full_name)))?
                .await
                .map_err(CliError::Events)?;
                self.schema_ids.insert(ty.record, id);
                id
            }
        };
        let body = event.encode_body().map_err(CliError::Events)?;
        let mut payload = Vec::with_capacity(dsync_events::wire::HEADER_LEN + body.len());
        dsync_events::wire::write_header(&mut payload, id);
        payload.extend_from_slice(&body);
        let headers: EventHeaders = event
            .metadata()
            .to_headers(dsync_telemetry::propagation::current_traceparent());
        Ok(Some(OutboundRecord::new(
            &self.args.topic,
            key.into_bytes(),
            payload,
            headers,
        )))
    }

    /// The record key: `--key-field`, else the key format of the topic (or of the type's own
    /// topic) filled from the event.
    fn key(&self, ty: TypeInfo, typed: &Value) -> Result<String, FieldError> {
        let format = match &self.args.key_field {
            Some(f) => format!("{{{f}}}"),
            None => self
                .topic_info
                .or_else(|| catalog::topic(ty.topic))
                .map(|t| t.key_format.to_owned())
                .ok_or_else(|| {
                    FieldError::new("", "no key format for this topic: pass --key-field")
                })?,
        };
        render_key(&format, typed)
    }
}

/// Fills `{field}` placeholders of a key format from the event's fields (dotted paths).
pub fn render_key(format: &str, event: &Value) -> Result<String, FieldError> {
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| FieldError::new("", format!("bad key format {format:?}")))?;
        let path = &after[..end];
        let mut v = event;
        for seg in path.split('.') {
            v = v.get(seg).unwrap_or(&Value::Null);
        }
        match v {
            Value::String(s) if !s.is_empty() => out.push_str(s),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::Bool(b) => out.push_str(&b.to_string()),
            _ => {
                return Err(FieldError::new(
                    path,
                    "the record key is made of this field, and it is empty or missing",
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Completes the metadata block (see the module docs).
fn fill_metadata(
    obj: &mut Map<String, Value>,
    ty: TypeInfo,
    topic: &str,
    raw: &str,
    source_system: &str,
) -> Result<(), FieldError> {
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
    let Value::Object(m) = meta else {
        return Err(FieldError::new("metadata", "expected an object"));
    };
    let missing = |m: &Map<String, Value>, k: &str| m.get(k).is_none_or(Value::is_null);
    if missing(m, "event_id") {
        let id = EventHeaders::deterministic_id(&format!("dsync-produce/{topic}"), raw);
        m.insert("event_id".into(), Value::String(id));
    }
    match m.get("event_type") {
        None | Some(Value::Null) => {
            m.insert("event_type".into(), Value::String(ty.record.to_owned()));
        }
        Some(Value::String(s)) if s == ty.record || s == ty.full_name => {
            m.insert("event_type".into(), Value::String(ty.record.to_owned()));
        }
        Some(other) => {
            return Err(FieldError::new(
                "metadata.event_type",
                format!("is {other}, but the record is a {}", ty.record),
            ))
        }
    }
    if missing(m, "occurred_at") {
        m.insert(
            "occurred_at".into(),
            Value::Number(chrono::Utc::now().timestamp_millis().into()),
        );
    }
    if missing(m, "correlation_id") {
        let id = m.get("event_id").cloned().unwrap_or(Value::Null);
        m.insert("correlation_id".into(), id);
    }
    if missing(m, "source_system") {
        m.insert(
            "source_system".into(),
            Value::String(source_system.to_owned()),
        );
    }
    if missing(m, "schema_version") {
        m.insert("schema_version".into(), Value::Number(ty.version.into()));
    }
    Ok(())
}

/// Deserializes into the event's Rust type: the event and its JSON form.
struct Validate(Value);

impl EventTypeVisitor for Validate {
    type Output = Result<(AnyEvent, Value), FieldError>;

    fn visit<E: Event + Into<AnyEvent>>(self) -> Self::Output {
        let e: E = serde_path_to_error::deserialize(self.0).map_err(|e| {
            let path = e.path().to_string();
            FieldError::new(if path == "." { "" } else { &path }, e.inner().to_string())
        })?;
        let json = serde_json::to_value(&e)
            .map_err(|e| FieldError::new("", format!("cannot serialize: {e}")))?;
        Ok((e.into(), json))
    }
}

/// The registry id of the event type's schema under its subject on the topic.
struct SchemaId<'a> {
    codec: &'a EventCodec,
    topic: &'a str,
}

type IdFuture<'a> = Pin<Box<dyn Future<Output = Result<u32, EventsError>> + Send + 'a>>;

impl<'a> EventTypeVisitor for SchemaId<'a> {
    type Output = IdFuture<'a>;

    fn visit<E: Event + Into<AnyEvent>>(self) -> Self::Output {
        Box::pin(async move { self.codec.schema_id::<E>(self.topic).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_follow_the_catalog_format() {
        let e = json!({"sku": "A-1", "location_id": "DAL-MAIN", "n": 3});
        assert_eq!(
            render_key("{sku}@{location_id}", &e),
            Ok("A-1@DAL-MAIN".into())
        );
        assert_eq!(render_key("{n}", &e), Ok("3".into()));
        assert_eq!(
            render_key("{missing}", &e).map_err(|e| e.path),
            Err("missing".into())
        );
    }

    #[test]
    fn metadata_is_completed_deterministically() {
        let ty = catalog::event_type("CustomerDeleted").expect("type");
        let mut a = Map::new();
        fill_metadata(&mut a, ty, "erp.customers", "C1,gone", "erp").expect("fill");
        let mut b = Map::new();
        fill_metadata(&mut b, ty, "erp.customers", "C1,gone", "erp").expect("fill");
        assert_eq!(a["metadata"]["event_id"], b["metadata"]["event_id"]);
        assert_eq!(a["metadata"]["correlation_id"], a["metadata"]["event_id"]);
        assert_eq!(a["metadata"]["event_type"], "CustomerDeleted");
        assert_eq!(a["metadata"]["source_system"], "erp");
        assert_eq!(a["metadata"]["schema_version"], 1);
        let mut c = Map::new();
        fill_metadata(&mut c, ty, "erp.customers", "C2,gone", "erp").expect("fill");
        assert_ne!(a["metadata"]["event_id"], c["metadata"]["event_id"]);
        let mut d = Map::new();
        d.insert("metadata".into(), json!({"event_type": "ItemDeleted"}));
        let e = fill_metadata(&mut d, ty, "t", "x", "erp").expect_err("mismatch");
        assert_eq!(e.path, "metadata.event_type");
    }
}

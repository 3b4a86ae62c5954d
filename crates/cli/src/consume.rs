//! `dsync consume`: a topic's events, decoded through the registry, as JSON lines.
//!
//! One object per record: `topic`, `partition`, `offset`, `timestamp` (ms), `key`, `headers`,
//! `event_type` (the writer's record name), `schema_id` and `event` (the event in its Avro
//! JSON shape: timestamps in epoch milliseconds, dates in days since the epoch; the same
//! shape `dsync produce` reads, so output can be fed back). A tombstone has `event` null. A
//! record that cannot be decoded is reported on stderr with its coordinates and skipped.
//!
//! Without `--follow` the read is bounded: from the beginning (or the `--offset`s) to the end
//! offsets observed at start; a progress bar appears on stderr (when it is a terminal) once
//! the read has taken more than a second. With `--follow` it keeps reading new records until
//! interrupted; without a start position it reads only records written from now on.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::str::FromStr;
use std::time::{Duration, Instant};

use clap::Args;
use dsync_bus::reader::{RangeReader, ReadFrom, ReadUntil};
use dsync_bus::{InboundRecord, KafkaSettings};
use dsync_events::{AnyEvent, Event, EventCodec, EventTypeVisitor, EventsError, RegistrySettings};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::CliError;

/// A start position: partition and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffset {
    /// Partition.
    pub partition: i32,
    /// First offset to read.
    pub offset: i64,
}

impl FromStr for PartitionOffset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (p, o) = s
            .split_once(':')
            .ok_or_else(|| format!("expected PARTITION:OFFSET, found {s:?}"))?;
        Ok(Self {
            partition: p
                .trim()
                .parse()
                .map_err(|_| format!("bad partition in {s:?}"))?,
            offset: o
                .trim()
                .parse()
                .map_err(|_| format!("bad offset in {s:?}"))?,
        })
    }
}

/// `dsync consume` arguments.
#[derive(Debug, Clone, Args)]
pub struct ConsumeArgs {
    /// Topic to read.
    #[arg(long, env = "DSYNC_TOPIC")]
    pub topic: String,

    /// Read from the first record of every partition (the default without --follow).
    #[arg(long, conflicts_with = "offset")]
    pub from_beginning: bool,

    /// Read partition P from offset O (repeatable: `--offset 0:120 --offset 2:0`); other
    /// partitions are not read.
    #[arg(long = "offset", value_name = "P:O")]
    pub offset: Vec<PartitionOffset>,

    /// Keep reading new records until interrupted. Alone: only records written from now on.
    #[arg(long)]
    pub follow: bool,

    /// Stop after this many records.
    #[arg(long, env = "DSYNC_CONSUME_MAX")]
    pub max: Option<u64>,

    /// Never show the progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

impl ConsumeArgs {
    /// A bounded read of `topic` from the beginning.
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            from_beginning: false,
            offset: Vec::new(),
            follow: false,
            max: None,
            no_progress: false,
        }
    }
}

/// What a read did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumeSummary {
    /// Records printed (decoded events and tombstones).
    pub printed: u64,
    /// Records that could not be decoded (reported on stderr).
    pub undecodable: u64,
    /// Printed records by event type.
    pub by_event_type: BTreeMap<String, u64>,
}

impl fmt::Display for ConsumeSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.printed == 1 { "" } else { "s" };
        write!(f, "{} record{plural}", self.printed)?;
        if !self.by_event_type.is_empty() {
            let types: Vec<String> = self
                .by_event_type
                .iter()
                .map(|(t, n)| format!("{t}: {n}"))
                .collect();
            write!(f, " ({})", types.join(", "))?;
        }
        if self.undecodable > 0 {
            write!(f, "; {} undecodable (reported above)", self.undecodable)?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Line<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<String>,
    headers: BTreeMap<&'a str, Option<String>>,
    event_type: Option<String>,
    schema_id: Option<u32>,
    event: Option<Box<RawValue>>,
}

/// Reads the topic as the arguments say, writing one JSON line per record to `out` and
/// decoding errors to `err`, until the read is complete, `--max` records were printed or
/// `stop` fires.
pub async fn consume<W: Write + Send, E: Write + Send>(
    kafka: &KafkaSettings,
    registry: &RegistrySettings,
    args: &ConsumeArgs,
    out: &mut W,
    err: &mut E,
    stop: CancellationToken,
) -> Result<ConsumeSummary, CliError> {
    let codec = EventCodec::from_settings(registry)?;
    let from = if !args.offset.is_empty() {
        ReadFrom::Offsets(
            args.offset
                .iter()
                .map(|p| (p.partition, p.offset))
                .collect(),
        )
    } else if args.follow && !args.from_beginning {
        ReadFrom::End
    } else {
        ReadFrom::Beginning
    };
    let until = if args.follow {
        ReadUntil::Forever
    } else {
        ReadUntil::End
    };
    let mut reader = RangeReader::start(kafka, &args.topic, from, until).await?;
    let bounded = until == ReadUntil::End;
    let total = match args.max {
        Some(m) => reader.expected().min(m),
        None => reader.expected(),
    };
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg} [{wide_bar}] {pos}/{len} records, {per_sec}, eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(args.topic.clone());
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    let mut summary = ConsumeSummary::default();
    let result = loop {
        if args.max.is_some_and(|m| summary.printed >= m) {
            break Ok(());
        }
        let record = tokio::select! {
            r = reader.next() => r,
            () = stop.cancelled() => None,
            _ = ticker.tick() => {
                if bounded && !args.no_progress && bar.is_hidden()
                    && started.elapsed() > Duration::from_secs(1)
                {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                }
                continue;
            }
        };
        let Some(record) = record else { break Ok(()) };
        bar.inc(1);
        match render(&codec, &record).await {
            Ok((event_type, line)) => {
                let written = serde_json::to_writer(&mut *out, &line)
                    .map_err(CliError::Json)
                    .and_then(|()| {
                        out.write_all(b"\n")
                            .map_err(|e| CliError::io("writing the output", e))
                    });
                if let Err(e) = written {
                    break Err(e);
                }
                summary.printed += 1;
                *summary
                    .by_event_type
                    .entry(event_type.unwrap_or_else(|| "(tombstone)".into()))
                    .or_default() += 1;
            }
            Err(e) => {
                summary.undecodable += 1;
                let key = record.key_str().unwrap_or("?").to_owned();
                let msg = format!(
                    "{}/{}@{} (key {key}): cannot decode: {e}",
                    record.topic, record.partition, record.offset
                );
                bar.suspend(|| writeln!(err, "{msg}"))
                    .map_err(|e| CliError::io("writing to stderr", e))?;
            }
        }
    };
    reader.stop();
    bar.finish_and_clear();
    out.flush()
        .map_err(|e| CliError::io("writing the output", e))?;
    result.map(|()| summary)
}

/// The JSON line of a record and its event type.
async fn render<'a>(
    codec: &EventCodec,
    r: &'a InboundRecord,
) -> Result<(Option<String>, Line<'a>), EventsError> {
    let headers: BTreeMap<&str, Option<String>> = r
        .raw_headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                v.as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
            )
        })
        .collect();
    let key = r
        .key
        .as_deref()
        .map(|k| String::from_utf8_lossy(k).into_owned());
    let (event_type, schema_id, event) = match r.payload.as_deref() {
        None => (None, None, None),
        Some(payload) => {
            let (id, _) = dsync_events::wire::split(payload)?;
            let full = codec.writer_full_name(payload).await?;
            let event = dsync_events::visit_event_type(&full, DecodeJson { codec, payload })
                .ok_or_else(|| EventsError::UnknownEventType(full.clone()))?
                .await?;
            let record = full.rsplit('.').next().unwrap_or(&full).to_owned();
            (Some(record), Some(id), Some(event))
        }
    };
    let line = Line {
        topic: &r.topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp_ms,
        key,
        headers,
        event_type: event_type.clone(),
        schema_id,
        event,
    };
    Ok((event_type, line))
}

/// Decodes a payload as the writer's event type and returns its JSON form (fields in schema
/// order).
struct DecodeJson<'a> {
    codec: &'a EventCodec,
    payload: &'a [u8],
}

type JsonFuture<'a> = Pin<Box<dyn Future<Output = Result<Box<RawValue>, EventsError>> + Send + 'a>>;

impl<'a> EventTypeVisitor for DecodeJson<'a> {
    type Output = JsonFuture<'a>;

    fn visit<E: Event + Into<AnyEvent>>(self) -> Self::Output {
        Box::pin(async move {
            let e: E = self.codec.decode::<E>(self.payload).await?;
            serde_json::value::to_raw_value(&e).map_err(|e| EventsError::Decode(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse() {
        assert_eq!(
            "2:120".parse::<PartitionOffset>(),
            Ok(PartitionOffset {
                partition: 2,
                offset: 120
            })
        );
        assert!("2".parse::<PartitionOffset>().is_err());
        assert!("x:1".parse::<PartitionOffset>().is_err());
    }
}

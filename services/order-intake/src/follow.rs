//! Followers: every instance reads the whole of each topic it keeps a copy of (master data,
//! availability, its changelog `orders.events`, `invoicing.events`) from the beginning, for
//! ever, decoding records and applying them to the shared state in offset order per partition.
//!
//! Each topic is followed by a [`dsync_bus::reader::Materializer`] whose
//! [`Progress`](dsync_bus::reader::Progress) tells start-up when everything written before it
//! is applied, and a newly assigned submissions partition when its previous owner's outcomes
//! are known ([`Core::catch_up_since`]). Undecodable records follow the materializer's policy:
//! a registry outage is retried, any other decoding failure skips the record (WARN, the
//! `poison` result of [`FOLLOWED_RECORDS`](crate::metrics::FOLLOWED_RECORDS)). The sinks
//! depend on the core; the core only on the bus's progress type.

use std::sync::Arc;

use dsync_bus::reader::{Apply, Materializer, ReadFrom, ReadUntil};
use dsync_bus::{ErrorClass, HandlerError, InboundRecord, KafkaSettings};
use dsync_events::{AnyEvent, EventCodec};
use prometheus::IntCounter;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error};

use crate::core::{write, Core};
use crate::handlers::{invoicing, master_data, order_events};
use crate::metrics::IntakeMetrics;
use crate::state::Table;
use crate::IntakeError;

/// What a follower does with its topic's decoded records.
pub trait EventSink: Send + Sync + 'static {
    /// Whether records with this `event_type` header are decoded (others are skipped).
    fn wanted(&self, _event_type: &str) -> bool {
        true
    }

    /// Applies a decoded record (`None`: a tombstone); whether it changed anything.
    fn apply(&self, record: &InboundRecord, event: Option<AnyEvent>) -> bool;
}

/// Master data and availability topics.
#[derive(Debug)]
pub struct MasterSink {
    /// The table the topic feeds.
    pub table: Table,
    /// The core.
    pub core: Arc<Core>,
}

impl EventSink for MasterSink {
    fn apply(&self, record: &InboundRecord, event: Option<AnyEvent>) -> bool {
        let (applied, len) = {
            let mut md = write(&self.core.master);
            let applied = match (event, record.key_str()) {
                (Some(e), _) => master_data::apply(&mut md, self.table, e),
                (None, Some(key)) => master_data::apply_tombstone(&mut md, self.table, key),
                (None, None) => master_data::Applied::Ignored,
            };
            (applied, md.len(self.table))
        };
        self.core
            .metrics
            .master_data
            .with_label_values(&[self.table.as_str()])
            .set(i64::try_from(len).unwrap_or(i64::MAX));
        applied == master_data::Applied::Changed
    }
}

/// `orders.events`: the order history.
#[derive(Debug)]
pub struct HistorySink {
    /// The core.
    pub core: Arc<Core>,
}

fn header_string(record: &InboundRecord, name: &str) -> Option<String> {
    record
        .header(name)
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned)
}

impl EventSink for HistorySink {
    fn wanted(&self, event_type: &str) -> bool {
        order_events::wanted(event_type)
    }

    fn apply(&self, record: &InboundRecord, event: Option<AnyEvent>) -> bool {
        let Some(event) = event else { return false };
        let hash = header_string(record, order_events::CONTENT_HASH_HEADER);
        let submission = header_string(record, order_events::SUBMISSION_HEADER);
        if let Some(rec) = order_events::outcome_record(event.clone(), hash, submission) {
            let held = self.core.record_outcome(rec);
            return held.event_id() == record.headers.event_id;
        }
        let mut h = write(&self.core.history);
        order_events::apply(&mut h, event, None, None) != order_events::Applied::Ignored
    }
}

/// `invoicing.events`: posted invoices.
#[derive(Debug)]
pub struct InvoiceSink {
    /// The core.
    pub core: Arc<Core>,
}

impl EventSink for InvoiceSink {
    fn wanted(&self, event_type: &str) -> bool {
        invoicing::wanted(event_type)
    }

    fn apply(&self, _record: &InboundRecord, event: Option<AnyEvent>) -> bool {
        let Some(event) = event else { return false };
        invoicing::apply(&mut write(&self.core.history), &event)
    }
}

/// A follower's [`Apply`] sink: decodes with the event codec and counts into
/// [`FOLLOWED_RECORDS`](crate::metrics::FOLLOWED_RECORDS).
pub struct Decoding {
    codec: EventCodec,
    sink: Arc<dyn EventSink>,
    applied: IntCounter,
    ignored: IntCounter,
    poison: IntCounter,
}

impl std::fmt::Debug for Decoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoding").finish_non_exhaustive()
    }
}

impl Apply for Decoding {
    /// `None`: a tombstone.
    type Value = Option<AnyEvent>;

    async fn decode(
        &mut self,
        record: &InboundRecord,
    ) -> Result<Option<Self::Value>, HandlerError> {
        if record.payload.is_none() {
            return Ok(Some(None));
        }
        let event_type = record.headers.event_type.as_str();
        if !event_type.is_empty() && !self.sink.wanted(event_type) {
            self.ignored.inc();
            return Ok(None);
        }
        match self.codec.decode_record(record).await {
            Ok(e) => Ok(Some(Some(e))),
            // Only an outage is worth waiting for; whatever else fails to decode is skipped.
            Err(e) if e.is_transient() => Err(HandlerError::new(ErrorClass::Transient, e)),
            Err(e) => Err(HandlerError::new(ErrorClass::Poison, e)),
        }
    }

    fn apply(&mut self, record: &InboundRecord, event: Self::Value) -> bool {
        let changed = self.sink.apply(record, event);
        if changed {
            self.applied.inc();
        } else {
            self.ignored.inc();
        }
        changed
    }

    fn skipped(&mut self, _record: &InboundRecord, _error: &HandlerError) {
        self.poison.inc();
    }
}

/// A materializer following `topic` from its beginning, for ever, into `sink` (its progress
/// starts at the end offsets of now: see [`Materializer::ends`]).
pub async fn follower(
    kafka: &KafkaSettings,
    codec: &EventCodec,
    metrics: &IntakeMetrics,
    topic: &str,
    sink: Arc<dyn EventSink>,
) -> Result<Materializer<Decoding>, IntakeError> {
    let counter = |result: &str| metrics.followed.with_label_values(&[topic, result]);
    let decoding = Decoding {
        codec: codec.clone(),
        sink,
        applied: counter("applied"),
        ignored: counter("ignored"),
        poison: counter("poison"),
    };
    Ok(Materializer::start(
        kafka,
        topic,
        ReadFrom::Beginning,
        ReadUntil::Forever,
        decoding,
    )
    .await?)
}

/// Follows until `stop`.
pub async fn run(follower: Materializer<Decoding>, stop: CancellationToken) {
    let topic = follower.progress().topic().to_owned();
    match follower.run(stop).await {
        Ok(_) => debug!(%topic, "follower ended"),
        Err(e) => error!(%topic, error = %e, "follower failed"),
    }
}

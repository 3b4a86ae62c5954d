//! Followers: every instance reads the whole of each topic it keeps a copy of (master data,
//! availability, its changelog `orders.events`, `invoicing.events`) from the beginning, for
//! ever, decoding records and applying them to the shared state in offset order per partition.
//!
//! Each follower tracks the next offset it will apply per partition ([`Progress`]), so start-up
//! can wait until everything written before it is applied, and a newly assigned submissions
//! partition can wait until its previous owner's outcomes are known.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dsync_bus::reader::TopicFollower;
use dsync_bus::{Classify as _, ErrorClass, InboundRecord};
use dsync_events::{AnyEvent, EventCodec};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::core::{lock, write, Core};
use crate::handlers::{invoicing, master_data, order_events};
use crate::metrics::IntakeMetrics;
use crate::state::Table;
use crate::IntakeError;

/// Next offset to apply, per partition, with change notification.
#[derive(Debug)]
pub struct Progress {
    topic: String,
    next: Mutex<HashMap<i32, i64>>,
    changed: watch::Sender<u64>,
}

impl Progress {
    /// Nothing applied yet.
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            next: Mutex::new(HashMap::new()),
            changed: watch::Sender::new(0),
        }
    }

    /// The record at `offset` of `partition` was applied.
    pub fn advance(&self, partition: i32, offset: i64) {
        {
            let mut next = lock(&self.next);
            let n = next.entry(partition).or_insert(0);
            *n = (*n).max(offset + 1);
        }
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn reached(&self, ends: &HashMap<i32, i64>) -> bool {
        let next = lock(&self.next);
        ends.iter()
            .all(|(p, end)| *end <= 0 || next.get(p).is_some_and(|n| n >= end))
    }

    /// Waits until every partition was applied up to its offset in `ends`.
    pub async fn wait_for(
        &self,
        ends: &HashMap<i32, i64>,
        timeout: Duration,
    ) -> Result<(), IntakeError> {
        let mut rx = self.changed.subscribe();
        let wait = async {
            loop {
                if self.reached(ends) {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The sender lives as long as self; unreachable in practice.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            IntakeError::Timeout(format!(
                "{} not applied up to {ends:?} within {timeout:?}",
                self.topic
            ))
        })
    }
}

/// Where a follower's records go.
pub trait Apply: Send + Sync + 'static {
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

impl Apply for MasterSink {
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

impl Apply for HistorySink {
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

impl Apply for InvoiceSink {
    fn wanted(&self, event_type: &str) -> bool {
        invoicing::wanted(event_type)
    }

    fn apply(&self, _record: &InboundRecord, event: Option<AnyEvent>) -> bool {
        let Some(event) = event else { return false };
        invoicing::apply(&mut write(&self.core.history), &event)
    }
}

/// Decodes a record, retrying while the registry is unreachable; `None` when it can never be
/// decoded (or the follower is stopping).
async fn decode(
    codec: &EventCodec,
    record: &InboundRecord,
    stop: &CancellationToken,
) -> Option<AnyEvent> {
    let mut delay = Duration::from_millis(100);
    loop {
        match codec.decode_record(record).await {
            Ok(e) => return Some(e),
            Err(e) if e.class() == ErrorClass::Transient => {
                warn!(topic = %record.topic, offset = record.offset, error = %e, "cannot decode yet; retrying");
                tokio::select! {
                    () = stop.cancelled() => return None,
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(e) => {
                warn!(topic = %record.topic, partition = record.partition, offset = record.offset, error = %e, "undecodable record skipped");
                return None;
            }
        }
    }
}

/// Follows a topic until `stop`, applying every record to `sink`.
pub async fn run(
    mut follower: TopicFollower,
    topic: String,
    codec: EventCodec,
    sink: Arc<dyn Apply>,
    progress: Arc<Progress>,
    metrics: IntakeMetrics,
    stop: CancellationToken,
) {
    let counter = |result: &str| {
        metrics
            .followed
            .with_label_values(&[topic.as_str(), result])
    };
    let (applied, ignored, poison) = (counter("applied"), counter("ignored"), counter("poison"));
    loop {
        let record = tokio::select! {
            () = stop.cancelled() => break,
            r = follower.next() => match r {
                Some(r) => r,
                None => {
                    warn!(%topic, "follower stopped");
                    break;
                }
            },
        };
        let event_type = record.headers.event_type.as_str();
        let changed = if record.payload.is_none() {
            sink.apply(&record, None)
        } else if !event_type.is_empty() && !sink.wanted(event_type) {
            false
        } else {
            match decode(&codec, &record, &stop).await {
                Some(e) => sink.apply(&record, Some(e)),
                None if stop.is_cancelled() => break,
                None => {
                    poison.inc();
                    progress.advance(record.partition, record.offset);
                    continue;
                }
            }
        };
        if changed {
            applied.inc();
        } else {
            ignored.inc();
        }
        progress.advance(record.partition, record.offset);
    }
    follower.stop();
    debug!(%topic, "follower ended");
}

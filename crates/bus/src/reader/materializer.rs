//! The materializer: follows a topic into local state, with progress.
//!
//! A service that keeps a copy of a topic (master data, its own changelog, the schema
//! registry's `_schemas`, a partner's EDI history) reads it with one [`Materializer`]: records
//! arrive in offset order per partition, are decoded and applied by the service's [`Apply`]
//! sink, and a shared [`Progress`] says which offsets were applied, so the service can wait
//! until it has caught up with the end offsets taken when it started ([`Progress::wait_loaded`],
//! what readiness reports) or at any later moment ([`Progress::wait_caught_up_now`]: the end
//! offsets of that moment). The same type does a one-shot bounded load ([`ReadUntil::End`]:
//! stop at the end offsets taken at start) and an endless follow ([`ReadUntil::Forever`]).
//!
//! The bus does not know the records' format: the sink decodes ([`Apply::decode`], Avro through
//! the service's codec, JSON, a state blob) and applies ([`Apply::apply`]).
//!
//! # Records that cannot be decoded: one policy
//!
//! [`Apply::decode`] classifies its failure with the one classification ([`HandlerError`],
//! [`ErrorClass`](crate::ErrorClass)) and the materializer acts on the class:
//!
//! * **Transient** (the registry is unreachable, a timeout): the same record is decoded again
//!   with capped exponential backoff (100 ms doubling to 10 s, or the error's
//!   [`retry_after`](HandlerError::retry_after) hint when longer), with a WARN per attempt,
//!   until it decodes, the materializer is stopped, or a bounded read's deadline passes (then
//!   the run fails with [`BusError::Timeout`] naming the record). Later records wait: the state
//!   never skips ahead of a record that may still be read.
//! * **Poison** (the record can never be decoded: garbage, an unknown schema id, another
//!   program's record in the same topic): the record is **skipped**. The materializer logs a WARN
//!   with the topic, partition, offset and the error chain, counts it in
//!   [`MATERIALIZED`](crate::metrics::MATERIALIZED)`{result="skipped"}` and
//!   [`Counts::skipped`], calls [`Apply::skipped`] (the service's own metric), and the progress
//!   moves past it, so a bad record never blocks loading or readiness. Nothing is written
//!   anywhere: a materializer reads a topic other programs own or replay, it does not
//!   dead-letter it.
//! * **Fatal** (the state cannot be trusted past this record: a corrupt changelog entry): the
//!   materializer stops **before** the record and the run returns [`BusError::Materialize`]
//!   with the coordinates and the source chain; the progress stays below the record.
//!
//! A record the sink does not want (`Ok(None)` from [`Apply::decode`]: another event type) is
//! *ignored*: not applied, counted, and passed by the progress.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{end_offsets, RangeReader, ReadFrom, ReadUntil};
use crate::{BusError, BusMetrics, ErrorClass, HandlerError, InboundRecord, KafkaSettings};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where a [`Materializer`]'s records go: decoding, then applying to the local state.
///
/// Both run on the materializer's task, one record at a time, in offset order per partition.
pub trait Apply: Send + 'static {
    /// A decoded record.
    type Value: Send;

    /// Decodes `record` (a tombstone has no payload: the sink decides what it means).
    /// `Ok(None)`: not wanted here (ignored). An error is handled by its class (see the
    /// module docs): transient retried, poison skipped, fatal stops the materializer.
    fn decode(
        &mut self,
        record: &InboundRecord,
    ) -> impl Future<Output = Result<Option<Self::Value>, HandlerError>> + Send;

    /// Applies a decoded record; whether it changed the state.
    fn apply(&mut self, record: &InboundRecord, value: Self::Value) -> bool;

    /// Called after `record` was skipped as undecodable (already logged and counted by the
    /// materializer): the service's own metric, if it keeps one.
    fn skipped(&mut self, _record: &InboundRecord, _error: &HandlerError) {}
}

/// Records read by a materializer, by what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Applied and changed the state.
    pub applied: u64,
    /// Applied without changing the state (a duplicate, an older version).
    pub unchanged: u64,
    /// Not wanted by the sink.
    pub ignored: u64,
    /// Undecodable (poison), skipped.
    pub skipped: u64,
}

impl Counts {
    /// Every record read.
    pub fn total(&self) -> u64 {
        self.applied + self.unchanged + self.ignored + self.skipped
    }
}

#[derive(Debug, Default)]
struct AtomicCounts {
    applied: AtomicU64,
    unchanged: AtomicU64,
    ignored: AtomicU64,
    skipped: AtomicU64,
}

/// What a materializer applied: the next offset to apply per partition (everything below it
/// was applied, ignored or skipped), with change notification, and the end offsets taken when
/// it started. Shared (`Arc`) between the materializer and whoever waits for it.
#[derive(Debug)]
pub struct Progress {
    topic: String,
    next: Mutex<HashMap<i32, i64>>,
    start_ends: Mutex<Option<HashMap<i32, i64>>>,
    counts: AtomicCounts,
    changed: watch::Sender<u64>,
}

impl Progress {
    /// Nothing applied yet.
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            next: Mutex::new(HashMap::new()),
            start_ends: Mutex::new(None),
            counts: AtomicCounts::default(),
            changed: watch::Sender::new(0),
        }
    }

    /// The topic followed.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// The record at `offset` of `partition` was dealt with (applied, ignored or skipped).
    pub fn advance(&self, partition: i32, offset: i64) {
        self.advance_to(partition, offset + 1);
    }

    /// Everything below `next` of `partition` was dealt with (a bounded read that reached its
    /// end offset, past records removed by compaction).
    pub fn advance_to(&self, partition: i32, next: i64) {
        {
            let mut map = lock(&self.next);
            let n = map.entry(partition).or_insert(0);
            *n = (*n).max(next);
        }
        self.notify();
    }

    /// The next offset to apply per partition (partitions not read yet are absent).
    pub fn applied(&self) -> HashMap<i32, i64> {
        lock(&self.next).clone()
    }

    /// Whether every partition was applied up to its offset in `ends` (an empty partition, end
    /// offset 0, always is).
    pub fn is_caught_up(&self, ends: &HashMap<i32, i64>) -> bool {
        let next = lock(&self.next);
        ends.iter()
            .all(|(p, end)| *end <= 0 || next.get(p).is_some_and(|n| n >= end))
    }

    /// The end offsets taken when the materializer started (`None` before it started).
    pub fn start_ends(&self) -> Option<HashMap<i32, i64>> {
        lock(&self.start_ends).clone()
    }

    pub(crate) fn set_start_ends(&self, ends: HashMap<i32, i64>) {
        *lock(&self.start_ends) = Some(ends);
        self.notify();
    }

    /// Whether everything written before the materializer started was applied: what a
    /// readiness check asks ("not ready before caught up with what it must have read").
    pub fn is_loaded(&self) -> bool {
        match self.start_ends() {
            Some(ends) => self.is_caught_up(&ends),
            None => false,
        }
    }

    /// What became of the records read so far.
    pub fn counts(&self) -> Counts {
        let c = &self.counts;
        Counts {
            applied: c.applied.load(Ordering::Relaxed),
            unchanged: c.unchanged.load(Ordering::Relaxed),
            ignored: c.ignored.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
        }
    }

    fn count(&self, result: Outcome) {
        let c = &self.counts;
        let counter = match result {
            Outcome::Applied => &c.applied,
            Outcome::Unchanged => &c.unchanged,
            Outcome::Ignored => &c.ignored,
            Outcome::Skipped => &c.skipped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    async fn wait_until(&self, mut done: impl FnMut(&Self) -> bool) {
        let mut rx = self.changed.subscribe();
        loop {
            if done(self) {
                return;
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as self: unreachable.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Waits until every partition was applied up to its offset in `ends`; fails with
    /// [`BusError::Timeout`] after `timeout`.
    pub async fn wait_caught_up(
        &self,
        ends: &HashMap<i32, i64>,
        timeout: Duration,
    ) -> Result<(), BusError> {
        tokio::time::timeout(timeout, self.wait_until(|p| p.is_caught_up(ends)))
            .await
            .map_err(|_| {
                BusError::Timeout(format!(
                    "{} not applied up to {ends:?} within {timeout:?} (applied up to {:?})",
                    self.topic,
                    self.applied()
                ))
            })
    }

    /// Reads the end offsets of the topic now and waits until they are applied: everything
    /// written before this call is in the local state when it returns.
    pub async fn wait_caught_up_now(
        &self,
        settings: &KafkaSettings,
        timeout: Duration,
    ) -> Result<(), BusError> {
        let ends = end_offsets(settings, &self.topic).await?;
        self.wait_caught_up(&ends, timeout).await
    }

    /// Waits until [`Progress::is_loaded`]; fails with [`BusError::Timeout`] after `timeout`.
    pub async fn wait_loaded(&self, timeout: Duration) -> Result<(), BusError> {
        tokio::time::timeout(timeout, self.loaded())
            .await
            .map_err(|_| {
                BusError::Timeout(format!(
                    "{} not loaded within {timeout:?}: applied up to {:?} of {:?}",
                    self.topic,
                    self.applied(),
                    self.start_ends().unwrap_or_default()
                ))
            })
    }

    /// Resolves once [`Progress::is_loaded`] (never, if the materializer stops before).
    pub async fn loaded(&self) {
        self.wait_until(Self::is_loaded).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied,
    Unchanged,
    Ignored,
    Skipped,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::Ignored => "ignored",
            Outcome::Skipped => "skipped",
        }
    }
}

/// What a finished [`Materializer::run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// What became of the records read.
    pub counts: Counts,
    /// Whether a bounded read reached its end offsets (`false`: stopped before, or a
    /// follow for ever that was stopped).
    pub complete: bool,
}

/// Capped exponential backoff for transient decoding failures.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(10);

enum Records {
    Reader(RangeReader),
    #[cfg(test)]
    Channel(tokio::sync::mpsc::Receiver<InboundRecord>),
}

impl Records {
    async fn next(&mut self) -> Option<InboundRecord> {
        match self {
            Records::Reader(r) => r.next().await,
            #[cfg(test)]
            Records::Channel(rx) => rx.recv().await,
        }
    }

    fn stop(&self) {
        match self {
            Records::Reader(r) => r.stop(),
            #[cfg(test)]
            Records::Channel(_) => {}
        }
    }
}

/// Follows one topic into local state through an [`Apply`] sink, with [`Progress`] and the
/// undecodable-record policy of the [module docs](self). No consumer group: every instance
/// reads what it keeps.
pub struct Materializer<S: Apply> {
    topic: String,
    records: Records,
    ends: HashMap<i32, i64>,
    until: ReadUntil,
    sink: S,
    progress: Arc<Progress>,
    metrics: Option<BusMetrics>,
    timeout: Option<Duration>,
}

impl<S: Apply> std::fmt::Debug for Materializer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Materializer")
            .field("topic", &self.topic)
            .field("ends", &self.ends)
            .field("until", &self.until)
            .finish_non_exhaustive()
    }
}

impl<S: Apply> Materializer<S> {
    /// Takes the end offsets of `topic` and positions a reader at `from`; [`Materializer::run`]
    /// reads. `until`: [`ReadUntil::End`] for a one-shot load (stop at the end offsets taken
    /// now), [`ReadUntil::Forever`] to follow.
    pub async fn start(
        settings: &KafkaSettings,
        topic: &str,
        from: ReadFrom,
        until: ReadUntil,
        sink: S,
    ) -> Result<Self, BusError> {
        let reader = RangeReader::start(settings, topic, from, until).await?;
        let (starts, ends) = (reader.starts().clone(), reader.ends().clone());
        let this = Self::new(topic, Records::Reader(reader), ends, until, sink);
        // A partition read from offset `s` has everything below `s` behind it.
        for (p, s) in starts {
            this.progress.advance_to(p, s);
        }
        Ok(this)
    }

    fn new(
        topic: &str,
        records: Records,
        ends: HashMap<i32, i64>,
        until: ReadUntil,
        sink: S,
    ) -> Self {
        let progress = Arc::new(Progress::new(topic));
        progress.set_start_ends(ends.clone());
        Self {
            topic: topic.to_owned(),
            records,
            ends,
            until,
            sink,
            progress,
            metrics: None,
            timeout: None,
        }
    }

    /// A materializer over records handed in by a test, with `ends` as the end offsets.
    #[cfg(test)]
    pub(crate) fn from_channel(
        topic: &str,
        rx: tokio::sync::mpsc::Receiver<InboundRecord>,
        ends: HashMap<i32, i64>,
        until: ReadUntil,
        sink: S,
    ) -> Self {
        Self::new(topic, Records::Channel(rx), ends, until, sink)
    }

    /// Reports into `progress` (created before the materializer, e.g. shared with code that
    /// waits for catch-ups) instead of its own.
    #[must_use]
    pub fn with_progress(self, progress: Arc<Progress>) -> Self {
        for (p, n) in self.progress.applied() {
            progress.advance_to(p, n);
        }
        if let Some(ends) = self.progress.start_ends() {
            progress.set_start_ends(ends);
        }
        Self { progress, ..self }
    }

    /// Counts records in [`MATERIALIZED`](crate::metrics::MATERIALIZED).
    #[must_use]
    pub fn with_metrics(self, metrics: BusMetrics) -> Self {
        Self {
            metrics: Some(metrics),
            ..self
        }
    }

    /// A bounded read ([`ReadUntil::End`]) must complete within `timeout` (else
    /// [`BusError::Timeout`]); no effect on a follow for ever.
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            ..self
        }
    }

    /// The progress (share it before [`Materializer::run`]).
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// The end offsets taken at start, per partition read.
    pub fn ends(&self) -> &HashMap<i32, i64> {
        &self.ends
    }

    /// Number of partitions read.
    pub fn partitions(&self) -> usize {
        self.ends.len()
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Reads and applies until `stop`, the end offsets (a bounded read), or a fatal record;
    /// returns the sink (with the state it built) and what was done.
    #[tracing::instrument(skip_all, fields(topic = %self.topic))]
    pub async fn run(mut self, stop: CancellationToken) -> Result<(S, Summary), BusError> {
        let deadline = self
            .timeout
            .filter(|_| self.until == ReadUntil::End)
            .map(|t| Instant::now() + t);
        let started = Instant::now();
        let mut complete = false;
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => break,
                () = sleep_until(deadline) => return Err(self.timed_out()),
                r = self.records.next() => r,
            };
            let Some(record) = next else {
                if self.until == ReadUntil::End {
                    // Every partition reached its end offset (or its end, records past the
                    // last one being compacted away).
                    for (p, e) in &self.ends {
                        self.progress.advance_to(*p, *e);
                    }
                    complete = true;
                } else {
                    warn!(topic = %self.topic, "the reader stopped");
                }
                break;
            };
            let outcome = match self.decode(&record, &stop, deadline).await? {
                Step::Value(v) => {
                    if self.sink.apply(&record, v) {
                        Outcome::Applied
                    } else {
                        Outcome::Unchanged
                    }
                }
                Step::Ignored => Outcome::Ignored,
                Step::Skipped(e) => {
                    warn!(
                        topic = %record.topic,
                        partition = record.partition,
                        offset = record.offset,
                        error = %e,
                        "undecodable record skipped"
                    );
                    self.sink.skipped(&record, &e);
                    Outcome::Skipped
                }
                Step::Stopped => break,
            };
            self.progress.count(outcome);
            if let Some(m) = &self.metrics {
                m.materialized
                    .with_label_values(&[self.topic.as_str(), outcome.label()])
                    .inc();
            }
            self.progress.advance(record.partition, record.offset);
        }
        self.records.stop();
        let counts = self.progress.counts();
        if complete {
            info!(topic = %self.topic, records = counts.total(), skipped = counts.skipped,
                elapsed_ms = started.elapsed().as_millis() as u64, "topic loaded");
        } else {
            debug!(topic = %self.topic, records = counts.total(), "materializer stopped");
        }
        Ok((self.sink, Summary { counts, complete }))
    }

    fn timed_out(&self) -> BusError {
        BusError::Timeout(format!(
            "reading {} to {:?} within {:?}: applied up to {:?}",
            self.topic,
            self.ends,
            self.timeout.unwrap_or_default(),
            self.progress.applied()
        ))
    }

    /// Decodes under the policy: transient retried, poison skipped, fatal an error.
    async fn decode(
        &mut self,
        record: &InboundRecord,
        stop: &CancellationToken,
        deadline: Option<Instant>,
    ) -> Result<Step<S::Value>, BusError> {
        let mut delay = RETRY_FIRST;
        loop {
            let e = match self.sink.decode(record).await {
                Ok(Some(v)) => return Ok(Step::Value(v)),
                Ok(None) => return Ok(Step::Ignored),
                Err(e) => e,
            };
            match e.class() {
                ErrorClass::Poison => return Ok(Step::Skipped(e)),
                ErrorClass::Fatal => {
                    return Err(BusError::Materialize {
                        topic: record.topic.clone(),
                        partition: record.partition,
                        offset: record.offset,
                        source: e,
                    })
                }
                ErrorClass::Transient => {}
            }
            let wait = e.retry_after().map_or(delay, |hint| hint.max(delay));
            if deadline.is_some_and(|d| Instant::now() + wait > d) {
                return Err(BusError::Timeout(format!(
                    "{}/{}@{} still cannot be decoded at the deadline: {e}",
                    record.topic, record.partition, record.offset
                )));
            }
            warn!(topic = %record.topic, partition = record.partition, offset = record.offset,
                error = %e, retry_in_ms = wait.as_millis() as u64, "cannot decode yet; retrying");
            tokio::select! {
                () = stop.cancelled() => return Ok(Step::Stopped),
                () = tokio::time::sleep(wait) => {}
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
    }
}

enum Step<V> {
    Value(V),
    Ignored,
    Skipped(HandlerError),
    Stopped,
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Loads every partition of `topic` from the beginning to the end offsets taken now into
/// `sink`, within `timeout`; returns the sink and what was done.
pub async fn load<S: Apply>(
    settings: &KafkaSettings,
    topic: &str,
    sink: S,
    timeout: Duration,
) -> Result<(S, Summary), BusError> {
    Materializer::start(settings, topic, ReadFrom::Beginning, ReadUntil::End, sink)
        .await?
        .with_timeout(timeout)
        .run(CancellationToken::new())
        .await
}

#[cfg(test)]
mod tests;

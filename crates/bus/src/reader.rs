//! Bounded reads: a topic from the beginning to its current end, and the end offsets themselves;
//! [`RangeReader`] reads from chosen offsets, bounded or following.
//!
//! Reads start at the beginning (always a batch boundary) and end at partition EOF; end offsets
//! come from fetch high-water marks, never from ListOffsets (see [`crate::quirks`]). A read from
//! an offset starts at the producer batch containing it and drops the records before it.
//!
//! [`Materializer`] follows a topic into local state with [`Progress`] and the one policy for
//! undecodable records (see [`materializer`]).

pub mod materializer;

pub use materializer::{load, Apply, Counts, Materializer, Progress, Summary};

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use crate::admin::topic_partitions;
use crate::quirks::{
    aligned_starts_blocking, high_watermarks_blocking, probe_consumer, QuietContext,
};
use crate::record::InboundRecord;
use crate::{BusError, KafkaSettings};

/// Reads every assigned partition up to its end offset in `ends` (or its EOF, whichever comes
/// first), so a read terminates even while producers keep appending.
fn drain_to_ends(
    consumer: &BaseConsumer<QuietContext>,
    ends: &HashMap<i32, i64>,
    keep: bool,
    timeout: Duration,
) -> Result<Vec<InboundRecord>, BusError> {
    let deadline = Instant::now() + timeout;
    let mut done: HashSet<i32> = ends
        .iter()
        .filter(|(_, e)| **e <= 0)
        .map(|(p, _)| *p)
        .collect();
    let mut out = Vec::new();
    while done.len() < ends.len() {
        if Instant::now() > deadline {
            return Err(BusError::Timeout(format!(
                "reading to end: {} of {} partitions complete",
                done.len(),
                ends.len()
            )));
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                let p = rdkafka::Message::partition(&m);
                let o = rdkafka::Message::offset(&m);
                let end = ends.get(&p).copied().unwrap_or(0);
                if done.contains(&p) || o >= end {
                    done.insert(p);
                    continue;
                }
                if keep {
                    out.push(InboundRecord::from_owned(&m.detach()));
                }
                if o + 1 >= end {
                    done.insert(p);
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                done.insert(p);
            }
            Some(Err(e)) => return Err(BusError::kafka("reading to end", e)),
        }
    }
    Ok(out)
}

fn assign_all(
    consumer: &BaseConsumer<QuietContext>,
    topic: &str,
    partitions: i32,
    offset: Offset,
) -> Result<(), BusError> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, offset)
            .map_err(|e| BusError::kafka("building assignment", e))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| BusError::kafka("assign", e))
}

async fn partitions_of(settings: &KafkaSettings, topic: &str) -> Result<i32, BusError> {
    topic_partitions(settings, Some(topic))
        .await?
        .get(topic)
        .copied()
        .ok_or_else(|| BusError::Topic {
            topic: topic.to_owned(),
            reason: "does not exist".into(),
        })
}

/// Every record of `topic`, partition by partition in offset order, from the beginning to the
/// end offsets observed when the read started.
pub async fn read_to_end(
    settings: &KafkaSettings,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<InboundRecord>, BusError> {
    let partitions = partitions_of(settings, topic).await?;
    let settings = settings.clone();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        read_to_end_blocking(&settings, &topic, partitions, timeout)
    })
    .await
    .map_err(|e| BusError::Internal(e.to_string()))?
}

/// Blocking variant of [`read_to_end`] for callers already on a blocking thread.
pub(crate) fn read_to_end_blocking(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<Vec<InboundRecord>, BusError> {
    let tps: Vec<(String, i32)> = (0..partitions).map(|p| (topic.to_owned(), p)).collect();
    let ends: HashMap<i32, i64> = high_watermarks_blocking(settings, &tps, timeout)?
        .into_iter()
        .map(|((_, p), o)| (p, o))
        .collect();
    if ends.values().all(|e| *e <= 0) {
        return Ok(Vec::new());
    }
    let consumer = probe_consumer(settings, false)?;
    assign_all(&consumer, topic, partitions, Offset::Beginning)?;
    drain_to_ends(&consumer, &ends, true, timeout)
}

/// The end offset (offset of the next record to be written) of every partition of `topic`,
/// taken from the high-water marks of fetch responses (never from ListOffsets).
pub async fn end_offsets(
    settings: &KafkaSettings,
    topic: &str,
) -> Result<HashMap<i32, i64>, BusError> {
    let partitions = partitions_of(settings, topic).await?;
    let settings = settings.clone();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let tps: Vec<(String, i32)> = (0..partitions).map(|p| (topic.clone(), p)).collect();
        Ok(
            high_watermarks_blocking(&settings, &tps, Duration::from_secs(30))?
                .into_iter()
                .map(|((_, p), o)| (p, o))
                .collect(),
        )
    })
    .await
    .map_err(|e| BusError::Internal(e.to_string()))?
}

/// For each partition of `topic`, the offset of the first record whose timestamp is at or after
/// `timestamp_ms`, or the end offset when there is none (a time range that starts in the
/// future). Some brokers answer ListOffsets-by-time for a future timestamp with 0 instead of the
/// end (see [`crate::quirks`]); such answers are checked against the first record's timestamp
/// and replaced by the fetch high-water mark.
pub async fn offsets_for_time(
    settings: &KafkaSettings,
    topic: &str,
    timestamp_ms: i64,
) -> Result<HashMap<i32, i64>, BusError> {
    let partitions = partitions_of(settings, topic).await?;
    let settings = settings.clone();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let tps: Vec<(String, i32)> = (0..partitions).map(|p| (topic.clone(), p)).collect();
        let ends = high_watermarks_blocking(&settings, &tps, Duration::from_secs(30))?;
        let consumer = probe_consumer(&settings, false)?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(&topic, p, Offset::Offset(timestamp_ms))
                .map_err(|e| BusError::kafka("building query", e))?;
        }
        let answer = consumer
            .offsets_for_times(tpl, Duration::from_secs(15))
            .map_err(|e| BusError::kafka("offsets for times", e))?;
        let mut out = HashMap::new();
        for e in answer.elements_for_topic(&topic) {
            let p = e.partition();
            let end = ends.get(&(topic.clone(), p)).copied().unwrap_or(0);
            let claimed = match e.offset() {
                Offset::Offset(o) if o >= 0 => o.min(end),
                _ => end,
            };
            // Verify a claim of the first offset: the record there must not be older than asked.
            let offset = if claimed == 0 && end > 0 {
                match first_timestamp(&consumer, &topic, p)? {
                    Some(ts) if ts < timestamp_ms => end,
                    _ => 0,
                }
            } else {
                claimed
            };
            out.insert(p, offset);
        }
        Ok(out)
    })
    .await
    .map_err(|e| BusError::Internal(e.to_string()))?
}

fn first_timestamp(
    consumer: &BaseConsumer<QuietContext>,
    topic: &str,
    partition: i32,
) -> Result<Option<i64>, BusError> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .map_err(|e| BusError::kafka("building assignment", e))?;
    consumer
        .assign(&tpl)
        .map_err(|e| BusError::kafka("assign", e))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => return Ok(rdkafka::Message::timestamp(&m).to_millis()),
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(None),
            Some(Err(e)) => return Err(BusError::kafka("reading first record", e)),
            None => {}
        }
    }
    Err(BusError::Timeout("reading the first record".into()))
}

/// Where a [`RangeReader`] starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFrom {
    /// Every partition from its first record.
    Beginning,
    /// Every partition from its end offset when the read starts (only records written later).
    End,
    /// The listed partitions from the given offsets (`(partition, offset)`); other partitions
    /// are not read. An offset may equal the partition's end offset, not exceed it.
    Offsets(Vec<(i32, i64)>),
}

/// Where a [`RangeReader`] stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadUntil {
    /// At the end offsets observed when the read started (the read terminates even while
    /// producers keep appending).
    End,
    /// Never: follows the partitions until stopped.
    Forever,
}

/// Reads partitions of a topic from chosen offsets (the beginning, the end, or given offsets),
/// in offset order per partition, up to the end offsets observed at start or for ever, without
/// a consumer group. Starting inside a producer batch is handled (see [`crate::quirks`]): the
/// fetch starts at the batch and the records before the requested offset are dropped.
#[derive(Debug)]
pub struct RangeReader {
    rx: tokio::sync::mpsc::Receiver<InboundRecord>,
    stop: tokio_util::sync::CancellationToken,
    starts: HashMap<i32, i64>,
    ends: HashMap<i32, i64>,
}

impl RangeReader {
    /// Starts reading `topic`.
    pub async fn start(
        settings: &KafkaSettings,
        topic: &str,
        from: ReadFrom,
        until: ReadUntil,
    ) -> Result<Self, BusError> {
        let partitions = partitions_of(settings, topic).await?;
        let settings = settings.clone();
        let topic_owned = topic.to_owned();
        let (consumer, starts, ends) = tokio::task::spawn_blocking(move || {
            prepare_range(&settings, &topic_owned, partitions, from)
        })
        .await
        .map_err(|e| BusError::Internal(e.to_string()))??;
        let (tx, rx) = tokio::sync::mpsc::channel(4096);
        let stop = tokio_util::sync::CancellationToken::new();
        let thread_stop = stop.clone();
        let thread_starts = starts.clone();
        let thread_ends = ends.clone();
        let name = format!("range-{topic}");
        std::thread::Builder::new()
            .name(name.chars().take(15).collect())
            .spawn(move || {
                range_loop(
                    &consumer,
                    &thread_starts,
                    (until == ReadUntil::End).then_some(&thread_ends),
                    &thread_stop,
                    &tx,
                );
            })
            .map_err(|e| BusError::Internal(format!("spawning range reader: {e}")))?;
        Ok(Self {
            rx,
            stop,
            starts,
            ends,
        })
    }

    /// The next record, waiting for one; `None` once a bounded read is complete or the reader
    /// was stopped.
    pub async fn next(&mut self) -> Option<InboundRecord> {
        self.rx.recv().await
    }

    /// The first offset read of each partition read.
    pub fn starts(&self) -> &HashMap<i32, i64> {
        &self.starts
    }

    /// The end offset of each partition read, as observed when the read started.
    pub fn ends(&self) -> &HashMap<i32, i64> {
        &self.ends
    }

    /// Number of records between the starts and the end offsets observed at start (what a
    /// bounded read returns, unless records were removed by retention or compaction).
    pub fn expected(&self) -> u64 {
        self.starts
            .iter()
            .map(|(p, s)| {
                let end = self.ends.get(p).copied().unwrap_or(0);
                u64::try_from(end - s).unwrap_or(0)
            })
            .sum()
    }

    /// Stops reading (the background thread ends within 100 ms).
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for RangeReader {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

type Prepared = (
    BaseConsumer<QuietContext>,
    HashMap<i32, i64>,
    HashMap<i32, i64>,
);

fn prepare_range(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    from: ReadFrom,
) -> Result<Prepared, BusError> {
    let all: Vec<i32> = (0..partitions).collect();
    let wanted: Vec<i32> = match &from {
        ReadFrom::Offsets(list) => {
            let mut ps: Vec<i32> = list.iter().map(|(p, _)| *p).collect();
            ps.sort_unstable();
            ps.dedup();
            if ps.len() != list.len() {
                return Err(BusError::Topic {
                    topic: topic.to_owned(),
                    reason: "a partition is listed twice".into(),
                });
            }
            ps
        }
        _ => all,
    };
    let tps: Vec<(String, i32)> = wanted.iter().map(|p| (topic.to_owned(), *p)).collect();
    let ends: HashMap<i32, i64> =
        high_watermarks_blocking(settings, &tps, Duration::from_secs(30))?
            .into_iter()
            .map(|((_, p), o)| (p, o))
            .collect();
    let starts: HashMap<i32, i64> = match from {
        ReadFrom::Beginning => wanted.iter().map(|p| (*p, 0)).collect(),
        ReadFrom::End => ends.clone(),
        ReadFrom::Offsets(list) => {
            for (p, o) in &list {
                let end = ends.get(p).copied().ok_or_else(|| BusError::Topic {
                    topic: topic.to_owned(),
                    reason: format!("no partition {p} ({partitions} partitions)"),
                })?;
                if *o < 0 || *o > end {
                    return Err(BusError::Topic {
                        topic: topic.to_owned(),
                        reason: format!(
                            "offset {o} of partition {p} is outside 0..={end} (its end offset)"
                        ),
                    });
                }
            }
            list.into_iter().collect()
        }
    };
    let resume: Vec<((String, i32), i64)> = starts
        .iter()
        .map(|(p, o)| ((topic.to_owned(), *p), *o))
        .collect();
    let aligned = aligned_starts_blocking(settings, &resume, Duration::from_millis(500))?;
    let consumer = probe_consumer(settings, false)?;
    let mut tpl = TopicPartitionList::new();
    for p in &wanted {
        let at = aligned.get(&(topic.to_owned(), *p)).copied().unwrap_or(0);
        let offset = if at <= 0 {
            Offset::Beginning
        } else {
            Offset::Offset(at)
        };
        tpl.add_partition_offset(topic, *p, offset)
            .map_err(|e| BusError::kafka("building assignment", e))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| BusError::kafka("assign", e))?;
    Ok((consumer, starts, ends))
}

fn range_loop(
    consumer: &BaseConsumer<QuietContext>,
    starts: &HashMap<i32, i64>,
    ends: Option<&HashMap<i32, i64>>,
    stop: &tokio_util::sync::CancellationToken,
    tx: &tokio::sync::mpsc::Sender<InboundRecord>,
) {
    let mut done: HashSet<i32> = match ends {
        Some(ends) => starts
            .iter()
            .filter(|(p, s)| ends.get(p).is_none_or(|e| **s >= *e))
            .map(|(p, _)| *p)
            .collect(),
        None => HashSet::new(),
    };
    while !stop.is_cancelled() {
        if ends.is_some() && done.len() >= starts.len() {
            return;
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                let p = rdkafka::Message::partition(&m);
                let o = rdkafka::Message::offset(&m);
                if o < starts.get(&p).copied().unwrap_or(0) || done.contains(&p) {
                    continue;
                }
                if let Some(ends) = ends {
                    let end = ends.get(&p).copied().unwrap_or(0);
                    if o >= end {
                        done.insert(p);
                        continue;
                    }
                    if o + 1 >= end {
                        done.insert(p);
                    }
                }
                if tx
                    .blocking_send(InboundRecord::from_owned(&m.detach()))
                    .is_err()
                {
                    return;
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) if ends.is_some() => {
                done.insert(p);
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => tracing::warn!(error = %e, "range reader poll error"),
        }
    }
}

/// One record of a [`BoundedReader`], borrowed from the reader until its next call.
pub struct RecordRef<'a> {
    msg: rdkafka::message::BorrowedMessage<'a>,
}

impl std::fmt::Debug for RecordRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordRef")
            .field("topic", &self.topic())
            .field("partition", &self.partition())
            .field("offset", &self.offset())
            .finish_non_exhaustive()
    }
}

impl RecordRef<'_> {
    /// Source topic.
    pub fn topic(&self) -> &str {
        rdkafka::Message::topic(&self.msg)
    }

    /// Source partition.
    pub fn partition(&self) -> i32 {
        rdkafka::Message::partition(&self.msg)
    }

    /// Source offset.
    pub fn offset(&self) -> i64 {
        rdkafka::Message::offset(&self.msg)
    }

    /// Record key, if any.
    pub fn key(&self) -> Option<&[u8]> {
        rdkafka::Message::key(&self.msg)
    }

    /// Record value; `None` for a tombstone.
    pub fn payload(&self) -> Option<&[u8]> {
        rdkafka::Message::payload(&self.msg)
    }

    /// Producer timestamp in milliseconds since the epoch, if any.
    pub fn timestamp_ms(&self) -> Option<i64> {
        rdkafka::Message::timestamp(&self.msg).to_millis()
    }

    /// The value of a header by name (the last one wins).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        use rdkafka::message::Headers;
        let headers = rdkafka::Message::headers(&self.msg)?;
        headers
            .iter()
            .filter(|h| h.key == name)
            .last()
            .and_then(|h| h.value)
    }

    /// An owned copy with the standard headers parsed.
    pub fn to_inbound(&self) -> InboundRecord {
        InboundRecord::from_owned(&self.msg.detach())
    }
}

/// A pull-style bounded read of chosen partitions, from their beginning to the end offsets
/// observed when it was opened, without a consumer group and without holding the records in
/// memory: each call to [`BoundedReader::next`] returns the next record (partitions are read
/// concurrently; each partition in offset order). Used to restore state from a changelog's
/// partitions and to rebuild projections from input topics. Blocking: call it from a blocking
/// thread (`tokio::task::spawn_blocking`).
pub struct BoundedReader {
    consumer: BaseConsumer<QuietContext>,
    ends: HashMap<(String, i32), i64>,
    done: HashSet<(String, i32)>,
    deadline: Instant,
    read: u64,
}

impl std::fmt::Debug for BoundedReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedReader")
            .field("ends", &self.ends)
            .field("done", &self.done.len())
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl BoundedReader {
    /// Reads the end offsets of `partitions` (fetch high-water marks) and positions a reader
    /// at their beginning. The whole read must finish within `timeout`.
    pub fn open_blocking(
        settings: &KafkaSettings,
        partitions: &[(String, i32)],
        timeout: Duration,
    ) -> Result<Self, BusError> {
        let deadline = Instant::now() + timeout;
        let ends = high_watermarks_blocking(settings, partitions, timeout)?;
        let done: HashSet<(String, i32)> = ends
            .iter()
            .filter(|(_, e)| **e <= 0)
            .map(|(tp, _)| tp.clone())
            .collect();
        let consumer = probe_consumer(settings, false)?;
        let mut tpl = TopicPartitionList::new();
        for tp in ends.keys().filter(|tp| !done.contains(*tp)) {
            tpl.add_partition_offset(&tp.0, tp.1, Offset::Beginning)
                .map_err(|e| BusError::kafka("building assignment", e))?;
        }
        if tpl.count() > 0 {
            consumer
                .assign(&tpl)
                .map_err(|e| BusError::kafka("assign", e))?;
        }
        Ok(Self {
            consumer,
            ends,
            done,
            deadline,
            read: 0,
        })
    }

    /// [`BoundedReader::open_blocking`] over every partition of `topic`.
    pub fn open_topic_blocking(
        settings: &KafkaSettings,
        topic: &str,
        partitions: i32,
        timeout: Duration,
    ) -> Result<Self, BusError> {
        let tps: Vec<(String, i32)> = (0..partitions).map(|p| (topic.to_owned(), p)).collect();
        Self::open_blocking(settings, &tps, timeout)
    }

    /// The end offset of each partition read (the read stops before it).
    pub fn end_offsets(&self) -> &HashMap<(String, i32), i64> {
        &self.ends
    }

    /// Records returned so far.
    pub fn records_read(&self) -> u64 {
        self.read
    }

    /// The next record, or `None` once every partition reached its end offset.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<RecordRef<'_>>, BusError> {
        loop {
            if self.done.len() >= self.ends.len() {
                return Ok(None);
            }
            if Instant::now() > self.deadline {
                return Err(BusError::Timeout(format!(
                    "bounded read: {} of {} partitions complete after {} records",
                    self.done.len(),
                    self.ends.len(),
                    self.read
                )));
            }
            match self.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Ok(m)) => {
                    let tp = (
                        rdkafka::Message::topic(&m).to_owned(),
                        rdkafka::Message::partition(&m),
                    );
                    let o = rdkafka::Message::offset(&m);
                    let end = self.ends.get(&tp).copied().unwrap_or(0);
                    if self.done.contains(&tp) || o >= end {
                        self.done.insert(tp);
                        continue;
                    }
                    if o + 1 >= end {
                        self.done.insert(tp);
                    }
                    self.read += 1;
                    return Ok(Some(RecordRef { msg: m }));
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    let eof: Vec<(String, i32)> =
                        self.ends.keys().filter(|tp| tp.1 == p).cloned().collect();
                    // A partition EOF names only the partition number; with several topics the
                    // end offsets decide, so only single-topic reads trust it.
                    let topics: HashSet<&str> = self.ends.keys().map(|tp| tp.0.as_str()).collect();
                    if topics.len() == 1 {
                        self.done.extend(eof);
                    }
                }
                Some(Err(e)) => return Err(BusError::kafka("bounded read", e)),
            }
        }
    }
}

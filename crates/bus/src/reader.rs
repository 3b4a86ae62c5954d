//! Bounded reads: a topic from the beginning to its current end, and the end offsets themselves.
//!
//! Reads start at the beginning (always a batch boundary) and end at partition EOF; end offsets
//! come from fetch high-water marks, never from ListOffsets (see [`crate::quirks`]).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use crate::admin::topic_partitions;
use crate::quirks::{high_watermarks_blocking, probe_consumer, QuietContext};
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

/// Follows every partition of a topic from the beginning, for ever, without a consumer group:
/// each instance of a service that keeps a full copy of a topic (the schema registry's
/// `_schemas`, master data) reads it all. Records arrive in offset order per partition.
#[derive(Debug)]
pub struct TopicFollower {
    rx: tokio::sync::mpsc::Receiver<InboundRecord>,
    stop: tokio_util::sync::CancellationToken,
    partitions: i32,
}

impl TopicFollower {
    /// Starts following `topic` from its beginning.
    pub async fn start(settings: &KafkaSettings, topic: &str) -> Result<Self, BusError> {
        let partitions = partitions_of(settings, topic).await?;
        let consumer = probe_consumer(settings, false)?;
        assign_all(&consumer, topic, partitions, Offset::Beginning)?;
        let (tx, rx) = tokio::sync::mpsc::channel(4096);
        let stop = tokio_util::sync::CancellationToken::new();
        let thread_stop = stop.clone();
        let name = format!("follow-{topic}");
        std::thread::Builder::new()
            .name(name.chars().take(15).collect())
            .spawn(move || {
                while !thread_stop.is_cancelled() {
                    match consumer.poll(Duration::from_millis(100)) {
                        Some(Ok(m)) => {
                            if tx
                                .blocking_send(InboundRecord::from_owned(&m.detach()))
                                .is_err()
                            {
                                break;
                            }
                        }
                        Some(Err(KafkaError::PartitionEOF(_))) | None => {}
                        Some(Err(e)) => tracing::warn!(error = %e, "follower poll error"),
                    }
                }
            })
            .map_err(|e| BusError::Internal(format!("spawning follower: {e}")))?;
        Ok(Self {
            rx,
            stop,
            partitions,
        })
    }

    /// The next record, waiting for one; `None` once stopped.
    pub async fn next(&mut self) -> Option<InboundRecord> {
        self.rx.recv().await
    }

    /// Number of partitions followed.
    pub fn partitions(&self) -> i32 {
        self.partitions
    }

    /// Stops following (the background thread ends within 100 ms).
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for TopicFollower {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

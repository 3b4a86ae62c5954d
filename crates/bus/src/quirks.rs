//! Broker compatibility, written once.
//!
//! Measured against tansu 0.6.0 (both `memory://` and `sqlite://` engines):
//!
//! 1. **A fetch starting inside a multi-record batch returns nothing.** The broker returns only
//!    batches whose *base* offset is at or after the fetch offset, and reports no EOF because the
//!    offset is below the high-water mark. A consumer resuming from a committed offset in the
//!    middle of a producer batch (after a restart or a rebalance) would wait forever, and would
//!    silently skip the rest of that batch once a later batch arrives. Apache Kafka returns the
//!    containing batch and the client skips the records before the fetch offset.
//!    Workaround: [`aligned_starts_blocking`] finds, for each resumed partition, a fetch offset at
//!    or before the committed one that the broker answers with the batch containing it; the
//!    consumer loop starts there and drops the records below the committed offset. Against
//!    Kafka the first probe (the committed offset itself) answers, so nothing changes.
//! 2. **ListOffsets(latest) is wrong after multi-record batches** (it counts batches). The
//!    fetch response's high-water mark is right, so end offsets are read from the client's
//!    statistics after a fetch ([`high_watermarks_blocking`]), never from ListOffsets, and a
//!    group starting at "latest" is positioned explicitly at that high-water mark.
//! 3. **Every fetch is held for the full `fetch.wait.max.ms`**, even when data is available
//!    (the broker sleeps out the remaining wait after reading). librdkafka's 500 ms default caps
//!    a partition at two fetches a second, so consumers use 10 ms; readers and probes 50 ms.
//! 4. Partition-EOF events are reported through the global error callback as well; the
//!    readers' [`QuietContext`] keeps them out of the ERROR log.
//! 5. **A group can settle with partitions nobody owns, and nobody is told.** After `kill -9`
//!    of a member and a new member's join within the session timeout, the dead member is still
//!    the group's leader. When its session expires between the new member's JoinGroup and its
//!    SyncGroup, the coordinator takes the follower's empty SyncGroup as the generation's
//!    assignment: the only member owns nothing, its heartbeats succeed, and it stays so (seen
//!    for more than 8 minutes). Likewise, a member expiring from a group of two moves the group
//!    back to forming without a new generation, so the survivors keep their old share and the
//!    dead member's partitions stay unowned. Reproduced with two plain confluent-kafka-python
//!    consumers (no code of ours): the second, started 2 s after the first was killed, is
//!    assigned `[]` and keeps it. Workaround: the membership watchdog
//!    ([`crate::membership`]) describes the group through its coordinator every second and
//!    leaves and rejoins when the group does not cover its partitions; readiness follows it.
//! 6. **ListGroups answers no groups** with the in-memory engine, so librdkafka's
//!    `rd_kafka_list_groups` (the only group description it offers) finds nothing; the
//!    watchdog sends DescribeGroups itself ([`crate::group_probe`]). The description lists
//!    member ids but no assignments; Apache Kafka reports both.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, warn};

use crate::{BusError, KafkaSettings};

type Tp = (String, i32);

/// Client context for short-lived readers and probes: records the fetch high-water marks from
/// the statistics and keeps partition-EOF notices out of the error log.
#[derive(Debug, Default)]
pub struct QuietContext {
    high_watermarks: Mutex<HashMap<Tp, i64>>,
    stats_seen: AtomicU64,
}

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => warn!(target: "librdkafka", "{fac} {log_message}"),
            _ => debug!(target: "librdkafka", "{fac} {log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        ) {
            debug!(%reason, "partition EOF");
        } else {
            warn!(%error, %reason, "kafka client error");
        }
    }

    fn stats(&self, statistics: Statistics) {
        if let Ok(mut hw) = self.high_watermarks.lock() {
            for (topic, t) in statistics.topics {
                for (p, s) in t.partitions {
                    if p >= 0 && s.hi_offset >= 0 {
                        hw.insert((topic.clone(), p), s.hi_offset);
                    }
                }
            }
        }
        self.stats_seen.fetch_add(1, Ordering::SeqCst);
    }
}

impl ConsumerContext for QuietContext {}

impl QuietContext {
    fn high_watermark(&self, tp: &Tp) -> Option<i64> {
        self.high_watermarks
            .lock()
            .ok()
            .and_then(|m| m.get(tp).copied())
    }
}

/// A group-less consumer for bounded reads and probes.
pub(crate) fn probe_consumer(
    settings: &KafkaSettings,
    stats: bool,
) -> Result<BaseConsumer<QuietContext>, BusError> {
    let mut cfg = settings.client_config();
    cfg.set("fetch.wait.max.ms", "50");
    // `--kafka-config` overrides win (e.g. a longer fetch wait for a follower), except what
    // the reader depends on.
    settings.apply_overrides(&mut cfg);
    cfg.set("group.id", "dsync-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest");
    if stats {
        cfg.set("statistics.interval.ms", "50");
    }
    cfg.create_with_context(QuietContext::default())
        .map_err(|e| BusError::kafka("creating reader", e))
}

/// The high-water mark (offset of the next record to be written) of each partition, as the
/// broker reports it in fetch responses.
pub fn high_watermarks_blocking(
    settings: &KafkaSettings,
    tps: &[Tp],
    timeout: Duration,
) -> Result<HashMap<Tp, i64>, BusError> {
    let mut out = HashMap::new();
    for one in by_topic(tps.iter().cloned()) {
        out.extend(high_watermarks_one_topic(settings, &one, timeout)?);
    }
    Ok(out)
}

/// Splits partitions by topic. A partition-EOF event names only the partition number, so a
/// probe that relies on EOF must cover one topic at a time: with two topics, the EOF of one
/// topic's partition 1 would otherwise be taken for the other's (a consumer of two
/// co-partitioned topics then started inside a batch and lost records).
fn by_topic<T>(items: impl Iterator<Item = T>) -> Vec<Vec<T>>
where
    T: HasTopic,
{
    let mut groups: Vec<(String, Vec<T>)> = Vec::new();
    for it in items {
        let t = it.topic().to_owned();
        match groups.iter_mut().find(|(g, _)| *g == t) {
            Some((_, v)) => v.push(it),
            None => groups.push((t, vec![it])),
        }
    }
    groups.into_iter().map(|(_, v)| v).collect()
}

trait HasTopic {
    fn topic(&self) -> &str;
}

impl HasTopic for Tp {
    fn topic(&self) -> &str {
        &self.0
    }
}

impl HasTopic for (Tp, i64) {
    fn topic(&self) -> &str {
        &self.0 .0
    }
}

fn high_watermarks_one_topic(
    settings: &KafkaSettings,
    tps: &[Tp],
    timeout: Duration,
) -> Result<HashMap<Tp, i64>, BusError> {
    if tps.is_empty() {
        return Ok(HashMap::new());
    }
    let consumer = probe_consumer(settings, true)?;
    let mut tpl = TopicPartitionList::new();
    for (t, p) in tps {
        tpl.add_partition_offset(t, *p, Offset::Beginning)
            .map_err(|e| BusError::kafka("building assignment", e))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| BusError::kafka("assign", e))?;
    let deadline = Instant::now() + timeout;
    let mut answered: HashMap<Tp, bool> = tps.iter().map(|tp| (tp.clone(), false)).collect();
    // 1. every partition answered a fetch (a record or EOF).
    while answered.values().any(|a| !a) {
        if Instant::now() > deadline {
            return Err(BusError::Timeout(
                "no fetch answer while reading high-water marks".into(),
            ));
        }
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                answered.insert((m.topic().to_owned(), m.partition()), true);
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                for (tp, a) in answered.iter_mut() {
                    if tp.1 == p {
                        *a = true;
                    }
                }
            }
            Some(Err(e)) => return Err(BusError::kafka("reading high-water marks", e)),
            None => {}
        }
    }
    // 2. statistics emitted after those fetches carry their high-water marks.
    let seen = consumer.context().stats_seen.load(Ordering::SeqCst);
    loop {
        let _ = consumer.poll(Duration::from_millis(20));
        if consumer.context().stats_seen.load(Ordering::SeqCst) >= seen + 2 {
            break;
        }
        if Instant::now() > deadline {
            return Err(BusError::Timeout(
                "no statistics while reading high-water marks".into(),
            ));
        }
    }
    let mut out = HashMap::new();
    for tp in tps {
        let hw = consumer.context().high_watermark(tp).ok_or_else(|| {
            BusError::Timeout(format!("no high-water mark for {}/{}", tp.0, tp.1))
        })?;
        out.insert(tp.clone(), hw);
    }
    Ok(out)
}

/// For each `(partition, committed offset)`, a fetch offset at or before the committed one from
/// which the broker returns the record at the committed offset (see the module docs). Records
/// below the committed offset must then be skipped by the caller.
pub fn aligned_starts_blocking(
    settings: &KafkaSettings,
    resume: &[(Tp, i64)],
    round: Duration,
) -> Result<HashMap<Tp, i64>, BusError> {
    let mut out = HashMap::new();
    for one in by_topic(resume.iter().cloned()) {
        out.extend(aligned_starts_one_topic(settings, &one, round)?);
    }
    Ok(out)
}

fn aligned_starts_one_topic(
    settings: &KafkaSettings,
    resume: &[(Tp, i64)],
    round: Duration,
) -> Result<HashMap<Tp, i64>, BusError> {
    let mut out = HashMap::new();
    let mut pending: Vec<(Tp, i64, i64)> = Vec::new(); // (tp, committed, candidate)
    for (tp, c) in resume {
        if *c <= 0 {
            out.insert(tp.clone(), (*c).max(0));
        } else {
            pending.push((tp.clone(), *c, *c));
        }
    }
    if pending.is_empty() {
        return Ok(out);
    }
    let consumer = probe_consumer(settings, false)?;
    let mut step: i64 = 1;
    while !pending.is_empty() {
        let mut tpl = TopicPartitionList::new();
        for (tp, _, cand) in &pending {
            tpl.add_partition_offset(&tp.0, tp.1, Offset::Offset(*cand))
                .map_err(|e| BusError::kafka("building probe assignment", e))?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| BusError::kafka("probe assign", e))?;
        let mut first: HashMap<Tp, Option<i64>> = HashMap::new(); // None = EOF
        let deadline = Instant::now() + round;
        while first.len() < pending.len() && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(20)) {
                Some(Ok(m)) => {
                    first
                        .entry((m.topic().to_owned(), m.partition()))
                        .or_insert(Some(m.offset()));
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    for (tp, _, _) in pending.iter().filter(|(tp, _, _)| tp.1 == p) {
                        first.entry(tp.clone()).or_insert(None);
                    }
                }
                Some(Err(e)) => return Err(BusError::kafka("probing start offsets", e)),
                None => {}
            }
        }
        let mut next = Vec::new();
        for (tp, committed, cand) in pending {
            match first.get(&tp) {
                // EOF: nothing at or after the candidate, so the committed offset is the end.
                Some(None) => {
                    out.insert(tp, committed);
                }
                Some(Some(f)) if *f <= committed => {
                    out.insert(tp, cand);
                }
                _ if cand == 0 => {
                    out.insert(tp, 0);
                }
                _ => next.push((tp, committed, (committed - step).max(0))),
            }
        }
        if !next.is_empty() {
            debug!(
                step,
                partitions = next.len(),
                "committed offsets inside producer batches; probing earlier"
            );
        }
        pending = next;
        step = step.saturating_mul(2);
    }
    Ok(out)
}

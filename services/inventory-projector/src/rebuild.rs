//! Rebuilding the state from the log, and the digests that prove two states equal.
//!
//! [`rebuild`] reads the journal, the reservation requests and the movements of the chosen
//! partitions from the beginning and applies them with the same functions as the live
//! service, in the same order: movements in offset order, each request right after the
//! movement its journal record names (requests the live service never handled go last), so a
//! rebuild of a caught-up projection is identical to it. Nothing is published.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use dsync_bus::{BoundedReader, KafkaSettings};
use dsync_events::{AnyEvent, EventCodec, EventsError};
use serde::Serialize;

use crate::handlers::movements::{apply_movement, apply_snapshot};
use crate::handlers::reservations::{apply_release, apply_reservation};
use crate::handlers::{Ctx, Effects};
use crate::projector::{parse_journal, restore_partition};
use crate::settings::Topics;
use crate::state::{digest_map, SkuState, StateSize};
use crate::{ProjectorError, Settings};

const READ_TIMEOUT: Duration = Duration::from_secs(3600);

/// Records per chunk handed from the reading thread to the applying one.
const CHUNK_RECORDS: usize = 2048;

/// Payloads read from the log, copied into one buffer.
#[derive(Default)]
struct Chunk {
    buf: Vec<u8>,
    items: Vec<ChunkItem>,
}

struct ChunkItem {
    partition: i32,
    offset: i64,
    start: usize,
    /// `None` for a tombstone.
    len: Option<usize>,
}

impl Chunk {
    fn push(&mut self, partition: i32, offset: i64, payload: Option<&[u8]>) {
        let start = self.buf.len();
        if let Some(p) = payload {
            self.buf.extend_from_slice(p);
        }
        self.items.push(ChunkItem {
            partition,
            offset,
            start,
            len: payload.map(<[u8]>::len),
        });
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    /// SHA-256 digest of the rebuilt state.
    pub digest: String,
    /// Its size.
    pub size: StateSize,
    /// Movement records read.
    pub movements: u64,
    /// Request records read.
    pub requests: u64,
    /// Journal records read.
    pub journal: u64,
    /// Records skipped (undecodable or of other types).
    pub skipped: u64,
    /// Wall time.
    pub elapsed_ms: u64,
}

/// Partition count of a topic.
pub async fn partitions_of(kafka: &KafkaSettings, topic: &str) -> Result<i32, ProjectorError> {
    dsync_bus::admin::topic_partitions(kafka, Some(topic))
        .await?
        .get(topic)
        .copied()
        .ok_or_else(|| ProjectorError::Config(format!("topic {topic} does not exist")))
}

fn decode(
    rt: &tokio::runtime::Handle,
    codec: &EventCodec,
    payload: Option<&[u8]>,
) -> Option<AnyEvent> {
    let payload = payload?;
    let decoded = match codec.decode_any_cached(payload) {
        Some(d) => d,
        None => rt.block_on(codec.decode_any(payload)),
    };
    match decoded {
        Ok(e) => Some(e),
        Err(EventsError::UnknownEventType(_)) => None,
        Err(e) => {
            tracing::debug!(error = %e, "undecodable record skipped by the rebuild");
            None
        }
    }
}

fn sku_of(e: &AnyEvent) -> Option<&str> {
    match e {
        AnyEvent::InventoryMovementRecorded(m) => Some(&m.sku),
        AnyEvent::CycleCountSnapshot(m) => Some(&m.sku),
        AnyEvent::ReservationRequested(m) => Some(&m.sku),
        AnyEvent::ReservationReleaseRequested(m) => Some(&m.sku),
        _ => None,
    }
}

fn apply_one(ctx: &Ctx, skus: &mut HashMap<String, SkuState>, e: &AnyEvent, now: i64) -> bool {
    let Some(sku) = sku_of(e) else { return false };
    if !skus.contains_key(sku) {
        skus.insert(sku.to_owned(), SkuState::default());
    }
    let Some(st) = skus.get_mut(sku) else {
        return false;
    };
    let mut fx = Effects::silent();
    match e {
        AnyEvent::InventoryMovementRecorded(m) => apply_movement(ctx, st, m, now, &mut fx),
        AnyEvent::CycleCountSnapshot(s) => apply_snapshot(ctx, st, s, &mut fx),
        AnyEvent::ReservationRequested(r) => {
            apply_reservation(ctx, st, r, &mut fx).unwrap_or(false)
        }
        AnyEvent::ReservationReleaseRequested(r) => apply_release(ctx, st, r, &mut fx),
        _ => false,
    }
}

/// Rebuilds the state of `partitions` (all when `None`) from the input topics and the journal.
pub async fn rebuild(
    kafka: &KafkaSettings,
    topics: &Topics,
    codec: &EventCodec,
    ctx: &Ctx,
    partitions: Option<Vec<i32>>,
) -> Result<(HashMap<String, SkuState>, RebuildReport), ProjectorError> {
    let n = partitions_of(kafka, &topics.movements).await?;
    let parts: Vec<i32> = partitions.unwrap_or_else(|| (0..n).collect());
    let has_requests = partitions_of(kafka, &topics.requests).await.is_ok();
    let has_journal = partitions_of(kafka, &topics.journal).await.is_ok();
    let (kafka, topics, codec, ctx) = (kafka.clone(), topics.clone(), codec.clone(), ctx.clone());
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut report = RebuildReport {
            digest: String::new(),
            size: StateSize::default(),
            movements: 0,
            requests: 0,
            journal: 0,
            skipped: 0,
            elapsed_ms: 0,
        };
        // Opening a bounded reader waits for the end offsets of its partitions; the three are
        // opened at once (the movements reader prefetches while the others are read).
        let open = |topic: &str, wanted: bool| -> Result<Option<BoundedReader>, ProjectorError> {
            if !wanted {
                return Ok(None);
            }
            let tps: Vec<(String, i32)> = parts.iter().map(|p| (topic.to_owned(), *p)).collect();
            Ok(Some(BoundedReader::open_blocking(
                &kafka,
                &tps,
                READ_TIMEOUT,
            )?))
        };
        let (journal_reader, requests_reader, movements_reader) = std::thread::scope(|scope| {
            let j = scope.spawn(|| open(&topics.journal, has_journal));
            let q = scope.spawn(|| open(&topics.requests, has_requests));
            let m = open(&topics.movements, true);
            let joined = |h: std::thread::ScopedJoinHandle<'_, _>| {
                h.join()
                    .map_err(|_| ProjectorError::Internal("opening a reader panicked".into()))?
            };
            Ok::<_, ProjectorError>((joined(j)?, joined(q)?, m?))
        })?;
        // 1. Where each request was applied: (partition, request offset) -> movement cursor.
        let mut cursors: HashMap<(i32, i64), i64> = HashMap::new();
        if let Some(mut r) = journal_reader {
            while let Some(rec) = r.next()? {
                report.journal += 1;
                if let Some((off, cur)) = rec.payload().and_then(parse_journal) {
                    // The last record for a request wins (a retry after a failed save).
                    cursors.insert((rec.partition(), off), cur);
                }
            }
        }
        // 2. The requests, decoded, per partition in offset order.
        let mut requests: HashMap<i32, VecDeque<(i64, AnyEvent)>> = HashMap::new();
        if let Some(mut r) = requests_reader {
            while let Some(rec) = r.next()? {
                report.requests += 1;
                match decode(&rt, &codec, rec.payload()) {
                    Some(e) => {
                        requests
                            .entry(rec.partition())
                            .or_default()
                            .push_back((rec.offset(), e));
                    }
                    None => report.skipped += 1,
                }
            }
        }
        // A request without a journal record before a journaled one was refused live (poison):
        // it never touched the state.
        for (p, q) in requests.iter_mut() {
            let last_journaled = q
                .iter()
                .rev()
                .find(|(o, _)| cursors.contains_key(&(*p, *o)))
                .map(|(o, _)| *o);
            if let Some(last) = last_journaled {
                q.retain(|(o, _)| *o > last || cursors.contains_key(&(*p, *o)));
            }
        }
        // 3. The movements, with each request applied after the movement it followed live.
        //    This thread reads (payload bytes copied into chunks); another decodes and
        //    applies, so the rebuild runs at the speed of the slower of the two, not their sum.
        let now = chrono::Utc::now().timestamp_millis();
        let mut r = movements_reader
            .ok_or_else(|| ProjectorError::Internal("no movements reader".into()))?;
        let (ctx, codec, rt) = (&ctx, &codec, &rt);
        let (skus, requests, skipped, read) = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(32);
            let applier = scope.spawn(move || {
                let mut skus: HashMap<String, SkuState> = HashMap::new();
                let mut skipped = 0u64;
                let cursor_of =
                    |p: i32, off: i64| cursors.get(&(p, off)).copied().unwrap_or(i64::MAX);
                for chunk in rx {
                    for it in &chunk.items {
                        if let Some(q) = requests.get_mut(&it.partition) {
                            while q
                                .front()
                                .is_some_and(|(ro, _)| cursor_of(it.partition, *ro) < it.offset)
                            {
                                if let Some((_, e)) = q.pop_front() {
                                    apply_one(ctx, &mut skus, &e, now);
                                }
                            }
                        }
                        let payload = it.len.map(|l| &chunk.buf[it.start..it.start + l]);
                        match decode(rt, codec, payload) {
                            Some(e) => {
                                apply_one(ctx, &mut skus, &e, now);
                            }
                            None => skipped += 1,
                        }
                    }
                }
                (skus, requests, skipped)
            });
            let read = (|| -> Result<u64, ProjectorError> {
                let mut read = 0u64;
                let mut chunk = Chunk::default();
                while let Some(rec) = r.next()? {
                    read += 1;
                    chunk.push(rec.partition(), rec.offset(), rec.payload());
                    if chunk.items.len() >= CHUNK_RECORDS
                        && tx.send(std::mem::take(&mut chunk)).is_err()
                    {
                        break;
                    }
                }
                let _ = tx.send(chunk);
                Ok(read)
            })();
            drop(tx);
            let (skus, requests, skipped) = applier
                .join()
                .map_err(|_| ProjectorError::Internal("rebuild apply thread panicked".into()))?;
            Ok::<_, ProjectorError>((skus, requests, skipped, read?))
        })?;
        let mut skus = skus;
        report.movements = read;
        report.skipped += skipped;
        let mut rest: Vec<(i32, VecDeque<(i64, AnyEvent)>)> = requests.into_iter().collect();
        rest.sort_by_key(|(p, _)| *p);
        for (_, q) in rest {
            for (_, e) in q {
                apply_one(ctx, &mut skus, &e, now);
            }
        }
        for st in skus.values() {
            report.size.add(st);
        }
        report.digest = digest_map(&skus);
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok((skus, report))
    })
    .await
    .map_err(|e| ProjectorError::Internal(e.to_string()))?
}

/// The `--rebuild` mode: rebuilds every partition with the service's settings.
pub async fn rebuild_from_settings(settings: &Settings) -> Result<RebuildReport, ProjectorError> {
    let codec = EventCodec::from_settings(&settings.common.registry)?;
    let ctx = settings.ctx()?;
    let (_, report) = rebuild(
        &settings.common.kafka,
        &settings.topics(),
        &codec,
        &ctx,
        None,
    )
    .await?;
    Ok(report)
}

/// Digest of the state saved in the changelog (every partition): the live projection as
/// persisted.
pub async fn changelog_digest(
    kafka: &KafkaSettings,
    topics: &Topics,
) -> Result<(String, StateSize), ProjectorError> {
    let n = partitions_of(kafka, &topics.state).await?;
    let mut all = HashMap::new();
    for p in 0..n {
        let (skus, _) = restore_partition(kafka, &topics.state, p).await?;
        all.extend(skus);
    }
    let mut size = StateSize::default();
    for st in all.values() {
        size.add(st);
    }
    Ok((digest_map(&all), size))
}

/// Reads every record of `topic` once without decoding (the benchmark's baseline): records
/// and payload bytes.
pub async fn raw_consume(kafka: &KafkaSettings, topic: &str) -> Result<(u64, u64), ProjectorError> {
    let n = partitions_of(kafka, topic).await?;
    let (kafka, topic) = (kafka.clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut r = BoundedReader::open_topic_blocking(&kafka, &topic, n, READ_TIMEOUT)?;
        let (mut records, mut bytes) = (0u64, 0u64);
        while let Some(rec) = r.next()? {
            records += 1;
            bytes += rec.payload().map_or(0, |p| p.len() as u64);
        }
        Ok((records, bytes))
    })
    .await
    .map_err(|e| ProjectorError::Internal(e.to_string()))?
}

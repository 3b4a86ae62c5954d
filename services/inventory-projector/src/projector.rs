//! The projector (whose consumer handler is [`crate::handlers::inputs`]): owns the state of the partitions assigned to this instance,
//! applies inputs through [`crate::handlers`] under the partition's lock and returns the
//! journal record, the changelog record and the outputs to the bus, which publishes them in
//! one go (one round trip) and commits the input once all are acknowledged. If any of them
//! fails the input is handled again: the changelog's `last_*` input then re-sends the same
//! outputs (deterministic ids), and an input whose state record never made it is applied
//! again from the restored state.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use dsync_bus::reader::{Apply, Materializer, ReadFrom, ReadUntil};
use dsync_bus::{
    BusError, ErrorClass, EventHeaders, EventProducer, HandlerError, InboundRecord, KafkaSettings,
    OutboundRecord,
};
use dsync_events::{AnyEvent, Event, EventCodec, EventsError};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::handlers::movements::{apply_movement, apply_snapshot};
use crate::handlers::reservations::{apply_release, apply_reservation};
use crate::handlers::{
    availability_event, gap_event, position_key, Cause, Counts, Ctx, Effects, Output, OUTCOMES,
    SOURCE_SYSTEM,
};
use crate::metrics::ProjectorMetrics;
use crate::settings::Topics;
use crate::state::{digest, LastInput, SkuState, StateSize, StoredOutput};
use crate::{hash, ProjectorError};

/// `event_type` header of changelog records.
pub const STATE_EVENT_TYPE: &str = "InventoryProjectorState";
/// `event_type` header of journal records.
pub const JOURNAL_EVENT_TYPE: &str = "InventoryProjectorJournal";

/// The state of one input partition (every SKU whose key hashes to it).
#[derive(Debug, Default)]
pub struct Slot {
    /// Whether the changelog partition was read.
    pub loaded: bool,
    /// SKU states.
    pub skus: HashMap<String, SkuState>,
    /// Offset of the latest movement record handled on this partition (-1: none).
    pub movement_cursor: i64,
}

/// Which input stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `inventory.movements`.
    Movement,
    /// `inventory.reservation-requests`.
    Request,
}

/// A journal record's value: request `offset` was applied after the partition's movements up
/// to offset `cursor` (text `r <offset> <cursor>`).
pub fn journal_value(offset: i64, cursor: i64) -> String {
    format!("r {offset} {cursor}")
}

/// Parses [`journal_value`].
pub fn parse_journal(v: &[u8]) -> Option<(i64, i64)> {
    let s = std::str::from_utf8(v).ok()?;
    let mut it = s.split(' ');
    if it.next()? != "r" {
        return None;
    }
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// What the availability API finds for a SKU.
#[derive(Debug)]
pub enum Lookup {
    /// The SKU's partition is owned by another instance.
    NotOwned,
    /// Not known here.
    Unknown,
    /// Its state.
    Found(Box<SkuState>),
}

/// The projector: owns the state of the assigned partitions and applies inputs to it; the
/// consumer's [`dsync_bus::Handler`] over it is in [`crate::handlers::inputs`].
pub struct Projector {
    kafka: KafkaSettings,
    pub(crate) topics: Topics,
    partitions: i32,
    ctx: Ctx,
    pub(crate) codec: EventCodec,
    producer: EventProducer,
    pub(crate) metrics: ProjectorMetrics,
    slots: StdMutex<HashMap<i32, Arc<Mutex<Slot>>>>,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("topics", &self.topics)
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Projector {
    /// A projector over `partitions` input partitions.
    pub fn new(
        kafka: KafkaSettings,
        topics: Topics,
        partitions: i32,
        ctx: Ctx,
        codec: EventCodec,
        producer: EventProducer,
        metrics: ProjectorMetrics,
    ) -> Self {
        Self {
            kafka,
            topics,
            partitions,
            ctx,
            codec,
            producer,
            metrics,
            slots: StdMutex::new(HashMap::new()),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The logic's settings.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// The partition of a SKU.
    pub fn partition_of(&self, sku: &str) -> i32 {
        hash::partition_for(sku.as_bytes(), self.partitions)
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Arc<Mutex<Slot>>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn slot(&self, p: i32) -> Option<Arc<Mutex<Slot>>> {
        self.slots().get(&p).cloned()
    }

    /// Partitions this instance owns.
    pub fn owned(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self.slots().keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Reads the changelog partition into the slot if not done yet.
    #[tracing::instrument(skip(self, slot), fields(partition))]
    async fn ensure_loaded(&self, slot: &mut Slot, partition: i32) -> Result<(), ProjectorError> {
        if slot.loaded {
            return Ok(());
        }
        let (skus, records) = restore_partition(&self.kafka, &self.topics.state, partition).await?;
        slot.movement_cursor = skus.values().map(|s| s.movement_cursor).max().unwrap_or(-1);
        slot.skus = skus;
        slot.loaded = true;
        self.metrics.restored.inc_by(records);
        info!(
            partition,
            skus = slot.skus.len(),
            records,
            "partition state restored from the changelog"
        );
        self.update_size_gauges();
        Ok(())
    }

    fn update_size_gauges(&self) {
        let slots: Vec<Arc<Mutex<Slot>>> = self.slots().values().cloned().collect();
        let mut size = StateSize::default();
        for s in slots {
            if let Ok(g) = s.try_lock() {
                for st in g.skus.values() {
                    size.add(st);
                }
            }
        }
        self.metrics.state_skus.set(size.skus as i64);
        self.metrics.state_positions.set(size.positions as i64);
    }

    fn count(&self, c: &Counts) {
        let m = &self.metrics;
        m.movements_applied.inc_by(c.applied);
        m.duplicates.inc_by(c.duplicates);
        m.gaps_detected.inc_by(c.gaps_opened);
        m.drift_units.inc_by(c.drift_units);
        m.drift_events
            .with_label_values(&["true"])
            .inc_by(c.drifts_corrected);
        m.drift_events
            .with_label_values(&["false"])
            .inc_by(c.drifts_reported);
        m.consumed_units.inc_by(c.consumed_units);
        for (i, n) in c.outcomes.iter().enumerate() {
            if *n > 0 {
                m.reservations.with_label_values(&[OUTCOMES[i]]).inc_by(*n);
            }
        }
    }

    async fn encode(&self, sku: &str, o: &Output) -> Result<OutboundRecord, EventsError> {
        let t = &self.topics;
        match o {
            Output::Availability(e) => {
                self.metrics.availability_published.inc();
                self.codec
                    .outbound(&t.availability, position_key(sku, &e.location_id), e, None)
                    .await
            }
            Output::Reserved(e) => {
                self.codec
                    .outbound(&t.reservations, e.order_id.as_bytes(), e, None)
                    .await
            }
            Output::Backordered(e) => {
                self.codec
                    .outbound(&t.reservations, e.order_id.as_bytes(), e, None)
                    .await
            }
            Output::Unavailable(e) => {
                self.codec
                    .outbound(&t.reservations, e.order_id.as_bytes(), e, None)
                    .await
            }
            Output::Released(e) => {
                self.codec
                    .outbound(&t.reservations, e.order_id.as_bytes(), e, None)
                    .await
            }
            Output::Drift(e) => {
                self.codec
                    .outbound(&t.reconciliation, sku.as_bytes(), e, None)
                    .await
            }
            Output::Gap(e) => {
                self.codec
                    .outbound(&t.reconciliation, sku.as_bytes(), e, None)
                    .await
            }
        }
    }

    /// Applies one decoded input under its partition's lock.
    #[tracing::instrument(skip_all, fields(sku = %sku, partition = record.partition, offset = record.offset))]
    pub(crate) async fn apply(
        &self,
        kind: Kind,
        sku: &str,
        event: &AnyEvent,
        record: &InboundRecord,
    ) -> Result<Vec<OutboundRecord>, HandlerError> {
        let p = record.partition;
        let Some(slot) = self.slot(p) else {
            // Not (or no longer) assigned here: the bus will deliver it to the owner.
            return Err(HandlerError::transient(format!(
                "partition {p} is not assigned to this instance"
            )));
        };
        let mut guard = slot.lock().await;
        self.ensure_loaded(&mut guard, p).await?;
        let slot = &mut *guard;
        let mut st = slot.skus.get(sku).cloned().unwrap_or_default();
        let last = match kind {
            Kind::Movement => &st.last_movement,
            Kind::Request => &st.last_request,
        };
        if let Some(last) = last.as_ref().filter(|l| l.offset == record.offset) {
            // Applied before, but its records were not all acknowledged (they are published
            // together): send them again, the state record included, with the same ids.
            let mut out: Vec<OutboundRecord> = last.outputs.iter().map(restored_output).collect();
            out.push(self.changelog_record(sku, &st, record));
            let cause = cause_of(event);
            for loc in &last.touched {
                if let Some(pos) = st.positions.get(loc).filter(|p| p.version > 0) {
                    let e = availability_event(&self.ctx, sku, loc, pos, &cause);
                    out.push(self.encode(sku, &Output::Availability(e)).await?);
                }
            }
            self.metrics.reemitted.inc();
            if kind == Kind::Movement {
                slot.movement_cursor = slot.movement_cursor.max(record.offset);
            }
            return Ok(out);
        }
        let mut fx = Effects::emitting();
        let changed = match event {
            AnyEvent::InventoryMovementRecorded(m) => {
                apply_movement(&self.ctx, &mut st, m, now_ms(), &mut fx)
            }
            AnyEvent::CycleCountSnapshot(s) => apply_snapshot(&self.ctx, &mut st, s, &mut fx),
            AnyEvent::ReservationRequested(r) => apply_reservation(&self.ctx, &mut st, r, &mut fx)?,
            AnyEvent::ReservationReleaseRequested(r) => {
                apply_release(&self.ctx, &mut st, r, &mut fx)
            }
            _ => false,
        };
        let mut outputs = Vec::with_capacity(fx.outputs.len() + 2);
        let mut stored = Vec::new();
        if kind == Kind::Request {
            let j = OutboundRecord::new(
                &self.topics.journal,
                sku.as_bytes().to_vec(),
                journal_value(record.offset, slot.movement_cursor).into_bytes(),
                EventHeaders {
                    event_id: EventHeaders::deterministic_id(
                        SOURCE_SYSTEM,
                        &format!("journal/{p}/{}/{}", record.offset, slot.movement_cursor),
                    ),
                    event_type: JOURNAL_EVENT_TYPE.into(),
                    correlation_id: record.headers.correlation_id.clone(),
                    causation_id: Some(record.headers.event_id.clone()),
                    traceparent: None,
                },
            );
            if changed {
                // Kept with the state so a retry re-sends it (see the re-send above).
                stored.push(stored_output(&j));
            }
            outputs.push(j);
        }
        if !changed {
            self.count(&fx.counts);
            if kind == Kind::Movement {
                slot.movement_cursor = slot.movement_cursor.max(record.offset);
            }
            return Ok(outputs);
        }
        let mut events = Vec::with_capacity(fx.outputs.len());
        let mut touched = Vec::new();
        for o in &fx.outputs {
            let rec = self.encode(sku, o).await?;
            match o {
                Output::Availability(a) => touched.push(a.location_id.to_string()),
                _ => stored.push(stored_output(&rec)),
            }
            events.push(rec);
        }
        let last = Some(LastInput {
            offset: record.offset,
            outputs: stored,
            touched,
        });
        match kind {
            Kind::Movement => {
                st.last_movement = last;
                st.movement_cursor = slot.movement_cursor.max(record.offset);
            }
            Kind::Request => {
                st.last_request = last;
                st.movement_cursor = slot.movement_cursor;
            }
        }
        let changelog = self.changelog_record(sku, &st, record);
        // The state record goes first; the bus publishes everything in this order and commits
        // the input once all of it is acknowledged (a failure then stops the loop, and a
        // restart restores from the changelog: see the module docs).
        outputs.push(changelog);
        outputs.append(&mut events);
        self.count(&fx.counts);
        if kind == Kind::Movement {
            slot.movement_cursor = slot.movement_cursor.max(record.offset);
        }
        let new_sku = !slot.skus.contains_key(sku);
        slot.skus.insert(sku.to_owned(), st);
        if new_sku {
            self.metrics.state_skus.inc();
        }
        debug!(outputs = outputs.len(), "applied");
        Ok(outputs)
    }

    /// The changelog record saving `st` after `record` (deterministic id per input).
    fn changelog_record(&self, sku: &str, st: &SkuState, record: &InboundRecord) -> OutboundRecord {
        OutboundRecord::new(
            &self.topics.state,
            sku.as_bytes().to_vec(),
            st.encode(),
            EventHeaders {
                event_id: EventHeaders::deterministic_id(
                    SOURCE_SYSTEM,
                    &format!(
                        "state/{}/{}/{}",
                        record.topic, record.partition, record.offset
                    ),
                ),
                event_type: STATE_EVENT_TYPE.into(),
                correlation_id: record.headers.correlation_id.clone(),
                causation_id: Some(record.headers.event_id.clone()),
                traceparent: None,
            },
        )
    }

    /// The state of a SKU, if this instance owns its partition.
    pub async fn lookup(&self, sku: &str) -> Result<Lookup, ProjectorError> {
        let p = self.partition_of(sku);
        let Some(slot) = self.slot(p) else {
            return Ok(Lookup::NotOwned);
        };
        let mut g = slot.lock().await;
        self.ensure_loaded(&mut g, p).await?;
        Ok(match g.skus.get(sku) {
            Some(st) if !st.positions.is_empty() => Lookup::Found(Box::new(st.clone())),
            _ => Lookup::Unknown,
        })
    }

    /// Digest and size of the state of the owned partitions (all loaded first).
    pub async fn digest(&self) -> Result<(String, StateSize, Vec<i32>), ProjectorError> {
        let owned = self.owned();
        let mut guards = Vec::new();
        for p in &owned {
            if let Some(slot) = self.slot(*p) {
                let mut g = slot.lock_owned().await;
                self.ensure_loaded(&mut g, *p).await?;
                guards.push(g);
            }
        }
        let mut size = StateSize::default();
        for g in &guards {
            for st in g.skus.values() {
                size.add(st);
            }
        }
        let d = digest(guards.iter().flat_map(|g| g.skus.iter()));
        Ok((d, size, owned))
    }

    /// Publishes InventorySequenceGapDetected for gaps open longer than `grace` and not yet
    /// reported; updates the open-gaps gauge. Returns how many were published.
    pub async fn report_gaps(&self, grace: Duration) -> Result<usize, ProjectorError> {
        let now = now_ms();
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let slots: Vec<(i32, Arc<Mutex<Slot>>)> = self
            .slots()
            .iter()
            .map(|(p, s)| (*p, Arc::clone(s)))
            .collect();
        let mut open = 0i64;
        let mut due: Vec<(i32, String, String, crate::state::Gap)> = Vec::new();
        for (p, slot) in &slots {
            let g = slot.lock().await;
            for (sku, st) in &g.skus {
                for (wh, t) in &st.trackers {
                    open += t.gaps.len() as i64;
                    for gap in t.gaps.iter().filter(|g| !g.reported) {
                        if now.saturating_sub(gap.opened_at_ms) >= grace_ms {
                            due.push((*p, sku.clone(), wh.clone(), gap.clone()));
                        }
                    }
                }
            }
        }
        self.metrics.gaps_open.set(open);
        if due.is_empty() {
            return Ok(0);
        }
        let mut out = Vec::with_capacity(due.len());
        for (_, sku, wh, gap) in &due {
            let e = gap_event(sku, wh, gap, now);
            out.push(self.encode(sku, &Output::Gap(e)).await?);
        }
        self.producer.send_all(&out).await?;
        // Marked in memory; saved with the SKU's next changelog record.
        for (p, sku, wh, gap) in &due {
            warn!(sku = %sku, warehouse = %wh, missing = gap.missing, "movement missing past the grace period");
            if let Some(slot) = self.slot(*p) {
                let mut g = slot.lock().await;
                if let Some(t) = g.skus.get_mut(sku).and_then(|s| s.trackers.get_mut(wh)) {
                    if let Some(x) = t.gaps.iter_mut().find(|x| x.missing == gap.missing) {
                        x.reported = true;
                    }
                }
            }
        }
        self.metrics.gaps_reported.inc_by(due.len() as u64);
        Ok(due.len())
    }

    pub(crate) fn is_input(&self, topic: &str) -> bool {
        topic == self.topics.movements || topic == self.topics.requests
    }
}

fn cause_of(event: &AnyEvent) -> Cause {
    match event {
        AnyEvent::InventoryMovementRecorded(e) => Cause::of(e.metadata()),
        AnyEvent::CycleCountSnapshot(e) => Cause::of(e.metadata()),
        AnyEvent::ReservationRequested(e) => Cause::of(e.metadata()),
        AnyEvent::ReservationReleaseRequested(e) => Cause::of(e.metadata()),
        _ => Cause {
            event_id: "".into(),
            correlation_id: "".into(),
            occurred_at: chrono::DateTime::default(),
        },
    }
}

fn stored_output(r: &OutboundRecord) -> StoredOutput {
    StoredOutput {
        topic: r.topic.clone(),
        key: String::from_utf8_lossy(&r.key).into_owned(),
        payload: crate::state::Bytes(r.payload.clone().unwrap_or_default()),
        event_id: r.headers.event_id.clone(),
        event_type: r.headers.event_type.clone(),
        correlation_id: r.headers.correlation_id.clone(),
        causation_id: r.headers.causation_id.clone(),
    }
}

fn restored_output(s: &StoredOutput) -> OutboundRecord {
    OutboundRecord::new(
        s.topic.clone(),
        s.key.as_bytes().to_vec(),
        s.payload.0.clone(),
        EventHeaders {
            event_id: s.event_id.clone(),
            event_type: s.event_type.clone(),
            correlation_id: s.correlation_id.clone(),
            causation_id: s.causation_id.clone(),
            traceparent: None,
        },
    )
}

/// Restores a changelog partition: the latest state of each SKU. A record without a UTF-8 key
/// is ignored; a state that cannot be decoded is fatal (the state cannot be trusted past it).
struct Restore {
    skus: HashMap<String, SkuState>,
}

impl Apply for Restore {
    /// The SKU and its state (`None`: a tombstone).
    type Value = (String, Option<SkuState>);

    async fn decode(
        &mut self,
        record: &InboundRecord,
    ) -> Result<Option<Self::Value>, HandlerError> {
        let Some(key) = record.key_str() else {
            return Ok(None);
        };
        let state = match record.payload.as_deref() {
            None => None,
            Some(v) => {
                Some(SkuState::decode(v).map_err(|e| HandlerError::new(ErrorClass::Fatal, e))?)
            }
        };
        Ok(Some((key.to_owned(), state)))
    }

    fn apply(&mut self, _record: &InboundRecord, (sku, state): Self::Value) -> bool {
        match state {
            None => self.skus.remove(&sku).is_some(),
            Some(st) => {
                self.skus.insert(sku, st);
                true
            }
        }
    }
}

/// Reads one changelog partition to its end offset of now (a bounded
/// [`dsync_bus::reader::Materializer`]): the latest state of each SKU, and the number of
/// records read.
pub async fn restore_partition(
    kafka: &KafkaSettings,
    topic: &str,
    partition: i32,
) -> Result<(HashMap<String, SkuState>, u64), ProjectorError> {
    let sink = Restore {
        skus: HashMap::new(),
    };
    let restored = Materializer::start(
        kafka,
        topic,
        ReadFrom::Offsets(vec![(partition, 0)]),
        ReadUntil::End,
        sink,
    )
    .await?
    .with_timeout(Duration::from_secs(300))
    .run(CancellationToken::new())
    .await;
    match restored {
        Ok((sink, summary)) => Ok((sink.skus, summary.counts.total())),
        Err(BusError::Materialize { offset, source, .. }) => Err(ProjectorError::Changelog {
            topic: topic.to_owned(),
            partition,
            offset,
            reason: source.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

impl Projector {
    /// Partitions assigned to this instance: fresh slots, restored in the background.
    pub(crate) fn assigned(&self, partitions: &[(String, i32)]) {
        let ps: HashSet<i32> = partitions
            .iter()
            .filter(|(t, _)| self.is_input(t))
            .map(|(_, p)| *p)
            .collect();
        let mut fresh = Vec::new();
        {
            let mut slots = self.slots();
            for p in ps {
                // Whatever was cached may be stale: another member may have owned it.
                let s = Arc::new(Mutex::new(Slot {
                    movement_cursor: -1,
                    ..Slot::default()
                }));
                slots.insert(p, Arc::clone(&s));
                fresh.push((p, s));
            }
        }
        // Restore in the background; `handle` waits on the slot's lock.
        for (p, slot) in fresh {
            let this = ProjectorRef {
                kafka: self.kafka.clone(),
                topic: self.topics.state.clone(),
                metrics: self.metrics.clone(),
            };
            self.runtime.spawn(async move {
                let mut g = slot.lock().await;
                if g.loaded {
                    return;
                }
                match restore_partition(&this.kafka, &this.topic, p).await {
                    Ok((skus, n)) => {
                        g.movement_cursor = skus
                            .values()
                            .map(|s| s.movement_cursor)
                            .max()
                            .unwrap_or(-1);
                        g.skus = skus;
                        g.loaded = true;
                        this.metrics.restored.inc_by(n);
                        info!(partition = p, skus = g.skus.len(), records = n, "partition state restored");
                    }
                    Err(e) => warn!(partition = p, error = %e, "restore failed; retried on the next record"),
                }
            });
        }
    }

    /// Partitions revoked: their slots are dropped.
    pub(crate) fn revoked(&self, partitions: &[(String, i32)]) {
        let mut slots = self.slots();
        for (t, p) in partitions {
            if self.is_input(t) {
                slots.remove(p);
            }
        }
    }
}

struct ProjectorRef {
    kafka: KafkaSettings,
    topic: String,
    metrics: ProjectorMetrics,
}

#[cfg(test)]
mod tests {
    use dsync_bus::reader::Apply as _;
    use dsync_bus::{ErrorClass, EventHeaders, InboundRecord};

    use super::Restore;
    use crate::state::SkuState;

    fn record(offset: i64, key: Option<&[u8]>, payload: Option<Vec<u8>>) -> InboundRecord {
        InboundRecord {
            topic: "inventory.state".into(),
            partition: 3,
            offset,
            key: key.map(<[u8]>::to_vec),
            payload,
            timestamp_ms: None,
            headers: EventHeaders::default(),
            raw_headers: Vec::new(),
        }
    }

    #[tokio::test]
    async fn restore_keeps_the_latest_state_drops_tombstones_and_refuses_a_corrupt_one() {
        let mut sink = Restore {
            skus: Default::default(),
        };
        let st = SkuState {
            movement_cursor: 41,
            ..SkuState::default()
        };
        for r in [
            record(0, Some(b"A"), Some(SkuState::default().encode())),
            record(1, Some(b"B"), Some(st.encode())),
            record(2, Some(b"A"), None),
        ] {
            let v = sink.decode(&r).await.expect("decodes").expect("wanted");
            sink.apply(&r, v);
        }
        assert_eq!(sink.skus.len(), 1);
        assert_eq!(sink.skus.get("B").map(|s| s.movement_cursor), Some(41));
        let keyless = record(3, None, Some(st.encode()));
        assert!(sink.decode(&keyless).await.expect("ignored").is_none());
        let corrupt = record(4, Some(b"C"), Some(b"\x00garbage".to_vec()));
        let e = sink.decode(&corrupt).await.expect_err("corrupt state");
        assert_eq!(e.class(), ErrorClass::Fatal, "{e}");
    }
}

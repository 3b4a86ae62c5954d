//! The state of one SKU (every location and warehouse of it), its binary changelog encoding and
//! the state digest. See the crate docs for the model.

use std::collections::{BTreeMap, HashMap};

use dsync_events::datum::{self, AvroDatum, DatumError};
use dsync_events::{avro_record, OrderChannel};

use crate::hash::Sha256;

/// Channels whose available-to-promise is published, in the order `Position::published` uses.
pub const CHANNELS: [OrderChannel; 4] = [
    OrderChannel::Http,
    OrderChannel::Edi,
    OrderChannel::Ecommerce,
    OrderChannel::Crm,
];

/// First byte of every changelog value: the encoding version.
pub const CHANGELOG_MAGIC: u8 = 1;

/// Raw bytes as an Avro `bytes` datum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl AvroDatum for Bytes {
    fn write_avro(&self, out: &mut Vec<u8>) {
        datum::write_long(out, self.0.len() as i64);
        out.extend_from_slice(&self.0);
    }

    fn read_avro(input: &mut &[u8]) -> Result<Self, DatumError> {
        let n = usize::try_from(datum::read_long(input)?)
            .map_err(|_| DatumError::Invalid("negative length"))?;
        if input.len() < n {
            return Err(DatumError::Eof);
        }
        let (a, b) = input.split_at(n);
        *input = b;
        Ok(Bytes(a.to_vec()))
    }
}

/// One applied movement kept for placing a late count: its sequence and on-hand delta.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistEntry {
    /// `source_sequence` of the movement.
    pub seq: i64,
    /// Its on-hand delta at the position.
    pub delta: i64,
}
avro_record!(HistEntry { seq, delta });

/// What one order line holds at one position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    /// Order id.
    pub order_id: String,
    /// Order line number.
    pub line_number: i32,
    /// Units reserved (not yet picked).
    pub reserved: i64,
    /// Units queued as backorder.
    pub backordered: i64,
    /// Channel symbol of the order (the backorder draws on its ATP).
    pub channel: String,
    /// Requested ship date (days since 1970-01-01); backorders fill earliest first.
    pub requested_ship_date: Option<i32>,
    /// Position in the backorder queue (ties on the date).
    pub queued_at: i64,
    /// request_id of the request that queued the backorder (echoed by fills).
    pub backorder_request_id: String,
    /// Fills so far (for deterministic fill event ids).
    pub fills: i64,
}
avro_record!(Line {
    order_id,
    line_number,
    reserved,
    backordered,
    channel,
    requested_ship_date,
    queued_at,
    backorder_request_id,
    fills
});

/// Stock of one SKU at one location.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// Warehouse holding the location (learned from movements and counts).
    pub warehouse_id: String,
    /// Physical on hand.
    pub on_hand: i64,
    /// Sequence point of the latest adopted count (-1: none).
    pub count_seq: i64,
    /// Sequence point of the latest count reported but not adopted (-1: none).
    pub reported_count_seq: i64,
    /// Counts taken below this sequence can no longer be placed (history pruned).
    pub history_floor: i64,
    /// Movements applied after `count_seq`, by sequence (bounded).
    pub history: Vec<HistEntry>,
    /// Order lines holding units here, by `order_id#line`.
    pub lines: BTreeMap<String, Line>,
    /// Backorder queue counter.
    pub queue_counter: i64,
    /// Published position version (one per AvailabilityChanged).
    pub version: i64,
    /// Channel ATPs last published, in [`CHANNELS`] order (empty: never published).
    pub published: Vec<i64>,
    /// occurred_at of the latest movement applied (ms).
    pub last_movement_at: Option<i64>,
}
avro_record!(Position {
    warehouse_id,
    on_hand,
    count_seq,
    reported_count_seq,
    history_floor,
    history,
    lines,
    queue_counter,
    version,
    published,
    last_movement_at
});

impl Position {
    /// A new, empty position in `warehouse_id`.
    pub fn new(warehouse_id: &str) -> Self {
        Self {
            warehouse_id: warehouse_id.to_owned(),
            count_seq: -1,
            reported_count_seq: -1,
            ..Self::default()
        }
    }

    /// Units reserved by every line.
    pub fn reserved(&self) -> i64 {
        self.lines.values().map(|l| l.reserved).sum()
    }

    /// Units queued as backorders by every line.
    pub fn backordered(&self) -> i64 {
        self.lines.values().map(|l| l.backordered).sum()
    }

    /// on hand - reserved (negative when oversold by movements).
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved()
    }

    /// Records an applied movement for later count placement, keeping at most `max` entries
    /// (the oldest dropped entries raise `history_floor`).
    pub fn record_history(&mut self, seq: i64, delta: i64, max: usize) {
        let at = self.history.partition_point(|h| h.seq < seq);
        self.history.insert(at, HistEntry { seq, delta });
        while self.history.len() > max.max(1) {
            let dropped = self.history.remove(0);
            self.history_floor = self.history_floor.max(dropped.seq);
        }
    }
}

/// A movement that arrived ahead of its predecessor (`prev` -1: the feed gave none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingSeq {
    /// Its sequence.
    pub seq: i64,
    /// Its previous_sku_sequence, -1 when unknown.
    pub prev: i64,
}
avro_record!(PendingSeq { seq, prev });

/// A missing movement: named as predecessor, not arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gap {
    /// The missing sequence.
    pub missing: i64,
    /// The movement that revealed it.
    pub received_seq: i64,
    /// Chain watermark when detected (0: none applied).
    pub last_applied: i64,
    /// Wall-clock detection time (ms; not part of the digest).
    pub opened_at_ms: i64,
    /// Whether InventorySequenceGapDetected was published (not part of the digest).
    pub reported: bool,
}
avro_record!(Gap {
    missing,
    received_seq,
    last_applied,
    opened_at_ms,
    reported
});

/// Deduplication and gap tracking of one SKU's movements from one warehouse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqTracker {
    /// Every movement of the SKU up to here was applied (the chain of previous_sku_sequence
    /// links is complete from the first movement).
    pub watermark: i64,
    /// Applied movements above the watermark, by sequence.
    pub pending: Vec<PendingSeq>,
    /// Open gaps, by missing sequence.
    pub gaps: Vec<Gap>,
}
avro_record!(SeqTracker {
    watermark,
    pending,
    gaps
});

/// What [`SeqTracker::observe`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Seen before: ignore.
    Duplicate,
    /// New: apply it.
    New {
        /// It revealed a missing predecessor.
        gap_opened: bool,
        /// It was the missing movement of an open gap.
        gap_closed: bool,
        /// Gaps given up because the pending window overflowed.
        gaps_abandoned: usize,
    },
}

impl SeqTracker {
    /// Records movement `seq` (with its predecessor `prev`, if the feed gives it) and says
    /// whether it is new. `max_pending` bounds the movements kept above the watermark.
    pub fn observe(
        &mut self,
        seq: i64,
        prev: Option<i64>,
        now_ms: i64,
        max_pending: usize,
    ) -> Observed {
        if seq <= self.watermark {
            return Observed::Duplicate;
        }
        let at = match self.pending.binary_search_by_key(&seq, |p| p.seq) {
            Ok(_) => return Observed::Duplicate,
            Err(at) => at,
        };
        self.pending.insert(
            at,
            PendingSeq {
                seq,
                prev: prev.unwrap_or(-1),
            },
        );
        let mut gap_closed = false;
        if let Ok(i) = self.gaps.binary_search_by_key(&seq, |g| g.missing) {
            self.gaps.remove(i);
            gap_closed = true;
        }
        let mut gap_opened = false;
        if let Some(p) = prev {
            if p > self.watermark
                && self.pending.binary_search_by_key(&p, |x| x.seq).is_err()
                && self.gaps.binary_search_by_key(&p, |g| g.missing).is_err()
            {
                let i = self.gaps.partition_point(|g| g.missing < p);
                self.gaps.insert(
                    i,
                    Gap {
                        missing: p,
                        received_seq: seq,
                        last_applied: self.watermark,
                        opened_at_ms: now_ms,
                        reported: false,
                    },
                );
                gap_opened = true;
            }
        }
        // Advance the watermark along complete links.
        while let Some(first) = self.pending.first() {
            if first.prev >= 0 && first.prev <= self.watermark {
                self.watermark = first.seq;
                self.pending.remove(0);
            } else {
                break;
            }
        }
        // Bound the window: the oldest pending movements are taken as the new watermark.
        let mut gaps_abandoned = 0;
        while self.pending.len() > max_pending.max(1) {
            let first = self.pending.remove(0);
            self.watermark = self.watermark.max(first.seq);
            let before = self.gaps.len();
            let w = self.watermark;
            self.gaps.retain(|g| g.missing > w);
            gaps_abandoned += before - self.gaps.len();
        }
        Observed::New {
            gap_opened,
            gap_closed,
            gaps_abandoned,
        }
    }
}

/// A handled reservation or release request (deduplication by request_id, audit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestRecord {
    /// The request's occurred_at (ms): records older than the retention are pruned.
    pub occurred_at: i64,
    /// 0 reserve, 1 release.
    pub kind: i32,
    /// Location requested.
    pub location_id: String,
    /// Units reserved by it.
    pub reserved: i64,
    /// Units it queued as backorder.
    pub backordered: i64,
    /// Units neither reserved nor queued.
    pub unavailable: i64,
    /// Units (reserved and queued) a release gave back.
    pub released: i64,
}
avro_record!(RequestRecord {
    occurred_at,
    kind,
    location_id,
    reserved,
    backordered,
    unavailable,
    released
});

/// An output event as published (for re-emission when its input is delivered again after
/// the state was saved but before every output was acknowledged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredOutput {
    /// Destination topic (full name).
    pub topic: String,
    /// Record key.
    pub key: String,
    /// Encoded value (wire format).
    pub payload: Bytes,
    /// Standard headers.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Correlation id.
    pub correlation_id: String,
    /// Causation id.
    pub causation_id: Option<String>,
}
avro_record!(StoredOutput {
    topic,
    key,
    payload,
    event_id,
    event_type,
    correlation_id,
    causation_id
});

/// The last input of one kind applied to the SKU and its outputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastInput {
    /// Input offset.
    pub offset: i64,
    /// Its outputs, availability excluded (re-emitted from the current position instead).
    pub outputs: Vec<StoredOutput>,
    /// Locations whose availability it published.
    pub touched: Vec<String>,
}
avro_record!(LastInput {
    offset,
    outputs,
    touched
});

/// Everything the projector holds for one SKU: one changelog record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkuState {
    /// Positions by location id.
    pub positions: BTreeMap<String, Position>,
    /// Movement sequence tracking by warehouse id.
    pub trackers: BTreeMap<String, SeqTracker>,
    /// Handled requests by request_id (within the retention).
    pub requests: BTreeMap<String, RequestRecord>,
    /// Latest occurred_at of any input applied (ms).
    pub latest_event_at: i64,
    /// Offset of the partition's latest movement record handled when this state was saved.
    pub movement_cursor: i64,
    /// The last movement (or count) applied and its outputs.
    pub last_movement: Option<LastInput>,
    /// The last request applied and its outputs.
    pub last_request: Option<LastInput>,
}
avro_record!(SkuState {
    positions,
    trackers,
    requests,
    latest_event_at,
    movement_cursor,
    last_movement,
    last_request
});

impl SkuState {
    /// The changelog value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(CHANGELOG_MAGIC);
        self.write_avro(&mut out);
        out
    }

    /// Decodes a changelog value.
    pub fn decode(bytes: &[u8]) -> Result<Self, DatumError> {
        match bytes.split_first() {
            Some((&CHANGELOG_MAGIC, mut body)) => {
                let s = Self::read_avro(&mut body)?;
                if body.is_empty() {
                    Ok(s)
                } else {
                    Err(DatumError::Invalid("bytes after the state"))
                }
            }
            Some(_) => Err(DatumError::Invalid("unknown changelog magic byte")),
            None => Err(DatumError::Eof),
        }
    }

    /// Appends the business content (what the digest covers): everything but the bookkeeping
    /// of re-emission, the movement cursor and the wall-clock fields of gaps.
    pub fn write_business(&self, out: &mut Vec<u8>) {
        self.positions.write_avro(out);
        datum::write_long(out, self.trackers.len() as i64);
        for (wh, t) in &self.trackers {
            wh.write_avro(out);
            datum::write_long(out, t.watermark);
            t.pending.write_avro(out);
            datum::write_long(out, t.gaps.len() as i64);
            for g in &t.gaps {
                datum::write_long(out, g.missing);
                datum::write_long(out, g.received_seq);
                datum::write_long(out, g.last_applied);
            }
        }
        self.requests.write_avro(out);
        datum::write_long(out, self.latest_event_at);
    }
}

/// Digest of a whole state: SHA-256 over the SKUs in byte order, each as its length-prefixed
/// id followed by [`SkuState::write_business`]. Equal digests mean equal projections.
pub fn digest<'a>(skus: impl IntoIterator<Item = (&'a String, &'a SkuState)>) -> String {
    let mut sorted: Vec<(&String, &SkuState)> = skus.into_iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut h = Sha256::new();
    let mut buf = Vec::with_capacity(1024);
    for (sku, st) in sorted {
        buf.clear();
        datum::write_long(&mut buf, sku.len() as i64);
        buf.extend_from_slice(sku.as_bytes());
        st.write_business(&mut buf);
        h.update(&buf);
    }
    h.finish_hex()
}

/// Digest of a map of SKU states.
pub fn digest_map(skus: &HashMap<String, SkuState>) -> String {
    digest(skus.iter())
}

/// Counts over a state, for reports and the state-size metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StateSize {
    /// SKUs.
    pub skus: u64,
    /// Positions (SKU and location).
    pub positions: u64,
    /// Order lines holding units.
    pub lines: u64,
    /// Request records kept for deduplication.
    pub requests: u64,
}

impl StateSize {
    /// Adds one SKU's counts.
    pub fn add(&mut self, st: &SkuState) {
        self.skus += 1;
        self.positions += st.positions.len() as u64;
        self.lines += st
            .positions
            .values()
            .map(|p| p.lines.len() as u64)
            .sum::<u64>();
        self.requests += st.requests.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_dedupes_reorders_and_reports_gaps() {
        let mut t = SeqTracker::default();
        assert!(matches!(
            t.observe(10, Some(0), 1, 100),
            Observed::New {
                gap_opened: false,
                ..
            }
        ));
        assert_eq!(t.watermark, 10);
        assert_eq!(t.observe(10, Some(0), 1, 100), Observed::Duplicate);
        // 30 names 20, which has not arrived: a gap.
        assert!(matches!(
            t.observe(30, Some(20), 2, 100),
            Observed::New {
                gap_opened: true,
                ..
            }
        ));
        assert_eq!(t.gaps.len(), 1);
        assert_eq!(t.gaps[0].missing, 20);
        assert_eq!(t.observe(30, Some(20), 3, 100), Observed::Duplicate);
        // 20 arrives late: the gap closes and the chain completes.
        assert!(matches!(
            t.observe(20, Some(10), 4, 100),
            Observed::New {
                gap_closed: true,
                ..
            }
        ));
        assert!(t.gaps.is_empty());
        assert_eq!(t.watermark, 30);
        assert!(t.pending.is_empty());
        assert_eq!(t.observe(20, Some(10), 5, 100), Observed::Duplicate);
    }

    #[test]
    fn tracker_window_is_bounded() {
        let mut t = SeqTracker::default();
        for s in 1..=10 {
            t.observe(s * 2, None, 0, 4);
        }
        assert_eq!(t.pending.len(), 4);
        assert_eq!(t.watermark, 12);
        assert_eq!(t.observe(8, None, 0, 4), Observed::Duplicate);
    }

    #[test]
    fn changelog_round_trip_and_digest_ignores_bookkeeping() {
        let mut st = SkuState::default();
        let mut p = Position::new("W1");
        p.on_hand = 7;
        p.record_history(5, 7, 3);
        p.lines.insert(
            "O1#1".into(),
            Line {
                order_id: "O1".into(),
                line_number: 1,
                reserved: 2,
                channel: "HTTP".into(),
                ..Line::default()
            },
        );
        st.positions.insert("L1".into(), p);
        st.trackers.insert("W1".into(), SeqTracker::default());
        let bytes = st.encode();
        assert_eq!(SkuState::decode(&bytes).expect("decodes"), st);
        let mut a = HashMap::new();
        a.insert("S1".to_owned(), st.clone());
        let d1 = digest_map(&a);
        let mut st2 = st.clone();
        st2.movement_cursor = 99;
        st2.last_movement = Some(LastInput::default());
        a.insert("S1".to_owned(), st2);
        assert_eq!(digest_map(&a), d1);
        let mut st3 = st;
        if let Some(p) = st3.positions.get_mut("L1") {
            p.on_hand = 8;
        }
        a.insert("S1".to_owned(), st3);
        assert_ne!(digest_map(&a), d1);
        assert!(SkuState::decode(&[9, 1, 2]).is_err());
    }

    #[test]
    fn history_is_bounded_and_raises_the_floor() {
        let mut p = Position::new("W");
        for s in [5, 1, 3, 9, 7] {
            p.record_history(s, 1, 3);
        }
        let seqs: Vec<i64> = p.history.iter().map(|h| h.seq).collect();
        assert_eq!(seqs, vec![5, 7, 9]);
        assert_eq!(p.history_floor, 3);
    }
}

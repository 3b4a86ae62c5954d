//! Plain logic over typed events and one SKU's state: no I/O, unit-tested without Kafka.
//!
//! Each function applies one input to a [`SkuState`] and appends what it publishes to
//! [`Effects`]; it returns whether the state changed. Output event ids are deterministic
//! (UUIDv5 of the projector's namespace and the fact), so applying the same input to the same
//! state always yields the same events.
//!
//! [`inputs`] is the consumer's `dsync_bus::Handler` of both input streams.

pub mod inputs;
pub mod movements;
pub mod reservations;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use dsync_bus::EventHeaders;
use dsync_events::{
    AvailabilityChanged, ChannelAtp, CompactString, Event, EventMetadata, InventoryDriftDetected,
    InventorySequenceGapDetected, OrderChannel, ReservationReleased, StockBackordered,
    StockReserved, StockUnavailable,
};

use crate::rules::SafetyRules;
use crate::state::{Position, SkuState, CHANNELS};

/// `source_system` of everything the projector publishes, and the namespace of its event ids.
pub const SOURCE_SYSTEM: &str = "inventory-projector";

/// Settings the logic depends on (part of the projection's definition: a rebuild must use the
/// same values to reach the same state).
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Safety stock per channel.
    pub rules: SafetyRules,
    /// Movements kept per position to place late counts.
    pub count_history: usize,
    /// Movements kept per SKU and warehouse above the complete chain.
    pub max_pending: usize,
    /// Request ids are remembered (and older requests refused as stale) for this long, in
    /// event time.
    pub request_retention_ms: i64,
    /// Drift up to this many units is corrected automatically; larger drift is only reported.
    /// `None`: always correct.
    pub drift_auto_correct_max: Option<i64>,
}

impl Default for Ctx {
    fn default() -> Self {
        Self {
            rules: SafetyRules::default(),
            count_history: 64,
            max_pending: 4096,
            request_retention_ms: 7 * 24 * 3600 * 1000,
            drift_auto_correct_max: None,
        }
    }
}

/// The input's identity, for the metadata of what it causes.
#[derive(Debug, Clone)]
pub struct Cause {
    /// Its event id.
    pub event_id: CompactString,
    /// Its correlation id.
    pub correlation_id: CompactString,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

impl Cause {
    /// From an event's metadata.
    pub fn of(m: &EventMetadata) -> Self {
        Self {
            event_id: m.event_id.clone(),
            correlation_id: m.correlation_id.clone(),
            occurred_at: m.occurred_at,
        }
    }

    fn metadata<E: Event>(&self, fact: &str) -> EventMetadata {
        EventMetadata {
            event_id: EventHeaders::deterministic_id(SOURCE_SYSTEM, fact).into(),
            event_type: E::RECORD_NAME.into(),
            occurred_at: self.occurred_at,
            correlation_id: self.correlation_id.clone(),
            causation_id: Some(self.event_id.clone()),
            source_system: SOURCE_SYSTEM.into(),
            schema_version: E::SCHEMA_VERSION as i32,
        }
    }
}

/// An event the projector publishes.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// On the availability topic, key `sku@location`.
    Availability(AvailabilityChanged),
    /// On the reservations topic, key order id.
    Reserved(StockReserved),
    /// On the reservations topic.
    Backordered(StockBackordered),
    /// On the reservations topic.
    Unavailable(StockUnavailable),
    /// On the reservations topic.
    Released(ReservationReleased),
    /// On the reconciliation topic, key sku.
    Drift(InventoryDriftDetected),
    /// On the reconciliation topic.
    Gap(InventorySequenceGapDetected),
}

/// Counters of what happened (turned into metrics by the caller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Movements and counts applied.
    pub applied: u64,
    /// Duplicate movements, counts and requests.
    pub duplicates: u64,
    /// Gaps opened.
    pub gaps_opened: u64,
    /// Drift units.
    pub drift_units: u64,
    /// Drift events corrected / not corrected.
    pub drifts_corrected: u64,
    /// Drift events reported only.
    pub drifts_reported: u64,
    /// Counts too old to place or superseded.
    pub stale_counts: u64,
    /// Units consumed from reservations.
    pub consumed_units: u64,
    /// Reservation outcomes: reserved, backordered, unavailable, released, filled, consumed,
    /// stale, unknown_line (in that order).
    pub outcomes: [u64; 8],
}

/// Labels of [`Counts::outcomes`].
pub const OUTCOMES: [&str; 8] = [
    "reserved",
    "backordered",
    "unavailable",
    "released",
    "filled",
    "consumed",
    "stale",
    "unknown_line",
];

/// What applying inputs produced.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// Whether to build output events (false in a rebuild: only the state matters).
    pub emit: bool,
    /// Events to publish, in order.
    pub outputs: Vec<Output>,
    /// Locations whose position changed.
    pub touched: BTreeSet<String>,
    /// Counters.
    pub counts: Counts,
}

impl Effects {
    /// Effects that build output events.
    pub fn emitting() -> Self {
        Self {
            emit: true,
            ..Self::default()
        }
    }

    /// Effects that only count (rebuilds).
    pub fn silent() -> Self {
        Self::default()
    }
}

/// `sku@location`, the key of the availability topic.
pub fn position_key(sku: &str, location: &str) -> String {
    format!("{sku}@{location}")
}

/// The key of an order line in [`Position::lines`].
pub fn line_key(order_id: &str, line_number: i32) -> String {
    format!("{order_id}#{line_number}")
}

/// Available-to-promise for `channel` at a position.
pub fn channel_atp(ctx: &Ctx, sku: &str, location: &str, pos: &Position, ch: OrderChannel) -> i64 {
    (pos.available() - ctx.rules.safety(sku, location, ch)).max(0)
}

fn channel_of(symbol: &str) -> OrderChannel {
    OrderChannel::from_symbol(symbol).unwrap_or(OrderChannel::Unknown)
}

/// Fills queued backorders of a position from its available stock, earliest requested ship
/// date first (then queue order), each from its channel's ATP.
pub fn fill_backorders(
    ctx: &Ctx,
    sku: &str,
    location: &str,
    pos: &mut Position,
    cause: &Cause,
    fx: &mut Effects,
) {
    if pos.lines.values().all(|l| l.backordered == 0) {
        return;
    }
    let mut queue: Vec<(i32, i64, String)> = pos
        .lines
        .iter()
        .filter(|(_, l)| l.backordered > 0)
        .map(|(k, l)| {
            (
                l.requested_ship_date.unwrap_or(i32::MAX),
                l.queued_at,
                k.clone(),
            )
        })
        .collect();
    queue.sort();
    for (_, _, key) in queue {
        let Some(channel) = pos.lines.get(&key).map(|l| channel_of(&l.channel)) else {
            continue;
        };
        let atp = channel_atp(ctx, sku, location, pos, channel);
        if atp <= 0 {
            continue;
        }
        let Some(line) = pos.lines.get_mut(&key) else {
            continue;
        };
        let take = atp.min(line.backordered);
        line.backordered -= take;
        line.reserved += take;
        line.fills += 1;
        fx.counts.outcomes[4] += 1;
        fx.touched.insert(location.to_owned());
        if fx.emit {
            let fact = format!("fill/{}/{}/{}", line.backorder_request_id, key, line.fills);
            fx.outputs.push(Output::Reserved(StockReserved {
                metadata: cause.metadata::<StockReserved>(&fact),
                request_id: line.backorder_request_id.as_str().into(),
                order_id: line.order_id.as_str().into(),
                line_number: line.line_number,
                sku: sku.into(),
                location_id: location.into(),
                reserved_quantity_base: take,
                line_reserved_total_base: line.reserved,
                from_backorder: true,
            }));
        }
    }
}

/// Publishes AvailabilityChanged for every touched location whose channel ATPs differ from
/// the ones last published (then they are the published ones, and the version goes up).
pub fn publish_changes(ctx: &Ctx, sku: &str, st: &mut SkuState, cause: &Cause, fx: &mut Effects) {
    let touched: Vec<String> = fx.touched.iter().cloned().collect();
    for loc in touched {
        let Some(pos) = st.positions.get_mut(&loc) else {
            continue;
        };
        let atps: Vec<i64> = CHANNELS
            .iter()
            .map(|c| channel_atp(ctx, sku, &loc, pos, *c))
            .collect();
        if atps == pos.published {
            continue;
        }
        pos.published = atps;
        pos.version += 1;
        if fx.emit {
            fx.outputs.push(Output::Availability(availability_event(
                ctx, sku, &loc, pos, cause,
            )));
        }
    }
}

/// The AvailabilityChanged of a position as it stands (its published version).
pub fn availability_event(
    ctx: &Ctx,
    sku: &str,
    location: &str,
    pos: &Position,
    cause: &Cause,
) -> AvailabilityChanged {
    let key = position_key(sku, location);
    AvailabilityChanged {
        metadata: cause.metadata::<AvailabilityChanged>(&format!("avail/{key}/{}", pos.version)),
        sku: sku.into(),
        location_id: location.into(),
        warehouse_id: pos.warehouse_id.as_str().into(),
        base_unit: "EA".into(),
        on_hand_base: pos.on_hand,
        reserved_base: pos.reserved(),
        backordered_base: pos.backordered(),
        available_base: pos.available(),
        channel_atp: CHANNELS
            .iter()
            .map(|c| ChannelAtp {
                channel: *c,
                atp_base: channel_atp(ctx, sku, location, pos, *c),
                safety_stock_base: ctx.rules.safety(sku, location, *c),
            })
            .collect(),
        position_version: pos.version,
        last_movement_at: pos
            .last_movement_at
            .and_then(DateTime::<Utc>::from_timestamp_millis),
    }
}

/// The InventorySequenceGapDetected for a gap reported now.
pub fn gap_event(
    sku: &str,
    warehouse_id: &str,
    gap: &crate::state::Gap,
    now_ms: i64,
) -> InventorySequenceGapDetected {
    let fact = format!("gap/{warehouse_id}/{sku}/{}", gap.missing);
    let gap_id = EventHeaders::deterministic_id(SOURCE_SYSTEM, &fact);
    let occurred_at = DateTime::<Utc>::from_timestamp_millis(now_ms).unwrap_or_default();
    InventorySequenceGapDetected {
        metadata: EventMetadata {
            event_id: EventHeaders::deterministic_id(SOURCE_SYSTEM, &format!("{fact}/event"))
                .into(),
            event_type: InventorySequenceGapDetected::RECORD_NAME.into(),
            occurred_at,
            correlation_id: gap_id.as_str().into(),
            causation_id: None,
            source_system: SOURCE_SYSTEM.into(),
            schema_version: InventorySequenceGapDetected::SCHEMA_VERSION as i32,
        },
        gap_id: gap_id.into(),
        sku: sku.into(),
        warehouse_id: warehouse_id.into(),
        last_applied_sequence: (gap.last_applied > 0).then_some(gap.last_applied),
        missing_sequence: gap.missing,
        received_sequence: gap.received_seq,
        waited_ms: (now_ms - gap.opened_at_ms).max(0),
    }
}

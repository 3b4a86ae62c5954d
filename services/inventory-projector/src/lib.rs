//! # inventory-projector
//!
//! Projects stock per SKU and location from warehouse movements, owns reservations so the last
//! unit is promised once, publishes channel-safe available-to-promise, answers availability
//! queries over HTTP, and reconciles counts against the projection.
//!
//! ## Streams
//!
//! | topic (behind `--topic-prefix`) | role | key | partitions |
//! |---|---|---|---|
//! | `inventory.movements` | in: `InventoryMovementRecorded`, `CycleCountSnapshot` | sku | N (12) |
//! | `inventory.reservation-requests` | in: `ReservationRequested`, `ReservationReleaseRequested` | sku | N, co-partitioned |
//! | `inventory.reservations` | out: `StockReserved`, `StockBackordered`, `StockUnavailable`, `ReservationReleased` | order id | 6 |
//! | `inventory.availability` | out (compacted): `AvailabilityChanged` | `sku@location` | 6 |
//! | `inventory.reconciliation` | out: `InventoryDriftDetected`, `InventorySequenceGapDetected` | sku | 6 |
//! | `inventory-projector.state` | changelog (compacted): one record per SKU | sku | N |
//! | `inventory-projector.journal` | where each request was applied among the movements | sku | N |
//!
//! ## One writer per SKU partition
//!
//! Movements and requests are keyed by SKU on two topics with the same partition count, and
//! one consumer group reads both: the bus's range assignment gives partition *p* of both
//! topics to the same member, so one instance decides every change to a SKU. The bus runs one
//! worker per topic-partition; the two workers of partition *p* share the partition's state
//! behind one async lock ([`projector::Slot`]), held from the decision until its outputs are
//! acknowledged, so the decisions of partition *p* form one total order and their outputs leave
//! in that order. A record on the wrong partition (its producer did not hash like Kafka's
//! murmur2, see [`hash`]) would break this and is dead-lettered as poison.
//!
//! ## State of a SKU ([`state::SkuState`])
//!
//! * per location, a [`state::Position`]: on hand, the order lines holding units (reserved and
//!   queued backorder per `order#line`), the sequence point of the last adopted count, the last
//!   `--count-history` applied movements after it (to place late counts), the channel ATPs and
//!   version last published;
//! * per warehouse, a [`state::SeqTracker`] over the warehouse's `source_sequence`: the
//!   *watermark* is the end of the complete chain of `previous_sku_sequence` links, movements
//!   above it are kept (at most `--max-pending`), so a duplicate is any sequence at or below the
//!   watermark or already pending, an out-of-order movement is simply applied (deltas commute),
//!   and a movement naming a predecessor that has not arrived opens a **gap** (metric at once;
//!   `InventorySequenceGapDetected` once it is older than `--gap-grace`, from a periodic check,
//!   with a deterministic `gap_id`); the late movement closes it. Feeds without
//!   `previous_sku_sequence` are deduplicated by exact sequence within the pending window.
//! * the handled requests by `request_id` (for `--request-retention` in event time; older
//!   requests are refused as stale), so a request delivered again changes nothing.
//!
//! **Counts.** A `CycleCountSnapshot` at sequence *S* is the truth as of *S*: for each counted
//! location (FULL: every location of the warehouse, absent ones counted 0), expected = on hand −
//! Σ deltas of applied movements after *S*; a difference publishes `InventoryDriftDetected`
//! (deterministic `drift_id`) and, unless larger than `--drift-auto-correct-max`, the projection
//! adopts the count: on hand = counted + movements after *S*. Movements at or below an adopted
//! count's sequence no longer change on hand (they are in the count) but still consume
//! reservations. A count older than the adopted one, or than the history kept, is skipped.
//!
//! **Reservations.** A request reserves up to its channel's ATP (available − the channel's
//! safety stock, [`rules`]); REJECT takes all or nothing, BACKORDER queues the shortfall (filled
//! by arriving or released stock, earliest requested ship date first, as `StockReserved` with
//! `from_backorder`), PARTIAL gives it up. A release gives back the line's reserved (then
//! queued) units; a release for a SKU, location or line the projector does not hold is answered
//! with a zero `ReservationReleased` (a business outcome, counted as `unknown_line`). A PICK or
//! SHIP for an order line consumes its reservation: on hand and reserved both drop, once (the
//! movement's sequence is deduplicated).
//!
//! **Availability.** After each input, every touched position whose channel ATPs changed gets a
//! new version and one `AvailabilityChanged` (event id from `sku@location` and version).
//!
//! ## Effectively once, without transactions
//!
//! For each input, under the partition lock: the state change is computed on a copy of the
//! SKU's state; for a request, a journal record is written; then the SKU's whole new state
//! (with the input's offset and its encoded outputs) is written to the changelog and awaited;
//! only then is the copy installed in memory and are the outputs published and awaited; the
//! bus commits the input offset afterwards. Every output has a deterministic event id.
//!
//! * Failure before the changelog record is acknowledged: nothing was published and memory is
//!   unchanged, the bus retries or redelivers, the input is decided afresh.
//! * Failure after: the input is already applied. When it is delivered again (bus retry,
//!   restart, rebalance) its offset equals the SKU's last applied offset of that stream, and
//!   the saved outputs are published again (availability as it stands now) with the same ids.
//!   Any other already-applied input is a plain duplicate (counted, nothing published).
//!
//! ## Persistence: the changelog
//!
//! `inventory-projector.state` is compacted, keyed by SKU, with the inputs' partition count, so
//! a SKU's record sits on its input partition. The value is byte `1` followed by the Avro binary
//! encoding of [`state::SkuState`] (the `dsync_events` datum codec; field order as declared).
//! On assignment the bus calls [`dsync_bus::Handler::partitions_assigned`]: the instance drops
//! any cached copy of those partitions and restores each by reading its changelog partition to
//! the end ([`dsync_bus::BoundedReader`]); revoked partitions are dropped. A restart therefore
//! reads one record per SKU, never the history.
//!
//! ## Rebuild from the log and the digest
//!
//! [`rebuild::rebuild`] (and `inventory-projector --rebuild`) recomputes the state from the
//! beginning of the movements and requests with the same functions and settings. Requests and
//! movements of a partition interleave in arrival order, which a rebuild cannot know: the
//! journal says, per request, after which movement offset of its partition it was applied (the
//! last record per request wins, for a retry), so the rebuild applies movements in offset order
//! and each request right after its movement: the same order, the same state. The digest
//! ([`state::digest`]) is SHA-256 over the SKUs in byte order and their business state (not the
//! re-emission bookkeeping or the wall-clock fields of gaps), so a rebuilt state, the live
//! state ([`projector::Projector::digest`]) and the saved one ([`rebuild::changelog_digest`])
//! can be compared.
//!
//! ## HTTP
//!
//! `GET /v1/availability/{sku}?location=` ([`api`]), with an API key (`--api-keys`) or a bearer
//! token (`--bearer-tokens`) by the shared rules of `dsync_service::auth`.
//! Answered from the owning instance's state; another instance answers 503 `not_owner`.
//!
//! ## Metrics
//!
//! Names in [`metrics`]: movements applied, duplicates, gaps detected / reported / open, drift
//! units and events, reservations by outcome, consumed units, availability published, state
//! size; plus the bus's standard metrics.

pub mod api;
mod app;
mod error;
pub mod handlers;
pub mod hash;
pub mod metrics;
pub mod projector;
pub mod rebuild;
pub mod rules;
pub mod settings;
pub mod state;
#[cfg(any(test, feature = "test-util"))]
pub mod testkit;

pub use app::{App, Service};
pub use error::ProjectorError;
pub use settings::{Settings, Topics};

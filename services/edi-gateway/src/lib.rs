//! edi-gateway: X12 in and out for trading partners.
//!
//! # What it does
//!
//! * **Inbound.** Interchanges arrive as files in each partner's inbox folder (scanned every
//!   `--inbox-poll-interval`; a file is taken once it stops changing) or through the
//!   authenticated upload endpoint `POST /partners/{id}/interchanges` ([`http`]). The X12 work
//!   (tokenizer with the delimiters of each ISA, envelope checks, 850/997 validation, 997 and
//!   TA1 building) is `dsync_x12`; what a file becomes is [`handlers::interchanges`]:
//!   `EdiDocumentReceived` per transaction set (per interchange when it is rejected as a whole)
//!   on `edi.documents`, `OrderSubmitted` on `orders.submissions` (keyed by customer) for 850s,
//!   `OrderCancelRequested` on `orders.events` for cancellations, one 997 per functional group
//!   (never for a 997) in the version the partner sent, a TA1 when ISA14 = 1 or when the
//!   interchange cannot be opened, duplicates (ISA05+06+07+08+13, GS01+06 within the
//!   partner's window) reported with TA1 note 025 (when a TA1 is requested), an event, an
//!   `EDI_DUPLICATE` exception and a metric, never processed twice. Test interchanges
//!   (ISA15 = T) never become orders in production mode ([`UsageMode`]).
//! * **Outbound.** `OrderAccepted` / `OrderRejected` of EDI orders on `orders.events` become
//!   855s ([`handlers::orders_events`]): BAK with the acknowledgement type, one ACK per PO1 line.
//! * **Acknowledgement tracking.** 997s from partners are matched to the documents we sent
//!   (`EdiDocumentAcknowledged` ACCEPTED / ACCEPTED_WITH_ERRORS / REJECTED, with the AK3/AK4/AK5
//!   /AK9 errors; `EDI_REJECTED_BY_PARTNER` for a rejection); a document with no 997 past the
//!   partner's deadline raises `EDI_ACK_OVERDUE` ([`handlers::overdue`], swept every
//!   `--overdue-sweep-interval`), resolved when the 997 arrives late.
//! * **Partner profiles** ([`profile`]): one TOML or JSON file per partner; an invalid one
//!   stops the start-up with the file and the field named. Samples in `partners/`.
//!
//! # Nothing received is lost; nothing is sent twice
//!
//! A received file goes through these steps, each durable before the next:
//!
//! 1. **Archive** ([`archive`]): the bytes, exactly as received, and a receipt record (source,
//!    size, SHA-256, the interchanges' control numbers) are written atomically (temp file,
//!    fsync, rename, fsync of the directory) under `<data>/archive/<partner>/in/<day>/`.
//! 2. **Journal the receipt** ([`journal`]). From here a crash loses nothing: at start-up the
//!    archived bytes are decided like a new arrival.
//! 3. **Decide** under the partner's lock: validation, duplicate checks against the state,
//!    mapping, acknowledgements rendered with control numbers allocated above the highest ever
//!    sent. The acknowledgement interchanges are archived, then the decision (events to
//!    publish, interchanges to deliver, inbox file to move) is journaled as a plan, and its
//!    events are applied to the in-memory state (so the control numbers and duplicate keys are
//!    taken before the lock is released).
//! 4. **Carry out** the plan: publish its events (acks=all), copy each interchange from the
//!    archive to the outbox atomically (temp + rename in the outbox: no partial file is ever
//!    visible) and mark it delivered, move the inbox file to `processed/`, drop the plan. A
//!    plan is only ever rolled forward — at start-up, on a redelivered order event, every
//!    `--journal-retry-interval` after a broker outage — and every step is idempotent:
//!    deterministic event ids ([`ids`]), delivery markers, moves of files already moved.
//!
//! The inbox file leaves the inbox only in step 4, after its outcome is durable. 855s follow
//! the same path (decide under the lock, archive, journal, publish `EdiDocumentSent`, deliver).
//!
//! # State, rebuilt from the log
//!
//! [`state::PartnerState`] holds per partner the interchange and group keys received within the
//! duplicate window, the highest ISA13/GS06/ST02 sent, every sent document waiting for its
//! 997, the 855 of each order and where each accepted 850 is archived. At start-up it is
//! rebuilt by folding `edi.documents` ([`handlers::edi_documents`]) and the journal's plans;
//! the same fold applies every event the gateway publishes. So after a restart (or a replay of
//! the topic) duplicates are still detected, control numbers continue above the highest sent
//! (never reused: they are recorded in `EdiDocumentSent` before any interchange is delivered)
//! and an order whose 855 is recorded never gets a second one.
//!
//! Choices worth knowing:
//!
//! * The group duplicate key is partner + GS01 + GS06: GS02/GS03 are fixed per partnership
//!   and `EdiDocumentReceived` does not carry them. An interchange's key is taken when it is
//!   accepted, a group's when at least one of its sets is processed: a rejected interchange or
//!   group may be sent again with the same control number.
//! * A duplicate group inside a new interchange gets no 997 (it was acknowledged the first
//!   time); its sets are recorded DUPLICATE.
//! * A rejected interchange (any TA1 note) is not processed at all and gets no 997.
//! * All acknowledgements of one received interchange travel in one interchange: TA1 first,
//!   then one FA group per acknowledged group, each with the partner's GS08; ISA12 follows the
//!   received interchange. ST02 and GS06 come from per-partner counters, like ISA13.
//! * The receiver id check gives TA1 note 009 (unknown receiver) or 007 (qualifier); the
//!   sender 006 or 005. 025 is a duplicate ISA13 (the real TA105 table, see `dsync_x12::codes`).
//! * Order ids are order-intake's UUIDv5 of customer and idempotency key
//!   (`edi:<partner>:<PO>`, with `:<release>` for a blanket order release), so an 850, its
//!   cancellation (BEG01 01) and a duplicate copy (BEG01 07, flagged with the `x12.beg01`
//!   header and an INFO exception) name the same order.
//! * Overdue exceptions have deterministic ids and event ids, raised at the deadline: after a
//!   restart the sweep may publish the same event again, which consumers deduplicate.
//! * One instance per set of inbox folders: the per-partner lock is in-process.
//!
//! # Layout
//!
//! `<data>/archive/` (received and sent bytes), `<data>/journal/` (work in progress),
//! `<data>/partners/<id>/{inbox,outbox,processed}` unless the profile names other folders.
//! Topics get `--topic-prefix`. Metrics: [`metrics`].

pub mod app;
pub mod archive;
mod error;
pub mod events;
pub mod files;
pub mod gateway;
pub mod handlers;
pub mod http;
pub mod ids;
pub mod inbox;
pub mod journal;
pub mod mapping;
pub mod metrics;
pub mod outbound;
pub mod profile;
pub mod settings;
pub mod state;
#[cfg(any(test, feature = "test-util"))]
pub mod testkit;
pub mod topics;

pub use app::{App, Service};
pub use error::GatewayError;
pub use gateway::{Gateway, ReceiveOutcome};
pub use profile::{load_profiles, PartnerProfile, Profiles};
pub use settings::{Settings, UsageMode};
pub use topics::Topics;

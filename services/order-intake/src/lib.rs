//! order-intake: governed order capture from CRM / eCommerce (HTTP) and EDI, validated against
//! the ERP's master data, credit and available-to-promise, published as `OrderAccepted` or
//! `OrderRejected` on `orders.events`.
//!
//! # One path for every order
//!
//! ```text
//!  HTTP POST /v1/orders ──▶ OrderSubmitted ──┐                    ┌──▶ orders.events
//!  (api: auth, 413/400/422,  (awaited ack)   ▼                    │    OrderAccepted / OrderRejected
//!   idempotency pre-check)          orders.submissions ──▶ consumer group ──┤   (+ intake headers)
//!  edi-gateway (normalised 850) ──▶ (key: customer id)   (partition owner)  └──▶ exceptions.business
//!                                                                               EDI duplicates
//! ```
//!
//! The API never validates an order itself: it publishes an `OrderSubmitted` keyed by customer
//! id to `orders.submissions`, waits for the broker's acknowledgement (nothing is answered before
//! the submission is durable; 503 if it cannot be), then waits up to `--result-wait` (2 s) for
//! the outcome. The EDI gateway publishes the same event for a normalised 850 (channel EDI,
//! `partner_po`, idempotency key `edi:<partner>:<po>`). The submissions consumer
//! ([`handlers::submissions::SubmissionHandler`]) validates both the same way
//! ([`handlers::submissions`]).
//!
//! # One writer per customer
//!
//! Submissions are keyed by customer, so one partition, hence one instance of the consumer
//! group at a time, sees all of a customer's orders, one after the other. That instance is the
//! only writer of the customer's duplicate indexes and credit exposure: two instances taking
//! HTTP orders for the same customer at the same moment publish two submissions to the same
//! partition, which are validated in sequence, so together they never exceed the limit.
//!
//! # The changelog: `orders.events`, followed by every instance
//!
//! The outcome event *is* the state change: every `OrderAccepted` / `OrderRejected` record
//! carries two extra headers, `intake.content_hash` (hash of what was ordered, see
//! [`handlers::submissions::content_hash`]) and `intake.submission_event_id`. Every instance
//! follows `orders.events` from the beginning ([`follow`]) and builds from it the order history
//! ([`state::IntakeState`]): outcome per order id and per (customer, idempotency key), accepted
//! orders per partner + PO number, and per customer the value of accepted orders not yet
//! invoiced or cancelled (`OrderCancelled` on the same topic; `InvoicePosted` from
//! `invoicing.events`). Chosen over a separate compacted state topic because a decision is then
//! a single record: there is no window in which the outcome is published but the state is not
//! (or the reverse), and without Kafka transactions that is what keeps "first outcome stands"
//! exact across crashes. The cost: the duplicate window is the retention of `orders.events`
//! (deploy it with retention at least as long as orders may be resent, e.g. `retention.ms=-1`),
//! and a start reads it (other event types are skipped by header without decoding).
//!
//! Start-up loads everything written before it (master data, history) before the consumer
//! joins the group. When a submissions partition is assigned (detected as a record that does
//! not follow the last one this process handled on that partition), the handler first reads
//! the end offsets of `orders.events` and waits until the follower has applied them, so the
//! previous owner's outcomes, all acknowledged before its offsets were committed, are known.
//! The deciding worker also records its outcome in memory as soon as the broker acknowledged
//! it; the follower later applies the same record again, idempotently.
//!
//! # Duplicates, retries, replays
//!
//! The order id is UUIDv5 of the customer id and idempotency key
//! ([`handlers::submissions::order_id_for`]). A submission whose order already has an outcome
//! is classified ([`handlers::submissions::classify`]):
//!
//! * the same submission event (redelivered after a crash or rebalance, or a replay of the
//!   topic): its outcome is already on the broker, nothing is published;
//! * the same content under the key (HTTP retry, EDI PO resent): nothing is published to
//!   `orders.events`; over HTTP the original answer is returned; for EDI a resolved,
//!   informational `BusinessException` of kind `EDI_DUPLICATE` is published;
//! * different content under the key: HTTP 409; for EDI an open `EDI_DUPLICATE` warning with
//!   reason code `IDEMPOTENCY_KEY_CONFLICT`; the first order stands.
//!
//! A new order id whose partner + PO number (and release number) was already accepted is
//! rejected with `DUPLICATE_ORDER`. Output event ids are deterministic (UUIDv5 of the
//! submission's event id), so anything published twice has the same id.
//!
//! # Master data
//!
//! Every instance keeps a full copy of `erp.customers`, `erp.items`, `erp.prices`,
//! `erp.locations` and `inventory.availability` ([`state::MasterData`]), loaded at start and
//! kept current by followers. The validation rules are listed in [`handlers::submissions`].
//!
//! # Modules
//!
//! [`api`] HTTP, [`handlers`] per input stream its logic and its handler,
//! [`state`] what is held in memory, [`follow`] the followers, [`app`] the wiring,
//! [`metrics`] metric names, [`settings`] flags, [`topics`] topic names (with `--topic-prefix`).

pub mod api;
pub mod app;
pub mod core;
mod error;
pub mod follow;
pub mod handlers;
pub mod metrics;
pub mod settings;
pub mod state;
#[cfg(any(test, feature = "test-util"))]
pub mod testkit;
pub mod topics;

pub use app::{App, Service};
pub use error::IntakeError;
pub use handlers::submissions::order_id_for;
pub use settings::Settings;

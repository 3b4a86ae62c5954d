//! The distsync business events: Rust types generated at build time from `schemas/**/*.avsc`,
//! the Confluent wire format, and a schema registry client.
//!
//! * Types: one struct per event (`OrderAccepted`, ...) and per nested record, one enum per Avro
//!   enum, all in the crate root; named types shared between schema files are generated once.
//!   Every event implements [`Event`]; [`AnyEvent`] is any of them. Avro `string` fields are
//!   [`CompactString`] (a `String`-like type that stores up to 24 bytes inline: ids, codes,
//!   units and currencies decode without allocating).
//! * [`EventCodec`]: `encode` (registers or looks up the subject `<topic>-<full name>`, writes
//!   magic byte 0, the 4-byte big-endian schema id and the Avro body), `decode` / `decode_any`
//!   (fetch the writer schema by id, resolve it against the reader's schema, dispatch by the
//!   writer's record name).
//! * [`SchemaRegistryClient`]: Confluent-compatible REST client with caches, basic auth and
//!   timeouts; [`RegistrySettings`] are its flags.
//! * [`topics`]: the topic catalog of `schemas/topics.json`, generated: a name constant per
//!   topic (`topics::ORDERS_EVENTS`) and its [`topics::TopicDef`] (`topics::defs::ORDERS_EVENTS`:
//!   partitions, cleanup policy, key format, event types, dead-letter and parked-keys topics),
//!   which gives the [`dsync_bus::TopicSpec`] a service creates the topic from, behind its prefix.
//! * [`EventsError`]: typed failures, classified for the bus by its `dsync_bus::Classify`
//!   impl, so a handler's `?` makes a `HandlerError` of it (bad bytes are poison, an
//!   unreachable registry is transient).
//!
//! Codec: generated straight-line Avro binary code ([`datum::AvroDatum`]) on the hot path (the
//! writer schema is the reader's), Avro schema resolution through `apache-avro` when they
//! differ (another version of the event), then the same generated decoder.

mod codec;
pub mod datum;
mod error;
pub mod event;
mod registry;
pub mod serde_util;
mod topic_def;
mod types;
pub mod wire;

pub use codec::{decode_body, encode_body, encode_framed, EventCodec};
pub use error::EventsError;
pub use event::{Event, EventSchema, EventTypeVisitor};
pub use registry::{BasicAuth, RegisteredSchema, RegistrySettings, SchemaRegistryClient};
pub use types::*;

/// Re-exported so hand-written [`Event`] implementations (tools, tests) name the same versions.
pub use apache_avro;
/// The string type of the generated types' `string` fields (inline up to 24 bytes).
pub use compact_str::{self, format_compact, CompactString, ToCompactString};

/// The order id of a customer's idempotency key: UUIDv5 of `<customer_id>\n<key>` in the
/// `distsync.order-id` namespace. Every submission of the key (HTTP retries, a resent EDI PO, its
/// cancellation and 855) names the same order; order-intake, the edi-gateway and the tools all
/// use this one definition.
pub fn order_id_for(customer_id: &str, idempotency_key: &str) -> String {
    dsync_bus::EventHeaders::deterministic_id(
        "distsync.order-id",
        &format!("{customer_id}\n{idempotency_key}"),
    )
}

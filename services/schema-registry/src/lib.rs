//! A Confluent Schema Registry compatible service for Avro schemas.
//!
//! The REST API is Confluent's (`/subjects`, `/schemas/ids`, `/compatibility`, `/config`, ...;
//! see [`api`]), content type `application/vnd.schemaregistry.v1+json`, with Confluent's error
//! bodies and codes ([`RegistryError`]). Only Avro is supported. Compatibility follows Avro's
//! resolution rules ([`compat`]).
//!
//! # Storage: a deterministic state machine over a log
//!
//! The registry's only storage is a Kafka topic (`_schemas` by default; one partition, created
//! compacted at start-up). Every instance reads the whole topic at start, keeps following it, and
//! serves reads from the state it built in memory ([`state::State`]). Instances never talk to
//! each other and have no leader: a write is an *operation record* appended to the topic, and
//! every instance applies the operations in log order with the same pure function
//! ([`state::State::apply`]). Ids and versions are therefore assigned when an operation is
//! *applied*, not when it is proposed, and two instances (or one instance before and after a
//! restart) that applied the same prefix of the log are in the same state. Concurrent
//! registrations through different instances are serialized by the partition: they can never
//! get the same id or the same version.
//!
//! A write returns only after the instance that received it has applied its own record (it
//! waits for the operation id), so a client always reads its own writes from that instance.
//! Other instances see the write as soon as they have read the record (tens of milliseconds).
//! Before proposing, an instance answers from memory when the schema is already registered under
//! the subject, and refuses a schema its current state finds incompatible, so idempotent retries
//! and rejected registrations write nothing; the decision that counts is always the one taken
//! when the operation is applied.
//!
//! ## Record format
//!
//! Key and value are UTF-8 JSON ([`log`]). The key is unique per operation:
//!
//! ```json
//! {"keytype":"DSYNC_OP","magic":1,"op":"<uuid v4>"}
//! ```
//!
//! The value is the operation, tagged by `type`, plus the proposing instance and time
//! (diagnostics only, never used when applying):
//!
//! ```json
//! {"magic":1,"type":"REGISTER","subject":"orders-value","schema":"{...}","schemaType":"AVRO",
//!  "references":[{"name":"x.Money","subject":"money","version":1}],"origin":"<uuid>","ts":"<rfc3339>"}
//! {"magic":1,"type":"DELETE_SUBJECT","subject":"s","permanent":false,...}
//! {"magic":1,"type":"DELETE_VERSION","subject":"s","version":3,"permanent":true,...}   // or "latest"
//! {"magic":1,"type":"SET_CONFIG","subject":null,"compatibilityLevel":"FULL",...}        // null: global
//! {"magic":1,"type":"DELETE_CONFIG","subject":"s",...}
//! ```
//!
//! Records carry the bus's standard headers (`event_type` `SchemaRegistryOp`, `event_id` = the
//! operation id). Records this version does not understand (tombstones, another `keytype` or
//! `magic`, such as a Confluent registry's records) are skipped and counted.
//!
//! ## Applying an operation
//!
//! * `REGISTER`: the schema is parsed with its references (which must exist); if the subject
//!   already has a version (not deleted) with the same schema, nothing changes and that version
//!   and id are the answer; otherwise the schema is checked against the subject's versions under
//!   its compatibility level (409 when it breaks it), gets the id already given to the same
//!   schema anywhere (even a hard-deleted one: an id always denotes one schema) or the highest id
//!   ever assigned + 1, and the version after the subject's highest remaining one.
//!   "The same schema" means the same normalized full form (see [`avro::identity`]) and the
//!   same references.
//! * `DELETE_SUBJECT` / `DELETE_VERSION`: soft delete, or hard delete of what was soft-deleted
//!   before (Confluent's rules and errors); a version still referenced by another schema cannot
//!   be deleted (42206). Soft-deleting a subject also removes its compatibility level.
//! * `SET_CONFIG` / `DELETE_CONFIG`: the global or a subject's level.
//!
//! Rejected operations stay in the log and are rejected again, identically, on every replay.
//!
//! ## Compaction
//!
//! Because every key is unique, compaction never removes an operation record, and the log is
//! replayed exactly as written: later decisions (ids, versions, compatibility verdicts) depend on
//! earlier operations, so dropping any of them could change the outcome of a replay. The topic is
//! declared compacted (as Confluent's and Karapace's are) so that an operator tool may tombstone
//! records in future formats; this version writes no tombstones. A hard delete is therefore a
//! logical operation: the schema text stays in the log, and the registry no longer serves it.
//!
//! The topic must have exactly one partition (a single total order of operations); a topic with
//! more is refused at start-up.
//!
//! ## Readiness
//!
//! At start an instance notes the end offset of the topic; `/readyz` reports the check
//! `schemas-log` not ready until everything before that offset is applied, and `broker` not
//! ready while the brokers do not answer. API requests received before the load completes wait
//! for it (up to `--write-timeout`).

mod api;
pub mod app;
pub mod avro;
pub mod compat;
mod error;
pub mod gate;
pub mod log;
pub mod metrics;
mod settings;
pub mod state;
pub mod store;

pub use api::{ACCEPTED_CONTENT_TYPES, CONTENT_TYPE};
pub use app::App;
pub use compat::CompatibilityLevel;
pub use error::RegistryError;
pub use settings::Settings;

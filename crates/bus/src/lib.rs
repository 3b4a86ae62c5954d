//! The bus: the only crate in the workspace that touches Kafka (rdkafka).
//!
//! * [`EventProducer`]: idempotent, `acks=all`, standard headers, delivery awaited.
//! * [`ConsumerLoop`]: per-partition workers, offsets committed only after outputs are
//!   acknowledged, failure classes (transient / poison / fatal), dead-letter topics with
//!   `skip` or `park-key` poison policies, rebalance-safe, graceful shutdown.
//! * [`admin`]: declare topics and create the missing ones idempotently.
//! * [`reader`]: bounded reads and end offsets that never trust ListOffsets (broker quirk), and
//!   the [`reader::Materializer`] that follows a topic into local state with progress and one
//!   policy for undecodable records.

pub mod admin;
pub mod consumer;
pub mod dlq;
mod error;
pub mod group_probe;
pub mod headers;
pub mod membership;
pub mod metrics;
pub mod producer;
pub mod quirks;
pub mod reader;
pub mod record;
mod settings;

pub use admin::{ensure_topics, CleanupPolicy, TopicSpec};
pub use consumer::{
    ConsumerConfig, ConsumerLoop, Handler, HandlerResult, LocalDelivery, PoisonPolicy, RetryPolicy,
    StartFrom,
};
pub use error::{BoxError, BusError, Classify, ErrorClass, HandlerError};
pub use headers::EventHeaders;
pub use metrics::BusMetrics;
pub use producer::{Delivered, EventProducer};
pub use reader::{BoundedReader, RecordRef};
pub use record::{InboundRecord, OutboundRecord};
pub use settings::{parse_duration, KafkaSettings, SaslMechanism, SecurityProtocol};

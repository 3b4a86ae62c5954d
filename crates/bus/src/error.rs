//! The bus crate's single error type, and the failure classes handlers return.

use std::fmt;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Errors raised by the bus itself (configuration, broker, topic administration).
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A setting is missing or inconsistent; the message names the flag.
    #[error("invalid Kafka configuration: {0}")]
    Config(String),
    /// The client library reported an error.
    #[error("kafka {context}: {source}")]
    Kafka {
        /// What the bus was doing.
        context: String,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// Creating or checking a topic failed.
    #[error("topic {topic}: {reason}")]
    Topic {
        /// The topic.
        topic: String,
        /// Why.
        reason: String,
    },
    /// The broker did not answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A handler classified a record as fatal: the consumer stopped without committing past it.
    #[error("fatal handler failure on {topic}/{partition}@{offset}: {message}")]
    Fatal {
        /// Source topic.
        topic: String,
        /// Source partition.
        partition: i32,
        /// Offset of the failing record (not committed).
        offset: i64,
        /// The handler's message.
        message: String,
    },
    /// A background task ended abnormally.
    #[error("internal: {0}")]
    Internal(String),
    /// Describing a consumer group through its coordinator failed (the membership watchdog
    /// tries again at its next check).
    #[error("describing the consumer group: {0}")]
    GroupProbe(String),
}

impl BusError {
    pub(crate) fn kafka(context: impl Into<String>, source: KafkaError) -> Self {
        BusError::Kafka {
            context: context.into(),
            source,
        }
    }

    /// Whether retrying the same operation later may succeed (broker unavailable, timeouts,
    /// full local queue) as opposed to a permanent problem (bad configuration, record too large).
    pub fn is_transient(&self) -> bool {
        match self {
            BusError::Timeout(_) => true,
            BusError::Kafka { source, .. } => kafka_error_is_transient(source),
            _ => false,
        }
    }
}

pub(crate) fn kafka_error_is_transient(e: &KafkaError) -> bool {
    match e.rdkafka_error_code() {
        Some(code) => matches!(
            code,
            RDKafkaErrorCode::QueueFull
                | RDKafkaErrorCode::MessageTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::NotEnoughReplicas
                | RDKafkaErrorCode::NotEnoughReplicasAfterAppend
                | RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::NotCoordinator
        ),
        None => matches!(e, KafkaError::Canceled),
    }
}

/// How a handler's failure must be treated. The handler decides; the bus acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Retry the same record with capped exponential backoff; the key's later records wait.
    Transient,
    /// The record can never be processed: dead-letter it with the reason and go on.
    Poison,
    /// Stop the consumer without committing past the record; an operator must act.
    Fatal,
}

impl ErrorClass {
    /// Stable label value for metrics and dead-letter headers.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Poison => "poison",
            ErrorClass::Fatal => "fatal",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A handler's failure: its class and a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    /// What the bus must do about it.
    pub class: ErrorClass,
    /// Why; copied into logs and dead-letter headers.
    pub message: String,
}

impl HandlerError {
    /// A failure that may succeed when retried (a dependency is down, a timeout).
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Transient,
            message: message.into(),
        }
    }

    /// A record that can never be processed (undecodable, violates the contract).
    pub fn poison(message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Poison,
            message: message.into(),
        }
    }

    /// A failure that must stop the service (corrupt state, misconfiguration).
    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Fatal,
            message: message.into(),
        }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

impl std::error::Error for HandlerError {}

impl From<BusError> for HandlerError {
    /// Output production failures: transient when the broker may recover, fatal otherwise.
    fn from(e: BusError) -> Self {
        if e.is_transient() {
            HandlerError::transient(e.to_string())
        } else {
            HandlerError::fatal(e.to_string())
        }
    }
}

//! The bus crate's single error type, the failure classes, the [`Classify`] trait every
//! crate's error type implements, and the [`HandlerError`] handlers return.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

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
    /// A materializer's sink classified a record as fatal: the materializer stopped before it
    /// (see [`crate::reader::Materializer`]).
    #[error("materializing {topic}/{partition}@{offset}: {source}")]
    Materialize {
        /// Source topic.
        topic: String,
        /// Source partition.
        partition: i32,
        /// Offset of the record (not applied).
        offset: i64,
        /// The sink's failure, with its source chain.
        #[source]
        source: HandlerError,
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

/// How a failure must be treated: implemented by the error type of every crate whose errors
/// can reach a [`Handler`](crate::Handler), so a handler just uses `?` and the class travels
/// with the error into a [`HandlerError`].
///
/// The rule: a record that can never succeed is [`Poison`](ErrorClass::Poison) (dead-lettered,
/// the partition goes on), an outage is [`Transient`](ErrorClass::Transient) (retried with
/// backoff), a broken invariant or a misconfiguration is [`Fatal`](ErrorClass::Fatal) (the
/// service stops; an operator must act).
pub trait Classify {
    /// What the bus must do about this failure.
    fn class(&self) -> ErrorClass;

    /// For a transient failure, how long to wait before retrying when the failure says so (a
    /// server's `Retry-After`, the time until a lease expires); `None` lets the consumer's
    /// backoff decide. The consumer waits at least its own backoff and at most its
    /// `RetryPolicy::max`.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl Classify for BusError {
    /// Transient when the broker may recover (timeouts, unavailable brokers or leaders, a full
    /// queue); fatal otherwise (configuration, topics, an output the broker refuses).
    fn class(&self) -> ErrorClass {
        if self.is_transient() {
            ErrorClass::Transient
        } else {
            ErrorClass::Fatal
        }
    }
}

/// The boxed source of a [`HandlerError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A handler's failure: its class, an optional retry hint, and the error that caused it with its
/// whole source chain.
///
/// `Display` shows the chain (`outer: cause: root cause`, a cause left out when the message
/// above it already contains it): that is what the consumer logs and writes into the
/// `dlq.error.message` header. [`source`](StdError::source) is the wrapped error itself, for
/// callers that want to downcast it.
///
/// Any error implementing [`Classify`] converts with `?`; [`HandlerError::transient`],
/// [`HandlerError::poison`] and [`HandlerError::fatal`] build one from a message, and
/// [`HandlerError::new`] classifies an error explicitly.
#[derive(Debug)]
pub struct HandlerError {
    class: ErrorClass,
    retry_after: Option<Duration>,
    source: BoxError,
}

impl HandlerError {
    /// `source` under an explicit class (the handler knows better than the error's own class).
    pub fn new(class: ErrorClass, source: impl Into<BoxError>) -> Self {
        Self {
            class,
            retry_after: None,
            source: source.into(),
        }
    }

    /// A failure that may succeed when retried (a dependency is down, a timeout).
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Transient, Message(message.into()))
    }

    /// A record that can never be processed (undecodable, violates the contract).
    pub fn poison(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Poison, Message(message.into()))
    }

    /// A failure that must stop the service (corrupt state, misconfiguration).
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Fatal, Message(message.into()))
    }

    /// What the bus must do about it.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The retry hint, if any (see [`Classify::retry_after`]).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The same failure with a retry hint.
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// The same failure (same class and hint) described by `context` first: `context: chain`.
    #[must_use]
    pub fn context(self, context: impl Into<String>) -> Self {
        Self {
            class: self.class,
            retry_after: self.retry_after,
            source: Box::new(Context {
                message: context.into(),
                source: self.source,
            }),
        }
    }

    /// The wrapped error, for downcasting (`err.inner().downcast_ref::<MyError>()`).
    pub fn inner(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&chain(&*self.source))
    }
}

impl StdError for HandlerError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

impl<E> From<E> for HandlerError
where
    E: Classify + StdError + Send + Sync + 'static,
{
    /// The error's own class and retry hint, the error kept as the source.
    fn from(e: E) -> Self {
        Self {
            class: e.class(),
            retry_after: e.retry_after(),
            source: Box::new(e),
        }
    }
}

/// `error: cause: root cause`; a cause whose text the message above it already contains (an
/// error that prints its source in its own message) is not repeated.
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = e.source();
    }
    out
}

/// A handler's own message (no underlying error).
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

/// What the handler was doing, over the error it got.
#[derive(Debug)]
struct Context {
    message: String,
    source: BoxError,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Context {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer {0}")]
    struct Outer(&'static str, #[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    enum Wrapping {
        /// Prints its source itself (the common `{context}: {source}` shape).
        #[error("writing x: {0}")]
        Io(#[source] std::io::Error),
        #[error("slow down")]
        Throttled,
    }

    impl Classify for Wrapping {
        fn class(&self) -> ErrorClass {
            match self {
                Wrapping::Io(_) => ErrorClass::Fatal,
                Wrapping::Throttled => ErrorClass::Transient,
            }
        }
        fn retry_after(&self) -> Option<Duration> {
            matches!(self, Wrapping::Throttled).then_some(Duration::from_secs(3))
        }
    }

    fn io(msg: &str) -> std::io::Error {
        std::io::Error::other(msg.to_owned())
    }

    #[test]
    fn display_is_the_chain_without_repeats() {
        let h = HandlerError::new(ErrorClass::Poison, Outer("a", io("disk says no")));
        assert_eq!(h.to_string(), "outer a: disk says no");
        let h = HandlerError::from(Wrapping::Io(io("disk says no")));
        assert_eq!(h.to_string(), "writing x: disk says no");
        assert_eq!(h.class(), ErrorClass::Fatal);
        let h = h.context("order O-1");
        assert_eq!(h.to_string(), "order O-1: writing x: disk says no");
        assert_eq!(h.class(), ErrorClass::Fatal, "context keeps the class");
    }

    #[test]
    fn from_keeps_class_hint_and_source() {
        fn handler() -> Result<(), HandlerError> {
            Err(Wrapping::Throttled)?
        }
        let h = handler().expect_err("fails");
        assert_eq!(h.class(), ErrorClass::Transient);
        assert_eq!(h.retry_after(), Some(Duration::from_secs(3)));
        assert!(matches!(
            h.inner().downcast_ref::<Wrapping>(),
            Some(Wrapping::Throttled)
        ));
        let src = StdError::source(&h).expect("source kept");
        assert_eq!(src.to_string(), "slow down");
    }

    #[test]
    fn message_constructors() {
        for (h, class) in [
            (HandlerError::transient("t"), ErrorClass::Transient),
            (HandlerError::poison("p"), ErrorClass::Poison),
            (HandlerError::fatal("f"), ErrorClass::Fatal),
        ] {
            assert_eq!(h.class(), class);
            assert_eq!(h.retry_after(), None);
            assert_eq!(h.to_string().len(), 1);
        }
        let h = HandlerError::transient("t").with_retry_after(Duration::from_millis(5));
        assert_eq!(h.retry_after(), Some(Duration::from_millis(5)));
    }

    #[test]
    fn bus_error_classes() {
        use rdkafka::error::KafkaError;
        let table: Vec<(BusError, ErrorClass)> = vec![
            (BusError::Config("x".into()), ErrorClass::Fatal),
            (BusError::Timeout("x".into()), ErrorClass::Transient),
            (
                BusError::kafka(
                    "deliver",
                    KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut),
                ),
                ErrorClass::Transient,
            ),
            (
                BusError::kafka(
                    "deliver",
                    KafkaError::MessageProduction(RDKafkaErrorCode::AllBrokersDown),
                ),
                ErrorClass::Transient,
            ),
            (
                BusError::kafka(
                    "deliver",
                    KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge),
                ),
                ErrorClass::Fatal,
            ),
            (
                BusError::kafka("poll", KafkaError::Canceled),
                ErrorClass::Transient,
            ),
            (
                BusError::Topic {
                    topic: "t".into(),
                    reason: "missing".into(),
                },
                ErrorClass::Fatal,
            ),
            (
                BusError::Fatal {
                    topic: "t".into(),
                    partition: 0,
                    offset: 1,
                    message: "m".into(),
                },
                ErrorClass::Fatal,
            ),
            (BusError::Internal("x".into()), ErrorClass::Fatal),
        ];
        for (e, class) in table {
            assert_eq!(e.class(), class, "{e}");
            assert_eq!(HandlerError::from(e).class(), class);
        }
    }
}

//! The events the gateway publishes, as they are kept in the journal before publishing, and
//! helpers to build their metadata.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dsync_events::{
    AggregateType, BusinessException, CompactString, EdiDocumentAcknowledged, EdiDocumentReceived,
    EdiDocumentSent, Event, EventMetadata, ExceptionKind, OrderCancelRequested, OrderSubmitted,
    Severity,
};
use serde::{Deserialize, Serialize};

use crate::ids;

/// `source_system` of the events the gateway originates (sent documents, acknowledgement
/// tracking, exceptions); received documents carry `edi:<partner>`.
pub const SOURCE_SYSTEM: &str = "edi-gateway";

/// An event the gateway publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "event")]
#[allow(clippy::large_enum_variant)]
pub enum GatewayEvent {
    /// To `orders.submissions`.
    OrderSubmitted(OrderSubmitted),
    /// To `orders.events`.
    OrderCancelRequested(OrderCancelRequested),
    /// To `edi.documents`.
    EdiDocumentReceived(EdiDocumentReceived),
    /// To `edi.documents`.
    EdiDocumentSent(EdiDocumentSent),
    /// To `edi.documents`.
    EdiDocumentAcknowledged(EdiDocumentAcknowledged),
    /// To `exceptions.business`.
    BusinessException(BusinessException),
}

impl GatewayEvent {
    /// The event's metadata.
    pub fn metadata(&self) -> &EventMetadata {
        match self {
            GatewayEvent::OrderSubmitted(e) => &e.metadata,
            GatewayEvent::OrderCancelRequested(e) => &e.metadata,
            GatewayEvent::EdiDocumentReceived(e) => &e.metadata,
            GatewayEvent::EdiDocumentSent(e) => &e.metadata,
            GatewayEvent::EdiDocumentAcknowledged(e) => &e.metadata,
            GatewayEvent::BusinessException(e) => &e.metadata,
        }
    }
}

/// One record to publish: topic, key, event and extra headers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRecord {
    /// Topic (prefixed).
    pub topic: String,
    /// Kafka key.
    pub key: String,
    /// The event.
    pub event: GatewayEvent,
    /// Headers beside the standard ones (e.g. `x12.beg01`).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

impl PlannedRecord {
    /// A record without extra headers.
    pub fn new(topic: &str, key: &str, event: GatewayEvent) -> Self {
        PlannedRecord {
            topic: topic.to_owned(),
            key: key.to_owned(),
            event,
            headers: Vec::new(),
        }
    }
}

/// Metadata of an event of type `E`.
pub fn metadata<E: Event>(
    event_id: String,
    occurred_at: DateTime<Utc>,
    correlation_id: &str,
    causation_id: Option<&str>,
    source_system: &str,
) -> EventMetadata {
    EventMetadata {
        event_id: event_id.into(),
        event_type: E::RECORD_NAME.into(),
        occurred_at,
        correlation_id: correlation_id.into(),
        causation_id: causation_id.map(CompactString::from),
        source_system: source_system.into(),
        schema_version: i32::try_from(E::SCHEMA_VERSION).unwrap_or(1),
    }
}

/// What a business exception is about.
#[derive(Debug, Clone)]
pub struct ExceptionSpec {
    /// Kind.
    pub kind: ExceptionKind,
    /// Severity.
    pub severity: Severity,
    /// Object concerned.
    pub aggregate_type: AggregateType,
    /// Its id (the Kafka key).
    pub aggregate_id: String,
    /// Order concerned.
    pub order_id: Option<String>,
    /// Customer concerned.
    pub customer_id: Option<String>,
    /// Partner concerned.
    pub partner_id: String,
    /// For a person.
    pub message: String,
    /// Machine-readable details.
    pub details: BTreeMap<String, String>,
    /// When the condition was first detected (the same on every event of the exception).
    pub raised_at: DateTime<Utc>,
    /// Correlation id of the flow it belongs to.
    pub correlation_id: String,
    /// The event that revealed it.
    pub causation_id: Option<String>,
}

impl ExceptionSpec {
    /// The exception id: deterministic from kind and aggregate.
    pub fn exception_id(&self) -> String {
        ids::exception_id(self.kind.as_str(), &self.aggregate_id)
    }

    /// The open exception (first detection).
    pub fn raised(&self) -> BusinessException {
        let exception_id = self.exception_id();
        BusinessException {
            metadata: metadata::<BusinessException>(
                ids::event_id(&exception_id, "raised"),
                self.raised_at,
                &self.correlation_id,
                self.causation_id.as_deref(),
                SOURCE_SYSTEM,
            ),
            exception_id: exception_id.into(),
            kind: self.kind,
            severity: self.severity,
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id.as_str().into(),
            order_id: self.order_id.as_deref().map(CompactString::from),
            customer_id: self.customer_id.as_deref().map(CompactString::from),
            partner_id: Some(self.partner_id.as_str().into()),
            message: self.message.as_str().into(),
            details: self
                .details
                .iter()
                .map(|(k, v)| (k.clone(), CompactString::from(v.as_str())))
                .collect(),
            raised_at: self.raised_at,
            occurrence_count: 1,
            resolved: false,
            resolved_at: None,
            resolved_by: None,
            resolution: None,
        }
    }

    /// The same exception, resolved at `at` with `resolution`.
    pub fn resolved(&self, at: DateTime<Utc>, resolution: &str) -> BusinessException {
        let mut e = self.raised();
        e.metadata.event_id = ids::event_id(&e.exception_id, "resolved").into();
        e.metadata.occurred_at = at;
        e.resolved = true;
        e.resolved_at = Some(at);
        e.resolved_by = Some(SOURCE_SYSTEM.into());
        e.resolution = Some(resolution.into());
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_form_round_trips() {
        let spec = ExceptionSpec {
            kind: ExceptionKind::EdiAckOverdue,
            severity: Severity::Error,
            aggregate_type: AggregateType::EdiDocument,
            aggregate_id: "855-x".into(),
            order_id: Some("o".into()),
            customer_id: None,
            partner_id: "ACME".into(),
            message: "late".into(),
            details: BTreeMap::from([("isa13".to_string(), "000000001".to_string())]),
            raised_at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap_or_default(),
            correlation_id: "c".into(),
            causation_id: None,
        };
        let rec = PlannedRecord::new("t", "855-x", GatewayEvent::BusinessException(spec.raised()));
        let json = serde_json::to_string(&rec).expect("json");
        let back: PlannedRecord = serde_json::from_str(&json).expect("back");
        assert_eq!(back, rec);
        let r = spec.resolved(spec.raised_at, "997 received");
        assert_eq!(r.exception_id, spec.raised().exception_id);
        assert_ne!(r.metadata.event_id, spec.raised().metadata.event_id);
        assert!(r.resolved);
    }
}

//! The standard headers every record on the bus carries.

use rdkafka::message::{Header, Headers, OwnedHeaders};
use uuid::Uuid;

/// Header: unique id of this event (consumers deduplicate on it).
pub const EVENT_ID: &str = "event_id";
/// Header: the event type (record name), e.g. `OrderAccepted`.
pub const EVENT_TYPE: &str = "event_type";
/// Header: id carried from the first event of a business flow (an order) through every hop.
pub const CORRELATION_ID: &str = "correlation_id";
/// Header: id of the event that caused this one.
pub const CAUSATION_ID: &str = "causation_id";
/// Header: W3C trace context.
pub const TRACEPARENT: &str = dsync_telemetry::propagation::TRACEPARENT;

/// The standard metadata of one event, as carried in Kafka headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventHeaders {
    /// Unique event id.
    pub event_id: String,
    /// Event type name.
    pub event_type: String,
    /// Correlation id of the business flow.
    pub correlation_id: String,
    /// Id of the causing event, if any.
    pub causation_id: Option<String>,
    /// W3C traceparent, if known.
    pub traceparent: Option<String>,
}

impl EventHeaders {
    /// Metadata for a new flow: the event id doubles as the correlation id.
    pub fn new_root(event_type: impl Into<String>, event_id: impl Into<String>) -> Self {
        let event_id = event_id.into();
        Self {
            correlation_id: event_id.clone(),
            event_id,
            event_type: event_type.into(),
            causation_id: None,
            traceparent: dsync_telemetry::propagation::current_traceparent(),
        }
    }

    /// Metadata for an event caused by `self`: same correlation id, causation = this event id,
    /// trace context of the current span.
    pub fn child(&self, event_type: impl Into<String>, event_id: impl Into<String>) -> Self {
        Self {
            event_id: event_id.into(),
            event_type: event_type.into(),
            correlation_id: self.correlation_id.clone(),
            causation_id: Some(self.event_id.clone()),
            traceparent: dsync_telemetry::propagation::current_traceparent()
                .or_else(|| self.traceparent.clone()),
        }
    }

    /// A deterministic event id derived from a namespace and a stable name (for example the
    /// causing event id and an output index), so a replay emits the same ids.
    pub fn deterministic_id(namespace: &str, name: &str) -> String {
        let ns = Uuid::new_v5(&Uuid::NAMESPACE_OID, namespace.as_bytes());
        Uuid::new_v5(&ns, name.as_bytes()).to_string()
    }

    /// Reads the standard headers; missing ones are empty (`None` for optional ones).
    pub fn from_kafka<H: Headers>(headers: Option<&H>) -> Self {
        let mut out = EventHeaders::default();
        if let Some(h) = headers {
            for header in h.iter() {
                let Some(value) = header.value.and_then(|v| std::str::from_utf8(v).ok()) else {
                    continue;
                };
                match header.key {
                    EVENT_ID => out.event_id = value.to_owned(),
                    EVENT_TYPE => out.event_type = value.to_owned(),
                    CORRELATION_ID => out.correlation_id = value.to_owned(),
                    CAUSATION_ID => out.causation_id = Some(value.to_owned()),
                    TRACEPARENT => out.traceparent = Some(value.to_owned()),
                    _ => {}
                }
            }
        }
        out
    }

    /// Writes the standard headers, followed by `extra` ones.
    pub fn to_kafka(&self, extra: &[(String, Vec<u8>)]) -> OwnedHeaders {
        let mut h = OwnedHeaders::new_with_capacity(5 + extra.len())
            .insert(Header {
                key: EVENT_ID,
                value: Some(self.event_id.as_str()),
            })
            .insert(Header {
                key: EVENT_TYPE,
                value: Some(self.event_type.as_str()),
            })
            .insert(Header {
                key: CORRELATION_ID,
                value: Some(self.correlation_id.as_str()),
            });
        if let Some(c) = &self.causation_id {
            h = h.insert(Header {
                key: CAUSATION_ID,
                value: Some(c.as_str()),
            });
        }
        if let Some(t) = &self.traceparent {
            h = h.insert(Header {
                key: TRACEPARENT,
                value: Some(t.as_str()),
            });
        }
        for (k, v) in extra {
            h = h.insert(Header {
                key: k.as_str(),
                value: Some(v.as_slice()),
            });
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::OwnedHeaders;

    #[test]
    fn round_trip_through_kafka_headers() {
        let h = EventHeaders {
            event_id: "e1".into(),
            event_type: "OrderAccepted".into(),
            correlation_id: "c1".into(),
            causation_id: Some("e0".into()),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        };
        let k: OwnedHeaders = h.to_kafka(&[("x".into(), b"y".to_vec())]);
        assert_eq!(EventHeaders::from_kafka(Some(&k)), h);
        assert_eq!(k.count(), 6);
    }

    #[test]
    fn child_keeps_correlation_and_points_at_cause() {
        let root = EventHeaders::new_root("OrderSubmitted", "e1");
        let child = root.child("OrderAccepted", "e2");
        assert_eq!(child.correlation_id, "e1");
        assert_eq!(child.causation_id.as_deref(), Some("e1"));
    }

    #[test]
    fn deterministic_ids_are_stable_and_distinct() {
        let a = EventHeaders::deterministic_id("order-intake", "e1/0");
        assert_eq!(a, EventHeaders::deterministic_id("order-intake", "e1/0"));
        assert_ne!(a, EventHeaders::deterministic_id("order-intake", "e1/1"));
    }
}

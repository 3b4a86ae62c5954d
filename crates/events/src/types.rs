//! The generated event types (see `build.rs`), re-exported at the crate root.

include!(concat!(env!("OUT_DIR"), "/events.rs"));

impl EventMetadata {
    /// The standard Kafka headers of the event: `event_id`, `event_type`, `correlation_id` and
    /// `causation_id` from this block, plus the given W3C `traceparent`.
    pub fn to_headers(&self, traceparent: Option<String>) -> dsync_bus::EventHeaders {
        dsync_bus::EventHeaders {
            event_id: self.event_id.as_str().to_owned(),
            event_type: self.event_type.as_str().to_owned(),
            correlation_id: self.correlation_id.as_str().to_owned(),
            causation_id: self.causation_id.as_deref().map(str::to_owned),
            traceparent,
        }
    }
}

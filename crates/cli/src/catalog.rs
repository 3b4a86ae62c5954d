//! The topic catalog (`dsync_events::topics`, generated from `schemas/topics.json`) and the
//! event types of this build: what a topic carries, how its records are keyed, how it is created.

use dsync_events::{Event, EventTypeVisitor};

pub use dsync_events::topics::TopicDef;

use crate::CliError;

/// Namespace of every event type.
pub const NAMESPACE: &str = "com.distsync.events";

/// The catalog's entry for `topic`, if it is a catalog topic.
pub fn topic(topic: &str) -> Option<&'static TopicDef> {
    dsync_events::topics::def(topic)
}

/// The event type written to `topic` when none is named: the only one, or for ERP master data
/// (one `...Upserted` and one `...Deleted` type) the upsert.
pub fn default_event_type(topic: &TopicDef) -> Option<&'static str> {
    match topic.event_types {
        [one] => Some(one),
        types => {
            let upserts: Vec<&'static str> = types
                .iter()
                .copied()
                .filter(|t| t.ends_with("Upserted"))
                .collect();
            match upserts.as_slice() {
                [one] => Some(one),
                _ => None,
            }
        }
    }
}

/// Static facts of an event type of this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeInfo {
    /// Record name, e.g. `CustomerUpserted`.
    pub record: &'static str,
    /// Full record name.
    pub full_name: &'static str,
    /// The topic it travels on.
    pub topic: &'static str,
    /// Its schema (newest version).
    pub schema_json: &'static str,
    /// Its schema version.
    pub version: u32,
}

struct Info;

impl EventTypeVisitor for Info {
    type Output = TypeInfo;

    fn visit<E: Event + Into<dsync_events::AnyEvent>>(self) -> TypeInfo {
        TypeInfo {
            record: E::RECORD_NAME,
            full_name: E::FULL_NAME,
            topic: E::TOPIC,
            schema_json: E::SCHEMA_JSON,
            version: E::SCHEMA_VERSION,
        }
    }
}

/// The event type named `name` (record name or full name).
pub fn event_type(name: &str) -> Result<TypeInfo, CliError> {
    let full = if name.contains('.') {
        name.to_owned()
    } else {
        format!("{NAMESPACE}.{name}")
    };
    dsync_events::visit_event_type(&full, Info).ok_or_else(|| CliError::UnknownEventType {
        name: name.to_owned(),
        known: dsync_events::EVENT_TYPES
            .iter()
            .map(|n| n.rsplit('.').next().unwrap_or(n))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_data_topics_default_to_their_upsert_and_are_compacted() {
        let t = topic("erp.items").expect("erp.items");
        assert_eq!(default_event_type(t), Some("ItemUpserted"));
        assert_eq!(t.key_format, "{sku}");
        assert_eq!(t.spec("").cleanup, dsync_bus::CleanupPolicy::Compact);
        assert_eq!(
            topic("orders.submissions").and_then(default_event_type),
            Some("OrderSubmitted")
        );
        assert_eq!(topic("orders.events").and_then(default_event_type), None);
        assert_eq!(topic("dsync.roundtrip.x"), None);
        let info = event_type("CustomerUpserted").expect("known");
        assert_eq!(info.topic, "erp.customers");
        assert!(event_type("Nope").is_err());
    }
}

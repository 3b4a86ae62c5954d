//! The topic catalog (`schemas/topics.json`, embedded at build time) and the event types of
//! this build: what a topic carries, how its records are keyed, how it is created.

use std::collections::HashMap;
use std::sync::OnceLock;

use dsync_bus::TopicSpec;
use dsync_events::{Event, EventTypeVisitor};
use serde::Deserialize;

use crate::CliError;

const TOPICS_JSON: &str = include_str!("../../../schemas/topics.json");

/// Namespace of every event type.
pub const NAMESPACE: &str = "com.distsync.events";

/// One topic of the catalog.
#[derive(Debug, Clone, Deserialize)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// `compact` or `delete`.
    pub cleanup_policy: String,
    /// Event types (record names) it carries, the main one first.
    pub event_types: Vec<String>,
    /// How records are keyed.
    pub key: KeyInfo,
}

/// A topic's key.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyInfo {
    /// `{field}` placeholders and literal text, e.g. `{sku}@{location_id}`.
    pub format: String,
}

#[derive(Debug, Deserialize)]
struct Catalog {
    topics: Vec<TopicInfo>,
}

fn catalog() -> &'static HashMap<String, TopicInfo> {
    static CATALOG: OnceLock<HashMap<String, TopicInfo>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        serde_json::from_str::<Catalog>(TOPICS_JSON)
            .map(|c| c.topics.into_iter().map(|t| (t.name.clone(), t)).collect())
            .unwrap_or_default()
    })
}

/// The catalog's entry for `topic`, if it is a catalog topic.
pub fn topic(topic: &str) -> Option<&'static TopicInfo> {
    catalog().get(topic)
}

impl TopicInfo {
    /// The declaration [`dsync_bus::ensure_topics`] creates it from.
    pub fn spec(&self) -> TopicSpec {
        if self.cleanup_policy == "compact" {
            TopicSpec::compacted(&self.name, self.partitions)
        } else {
            TopicSpec::stream(&self.name, self.partitions)
        }
    }

    /// The event type written when none is named: the only one, or for ERP master data (one
    /// `...Upserted` and one `...Deleted` type) the upsert.
    pub fn default_event_type(&self) -> Option<&str> {
        match self.event_types.as_slice() {
            [one] => Some(one),
            types => {
                let upserts: Vec<&String> =
                    types.iter().filter(|t| t.ends_with("Upserted")).collect();
                match upserts.as_slice() {
                    [one] => Some(one.as_str()),
                    _ => None,
                }
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
        assert_eq!(t.default_event_type(), Some("ItemUpserted"));
        assert_eq!(t.key.format, "{sku}");
        assert_eq!(t.spec().cleanup, dsync_bus::CleanupPolicy::Compact);
        assert_eq!(
            topic("orders.submissions").and_then(TopicInfo::default_event_type),
            Some("OrderSubmitted")
        );
        assert_eq!(
            topic("orders.events").and_then(TopicInfo::default_event_type),
            None
        );
        let info = event_type("CustomerUpserted").expect("known");
        assert_eq!(info.topic, "erp.customers");
        assert!(event_type("Nope").is_err());
    }
}

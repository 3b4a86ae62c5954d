//! The topic catalog of `schemas/topics.json` for the build script: read and checked here,
//! generated as the `topics` module (name constants, one `TopicDef` per topic, `DEFS`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// One topic of the catalog.
pub struct Topic {
    pub name: String,
    pub partitions: i32,
    /// `compact` or `delete`.
    pub cleanup_policy: String,
    pub key_format: String,
    pub event_types: Vec<String>,
    pub dead_letter: String,
    pub parked: String,
    pub co_partitioned_with: Option<String>,
}

/// The catalog: the topics in file order, and the topic of each event type.
pub struct Catalog {
    pub topics: Vec<Topic>,
    /// Record name -> topic name.
    pub topic_of: BTreeMap<String, String>,
}

fn str_field<'a>(v: &'a Value, field: &str, what: &str) -> Result<&'a str, String> {
    v.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("topics.json: {what} has no string {field:?}"))
}

/// `format` with `{topic}` replaced by `name`; the format must contain `{topic}` once.
fn side_topic(format: &str, name: &str, field: &str) -> Result<String, String> {
    if format.matches("{topic}").count() != 1 {
        return Err(format!(
            "topics.json: {field} {format:?} must contain {{topic}} once"
        ));
    }
    Ok(format.replace("{topic}", name))
}

/// Reads and checks `schemas/topics.json`.
pub fn read(path: &Path) -> Result<Catalog, String> {
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let dlq_format = str_field(&json, "dead_letter_topic_format", "the catalog")?;
    let parked_format = str_field(&json, "parked_keys_topic_format", "the catalog")?;
    let mut topics = Vec::new();
    let mut topic_of = BTreeMap::new();
    for t in json
        .get("topics")
        .and_then(Value::as_array)
        .ok_or("topics.json: no topics")?
    {
        let name = str_field(t, "name", "a topic")?;
        let partitions = t
            .get("partitions")
            .and_then(Value::as_i64)
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p >= 1)
            .ok_or_else(|| format!("topics.json: {name}: partitions is not a positive count"))?;
        let cleanup_policy = str_field(t, "cleanup_policy", name)?;
        if !matches!(cleanup_policy, "compact" | "delete") {
            return Err(format!(
                "topics.json: {name}: cleanup_policy {cleanup_policy:?} is not compact or delete"
            ));
        }
        let key_format = t
            .get("key")
            .and_then(|k| k.get("format"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("topics.json: {name} has no key.format"))?;
        let mut event_types = Vec::new();
        for ev in t
            .get("event_types")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("topics.json: {name} has no event_types"))?
        {
            let ev = ev
                .as_str()
                .ok_or("topics.json: event type is not a string")?;
            if let Some(prev) = topic_of.insert(ev.to_owned(), name.to_owned()) {
                return Err(format!("topics.json: {ev} is on {prev} and {name}"));
            }
            event_types.push(ev.to_owned());
        }
        if topics.iter().any(|x: &Topic| x.name == name) {
            return Err(format!("topics.json: {name} is declared twice"));
        }
        topics.push(Topic {
            name: name.to_owned(),
            partitions,
            cleanup_policy: cleanup_policy.to_owned(),
            key_format: key_format.to_owned(),
            event_types,
            dead_letter: side_topic(dlq_format, name, "dead_letter_topic_format")?,
            parked: side_topic(parked_format, name, "parked_keys_topic_format")?,
            co_partitioned_with: t
                .get("co_partitioned_with")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    for t in &topics {
        if let Some(other) = &t.co_partitioned_with {
            let o = topics.iter().find(|x| x.name == *other).ok_or_else(|| {
                format!(
                    "topics.json: {} is co-partitioned with unknown {other}",
                    t.name
                )
            })?;
            if o.partitions != t.partitions {
                return Err(format!(
                    "topics.json: {} ({}) is co-partitioned with {other} ({}): the counts differ",
                    t.name, t.partitions, o.partitions
                ));
            }
        }
    }
    Ok(Catalog { topics, topic_of })
}

/// `erp.customers` -> `ERP_CUSTOMERS`.
fn const_name(topic: &str) -> String {
    topic
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The `topics` module.
pub fn generate(catalog: &Catalog) -> Result<String, String> {
    let fmt = |e: std::fmt::Error| e.to_string();
    let mut code = String::new();
    code.push_str(
        "/// The topic catalog of `schemas/topics.json`: names, and the [`TopicDef`] of each topic.\n\
         pub mod topics {\n\
         \x20   pub use crate::topic_def::TopicDef;\n\n",
    );
    // Names, sorted (as they always were).
    let names: BTreeSet<&str> = catalog.topic_of.values().map(String::as_str).collect();
    for t in &names {
        writeln!(
            code,
            "    #[doc = {doc:?}]\n    pub const {konst}: &str = {t:?};",
            doc = format!("`{t}`"),
            konst = const_name(t)
        )
        .map_err(fmt)?;
    }
    code.push_str("    /// Every topic carrying events.\n    pub const ALL: &[&str] = &[\n");
    for t in &names {
        writeln!(code, "        {t:?},").map_err(fmt)?;
    }
    code.push_str("    ];\n\n");

    code.push_str("    /// The declaration of each topic, named like its name constant.\n    pub mod defs {\n        use super::TopicDef;\n\n");
    for t in &catalog.topics {
        let cleanup = match t.cleanup_policy.as_str() {
            "compact" => "Compact",
            _ => "Delete",
        };
        let event_types: Vec<String> = t.event_types.iter().map(|e| format!("{e:?}")).collect();
        let co = match &t.co_partitioned_with {
            Some(o) => format!("Some({o:?})"),
            None => "None".to_owned(),
        };
        writeln!(
            code,
            "        #[doc = {doc:?}]\n        pub const {konst}: TopicDef = TopicDef {{\n            \
             name: {name:?},\n            partitions: {partitions},\n            \
             cleanup: ::dsync_bus::CleanupPolicy::{cleanup},\n            \
             key_format: {key:?},\n            event_types: &[{events}],\n            \
             dead_letter: {dlq:?},\n            parked: {parked:?},\n            \
             co_partitioned_with: {co},\n        }};",
            doc = format!("`{}`", t.name),
            konst = const_name(&t.name),
            name = t.name,
            partitions = t.partitions,
            key = t.key_format,
            events = event_types.join(", "),
            dlq = t.dead_letter,
            parked = t.parked,
        )
        .map_err(fmt)?;
    }
    code.push_str("    }\n\n");
    code.push_str("    /// Every topic of the catalog, in the order of `schemas/topics.json`.\n    pub const DEFS: &[TopicDef] = &[\n");
    for t in &catalog.topics {
        writeln!(code, "        defs::{},", const_name(&t.name)).map_err(fmt)?;
    }
    code.push_str(
        "    ];\n\n\
         \x20   /// The catalog's declaration of `name` (without prefix); `None` for a topic outside the catalog.\n\
         \x20   pub fn def(name: &str) -> ::std::option::Option<&'static TopicDef> {\n\
         \x20       DEFS.iter().find(|t| t.name == name)\n\
         \x20   }\n}\n",
    );
    Ok(code)
}

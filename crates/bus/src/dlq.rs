//! Dead-letter records and parked keys.
//!
//! A dead-lettered record goes to `<topic>.dlq` with its original key, value and headers
//! untouched, followed by `dlq.*` headers: source topic, partition and offset, consumer group,
//! error class, reason, time, and for a record parked behind an earlier one, the offset it is
//! parked behind. Under the park-key policy the key is also recorded in the compacted topic
//! `<topic>.parked` (record key `<group>` NUL `<source key>`, JSON value [`ParkedKeyRecord`]);
//! a tombstone for that record key un-parks it. The replay tool re-drives parked keys in order
//! from the dead-letter topic and then writes the tombstone.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use serde::{Deserialize, Serialize};

use crate::error::ErrorClass;
use crate::producer::{Delivered, EventProducer};
use crate::record::InboundRecord;
use crate::{BusError, KafkaSettings};

/// Header: source topic of a dead-lettered record.
pub const H_SOURCE_TOPIC: &str = "dlq.source.topic";
/// Header: source partition.
pub const H_SOURCE_PARTITION: &str = "dlq.source.partition";
/// Header: source offset.
pub const H_SOURCE_OFFSET: &str = "dlq.source.offset";
/// Header: consumer group that dead-lettered it.
pub const H_GROUP: &str = "dlq.group";
/// Header: error class (`poison`).
pub const H_ERROR_CLASS: &str = "dlq.error.class";
/// Header: the reason, human readable.
pub const H_ERROR_MESSAGE: &str = "dlq.error.message";
/// Header: RFC 3339 time of dead-lettering.
pub const H_TIME: &str = "dlq.time";
/// Header: for a record dead-lettered only because its key is parked, the source offset of the
/// record that parked the key.
pub const H_PARKED_BEHIND: &str = "dlq.parked.behind";

/// Name of the dead-letter topic of `topic`.
pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// Name of the parked-keys topic of `topic`.
pub fn parked_topic(topic: &str) -> String {
    format!("{topic}.parked")
}

/// The record key in `<topic>.parked` for a group and a source key.
pub fn parked_record_key(group: &str, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(group.len() + 1 + key.len());
    k.extend_from_slice(group.as_bytes());
    k.push(0);
    k.extend_from_slice(key);
    k
}

/// Value of a parked-key marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedKeyRecord {
    /// Consumer group whose processing is parked.
    pub group: String,
    /// Source topic.
    pub topic: String,
    /// Source partition of the key.
    pub partition: i32,
    /// The parked key, hex encoded.
    pub key_hex: String,
    /// Source offset of the first dead-lettered record of the key.
    pub first_offset: i64,
    /// Where that record sits in the dead-letter topic.
    pub dlq_partition: i32,
    /// Its offset in the dead-letter topic.
    pub dlq_offset: i64,
    /// Why it was dead-lettered.
    pub reason: String,
    /// When (RFC 3339).
    pub parked_at: String,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parked keys of one partition: key -> source offset of the record that parked it.
#[derive(Debug, Clone, Default)]
pub struct ParkedKeys {
    keys: HashMap<Vec<u8>, i64>,
}

impl ParkedKeys {
    /// The offset a key is parked behind, if it is parked.
    pub fn first_offset(&self, key: &[u8]) -> Option<i64> {
        self.keys.get(key).copied()
    }

    pub(crate) fn insert(&mut self, key: Vec<u8>, first_offset: i64) {
        self.keys.entry(key).or_insert(first_offset);
    }

    /// Number of parked keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is parked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Parked keys of one topic and group, by partition.
#[derive(Debug, Clone, Default)]
pub struct ParkedIndex {
    by_partition: HashMap<i32, ParkedKeys>,
}

impl ParkedIndex {
    /// The parked keys of one partition.
    pub fn for_partition(&self, partition: i32) -> ParkedKeys {
        self.by_partition
            .get(&partition)
            .cloned()
            .unwrap_or_default()
    }

    /// Every parked marker, for tools.
    pub fn total(&self) -> usize {
        self.by_partition.values().map(ParkedKeys::len).sum()
    }
}

/// Reads `<topic>.parked` to its end and returns the keys still parked for `group`.
pub(crate) fn load_parked_keys_blocking(
    settings: &KafkaSettings,
    topic: &str,
    group: &str,
) -> Result<ParkedIndex, BusError> {
    let mut last_err = None;
    for attempt in 0..5u32 {
        match crate::reader::read_to_end_blocking(
            settings,
            &parked_topic(topic),
            1,
            Duration::from_secs(30),
        ) {
            Ok(records) => return Ok(index_parked(&records, group)),
            Err(e) => {
                tracing::warn!(attempt, error = %e, "loading parked keys failed");
                last_err = Some(e);
                std::thread::sleep(Duration::from_millis(200 * u64::from(attempt + 1)));
            }
        }
    }
    Err(last_err.unwrap_or_else(|| BusError::Internal("loading parked keys".into())))
}

/// Builds the index from the records of a parked topic (later records win, tombstones remove).
pub fn index_parked(records: &[InboundRecord], group: &str) -> ParkedIndex {
    let prefix = parked_record_key(group, b"");
    let mut latest: HashMap<Vec<u8>, Option<ParkedKeyRecord>> = HashMap::new();
    for r in records {
        let Some(k) = &r.key else { continue };
        if !k.starts_with(&prefix) {
            continue;
        }
        let value = r
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_slice::<ParkedKeyRecord>(p).ok());
        latest.insert(k.clone(), value);
    }
    let mut idx = ParkedIndex::default();
    for rec in latest.into_values().flatten() {
        if let Some(key) = unhex(&rec.key_hex) {
            idx.by_partition
                .entry(rec.partition)
                .or_default()
                .insert(key, rec.first_offset);
        }
    }
    idx
}

fn header<'a>(k: &'a str, v: &'a [u8]) -> Header<'a, &'a [u8]> {
    Header {
        key: k,
        value: Some(v),
    }
}

/// Writes one record to `<topic>.dlq`: original key, value and headers, then the `dlq.*` ones.
pub(crate) async fn send_to_dlq(
    producer: &EventProducer,
    record: &InboundRecord,
    group: &str,
    class: ErrorClass,
    reason: &str,
    parked_behind: Option<i64>,
) -> Result<Delivered, BusError> {
    let partition = record.partition.to_string();
    let offset = record.offset.to_string();
    let time = chrono::Utc::now().to_rfc3339();
    let mut h: OwnedHeaders = record
        .raw_headers_kafka()
        .insert(header(H_SOURCE_TOPIC, record.topic.as_bytes()))
        .insert(header(H_SOURCE_PARTITION, partition.as_bytes()))
        .insert(header(H_SOURCE_OFFSET, offset.as_bytes()))
        .insert(header(H_GROUP, group.as_bytes()))
        .insert(header(H_ERROR_CLASS, class.as_str().as_bytes()))
        .insert(header(H_ERROR_MESSAGE, reason.as_bytes()))
        .insert(header(H_TIME, time.as_bytes()));
    let behind;
    if let Some(b) = parked_behind {
        behind = b.to_string();
        h = h.insert(header(H_PARKED_BEHIND, behind.as_bytes()));
    }
    producer
        .send_raw(
            &dlq_topic(&record.topic),
            record.key.as_deref(),
            record.payload.as_deref(),
            h,
        )
        .await
}

/// Records that `key` is parked for `group`.
pub(crate) async fn park_key(
    producer: &EventProducer,
    record: &InboundRecord,
    key: &[u8],
    group: &str,
    reason: &str,
    dlq_at: Delivered,
) -> Result<Delivered, BusError> {
    let value = ParkedKeyRecord {
        group: group.to_owned(),
        topic: record.topic.clone(),
        partition: record.partition,
        key_hex: hex(key),
        first_offset: record.offset,
        dlq_partition: dlq_at.partition,
        dlq_offset: dlq_at.offset,
        reason: reason.to_owned(),
        parked_at: chrono::Utc::now().to_rfc3339(),
    };
    let payload = serde_json::to_vec(&value).map_err(|e| BusError::Internal(e.to_string()))?;
    producer
        .send_raw(
            &parked_topic(&record.topic),
            Some(&parked_record_key(group, key)),
            Some(&payload),
            OwnedHeaders::new(),
        )
        .await
}

/// Un-parks `key` for `group` on `topic` (a tombstone in `<topic>.parked`). Consumers pick the
/// change up at their next assignment.
pub async fn unpark_key(
    producer: &EventProducer,
    topic: &str,
    group: &str,
    key: &[u8],
) -> Result<Delivered, BusError> {
    producer
        .send_raw(
            &parked_topic(topic),
            Some(&parked_record_key(group, key)),
            None,
            OwnedHeaders::new(),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::EventHeaders;

    fn rec(key: &[u8], payload: Option<Vec<u8>>) -> InboundRecord {
        InboundRecord {
            topic: "t.parked".into(),
            partition: 0,
            offset: 0,
            key: Some(key.to_vec()),
            payload,
            timestamp_ms: None,
            headers: EventHeaders::default(),
            raw_headers: vec![],
        }
    }

    fn marker(group: &str, key: &[u8], partition: i32, first: i64) -> Vec<u8> {
        serde_json::to_vec(&ParkedKeyRecord {
            group: group.into(),
            topic: "t".into(),
            partition,
            key_hex: hex(key),
            first_offset: first,
            dlq_partition: 0,
            dlq_offset: 0,
            reason: "bad".into(),
            parked_at: "now".into(),
        })
        .expect("json")
    }

    #[test]
    fn hex_round_trip() {
        let k = b"\x00order-1\xff";
        assert_eq!(unhex(&hex(k)).as_deref(), Some(&k[..]));
        assert_eq!(unhex("abc"), None);
    }

    #[test]
    fn index_keeps_latest_per_key_and_honours_tombstones_and_group() {
        let records = vec![
            rec(&parked_record_key("g", b"a"), Some(marker("g", b"a", 1, 5))),
            rec(&parked_record_key("g", b"b"), Some(marker("g", b"b", 2, 7))),
            rec(
                &parked_record_key("other", b"c"),
                Some(marker("other", b"c", 1, 9)),
            ),
            rec(&parked_record_key("g", b"b"), None),
        ];
        let idx = index_parked(&records, "g");
        assert_eq!(idx.total(), 1);
        assert_eq!(idx.for_partition(1).first_offset(b"a"), Some(5));
        assert_eq!(idx.for_partition(2).first_offset(b"b"), None);
    }
}

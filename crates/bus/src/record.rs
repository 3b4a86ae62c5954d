//! Records as handlers see them (inbound) and as they ask the bus to publish them (outbound).

use rdkafka::message::{Headers, Message, OwnedHeaders, OwnedMessage};

use crate::headers::EventHeaders;

/// One consumed record with its coordinates and parsed standard headers.
#[derive(Debug, Clone)]
pub struct InboundRecord {
    /// Source topic.
    pub topic: String,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
    /// Record key (the aggregate id), if any.
    pub key: Option<Vec<u8>>,
    /// Record value; `None` for a tombstone.
    pub payload: Option<Vec<u8>>,
    /// Producer timestamp in milliseconds since the epoch, if any.
    pub timestamp_ms: Option<i64>,
    /// The standard headers.
    pub headers: EventHeaders,
    /// Every header as received, in order (standard ones included).
    pub raw_headers: Vec<(String, Option<Vec<u8>>)>,
}

impl InboundRecord {
    pub(crate) fn from_owned(m: &OwnedMessage) -> Self {
        let raw_headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|x| (x.key.to_owned(), x.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().map(<[u8]>::to_vec),
            timestamp_ms: m.timestamp().to_millis(),
            headers: EventHeaders::from_kafka(m.headers()),
            raw_headers,
        }
    }

    /// The key as UTF-8 text, if it is.
    pub fn key_str(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The value of a header by name (the last one wins).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.raw_headers
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    pub(crate) fn raw_headers_kafka(&self) -> OwnedHeaders {
        let mut h = OwnedHeaders::new_with_capacity(self.raw_headers.len() + 8);
        for (k, v) in &self.raw_headers {
            h = h.insert(rdkafka::message::Header {
                key: k.as_str(),
                value: v.as_deref(),
            });
        }
        h
    }
}

/// A record a handler asks the bus to publish before its input offset is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRecord {
    /// Destination topic.
    pub topic: String,
    /// Key: the aggregate id, so all events of one aggregate stay in order.
    pub key: Vec<u8>,
    /// Value; `None` publishes a tombstone (compacted topics).
    pub payload: Option<Vec<u8>>,
    /// Standard headers.
    pub headers: EventHeaders,
    /// Extra headers after the standard ones.
    pub extra_headers: Vec<(String, Vec<u8>)>,
}

impl OutboundRecord {
    /// A record with the standard headers and no extra ones.
    pub fn new(
        topic: impl Into<String>,
        key: impl Into<Vec<u8>>,
        payload: impl Into<Vec<u8>>,
        headers: EventHeaders,
    ) -> Self {
        Self {
            topic: topic.into(),
            key: key.into(),
            payload: Some(payload.into()),
            headers,
            extra_headers: Vec::new(),
        }
    }

    /// Adds an extra header.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.extra_headers.push((key.into(), value.into()));
        self
    }
}

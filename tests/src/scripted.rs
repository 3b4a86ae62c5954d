//! The scripted handler of the bus tests: each record's payload chooses its behaviour.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use dsync_bus::{
    EventHeaders, Handler, HandlerError, HandlerResult, InboundRecord, OutboundRecord,
};

/// Header the scripted handler puts on each output: `<topic>/<partition>/<offset>` of its input.
pub const SOURCE_HEADER: &str = "test.source";

/// What the scripted handler saw: one entry per attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Record key.
    pub key: String,
    /// Record payload.
    pub payload: String,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
}

/// A handler that relays each record to `out_topic`, behaving as the payload says:
/// `<id>|ok`, `<id>|transient=N` (fails N times, then succeeds), `<id>|poison`, `<id>|fatal`
/// (until [`ScriptedHandler::fix`] is called), `<id>|sleep=MS`.
#[derive(Debug)]
pub struct ScriptedHandler {
    out_topic: String,
    attempts: Mutex<HashMap<(String, i32, i64), u32>>,
    seen: Mutex<Vec<Seen>>,
    durable: Mutex<Vec<(i32, i64)>>,
    fixed: AtomicBool,
}

impl ScriptedHandler {
    /// Relays to `out_topic`.
    pub fn new(out_topic: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            out_topic: out_topic.into(),
            attempts: Mutex::new(HashMap::new()),
            seen: Mutex::new(Vec::new()),
            durable: Mutex::new(Vec::new()),
            fixed: AtomicBool::new(false),
        })
    }

    /// From now on `fatal` records are processed like `ok` ones (the bug was fixed).
    pub fn fix(&self) {
        self.fixed.store(true, Ordering::SeqCst);
    }

    /// (partition, offset) of every record the bus reported finished, in call order.
    pub fn durable(&self) -> Vec<(i32, i64)> {
        self.durable
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Every attempt so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
}

/// Parses the source coordinates the scripted handler wrote on an output.
pub fn source_of(r: &InboundRecord) -> anyhow::Result<(String, i32, i64)> {
    let s = std::str::from_utf8(r.header(SOURCE_HEADER).context("no source header")?)?;
    let mut it = s.rsplitn(3, '/');
    let offset = it.next().context("offset")?.parse()?;
    let partition = it.next().context("partition")?.parse()?;
    let topic = it.next().context("topic")?.to_owned();
    Ok((topic, partition, offset))
}

/// The payload text of a record.
pub fn payload_of(r: &InboundRecord) -> String {
    String::from_utf8_lossy(r.payload.as_deref().unwrap_or_default()).into_owned()
}

impl Handler for ScriptedHandler {
    async fn handle(&self, record: &InboundRecord) -> HandlerResult {
        let payload = payload_of(record);
        let coords = (record.topic.clone(), record.partition, record.offset);
        let attempt = {
            let mut a = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
            let n = a.entry(coords).or_insert(0);
            *n += 1;
            *n
        };
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Seen {
                key: record.key_str().unwrap_or_default().to_owned(),
                payload: payload.clone(),
                partition: record.partition,
                offset: record.offset,
            });
        let action = payload.split('|').nth(1).unwrap_or("ok");
        if let Some(n) = action.strip_prefix("transient=") {
            let n: u32 = n.parse().unwrap_or(1);
            if attempt <= n {
                return Err(HandlerError::transient(format!(
                    "scripted transient {attempt}/{n}"
                )));
            }
        } else if action == "poison" {
            return Err(HandlerError::poison(
                "scripted poison: payload cannot be decoded",
            ));
        } else if action == "fatal" && !self.fixed.load(Ordering::SeqCst) {
            return Err(HandlerError::fatal("scripted fatal: invariant broken"));
        } else if let Some(ms) = action.strip_prefix("sleep=") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(1))).await;
        }
        let id = EventHeaders::deterministic_id("scripted", &record.headers.event_id);
        let out = OutboundRecord::new(
            &self.out_topic,
            record.key.clone().unwrap_or_default(),
            payload.into_bytes(),
            record.headers.child("Relayed", id),
        )
        .with_header(
            SOURCE_HEADER,
            format!("{}/{}/{}", record.topic, record.partition, record.offset),
        );
        Ok(vec![out])
    }

    fn durable(&self, record: &InboundRecord) {
        self.durable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((record.partition, record.offset));
    }
}

//! The store: the in-memory [`State`] kept in step with the schemas topic.
//!
//! Writes are proposed as operation records and answered once this instance has applied them
//! (read-your-writes); reads are served from memory. The topic is followed by a
//! [`Materializer`]: a record that is not one of this registry's operations (another
//! registry's record, a newer format) is skipped under its undecodable-record policy (WARN with
//! the offset and the reason, counted as `unknown`/`skipped` in the applied-operations metric);
//! a tombstone or a record without a key is skipped silently and counted the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use dsync_bus::reader::{Apply, Materializer, ReadFrom, ReadUntil};
use dsync_bus::{EventHeaders, EventProducer, HandlerError, InboundRecord, OutboundRecord};
use dsync_telemetry::admin::Readiness;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use crate::log::{self, Op, OpValue, Skip};
use crate::metrics::RegistryMetrics;
use crate::state::{OpOutput, State};
use crate::RegistryError;

/// Name of the readiness check that passes once the initial load is complete.
pub const READY_CHECK: &str = "schemas-log";

type Waiter = oneshot::Sender<Result<OpOutput, RegistryError>>;

/// The state, the producer that proposes operations, and the instances' bookkeeping.
#[derive(Debug)]
pub struct Store {
    state: RwLock<State>,
    producer: EventProducer,
    topic: String,
    instance: String,
    waiters: Mutex<HashMap<String, Waiter>>,
    loaded: watch::Sender<bool>,
    write_timeout: Duration,
    metrics: RegistryMetrics,
}

impl Store {
    /// A store over an empty state; [`Store::follow`] fills it.
    pub fn new(
        state: State,
        producer: EventProducer,
        topic: String,
        write_timeout: Duration,
        metrics: RegistryMetrics,
    ) -> Self {
        Self {
            state: RwLock::new(state),
            producer,
            topic,
            instance: uuid::Uuid::new_v4().to_string(),
            waiters: Mutex::new(HashMap::new()),
            loaded: watch::channel(false).0,
            write_timeout,
            metrics,
        }
    }

    /// Runs `f` on the current state (never across an await).
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether the initial load (to the end of the topic as it was at start) is complete.
    pub fn is_loaded(&self) -> bool {
        *self.loaded.borrow()
    }

    /// Waits until the initial load is complete, at most `timeout`.
    pub async fn wait_loaded(&self, timeout: Duration) -> Result<(), RegistryError> {
        if self.is_loaded() {
            return Ok(());
        }
        let mut rx = self.loaded.subscribe();
        let loaded = tokio::time::timeout(timeout, rx.wait_for(|l| *l))
            .await
            .is_ok_and(|r| r.is_ok());
        match loaded {
            true => Ok(()),
            false => Err(RegistryError::Timeout(format!(
                "the registry is still loading the {} topic",
                self.topic
            ))),
        }
    }

    /// Proposes `op` and waits until this instance applied it; returns what applying it gave
    /// (the same on every instance).
    #[tracing::instrument(skip_all, fields(op = op.kind()))]
    pub async fn submit(&self, op: Op) -> Result<OpOutput, RegistryError> {
        self.wait_loaded(self.write_timeout).await?;
        let started = Instant::now();
        let kind = op.kind();
        let op_id = uuid::Uuid::new_v4().to_string();
        let value = OpValue {
            magic: log::MAGIC,
            op,
            origin: self.instance.clone(),
            ts: chrono::Utc::now().to_rfc3339(),
        };
        let (key, payload) = log::encode(&op_id, &value);
        let (tx, rx) = oneshot::channel();
        self.lock_waiters().insert(op_id.clone(), tx);
        let record = OutboundRecord::new(
            &self.topic,
            key,
            payload,
            EventHeaders::new_root(log::EVENT_TYPE, op_id.clone()),
        );
        if let Err(e) = self.producer.send(&record).await {
            self.lock_waiters().remove(&op_id);
            return Err(RegistryError::Store(format!(
                "writing to {}: {e}",
                self.topic
            )));
        }
        let outcome = match tokio::time::timeout(self.write_timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(RegistryError::Store("the log follower stopped".into())),
            Err(_) => {
                self.lock_waiters().remove(&op_id);
                Err(RegistryError::Timeout(format!(
                    "Write to the {} topic was not applied within {:?}",
                    self.topic, self.write_timeout
                )))
            }
        };
        self.metrics
            .write_duration
            .with_label_values(&[kind])
            .observe(started.elapsed().as_secs_f64());
        outcome
    }

    fn lock_waiters(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiter>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a record that is not an operation.
    fn count_skipped(&self, record: &InboundRecord) {
        self.metrics
            .ops_applied
            .with_label_values(&["unknown", "skipped"])
            .inc();
        self.metrics.applied_offset.set(record.offset);
    }

    /// Applies one operation of the topic.
    fn apply_op(&self, record: &InboundRecord, op_id: &str, value: &OpValue) -> bool {
        let kind = value.op.kind();
        let (outcome, counts) = {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            let outcome = state.apply(&value.op);
            (outcome, state.counts())
        };
        debug!(
            offset = record.offset,
            op = kind,
            ok = outcome.is_ok(),
            "applied"
        );
        let ok = outcome.is_ok();
        self.metrics
            .ops_applied
            .with_label_values(&[kind, if ok { "ok" } else { "rejected" }])
            .inc();
        self.metrics.schemas.set(counts.0 as i64);
        self.metrics.subjects.set(counts.1 as i64);
        self.metrics.applied_offset.set(record.offset);
        if let Some(waiter) = self.lock_waiters().remove(op_id) {
            // The proposer may have given up; nothing to do then.
            let _ = waiter.send(outcome);
        }
        ok
    }

    /// A materializer following the topic from its beginning, for ever (the topic must have
    /// exactly one partition: one total order of writes).
    pub async fn follower(
        self: &Arc<Self>,
        settings: &dsync_bus::KafkaSettings,
    ) -> Result<Materializer<StoreSink>, RegistryError> {
        let sink = StoreSink {
            store: Arc::clone(self),
        };
        let follower = Materializer::start(
            settings,
            &self.topic,
            ReadFrom::Beginning,
            ReadUntil::Forever,
            sink,
        )
        .await?;
        if follower.partitions() != 1 {
            return Err(RegistryError::Config(format!(
                "the schemas topic {} has {} partitions; it must have exactly 1 (one total order of writes)",
                self.topic,
                follower.partitions()
            )));
        }
        Ok(follower)
    }

    /// Follows the topic until `stop`: applies every record in order, and marks the store
    /// loaded (and `readiness` ready) once it has applied everything before the end offset the
    /// topic had when the follower started.
    pub async fn follow(
        self: Arc<Self>,
        follower: Materializer<StoreSink>,
        readiness: Readiness,
        stop: CancellationToken,
    ) {
        let started = Instant::now();
        let end = follower.ends().get(&0).copied().unwrap_or(0);
        let progress = Arc::clone(follower.progress());
        if end > 0 {
            readiness.set(
                READY_CHECK,
                false,
                format!("loading {} (0 of {end} records)", self.topic),
            );
        }
        let run = follower.run(stop);
        tokio::pin!(run);
        let result = tokio::select! {
            biased;
            () = progress.loaded() => {
                info!(
                    topic = %self.topic,
                    records = end,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "schemas topic loaded"
                );
                readiness.set(
                    READY_CHECK,
                    true,
                    format!("loaded {end} records of {}", self.topic),
                );
                self.loaded.send_replace(true);
                run.await
            }
            r = &mut run => r,
        };
        if let Err(e) = result {
            error!(topic = %self.topic, error = %e, "following the schemas topic failed");
        }
        // Fail whoever still waits.
        self.lock_waiters().clear();
    }
}

/// The store's [`Apply`] sink: decodes operation records and applies them to the state.
#[derive(Debug)]
pub struct StoreSink {
    store: Arc<Store>,
}

impl Apply for StoreSink {
    type Value = (String, OpValue);

    async fn decode(
        &mut self,
        record: &InboundRecord,
    ) -> Result<Option<Self::Value>, HandlerError> {
        match log::decode(record.key.as_deref(), record.payload.as_deref()) {
            Ok(op) => Ok(Some(op)),
            Err(Skip::Empty) => {
                self.store.count_skipped(record);
                Ok(None)
            }
            Err(Skip::Foreign(why)) => Err(HandlerError::poison(format!(
                "a record this registry does not understand: {why}"
            ))),
        }
    }

    fn apply(&mut self, record: &InboundRecord, (op_id, value): Self::Value) -> bool {
        self.store.apply_op(record, &op_id, &value)
    }

    fn skipped(&mut self, record: &InboundRecord, _error: &HandlerError) {
        self.store.count_skipped(record);
    }
}

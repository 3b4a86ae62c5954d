//! What the API, the submissions consumer and the followers share: the master data, the order
//! history, in-process notification of outcomes, the submissions this instance is waiting for,
//! and the clients (producer, codec) with the topic names and policies.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use dsync_bus::reader::Progress;
use dsync_bus::{EventProducer, KafkaSettings};
use dsync_events::{CompactString, EventCodec};
use tokio::sync::oneshot;

use crate::handlers::submissions::Policy;
use crate::metrics::IntakeMetrics;
use crate::state::{IntakeState, MasterData, OrderRecord};
use crate::topics::Topics;
use crate::IntakeError;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// Callers waiting for the outcome of an order (in-process notification).
#[derive(Debug, Default)]
pub struct Waiters {
    map: Mutex<HashMap<CompactString, Vec<oneshot::Sender<Arc<OrderRecord>>>>>,
}

impl Waiters {
    /// Registers a waiter for `order_id`; register before checking the history, so an
    /// outcome recorded in between is not missed.
    pub fn register(&self, order_id: &str) -> oneshot::Receiver<Arc<OrderRecord>> {
        let (tx, rx) = oneshot::channel();
        lock(&self.map)
            .entry(CompactString::from(order_id))
            .or_default()
            .push(tx);
        rx
    }

    /// Drops the waiters of `order_id` that gave up.
    pub fn prune(&self, order_id: &str) {
        let mut map = lock(&self.map);
        if let Some(v) = map.get_mut(order_id) {
            v.retain(|tx| !tx.is_closed());
            if v.is_empty() {
                map.remove(order_id);
            }
        }
    }

    /// Wakes everyone waiting for the order.
    pub fn notify(&self, rec: &Arc<OrderRecord>) {
        let waiting = lock(&self.map).remove(&rec.order_id);
        for tx in waiting.into_iter().flatten() {
            let _ = tx.send(Arc::clone(rec));
        }
    }
}

/// Submissions this instance published and has no outcome for yet (`GET` answers PENDING;
/// the stuck-in-validation gauge).
#[derive(Debug, Default)]
pub struct Pending {
    map: Mutex<HashMap<CompactString, Instant>>,
}

impl Pending {
    /// Records a published submission.
    pub fn insert(&self, order_id: &str) {
        lock(&self.map)
            .entry(CompactString::from(order_id))
            .or_insert_with(Instant::now);
    }

    /// Forgets it (outcome known, or the submission could not be published).
    pub fn remove(&self, order_id: &str) {
        lock(&self.map).remove(order_id);
    }

    /// Whether `order_id` is pending.
    pub fn contains(&self, order_id: &str) -> bool {
        lock(&self.map).contains_key(order_id)
    }

    /// (pending, pending for longer than `stuck_after`).
    pub fn counts(&self, stuck_after: Duration) -> (usize, usize) {
        let map = lock(&self.map);
        let stuck = map.values().filter(|t| t.elapsed() >= stuck_after).count();
        (map.len(), stuck)
    }
}

/// The shared core of one instance.
#[derive(Debug)]
pub struct Core {
    /// Master data copy.
    pub master: RwLock<MasterData>,
    /// Order history.
    pub history: RwLock<IntakeState>,
    /// Progress of the `orders.events` follower (catch-up after assignments).
    pub history_progress: Arc<Progress>,
    /// In-process outcome notifications.
    pub waiters: Waiters,
    /// Submissions published here without an outcome yet.
    pub pending: Pending,
    /// Orders decided by the submissions consumer whose outcome the broker has not
    /// acknowledged yet: in the history (the next decision must see them) but not answered.
    unconfirmed: Mutex<HashSet<CompactString>>,
    /// Metrics.
    pub metrics: IntakeMetrics,
    /// Topic names.
    pub topics: Topics,
    /// Producer (outcomes, submissions, reports).
    pub producer: EventProducer,
    /// Event codec.
    pub codec: EventCodec,
    /// Kafka settings (readers).
    pub kafka: KafkaSettings,
    /// Validation policy.
    pub policy: Policy,
    /// Time allowed to catch up with the history.
    pub load_timeout: Duration,
    /// Start of the last completed catch-up with the history.
    catch_up: tokio::sync::Mutex<Option<Instant>>,
}

impl Core {
    /// A core with empty state.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        metrics: IntakeMetrics,
        topics: Topics,
        producer: EventProducer,
        codec: EventCodec,
        kafka: KafkaSettings,
        policy: Policy,
        load_timeout: Duration,
        history_progress: Arc<Progress>,
    ) -> Self {
        Self {
            master: RwLock::default(),
            history: RwLock::default(),
            history_progress,
            waiters: Waiters::default(),
            pending: Pending::default(),
            unconfirmed: Mutex::default(),
            metrics,
            topics,
            producer,
            codec,
            kafka,
            policy,
            load_timeout,
            catch_up: tokio::sync::Mutex::new(None),
        }
    }

    fn insert(&self, rec: OrderRecord) -> (Arc<OrderRecord>, bool) {
        let (held, new, len) = {
            let mut h = write(&self.history);
            let (held, new) = h.record(rec);
            (held, new, h.len())
        };
        self.metrics
            .known_orders
            .set(i64::try_from(len).unwrap_or(i64::MAX));
        (held, new)
    }

    /// Records an outcome read from `orders.events` (durable; the first one of an order
    /// stands), then wakes its waiters.
    pub fn record_outcome(&self, rec: OrderRecord) -> Arc<OrderRecord> {
        let (held, _) = self.insert(rec);
        self.confirm(&held);
        held
    }

    /// Records an outcome just decided, before the broker acknowledged it: later decisions
    /// see it at once; callers are answered by [`Core::confirm`] once it is durable.
    pub fn record_decided(&self, rec: OrderRecord) -> Arc<OrderRecord> {
        let (held, new) = self.insert(rec);
        if new {
            lock(&self.unconfirmed).insert(held.order_id.clone());
        }
        held
    }

    /// The outcome is on the broker: answer whoever waits for it.
    pub fn confirm(&self, rec: &Arc<OrderRecord>) {
        lock(&self.unconfirmed).remove(&rec.order_id);
        self.announce(rec);
    }

    /// Whether the order was decided here and its outcome is still in flight to the broker.
    pub fn in_flight(&self, order_id: &str) -> bool {
        lock(&self.unconfirmed).contains(order_id)
    }

    /// Wakes the waiters of a known outcome.
    pub fn announce(&self, rec: &Arc<OrderRecord>) {
        self.pending.remove(&rec.order_id);
        self.waiters.notify(rec);
    }

    /// The outcome of an order, if known and durable (an outcome still in flight to the broker
    /// is not reported yet).
    pub fn order(&self, order_id: &str) -> Option<Arc<OrderRecord>> {
        let rec = read(&self.history).order(order_id)?;
        if lock(&self.unconfirmed).contains(order_id) {
            return None;
        }
        Some(rec)
    }

    /// Waits until the history holds every outcome written before `requested_at` (the
    /// assignment of a submissions partition): reads the end offsets of `orders.events` and
    /// waits for the follower to pass them. One catch-up serves every partition assigned
    /// before it started.
    pub async fn catch_up_since(&self, requested_at: Instant) -> Result<(), IntakeError> {
        let mut last = self.catch_up.lock().await;
        if last.is_some_and(|t| t >= requested_at) {
            return Ok(());
        }
        let started = Instant::now();
        let result = self
            .history_progress
            .wait_caught_up_now(&self.kafka, self.load_timeout)
            .await;
        self.metrics
            .catch_ups
            .with_label_values(&[if result.is_ok() { "ok" } else { "failed" }])
            .inc();
        result?;
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "caught up with the order history"
        );
        *last = Some(started);
        Ok(())
    }
}

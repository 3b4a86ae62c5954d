//! The consumer loop every service runs.
//!
//! * One poll thread owns the Kafka consumer; records are handed to one worker task per
//!   partition, so partitions are processed concurrently and order is kept within a partition.
//! * A record's offset is stored only after the handler returned and every output it asked for
//!   was acknowledged by the broker; stored offsets are committed periodically, on revoke and on
//!   shutdown (`enable.auto.commit` is off).
//! * Rebalance: on revoke, the revoked partitions' workers finish the record in hand (queued
//!   records are abandoned, retries stop), their offsets are committed synchronously and only
//!   then does the revoke return, so the next owner starts exactly after the last processed
//!   record. A worker stuck past the deadline is aborted and its record is left uncommitted.
//! * Failure classes: transient -> retried in place with capped exponential backoff (later
//!   records of the partition wait, so a key is never reordered); poison -> `<topic>.dlq` with the
//!   original key, value and headers plus the source coordinates and reason; fatal -> the loop
//!   stops, nothing past the failing record is committed, and `run` returns the error.
//! * Poison policy `park-key`: once a key has a dead-lettered record, its later records follow
//!   it into the dead-letter topic in order. Parked keys are recorded in the compacted topic
//!   `<topic>.parked` (so they survive restarts and rebalances; the replay tool re-drives them
//!   and clears the marker with a tombstone).
//! * Pipelining (`max_in_flight` > 1): a worker hands a record's outputs to the producer and
//!   goes on with the next record while the broker acknowledges them; acknowledgements are
//!   settled in offset order ([`Handler::durable`], then the offset is stored), so the commit
//!   rule is unchanged. A delivery that fails after later records were handled is fatal (the
//!   handler's state is ahead of the log; a restart rebuilds it from the log).
//! * Local delivery ([`LocalDelivery`]): a record this process produced to a topic it consumes
//!   goes straight to its own worker when it is the next offset of a partition this member
//!   owns, instead of waiting for the fetch; the fetched copy is then dropped as already seen.
//!   Same single writer, same order, less latency.
//! * Shutdown (SIGTERM/SIGINT through the caller's token): stop fetching, let each worker finish
//!   the record in hand within the deadline (queued records are abandoned, uncommitted), commit
//!   exactly what was processed, leave the group.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, Instant};

use dsync_telemetry::admin::Readiness;
use futures::stream::{FuturesOrdered, StreamExt};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaResult;
use rdkafka::message::{Message, OwnedMessage, Timestamp};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, info_span, warn, Instrument};

use crate::admin::{ensure_topics, topic_partitions, TopicSpec};
use crate::dlq::{self, ParkedKeys};
use crate::error::{ErrorClass, HandlerError};
use crate::group_probe;
use crate::membership::{self, Action, Health, Problem, Watchdog, WatchdogConfig};
use crate::metrics::BusMetrics;
use crate::producer::{Delivered, EventProducer};
use crate::quirks;
use crate::record::{InboundRecord, OutboundRecord};
use crate::{BusError, KafkaSettings};

/// What a handler returns: the records to publish before the input offset is committed.
pub type HandlerResult = Result<Vec<OutboundRecord>, HandlerError>;

/// Business logic over one record. Must be idempotent: a record may be delivered again after a
/// crash, a rebalance or a replay.
pub trait Handler: Send + Sync + 'static {
    /// Processes one record and returns the outputs to publish (possibly none).
    fn handle(&self, record: &InboundRecord) -> impl Future<Output = HandlerResult> + Send;

    /// Called on the poll thread when partitions are assigned, before any of their records is
    /// handed to [`Handler::handle`]. Handlers that keep per-partition state drop any cached
    /// copy here (another member may have changed it meanwhile) and restore it. Must not block
    /// for long: spawn the work and let `handle` wait for it.
    fn partitions_assigned(&self, _partitions: &[(String, i32)]) {}

    /// Called on the poll thread after revoked partitions' workers finished (or were abandoned)
    /// and their offsets were committed, and on shutdown; the partitions' records will be
    /// handled elsewhere from now on.
    fn partitions_revoked(&self, _partitions: &[(String, i32)]) {}

    /// Called once a record is finished: the outputs [`Handler::handle`] returned for it were
    /// acknowledged by the broker (or it was dead-lettered). Called in offset order per
    /// partition, before the offset is stored. Handlers that pipeline (state updated in
    /// `handle`, outputs still in flight) announce results here.
    fn durable(&self, _record: &InboundRecord) {}
}

/// What to do with a poison record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PoisonPolicy {
    /// Dead-letter the record and go on (independent events).
    Skip,
    /// Dead-letter the record and every later record of the same key (aggregate streams).
    ParkKey,
}

/// Backoff for transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First delay.
    pub initial: Duration,
    /// Cap on the delay.
    pub max: Duration,
    /// Give up after this many attempts and stop as fatal (an operator must act); `None` retries
    /// until the record succeeds, the partition is revoked or the service stops.
    pub max_attempts: Option<u32>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `attempt` (1-based): exponential, capped, with +-20 % jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let base = exp.min(self.max);
        let jitter = rand::random_range(0.8..1.2);
        base.mul_f64(jitter).min(self.max)
    }
}

/// Where a group with no committed offset starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum StartFrom {
    /// From the oldest record (services: nothing is missed).
    #[default]
    Earliest,
    /// From new records only.
    Latest,
}

/// Configuration of one consumer loop.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Consumer group id.
    pub group_id: String,
    /// Topics to subscribe to.
    pub topics: Vec<String>,
    /// Poison policy.
    pub poison_policy: PoisonPolicy,
    /// Transient failure backoff.
    pub retry: RetryPolicy,
    /// Where a new group starts.
    pub start_from: StartFrom,
    /// Time given to workers to finish the record in hand on shutdown.
    pub shutdown_deadline: Duration,
    /// Time given to a revoked partition's worker to finish its record.
    pub revoke_deadline: Duration,
    /// How often stored offsets are committed.
    pub commit_interval: Duration,
    /// Records buffered per partition before the partition is paused.
    pub partition_queue: usize,
    /// Records per partition whose outputs may be awaiting the broker's acknowledgement at
    /// once. 1 (the default) waits for each record's outputs before the next record and
    /// retries a failed delivery in place; more pipelines (see the module docs).
    pub max_in_flight: usize,
}

impl ConsumerConfig {
    /// Defaults for a group reading `topics`.
    pub fn new(group_id: impl Into<String>, topics: &[&str]) -> Self {
        Self {
            group_id: group_id.into(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            poison_policy: PoisonPolicy::Skip,
            retry: RetryPolicy::default(),
            start_from: StartFrom::Earliest,
            shutdown_deadline: Duration::from_secs(20),
            revoke_deadline: Duration::from_secs(20),
            commit_interval: Duration::from_millis(200),
            partition_queue: 2048,
            max_in_flight: 1,
        }
    }

    /// Sets how many records per partition may have outputs in flight (see
    /// [`ConsumerConfig::max_in_flight`]).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Sets the poison policy.
    pub fn poison_policy(mut self, p: PoisonPolicy) -> Self {
        self.poison_policy = p;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.retry = r;
        self
    }
}

type Tp = (String, i32);

/// How long the poll thread waits for a full worker before pausing its partition.
const BACKPRESSURE_WAIT: Duration = Duration::from_millis(250);

/// Where an assigned partition starts: the fetch offset, and the first offset to process
/// (records below it were already committed and are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Start {
    fetch_from: i64,
    process_from: i64,
    committed: Option<i64>,
}

#[derive(Debug)]
struct PartitionOffsets {
    generation: u64,
    /// Next offset to consume (last processed + 1), once something was processed.
    next: Option<i64>,
    committed: Option<i64>,
}

struct WorkerHandle {
    tx: mpsc::Sender<OwnedMessage>,
    abandon: CancellationToken,
    done: std_mpsc::Receiver<()>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared<H> {
    settings: KafkaSettings,
    config: ConsumerConfig,
    handler: Arc<H>,
    producer: EventProducer,
    metrics: BusMetrics,
    runtime: tokio::runtime::Handle,
    readiness: Option<Readiness>,
    generation: AtomicU64,
    offsets: Mutex<HashMap<Tp, PartitionOffsets>>,
    workers: Mutex<HashMap<Tp, WorkerHandle>>,
    flows: Mutex<HashMap<Tp, Flow>>,
    high_watermarks: Mutex<HashMap<Tp, i64>>,
    partition_counts: HashMap<String, i32>,
    fatal: Mutex<Option<BusError>>,
    stop: CancellationToken,
    /// This member's `client.id` (unique per loop, so the member is found in the group's
    /// description: member ids start with it).
    client_id: String,
    /// Whether the membership watchdog vouches for readiness (else an assignment does).
    watched: bool,
    /// When this member last finished an assignment or revocation.
    last_rebalance: Mutex<Instant>,
    /// Whether partitions were ever assigned (an empty assignment counts).
    assigned_once: std::sync::atomic::AtomicBool,
    /// A rejoin the watchdog asked for, carried out by the poll thread.
    rejoin: Mutex<Option<Problem>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct LoopContext<H: Handler> {
    shared: Arc<Shared<H>>,
}

impl<H: Handler> ClientContext for LoopContext<H> {
    fn stats(&self, statistics: Statistics) {
        let mut hw = lock(&self.shared.high_watermarks);
        for (topic, t) in statistics.topics {
            for (p, s) in t.partitions {
                if p >= 0 && s.hi_offset >= 0 {
                    hw.insert((topic.clone(), p), s.hi_offset);
                }
            }
        }
    }
}

impl<H: Handler> ConsumerContext for LoopContext<H> {
    /// Replaces the default rebalance so the loop controls where each assigned partition starts
    /// (see [`crate::quirks`]) and finishes revoked work before the revoke returns.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let tps: Vec<Tp> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect();
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                info!(group = %self.shared.config.group_id, partitions = ?tps, "partitions assigned");
                let starts = match self.shared.resolve_starts(consumer, tpl) {
                    Ok(s) => s,
                    Err(e) => {
                        error!(error = %e, "cannot position the assigned partitions");
                        self.shared.set_fatal(e);
                        HashMap::new()
                    }
                };
                for (tp, start) in &starts {
                    let _ = tpl.set_partition_offset(&tp.0, tp.1, Offset::Offset(start.fetch_from));
                }
                let res = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                if let Err(e) = res {
                    error!(error = %e, "assign failed");
                    self.shared.set_fatal(BusError::kafka("assign", e));
                    return;
                }
                self.shared.handler.partitions_assigned(&tps);
                if let Err(e) = self.shared.start_partitions(&tps, &starts) {
                    error!(error = %e, "cannot start assigned partitions");
                    self.shared.set_fatal(e);
                    return;
                }
                self.shared.rebalanced();
                self.shared
                    .assigned_once
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                if let Some(r) = &self.shared.readiness {
                    if self.shared.watched {
                        r.set(
                            &self.shared.readiness_name(),
                            false,
                            format!(
                                "{} partitions assigned; checking the group with its coordinator",
                                tps.len()
                            ),
                        );
                    } else {
                        r.set(
                            &self.shared.readiness_name(),
                            true,
                            format!("{} partitions assigned", tps.len()),
                        );
                    }
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                info!(group = %self.shared.config.group_id, partitions = ?tps, lost = consumer.assignment_lost(), "partitions revoked");
                self.shared
                    .retire_partitions(consumer, &tps, self.shared.config.revoke_deadline);
                self.shared.handler.partitions_revoked(&tps);
                self.shared.rebalanced();
                if let Some(r) = &self.shared.readiness {
                    r.set(&self.shared.readiness_name(), false, "rebalancing");
                }
                let res = if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                if let Err(e) = res {
                    warn!(error = %e, "unassign failed");
                }
            }
            other => {
                warn!(error = ?other, "rebalance error; dropping the assignment");
                let tps: Vec<Tp> = lock(&self.shared.workers).keys().cloned().collect();
                self.shared
                    .retire_partitions(consumer, &tps, self.shared.config.revoke_deadline);
                self.shared.handler.partitions_revoked(&tps);
                let _ = consumer.unassign();
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => {
                let mut map = lock(&self.shared.offsets);
                for e in offsets.elements() {
                    if let (Some(o), Some(entry)) = (
                        e.offset().to_raw(),
                        map.get_mut(&(e.topic().to_owned(), e.partition())),
                    ) {
                        entry.committed = Some(entry.committed.map_or(o, |c| c.max(o)));
                    }
                }
            }
            Err(e) => warn!(error = %e, "offset commit failed; will retry"),
        }
    }
}

impl<H: Handler> Shared<H> {
    fn readiness_name(&self) -> String {
        format!("consumer:{}", self.config.group_id)
    }

    fn rebalanced(&self) {
        *lock(&self.last_rebalance) = Instant::now();
        let owned = lock(&self.workers).len();
        self.metrics
            .partitions_owned
            .with_label_values(&[self.config.group_id.as_str()])
            .set(owned as i64);
    }

    /// The partitions this member owns now.
    fn owned(&self) -> HashSet<Tp> {
        lock(&self.workers).keys().cloned().collect()
    }

    fn set_fatal(&self, e: BusError) {
        let mut f = lock(&self.fatal);
        if f.is_none() {
            *f = Some(e);
        }
        self.stop.cancel();
    }

    /// Committed offsets of the assigned partitions, and where to fetch from so the broker
    /// answers with the record at the committed offset.
    fn resolve_starts<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        tpl: &TopicPartitionList,
    ) -> Result<HashMap<Tp, Start>, BusError> {
        let committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(15))
            .map_err(|e| BusError::kafka("reading committed offsets", e))?;
        let mut resume = Vec::new();
        let mut fresh = Vec::new();
        for e in committed.elements() {
            let tp = (e.topic().to_owned(), e.partition());
            match e.offset() {
                Offset::Offset(c) if c >= 0 => resume.push((tp, c)),
                _ => fresh.push(tp),
            }
        }
        let mut out = HashMap::new();
        for (tp, fetch_from) in
            quirks::aligned_starts_blocking(&self.settings, &resume, Duration::from_millis(300))?
        {
            let c = resume
                .iter()
                .find(|(t, _)| *t == tp)
                .map_or(fetch_from, |(_, c)| *c);
            out.insert(
                tp,
                Start {
                    fetch_from,
                    process_from: c,
                    committed: Some(c),
                },
            );
        }
        let fresh_start = match self.config.start_from {
            StartFrom::Earliest => fresh.iter().map(|tp| (tp.clone(), 0)).collect(),
            StartFrom::Latest => {
                quirks::high_watermarks_blocking(&self.settings, &fresh, Duration::from_secs(15))?
            }
        };
        for (tp, o) in fresh_start {
            out.insert(
                tp,
                Start {
                    fetch_from: o,
                    process_from: o,
                    committed: None,
                },
            );
        }
        Ok(out)
    }

    /// Creates a worker (and offset slot) for every newly assigned partition.
    fn start_partitions(
        self: &Arc<Self>,
        tps: &[Tp],
        starts: &HashMap<Tp, Start>,
    ) -> Result<(), BusError> {
        let parked = if self.config.poison_policy == PoisonPolicy::ParkKey && !tps.is_empty() {
            let mut all = HashMap::new();
            for topic in tps.iter().map(|(t, _)| t).collect::<HashSet<_>>() {
                let loaded =
                    dlq::load_parked_keys_blocking(&self.settings, topic, &self.config.group_id)?;
                all.insert(topic.clone(), loaded);
            }
            all
        } else {
            HashMap::new()
        };
        // Lock order everywhere: flows, then workers, then offsets (local delivery takes flows
        // and workers from other threads).
        let mut flows = lock(&self.flows);
        let mut workers = lock(&self.workers);
        let mut offsets = lock(&self.offsets);
        for tp in tps {
            if workers.contains_key(tp) {
                continue;
            }
            let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
            let start = starts.get(tp).copied();
            flows.insert(
                tp.clone(),
                Flow {
                    next_expected: start.map_or(0, |s| s.process_from),
                    stash: VecDeque::new(),
                    paused: false,
                    ahead: BTreeMap::new(),
                },
            );
            offsets.insert(
                tp.clone(),
                PartitionOffsets {
                    generation,
                    next: None,
                    committed: start.and_then(|s| s.committed),
                },
            );
            let parked_keys = parked
                .get(&tp.0)
                .map(|p| p.for_partition(tp.1))
                .unwrap_or_default();
            let (tx, rx) = mpsc::channel(self.config.partition_queue.max(1));
            let (done_tx, done_rx) = std_mpsc::channel();
            let abandon = CancellationToken::new();
            let worker = PartitionWorker {
                shared: Arc::clone(self),
                tp: tp.clone(),
                generation,
                abandon: abandon.clone(),
                parked: parked_keys,
                process_from: start.map_or(0, |s| s.process_from),
                _done: done_tx,
            };
            let task = self.runtime.spawn(worker.run(rx));
            workers.insert(
                tp.clone(),
                WorkerHandle {
                    tx,
                    abandon,
                    done: done_rx,
                    task,
                },
            );
        }
        Ok(())
    }

    /// Stops the workers of `tps`: each finishes the record in hand (within `grace`), queued
    /// records are abandoned (they were not processed, so they are not committed and the next
    /// owner fetches them again); then commits their offsets synchronously and forgets them.
    fn retire_partitions<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        tps: &[Tp],
        grace: Duration,
    ) {
        let deadline = Instant::now() + grace;
        let handles: Vec<(Tp, WorkerHandle)> = {
            let mut workers = lock(&self.workers);
            tps.iter()
                .filter_map(|tp| workers.remove(tp).map(|h| (tp.clone(), h)))
                .collect()
        };
        {
            let mut flows = lock(&self.flows);
            for tp in tps {
                flows.remove(tp);
            }
        }
        let mut waiting = Vec::new();
        for (tp, h) in handles {
            h.abandon.cancel();
            drop(h.tx);
            waiting.push((tp, h.abandon, h.done, h.task));
        }
        for (tp, abandon, done, task) in waiting {
            let left = deadline.saturating_duration_since(Instant::now());
            match done.recv_timeout(left) {
                Ok(()) | Err(std_mpsc::RecvTimeoutError::Disconnected) => {}
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    abandon.cancel();
                    // Give the record in hand a moment to finish its outputs after the abandon.
                    if done.recv_timeout(Duration::from_secs(2))
                        == Err(std_mpsc::RecvTimeoutError::Timeout)
                    {
                        warn!(topic = %tp.0, partition = tp.1, "worker did not finish in time; abandoning its record (it stays uncommitted)");
                        // Forget the slot first so a late store from the aborted task is ignored.
                        let resume_at = lock(&self.offsets)
                            .remove(&tp)
                            .and_then(|e| e.next.or(e.committed))
                            .unwrap_or(-1);
                        task.abort();
                        if self.config.max_in_flight > 1 {
                            // Pipelined: records whose outputs were never confirmed are in the
                            // handler's state; only a restart from the log is safe.
                            error!(topic = %tp.0, partition = tp.1, "pipelined outputs unconfirmed at the deadline; stopping");
                            self.set_fatal(BusError::Fatal {
                                topic: tp.0.clone(),
                                partition: tp.1,
                                offset: resume_at,
                                message: "pipelined outputs not acknowledged within the deadline"
                                    .into(),
                            });
                        }
                    }
                }
            }
        }
        let mut tpl = TopicPartitionList::new();
        {
            let mut offsets = lock(&self.offsets);
            for tp in tps {
                if let Some(PartitionOffsets {
                    next: Some(n),
                    committed,
                    ..
                }) = offsets.remove(tp)
                {
                    if committed != Some(n) {
                        let _ = tpl.add_partition_offset(&tp.0, tp.1, Offset::Offset(n));
                    }
                }
                self.metrics
                    .lag
                    .with_label_values(&[tp.0.as_str(), &tp.1.to_string()])
                    .set(0);
            }
        }
        if tpl.count() > 0 {
            match consumer.commit(&tpl, CommitMode::Sync) {
                Ok(()) => debug!(offsets = ?tpl, "committed on retire"),
                Err(e) => {
                    warn!(error = %e, "commit of retired partitions failed; their last records will be delivered again")
                }
            }
        }
    }

    fn store_offset(&self, tp: &Tp, generation: u64, next: i64) {
        let mut offsets = lock(&self.offsets);
        if let Some(e) = offsets.get_mut(tp) {
            if e.generation == generation {
                e.next = Some(next);
            }
        }
    }

    fn commit_async<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
        let mut tpl = TopicPartitionList::new();
        {
            let offsets = lock(&self.offsets);
            for ((t, p), e) in offsets.iter() {
                if let Some(n) = e.next {
                    if e.committed.is_none_or(|c| c < n) {
                        let _ = tpl.add_partition_offset(t, *p, Offset::Offset(n));
                    }
                }
            }
        }
        if tpl.count() > 0 {
            if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                warn!(error = %e, "async commit could not be sent");
            }
        }
    }

    fn update_lag(&self) {
        let hw = lock(&self.high_watermarks);
        let offsets = lock(&self.offsets);
        for (tp, e) in offsets.iter() {
            if let (Some(h), Some(n)) = (hw.get(tp), e.next.or(e.committed)) {
                self.metrics
                    .lag
                    .with_label_values(&[tp.0.as_str(), &tp.1.to_string()])
                    .set((h - n).max(0));
            }
        }
    }

    /// Hands a fetched record to its partition's worker. When the worker's buffer is full the
    /// record is stashed and the partition paused; records below the next expected offset are
    /// re-fetched duplicates and are dropped.
    fn route<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>, m: OwnedMessage) {
        let tp = (m.topic().to_owned(), m.partition());
        let offset = m.offset();
        let mut flows = lock(&self.flows);
        let Some(flow) = flows.get_mut(&tp) else {
            debug!(topic = %tp.0, partition = tp.1, "record for an unassigned partition dropped (it will be fetched again)");
            return;
        };
        if offset < flow.next_expected {
            return;
        }
        flow.next_expected = offset + 1;
        if flow.paused || !flow.stash.is_empty() {
            flow.stash.push_back(m);
            return;
        }
        let workers = lock(&self.workers);
        let Some(w) = workers.get(&tp) else { return };
        flow.prune_ahead();
        // A worker that is momentarily behind gets a short wait (rebalance callbacks are only
        // delayed by it); pausing is for workers that stay behind, because resuming a paused
        // partition needs a batch-aligned seek.
        let mut m = m;
        let wait_until = Instant::now() + BACKPRESSURE_WAIT;
        let sent = loop {
            match w.tx.try_send(m) {
                Ok(()) => break Ok(()),
                Err(mpsc::error::TrySendError::Full(back)) if Instant::now() < wait_until => {
                    m = back;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(e) => break Err(e),
            }
        };
        match sent {
            Ok(()) => flow.release_ahead(&w.tx),
            Err(mpsc::error::TrySendError::Full(m)) => {
                flow.stash.push_back(m);
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition(&tp.0, tp.1);
                match consumer.pause(&tpl) {
                    Ok(()) => flow.paused = true,
                    Err(e) => warn!(error = %e, "pause failed"),
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Local delivery of a record this process produced (see [`LocalDelivery`]): handed to the
    /// partition's worker when it is the next offset and nothing is stashed; kept aside
    /// briefly when it is a little ahead (an earlier record's delivery report is still on its
    /// way); otherwise left to the fetch.
    fn inject(&self, m: OwnedMessage) -> bool {
        let tp = (m.topic().to_owned(), m.partition());
        let offset = m.offset();
        let result = {
            let mut flows = lock(&self.flows);
            let workers = lock(&self.workers);
            match (flows.get_mut(&tp), workers.get(&tp)) {
                (Some(flow), Some(w))
                    if !flow.paused && flow.stash.is_empty() && offset >= flow.next_expected =>
                {
                    if offset > flow.next_expected {
                        if flow.ahead.len() < MAX_AHEAD {
                            flow.ahead.insert(offset, m);
                            "ahead"
                        } else {
                            "fetched"
                        }
                    } else if w.tx.try_send(m).is_ok() {
                        flow.next_expected = offset + 1;
                        flow.release_ahead(&w.tx);
                        "taken"
                    } else {
                        "fetched"
                    }
                }
                _ => "fetched",
            }
        };
        self.metrics
            .local_deliveries
            .with_label_values(&[tp.0.as_str(), result])
            .inc();
        result != "fetched"
    }

    /// Moves stashed records to workers with room; resumes a paused partition once its stash is
    /// empty and its worker has drained half its buffer. Pausing drops the client's prefetched
    /// records and a plain resume would fetch from the application position, which some brokers
    /// answer by skipping to the next batch (see [`crate::quirks`]); so the partition is first
    /// positioned at a batch-aligned offset at or before the next expected one.
    fn flush_stashed<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
        let mut to_resume = Vec::new();
        {
            let mut flows = lock(&self.flows);
            let workers = lock(&self.workers);
            for (tp, flow) in flows.iter_mut().filter(|(_, f)| f.paused) {
                let Some(w) = workers.get(tp) else { continue };
                while let Some(m) = flow.stash.pop_front() {
                    match w.tx.try_send(m) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(m)) => {
                            flow.stash.push_front(m);
                            break;
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => {
                            flow.stash.clear();
                            break;
                        }
                    }
                }
                if flow.stash.is_empty() && w.tx.capacity() * 2 >= w.tx.max_capacity() {
                    to_resume.push((tp.clone(), flow.next_expected));
                }
            }
        }
        if to_resume.is_empty() {
            return;
        }
        let starts = match quirks::aligned_starts_blocking(
            &self.settings,
            &to_resume,
            Duration::from_millis(150),
        ) {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "cannot position paused partitions yet; will retry");
                return;
            }
        };
        let mut flows = lock(&self.flows);
        for (tp, next) in to_resume {
            let Some(flow) = flows.get_mut(&tp) else {
                continue;
            };
            let from = starts.get(&tp).copied().unwrap_or(next);
            if let Err(e) =
                consumer.seek(&tp.0, tp.1, Offset::Offset(from), Duration::from_secs(10))
            {
                warn!(error = %e, topic = %tp.0, partition = tp.1, "seek before resume failed; will retry");
                continue;
            }
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(&tp.0, tp.1);
            match consumer.resume(&tpl) {
                Ok(()) => flow.paused = false,
                Err(e) => warn!(error = %e, "resume failed"),
            }
        }
    }
}

/// Flow control of one assigned partition (poll thread).
#[derive(Debug)]
struct Flow {
    /// The next offset to hand to the worker; anything below is a re-fetched duplicate.
    next_expected: i64,
    /// Records fetched while the worker's buffer was full.
    stash: VecDeque<OwnedMessage>,
    /// Whether the partition is paused.
    paused: bool,
    /// Locally delivered records a little ahead of `next_expected`.
    ahead: BTreeMap<i64, OwnedMessage>,
}

/// Locally delivered records kept aside per partition, at most.
const MAX_AHEAD: usize = 256;

impl Flow {
    /// Forgets kept-aside records the fetch already passed.
    fn prune_ahead(&mut self) {
        while let Some(e) = self.ahead.first_entry() {
            if *e.key() < self.next_expected {
                e.remove();
            } else {
                break;
            }
        }
    }

    /// Hands kept-aside records that are now next in line to the worker.
    fn release_ahead(&mut self, tx: &mpsc::Sender<OwnedMessage>) {
        self.prune_ahead();
        while !self.paused && self.stash.is_empty() {
            let Some(e) = self.ahead.first_entry() else {
                break;
            };
            if *e.key() != self.next_expected {
                break;
            }
            let m = e.remove();
            if tx.try_send(m).is_err() {
                // The fetch will deliver it.
                break;
            }
            self.next_expected += 1;
        }
    }
}

/// Hands records this process produced to its own [`ConsumerLoop`] (see the module docs).
/// Cheap to clone; does nothing until the loop runs, and after it stopped.
#[derive(Clone, Default)]
pub struct LocalDelivery {
    #[allow(clippy::type_complexity)]
    slot: Arc<RwLock<Option<Arc<dyn Fn(OwnedMessage) -> bool + Send + Sync>>>>,
}

impl std::fmt::Debug for LocalDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDelivery").finish_non_exhaustive()
    }
}

impl LocalDelivery {
    /// Offers `record`, just acknowledged by the broker at `delivered`, to the local worker of
    /// its partition. Returns whether it was taken (or kept aside); when not, the fetch
    /// delivers it as usual. Either way it is processed once.
    pub fn deliver(&self, record: &OutboundRecord, delivered: &Delivered) -> bool {
        let f = self
            .slot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(f) = f else { return false };
        let m = OwnedMessage::new(
            record.payload.clone(),
            Some(record.key.clone()),
            record.topic.clone(),
            delivered
                .timestamp_ms
                .map_or(Timestamp::NotAvailable, Timestamp::CreateTime),
            delivered.partition,
            delivered.offset,
            Some(record.headers.to_kafka(&record.extra_headers)),
        );
        f(m)
    }

    fn set(&self, f: Option<Arc<dyn Fn(OwnedMessage) -> bool + Send + Sync>>) {
        *self
            .slot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = f;
    }
}

/// Outcome of one record.
enum Outcome {
    /// Finished now: settle it (hook, offset).
    Done,
    /// Outputs in flight; settled when acknowledged.
    Queued,
    Abandoned,
    Fatal,
}

/// Records whose outputs are awaiting acknowledgement, in offset order.
type InFlight = FuturesOrdered<
    Pin<Box<dyn Future<Output = (InboundRecord, Result<Vec<Delivered>, BusError>)> + Send>>,
>;

struct PartitionWorker<H: Handler> {
    shared: Arc<Shared<H>>,
    tp: Tp,
    generation: u64,
    abandon: CancellationToken,
    parked: ParkedKeys,
    /// Records below this offset were committed before the assignment; they are fetched again
    /// only to reach the batch boundary and are skipped.
    process_from: i64,
    /// Dropped when the worker ends; the poll thread waits on it.
    _done: std_mpsc::Sender<()>,
}

impl<H: Handler> PartitionWorker<H> {
    async fn run(mut self, mut rx: mpsc::Receiver<OwnedMessage>) {
        let depth = self.shared.config.max_in_flight.max(1);
        let mut inflight: InFlight = FuturesOrdered::new();
        // Taking new records; once abandoned (revoke, shutdown) or closed, the records in
        // flight are still settled so their offsets can be committed.
        let mut taking = true;
        loop {
            if !taking && inflight.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                Some((record, res)) = inflight.next(), if !inflight.is_empty() => {
                    if !self.settle(&record, res) {
                        break;
                    }
                }
                () = self.abandon.cancelled(), if taking => taking = false,
                m = rx.recv(), if taking && inflight.len() < depth => {
                    let Some(m) = m else {
                        taking = false;
                        continue;
                    };
                    if m.offset() < self.process_from {
                        continue;
                    }
                    let record = InboundRecord::from_owned(&m);
                    self.shared
                        .metrics
                        .consumed
                        .with_label_values(&[record.topic.as_str()])
                        .inc();
                    match self.process(&record, &mut inflight).await {
                        Outcome::Done => {
                            if !self.settle(&record, Ok(Vec::new())) {
                                break;
                            }
                        }
                        Outcome::Queued => {}
                        Outcome::Abandoned => taking = false,
                        Outcome::Fatal => break,
                    }
                }
                else => break,
            }
        }
    }

    /// A record is finished (outputs acknowledged, or dead-lettered): tell the handler, store
    /// its offset. A failed delivery of pipelined outputs stops the loop (false).
    fn settle(&self, record: &InboundRecord, res: Result<Vec<Delivered>, BusError>) -> bool {
        match res {
            Ok(_) => {
                self.shared.handler.durable(record);
                self.shared
                    .store_offset(&self.tp, self.generation, record.offset + 1);
                true
            }
            Err(e) => {
                error!(topic = %record.topic, partition = record.partition, offset = record.offset, error = %e,
                    "outputs of a handled record were not delivered while later records were already handled; stopping (a restart resumes from this record)");
                self.fatal(record, format!("pipelined output delivery failed: {e}"));
                false
            }
        }
    }

    /// Settles everything in flight (before work that must not overtake it).
    async fn drain(&self, inflight: &mut InFlight) -> bool {
        while let Some((record, res)) = inflight.next().await {
            if !self.settle(&record, res) {
                return false;
            }
        }
        true
    }

    async fn process(&mut self, record: &InboundRecord, inflight: &mut InFlight) -> Outcome {
        let span = info_span!(
            "consume",
            topic = %record.topic,
            partition = record.partition,
            offset = record.offset,
            event_id = %record.headers.event_id,
            event_type = %record.headers.event_type,
            correlation_id = %record.headers.correlation_id,
        );
        if let Some(tp) = &record.headers.traceparent {
            dsync_telemetry::propagation::set_parent(&span, tp);
        }
        self.process_inner(record, inflight).instrument(span).await
    }

    async fn process_inner(&mut self, record: &InboundRecord, inflight: &mut InFlight) -> Outcome {
        let shared = Arc::clone(&self.shared);
        let topic = record.topic.as_str();
        let pipelined = shared.config.max_in_flight > 1;
        if let Some(key) = &record.key {
            if let Some(first) = self.parked.first_offset(key) {
                if !self.drain(inflight).await {
                    return Outcome::Fatal;
                }
                let reason = format!("key parked behind dead-lettered offset {first}");
                return self
                    .dead_letter(record, ErrorClass::Poison, &reason, Some(first))
                    .await;
            }
        }
        let mut attempt: u32 = 0;
        loop {
            let started = Instant::now();
            let result = match shared.handler.handle(record).await {
                Ok(outputs) if pipelined => {
                    // The handler's state already includes this record: from here on a
                    // failure cannot be retried in place.
                    let queued = match shared.producer.enqueue_all(&outputs) {
                        Ok(acks) => acks,
                        Err(e) => {
                            error!(error = %e, "cannot enqueue the outputs of a handled record; stopping");
                            return self.fatal(record, format!("enqueue of outputs failed: {e}"));
                        }
                    };
                    let owned = record.clone();
                    inflight.push_back(Box::pin(async move { (owned, queued.await) }));
                    shared
                        .metrics
                        .handler_duration
                        .with_label_values(&[topic])
                        .observe(started.elapsed().as_secs_f64());
                    return Outcome::Queued;
                }
                Ok(outputs) => match shared.producer.send_all(&outputs).await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(HandlerError::from(e)),
                },
                Err(e) => Err(e),
            };
            shared
                .metrics
                .handler_duration
                .with_label_values(&[topic])
                .observe(started.elapsed().as_secs_f64());
            let err = match result {
                Ok(()) => return Outcome::Done,
                Err(e) => e,
            };
            shared
                .metrics
                .handler_errors
                .with_label_values(&[topic, err.class().as_str()])
                .inc();
            match err.class() {
                ErrorClass::Transient => {
                    attempt += 1;
                    if shared
                        .config
                        .retry
                        .max_attempts
                        .is_some_and(|m| attempt >= m)
                    {
                        error!(attempts = attempt, error = %err, "transient failure persisted past the retry budget; stopping");
                        return self.fatal(record, format!("retries exhausted: {err}"));
                    }
                    let delay = shared.config.retry.delay(attempt);
                    let delay = err
                        .retry_after()
                        .map_or(delay, |hint| hint.min(shared.config.retry.max).max(delay));
                    warn!(attempt, delay_ms = delay.as_millis() as u64, error = %err, "transient failure; retrying");
                    shared.metrics.retries.with_label_values(&[topic]).inc();
                    tokio::select! {
                        () = self.abandon.cancelled() => return Outcome::Abandoned,
                        () = shared.stop.cancelled() => return Outcome::Abandoned,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                ErrorClass::Poison => {
                    warn!(error = %err, "poison record; dead-lettering");
                    if !self.drain(inflight).await {
                        return Outcome::Fatal;
                    }
                    return self
                        .dead_letter(record, ErrorClass::Poison, &err.to_string(), None)
                        .await;
                }
                ErrorClass::Fatal => {
                    error!(error = %err, "fatal handler failure; stopping without committing this record");
                    return self.fatal(record, err.to_string());
                }
            }
        }
    }

    fn fatal(&self, record: &InboundRecord, message: String) -> Outcome {
        self.shared.set_fatal(BusError::Fatal {
            topic: record.topic.clone(),
            partition: record.partition,
            offset: record.offset,
            message,
        });
        Outcome::Fatal
    }

    /// Writes the record to `<topic>.dlq` (and, under park-key, parks its key), retrying
    /// transient broker failures; the partition goes on afterwards.
    async fn dead_letter(
        &mut self,
        record: &InboundRecord,
        class: ErrorClass,
        reason: &str,
        parked_behind: Option<i64>,
    ) -> Outcome {
        let shared = Arc::clone(&self.shared);
        let park = shared.config.poison_policy == PoisonPolicy::ParkKey && record.key.is_some();
        let mut attempt = 0u32;
        loop {
            let res = async {
                let delivered = dlq::send_to_dlq(
                    &shared.producer,
                    record,
                    &shared.config.group_id,
                    class,
                    reason,
                    parked_behind,
                )
                .await?;
                if park && parked_behind.is_none() {
                    if let Some(key) = &record.key {
                        dlq::park_key(
                            &shared.producer,
                            record,
                            key,
                            &shared.config.group_id,
                            reason,
                            delivered,
                        )
                        .await?;
                    }
                }
                Ok::<_, BusError>(())
            }
            .await;
            match res {
                Ok(()) => break,
                Err(e) if e.is_transient() => {
                    attempt += 1;
                    let delay = shared.config.retry.delay(attempt);
                    warn!(attempt, error = %e, "dead-letter write failed; retrying");
                    tokio::select! {
                        () = self.abandon.cancelled() => return Outcome::Abandoned,
                        () = shared.stop.cancelled() => return Outcome::Abandoned,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                Err(e) => {
                    error!(error = %e, "cannot write the dead-letter record; stopping");
                    return self.fatal(record, format!("dead-letter write failed: {e}"));
                }
            }
        }
        let label = if parked_behind.is_some() {
            "parked"
        } else {
            "poison"
        };
        shared
            .metrics
            .dead_lettered
            .with_label_values(&[record.topic.as_str(), label])
            .inc();
        if park && parked_behind.is_none() {
            if let Some(key) = &record.key {
                self.parked.insert(key.clone(), record.offset);
            }
        }
        Outcome::Done
    }
}

/// A consumer group member running a [`Handler`] over its assigned partitions.
pub struct ConsumerLoop<H: Handler> {
    settings: KafkaSettings,
    config: ConsumerConfig,
    handler: Arc<H>,
    producer: EventProducer,
    metrics: BusMetrics,
    readiness: Option<Readiness>,
    local: LocalDelivery,
}

impl<H: Handler> std::fmt::Debug for ConsumerLoop<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerLoop")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<H: Handler> ConsumerLoop<H> {
    /// A loop over `config.topics` with `handler`; outputs and dead letters go through
    /// `producer`.
    pub fn new(
        settings: KafkaSettings,
        config: ConsumerConfig,
        handler: Arc<H>,
        producer: EventProducer,
        metrics: BusMetrics,
    ) -> Self {
        Self {
            settings,
            config,
            handler,
            producer,
            metrics,
            readiness: None,
            local: LocalDelivery::default(),
        }
    }

    /// A handle that hands records this process produces to one of the loop's topics straight
    /// to the worker of their partition, when this member owns it (see the module docs).
    pub fn local_delivery(&self) -> LocalDelivery {
        self.local.clone()
    }

    /// Reports assignment state as the readiness check `consumer:<group>`.
    pub fn with_readiness(mut self, readiness: Readiness) -> Self {
        readiness.set(
            &format!("consumer:{}", self.config.group_id),
            false,
            "not yet assigned",
        );
        self.readiness = Some(readiness);
        self
    }

    /// Runs until `shutdown` is cancelled (graceful: drain, commit, leave the group) or a handler
    /// reports a fatal failure (returned as `BusError::Fatal`, nothing past it committed).
    #[tracing::instrument(skip_all, fields(group = %self.config.group_id))]
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BusError> {
        self.settings.validate()?;
        if self.config.topics.is_empty() {
            return Err(BusError::Config("consumer has no topics".into()));
        }
        let mut partition_counts = HashMap::new();
        let mut side_topics = Vec::new();
        for t in &self.config.topics {
            let n = topic_partitions(&self.settings, Some(t))
                .await?
                .get(t)
                .copied()
                .ok_or_else(|| BusError::Topic {
                    topic: t.clone(),
                    reason: "does not exist; declare it before consuming".into(),
                })?;
            partition_counts.insert(t.clone(), n);
            side_topics.push(TopicSpec::stream(dlq::dlq_topic(t), n));
            if self.config.poison_policy == PoisonPolicy::ParkKey {
                side_topics.push(TopicSpec::compacted(dlq::parked_topic(t), 1));
            }
        }
        ensure_topics(&self.settings, &side_topics).await?;

        let mut cfg = self.settings.client_config();
        let base_client_id = cfg.get("client.id").unwrap_or("dsync").to_owned();
        let client_id = format!(
            "{base_client_id}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let watched = group_probe::supported(&self.settings);
        if !watched {
            info!("membership watchdog off: it speaks PLAINTEXT only; the broker's coordinator is trusted");
        }
        let shared = Arc::new(Shared {
            settings: self.settings.clone(),
            config: self.config.clone(),
            handler: self.handler,
            producer: self.producer,
            metrics: self.metrics,
            runtime: tokio::runtime::Handle::current(),
            readiness: self.readiness,
            generation: AtomicU64::new(0),
            offsets: Mutex::new(HashMap::new()),
            workers: Mutex::new(HashMap::new()),
            flows: Mutex::new(HashMap::new()),
            high_watermarks: Mutex::new(HashMap::new()),
            partition_counts,
            fatal: Mutex::new(None),
            stop: CancellationToken::new(),
            client_id: client_id.clone(),
            watched,
            last_rebalance: Mutex::new(Instant::now()),
            assigned_once: std::sync::atomic::AtomicBool::new(false),
            rejoin: Mutex::new(None),
        });

        cfg.set("group.id", &self.config.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("partition.assignment.strategy", "range,roundrobin")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("statistics.interval.ms", "2000")
            // tansu holds every fetch for the whole fetch.wait.max.ms, even with data ready
            // (see crate::quirks); a short wait keeps latency low on every broker.
            .set("fetch.wait.max.ms", "10")
            .set(
                "auto.offset.reset",
                match self.config.start_from {
                    StartFrom::Earliest => "earliest",
                    StartFrom::Latest => "latest",
                },
            );
        self.settings.apply_overrides(&mut cfg);
        // After the overrides: the member must be recognisable in the group's description.
        cfg.set("client.id", &client_id);
        let session_timeout = cfg
            .get("session.timeout.ms")
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(Duration::from_secs(10), Duration::from_millis);
        let consumer: BaseConsumer<LoopContext<H>> = cfg
            .create_with_context(LoopContext {
                shared: Arc::clone(&shared),
            })
            .map_err(|e| BusError::kafka("creating consumer", e))?;
        let topics: Vec<&str> = self.config.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| BusError::kafka("subscribe", e))?;
        info!(topics = ?self.config.topics, partitions = ?shared.partition_counts, "consumer started");

        let weak: Weak<Shared<H>> = Arc::downgrade(&shared);
        self.local.set(Some(Arc::new(move |m| {
            weak.upgrade().is_some_and(|s| s.inject(m))
        })));
        let watchdog = if watched {
            let (s, stop) = (Arc::clone(&shared), shutdown.clone());
            let cfg = WatchdogConfig::for_session_timeout(session_timeout);
            Some(
                std::thread::Builder::new()
                    .name(format!("watch-{}", self.config.group_id))
                    .spawn(move || watch_thread(&s, &stop, cfg))
                    .map_err(|e| BusError::Internal(format!("spawning watchdog thread: {e}")))?,
            )
        } else {
            None
        };
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("poll-{}", self.config.group_id))
            .spawn(move || {
                poll_thread(&consumer, &thread_shared, &shutdown);
                drop(consumer);
                let _ = done_tx.send(());
            })
            .map_err(|e| BusError::Internal(format!("spawning poll thread: {e}")))?;
        let _ = done_rx.await;
        shared.stop.cancel();
        if let Some(w) = watchdog {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
        self.local.set(None);
        if let Some(r) = &shared.readiness {
            r.set(&shared.readiness_name(), false, "stopped");
        }
        let fatal = lock(&shared.fatal).take();
        match fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn poll_thread<H: Handler>(
    consumer: &BaseConsumer<LoopContext<H>>,
    shared: &Arc<Shared<H>>,
    shutdown: &CancellationToken,
) {
    let mut last_commit = Instant::now();
    while !shutdown.is_cancelled() && !shared.stop.is_cancelled() {
        match consumer.poll(Duration::from_millis(50)) {
            None => {}
            Some(Ok(m)) => shared.route(consumer, m.detach()),
            Some(Err(e)) => warn!(error = %e, "consumer error"),
        }
        shared.flush_stashed(consumer);
        let rejoin = lock(&shared.rejoin).take();
        if let Some(problem) = rejoin {
            rejoin_group(consumer, shared, &problem);
        }
        if last_commit.elapsed() >= shared.config.commit_interval {
            shared.commit_async(consumer);
            shared.update_lag();
            last_commit = Instant::now();
        }
    }
    // Shutdown: stop fetching, drain the workers (or abandon on fatal), commit, leave.
    let fatal = shared.stop.is_cancelled();
    info!(fatal, "consumer stopping; draining in-flight records");
    if let Ok(a) = consumer.assignment() {
        let _ = consumer.pause(&a);
    }
    let tps: Vec<Tp> = lock(&shared.workers).keys().cloned().collect();
    shared.retire_partitions(consumer, &tps, shared.config.shutdown_deadline);
    shared.handler.partitions_revoked(&tps);
    consumer.unsubscribe();
    // Serve the resulting rebalance callbacks and leave the group promptly.
    let _ = consumer.poll(Duration::from_millis(100));
    info!("consumer stopped");
}

/// Leaves the group and joins it again (see [`crate::membership`]): the revocation commits what
/// was processed, the new member gets a fresh assignment.
fn rejoin_group<H: Handler>(
    consumer: &BaseConsumer<LoopContext<H>>,
    shared: &Arc<Shared<H>>,
    problem: &Problem,
) {
    warn!(group = %shared.config.group_id, reason = problem.label(), problem = %problem,
        "consumer group membership is stuck; leaving and rejoining the group");
    shared
        .metrics
        .rejoins
        .with_label_values(&[shared.config.group_id.as_str(), problem.label()])
        .inc();
    consumer.unsubscribe();
    // Serve the revocation (its callback commits) before subscribing again.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => shared.route(consumer, m.detach()),
            Some(Err(e)) => debug!(error = %e, "consumer error while leaving"),
            None => {}
        }
        if lock(&shared.workers).is_empty() {
            break;
        }
    }
    let topics: Vec<&str> = shared.config.topics.iter().map(String::as_str).collect();
    if let Err(e) = consumer.subscribe(&topics) {
        error!(error = %e, "cannot subscribe again after leaving the group; stopping");
        shared.set_fatal(BusError::kafka("subscribe after rejoin", e));
    }
}

/// The membership watchdog's thread: describes the group every interval, sets readiness and
/// asks the poll thread for a rejoin when [`Watchdog`] says so.
fn watch_thread<H: Handler>(
    shared: &Arc<Shared<H>>,
    shutdown: &CancellationToken,
    config: WatchdogConfig,
) {
    let mut dog = Watchdog::new(config);
    let mut last_label: Option<&'static str> = None;
    let group = shared.config.group_id.clone();
    loop {
        let wake = Instant::now() + config.interval;
        while Instant::now() < wake {
            if shutdown.is_cancelled() || shared.stop.is_cancelled() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !shared
            .assigned_once
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            continue;
        }
        let view =
            match group_probe::describe_group(&shared.settings, &group, Duration::from_secs(2)) {
                Ok(v) => v,
                Err(e) => {
                    debug!(error = %e, "cannot describe the group; checking again later");
                    continue;
                }
            };
        let owned = shared.owned();
        let health = membership::assess(&view, &shared.client_id, &owned, &shared.partition_counts);
        let label = match &health {
            Health::Healthy(_) => None,
            Health::Suspect(p) => Some(p.label()),
        };
        if label != last_label {
            match &health {
                Health::Healthy(detail) => info!(group = %group, %detail, "consumer group healthy"),
                Health::Suspect(p) => {
                    info!(group = %group, problem = %p, "consumer group suspect; watching")
                }
            }
            last_label = label;
        }
        if let Some(r) = &shared.readiness {
            match &health {
                Health::Healthy(detail) => r.set(&shared.readiness_name(), true, detail.clone()),
                Health::Suspect(p) => r.set(&shared.readiness_name(), false, p.to_string()),
            }
        }
        let last_rebalance = *lock(&shared.last_rebalance);
        if let Action::Rejoin(p) = dog.observe(Instant::now(), &health, last_rebalance) {
            *lock(&shared.rejoin) = Some(p);
        }
    }
}

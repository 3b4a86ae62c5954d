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
//! * Membership watchdog ([`crate::membership`]): the group's description is checked every
//!   second; a member of a group that does not cover its partitions leaves and rejoins, and
//!   the loop's readiness (`consumer:<group>`) is true only while the group is healthy.
//!
//! Where things are: `shared` (state shared by the threads, offset bookkeeping), `rebalance`
//! (the rebalance callbacks: start positions, starting and retiring partition workers), `flow`
//! (routing fetched records to workers, pausing and resuming, local delivery), `worker` (one
//! task per partition: handling, retries, dead letters, pipelined settlement), `watch` (the
//! watchdog thread and the rejoin); this module holds the public types, the loop and the poll
//! thread.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use dsync_telemetry::admin::Readiness;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::admin::{ensure_topics, topic_partitions, TopicSpec};
use crate::dlq;
use crate::error::HandlerError;
use crate::group_probe;
use crate::membership::WatchdogConfig;
use crate::metrics::BusMetrics;
use crate::producer::EventProducer;
use crate::record::{InboundRecord, OutboundRecord};
use crate::{BusError, KafkaSettings};

mod flow;
mod rebalance;
mod shared;
mod watch;
mod worker;

pub use flow::LocalDelivery;
use rebalance::LoopContext;
use shared::{lock, Shared, Tp};
use watch::{rejoin_group, watch_thread};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_exponentially_within_the_cap_and_jitter() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            max_attempts: None,
        };
        for _ in 0..50 {
            let d1 = p.delay(1);
            assert!(d1 >= Duration::from_millis(80) && d1 <= Duration::from_millis(120));
            let d3 = p.delay(3);
            assert!(d3 >= Duration::from_millis(320) && d3 <= Duration::from_millis(480));
            assert!(p.delay(10) <= p.max, "capped");
            assert!(p.delay(u32::MAX) <= p.max, "no overflow");
        }
    }

    #[test]
    fn config_builders() {
        let c = ConsumerConfig::new("g", &["a", "b"])
            .max_in_flight(0)
            .poison_policy(PoisonPolicy::ParkKey);
        assert_eq!(c.max_in_flight, 1, "at least one record in flight");
        assert_eq!(c.topics, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(c.poison_policy, PoisonPolicy::ParkKey);
        assert_eq!(c.start_from, StartFrom::Earliest);
    }
}

//! State shared by the poll thread, the workers and the watchdog of one consumer loop, and
//! the offset bookkeeping.

use super::flow::Flow;
use super::{ConsumerConfig, Handler};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard};
use std::time::Instant;

use dsync_telemetry::admin::Readiness;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::message::OwnedMessage;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::membership::Problem;
use crate::metrics::BusMetrics;
use crate::producer::EventProducer;
use crate::{BusError, KafkaSettings};

pub(super) type Tp = (String, i32);

/// Where an assigned partition starts: the fetch offset, and the first offset to process
/// (records below it were already committed and are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Start {
    pub(super) fetch_from: i64,
    pub(super) process_from: i64,
    pub(super) committed: Option<i64>,
}

#[derive(Debug)]
pub(super) struct PartitionOffsets {
    pub(super) generation: u64,
    /// Next offset to consume (last processed + 1), once something was processed.
    pub(super) next: Option<i64>,
    pub(super) committed: Option<i64>,
}

impl PartitionOffsets {
    /// Records that everything below `next` is finished, unless the slot belongs to another
    /// assignment (`generation`): a worker of a revoked assignment must not move the offset.
    pub(super) fn store(&mut self, generation: u64, next: i64) {
        if self.generation == generation {
            self.next = Some(next);
        }
    }

    /// The offset to commit now, if any: what was processed, when it is past what was
    /// committed.
    pub(super) fn to_commit(&self) -> Option<i64> {
        self.next.filter(|n| self.committed.is_none_or(|c| c < *n))
    }
}

pub(super) struct WorkerHandle {
    pub(super) tx: mpsc::Sender<OwnedMessage>,
    pub(super) abandon: CancellationToken,
    pub(super) done: std_mpsc::Receiver<()>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

pub(super) struct Shared<H> {
    pub(super) settings: KafkaSettings,
    pub(super) config: ConsumerConfig,
    pub(super) handler: Arc<H>,
    pub(super) producer: EventProducer,
    pub(super) metrics: BusMetrics,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) readiness: Option<Readiness>,
    pub(super) generation: AtomicU64,
    pub(super) offsets: Mutex<HashMap<Tp, PartitionOffsets>>,
    pub(super) workers: Mutex<HashMap<Tp, WorkerHandle>>,
    pub(super) flows: Mutex<HashMap<Tp, Flow>>,
    pub(super) high_watermarks: Mutex<HashMap<Tp, i64>>,
    pub(super) partition_counts: HashMap<String, i32>,
    pub(super) fatal: Mutex<Option<BusError>>,
    pub(super) stop: CancellationToken,
    /// This member's `client.id` (unique per loop, so the member is found in the group's
    /// description: member ids start with it).
    pub(super) client_id: String,
    /// Whether the membership watchdog vouches for readiness (else an assignment does).
    pub(super) watched: bool,
    /// When this member last finished an assignment or revocation.
    pub(super) last_rebalance: Mutex<Instant>,
    /// Whether partitions were ever assigned (an empty assignment counts).
    pub(super) assigned_once: std::sync::atomic::AtomicBool,
    /// A rejoin the watchdog asked for, carried out by the poll thread.
    pub(super) rejoin: Mutex<Option<Problem>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<H: Handler> Shared<H> {
    pub(super) fn readiness_name(&self) -> String {
        format!("consumer:{}", self.config.group_id)
    }

    pub(super) fn rebalanced(&self) {
        *lock(&self.last_rebalance) = Instant::now();
        let owned = lock(&self.workers).len();
        self.metrics
            .partitions_owned
            .with_label_values(&[self.config.group_id.as_str()])
            .set(owned as i64);
    }

    /// The partitions this member owns now.
    pub(super) fn owned(&self) -> HashSet<Tp> {
        lock(&self.workers).keys().cloned().collect()
    }

    pub(super) fn set_fatal(&self, e: BusError) {
        let mut f = lock(&self.fatal);
        if f.is_none() {
            *f = Some(e);
        }
        self.stop.cancel();
    }

    pub(super) fn store_offset(&self, tp: &Tp, generation: u64, next: i64) {
        if let Some(e) = lock(&self.offsets).get_mut(tp) {
            e.store(generation, next);
        }
    }

    pub(super) fn commit_async<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
        let mut tpl = TopicPartitionList::new();
        {
            let offsets = lock(&self.offsets);
            for ((t, p), e) in offsets.iter() {
                if let Some(n) = e.to_commit() {
                    let _ = tpl.add_partition_offset(t, *p, Offset::Offset(n));
                }
            }
        }
        if tpl.count() > 0 {
            if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                warn!(error = %e, "async commit could not be sent");
            }
        }
    }

    pub(super) fn update_lag(&self) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_move_only_for_their_own_assignment_and_commit_only_forward() {
        let mut o = PartitionOffsets {
            generation: 2,
            next: None,
            committed: Some(10),
        };
        assert_eq!(o.to_commit(), None, "nothing processed yet");
        o.store(1, 50);
        assert_eq!(o.next, None, "a worker of an older assignment is ignored");
        o.store(2, 10);
        assert_eq!(o.to_commit(), None, "already committed");
        o.store(2, 11);
        assert_eq!(o.to_commit(), Some(11));
        o.committed = Some(11);
        assert_eq!(o.to_commit(), None);
        let fresh = PartitionOffsets {
            generation: 1,
            next: Some(0),
            committed: None,
        };
        assert_eq!(
            fresh.to_commit(),
            Some(0),
            "a new group commits its first position"
        );
    }
}

//! Flow control on the poll thread: records routed to partition workers, stashing and
//! pausing when a worker is behind, batch-aligned resume, and local delivery of own records.

use super::shared::{lock, Shared};
use super::Handler;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::message::{Message, OwnedMessage, Timestamp};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::producer::Delivered;
use crate::quirks;
use crate::record::OutboundRecord;

/// How long the poll thread waits for a full worker before pausing its partition.
const BACKPRESSURE_WAIT: Duration = Duration::from_millis(250);

impl<H: Handler> Shared<H> {
    /// Hands a fetched record to its partition's worker. When the worker's buffer is full the
    /// record is stashed and the partition paused; records below the next expected offset are
    /// re-fetched duplicates and are dropped.
    pub(super) fn route<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>, m: OwnedMessage) {
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
    pub(super) fn inject(&self, m: OwnedMessage) -> bool {
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
    pub(super) fn flush_stashed<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
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
pub(super) struct Flow {
    /// The next offset to hand to the worker; anything below is a re-fetched duplicate.
    pub(super) next_expected: i64,
    /// Records fetched while the worker's buffer was full.
    pub(super) stash: VecDeque<OwnedMessage>,
    /// Whether the partition is paused.
    pub(super) paused: bool,
    /// Locally delivered records a little ahead of `next_expected`.
    pub(super) ahead: BTreeMap<i64, OwnedMessage>,
}

/// Locally delivered records kept aside per partition, at most.
pub(super) const MAX_AHEAD: usize = 256;

impl Flow {
    /// Forgets kept-aside records the fetch already passed.
    pub(super) fn prune_ahead(&mut self) {
        while let Some(e) = self.ahead.first_entry() {
            if *e.key() < self.next_expected {
                e.remove();
            } else {
                break;
            }
        }
    }

    /// Hands kept-aside records that are now next in line to the worker.
    pub(super) fn release_ahead(&mut self, tx: &mpsc::Sender<OwnedMessage>) {
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

    pub(super) fn set(&self, f: Option<Arc<dyn Fn(OwnedMessage) -> bool + Send + Sync>>) {
        *self
            .slot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = f;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Timestamp;

    fn msg(offset: i64) -> OwnedMessage {
        OwnedMessage::new(
            Some(offset.to_string().into_bytes()),
            None,
            "t".into(),
            Timestamp::NotAvailable,
            0,
            offset,
            None,
        )
    }

    fn flow(next: i64) -> Flow {
        Flow {
            next_expected: next,
            stash: VecDeque::new(),
            paused: false,
            ahead: BTreeMap::new(),
        }
    }

    fn drain(rx: &mut mpsc::Receiver<OwnedMessage>) -> Vec<i64> {
        let mut out = Vec::new();
        while let Ok(m) = rx.try_recv() {
            out.push(m.offset());
        }
        out
    }

    #[test]
    fn kept_aside_records_are_released_in_order_once_the_gap_closes() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut f = flow(5);
        f.ahead.insert(7, msg(7));
        f.ahead.insert(6, msg(6));
        f.ahead.insert(9, msg(9));
        f.release_ahead(&tx);
        assert!(drain(&mut rx).is_empty(), "5 is still missing");
        // 5 arrives through the fetch; the poll thread advances next_expected.
        f.next_expected = 6;
        f.release_ahead(&tx);
        assert_eq!(drain(&mut rx), vec![6, 7], "8 is missing: 9 waits");
        assert_eq!(f.next_expected, 8);
        assert_eq!(f.ahead.keys().copied().collect::<Vec<_>>(), vec![9]);
    }

    #[test]
    fn records_the_fetch_already_passed_are_forgotten() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut f = flow(0);
        for o in [2, 3, 4] {
            f.ahead.insert(o, msg(o));
        }
        f.next_expected = 4;
        f.prune_ahead();
        assert_eq!(f.ahead.keys().copied().collect::<Vec<_>>(), vec![4]);
        f.release_ahead(&tx);
        assert_eq!(drain(&mut rx), vec![4]);
    }

    #[test]
    fn nothing_overtakes_a_stash_or_a_pause() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut f = flow(1);
        f.ahead.insert(1, msg(1));
        f.paused = true;
        f.release_ahead(&tx);
        assert!(drain(&mut rx).is_empty());
        f.paused = false;
        f.stash.push_back(msg(0));
        f.release_ahead(&tx);
        assert!(drain(&mut rx).is_empty(), "stashed records go first");
        f.stash.clear();
        f.release_ahead(&tx);
        assert_eq!(drain(&mut rx), vec![1]);
    }

    #[test]
    fn a_full_worker_leaves_the_record_to_the_fetch() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut f = flow(0);
        f.ahead.insert(0, msg(0));
        f.ahead.insert(1, msg(1));
        f.release_ahead(&tx);
        assert_eq!(drain(&mut rx), vec![0]);
        assert_eq!(f.next_expected, 1, "1 was not handed over");
    }
}

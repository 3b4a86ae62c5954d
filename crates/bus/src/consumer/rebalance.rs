//! Rebalance callbacks: where each assigned partition starts (see [`crate::quirks`]), and
//! revoked work finished and committed before the revoke returns.

use super::flow::Flow;
use super::shared::{lock, PartitionOffsets, Shared, Start, Tp, WorkerHandle};
use super::worker::PartitionWorker;
use super::{Handler, PoisonPolicy, StartFrom};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::dlq::{self};
use crate::quirks;
use crate::BusError;

pub(super) struct LoopContext<H: Handler> {
    pub(super) shared: Arc<Shared<H>>,
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
    /// Committed offsets of the assigned partitions, and where to fetch from so the broker
    /// answers with the record at the committed offset.
    pub(super) fn resolve_starts<C: ConsumerContext>(
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
    pub(super) fn start_partitions(
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
    pub(super) fn retire_partitions<C: ConsumerContext>(
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
}

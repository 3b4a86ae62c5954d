//! One worker per assigned partition: handles records in order, retries transient failures,
//! dead-letters poison, settles pipelined outputs in offset order.

use super::shared::{Shared, Tp};
use super::{Handler, PoisonPolicy};
use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Instant;

use futures::stream::{FuturesOrdered, StreamExt};
use rdkafka::message::{Message, OwnedMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info_span, warn, Instrument};

use crate::dlq::{self, ParkedKeys};
use crate::error::{ErrorClass, HandlerError};
use crate::producer::Delivered;
use crate::record::InboundRecord;
use crate::BusError;

/// Outcome of one record.
pub(super) enum Outcome {
    /// Finished now: settle it (hook, offset).
    Done,
    /// Outputs in flight; settled when acknowledged.
    Queued,
    Abandoned,
    Fatal,
}

/// Records whose outputs are awaiting acknowledgement, in offset order.
pub(super) type InFlight = FuturesOrdered<
    Pin<Box<dyn Future<Output = (InboundRecord, Result<Vec<Delivered>, BusError>)> + Send>>,
>;

pub(super) struct PartitionWorker<H: Handler> {
    pub(super) shared: Arc<Shared<H>>,
    pub(super) tp: Tp,
    pub(super) generation: u64,
    pub(super) abandon: CancellationToken,
    pub(super) parked: ParkedKeys,
    /// Records below this offset were committed before the assignment; they are fetched again
    /// only to reach the batch boundary and are skipped.
    pub(super) process_from: i64,
    /// Dropped when the worker ends; the poll thread waits on it.
    pub(super) _done: std_mpsc::Sender<()>,
}

impl<H: Handler> PartitionWorker<H> {
    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<OwnedMessage>) {
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
    pub(super) fn settle(
        &self,
        record: &InboundRecord,
        res: Result<Vec<Delivered>, BusError>,
    ) -> bool {
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
    pub(super) async fn drain(&self, inflight: &mut InFlight) -> bool {
        while let Some((record, res)) = inflight.next().await {
            if !self.settle(&record, res) {
                return false;
            }
        }
        true
    }

    pub(super) async fn process(
        &mut self,
        record: &InboundRecord,
        inflight: &mut InFlight,
    ) -> Outcome {
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

    pub(super) async fn process_inner(
        &mut self,
        record: &InboundRecord,
        inflight: &mut InFlight,
    ) -> Outcome {
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

    pub(super) fn fatal(&self, record: &InboundRecord, message: String) -> Outcome {
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
    pub(super) async fn dead_letter(
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

//! The submissions handler: one [`Handler`] over `orders.submissions` (keyed by customer), run
//! by the consumer group, so each customer's submissions are validated by exactly one
//! instance at a time, one after the other: the single writer of the customer's duplicate
//! indexes and credit exposure.
//!
//! For each submission: catch up with the order history when the partition was just assigned
//! (the previous owner's outcomes must be known), decode, classify against the history
//! (new / redelivery / duplicate / conflict), validate a new order, record the decision in
//! memory (the next submission of the customer must see its credit exposure) and return the
//! outcome for `orders.events` to the bus. The bus pipelines: it goes on with the next
//! submission while the broker acknowledges the outcome, and calls [`Handler::durable`] in
//! offset order once it is on the broker; only then is the HTTP call waiting for it answered
//! and the outcome reported by `GET` (and only then is the offset committed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use dsync_bus::{Handler, HandlerError, HandlerResult, InboundRecord, OutboundRecord};
use dsync_events::{AnyEvent, OrderChannel, OrderSubmitted};
use tracing::{debug, info};

use super::{
    classify, content_hash, decide, duplicate_event_id, duplicate_report, outcome_event_id,
    Decision, History, OutcomeMeta, Prior,
};
use crate::core::{lock, read, Core};
use crate::handlers::order_events::{CONTENT_HASH_HEADER, SUBMISSION_HEADER};
use crate::state::ledger::PartnerPoKey;
use crate::state::OrderRecord;
use crate::IntakeError;

/// The handler of `orders.submissions`.
#[derive(Debug)]
pub struct SubmissionHandler {
    core: Arc<Core>,
    /// Last offset handled per partition in this process: a record that does not follow it
    /// means the partition was (re)assigned and another instance may have written since.
    last: Mutex<HashMap<i32, i64>>,
    /// What to do once a handled submission's outputs are on the broker, by (partition,
    /// offset).
    to_settle: Mutex<HashMap<(i32, i64), Settle>>,
}

/// The answer to give once a submission's outputs are durable.
#[derive(Debug)]
struct Settle {
    /// The outcome that answers it.
    record: Arc<OrderRecord>,
    /// For a new decision: the channel and when it was submitted (intake latency).
    decided: Option<(&'static str, DateTime<Utc>)>,
}

impl SubmissionHandler {
    /// A handler over the shared core.
    pub fn new(core: Arc<Core>) -> Self {
        Self {
            core,
            last: Mutex::new(HashMap::new()),
            to_settle: Mutex::new(HashMap::new()),
        }
    }
}

impl Handler for SubmissionHandler {
    async fn handle(&self, record: &InboundRecord) -> HandlerResult {
        let arrived = Instant::now();
        let follows = lock(&self.last)
            .get(&record.partition)
            .is_some_and(|last| *last + 1 == record.offset);
        if !follows {
            self.core.catch_up_since(arrived).await?;
        }
        let event = self.core.codec.decode_record(record).await?;
        let AnyEvent::OrderSubmitted(sub) = event else {
            return Err(HandlerError::poison(format!(
                "{} is not an OrderSubmitted",
                event.record_name()
            )));
        };
        let (outputs, settle) = process(&self.core, record, sub).await?;
        lock(&self.last).insert(record.partition, record.offset);
        lock(&self.to_settle).insert((record.partition, record.offset), settle);
        Ok(outputs)
    }

    fn durable(&self, record: &InboundRecord) {
        let Some(settle) = lock(&self.to_settle).remove(&(record.partition, record.offset)) else {
            return;
        };
        self.core.confirm(&settle.record);
        if let Some((channel, submitted_at)) = settle.decided {
            let age = (Utc::now() - submitted_at).to_std().unwrap_or_default();
            self.core
                .metrics
                .intake_latency
                .with_label_values(&[channel])
                .observe(age.as_secs_f64());
        }
    }

    fn partitions_revoked(&self, partitions: &[(String, i32)]) {
        let mut settle = lock(&self.to_settle);
        for (_, p) in partitions {
            settle.retain(|(part, _), _| part != p);
        }
    }
}

fn channel_label(c: OrderChannel) -> &'static str {
    c.as_str()
}

/// Validates one submission: its outcome (or its duplicate report) to publish, and the answer
/// to give once that is durable.
#[tracing::instrument(skip_all, fields(order_id = %sub.order_id, correlation_id = %sub.metadata.correlation_id, customer_id = %sub.customer_id))]
async fn process(
    core: &Core,
    record: &InboundRecord,
    sub: OrderSubmitted,
) -> Result<(Vec<OutboundRecord>, Settle), IntakeError> {
    let started = Instant::now();
    let submission_id = if sub.metadata.event_id.is_empty() {
        record.headers.event_id.clone()
    } else {
        sub.metadata.event_id.to_string()
    };
    let correlation_id = if sub.metadata.correlation_id.is_empty() {
        record.headers.correlation_id.clone()
    } else {
        sub.metadata.correlation_id.to_string()
    };
    let hash = content_hash(&sub);
    let known = {
        let h = read(&core.history);
        h.order(&sub.order_id)
            .or_else(|| h.by_key(&sub.customer_id, &sub.idempotency_key))
    };
    let channel = channel_label(sub.channel);
    let prior = classify(known, &submission_id, &hash);
    let (original, conflict) = match prior {
        Prior::New => (None, false),
        Prior::Redelivery(rec) => {
            debug!("submission already decided; its outcome is on the broker or on its way");
            return Ok((
                vec![],
                Settle {
                    record: rec,
                    decided: None,
                },
            ));
        }
        Prior::Duplicate(rec) => (Some(rec), false),
        Prior::Conflict(rec) => (Some(rec), true),
    };
    let traceparent = record.headers.traceparent.as_deref();
    if let Some(original) = original {
        let outcome = if conflict { "conflict" } else { "duplicate" };
        core.metrics
            .orders
            .with_label_values(&[outcome, channel])
            .inc();
        info!(
            original_order_id = %original.order_id,
            original_status = original.status(),
            outcome,
            "submission of an order already decided: reported, not processed again"
        );
        let mut outputs = Vec::new();
        if sub.channel == OrderChannel::Edi {
            let meta = OutcomeMeta {
                event_id: duplicate_event_id(&submission_id),
                occurred_at: Utc::now(),
                correlation_id: correlation_id.clone(),
                causation_id: submission_id.clone(),
            };
            let report = duplicate_report(&sub, &submission_id, &original, conflict, &meta);
            let out = core
                .codec
                .outbound(
                    &core.topics.exceptions,
                    report.aggregate_id.as_bytes().to_vec(),
                    &report,
                    traceparent,
                )
                .await?;
            outputs.push(out);
        }
        return Ok((
            outputs,
            Settle {
                record: original,
                decided: None,
            },
        ));
    }

    let meta = OutcomeMeta {
        event_id: outcome_event_id(&submission_id),
        occurred_at: Utc::now(),
        correlation_id,
        causation_id: submission_id.clone(),
    };
    let decision = {
        let md = read(&core.master);
        let h = read(&core.history);
        let balance_as_of = md
            .customer(&sub.customer_id)
            .map_or(0, |c| c.balance_as_of.timestamp_millis());
        let history = History {
            open_orders_value: h.open_orders_value(&sub.customer_id, balance_as_of),
            partner_po_accepted_as: sub
                .partner_po
                .as_ref()
                .and_then(|p| h.accepted_partner_po(&PartnerPoKey::of(p)))
                .filter(|r| r.order_id != sub.order_id)
                .map(|r| r.order_id.clone()),
        };
        decide(&sub, &md, &history, &core.policy, &meta)
    };
    core.metrics
        .validation_duration
        .with_label_values(&[channel])
        .observe(started.elapsed().as_secs_f64());
    let key = sub.order_id.as_bytes().to_vec();
    let (out, rec) = match decision {
        Decision::Accepted(a) => {
            let out = core
                .codec
                .outbound(&core.topics.events, key, a.as_ref(), traceparent)
                .await?;
            (
                out,
                OrderRecord::accepted(*a, Some(hash.clone()), Some(submission_id.clone())),
            )
        }
        Decision::Rejected(r) => {
            let out = core
                .codec
                .outbound(&core.topics.events, key, r.as_ref(), traceparent)
                .await?;
            (
                out,
                OrderRecord::rejected(*r, Some(hash.clone()), Some(submission_id.clone())),
            )
        }
    };
    let out = out
        .with_header(CONTENT_HASH_HEADER, hash)
        .with_header(SUBMISSION_HEADER, submission_id);
    let held = core.record_decided(rec);
    let m = &core.metrics;
    match &held.outcome {
        crate::state::Outcome::Accepted(a) => {
            m.orders.with_label_values(&["accepted", channel]).inc();
            for l in &a.lines {
                if matches!(
                    l.price_flag,
                    dsync_events::PriceFlag::SubmittedHigher
                        | dsync_events::PriceFlag::SubmittedLower
                ) {
                    m.price_flags
                        .with_label_values(&[l.price_flag.as_str()])
                        .inc();
                }
            }
            info!(
                total = a.order_total.amount_minor,
                lines = a.lines.len(),
                "order accepted"
            );
        }
        crate::state::Outcome::Rejected(r) => {
            m.orders.with_label_values(&["rejected", channel]).inc();
            for reason in &r.reasons {
                m.rejection_reasons
                    .with_label_values(&[reason.code.as_str()])
                    .inc();
            }
            info!(reasons = ?r.reasons.iter().map(|x| x.code.as_str()).collect::<Vec<_>>(), "order rejected");
        }
    }
    Ok((
        vec![out],
        Settle {
            record: held,
            decided: Some((channel, sub.metadata.occurred_at)),
        },
    ))
}

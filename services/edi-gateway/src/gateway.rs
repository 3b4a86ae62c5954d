//! The gateway's core: receives files, decides, journals, publishes and delivers; answers order
//! outcomes with 855s; sweeps for overdue 997s. Every decision runs under its partner's lock
//! (one decision at a time per partner, so control numbers and duplicate windows are
//! consistent); publishing and delivery happen after, from the journal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dsync_bus::{
    ErrorClass, EventProducer, HandlerError, HandlerResult, InboundRecord, OutboundRecord,
};
use dsync_events::{AggregateType, AnyEvent, EventCodec, ExceptionKind, Severity};
use serde::Serialize;
use tokio::sync::Mutex as AsyncMutex;
use tracing::{debug, error, info, warn};

use crate::archive::Archive;
use crate::events::{ExceptionSpec, GatewayEvent, PlannedRecord};
use crate::files;
use crate::handlers::edi_documents::{self, EdiEvent};
use crate::handlers::interchanges::{
    self, InboundContext, InboundDecision, Receipt, ReceiptSummary,
};
use crate::handlers::orders_events::{self, Outcome, PoAckContext};
use crate::handlers::overdue;
use crate::ids;
use crate::journal::{Delivery, Journal, PendingReceipt, Plan, ReceiptSource};
use crate::metrics::GatewayMetrics;
use crate::profile::{DocKind, PartnerProfile, Profiles};
use crate::settings::UsageMode;
use crate::state::PartnerState;
use crate::topics::Topics;
use crate::GatewayError;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn blocking<T, F>(f: F) -> Result<T, GatewayError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, GatewayError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| GatewayError::Internal(format!("blocking task: {e}")))?
}

/// The outcome of a received file.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiveOutcome {
    /// What was decided.
    #[serde(flatten)]
    pub summary: ReceiptSummary,
    /// Whether every event was published and every acknowledgement delivered (false: the
    /// decision is journaled and will be completed when the broker is back).
    pub completed: bool,
}

/// The gateway's shared core.
pub struct Gateway {
    profiles: Profiles,
    topics: Topics,
    mode: UsageMode,
    archive: Archive,
    journal: Journal,
    partners: HashMap<String, Arc<AsyncMutex<PartnerState>>>,
    producer: EventProducer,
    codec: EventCodec,
    metrics: GatewayMetrics,
    pending: Mutex<BTreeMap<String, Plan>>,
    claimed: Mutex<HashSet<PathBuf>>,
    /// Serializes plan execution (a plan is never carried out twice at once).
    executing: AsyncMutex<()>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("partners", &self.partners.keys().collect::<Vec<_>>())
            .field("topics", &self.topics)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway over the given profiles and data directory.
    pub fn new(
        profiles: Profiles,
        topics: Topics,
        mode: UsageMode,
        data_dir: &Path,
        producer: EventProducer,
        codec: EventCodec,
        metrics: GatewayMetrics,
    ) -> Result<Self, GatewayError> {
        let archive = Archive::new(data_dir);
        files::ensure_dir(archive.root())?;
        let journal = Journal::open(data_dir)?;
        for p in profiles.iter() {
            for dir in [&p.inbox, &p.outbox, &p.processed] {
                files::ensure_dir(dir)?;
            }
            files::remove_temp_files(&p.outbox)?;
        }
        let partners = profiles
            .iter()
            .map(|p| {
                (
                    p.id.clone(),
                    Arc::new(AsyncMutex::new(PartnerState::new(&p.id))),
                )
            })
            .collect();
        Ok(Gateway {
            profiles,
            topics,
            mode,
            archive,
            journal,
            partners,
            producer,
            codec,
            metrics,
            pending: Mutex::new(BTreeMap::new()),
            claimed: Mutex::new(HashSet::new()),
            executing: AsyncMutex::new(()),
        })
    }

    /// The partner profiles.
    pub fn profiles(&self) -> &Profiles {
        &self.profiles
    }

    /// The topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The metrics.
    pub fn metrics(&self) -> &GatewayMetrics {
        &self.metrics
    }

    /// The archive.
    pub fn archive(&self) -> &Archive {
        &self.archive
    }

    fn partner(
        &self,
        id: &str,
    ) -> Result<(&Arc<PartnerProfile>, &Arc<AsyncMutex<PartnerState>>), GatewayError> {
        match (self.profiles.get(id), self.partners.get(id)) {
            (Some(p), Some(s)) => Ok((p, s)),
            _ => Err(GatewayError::UnknownPartner(id.to_owned())),
        }
    }

    /// A copy of a partner's state (tests, diagnostics).
    pub async fn partner_state(&self, id: &str) -> Result<PartnerState, GatewayError> {
        let (_, s) = self.partner(id)?;
        Ok(s.lock().await.clone())
    }

    /// Number of journaled plans not yet completed.
    pub fn pending_plans(&self) -> usize {
        lock(&self.pending).len()
    }

    /// Rebuilds every partner's state from `edi.documents` (to its end offsets of now, with a
    /// [`dsync_bus::reader::Materializer`]: a registry outage is retried until `timeout`, any
    /// other undecodable record is skipped with a WARN); returns the number of records read.
    #[tracing::instrument(skip_all, fields(topic = %self.topics.edi_documents))]
    pub async fn load_state(
        &self,
        settings: &dsync_bus::KafkaSettings,
        timeout: Duration,
    ) -> Result<usize, GatewayError> {
        let mut states = HashMap::new();
        for (id, state) in &self.partners {
            states.insert(id.clone(), state.lock().await.clone());
        }
        let sink = StateLoad {
            codec: self.codec.clone(),
            states,
        };
        let (sink, summary) =
            dsync_bus::reader::load(settings, &self.topics.edi_documents, sink, timeout).await?;
        for (id, loaded) in sink.states {
            if let Some(state) = self.partners.get(&id) {
                *state.lock().await = loaded;
            }
        }
        let n = usize::try_from(summary.counts.total()).unwrap_or(usize::MAX);
        info!(
            records = n,
            applied = summary.counts.applied,
            skipped = summary.counts.skipped,
            "state rebuilt from edi.documents"
        );
        Ok(n)
    }

    /// Finishes the work of the journal: applies every pending plan to the state and carries
    /// it out, then decides the receipts archived before a crash. Call after [`Self::load_state`]
    /// and before taking new work.
    pub async fn recover(&self) -> Result<(), GatewayError> {
        let journal = self.journal.clone();
        let (plans, receipts) = blocking(move || journal.load()).await?;
        if !plans.is_empty() || !receipts.is_empty() {
            info!(
                plans = plans.len(),
                receipts = receipts.len(),
                "recovering journaled work"
            );
        }
        for plan in plans {
            if let Ok((_, state)) = self.partner(&plan.partner_id) {
                apply_records(&mut *state.lock().await, &plan.records);
            }
            self.claim_source(plan.source.as_ref());
            self.add_pending(plan);
        }
        for r in receipts {
            self.claim_source(Some(&r.source));
            let path = r.archive_path.clone();
            let bytes = blocking(move || files::read(&path)).await?;
            if let Err(e) = self.decide_receipt(&r, &bytes).await {
                error!(receipt = %r.receipt_id, error = %e, "a journaled receipt cannot be decided");
            }
        }
        self.retry_pending().await;
        Ok(())
    }

    fn claim_source(&self, source: Option<&ReceiptSource>) {
        if let Some(ReceiptSource::Inbox { path, .. }) = source {
            lock(&self.claimed).insert(path.clone());
        }
    }

    /// Whether an inbox file is being handled (or waits to be moved).
    pub fn is_claimed(&self, path: &Path) -> bool {
        lock(&self.claimed).contains(path)
    }

    fn add_pending(&self, plan: Plan) {
        let partner = plan.partner_id.clone();
        let mut pending = lock(&self.pending);
        pending.insert(plan.id.clone(), plan);
        let n = pending.values().filter(|p| p.partner_id == partner).count();
        self.metrics
            .journal_pending
            .with_label_values(&[&partner])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    fn remove_pending(&self, id: &str, partner: &str) {
        let mut pending = lock(&self.pending);
        pending.remove(id);
        let n = pending.values().filter(|p| p.partner_id == partner).count();
        self.metrics
            .journal_pending
            .with_label_values(&[partner])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Receives one file for `partner`: archives it (byte for byte, atomically), journals it,
    /// decides, journals the decision, publishes and delivers. Returns once the outcome is
    /// durable (journaled); `completed` says whether it was also fully carried out.
    #[tracing::instrument(skip_all, fields(partner = %partner_id, size = bytes.len(), receipt = tracing::field::Empty))]
    pub async fn receive(
        &self,
        partner_id: &str,
        bytes: Vec<u8>,
        source: ReceiptSource,
    ) -> Result<ReceiveOutcome, GatewayError> {
        let started = Instant::now();
        let (profile, _) = self.partner(partner_id)?;
        let received_at = Utc::now();
        let receipt_id = ids::new_receipt_id(received_at);
        tracing::Span::current().record("receipt", receipt_id.as_str());
        let pending = PendingReceipt {
            receipt_id: receipt_id.clone(),
            partner_id: profile.id.clone(),
            received_at,
            size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256: files::sha256_hex(&bytes),
            archive_path: self.archive.received_path(&profile.id, &receipt_id),
            source,
        };
        self.claim_source(Some(&pending.source));
        let record = receipt_record(&pending, &bytes);
        let (archive, journal, p2, data) = (
            self.archive.clone(),
            self.journal.clone(),
            pending.clone(),
            bytes.clone(),
        );
        let archived = blocking(move || {
            files::write_atomic(&p2.archive_path, &data)?;
            files::write_atomic(
                &archive.receipt_record_path(&p2.partner_id, &p2.receipt_id),
                &record,
            )?;
            journal.write_receipt(&p2)
        })
        .await;
        if let Err(e) = archived {
            // nothing is journaled: the inbox file stays and is taken again at the next scan
            if let ReceiptSource::Inbox { path, .. } = &pending.source {
                lock(&self.claimed).remove(path);
            }
            return Err(e);
        }
        self.metrics
            .received_bytes
            .with_label_values(&[&profile.id])
            .inc_by(bytes.len() as u64);
        let plan = self.decide_receipt(&pending, &bytes).await?;
        let completed = match self.execute(&plan).await {
            Ok(()) => true,
            Err(e) => {
                warn!(receipt = %receipt_id, error = %e, "decision journaled; publishing or delivery will be retried");
                false
            }
        };
        self.metrics
            .processing_seconds
            .with_label_values(&[&profile.id])
            .observe(started.elapsed().as_secs_f64());
        let summary = plan
            .summary
            .clone()
            .and_then(|s| serde_json::from_value(s).ok())
            .ok_or_else(|| GatewayError::Internal("plan without summary".into()))?;
        Ok(ReceiveOutcome { summary, completed })
    }

    /// Decides a journaled receipt under its partner's lock; journals and applies the plan.
    #[tracing::instrument(skip_all, fields(partner = %r.partner_id, receipt = %r.receipt_id))]
    async fn decide_receipt(&self, r: &PendingReceipt, bytes: &[u8]) -> Result<Plan, GatewayError> {
        let (profile, state) = self.partner(&r.partner_id)?;
        let mut st = state.lock().await;
        let now = Utc::now();
        let archive_reference = files::file_uri(&r.archive_path);
        let ctx = InboundContext {
            profile,
            topics: &self.topics,
            mode: self.mode,
            archive: &self.archive,
            now,
        };
        let receipt = Receipt {
            receipt_id: &r.receipt_id,
            received_at: r.received_at,
            archive_reference: &archive_reference,
            size_bytes: r.size_bytes,
            sha256: &r.sha256,
        };
        let decision = match interchanges::decide(&ctx, &st, &receipt, bytes) {
            Ok(d) => d,
            Err(e) => {
                error!(receipt = %r.receipt_id, error = %e, "cannot decide a received file; kept in the archive and marked failed");
                self.metrics
                    .receipt_failures
                    .with_label_values(&[&profile.id])
                    .inc();
                let (journal, r2, reason) = (self.journal.clone(), r.clone(), e.to_string());
                blocking(move || {
                    journal.mark_failed(&r2, &reason)?;
                    if let ReceiptSource::Inbox {
                        path,
                        processed_path,
                    } = &r2.source
                    {
                        let mut failed = processed_path.as_os_str().to_owned();
                        failed.push(".failed");
                        files::move_file(path, Path::new(&failed))?;
                    }
                    Ok(())
                })
                .await?;
                if let ReceiptSource::Inbox { path, .. } = &r.source {
                    lock(&self.claimed).remove(path);
                }
                return Err(e);
            }
        };
        let plan = self.plan_of(profile, r, decision, now)?;
        let (journal, p2) = (self.journal.clone(), plan.clone());
        blocking(move || journal.write_plan(&p2)).await?;
        apply_records(&mut st, &plan.records);
        drop(st);
        self.record_metrics(profile, &plan);
        self.add_pending(plan.clone());
        Ok(plan)
    }

    fn plan_of(
        &self,
        profile: &PartnerProfile,
        r: &PendingReceipt,
        d: InboundDecision,
        now: DateTime<Utc>,
    ) -> Result<Plan, GatewayError> {
        let mut deliveries = Vec::new();
        for f in &d.files {
            files::write_atomic(&f.archive_path, &f.bytes)?;
            deliveries.push(Delivery {
                archive_path: f.archive_path.clone(),
                outbox_path: profile.outbox.join(&f.file_name),
            });
        }
        for s in &d.summary.interchanges {
            info!(
                partner = %profile.id,
                receipt = %r.receipt_id,
                isa13 = %s.control_number,
                outcome = %s.outcome,
                note = %s.note,
                groups = s.groups.len(),
                "interchange received"
            );
        }
        Ok(Plan {
            id: r.receipt_id.clone(),
            partner_id: profile.id.clone(),
            created_at: now,
            records: d.records,
            deliveries,
            source: Some(r.source.clone()),
            summary: serde_json::to_value(&d.summary).ok(),
        })
    }

    fn record_metrics(&self, profile: &PartnerProfile, plan: &Plan) {
        let m = &self.metrics;
        let p = profile.id.as_str();
        if let Some(summary) = plan
            .summary
            .as_ref()
            .and_then(|s| serde_json::from_value::<ReceiptSummary>(s.clone()).ok())
        {
            for ic in &summary.interchanges {
                m.interchanges.with_label_values(&[p, &ic.outcome]).inc();
                if ic.outcome == "duplicate" {
                    m.duplicates.with_label_values(&[p, "interchange"]).inc();
                }
                for g in &ic.groups {
                    if g.status == "duplicate" {
                        m.duplicates.with_label_values(&[p, "group"]).inc();
                    }
                    for s in &g.sets {
                        m.transaction_sets
                            .with_label_values(&[p, &s.set_id, &s.status.to_ascii_lowercase()])
                            .inc();
                        match s.action.as_deref() {
                            Some(
                                a @ ("submitted" | "cancel_requested" | "not_mapped"
                                | "test_ignored"),
                            ) => {
                                m.orders.with_label_values(&[p, a]).inc();
                            }
                            Some("acknowledgement_unmatched") => {
                                m.acks_received.with_label_values(&[p, "unmatched"]).inc();
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        for r in &plan.records {
            match &r.event {
                GatewayEvent::EdiDocumentSent(s) => {
                    let doc = match s.document_type {
                        dsync_events::EdiDocumentType::X12997 => "997",
                        dsync_events::EdiDocumentType::X12Ta1 => "TA1",
                        dsync_events::EdiDocumentType::X12855 => "855",
                        _ => "other",
                    };
                    m.documents_sent.with_label_values(&[p, doc]).inc();
                }
                GatewayEvent::EdiDocumentAcknowledged(a) => {
                    m.acks_received
                        .with_label_values(&[p, &a.status.as_str().to_ascii_lowercase()])
                        .inc();
                }
                GatewayEvent::BusinessException(e) if !e.resolved => {
                    m.exceptions.with_label_values(&[p, e.kind.as_str()]).inc();
                }
                _ => {}
            }
        }
    }

    /// Carries out a plan: publishes its events, delivers its interchanges, moves its inbox
    /// file, drops it from the journal. Safe to repeat.
    #[tracing::instrument(skip_all, fields(plan = %plan.id, partner = %plan.partner_id))]
    pub async fn execute(&self, plan: &Plan) -> Result<(), GatewayError> {
        let _serial = self.executing.lock().await;
        if !lock(&self.pending).contains_key(&plan.id) {
            // completed meanwhile by another caller
            return Ok(());
        }
        let mut out = Vec::with_capacity(plan.records.len());
        for r in &plan.records {
            out.push(self.outbound(r).await?);
        }
        if !out.is_empty() {
            self.producer.send_all(&out).await?;
        }
        let (deliveries, source, journal, id) = (
            plan.deliveries.clone(),
            plan.source.clone(),
            self.journal.clone(),
            plan.id.clone(),
        );
        blocking(move || {
            for d in &deliveries {
                deliver(d)?;
            }
            if let Some(ReceiptSource::Inbox {
                path,
                processed_path,
            }) = &source
            {
                files::move_file(path, processed_path)?;
            }
            journal.remove_plan(&id)
        })
        .await?;
        if let Some(ReceiptSource::Inbox { path, .. }) = &plan.source {
            lock(&self.claimed).remove(path);
        }
        self.remove_pending(&plan.id, &plan.partner_id);
        debug!(
            records = plan.records.len(),
            deliveries = plan.deliveries.len(),
            "plan carried out"
        );
        Ok(())
    }

    async fn outbound(&self, r: &PlannedRecord) -> Result<OutboundRecord, GatewayError> {
        let key = r.key.as_bytes().to_vec();
        let topic = r.topic.as_str();
        let mut rec = match &r.event {
            GatewayEvent::OrderSubmitted(e) => self.codec.outbound(topic, key, e, None).await?,
            GatewayEvent::OrderCancelRequested(e) => {
                self.codec.outbound(topic, key, e, None).await?
            }
            GatewayEvent::EdiDocumentReceived(e) => {
                self.codec.outbound(topic, key, e, None).await?
            }
            GatewayEvent::EdiDocumentSent(e) => self.codec.outbound(topic, key, e, None).await?,
            GatewayEvent::EdiDocumentAcknowledged(e) => {
                self.codec.outbound(topic, key, e, None).await?
            }
            GatewayEvent::BusinessException(e) => self.codec.outbound(topic, key, e, None).await?,
        };
        for (k, v) in &r.headers {
            rec = rec.with_header(k.clone(), v.clone().into_bytes());
        }
        Ok(rec)
    }

    /// Retries every journaled plan (after a broker outage); returns how many are left.
    pub async fn retry_pending(&self) -> usize {
        let plans: Vec<Plan> = lock(&self.pending).values().cloned().collect();
        for plan in plans {
            if let Err(e) = self.execute(&plan).await {
                warn!(plan = %plan.id, error = %e, "journaled plan still cannot be carried out");
                break;
            }
        }
        self.pending_plans()
    }

    /// Handles one `orders.events` record: an EDI order's outcome becomes an 855.
    #[tracing::instrument(skip_all, fields(
        offset = record.offset,
        partition = record.partition,
        order = tracing::field::Empty,
        partner = tracing::field::Empty,
    ))]
    pub async fn on_order_event(&self, record: &InboundRecord) -> HandlerResult {
        let event = match self.codec.decode_record(record).await {
            Ok(e) => e,
            Err(e) if e.is_unknown_event_type() => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let outcome = match &event {
            AnyEvent::OrderAccepted(a) => Outcome::Accepted(a),
            AnyEvent::OrderRejected(r) => Outcome::Rejected(r),
            _ => return Ok(Vec::new()),
        };
        let Some(partner_id) = outcome.edi_partner() else {
            return Ok(Vec::new());
        };
        let span = tracing::Span::current();
        span.record("order", outcome.order_id());
        span.record("partner", partner_id);
        let Ok((profile, state)) = self.partner(partner_id) else {
            warn!(
                partner = partner_id,
                order = outcome.order_id(),
                "order outcome for a partner without a profile; no 855"
            );
            return Ok(Vec::new());
        };
        if !profile.sends(DocKind::PoAck) {
            return Ok(Vec::new());
        }
        let order_id = outcome.order_id();
        let doc_id = ids::poack_doc_id(order_id);
        let journaled = lock(&self.pending).get(&doc_id).cloned();
        if let Some(plan) = journaled {
            return self
                .execute(&plan)
                .await
                .map(|()| Vec::new())
                .map_err(HandlerError::from);
        }
        let edi_doc = outcome
            .partner_po()
            .and_then(|p| p.edi_document_id.as_deref())
            .map(str::to_owned);
        let archived = {
            let st = state.lock().await;
            if st.poacks_by_order.contains_key(order_id) {
                return Ok(Vec::new());
            }
            edi_doc
                .as_deref()
                .and_then(|d| st.received_850.get(d).cloned())
        };
        let pos = edi_doc.as_deref().and_then(ids::parse_doc_id);
        let path = archived
            .as_deref()
            .and_then(files::path_of_uri)
            .or_else(|| {
                pos.as_ref()
                    .map(|p| self.archive.received_path(&profile.id, &p.receipt_id))
            });
        let bytes = match path {
            Some(path) => match blocking(move || files::read(&path)).await {
                Ok(b) => Some(b),
                Err(e) => {
                    warn!(order = order_id, error = %e, "archived 850 unreadable");
                    None
                }
            },
            None => None,
        };
        let po = bytes
            .as_deref()
            .zip(pos.as_ref())
            .and_then(|(b, p)| orders_events::find_purchase_order(b, p));
        let Some(po) = po else {
            let md = outcome.metadata();
            let spec = ExceptionSpec {
                kind: ExceptionKind::EdiMappingFailed,
                severity: Severity::Error,
                aggregate_type: AggregateType::Order,
                aggregate_id: order_id.to_owned(),
                order_id: Some(order_id.to_owned()),
                customer_id: None,
                partner_id: profile.id.clone(),
                message: format!(
                    "No 855 for order {order_id}: its 850 ({}) is not in the archive.",
                    edi_doc.as_deref().unwrap_or("no edi_document_id")
                ),
                details: BTreeMap::from([(
                    "edi_document_id".to_owned(),
                    edi_doc.clone().unwrap_or_default(),
                )]),
                raised_at: md.occurred_at,
                correlation_id: md.correlation_id.to_string(),
                causation_id: Some(md.event_id.to_string()),
            };
            self.metrics
                .exceptions
                .with_label_values(&[&profile.id, ExceptionKind::EdiMappingFailed.as_str()])
                .inc();
            let rec = PlannedRecord::new(
                &self.topics.exceptions,
                order_id,
                GatewayEvent::BusinessException(spec.raised()),
            );
            return Ok(vec![self.outbound(&rec).await?]);
        };
        let plan = {
            let mut st = state.lock().await;
            let ctx = PoAckContext {
                profile,
                topics: &self.topics,
                usage: self.mode.usage(),
                archive: &self.archive,
                now: Utc::now(),
            };
            // Whatever failed (an X12 value that cannot be written, exhausted control
            // numbers), the outcome is dead-lettered so it can be re-driven once fixed, and the
            // partner's other orders go on.
            let Some(p855) = orders_events::plan_855(&ctx, &st, outcome, &po).map_err(|e| {
                HandlerError::new(ErrorClass::Poison, e)
                    .context(format!("cannot build the 855 of order {order_id}"))
            })?
            else {
                return Ok(Vec::new());
            };
            let plan = Plan {
                id: p855.doc_id.clone(),
                partner_id: profile.id.clone(),
                created_at: ctx.now,
                records: p855.records,
                deliveries: vec![Delivery {
                    archive_path: p855.file.archive_path.clone(),
                    outbox_path: profile.outbox.join(&p855.file.file_name),
                }],
                source: None,
                summary: None,
            };
            let outbox_file = plan
                .deliveries
                .first()
                .map(|d| d.outbox_path.display().to_string())
                .unwrap_or_default();
            let (journal, p2, file) = (self.journal.clone(), plan.clone(), p855.file);
            blocking(move || {
                files::write_atomic(&file.archive_path, &file.bytes)?;
                journal.write_plan(&p2)
            })
            .await?;
            apply_records(&mut st, &plan.records);
            let isa13 = plan
                .records
                .iter()
                .find_map(|r| match &r.event {
                    GatewayEvent::EdiDocumentSent(s) => {
                        Some(s.control_numbers.interchange_control_number.to_string())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            info!(partner = %profile.id, order = order_id, isa13 = %isa13, ack_type = p855.ack_type.code(), file = %outbox_file, "855 decided");
            plan
        };
        self.record_metrics(profile, &plan);
        self.add_pending(plan.clone());
        self.execute(&plan).await?;
        Ok(Vec::new())
    }

    /// Raises the overdue exceptions due at `now`; returns how many were raised.
    pub async fn sweep_overdue(&self, now: DateTime<Utc>) -> Result<usize, GatewayError> {
        let mut raised = 0;
        for p in self.profiles.iter() {
            let Ok((_, state)) = self.partner(&p.id) else {
                continue;
            };
            let due = {
                let mut st = state.lock().await;
                st.prune(p.duplicate_window, now);
                overdue::sweep(&st, &self.topics, now)
            };
            if !due.is_empty() {
                let mut out = Vec::with_capacity(due.len());
                for (_, r) in &due {
                    out.push(self.outbound(r).await?);
                }
                self.producer.send_all(&out).await?;
                let mut st = state.lock().await;
                for (doc, _) in &due {
                    if let Some(d) = st.sent.get_mut(doc) {
                        d.overdue_raised = true;
                    }
                    warn!(partner = %p.id, document = %doc, "997 overdue");
                }
                self.metrics
                    .acks_overdue
                    .with_label_values(&[&p.id])
                    .inc_by(due.len() as u64);
                self.metrics
                    .exceptions
                    .with_label_values(&[&p.id, ExceptionKind::EdiAckOverdue.as_str()])
                    .inc_by(due.len() as u64);
                raised += due.len();
            }
            let open = state.lock().await.overdue(now).len();
            self.metrics
                .acks_overdue_open
                .with_label_values(&[&p.id])
                .set(i64::try_from(open).unwrap_or(i64::MAX));
        }
        Ok(raised)
    }
}

/// Partners' states being rebuilt from `edi.documents`.
struct StateLoad {
    codec: EventCodec,
    states: HashMap<String, PartnerState>,
}

impl dsync_bus::reader::Apply for StateLoad {
    type Value = AnyEvent;

    async fn decode(&mut self, record: &InboundRecord) -> Result<Option<AnyEvent>, HandlerError> {
        match self.codec.decode_record(record).await {
            Ok(e) => Ok(Some(e)),
            // Only an outage is worth waiting for; whatever else fails to decode is skipped.
            Err(e) if e.is_transient() => Err(HandlerError::new(ErrorClass::Transient, e)),
            Err(e) => Err(HandlerError::new(ErrorClass::Poison, e)),
        }
    }

    fn apply(&mut self, _record: &InboundRecord, event: AnyEvent) -> bool {
        let Some(ev) = EdiEvent::from_any(&event) else {
            return false;
        };
        match self.states.get_mut(ev.partner_id()) {
            Some(state) => {
                edi_documents::apply(state, ev);
                true
            }
            None => false,
        }
    }
}

/// Applies the `edi.documents` events of a plan to the partner's state.
pub fn apply_records(state: &mut PartnerState, records: &[PlannedRecord]) {
    for r in records {
        if let Some(ev) = EdiEvent::from_planned(&r.event) {
            if ev.partner_id() == state.partner_id {
                edi_documents::apply(state, ev);
            }
        }
    }
}

/// Copies an archived interchange to the outbox atomically, once.
fn deliver(d: &Delivery) -> Result<(), GatewayError> {
    let marker = Archive::delivered_marker(&d.archive_path);
    if marker.exists() {
        return Ok(());
    }
    let bytes = files::read(&d.archive_path)?;
    files::write_atomic(&d.outbox_path, &bytes)?;
    files::write_atomic(&marker, d.outbox_path.to_string_lossy().as_bytes())
}

/// The receipt record archived beside a received file: where it came from, size, hash, and the
/// control numbers it carries (read before any processing).
fn receipt_record(r: &PendingReceipt, bytes: &[u8]) -> Vec<u8> {
    let (ics, err) = dsync_x12::parse_all(bytes);
    let interchanges: Vec<serde_json::Value> = ics
        .iter()
        .map(|ic| {
            serde_json::json!({
                "isa13": ic.isa.control_number,
                "sender": format!("{}:{}", ic.isa.sender_qualifier, ic.isa.sender()),
                "receiver": format!("{}:{}", ic.isa.receiver_qualifier, ic.isa.receiver()),
                "usage": ic.isa.usage,
                "offset": ic.offset,
                "length": ic.len,
                "groups": ic.groups.iter().map(|g| serde_json::json!({
                    "gs01": g.header.functional_id,
                    "gs06": g.header.control_number,
                    "gs08": g.header.version,
                    "sets": g.sets.iter().map(|s| format!("{} {}", s.id, s.control_number)).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let value = serde_json::json!({
        "receipt_id": r.receipt_id,
        "partner_id": r.partner_id,
        "received_at": r.received_at.to_rfc3339(),
        "size_bytes": r.size_bytes,
        "sha256": r.sha256,
        "source": r.source,
        "interchanges": interchanges,
        "unreadable": err.map(|e| e.to_string()),
    });
    serde_json::to_vec_pretty(&value).unwrap_or_default()
}

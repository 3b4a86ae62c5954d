//! The gateway's metrics: names in one place, registered once in the service's registry.
//!
//! Business measures: interchanges by partner and outcome, duplicates, transaction sets by
//! status, documents sent, partners' acknowledgements by status, overdue 997s and exceptions by
//! partner and kind.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Received interchanges by `partner` and `outcome` (accepted, rejected, duplicate,
/// unreadable).
pub const INTERCHANGES: &str = "dsync_edi_interchanges_total";
/// Duplicates detected by `partner` and `level` (interchange, group).
pub const DUPLICATES: &str = "dsync_edi_duplicates_total";
/// Received transaction sets by `partner`, `set` (850, 997, ...) and `status` (accepted,
/// accepted_with_errors, rejected, duplicate).
pub const TRANSACTION_SETS: &str = "dsync_edi_transaction_sets_total";
/// Orders published from 850s by `partner` and `action` (submitted, cancel_requested,
/// not_mapped, test_ignored).
pub const ORDERS: &str = "dsync_edi_orders_total";
/// Documents sent by `partner` and `document` (997, TA1, 855).
pub const DOCUMENTS_SENT: &str = "dsync_edi_documents_sent_total";
/// Partners' acknowledgements of our documents by `partner` and `status` (accepted,
/// accepted_with_errors, rejected, unmatched).
pub const ACKS_RECEIVED: &str = "dsync_edi_acknowledgements_received_total";
/// 997s found overdue by `partner`.
pub const ACKS_OVERDUE: &str = "dsync_edi_acks_overdue_total";
/// Documents currently waiting past their 997 deadline, by `partner`.
pub const ACKS_OVERDUE_OPEN: &str = "dsync_edi_acks_overdue";
/// Business exceptions raised by `partner` and `kind`.
pub const EXCEPTIONS: &str = "dsync_edi_exceptions_total";
/// Uploads by `outcome` (accepted, unauthorized, unknown_partner, too_large, empty, failed).
pub const UPLOADS: &str = "dsync_edi_uploads_total";
/// Bytes received by `partner`.
pub const RECEIVED_BYTES: &str = "dsync_edi_received_bytes_total";
/// Files that could not be processed (kept in the archive, marked failed) by `partner`.
pub const RECEIPT_FAILURES: &str = "dsync_edi_receipt_failures_total";
/// Journal entries (work not yet fully published or delivered), by `partner`.
pub const JOURNAL_PENDING: &str = "dsync_edi_journal_pending";
/// Time from a file's arrival to its outcome being durable, by `partner`.
pub const PROCESSING_SECONDS: &str = "dsync_edi_processing_seconds";

/// The registered metrics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GatewayMetrics {
    /// [`INTERCHANGES`].
    pub interchanges: IntCounterVec,
    /// [`DUPLICATES`].
    pub duplicates: IntCounterVec,
    /// [`TRANSACTION_SETS`].
    pub transaction_sets: IntCounterVec,
    /// [`ORDERS`].
    pub orders: IntCounterVec,
    /// [`DOCUMENTS_SENT`].
    pub documents_sent: IntCounterVec,
    /// [`ACKS_RECEIVED`].
    pub acks_received: IntCounterVec,
    /// [`ACKS_OVERDUE`].
    pub acks_overdue: IntCounterVec,
    /// [`ACKS_OVERDUE_OPEN`].
    pub acks_overdue_open: IntGaugeVec,
    /// [`EXCEPTIONS`].
    pub exceptions: IntCounterVec,
    /// [`UPLOADS`].
    pub uploads: IntCounterVec,
    /// [`RECEIVED_BYTES`].
    pub received_bytes: IntCounterVec,
    /// [`RECEIPT_FAILURES`].
    pub receipt_failures: IntCounterVec,
    /// [`JOURNAL_PENDING`].
    pub journal_pending: IntGaugeVec,
    /// [`PROCESSING_SECONDS`].
    pub processing_seconds: HistogramVec,
}

fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

impl GatewayMetrics {
    /// Registers the metrics in `r`.
    pub fn new(r: &Registry) -> prometheus::Result<Self> {
        let processing_seconds = HistogramVec::new(
            HistogramOpts::new(
                PROCESSING_SECONDS,
                "Time from a file's arrival to its durable outcome.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["partner"],
        )?;
        r.register(Box::new(processing_seconds.clone()))?;
        Ok(Self {
            interchanges: counter(
                r,
                INTERCHANGES,
                "Received interchanges by outcome.",
                &["partner", "outcome"],
            )?,
            duplicates: counter(
                r,
                DUPLICATES,
                "Duplicate interchanges and groups received.",
                &["partner", "level"],
            )?,
            transaction_sets: counter(
                r,
                TRANSACTION_SETS,
                "Received transaction sets by status.",
                &["partner", "set", "status"],
            )?,
            orders: counter(
                r,
                ORDERS,
                "Order events published from 850s.",
                &["partner", "action"],
            )?,
            documents_sent: counter(
                r,
                DOCUMENTS_SENT,
                "Documents sent to partners.",
                &["partner", "document"],
            )?,
            acks_received: counter(
                r,
                ACKS_RECEIVED,
                "Partners' acknowledgements of our documents.",
                &["partner", "status"],
            )?,
            acks_overdue: counter(r, ACKS_OVERDUE, "997s found overdue.", &["partner"])?,
            acks_overdue_open: gauge(
                r,
                ACKS_OVERDUE_OPEN,
                "Documents waiting past their 997 deadline.",
                &["partner"],
            )?,
            exceptions: counter(
                r,
                EXCEPTIONS,
                "Business exceptions raised.",
                &["partner", "kind"],
            )?,
            uploads: counter(r, UPLOADS, "Uploads by outcome.", &["outcome"])?,
            received_bytes: counter(r, RECEIVED_BYTES, "Bytes received.", &["partner"])?,
            receipt_failures: counter(
                r,
                RECEIPT_FAILURES,
                "Files that could not be processed.",
                &["partner"],
            )?,
            journal_pending: gauge(
                r,
                JOURNAL_PENDING,
                "Journal entries not yet completed.",
                &["partner"],
            )?,
            processing_seconds,
        })
    }

    /// Metrics in a private registry (tests, benchmarks).
    pub fn unregistered() -> prometheus::Result<Self> {
        Self::new(&Registry::new())
    }
}

//! The topics the gateway reads and writes, with the configurable prefix (`schemas/topics.json`
//! for names, keys and partition counts).

use dsync_bus::TopicSpec;

/// Topic names, prefixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// `orders.submissions` (OrderSubmitted, keyed by customer id).
    pub submissions: String,
    /// `orders.events` (OrderCancelRequested written, OrderAccepted/OrderRejected read; keyed
    /// by order id).
    pub order_events: String,
    /// `edi.documents` (EdiDocumentReceived/Sent/Acknowledged, keyed by partner id); the
    /// gateway rebuilds its state from it.
    pub edi_documents: String,
    /// `exceptions.business` (BusinessException, keyed by aggregate id).
    pub exceptions: String,
}

impl Topics {
    /// The topics with `prefix` before each name.
    pub fn with_prefix(prefix: &str) -> Self {
        Topics {
            submissions: format!("{prefix}orders.submissions"),
            order_events: format!("{prefix}orders.events"),
            edi_documents: format!("{prefix}edi.documents"),
            exceptions: format!("{prefix}exceptions.business"),
        }
    }

    /// Declarations for `ensure_topics` (partition counts of `schemas/topics.json`).
    pub fn specs(&self) -> Vec<TopicSpec> {
        vec![
            TopicSpec::stream(&self.submissions, 6),
            TopicSpec::stream(&self.order_events, 6),
            TopicSpec::stream(&self.edi_documents, 6),
            TopicSpec::stream(&self.exceptions, 6),
        ]
    }
}

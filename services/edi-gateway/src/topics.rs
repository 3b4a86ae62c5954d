//! The topics the gateway reads and writes, with the configurable prefix (names, keys and
//! partition counts from the generated catalog, [`dsync_events::topics`]).

use dsync_bus::TopicSpec;
use dsync_events::topics::{self, defs};

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
        let p = |t: &str| format!("{prefix}{t}");
        Topics {
            submissions: p(topics::ORDERS_SUBMISSIONS),
            order_events: p(topics::ORDERS_EVENTS),
            edi_documents: p(topics::EDI_DOCUMENTS),
            exceptions: p(topics::EXCEPTIONS_BUSINESS),
        }
    }

    /// Declarations for `ensure_topics` (as in the catalog).
    pub fn specs(&self) -> Vec<TopicSpec> {
        vec![
            defs::ORDERS_SUBMISSIONS.spec_named(&self.submissions),
            defs::ORDERS_EVENTS.spec_named(&self.order_events),
            defs::EDI_DOCUMENTS.spec_named(&self.edi_documents),
            defs::EXCEPTIONS_BUSINESS.spec_named(&self.exceptions),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_specs_come_from_the_catalog() {
        let t = Topics::with_prefix("g.");
        assert_eq!(t.submissions, "g.orders.submissions");
        assert_eq!(t.order_events, "g.orders.events");
        assert_eq!(t.edi_documents, "g.edi.documents");
        assert_eq!(t.exceptions, "g.exceptions.business");
        let specs = t.specs();
        for s in &specs {
            let name = s.name.strip_prefix("g.").expect("prefixed");
            assert_eq!(*s, topics::def(name).expect("catalog topic").spec("g."));
        }
        // What the gateway declared before the catalog was generated: four streams of 6.
        assert!(specs
            .iter()
            .all(|s| s.partitions == 6 && s.cleanup == dsync_bus::CleanupPolicy::Delete));
        assert_eq!(specs.len(), 4);
    }
}

//! The topics order-intake reads and writes, with the configurable prefix, and their
//! declarations (partitions and cleanup policy as in `schemas/topics.json`).

use dsync_bus::TopicSpec;
use dsync_events::topics;

/// Topic names after the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// `erp.customers` (compacted, followed).
    pub customers: String,
    /// `erp.items` (compacted, followed).
    pub items: String,
    /// `erp.prices` (compacted, followed).
    pub prices: String,
    /// `erp.locations` (compacted, followed).
    pub locations: String,
    /// `inventory.availability` (compacted, followed).
    pub availability: String,
    /// `orders.submissions` (consumed by the group; written by the API).
    pub submissions: String,
    /// `orders.events` (outcomes written; followed as the intake's changelog).
    pub events: String,
    /// `invoicing.events` (followed: invoiced orders leave the credit exposure).
    pub invoicing: String,
    /// `exceptions.business` (EDI duplicates and conflicts).
    pub exceptions: String,
}

impl Topics {
    /// The names with `prefix` in front.
    pub fn with_prefix(prefix: &str) -> Self {
        let p = |t: &str| format!("{prefix}{t}");
        Self {
            customers: p(topics::ERP_CUSTOMERS),
            items: p(topics::ERP_ITEMS),
            prices: p(topics::ERP_PRICES),
            locations: p(topics::ERP_LOCATIONS),
            availability: p(topics::INVENTORY_AVAILABILITY),
            submissions: p(topics::ORDERS_SUBMISSIONS),
            events: p(topics::ORDERS_EVENTS),
            invoicing: p(topics::INVOICING_EVENTS),
            exceptions: p(topics::EXCEPTIONS_BUSINESS),
        }
    }

    /// Every topic the service uses, as declared in the catalog (created when missing).
    pub fn specs(&self) -> Vec<TopicSpec> {
        vec![
            TopicSpec::compacted(&self.customers, 3),
            TopicSpec::compacted(&self.items, 3),
            TopicSpec::compacted(&self.prices, 3),
            TopicSpec::compacted(&self.locations, 3),
            TopicSpec::compacted(&self.availability, 6),
            TopicSpec::stream(&self.submissions, 6),
            TopicSpec::stream(&self.events, 6),
            TopicSpec::stream(&self.invoicing, 6),
            TopicSpec::stream(&self.exceptions, 6),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_applies_to_every_topic() {
        let t = Topics::with_prefix("x.");
        assert_eq!(t.submissions, "x.orders.submissions");
        assert_eq!(t.events, "x.orders.events");
        assert!(t.specs().iter().all(|s| s.name.starts_with("x.")));
        assert_eq!(Topics::with_prefix("").customers, "erp.customers");
    }
}

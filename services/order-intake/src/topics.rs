//! The topics order-intake reads and writes, with the configurable prefix, and their
//! declarations (partitions and cleanup policy from the generated catalog,
//! [`dsync_events::topics::defs`]).

use dsync_bus::TopicSpec;
use dsync_events::topics::{self, defs};

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
            defs::ERP_CUSTOMERS.spec_named(&self.customers),
            defs::ERP_ITEMS.spec_named(&self.items),
            defs::ERP_PRICES.spec_named(&self.prices),
            defs::ERP_LOCATIONS.spec_named(&self.locations),
            defs::INVENTORY_AVAILABILITY.spec_named(&self.availability),
            defs::ORDERS_SUBMISSIONS.spec_named(&self.submissions),
            defs::ORDERS_EVENTS.spec_named(&self.events),
            defs::INVOICING_EVENTS.spec_named(&self.invoicing),
            defs::EXCEPTIONS_BUSINESS.spec_named(&self.exceptions),
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

    #[test]
    fn specs_are_the_catalog_declarations() {
        let specs = Topics::with_prefix("x.").specs();
        assert_eq!(
            specs.iter().map(|s| s.partitions).collect::<Vec<_>>(),
            [3, 3, 3, 3, 6, 6, 6, 6, 6]
        );
        for s in &specs {
            let name = s.name.strip_prefix("x.").expect("prefixed");
            let def = topics::def(name).expect("a catalog topic");
            assert_eq!(*s, def.spec("x."));
        }
        let compacted: Vec<&str> = specs
            .iter()
            .filter(|s| s.cleanup == dsync_bus::CleanupPolicy::Compact)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            compacted,
            [
                "x.erp.customers",
                "x.erp.items",
                "x.erp.prices",
                "x.erp.locations",
                "x.inventory.availability"
            ]
        );
    }
}

//! Applying the compacted master data topics (`erp.customers`, `erp.items`, `erp.prices`,
//! `erp.locations`) and `inventory.availability` to the local [`MasterData`].
//!
//! Each topic carries full snapshots per key (upserts) and deletions as events (which stay the
//! latest value of their key); a null value (a compaction tombstone) also removes the key.
//! Events of other types are ignored.

use dsync_events::AnyEvent;

use crate::state::{MasterData, Table};

/// What applying a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The table changed.
    Changed,
    /// Nothing to do (another event type, an older availability version).
    Ignored,
}

/// Applies one decoded event of `table`'s topic.
pub fn apply(md: &mut MasterData, table: Table, event: AnyEvent) -> Applied {
    match (table, event) {
        (Table::Customers, AnyEvent::CustomerUpserted(c)) => md.upsert_customer(c),
        (Table::Customers, AnyEvent::CustomerDeleted(c)) => md.delete_customer(&c.customer_id),
        (Table::Items, AnyEvent::ItemUpserted(i)) => md.upsert_item(i),
        (Table::Items, AnyEvent::ItemDeleted(i)) => md.delete_item(&i.sku),
        (Table::Prices, AnyEvent::PriceListEntryUpserted(p)) => md.upsert_price(p),
        (Table::Prices, AnyEvent::PriceListEntryDeleted(p)) => md.delete_price(&p.entry_id),
        (Table::Locations, AnyEvent::WarehouseLocationUpserted(l)) => md.upsert_location(l),
        (Table::Locations, AnyEvent::WarehouseLocationDeleted(l)) => {
            md.delete_location(&l.location_id)
        }
        (Table::Availability, AnyEvent::AvailabilityChanged(a)) => {
            return if md.apply_availability(a) {
                Applied::Changed
            } else {
                Applied::Ignored
            };
        }
        _ => return Applied::Ignored,
    }
    Applied::Changed
}

/// Applies a tombstone (null value) for `key` of `table`'s topic.
pub fn apply_tombstone(md: &mut MasterData, table: Table, key: &str) -> Applied {
    match table {
        Table::Customers => md.delete_customer(key),
        Table::Items => md.delete_item(key),
        Table::Prices => md.delete_price(key),
        Table::Locations => md.delete_location(key),
        Table::Availability => match key.split_once('@') {
            Some((sku, location)) => md.delete_availability(sku, location),
            None => return Applied::Ignored,
        },
    }
    Applied::Changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testkit::*;
    use dsync_events::{ItemDeleted, PriceKind};

    #[test]
    fn upserts_replace_and_deletions_forget() {
        let mut md = MasterData::default();
        let mut c = customer("C1");
        assert_eq!(
            apply(&mut md, Table::Customers, c.clone().into()),
            Applied::Changed
        );
        c.on_hold = true;
        apply(&mut md, Table::Customers, c.into());
        assert!(md.customer("C1").is_some_and(|c| c.on_hold));
        apply_tombstone(&mut md, Table::Customers, "C1");
        assert!(md.customer("C1").is_none());

        apply(&mut md, Table::Items, item("SKU-1", 12).into());
        assert_eq!(
            md.item_by_gtin("SKU-1-CS")
                .map(|(i, u)| (i.sku.as_str(), u)),
            Some(("SKU-1", "CS"))
        );
        let del = ItemDeleted {
            sku: "SKU-1".into(),
            ..Default::default()
        };
        apply(&mut md, Table::Items, del.into());
        assert!(md.item("SKU-1").is_none());
        assert!(
            md.item_by_gtin("SKU-1-CS").is_none(),
            "GTINs go with the item"
        );

        apply(
            &mut md,
            Table::Prices,
            list_price("P1", "LIST-A", "SKU-1", "CS", 1200).into(),
        );
        let mut moved = list_price("P1", "LIST-B", "SKU-1", "CS", 1100);
        moved.kind = PriceKind::List;
        apply(&mut md, Table::Prices, moved.into());
        assert_eq!(md.prices_for(PriceKind::List, "LIST-A", "SKU-1").count(), 0);
        assert_eq!(md.prices_for(PriceKind::List, "LIST-B", "SKU-1").count(), 1);

        // a customer event on the items topic is not an item
        assert_eq!(
            apply(&mut md, Table::Items, customer("C2").into()),
            Applied::Ignored
        );
    }

    #[test]
    fn availability_keeps_the_newest_position_version() {
        let mut md = MasterData::default();
        let mut a = availability("SKU-1", "L1", 10, 5);
        assert_eq!(
            apply(&mut md, Table::Availability, a.clone().into()),
            Applied::Changed
        );
        a.position_version = 4;
        a.available_base = 999;
        assert_eq!(
            apply(&mut md, Table::Availability, a.into()),
            Applied::Ignored
        );
        assert_eq!(
            md.availability_of("SKU-1")
                .map(|p| p.available_base)
                .sum::<i64>(),
            10
        );
        apply_tombstone(&mut md, Table::Availability, "SKU-1@L1");
        assert_eq!(md.availability_of("SKU-1").count(), 0);
    }
}

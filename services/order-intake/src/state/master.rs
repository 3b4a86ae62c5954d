//! The local copy of the ERP master data (customers, items, prices, locations) and of the
//! availability stream, with the lookups validation needs. Every instance holds all of it,
//! built from the compacted topics and kept current by followers
//! ([`crate::handlers::master_data`] applies the events).

use std::collections::HashMap;

use dsync_events::{
    AvailabilityChanged, CompactString, CustomerUpserted, ItemUpserted, PriceKind,
    PriceListEntryUpserted, WarehouseLocationUpserted,
};

type PriceKey = (PriceKind, CompactString, CompactString);

/// The master data tables.
#[derive(Debug, Default, Clone)]
pub struct MasterData {
    customers: HashMap<CompactString, CustomerUpserted>,
    items: HashMap<CompactString, ItemUpserted>,
    /// GTIN -> (SKU, unit of that packaging level).
    gtins: HashMap<CompactString, (CompactString, CompactString)>,
    prices: HashMap<CompactString, PriceListEntryUpserted>,
    /// (kind, price list or contract id, SKU) -> entry ids.
    price_index: HashMap<PriceKey, Vec<CompactString>>,
    locations: HashMap<CompactString, WarehouseLocationUpserted>,
    /// SKU -> location id -> latest position.
    availability: HashMap<CompactString, HashMap<CompactString, AvailabilityChanged>>,
}

/// Which table a compacted topic feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// `erp.customers`
    Customers,
    /// `erp.items`
    Items,
    /// `erp.prices`
    Prices,
    /// `erp.locations`
    Locations,
    /// `inventory.availability`
    Availability,
}

impl Table {
    /// Label value for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Customers => "customers",
            Table::Items => "items",
            Table::Prices => "prices",
            Table::Locations => "locations",
            Table::Availability => "availability",
        }
    }
}

impl MasterData {
    /// Replaces a customer.
    pub fn upsert_customer(&mut self, c: CustomerUpserted) {
        self.customers.insert(c.customer_id.clone(), c);
    }

    /// Forgets a customer.
    pub fn delete_customer(&mut self, customer_id: &str) {
        self.customers.remove(customer_id);
    }

    /// Replaces an item (and its GTINs).
    pub fn upsert_item(&mut self, item: ItemUpserted) {
        self.delete_item(&item.sku);
        for u in &item.units {
            if let Some(g) = &u.gtin {
                self.gtins
                    .insert(g.clone(), (item.sku.clone(), u.unit.clone()));
            }
        }
        self.items.insert(item.sku.clone(), item);
    }

    /// Forgets an item (and its GTINs).
    pub fn delete_item(&mut self, sku: &str) {
        if let Some(old) = self.items.remove(sku) {
            for u in &old.units {
                if let Some(g) = &u.gtin {
                    if self.gtins.get(g).is_some_and(|(s, _)| s == sku) {
                        self.gtins.remove(g);
                    }
                }
            }
        }
    }

    /// Replaces a price entry.
    pub fn upsert_price(&mut self, p: PriceListEntryUpserted) {
        self.delete_price(&p.entry_id);
        self.price_index
            .entry((p.kind, p.price_list_id.clone(), p.sku.clone()))
            .or_default()
            .push(p.entry_id.clone());
        self.prices.insert(p.entry_id.clone(), p);
    }

    /// Forgets a price entry.
    pub fn delete_price(&mut self, entry_id: &str) {
        if let Some(old) = self.prices.remove(entry_id) {
            let key = (old.kind, old.price_list_id, old.sku);
            if let Some(ids) = self.price_index.get_mut(&key) {
                ids.retain(|id| id != entry_id);
                if ids.is_empty() {
                    self.price_index.remove(&key);
                }
            }
        }
    }

    /// Replaces a location.
    pub fn upsert_location(&mut self, l: WarehouseLocationUpserted) {
        self.locations.insert(l.location_id.clone(), l);
    }

    /// Forgets a location.
    pub fn delete_location(&mut self, location_id: &str) {
        self.locations.remove(location_id);
    }

    /// Applies an availability position unless an equal or newer version is held; returns
    /// whether it was applied.
    pub fn apply_availability(&mut self, a: AvailabilityChanged) -> bool {
        let per_sku = self.availability.entry(a.sku.clone()).or_default();
        if per_sku
            .get(&a.location_id)
            .is_some_and(|held| held.position_version >= a.position_version)
        {
            return false;
        }
        per_sku.insert(a.location_id.clone(), a);
        true
    }

    /// Forgets the position of `sku@location`.
    pub fn delete_availability(&mut self, sku: &str, location_id: &str) {
        if let Some(per_sku) = self.availability.get_mut(sku) {
            per_sku.remove(location_id);
            if per_sku.is_empty() {
                self.availability.remove(sku);
            }
        }
    }

    /// A customer.
    pub fn customer(&self, customer_id: &str) -> Option<&CustomerUpserted> {
        self.customers.get(customer_id)
    }

    /// An item by SKU.
    pub fn item(&self, sku: &str) -> Option<&ItemUpserted> {
        self.items.get(sku)
    }

    /// The SKU and unit a GTIN identifies.
    pub fn item_by_gtin(&self, gtin: &str) -> Option<(&ItemUpserted, &str)> {
        let (sku, unit) = self.gtins.get(gtin)?;
        Some((self.items.get(sku)?, unit.as_str()))
    }

    /// The price entries of `kind` in `list` for `sku`.
    pub fn prices_for<'a>(
        &'a self,
        kind: PriceKind,
        list: &str,
        sku: &str,
    ) -> impl Iterator<Item = &'a PriceListEntryUpserted> + 'a {
        self.price_index
            .get(&(kind, CompactString::from(list), CompactString::from(sku)))
            .into_iter()
            .flatten()
            .filter_map(|id| self.prices.get(id))
    }

    /// A location.
    pub fn location(&self, location_id: &str) -> Option<&WarehouseLocationUpserted> {
        self.locations.get(location_id)
    }

    /// The positions of `sku` by location.
    pub fn availability_of(&self, sku: &str) -> impl Iterator<Item = &AvailabilityChanged> {
        self.availability
            .get(sku)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// Entries held in `table`.
    pub fn len(&self, table: Table) -> usize {
        match table {
            Table::Customers => self.customers.len(),
            Table::Items => self.items.len(),
            Table::Prices => self.prices.len(),
            Table::Locations => self.locations.len(),
            Table::Availability => self.availability.values().map(HashMap::len).sum(),
        }
    }
}

//! The catalogue of the sample distributor, `crates/cli/data/sample-catalog.json` (embedded in
//! the build): what the generator picks from. Nothing random is in the file; the generator
//! draws from it with its seeded generator, in file order.
//!
//! * `warehouses`: id, name, address and time zone of each distribution centre, its stock
//!   `locations` (`suffix` of the location id `<warehouse>-<suffix>`, the location name after
//!   the warehouse's, the `location_kind`, whether it counts for available-to-promise) and the
//!   `customer_cities` its customers are in, as `[city, region, first three ZIP digits]`.
//! * `streets`, `places` (the first word of a customer's name), `segments` (its second word,
//!   with the range of credit limits in dollars; `[0, 0]`: no credit limit), `chains` (the
//!   retail chains that order by EDI, with their partner id and number of stores) and `holds`
//!   (credit hold reasons).
//! * `families`: the product families (category, SKU prefix) and their items: description,
//!   base unit, units of measure as `[code, factor to the base unit, orderable]`, and `price`,
//!   the list price of one base unit in hundredths of a cent; `price_jitter`, when given, adds
//!   a random 0 to `price_jitter` to it.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::CliError;

const CATALOG_JSON: &str = include_str!("../../data/sample-catalog.json");

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Catalog {
    pub warehouses: Vec<Warehouse>,
    pub streets: Vec<String>,
    pub places: Vec<String>,
    pub segments: Vec<Segment>,
    pub chains: Vec<Chain>,
    pub holds: Vec<String>,
    pub families: Vec<FamilyDef>,
}

/// A distribution centre.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Warehouse {
    pub id: String,
    pub name: String,
    pub line1: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub time_zone: String,
    pub locations: Vec<LocationDef>,
    pub customer_cities: Vec<City>,
}

/// A stock location of a warehouse.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LocationDef {
    pub suffix: String,
    pub name: String,
    pub kind: String,
    pub atp_eligible: bool,
}

/// `[city, region, first three ZIP digits]`.
#[derive(Debug, Deserialize)]
pub(super) struct City(pub String, pub String, pub String);

/// A kind of customer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Segment {
    pub suffix: String,
    /// `[low, high]` in dollars; `[0, 0]`: no credit limit.
    pub credit_limit_dollars: [i64; 2],
}

/// A retail chain ordering by EDI.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Chain {
    pub name: String,
    pub edi_partner_id: String,
    pub stores: usize,
}

/// A product family.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FamilyDef {
    pub category: String,
    pub sku_prefix: String,
    pub items: Vec<ItemDef>,
}

/// An item of a family.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ItemDef {
    pub description: String,
    pub base_unit: String,
    pub units: Vec<UnitDef>,
    /// List price of one base unit, in hundredths of a cent.
    pub price: i64,
    /// A random 0 to this is added to `price`.
    #[serde(default)]
    pub price_jitter: Option<i64>,
}

/// `[code, factor to the base unit, orderable]`.
#[derive(Debug, Deserialize)]
pub(super) struct UnitDef(pub String, pub i64, pub bool);

impl Catalog {
    /// The embedded catalogue, parsed once.
    pub fn get() -> Result<&'static Catalog, CliError> {
        static CATALOG: OnceLock<Result<Catalog, String>> = OnceLock::new();
        CATALOG
            .get_or_init(|| serde_json::from_str(CATALOG_JSON).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| CliError::SampleCatalog(e.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalogue_parses_and_is_consistent() {
        let c = Catalog::get().expect("parses");
        assert_eq!(c.warehouses.len(), 3);
        assert!(c.warehouses.iter().all(|w| !w.customer_cities.is_empty()));
        assert_eq!(c.chains.len(), 4);
        for f in &c.families {
            for it in &f.items {
                let base: Vec<&UnitDef> = it.units.iter().filter(|u| u.0 == it.base_unit).collect();
                assert!(
                    matches!(base.as_slice(), [u] if u.1 == 1),
                    "{}: the base unit once, with factor 1",
                    it.description
                );
                assert!(it.units.iter().all(|u| u.1 >= 1), "{}", it.description);
                assert!(it.price > 0, "{}", it.description);
            }
        }
        let items: usize = c.families.iter().map(|f| f.items.len()).sum();
        assert!(items >= 500, "enough items to pick 500 from: {items}");
    }
}

//! The sample data of a small distributor (`dsync sample-data`): deterministic for a seed, so
//! the committed files in `data/sample/` are reproducible.
//!
//! "Lone Star Supply Co." sells janitorial, paper, food-service, safety and packaging supplies
//! from three warehouses (Dallas, Atlanta, Reno) to restaurants, schools, clinics, hotels and
//! property managers, and to four retail chains that order by EDI:
//!
//! * `locations.csv` (`WarehouseLocationUpserted`, topic `erp.locations`): the warehouses'
//!   stock, returns and quarantine locations.
//! * `items.csv` (`ItemUpserted`, `erp.items`): 500 items with their units of measure (each,
//!   inner pack or box, case, some pallets), GTINs, status and sellability.
//! * `prices.csv` (`PriceListEntryUpserted`, `erp.prices`): two price lists (standard and
//!   volume) for every orderable unit of every priced item, last year's expired entries for
//!   some, and customer contract prices.
//! * `customers.csv` (`CustomerUpserted`, `erp.customers`): 60 customers with credit limits,
//!   open balances, holds, ATP policies, price lists, contracts and ship-tos.
//! * `orders.jsonl` (`OrderSubmitted`, `orders.submissions`): orders from every channel,
//!   including the cases order validation must catch (see `data/sample/README.md`).
//!
//! The distributor's catalogue (warehouses, customer names and places, product families and
//! items) is data, `crates/cli/data/sample-catalog.json` (`catalog`); the generator draws the
//! master data from it (`master`) and builds the orders as typed `OrderSubmitted` events
//! (`orders`).

use std::path::Path;

use crate::CliError;

mod catalog;
mod master;
mod orders;

use catalog::Catalog;

/// The seed the committed sample data was generated with.
pub const DEFAULT_SEED: u64 = 20_260_301;

/// Counts of what was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleSummary {
    /// Locations.
    pub locations: usize,
    /// Items.
    pub items: usize,
    /// Price entries.
    pub prices: usize,
    /// Customers.
    pub customers: usize,
    /// Orders.
    pub orders: usize,
}

impl std::fmt::Display for SampleSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} locations, {} items, {} price entries, {} customers, {} orders",
            self.locations, self.items, self.prices, self.customers, self.orders
        )
    }
}

/// SplitMix64: a tiny PRNG whose sequence never changes with a dependency's version.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo + 1).max(1) as u64;
        lo + (self.next() % span) as i64
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }

    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            xs.swap(i, j);
        }
    }
}

/// A GS1 check digit for the digits given (without it).
fn gs1_check(digits: &str) -> char {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { d })
        .sum();
    char::from_digit((10 - sum % 10) % 10, 10).unwrap_or('0')
}

/// Escapes a value for a `:`/`;` list entry.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ':' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

fn writer(dir: &Path, name: &str) -> Result<csv::Writer<std::fs::File>, CliError> {
    let path = dir.join(name);
    csv::Writer::from_path(&path).map_err(|e| CliError::Csv { path, source: e })
}

fn row(w: &mut csv::Writer<std::fs::File>, dir: &Path, cells: &[&str]) -> Result<(), CliError> {
    w.write_record(cells).map_err(|e| CliError::Csv {
        path: dir.to_owned(),
        source: e,
    })
}

fn flush(mut w: csv::Writer<std::fs::File>, dir: &Path) -> Result<(), CliError> {
    w.flush()
        .map_err(|e| CliError::io(format!("writing into {}", dir.display()), e))
}

/// Writes the sample data files into `out` (created when missing).
pub fn generate(out: &Path, seed: u64) -> Result<SampleSummary, CliError> {
    let catalog = Catalog::get()?;
    std::fs::create_dir_all(out)
        .map_err(|e| CliError::io(format!("creating {}", out.display()), e))?;
    let mut rng = Rng(seed);
    let locations = master::locations(out, catalog)?;
    let items = master::items(catalog, &mut rng);
    master::items_csv(out, &items)?;
    let customers = master::customers(catalog, &mut rng);
    master::customers_csv(out, &customers)?;
    let (prices, contracts) = master::prices_csv(out, &mut rng, &items, &customers)?;
    let orders = orders::orders_jsonl(out, &mut rng, &items, &customers, &contracts)?;
    Ok(SampleSummary {
        locations,
        items: items.len(),
        prices,
        customers: customers.len(),
        orders,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_check_digits() {
        // Known-good GTINs.
        assert_eq!(gs1_check("03600029145"), '2'); // UPC-A 036000291452
        assert_eq!(gs1_check("1001234567890"), '2'); // GTIN-14 10012345678902
    }

    #[test]
    fn deterministic_and_sized() {
        let catalog = Catalog::get().expect("catalogue");
        let mut a = Rng(DEFAULT_SEED);
        let mut b = Rng(DEFAULT_SEED);
        let ia = master::items(catalog, &mut a);
        let ib = master::items(catalog, &mut b);
        assert_eq!(ia.len(), 500);
        assert_eq!(
            ia.iter().map(|i| &i.sku).collect::<Vec<_>>(),
            ib.iter().map(|i| &i.sku).collect::<Vec<_>>()
        );
        let skus: std::collections::BTreeSet<&String> = ia.iter().map(|i| &i.sku).collect();
        assert_eq!(skus.len(), 500, "unique SKUs");
        assert!(ia
            .iter()
            .all(|i| i.unit(i.base_unit).is_some_and(|u| u.factor == 1)));
        assert!(ia.iter().filter(|i| i.unit("PL").is_some()).count() > 10);
        let cs = master::customers(catalog, &mut a);
        assert_eq!(cs.len(), 60);
        assert!(cs.iter().filter(|c| c.on_hold.is_some()).count() >= 3);
        assert!(cs
            .iter()
            .all(|c| c.ship_tos.iter().filter(|s| s.is_default).count() == 1));
    }
}

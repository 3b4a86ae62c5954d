//! The master data of the sample distributor: locations, items, customers and prices, written
//! as the CSV files `dsync produce` loads onto the ERP's topics.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::catalog::{Catalog, Warehouse};
use super::{esc, flush, gs1_check, money, row, writer, Rng};
use crate::CliError;

pub(super) fn locations(out: &Path, catalog: &Catalog) -> Result<usize, CliError> {
    let mut w = writer(out, "locations.csv")?;
    row(
        &mut w,
        out,
        &[
            "location_id",
            "name",
            "warehouse_id",
            "location_kind",
            "atp_eligible",
            "address.line1",
            "address.line2",
            "address.city",
            "address.region",
            "address.postal_code",
            "address.country_code",
            "time_zone",
            "active",
            "wms_source_system",
        ],
    )?;
    let mut n = 0;
    for wh in &catalog.warehouses {
        let wms = format!("wms-{}", wh.id.to_lowercase());
        for loc in &wh.locations {
            let id = format!("{}-{}", wh.id, loc.suffix);
            let name = format!("{} {}", wh.name, loc.name);
            row(
                &mut w,
                out,
                &[
                    &id,
                    &name,
                    &wh.id,
                    &loc.kind,
                    if loc.atp_eligible { "true" } else { "false" },
                    &wh.line1,
                    "",
                    &wh.city,
                    &wh.region,
                    &wh.postal_code,
                    "US",
                    &wh.time_zone,
                    "true",
                    &wms,
                ],
            )?;
            n += 1;
        }
    }
    flush(w, out)?;
    Ok(n)
}

/// One unit of measure of an item.
#[derive(Debug, Clone)]
pub(super) struct Unit {
    pub(super) code: &'static str,
    pub(super) factor: i64,
    pub(super) gtin: Option<String>,
    pub(super) orderable: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) sku: String,
    pub(super) description: String,
    pub(super) base_unit: &'static str,
    pub(super) units: Vec<Unit>,
    pub(super) status: &'static str,
    pub(super) sellable: bool,
    pub(super) category: &'static str,
    /// List price per base unit, in hundredths of a cent.
    pub(super) base_price_centicents: i64,
}

impl Item {
    pub(super) fn unit(&self, code: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.code == code)
    }

    /// The largest orderable unit below a pallet (what contracts and most orders use).
    pub(super) fn case_unit(&self) -> Option<&Unit> {
        self.units
            .iter()
            .filter(|u| u.orderable && u.code != "PL")
            .max_by_key(|u| u.factor)
    }

    pub(super) fn priced(&self) -> bool {
        self.sellable && self.status != "INACTIVE"
    }

    /// Standard list price of one `unit`, in cents.
    pub(super) fn list_price(&self, unit: &Unit) -> i64 {
        let discount_pct = match unit.code {
            "PL" => 92,
            c if c == self.base_unit => 100,
            "CS" => 97,
            _ => 99,
        };
        let cc = self.base_price_centicents * unit.factor * discount_pct / 100;
        ((cc + 50) / 100).max(1)
    }
}

/// A product family with its candidate items (no SKUs yet).
struct Family {
    category: &'static str,
    prefix: &'static str,
    items: Vec<Item>,
}

/// The catalogue's families, prices jittered where the catalogue says so.
fn families(catalog: &'static Catalog, rng: &mut Rng) -> Vec<Family> {
    let mut fams = Vec::with_capacity(catalog.families.len());
    for f in &catalog.families {
        let mut items = Vec::with_capacity(f.items.len());
        for d in &f.items {
            items.push(Item {
                sku: String::new(),
                description: d.description.clone(),
                base_unit: &d.base_unit,
                units: d
                    .units
                    .iter()
                    .map(|u| Unit {
                        code: &u.0,
                        factor: u.1,
                        gtin: None,
                        orderable: u.2,
                    })
                    .collect(),
                status: "ACTIVE",
                sellable: true,
                category: &f.category,
                base_price_centicents: d.price + d.price_jitter.map_or(0, |j| rng.range(0, j)),
            });
        }
        fams.push(Family {
            category: &f.category,
            prefix: &f.sku_prefix,
            items,
        });
    }
    fams
}

/// Chooses 500 items, gives them SKUs, GTINs, statuses.
pub(super) fn items(catalog: &'static Catalog, rng: &mut Rng) -> Vec<Item> {
    let mut fams = families(catalog, rng);
    let total: usize = fams.iter().map(|f| f.items.len()).sum();
    let target = 500usize;
    // Keep a share of each family proportional to its size, at least all of small ones.
    let mut keep: Vec<usize> = fams
        .iter()
        .map(|f| f.items.len() * target / total.max(1))
        .collect();
    let mut short = target.saturating_sub(keep.iter().sum());
    let mut i = 0;
    while short > 0 && i < fams.len() * target {
        let k = i % fams.len();
        if keep[k] < fams[k].items.len() {
            keep[k] += 1;
            short -= 1;
        }
        i += 1;
    }
    let mut out = Vec::with_capacity(target);
    let mut gtin_ref = 10_000u64;
    for (f, n) in fams.iter_mut().zip(keep) {
        let mut idx: Vec<usize> = (0..f.items.len()).collect();
        rng.shuffle(&mut idx);
        let mut chosen: Vec<usize> = idx.into_iter().take(n).collect();
        chosen.sort_unstable();
        for (seq, i) in chosen.into_iter().enumerate() {
            let mut it = f.items[i].clone();
            it.sku = format!("{}-{}", f.prefix, 1001 + seq);
            it.category = f.category;
            gtin_ref += rng.range(1, 7) as u64;
            let upc11 = format!("0{}{:05}", 61_234, gtin_ref % 100_000);
            let mut indicator = 0;
            for u in &mut it.units {
                if u.code == "PL" {
                    continue;
                }
                u.gtin = Some(if u.code == it.base_unit {
                    format!("{upc11}{}", gs1_check(&upc11))
                } else {
                    indicator += 1;
                    let d = format!("{indicator}0{upc11}");
                    format!("{d}{}", gs1_check(&d))
                });
            }
            let roll = rng.range(0, 99);
            it.status = match roll {
                0..=4 => "NEW",
                5..=9 => "DISCONTINUED",
                10..=11 => "INACTIVE",
                _ => "ACTIVE",
            };
            it.sellable = !rng.chance(2);
            it.base_price_centicents = it.base_price_centicents * rng.range(90, 112) / 100;
            out.push(it);
        }
    }
    out
}

pub(super) fn items_csv(out: &Path, items: &[Item]) -> Result<(), CliError> {
    let mut w = writer(out, "items.csv")?;
    row(
        &mut w,
        out,
        &[
            "sku",
            "description",
            "base_unit",
            "units",
            "status",
            "sellable",
            "category",
        ],
    )?;
    for it in items {
        let units = it
            .units
            .iter()
            .map(|u| {
                let mut s = format!("{}:{}", esc(u.code), u.factor);
                match (&u.gtin, u.orderable) {
                    (Some(g), true) => {
                        let _ = write!(s, ":{g}");
                    }
                    (Some(g), false) => {
                        let _ = write!(s, ":{g}:N");
                    }
                    (None, true) => {}
                    (None, false) => s.push_str("::N"),
                }
                s
            })
            .collect::<Vec<_>>()
            .join(";");
        row(
            &mut w,
            out,
            &[
                &it.sku,
                &it.description,
                it.base_unit,
                &units,
                it.status,
                if it.sellable { "Y" } else { "N" },
                it.category,
            ],
        )?;
    }
    flush(w, out)
}

#[derive(Debug, Clone)]
pub(super) struct ShipTo {
    pub(super) id: String,
    pub(super) name: String,
    line1: String,
    pub(super) city: &'static str,
    pub(super) region: &'static str,
    pub(super) postal: String,
    pub(super) edi_location: Option<String>,
    pub(super) warehouse: Option<&'static str>,
    pub(super) is_default: bool,
    pub(super) active: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Customer {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) active: bool,
    pub(super) credit_limit: Option<i64>,
    pub(super) open_balance: i64,
    pub(super) on_hold: Option<&'static str>,
    pub(super) price_list: &'static str,
    pub(super) contract: Option<String>,
    pub(super) atp: &'static str,
    pub(super) crm: Option<String>,
    pub(super) edi_partner: Option<&'static str>,
    pub(super) bill_to: Option<(String, &'static str, &'static str, String)>,
    pub(super) ship_tos: Vec<ShipTo>,
}

fn address(
    rng: &mut Rng,
    catalog: &'static Catalog,
    wh: &'static Warehouse,
) -> (String, &'static str, &'static str, String) {
    let city = rng.pick(&wh.customer_cities);
    let street = format!("{} {}", rng.range(100, 9899), rng.pick(&catalog.streets));
    let postal = format!("{}{:02}", city.2, rng.range(1, 60));
    (street, &city.0, &city.1, postal)
}

pub(super) fn customers(catalog: &'static Catalog, rng: &mut Rng) -> Vec<Customer> {
    let segments = &catalog.segments;
    let mut names: Vec<(String, usize)> = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    while names.len() < 56 {
        let place = rng.pick(&catalog.places);
        let seg = (rng.next() % segments.len() as u64) as usize;
        let name = format!("{place} {}", segments[seg].suffix);
        if used.insert(name.clone()) {
            names.push((name, seg));
        }
    }
    let mut out = Vec::new();
    let chain_at = [5usize, 17, 29, 41];
    let mut regular = names.into_iter();
    let mut chains = catalog.chains.iter();
    for n in 1..=60usize {
        let id = format!("C{}", 10_000 + n);
        let wh = &catalog.warehouses[(rng.next() % catalog.warehouses.len() as u64) as usize];
        if chain_at.contains(&n) {
            let Some(chain) = chains.next() else {
                continue;
            };
            let (name, stores) = (&chain.name, chain.stores);
            let hq = address(rng, catalog, wh);
            let mut ship_tos = vec![ShipTo {
                id: format!("{id}-DC01"),
                name: format!("{name} Distribution Center"),
                line1: hq.0.clone(),
                city: hq.1,
                region: hq.2,
                postal: hq.3.clone(),
                edi_location: Some(format!("{:04}", 9000 + rng.range(1, 99))),
                warehouse: Some(&wh.id),
                is_default: true,
                active: true,
            }];
            for s in 0..stores {
                let a = address(rng, catalog, wh);
                let store_no = format!("{:04}", rng.range(10, 899) as usize + s);
                ship_tos.push(ShipTo {
                    id: format!("{id}-S{store_no}"),
                    name: format!("{name} #{store_no} {}", a.1),
                    line1: a.0,
                    city: a.1,
                    region: a.2,
                    postal: a.3,
                    edi_location: Some(store_no),
                    warehouse: Some(&wh.id),
                    is_default: false,
                    active: s != 2 || stores < 6,
                });
            }
            let limit = rng.range(150, 400) * 1_000;
            out.push(Customer {
                id: id.clone(),
                name: name.clone(),
                active: true,
                credit_limit: Some(limit * 100),
                open_balance: limit * 100 * rng.range(10, 55) / 100,
                on_hold: None,
                price_list: "LIST-VOL",
                contract: (n % 2 == 1).then(|| format!("CTR-{id}")),
                atp: if n == 17 { "PARTIAL" } else { "BACKORDER" },
                crm: Some(format!("CRM-{:05}", 20_000 + n * 7)),
                edi_partner: Some(&chain.edi_partner_id),
                bill_to: Some(hq),
                ship_tos,
            });
            continue;
        }
        let Some((name, seg)) = regular.next() else {
            continue;
        };
        let [lo, hi] = segments[seg].credit_limit_dollars;
        let credit_limit = if hi == 0 || rng.chance(4) {
            None
        } else {
            Some(rng.range(lo / 1_000, hi / 1_000) * 1_000 * 100)
        };
        let open_balance = match credit_limit {
            Some(l) if n % 13 == 0 => l * rng.range(92, 99) / 100,
            Some(l) => l * rng.range(0, 70) / 100,
            None => rng.range(0, 40_000) * 100,
        };
        let on_hold = (n % 11 == 3 || n == 48).then(|| rng.pick(&catalog.holds).as_str());
        let sites = 1 + (rng.next() % 3) as usize;
        let bill = address(rng, catalog, wh);
        let ship_tos = (0..sites)
            .map(|s| {
                let a = if s == 0 && rng.chance(50) {
                    bill.clone()
                } else {
                    address(rng, catalog, wh)
                };
                ShipTo {
                    id: format!("{id}-ST{:02}", s + 1),
                    name: if s == 0 {
                        name.clone()
                    } else {
                        format!("{name} - {}", a.1)
                    },
                    line1: a.0,
                    city: a.1,
                    region: a.2,
                    postal: a.3,
                    edi_location: None,
                    warehouse: (!rng.chance(15)).then_some(wh.id.as_str()),
                    is_default: s == 0,
                    active: s == 0 || !rng.chance(10),
                }
            })
            .collect();
        let atp = match rng.range(0, 99) {
            0..=19 => "REJECT",
            20..=74 => "BACKORDER",
            _ => "PARTIAL",
        };
        out.push(Customer {
            id: id.clone(),
            name,
            active: !(n == 52 || n == 58),
            credit_limit,
            open_balance,
            on_hold,
            price_list: if credit_limit.is_some_and(|l| l >= 5000000) {
                "LIST-VOL"
            } else {
                "LIST-STD"
            },
            contract: [2usize, 9, 14, 22, 27, 33, 38, 46, 55, 60]
                .contains(&n)
                .then(|| format!("CTR-{id}")),
            atp,
            crm: (!rng.chance(15)).then(|| format!("CRM-{:05}", 20_000 + n * 7)),
            edi_partner: None,
            bill_to: (!rng.chance(30)).then_some(bill),
            ship_tos,
        });
    }
    out
}

pub(super) fn customers_csv(out: &Path, customers: &[Customer]) -> Result<(), CliError> {
    let mut w = writer(out, "customers.csv")?;
    row(
        &mut w,
        out,
        &[
            "customer_id",
            "name",
            "active",
            "currency",
            "credit_limit",
            "open_balance",
            "balance_as_of",
            "on_hold",
            "hold_reason",
            "price_list_id",
            "contract_id",
            "atp_policy",
            "crm_account_id",
            "edi_partner_id",
            "bill_to.line1",
            "bill_to.line2",
            "bill_to.city",
            "bill_to.region",
            "bill_to.postal_code",
            "bill_to.country_code",
            "ship_tos",
        ],
    )?;
    for c in customers {
        let ship_tos = c
            .ship_tos
            .iter()
            .map(|s| {
                [
                    esc(&s.id),
                    esc(&s.name),
                    esc(&s.line1),
                    String::new(),
                    esc(s.city),
                    esc(s.region),
                    esc(&s.postal),
                    "US".into(),
                    s.edi_location.as_deref().map(esc).unwrap_or_default(),
                    s.warehouse.map(esc).unwrap_or_default(),
                    if s.is_default { "Y" } else { "N" }.into(),
                    if s.active { "Y" } else { "N" }.into(),
                ]
                .join(":")
            })
            .collect::<Vec<_>>()
            .join(";");
        let (b1, bcity, bregion, bpostal, bcountry) = match &c.bill_to {
            Some((l1, city, region, postal)) => (l1.clone(), *city, *region, postal.clone(), "US"),
            None => (String::new(), "", "", String::new(), ""),
        };
        row(
            &mut w,
            out,
            &[
                &c.id,
                &c.name,
                if c.active { "Y" } else { "N" },
                "USD",
                &c.credit_limit.map(money).unwrap_or_default(),
                &money(c.open_balance),
                "2026-11-16T06:00:00Z",
                if c.on_hold.is_some() { "Y" } else { "N" },
                c.on_hold.unwrap_or_default(),
                c.price_list,
                c.contract.as_deref().unwrap_or_default(),
                c.atp,
                c.crm.as_deref().unwrap_or_default(),
                c.edi_partner.unwrap_or_default(),
                &b1,
                "",
                bcity,
                bregion,
                &bpostal,
                bcountry,
                &ship_tos,
            ],
        )?;
    }
    flush(w, out)
}

/// Contract prices: customer id -> (sku, unit, cents).
pub(super) type Contracts = BTreeMap<String, Vec<(String, &'static str, i64)>>;

pub(super) fn prices_csv(
    out: &Path,
    rng: &mut Rng,
    items: &[Item],
    customers: &[Customer],
) -> Result<(usize, Contracts), CliError> {
    let mut w = writer(out, "prices.csv")?;
    row(
        &mut w,
        out,
        &[
            "entry_id",
            "kind",
            "price_list_id",
            "sku",
            "unit",
            "unit_price",
            "currency",
            "valid_from",
            "valid_to",
        ],
    )?;
    let mut n = 0;
    for it in items.iter().filter(|i| i.priced()) {
        let old = rng.chance(8);
        for u in it.units.iter().filter(|u| u.orderable) {
            let std = it.list_price(u);
            for (list, price) in [("STD", std), ("VOL", (std * 94 + 50) / 100)] {
                row(
                    &mut w,
                    out,
                    &[
                        &format!("PL-{list}-{}-{}", it.sku, u.code),
                        "LIST",
                        &format!("LIST-{list}"),
                        &it.sku,
                        u.code,
                        &money(price.max(1)),
                        "USD",
                        "2026-01-01",
                        "",
                    ],
                )?;
                n += 1;
                if old && list == "STD" {
                    row(
                        &mut w,
                        out,
                        &[
                            &format!("PL-{list}-{}-{}-2025", it.sku, u.code),
                            "LIST",
                            &format!("LIST-{list}"),
                            &it.sku,
                            u.code,
                            &money((price * 95 / 100).max(1)),
                            "USD",
                            "2025-01-01",
                            "2025-12-31",
                        ],
                    )?;
                    n += 1;
                }
            }
        }
    }
    let mut contracts = Contracts::new();
    let candidates: Vec<&Item> = items
        .iter()
        .filter(|i| i.priced() && i.status == "ACTIVE" && i.case_unit().is_some())
        .collect();
    for c in customers {
        let Some(contract) = &c.contract else {
            continue;
        };
        let count = rng.range(15, 40) as usize;
        let mut idx: Vec<usize> = (0..candidates.len()).collect();
        rng.shuffle(&mut idx);
        let mut chosen: Vec<usize> = idx.into_iter().take(count).collect();
        chosen.sort_unstable();
        // One contract ran out in June: its prices no longer apply.
        let valid_to = if c.id == "C10022" {
            "2026-06-30"
        } else {
            "2027-06-30"
        };
        for i in chosen {
            let it = candidates[i];
            let Some(u) = it.case_unit() else { continue };
            let price = (it.list_price(u) * rng.range(85, 95) + 50) / 100;
            row(
                &mut w,
                out,
                &[
                    &format!("CP-{}-{}-{}", c.id, it.sku, u.code),
                    "CONTRACT",
                    contract,
                    &it.sku,
                    u.code,
                    &money(price.max(1)),
                    "USD",
                    "2026-01-01",
                    valid_to,
                ],
            )?;
            n += 1;
            if valid_to > "2026-11" {
                contracts.entry(c.id.clone()).or_default().push((
                    it.sku.clone(),
                    u.code,
                    price.max(1),
                ));
            }
        }
    }
    flush(w, out)?;
    Ok((n, contracts))
}

/// What an order line costs the customer per `unit`: contract price, else their list price.
pub(super) fn expected_price(it: &Item, unit: &Unit, c: &Customer, contracts: &Contracts) -> i64 {
    if let Some((_, _, p)) = contracts
        .get(&c.id)
        .and_then(|v| v.iter().find(|(s, u, _)| *s == it.sku && *u == unit.code))
    {
        return *p;
    }
    let std = it.list_price(unit);
    if c.price_list == "LIST-VOL" {
        (std * 94 + 50) / 100
    } else {
        std
    }
}

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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use crate::CliError;

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

struct Warehouse {
    id: &'static str,
    name: &'static str,
    line1: &'static str,
    city: &'static str,
    region: &'static str,
    postal: &'static str,
    tz: &'static str,
    cities: &'static [(&'static str, &'static str, &'static str)],
}

const WAREHOUSES: &[Warehouse] = &[
    Warehouse {
        id: "DAL",
        name: "Dallas DC",
        line1: "4100 Distribution Way",
        city: "Dallas",
        region: "TX",
        postal: "75207",
        tz: "America/Chicago",
        cities: &[
            ("Dallas", "TX", "752"),
            ("Fort Worth", "TX", "761"),
            ("Austin", "TX", "787"),
            ("Houston", "TX", "770"),
            ("San Antonio", "TX", "782"),
            ("Oklahoma City", "OK", "731"),
            ("Tulsa", "OK", "741"),
            ("Shreveport", "LA", "711"),
            ("Albuquerque", "NM", "871"),
            ("Little Rock", "AR", "722"),
        ],
    },
    Warehouse {
        id: "ATL",
        name: "Atlanta DC",
        line1: "1850 Fulton Industrial Blvd SW",
        city: "Atlanta",
        region: "GA",
        postal: "30336",
        tz: "America/New_York",
        cities: &[
            ("Atlanta", "GA", "303"),
            ("Savannah", "GA", "314"),
            ("Birmingham", "AL", "352"),
            ("Nashville", "TN", "372"),
            ("Charlotte", "NC", "282"),
            ("Columbia", "SC", "292"),
            ("Jacksonville", "FL", "322"),
            ("Orlando", "FL", "328"),
            ("Chattanooga", "TN", "374"),
            ("Montgomery", "AL", "361"),
        ],
    },
    Warehouse {
        id: "RNO",
        name: "Reno DC",
        line1: "9550 Gateway Dr",
        city: "Reno",
        region: "NV",
        postal: "89521",
        tz: "America/Los_Angeles",
        cities: &[
            ("Reno", "NV", "895"),
            ("Las Vegas", "NV", "891"),
            ("Sacramento", "CA", "958"),
            ("Fresno", "CA", "937"),
            ("Boise", "ID", "837"),
            ("Salt Lake City", "UT", "841"),
            ("Phoenix", "AZ", "850"),
            ("Tucson", "AZ", "857"),
            ("Portland", "OR", "972"),
            ("Eugene", "OR", "974"),
        ],
    },
];

const STREETS: &[&str] = &[
    "Main St",
    "Commerce St",
    "Elm St",
    "Industrial Blvd",
    "Oak Ave",
    "Park Pl",
    "Market St",
    "Cedar Ln",
    "Lakeview Dr",
    "Airport Rd",
    "Highland Ave",
    "River Rd",
    "Maple Ave",
    "Center St",
    "Washington Ave",
    "Pine St",
];

fn locations(out: &Path) -> Result<usize, CliError> {
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
    for wh in WAREHOUSES {
        let wms = format!("wms-{}", wh.id.to_lowercase());
        let mut kinds = vec![("MAIN", "main stock", "STOCK", "true")];
        match wh.id {
            "DAL" => kinds.push(("RET", "returns", "RETURNS", "false")),
            "ATL" => kinds.push(("QC", "quarantine", "QUARANTINE", "false")),
            _ => {}
        }
        for (suffix, what, kind, atp) in kinds {
            let id = format!("{}-{suffix}", wh.id);
            let name = format!("{} {what}", wh.name);
            row(
                &mut w,
                out,
                &[
                    &id, &name, wh.id, kind, atp, wh.line1, "", wh.city, wh.region, wh.postal,
                    "US", wh.tz, "true", &wms,
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
struct Unit {
    code: &'static str,
    factor: i64,
    gtin: Option<String>,
    orderable: bool,
}

#[derive(Debug, Clone)]
struct Item {
    sku: String,
    description: String,
    base_unit: &'static str,
    units: Vec<Unit>,
    status: &'static str,
    sellable: bool,
    category: &'static str,
    /// List price per base unit, in hundredths of a cent.
    base_price_centicents: i64,
}

impl Item {
    fn unit(&self, code: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.code == code)
    }

    /// The largest orderable unit below a pallet (what contracts and most orders use).
    fn case_unit(&self) -> Option<&Unit> {
        self.units
            .iter()
            .filter(|u| u.orderable && u.code != "PL")
            .max_by_key(|u| u.factor)
    }

    fn priced(&self) -> bool {
        self.sellable && self.status != "INACTIVE"
    }

    /// Standard list price of one `unit`, in cents.
    fn list_price(&self, unit: &Unit) -> i64 {
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

/// A unit of measure as a family declares it: (code, factor to base, orderable).
type UnitSpec = (&'static str, i64, bool);

/// A product family: (category, SKU prefix, variants).
struct Family {
    category: &'static str,
    prefix: &'static str,
    items: Vec<Item>,
}

fn item(
    desc: String,
    base: &'static str,
    units: &[UnitSpec],
    price_centicents: i64,
    category: &'static str,
) -> Item {
    Item {
        sku: String::new(),
        description: desc,
        base_unit: base,
        units: units
            .iter()
            .map(|(code, factor, orderable)| Unit {
                code,
                factor: *factor,
                gtin: None,
                orderable: *orderable,
            })
            .collect(),
        status: "ACTIVE",
        sellable: true,
        category,
        base_price_centicents: price_centicents,
    }
}

fn families(rng: &mut Rng) -> Vec<Family> {
    let mut fams = Vec::new();

    // Chemicals.
    let mut v = Vec::new();
    let chems = [
        ("All-Purpose Cleaner", 100),
        ("Glass Cleaner", 90),
        ("Neutral Floor Cleaner", 110),
        ("Disinfectant Cleaner, EPA Registered", 160),
        ("Heavy-Duty Degreaser", 140),
        ("Restroom Cleaner", 120),
        ("Carpet Extraction Cleaner", 150),
        ("Stainless Steel Polish", 180),
        ("Manual Dish Detergent", 95),
        ("Oven & Grill Cleaner", 170),
        ("Quat Sanitizer", 130),
        ("Odor Eliminator", 125),
        ("High-Gloss Floor Finish", 200),
        ("Floor Stripper", 190),
        ("Toilet Bowl Cleaner", 105),
        ("Peroxide Multi-Surface Cleaner", 155),
        ("Carpet Spotter", 145),
        ("Graffiti Remover", 210),
        ("Lime & Scale Remover", 135),
        ("Enzyme Drain Maintainer", 175),
        ("Neutral Disinfectant, Fragrance-Free", 165),
        ("Furniture Polish", 150),
        ("Concrete Cleaner", 115),
        ("Glass & Surface Cleaner, Ammonia-Free", 95),
        ("Bleach Germicidal Cleaner", 85),
        ("Hard Water Stain Remover", 160),
    ];
    for (name, factor) in chems {
        // (size, base price cents per each, units)
        let sizes: [(&str, i64, Vec<UnitSpec>); 4] = [
            (
                "32 oz Spray Bottle",
                350,
                vec![("EA", 1, true), ("CS", 12, true), ("PL", 720, true)],
            ),
            (
                "1 gal Jug",
                1_100,
                vec![("EA", 1, true), ("CS", 4, true), ("PL", 144, true)],
            ),
            (
                "2.5 gal Closed-Loop Jug",
                2_600,
                vec![("EA", 1, false), ("CS", 2, true)],
            ),
            ("5 gal Pail", 5_200, vec![("EA", 1, true), ("PL", 36, true)]),
        ];
        for (size, cents, units) in sizes {
            v.push(item(
                format!("{name}, {size}"),
                "EA",
                &units,
                cents * factor,
                "CHEMICALS",
            ));
        }
    }
    fams.push(Family {
        category: "CHEMICALS",
        prefix: "CHM",
        items: v,
    });

    // Paper.
    let mut v = Vec::new();
    for color in ["White", "Natural Kraft"] {
        for (w, len, per_cs, cents) in [
            (8, 350, 12, 260),
            (8, 600, 12, 410),
            (8, 800, 6, 560),
            (8, 1000, 6, 690),
            (10, 800, 6, 640),
        ] {
            v.push(item(
                format!("Hardwound Roll Towel, {color}, {w} in x {len} ft"),
                "EA",
                &[("EA", 1, false), ("CS", per_cs, true)],
                cents * 100,
                "PAPER",
            ));
        }
        for (ply, sheets, per_cs, cents) in [(1, 250, 16, 190), (2, 150, 16, 230)] {
            v.push(item(
                format!("Multifold Towel, {color}, {ply}-Ply, {sheets} Sheets/Pack"),
                "PK",
                &[("PK", 1, false), ("CS", per_cs, true)],
                cents * 100,
                "PAPER",
            ));
        }
    }
    for (what, per_cs, cents) in [
        ("Bath Tissue, 2-Ply, 500 Sheets/Roll", 96, 62),
        ("Bath Tissue, 1-Ply, 1000 Sheets/Roll", 96, 58),
        ("Jumbo Roll Bath Tissue, 2-Ply, 9 in", 12, 420),
        ("Jumbo Roll Bath Tissue, 1-Ply, 12 in", 6, 640),
        ("Coreless Bath Tissue, 2-Ply, 1125 Sheets", 36, 180),
        ("Facial Tissue, 2-Ply, 100 Sheets/Box", 30, 115),
        ("Seat Cover, Half-Fold, 250/Pack", 20, 330),
        ("Dinner Napkin, 2-Ply, White, 15 x 17 in", 3000, 3),
        ("Beverage Napkin, 1-Ply, White", 4000, 1),
        ("Interfold Dispenser Napkin, White", 6000, 1),
        ("Kitchen Roll Towel, 2-Ply, 85 Sheets", 30, 150),
        ("Exam Table Paper, 21 in x 225 ft", 12, 620),
    ] {
        let units: Vec<UnitSpec> = if per_cs >= 1000 {
            vec![("EA", 1, false), ("PK", 250, false), ("CS", per_cs, true)]
        } else {
            vec![("EA", 1, per_cs <= 36), ("CS", per_cs, true)]
        };
        v.push(item(what.to_owned(), "EA", &units, cents * 100, "PAPER"));
    }
    fams.push(Family {
        category: "PAPER",
        prefix: "PAP",
        items: v,
    });

    // Can liners.
    let mut v = Vec::new();
    for (gal, dims, per_roll, rolls) in [
        ("7-10", "24 x 24 in", 50, 20),
        ("12-16", "24 x 33 in", 50, 20),
        ("20-30", "30 x 37 in", 25, 20),
        ("33", "33 x 39 in", 25, 10),
        ("40-45", "40 x 46 in", 25, 10),
        ("55-60", "38 x 58 in", 25, 8),
    ] {
        for (mil, cents_per_bag) in [
            ("0.7 mil", 6),
            ("1.1 mil", 9),
            ("1.5 mil", 13),
            ("2.0 mil", 17),
        ] {
            for color in ["Black", "Clear"] {
                v.push(item(
                    format!("Can Liner, {gal} gal, {dims}, {mil}, {color}"),
                    "EA",
                    &[
                        ("EA", 1, false),
                        ("RL", per_roll, false),
                        ("CS", per_roll * rolls, true),
                        ("PL", per_roll * rolls * 40, true),
                    ],
                    cents_per_bag * 100 + rng.range(0, 150),
                    "CAN LINERS",
                ));
            }
        }
    }
    for (gal, dims, per_roll, rolls) in [
        ("7-10", "24 x 24 in", 50, 20),
        ("12-16", "24 x 33 in", 50, 20),
        ("20-30", "30 x 37 in", 50, 10),
        ("33", "33 x 40 in", 25, 10),
        ("45", "40 x 48 in", 25, 10),
        ("60", "38 x 60 in", 25, 8),
    ] {
        for (mic, cents_per_bag) in [("8 mic", 3), ("12 mic", 5), ("16 mic", 7)] {
            for color in ["Natural", "Black"] {
                v.push(item(
                    format!("High-Density Can Liner, {gal} gal, {dims}, {mic}, {color}"),
                    "EA",
                    &[
                        ("EA", 1, false),
                        ("RL", per_roll, false),
                        ("CS", per_roll * rolls, true),
                    ],
                    cents_per_bag * 100 + rng.range(0, 90),
                    "CAN LINERS",
                ));
            }
        }
    }
    fams.push(Family {
        category: "CAN LINERS",
        prefix: "LNR",
        items: v,
    });

    // Gloves: counted in boxes.
    let mut v = Vec::new();
    for (material, colors, price) in [
        (
            "Nitrile Exam Gloves, Powder-Free, 4 mil",
            &["Blue", "Black"][..],
            1_150,
        ),
        (
            "Nitrile Utility Gloves, Powder-Free, 6 mil",
            &["Blue", "Orange"][..],
            1_650,
        ),
        ("Vinyl Gloves, Powder-Free, 3 mil", &["Clear"][..], 690),
        ("Latex Exam Gloves, Lightly Powdered", &["Natural"][..], 940),
        ("Poly Food Service Gloves", &["Clear"][..], 310),
    ] {
        for color in colors {
            for size in ["XS", "S", "M", "L", "XL", "2XL"] {
                v.push(item(
                    format!("{material}, {color}, Size {size}, 100/Box"),
                    "BX",
                    &[("BX", 1, true), ("CS", 10, true)],
                    price * 100,
                    "GLOVES",
                ));
            }
        }
    }
    fams.push(Family {
        category: "GLOVES",
        prefix: "GLV",
        items: v,
    });

    // Food-service disposables.
    let mut v = Vec::new();
    let mut fsd = |desc: String, sleeve: i64, per_cs: i64, cents100: i64| {
        v.push(item(
            desc,
            "EA",
            &[("EA", 1, false), ("PK", sleeve, true), ("CS", per_cs, true)],
            cents100,
            "FOOD SERVICE",
        ));
    };
    for oz in [8, 12, 16, 20, 32] {
        fsd(format!("Foam Cup, {oz} oz, White"), 25, 1000, 300 + oz * 12);
        fsd(
            format!("Dome Lid for {oz} oz Foam Cup"),
            100,
            1000,
            180 + oz * 6,
        );
    }
    for oz in [8, 10, 12, 16, 20] {
        fsd(
            format!("Paper Hot Cup, {oz} oz, White"),
            50,
            1000,
            500 + oz * 15,
        );
        fsd(
            format!("Sip-Through Lid for {oz} oz Hot Cup, Black"),
            100,
            1000,
            260 + oz * 5,
        );
    }
    for oz in [9, 12, 16, 20, 24] {
        fsd(
            format!("PET Cold Cup, {oz} oz, Clear"),
            50,
            1000,
            600 + oz * 20,
        );
        fsd(
            format!("Flat Lid for {oz} oz Cold Cup, Clear"),
            100,
            1000,
            240 + oz * 6,
        );
    }
    for utensil in ["Fork", "Knife", "Spoon", "Teaspoon", "Soup Spoon"] {
        for weight in ["Medium Weight", "Heavy Weight"] {
            for color in ["White", "Black"] {
                fsd(
                    format!("Polypropylene {utensil}, {weight}, {color}"),
                    100,
                    1000,
                    if weight == "Heavy Weight" { 320 } else { 210 },
                );
            }
        }
    }
    for (what, per_cs, cents100) in [
        ("Hinged Foam Container, 6 x 6 in", 500, 900),
        ("Hinged Foam Container, 8 x 8 in, 1-Comp", 200, 1_400),
        ("Hinged Foam Container, 9 x 9 in, 1-Comp", 200, 1_600),
        ("Hinged Foam Container, 9 x 9 in, 3-Comp", 200, 1_700),
        ("Kraft Paper Food Box, #1", 450, 1_500),
        ("Kraft Paper Food Box, #8", 300, 2_100),
    ] {
        fsd(what.to_owned(), 50, per_cs, cents100);
    }
    for inches in [6, 7, 9, 10] {
        fsd(
            format!("Foam Plate, {inches} in, White"),
            125,
            500,
            250 + inches * 40,
        );
    }
    for inches in [6, 9] {
        fsd(
            format!("Paper Plate, Uncoated, {inches} in"),
            100,
            1000,
            150 + inches * 25,
        );
    }
    for oz in [5, 12, 16] {
        fsd(
            format!("Foam Bowl, {oz} oz, White"),
            50,
            1000,
            300 + oz * 15,
        );
    }
    for (len, wrap) in [
        ("7.75 in", "Wrapped"),
        ("10.25 in", "Wrapped"),
        ("7.75 in", "Unwrapped"),
    ] {
        for color in ["Clear", "Black"] {
            fsd(
                format!("Jumbo Straw, {len}, {wrap}, {color}"),
                500,
                12000,
                45,
            );
        }
    }
    for oz in [8, 12, 16, 24, 32] {
        fsd(
            format!("Deli Container with Lid, {oz} oz, Clear"),
            50,
            240,
            1_800 + oz * 40,
        );
    }
    for oz in ["1", "2", "3.25", "4", "5.5"] {
        fsd(
            format!("Plastic Portion Cup, {oz} oz, Clear"),
            250,
            2500,
            120,
        );
        fsd(format!("Portion Cup Lid, {oz} oz, Clear"), 250, 2500, 90);
    }
    fams.push(Family {
        category: "FOOD SERVICE",
        prefix: "FSD",
        items: v,
    });
    let mut v = Vec::new();
    for (size, depth) in [
        ("Half", "Shallow"),
        ("Half", "Deep"),
        ("Full", "Shallow"),
        ("Full", "Deep"),
    ] {
        v.push(item(
            format!("Aluminum Steam Table Pan, {size} Size, {depth}"),
            "EA",
            &[
                ("EA", 1, false),
                ("CS", if size == "Half" { 100 } else { 50 }, true),
            ],
            if size == "Half" { 4_800 } else { 8_900 },
            "FOOD SERVICE",
        ));
    }
    for (w, what) in [
        (12, "Foil Roll"),
        (18, "Foil Roll"),
        (12, "Film Roll"),
        (18, "Film Roll"),
    ] {
        v.push(item(
            format!("Food Service {what}, {w} in x 1000 ft"),
            "EA",
            &[("EA", 1, true), ("CS", 1, false)],
            if what == "Foil Roll" { 290000 } else { 160000 } * w / 12,
            "FOOD SERVICE",
        ));
    }
    fams.push(Family {
        category: "FOOD SERVICE",
        prefix: "FSP",
        items: v,
    });

    // Safety.
    let mut v = Vec::new();
    for lens in ["Clear", "Smoke", "Amber", "Indoor/Outdoor Mirror"] {
        v.push(item(
            format!("Safety Glasses, Wraparound, {lens} Lens, ANSI Z87.1"),
            "EA",
            &[("EA", 1, true), ("BX", 12, true), ("CS", 144, true)],
            24000,
            "SAFETY",
        ));
    }
    for cls in ["Class 2", "Class 3"] {
        for size in ["M", "L", "XL", "2XL", "3XL"] {
            v.push(item(
                format!("Hi-Vis Safety Vest, {cls}, Lime, Size {size}"),
                "EA",
                &[("EA", 1, true), ("CS", 50, true)],
                if cls == "Class 2" { 48000 } else { 115000 },
                "SAFETY",
            ));
        }
    }
    for (what, units, cents100) in [
        (
            "N95 Particulate Respirator",
            &[("EA", 1, false), ("BX", 20, true), ("CS", 240, true)][..],
            9500,
        ),
        (
            "Foam Ear Plugs, Uncorded, NRR 32",
            &[("PR", 1, false), ("BX", 200, true), ("CS", 2000, true)][..],
            1200,
        ),
        (
            "Foam Ear Plugs, Corded, NRR 29",
            &[("PR", 1, false), ("BX", 100, true), ("CS", 1000, true)][..],
            2800,
        ),
        (
            "Hard Hat, Ratchet Suspension, White",
            &[("EA", 1, true), ("CS", 12, true)][..],
            89000,
        ),
        (
            "Hard Hat, Ratchet Suspension, Yellow",
            &[("EA", 1, true), ("CS", 12, true)][..],
            89000,
        ),
        (
            "First Aid Kit, 25 Person, ANSI A",
            &[("EA", 1, true), ("CS", 4, true)][..],
            345000,
        ),
        (
            "First Aid Kit, 50 Person, ANSI B",
            &[("EA", 1, true), ("CS", 4, true)][..],
            590000,
        ),
        (
            "Cut-Resistant Gloves, A4, Size L",
            &[("PR", 1, true), ("DZ", 12, true), ("CS", 72, true)][..],
            69000,
        ),
        (
            "Disposable Coverall, Size XL",
            &[("EA", 1, true), ("CS", 25, true)][..],
            42000,
        ),
        (
            "Eyewash Station Refill, 32 oz",
            &[("EA", 1, true), ("CS", 12, true)][..],
            78000,
        ),
    ] {
        v.push(item(what.to_owned(), units[0].0, units, cents100, "SAFETY"));
    }
    fams.push(Family {
        category: "SAFETY",
        prefix: "SAF",
        items: v,
    });

    // Janitorial tools.
    let mut v = Vec::new();
    for fiber in ["Cotton", "Rayon", "Cotton/Synthetic Blend"] {
        for oz in [16, 20, 24, 32] {
            for end in ["Cut-End", "Looped-End"] {
                v.push(item(
                    format!("Wet Mop Head, {fiber}, {oz} oz, {end}"),
                    "EA",
                    &[("EA", 1, true), ("CS", 12, true)],
                    (250 + oz * 12) * 100,
                    "JANITORIAL",
                ));
            }
        }
    }
    for inches in [18, 24, 36, 48, 60] {
        v.push(item(
            format!("Dust Mop Head, Cotton, 5 x {inches} in"),
            "EA",
            &[("EA", 1, true), ("CS", 12, true)],
            (400 + inches * 15) * 100,
            "JANITORIAL",
        ));
    }
    for color in ["Blue", "Green", "Red", "Yellow"] {
        for size in ["12 x 12 in", "16 x 16 in"] {
            v.push(item(
                format!("Microfiber Cloth, {size}, {color}"),
                "EA",
                &[("EA", 1, false), ("PK", 12, true), ("CS", 240, true)],
                if size.starts_with("12") { 6500 } else { 9500 },
                "JANITORIAL",
            ));
        }
    }
    for inches in [13, 14, 16, 17, 20] {
        for (color, use_) in [
            ("Red", "Buffing"),
            ("Blue", "Scrubbing"),
            ("Black", "Stripping"),
            ("White", "Polishing"),
            ("Green", "Heavy Scrubbing"),
        ] {
            v.push(item(
                format!("Floor Pad, {inches} in, {color} {use_}"),
                "EA",
                &[("EA", 1, false), ("CS", 5, true)],
                (inches * 30) * 100,
                "JANITORIAL",
            ));
        }
    }
    for (what, units, cents100) in [
        (
            "Angle Broom, Flagged, 12 in",
            &[("EA", 1, true), ("CS", 12, true)][..],
            69000,
        ),
        (
            "Angle Broom, Unflagged, 12 in",
            &[("EA", 1, true), ("CS", 12, true)][..],
            64000,
        ),
        (
            "Lobby Dust Pan with Cover",
            &[("EA", 1, true), ("CS", 6, true)][..],
            145000,
        ),
        (
            "Wet Floor Sign, Two-Sided, Yellow",
            &[("EA", 1, true), ("CS", 6, true)][..],
            129000,
        ),
        (
            "Mop Bucket and Wringer Combo, 35 qt",
            &[("EA", 1, true)][..],
            690000,
        ),
        (
            "Trigger Spray Bottle, 24 oz, Graduated",
            &[("EA", 1, true), ("CS", 48, true)][..],
            9500,
        ),
        (
            "Trigger Sprayer Head, Chemical Resistant",
            &[("EA", 1, true), ("CS", 200, true)][..],
            8500,
        ),
        (
            "Scrub Sponge, Heavy Duty, 3.5 x 6 in",
            &[("EA", 1, false), ("PK", 10, true), ("CS", 60, true)][..],
            7500,
        ),
        (
            "Toilet Bowl Mop, Polypropylene",
            &[("EA", 1, true), ("CS", 24, true)][..],
            19000,
        ),
        (
            "Squeegee, Floor, 24 in, Straight",
            &[("EA", 1, true), ("CS", 6, true)][..],
            189000,
        ),
        (
            "Extension Pole, 4-8 ft",
            &[("EA", 1, true), ("CS", 12, true)][..],
            149000,
        ),
        (
            "Janitor Cart, 3-Shelf, Gray",
            &[("EA", 1, true)][..],
            1790000,
        ),
    ] {
        v.push(item(what.to_owned(), "EA", units, cents100, "JANITORIAL"));
    }
    for gal in [10, 23, 32, 44, 55] {
        for (color, kind) in [
            ("Gray", "Round Waste Container"),
            ("Blue", "Round Recycling Container"),
        ] {
            v.push(item(
                format!("{kind}, {gal} gal, {color}"),
                "EA",
                &[("EA", 1, true), ("CS", if gal <= 23 { 6 } else { 4 }, true)],
                (900 + gal * 60) * 100,
                "JANITORIAL",
            ));
        }
        v.push(item(
            format!("Round Container Lid, {gal} gal, Gray"),
            "EA",
            &[("EA", 1, true), ("CS", 6, true)],
            (400 + gal * 20) * 100,
            "JANITORIAL",
        ));
    }
    fams.push(Family {
        category: "JANITORIAL",
        prefix: "JAN",
        items: v,
    });

    // Packaging.
    let mut v = Vec::new();
    for w in [12, 15, 18, 20] {
        for (len, gauge) in [(1000, 60), (1500, 70), (1500, 80)] {
            v.push(item(
                format!("Stretch Film, {w} in x {len} ft, {gauge} ga, Cast"),
                "EA",
                &[("EA", 1, true), ("CS", 4, true), ("PL", 4 * 50, true)],
                (w * len / 10 + gauge * 20) * 100 / 10,
                "PACKAGING",
            ));
        }
    }
    for dims in [
        "6 x 6 x 6",
        "8 x 8 x 8",
        "10 x 8 x 6",
        "10 x 10 x 10",
        "12 x 9 x 6",
        "12 x 12 x 8",
        "12 x 12 x 12",
        "14 x 10 x 6",
        "14 x 14 x 14",
        "16 x 12 x 8",
        "16 x 16 x 16",
        "18 x 12 x 12",
        "18 x 18 x 18",
        "20 x 20 x 12",
        "24 x 18 x 18",
        "24 x 24 x 24",
    ] {
        for ect in [32, 44] {
            v.push(item(
                format!("Corrugated Shipping Box, {dims} in, {ect} ECT, Kraft"),
                "EA",
                &[("EA", 1, false), ("BD", 25, true), ("PL", 500, true)],
                (60 + dims.len() as i64 * 4 + if ect == 44 { 35 } else { 0 }) * 100,
                "PACKAGING",
            ));
        }
    }
    for (w, yd) in [(2, 55), (2, 110), (3, 55), (3, 110)] {
        for color in ["Clear", "Tan"] {
            v.push(item(
                format!("Carton Sealing Tape, {w} in x {yd} yd, 1.9 mil, {color}"),
                "EA",
                &[("EA", 1, false), ("CS", 36, true)],
                (w * yd * 3) * 100,
                "PACKAGING",
            ));
        }
    }
    for (what, per_cs, cents100) in [
        (
            "Bubble Roll, 3/16 in x 12 in x 175 ft, Perforated",
            4,
            145000,
        ),
        (
            "Bubble Roll, 1/2 in x 12 in x 125 ft, Perforated",
            4,
            169000,
        ),
        ("Kraft Paper Roll, 30 in x 1200 ft, 40 lb", 1, 540000),
        ("Packing List Envelope, 4.5 x 5.5 in", 1000, 400),
        ("Poly Mailer, 10 x 13 in, White", 500, 900),
        ("Shipping Label, 4 x 6 in, Thermal", 1000, 300),
    ] {
        let units: Vec<UnitSpec> = if per_cs == 1 {
            vec![("EA", 1, true)]
        } else {
            vec![("EA", 1, per_cs <= 12), ("CS", per_cs, true)]
        };
        v.push(item(what.to_owned(), "EA", &units, cents100, "PACKAGING"));
    }
    fams.push(Family {
        category: "PACKAGING",
        prefix: "PKG",
        items: v,
    });

    // Hand care.
    let mut v = Vec::new();
    for (what, per_cs, cents100) in [
        (
            "Foaming Hand Soap Refill, 1000 mL, Fragrance-Free",
            6,
            69000,
        ),
        ("Foaming Hand Soap Refill, 1200 mL, Fresh Scent", 2, 89000),
        ("Antibacterial Foam Soap Refill, 1000 mL", 6, 94000),
        ("Lotion Hand Soap, 1 gal, Pink", 4, 119000),
        ("Hand Sanitizer Gel, 70% Alcohol, 8 oz Pump", 24, 31000),
        ("Hand Sanitizer Gel, 70% Alcohol, 1000 mL Refill", 6, 105000),
        ("Hand Sanitizer Foam, 1200 mL Refill", 2, 129000),
        ("Hand and Body Lotion, 1000 mL Refill", 6, 98000),
        ("Manual Soap Dispenser, 1000 mL, Black", 12, 165000),
        ("Touch-Free Sanitizer Dispenser, 1200 mL, White", 4, 325000),
        ("Roll Towel Dispenser, Mechanical, Smoke", 1, 389000),
        ("Jumbo Tissue Dispenser, Twin 9 in, Smoke", 1, 295000),
    ] {
        let units: Vec<UnitSpec> = if per_cs == 1 {
            vec![("EA", 1, true)]
        } else {
            vec![("EA", 1, true), ("CS", per_cs, true)]
        };
        v.push(item(what.to_owned(), "EA", &units, cents100, "HAND CARE"));
    }
    fams.push(Family {
        category: "HAND CARE",
        prefix: "HND",
        items: v,
    });
    fams
}

/// Chooses 500 items, gives them SKUs, GTINs, statuses.
fn items(rng: &mut Rng) -> Vec<Item> {
    let mut fams = families(rng);
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

fn items_csv(out: &Path, items: &[Item]) -> Result<(), CliError> {
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
struct ShipTo {
    id: String,
    name: String,
    line1: String,
    city: &'static str,
    region: &'static str,
    postal: String,
    edi_location: Option<String>,
    warehouse: Option<&'static str>,
    is_default: bool,
    active: bool,
}

#[derive(Debug, Clone)]
struct Customer {
    id: String,
    name: String,
    active: bool,
    credit_limit: Option<i64>,
    open_balance: i64,
    on_hold: Option<&'static str>,
    price_list: &'static str,
    contract: Option<String>,
    atp: &'static str,
    crm: Option<String>,
    edi_partner: Option<&'static str>,
    bill_to: Option<(String, &'static str, &'static str, String)>,
    ship_tos: Vec<ShipTo>,
}

const PLACES: &[&str] = &[
    "Bluebonnet",
    "Lone Star",
    "Magnolia",
    "Pecan Street",
    "Red River",
    "Cypress",
    "Peachtree",
    "Sierra",
    "Tahoe",
    "Desert Bloom",
    "Ozark",
    "Piedmont",
    "Riverbend",
    "Canyon",
    "Harbor",
    "Summit",
    "Prairie",
    "Live Oak",
    "Silver State",
    "Blue Ridge",
    "Palmetto",
    "High Desert",
    "Cedar Creek",
    "Gateway",
];

const SEGMENTS: &[(&str, i64, i64)] = &[
    // (suffix, credit limit low, high) in dollars
    ("Grill", 5_000, 15_000),
    ("Cafe", 5_000, 10_000),
    ("Medical Center", 50_000, 150_000),
    ("ISD", 0, 0),
    ("Property Management", 20_000, 60_000),
    ("Hotel & Suites", 25_000, 75_000),
    ("Senior Living", 20_000, 50_000),
    ("Community Church", 5_000, 10_000),
    ("Athletic Club", 10_000, 25_000),
    ("Catering", 10_000, 30_000),
    ("Dental Group", 5_000, 15_000),
    ("Brewing Co.", 10_000, 25_000),
    ("Auto Group", 15_000, 40_000),
    ("Cold Storage", 30_000, 80_000),
    ("Janitorial Services", 25_000, 100_000),
];

const CHAINS: &[(&str, &str, usize)] = &[
    ("Acme Hardware Stores", "ACME", 6),
    ("Lakeside Markets", "LAKESIDE", 5),
    ("HomeBase Supply Co.", "HOMEBASE", 8),
    ("Gulf Coast Grocers", "GCGROCERS", 4),
];

const HOLDS: &[&str] = &[
    "CREDIT: past due over 60 days",
    "CREDIT: returned payment (NSF)",
    "ADMIN: resale certificate expired",
    "CREDIT: over limit, pending review",
];

fn address(rng: &mut Rng, wh: &Warehouse) -> (String, &'static str, &'static str, String) {
    let (city, region, zip3) = *rng.pick(wh.cities);
    let street = format!("{} {}", rng.range(100, 9899), rng.pick(STREETS));
    let postal = format!("{zip3}{:02}", rng.range(1, 60));
    (street, city, region, postal)
}

fn customers(rng: &mut Rng) -> Vec<Customer> {
    let mut names: Vec<(String, usize)> = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    while names.len() < 56 {
        let place = *rng.pick(PLACES);
        let seg = (rng.next() % SEGMENTS.len() as u64) as usize;
        let name = format!("{place} {}", SEGMENTS[seg].0);
        if used.insert(name.clone()) {
            names.push((name, seg));
        }
    }
    let mut out = Vec::new();
    let chain_at = [5usize, 17, 29, 41];
    let mut regular = names.into_iter();
    let mut chains = CHAINS.iter();
    for n in 1..=60usize {
        let id = format!("C{}", 10_000 + n);
        let wh = &WAREHOUSES[(rng.next() % 3) as usize];
        if chain_at.contains(&n) {
            let Some((name, partner, stores)) = chains.next() else {
                continue;
            };
            let hq = address(rng, wh);
            let mut ship_tos = vec![ShipTo {
                id: format!("{id}-DC01"),
                name: format!("{name} Distribution Center"),
                line1: hq.0.clone(),
                city: hq.1,
                region: hq.2,
                postal: hq.3.clone(),
                edi_location: Some(format!("{:04}", 9000 + rng.range(1, 99))),
                warehouse: Some(wh.id),
                is_default: true,
                active: true,
            }];
            for s in 0..*stores {
                let a = address(rng, wh);
                let store_no = format!("{:04}", rng.range(10, 899) as usize + s);
                ship_tos.push(ShipTo {
                    id: format!("{id}-S{store_no}"),
                    name: format!("{name} #{store_no} {}", a.1),
                    line1: a.0,
                    city: a.1,
                    region: a.2,
                    postal: a.3,
                    edi_location: Some(store_no),
                    warehouse: Some(wh.id),
                    is_default: false,
                    active: s != 2 || *stores < 6,
                });
            }
            let limit = rng.range(150, 400) * 1_000;
            out.push(Customer {
                id: id.clone(),
                name: (*name).to_owned(),
                active: true,
                credit_limit: Some(limit * 100),
                open_balance: limit * 100 * rng.range(10, 55) / 100,
                on_hold: None,
                price_list: "LIST-VOL",
                contract: (n % 2 == 1).then(|| format!("CTR-{id}")),
                atp: if n == 17 { "PARTIAL" } else { "BACKORDER" },
                crm: Some(format!("CRM-{:05}", 20_000 + n * 7)),
                edi_partner: Some(partner),
                bill_to: Some(hq),
                ship_tos,
            });
            continue;
        }
        let Some((name, seg)) = regular.next() else {
            continue;
        };
        let (_, lo, hi) = SEGMENTS[seg];
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
        let on_hold = (n % 11 == 3 || n == 48).then(|| *rng.pick(HOLDS));
        let sites = 1 + (rng.next() % 3) as usize;
        let bill = address(rng, wh);
        let ship_tos = (0..sites)
            .map(|s| {
                let a = if s == 0 && rng.chance(50) {
                    bill.clone()
                } else {
                    address(rng, wh)
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
                    warehouse: (!rng.chance(15)).then_some(wh.id),
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

fn customers_csv(out: &Path, customers: &[Customer]) -> Result<(), CliError> {
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
type Contracts = BTreeMap<String, Vec<(String, &'static str, i64)>>;

fn prices_csv(
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
fn expected_price(it: &Item, unit: &Unit, c: &Customer, contracts: &Contracts) -> i64 {
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

/// The order id order-intake gives a customer's idempotency key.
use dsync_events::order_id_for as order_id;

#[allow(clippy::too_many_lines)]
fn orders_jsonl(
    out: &Path,
    rng: &mut Rng,
    items: &[Item],
    customers: &[Customer],
    contracts: &Contracts,
) -> Result<usize, CliError> {
    let sellable: Vec<&Item> = items
        .iter()
        .filter(|i| i.priced() && i.status == "ACTIVE")
        .collect();
    let good: Vec<&Customer> = customers
        .iter()
        .filter(|c| {
            c.active
                && c.on_hold.is_none()
                && c.edi_partner.is_none()
                && c.credit_limit.is_none_or(|l| c.open_balance < l * 80 / 100)
        })
        .collect();
    let mut lines_out: Vec<Value> = Vec::new();
    let usd = |cents: i64| json!({"amount_minor": cents, "currency": "USD"});
    let line = |n: usize, it: &Item, u: &Unit, qty: f64, price: Option<i64>| {
        let mut l = json!({"line_number": n, "sku": it.sku, "quantity": qty, "unit": u.code});
        if let Some(p) = price {
            l["submitted_unit_price"] = usd(p);
        }
        l
    };
    // (channel, idempotency key prefix, submitted_by prefix); order-intake publishes them all.
    let channels = [
        ("HTTP", "API", "api-client:"),
        ("ECOMMERCE", "WEB", "web:"),
        ("CRM", "CRM", "crm:"),
    ];
    // Regular orders.
    for n in 0..30usize {
        let c = good[(rng.next() % good.len() as u64) as usize];
        let (channel, prefix, by) = channels[n % 3];
        let key = format!("{prefix}-{}", 100_200 + n * 17);
        let ship = c
            .ship_tos
            .iter()
            .filter(|s| s.active)
            .nth(n % 2)
            .or_else(|| c.ship_tos.first());
        let nlines = rng.range(1, 5) as usize;
        let mut lines = Vec::new();
        let mut idx: Vec<usize> = (0..sellable.len()).collect();
        rng.shuffle(&mut idx);
        // Contract customers order their contract items first.
        let contract_skus: Vec<&str> = contracts
            .get(&c.id)
            .map(|v| v.iter().map(|(s, _, _)| s.as_str()).collect())
            .unwrap_or_default();
        let mut picks: Vec<&Item> = sellable
            .iter()
            .filter(|i| contract_skus.contains(&i.sku.as_str()))
            .take(nlines / 2)
            .copied()
            .collect();
        picks.extend(idx.iter().map(|i| sellable[*i]).take(nlines - picks.len()));
        for (ln, it) in picks.iter().enumerate() {
            let Some(u) = (if rng.chance(25) {
                it.units
                    .iter()
                    .find(|u| u.orderable && u.code == it.base_unit)
            } else {
                None
            })
            .or_else(|| it.case_unit()) else {
                continue;
            };
            let qty = if u.factor == 1 {
                rng.range(1, 24)
            } else {
                rng.range(1, 10)
            } as f64;
            let price = rng.chance(60).then(|| expected_price(it, u, c, contracts));
            lines.push(line(ln + 1, it, u, qty, price));
        }
        let mut o = json!({
            "metadata": {"source_system": "order-intake"},
            "order_id": order_id(&c.id, &key),
            "idempotency_key": key,
            "channel": channel,
            "customer_id": c.id,
            "ship_to": {"ship_to_id": ship.map(|s| s.id.clone())},
            "currency": "USD",
            "lines": lines,
            "submitted_by": format!("{by}{}", c.id.to_lowercase()),
        });
        if rng.chance(60) {
            o["customer_po_number"] = json!(format!("PO-{}", rng.range(10_000, 99_999)));
        }
        lines_out.push(o);
    }
    // EDI orders from the chains: store numbers, GTINs and part numbers instead of SKUs.
    for (k, c) in customers
        .iter()
        .filter(|c| c.edi_partner.is_some())
        .enumerate()
    {
        let partner = c.edi_partner.unwrap_or_default();
        for m in 0..2usize {
            let po = format!("45{:08}", 12_345 + k * 100 + m);
            let key = format!("edi:{partner}:{po}");
            let store = c
                .ship_tos
                .iter()
                .filter(|s| s.active)
                .nth(1 + m)
                .or_else(|| c.ship_tos.first());
            let mut idx: Vec<usize> = (0..sellable.len()).collect();
            rng.shuffle(&mut idx);
            let mut lines = Vec::new();
            for (ln, i) in idx.iter().take(rng.range(2, 6) as usize).enumerate() {
                let it = sellable[*i];
                let Some(u) = it.case_unit() else { continue };
                let mut l = json!({
                    "line_number": ln + 1,
                    "partner_line_id": format!("{:03}", ln + 1),
                    "buyer_part_number": format!("{partner}-{}", 70_000 + i),
                    "quantity": rng.range(2, 30) as f64,
                    "unit": u.code,
                    "submitted_unit_price": usd(expected_price(it, u, c, contracts)),
                });
                match ln % 3 {
                    0 => l["sku"] = json!(it.sku),
                    1 => l["gtin"] = json!(u.gtin.clone()),
                    _ => l["vendor_part_number"] = json!(it.sku),
                }
                lines.push(l);
            }
            lines_out.push(json!({
                "metadata": {"source_system": "edi-gateway"},
                "order_id": order_id(&c.id, &key),
                "idempotency_key": key,
                "channel": "EDI",
                "customer_id": c.id,
                "customer_po_number": po,
                "partner_po": {
                    "partner_id": partner,
                    "po_number": po,
                    "po_date": "2026-11-20",
                    "interchange_control_number": format!("{:09}", 1_200 + k * 10 + m),
                    "group_control_number": format!("{}", 1_200 + k * 10 + m),
                    "transaction_set_control_number": format!("{:04}", m + 1),
                },
                "ship_to": {"partner_location_id": store.and_then(|s| s.edi_location.clone())},
                "currency": "USD",
                "lines": lines,
            }));
        }
    }
    // The cases validation must catch, one order each (see data/sample/README.md).
    let any_good = good.first().copied();
    let on_hold = customers.iter().find(|c| c.on_hold.is_some() && c.active);
    let inactive = customers.iter().find(|c| !c.active);
    let near_limit = customers.iter().find(|c| {
        c.active
            && c.on_hold.is_none()
            && c.credit_limit
                .is_some_and(|l| c.open_balance >= l * 90 / 100)
    });
    let case_only = sellable
        .iter()
        .find(|i| i.unit(i.base_unit).is_some_and(|u| !u.orderable) && i.case_unit().is_some())
        .copied();
    let discontinued = items
        .iter()
        .find(|i| i.status == "DISCONTINUED" && i.priced())
        .or_else(|| sellable.first().copied());
    let not_sellable = items.iter().find(|i| !i.sellable);
    let dear = sellable
        .iter()
        .max_by_key(|i| i.case_unit().map_or(0, |u| i.list_price(u)))
        .copied();
    let mut special = |key: &str, c: Option<&Customer>, lines: Vec<Value>, extra: Value| {
        let Some(c) = c else { return };
        let mut o = json!({
            "metadata": {"source_system": "order-intake"},
            "order_id": order_id(&c.id, key),
            "idempotency_key": key,
            "channel": "ECOMMERCE",
            "customer_id": c.id,
            "ship_to": {"ship_to_id": c.ship_tos.first().map(|s| s.id.clone())},
            "currency": "USD",
            "lines": lines,
            "submitted_by": format!("web:{}", c.id.to_lowercase()),
        });
        if let (Value::Object(o), Value::Object(x)) = (&mut o, extra) {
            o.extend(x);
        }
        lines_out.push(o);
    };
    let first = sellable.first().copied();
    let simple_line = |it: Option<&Item>, qty: f64| -> Vec<Value> {
        it.and_then(|it| it.case_unit().map(|u| line(1, it, u, qty, None)))
            .into_iter()
            .collect()
    };
    special("WEB-HOLD-1", on_hold, simple_line(first, 2.0), json!({}));
    special(
        "WEB-INACTIVE-1",
        inactive,
        simple_line(first, 1.0),
        json!({}),
    );
    special(
        "WEB-CREDIT-1",
        near_limit,
        simple_line(dear, 400.0),
        json!({}),
    );
    special(
        "WEB-UNKNOWN-SKU-1",
        any_good,
        vec![json!({"line_number": 1, "sku": "CHM-9999", "quantity": 1.0, "unit": "CS"})],
        json!({}),
    );
    special(
        "WEB-UNKNOWN-UNIT-1",
        any_good,
        first
            .map(|it| json!({"line_number": 1, "sku": it.sku, "quantity": 3.0, "unit": "DZ"}))
            .into_iter()
            .collect(),
        json!({}),
    );
    special(
        "WEB-EACH-OF-CASE-ONLY-1",
        any_good,
        case_only
            .map(|it| json!({"line_number": 1, "sku": it.sku, "quantity": 5.0, "unit": it.base_unit}))
            .into_iter()
            .collect(),
        json!({}),
    );
    special(
        "WEB-FRACTION-1",
        any_good,
        case_only
            .and_then(|it| it.case_unit().map(|u| line(1, it, u, 0.3, None)))
            .into_iter()
            .collect(),
        json!({}),
    );
    if let (Some(c), Some(it)) = (any_good, first) {
        if let Some(u) = it.case_unit() {
            let low = expected_price(it, u, c, contracts) * 80 / 100;
            special(
                "WEB-PRICE-1",
                Some(c),
                vec![line(1, it, u, 4.0, Some(low.max(1)))],
                json!({}),
            );
        }
    }
    special(
        "WEB-DISCONTINUED-1",
        any_good,
        simple_line(discontinued, 1.0),
        json!({}),
    );
    special(
        "WEB-NOT-SELLABLE-1",
        any_good,
        simple_line(not_sellable, 1.0),
        json!({}),
    );
    special(
        "WEB-UNKNOWN-SHIPTO-1",
        any_good,
        simple_line(first, 1.0),
        json!({"ship_to": {"ship_to_id": "NO-SUCH-SHIPTO"}}),
    );
    special(
        "WEB-ONE-TIME-ADDRESS-1",
        any_good,
        simple_line(first, 1.0),
        json!({"ship_to": {"name": "Pop-up event tent", "address": {
            "line1": "200 Fairgrounds Rd", "city": "Austin", "region": "TX",
            "postal_code": "78741", "country_code": "US"}}}),
    );
    special(
        "WEB-EXPIRED-WINDOW-1",
        any_good,
        simple_line(first, 1.0),
        json!({"cancel_after_date": "2026-01-15"}),
    );
    special(
        "WEB-CURRENCY-1",
        any_good,
        simple_line(first, 1.0),
        json!({"currency": "CAD"}),
    );
    // A retry of an earlier order (same key and content, sent later): a duplicate.
    if let Some(first_order) = lines_out.first().cloned() {
        let mut retry = first_order.clone();
        retry["metadata"]["occurred_at"] = json!("2026-11-21T15:04:05Z");
        lines_out.push(retry);
        // The same key with different content: an idempotency key conflict.
        let mut conflict = first_order;
        conflict["metadata"]["occurred_at"] = json!("2026-11-21T15:09:00Z");
        if let Some(l) = conflict["lines"].get_mut(0) {
            l["quantity"] = json!(l["quantity"].as_f64().unwrap_or(1.0) + 5.0);
        }
        lines_out.push(conflict);
    }
    let path = out.join("orders.jsonl");
    let mut text = String::new();
    for o in &lines_out {
        text.push_str(&serde_json::to_string(o)?);
        text.push('\n');
    }
    std::fs::write(&path, text)
        .map_err(|e| CliError::io(format!("writing {}", path.display()), e))?;
    Ok(lines_out.len())
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
    std::fs::create_dir_all(out)
        .map_err(|e| CliError::io(format!("creating {}", out.display()), e))?;
    let mut rng = Rng(seed);
    let locations = locations(out)?;
    let items = items(&mut rng);
    items_csv(out, &items)?;
    let customers = customers(&mut rng);
    customers_csv(out, &customers)?;
    let (prices, contracts) = prices_csv(out, &mut rng, &items, &customers)?;
    let orders = orders_jsonl(out, &mut rng, &items, &customers, &contracts)?;
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
        let mut a = Rng(DEFAULT_SEED);
        let mut b = Rng(DEFAULT_SEED);
        let ia = items(&mut a);
        let ib = items(&mut b);
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
        let cs = customers(&mut a);
        assert_eq!(cs.len(), 60);
        assert!(cs.iter().filter(|c| c.on_hold.is_some()).count() >= 3);
        assert!(cs
            .iter()
            .all(|c| c.ship_tos.iter().filter(|s| s.is_default).count() == 1));
    }
}

//! The 850 purchase order, typed, borrowed from the input. Built by [`crate::validate()`] for
//! every 850 that passed validation.

use crate::codes::Purpose;
use crate::schema::Placement;
use crate::tokenizer::Fields;
use crate::values::{Date, Decimal, Time};

/// A purchase order (850).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseOrder<'a> {
    /// ST02.
    pub control_number: &'a str,
    /// BEG01: original, cancellation, change, duplicate, ...
    pub purpose: Purpose,
    /// BEG02 purchase order type code (SA stand-alone, NE new order, ...).
    pub order_type: &'a str,
    /// BEG03 purchase order number.
    pub po_number: &'a str,
    /// BEG04 release number.
    pub release_number: Option<&'a str>,
    /// BEG05 purchase order date.
    pub po_date: Date,
    /// BEG06 contract number.
    pub contract_number: Option<&'a str>,
    /// CUR.
    pub currency: Option<Currency<'a>>,
    /// Heading REFs.
    pub references: Vec<Reference<'a>>,
    /// Heading DTMs.
    pub dates: Vec<DateRef<'a>>,
    /// Heading PID free-form descriptions (PID05).
    pub descriptions: Vec<&'a str>,
    /// Heading N1 loops.
    pub parties: Vec<Party<'a>>,
    /// PO1 loops.
    pub lines: Vec<PoLine<'a>>,
    /// CTT01 as sent (checked against the number of PO1 segments).
    pub declared_line_count: Option<u32>,
}

impl<'a> PurchaseOrder<'a> {
    /// The first party with N101 = `role` (e.g. `ST` ship-to, `BT` bill-to, `BY` buyer).
    pub fn party(&self, role: &str) -> Option<&Party<'a>> {
        self.parties.iter().find(|p| p.role == role)
    }

    /// The ship-to party (N101 = ST).
    pub fn ship_to(&self) -> Option<&Party<'a>> {
        self.party("ST")
    }

    /// The bill-to party (N101 = BT).
    pub fn bill_to(&self) -> Option<&Party<'a>> {
        self.party("BT")
    }

    /// The first heading REF with REF01 = `qualifier`.
    pub fn reference(&self, qualifier: &str) -> Option<&Reference<'a>> {
        self.references.iter().find(|r| r.qualifier == qualifier)
    }

    /// The first heading DTM with DTM01 = `qualifier` (e.g. `002` delivery requested).
    pub fn date(&self, qualifier: &str) -> Option<&DateRef<'a>> {
        self.dates.iter().find(|d| d.qualifier == qualifier)
    }
}

/// CUR: currency of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency<'a> {
    /// CUR01 entity identifier (BY buyer, SE seller, ...).
    pub entity: &'a str,
    /// CUR02 ISO 4217 currency code.
    pub code: &'a str,
    /// CUR03 exchange rate.
    pub rate: Option<Decimal>,
}

/// REF: a reference identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference<'a> {
    /// REF01 qualifier (DP department, IA vendor number, ...).
    pub qualifier: &'a str,
    /// REF02.
    pub value: Option<&'a str>,
    /// REF03.
    pub description: Option<&'a str>,
}

/// DTM: a qualified date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRef<'a> {
    /// DTM01 qualifier (002 delivery requested, 010 requested ship, 037 ship not before, ...).
    pub qualifier: &'a str,
    /// DTM02.
    pub date: Option<Date>,
    /// DTM03.
    pub time: Option<Time>,
}

/// An N1 loop: a party with its names and address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Party<'a> {
    /// N101 entity identifier code (ST ship-to, BT bill-to, SF ship-from, BY buyer, ...).
    pub role: &'a str,
    /// N102 name.
    pub name: Option<&'a str>,
    /// N103 identification code qualifier (1 DUNS, 9 DUNS+4, 92 assigned by buyer, UL GLN, ...).
    pub id_qualifier: Option<&'a str>,
    /// N104 identification code.
    pub id: Option<&'a str>,
    /// N2 names.
    pub additional_names: Vec<&'a str>,
    /// N3 address lines.
    pub address: Vec<&'a str>,
    /// N401 city.
    pub city: Option<&'a str>,
    /// N402 state or province.
    pub state: Option<&'a str>,
    /// N403 postal code.
    pub postal_code: Option<&'a str>,
    /// N404 country code.
    pub country: Option<&'a str>,
    /// REFs of the loop.
    pub references: Vec<Reference<'a>>,
}

/// A product or service id pair (PO106/PO107, PO108/PO109, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductId<'a> {
    /// Qualifier: BP buyer's part, VP vendor's part, UP UPC, EN EAN, UK GTIN-14, IN buyer's
    /// item, VN vendor's item, SK SKU, ...
    pub qualifier: &'a str,
    /// The id.
    pub value: &'a str,
}

/// A PO1 loop: one order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoLine<'a> {
    /// Position of the PO1 in the transaction set (ST = 1).
    pub position: u32,
    /// PO101 assigned identification (line number).
    pub line_number: Option<&'a str>,
    /// PO102 quantity ordered.
    pub quantity: Decimal,
    /// PO103 unit or basis for measurement code (EA, CA, BX, ...).
    pub unit: &'a str,
    /// PO104 unit price.
    pub unit_price: Option<Decimal>,
    /// PO105 basis of unit price code.
    pub price_basis: Option<&'a str>,
    /// PO106.. qualifier/value pairs.
    pub product_ids: Vec<ProductId<'a>>,
    /// PID05 free-form descriptions of the line.
    pub descriptions: Vec<&'a str>,
    /// Line REFs.
    pub references: Vec<Reference<'a>>,
    /// Line DTMs.
    pub dates: Vec<DateRef<'a>>,
    /// Line N1 loops (e.g. a ship-to per line).
    pub parties: Vec<Party<'a>>,
}

impl<'a> PoLine<'a> {
    /// The value of the first product id with this qualifier.
    pub fn product_id(&self, qualifier: &str) -> Option<&'a str> {
        self.product_ids
            .iter()
            .find(|p| p.qualifier == qualifier)
            .map(|p| p.value)
    }

    /// BP: buyer's part number.
    pub fn buyer_part(&self) -> Option<&'a str> {
        self.product_id("BP")
    }

    /// VP: vendor's (seller's) part number.
    pub fn vendor_part(&self) -> Option<&'a str> {
        self.product_id("VP")
    }

    /// UP: UPC (UCC-12).
    pub fn upc(&self) -> Option<&'a str> {
        self.product_id("UP")
    }

    /// IN: buyer's item number.
    pub fn buyer_item(&self) -> Option<&'a str> {
        self.product_id("IN")
    }
}

pub(crate) fn reference<'a>(f: &Fields<'a>) -> Reference<'a> {
    Reference {
        qualifier: f.str(1).unwrap_or(""),
        value: f.str(2),
        description: f.str(3),
    }
}

pub(crate) fn date_ref<'a>(f: &Fields<'a>) -> DateRef<'a> {
    DateRef {
        qualifier: f.str(1).unwrap_or(""),
        date: Date::parse_ccyymmdd(f.get(2)),
        time: Time::parse(f.get(3)),
    }
}

pub(crate) fn party<'a>(f: &Fields<'a>) -> Party<'a> {
    Party {
        role: f.str(1).unwrap_or(""),
        name: f.str(2),
        id_qualifier: f.str(3),
        id: f.str(4),
        ..Party::default()
    }
}

/// Applies N2/N3/N4/REF of an N1 loop to its party.
pub(crate) fn party_detail<'a>(p: &mut Party<'a>, id: &[u8], f: &Fields<'a>) {
    match id {
        b"N2" => p
            .additional_names
            .extend([f.str(1), f.str(2)].into_iter().flatten()),
        b"N3" => p.address.extend([f.str(1), f.str(2)].into_iter().flatten()),
        b"N4" => {
            p.city = f.str(1);
            p.state = f.str(2);
            p.postal_code = f.str(3);
            p.country = f.str(4);
        }
        b"REF" => p.references.push(reference(f)),
        _ => {}
    }
}

pub(crate) fn product_ids<'a>(f: &Fields<'a>, first: usize, last: usize) -> Vec<ProductId<'a>> {
    let mut out = Vec::new();
    let mut i = first;
    while i < last {
        if let (Some(q), Some(v)) = (f.str(i), f.str(i + 1)) {
            out.push(ProductId {
                qualifier: q,
                value: v,
            });
        }
        i += 2;
    }
    out
}

/// Collects an 850 while its segments are validated.
#[derive(Debug, Default)]
pub(crate) struct Builder<'a> {
    control_number: &'a str,
    purpose: Option<Purpose>,
    order_type: &'a str,
    po_number: &'a str,
    release_number: Option<&'a str>,
    po_date: Option<Date>,
    contract_number: Option<&'a str>,
    currency: Option<Currency<'a>>,
    references: Vec<Reference<'a>>,
    dates: Vec<DateRef<'a>>,
    descriptions: Vec<&'a str>,
    parties: Vec<Party<'a>>,
    lines: Vec<PoLine<'a>>,
    declared_line_count: Option<u32>,
    po1_count: u32,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(control_number: &'a str) -> Self {
        Builder {
            control_number,
            ..Builder::default()
        }
    }

    /// Number of PO1 segments seen (for the CTT01 check).
    pub(crate) fn po1_count(&self) -> u32 {
        self.po1_count
    }

    pub(crate) fn add(&mut self, id: &[u8], f: &Fields<'a>, at: Placement, position: u32) {
        match (at.loop_id, at.parent_loop, id) {
            (None, _, b"BEG") => {
                self.purpose = f.str(1).and_then(Purpose::from_code);
                self.order_type = f.str(2).unwrap_or("");
                self.po_number = f.str(3).unwrap_or("");
                self.release_number = f.str(4);
                self.po_date = Date::parse_ccyymmdd(f.get(5));
                self.contract_number = f.str(6);
            }
            (None, _, b"CUR") => {
                self.currency = Some(Currency {
                    entity: f.str(1).unwrap_or(""),
                    code: f.str(2).unwrap_or(""),
                    rate: Decimal::parse_r(f.get(3)),
                });
            }
            (None, _, b"REF") => self.references.push(reference(f)),
            (None, _, b"DTM") => self.dates.push(date_ref(f)),
            (None, _, b"PID") => self.descriptions.extend(f.str(5)),
            (Some("N1"), None, b"N1") => self.parties.push(party(f)),
            (Some("N1"), None, _) => {
                if let Some(p) = self.parties.last_mut() {
                    party_detail(p, id, f);
                }
            }
            (Some("PO1"), _, b"PO1") => {
                self.po1_count += 1;
                self.lines.push(PoLine {
                    position,
                    line_number: f.str(1),
                    quantity: Decimal::parse_r(f.get(2)).unwrap_or(Decimal::from_int(0)),
                    unit: f.str(3).unwrap_or(""),
                    unit_price: Decimal::parse_r(f.get(4)),
                    price_basis: f.str(5),
                    product_ids: product_ids(f, 6, 25),
                    descriptions: Vec::new(),
                    references: Vec::new(),
                    dates: Vec::new(),
                    parties: Vec::new(),
                });
            }
            (Some("PO1"), _, b"REF") => {
                if let Some(l) = self.lines.last_mut() {
                    l.references.push(reference(f));
                }
            }
            (Some("PO1"), _, b"DTM") => {
                if let Some(l) = self.lines.last_mut() {
                    l.dates.push(date_ref(f));
                }
            }
            (Some("PID"), Some("PO1"), b"PID") => {
                if let Some(l) = self.lines.last_mut() {
                    l.descriptions.extend(f.str(5));
                }
            }
            (Some("N1"), Some("PO1"), b"N1") => {
                if let Some(l) = self.lines.last_mut() {
                    l.parties.push(party(f));
                }
            }
            (Some("N1"), Some("PO1"), _) => {
                if let Some(p) = self.lines.last_mut().and_then(|l| l.parties.last_mut()) {
                    party_detail(p, id, f);
                }
            }
            (Some("CTT"), _, b"CTT") => {
                self.declared_line_count = f.str(1).and_then(|s| s.parse().ok());
            }
            _ => {}
        }
    }

    /// The purchase order, when the mandatory parts were read.
    pub(crate) fn finish(self) -> Option<PurchaseOrder<'a>> {
        Some(PurchaseOrder {
            control_number: self.control_number,
            purpose: self.purpose?,
            order_type: self.order_type,
            po_number: self.po_number,
            release_number: self.release_number,
            po_date: self.po_date?,
            contract_number: self.contract_number,
            currency: self.currency,
            references: self.references,
            dates: self.dates,
            descriptions: self.descriptions,
            parties: self.parties,
            lines: self.lines,
            declared_line_count: self.declared_line_count,
        })
    }
}

//! The 855 purchase order acknowledgment: typed reading (for round trips and partners'
//! copies) and [`build_855`], which answers an 850.

use crate::codes::{LineStatus, PoAckType, Purpose};
use crate::error::X12Error;
use crate::po850::{
    date_ref, party, party_detail, product_ids, reference, DateRef, Party, ProductId,
    PurchaseOrder, Reference,
};
use crate::schema::Placement;
use crate::tokenizer::Fields;
use crate::values::{Date, Decimal};
use crate::writer::OwnedSegment;

/// A purchase order acknowledgment (855).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseOrderAck<'a> {
    /// ST02.
    pub control_number: &'a str,
    /// BAK01.
    pub purpose: Purpose,
    /// BAK02.
    pub ack_type: PoAckType,
    /// BAK03: the 850's BEG03.
    pub po_number: &'a str,
    /// BAK04: the 850's BEG05.
    pub po_date: Date,
    /// BAK05 release number.
    pub release_number: Option<&'a str>,
    /// BAK09 acknowledgment date.
    pub ack_date: Option<Date>,
    /// Heading REFs.
    pub references: Vec<Reference<'a>>,
    /// Heading DTMs.
    pub dates: Vec<DateRef<'a>>,
    /// Heading N1 loops.
    pub parties: Vec<Party<'a>>,
    /// PO1 loops with their ACKs.
    pub lines: Vec<AckLine<'a>>,
    /// CTT01 as sent.
    pub declared_line_count: Option<u32>,
}

/// A PO1 loop of an 855.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckLine<'a> {
    /// Position of the PO1 in the set.
    pub position: u32,
    /// PO101.
    pub line_number: Option<&'a str>,
    /// PO102.
    pub quantity: Option<Decimal>,
    /// PO103.
    pub unit: Option<&'a str>,
    /// PO104.
    pub unit_price: Option<Decimal>,
    /// PO105.
    pub price_basis: Option<&'a str>,
    /// PO106.. pairs.
    pub product_ids: Vec<ProductId<'a>>,
    /// ACK segments.
    pub acks: Vec<LineAck<'a>>,
}

/// An ACK segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineAck<'a> {
    /// ACK01.
    pub status: LineStatus,
    /// ACK02.
    pub quantity: Option<Decimal>,
    /// ACK03.
    pub unit: Option<&'a str>,
    /// ACK04 date qualifier (e.g. 068 current schedule ship).
    pub date_qualifier: Option<&'a str>,
    /// ACK05.
    pub date: Option<Date>,
}

#[derive(Debug, Default)]
pub(crate) struct Builder<'a> {
    control_number: &'a str,
    purpose: Option<Purpose>,
    ack_type: Option<PoAckType>,
    po_number: &'a str,
    po_date: Option<Date>,
    release_number: Option<&'a str>,
    ack_date: Option<Date>,
    references: Vec<Reference<'a>>,
    dates: Vec<DateRef<'a>>,
    parties: Vec<Party<'a>>,
    lines: Vec<AckLine<'a>>,
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

    pub(crate) fn po1_count(&self) -> u32 {
        self.po1_count
    }

    pub(crate) fn add(&mut self, id: &[u8], f: &Fields<'a>, at: Placement, position: u32) {
        match (at.loop_id, at.parent_loop, id) {
            (None, _, b"BAK") => {
                self.purpose = f.str(1).and_then(Purpose::from_code);
                self.ack_type = f.str(2).and_then(PoAckType::from_code);
                self.po_number = f.str(3).unwrap_or("");
                self.po_date = Date::parse_ccyymmdd(f.get(4));
                self.release_number = f.str(5);
                self.ack_date = Date::parse_ccyymmdd(f.get(9));
            }
            (None, _, b"REF") => self.references.push(reference(f)),
            (None, _, b"DTM") => self.dates.push(date_ref(f)),
            (Some("N1"), None, b"N1") => self.parties.push(party(f)),
            (Some("N1"), None, _) => {
                if let Some(p) = self.parties.last_mut() {
                    party_detail(p, id, f);
                }
            }
            (Some("PO1"), _, b"PO1") => {
                self.po1_count += 1;
                self.lines.push(AckLine {
                    position,
                    line_number: f.str(1),
                    quantity: Decimal::parse_r(f.get(2)),
                    unit: f.str(3),
                    unit_price: Decimal::parse_r(f.get(4)),
                    price_basis: f.str(5),
                    product_ids: product_ids(f, 6, 25),
                    acks: Vec::new(),
                });
            }
            (Some("ACK"), Some("PO1"), b"ACK") => {
                if let (Some(l), Some(status)) = (
                    self.lines.last_mut(),
                    f.str(1).and_then(LineStatus::from_code),
                ) {
                    l.acks.push(LineAck {
                        status,
                        quantity: Decimal::parse_r(f.get(2)),
                        unit: f.str(3),
                        date_qualifier: f.str(4),
                        date: Date::parse_ccyymmdd(f.get(5)),
                    });
                }
            }
            (Some("CTT"), _, b"CTT") => {
                self.declared_line_count = f.str(1).and_then(|s| s.parse().ok());
            }
            _ => {}
        }
    }

    pub(crate) fn finish(self) -> Option<PurchaseOrderAck<'a>> {
        Some(PurchaseOrderAck {
            control_number: self.control_number,
            purpose: self.purpose?,
            ack_type: self.ack_type?,
            po_number: self.po_number,
            po_date: self.po_date?,
            release_number: self.release_number,
            ack_date: self.ack_date,
            references: self.references,
            dates: self.dates,
            parties: self.parties,
            lines: self.lines,
            declared_line_count: self.declared_line_count,
        })
    }
}

/// The answer for one PO1 line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDecision {
    /// ACK01.
    pub status: LineStatus,
    /// ACK02; the ordered quantity when `None`.
    pub quantity: Option<Decimal>,
    /// ACK03; the ordered unit when `None`.
    pub unit: Option<String>,
    /// ACK04/ACK05, e.g. (`068` current schedule ship, date).
    pub date: Option<(String, Date)>,
}

impl LineDecision {
    /// The line with `status`, ordered quantity and unit.
    pub fn new(status: LineStatus) -> Self {
        LineDecision {
            status,
            quantity: None,
            unit: None,
            date: None,
        }
    }
}

/// What to answer to an 850.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoAckDecision {
    /// BAK02.
    pub ack_type: PoAckType,
    /// BAK09 acknowledgment date.
    pub ack_date: Date,
    /// One decision per PO1 line of the 850, in order; empty for the types without detail
    /// (AK, RJ, NA), which then carry no PO1 loop.
    pub lines: Vec<LineDecision>,
}

/// Builds the body (BAK to CTT, without ST/SE) of the 855 that answers `po`: BAK01 00,
/// BAK02 the acknowledgment type, BAK03/BAK04 the 850's BEG03/BEG05, BAK05 its release number,
/// BAK09 the acknowledgment date; then each PO1 echoed with one ACK, and CTT.
pub fn build_855(
    po: &PurchaseOrder<'_>,
    decision: &PoAckDecision,
) -> Result<Vec<OwnedSegment>, X12Error> {
    let no_detail = matches!(
        decision.ack_type,
        PoAckType::AcknowledgeNoDetailOrChange
            | PoAckType::RejectNoDetail
            | PoAckType::NoAcknowledgmentNeeded
    );
    if !(no_detail && decision.lines.is_empty()) && decision.lines.len() != po.lines.len() {
        return Err(X12Error::InvalidInput(format!(
            "the 850 {} has {} lines but {} line decisions were given",
            po.po_number,
            po.lines.len(),
            decision.lines.len()
        )));
    }
    let mut out = Vec::with_capacity(2 + 2 * po.lines.len());
    let mut bak = OwnedSegment::new("BAK");
    bak.push(Purpose::Original.code())
        .push(decision.ack_type.code())
        .push(po.po_number)
        .push(po.po_date.ccyymmdd())
        .push(po.release_number.unwrap_or(""))
        .push("")
        .push("")
        .push("")
        .push(decision.ack_date.ccyymmdd());
    out.push(bak);
    for (line, d) in po.lines.iter().zip(&decision.lines) {
        let mut po1 = OwnedSegment::new("PO1");
        po1.push(line.line_number.unwrap_or(""))
            .push(line.quantity.to_string())
            .push(line.unit)
            .push(line.unit_price.map(|p| p.to_string()).unwrap_or_default())
            .push(line.price_basis.unwrap_or(""));
        for p in &line.product_ids {
            po1.push(p.qualifier).push(p.value);
        }
        out.push(po1);
        let mut ack = OwnedSegment::new("ACK");
        ack.push(d.status.code())
            .push(d.quantity.unwrap_or(line.quantity).to_string())
            .push(d.unit.as_deref().unwrap_or(line.unit));
        if let Some((q, date)) = &d.date {
            ack.push(q.as_str()).push(date.ccyymmdd());
        }
        out.push(ack);
    }
    if !decision.lines.is_empty() {
        let mut ctt = OwnedSegment::new("CTT");
        ctt.push(decision.lines.len().to_string());
        out.push(ctt);
    }
    Ok(out)
}

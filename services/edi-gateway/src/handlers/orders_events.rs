//! `orders.events` -> 855: the outcome of an EDI order (OrderAccepted / OrderRejected with
//! channel EDI and a partner PO reference) answered with a purchase order acknowledgement.
//!
//! * BAK02: `AT` (accepted, every line as ordered), `AC` (accepted with changes: a line
//!   backordered, reduced or repriced), `RD` (rejected with detail: reasons name lines), `RJ`
//!   (rejected without detail: no reason names a line; no PO1/ACK loops).
//! * ACK01 per PO1 line: `IA` accepted, `IQ` quantity changed (part cancelled), `IB`
//!   backordered, `BP` partly backordered, `IP` price changed (the submitted price differs from
//!   ours), `IR` rejected (also a line whose whole quantity was cancelled, with ACK02 0);
//!   rejected lines with a reason: `R2` unknown item, `R3` unknown unit, `R4` item not sellable.
//!   ACK02/ACK03 give the quantity in the ordered unit.
//! * One 855 per order: document id `855-<order id>`; an order whose 855 is recorded in
//!   `edi.documents` is skipped (a redelivery or replay never sends a second one).
//!
//! The 855 echoes the 850's PO1 lines, so the archived 850 is read back
//! ([`find_purchase_order`]) through `partner_po.edi_document_id`.
//!
//! [`OrderEventsHandler`] is the consumer's [`Handler`]: it hands each record to
//! [`Gateway::on_order_event`], which decides with the functions below under the partner's
//! lock and carries the plan out.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dsync_bus::{Handler, HandlerResult, InboundRecord};
use dsync_events::{
    AcceptedOrderLine, CompactString, EdiControlNumbers, EdiDocumentSent, EdiDocumentType,
    EventMetadata, OrderAccepted, OrderChannel, OrderRejected, PartnerPoReference, PriceFlag,
    RejectionCode, UsageIndicator,
};
use dsync_x12::po850::PurchaseOrder;
use dsync_x12::poack855::{build_855, LineDecision, PoAckDecision};
use dsync_x12::{interchanges, validate_group, Decimal, Document, LineStatus, PoAckType, Usage};

use crate::archive::Archive;
use crate::events::{metadata, GatewayEvent, PlannedRecord, SOURCE_SYSTEM};
use crate::files;
use crate::gateway::Gateway;
use crate::handlers::interchanges::OutboundFile;
use crate::ids::{self, DocPosition};
use crate::outbound::{outbox_file_name, render_855, st02_text, x12_date_time, Allocator};
use crate::profile::{DocKind, PartnerProfile};
use crate::state::PartnerState;
use crate::topics::Topics;
use crate::GatewayError;

/// The handler of `orders.events`.
#[derive(Debug)]
pub struct OrderEventsHandler(Arc<Gateway>);

impl OrderEventsHandler {
    /// A handler over the gateway.
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Self(gateway)
    }
}

impl Handler for OrderEventsHandler {
    async fn handle(&self, record: &InboundRecord) -> HandlerResult {
        self.0.on_order_event(record).await
    }
}

/// An order outcome.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Accepted.
    Accepted(&'a OrderAccepted),
    /// Rejected.
    Rejected(&'a OrderRejected),
}

impl<'a> Outcome<'a> {
    /// The order id.
    pub fn order_id(&self) -> &'a str {
        match self {
            Outcome::Accepted(e) => &e.order_id,
            Outcome::Rejected(e) => &e.order_id,
        }
    }

    /// The channel.
    pub fn channel(&self) -> OrderChannel {
        match self {
            Outcome::Accepted(e) => e.channel,
            Outcome::Rejected(e) => e.channel,
        }
    }

    /// The partner PO reference.
    pub fn partner_po(&self) -> Option<&'a PartnerPoReference> {
        match self {
            Outcome::Accepted(e) => e.partner_po.as_ref(),
            Outcome::Rejected(e) => e.partner_po.as_ref(),
        }
    }

    /// The event's metadata.
    pub fn metadata(&self) -> &'a EventMetadata {
        match self {
            Outcome::Accepted(e) => &e.metadata,
            Outcome::Rejected(e) => &e.metadata,
        }
    }

    /// The partner id of an EDI order, `None` for other channels.
    pub fn edi_partner(&self) -> Option<&'a str> {
        if self.channel() != OrderChannel::Edi {
            return None;
        }
        self.partner_po().map(|p| p.partner_id.as_str())
    }
}

/// The accepted 850 at `pos` in the archived bytes of its receipt.
pub fn find_purchase_order<'a>(bytes: &'a [u8], pos: &DocPosition) -> Option<PurchaseOrder<'a>> {
    let ic = interchanges(bytes)
        .nth(pos.interchange.checked_sub(1)?)?
        .ok()?;
    let group = ic.groups.get(pos.group?.checked_sub(1)?)?;
    let mut v = validate_group(group);
    let doc = v.documents.get_mut(pos.set?.checked_sub(1)?)?.take()?;
    match doc {
        Document::PurchaseOrder(po) => Some(po),
        _ => None,
    }
}

fn decimal_of(x: f64) -> Decimal {
    let scaled = (x * 10_000.0).round();
    if scaled.is_finite() && scaled.abs() < 9.0e17 {
        Decimal::new(scaled as i64, 4).normalized()
    } else {
        Decimal::from_int(0)
    }
}

/// `base` units expressed in the ordered unit of `line`.
fn in_ordered_unit(line: &AcceptedOrderLine, base: i64) -> Decimal {
    if line.ordered_quantity_base <= 0 {
        return Decimal::from_int(0);
    }
    decimal_of(line.ordered_quantity * base as f64 / line.ordered_quantity_base as f64)
}

/// The decision for one accepted line.
pub fn accepted_line(line: &AcceptedOrderLine) -> LineDecision {
    let ordered = line.ordered_quantity_base;
    let unit = Some(line.ordered_unit.to_string()).filter(|u| !u.is_empty());
    let with = |status: LineStatus, base: i64| LineDecision {
        status,
        quantity: Some(in_ordered_unit(line, base)),
        unit: unit.clone(),
        date: None,
    };
    if ordered > 0 && line.cancelled_quantity_base >= ordered {
        with(LineStatus::Rejected, 0)
    } else if line.cancelled_quantity_base > 0 {
        with(
            LineStatus::QuantityChanged,
            ordered - line.cancelled_quantity_base,
        )
    } else if ordered > 0 && line.backordered_quantity_base >= ordered {
        with(LineStatus::Backordered, ordered)
    } else if line.backordered_quantity_base > 0 {
        with(LineStatus::PartialBackordered, ordered)
    } else if matches!(
        line.price_flag,
        PriceFlag::SubmittedHigher | PriceFlag::SubmittedLower
    ) {
        with(LineStatus::PriceChanged, ordered)
    } else {
        with(LineStatus::Accepted, ordered)
    }
}

/// What to answer to `po` for `outcome`.
pub fn decide_855(
    po: &PurchaseOrder<'_>,
    outcome: Outcome<'_>,
    ack_date: dsync_x12::Date,
) -> PoAckDecision {
    match outcome {
        Outcome::Accepted(a) => {
            let lines: Vec<LineDecision> = po
                .lines
                .iter()
                .enumerate()
                .map(|(i, pl)| {
                    let n = i32::try_from(i + 1).unwrap_or(i32::MAX);
                    let found = a
                        .lines
                        .iter()
                        .find(|l| {
                            pl.line_number.is_some()
                                && l.partner_line_id.as_deref() == pl.line_number
                        })
                        .or_else(|| a.lines.iter().find(|l| l.line_number == n));
                    found.map_or(
                        LineDecision {
                            status: LineStatus::Rejected,
                            quantity: Some(Decimal::from_int(0)),
                            unit: None,
                            date: None,
                        },
                        accepted_line,
                    )
                })
                .collect();
            let ack_type = if lines.iter().all(|l| l.status == LineStatus::Accepted) {
                PoAckType::Accepted
            } else {
                PoAckType::AcknowledgeWithDetailAndChange
            };
            PoAckDecision {
                ack_type,
                ack_date,
                lines,
            }
        }
        Outcome::Rejected(r) => {
            let line_reason = |n: i32| {
                r.reasons
                    .iter()
                    .find(|x| x.line_number == Some(n))
                    .map(|x| x.code)
            };
            if !r.reasons.iter().any(|x| x.line_number.is_some()) {
                return PoAckDecision {
                    ack_type: PoAckType::RejectNoDetail,
                    ack_date,
                    lines: Vec::new(),
                };
            }
            let lines = (0..po.lines.len())
                .map(|i| {
                    let n = i32::try_from(i + 1).unwrap_or(i32::MAX);
                    let status = match line_reason(n) {
                        Some(RejectionCode::UnknownItem) => LineStatus::InvalidProductNumber,
                        Some(RejectionCode::UnknownUnit) => LineStatus::InvalidUnitOfIssue,
                        Some(RejectionCode::ItemNotSellable) => {
                            LineStatus::ContractItemNotAvailable
                        }
                        _ => LineStatus::Rejected,
                    };
                    LineDecision {
                        status,
                        quantity: Some(Decimal::from_int(0)),
                        unit: None,
                        date: None,
                    }
                })
                .collect();
            PoAckDecision {
                ack_type: PoAckType::RejectWithDetail,
                ack_date,
                lines,
            }
        }
    }
}

/// What an order outcome becomes: the 855 to deliver and the event recording it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoAckPlan {
    /// Document id (`855-<order id>`).
    pub doc_id: String,
    /// The EdiDocumentSent.
    pub records: Vec<PlannedRecord>,
    /// The interchange.
    pub file: OutboundFile,
    /// BAK02.
    pub ack_type: PoAckType,
}

/// What the 855 decision depends on besides the order, the 850 and the state.
#[derive(Debug, Clone)]
pub struct PoAckContext<'a> {
    /// The partner.
    pub profile: &'a PartnerProfile,
    /// Topic names.
    pub topics: &'a Topics,
    /// ISA15 of our documents.
    pub usage: Usage,
    /// The archive.
    pub archive: &'a Archive,
    /// Now.
    pub now: DateTime<Utc>,
}

/// The 855 for `outcome`, or `None` when one was already sent for the order (or the partner
/// does not take 855s).
pub fn plan_855(
    ctx: &PoAckContext<'_>,
    state: &PartnerState,
    outcome: Outcome<'_>,
    po: &PurchaseOrder<'_>,
) -> Result<Option<PoAckPlan>, GatewayError> {
    let p = ctx.profile;
    let order_id = outcome.order_id();
    if !p.sends(DocKind::PoAck) || state.poacks_by_order.contains_key(order_id) {
        return Ok(None);
    }
    let doc_id = ids::poack_doc_id(order_id);
    if state.sent.contains_key(&doc_id) {
        return Ok(None);
    }
    let (ack_date, _) = x12_date_time(ctx.now)?;
    let decision = decide_855(po, outcome, ack_date);
    let body = build_855(po, &decision)?;
    let mut alloc = Allocator::new(&p.id, state.counters, p.first_control_number);
    let rendered = render_855(p, ctx.usage, ctx.now, &mut alloc, &body)?;
    let file_name = outbox_file_name(&p.id, "855", rendered.isa13);
    let archive_path = ctx.archive.sent_path(&p.id, ctx.now, &file_name);
    let ack_expected = p.receives(DocKind::FunctionalAck);
    let group = rendered.groups.first();
    let md = outcome.metadata();
    let sent = EdiDocumentSent {
        metadata: metadata::<EdiDocumentSent>(
            ids::event_id(&doc_id, "EdiDocumentSent"),
            ctx.now,
            &md.correlation_id,
            Some(&md.event_id),
            SOURCE_SYSTEM,
        ),
        document_id: doc_id.as_str().into(),
        partner_id: p.id.as_str().into(),
        document_type: EdiDocumentType::X12855,
        x12_version: Some(p.version.as_str().into()),
        functional_id_code: Some("PR".into()),
        control_numbers: EdiControlNumbers {
            interchange_control_number: rendered.isa13_text().into(),
            group_control_number: group.map(|g| g.gs06.to_string().into()),
            transaction_set_control_number: group.map(|g| st02_text(g.st02).into()),
        },
        interchange_sender: p.our_interchange_id().into(),
        interchange_receiver: p.partner_interchange_id().into(),
        usage_indicator: match ctx.usage {
            Usage::Production => UsageIndicator::Production,
            Usage::Test => UsageIndicator::Test,
        },
        business_reference: Some(po.po_number.into()),
        order_id: Some(order_id.into()),
        in_response_to_document_id: outcome.partner_po().and_then(|r| r.edi_document_id.clone()),
        ack_expected,
        ack_due_at: ack_expected.then(|| {
            ctx.now + chrono::Duration::from_std(p.ack_deadline).unwrap_or(chrono::Duration::MAX)
        }),
        archive_reference: files::file_uri(&archive_path).into(),
        size_bytes: i64::try_from(rendered.bytes.len()).unwrap_or(i64::MAX),
        content_sha256: CompactString::from(files::sha256_hex(&rendered.bytes)),
    };
    Ok(Some(PoAckPlan {
        doc_id,
        records: vec![PlannedRecord::new(
            &ctx.topics.edi_documents,
            &p.id,
            GatewayEvent::EdiDocumentSent(sent),
        )],
        file: OutboundFile {
            file_name,
            archive_path,
            bytes: rendered.bytes,
        },
        ack_type: decision.ack_type,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{test_profile, TEST_PROFILE};
    use dsync_events::{Money, RejectionReason};
    use dsync_x12::{parse_all, validate};
    use std::path::Path;

    fn corpus_01() -> Vec<u8> {
        dsync_x12::testdata::inbound("01_4010_star_colon_tilde.x12").expect("corpus")
    }

    fn pos() -> DocPosition {
        DocPosition {
            receipt_id: "20240115T103000000Z-0123456789ab".into(),
            interchange: 1,
            group: Some(1),
            set: Some(1),
        }
    }

    fn line(n: i32, ordered: i64, backordered: i64, cancelled: i64) -> AcceptedOrderLine {
        AcceptedOrderLine {
            line_number: n,
            partner_line_id: Some(n.to_string().into()),
            sku: "SKU".into(),
            ordered_quantity: ordered as f64,
            ordered_unit: "EA".into(),
            base_unit: "EA".into(),
            ordered_quantity_base: ordered,
            promised_quantity_base: ordered - backordered - cancelled,
            backordered_quantity_base: backordered,
            cancelled_quantity_base: cancelled,
            unit_price: Money::default(),
            price_flag: PriceFlag::Matched,
            ..AcceptedOrderLine::default()
        }
    }

    fn accepted(lines: Vec<AcceptedOrderLine>) -> OrderAccepted {
        OrderAccepted {
            order_id: "order-1".into(),
            customer_id: "C-100234".into(),
            channel: OrderChannel::Edi,
            partner_po: Some(PartnerPoReference {
                partner_id: "ACME".into(),
                po_number: "PO-1".into(),
                edi_document_id: Some("20240115T103000000Z-0123456789ab.1.1.1".into()),
                ..PartnerPoReference::default()
            }),
            lines,
            ..OrderAccepted::default()
        }
    }

    fn date() -> dsync_x12::Date {
        dsync_x12::Date::new(2024, 1, 16).expect("date")
    }

    #[test]
    fn finds_the_archived_850() {
        let bytes = corpus_01();
        let po = find_purchase_order(&bytes, &pos()).expect("po");
        assert_eq!(po.po_number, "PO-1");
        let mut other = pos();
        other.set = Some(2);
        assert!(find_purchase_order(&bytes, &other).is_none());
    }

    #[test]
    fn line_statuses_and_ack_types() {
        let bytes = corpus_01();
        let po = find_purchase_order(&bytes, &pos()).expect("po");
        let all = accepted(vec![line(1, 12, 0, 0), line(2, 72, 0, 0)]);
        let d = decide_855(&po, Outcome::Accepted(&all), date());
        assert_eq!(d.ack_type, PoAckType::Accepted);
        assert!(d.lines.iter().all(|l| l.status == LineStatus::Accepted));
        assert_eq!(d.lines[0].quantity, Some(Decimal::from_int(12)));

        let mut l2 = line(2, 72, 0, 24);
        l2.ordered_quantity = 3.0;
        l2.ordered_unit = "CS".into();
        let changed = accepted(vec![line(1, 12, 12, 0), l2]);
        let d = decide_855(&po, Outcome::Accepted(&changed), date());
        assert_eq!(d.ack_type, PoAckType::AcknowledgeWithDetailAndChange);
        assert_eq!(d.lines[0].status, LineStatus::Backordered);
        assert_eq!(d.lines[1].status, LineStatus::QuantityChanged);
        assert_eq!(
            d.lines[1].quantity,
            Some(Decimal::from_int(2)),
            "48 of 72 base = 2 cases"
        );
        assert_eq!(d.lines[1].unit.as_deref(), Some("CS"));
        let mut priced = line(1, 12, 0, 0);
        priced.price_flag = PriceFlag::SubmittedLower;
        let partial = accepted(vec![priced, line(2, 72, 10, 0)]);
        let d = decide_855(&po, Outcome::Accepted(&partial), date());
        assert_eq!(d.lines[0].status, LineStatus::PriceChanged);
        assert_eq!(d.lines[1].status, LineStatus::PartialBackordered);

        let mut rejected = OrderRejected {
            order_id: "order-1".into(),
            channel: OrderChannel::Edi,
            reasons: vec![RejectionReason {
                code: RejectionCode::CreditLimitExceeded,
                message: "credit".into(),
                line_number: None,
                field: None,
            }],
            ..OrderRejected::default()
        };
        let d = decide_855(&po, Outcome::Rejected(&rejected), date());
        assert_eq!(d.ack_type, PoAckType::RejectNoDetail);
        assert!(d.lines.is_empty());
        rejected.reasons.push(RejectionReason {
            code: RejectionCode::UnknownItem,
            message: "item".into(),
            line_number: Some(2),
            field: None,
        });
        let d = decide_855(&po, Outcome::Rejected(&rejected), date());
        assert_eq!(d.ack_type, PoAckType::RejectWithDetail);
        assert_eq!(
            d.lines.iter().map(|l| l.status).collect::<Vec<_>>(),
            vec![LineStatus::Rejected, LineStatus::InvalidProductNumber]
        );
    }

    #[test]
    fn the_855_parses_back_with_bak_and_ack_lines_and_is_sent_once() {
        let bytes = corpus_01();
        let po = find_purchase_order(&bytes, &pos()).expect("po");
        let profile = test_profile(TEST_PROFILE);
        let topics = Topics::with_prefix("");
        let archive = Archive::new(Path::new("/data"));
        let ctx = PoAckContext {
            profile: &profile,
            topics: &topics,
            usage: Usage::Production,
            archive: &archive,
            now: Utc::now(),
        };
        let mut state = PartnerState::new("ACME");
        state.counters.interchange = 41;
        let order = accepted(vec![line(1, 12, 0, 0), line(2, 72, 72, 0)]);
        let plan = plan_855(&ctx, &state, Outcome::Accepted(&order), &po)
            .expect("855")
            .expect("planned");
        assert_eq!(plan.doc_id, "855-order-1");
        assert_eq!(plan.file.file_name, "ACME_855_000000042.x12");
        let (ics, err) = parse_all(&plan.file.bytes);
        assert!(err.is_none(), "{err:?}");
        let v = validate(&ics[0]);
        assert!(v.report.is_accepted());
        let Some(Some(Document::PurchaseOrderAck(ack))) = v.groups[0].documents.first() else {
            panic!("no 855: {:?}", v.groups[0].report);
        };
        assert_eq!(ack.ack_type, PoAckType::AcknowledgeWithDetailAndChange);
        assert_eq!(ack.po_number, "PO-1");
        assert_eq!(ack.lines.len(), 2);
        assert_eq!(ack.lines[0].acks[0].status, LineStatus::Accepted);
        assert_eq!(ack.lines[1].acks[0].status, LineStatus::Backordered);
        let GatewayEvent::EdiDocumentSent(sent) = &plan.records[0].event else {
            panic!("not a sent event");
        };
        assert_eq!(sent.control_numbers.interchange_control_number, "000000042");
        assert_eq!(sent.order_id.as_deref(), Some("order-1"));
        assert!(sent.ack_expected && sent.ack_due_at.is_some());
        assert_eq!(
            sent.in_response_to_document_id.as_deref(),
            Some("20240115T103000000Z-0123456789ab.1.1.1")
        );
        crate::handlers::edi_documents::apply(
            &mut state,
            crate::handlers::edi_documents::EdiEvent::Sent(sent),
        );
        assert!(plan_855(&ctx, &state, Outcome::Accepted(&order), &po)
            .expect("855")
            .is_none());
        // a non-EDI order is not ours
        let mut http = order.clone();
        http.channel = OrderChannel::Http;
        assert_eq!(Outcome::Accepted(&http).edi_partner(), None);
        assert_eq!(Outcome::Accepted(&order).edi_partner(), Some("ACME"));
    }
}

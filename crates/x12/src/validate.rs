//! Validation of the transaction sets of an interchange: segment order, loops and maximum use
//! against the set's table (AK304 1..7), data elements (AK304 8 with AK4s), set envelope
//! (AK502), group envelope (AK905) and the resulting AK5/AK9 statuses; typed documents for
//! the sets that were accepted. A rejected set never prevents the other sets of its group
//! from being accepted.

use crate::codes::{
    ElementErrorCode, GroupAckCode, GroupErrorCode, SegmentErrorCode, SetAckCode, SetErrorCode,
    Ta1Note, Ta1Status,
};
use crate::envelope::{FunctionalGroup, Interchange, TransactionSet, Usage};
use crate::error::{ElementError, GroupIssue, InterchangeIssue, SegmentError, SetIssue};
use crate::fa997::{self, FunctionalAck};
use crate::po850::{self, PurchaseOrder};
use crate::poack855::{self, PurchaseOrderAck};
use crate::schema::{Placed, Walker};
use crate::sets::{check_segment, segment_def, table};
use crate::values::is_data_byte;

/// A typed transaction set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document<'a> {
    /// An 850.
    PurchaseOrder(PurchaseOrder<'a>),
    /// An 855.
    PurchaseOrderAck(PurchaseOrderAck<'a>),
    /// A 997.
    FunctionalAck(FunctionalAck<'a>),
}

/// The TA1-level outcome of an interchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterchangeReport {
    /// ISA13.
    pub control_number: String,
    /// ISA09 as received (echoed in TA102).
    pub date: String,
    /// ISA10 as received (echoed in TA103).
    pub time: String,
    /// ISA05.
    pub sender_qualifier: String,
    /// ISA06, trimmed.
    pub sender_id: String,
    /// ISA07.
    pub receiver_qualifier: String,
    /// ISA08, trimmed.
    pub receiver_id: String,
    /// ISA12.
    pub version: String,
    /// ISA14 = 1.
    pub ack_requested: bool,
    /// ISA15.
    pub usage: Option<Usage>,
    /// Envelope findings; the first one's note goes in TA105.
    pub issues: Vec<InterchangeIssue>,
}

impl InterchangeReport {
    /// TA104: `A` without findings, `R` otherwise.
    pub fn status(&self) -> Ta1Status {
        if self.issues.is_empty() {
            Ta1Status::Accepted
        } else {
            Ta1Status::Rejected
        }
    }

    /// TA105: the first finding's note, `000` without findings.
    pub fn note(&self) -> Ta1Note {
        self.issues.first().map_or(Ta1Note::NoError, |i| i.note)
    }

    /// All notes, in the order found.
    pub fn notes(&self) -> Vec<Ta1Note> {
        self.issues.iter().map(|i| i.note).collect()
    }

    /// Whether the interchange is accepted.
    pub fn is_accepted(&self) -> bool {
        self.issues.is_empty()
    }

    /// Whether a TA1 is to be sent (ISA14 = 1; an unreadable interchange is answered from
    /// the [`crate::X12Error`] instead).
    pub fn wants_ta1(&self) -> bool {
        self.ack_requested
    }
}

/// The AK2/AK3/AK4/AK5 content for one transaction set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetReport {
    /// ST01.
    pub set_id: String,
    /// ST02.
    pub control_number: String,
    /// ST03.
    pub implementation_reference: Option<String>,
    /// AK501.
    pub status: SetAckCode,
    /// AK502..: distinct codes in the order found.
    pub errors: Vec<SetErrorCode>,
    /// AK3s with their AK4s.
    pub segment_errors: Vec<SegmentError>,
    /// The envelope findings behind some of `errors`, with offsets and details.
    pub issues: Vec<SetIssue>,
}

impl SetReport {
    /// Whether the set is accepted (AK501 A or E).
    pub fn is_accepted(&self) -> bool {
        matches!(
            self.status,
            SetAckCode::Accepted | SetAckCode::AcceptedWithErrors
        )
    }
}

/// The AK1/AK9 content for one functional group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReport {
    /// GS01.
    pub functional_id: String,
    /// GS02.
    pub sender: String,
    /// GS03.
    pub receiver: String,
    /// GS06.
    pub control_number: String,
    /// GS08.
    pub version: String,
    /// AK901.
    pub status: GroupAckCode,
    /// AK905..: distinct codes in the order found.
    pub errors: Vec<GroupErrorCode>,
    /// The findings behind `errors`.
    pub issues: Vec<GroupIssue>,
    /// One report per transaction set, in order.
    pub sets: Vec<SetReport>,
    /// AK902: GE01 as declared (the number received when GE01 is missing or invalid).
    pub included: u32,
    /// AK903.
    pub received: u32,
    /// AK904.
    pub accepted: u32,
}

impl GroupReport {
    /// Whether this group is itself an acknowledgment (GS01 FA), which is never acknowledged.
    pub fn is_acknowledgment(&self) -> bool {
        self.functional_id == "FA"
    }
}

/// A validated group: its report and, parallel to `report.sets`, the typed document of each
/// accepted set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedGroup<'a> {
    /// What the 997 says.
    pub report: GroupReport,
    /// `Some` for each accepted set.
    pub documents: Vec<Option<Document<'a>>>,
}

/// A validated interchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedInterchange<'a> {
    /// What the TA1 says.
    pub report: InterchangeReport,
    /// Each group, validated even when the interchange is rejected (the caller decides what
    /// a rejected interchange means; X12 practice is to process none of it).
    pub groups: Vec<ValidatedGroup<'a>>,
}

/// Validates every group and set of an interchange.
pub fn validate<'a>(ic: &Interchange<'a>) -> ValidatedInterchange<'a> {
    let isa = &ic.isa;
    ValidatedInterchange {
        report: InterchangeReport {
            control_number: isa.control_number.to_string(),
            date: isa.date.to_string(),
            time: isa.time.to_string(),
            sender_qualifier: isa.sender_qualifier.to_string(),
            sender_id: isa.sender().to_string(),
            receiver_qualifier: isa.receiver_qualifier.to_string(),
            receiver_id: isa.receiver().to_string(),
            version: isa.version.to_string(),
            ack_requested: isa.wants_ta1(),
            usage: isa.parsed_usage(),
            issues: ic.issues.clone(),
        },
        groups: ic.groups.iter().map(validate_group).collect(),
    }
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Validates one functional group.
pub fn validate_group<'a>(group: &FunctionalGroup<'a>) -> ValidatedGroup<'a> {
    let h = &group.header;
    let mut errors: Vec<GroupErrorCode> = Vec::new();
    let mut issues = group.issues.clone();
    let supported = matches!(h.functional_id, "PO" | "PR" | "FA");
    if !supported {
        issues.insert(
            0,
            GroupIssue {
                code: GroupErrorCode::NotSupported,
                offset: group.gs.offset,
                detail: format!("functional group {:?} is not supported", h.functional_id),
            },
        );
    }
    for i in &issues {
        push_unique(&mut errors, i.code);
    }
    let v5010 = h.is_005010();
    let mut sets = Vec::with_capacity(group.sets.len());
    let mut documents = Vec::with_capacity(group.sets.len());
    for set in &group.sets {
        let (report, doc) = if supported {
            validate_set(h.functional_id, set, v5010)
        } else {
            (unsupported(set), None)
        };
        sets.push(report);
        documents.push(doc);
    }
    let received = u32::try_from(group.sets.len()).unwrap_or(u32::MAX);
    let group_rejected = !errors.is_empty();
    if group_rejected {
        documents.iter_mut().for_each(|d| *d = None);
    }
    let accepted = if group_rejected {
        0
    } else {
        u32::try_from(sets.iter().filter(|s| s.is_accepted()).count()).unwrap_or(u32::MAX)
    };
    let status = if group_rejected || (accepted == 0 && received > 0) {
        GroupAckCode::Rejected
    } else if accepted < received {
        GroupAckCode::PartiallyAccepted
    } else if sets
        .iter()
        .any(|s| s.status == SetAckCode::AcceptedWithErrors)
    {
        GroupAckCode::AcceptedWithErrors
    } else {
        GroupAckCode::Accepted
    };
    ValidatedGroup {
        report: GroupReport {
            functional_id: h.functional_id.to_string(),
            sender: h.sender.to_string(),
            receiver: h.receiver.to_string(),
            control_number: h.control_number.to_string(),
            version: h.version.to_string(),
            status,
            errors,
            issues,
            sets,
            included: group.declared_set_count.unwrap_or(received),
            received,
            accepted,
        },
        documents,
    }
}

fn base_report(set: &TransactionSet<'_>) -> SetReport {
    SetReport {
        set_id: set.id.to_string(),
        control_number: set.control_number.to_string(),
        implementation_reference: set.implementation_reference.map(str::to_string),
        status: SetAckCode::Accepted,
        errors: Vec::new(),
        segment_errors: Vec::new(),
        issues: set.issues.clone(),
    }
}

fn unsupported(set: &TransactionSet<'_>) -> SetReport {
    let mut r = base_report(set);
    r.status = SetAckCode::Rejected;
    r.errors.push(SetErrorCode::NotSupported);
    r
}

enum Builder<'a> {
    Po(po850::Builder<'a>),
    PoAck(poack855::Builder<'a>),
    Fa(fa997::Builder<'a>),
}

fn validate_set<'a>(
    functional_id: &str,
    set: &TransactionSet<'a>,
    v5010: bool,
) -> (SetReport, Option<Document<'a>>) {
    let mut report = base_report(set);
    for i in &set.issues {
        push_unique(&mut report.errors, i.code);
    }
    let nodes = match table(set.id) {
        Some((fid, nodes)) if fid == functional_id => nodes,
        _ => {
            if !report.errors.contains(&SetErrorCode::InvalidIdentifier) {
                report.issues.push(SetIssue {
                    code: SetErrorCode::NotSupported,
                    offset: set.segments.first().map_or(0, |s| s.offset),
                    detail: format!(
                        "transaction set {:?} is not supported in a {functional_id} group",
                        set.id
                    ),
                });
                report.errors.insert(0, SetErrorCode::NotSupported);
            }
            report.status = SetAckCode::Rejected;
            return (report, None);
        }
    };
    let seps = set
        .segments
        .first()
        .map_or(crate::Separators::STANDARD_00401, |s| s.separators);
    let mut builder = match set.id {
        "850" => Builder::Po(po850::Builder::new(set.control_number)),
        "855" => Builder::PoAck(poack855::Builder::new(set.control_number)),
        _ => Builder::Fa(fa997::Builder::new(set.control_number, seps.component)),
    };
    let mut walker = Walker::new(nodes);
    let mut seg_errors: Vec<SegmentError> = Vec::new();
    let mut ctt: Option<(u32, usize, Option<u32>)> = None;
    for seg in set.body() {
        let position = set.position_of(seg);
        let id = seg.id();
        let id_str = seg.id_str();
        let placement = match walker.place(id_str, seg.has_valid_id()) {
            Placed::Rejected(code) => {
                seg_errors.push(SegmentError {
                    segment_id: printable_id(id),
                    position,
                    loop_id: None,
                    code,
                    offset: seg.offset,
                    elements: Vec::new(),
                });
                continue;
            }
            Placed::Ok(placement, findings) => {
                for f in findings {
                    seg_errors.push(SegmentError {
                        segment_id: f.segment_id,
                        position,
                        loop_id: f.loop_id.map(str::to_string),
                        code: f.code,
                        offset: seg.offset,
                        elements: Vec::new(),
                    });
                }
                placement
            }
        };
        let fields = seg.fields();
        let element_errors = match segment_def(id, v5010) {
            Some(def) => check_segment(&fields, def, &seps, v5010),
            None => generic_check(&fields),
        };
        if !element_errors.is_empty() {
            seg_errors.push(SegmentError {
                segment_id: printable_id(id),
                position,
                loop_id: placement.loop_id.map(str::to_string),
                code: SegmentErrorCode::DataElementErrors,
                offset: seg.offset,
                elements: element_errors,
            });
        }
        if id == b"CTT" {
            ctt = Some((
                position,
                seg.offset,
                fields.str(1).and_then(|s| s.parse().ok()),
            ));
        }
        match &mut builder {
            Builder::Po(b) => b.add(id, &fields, placement, position),
            Builder::PoAck(b) => b.add(id, &fields, placement, position),
            Builder::Fa(b) => b.add(id, &fields, placement, position),
        }
    }
    let end_position = u32::try_from(set.segments.len()).unwrap_or(u32::MAX);
    let end_offset = set.segments.last().map_or(0, |s| s.offset);
    for f in walker.finish() {
        seg_errors.push(SegmentError {
            segment_id: f.segment_id,
            position: end_position,
            loop_id: f.loop_id.map(str::to_string),
            code: f.code,
            offset: end_offset,
            elements: Vec::new(),
        });
    }
    // CTT01 is the number of PO1 segments: a wrong count is reported on CTT01 as an invalid
    // value (AK403 7), the closest code the 997 has for a hash total mismatch
    let po1_count = match &builder {
        Builder::Po(b) => Some(b.po1_count()),
        Builder::PoAck(b) => Some(b.po1_count()),
        Builder::Fa(_) => None,
    };
    if let (Some((position, offset, Some(declared))), Some(actual)) = (ctt, po1_count) {
        if declared != actual {
            let e = ElementError {
                position: 1,
                component: None,
                reference: Some(354),
                code: ElementErrorCode::InvalidCodeValue,
                bad_value: Some(declared.to_string()),
            };
            match seg_errors
                .iter_mut()
                .find(|s| s.position == position && s.code == SegmentErrorCode::DataElementErrors)
            {
                Some(s) => {
                    if !s.elements.iter().any(|x| x.position == 1) {
                        s.elements.insert(0, e);
                    }
                }
                None => seg_errors.push(SegmentError {
                    segment_id: "CTT".into(),
                    position,
                    loop_id: Some("CTT".into()),
                    code: SegmentErrorCode::DataElementErrors,
                    offset,
                    elements: vec![e],
                }),
            }
        }
    }
    if !seg_errors.is_empty() {
        push_unique(&mut report.errors, SetErrorCode::SegmentsInError);
    }
    seg_errors.sort_by_key(|s| s.position);
    report.segment_errors = seg_errors;
    if !report.errors.is_empty() {
        report.status = SetAckCode::Rejected;
        return (report, None);
    }
    let doc = match builder {
        Builder::Po(b) => b.finish().map(Document::PurchaseOrder),
        Builder::PoAck(b) => b.finish().map(Document::PurchaseOrderAck),
        Builder::Fa(b) => b.finish().map(Document::FunctionalAck),
    };
    if doc.is_none() {
        // cannot happen for a set without findings; reject rather than lose data
        report.status = SetAckCode::Rejected;
        report.errors.push(SetErrorCode::SegmentsInError);
    }
    (report, doc)
}

fn printable_id(id: &[u8]) -> String {
    let s: String = id
        .iter()
        .take(3)
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|&b| char::from(b.to_ascii_uppercase()))
        .collect();
    if s.len() >= 2 {
        s
    } else {
        "XX".into()
    }
}

/// Segments without a definition: only the character set is checked.
fn generic_check(f: &crate::tokenizer::Fields<'_>) -> Vec<ElementError> {
    let mut out = Vec::new();
    for i in 1..=f.len() {
        let v = f.get(i);
        if !v.iter().all(|&b| is_data_byte(b)) || std::str::from_utf8(v).is_err() {
            out.push(ElementError {
                position: u32::try_from(i).unwrap_or(u32::MAX),
                component: None,
                reference: None,
                code: ElementErrorCode::InvalidCharacter,
                bad_value: Some(String::from_utf8_lossy(&v[..v.len().min(99)]).into_owned()),
            });
        }
    }
    out
}

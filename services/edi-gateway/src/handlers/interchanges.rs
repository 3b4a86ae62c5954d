//! Inbound: what one received file (an inbox file or an upload) becomes. Pure: the bytes, the
//! partner's profile and state in, the events to publish and the acknowledgement interchanges
//! to deliver out. Nothing is published or written here; the caller journals the decision, then
//! publishes and delivers it (see [`crate::gateway`]).
//!
//! Per interchange of the file:
//!
//! * Unreadable (no valid ISA, bad delimiters): one `EdiDocumentReceived` (REJECTED, group and
//!   set control numbers null) and, when ISA13/ISA09/ISA10 could be read, a TA1 R with the note
//!   of the problem (a TA1 is always sent for an interchange that cannot be opened).
//! * Envelope findings (TA1 notes from `dsync_x12`), a sender or receiver that is not the
//!   partnership's (005/006 sender qualifier/id, 007/009 receiver qualifier/id), or an ISA13
//!   already received from the partner within its duplicate window (025): the interchange is
//!   rejected as a whole, nothing in it is processed; one interchange-level
//!   `EdiDocumentReceived` (status DUPLICATE for 025, REJECTED otherwise); a TA1 R when
//!   ISA14 = 1; an `EDI_DUPLICATE` exception for a duplicate.
//! * Accepted: a TA1 A when ISA14 = 1; then per functional group:
//!   * a group whose GS01+GS06 was already received within the window is a duplicate: its sets
//!     are recorded DUPLICATE, nothing is processed, no 997 (it was acknowledged the first
//!     time), an `EDI_DUPLICATE` exception;
//!   * a 997 group (GS01 FA) is never acknowledged; each 997 is matched to the documents we
//!     sent (AK1 = our GS01/GS06, AK2 = our ST02): `EdiDocumentAcknowledged` per document,
//!     `EDI_REJECTED_BY_PARTNER` for a rejection, the overdue exception resolved when late;
//!   * any other group gets a 997 (when the profile sends 997s) in the version it was sent
//!     in, with the validator's AK3/AK4/AK5/AK9 codes; each set is recorded with its AK5
//!     outcome, and each accepted 850 is mapped ([`crate::mapping`]) unless it is test data
//!     in production mode (or production data in test mode).
//! * TA1s received from the partner (answers to our interchanges) that reject one of our
//!   interchanges mark its documents REJECTED.
//!
//! All acknowledgements of one received interchange travel in one interchange (TA1 first, then
//! one 997 group per acknowledged group), written to the partner's outbox.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use dsync_events::{
    AckError, AckErrorLevel, AckStatus, AggregateType, CompactString, EdiControlNumbers,
    EdiDocumentAcknowledged, EdiDocumentReceived, EdiDocumentSent, EdiDocumentType,
    EdiReceiptStatus, ExceptionKind, OrderSubmitted, Severity, UsageIndicator,
};
use dsync_x12::ack::{build_997, build_ta1, build_ta1_for_error, FunctionalAckOut};
use dsync_x12::fa997::FunctionalAck;
use dsync_x12::po850::PurchaseOrder;
use dsync_x12::{
    interchanges, validate, Document, FunctionalGroup, GroupAckCode, GroupReport, Interchange,
    InterchangeIssue, IsaVersion, OwnedSegment, SetAckCode, Ta1Note, Usage, ValidatedGroup,
    ValidatedInterchange, X12Error,
};
use serde::{Deserialize, Serialize};

use crate::archive::Archive;
use crate::events::{metadata, ExceptionSpec, GatewayEvent, PlannedRecord, SOURCE_SYSTEM};
use crate::files;
use crate::ids;
use crate::mapping::{map_850, PoMapping, PoSource};
use crate::outbound::{outbox_file_name, render_acknowledgements, st02_text, Allocator};
use crate::profile::{DocKind, PartnerProfile};
use crate::settings::UsageMode;
use crate::state::{group_key, interchange_key, normalize_control, PartnerState, Seen};
use crate::topics::Topics;
use crate::GatewayError;

/// Header on order events mapped from an 850: its BEG01 purpose code.
pub const BEG01_HEADER: &str = "x12.beg01";

/// The received file.
#[derive(Debug, Clone)]
pub struct Receipt<'a> {
    /// Receipt id.
    pub receipt_id: &'a str,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// `file://` URI of the archived bytes.
    pub archive_reference: &'a str,
    /// Its size.
    pub size_bytes: i64,
    /// Its SHA-256, hex.
    pub sha256: &'a str,
}

/// What the decision depends on besides the file and the state.
#[derive(Debug, Clone)]
pub struct InboundContext<'a> {
    /// The partner.
    pub profile: &'a PartnerProfile,
    /// Topic names.
    pub topics: &'a Topics,
    /// Production or test.
    pub mode: UsageMode,
    /// The archive (paths of the acknowledgements sent).
    pub archive: &'a Archive,
    /// Now (duplicate windows, acknowledgement dates).
    pub now: DateTime<Utc>,
}

/// An interchange to deliver to the partner's outbox (archived first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundFile {
    /// Outbox file name.
    pub file_name: String,
    /// Where it is archived.
    pub archive_path: std::path::PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A transaction set's outcome, for the upload answer and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSummary {
    /// ST01.
    pub set_id: String,
    /// ST02.
    pub control_number: String,
    /// ACCEPTED, ACCEPTED_WITH_ERRORS, REJECTED or DUPLICATE.
    pub status: String,
    /// Business reference (PO number, acknowledged group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_reference: Option<String>,
    /// Order concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// What was done with it (submitted, cancel_requested, not_mapped, test_ignored,
    /// acknowledgement_matched, acknowledgement_unmatched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// A functional group's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// GS01.
    pub functional_id: String,
    /// GS06.
    pub control_number: String,
    /// GS08.
    pub version: String,
    /// AK901 of our 997 (A, E, P, R), or `duplicate`, or `not_acknowledged` (a 997 group).
    pub status: String,
    /// Its sets.
    pub sets: Vec<SetSummary>,
}

/// An interchange's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeSummary {
    /// ISA13 as read (empty when unreadable).
    pub control_number: String,
    /// accepted, rejected, duplicate or unreadable.
    pub outcome: String,
    /// ISA15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// TA105 of the first finding (`000` when accepted).
    pub note: String,
    /// The findings, for a person.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// Whether a TA1 was sent.
    pub ta1_sent: bool,
    /// Groups.
    pub groups: Vec<GroupSummary>,
    /// Outbox file of the acknowledgements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledgement_file: Option<String>,
}

/// A received file's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptSummary {
    /// Receipt id.
    pub receipt_id: String,
    /// Partner.
    pub partner_id: String,
    /// Archived bytes.
    pub archive_reference: String,
    /// Size.
    pub size_bytes: i64,
    /// SHA-256.
    pub sha256: String,
    /// Interchanges in file order.
    pub interchanges: Vec<InterchangeSummary>,
}

/// What a received file becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundDecision {
    /// Events to publish, in order.
    pub records: Vec<PlannedRecord>,
    /// Acknowledgement interchanges to deliver.
    pub files: Vec<OutboundFile>,
    /// The outcome.
    pub summary: ReceiptSummary,
}

fn set_status(code: SetAckCode) -> EdiReceiptStatus {
    match code {
        SetAckCode::Accepted => EdiReceiptStatus::Accepted,
        SetAckCode::AcceptedWithErrors => EdiReceiptStatus::AcceptedWithErrors,
        _ => EdiReceiptStatus::Rejected,
    }
}

fn status_text(s: EdiReceiptStatus) -> &'static str {
    match s {
        EdiReceiptStatus::Accepted => "ACCEPTED",
        EdiReceiptStatus::AcceptedWithErrors => "ACCEPTED_WITH_ERRORS",
        EdiReceiptStatus::Rejected => "REJECTED",
        EdiReceiptStatus::Duplicate => "DUPLICATE",
        EdiReceiptStatus::Unknown => "UNKNOWN",
    }
}

/// The document type of a transaction set (ST01), else of its group (GS01).
pub fn document_type(set_id: &str, functional_id: &str) -> EdiDocumentType {
    match set_id {
        "850" => EdiDocumentType::X12850,
        "855" => EdiDocumentType::X12855,
        "856" => EdiDocumentType::X12856,
        "810" => EdiDocumentType::X12810,
        "997" => EdiDocumentType::X12997,
        _ => match functional_id {
            "PR" => EdiDocumentType::X12855,
            "SH" => EdiDocumentType::X12856,
            "IN" => EdiDocumentType::X12810,
            "FA" => EdiDocumentType::X12997,
            _ => EdiDocumentType::X12850,
        },
    }
}

fn usage_indicator(u: Usage) -> UsageIndicator {
    match u {
        Usage::Production => UsageIndicator::Production,
        Usage::Test => UsageIndicator::Test,
    }
}

fn opt(s: &str) -> Option<CompactString> {
    (!s.is_empty()).then(|| CompactString::from(s))
}

/// A partner's 997 or TA1 status as our acknowledgement status.
pub fn ack_status_of(set: Option<SetAckCode>, group: GroupAckCode) -> AckStatus {
    match (set, group) {
        (Some(SetAckCode::Accepted), _) => AckStatus::Accepted,
        (Some(SetAckCode::AcceptedWithErrors), _) => AckStatus::AcceptedWithErrors,
        (Some(_), _) => AckStatus::Rejected,
        (None, GroupAckCode::Accepted | GroupAckCode::PartiallyAccepted) => AckStatus::Accepted,
        (None, GroupAckCode::AcceptedWithErrors) => AckStatus::AcceptedWithErrors,
        (None, _) => AckStatus::Rejected,
    }
}

fn ack_status_text(s: AckStatus) -> &'static str {
    match s {
        AckStatus::Accepted => "accepted",
        AckStatus::AcceptedWithErrors => "accepted_with_errors",
        AckStatus::PartiallyAccepted => "partially_accepted",
        AckStatus::Rejected => "rejected",
        AckStatus::Unknown => "unknown",
    }
}

struct Builder<'c> {
    ctx: &'c InboundContext<'c>,
    receipt: &'c Receipt<'c>,
    state: &'c PartnerState,
    alloc: Allocator,
    received: Vec<PlannedRecord>,
    business: Vec<PlannedRecord>,
    sent: Vec<PlannedRecord>,
    files: Vec<OutboundFile>,
    interchanges: Vec<InterchangeSummary>,
    seen_interchanges: HashSet<String>,
    seen_groups: HashSet<String>,
    acknowledged: HashSet<String>,
}

/// GS01, GS06, GS08 of a group.
type Group<'a> = (&'a str, &'a str, &'a str);

/// A resolution of an exception: when and how.
type Resolution = Option<(DateTime<Utc>, String)>;

/// One interchange's envelope values shared by its events.
struct Envelope<'a> {
    isa13: &'a str,
    sender: String,
    receiver: String,
    usage: UsageIndicator,
}

/// A group's 997, waiting to be rendered: the 997, its document id, the group's document id
/// and GS06.
type PendingGroupAck = (FunctionalAckOut, String, String, String);

/// An interchange after its envelope checks.
struct CheckedEnvelope<'a> {
    validated: ValidatedInterchange<'a>,
    /// Its duplicate key.
    key: String,
    /// ISA05:ISA06.
    sender: String,
    /// ISA07:ISA08.
    receiver: String,
    /// When a duplicate of an interchange received before: that one.
    first_seen: Option<Seen>,
}

/// What the groups of one accepted interchange share.
struct Scope<'a> {
    /// The interchange's number in the file (document ids).
    n: usize,
    env: &'a Envelope<'a>,
    /// Whether its usage (ISA15) drives business events in this mode.
    drives_business: bool,
}

/// The acknowledgements of one interchange, waiting to be rendered.
struct PendingAcks<'a> {
    ta1: Option<OwnedSegment>,
    groups: Vec<PendingGroupAck>,
    version: IsaVersion,
    usage: Usage,
    responds_to: &'a str,
    correlation: String,
}

impl<'c> Builder<'c> {
    fn new(ctx: &'c InboundContext<'c>, state: &'c PartnerState, receipt: &'c Receipt<'c>) -> Self {
        let p = ctx.profile;
        Builder {
            ctx,
            receipt,
            state,
            alloc: Allocator::new(&p.id, state.counters, p.first_control_number),
            received: Vec::new(),
            business: Vec::new(),
            sent: Vec::new(),
            files: Vec::new(),
            interchanges: Vec::new(),
            seen_interchanges: HashSet::new(),
            seen_groups: HashSet::new(),
            acknowledged: HashSet::new(),
        }
    }

    fn profile(&self) -> &'c PartnerProfile {
        self.ctx.profile
    }

    fn received_event(
        &self,
        doc_id: &str,
        env: &Envelope<'_>,
        document_type: EdiDocumentType,
        set: Option<(Group<'_>, &str)>,
        status: EdiReceiptStatus,
    ) -> EdiDocumentReceived {
        let event_id = ids::event_id(doc_id, "EdiDocumentReceived");
        EdiDocumentReceived {
            metadata: metadata::<EdiDocumentReceived>(
                event_id.clone(),
                self.receipt.received_at,
                &event_id,
                None,
                &self.profile().source_system(),
            ),
            document_id: doc_id.into(),
            partner_id: self.profile().id.as_str().into(),
            document_type,
            x12_version: set.map(|(g, _)| g.2.into()),
            functional_id_code: set.map(|(g, _)| g.0.into()),
            control_numbers: EdiControlNumbers {
                interchange_control_number: env.isa13.into(),
                group_control_number: set.map(|(g, _)| g.1.into()),
                transaction_set_control_number: set.map(|(_, st02)| st02.into()),
            },
            interchange_sender: env.sender.as_str().into(),
            interchange_receiver: env.receiver.as_str().into(),
            usage_indicator: env.usage,
            status,
            business_reference: None,
            order_id: None,
            archive_reference: self.receipt.archive_reference.into(),
            size_bytes: self.receipt.size_bytes,
            content_sha256: self.receipt.sha256.into(),
        }
    }

    fn push_received(&mut self, e: EdiDocumentReceived) {
        let topic = self.ctx.topics.edi_documents.clone();
        let key = self.profile().id.clone();
        self.received.push(PlannedRecord::new(
            &topic,
            &key,
            GatewayEvent::EdiDocumentReceived(e),
        ));
    }

    fn push_exception(&mut self, spec: &ExceptionSpec, resolved: Option<(DateTime<Utc>, &str)>) {
        let e = match resolved {
            Some((at, how)) => spec.resolved(at, how),
            None => spec.raised(),
        };
        let topic = self.ctx.topics.exceptions.clone();
        self.business.push(PlannedRecord::new(
            &topic,
            &spec.aggregate_id,
            GatewayEvent::BusinessException(e),
        ));
    }

    fn exception(
        &self,
        kind: ExceptionKind,
        severity: Severity,
        aggregate_id: &str,
        message: String,
        details: BTreeMap<String, String>,
        correlation: &str,
    ) -> ExceptionSpec {
        ExceptionSpec {
            kind,
            severity,
            aggregate_type: AggregateType::EdiDocument,
            aggregate_id: aggregate_id.to_owned(),
            order_id: None,
            customer_id: None,
            partner_id: self.profile().id.clone(),
            message,
            details,
            raised_at: self.receipt.received_at,
            correlation_id: correlation.to_owned(),
            causation_id: Some(correlation.to_owned()),
        }
    }

    fn unreadable(&mut self, n: usize, err: &X12Error) -> Result<(), GatewayError> {
        let p = self.profile();
        let (note, detail, header) = match err {
            X12Error::Interchange {
                note,
                detail,
                header,
                ..
            } => (*note, detail.clone(), Some(header.as_ref())),
            other => (Ta1Note::InvalidControlStructure, other.to_string(), None),
        };
        let isa13 = header
            .and_then(|h| h.control_number.clone())
            .unwrap_or_default();
        let pair = |v: Option<&(String, String)>, default: String| {
            v.map_or(default, |(q, id)| format!("{q}:{id}"))
        };
        let env = Envelope {
            isa13: &isa13,
            sender: pair(
                header.and_then(|h| h.sender.as_ref()),
                p.partner_interchange_id(),
            ),
            receiver: pair(
                header.and_then(|h| h.receiver.as_ref()),
                p.our_interchange_id(),
            ),
            usage: usage_indicator(self.ctx.mode.usage()),
        };
        let doc_id = ids::interchange_doc_id(self.receipt.receipt_id, n);
        let event = self.received_event(
            &doc_id,
            &env,
            EdiDocumentType::X12Ta1,
            None,
            EdiReceiptStatus::Rejected,
        );
        let correlation = event.metadata.event_id.to_string();
        self.push_received(event);
        let ta1 = build_ta1_for_error(err).filter(|_| p.sends(DocKind::Ta1));
        let mut summary = InterchangeSummary {
            control_number: isa13.clone(),
            outcome: "unreadable".into(),
            usage: None,
            note: note.code().into(),
            findings: vec![detail],
            ta1_sent: ta1.is_some(),
            groups: Vec::new(),
            acknowledgement_file: None,
        };
        if ta1.is_some() {
            summary.acknowledgement_file = self.render(PendingAcks {
                ta1,
                groups: Vec::new(),
                version: p.isa_version,
                usage: self.ctx.mode.usage(),
                responds_to: &doc_id,
                correlation,
            })?;
        }
        self.interchanges.push(summary);
        Ok(())
    }

    /// Renders and records the acknowledgements of one interchange; the outbox file name.
    fn render(&mut self, acks: PendingAcks<'_>) -> Result<Option<String>, GatewayError> {
        if acks.ta1.is_none() && acks.groups.is_empty() {
            return Ok(None);
        }
        let p = self.profile();
        let refs: Vec<&FunctionalAckOut> = acks.groups.iter().map(|g| &g.0).collect();
        let rendered = render_acknowledgements(
            p,
            acks.version,
            acks.usage,
            self.ctx.now,
            &mut self.alloc,
            acks.ta1.as_ref(),
            &refs,
        )?;
        let kind = match (acks.ta1.is_some(), acks.groups.is_empty()) {
            (true, true) => "TA1",
            (true, false) => "TA1-997",
            _ => "997",
        };
        let file_name = outbox_file_name(&p.id, kind, rendered.isa13);
        let archive_path = self.ctx.archive.sent_path(&p.id, self.ctx.now, &file_name);
        let archive_reference = files::file_uri(&archive_path);
        let sha = files::sha256_hex(&rendered.bytes);
        let size = i64::try_from(rendered.bytes.len()).unwrap_or(i64::MAX);
        let isa13 = rendered.isa13_text();
        let usage = usage_indicator(acks.usage);
        let base = |doc_id: &str,
                    kind: EdiDocumentType,
                    business: Option<String>,
                    responds: &str,
                    group: Option<(&str, String, String)>| {
            let event_id = ids::event_id(doc_id, "EdiDocumentSent");
            EdiDocumentSent {
                metadata: metadata::<EdiDocumentSent>(
                    event_id,
                    self.ctx.now,
                    &acks.correlation,
                    Some(&acks.correlation),
                    SOURCE_SYSTEM,
                ),
                document_id: doc_id.into(),
                partner_id: p.id.as_str().into(),
                document_type: kind,
                x12_version: group.as_ref().map(|g| g.0.into()),
                functional_id_code: group.as_ref().map(|_| "FA".into()),
                control_numbers: EdiControlNumbers {
                    interchange_control_number: isa13.as_str().into(),
                    group_control_number: group.as_ref().map(|g| g.1.as_str().into()),
                    transaction_set_control_number: group.as_ref().map(|g| g.2.as_str().into()),
                },
                interchange_sender: p.our_interchange_id().into(),
                interchange_receiver: p.partner_interchange_id().into(),
                usage_indicator: usage,
                business_reference: business.map(Into::into),
                order_id: None,
                in_response_to_document_id: Some(responds.into()),
                ack_expected: false,
                ack_due_at: None,
                archive_reference: archive_reference.as_str().into(),
                size_bytes: size,
                content_sha256: sha.as_str().into(),
            }
        };
        let mut events = Vec::new();
        if let Some(t) = &acks.ta1 {
            let received_isa13 = t
                .elements
                .first()
                .and_then(|e| e.first())
                .and_then(|c| c.first())
                .cloned();
            events.push(base(
                &ids::parse_doc_id(acks.responds_to)
                    .map(|d| ids::ta1_doc_id(&d.receipt_id, d.interchange))
                    .unwrap_or_else(|| format!("{}-ta1", acks.responds_to)),
                EdiDocumentType::X12Ta1,
                received_isa13,
                acks.responds_to,
                None,
            ));
        }
        for ((_, sent_doc_id, group_doc_id, received_gs06), g) in
            acks.groups.iter().zip(&rendered.groups)
        {
            events.push(base(
                sent_doc_id,
                EdiDocumentType::X12997,
                Some(received_gs06.clone()),
                group_doc_id,
                Some((g.version.as_str(), g.gs06.to_string(), st02_text(g.st02))),
            ));
        }
        let topic = self.ctx.topics.edi_documents.clone();
        for e in events {
            self.sent.push(PlannedRecord::new(
                &topic,
                &p.id,
                GatewayEvent::EdiDocumentSent(e),
            ));
        }
        self.files.push(OutboundFile {
            file_name: file_name.clone(),
            archive_path,
            bytes: rendered.bytes,
        });
        Ok(Some(file_name))
    }

    fn partnership_issues(&self, ic: &Interchange<'_>) -> Vec<InterchangeIssue> {
        let p = self.profile();
        let isa = &ic.isa;
        let mut out = Vec::new();
        let issue = |note: Ta1Note, detail: String| InterchangeIssue {
            note,
            offset: ic.offset,
            detail,
        };
        if isa.sender_qualifier != p.partner_qualifier {
            out.push(issue(
                Ta1Note::InvalidSenderQualifier,
                format!(
                    "ISA05 {:?} is not partner {}'s qualifier {:?}",
                    isa.sender_qualifier, p.id, p.partner_qualifier
                ),
            ));
        } else if isa.sender() != p.partner_isa_id {
            out.push(issue(
                Ta1Note::InvalidSenderId,
                format!(
                    "ISA06 {:?} is not partner {}'s interchange id {:?}",
                    isa.sender(),
                    p.id,
                    p.partner_isa_id
                ),
            ));
        }
        if isa.receiver_qualifier != p.our_qualifier {
            out.push(issue(
                Ta1Note::InvalidReceiverQualifier,
                format!(
                    "ISA07 {:?} is not our qualifier {:?} with partner {}",
                    isa.receiver_qualifier, p.our_qualifier, p.id
                ),
            ));
        } else if isa.receiver() != p.our_isa_id {
            out.push(issue(
                Ta1Note::UnknownReceiverId,
                format!(
                    "ISA08 {:?} is not our interchange id {:?} with partner {}",
                    isa.receiver(),
                    p.our_isa_id,
                    p.id
                ),
            ));
        }
        out
    }

    /// One interchange of the file: its envelope checks ([`Builder::check_envelope`]), then
    /// either the rejection of the whole interchange ([`Builder::reject_interchange`]) or each
    /// functional group ([`Builder::group`]), then its acknowledgements, in one rendered file.
    fn interchange(&mut self, n: usize, ic: &Interchange<'_>) -> Result<(), GatewayError> {
        let p = self.profile();
        let checked = self.check_envelope(ic);
        let v = &checked.validated;
        let isa = &ic.isa;
        let accepted = v.report.is_accepted();
        let duplicate = v.report.note() == Ta1Note::DuplicateControlNumber;
        let usage = isa.parsed_usage();
        let env = Envelope {
            isa13: isa.control_number,
            sender: checked.sender.clone(),
            receiver: checked.receiver.clone(),
            usage: usage_indicator(usage.unwrap_or(self.ctx.mode.usage())),
        };
        let ic_doc = ids::interchange_doc_id(self.receipt.receipt_id, n);
        let ta1 = (isa.wants_ta1() && p.sends(DocKind::Ta1)).then(|| build_ta1(&v.report));
        let version = ic.version.unwrap_or(p.isa_version);
        let response_usage = usage.unwrap_or(self.ctx.mode.usage());
        let mut summary = InterchangeSummary {
            control_number: isa.control_number.to_owned(),
            outcome: if accepted {
                "accepted"
            } else if duplicate {
                "duplicate"
            } else {
                "rejected"
            }
            .into(),
            usage: Some(isa.usage.to_owned()),
            note: v.report.note().code().into(),
            findings: v.report.issues.iter().map(ToString::to_string).collect(),
            ta1_sent: ta1.is_some(),
            groups: Vec::new(),
            acknowledgement_file: None,
        };

        let (acks, correlation) = if accepted {
            self.seen_interchanges.insert(checked.key.clone());
            let scope = Scope {
                n,
                env: &env,
                drives_business: usage.is_some_and(|u| self.ctx.mode.drives_business(u)),
            };
            let mut acks = Vec::new();
            let mut correlation = None;
            for (gi, vg) in v.groups.iter().enumerate() {
                let Some(fg) = ic.groups.get(gi) else {
                    continue;
                };
                let (gsum, ack) = self.group(&scope, gi + 1, vg, fg);
                if let Some((ack, first_event)) = ack {
                    correlation.get_or_insert(first_event);
                    acks.push(ack);
                }
                summary.groups.push(gsum);
            }
            self.partner_ta1s(ic, &ic_doc);
            let correlation =
                correlation.unwrap_or_else(|| ids::event_id(&ic_doc, "EdiDocumentReceived"));
            (acks, correlation)
        } else {
            let correlation = self.reject_interchange(ic, &checked, &env, &ic_doc, duplicate);
            (Vec::new(), correlation)
        };
        summary.acknowledgement_file = self.render(PendingAcks {
            ta1,
            groups: acks,
            version,
            usage: response_usage,
            responds_to: &ic_doc,
            correlation,
        })?;
        self.interchanges.push(summary);
        Ok(())
    }

    /// Validates the interchange and adds the partnership's issues and a duplicate control
    /// number (seen within the partner's window, or twice in this file) to its TA1 report.
    fn check_envelope<'a>(&self, ic: &Interchange<'a>) -> CheckedEnvelope<'a> {
        let p = self.profile();
        let mut v = validate(ic);
        let isa = &ic.isa;
        let sender = format!("{}:{}", isa.sender_qualifier, isa.sender());
        let receiver = format!("{}:{}", isa.receiver_qualifier, isa.receiver());
        let key = interchange_key(&sender, &receiver, isa.control_number);
        let partnership = self.partnership_issues(ic);
        let partnership_ok = partnership.is_empty();
        v.report.issues.extend(partnership);
        let mut first_seen = None;
        if partnership_ok
            && !v
                .report
                .issues
                .iter()
                .any(|i| i.note == Ta1Note::DuplicateControlNumber)
        {
            if let Some(seen) = self
                .state
                .interchange_seen(&key, p.duplicate_window, self.ctx.now)
            {
                first_seen = Some(seen.clone());
                v.report.issues.push(InterchangeIssue {
                    note: Ta1Note::DuplicateControlNumber,
                    offset: ic.offset,
                    detail: format!(
                        "interchange {} from {} was already received at {} (receipt {})",
                        isa.control_number, sender, seen.at, seen.receipt_id
                    ),
                });
            } else if self.seen_interchanges.contains(&key) {
                v.report.issues.push(InterchangeIssue {
                    note: Ta1Note::DuplicateControlNumber,
                    offset: ic.offset,
                    detail: format!(
                        "interchange {} appears twice in this file",
                        isa.control_number
                    ),
                });
            }
        }
        CheckedEnvelope {
            validated: v,
            key,
            sender,
            receiver,
            first_seen,
        }
    }

    /// A rejected (or duplicate) interchange: one `EdiDocumentReceived` for the whole of it,
    /// and an `EDI_DUPLICATE` exception for a duplicate. Returns the correlation id of its
    /// acknowledgements.
    fn reject_interchange(
        &mut self,
        ic: &Interchange<'_>,
        checked: &CheckedEnvelope<'_>,
        env: &Envelope<'_>,
        ic_doc: &str,
        duplicate: bool,
    ) -> String {
        let p = self.profile();
        let isa = &ic.isa;
        let first_group = ic.groups.first();
        let doc_type = first_group.map_or(EdiDocumentType::X12Ta1, |g| {
            document_type(g.sets.first().map_or("", |s| s.id), g.header.functional_id)
        });
        let group = first_group.map(|g| {
            (
                g.header.functional_id,
                g.header.control_number,
                g.header.version,
            )
        });
        let mut event = self.received_event(
            ic_doc,
            env,
            doc_type,
            None,
            if duplicate {
                EdiReceiptStatus::Duplicate
            } else {
                EdiReceiptStatus::Rejected
            },
        );
        event.x12_version = group.map(|g| g.2.into());
        event.functional_id_code = group.map(|g| g.0.into());
        let correlation = event.metadata.event_id.to_string();
        self.push_received(event);
        if duplicate {
            let mut details = BTreeMap::from([
                ("level".to_owned(), "interchange".to_owned()),
                (
                    "interchange_control_number".to_owned(),
                    isa.control_number.to_owned(),
                ),
                ("interchange_sender".to_owned(), checked.sender.clone()),
            ]);
            if let Some(seen) = &checked.first_seen {
                details.insert("first_received_at".into(), seen.at.to_rfc3339());
                details.insert("first_receipt_id".into(), seen.receipt_id.clone());
            }
            let spec = self.exception(
                ExceptionKind::EdiDuplicate,
                Severity::Warning,
                ic_doc,
                format!(
                    "Partner {} sent interchange {} again; it was not processed a second time.",
                    p.id, isa.control_number
                ),
                details,
                &correlation,
            );
            self.push_exception(&spec, None);
        }
        correlation
    }

    /// Functional group `g_no` of an accepted interchange: a duplicate
    /// ([`Builder::duplicate_group`]), or each of its sets ([`Builder::received_set`]). Returns
    /// its summary and, when a 997 answers it, the 997 and the event id of its first set.
    fn group(
        &mut self,
        scope: &Scope<'_>,
        g_no: usize,
        vg: &ValidatedGroup<'_>,
        fg: &FunctionalGroup<'_>,
    ) -> (GroupSummary, Option<(PendingGroupAck, String)>) {
        let p = self.profile();
        let r = &vg.report;
        let mut gsum = GroupSummary {
            functional_id: r.functional_id.clone(),
            control_number: r.control_number.clone(),
            version: r.version.clone(),
            status: r.status.code().into(),
            sets: Vec::new(),
        };
        let gkey = group_key(&r.functional_id, &r.control_number);
        let seen = self
            .state
            .group_seen(&gkey, p.duplicate_window, self.ctx.now)
            .cloned();
        if seen.is_some() || self.seen_groups.contains(&gkey) {
            self.duplicate_group(scope, g_no, r, seen.as_ref(), &mut gsum);
            return (gsum, None);
        }
        self.seen_groups.insert(gkey);
        let mut first_event: Option<String> = None;
        for si in 0..r.sets.len() {
            let (set_sum, event_id) = self.received_set(scope, g_no, si, vg, fg);
            first_event.get_or_insert(event_id);
            gsum.sets.push(set_sum);
        }
        if vg.report.is_acknowledgment() {
            gsum.status = "not_acknowledged".into();
            return (gsum, None);
        }
        if !p.sends(DocKind::FunctionalAck) {
            return (gsum, None);
        }
        let ack = build_997(r).map(|ack| {
            let ack = (
                ack,
                ids::fa_doc_id(self.receipt.receipt_id, scope.n, g_no),
                ids::group_doc_id(self.receipt.receipt_id, scope.n, g_no),
                r.control_number.clone(),
            );
            (ack, first_event.unwrap_or_default())
        });
        (gsum, ack)
    }

    /// A group seen before (within the window, or earlier in this file): its sets recorded
    /// DUPLICATE, one `EDI_DUPLICATE` exception, no 997.
    fn duplicate_group(
        &mut self,
        scope: &Scope<'_>,
        g_no: usize,
        r: &GroupReport,
        seen: Option<&Seen>,
        gsum: &mut GroupSummary,
    ) {
        let p = self.profile();
        let group = (
            r.functional_id.as_str(),
            r.control_number.as_str(),
            r.version.as_str(),
        );
        gsum.status = "duplicate".into();
        let mut first_event = None;
        for (si, sr) in r.sets.iter().enumerate() {
            let doc = ids::set_doc_id(self.receipt.receipt_id, scope.n, g_no, si + 1);
            let e = self.received_event(
                &doc,
                scope.env,
                document_type(&sr.set_id, &r.functional_id),
                Some((group, &sr.control_number)),
                EdiReceiptStatus::Duplicate,
            );
            first_event.get_or_insert_with(|| e.metadata.event_id.to_string());
            self.push_received(e);
            gsum.sets.push(SetSummary {
                set_id: sr.set_id.clone(),
                control_number: sr.control_number.clone(),
                status: "DUPLICATE".into(),
                business_reference: None,
                order_id: None,
                action: None,
            });
        }
        let group_doc = ids::group_doc_id(self.receipt.receipt_id, scope.n, g_no);
        let mut details = BTreeMap::from([
            ("level".to_owned(), "group".to_owned()),
            ("functional_id".to_owned(), r.functional_id.clone()),
            ("group_control_number".to_owned(), r.control_number.clone()),
        ]);
        if let Some(s) = seen {
            details.insert("first_received_at".into(), s.at.to_rfc3339());
            details.insert("first_receipt_id".into(), s.receipt_id.clone());
        }
        let corr = first_event.unwrap_or_else(|| ids::event_id(&group_doc, "group"));
        let spec = self.exception(
            ExceptionKind::EdiDuplicate,
            Severity::Warning,
            &group_doc,
            format!(
                "Partner {} sent functional group {} {} again; it was not processed a second time.",
                p.id, r.functional_id, r.control_number
            ),
            details,
            &corr,
        );
        self.push_exception(&spec, None);
    }

    /// Set `si` of a new group: its `EdiDocumentReceived` and what its document becomes (an
    /// 850 through [`Builder::purchase_order`], a 997 matched to what we sent). Returns its
    /// summary and the event id of its `EdiDocumentReceived`.
    fn received_set(
        &mut self,
        scope: &Scope<'_>,
        g_no: usize,
        si: usize,
        vg: &ValidatedGroup<'_>,
        fg: &FunctionalGroup<'_>,
    ) -> (SetSummary, String) {
        let r = &vg.report;
        let sr = &r.sets[si];
        let group = (
            r.functional_id.as_str(),
            r.control_number.as_str(),
            r.version.as_str(),
        );
        let doc = ids::set_doc_id(self.receipt.receipt_id, scope.n, g_no, si + 1);
        let status = if r.errors.is_empty() {
            set_status(sr.status)
        } else {
            EdiReceiptStatus::Rejected
        };
        let raw_reference = fg
            .sets
            .get(si)
            .and_then(|s| {
                s.segments
                    .iter()
                    .find(|seg| seg.id() == b"BEG" || seg.id() == b"AK1")
            })
            .and_then(|seg| {
                if seg.id() == b"BEG" {
                    seg.element_str(3)
                } else {
                    seg.element_str(2)
                }
            })
            .map(str::to_owned);
        let event_id = ids::event_id(&doc, "EdiDocumentReceived");
        let mut set_sum = SetSummary {
            set_id: sr.set_id.clone(),
            control_number: sr.control_number.clone(),
            status: status_text(status).into(),
            business_reference: raw_reference.clone(),
            order_id: None,
            action: None,
        };
        let follow_ups = match vg.documents.get(si).and_then(Option::as_ref) {
            Some(Document::PurchaseOrder(po)) => {
                let src = PoSource {
                    isa13: scope.env.isa13,
                    gs06: &r.control_number,
                    st02: &sr.control_number,
                    doc_id: &doc,
                    received_event_id: &event_id,
                    received_at: self.receipt.received_at,
                };
                self.purchase_order(scope, po, &src, &mut set_sum)
            }
            Some(Document::FunctionalAck(fa)) => {
                let matched = self.match_997(fa, &doc, &event_id);
                set_sum.action = Some(
                    if matched {
                        "acknowledgement_matched"
                    } else {
                        "acknowledgement_unmatched"
                    }
                    .into(),
                );
                Vec::new()
            }
            _ => Vec::new(),
        };
        let mut e = self.received_event(
            &doc,
            scope.env,
            document_type(&sr.set_id, &r.functional_id),
            Some((group, &sr.control_number)),
            status,
        );
        e.business_reference = raw_reference.as_deref().and_then(opt);
        e.order_id = set_sum.order_id.as_deref().and_then(opt);
        self.push_received(e);
        self.business.extend(follow_ups);
        (set_sum, event_id)
    }

    /// An accepted 850: nothing for a test interchange in production (or the reverse), an
    /// `EDI_MAPPING_FAILED` exception when the profile does not receive 850s or the PO cannot
    /// be mapped, else the `OrderSubmitted` or `OrderCancelRequested` to publish after its
    /// `EdiDocumentReceived` ([`map_850`]).
    fn purchase_order(
        &mut self,
        scope: &Scope<'_>,
        po: &PurchaseOrder<'_>,
        src: &PoSource<'_>,
        set_sum: &mut SetSummary,
    ) -> Vec<PlannedRecord> {
        let p = self.profile();
        let (doc, event_id) = (src.doc_id, src.received_event_id);
        if !scope.drives_business {
            set_sum.action = Some("test_ignored".into());
            return Vec::new();
        }
        if !p.receives(DocKind::PurchaseOrder) {
            set_sum.action = Some("not_mapped".into());
            let spec = self.exception(
                ExceptionKind::EdiMappingFailed,
                Severity::Error,
                doc,
                format!(
                    "Partner {} sent PO {} but its profile does not list 850 in documents.receive.",
                    p.id, po.po_number
                ),
                BTreeMap::from([("po_number".to_owned(), po.po_number.to_owned())]),
                event_id,
            );
            self.push_exception(&spec, None);
            return Vec::new();
        }
        let topics = self.ctx.topics;
        let planned = |topic: &str, key: String, event: GatewayEvent| {
            let mut rec = PlannedRecord::new(topic, &key, event);
            rec.headers
                .push((BEG01_HEADER.to_owned(), po.purpose.code().to_owned()));
            vec![rec]
        };
        match map_850(p, po, src) {
            PoMapping::Submit {
                event,
                duplicate_copy,
            } => {
                set_sum.order_id = Some(event.order_id.to_string());
                set_sum.action = Some("submitted".into());
                if duplicate_copy {
                    self.duplicate_copy(po, &event, doc, event_id);
                }
                let key = event.customer_id.to_string();
                planned(
                    &topics.submissions,
                    key,
                    GatewayEvent::OrderSubmitted(*event),
                )
            }
            PoMapping::Cancel(event) => {
                set_sum.order_id = Some(event.order_id.to_string());
                set_sum.action = Some("cancel_requested".into());
                let key = event.order_id.to_string();
                planned(
                    &topics.order_events,
                    key,
                    GatewayEvent::OrderCancelRequested(*event),
                )
            }
            PoMapping::NotMapped { reason, order_id } => {
                set_sum.action = Some("not_mapped".into());
                set_sum.order_id.clone_from(&order_id);
                let mut spec = self.exception(
                    ExceptionKind::EdiMappingFailed,
                    Severity::Error,
                    doc,
                    reason,
                    BTreeMap::from([
                        ("po_number".to_owned(), po.po_number.to_owned()),
                        ("purpose".to_owned(), po.purpose.code().to_owned()),
                    ]),
                    event_id,
                );
                spec.order_id = order_id;
                self.push_exception(&spec, None);
                Vec::new()
            }
        }
    }

    /// The INFO `EDI_DUPLICATE` exception of a PO sent as a duplicate copy (BEG01 07).
    fn duplicate_copy(
        &mut self,
        po: &PurchaseOrder<'_>,
        event: &OrderSubmitted,
        doc: &str,
        event_id: &str,
    ) {
        let mut spec = self.exception(
            ExceptionKind::EdiDuplicate,
            Severity::Info,
            doc,
            format!(
                "Partner {} sent PO {} as a duplicate copy (BEG01 07); submitted with the original's idempotency key, so it is never accepted twice.",
                self.profile().id, po.po_number
            ),
            BTreeMap::from([
                ("level".to_owned(), "purchase_order".to_owned()),
                ("po_number".to_owned(), po.po_number.to_owned()),
            ]),
            event_id,
        );
        spec.order_id = Some(event.order_id.to_string());
        spec.customer_id = Some(event.customer_id.to_string());
        self.push_exception(&spec, None);
    }

    /// Matches a partner's 997 to the documents we sent; whether it acknowledged any.
    fn match_997(&mut self, fa: &FunctionalAck<'_>, ack_doc: &str, ack_event: &str) -> bool {
        let p = self.profile();
        let Ok(gs06) = normalize_control(fa.group_control_number).parse::<u32>() else {
            return false;
        };
        let docs = self.state.sent_in_group(fa.functional_id, gs06);
        if docs.is_empty() {
            return false;
        }
        let received_at = self.receipt.received_at;
        let mut acks = Vec::new();
        let mut exceptions: Vec<(ExceptionSpec, Resolution)> = Vec::new();
        for d in docs {
            if d.acknowledged.is_some() || self.acknowledged.contains(&d.doc_id) {
                continue;
            }
            let st02 = d
                .st02
                .as_deref()
                .and_then(|s| normalize_control(s).parse::<u32>().ok());
            let set_ack = fa
                .sets
                .iter()
                .find(|s| normalize_control(s.control_number).parse::<u32>().ok() == st02);
            let status = ack_status_of(set_ack.map(|s| s.status), fa.status);
            let mut errors = Vec::new();
            if let Some(s) = set_ack {
                for se in &s.segment_errors {
                    errors.push(AckError {
                        level: AckErrorLevel::Segment,
                        code: se.code.map_or("", |c| c.code()).into(),
                        segment_id: Some(se.segment_id.into()),
                        segment_position: i32::try_from(se.position).ok(),
                        element_position: None,
                        description: se.code.map(|c| c.description().into()),
                    });
                    for ee in &se.elements {
                        errors.push(AckError {
                            level: AckErrorLevel::Element,
                            code: ee.code.code().into(),
                            segment_id: Some(se.segment_id.into()),
                            segment_position: i32::try_from(se.position).ok(),
                            element_position: i32::try_from(ee.position).ok(),
                            description: Some(ee.code.description().into()),
                        });
                    }
                }
                for c in &s.errors {
                    errors.push(AckError {
                        level: AckErrorLevel::TransactionSet,
                        code: c.code().into(),
                        segment_id: None,
                        segment_position: None,
                        element_position: None,
                        description: Some(c.description().into()),
                    });
                }
            }
            for c in &fa.errors {
                errors.push(AckError {
                    level: AckErrorLevel::Group,
                    code: c.code().into(),
                    segment_id: None,
                    segment_position: None,
                    element_position: None,
                    description: Some(c.description().into()),
                });
            }
            let late = d.ack_due_at.is_some_and(|due| received_at > due);
            let subject = format!("{ack_doc}/{}", d.doc_id);
            acks.push(EdiDocumentAcknowledged {
                metadata: metadata::<EdiDocumentAcknowledged>(
                    ids::event_id(&subject, "EdiDocumentAcknowledged"),
                    received_at,
                    &d.correlation_id,
                    Some(ack_event),
                    SOURCE_SYSTEM,
                ),
                partner_id: p.id.as_str().into(),
                acknowledged_document_id: d.doc_id.as_str().into(),
                acknowledged_document_type: d.document_type,
                acknowledged_control_numbers: EdiControlNumbers {
                    interchange_control_number: d.isa13.as_str().into(),
                    group_control_number: Some(fa.group_control_number.into()),
                    transaction_set_control_number: set_ack
                        .map(|s| s.control_number.into())
                        .or_else(|| d.st02.as_deref().map(Into::into)),
                },
                ack_document_id: ack_doc.into(),
                ack_type: EdiDocumentType::X12997,
                status,
                errors,
                business_reference: d.business_reference.as_deref().map(Into::into),
                late,
            });
            let base = |kind, severity, message: String| ExceptionSpec {
                kind,
                severity,
                aggregate_type: AggregateType::EdiDocument,
                aggregate_id: d.doc_id.clone(),
                order_id: d.order_id.clone(),
                customer_id: None,
                partner_id: p.id.clone(),
                message,
                details: BTreeMap::from([
                    ("interchange_control_number".to_owned(), d.isa13.clone()),
                    (
                        "group_control_number".to_owned(),
                        d.gs06.clone().unwrap_or_default(),
                    ),
                    (
                        "transaction_set_control_number".to_owned(),
                        d.st02.clone().unwrap_or_default(),
                    ),
                    (
                        "business_reference".to_owned(),
                        d.business_reference.clone().unwrap_or_default(),
                    ),
                ]),
                raised_at: received_at,
                correlation_id: d.correlation_id.clone(),
                causation_id: Some(ack_event.to_owned()),
            };
            if status == AckStatus::Rejected {
                exceptions.push((
                    base(
                        ExceptionKind::EdiRejectedByPartner,
                        Severity::Error,
                        format!(
                            "Partner {} rejected our {} (ST02 {}, GS06 {}) in its 997 {}.",
                            p.id,
                            d.business_reference.as_deref().unwrap_or(&d.doc_id),
                            d.st02.as_deref().unwrap_or("?"),
                            d.gs06.as_deref().unwrap_or("?"),
                            fa.control_number
                        ),
                    ),
                    None,
                ));
            }
            if late {
                if let Some(due) = d.ack_due_at {
                    let mut spec =
                        base(ExceptionKind::EdiAckOverdue, Severity::Error, String::new());
                    spec.raised_at = due;
                    spec.causation_id = Some(d.event_id.clone());
                    spec.message = crate::handlers::overdue::overdue_message(&p.id, d);
                    exceptions.push((
                        spec,
                        Some((
                            received_at,
                            format!("997 received late: {}", ack_status_text(status)),
                        )),
                    ));
                }
            }
            self.acknowledged.insert(d.doc_id.clone());
        }
        let any = !acks.is_empty();
        let topic = self.ctx.topics.edi_documents.clone();
        for a in acks {
            self.business.push(PlannedRecord::new(
                &topic,
                &p.id,
                GatewayEvent::EdiDocumentAcknowledged(a),
            ));
        }
        for (spec, resolved) in exceptions {
            self.push_exception(&spec, resolved.as_ref().map(|(a, h)| (*a, h.as_str())));
        }
        any
    }

    /// TA1s the partner sent about our interchanges: a rejection marks their documents rejected.
    fn partner_ta1s(&mut self, ic: &Interchange<'_>, ic_doc: &str) {
        let p = self.profile();
        for seg in &ic.ta1 {
            let f = seg.fields();
            let (Some(control), Some(status)) = (f.str(1), f.str(4)) else {
                continue;
            };
            if status != "R" {
                continue;
            }
            let note = f.str(5).unwrap_or("");
            let Ok(isa13) = normalize_control(control).parse::<u32>() else {
                continue;
            };
            let docs: Vec<_> = self
                .state
                .sent_interchanges
                .get(&isa13)
                .map(|ids| ids.iter().filter_map(|i| self.state.sent.get(i)).collect())
                .unwrap_or_default();
            for d in docs {
                if !d.ack_expected
                    || d.acknowledged.is_some()
                    || self.acknowledged.contains(&d.doc_id)
                {
                    continue;
                }
                self.acknowledged.insert(d.doc_id.clone());
                let subject = format!("{ic_doc}/ta1/{}", d.doc_id);
                let ack = EdiDocumentAcknowledged {
                    metadata: metadata::<EdiDocumentAcknowledged>(
                        ids::event_id(&subject, "EdiDocumentAcknowledged"),
                        self.receipt.received_at,
                        &d.correlation_id,
                        None,
                        SOURCE_SYSTEM,
                    ),
                    partner_id: p.id.as_str().into(),
                    acknowledged_document_id: d.doc_id.as_str().into(),
                    acknowledged_document_type: d.document_type,
                    acknowledged_control_numbers: EdiControlNumbers {
                        interchange_control_number: d.isa13.as_str().into(),
                        group_control_number: None,
                        transaction_set_control_number: None,
                    },
                    ack_document_id: ic_doc.into(),
                    ack_type: EdiDocumentType::X12Ta1,
                    status: AckStatus::Rejected,
                    errors: vec![AckError {
                        level: AckErrorLevel::Interchange,
                        code: note.into(),
                        segment_id: None,
                        segment_position: None,
                        element_position: None,
                        description: Ta1Note::from_code(note).map(|n| n.description().into()),
                    }],
                    business_reference: d.business_reference.as_deref().map(Into::into),
                    late: d
                        .ack_due_at
                        .is_some_and(|due| self.receipt.received_at > due),
                };
                let spec = ExceptionSpec {
                    kind: ExceptionKind::EdiRejectedByPartner,
                    severity: Severity::Error,
                    aggregate_type: AggregateType::EdiDocument,
                    aggregate_id: d.doc_id.clone(),
                    order_id: d.order_id.clone(),
                    customer_id: None,
                    partner_id: p.id.clone(),
                    message: format!(
                        "Partner {} rejected our interchange {} with TA1 note {note}.",
                        p.id, d.isa13
                    ),
                    details: BTreeMap::from([
                        ("interchange_control_number".to_owned(), d.isa13.clone()),
                        ("ta1_note".to_owned(), note.to_owned()),
                    ]),
                    raised_at: self.receipt.received_at,
                    correlation_id: d.correlation_id.clone(),
                    causation_id: None,
                };
                let topic = self.ctx.topics.edi_documents.clone();
                self.business.push(PlannedRecord::new(
                    &topic,
                    &p.id,
                    GatewayEvent::EdiDocumentAcknowledged(ack),
                ));
                self.push_exception(&spec, None);
            }
        }
    }
}

/// Decides what a received file becomes.
pub fn decide(
    ctx: &InboundContext<'_>,
    state: &PartnerState,
    receipt: &Receipt<'_>,
    input: &[u8],
) -> Result<InboundDecision, GatewayError> {
    let p = ctx.profile;
    let mut b = Builder::new(ctx, state, receipt);
    let mut n = 0;
    for item in interchanges(input) {
        n += 1;
        match item {
            Ok(ic) => b.interchange(n, &ic)?,
            Err(e) => b.unreadable(n, &e)?,
        }
    }
    if n == 0 {
        let err = X12Error::Interchange {
            note: Ta1Note::PrematureEndOfFile,
            offset: 0,
            detail: "the file holds no interchange".into(),
            header: Box::default(),
        };
        b.unreadable(1, &err)?;
    }
    let mut records = b.received;
    records.extend(b.business);
    records.extend(b.sent);
    Ok(InboundDecision {
        records,
        files: b.files,
        summary: ReceiptSummary {
            receipt_id: receipt.receipt_id.to_owned(),
            partner_id: p.id.clone(),
            archive_reference: receipt.archive_reference.to_owned(),
            size_bytes: receipt.size_bytes,
            sha256: receipt.sha256.to_owned(),
            interchanges: b.interchanges,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::edi_documents::{self, EdiEvent};
    use crate::profile::{test_profile, TEST_PROFILE};
    use dsync_events::{AckStatus, OrderSubmitted};
    use std::path::Path;

    fn corpus(name: &str) -> Vec<u8> {
        dsync_x12::testdata::inbound(name).unwrap_or_else(|e| panic!("{e}"))
    }

    struct Env {
        profile: PartnerProfile,
        topics: Topics,
        archive: Archive,
        state: PartnerState,
        mode: UsageMode,
        n: u32,
    }

    impl Env {
        fn new(profile_text: &str) -> Self {
            Env {
                profile: test_profile(profile_text),
                topics: Topics::with_prefix("t."),
                archive: Archive::new(Path::new("/data")),
                state: PartnerState::new("ACME"),
                mode: UsageMode::Production,
                n: 0,
            }
        }

        /// Decides `input` and applies the decision to the state, as the gateway does.
        fn receive(&mut self, input: &[u8]) -> InboundDecision {
            self.n += 1;
            let receipt_id = format!("20240115T1030{:02}000Z-0123456789ab", self.n);
            let archive_reference = format!("file:///data/{receipt_id}.x12");
            let sha = files::sha256_hex(input);
            let receipt = Receipt {
                receipt_id: &receipt_id,
                received_at: Utc::now(),
                archive_reference: &archive_reference,
                size_bytes: input.len() as i64,
                sha256: &sha,
            };
            let ctx = InboundContext {
                profile: &self.profile,
                topics: &self.topics,
                mode: self.mode,
                archive: &self.archive,
                now: Utc::now(),
            };
            let d = decide(&ctx, &self.state, &receipt, input).expect("decision");
            for r in &d.records {
                if let Some(ev) = EdiEvent::from_planned(&r.event) {
                    edi_documents::apply(&mut self.state, ev);
                }
            }
            d
        }
    }

    /// Runs `f` on a builder over `env` (the steps of [`Builder::interchange`] alone).
    fn with_builder<T>(env: &Env, f: impl FnOnce(&mut Builder<'_>) -> T) -> T {
        let receipt = Receipt {
            receipt_id: "20240115T103001000Z-0123456789ab",
            received_at: Utc::now(),
            archive_reference: "file:///data/r.x12",
            size_bytes: 0,
            sha256: "",
        };
        let ctx = InboundContext {
            profile: &env.profile,
            topics: &env.topics,
            mode: env.mode,
            archive: &env.archive,
            now: Utc::now(),
        };
        let mut b = Builder::new(&ctx, &env.state, &receipt);
        f(&mut b)
    }

    #[test]
    fn the_envelope_check_alone_finds_an_interchange_twice_in_one_file() {
        let env = Env::new(TEST_PROFILE);
        let input = corpus("01_4010_star_colon_tilde.x12");
        let ic = interchanges(&input)
            .next()
            .expect("one interchange")
            .expect("readable");
        with_builder(&env, |b| {
            let first = b.check_envelope(&ic);
            assert!(
                first.validated.report.is_accepted(),
                "{:?}",
                first.validated.report
            );
            assert!(first.first_seen.is_none());
            b.seen_interchanges.insert(first.key.clone());
            let again = b.check_envelope(&ic);
            assert_eq!(
                again.validated.report.note(),
                Ta1Note::DuplicateControlNumber
            );
            assert!(
                again
                    .validated
                    .report
                    .issues
                    .iter()
                    .any(|i| i.detail.contains("appears twice in this file")),
                "{:?}",
                again.validated.report.issues
            );
        });
    }

    #[test]
    fn a_purchase_order_alone_is_ignored_when_its_usage_does_not_drive_business() {
        let env = Env::new(TEST_PROFILE);
        let input = corpus("01_4010_star_colon_tilde.x12");
        let ic = interchanges(&input)
            .next()
            .expect("one interchange")
            .expect("readable");
        let v = validate(&ic);
        let Some(Some(Document::PurchaseOrder(po))) = v.groups[0].documents.first() else {
            panic!("an 850");
        };
        let envelope = Envelope {
            isa13: ic.isa.control_number,
            sender: String::new(),
            receiver: String::new(),
            usage: UsageIndicator::Production,
        };
        let src = PoSource {
            isa13: ic.isa.control_number,
            gs06: "1",
            st02: "0001",
            doc_id: "doc",
            received_event_id: "ev",
            received_at: Utc::now(),
        };
        let mut set_sum = SetSummary {
            set_id: "850".into(),
            control_number: "0001".into(),
            status: "ACCEPTED".into(),
            business_reference: None,
            order_id: None,
            action: None,
        };
        for (drives_business, action, records) in
            [(false, "test_ignored", 0), (true, "submitted", 1)]
        {
            let scope = Scope {
                n: 1,
                env: &envelope,
                drives_business,
            };
            let out = with_builder(&env, |b| b.purchase_order(&scope, po, &src, &mut set_sum));
            assert_eq!(set_sum.action.as_deref(), Some(action));
            assert_eq!(out.len(), records);
        }
    }

    fn received(d: &InboundDecision) -> Vec<&EdiDocumentReceived> {
        d.records
            .iter()
            .filter_map(|r| match &r.event {
                GatewayEvent::EdiDocumentReceived(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn orders(d: &InboundDecision) -> Vec<&OrderSubmitted> {
        d.records
            .iter()
            .filter_map(|r| match &r.event {
                GatewayEvent::OrderSubmitted(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn sent(d: &InboundDecision) -> Vec<&EdiDocumentSent> {
        d.records
            .iter()
            .filter_map(|r| match &r.event {
                GatewayEvent::EdiDocumentSent(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn exceptions(d: &InboundDecision) -> Vec<&dsync_events::BusinessException> {
        d.records
            .iter()
            .filter_map(|r| match &r.event {
                GatewayEvent::BusinessException(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// The acknowledgements in an outbound file.
    fn acks_in(bytes: &[u8]) -> crate::testkit::Acks {
        crate::testkit::read_acks(bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_clean_850_becomes_an_order_a_997_and_a_ta1() {
        let mut env = Env::new(TEST_PROFILE);
        let d = env.receive(&corpus("01_4010_star_colon_tilde.x12"));
        let ic = &d.summary.interchanges[0];
        assert_eq!((ic.outcome.as_str(), ic.note.as_str()), ("accepted", "000"));
        let orders = orders(&d);
        assert_eq!(orders.len(), 1);
        let o = orders[0];
        assert_eq!(o.customer_id, "C-100234");
        assert_eq!(o.idempotency_key, "edi:ACME:PO-1");
        assert_eq!(o.order_id, ids::order_id("C-100234", "edi:ACME:PO-1"));
        assert_eq!(o.channel, dsync_events::OrderChannel::Edi);
        assert_eq!(o.currency, "USD");
        assert_eq!(o.ship_to.ship_to_id.as_deref(), Some("C-100234-0042"));
        assert_eq!(o.ship_to.partner_location_id.as_deref(), Some("0042"));
        assert_eq!(
            o.ship_to.address.as_ref().map(|a| a.city.as_str()),
            Some("SPRINGFIELD")
        );
        let po = o.partner_po.as_ref().expect("partner po");
        assert_eq!(
            (
                po.interchange_control_number.as_deref(),
                po.group_control_number.as_deref(),
                po.transaction_set_control_number.as_deref()
            ),
            (Some("000000101"), Some("101"), Some("0001"))
        );
        assert_eq!(po.po_date, chrono::NaiveDate::from_ymd_opt(2024, 1, 15));
        assert_eq!(o.lines.len(), 2);
        assert_eq!(o.lines[0].sku.as_deref(), Some("WID-4410"));
        assert_eq!(o.lines[0].unit, "EA");
        assert_eq!(o.lines[0].quantity, 12.0);
        assert_eq!(o.lines[0].gtin.as_deref(), Some("012345678905"));
        assert_eq!(
            o.lines[0]
                .submitted_unit_price
                .as_ref()
                .map(|m| m.amount_minor),
            Some(425)
        );
        assert_eq!(
            o.lines[1].sku.as_deref(),
            Some("GAD-0099"),
            "by vendor part"
        );
        assert_eq!(o.lines[1].unit, "CS", "unit code mapped");
        assert_eq!(o.lines[1].partner_line_id.as_deref(), Some("2"));
        let rec = received(&d);
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].status, EdiReceiptStatus::Accepted);
        assert_eq!(rec[0].order_id.as_deref(), Some(o.order_id.as_str()));
        assert_eq!(rec[0].business_reference.as_deref(), Some("PO-1"));
        assert_eq!(
            o.metadata.causation_id.as_deref(),
            Some(rec[0].metadata.event_id.as_str())
        );
        let order_rec = d
            .records
            .iter()
            .find(|r| matches!(r.event, GatewayEvent::OrderSubmitted(_)))
            .expect("record");
        assert_eq!(order_rec.topic, "t.orders.submissions");
        assert_eq!(order_rec.key, "C-100234");
        assert_eq!(
            order_rec.headers,
            vec![(BEG01_HEADER.to_owned(), "00".to_owned())]
        );
        // one interchange back: TA1 A 000 and the 997 (AK9 A), GS swapped, version 004010
        assert_eq!(d.files.len(), 1);
        let (ta1, fas, isa13) = acks_in(&d.files[0].bytes);
        assert_eq!(ta1, vec![("A".to_owned(), "000".to_owned())]);
        assert_eq!(
            fas,
            vec![("PO 101".to_owned(), "A".to_owned(), vec!["A".to_owned()])]
        );
        assert_eq!(isa13, "000000001");
        let text = String::from_utf8_lossy(&d.files[0].bytes);
        assert!(text.contains("GS*FA*DISTSYNC*BUYERCO*"), "{text}");
        assert!(text.contains("*X*004010~"), "{text}");
        assert!(
            text.contains(&format!("ZZ*{:<15}*ZZ*{:<15}*", "DISTSYNC", "BUYERCO")),
            "{text}"
        );
        let s = sent(&d);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].document_type, EdiDocumentType::X12Ta1);
        assert_eq!(s[1].document_type, EdiDocumentType::X12997);
        assert_eq!(s[1].business_reference.as_deref(), Some("101"));
        assert!(!s[1].ack_expected);
        assert_eq!(env.state.counters.interchange, 1);
        assert_eq!(env.state.counters.group, 1);
    }

    #[test]
    fn a_duplicate_interchange_is_reported_with_ta1_025_and_never_processed() {
        let mut env = Env::new(TEST_PROFILE);
        let input = corpus("01_4010_star_colon_tilde.x12");
        let first = env.receive(&input);
        assert_eq!(orders(&first).len(), 1);
        let again = env.receive(&input);
        let ic = &again.summary.interchanges[0];
        assert_eq!(
            (ic.outcome.as_str(), ic.note.as_str()),
            ("duplicate", "025")
        );
        assert!(orders(&again).is_empty());
        let rec = received(&again);
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].status, EdiReceiptStatus::Duplicate);
        assert_eq!(rec[0].control_numbers.group_control_number, None);
        let ex = exceptions(&again);
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].kind, ExceptionKind::EdiDuplicate);
        let (ta1, fas, isa13) = acks_in(&again.files[0].bytes);
        assert_eq!(ta1, vec![("R".to_owned(), "025".to_owned())]);
        assert!(fas.is_empty(), "no 997 for a rejected interchange");
        assert_eq!(isa13, "000000002", "control numbers continue");
        // outside the window it is new again
        let mut short = Env::new(&TEST_PROFILE.replace(
            "ack_deadline = \"1h\"",
            "ack_deadline = \"1h\"\nduplicate_window = \"1s\"",
        ));
        short.receive(&input);
        for s in short.state.interchanges.values_mut() {
            s.at -= chrono::Duration::seconds(5);
        }
        for s in short.state.groups.values_mut() {
            s.at -= chrono::Duration::seconds(5);
        }
        assert_eq!(orders(&short.receive(&input)).len(), 1);
    }

    #[test]
    fn a_known_group_in_a_new_interchange_is_a_duplicate_group() {
        let mut env = Env::new(TEST_PROFILE);
        let input = corpus("01_4010_star_colon_tilde.x12");
        env.receive(&input);
        let text = String::from_utf8_lossy(&input).replace("000000101", "000000102");
        let d = env.receive(text.as_bytes());
        let ic = &d.summary.interchanges[0];
        assert_eq!(ic.outcome, "accepted");
        assert_eq!(ic.groups[0].status, "duplicate");
        assert!(orders(&d).is_empty());
        assert_eq!(received(&d)[0].status, EdiReceiptStatus::Duplicate);
        let (ta1, fas, _) = acks_in(&d.files[0].bytes);
        assert_eq!(ta1, vec![("A".to_owned(), "000".to_owned())]);
        assert!(
            fas.is_empty(),
            "a duplicate group is not acknowledged again"
        );
    }

    #[test]
    fn a_bad_set_is_rejected_in_the_997_while_the_good_ones_go_through() {
        let mut env = Env::new(TEST_PROFILE);
        let d = env.receive(&corpus("37_one_bad_set_among_good_ones.x12"));
        let pos: Vec<_> = orders(&d)
            .iter()
            .map(|o| o.customer_po_number.as_deref().unwrap_or("").to_owned())
            .collect();
        assert_eq!(pos, vec!["PO-37", "PO-39"]);
        let statuses: Vec<_> = received(&d).iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            vec![
                EdiReceiptStatus::Accepted,
                EdiReceiptStatus::Rejected,
                EdiReceiptStatus::Accepted
            ]
        );
        let (_, fas, _) = acks_in(&d.files[0].bytes);
        assert_eq!(
            fas,
            vec![(
                "PO 3701".to_owned(),
                "P".to_owned(),
                vec!["A".to_owned(), "R".to_owned(), "A".to_owned()]
            )]
        );
    }

    #[test]
    fn test_interchanges_never_become_orders_in_production_mode() {
        let input = corpus("04_5010_two_groups_five_sets.x12");
        let mut env = Env::new(TEST_PROFILE);
        let d = env.receive(&input);
        assert!(orders(&d).is_empty());
        assert!(received(&d)
            .iter()
            .all(|r| r.usage_indicator == UsageIndicator::Test
                && r.status == EdiReceiptStatus::Accepted));
        assert!(
            d.summary.interchanges[0].groups[0].sets[0]
                .action
                .as_deref()
                == Some("test_ignored")
        );
        let (_, fas, _) = acks_in(&d.files[0].bytes);
        assert_eq!(fas.len(), 2, "still acknowledged");
        let text = String::from_utf8_lossy(&d.files[0].bytes);
        assert!(
            text.contains("*00501*"),
            "answers in the received ISA12: {text}"
        );
        assert!(
            text.contains("*T*:"),
            "test data answered as test data: {text}"
        );
        let mut test_env = Env::new(TEST_PROFILE);
        test_env.mode = UsageMode::Test;
        assert_eq!(orders(&test_env.receive(&input)).len(), 5);
    }

    #[test]
    fn a_stranger_is_rejected_with_the_sender_note() {
        let mut env =
            Env::new(&TEST_PROFILE.replace("partner_id = \"BUYERCO\"", "partner_id = \"OTHERCO\""));
        let d = env.receive(&corpus("01_4010_star_colon_tilde.x12"));
        let ic = &d.summary.interchanges[0];
        assert_eq!((ic.outcome.as_str(), ic.note.as_str()), ("rejected", "006"));
        assert!(orders(&d).is_empty());
        let (ta1, _, _) = acks_in(&d.files[0].bytes);
        assert_eq!(ta1, vec![("R".to_owned(), "006".to_owned())]);
        let mut env =
            Env::new(&TEST_PROFILE.replace("our_id = \"DISTSYNC\"", "our_id = \"SOMEONE\""));
        let d = env.receive(&corpus("01_4010_star_colon_tilde.x12"));
        assert_eq!(d.summary.interchanges[0].note, "009");
    }

    #[test]
    fn an_unreadable_interchange_gets_a_ta1_even_without_isa14() {
        let mut env = Env::new(TEST_PROFILE);
        let d = env.receive(&corpus("42_isa_invalid_segment_terminator.x12"));
        let ic = &d.summary.interchanges[0];
        assert_eq!(
            (ic.outcome.as_str(), ic.note.as_str()),
            ("unreadable", "004")
        );
        let rec = received(&d);
        assert_eq!(rec[0].status, EdiReceiptStatus::Rejected);
        assert_eq!(rec[0].control_numbers.transaction_set_control_number, None);
        let (ta1, _, _) = acks_in(&d.files[0].bytes);
        assert_eq!(ta1, vec![("R".to_owned(), "004".to_owned())]);
        let empty = env.receive(b"  \n");
        assert_eq!(empty.summary.interchanges[0].outcome, "unreadable");
        assert!(empty.files.is_empty(), "nothing to quote in a TA1");
    }

    #[test]
    fn purposes_cancel_duplicate_copy_and_change() {
        let input = String::from_utf8_lossy(&corpus("01_4010_star_colon_tilde.x12")).into_owned();
        let mut env = Env::new(TEST_PROFILE);
        let original = env.receive(input.as_bytes());
        let order_id = orders(&original)[0].order_id.clone();
        let cancel = input
            .replace("BEG*00*", "BEG*01*")
            .replace("000000101", "000000201")
            .replace("*101*X", "*201*X")
            .replace("GE*1*101", "GE*1*201");
        let d = env.receive(cancel.as_bytes());
        let c = d
            .records
            .iter()
            .find_map(|r| match &r.event {
                GatewayEvent::OrderCancelRequested(e) => Some((r, e)),
                _ => None,
            })
            .expect("cancel request");
        assert_eq!(c.1.order_id, order_id);
        assert_eq!(c.1.reason, dsync_events::CancelReason::PartnerCancellation);
        assert_eq!(c.0.topic, "t.orders.events");
        assert_eq!(c.0.key, order_id.as_str());
        let copy = input
            .replace("BEG*00*", "BEG*07*")
            .replace("000000101", "000000301")
            .replace("*101*X", "*301*X")
            .replace("GE*1*101", "GE*1*301");
        let d = env.receive(copy.as_bytes());
        assert_eq!(
            orders(&d)[0].order_id,
            order_id,
            "same order as the original"
        );
        let ex = exceptions(&d);
        assert_eq!(
            (ex[0].kind, ex[0].severity),
            (ExceptionKind::EdiDuplicate, Severity::Info)
        );
        let change = input
            .replace("BEG*00*", "BEG*04*")
            .replace("000000101", "000000401")
            .replace("*101*X", "*401*X")
            .replace("GE*1*101", "GE*1*401");
        let d = env.receive(change.as_bytes());
        assert!(orders(&d).is_empty());
        assert_eq!(exceptions(&d)[0].kind, ExceptionKind::EdiMappingFailed);
        let unknown = input
            .replace(
                "N1*BT*ACME RETAIL HQ*1*123456789",
                "N1*BT*ACME RETAIL HQ*1*999999999",
            )
            .replace(
                "N1*ST*ACME STORE 0042*92*0042",
                "N1*ST*ACME STORE 0042*92*0043",
            )
            .replace("000000101", "000000501")
            .replace("*101*X", "*501*X")
            .replace("GE*1*101", "GE*1*501");
        let d = env.receive(unknown.as_bytes());
        assert!(orders(&d).is_empty());
        assert_eq!(exceptions(&d)[0].kind, ExceptionKind::EdiMappingFailed);
        assert_eq!(
            received(&d)[0].status,
            EdiReceiptStatus::Accepted,
            "syntax is fine"
        );
    }

    #[test]
    fn partner_997s_are_matched_to_what_we_sent() {
        let mut env = Env::new(TEST_PROFILE);
        let due = Utc::now() - chrono::Duration::minutes(1);
        for (doc, st02) in [("855-a", "0001"), ("855-b", "0002")] {
            let s = EdiDocumentSent {
                document_id: doc.into(),
                partner_id: "ACME".into(),
                document_type: EdiDocumentType::X12855,
                functional_id_code: Some("PR".into()),
                control_numbers: EdiControlNumbers {
                    interchange_control_number: "000009001".into(),
                    group_control_number: Some("9001".into()),
                    transaction_set_control_number: Some(st02.into()),
                },
                business_reference: Some(format!("PO-{doc}").into()),
                order_id: Some(format!("order-{doc}").into()),
                ack_expected: true,
                ack_due_at: Some(due),
                ..EdiDocumentSent::default()
            };
            edi_documents::apply(&mut env.state, EdiEvent::Sent(&s));
        }
        let d = env.receive(&corpus("38_997_from_partner_for_our_855s.x12"));
        assert!(
            d.files.is_empty(),
            "a 997 is never acknowledged (and no TA1 was asked)"
        );
        let acks: Vec<_> = d
            .records
            .iter()
            .filter_map(|r| match &r.event {
                GatewayEvent::EdiDocumentAcknowledged(a) => Some(a),
                _ => None,
            })
            .collect();
        assert_eq!(acks.len(), 2);
        let a = acks
            .iter()
            .find(|a| a.acknowledged_document_id == "855-a")
            .expect("a");
        let b = acks
            .iter()
            .find(|a| a.acknowledged_document_id == "855-b")
            .expect("b");
        assert_eq!(a.status, AckStatus::Accepted);
        assert_eq!(b.status, AckStatus::Rejected);
        assert!(a.late && b.late);
        assert!(b
            .errors
            .iter()
            .any(|e| e.level == AckErrorLevel::Element && e.code == "6"));
        assert!(b
            .errors
            .iter()
            .any(|e| e.level == AckErrorLevel::Segment && e.segment_id.as_deref() == Some("PO1")));
        let ex = exceptions(&d);
        assert!(ex
            .iter()
            .any(|e| e.kind == ExceptionKind::EdiRejectedByPartner
                && e.aggregate_id == "855-b"
                && !e.resolved));
        assert!(ex.iter().any(|e| e.kind == ExceptionKind::EdiAckOverdue
            && e.aggregate_id == "855-a"
            && e.resolved));
        assert_eq!(received(&d)[0].document_type, EdiDocumentType::X12997);
        assert_eq!(received(&d)[0].business_reference.as_deref(), Some("9001"));
        assert!(
            env.state.overdue(Utc::now()).is_empty(),
            "both acknowledged"
        );
        // the same 997 again (new interchange and group numbers) matches nothing more
        let text = String::from_utf8_lossy(&corpus("38_997_from_partner_for_our_855s.x12"))
            .replace("000003801", "000003802")
            .replace("*3801*X", "*3802*X")
            .replace("GE*1*3801", "GE*1*3802");
        let again = env.receive(text.as_bytes());
        assert!(!again
            .records
            .iter()
            .any(|r| matches!(r.event, GatewayEvent::EdiDocumentAcknowledged(_))));
    }
}

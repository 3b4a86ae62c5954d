//! The overdue sweep: documents whose partner 997 has not arrived by their deadline
//! (`ack_due_at`, from the profile's `timing.ack_deadline`) raise an `EDI_ACK_OVERDUE`
//! exception, once per document. The exception id is deterministic (kind and document), its
//! `raised_at` is the deadline, and its event id is fixed, so detecting it again after a
//! restart republishes the very same event (consumers deduplicate). A 997 that arrives late
//! resolves it (see [`crate::handlers::interchanges`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dsync_events::{AggregateType, EdiDocumentType, ExceptionKind, Severity};

use crate::events::{ExceptionSpec, GatewayEvent, PlannedRecord};
use crate::state::{PartnerState, SentDoc};
use crate::topics::Topics;

/// The text of the overdue exception of `doc`.
pub fn overdue_message(partner: &str, doc: &SentDoc) -> String {
    format!(
        "Partner {partner} has not acknowledged our {} {} (ISA13 {}, GS06 {}, ST02 {}) with a 997; it was due {}.",
        type_name(doc.document_type),
        doc.business_reference.as_deref().unwrap_or(&doc.doc_id),
        doc.isa13,
        doc.gs06.as_deref().unwrap_or("-"),
        doc.st02.as_deref().unwrap_or("-"),
        doc.ack_due_at.map_or_else(|| "-".to_owned(), |d| d.to_rfc3339()),
    )
}

fn type_name(t: EdiDocumentType) -> &'static str {
    match t {
        EdiDocumentType::X12850 => "850",
        EdiDocumentType::X12855 => "855",
        EdiDocumentType::X12856 => "856",
        EdiDocumentType::X12810 => "810",
        EdiDocumentType::X12997 => "997",
        EdiDocumentType::X12Ta1 => "TA1",
        EdiDocumentType::Unknown => "document",
    }
}

/// The exception of an overdue document.
pub fn overdue_spec(partner: &str, doc: &SentDoc) -> ExceptionSpec {
    let due = doc.ack_due_at.unwrap_or(doc.sent_at);
    ExceptionSpec {
        kind: ExceptionKind::EdiAckOverdue,
        // a late ship notice costs a chargeback now
        severity: if doc.document_type == EdiDocumentType::X12856 {
            Severity::Critical
        } else {
            Severity::Error
        },
        aggregate_type: AggregateType::EdiDocument,
        aggregate_id: doc.doc_id.clone(),
        order_id: doc.order_id.clone(),
        customer_id: None,
        partner_id: partner.to_owned(),
        message: overdue_message(partner, doc),
        details: BTreeMap::from([
            ("interchange_control_number".to_owned(), doc.isa13.clone()),
            (
                "group_control_number".to_owned(),
                doc.gs06.clone().unwrap_or_default(),
            ),
            (
                "transaction_set_control_number".to_owned(),
                doc.st02.clone().unwrap_or_default(),
            ),
            (
                "business_reference".to_owned(),
                doc.business_reference.clone().unwrap_or_default(),
            ),
            ("due_at".to_owned(), due.to_rfc3339()),
        ]),
        raised_at: due,
        correlation_id: doc.correlation_id.clone(),
        causation_id: Some(doc.event_id.clone()),
    }
}

/// The exceptions to raise at `now`: one per overdue document not yet raised, with its id.
pub fn sweep(
    state: &PartnerState,
    topics: &Topics,
    now: DateTime<Utc>,
) -> Vec<(String, PlannedRecord)> {
    state
        .overdue(now)
        .into_iter()
        .filter(|d| !d.overdue_raised)
        .map(|d| {
            let spec = overdue_spec(&state.partner_id, d);
            (
                d.doc_id.clone(),
                PlannedRecord::new(
                    &topics.exceptions,
                    &spec.aggregate_id,
                    GatewayEvent::BusinessException(spec.raised()),
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, due_in_secs: i64, now: DateTime<Utc>) -> SentDoc {
        SentDoc {
            doc_id: id.into(),
            document_type: EdiDocumentType::X12855,
            functional_id: Some("PR".into()),
            isa13: "000000003".into(),
            gs06: Some("3".into()),
            st02: Some("0003".into()),
            business_reference: Some("PO-1".into()),
            order_id: Some("o1".into()),
            correlation_id: "c".into(),
            event_id: "e".into(),
            ack_expected: true,
            ack_due_at: Some(now + chrono::Duration::seconds(due_in_secs)),
            acknowledged: None,
            overdue_raised: false,
            sent_at: now,
        }
    }

    #[test]
    fn only_documents_past_their_deadline_without_a_997() {
        let now = Utc::now();
        let mut s = PartnerState::new("ACME");
        s.sent.insert("late".into(), doc("late", -5, now));
        s.sent.insert("soon".into(), doc("soon", 60, now));
        let mut acked = doc("acked", -5, now);
        acked.acknowledged = Some(dsync_events::AckStatus::Accepted);
        s.sent.insert("acked".into(), acked);
        let mut raised = doc("raised", -5, now);
        raised.overdue_raised = true;
        s.sent.insert("raised".into(), raised);
        let mut no_ack = doc("no-ack", -5, now);
        no_ack.ack_expected = false;
        s.sent.insert("no-ack".into(), no_ack);
        let out = sweep(&s, &Topics::with_prefix(""), now);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "late");
        let GatewayEvent::BusinessException(e) = &out[0].1.event else {
            panic!("not an exception");
        };
        assert_eq!(e.kind, ExceptionKind::EdiAckOverdue);
        assert_eq!(e.aggregate_id, "late");
        assert_eq!(e.order_id.as_deref(), Some("o1"));
        assert_eq!(out[0].1.topic, "exceptions.business");
        // the same event every time it is detected
        let again = sweep(
            &s,
            &Topics::with_prefix(""),
            now + chrono::Duration::hours(1),
        );
        assert_eq!(again[0].1, out[0].1);
    }
}

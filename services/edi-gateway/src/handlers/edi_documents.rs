//! The fold of `edi.documents` into the partners' state. Applied to every record of the topic at
//! start-up and to every event the gateway publishes, so the state after a restart equals the
//! state before it. Idempotent: applying an event twice (a re-published event, a journal entry
//! whose events were already on the topic) changes nothing more.

use dsync_events::{
    AnyEvent, EdiDocumentAcknowledged, EdiDocumentReceived, EdiDocumentSent, EdiDocumentType,
    EdiReceiptStatus,
};

use crate::events::GatewayEvent;
use crate::ids;
use crate::state::{group_key, interchange_key, normalize_control, PartnerState, Seen, SentDoc};

/// An event of `edi.documents`.
#[derive(Debug, Clone, Copy)]
pub enum EdiEvent<'a> {
    /// A document received.
    Received(&'a EdiDocumentReceived),
    /// A document sent.
    Sent(&'a EdiDocumentSent),
    /// One of our documents acknowledged by the partner.
    Acknowledged(&'a EdiDocumentAcknowledged),
}

impl<'a> EdiEvent<'a> {
    /// The `edi.documents` event in a decoded record, if it is one.
    pub fn from_any(e: &'a AnyEvent) -> Option<Self> {
        match e {
            AnyEvent::EdiDocumentReceived(r) => Some(EdiEvent::Received(r)),
            AnyEvent::EdiDocumentSent(s) => Some(EdiEvent::Sent(s)),
            AnyEvent::EdiDocumentAcknowledged(a) => Some(EdiEvent::Acknowledged(a)),
            _ => None,
        }
    }

    /// The `edi.documents` event of a planned record, if it is one.
    pub fn from_planned(e: &'a GatewayEvent) -> Option<Self> {
        match e {
            GatewayEvent::EdiDocumentReceived(r) => Some(EdiEvent::Received(r)),
            GatewayEvent::EdiDocumentSent(s) => Some(EdiEvent::Sent(s)),
            GatewayEvent::EdiDocumentAcknowledged(a) => Some(EdiEvent::Acknowledged(a)),
            _ => None,
        }
    }

    /// The partner the event is about.
    pub fn partner_id(&self) -> &str {
        match self {
            EdiEvent::Received(r) => &r.partner_id,
            EdiEvent::Sent(s) => &s.partner_id,
            EdiEvent::Acknowledged(a) => &a.partner_id,
        }
    }
}

fn parse_u32(s: &str) -> Option<u32> {
    normalize_control(s).parse().ok()
}

/// Applies one event to the partner's state.
pub fn apply(state: &mut PartnerState, event: EdiEvent<'_>) {
    match event {
        EdiEvent::Received(r) => apply_received(state, r),
        EdiEvent::Sent(s) => apply_sent(state, s),
        EdiEvent::Acknowledged(a) => {
            if let Some(d) = state.sent.get_mut(a.acknowledged_document_id.as_str()) {
                d.acknowledged = Some(a.status);
            }
        }
    }
}

fn apply_received(state: &mut PartnerState, r: &EdiDocumentReceived) {
    let receipt_id = ids::parse_doc_id(&r.document_id)
        .map_or_else(|| r.document_id.to_string(), |p| p.receipt_id);
    let seen = Seen {
        receipt_id,
        at: r.metadata.occurred_at,
    };
    // a set-level document means its interchange was opened and accepted: its ISA13 is taken;
    // its group is taken when the set was processed (a rejected group may be sent again)
    if let Some(gs06) = &r.control_numbers.group_control_number {
        state
            .interchanges
            .entry(interchange_key(
                &r.interchange_sender,
                &r.interchange_receiver,
                &r.control_numbers.interchange_control_number,
            ))
            .or_insert_with(|| seen.clone());
        if matches!(
            r.status,
            EdiReceiptStatus::Accepted | EdiReceiptStatus::AcceptedWithErrors
        ) {
            let fid = r.functional_id_code.as_deref().unwrap_or("");
            state
                .groups
                .entry(group_key(fid, gs06))
                .or_insert_with(|| seen.clone());
            if r.document_type == EdiDocumentType::X12850 {
                state
                    .received_850
                    .entry(r.document_id.to_string())
                    .or_insert_with(|| r.archive_reference.to_string());
            }
        }
    }
}

fn apply_sent(state: &mut PartnerState, s: &EdiDocumentSent) {
    let c = &s.control_numbers;
    let isa13 = parse_u32(&c.interchange_control_number);
    let gs06 = c.group_control_number.as_deref().and_then(parse_u32);
    let st02 = c
        .transaction_set_control_number
        .as_deref()
        .and_then(parse_u32);
    let counters = &mut state.counters;
    counters.interchange = counters.interchange.max(isa13.unwrap_or(0));
    counters.group = counters.group.max(gs06.unwrap_or(0));
    counters.set = counters.set.max(st02.unwrap_or(0));
    let doc_id = s.document_id.to_string();
    if state.sent.contains_key(&doc_id) {
        return;
    }
    let fid = s.functional_id_code.as_deref().map(str::to_owned);
    if let (Some(f), Some(g)) = (&fid, gs06) {
        state
            .sent_groups
            .entry((f.clone(), g))
            .or_default()
            .push(doc_id.clone());
    }
    if let Some(i) = isa13 {
        state
            .sent_interchanges
            .entry(i)
            .or_default()
            .push(doc_id.clone());
    }
    if s.document_type == EdiDocumentType::X12855 {
        if let Some(o) = &s.order_id {
            state.poacks_by_order.insert(o.to_string(), doc_id.clone());
        }
    }
    state.sent.insert(
        doc_id.clone(),
        SentDoc {
            doc_id,
            document_type: s.document_type,
            functional_id: fid,
            isa13: c.interchange_control_number.to_string(),
            gs06: c.group_control_number.as_deref().map(str::to_owned),
            st02: c
                .transaction_set_control_number
                .as_deref()
                .map(str::to_owned),
            business_reference: s.business_reference.as_deref().map(str::to_owned),
            order_id: s.order_id.as_deref().map(str::to_owned),
            correlation_id: s.metadata.correlation_id.to_string(),
            event_id: s.metadata.event_id.to_string(),
            ack_expected: s.ack_expected,
            ack_due_at: s.ack_due_at,
            acknowledged: None,
            overdue_raised: false,
            sent_at: s.metadata.occurred_at,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use dsync_events::{AckStatus, EdiControlNumbers};

    fn received(doc: &str, status: EdiReceiptStatus, gs06: Option<&str>) -> EdiDocumentReceived {
        EdiDocumentReceived {
            document_id: doc.into(),
            partner_id: "ACME".into(),
            document_type: EdiDocumentType::X12850,
            functional_id_code: Some("PO".into()),
            control_numbers: EdiControlNumbers {
                interchange_control_number: "000000101".into(),
                group_control_number: gs06.map(Into::into),
                transaction_set_control_number: gs06.map(|_| "0001".into()),
            },
            interchange_sender: "ZZ:BUYERCO".into(),
            interchange_receiver: "ZZ:DISTSYNC".into(),
            status,
            archive_reference: "file:///a".into(),
            ..EdiDocumentReceived::default()
        }
    }

    fn sent(doc: &str, isa: &str, gs: &str, st: &str) -> EdiDocumentSent {
        EdiDocumentSent {
            document_id: doc.into(),
            partner_id: "ACME".into(),
            document_type: EdiDocumentType::X12855,
            functional_id_code: Some("PR".into()),
            control_numbers: EdiControlNumbers {
                interchange_control_number: isa.into(),
                group_control_number: Some(gs.into()),
                transaction_set_control_number: Some(st.into()),
            },
            order_id: Some("o-1".into()),
            ack_expected: true,
            ack_due_at: Some(Utc::now()),
            ..EdiDocumentSent::default()
        }
    }

    #[test]
    fn received_documents_take_their_control_numbers() {
        let mut s = PartnerState::new("ACME");
        let r = "20240115T103000000Z-0123456789ab";
        apply(
            &mut s,
            EdiEvent::Received(&received(
                &ids::interchange_doc_id(r, 1),
                EdiReceiptStatus::Rejected,
                None,
            )),
        );
        assert!(
            s.interchanges.is_empty(),
            "a rejected interchange may be sent again"
        );
        apply(
            &mut s,
            EdiEvent::Received(&received(
                &ids::set_doc_id(r, 1, 1, 1),
                EdiReceiptStatus::Rejected,
                Some("101"),
            )),
        );
        assert_eq!(s.interchanges.len(), 1);
        assert!(s.groups.is_empty(), "a rejected group may be sent again");
        let ok = received(
            &ids::set_doc_id(r, 1, 1, 2),
            EdiReceiptStatus::Accepted,
            Some("101"),
        );
        apply(&mut s, EdiEvent::Received(&ok));
        apply(&mut s, EdiEvent::Received(&ok));
        assert_eq!(s.groups.len(), 1);
        assert_eq!(
            s.groups.values().next().map(|g| g.receipt_id.as_str()),
            Some(r)
        );
        assert_eq!(s.received_850.len(), 1);
    }

    #[test]
    fn sent_documents_raise_the_counters_and_wait_for_acks() {
        let mut s = PartnerState::new("ACME");
        apply(
            &mut s,
            EdiEvent::Sent(&sent("855-a", "000000007", "7", "0009")),
        );
        apply(
            &mut s,
            EdiEvent::Sent(&sent("855-b", "000000005", "12", "0003")),
        );
        apply(
            &mut s,
            EdiEvent::Sent(&sent("855-b", "000000005", "12", "0003")),
        );
        assert_eq!(
            s.counters,
            crate::state::Counters {
                interchange: 7,
                group: 12,
                set: 9
            }
        );
        assert_eq!(s.sent_in_group("PR", 12).len(), 1);
        assert_eq!(s.sent_interchanges.get(&5).map(Vec::len), Some(1));
        assert_eq!(
            s.poacks_by_order.get("o-1").map(String::as_str),
            Some("855-b")
        );
        let ack = EdiDocumentAcknowledged {
            partner_id: "ACME".into(),
            acknowledged_document_id: "855-a".into(),
            status: AckStatus::Accepted,
            ..EdiDocumentAcknowledged::default()
        };
        assert_eq!(s.overdue(Utc::now()).len(), 2);
        apply(&mut s, EdiEvent::Acknowledged(&ack));
        assert_eq!(s.overdue(Utc::now()).len(), 1);
    }
}

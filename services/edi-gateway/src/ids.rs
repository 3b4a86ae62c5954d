//! Identifiers: receipt ids, document ids, deterministic event, order and exception ids.
//!
//! * A **receipt** is one received file (inbox or upload): `20240115T103000123Z-3f2a9c1b7d4e`
//!   (UTC receive time, then 12 random hex digits); time-sortable and file-name safe.
//! * A **received document** id names a position in a receipt: `<receipt>.<n>` for an
//!   interchange (n-th interchange of the file, from 1), `<receipt>.<n>.<g>.<s>` for the s-th
//!   transaction set of the g-th group of that interchange. The receipt id leads, so the
//!   archived bytes are found from any document id.
//! * A **sent document** id is `<receipt>.<n>-ta1` / `<receipt>.<n>.<g>-997` for the
//!   acknowledgements of a receipt and `855-<order id>` for a purchase order acknowledgement
//!   (one per order: a replay finds it and never sends a second).
//! * Event ids are UUIDv5 of the document id and the event type, so re-publishing after a
//!   crash repeats them and consumers deduplicate.

use chrono::{DateTime, NaiveDate, Utc};
use dsync_bus::EventHeaders;

/// Namespace of the gateway's deterministic ids.
pub const NAMESPACE: &str = "edi-gateway";

/// A new receipt id for a file received at `at`.
pub fn new_receipt_id(at: DateTime<Utc>) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{}-{}",
        at.format("%Y%m%dT%H%M%S%3fZ"),
        random.get(..12).unwrap_or(&random)
    )
}

/// The UTC day a receipt id was allocated on (the archive's folder).
pub fn receipt_date(receipt_id: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(receipt_id.get(..8)?, "%Y%m%d").ok()
}

/// Whether `s` has the shape of a receipt id (used to recognise journal and archive files).
pub fn is_receipt_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 32
        && receipt_date(s).is_some()
        && b.get(8) == Some(&b'T')
        && b.get(18) == Some(&b'Z')
        && b.get(19) == Some(&b'-')
        && b[20..].iter().all(u8::is_ascii_hexdigit)
}

/// Document id of the n-th interchange of a receipt.
pub fn interchange_doc_id(receipt_id: &str, ic: usize) -> String {
    format!("{receipt_id}.{ic}")
}

/// Document id of a functional group (used for the 997 answering it).
pub fn group_doc_id(receipt_id: &str, ic: usize, group: usize) -> String {
    format!("{receipt_id}.{ic}.{group}")
}

/// Document id of a received transaction set.
pub fn set_doc_id(receipt_id: &str, ic: usize, group: usize, set: usize) -> String {
    format!("{receipt_id}.{ic}.{group}.{set}")
}

/// The position a received document id names: receipt id, interchange, group and set (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocPosition {
    /// The receipt (file) id.
    pub receipt_id: String,
    /// Interchange number in the file.
    pub interchange: usize,
    /// Group number in the interchange.
    pub group: Option<usize>,
    /// Set number in the group.
    pub set: Option<usize>,
}

/// Parses a received document id.
pub fn parse_doc_id(doc_id: &str) -> Option<DocPosition> {
    let mut parts = doc_id.split('.');
    let receipt_id = parts.next()?.to_owned();
    let interchange = parts.next()?.parse().ok()?;
    let group = parts.next().map(str::parse).transpose().ok()?;
    let set = parts.next().map(str::parse).transpose().ok()?;
    if parts.next().is_some() || !is_receipt_id(&receipt_id) {
        return None;
    }
    Some(DocPosition {
        receipt_id,
        interchange,
        group,
        set,
    })
}

/// Document id of the TA1 answering an interchange.
pub fn ta1_doc_id(receipt_id: &str, ic: usize) -> String {
    format!("{receipt_id}.{ic}-ta1")
}

/// Document id of the 997 answering a group.
pub fn fa_doc_id(receipt_id: &str, ic: usize, group: usize) -> String {
    format!("{receipt_id}.{ic}.{group}-997")
}

/// Document id of the 855 answering an order.
pub fn poack_doc_id(order_id: &str) -> String {
    format!("855-{order_id}")
}

/// The deterministic id of the event of type `event_type` about `subject` (a document id).
pub fn event_id(subject: &str, event_type: &str) -> String {
    EventHeaders::deterministic_id(NAMESPACE, &format!("{subject}/{event_type}"))
}

/// The idempotency key of an EDI order: `edi:<partner>:<po number>`, with `:<release>` for a
/// release of a blanket order (BEG04), so each release is its own order.
pub fn idempotency_key(partner_id: &str, po_number: &str, release: Option<&str>) -> String {
    match release {
        Some(r) if !r.is_empty() => format!("edi:{partner_id}:{po_number}:{r}"),
        _ => format!("edi:{partner_id}:{po_number}"),
    }
}

/// The order id of a submission (the one definition, shared with order-intake).
pub use dsync_events::order_id_for as order_id;

/// The id of a business exception: deterministic from its kind and the document concerned, so
/// re-detecting it (after a restart) updates the same exception.
pub fn exception_id(kind: &str, subject: &str) -> String {
    EventHeaders::deterministic_id("business-exception", &format!("{kind}/{subject}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn receipt_ids_are_sortable_and_parse_back() {
        let at = Utc
            .with_ymd_and_hms(2024, 1, 15, 10, 30, 0)
            .single()
            .expect("time");
        let r = new_receipt_id(at);
        assert!(r.starts_with("20240115T103000000Z-"), "{r}");
        assert!(is_receipt_id(&r), "{r}");
        assert_eq!(receipt_date(&r), NaiveDate::from_ymd_opt(2024, 1, 15));
        let d = set_doc_id(&r, 1, 2, 3);
        assert_eq!(
            parse_doc_id(&d),
            Some(DocPosition {
                receipt_id: r.clone(),
                interchange: 1,
                group: Some(2),
                set: Some(3)
            })
        );
        assert_eq!(
            parse_doc_id(&interchange_doc_id(&r, 4)).map(|p| (p.interchange, p.group)),
            Some((4, None))
        );
        assert_eq!(parse_doc_id("855-abc"), None);
        assert_eq!(parse_doc_id(&fa_doc_id(&r, 1, 1)), None);
    }

    #[test]
    fn deterministic_ids() {
        assert_eq!(event_id("a", "X"), event_id("a", "X"));
        assert_ne!(event_id("a", "X"), event_id("a", "Y"));
        assert_eq!(
            idempotency_key("ACME", "PO-1", None),
            "edi:ACME:PO-1".to_string()
        );
        assert_eq!(
            idempotency_key("ACME", "PO-1", Some("3")),
            "edi:ACME:PO-1:3"
        );
        assert_eq!(order_id("C1", "k"), order_id("C1", "k"));
        assert_ne!(order_id("C1", "k"), order_id("C2", "k"));
    }
}

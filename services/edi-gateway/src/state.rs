//! What the gateway remembers per partner, rebuilt at start-up from `edi.documents` (see
//! [`crate::handlers::edi_documents`]) and kept current by applying every event it publishes:
//!
//! * the interchange and group control numbers received within the duplicate window,
//! * the highest ISA13, GS06 and ST02 sent (the next ones are allocated above them: never
//!   reused, and a replay of the log reproduces the counters),
//! * every document sent that waits for the partner's 997 (matching and overdue detection),
//! * the 855 sent for each order (never a second one),
//! * where the archived 850 of each received purchase order is (to build its 855).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dsync_events::{AckStatus, EdiDocumentType};

/// When (and by which receipt) a control number was first received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The receipt (file) that carried it.
    pub receipt_id: String,
    /// When it was received.
    pub at: DateTime<Utc>,
}

/// A document we sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SentDoc {
    /// Document id.
    pub doc_id: String,
    /// Its type.
    pub document_type: EdiDocumentType,
    /// GS01.
    pub functional_id: Option<String>,
    /// ISA13 (9 digits).
    pub isa13: String,
    /// GS06.
    pub gs06: Option<String>,
    /// ST02.
    pub st02: Option<String>,
    /// PO number (855), acknowledged group (997).
    pub business_reference: Option<String>,
    /// Order concerned.
    pub order_id: Option<String>,
    /// Correlation id of the flow.
    pub correlation_id: String,
    /// Event id of the EdiDocumentSent.
    pub event_id: String,
    /// Whether a 997 is expected.
    pub ack_expected: bool,
    /// Its deadline.
    pub ack_due_at: Option<DateTime<Utc>>,
    /// The partner's answer, once received.
    pub acknowledged: Option<AckStatus>,
    /// Whether the overdue exception was raised by this instance.
    pub overdue_raised: bool,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

impl SentDoc {
    /// Whether it waits for a 997 past its deadline at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.ack_expected
            && self.acknowledged.is_none()
            && self.ack_due_at.is_some_and(|due| due <= now)
    }
}

/// The highest control numbers sent (0: none yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// ISA13.
    pub interchange: u32,
    /// GS06.
    pub group: u32,
    /// ST02.
    pub set: u32,
}

/// One partner's state.
#[derive(Debug, Clone, Default)]
pub struct PartnerState {
    /// Partner id.
    pub partner_id: String,
    /// Received interchanges by [`interchange_key`].
    pub interchanges: HashMap<String, Seen>,
    /// Received groups by [`group_key`].
    pub groups: HashMap<String, Seen>,
    /// Highest control numbers sent.
    pub counters: Counters,
    /// Documents sent, by document id.
    pub sent: HashMap<String, SentDoc>,
    /// Sent transaction sets by (GS01, GS06): the documents a partner's 997 acknowledges.
    pub sent_groups: HashMap<(String, u32), Vec<String>>,
    /// Sent documents by ISA13 (a partner's TA1 acknowledges an interchange).
    pub sent_interchanges: HashMap<u32, Vec<String>>,
    /// The 855 sent for each order: order id -> document id.
    pub poacks_by_order: HashMap<String, String>,
    /// Accepted 850s: document id -> archive reference.
    pub received_850: HashMap<String, String>,
}

/// Strips leading zeros of a numeric control number (GS06 is N0: `0101` is `101`).
pub fn normalize_control(c: &str) -> &str {
    let t = c.trim().trim_start_matches('0');
    if t.is_empty() && !c.trim().is_empty() {
        "0"
    } else {
        t
    }
}

/// The duplicate-detection key of an interchange: ISA05:ISA06, ISA07:ISA08 (trimmed) and ISA13.
pub fn interchange_key(sender: &str, receiver: &str, isa13: &str) -> String {
    format!("{sender}|{receiver}|{}", normalize_control(isa13))
}

/// The duplicate-detection key of a functional group within a partner: GS01 and GS06. GS02 and
/// GS03 are the partner's and ours, fixed by the profile, so GS01+GS02+GS03+GS06 reduces to this
/// within one partner (and `EdiDocumentReceived` does not carry GS02/GS03).
pub fn group_key(functional_id: &str, gs06: &str) -> String {
    format!("{functional_id}|{}", normalize_control(gs06))
}

impl PartnerState {
    /// Empty state of a partner.
    pub fn new(partner_id: &str) -> Self {
        PartnerState {
            partner_id: partner_id.to_owned(),
            ..PartnerState::default()
        }
    }

    /// The first receipt of this interchange, if it was received within `window` before `now`.
    pub fn interchange_seen(
        &self,
        key: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Option<&Seen> {
        self.interchanges
            .get(key)
            .filter(|s| within(s.at, window, now))
    }

    /// The first receipt of this group, if it was received within `window` before `now`.
    pub fn group_seen(&self, key: &str, window: Duration, now: DateTime<Utc>) -> Option<&Seen> {
        self.groups.get(key).filter(|s| within(s.at, window, now))
    }

    /// Forgets control numbers received before the window.
    pub fn prune(&mut self, window: Duration, now: DateTime<Utc>) {
        self.interchanges.retain(|_, s| within(s.at, window, now));
        self.groups.retain(|_, s| within(s.at, window, now));
    }

    /// The sent documents a partner's 997 for group (GS01, GS06) acknowledges.
    pub fn sent_in_group(&self, functional_id: &str, gs06: u32) -> Vec<&SentDoc> {
        self.sent_groups
            .get(&(functional_id.to_owned(), gs06))
            .map(|ids| ids.iter().filter_map(|id| self.sent.get(id)).collect())
            .unwrap_or_default()
    }

    /// Documents waiting past their 997 deadline at `now`.
    pub fn overdue(&self, now: DateTime<Utc>) -> Vec<&SentDoc> {
        let mut v: Vec<&SentDoc> = self.sent.values().filter(|d| d.is_overdue(now)).collect();
        v.sort_by(|a, b| a.sent_at.cmp(&b.sent_at).then(a.doc_id.cmp(&b.doc_id)));
        v
    }
}

fn within(at: DateTime<Utc>, window: Duration, now: DateTime<Utc>) -> bool {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    now.signed_duration_since(at) < window
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_padding_zeros() {
        assert_eq!(group_key("PO", "0101"), group_key("PO", "101"));
        assert_eq!(normalize_control("000"), "0");
        assert_eq!(
            interchange_key("ZZ:A", "ZZ:B", "000000101"),
            interchange_key("ZZ:A", "ZZ:B", "101")
        );
    }

    #[test]
    fn windows_expire() {
        let now = Utc::now();
        let mut s = PartnerState::new("P");
        s.interchanges.insert(
            "k".into(),
            Seen {
                receipt_id: "r".into(),
                at: now - chrono::Duration::hours(2),
            },
        );
        assert!(s
            .interchange_seen("k", Duration::from_secs(3 * 3600), now)
            .is_some());
        assert!(s
            .interchange_seen("k", Duration::from_secs(3600), now)
            .is_none());
        s.prune(Duration::from_secs(3600), now);
        assert!(s.interchanges.is_empty());
    }
}

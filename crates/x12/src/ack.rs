//! Acknowledgment builders: the 997 for a received functional group and the TA1 for a
//! received interchange (or one that could not be opened).

use crate::codes::{Ta1Note, Ta1Status};
use crate::error::X12Error;
use crate::validate::{GroupReport, InterchangeReport};
use crate::values::{Date, Time};
use crate::writer::{GroupEnvelope, OwnedSegment};

/// A 997 ready to be enveloped: its body (AK1 to AK9) and the GS it must travel in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionalAckOut {
    /// GS02: the received group's GS03 (sender and receiver are swapped).
    pub sender: String,
    /// GS03: the received group's GS02.
    pub receiver: String,
    /// GS08: the version the partner sent (the received GS08).
    pub version: String,
    /// AK1 .. AK9.
    pub body: Vec<OwnedSegment>,
}

impl FunctionalAckOut {
    /// The GS (GS01 FA) for this 997 with our date, time and group control number.
    pub fn group_envelope(&self, date: Date, time: Time, control_number: u32) -> GroupEnvelope {
        GroupEnvelope {
            functional_id: "FA".into(),
            sender: self.sender.clone(),
            receiver: self.receiver.clone(),
            date,
            time,
            control_number,
            version: self.version.clone(),
        }
    }
}

/// AK404 keeps a copy of the bad data only when it can be written safely.
fn safe_copy(v: &Option<String>) -> String {
    match v {
        Some(s)
            if !s.is_empty()
                && s.len() <= 99
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" .-/#&,()'".contains(&b)) =>
        {
            s.clone()
        }
        _ => String::new(),
    }
}

/// Builds the 997 for one received functional group: AK1 (GS01, GS06 and, in 005010, GS08),
/// one AK2 loop per transaction set (AK2 = ST01/ST02, AK3/AK4 for each segment/element error,
/// AK5 status and codes) and AK9 (status, counts, codes).
///
/// Returns `None` for a group of acknowledgments (GS01 FA): an acknowledgment is never
/// acknowledged.
pub fn build_997(group: &GroupReport) -> Option<FunctionalAckOut> {
    if group.is_acknowledgment() {
        return None;
    }
    let v5010 = group.version.starts_with("005010");
    let mut body = Vec::new();
    let mut ak1 = OwnedSegment::new("AK1");
    ak1.push(group.functional_id.as_str())
        .push(group.control_number.as_str());
    if v5010 {
        ak1.push(group.version.as_str());
    }
    body.push(ak1);
    for set in &group.sets {
        let mut ak2 = OwnedSegment::new("AK2");
        ak2.push(set.set_id.as_str())
            .push(set.control_number.as_str());
        if v5010 {
            if let Some(r) = &set.implementation_reference {
                ak2.push(r.as_str());
            }
        }
        body.push(ak2);
        for se in &set.segment_errors {
            let mut ak3 = OwnedSegment::new("AK3");
            ak3.push(se.segment_id.as_str())
                .push(se.position.to_string())
                .push(se.loop_id.as_deref().unwrap_or(""))
                .push(se.code.code());
            body.push(ak3);
            for ee in se.elements.iter().take(99) {
                let mut ak4 = OwnedSegment::new("AK4");
                match (v5010, ee.component) {
                    (true, Some(c)) => {
                        ak4.push_composite([ee.position.to_string(), c.to_string()]);
                    }
                    _ => {
                        ak4.push(ee.position.to_string());
                    }
                }
                ak4.push(ee.reference.map(|r| r.to_string()).unwrap_or_default())
                    .push(ee.code.code())
                    .push(safe_copy(&ee.bad_value));
                body.push(ak4);
            }
        }
        let mut ak5 = OwnedSegment::new("AK5");
        ak5.push(set.status.code());
        for c in set.errors.iter().take(5) {
            ak5.push(c.code());
        }
        body.push(ak5);
    }
    let mut ak9 = OwnedSegment::new("AK9");
    ak9.push(group.status.code())
        .push(group.included.to_string())
        .push(group.received.to_string())
        .push(group.accepted.to_string());
    for c in group.errors.iter().take(5) {
        ak9.push(c.code());
    }
    body.push(ak9);
    Some(FunctionalAckOut {
        sender: group.receiver.clone(),
        receiver: group.sender.clone(),
        version: group.version.clone(),
        body,
    })
}

fn ta1(control: &str, date: &str, time: &str, status: Ta1Status, note: Ta1Note) -> OwnedSegment {
    let mut s = OwnedSegment::new("TA1");
    s.push(control)
        .push(date)
        .push(time)
        .push(status.code())
        .push(note.code());
    s
}

/// Builds the TA1 for a received interchange: TA101 = ISA13, TA102/TA103 = ISA09/ISA10,
/// TA104 = A or R, TA105 = the first note (000 when clean).
pub fn build_ta1(report: &InterchangeReport) -> OwnedSegment {
    ta1(
        &report.control_number,
        &report.date,
        &report.time,
        report.status(),
        report.note(),
    )
}

/// Builds the TA1 (TA104 = R) for an interchange that could not be opened, when its ISA13,
/// ISA09 and ISA10 could be read; `None` otherwise (or for errors that are not about an
/// interchange).
pub fn build_ta1_for_error(err: &X12Error) -> Option<OwnedSegment> {
    let X12Error::Interchange { note, header, .. } = err else {
        return None;
    };
    let control = header.control_number.as_deref()?;
    let date = header
        .date
        .as_deref()
        .filter(|d| Date::parse_yymmdd(d.as_bytes()).is_some())?;
    let time = header
        .time
        .as_deref()
        .filter(|t| t.len() == 4 && Time::parse(t.as_bytes()).is_some())?;
    Some(ta1(control, date, time, Ta1Status::Rejected, *note))
}

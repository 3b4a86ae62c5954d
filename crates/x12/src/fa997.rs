//! The 997 functional acknowledgment, typed: what a partner answered about one of the groups
//! we sent (AK1), each transaction set (AK2/AK5) with its segment and element errors
//! (AK3/AK4), and the group status (AK9).

use crate::codes::{
    ElementErrorCode, GroupAckCode, GroupErrorCode, SegmentErrorCode, SetAckCode, SetErrorCode,
};
use crate::schema::Placement;
use crate::tokenizer::Fields;

/// A functional acknowledgment (997).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionalAck<'a> {
    /// ST02 of the 997.
    pub control_number: &'a str,
    /// AK101: functional id of the acknowledged group.
    pub functional_id: &'a str,
    /// AK102: its group control number (our GS06).
    pub group_control_number: &'a str,
    /// AK103 (005010): its version.
    pub version: Option<&'a str>,
    /// AK2 loops.
    pub sets: Vec<SetAck<'a>>,
    /// AK901.
    pub status: GroupAckCode,
    /// AK902: number of transaction sets included.
    pub included: u32,
    /// AK903: number received.
    pub received: u32,
    /// AK904: number accepted.
    pub accepted: u32,
    /// AK905..AK909.
    pub errors: Vec<GroupErrorCode>,
}

impl FunctionalAck<'_> {
    /// The acknowledgment of the set with this ST02, if the 997 lists it.
    pub fn set(&self, control_number: &str) -> Option<&SetAck<'_>> {
        self.sets
            .iter()
            .find(|s| s.control_number == control_number)
    }
}

/// An AK2 loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAck<'a> {
    /// AK201.
    pub set_id: &'a str,
    /// AK202: the acknowledged ST02.
    pub control_number: &'a str,
    /// AK203 (005010).
    pub implementation_reference: Option<&'a str>,
    /// AK3 loops.
    pub segment_errors: Vec<AckedSegmentError<'a>>,
    /// AK501.
    pub status: SetAckCode,
    /// AK502..AK506.
    pub errors: Vec<SetErrorCode>,
}

/// An AK3 loop as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckedSegmentError<'a> {
    /// AK301.
    pub segment_id: &'a str,
    /// AK302.
    pub position: u32,
    /// AK303.
    pub loop_id: Option<&'a str>,
    /// AK304 (optional in the standard).
    pub code: Option<SegmentErrorCode>,
    /// AK4s.
    pub elements: Vec<AckedElementError<'a>>,
}

/// An AK4 as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckedElementError<'a> {
    /// AK401-1: element position.
    pub position: u32,
    /// AK401-2 (005010): component position.
    pub component: Option<u32>,
    /// AK402.
    pub reference: Option<u32>,
    /// AK403.
    pub code: ElementErrorCode,
    /// AK404.
    pub bad_value: Option<&'a str>,
}

#[derive(Debug, Default)]
pub(crate) struct Builder<'a> {
    control_number: &'a str,
    functional_id: &'a str,
    group_control_number: &'a str,
    version: Option<&'a str>,
    sets: Vec<SetAck<'a>>,
    ak9: Option<(GroupAckCode, u32, u32, u32, Vec<GroupErrorCode>)>,
    component_separator: u8,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(control_number: &'a str, component_separator: u8) -> Self {
        Builder {
            control_number,
            component_separator,
            ..Builder::default()
        }
    }

    pub(crate) fn add(&mut self, id: &[u8], f: &Fields<'a>, _at: Placement, _position: u32) {
        let num = |i: usize| f.str(i).and_then(|s| s.parse::<u32>().ok());
        match id {
            b"AK1" => {
                self.functional_id = f.str(1).unwrap_or("");
                self.group_control_number = f.str(2).unwrap_or("");
                self.version = f.str(3);
            }
            b"AK2" => self.sets.push(SetAck {
                set_id: f.str(1).unwrap_or(""),
                control_number: f.str(2).unwrap_or(""),
                implementation_reference: f.str(3),
                segment_errors: Vec::new(),
                status: SetAckCode::Accepted,
                errors: Vec::new(),
            }),
            b"AK3" => {
                if let Some(s) = self.sets.last_mut() {
                    s.segment_errors.push(AckedSegmentError {
                        segment_id: f.str(1).unwrap_or(""),
                        position: num(2).unwrap_or(0),
                        loop_id: f.str(3),
                        code: f.str(4).and_then(SegmentErrorCode::from_code),
                        elements: Vec::new(),
                    });
                }
            }
            b"AK4" => {
                let sep = self.component_separator;
                let mut comps = f.get(1).split(|&b| b == sep);
                let parse = |v: Option<&[u8]>| {
                    v.and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(|s| s.parse::<u32>().ok())
                };
                let position = parse(comps.next()).unwrap_or(0);
                let component = parse(comps.next());
                let code = f.str(3).and_then(ElementErrorCode::from_code);
                if let (Some(seg), Some(code)) = (
                    self.sets
                        .last_mut()
                        .and_then(|s| s.segment_errors.last_mut()),
                    code,
                ) {
                    seg.elements.push(AckedElementError {
                        position,
                        component,
                        reference: num(2),
                        code,
                        bad_value: f.str(4),
                    });
                }
            }
            b"AK5" => {
                if let Some(s) = self.sets.last_mut() {
                    s.status = f
                        .str(1)
                        .and_then(SetAckCode::from_code)
                        .unwrap_or(SetAckCode::Rejected);
                    s.errors = (2..=6)
                        .filter_map(|i| f.str(i).and_then(SetErrorCode::from_code))
                        .collect();
                }
            }
            b"AK9" => {
                if let Some(status) = f.str(1).and_then(GroupAckCode::from_code) {
                    self.ak9 = Some((
                        status,
                        num(2).unwrap_or(0),
                        num(3).unwrap_or(0),
                        num(4).unwrap_or(0),
                        (5..=9)
                            .filter_map(|i| f.str(i).and_then(GroupErrorCode::from_code))
                            .collect(),
                    ));
                }
            }
            _ => {}
        }
    }

    pub(crate) fn finish(self) -> Option<FunctionalAck<'a>> {
        let (status, included, received, accepted, errors) = self.ak9?;
        Some(FunctionalAck {
            control_number: self.control_number,
            functional_id: self.functional_id,
            group_control_number: self.group_control_number,
            version: self.version,
            sets: self.sets,
            status,
            included,
            received,
            accepted,
            errors,
        })
    }
}

//! Interchange / functional group / transaction set structure with strict envelope
//! validation (ISA layout and fields, IEA/GE/SE counts and control numbers, nesting).
//!
//! Findings that do not stop reading are recorded on the structures: [`InterchangeIssue`]
//! (TA1 notes) on [`Interchange`], [`GroupIssue`] (AK905) on [`FunctionalGroup`] and
//! [`SetIssue`] (AK502) on [`TransactionSet`]. An interchange that cannot be opened at all is
//! an [`X12Error::Interchange`].

use std::collections::HashSet;

use crate::codes::{GroupErrorCode, SetErrorCode, Ta1Note};
use crate::error::{GroupIssue, InterchangeIssue, PartialIsa, SetIssue, X12Error};
use crate::separators::{usable_delimiter, Separators};
use crate::tokenizer::{skip_line_break, Ending, Segment, SegmentReader};
use crate::values::{is_data_byte, Date, Time};

/// Length of an ISA segment including its terminator.
pub const ISA_LEN: usize = 106;

/// Byte positions of the 16 element separators in a fixed-width ISA (before ISA01..ISA16).
const ISA_SEP_POS: [usize; 16] = [
    3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103,
];
/// Widths of ISA01..ISA16.
const ISA_WIDTHS: [usize; 16] = [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1];
/// The TA1 note for a malformed ISA01..ISA16.
const ISA_NOTES: [Ta1Note; 16] = [
    Ta1Note::InvalidAuthorizationQualifier,
    Ta1Note::InvalidAuthorizationValue,
    Ta1Note::InvalidSecurityQualifier,
    Ta1Note::InvalidSecurityValue,
    Ta1Note::InvalidSenderQualifier,
    Ta1Note::InvalidSenderId,
    Ta1Note::InvalidReceiverQualifier,
    Ta1Note::InvalidReceiverId,
    Ta1Note::InvalidDate,
    Ta1Note::InvalidTime,
    Ta1Note::InvalidStandardsIdentifier,
    Ta1Note::InvalidVersionId,
    Ta1Note::InvalidControlNumber,
    Ta1Note::InvalidAckRequested,
    Ta1Note::InvalidTestIndicator,
    Ta1Note::InvalidComponentSeparator,
];

/// ISA05/ISA07 interchange id qualifiers (data element I05).
const ID_QUALIFIERS: &[&str] = &[
    "01", "02", "03", "04", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17", "18",
    "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "32", "33", "34",
    "35", "36", "37", "38", "AM", "NR", "SA", "SN", "ZZ",
];

/// ISA12 control version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsaVersion {
    /// 00401: ISA11 is the standards identifier `U`.
    V00401,
    /// 00501: ISA11 is the repetition separator.
    V00501,
}

impl IsaVersion {
    /// The ISA12 value.
    pub fn code(self) -> &'static str {
        match self {
            IsaVersion::V00401 => "00401",
            IsaVersion::V00501 => "00501",
        }
    }
}

/// ISA15 usage indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Usage {
    /// `P`: production data.
    Production,
    /// `T`: test data.
    Test,
}

impl Usage {
    /// The ISA15 value.
    pub fn code(self) -> &'static str {
        match self {
            Usage::Production => "P",
            Usage::Test => "T",
        }
    }
}

/// The fixed-width ISA fields, borrowed from the input (untrimmed, exactly as received).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isa<'a> {
    /// ISA01.
    pub authorization_qualifier: &'a str,
    /// ISA02 (10 characters).
    pub authorization: &'a str,
    /// ISA03.
    pub security_qualifier: &'a str,
    /// ISA04 (10 characters).
    pub security: &'a str,
    /// ISA05.
    pub sender_qualifier: &'a str,
    /// ISA06 (15 characters, space padded).
    pub sender_id: &'a str,
    /// ISA07.
    pub receiver_qualifier: &'a str,
    /// ISA08 (15 characters, space padded).
    pub receiver_id: &'a str,
    /// ISA09, YYMMDD.
    pub date: &'a str,
    /// ISA10, HHMM.
    pub time: &'a str,
    /// ISA11: `U` (00401) or the repetition separator (00501).
    pub standards_or_repetition: &'a str,
    /// ISA12.
    pub version: &'a str,
    /// ISA13, 9 digits.
    pub control_number: &'a str,
    /// ISA14, `0` or `1`.
    pub ack_requested: &'a str,
    /// ISA15, `P` or `T`.
    pub usage: &'a str,
}

impl<'a> Isa<'a> {
    /// ISA06 without its padding.
    pub fn sender(&self) -> &'a str {
        self.sender_id.trim_end()
    }

    /// ISA08 without its padding.
    pub fn receiver(&self) -> &'a str {
        self.receiver_id.trim_end()
    }

    /// ISA09 as a date (years taken as 20YY).
    pub fn parsed_date(&self) -> Option<Date> {
        Date::parse_yymmdd(self.date.as_bytes())
    }

    /// ISA10 as a time.
    pub fn parsed_time(&self) -> Option<Time> {
        if self.time.len() != 4 {
            return None;
        }
        Time::parse(self.time.as_bytes())
    }

    /// ISA12, when supported.
    pub fn parsed_version(&self) -> Option<IsaVersion> {
        match self.version {
            "00401" => Some(IsaVersion::V00401),
            "00501" => Some(IsaVersion::V00501),
            _ => None,
        }
    }

    /// ISA13 as a number.
    pub fn parsed_control_number(&self) -> Option<u32> {
        parse_digits(self.control_number)
    }

    /// ISA14 = `1`.
    pub fn wants_ta1(&self) -> bool {
        self.ack_requested == "1"
    }

    /// ISA15.
    pub fn parsed_usage(&self) -> Option<Usage> {
        match self.usage {
            "P" => Some(Usage::Production),
            "T" => Some(Usage::Test),
            _ => None,
        }
    }

    /// The key whose uniqueness over the partner's window is checked to detect duplicate
    /// interchanges: ISA05, ISA06, ISA07, ISA08 (trimmed) and ISA13.
    pub fn duplicate_key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.sender_qualifier,
            self.sender(),
            self.receiver_qualifier,
            self.receiver(),
            self.control_number
        )
    }
}

/// The GS fields, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupHeader<'a> {
    /// GS01 functional identifier code (PO, PR, FA, ...).
    pub functional_id: &'a str,
    /// GS02 application sender's code.
    pub sender: &'a str,
    /// GS03 application receiver's code.
    pub receiver: &'a str,
    /// GS04 date, CCYYMMDD.
    pub date: &'a str,
    /// GS05 time.
    pub time: &'a str,
    /// GS06 group control number.
    pub control_number: &'a str,
    /// GS07 responsible agency code (X).
    pub agency: &'a str,
    /// GS08 version / release / industry identifier code (e.g. 004010, 005010VICS).
    pub version: &'a str,
}

impl GroupHeader<'_> {
    /// Whether GS08 is a 005010 version.
    pub fn is_005010(&self) -> bool {
        self.version.starts_with("005010")
    }

    /// The key whose uniqueness is checked to detect duplicate groups: GS01, GS02, GS03, GS06.
    pub fn duplicate_key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.functional_id, self.sender, self.receiver, self.control_number
        )
    }
}

/// One transaction set, ST to SE inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSet<'a> {
    /// ST01 transaction set identifier code.
    pub id: &'a str,
    /// ST02 transaction set control number.
    pub control_number: &'a str,
    /// ST03 implementation convention reference (005010).
    pub implementation_reference: Option<&'a str>,
    /// The segments from ST to SE (or to the last one before the set was cut off).
    pub segments: Vec<Segment<'a>>,
    /// Whether the set ended with an SE.
    pub has_trailer: bool,
    /// Envelope findings (AK502).
    pub issues: Vec<SetIssue>,
}

impl<'a> TransactionSet<'a> {
    /// The segments between ST and SE.
    pub fn body(&self) -> &[Segment<'a>] {
        let n = self.segments.len();
        let end = if self.has_trailer {
            n.saturating_sub(1)
        } else {
            n
        };
        self.segments.get(1..end).unwrap_or(&[])
    }

    /// Position (ST = 1) of a segment of this set, for AK302.
    pub fn position_of(&self, seg: &Segment<'_>) -> u32 {
        let first = self.segments.first().map_or(seg.index, |s| s.index);
        u32::try_from(seg.index.saturating_sub(first) + 1).unwrap_or(u32::MAX)
    }
}

/// One functional group, GS to GE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionalGroup<'a> {
    /// The GS segment.
    pub gs: Segment<'a>,
    /// Its fields.
    pub header: GroupHeader<'a>,
    /// Transaction sets in order.
    pub sets: Vec<TransactionSet<'a>>,
    /// The GE segment, when present.
    pub ge: Option<Segment<'a>>,
    /// GE01 as received, when numeric (the count the sender declared).
    pub declared_set_count: Option<u32>,
    /// Envelope findings (AK905).
    pub issues: Vec<GroupIssue>,
}

/// One interchange, ISA to IEA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interchange<'a> {
    /// The ISA fields.
    pub isa: Isa<'a>,
    /// ISA12 when supported.
    pub version: Option<IsaVersion>,
    /// Delimiters read from the ISA.
    pub separators: Separators,
    /// Byte offset of the ISA in the input.
    pub offset: usize,
    /// Byte length of the interchange in the input (ISA to the end of IEA's line break).
    pub len: usize,
    /// Functional groups in order.
    pub groups: Vec<FunctionalGroup<'a>>,
    /// TA1 segments received in the interchange (a partner's answer to one of ours).
    pub ta1: Vec<Segment<'a>>,
    /// The IEA segment, when present.
    pub iea: Option<Segment<'a>>,
    /// Envelope findings (TA105 notes). Any finding rejects the interchange.
    pub issues: Vec<InterchangeIssue>,
}

impl<'a> Interchange<'a> {
    /// The raw bytes of the interchange.
    pub fn bytes<'i>(&self, input: &'i [u8]) -> &'i [u8] {
        input
            .get(self.offset..self.offset + self.len)
            .unwrap_or(&[])
    }

    /// Whether no envelope finding was recorded.
    pub fn is_clean(&self) -> bool {
        self.issues.is_empty()
    }
}

/// Iterator over the interchanges of an input (a file may hold several, each with its own
/// delimiters, separated by optional line breaks). After an [`X12Error`] it ends.
#[derive(Debug, Clone)]
pub struct Interchanges<'a> {
    input: &'a [u8],
    pos: usize,
    index: usize,
    done: bool,
    seen: HashSet<String>,
}

/// Iterates over the interchanges of `input`.
pub fn interchanges(input: &[u8]) -> Interchanges<'_> {
    Interchanges {
        input,
        pos: 0,
        index: 0,
        done: false,
        seen: HashSet::new(),
    }
}

/// Reads every interchange of `input`: the ones read before an unreadable one, and the error
/// that stopped reading, if any.
pub fn parse_all(input: &[u8]) -> (Vec<Interchange<'_>>, Option<X12Error>) {
    let mut out = Vec::new();
    for r in interchanges(input) {
        match r {
            Ok(ic) => out.push(ic),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

impl<'a> Iterator for Interchanges<'a> {
    type Item = Result<Interchange<'a>, X12Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // a UTF-8 byte order mark at the start, and line breaks and spaces between
        // interchanges and at the end of a file, are tolerated
        if self.pos == 0 && self.input.starts_with(b"\xEF\xBB\xBF") {
            self.pos = 3;
        }
        while self
            .input
            .get(self.pos)
            .is_some_and(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
        {
            self.pos += 1;
        }
        if self.pos >= self.input.len() {
            self.done = true;
            return None;
        }
        match read_interchange(self.input, self.pos, self.index) {
            Ok((mut ic, next_pos, next_index)) => {
                if !self.seen.insert(ic.isa.duplicate_key()) {
                    ic.issues.push(InterchangeIssue {
                        note: Ta1Note::DuplicateControlNumber,
                        offset: ic.offset,
                        detail: format!(
                            "interchange control number {} already received in this input",
                            ic.isa.control_number
                        ),
                    });
                }
                self.pos = next_pos;
                self.index = next_index;
                if next_pos <= ic.offset {
                    self.done = true;
                }
                Some(Ok(ic))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn parse_digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn partial_isa(input: &[u8], start: usize) -> PartialIsa {
    let mut p = PartialIsa::default();
    let Some(&sep) = input.get(start + 3) else {
        return p;
    };
    let end = (start + ISA_LEN + 20).min(input.len());
    let fields: Vec<&[u8]> = input[start..end].split(|&b| b == sep).take(17).collect();
    let s = |i: usize| -> Option<String> {
        fields
            .get(i)
            .and_then(|f| std::str::from_utf8(f).ok())
            .map(str::to_string)
    };
    if let (Some(q), Some(id)) = (s(5), s(6)) {
        p.sender = Some((q, id.trim_end().to_string()));
    }
    if let (Some(q), Some(id)) = (s(7), s(8)) {
        p.receiver = Some((q, id.trim_end().to_string()));
    }
    p.date = s(9);
    p.time = s(10);
    p.control_number = s(13).filter(|c| c.len() == 9 && c.bytes().all(|b| b.is_ascii_digit()));
    p.ack_requested = s(14).as_deref() == Some("1");
    p
}

fn fatal(input: &[u8], start: usize, note: Ta1Note, offset: usize, detail: String) -> X12Error {
    X12Error::Interchange {
        note,
        offset,
        detail,
        header: Box::new(partial_isa(input, start)),
    }
}

/// Reads the fixed-width ISA at `start`: its fields, delimiters and field-level findings.
fn read_isa(
    input: &[u8],
    start: usize,
) -> Result<(Isa<'_>, Separators, Vec<InterchangeIssue>), X12Error> {
    let rest = &input[start..];
    if !rest.starts_with(b"ISA") {
        return Err(fatal(
            input,
            start,
            Ta1Note::InvalidControlStructure,
            start,
            "expected an ISA segment".into(),
        ));
    }
    let Some(&sep) = rest.get(3) else {
        return Err(fatal(
            input,
            start,
            Ta1Note::PrematureEndOfFile,
            start,
            "input ends inside the ISA".into(),
        ));
    };
    if !usable_delimiter(sep, false) {
        return Err(fatal(
            input,
            start,
            Ta1Note::InvalidElementSeparator,
            start + 3,
            format!("element separator {:?} is not usable", char::from(sep)),
        ));
    }
    // fixed layout: every separator at its place, else name the first field of wrong width
    let layout_ok = rest.len() >= ISA_LEN && ISA_SEP_POS.iter().all(|&p| rest[p] == sep);
    if !layout_ok {
        let line_end = rest
            .iter()
            .take(200)
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len().min(200));
        let fields: Vec<&[u8]> = rest[4..line_end.max(4)].split(|&b| b == sep).collect();
        for (i, w) in ISA_WIDTHS.iter().enumerate() {
            let Some(f) = fields.get(i) else { break };
            // ISA16 is followed directly by the terminator, so it is read as 2 bytes here
            let width = if i == 15 { f.len().min(1) } else { f.len() };
            if width != *w {
                return Err(fatal(
                    input,
                    start,
                    ISA_NOTES[i],
                    start,
                    format!("ISA{:02} must be {} characters, found {}", i + 1, w, width),
                ));
            }
        }
        let note = if rest.len() < ISA_LEN {
            Ta1Note::PrematureEndOfFile
        } else {
            Ta1Note::InvalidControlStructure
        };
        return Err(fatal(
            input,
            start,
            note,
            start,
            "the ISA is not 106 characters with its separators in fixed positions".into(),
        ));
    }
    let component = rest[104];
    let terminator = rest[105];
    if !usable_delimiter(component, false) || component == sep {
        return Err(fatal(
            input,
            start,
            Ta1Note::InvalidComponentSeparator,
            start + 104,
            format!(
                "component separator {:?} is not usable",
                char::from(component)
            ),
        ));
    }
    if !usable_delimiter(terminator, true) || terminator == sep || terminator == component {
        return Err(fatal(
            input,
            start,
            Ta1Note::InvalidSegmentTerminator,
            start + 105,
            format!(
                "segment terminator {:?} is not usable",
                char::from(terminator)
            ),
        ));
    }
    let mut fields: [&str; 16] = [""; 16];
    let mut issues = Vec::new();
    for i in 0..16 {
        let from = ISA_SEP_POS[i] + 1;
        let bytes = &rest[from..from + ISA_WIDTHS[i]];
        // ISA11 (00501) and ISA16 are delimiters, checked below
        let delimiter_field = i == 10 || i == 15;
        if !delimiter_field && !bytes.iter().all(|&b| is_data_byte(b) && b < 0x80) {
            issues.push(InterchangeIssue {
                note: ISA_NOTES[i],
                offset: start + from,
                detail: format!(
                    "ISA{:02} holds a character outside the character set",
                    i + 1
                ),
            });
            continue;
        }
        fields[i] = std::str::from_utf8(bytes).unwrap_or("");
    }
    let isa = Isa {
        authorization_qualifier: fields[0],
        authorization: fields[1],
        security_qualifier: fields[2],
        security: fields[3],
        sender_qualifier: fields[4],
        sender_id: fields[5],
        receiver_qualifier: fields[6],
        receiver_id: fields[7],
        date: fields[8],
        time: fields[9],
        standards_or_repetition: fields[10],
        version: fields[11],
        control_number: fields[12],
        ack_requested: fields[13],
        usage: fields[14],
    };
    let mut note = |i: usize, detail: String| {
        issues.push(InterchangeIssue {
            note: ISA_NOTES[i],
            offset: start + ISA_SEP_POS[i] + 1,
            detail,
        });
    };
    if !["00", "01", "02", "03", "04", "05", "06"].contains(&isa.authorization_qualifier) {
        note(
            0,
            format!("ISA01 {:?} is not a code", isa.authorization_qualifier),
        );
    }
    if !["00", "01"].contains(&isa.security_qualifier) {
        note(
            2,
            format!("ISA03 {:?} is not a code", isa.security_qualifier),
        );
    }
    if !ID_QUALIFIERS.contains(&isa.sender_qualifier) {
        note(
            4,
            format!("ISA05 {:?} is not a qualifier", isa.sender_qualifier),
        );
    }
    if isa.sender_id.trim().is_empty() || isa.sender_id.starts_with(' ') {
        note(5, format!("ISA06 {:?} is not an id", isa.sender_id));
    }
    if !ID_QUALIFIERS.contains(&isa.receiver_qualifier) {
        note(
            6,
            format!("ISA07 {:?} is not a qualifier", isa.receiver_qualifier),
        );
    }
    if isa.receiver_id.trim().is_empty() || isa.receiver_id.starts_with(' ') {
        note(7, format!("ISA08 {:?} is not an id", isa.receiver_id));
    }
    if isa.parsed_date().is_none() {
        note(8, format!("ISA09 {:?} is not a YYMMDD date", isa.date));
    }
    if isa.parsed_time().is_none() {
        note(9, format!("ISA10 {:?} is not a HHMM time", isa.time));
    }
    let version = isa.parsed_version();
    let mut repetition = None;
    match version {
        None if isa.version.len() == 5 && isa.version.bytes().all(|b| b.is_ascii_digit()) => {
            issues.push(InterchangeIssue {
                note: Ta1Note::VersionNotSupported,
                offset: start + ISA_SEP_POS[11] + 1,
                detail: format!("ISA12 {} is not supported (00401, 00501)", isa.version),
            });
        }
        None => issues.push(InterchangeIssue {
            note: Ta1Note::InvalidVersionId,
            offset: start + ISA_SEP_POS[11] + 1,
            detail: format!("ISA12 {:?} is not a version", isa.version),
        }),
        Some(IsaVersion::V00401) => {
            if isa.standards_or_repetition != "U" {
                issues.push(InterchangeIssue {
                    note: Ta1Note::InvalidStandardsIdentifier,
                    offset: start + ISA_SEP_POS[10] + 1,
                    detail: format!(
                        "ISA11 must be U in 00401, found {:?}",
                        isa.standards_or_repetition
                    ),
                });
            }
        }
        Some(IsaVersion::V00501) => {
            let r = rest[ISA_SEP_POS[10] + 1];
            if !usable_delimiter(r, false) || r == sep || r == component || r == terminator {
                issues.push(InterchangeIssue {
                    note: Ta1Note::InvalidStandardsIdentifier,
                    offset: start + ISA_SEP_POS[10] + 1,
                    detail: format!(
                        "ISA11 repetition separator {:?} is not usable",
                        char::from(r)
                    ),
                });
            } else {
                repetition = Some(r);
            }
        }
    }
    if isa.control_number.len() != 9 || !isa.control_number.bytes().all(|b| b.is_ascii_digit()) {
        issues.push(InterchangeIssue {
            note: Ta1Note::InvalidControlNumber,
            offset: start + ISA_SEP_POS[12] + 1,
            detail: format!("ISA13 {:?} is not 9 digits", isa.control_number),
        });
    }
    if !["0", "1"].contains(&isa.ack_requested) {
        issues.push(InterchangeIssue {
            note: Ta1Note::InvalidAckRequested,
            offset: start + ISA_SEP_POS[13] + 1,
            detail: format!("ISA14 {:?} is not 0 or 1", isa.ack_requested),
        });
    }
    if !["P", "T"].contains(&isa.usage) {
        issues.push(InterchangeIssue {
            note: Ta1Note::InvalidTestIndicator,
            offset: start + ISA_SEP_POS[14] + 1,
            detail: format!("ISA15 {:?} is not P or T", isa.usage),
        });
    }
    let seps = Separators {
        element: sep,
        component,
        segment: terminator,
        repetition,
    };
    Ok((isa, seps, issues))
}

struct GroupBuilder<'a> {
    group: FunctionalGroup<'a>,
    set_controls: HashSet<&'a str>,
}

struct SetBuilder<'a> {
    set: TransactionSet<'a>,
}

fn element_str<'a>(seg: &Segment<'a>, n: usize) -> &'a str {
    seg.element(n)
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or("")
}

fn open_set<'a>(st: Segment<'a>) -> SetBuilder<'a> {
    let id = element_str(&st, 1);
    let control = element_str(&st, 2);
    let mut issues = Vec::new();
    if id.len() != 3 || !id.bytes().all(|b| b.is_ascii_digit()) {
        issues.push(SetIssue {
            code: SetErrorCode::InvalidIdentifier,
            offset: st.offset,
            detail: format!("ST01 {id:?} is not a transaction set identifier"),
        });
    }
    if !(4..=9).contains(&control.len()) || !control.bytes().all(|b| is_data_byte(b) && b != b' ') {
        issues.push(SetIssue {
            code: SetErrorCode::InvalidControlNumber,
            offset: st.offset,
            detail: format!("ST02 {control:?} is not a 4 to 9 character control number"),
        });
    }
    SetBuilder {
        set: TransactionSet {
            id,
            control_number: control,
            implementation_reference: st.element_str(3),
            segments: vec![st],
            has_trailer: false,
            issues,
        },
    }
}

fn close_set<'a>(mut b: SetBuilder<'a>, se: Option<Segment<'a>>, at: usize) -> TransactionSet<'a> {
    match se {
        Some(se) => {
            b.set.segments.push(se);
            b.set.has_trailer = true;
            let count = element_str(&se, 1);
            let control = element_str(&se, 2);
            let actual = b.set.segments.len();
            if parse_digits(count).map(|c| c as usize) != Some(actual) {
                b.set.issues.push(SetIssue {
                    code: SetErrorCode::SegmentCountMismatch,
                    offset: se.offset,
                    detail: format!("SE01 {count:?} but the set has {actual} segments"),
                });
            }
            if control != b.set.control_number {
                b.set.issues.push(SetIssue {
                    code: SetErrorCode::ControlNumberMismatch,
                    offset: se.offset,
                    detail: format!(
                        "SE02 {control:?} differs from ST02 {:?}",
                        b.set.control_number
                    ),
                });
            }
        }
        None => b.set.issues.push(SetIssue {
            code: SetErrorCode::TrailerMissing,
            offset: at,
            detail: format!("transaction set {} has no SE", b.set.control_number),
        }),
    }
    b.set
}

/// GS syntax problems other than GS06 cannot be told in a 997: they are TA1 note 024.
fn check_gs(gs: &Segment<'_>, issues: &mut Vec<InterchangeIssue>) {
    let f = gs.fields();
    let bad = |detail: String| InterchangeIssue {
        note: Ta1Note::InvalidContent,
        offset: gs.offset,
        detail,
    };
    if f.used_len() > 8 || f.overflowed() {
        issues.push(bad(format!("GS has {} elements, at most 8", f.len())));
    }
    let checks: [(usize, u16, u16); 5] = [(1, 2, 2), (2, 2, 15), (3, 2, 15), (7, 1, 2), (8, 1, 12)];
    for (i, min, max) in checks {
        let v = f.get(i);
        if v.len() < usize::from(min)
            || v.len() > usize::from(max)
            || !v.iter().all(|&b| is_data_byte(b))
            || v.iter().all(|&b| b == b' ')
        {
            issues.push(bad(format!(
                "GS{i:02} {:?} must be {min} to {max} characters",
                String::from_utf8_lossy(v)
            )));
        }
    }
    if Date::parse_ccyymmdd(f.get(4)).is_none() {
        issues.push(bad(format!(
            "GS04 {:?} is not a CCYYMMDD date",
            String::from_utf8_lossy(f.get(4))
        )));
    }
    if Time::parse(f.get(5)).is_none() {
        issues.push(bad(format!(
            "GS05 {:?} is not a time",
            String::from_utf8_lossy(f.get(5))
        )));
    }
}

fn open_group<'a>(gs: Segment<'a>, issues: &mut Vec<InterchangeIssue>) -> GroupBuilder<'a> {
    check_gs(&gs, issues);
    let header = GroupHeader {
        functional_id: element_str(&gs, 1),
        sender: element_str(&gs, 2),
        receiver: element_str(&gs, 3),
        date: element_str(&gs, 4),
        time: element_str(&gs, 5),
        control_number: element_str(&gs, 6),
        agency: element_str(&gs, 7),
        version: element_str(&gs, 8),
    };
    let mut gissues = Vec::new();
    if parse_digits(header.control_number).is_none() {
        gissues.push(GroupIssue {
            code: GroupErrorCode::InvalidControlNumber,
            offset: gs.offset,
            detail: format!("GS06 {:?} is not 1 to 9 digits", header.control_number),
        });
    }
    if !(header.version.starts_with("004010") || header.version.starts_with("005010")) {
        gissues.push(GroupIssue {
            code: GroupErrorCode::VersionNotSupported,
            offset: gs.offset,
            detail: format!(
                "GS08 {:?} is not a supported version (004010, 005010)",
                header.version
            ),
        });
    }
    GroupBuilder {
        group: FunctionalGroup {
            gs,
            header,
            sets: Vec::new(),
            ge: None,
            declared_set_count: None,
            issues: gissues,
        },
        set_controls: HashSet::new(),
    }
}

fn add_set<'a>(g: &mut GroupBuilder<'a>, mut set: TransactionSet<'a>) {
    if !set.control_number.is_empty() && !g.set_controls.insert(set.control_number) {
        set.issues.push(SetIssue {
            code: SetErrorCode::DuplicateControlNumber,
            offset: set.segments.first().map_or(0, |s| s.offset),
            detail: format!(
                "ST02 {} appears twice in group {}",
                set.control_number, g.group.header.control_number
            ),
        });
    }
    g.group.sets.push(set);
}

fn close_group<'a>(
    mut g: GroupBuilder<'a>,
    ge: Option<Segment<'a>>,
    at: usize,
) -> FunctionalGroup<'a> {
    match ge {
        Some(ge) => {
            g.group.ge = Some(ge);
            let count = element_str(&ge, 1);
            let control = element_str(&ge, 2);
            g.group.declared_set_count = parse_digits(count);
            if g.group.declared_set_count.map(|c| c as usize) != Some(g.group.sets.len()) {
                g.group.issues.push(GroupIssue {
                    code: GroupErrorCode::SetCountMismatch,
                    offset: ge.offset,
                    detail: format!(
                        "GE01 {count:?} but the group has {} transaction sets",
                        g.group.sets.len()
                    ),
                });
            }
            if control != g.group.header.control_number {
                g.group.issues.push(GroupIssue {
                    code: GroupErrorCode::ControlNumberMismatch,
                    offset: ge.offset,
                    detail: format!(
                        "GE02 {control:?} differs from GS06 {:?}",
                        g.group.header.control_number
                    ),
                });
            }
        }
        None => g.group.issues.push(GroupIssue {
            code: GroupErrorCode::TrailerMissing,
            offset: at,
            detail: format!("group {} has no GE", g.group.header.control_number),
        }),
    }
    g.group
}

fn finish_group<'a>(
    g: GroupBuilder<'a>,
    ge: Option<Segment<'a>>,
    at: usize,
    groups: &mut Vec<FunctionalGroup<'a>>,
    ctl: &mut HashSet<&'a str>,
) {
    let mut fg = close_group(g, ge, at);
    let c = fg.header.control_number;
    if !c.is_empty() && !ctl.insert(c) {
        fg.issues.push(GroupIssue {
            code: GroupErrorCode::DuplicateControlNumber,
            offset: fg.gs.offset,
            detail: format!("GS06 {c} appears twice in the interchange"),
        });
    }
    groups.push(fg);
}

/// Reads one interchange at `start`; returns it, the byte position after it and the index of
/// the next segment.
fn read_interchange(
    input: &[u8],
    start: usize,
    index: usize,
) -> Result<(Interchange<'_>, usize, usize), X12Error> {
    let (isa, seps, mut issues) = read_isa(input, start)?;
    let version = isa.parsed_version();
    let body_start = skip_line_break(input, start + ISA_LEN, seps.segment);
    let mut reader = SegmentReader::new(input, body_start, index + 1, seps);
    let mut groups: Vec<FunctionalGroup<'_>> = Vec::new();
    let mut group_controls: HashSet<&str> = HashSet::new();
    let mut group: Option<GroupBuilder<'_>> = None;
    let mut set: Option<SetBuilder<'_>> = None;
    // segments of an ST met outside any group are skipped up to their SE
    let mut orphan_set = false;
    let mut ta1 = Vec::new();
    let mut iea = None;
    let mut end = input.len();

    macro_rules! end_set {
        ($se:expr, $at:expr) => {
            if let Some(s) = set.take() {
                let ts = close_set(s, $se, $at);
                match group.as_mut() {
                    Some(g) => add_set(g, ts),
                    None => {}
                }
            }
        };
    }
    macro_rules! end_group {
        ($ge:expr, $at:expr) => {
            if let Some(g) = group.take() {
                finish_group(g, $ge, $at, &mut groups, &mut group_controls);
            }
        };
    }

    loop {
        let Some((seg, ending)) = reader.next_segment() else {
            issues.push(InterchangeIssue {
                note: Ta1Note::PrematureEndOfFile,
                offset: input.len(),
                detail: "input ends before the IEA".into(),
            });
            end_set!(None, input.len());
            end_group!(None, input.len());
            break;
        };
        let id = seg.id();
        if ending == Ending::EndOfInput {
            // the last segment has no terminator: whatever it is, the interchange is truncated
            issues.push(InterchangeIssue {
                note: Ta1Note::PrematureEndOfFile,
                offset: seg.offset,
                detail: format!(
                    "segment {:?} at the end of the input has no terminator",
                    String::from_utf8_lossy(&seg.raw()[..seg.raw().len().min(20)])
                ),
            });
            if id == b"IEA" {
                end_set!(None, seg.offset);
                end_group!(None, seg.offset);
                iea = Some(seg);
                break;
            }
        }
        match id {
            b"ISA" => {
                // the next interchange starts before this one was closed
                issues.push(InterchangeIssue {
                    note: Ta1Note::PrematureEndOfFile,
                    offset: seg.offset,
                    detail: "an ISA starts before the IEA of the previous interchange".into(),
                });
                end_set!(None, seg.offset);
                end_group!(None, seg.offset);
                end = seg.offset;
                reader = SegmentReader::new(input, seg.offset, seg.index, seps);
                break;
            }
            b"IEA" => {
                end_set!(None, seg.offset);
                end_group!(None, seg.offset);
                iea = Some(seg);
                end = reader.position();
                break;
            }
            b"GS" => {
                orphan_set = false;
                end_set!(None, seg.offset);
                end_group!(None, seg.offset);
                group = Some(open_group(seg, &mut issues));
            }
            b"GE" => {
                orphan_set = false;
                if group.is_some() {
                    end_set!(None, seg.offset);
                    end_group!(Some(seg), seg.offset);
                } else {
                    issues.push(InterchangeIssue {
                        note: Ta1Note::InvalidContent,
                        offset: seg.offset,
                        detail: "GE without a GS".into(),
                    });
                }
            }
            b"ST" => {
                if group.is_some() {
                    end_set!(None, seg.offset);
                    set = Some(open_set(seg));
                } else {
                    orphan_set = true;
                    issues.push(InterchangeIssue {
                        note: Ta1Note::InvalidContent,
                        offset: seg.offset,
                        detail: "ST outside a functional group".into(),
                    });
                }
            }
            b"SE" => {
                if set.is_some() {
                    end_set!(Some(seg), seg.offset);
                } else if orphan_set {
                    orphan_set = false;
                } else {
                    issues.push(InterchangeIssue {
                        note: Ta1Note::InvalidContent,
                        offset: seg.offset,
                        detail: "SE without an ST".into(),
                    });
                }
            }
            b"TA1" if group.is_none() && !orphan_set => ta1.push(seg),
            _ => {
                if let Some(s) = set.as_mut() {
                    s.set.segments.push(seg);
                } else if !orphan_set {
                    issues.push(InterchangeIssue {
                        note: Ta1Note::InvalidContent,
                        offset: seg.offset,
                        detail: format!(
                            "segment {:?} outside a transaction set",
                            String::from_utf8_lossy(&id[..id.len().min(10)])
                        ),
                    });
                }
            }
        }
    }

    if let Some(iea) = iea {
        let count = element_str(&iea, 1);
        let control = element_str(&iea, 2);
        if parse_digits(count).map(|c| c as usize) != Some(groups.len()) {
            issues.push(InterchangeIssue {
                note: Ta1Note::InvalidGroupCount,
                offset: iea.offset,
                detail: format!(
                    "IEA01 {count:?} but the interchange has {} groups",
                    groups.len()
                ),
            });
        }
        if control != isa.control_number {
            issues.push(InterchangeIssue {
                note: Ta1Note::ControlNumberMismatch,
                offset: iea.offset,
                detail: format!(
                    "IEA02 {control:?} differs from ISA13 {:?}",
                    isa.control_number
                ),
            });
        }
        if iea.fields().used_len() > 2 {
            issues.push(InterchangeIssue {
                note: Ta1Note::InvalidControlStructure,
                offset: iea.offset,
                detail: "IEA has more than 2 elements".into(),
            });
        }
    }

    let next_index = reader.next_index();
    let ic = Interchange {
        isa,
        version,
        separators: seps,
        offset: start,
        len: end.saturating_sub(start),
        groups,
        ta1,
        iea,
        issues,
    };
    Ok((ic, end, next_index))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISA: &str = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240115*1030*U*00401*000000001*1*P*>~";

    #[test]
    fn reads_a_minimal_interchange() {
        let input = format!(
            "{ISA}\nGS*PO*SS*RR*20240115*1030*1*X*004010\nST*850*0001\nBEG*00*SA*1**20240115\nSE*3*0001\nGE*1*1\nIEA*1*000000001\n"
        )
        .replace('\n', "~\n")
        .replace("~~", "~");
        let (ics, err) = parse_all(input.as_bytes());
        assert!(err.is_none(), "{err:?}");
        assert_eq!(ics.len(), 1);
        let ic = &ics[0];
        assert!(ic.issues.is_empty(), "{:?}", ic.issues);
        assert_eq!(ic.groups.len(), 1);
        assert_eq!(ic.groups[0].sets.len(), 1);
        assert_eq!(ic.groups[0].sets[0].body().len(), 1);
        assert!(ic.isa.wants_ta1());
        assert_eq!(ic.len, input.len());
    }

    #[test]
    fn wrong_width_isa_field_is_named() {
        let input = ISA.replace("SENDER         ", "SENDER");
        match parse_all(input.as_bytes()).1 {
            Some(X12Error::Interchange { note, .. }) => assert_eq!(note, Ta1Note::InvalidSenderId),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn byte_order_mark_and_missing_iea_before_next_isa() {
        let one = format!(
            "{ISA}GS*PO*SS*RR*20240115*1030*1*X*004010~ST*850*0001~BEG*00*SA*1**20240115~SE*3*0001~GE*1*1~"
        );
        let input = format!("\u{feff}{one}{one}IEA*1*000000001~");
        let (ics, err) = parse_all(input.as_bytes());
        assert!(err.is_none(), "{err:?}");
        assert_eq!(ics.len(), 2);
        assert_eq!(ics[0].offset, 3);
        assert_eq!(
            ics[0].issues.iter().map(|i| i.note).collect::<Vec<_>>(),
            vec![Ta1Note::PrematureEndOfFile]
        );
        assert_eq!(ics[0].groups.len(), 1);
        // the second is a duplicate of the first (same ISA13)
        assert_eq!(
            ics[1].issues.iter().map(|i| i.note).collect::<Vec<_>>(),
            vec![Ta1Note::DuplicateControlNumber]
        );
    }

    #[test]
    fn garbage_is_fatal_and_never_panics() {
        for input in [&b""[..], b"ISA", b"ISA*", b"XYZ", b"ISA*00*", &[0xff; 200]] {
            let _ = parse_all(input);
        }
    }
}

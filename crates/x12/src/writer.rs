//! Rendering: segments with any delimiters, and ISA/GS/ST envelopes with fixed-width ISA
//! padding, group/set counts and control numbers given by the caller.

use crate::envelope::{IsaVersion, Usage};
use crate::error::X12Error;
use crate::separators::{LineEnding, Separators};
use crate::tokenizer::Segment;
use crate::values::{Date, Time};

/// An owned segment: id, then elements; each element is a list of repetitions, each a list of
/// components (a simple element is one repetition of one component).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnedSegment {
    /// Segment id.
    pub id: String,
    /// Elements → repetitions → components.
    pub elements: Vec<Vec<Vec<String>>>,
}

impl OwnedSegment {
    /// A segment without elements.
    pub fn new(id: impl Into<String>) -> Self {
        OwnedSegment {
            id: id.into(),
            elements: Vec::new(),
        }
    }

    /// Appends a simple element (empty string for an omitted one).
    pub fn push(&mut self, value: impl Into<String>) -> &mut Self {
        self.elements.push(vec![vec![value.into()]]);
        self
    }

    /// Appends a composite element.
    pub fn push_composite<I, S>(&mut self, components: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.elements
            .push(vec![components.into_iter().map(Into::into).collect()]);
        self
    }

    /// Copies a parsed segment, splitting elements on the repetition separator (if the
    /// interchange has one) and the component separator.
    pub fn from_segment(seg: &Segment<'_>) -> Self {
        let seps = seg.separators;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let elements = seg
            .elements()
            .map(|e| {
                let reps: Vec<&[u8]> = match seps.repetition {
                    Some(r) => e.split(|&b| b == r).collect(),
                    None => vec![e],
                };
                reps.into_iter()
                    .map(|r| r.split(|&b| b == seps.component).map(text).collect())
                    .collect()
            })
            .collect();
        OwnedSegment {
            id: text(seg.id()),
            elements,
        }
    }

    /// The segment with trailing empty elements and components removed (the canonical form
    /// the writer renders).
    pub fn normalized(&self) -> OwnedSegment {
        let mut s = self.clone();
        for e in &mut s.elements {
            for r in e.iter_mut() {
                while r.len() > 1 && r.last().is_some_and(String::is_empty) {
                    r.pop();
                }
            }
            while e.len() > 1 && e.last().is_some_and(|r| r.iter().all(String::is_empty)) {
                e.pop();
            }
        }
        while s
            .elements
            .last()
            .is_some_and(|e| e.iter().all(|r| r.iter().all(String::is_empty)))
        {
            s.elements.pop();
        }
        s
    }
}

/// Renders segments with the given delimiters.
#[derive(Debug, Clone)]
pub struct SegmentWriter {
    separators: Separators,
    line_ending: LineEnding,
    out: Vec<u8>,
    count: usize,
}

impl SegmentWriter {
    /// A writer; fails when the delimiters cannot be used together.
    pub fn new(separators: Separators, line_ending: LineEnding) -> Result<Self, X12Error> {
        separators.validate()?;
        if matches!(separators.segment, b'\n' | b'\r') && line_ending != LineEnding::None {
            return Err(X12Error::Separators(
                "a line break terminator cannot be followed by another line break".into(),
            ));
        }
        Ok(SegmentWriter {
            separators,
            line_ending,
            out: Vec::new(),
            count: 0,
        })
    }

    /// The delimiters.
    pub fn separators(&self) -> Separators {
        self.separators
    }

    /// Number of segments written.
    pub fn count(&self) -> usize {
        self.count
    }

    fn check(&self, seg: &str, position: usize, value: &str) -> Result<(), X12Error> {
        if let Some(b) = value
            .bytes()
            .find(|&b| self.separators.is_delimiter(b) || b < 0x20 || b == 0x7f)
        {
            return Err(X12Error::Render {
                segment: seg.to_string(),
                position,
                detail: format!("value {value:?} contains the delimiter or control byte {b:#04x}"),
            });
        }
        Ok(())
    }

    /// Writes one segment (trailing empty elements and components are not written).
    pub fn write(&mut self, seg: &OwnedSegment) -> Result<(), X12Error> {
        let id = seg.id.as_str();
        let id_ok = (2..=3).contains(&id.len())
            && id.as_bytes()[0].is_ascii_uppercase()
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !id_ok {
            return Err(X12Error::Render {
                segment: id.to_string(),
                position: 0,
                detail: "not a segment id".into(),
            });
        }
        let seg = seg.normalized();
        let s = self.separators;
        let mark = self.out.len();
        self.out.extend_from_slice(id.as_bytes());
        for (i, e) in seg.elements.iter().enumerate() {
            self.out.push(s.element);
            if e.len() > 1 && s.repetition.is_none() {
                self.out.truncate(mark);
                return Err(X12Error::Render {
                    segment: id.to_string(),
                    position: i + 1,
                    detail: "repeated element without a repetition separator".into(),
                });
            }
            for (ri, r) in e.iter().enumerate() {
                if ri > 0 {
                    if let Some(rep) = s.repetition {
                        self.out.push(rep);
                    }
                }
                for (ci, c) in r.iter().enumerate() {
                    if let Err(err) = self.check(id, i + 1, c) {
                        self.out.truncate(mark);
                        return Err(err);
                    }
                    if ci > 0 {
                        self.out.push(s.component);
                    }
                    self.out.extend_from_slice(c.as_bytes());
                }
            }
        }
        self.out.push(s.segment);
        self.out.extend_from_slice(self.line_ending.bytes());
        self.count += 1;
        Ok(())
    }

    /// Writes bytes as they are (an already rendered ISA).
    fn write_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.count += 1;
    }

    /// The rendered bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

/// The ISA of an interchange to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterchangeEnvelope {
    /// ISA01 (usually `00`).
    pub authorization_qualifier: String,
    /// ISA02 (padded to 10).
    pub authorization: String,
    /// ISA03 (usually `00`).
    pub security_qualifier: String,
    /// ISA04 (padded to 10).
    pub security: String,
    /// ISA05.
    pub sender_qualifier: String,
    /// ISA06 (padded to 15).
    pub sender_id: String,
    /// ISA07.
    pub receiver_qualifier: String,
    /// ISA08 (padded to 15).
    pub receiver_id: String,
    /// ISA09.
    pub date: Date,
    /// ISA10.
    pub time: Time,
    /// ISA12 (ISA11 follows from it: `U` or the repetition separator).
    pub version: IsaVersion,
    /// ISA13, at most 999999999.
    pub control_number: u32,
    /// ISA14.
    pub ack_requested: bool,
    /// ISA15.
    pub usage: Usage,
}

impl InterchangeEnvelope {
    /// An envelope with no authorization/security information and no TA1 requested.
    pub fn new(
        sender: (&str, &str),
        receiver: (&str, &str),
        date: Date,
        time: Time,
        version: IsaVersion,
        control_number: u32,
        usage: Usage,
    ) -> Self {
        InterchangeEnvelope {
            authorization_qualifier: "00".into(),
            authorization: String::new(),
            security_qualifier: "00".into(),
            security: String::new(),
            sender_qualifier: sender.0.into(),
            sender_id: sender.1.into(),
            receiver_qualifier: receiver.0.into(),
            receiver_id: receiver.1.into(),
            date,
            time,
            version,
            control_number,
            ack_requested: false,
            usage,
        }
    }

    /// The 106-character ISA for these delimiters.
    pub fn render_isa(&self, seps: &Separators) -> Result<Vec<u8>, X12Error> {
        seps.validate()?;
        if self.control_number > 999_999_999 {
            return Err(X12Error::Render {
                segment: "ISA".into(),
                position: 13,
                detail: format!(
                    "control number {} has more than 9 digits",
                    self.control_number
                ),
            });
        }
        let isa11 = match (self.version, seps.repetition) {
            (IsaVersion::V00401, _) => b'U',
            (IsaVersion::V00501, Some(r)) => r,
            (IsaVersion::V00501, None) => {
                return Err(X12Error::Render {
                    segment: "ISA".into(),
                    position: 11,
                    detail: "00501 needs a repetition separator".into(),
                })
            }
        };
        let fixed = |pos: usize, v: &str, w: usize| -> Result<String, X12Error> {
            if v.len() > w || !v.is_ascii() || v.bytes().any(|b| seps.is_delimiter(b) || b < 0x20) {
                return Err(X12Error::Render {
                    segment: "ISA".into(),
                    position: pos,
                    detail: format!("{v:?} does not fit {w} characters without delimiters"),
                });
            }
            Ok(format!("{v:<w$}"))
        };
        let e = char::from(seps.element);
        let fields = [
            fixed(1, &self.authorization_qualifier, 2)?,
            fixed(2, &self.authorization, 10)?,
            fixed(3, &self.security_qualifier, 2)?,
            fixed(4, &self.security, 10)?,
            fixed(5, &self.sender_qualifier, 2)?,
            fixed(6, &self.sender_id, 15)?,
            fixed(7, &self.receiver_qualifier, 2)?,
            fixed(8, &self.receiver_id, 15)?,
            self.date.yymmdd(),
            self.time.hhmm(),
            char::from(isa11).to_string(),
            self.version.code().to_string(),
            format!("{:09}", self.control_number),
            if self.ack_requested { "1" } else { "0" }.to_string(),
            self.usage.code().to_string(),
            char::from(seps.component).to_string(),
        ];
        let mut isa = String::from("ISA");
        for f in &fields {
            isa.push(e);
            isa.push_str(f);
        }
        let mut out = isa.into_bytes();
        out.push(seps.segment);
        if out.len() != crate::envelope::ISA_LEN {
            return Err(X12Error::Render {
                segment: "ISA".into(),
                position: 0,
                detail: format!("rendered {} bytes instead of 106", out.len()),
            });
        }
        Ok(out)
    }
}

/// The GS of a functional group to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEnvelope {
    /// GS01 (PR, FA, ...).
    pub functional_id: String,
    /// GS02.
    pub sender: String,
    /// GS03.
    pub receiver: String,
    /// GS04.
    pub date: Date,
    /// GS05.
    pub time: Time,
    /// GS06, at most 999999999.
    pub control_number: u32,
    /// GS08 (e.g. 004010, 005010VICS).
    pub version: String,
}

#[derive(Debug, Clone)]
struct OpenGroup {
    control_number: u32,
    sets: u32,
}

/// Writes one interchange: ISA, optional TA1s, groups of transaction sets, IEA, with the
/// counts and control numbers filled in.
#[derive(Debug, Clone)]
pub struct InterchangeWriter {
    w: SegmentWriter,
    control_number: u32,
    groups: u32,
    group: Option<OpenGroup>,
}

impl InterchangeWriter {
    /// Starts an interchange by writing its ISA.
    pub fn begin(
        envelope: &InterchangeEnvelope,
        separators: Separators,
        line_ending: LineEnding,
    ) -> Result<Self, X12Error> {
        let mut w = SegmentWriter::new(separators, line_ending)?;
        let isa = envelope.render_isa(&separators)?;
        w.write_raw(&isa);
        w.out.extend_from_slice(line_ending.bytes());
        Ok(InterchangeWriter {
            w,
            control_number: envelope.control_number,
            groups: 0,
            group: None,
        })
    }

    /// Writes a TA1 (allowed only before the first group).
    pub fn ta1(&mut self, ta1: &OwnedSegment) -> Result<(), X12Error> {
        if self.groups > 0 || self.group.is_some() || ta1.id != "TA1" {
            return Err(X12Error::Render {
                segment: ta1.id.clone(),
                position: 0,
                detail: "a TA1 goes after the ISA, before any GS".into(),
            });
        }
        self.w.write(ta1)
    }

    /// Opens a functional group (closing none: call [`InterchangeWriter::end_group`]).
    pub fn begin_group(&mut self, g: &GroupEnvelope) -> Result<(), X12Error> {
        if self.group.is_some() {
            return Err(X12Error::Render {
                segment: "GS".into(),
                position: 0,
                detail: "the previous group is still open".into(),
            });
        }
        if g.control_number > 999_999_999 || g.control_number == 0 {
            return Err(X12Error::Render {
                segment: "GS".into(),
                position: 6,
                detail: format!("group control number {} is out of range", g.control_number),
            });
        }
        let mut gs = OwnedSegment::new("GS");
        gs.push(g.functional_id.as_str())
            .push(g.sender.as_str())
            .push(g.receiver.as_str())
            .push(g.date.ccyymmdd())
            .push(g.time.hhmm())
            .push(g.control_number.to_string())
            .push("X")
            .push(g.version.as_str());
        self.w.write(&gs)?;
        self.group = Some(OpenGroup {
            control_number: g.control_number,
            sets: 0,
        });
        Ok(())
    }

    /// Writes one transaction set: ST (ST01 `set_id`, ST02 `control_number` with at least 4
    /// digits, ST03 when given), the body, and SE with the segment count.
    pub fn transaction_set(
        &mut self,
        set_id: &str,
        control_number: u32,
        implementation_reference: Option<&str>,
        body: &[OwnedSegment],
    ) -> Result<(), X12Error> {
        let Some(group) = self.group.as_mut() else {
            return Err(X12Error::Render {
                segment: "ST".into(),
                position: 0,
                detail: "a transaction set must be inside a group".into(),
            });
        };
        if control_number > 999_999_999 {
            return Err(X12Error::Render {
                segment: "ST".into(),
                position: 2,
                detail: format!("control number {control_number} has more than 9 digits"),
            });
        }
        group.sets += 1;
        let control = format!("{control_number:04}");
        let mut st = OwnedSegment::new("ST");
        st.push(set_id).push(control.as_str());
        if let Some(r) = implementation_reference {
            st.push(r);
        }
        self.w.write(&st)?;
        for s in body {
            self.w.write(s)?;
        }
        let mut se = OwnedSegment::new("SE");
        se.push((body.len() + 2).to_string()).push(control);
        self.w.write(&se)
    }

    /// Closes the open group with its GE.
    pub fn end_group(&mut self) -> Result<(), X12Error> {
        let Some(g) = self.group.take() else {
            return Err(X12Error::Render {
                segment: "GE".into(),
                position: 0,
                detail: "no group is open".into(),
            });
        };
        let mut ge = OwnedSegment::new("GE");
        ge.push(g.sets.to_string())
            .push(g.control_number.to_string());
        self.w.write(&ge)?;
        self.groups += 1;
        Ok(())
    }

    /// Writes the IEA (closing an open group first) and returns the interchange.
    pub fn finish(mut self) -> Result<Vec<u8>, X12Error> {
        if self.group.is_some() {
            self.end_group()?;
        }
        let mut iea = OwnedSegment::new("IEA");
        iea.push(self.groups.to_string())
            .push(format!("{:09}", self.control_number));
        self.w.write(&iea)?;
        Ok(self.w.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_with_any_delimiters() -> Result<(), X12Error> {
        let seps = Separators {
            element: b'|',
            component: b'>',
            segment: b'\n',
            repetition: Some(b'^'),
        };
        let mut w = SegmentWriter::new(seps, LineEnding::None)?;
        let mut s = OwnedSegment::new("REF");
        s.push("DP")
            .push("")
            .push("")
            .push_composite(["A", "B"])
            .push("");
        w.write(&s)?;
        assert_eq!(w.into_bytes(), b"REF|DP|||A>B\n");
        Ok(())
    }

    #[test]
    fn refuses_delimiters_in_data() -> Result<(), X12Error> {
        let mut w = SegmentWriter::new(Separators::STANDARD_00401, LineEnding::Lf)?;
        let mut s = OwnedSegment::new("N1");
        s.push("ST").push("A*B");
        assert!(matches!(
            w.write(&s),
            Err(X12Error::Render { position: 2, .. })
        ));
        assert_eq!(w.count(), 0);
        Ok(())
    }

    #[test]
    fn isa_is_fixed_width() -> Result<(), X12Error> {
        let env = InterchangeEnvelope::new(
            ("ZZ", "ME"),
            ("01", "123456789"),
            Date::new(2024, 1, 15).ok_or(X12Error::InvalidInput("date".into()))?,
            Time::new(9, 5, None).ok_or(X12Error::InvalidInput("time".into()))?,
            IsaVersion::V00501,
            42,
            Usage::Test,
        );
        let isa = env.render_isa(&Separators::STANDARD_00501)?;
        assert_eq!(
            String::from_utf8_lossy(&isa),
            "ISA*00*          *00*          *ZZ*ME             *01*123456789      *240115*0905*^*00501*000000042*0*T*:~"
        );
        let mut long = env.clone();
        long.sender_id = "X".repeat(16);
        assert!(long.render_isa(&Separators::STANDARD_00501).is_err());
        Ok(())
    }
}

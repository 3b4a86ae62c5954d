//! The crate's error type and the findings (interchange notes, group/set errors, AK3/AK4
//! segment and element errors) that carry the acknowledgment codes.

use std::fmt;

use crate::codes::{ElementErrorCode, GroupErrorCode, SegmentErrorCode, SetErrorCode, Ta1Note};

/// The one error type of the crate.
///
/// [`X12Error::Interchange`] is returned when an interchange cannot be opened or read on
/// (unreadable ISA, wrong delimiters, data that does not start with `ISA`); it carries the TA1
/// note and whatever of ISA09/ISA10/ISA13 could be read so a TA1 can still be sent. Findings
/// inside a readable interchange are not errors but values on the parsed structures
/// ([`InterchangeIssue`], [`GroupIssue`], [`SetIssue`], [`SegmentError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X12Error {
    /// The interchange at `offset` cannot be opened or read; answer with a TA1 `R` and `note`.
    #[error("interchange at byte {offset} cannot be read: TA1 note {note}: {detail}")]
    Interchange {
        /// TA105 note code.
        note: Ta1Note,
        /// Byte offset in the input where the problem was found.
        offset: usize,
        /// What was wrong.
        detail: String,
        /// Whatever of the ISA could be read (for the TA1).
        header: Box<PartialIsa>,
    },
    /// Delimiters that cannot be used together.
    #[error("invalid separators: {0}")]
    Separators(String),
    /// A value cannot be written (too long for a fixed-width ISA field, contains a delimiter,
    /// out of range control number, ...).
    #[error("cannot write {segment}{position:02}: {detail}")]
    Render {
        /// Segment id.
        segment: String,
        /// Element position (0 for the segment as a whole).
        position: usize,
        /// What was wrong.
        detail: String,
    },
    /// Input given to a builder does not fit the document it answers (e.g. an 855 with a
    /// different number of line acknowledgments than the 850 has lines).
    #[error("invalid builder input: {0}")]
    InvalidInput(String),
}

/// The ISA fields recovered from an interchange that could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartialIsa {
    /// ISA05/ISA06 (qualifier, trimmed id), when readable.
    pub sender: Option<(String, String)>,
    /// ISA07/ISA08 (qualifier, trimmed id), when readable.
    pub receiver: Option<(String, String)>,
    /// ISA09 as received.
    pub date: Option<String>,
    /// ISA10 as received.
    pub time: Option<String>,
    /// ISA13 as received.
    pub control_number: Option<String>,
    /// ISA14 = 1.
    pub ack_requested: bool,
}

/// A finding about an interchange envelope (TA1 level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterchangeIssue {
    /// TA105 note code.
    pub note: Ta1Note,
    /// Byte offset in the input.
    pub offset: usize,
    /// Human readable detail.
    pub detail: String,
}

impl fmt::Display for InterchangeIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TA1 {} at byte {}: {}",
            self.note, self.offset, self.detail
        )
    }
}

/// A finding about a functional group envelope (AK905 level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupIssue {
    /// AK905 code.
    pub code: GroupErrorCode,
    /// Byte offset in the input.
    pub offset: usize,
    /// Human readable detail.
    pub detail: String,
}

impl fmt::Display for GroupIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AK905 {} at byte {}: {}",
            self.code, self.offset, self.detail
        )
    }
}

/// A finding about a transaction set envelope (AK502 level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetIssue {
    /// AK502 code.
    pub code: SetErrorCode,
    /// Byte offset in the input.
    pub offset: usize,
    /// Human readable detail.
    pub detail: String,
}

impl fmt::Display for SetIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AK502 {} at byte {}: {}",
            self.code, self.offset, self.detail
        )
    }
}

/// One AK3 (segment error) with its AK4s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentError {
    /// AK301: segment id (as received, or the missing segment's id).
    pub segment_id: String,
    /// AK302: position in the transaction set, ST = 1.
    pub position: u32,
    /// AK303: id of the loop the segment belongs to.
    pub loop_id: Option<String>,
    /// AK304.
    pub code: SegmentErrorCode,
    /// Byte offset of the segment in the input (of the segment where a missing one was
    /// noticed).
    pub offset: usize,
    /// AK4s.
    pub elements: Vec<ElementError>,
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AK3 {} at set position {} (byte {}): {}",
            self.segment_id, self.position, self.offset, self.code
        )?;
        for e in &self.elements {
            write!(f, "; {e}")?;
        }
        Ok(())
    }
}

/// One AK4 (data element error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementError {
    /// AK401: element position in the segment (1-based).
    pub position: u32,
    /// AK401-2 (005010): component position inside a composite, when relevant.
    pub component: Option<u32>,
    /// AK402: data element reference number.
    pub reference: Option<u16>,
    /// AK403.
    pub code: ElementErrorCode,
    /// AK404: copy of the bad value (absent for missing elements).
    pub bad_value: Option<String>,
}

impl fmt::Display for ElementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AK4 element {:02}", self.position)?;
        if let Some(r) = self.reference {
            write!(f, " (ref {r})")?;
        }
        write!(f, ": {}", self.code)?;
        if let Some(v) = &self.bad_value {
            write!(f, " {v:?}")?;
        }
        Ok(())
    }
}

//! The pure X12 layer of the EDI gateway: no I/O, no panics on any input.
//!
//! - [`tokenizer`]: zero-copy segments, elements and components, with their segment index and
//!   byte offset, delimiters read from each ISA ([`Separators`]).
//! - [`envelope`]: ISA/IEA, GS/GE, ST/SE structure with strict validation; several
//!   interchanges per input, several groups per interchange, several sets per group
//!   ([`interchanges`], [`Interchange`]).
//! - [`mod@validate`]: transaction set structure (segment order, loops, maximum use) and data
//!   element syntax for the 850, 855 and 997 in 004010 and 005010, producing the reports a 997
//!   is built from and typed documents for the sets that were accepted ([`validate()`]).
//! - [`po850`], [`poack855`], [`fa997`]: typed documents.
//! - [`writer`]: segments with any delimiters, ISA/GS/ST envelopes with counts.
//! - [`ack`]: 997 and TA1 builders; [`poack855::build_855`] answers an 850.
//!
//! Every finding carries the code to acknowledge it: TA105 notes ([`Ta1Note`]), AK905
//! ([`GroupErrorCode`]), AK502 ([`SetErrorCode`]), AK304 ([`SegmentErrorCode`]) and AK403
//! ([`ElementErrorCode`]).
//!
//! ```
//! use dsync_x12::{interchanges, validate, Document};
//!
//! let input = b"ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *240115*1030*U*00401*000000101*0*P*>~\
//! GS*PO*BUYER*SELLER*20240115*1030*101*X*004010~\
//! ST*850*0001~BEG*00*SA*PO-1**20240115~PO1*1*10*EA*2.5**BP*A-1~CTT*1~SE*5*0001~\
//! GE*1*101~IEA*1*000000101~";
//! for ic in interchanges(input) {
//!     let ic = ic?;
//!     let checked = validate(&ic);
//!     assert!(checked.report.is_accepted());
//!     for group in &checked.groups {
//!         for doc in group.documents.iter().flatten() {
//!             if let Document::PurchaseOrder(po) = doc {
//!                 assert_eq!(po.po_number, "PO-1");
//!             }
//!         }
//!     }
//! }
//! # Ok::<(), dsync_x12::X12Error>(())
//! ```

pub mod ack;
pub mod codes;
pub mod envelope;
mod error;
pub mod fa997;
pub mod po850;
pub mod poack855;
pub mod sample;
mod schema;
mod separators;
mod sets;
#[cfg(any(test, feature = "test-util"))]
pub mod testdata;
pub mod tokenizer;
pub mod validate;
mod values;
pub mod writer;

pub use codes::{
    ElementErrorCode, GroupAckCode, GroupErrorCode, LineStatus, PoAckType, Purpose,
    SegmentErrorCode, SetAckCode, SetErrorCode, Ta1Note, Ta1Status,
};
pub use envelope::{
    interchanges, parse_all, FunctionalGroup, GroupHeader, Interchange, Interchanges, Isa,
    IsaVersion, TransactionSet, Usage,
};
pub use error::{
    ElementError, GroupIssue, InterchangeIssue, PartialIsa, SegmentError, SetIssue, X12Error,
};
pub use separators::{usable_delimiter, LineEnding, Separators};
pub use tokenizer::{Fields, Segment};
pub use validate::{
    validate, validate_group, Document, GroupReport, InterchangeReport, SetReport, ValidatedGroup,
    ValidatedInterchange,
};
pub use values::{Date, Decimal, ElementDef, ElementType, Requirement, Time};
pub use writer::{
    GroupEnvelope, InterchangeEnvelope, InterchangeWriter, OwnedSegment, SegmentWriter,
};

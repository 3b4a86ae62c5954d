//! Transaction set tables (850, 855, 997) and the segment definitions whose data elements are
//! checked (AK4), with the syntax notes (paired, required, exclusion, conditional) of the
//! standard.

use crate::codes::{ElementErrorCode, LineStatus, PoAckType, Purpose};
use crate::error::ElementError;
use crate::schema::{lp, m, o, Node, Req, UNBOUNDED as U};
use crate::separators::Separators;
use crate::tokenizer::Fields;
use crate::values::{ElementDef, ElementType, Requirement};

use ElementType::{
    Alphanumeric as AN, Date as DT, Decimal as R, Identifier as ID, Numeric, Time as TM,
};

const N0: ElementType = Numeric(0);

/// X12 syntax notes between elements of a segment (positions are 1-based).
#[derive(Debug)]
pub(crate) enum Rule {
    /// P: if any is present, all are required.
    Paired(&'static [usize]),
    /// R: at least one is required.
    Required(&'static [usize]),
    /// E: not more than one may be present.
    Exclusion(&'static [usize]),
    /// C: if the first is present, all the others are required.
    Conditional(usize, &'static [usize]),
}

/// The definition of a segment whose elements are validated.
#[derive(Debug)]
pub(crate) struct SegDef {
    pub elements: &'static [ElementDef],
    pub rules: &'static [Rule],
    /// Positions holding composite elements (components allowed, content not typed).
    pub composites: &'static [usize],
}

const fn seg(elements: &'static [ElementDef], rules: &'static [Rule]) -> SegDef {
    SegDef {
        elements,
        rules,
        composites: &[],
    }
}

const PURPOSE_CODES: &[&str] = &{
    let mut out = [""; Purpose::ALL.len()];
    let mut i = 0;
    while i < Purpose::ALL.len() {
        out[i] = Purpose::ALL[i].code();
        i += 1;
    }
    out
};
const ACK_TYPE_CODES: &[&str] = &{
    let mut out = [""; PoAckType::ALL.len()];
    let mut i = 0;
    while i < PoAckType::ALL.len() {
        out[i] = PoAckType::ALL[i].code();
        i += 1;
    }
    out
};
const LINE_STATUS_CODES: &[&str] = &{
    let mut out = [""; LineStatus::ALL.len()];
    let mut i = 0;
    while i < LineStatus::ALL.len() {
        out[i] = LineStatus::ALL[i].code();
        i += 1;
    }
    out
};

// ---- element definitions ---------------------------------------------------------------

static BEG: SegDef = seg(
    &[
        ElementDef::m(353, ID, 2, 2).codes(PURPOSE_CODES),
        ElementDef::m(92, ID, 2, 2),
        ElementDef::m(324, AN, 1, 22),
        ElementDef::o(328, AN, 1, 30),
        ElementDef::m(373, DT, 8, 8),
        ElementDef::o(367, AN, 1, 30),
        ElementDef::o(587, ID, 2, 2),
        ElementDef::o(1019, ID, 1, 2),
        ElementDef::o(1166, ID, 2, 2),
        ElementDef::o(1232, ID, 2, 2),
        ElementDef::o(786, ID, 2, 2),
        ElementDef::o(640, ID, 2, 2),
    ],
    &[],
);

static CUR: SegDef = seg(
    &[
        ElementDef::m(98, ID, 2, 3),
        ElementDef::m(100, ID, 3, 3),
        ElementDef::o(280, R, 4, 10),
        ElementDef::o(98, ID, 2, 3),
        ElementDef::o(100, ID, 3, 3),
        ElementDef::o(669, ID, 3, 3),
        ElementDef::o(374, ID, 3, 3),
        ElementDef::o(373, DT, 8, 8),
        ElementDef::o(337, TM, 4, 8),
        ElementDef::o(374, ID, 3, 3),
        ElementDef::o(373, DT, 8, 8),
        ElementDef::o(337, TM, 4, 8),
        ElementDef::o(374, ID, 3, 3),
        ElementDef::o(373, DT, 8, 8),
        ElementDef::o(337, TM, 4, 8),
        ElementDef::o(374, ID, 3, 3),
        ElementDef::o(373, DT, 8, 8),
        ElementDef::o(337, TM, 4, 8),
        ElementDef::o(374, ID, 3, 3),
        ElementDef::o(373, DT, 8, 8),
        ElementDef::o(337, TM, 4, 8),
    ],
    &[
        Rule::Conditional(8, &[7]),
        Rule::Conditional(9, &[8]),
        Rule::Conditional(11, &[10]),
        Rule::Conditional(12, &[11]),
    ],
);

static REF_4010: SegDef = SegDef {
    elements: &[
        ElementDef::m(128, ID, 2, 3),
        ElementDef::o(127, AN, 1, 30),
        ElementDef::o(352, AN, 1, 80),
        ElementDef::o(0, AN, 1, 200),
    ],
    rules: &[Rule::Required(&[2, 3])],
    composites: &[4],
};

static REF_5010: SegDef = SegDef {
    elements: &[
        ElementDef::m(128, ID, 2, 3),
        ElementDef::o(127, AN, 1, 50),
        ElementDef::o(352, AN, 1, 80),
        ElementDef::o(0, AN, 1, 200),
    ],
    rules: &[Rule::Required(&[2, 3])],
    composites: &[4],
};

static DTM: SegDef = seg(
    &[
        ElementDef::m(374, ID, 3, 3),
        ElementDef::o(373, DT, 8, 8),
        ElementDef::o(337, TM, 4, 8),
        ElementDef::o(623, ID, 2, 2),
        ElementDef::o(1250, ID, 2, 3),
        ElementDef::o(1251, AN, 1, 35),
    ],
    &[
        Rule::Required(&[2, 3, 5]),
        Rule::Conditional(4, &[3]),
        Rule::Paired(&[5, 6]),
    ],
);

static N1: SegDef = seg(
    &[
        ElementDef::m(98, ID, 2, 3),
        ElementDef::o(93, AN, 1, 60),
        ElementDef::o(66, ID, 1, 2),
        ElementDef::o(67, AN, 2, 80),
        ElementDef::o(706, ID, 2, 2),
        ElementDef::o(98, ID, 2, 3),
    ],
    &[Rule::Required(&[2, 3]), Rule::Paired(&[3, 4])],
);

static N2: SegDef = seg(
    &[ElementDef::m(93, AN, 1, 60), ElementDef::o(93, AN, 1, 60)],
    &[],
);

static N3: SegDef = seg(
    &[ElementDef::m(166, AN, 1, 55), ElementDef::o(166, AN, 1, 55)],
    &[],
);

static N4_4010: SegDef = seg(
    &[
        ElementDef::o(19, AN, 2, 30),
        ElementDef::o(156, ID, 2, 2),
        ElementDef::o(116, ID, 3, 15),
        ElementDef::o(26, ID, 2, 3),
        ElementDef::o(309, ID, 1, 2),
        ElementDef::o(310, AN, 1, 30),
    ],
    &[Rule::Conditional(6, &[5])],
);

static N4_5010: SegDef = seg(
    &[
        ElementDef::o(19, AN, 2, 30),
        ElementDef::o(156, ID, 2, 2),
        ElementDef::o(116, ID, 3, 15),
        ElementDef::o(26, ID, 2, 3),
        ElementDef::o(309, ID, 1, 2),
        ElementDef::o(310, AN, 1, 30),
        ElementDef::o(1715, ID, 1, 3),
    ],
    &[
        Rule::Exclusion(&[2, 7]),
        Rule::Conditional(6, &[5]),
        Rule::Conditional(7, &[4]),
    ],
);

/// PO1 with this gateway's guideline: quantity (PO102) and unit (PO103) are required.
macro_rules! po1_def {
    ($qty_ref:expr) => {
        seg(
            &[
                ElementDef::o(350, AN, 1, 20),
                ElementDef::m($qty_ref, R, 1, 15),
                ElementDef::m(355, ID, 2, 2),
                ElementDef::o(212, R, 1, 17),
                ElementDef::o(639, ID, 2, 2),
                ElementDef::o(235, ID, 2, 2),
                ElementDef::o(234, AN, 1, 48),
                ElementDef::o(235, ID, 2, 2),
                ElementDef::o(234, AN, 1, 48),
                ElementDef::o(235, ID, 2, 2),
                ElementDef::o(234, AN, 1, 48),
                ElementDef::o(235, ID, 2, 2),
                ElementDef::o(234, AN, 1, 48),
                ElementDef::o(235, ID, 2, 2),
                ElementDef::o(234, AN, 1, 48),
                ElementDef::o(235, ID, 2, 2),
                ElementDef::o(234, AN, 1, 48),
                ElementDef::o(235, ID, 2, 2),
                ElementDef::o(234, AN, 1, 48),
                ElementDef::o(235, ID, 2, 2),
                ElementDef::o(234, AN, 1, 48),
                ElementDef::o(235, ID, 2, 2),
                ElementDef::o(234, AN, 1, 48),
                ElementDef::o(235, ID, 2, 2),
                ElementDef::o(234, AN, 1, 48),
            ],
            &[
                Rule::Conditional(3, &[2]),
                Rule::Conditional(5, &[4]),
                Rule::Paired(&[6, 7]),
                Rule::Paired(&[8, 9]),
                Rule::Paired(&[10, 11]),
                Rule::Paired(&[12, 13]),
                Rule::Paired(&[14, 15]),
                Rule::Paired(&[16, 17]),
                Rule::Paired(&[18, 19]),
                Rule::Paired(&[20, 21]),
                Rule::Paired(&[22, 23]),
                Rule::Paired(&[24, 25]),
            ],
        )
    };
}

static PO1_4010: SegDef = po1_def!(330);
static PO1_5010: SegDef = po1_def!(380);

static PID: SegDef = seg(
    &[
        ElementDef::m(349, ID, 1, 1).codes(&["F", "S", "X"]),
        ElementDef::o(750, ID, 2, 3),
        ElementDef::o(559, ID, 2, 2),
        ElementDef::o(751, AN, 1, 12),
        ElementDef::o(352, AN, 1, 80),
        ElementDef::o(752, ID, 2, 2),
        ElementDef::o(822, AN, 1, 15),
        ElementDef::o(1073, ID, 1, 1).codes(&["N", "U", "W", "Y"]),
        ElementDef::o(819, ID, 2, 3),
    ],
    &[
        Rule::Conditional(4, &[3]),
        Rule::Required(&[4, 5]),
        Rule::Conditional(7, &[3]),
        Rule::Conditional(8, &[4]),
        Rule::Conditional(9, &[5]),
    ],
);

static CTT: SegDef = seg(
    &[
        ElementDef::m(354, N0, 1, 6),
        ElementDef::o(347, R, 1, 10),
        ElementDef::o(81, R, 1, 10),
        ElementDef::o(355, ID, 2, 2),
        ElementDef::o(183, R, 1, 8),
        ElementDef::o(355, ID, 2, 2),
        ElementDef::o(352, AN, 1, 80),
    ],
    &[Rule::Paired(&[3, 4]), Rule::Paired(&[5, 6])],
);

static BAK: SegDef = seg(
    &[
        ElementDef::m(353, ID, 2, 2).codes(PURPOSE_CODES),
        ElementDef::m(587, ID, 2, 2).codes(ACK_TYPE_CODES),
        ElementDef::m(324, AN, 1, 22),
        ElementDef::m(373, DT, 8, 8),
        ElementDef::o(328, AN, 1, 30),
        ElementDef::o(326, AN, 1, 45),
        ElementDef::o(367, AN, 1, 30),
        ElementDef::o(127, AN, 1, 30),
        ElementDef::o(373, DT, 8, 8),
        ElementDef::o(640, ID, 2, 2),
        ElementDef::o(1019, ID, 1, 2),
    ],
    &[],
);

static ACK: SegDef = seg(
    &[
        ElementDef::m(668, ID, 2, 2).codes(LINE_STATUS_CODES),
        ElementDef::o(380, R, 1, 15),
        ElementDef::o(355, ID, 2, 2),
        ElementDef::o(374, ID, 3, 3),
        ElementDef::o(373, DT, 8, 8),
        ElementDef::o(326, AN, 1, 45),
        ElementDef::o(235, ID, 2, 2),
        ElementDef::o(234, AN, 1, 48),
        ElementDef::o(235, ID, 2, 2),
        ElementDef::o(234, AN, 1, 48),
        ElementDef::o(235, ID, 2, 2),
        ElementDef::o(234, AN, 1, 48),
        ElementDef::o(235, ID, 2, 2),
        ElementDef::o(234, AN, 1, 48),
        ElementDef::o(235, ID, 2, 2),
        ElementDef::o(234, AN, 1, 48),
        ElementDef::o(235, ID, 2, 2),
        ElementDef::o(234, AN, 1, 48),
        ElementDef::o(235, ID, 2, 2),
        ElementDef::o(234, AN, 1, 48),
        ElementDef::o(235, ID, 2, 2),
        ElementDef::o(234, AN, 1, 48),
        ElementDef::o(235, ID, 2, 2),
        ElementDef::o(234, AN, 1, 48),
        ElementDef::o(235, ID, 2, 2),
        ElementDef::o(234, AN, 1, 48),
        ElementDef::o(559, ID, 2, 2),
        ElementDef::o(822, AN, 1, 15),
        ElementDef::o(1271, AN, 1, 30),
    ],
    &[
        Rule::Paired(&[2, 3]),
        Rule::Paired(&[4, 5]),
        Rule::Paired(&[7, 8]),
        Rule::Paired(&[9, 10]),
        Rule::Paired(&[11, 12]),
        Rule::Paired(&[13, 14]),
        Rule::Paired(&[15, 16]),
        Rule::Paired(&[17, 18]),
        Rule::Paired(&[19, 20]),
        Rule::Paired(&[21, 22]),
        Rule::Paired(&[23, 24]),
        Rule::Paired(&[25, 26]),
    ],
);

static AK1_4010: SegDef = seg(
    &[ElementDef::m(479, ID, 2, 2), ElementDef::m(28, N0, 1, 9)],
    &[],
);
static AK1_5010: SegDef = seg(
    &[
        ElementDef::m(479, ID, 2, 2),
        ElementDef::m(28, N0, 1, 9),
        ElementDef::o(480, AN, 1, 12),
    ],
    &[],
);
static AK2_4010: SegDef = seg(
    &[ElementDef::m(143, ID, 3, 3), ElementDef::m(329, AN, 4, 9)],
    &[],
);
static AK2_5010: SegDef = seg(
    &[
        ElementDef::m(143, ID, 3, 3),
        ElementDef::m(329, AN, 4, 9),
        ElementDef::o(1705, AN, 1, 35),
    ],
    &[],
);

const SEGMENT_CODES: &[&str] = &["1", "2", "3", "4", "5", "6", "7", "8"];
const ELEMENT_CODES: &[&str] = &[
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "13",
];
const SET_ACK_CODES: &[&str] = &["A", "E", "M", "R", "W", "X"];
const SET_ERR_CODES: &[&str] = &[
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "15", "16", "17", "18",
    "19", "23", "24", "25", "26", "27",
];
const GROUP_ACK_CODES: &[&str] = &["A", "E", "M", "P", "R", "W", "X"];
const GROUP_ERR_CODES: &[&str] = &[
    "1", "2", "3", "4", "5", "6", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "23",
    "24", "25", "26",
];

static AK3: SegDef = seg(
    &[
        ElementDef::m(721, ID, 2, 3),
        ElementDef::m(719, N0, 1, 10),
        ElementDef::o(447, AN, 1, 4),
        ElementDef::o(720, ID, 1, 3).codes(SEGMENT_CODES),
    ],
    &[],
);
static AK4: SegDef = SegDef {
    elements: &[
        ElementDef::m(722, AN, 1, 12),
        ElementDef::o(725, N0, 1, 4),
        ElementDef::m(723, ID, 1, 3).codes(ELEMENT_CODES),
        ElementDef::o(724, AN, 1, 99),
    ],
    rules: &[],
    composites: &[1],
};
static AK5: SegDef = seg(
    &[
        ElementDef::m(717, ID, 1, 1).codes(SET_ACK_CODES),
        ElementDef::o(718, ID, 1, 3).codes(SET_ERR_CODES),
        ElementDef::o(718, ID, 1, 3).codes(SET_ERR_CODES),
        ElementDef::o(718, ID, 1, 3).codes(SET_ERR_CODES),
        ElementDef::o(718, ID, 1, 3).codes(SET_ERR_CODES),
        ElementDef::o(718, ID, 1, 3).codes(SET_ERR_CODES),
    ],
    &[],
);
static AK9: SegDef = seg(
    &[
        ElementDef::m(715, ID, 1, 1).codes(GROUP_ACK_CODES),
        ElementDef::m(97, N0, 1, 6),
        ElementDef::m(123, N0, 1, 6),
        ElementDef::m(2, N0, 1, 6),
        ElementDef::o(716, ID, 1, 3).codes(GROUP_ERR_CODES),
        ElementDef::o(716, ID, 1, 3).codes(GROUP_ERR_CODES),
        ElementDef::o(716, ID, 1, 3).codes(GROUP_ERR_CODES),
        ElementDef::o(716, ID, 1, 3).codes(GROUP_ERR_CODES),
        ElementDef::o(716, ID, 1, 3).codes(GROUP_ERR_CODES),
    ],
    &[],
);

/// The definition used to check a segment's elements, for a group version.
pub(crate) fn segment_def(id: &[u8], v5010: bool) -> Option<&'static SegDef> {
    Some(match id {
        b"BEG" => &BEG,
        b"CUR" => &CUR,
        b"REF" if v5010 => &REF_5010,
        b"REF" => &REF_4010,
        b"DTM" => &DTM,
        b"N1" => &N1,
        b"N2" => &N2,
        b"N3" => &N3,
        b"N4" if v5010 => &N4_5010,
        b"N4" => &N4_4010,
        b"PO1" if v5010 => &PO1_5010,
        b"PO1" => &PO1_4010,
        b"PID" => &PID,
        b"CTT" => &CTT,
        b"BAK" => &BAK,
        b"ACK" => &ACK,
        b"AK1" if v5010 => &AK1_5010,
        b"AK1" => &AK1_4010,
        b"AK2" if v5010 => &AK2_5010,
        b"AK2" => &AK2_4010,
        b"AK3" => &AK3,
        b"AK4" => &AK4,
        b"AK5" => &AK5,
        b"AK9" => &AK9,
        _ => return None,
    })
}

fn bad_copy(v: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(&v[..v.len().min(99)]).into_owned();
    Some(s)
}

/// Checks the elements of `seg` against `def`: count, mandatory, type/length/code, character
/// set, components and repetitions, and the syntax notes. Returns the AK4s.
pub(crate) fn check_segment(
    f: &Fields<'_>,
    def: &SegDef,
    seps: &Separators,
    v5010: bool,
) -> Vec<ElementError> {
    let mut errors = Vec::new();
    let used = f.used_len();
    let n_defs = def.elements.len();
    if used > n_defs || f.overflowed() {
        errors.push(ElementError {
            position: u32::try_from(n_defs + 1).unwrap_or(u32::MAX),
            component: None,
            reference: None,
            code: ElementErrorCode::TooMany,
            bad_value: bad_copy(f.get(n_defs + 1)),
        });
    }
    let present = |i: usize| !f.get(i).is_empty();
    for (i, d) in def.elements.iter().enumerate() {
        let pos = i + 1;
        let v = f.get(pos);
        let reference = (d.reference != 0).then_some(d.reference);
        let err = |code: ElementErrorCode, bad: bool| ElementError {
            position: u32::try_from(pos).unwrap_or(u32::MAX),
            component: None,
            reference,
            code,
            bad_value: if bad { bad_copy(v) } else { None },
        };
        if v.is_empty() {
            if d.requirement == Requirement::Mandatory {
                errors.push(err(ElementErrorCode::MandatoryMissing, false));
            }
            continue;
        }
        let composite = def.composites.contains(&pos);
        if let Some(r) = seps.repetition {
            if v.contains(&r) {
                errors.push(err(ElementErrorCode::TooManyRepetitions, true));
                continue;
            }
        }
        if composite {
            if !v.iter().all(|&b| crate::values::is_data_byte(b)) {
                errors.push(err(ElementErrorCode::InvalidCharacter, true));
            }
            continue;
        }
        if v.contains(&seps.component) {
            let code = if v5010 {
                ElementErrorCode::TooManyComponents
            } else {
                ElementErrorCode::InvalidCharacter
            };
            errors.push(err(code, true));
            continue;
        }
        if let Some(code) = d.check(v) {
            errors.push(err(code, true));
        }
    }
    let missing = |i: usize| ElementError {
        position: u32::try_from(i).unwrap_or(u32::MAX),
        component: None,
        reference: def
            .elements
            .get(i.wrapping_sub(1))
            .map(|d| d.reference)
            .filter(|r| *r != 0),
        code: ElementErrorCode::ConditionalMissing,
        bad_value: None,
    };
    for rule in def.rules {
        match rule {
            Rule::Paired(list) => {
                if list.iter().any(|&i| present(i)) {
                    errors.extend(list.iter().filter(|&&i| !present(i)).map(|&i| missing(i)));
                }
            }
            Rule::Required(list) => {
                if !list.iter().any(|&i| present(i)) {
                    if let Some(&first) = list.first() {
                        errors.push(missing(first));
                    }
                }
            }
            Rule::Exclusion(list) => {
                if let Some(&second) = list.iter().filter(|&&i| present(i)).nth(1) {
                    errors.push(ElementError {
                        position: u32::try_from(second).unwrap_or(u32::MAX),
                        component: None,
                        reference: def.elements.get(second - 1).map(|d| d.reference),
                        code: ElementErrorCode::ExclusionViolated,
                        bad_value: bad_copy(f.get(second)),
                    });
                }
            }
            Rule::Conditional(first, others) => {
                if present(*first) {
                    errors.extend(others.iter().filter(|&&i| !present(i)).map(|&i| missing(i)));
                }
            }
        }
    }
    // one AK4 per element position, first finding wins, in position order
    errors.sort_by_key(|e| e.position);
    errors.dedup_by_key(|e| e.position);
    errors
}

// ---- transaction set tables -------------------------------------------------------------

static SAC_CUR: &[Node] = &[m("SAC", 1), o("CUR", 1)];
static SAC_CUR_CTP: &[Node] = &[m("SAC", 1), o("CUR", 1), o("CTP", 1)];
static FA1: &[Node] = &[m("FA1", 1), m("FA2", U)];
static AMT_HEAD: &[Node] = &[
    m("AMT", 1),
    o("REF", U),
    o("DTM", 1),
    o("PCT", U),
    lp("FA1", Req::O, U, FA1),
];
static N9_HEAD: &[Node] = &[m("N9", 1), o("DTM", U), o("MSG", 1000)];
static N1_HEAD: &[Node] = &[
    m("N1", 1),
    o("N2", 2),
    o("N3", 2),
    o("N4", U),
    o("NX2", U),
    o("REF", 12),
    o("PER", U),
    o("SI", U),
    o("FOB", 1),
    o("TD1", 2),
    o("TD5", 12),
    o("TD3", 12),
    o("TD4", 5),
    o("PKG", 200),
];
static LM: &[Node] = &[m("LM", 1), m("LQ", U)];
static SPI_N1: &[Node] = &[
    m("N1", 1),
    o("N2", 2),
    o("N3", 2),
    o("N4", 1),
    o("REF", 20),
    o("G61", 1),
    o("MSG", 50),
];
static CB1: &[Node] = &[
    m("CB1", 1),
    o("REF", 20),
    o("DTM", 5),
    o("LDT", 1),
    o("MSG", 50),
];
static SPI: &[Node] = &[
    m("SPI", 1),
    o("REF", 5),
    o("DTM", 5),
    o("MSG", 50),
    lp("N1", Req::O, 20, SPI_N1),
    lp("CB1", Req::O, U, CB1),
];
static ADV: &[Node] = &[m("ADV", 1), o("DTM", U), o("MTX", U)];
static CTP_CUR: &[Node] = &[m("CTP", 1), o("CUR", 1)];
static PID_MEA: &[Node] = &[m("PID", 1), o("MEA", 10)];
static QTY_SI: &[Node] = &[m("QTY", 1), o("SI", U)];
static SCH: &[Node] = &[
    m("SCH", 1),
    o("TD1", 2),
    o("TD5", 12),
    o("TD3", 12),
    o("TD4", 5),
    o("REF", U),
];
static PKG_MEA: &[Node] = &[m("PKG", 1), o("MEA", U)];
static LDT_DETAIL: &[Node] = &[
    m("LDT", 1),
    o("QTY", U),
    o("MSG", 1),
    o("REF", 3),
    lp("LM", Req::O, 1, LM),
];
static N9_DETAIL: &[Node] = &[m("N9", 1), o("DTM", U), o("MEA", 40), o("MSG", 1000)];
static N1_LDT: &[Node] = &[
    m("LDT", 1),
    o("MAN", 10),
    o("QTY", 5),
    o("MSG", 1),
    o("REF", 3),
];
static N1_DETAIL: &[Node] = &[
    m("N1", 1),
    o("N2", 2),
    o("N3", 2),
    o("N4", 1),
    o("QTY", U),
    o("NX2", U),
    o("REF", 12),
    o("PER", 3),
    o("SI", U),
    o("DTM", 1),
    o("FOB", 1),
    o("SCH", 200),
    o("TD1", 2),
    o("TD5", 12),
    o("TD3", 12),
    o("TD4", 5),
    o("PKG", 200),
    lp("LDT", Req::O, U, N1_LDT),
];
static SLN_N9: &[Node] = &[m("N9", 1), o("DTM", U), o("MSG", U)];
static SLN_N1: &[Node] = &[
    m("N1", 1),
    o("N2", 2),
    o("N3", 2),
    o("N4", 1),
    o("NX2", U),
    o("REF", 12),
    o("PER", 3),
    o("SI", U),
];
static SLN: &[Node] = &[
    m("SLN", 1),
    o("MSG", U),
    o("SI", U),
    o("PID", 1000),
    o("PO3", 104),
    o("TC2", U),
    o("ADV", U),
    o("DTM", 10),
    o("CTP", 25),
    o("PAM", 10),
    o("PO4", 1),
    o("TAX", 3),
    lp("N9", Req::O, U, SLN_N9),
    lp("SAC", Req::O, 25, SAC_CUR_CTP),
    lp("QTY", Req::O, U, QTY_SI),
    lp("N1", Req::O, 10, SLN_N1),
];
static AMT_DETAIL: &[Node] = &[m("AMT", 1), o("DTM", 1), o("REF", 1)];
static CTT_AMT: &[Node] = &[m("CTT", 1), o("AMT", 1)];

static PO1_850: &[Node] = &[
    m("PO1", 1),
    o("LIN", U),
    o("SI", U),
    o("CUR", 1),
    o("CN1", 1),
    o("PO3", 25),
    lp("CTP", Req::O, U, CTP_CUR),
    o("PAM", 10),
    o("MEA", 40),
    lp("PID", Req::O, 1000, PID_MEA),
    o("PWK", 25),
    o("PO4", U),
    o("REF", U),
    o("PER", 3),
    lp("SAC", Req::O, 25, SAC_CUR_CTP),
    o("IT8", 1),
    o("CSH", U),
    o("ITD", 2),
    o("DIS", 20),
    o("INC", 1),
    o("TAX", U),
    o("FOB", U),
    o("SDQ", 500),
    o("IT3", 5),
    o("DTM", 10),
    o("TC2", U),
    o("TD1", 1),
    o("TD5", 12),
    o("TD3", 12),
    o("TD4", 5),
    o("PCT", U),
    o("MAN", 10),
    o("MSG", 12),
    o("SPI", U),
    o("TXI", U),
    o("CTB", U),
    lp("QTY", Req::O, U, QTY_SI),
    lp("SCH", Req::O, 200, SCH),
    lp("PKG", Req::O, 200, PKG_MEA),
    lp("LDT", Req::O, U, LDT_DETAIL),
    lp("N9", Req::O, 1000, N9_DETAIL),
    lp("N1", Req::O, 200, N1_DETAIL),
    lp("SLN", Req::O, 1000, SLN),
    lp("AMT", Req::O, U, AMT_DETAIL),
    lp("LM", Req::O, U, LM),
];

/// The 850 table (004010 and 005010). The PO1 loop is mandatory by this gateway's guideline.
pub(crate) static T850: &[Node] = &[
    m("ST", 1),
    m("BEG", 1),
    o("CUR", 1),
    o("REF", U),
    o("PER", 3),
    o("TAX", U),
    o("FOB", U),
    o("CTP", U),
    o("PAM", 10),
    o("CSH", 5),
    o("TC2", U),
    lp("SAC", Req::O, 25, SAC_CUR),
    o("ITD", U),
    o("DIS", 20),
    o("INC", 1),
    o("DTM", 10),
    o("LDT", 12),
    o("LIN", 5),
    o("SI", U),
    o("PID", 200),
    o("MEA", 40),
    o("PWK", 25),
    o("PKG", 200),
    o("TD1", 2),
    o("TD5", 12),
    o("TD3", 12),
    o("TD4", 5),
    o("MAN", 10),
    o("PCT", U),
    o("CTB", 5),
    o("TXI", U),
    lp("AMT", Req::O, U, AMT_HEAD),
    lp("N9", Req::O, 1000, N9_HEAD),
    lp("N1", Req::O, 200, N1_HEAD),
    lp("LM", Req::O, U, LM),
    lp("SPI", Req::O, U, SPI),
    lp("ADV", Req::O, U, ADV),
    lp("PO1", Req::M, 100_000, PO1_850),
    lp("CTT", Req::O, 1, CTT_AMT),
    m("SE", 1),
];

static ACK_DTM: &[Node] = &[m("ACK", 1), o("DTM", 10)];
static PO1_855: &[Node] = &[
    m("PO1", 1),
    o("LIN", U),
    o("SI", U),
    o("CUR", 1),
    o("CN1", 1),
    o("PO3", 25),
    lp("CTP", Req::O, U, CTP_CUR),
    o("PAM", 10),
    o("MEA", 40),
    lp("PID", Req::O, 1000, PID_MEA),
    o("PWK", 25),
    o("PO4", U),
    o("REF", U),
    o("PER", 3),
    lp("SAC", Req::O, 25, SAC_CUR),
    o("IT8", 1),
    o("CSH", U),
    o("ITD", 2),
    o("DIS", 20),
    o("INC", 1),
    o("TAX", U),
    o("FOB", U),
    o("SDQ", 500),
    o("IT3", 5),
    o("DTM", 10),
    o("TC2", U),
    o("TD1", 1),
    o("TD5", 12),
    o("TD3", 12),
    o("TD4", 5),
    o("PCT", U),
    o("MAN", 10),
    o("MSG", 12),
    o("SPI", U),
    o("TXI", U),
    o("CTB", U),
    lp("ACK", Req::O, 104, ACK_DTM),
    lp("QTY", Req::O, U, QTY_SI),
    lp("SCH", Req::O, 200, SCH),
    lp("N1", Req::O, 200, N1_DETAIL),
];

/// The 855 table (004010 and 005010).
pub(crate) static T855: &[Node] = &[
    m("ST", 1),
    m("BAK", 1),
    o("CUR", 1),
    o("REF", 12),
    o("PER", 3),
    o("TAX", 3),
    o("FOB", U),
    o("CTP", U),
    o("PAM", 10),
    o("CSH", 1),
    lp("SAC", Req::O, 25, SAC_CUR),
    o("ITD", 5),
    o("DIS", 20),
    o("INC", 1),
    o("DTM", 10),
    o("LDT", 12),
    o("SI", U),
    o("PID", 200),
    o("MEA", 40),
    o("PWK", 25),
    o("PKG", 200),
    o("TD1", 2),
    o("TD5", 12),
    o("TD3", 12),
    o("TD4", 5),
    o("MAN", 10),
    o("TXI", U),
    o("CTB", 5),
    lp("N9", Req::O, 1000, N9_HEAD),
    lp("N1", Req::O, 200, N1_HEAD),
    lp("ADV", Req::O, U, ADV),
    lp("PO1", Req::O, 100_000, PO1_855),
    lp("CTT", Req::O, 1, CTT_AMT),
    m("SE", 1),
];

static AK3_AK4: &[Node] = &[m("AK3", 1), o("AK4", 99)];
static AK2_LOOP: &[Node] = &[
    m("AK2", 1),
    lp("AK3", Req::O, 999_999, AK3_AK4),
    m("AK5", 1),
];

/// The 997 table (004010 and 005010).
pub(crate) static T997: &[Node] = &[
    m("ST", 1),
    m("AK1", 1),
    lp("AK2", Req::O, 999_999, AK2_LOOP),
    m("AK9", 1),
    m("SE", 1),
];

/// The table for a transaction set id, with the functional id (GS01) it belongs to.
pub(crate) fn table(set_id: &str) -> Option<(&'static str, &'static [Node])> {
    match set_id {
        "850" => Some(("PO", T850)),
        "855" => Some(("PR", T855)),
        "997" => Some(("FA", T997)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::Segment;

    fn check(raw: &str, v5010: bool) -> Vec<(u32, &'static str)> {
        let seps = if v5010 {
            Separators::STANDARD_00501
        } else {
            Separators::STANDARD_00401
        };
        let s = Segment::new(raw.as_bytes(), 0, 0, seps);
        let Some(def) = segment_def(s.id(), v5010) else {
            return vec![];
        };
        check_segment(&s.fields(), def, &seps, v5010)
            .into_iter()
            .map(|e| (e.position, e.code.code()))
            .collect()
    }

    #[test]
    fn element_checks() {
        assert!(check("BEG*00*SA*PO1**20240115", false).is_empty());
        assert_eq!(check("BEG*00*SA", false), vec![(3, "1"), (5, "1")]);
        assert_eq!(check("BEG*99*SA*X**20240115", false), vec![(1, "7")]);
        assert_eq!(check("BEG*00*SA*X**20241315", false), vec![(5, "8")]);
        assert_eq!(check("DTM*002*20240115*2575", false), vec![(3, "9")]);
        assert_eq!(check("DTM*002", false), vec![(2, "2")]);
        assert_eq!(check("N1*ST*NAME*92", false), vec![(4, "2")]);
        assert_eq!(check("N4*CITY*NY*10001*US***Q", true), vec![(7, "10")]);
        assert_eq!(
            check(
                "PO1*1*1*EA*1.00**BP*X*VP*Y*UP*Z*IN*W*SK*B*EN*D*UK*F*VN*H*CB*J*MG*L*M",
                false
            ),
            vec![(26, "3")]
        );
        assert_eq!(check("PO1*1*10*EA*1.0**BP", false), vec![(7, "2")]);
        assert_eq!(check("PO1*1*1.2.3*EA", false), vec![(2, "6")]);
        assert_eq!(check("REF*DP*A:B", true), vec![(2, "13")]);
        assert_eq!(check("REF*DP*A^B", true), vec![(2, "12")]);
        assert_eq!(check("REF*DP*A:B", false), vec![(2, "6")]);
    }

    #[test]
    fn tables_end_with_se() {
        for id in ["850", "855", "997"] {
            let (_, t) = table(id).expect("table");
            assert!(matches!(t.last(), Some(Node::Seg { id: "SE", .. })));
        }
    }
}

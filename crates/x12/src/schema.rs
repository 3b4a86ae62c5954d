//! Transaction set structure (segments, loops, requirement, maximum use) and the walker that
//! places each received segment in it, reporting AK304 codes 1 to 7.

use crate::codes::SegmentErrorCode;

/// Mandatory or optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Req {
    M,
    O,
}

/// Unbounded maximum use / loop repeat (">1" in the standard).
pub(crate) const UNBOUNDED: u32 = u32::MAX;

/// One position of a transaction set table: a segment or a loop (whose first node is its
/// trigger segment).
#[derive(Debug)]
pub(crate) enum Node {
    Seg {
        id: &'static str,
        req: Req,
        max: u32,
    },
    Loop {
        id: &'static str,
        req: Req,
        max: u32,
        body: &'static [Node],
    },
}

/// Shorthand constructors for the tables.
pub(crate) const fn m(id: &'static str, max: u32) -> Node {
    Node::Seg {
        id,
        req: Req::M,
        max,
    }
}

pub(crate) const fn o(id: &'static str, max: u32) -> Node {
    Node::Seg {
        id,
        req: Req::O,
        max,
    }
}

pub(crate) const fn lp(id: &'static str, req: Req, max: u32, body: &'static [Node]) -> Node {
    Node::Loop { id, req, max, body }
}

impl Node {
    fn trigger(&self) -> &'static str {
        match self {
            Node::Seg { id, .. } => id,
            Node::Loop { body, .. } => body.first().map_or("", Node::trigger),
        }
    }

    fn req(&self) -> Req {
        match self {
            Node::Seg { req, .. } | Node::Loop { req, .. } => *req,
        }
    }

    fn max(&self) -> u32 {
        match self {
            Node::Seg { max, .. } | Node::Loop { max, .. } => *max,
        }
    }
}

fn contains(nodes: &[Node], id: &str) -> bool {
    nodes.iter().any(|n| match n {
        Node::Seg { id: s, .. } => *s == id,
        Node::Loop { body, .. } => contains(body, id),
    })
}

#[derive(Debug, Clone)]
struct Frame {
    nodes: &'static [Node],
    loop_id: Option<&'static str>,
    /// index of the node last matched in this frame
    pos: usize,
    /// uses of that node in the current iteration (segment uses or loop iterations)
    uses: u32,
}

/// Where a segment was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Loop the segment belongs to (innermost), `None` at the top level.
    pub loop_id: Option<&'static str>,
    /// The loop enclosing that loop.
    pub parent_loop: Option<&'static str>,
    /// Whether the segment started a new loop iteration.
    pub starts_loop: bool,
}

/// A structural finding: AK301 id, AK303 loop, AK304 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub segment_id: String,
    pub loop_id: Option<&'static str>,
    pub code: SegmentErrorCode,
}

/// Outcome of placing one segment.
#[derive(Debug)]
pub(crate) enum Placed {
    /// Placed (possibly with findings such as mandatory segments skipped or maximum use).
    Ok(Placement, Vec<Finding>),
    /// Not placed: the segment is in error (AK304 1, 2, 6 or 7) and skipped.
    Rejected(SegmentErrorCode),
}

/// Walks a transaction set table. The ST is taken as already placed; segments after it are
/// given to [`Walker::place`], and [`Walker::finish`] is called at the SE.
#[derive(Debug)]
pub(crate) struct Walker {
    root: &'static [Node],
    stack: Vec<Frame>,
}

const CONTROL_SEGMENTS: &[&str] = &["ISA", "IEA", "GS", "GE", "ST", "SE", "TA1"];

impl Walker {
    /// A walker positioned on the ST (node 0 of `root`).
    pub fn new(root: &'static [Node]) -> Self {
        Walker {
            root,
            stack: vec![Frame {
                nodes: root,
                loop_id: None,
                pos: 0,
                uses: 1,
            }],
        }
    }

    fn missing_between(frame: &Frame, from: usize, to: usize, out: &mut Vec<Finding>) {
        for n in frame.nodes.iter().take(to).skip(from) {
            if n.req() == Req::M {
                out.push(Finding {
                    segment_id: n.trigger().to_string(),
                    loop_id: match n {
                        Node::Loop { id, .. } => Some(id),
                        Node::Seg { .. } => frame.loop_id,
                    },
                    code: SegmentErrorCode::MandatorySegmentMissing,
                });
            }
        }
    }

    /// Finds (depth, node index) for `id` without changing state.
    fn locate(&self, id: &str) -> Option<(usize, usize)> {
        for depth in (0..self.stack.len()).rev() {
            let f = &self.stack[depth];
            // in a loop frame the trigger (node 0) repeats the loop, which the parent handles
            let from = if depth > 0 { f.pos.max(1) } else { f.pos };
            for (i, n) in f.nodes.iter().enumerate().skip(from) {
                if n.trigger() == id {
                    return Some((depth, i));
                }
            }
        }
        None
    }

    /// Places the next segment.
    pub fn place(&mut self, id: &str, valid_id: bool) -> Placed {
        if !valid_id {
            return Placed::Rejected(SegmentErrorCode::UnrecognizedSegmentId);
        }
        if CONTROL_SEGMENTS.contains(&id) {
            return Placed::Rejected(SegmentErrorCode::UnexpectedSegment);
        }
        let Some((depth, idx)) = self.locate(id) else {
            return Placed::Rejected(if contains(self.root, id) {
                SegmentErrorCode::OutOfSequence
            } else if KNOWN_SEGMENTS.contains(&id) {
                SegmentErrorCode::NotInTransactionSet
            } else {
                SegmentErrorCode::UnrecognizedSegmentId
            });
        };
        let mut findings = Vec::new();
        // leave the inner loops
        while self.stack.len() > depth + 1 {
            if let Some(f) = self.stack.pop() {
                Self::missing_between(&f, f.pos + 1, f.nodes.len(), &mut findings);
            }
        }
        let Some(frame) = self.stack.last_mut() else {
            return Placed::Rejected(SegmentErrorCode::UnexpectedSegment);
        };
        let node = &frame.nodes[idx];
        if idx == frame.pos {
            frame.uses = frame.uses.saturating_add(1);
        } else {
            Self::missing_between(frame, frame.pos + 1, idx, &mut findings);
            frame.pos = idx;
            frame.uses = 1;
        }
        let over = frame.uses > node.max();
        let parent_loop = frame.loop_id;
        match node {
            Node::Seg { .. } => {
                if over {
                    findings.push(Finding {
                        segment_id: id.to_string(),
                        loop_id: frame.loop_id,
                        code: SegmentErrorCode::SegmentExceedsMaximumUse,
                    });
                }
                Placed::Ok(
                    Placement {
                        loop_id: frame.loop_id,
                        parent_loop: self
                            .stack
                            .len()
                            .checked_sub(2)
                            .and_then(|d| self.stack[d].loop_id),
                        starts_loop: false,
                    },
                    findings,
                )
            }
            Node::Loop {
                id: loop_id, body, ..
            } => {
                if over {
                    findings.push(Finding {
                        segment_id: id.to_string(),
                        loop_id: Some(loop_id),
                        code: SegmentErrorCode::LoopOverMaximum,
                    });
                }
                self.stack.push(Frame {
                    nodes: body,
                    loop_id: Some(loop_id),
                    pos: 0,
                    uses: 1,
                });
                Placed::Ok(
                    Placement {
                        loop_id: Some(loop_id),
                        parent_loop,
                        starts_loop: true,
                    },
                    findings,
                )
            }
        }
    }

    /// Closes every open loop at the SE, reporting mandatory segments never seen.
    pub fn finish(&mut self) -> Vec<Finding> {
        let mut findings = Vec::new();
        while let Some(f) = self.stack.pop() {
            // the last node of the root is the SE, which the envelope layer checks
            let end = if self.stack.is_empty() {
                f.nodes.len().saturating_sub(1)
            } else {
                f.nodes.len()
            };
            Self::missing_between(&f, f.pos + 1, end, &mut findings);
        }
        findings
    }
}

/// Segment ids of the X12 dictionary that may appear in the sets handled here or that
/// partners commonly send; an id outside this list is reported as AK304 1 (unrecognized),
/// one inside it but not in the set's table as AK304 6.
pub(crate) const KNOWN_SEGMENTS: &[&str] = &[
    "ACK", "ADV", "AK1", "AK2", "AK3", "AK4", "AK5", "AK9", "AMT", "AT1", "AT2", "B10", "B2",
    "B2A", "BAK", "BCH", "BEG", "BIG", "BSN", "CB1", "CN1", "CSH", "CTB", "CTP", "CTT", "CUR",
    "DIS", "DTM", "FA1", "FA2", "FOB", "G61", "G62", "GE", "GS", "HL", "IEA", "INC", "ISA", "IT1",
    "IT3", "IT8", "ITD", "LDT", "LE", "LIN", "LM", "LQ", "LS", "MAN", "MEA", "MSG", "MTX", "N1",
    "N2", "N3", "N4", "N9", "NTE", "NX2", "PAM", "PCT", "PER", "PID", "PKG", "PO1", "PO3", "PO4",
    "PRF", "PWK", "QTY", "REF", "SAC", "SCH", "SDQ", "SE", "SI", "SLN", "SN1", "SPI", "ST", "TA1",
    "TAX", "TC2", "TD1", "TD3", "TD4", "TD5", "TDS", "TXI",
];

#[cfg(test)]
mod tests {
    use super::*;

    static INNER: &[Node] = &[m("N1", 1), o("N3", 2), m("N4", 1)];
    static ROOT: &[Node] = &[
        m("ST", 1),
        m("BEG", 1),
        o("REF", 2),
        lp("N1", Req::O, 2, INNER),
        o("CTT", 1),
        m("SE", 1),
    ];

    fn codes(w: &mut Walker, ids: &[&str]) -> Vec<String> {
        let mut out = vec![];
        for id in ids {
            match w.place(id, true) {
                Placed::Ok(_, f) => out.extend(
                    f.iter()
                        .map(|f| format!("{}:{}", f.segment_id, f.code.code())),
                ),
                Placed::Rejected(c) => out.push(format!("{id}!{}", c.code())),
            }
        }
        out.extend(
            w.finish()
                .iter()
                .map(|f| format!("{}:{}", f.segment_id, f.code.code())),
        );
        out
    }

    #[test]
    fn clean_walk() {
        let mut w = Walker::new(ROOT);
        assert!(codes(&mut w, &["BEG", "REF", "N1", "N3", "N4", "N1", "N4", "CTT"]).is_empty());
    }

    #[test]
    fn findings() {
        let mut w = Walker::new(ROOT);
        assert_eq!(
            codes(
                &mut w,
                &[
                    "REF", "BEG", "REF", "REF", "REF", "N1", "N3", "N3", "N3", "N1", "N1", "N4",
                    "XYZ", "BIG"
                ]
            ),
            vec![
                "BEG:3", "BEG!7", "REF:5", "REF:5", "N3:5", "N4:3", "N4:3", "N1:4", "XYZ!1",
                "BIG!6"
            ]
        );
    }
}

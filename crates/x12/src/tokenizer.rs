//! Zero-copy tokenizer: segments, elements and components borrowed from the input, each
//! segment with its index and byte offset for error reporting.

use crate::separators::Separators;

/// One segment, borrowed from the input, without its terminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    raw: &'a [u8],
    /// 0-based index of the segment in the input.
    pub index: usize,
    /// Byte offset of the segment's first byte in the input.
    pub offset: usize,
    /// The delimiters of the interchange the segment belongs to.
    pub separators: Separators,
}

impl<'a> Segment<'a> {
    /// A segment over `raw` (which must not contain the terminator).
    pub fn new(raw: &'a [u8], index: usize, offset: usize, separators: Separators) -> Self {
        Segment {
            raw,
            index,
            offset,
            separators,
        }
    }

    /// The bytes of the segment without its terminator.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The segment id (the bytes before the first element separator).
    pub fn id(&self) -> &'a [u8] {
        match self.raw.iter().position(|&b| b == self.separators.element) {
            Some(p) => &self.raw[..p],
            None => self.raw,
        }
    }

    /// The segment id as text (empty when it is not UTF-8).
    pub fn id_str(&self) -> &'a str {
        std::str::from_utf8(self.id()).unwrap_or("")
    }

    /// Whether the id is a syntactically valid segment id: 2 or 3 upper-case letters or
    /// digits, starting with a letter.
    pub fn has_valid_id(&self) -> bool {
        let id = self.id();
        (2..=3).contains(&id.len())
            && id[0].is_ascii_uppercase()
            && id
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    }

    /// The data elements after the id, in order (element 1 first). Empty elements are
    /// returned as empty slices.
    pub fn elements(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let sep = self.separators.element;
        let id_len = self.id().len();
        let rest: &'a [u8] = if id_len < self.raw.len() {
            &self.raw[id_len + 1..]
        } else {
            &[]
        };
        let has_elements = id_len < self.raw.len();
        rest.split(move |&b| b == sep)
            .take(if has_elements { usize::MAX } else { 0 })
    }

    /// Element `n` (1-based); `None` when the segment has fewer elements, `Some(b"")` when it
    /// is present but empty.
    pub fn element(&self, n: usize) -> Option<&'a [u8]> {
        if n == 0 {
            return None;
        }
        self.elements().nth(n - 1)
    }

    /// Element `n` as text, `None` when absent, empty or not UTF-8.
    pub fn element_str(&self, n: usize) -> Option<&'a str> {
        self.element(n)
            .filter(|v| !v.is_empty())
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// All elements in a stack-allocated list (no allocation).
    pub fn fields(&self) -> Fields<'a> {
        let mut f = Fields {
            items: [&[]; Fields::CAPACITY],
            len: 0,
            overflow: false,
        };
        for e in self.elements() {
            if f.len == Fields::CAPACITY {
                f.overflow = true;
                break;
            }
            f.items[f.len] = e;
            f.len += 1;
        }
        f
    }

    /// Components of element `n`, split on the component separator.
    pub fn components(&self, n: usize) -> impl Iterator<Item = &'a [u8]> + 'a {
        let sep = self.separators.component;
        let v: &'a [u8] = self.element(n).unwrap_or(&[]);
        v.split(move |&b| b == sep)
            .take(if v.is_empty() { 0 } else { usize::MAX })
    }
}

/// The elements of one segment, held on the stack.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    items: [&'a [u8]; Fields::CAPACITY],
    len: usize,
    overflow: bool,
}

impl<'a> Fields<'a> {
    /// Most elements a segment may have here; more is reported as too many elements.
    pub const CAPACITY: usize = 64;

    /// Element `n` (1-based), empty when absent.
    pub fn get(&self, n: usize) -> &'a [u8] {
        if n == 0 || n > self.len {
            &[]
        } else {
            self.items[n - 1]
        }
    }

    /// Element `n` as text, `None` when absent, empty or not UTF-8.
    pub fn str(&self, n: usize) -> Option<&'a str> {
        let v = self.get(n);
        if v.is_empty() {
            None
        } else {
            std::str::from_utf8(v).ok()
        }
    }

    /// Number of elements including trailing empty ones.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the segment has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Position of the last non-empty element (0 when all are empty).
    pub fn used_len(&self) -> usize {
        (1..=self.len)
            .rev()
            .find(|&i| !self.items[i - 1].is_empty())
            .unwrap_or(0)
    }

    /// Whether the segment had more than [`Fields::CAPACITY`] elements.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }
}

/// What ended a segment read by [`SegmentReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The segment terminator.
    Terminated,
    /// End of input before any terminator.
    EndOfInput,
}

/// Reads segments one after the other with fixed delimiters, skipping the optional line
/// break after each terminator.
#[derive(Debug, Clone)]
pub struct SegmentReader<'a> {
    input: &'a [u8],
    pos: usize,
    index: usize,
    separators: Separators,
}

impl<'a> SegmentReader<'a> {
    /// A reader starting at byte `pos`, numbering segments from `index`.
    pub fn new(input: &'a [u8], pos: usize, index: usize, separators: Separators) -> Self {
        SegmentReader {
            input,
            pos,
            index,
            separators,
        }
    }

    /// Byte position of the next segment.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Index the next segment will get.
    pub fn next_index(&self) -> usize {
        self.index
    }

    /// Whether the whole input has been read.
    pub fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// The next segment and how it ended; `None` at end of input.
    pub fn next_segment(&mut self) -> Option<(Segment<'a>, Ending)> {
        if self.pos >= self.input.len() {
            return None;
        }
        let start = self.pos;
        let rest = &self.input[start..];
        let term = self.separators.segment;
        let (raw, ending, next) = match rest.iter().position(|&b| b == term) {
            Some(p) => (&rest[..p], Ending::Terminated, start + p + 1),
            None => (rest, Ending::EndOfInput, self.input.len()),
        };
        self.pos = skip_line_break(self.input, next, term);
        let seg = Segment::new(raw, self.index, start, self.separators);
        self.index += 1;
        Some((seg, ending))
    }
}

/// Skips one optional `\r\n`, `\n` or `\r` at `pos` (after a terminator `term`).
pub(crate) fn skip_line_break(input: &[u8], pos: usize, term: u8) -> usize {
    let at = |i: usize| input.get(i).copied();
    match (at(pos), at(pos + 1)) {
        (Some(b'\r'), Some(b'\n')) if term != b'\r' && term != b'\n' => pos + 2,
        (Some(b'\n'), _) if term != b'\n' => pos + 1,
        (Some(b'\r'), _) if term != b'\r' => pos + 1,
        _ => pos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seps() -> Separators {
        Separators::STANDARD_00401
    }

    #[test]
    fn elements_and_components() {
        let s = Segment::new(b"REF*ZZ**A:B:C", 0, 0, seps());
        assert_eq!(s.id(), b"REF");
        let els: Vec<&[u8]> = s.elements().collect();
        assert_eq!(els, vec![&b"ZZ"[..], b"", b"A:B:C"]);
        assert_eq!(s.element(2), Some(&b""[..]));
        assert_eq!(s.element(4), None);
        let comps: Vec<&[u8]> = s.components(3).collect();
        assert_eq!(comps, vec![&b"A"[..], b"B", b"C"]);
        let f = s.fields();
        assert_eq!(f.len(), 3);
        assert_eq!(f.used_len(), 3);
        assert_eq!(f.str(1), Some("ZZ"));
        assert_eq!(f.str(2), None);
    }

    #[test]
    fn id_only_segment() {
        let s = Segment::new(b"SE", 0, 0, seps());
        assert_eq!(s.elements().count(), 0);
        assert!(s.has_valid_id());
        let e = Segment::new(b"", 0, 0, seps());
        assert!(!e.has_valid_id());
        assert_eq!(e.elements().count(), 0);
    }

    #[test]
    fn reader_skips_line_breaks() {
        let input = b"A*1~\r\nB*2~\nC*3~D";
        let mut r = SegmentReader::new(input, 0, 0, seps());
        let mut ids = vec![];
        while let Some((s, e)) = r.next_segment() {
            ids.push((s.id_str().to_string(), s.offset, e));
        }
        assert_eq!(
            ids,
            vec![
                ("A".into(), 0, Ending::Terminated),
                ("B".into(), 6, Ending::Terminated),
                ("C".into(), 11, Ending::Terminated),
                ("D".into(), 15, Ending::EndOfInput)
            ]
        );
    }

    #[test]
    fn newline_as_terminator() {
        let mut s = seps();
        s.segment = b'\n';
        let mut r = SegmentReader::new(b"A*1\nB*2\n", 0, 0, s);
        assert_eq!(r.next_segment().map(|x| x.0.offset), Some(0));
        assert_eq!(r.next_segment().map(|x| x.0.offset), Some(4));
        assert!(r.next_segment().is_none());
    }
}

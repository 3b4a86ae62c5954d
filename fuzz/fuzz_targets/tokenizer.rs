//! Arbitrary bytes through the tokenizer: every segment reader over every delimiter choice,
//! and element/component access on every segment. Must never panic.
#![no_main]

use dsync_x12::tokenizer::SegmentReader;
use dsync_x12::{OwnedSegment, Separators};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // the first 4 bytes choose the delimiters, the rest is the input
    let (seps, input) = match data {
        [e, c, s, r, rest @ ..] => (
            Separators {
                element: *e,
                component: *c,
                segment: *s,
                repetition: (*r != 0).then_some(*r),
            },
            rest,
        ),
        _ => (Separators::STANDARD_00501, data),
    };
    let mut reader = SegmentReader::new(input, 0, 0, seps);
    while let Some((seg, _)) = reader.next_segment() {
        let _ = seg.id_str();
        let _ = seg.has_valid_id();
        let f = seg.fields();
        let _ = f.used_len();
        for i in 0..=f.len() + 1 {
            let _ = seg.element(i);
            let _ = seg.components(i).count();
        }
        let _ = OwnedSegment::from_segment(&seg).normalized();
    }
});

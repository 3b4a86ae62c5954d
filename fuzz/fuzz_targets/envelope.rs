//! Arbitrary bytes through the whole inbound path: interchanges, envelope validation, set
//! validation and typed documents, and the TA1/997 builders. Must never panic.
#![no_main]

use dsync_x12::ack::{build_997, build_ta1, build_ta1_for_error};
use dsync_x12::{interchanges, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for ic in interchanges(data) {
        match ic {
            Ok(ic) => {
                let v = validate(&ic);
                let _ = build_ta1(&v.report);
                for g in &v.groups {
                    let _ = build_997(&g.report);
                }
            }
            Err(e) => {
                let _ = build_ta1_for_error(&e);
            }
        }
    }
});

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use dsync_x12::{interchanges, validate, X12Error};

/// Reads a corpus file.
pub fn load(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/inbound/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A compact, line-per-finding description of what the TA1s and 997s say about `input`.
pub fn summary(input: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for ic in interchanges(input) {
        let ic = match ic {
            Ok(ic) => ic,
            Err(X12Error::Interchange { note, .. }) => {
                out.push(format!("FATAL {}", note.code()));
                break;
            }
            Err(e) => {
                out.push(format!("ERROR {e}"));
                break;
            }
        };
        let v = validate(&ic);
        out.push(format!(
            "TA1 {} {} {}",
            v.report.control_number,
            v.report.status().code(),
            v.report.note().code()
        ));
        for g in &v.groups {
            let r = &g.report;
            let mut line = format!(
                "AK9 {} {} {} {} {} {}",
                r.functional_id,
                r.control_number,
                r.status.code(),
                r.included,
                r.received,
                r.accepted
            );
            for e in &r.errors {
                line.push(' ');
                line.push_str(e.code());
            }
            out.push(line);
            for s in &r.sets {
                let mut line = format!("AK5 {} {} {}", s.set_id, s.control_number, s.status.code());
                for e in &s.errors {
                    line.push(' ');
                    line.push_str(e.code());
                }
                out.push(line);
                for se in &s.segment_errors {
                    out.push(format!(
                        "AK3 {} {} {} {}",
                        se.segment_id,
                        se.position,
                        se.loop_id.as_deref().unwrap_or("-"),
                        se.code.code()
                    ));
                    for ee in &se.elements {
                        out.push(format!(
                            "AK4 {} {} {}",
                            ee.position,
                            ee.reference.map_or("-".to_string(), |r| r.to_string()),
                            ee.code.code()
                        ));
                    }
                }
            }
        }
    }
    out
}

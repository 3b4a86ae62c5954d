//! Parse + validate throughput on a large file of valid 850s, beside the `x12-types` crate
//! parsing the same bytes in the same run. `x12-types` has no 004010 850, so the shared file is
//! 005010; our parser is also measured on the 004010 variant.
//!
//! Run: `cargo bench -p dsync-x12 --bench parse` (set `X12_BENCH_MB` to change the size).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use dsync_x12::{interchanges, validate, Document};
use x12_types::util::Parser as _;
use x12_types::v005010::{Transmission, _850};

const SETS_PER_INTERCHANGE: usize = 5;
const LINES_PER_SET: usize = 10;

fn generate(target_bytes: usize, gs08: &str, isa12: &str, isa11: char) -> (String, usize) {
    let mut out = String::with_capacity(target_bytes + 8192);
    let mut n_ic = 0usize;
    let mut po = 0usize;
    while out.len() < target_bytes {
        n_ic += 1;
        out.push_str(&format!(
            "ISA*00*          *00*          *ZZ*BUYERCO        *ZZ*DISTSYNC       *240115*1030*{isa11}*{isa12}*{n_ic:09}*0*P*:~\n"
        ));
        out.push_str(&format!(
            "GS*PO*BUYERCO*DISTSYNC*20240115*1030*{n_ic}*X*{gs08}~\n"
        ));
        for s in 1..=SETS_PER_INTERCHANGE {
            po += 1;
            let mut body = vec![
                format!("BEG*00*SA*PO{po:08}**20240115"),
                "CUR*BY*USD".to_string(),
                "REF*DP*038".to_string(),
                "REF*IA*VEND-7781".to_string(),
                "DTM*002*20240122".to_string(),
                "N1*ST*ACME STORE 0042*92*0042".to_string(),
                "N3*1200 COMMERCE WAY".to_string(),
                "N4*SPRINGFIELD*IL*62701*US".to_string(),
                "N1*BT*ACME RETAIL HQ*1*123456789".to_string(),
                "N3*PO BOX 9000".to_string(),
                "N4*CHICAGO*IL*60601".to_string(),
            ];
            for l in 1..=LINES_PER_SET {
                body.push(format!(
                    "PO1*{l}*{}*EA*{}.{:02}*PE*BP*ACM-{:05}*VP*WID-{:05}*UP*0123456{:05}",
                    l * 3,
                    l + 2,
                    l * 7 % 100,
                    po % 100_000,
                    l,
                    l
                ));
                body.push(format!("PID*F****WIDGET MODEL {l} BLUE LARGE"));
            }
            body.push(format!("CTT*{LINES_PER_SET}"));
            out.push_str(&format!("ST*850*{s:04}~\n"));
            for seg in &body {
                out.push_str(seg);
                out.push_str("~\n");
            }
            out.push_str(&format!("SE*{}*{s:04}~\n", body.len() + 2));
        }
        out.push_str(&format!("GE*{SETS_PER_INTERCHANGE}*{n_ic}~\n"));
        out.push_str(&format!("IEA*1*{n_ic:09}~\n"));
    }
    (out, po)
}

fn ours(input: &[u8]) -> usize {
    let mut pos = 0;
    for ic in interchanges(input) {
        let ic = ic.expect("valid interchange");
        let v = validate(&ic);
        assert!(v.report.is_accepted());
        for g in &v.groups {
            for d in g.documents.iter().flatten() {
                if let Document::PurchaseOrder(po) = d {
                    pos += 1;
                    black_box(po.lines.len());
                }
            }
        }
    }
    pos
}

fn x12_types(input: &str) -> usize {
    let mut rest = input;
    let mut pos = 0;
    while !rest.trim_start().is_empty() {
        let (r, t) = Transmission::<_850>::parse(rest.trim_start()).expect("x12-types parses");
        pos += t
            .functional_group
            .iter()
            .map(|g| g.segments.len())
            .sum::<usize>();
        black_box(&t);
        rest = r;
    }
    pos
}

fn best_of<F: FnMut() -> usize>(runs: usize, mut f: F) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed());
    }
    (best, n)
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: keep that cheap
    let quick = !std::env::args().any(|a| a == "--bench");
    let mb: usize = std::env::var("X12_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 1 } else { 32 });
    let runs = if quick { 1 } else { 3 };
    let (f5010, n5010) = generate(mb << 20, "005010", "00501", '^');
    let (f4010, n4010) = generate(mb << 20, "004010", "00401", 'U');

    let (t_ours5, c1) = best_of(runs, || ours(f5010.as_bytes()));
    let (t_ours4, c2) = best_of(runs, || ours(f4010.as_bytes()));
    let (t_x12, c3) = best_of(runs, || x12_types(&f5010));
    assert_eq!((c1, c2, c3), (n5010, n4010, n5010), "every 850 is read");

    let rate = |bytes: usize, t: Duration| bytes as f64 / (1 << 20) as f64 / t.as_secs_f64();
    let r_ours5 = rate(f5010.len(), t_ours5);
    let r_x12 = rate(f5010.len(), t_x12);
    println!(
        "\n{} 850s per file ({SETS_PER_INTERCHANGE} per interchange, {LINES_PER_SET} lines each), best of {runs} runs\n",
        n5010
    );
    println!("| parser | input | MB | time (s) | MB/s | vs x12-types |");
    println!("|---|---|---:|---:|---:|---:|");
    println!(
        "| dsync-x12 parse + envelope + 850 validation + typed | 005010 | {:.1} | {:.3} | {:.1} | {:.1}x |",
        f5010.len() as f64 / (1 << 20) as f64,
        t_ours5.as_secs_f64(),
        r_ours5,
        r_ours5 / r_x12
    );
    println!(
        "| dsync-x12 parse + envelope + 850 validation + typed | 004010 | {:.1} | {:.3} | {:.1} | - |",
        f4010.len() as f64 / (1 << 20) as f64,
        t_ours4.as_secs_f64(),
        rate(f4010.len(), t_ours4)
    );
    println!(
        "| x12-types 0.12 `Transmission::<_850>::parse` (no validation) | 005010 | {:.1} | {:.3} | {:.1} | 1.0x |",
        f5010.len() as f64 / (1 << 20) as f64,
        t_x12.as_secs_f64(),
        r_x12
    );
}

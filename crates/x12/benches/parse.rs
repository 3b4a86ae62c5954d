//! Parse + validate throughput on a large file of valid 850s, beside the `x12-types` crate
//! parsing the same bytes in the same run. `x12-types` has no 004010 850, so the shared file is
//! 005010; our parser is also measured on the 004010 variant.
//!
//! Run: `cargo bench -p dsync-x12 --bench parse` (set `X12_BENCH_MB` to change the size).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use dsync_x12::sample::{generate_850s, LINES_PER_SET, SETS_PER_INTERCHANGE};
use dsync_x12::{interchanges, validate, Document};
use x12_types::util::Parser as _;
use x12_types::v005010::{Transmission, _850};

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
    let (f5010, n5010) = generate_850s(mb << 20, "005010", "00501", '^');
    let (f4010, n4010) = generate_850s(mb << 20, "004010", "00401", 'U');

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

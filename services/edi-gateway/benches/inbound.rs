//! Inbound throughput of the gateway on a large file of valid 850s, beside the X12 layer alone
//! and the `x12-types` crate parsing the same bytes in the same run:
//!
//! * `dsync-x12` parse + envelope + 850 validation (the X12 layer, as in `dsync-x12`'s `parse`
//!   benchmark),
//! * the gateway's whole decision for the file ([`handlers::interchanges::decide`]): the above
//!   plus partnership and duplicate checks, mapping every 850 to an `OrderSubmitted` through the
//!   partner profile, the `EdiDocumentReceived`/`EdiDocumentSent` events and one rendered 997
//!   interchange per received interchange,
//! * the same plus the Avro encoding of every event (what publishing costs in CPU),
//! * `x12-types` 0.12 `Transmission::<_850>::parse` (no validation, 005010 only).
//!
//! Run: `make bench-edi-gateway` or `cargo bench -p dsync-edi-gateway --bench inbound`
//! (`EDI_BENCH_MB` sets the size, default 16).
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use dsync_edi_gateway::archive::Archive;
use dsync_edi_gateway::events::GatewayEvent;
use dsync_edi_gateway::handlers::interchanges::{decide, InboundContext, Receipt};
use dsync_edi_gateway::profile::load_profile;
use dsync_edi_gateway::state::PartnerState;
use dsync_edi_gateway::{Topics, UsageMode};
use dsync_x12::sample::{generate_850s, LINES_PER_SET, SETS_PER_INTERCHANGE};
use dsync_x12::{interchanges, validate, Document};
use x12_types::util::Parser as _;
use x12_types::v005010::{Transmission, _850};

const PROFILE: &str = r#"
id = "ACME"
[interchange]
partner_qualifier = "ZZ"
partner_id = "BUYERCO"
our_qualifier = "ZZ"
our_id = "DISTSYNC"
version = "005010"
[customers]
bill_to = [{ qualifier = "1", id = "123456789", customer_id = "C-100234" }]
ship_to = [{ qualifier = "92", id = "0042", customer_id = "C-100234", ship_to_id = "C-100234-0042" }]
[[items]]
vendor_part = "WID-00001"
sku = "WID-4410"
[units]
CA = "CS"
"#;

fn x12_layer(input: &[u8]) -> usize {
    let mut pos = 0;
    for ic in interchanges(input) {
        let v = validate(&ic.expect("valid interchange"));
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

fn gateway(ctx: &InboundContext<'_>, input: &[u8], encode: bool) -> usize {
    let state = PartnerState::new("ACME");
    let sha = "0".repeat(64);
    let receipt = Receipt {
        receipt_id: "20240115T103000000Z-0123456789ab",
        received_at: Utc::now(),
        archive_reference: "file:///bench",
        size_bytes: input.len() as i64,
        sha256: &sha,
    };
    let d = decide(ctx, &state, &receipt, input).expect("decision");
    if encode {
        let mut bytes = 0;
        for r in &d.records {
            bytes += match &r.event {
                GatewayEvent::OrderSubmitted(e) => dsync_events::encode_body(e),
                GatewayEvent::OrderCancelRequested(e) => dsync_events::encode_body(e),
                GatewayEvent::EdiDocumentReceived(e) => dsync_events::encode_body(e),
                GatewayEvent::EdiDocumentSent(e) => dsync_events::encode_body(e),
                GatewayEvent::EdiDocumentAcknowledged(e) => dsync_events::encode_body(e),
                GatewayEvent::BusinessException(e) => dsync_events::encode_body(e),
            }
            .expect("encode")
            .len();
        }
        black_box(bytes);
    }
    black_box(&d.files);
    d.records
        .iter()
        .filter(|r| matches!(r.event, GatewayEvent::OrderSubmitted(_)))
        .count()
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
    let quick = !std::env::args().any(|a| a == "--bench");
    let mb: usize = std::env::var("EDI_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 1 } else { 16 });
    let runs = if quick { 1 } else { 3 };
    let dir = std::env::temp_dir().join(format!("edi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("acme.toml"), PROFILE).expect("profile");
    let profile = load_profile(&dir.join("acme.toml"), &dir).expect("profile");
    let _ = std::fs::remove_dir_all(&dir);
    let topics = Topics::with_prefix("");
    let archive = Archive::new(Path::new("/bench"));
    let ctx = InboundContext {
        profile: &profile,
        topics: &topics,
        mode: UsageMode::Production,
        archive: &archive,
        now: Utc::now(),
    };

    let (f, n) = generate_850s(mb << 20, "005010", "00501", '^');
    let (t_x12, c1) = best_of(runs, || x12_layer(f.as_bytes()));
    let (t_gw, c2) = best_of(runs, || gateway(&ctx, f.as_bytes(), false));
    let (t_gwe, c3) = best_of(runs, || gateway(&ctx, f.as_bytes(), true));
    let (t_xt, c4) = best_of(runs, || x12_types(&f));
    assert_eq!((c1, c2, c3, c4), (n, n, n, n), "every 850 is read");

    let size = f.len() as f64 / (1 << 20) as f64;
    let rate = |t: Duration| size / t.as_secs_f64();
    let base = rate(t_xt);
    println!(
        "\n{n} 850s in {size:.1} MB of 005010 ({SETS_PER_INTERCHANGE} per interchange, {LINES_PER_SET} lines each), best of {runs} runs\n"
    );
    println!("| path | time (s) | MB/s | 850s/s | vs x12-types |");
    println!("|---|---:|---:|---:|---:|");
    for (name, t) in [
        ("dsync-x12 parse + envelope + 850 validation", t_x12),
        (
            "edi-gateway decision (validation, duplicates, mapping, 997s, events)",
            t_gw,
        ),
        ("edi-gateway decision + Avro encoding of every event", t_gwe),
        (
            "x12-types 0.12 `Transmission::<_850>::parse` (no validation)",
            t_xt,
        ),
    ] {
        println!(
            "| {name} | {:.3} | {:.1} | {:.0} | {:.1}x |",
            t.as_secs_f64(),
            rate(t),
            n as f64 / t.as_secs_f64(),
            rate(t) / base
        );
    }
}

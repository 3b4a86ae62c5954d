//! Property-style tests with a small deterministic generator (no extra dependencies): random
//! valid 850s with random delimiters parse back to exactly what was generated, and random
//! corruptions of valid interchanges never panic anywhere in parse/validate/acknowledge.

use dsync_x12::ack::{build_997, build_ta1, build_ta1_for_error};
use dsync_x12::{
    interchanges, validate, Date, Decimal, Document, GroupEnvelope, InterchangeEnvelope,
    InterchangeWriter, IsaVersion, LineEnding, OwnedSegment, Separators, Time, Usage,
};

/// xorshift64*: deterministic, good enough to explore inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn text(&mut self, min: usize, max: usize, alphabet: &[u8]) -> String {
        let n = min + self.below((max - min + 1) as u64) as usize;
        let mut s: String = (0..n).map(|_| char::from(*self.pick(alphabet))).collect();
        // AN values never start or end with a space here
        if s.starts_with(' ') || s.ends_with(' ') {
            s = s.trim().to_string();
            if s.len() < min {
                s = "X".repeat(min);
            }
        }
        s
    }
}

const DELIMS: &[u8] = b"*|^~:>!#%&+;<=?@[]{}\\";
const AN: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -.,/";
const ID: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn separators(rng: &mut Rng, v5010: bool) -> Separators {
    loop {
        let term = if rng.below(4) == 0 {
            b'\n'
        } else {
            *rng.pick(DELIMS)
        };
        let s = Separators {
            element: *rng.pick(DELIMS),
            component: *rng.pick(DELIMS),
            segment: term,
            repetition: v5010.then(|| *rng.pick(DELIMS)),
        };
        // data uses '-', '.', ',', '/' and ' ', which are never delimiters here
        if s.validate().is_ok() {
            return s;
        }
    }
}

struct Line {
    qty: Decimal,
    unit: String,
    price: Option<Decimal>,
    ids: Vec<(String, String)>,
    desc: Option<String>,
}

fn decimal(rng: &mut Rng, max_scale: u8) -> Decimal {
    let scale = rng.below(u64::from(max_scale) + 1) as u8;
    Decimal::new(1 + rng.below(999_999) as i64, scale)
}

#[test]
fn generated_850s_parse_back_exactly() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..300u32 {
        let v5010 = rng.below(2) == 1;
        let seps = separators(&mut rng, v5010);
        let le = if seps.segment == b'\n' {
            LineEnding::None
        } else {
            *rng.pick(&[LineEnding::None, LineEnding::Lf, LineEnding::CrLf])
        };
        let po_number = rng.text(1, 22, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
        let date = Date::new(
            2000 + rng.below(60) as u16,
            1 + rng.below(12) as u8,
            1 + rng.below(28) as u8,
        )
        .expect("date");
        let ship_name = rng.text(1, 60, AN);
        let n_lines = 1 + rng.below(12) as usize;
        let lines: Vec<Line> = (0..n_lines)
            .map(|_| Line {
                qty: decimal(&mut rng, 3),
                unit: rng.text(2, 2, ID),
                price: (rng.below(3) > 0).then(|| decimal(&mut rng, 4)),
                ids: (0..rng.below(5))
                    .map(|_| {
                        (
                            rng.text(2, 2, ID),
                            rng.text(1, 48, b"ABCDEFGHIJ0123456789-."),
                        )
                    })
                    .collect(),
                desc: (rng.below(2) == 0).then(|| rng.text(1, 80, AN)),
            })
            .collect();

        let mut body = Vec::new();
        let mut beg = OwnedSegment::new("BEG");
        beg.push("00")
            .push("SA")
            .push(po_number.as_str())
            .push("")
            .push(date.ccyymmdd());
        body.push(beg);
        let mut n1 = OwnedSegment::new("N1");
        n1.push("ST")
            .push(ship_name.as_str())
            .push("92")
            .push("0042");
        body.push(n1);
        for (i, l) in lines.iter().enumerate() {
            let mut po1 = OwnedSegment::new("PO1");
            po1.push((i + 1).to_string())
                .push(l.qty.to_string())
                .push(l.unit.as_str())
                .push(l.price.map(|p| p.to_string()).unwrap_or_default())
                .push("");
            for (q, v) in &l.ids {
                po1.push(q.as_str()).push(v.as_str());
            }
            body.push(po1);
            if let Some(d) = &l.desc {
                let mut pid = OwnedSegment::new("PID");
                pid.push("F").push("").push("").push("").push(d.as_str());
                body.push(pid);
            }
        }
        let mut ctt = OwnedSegment::new("CTT");
        ctt.push(n_lines.to_string());
        body.push(ctt);

        let version = if v5010 {
            IsaVersion::V00501
        } else {
            IsaVersion::V00401
        };
        let env = InterchangeEnvelope::new(
            ("ZZ", "BUYER"),
            ("01", "123456789"),
            date,
            Time::new(rng.below(24) as u8, rng.below(60) as u8, None).expect("time"),
            version,
            1 + rng.below(999_999_998) as u32,
            Usage::Production,
        );
        let mut w = InterchangeWriter::begin(&env, seps, le).expect("isa");
        w.begin_group(&GroupEnvelope {
            functional_id: "PO".into(),
            sender: "BUYER".into(),
            receiver: "SELLER".into(),
            date,
            time: env.time,
            control_number: 1 + case,
            version: if v5010 { "005010" } else { "004010" }.into(),
        })
        .expect("gs");
        w.transaction_set("850", case + 1, None, &body).expect("st");
        let out = w.finish().expect("iea");

        let ic = interchanges(&out)
            .next()
            .expect("one interchange")
            .unwrap_or_else(|e| panic!("case {case} {seps:?}: {e}"));
        assert_eq!(ic.separators, seps, "case {case}");
        let v = validate(&ic);
        assert!(v.report.is_accepted(), "case {case}: {:?}", v.report.issues);
        let Some(Some(Document::PurchaseOrder(po))) = v.groups[0].documents.first() else {
            panic!(
                "case {case} {seps:?}: {:?}\n{}",
                v.groups[0].report,
                String::from_utf8_lossy(&out)
            );
        };
        assert_eq!(po.po_number, po_number);
        assert_eq!(po.po_date, date);
        assert_eq!(po.ship_to().and_then(|p| p.name), Some(ship_name.as_str()));
        assert_eq!(po.lines.len(), n_lines);
        for (got, want) in po.lines.iter().zip(&lines) {
            assert_eq!(got.quantity, want.qty);
            assert_eq!(got.unit, want.unit);
            assert_eq!(got.unit_price, want.price);
            let ids: Vec<(String, String)> = got
                .product_ids
                .iter()
                .map(|p| (p.qualifier.to_string(), p.value.to_string()))
                .collect();
            assert_eq!(&ids, &want.ids);
            assert_eq!(got.descriptions.first().copied(), want.desc.as_deref());
        }
    }
}

#[test]
fn corrupted_interchanges_never_panic() {
    let dir = format!("{}/testdata/inbound", env!("CARGO_MANIFEST_DIR"));
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    seeds.sort();
    let mut rng = Rng(42);
    let noise = b"*~:|^>\n\r ISAGSSTSEGEIEA0123456789";
    for _ in 0..3000 {
        let mut data = rng.pick(&seeds).clone();
        for _ in 0..1 + rng.below(6) {
            if data.is_empty() {
                break;
            }
            let at = rng.below(data.len() as u64) as usize;
            match rng.below(5) {
                0 => data[at] = *rng.pick(noise),
                1 => data[at] = rng.below(256) as u8,
                2 => {
                    data.remove(at);
                }
                3 => data.truncate(at),
                _ => {
                    let n = rng.below(8) as usize;
                    let end = (at + n).min(data.len());
                    let chunk = data[at..end].to_vec();
                    data.splice(at..at, chunk);
                }
            }
        }
        for ic in interchanges(&data) {
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
    }
}

//! Synthetic, valid 850 interchanges of any size, for benchmarks (the X12 crate's own and the
//! gateway's parse the very same file).

/// Transaction sets per interchange.
pub const SETS_PER_INTERCHANGE: usize = 5;
/// PO1 lines per 850.
pub const LINES_PER_SET: usize = 10;

/// Interchanges of [`SETS_PER_INTERCHANGE`] 850s of [`LINES_PER_SET`] lines each (GS08
/// `gs08`, ISA12 `isa12`, repetition separator / ISA11 `isa11`) until the text reaches
/// `target_bytes`; returns it with the number of 850s.
pub fn generate_850s(target_bytes: usize, gs08: &str, isa12: &str, isa11: char) -> (String, usize) {
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

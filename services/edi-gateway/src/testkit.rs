//! Test fixtures shared by this crate's unit tests and the integration tests (`test-util`
//! feature): the partner profile of the `dsync_x12` corpus sender and a reader of the
//! acknowledgements we send.

use std::path::Path;

use dsync_x12::{parse_all, validate, Document};

use crate::profile::{load_profile, PartnerProfile};

/// Partner ACME = ISA `ZZ/BUYERCO` (the `dsync_x12` corpus sender), us = `ZZ/DISTSYNC`, the
/// corpus parties and items mapped, 997s due within an hour.
pub const ACME_PROFILE: &str = r#"
id = "ACME"
[interchange]
partner_qualifier = "ZZ"
partner_id = "BUYERCO"
our_qualifier = "ZZ"
our_id = "DISTSYNC"
[customers]
bill_to = [{ qualifier = "1", id = "123456789", customer_id = "C-100234" }]
ship_to = [{ qualifier = "92", id = "0042", customer_id = "C-100234", ship_to_id = "C-100234-0042" }]
[[items]]
buyer_part = "ACM-1001"
vendor_part = "WID-4410"
sku = "WID-4410"
[[items]]
vendor_part = "GAD-0099"
sku = "GAD-0099"
[units]
CA = "CS"
[timing]
ack_deadline = "1h"
"#;

/// [`ACME_PROFILE`] with 997s due within `ack_deadline`, and, when given, an upload key of
/// ACME's own (its SHA-256 in `[upload]`).
pub fn acme_profile(ack_deadline: &str, upload_key: Option<&str>) -> String {
    let mut text = ACME_PROFILE.replace(
        "ack_deadline = \"1h\"",
        &format!("ack_deadline = \"{ack_deadline}\""),
    );
    if let Some(key) = upload_key {
        text.push_str(&format!(
            "[upload]\napi_key_sha256 = [\"{}\"]\n",
            crate::files::sha256_hex(key.as_bytes())
        ));
    }
    text
}

/// Loads a profile from TOML text (through a temporary file, as the service loads them).
pub fn test_profile(text: &str) -> PartnerProfile {
    let d = std::env::temp_dir().join(format!("edi-tp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).expect("temporary profile dir");
    let p = d.join("p.toml");
    std::fs::write(&p, text).expect("temporary profile file");
    let profile = load_profile(&p, Path::new(&d)).expect("valid test profile");
    let _ = std::fs::remove_dir_all(&d);
    profile
}

/// TA1 (status, note) segments and 997s (AK1 group, AK9 status, AK5 statuses) of an interchange
/// we sent, and its ISA13.
pub type Acks = (
    Vec<(String, String)>,
    Vec<(String, String, Vec<String>)>,
    String,
);

/// Reads the acknowledgements in an interchange we sent, which must itself be clean X12 whose
/// sets all pass our own validation.
pub fn read_acks(bytes: &[u8]) -> Result<Acks, String> {
    let (ics, err) = parse_all(bytes);
    if let Some(e) = err {
        return Err(format!("our own interchange does not parse: {e}"));
    }
    let ic = ics.first().ok_or("no interchange")?;
    if !ic.is_clean() {
        return Err(format!(
            "our own interchange has envelope errors: {:?}",
            ic.issues
        ));
    }
    let ta1 = ic
        .ta1
        .iter()
        .map(|s| {
            (
                s.element_str(4).unwrap_or("").to_owned(),
                s.element_str(5).unwrap_or("").to_owned(),
            )
        })
        .collect();
    let v = validate(ic);
    let mut fas = Vec::new();
    for g in &v.groups {
        if !g.report.sets.iter().all(|s| s.is_accepted()) {
            return Err(format!("our own group is not valid: {:?}", g.report));
        }
        for d in g.documents.iter().flatten() {
            if let Document::FunctionalAck(fa) = d {
                fas.push((
                    format!("{} {}", fa.functional_id, fa.group_control_number),
                    fa.status.code().to_owned(),
                    fa.sets.iter().map(|s| s.status.code().to_owned()).collect(),
                ));
            }
        }
    }
    Ok((ta1, fas, ic.isa.control_number.to_owned()))
}

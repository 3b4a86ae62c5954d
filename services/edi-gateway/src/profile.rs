//! Trading partner profiles: one TOML (`.toml`) or JSON (`.json`) file per partner in the
//! profiles directory. Every file is read and validated at start-up; the first problem stops
//! the service with the file and the field named (`partner profile partners/acme.toml:
//! separators.element: ...`). Unknown fields are errors (a typo never silently falls back to a
//! default).
//!
//! ```toml
//! id = "ACME"                          # partner id: key of edi.documents, source edi:ACME
//! name = "Acme Retail"
//!
//! [interchange]
//! partner_qualifier = "ZZ"             # ISA05 they send / ISA07 we send
//! partner_id = "ACMERETAIL"            # ISA06 / ISA08
//! our_qualifier = "ZZ"                 # ISA07 they send / ISA05 we send
//! our_id = "DISTSYNC"
//! partner_application_id = "ACMERETAIL" # GS02 they send / GS03 we send (default: partner_id)
//! our_application_id = "DISTSYNC"      # GS03 / GS02 (default: our_id)
//! version = "004010"                   # GS08 of the documents we originate (855); 997s
//!                                      # answer in the version the partner sent
//! request_ta1 = false                  # ISA14 on our interchanges
//!
//! [separators]                         # what we send; inbound ones are read from each ISA
//! element = "*"
//! component = ":"
//! segment = "~"
//! # repetition = "^"                   # 005010 only (default ^)
//! line_ending = "lf"                   # none, lf or crlf after each segment
//!
//! [documents]
//! receive = ["850", "997"]             # what the partner sends us
//! send = ["997", "TA1", "855"]         # what we send them
//!
//! [timing]
//! duplicate_window = "90d"             # control numbers seen within it are duplicates
//! ack_deadline = "24h"                 # their 997 for our 855 is overdue after it
//!
//! [control_numbers]
//! first = 1                            # first ISA13/GS06/ST02 when nothing was sent yet
//!
//! [units]                              # partner unit code -> ours
//! CA = "CS"
//!
//! [[items]]                            # cross-reference: buyer/vendor part or GTIN -> SKU
//! buyer_part = "ACM-1001"
//! vendor_part = "WID-4410"
//! gtin = "012345678905"
//! sku = "WID-4410"
//!
//! [customers]                          # N1 parties -> customer and ship-to
//! default_customer_id = "C-100234"     # when no N1 matches (optional)
//! currency = "USD"                     # when the 850 has no CUR
//! bill_to = [{ qualifier = "1", id = "123456789", customer_id = "C-100234" }]
//! ship_to = [{ qualifier = "92", id = "0042", customer_id = "C-100234", ship_to_id = "C-100234-0042" }]
//!
//! [paths]                              # relative paths are under the data directory
//! inbox = "partners/ACME/inbox"        # default partners/<id>/inbox
//! outbox = "partners/ACME/outbox"      # default partners/<id>/outbox
//! processed = "partners/ACME/processed" # inbox files are moved here once handled
//!
//! [upload]
//! api_key_sha256 = ["<64 hex digits>"] # keys allowed to upload for this partner only
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dsync_x12::{IsaVersion, LineEnding, Separators};
use serde::Deserialize;

use crate::files;
use crate::settings::parse_duration;
use crate::GatewayError;

/// A document type a partner exchanges with us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocKind {
    /// 850 purchase order.
    PurchaseOrder,
    /// 855 purchase order acknowledgement.
    PoAck,
    /// 997 functional acknowledgement.
    FunctionalAck,
    /// TA1 interchange acknowledgement.
    Ta1,
}

impl DocKind {
    fn parse(s: &str) -> Option<DocKind> {
        match s {
            "850" => Some(DocKind::PurchaseOrder),
            "855" => Some(DocKind::PoAck),
            "997" => Some(DocKind::FunctionalAck),
            "TA1" | "ta1" => Some(DocKind::Ta1),
            _ => None,
        }
    }
}

/// An N1 party of the partner mapped to one of our customers (and ship-to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyMapping {
    /// N103 identification code qualifier; any when `None`.
    pub qualifier: Option<String>,
    /// N104 identification code.
    pub id: String,
    /// Our ERP customer number.
    pub customer_id: String,
    /// Our ship-to id (ship-to mappings only).
    pub ship_to_id: Option<String>,
}

/// The item cross-reference: the partner's identifiers to our SKUs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemXref {
    /// Buyer's part number (PO1 BP / IN) -> SKU.
    pub by_buyer_part: HashMap<String, String>,
    /// Vendor's part number as the buyer quotes it (VP / VN) -> SKU.
    pub by_vendor_part: HashMap<String, String>,
    /// GTIN / UPC (UP, UK, EN) -> SKU.
    pub by_gtin: HashMap<String, String>,
}

impl ItemXref {
    /// The SKU for a line's identifiers: buyer part first, then vendor part, then GTIN.
    pub fn sku(
        &self,
        buyer_part: Option<&str>,
        vendor_part: Option<&str>,
        gtin: Option<&str>,
    ) -> Option<&str> {
        buyer_part
            .and_then(|p| self.by_buyer_part.get(p))
            .or_else(|| vendor_part.and_then(|p| self.by_vendor_part.get(p)))
            .or_else(|| gtin.and_then(|g| self.by_gtin.get(g)))
            .map(String::as_str)
    }
}

/// A validated partner profile.
#[derive(Debug, Clone)]
pub struct PartnerProfile {
    /// Partner id (key of `edi.documents`, `edi:<id>` as source system).
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// The file it was read from.
    pub file: PathBuf,
    /// ISA05 the partner sends (ISA07 of what we send).
    pub partner_qualifier: String,
    /// ISA06 the partner sends, trimmed.
    pub partner_isa_id: String,
    /// ISA07 the partner sends (our ISA05).
    pub our_qualifier: String,
    /// ISA08 the partner sends (our ISA06), trimmed.
    pub our_isa_id: String,
    /// GS02 the partner sends / GS03 we send.
    pub partner_application_id: String,
    /// GS03 the partner sends / GS02 we send.
    pub our_application_id: String,
    /// GS08 of the documents we originate.
    pub version: String,
    /// ISA12 of the documents we originate.
    pub isa_version: IsaVersion,
    /// ISA14 of our interchanges.
    pub request_ta1: bool,
    /// Delimiters we send.
    pub separators: Separators,
    /// Line break after each segment we send.
    pub line_ending: LineEnding,
    /// Documents the partner sends.
    pub receive: BTreeSet<DocKind>,
    /// Documents we send.
    pub send: BTreeSet<DocKind>,
    /// Window within which repeated control numbers are duplicates.
    pub duplicate_window: Duration,
    /// Deadline for the partner's 997 of our documents.
    pub ack_deadline: Duration,
    /// First control number when nothing was sent yet.
    pub first_control_number: u32,
    /// Partner unit code -> ours.
    pub units: BTreeMap<String, String>,
    /// Item cross-reference.
    pub items: ItemXref,
    /// Customer when no N1 party matches.
    pub default_customer_id: Option<String>,
    /// Currency when the 850 has no CUR.
    pub currency: String,
    /// Bill-to parties.
    pub bill_to: Vec<PartyMapping>,
    /// Ship-to parties.
    pub ship_to: Vec<PartyMapping>,
    /// Inbox folder.
    pub inbox: PathBuf,
    /// Outbox folder.
    pub outbox: PathBuf,
    /// Where handled inbox files are moved.
    pub processed: PathBuf,
    /// SHA-256 of the API keys allowed to upload for this partner.
    pub upload_key_hashes: Vec<[u8; 32]>,
}

impl PartnerProfile {
    /// `edi:<id>`: the source system of events carrying the partner's documents.
    pub fn source_system(&self) -> String {
        format!("edi:{}", self.id)
    }

    /// `qualifier:id` of the partner's interchange id.
    pub fn partner_interchange_id(&self) -> String {
        format!("{}:{}", self.partner_qualifier, self.partner_isa_id)
    }

    /// `qualifier:id` of our interchange id.
    pub fn our_interchange_id(&self) -> String {
        format!("{}:{}", self.our_qualifier, self.our_isa_id)
    }

    /// Our unit code for a partner's.
    pub fn unit<'a>(&'a self, partner_unit: &'a str) -> &'a str {
        self.units
            .get(partner_unit)
            .map_or(partner_unit, String::as_str)
    }

    /// Whether the partner sends this document type.
    pub fn receives(&self, kind: DocKind) -> bool {
        self.receive.contains(&kind)
    }

    /// Whether we send this document type.
    pub fn sends(&self, kind: DocKind) -> bool {
        self.send.contains(&kind)
    }
}

/// Every partner, by id.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    by_id: BTreeMap<String, Arc<PartnerProfile>>,
}

impl Profiles {
    /// Profiles from values (tests).
    pub fn from_profiles(profiles: impl IntoIterator<Item = PartnerProfile>) -> Self {
        Profiles {
            by_id: profiles
                .into_iter()
                .map(|p| (p.id.clone(), Arc::new(p)))
                .collect(),
        }
    }

    /// The partner with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<PartnerProfile>> {
        self.by_id.get(id)
    }

    /// Every partner, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<PartnerProfile>> {
        self.by_id.values()
    }

    /// Number of partners.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    id: String,
    name: Option<String>,
    interchange: RawInterchange,
    #[serde(default)]
    separators: RawSeparators,
    #[serde(default)]
    documents: RawDocuments,
    #[serde(default)]
    timing: RawTiming,
    #[serde(default)]
    control_numbers: RawControlNumbers,
    #[serde(default)]
    units: BTreeMap<String, String>,
    #[serde(default)]
    items: Vec<RawItem>,
    #[serde(default)]
    customers: RawCustomers,
    #[serde(default)]
    paths: RawPaths,
    #[serde(default)]
    upload: RawUpload,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterchange {
    partner_qualifier: String,
    partner_id: String,
    our_qualifier: String,
    our_id: String,
    partner_application_id: Option<String>,
    our_application_id: Option<String>,
    version: Option<String>,
    #[serde(default)]
    request_ta1: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeparators {
    element: Option<String>,
    component: Option<String>,
    segment: Option<String>,
    repetition: Option<String>,
    line_ending: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocuments {
    receive: Option<Vec<String>>,
    send: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiming {
    duplicate_window: Option<String>,
    ack_deadline: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControlNumbers {
    first: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    buyer_part: Option<String>,
    vendor_part: Option<String>,
    gtin: Option<String>,
    sku: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustomers {
    default_customer_id: Option<String>,
    currency: Option<String>,
    #[serde(default)]
    bill_to: Vec<RawParty>,
    #[serde(default)]
    ship_to: Vec<RawParty>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    qualifier: Option<String>,
    id: String,
    customer_id: String,
    ship_to_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPaths {
    inbox: Option<PathBuf>,
    outbox: Option<PathBuf>,
    processed: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpload {
    #[serde(default)]
    api_key_sha256: Vec<String>,
}

/// Reads and validates every `*.toml` and `*.json` file of `dir`. Relative inbox/outbox paths
/// are resolved under `data_dir`.
pub fn load_profiles(dir: &Path, data_dir: &Path) -> Result<Profiles, GatewayError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        GatewayError::Profiles(format!(
            "cannot read the profiles directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("toml" | "json")
                )
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(GatewayError::Profiles(format!(
            "no partner profile (*.toml, *.json) in {}",
            dir.display()
        )));
    }
    let mut by_id: BTreeMap<String, Arc<PartnerProfile>> = BTreeMap::new();
    let mut by_isa: HashMap<String, PathBuf> = HashMap::new();
    for path in paths {
        let p = load_profile(&path, data_dir)?;
        if let Some(other) = by_id.get(&p.id) {
            return Err(GatewayError::Profile {
                file: path.clone(),
                field: "id".into(),
                message: format!(
                    "partner id {:?} is already used by {}",
                    p.id,
                    other.file.display()
                ),
            });
        }
        let isa = p.partner_interchange_id();
        if let Some(other) = by_isa.insert(isa.clone(), path.clone()) {
            return Err(GatewayError::Profile {
                file: path.clone(),
                field: "interchange.partner_id".into(),
                message: format!(
                    "interchange id {isa} is already used by {}",
                    other.display()
                ),
            });
        }
        by_id.insert(p.id.clone(), Arc::new(p));
    }
    Ok(Profiles { by_id })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(0, |t| t.bytes().filter(|&b| b == b'\n').count())
        + 1
}

/// Reads and validates one profile file.
pub fn load_profile(path: &Path, data_dir: &Path) -> Result<PartnerProfile, GatewayError> {
    let text = std::fs::read_to_string(path).map_err(|e| GatewayError::Profile {
        file: path.to_owned(),
        field: "(file)".into(),
        message: format!("cannot read: {e}"),
    })?;
    let raw: RawProfile = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => {
            let mut de = serde_json::Deserializer::from_str(&text);
            serde_path_to_error::deserialize(&mut de).map_err(|e| GatewayError::Profile {
                file: path.to_owned(),
                field: field_name(&e.path().to_string()),
                message: e.inner().to_string(),
            })?
        }
        _ => {
            let de = toml::Deserializer::parse(&text).map_err(|e| GatewayError::Profile {
                file: path.to_owned(),
                field: "(syntax)".into(),
                message: format!(
                    "line {}: {}",
                    e.span().map_or(0, |s| line_of(&text, s.start)),
                    e.message()
                ),
            })?;
            serde_path_to_error::deserialize(de).map_err(|e| {
                let inner = e.inner();
                let at = inner
                    .span()
                    .map(|s| format!(" (line {})", line_of(&text, s.start)))
                    .unwrap_or_default();
                GatewayError::Profile {
                    file: path.to_owned(),
                    field: field_name(&e.path().to_string()),
                    message: format!("{}{at}", inner.message()),
                }
            })?
        }
    };
    validate(raw, path, data_dir)
}

fn field_name(path: &str) -> String {
    if path.is_empty() || path == "." {
        "(top level)".into()
    } else {
        path.to_owned()
    }
}

struct Check<'a> {
    file: &'a Path,
}

impl Check<'_> {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> GatewayError {
        GatewayError::Profile {
            file: self.file.to_owned(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// A value of `min..=max` printable ASCII characters with none of `forbidden`.
    fn text(
        &self,
        field: &str,
        v: &str,
        min: usize,
        max: usize,
        forbidden: &[u8],
    ) -> Result<String, GatewayError> {
        let t = v.trim();
        if t.len() < min || t.len() > max {
            return Err(self.err(field, format!("{v:?} must be {min} to {max} characters")));
        }
        if let Some(b) = t
            .bytes()
            .find(|b| !(0x20..0x7f).contains(b) || forbidden.contains(b))
        {
            return Err(self.err(
                field,
                format!("{v:?} contains {:?}, which cannot be sent", char::from(b)),
            ));
        }
        Ok(t.to_owned())
    }

    fn delimiter(&self, field: &str, v: Option<&str>, default: u8) -> Result<u8, GatewayError> {
        let Some(v) = v else { return Ok(default) };
        let b = v.as_bytes();
        if b.len() != 1 {
            return Err(self.err(field, format!("{v:?} must be exactly one character")));
        }
        Ok(b[0])
    }
}

fn validate(raw: RawProfile, file: &Path, data_dir: &Path) -> Result<PartnerProfile, GatewayError> {
    let c = Check { file };
    let id = raw.id.trim().to_owned();
    if id.is_empty()
        || id.len() > 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(c.err(
            "id",
            format!("{:?} must be 1 to 32 letters, digits, - or _", raw.id),
        ));
    }

    // separators first: ids must not contain them
    let s = &raw.separators;
    let version = raw
        .interchange
        .version
        .clone()
        .unwrap_or_else(|| "004010".into());
    let isa_version = if version.starts_with("004010") {
        IsaVersion::V00401
    } else if version.starts_with("005010") {
        IsaVersion::V00501
    } else {
        return Err(c.err(
            "interchange.version",
            format!("{version:?} is not supported (004010 or 005010, optionally with a suffix)"),
        ));
    };
    if version.len() > 12 || !version.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(c.err(
            "interchange.version",
            format!("{version:?} must be at most 12 letters or digits"),
        ));
    }
    let repetition = match (isa_version, s.repetition.as_deref()) {
        (IsaVersion::V00401, None) => None,
        (IsaVersion::V00401, Some(_)) => {
            return Err(c.err(
                "separators.repetition",
                "a repetition separator exists only in 005010 (ISA11 is U in 004010)",
            ))
        }
        (IsaVersion::V00501, r) => Some(c.delimiter("separators.repetition", r, b'^')?),
    };
    let separators = Separators {
        element: c.delimiter("separators.element", s.element.as_deref(), b'*')?,
        component: c.delimiter("separators.component", s.component.as_deref(), b':')?,
        segment: c.delimiter("separators.segment", s.segment.as_deref(), b'~')?,
        repetition,
    };
    if let Err(e) = separators.validate() {
        return Err(c.err("separators", e.to_string()));
    }
    let line_ending = match s.line_ending.as_deref().unwrap_or("lf") {
        "none" => LineEnding::None,
        "lf" => LineEnding::Lf,
        "crlf" => LineEnding::CrLf,
        other => {
            return Err(c.err(
                "separators.line_ending",
                format!("{other:?} must be none, lf or crlf"),
            ))
        }
    };
    if matches!(separators.segment, b'\n' | b'\r') && line_ending != LineEnding::None {
        return Err(c.err(
            "separators.line_ending",
            "must be none when the segment terminator is a line break",
        ));
    }
    let forbidden = [
        separators.element,
        separators.component,
        separators.segment,
        repetition.unwrap_or(separators.element),
    ];

    let ic = &raw.interchange;
    let qualifier = |field: &str, v: &str| -> Result<String, GatewayError> {
        let q = v.trim();
        if q.len() != 2
            || !q
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(c.err(
                field,
                format!("{v:?} must be a 2-character ID qualifier (e.g. ZZ, 01, 12)"),
            ));
        }
        Ok(q.to_owned())
    };
    let partner_qualifier = qualifier("interchange.partner_qualifier", &ic.partner_qualifier)?;
    let our_qualifier = qualifier("interchange.our_qualifier", &ic.our_qualifier)?;
    let partner_isa_id = c.text("interchange.partner_id", &ic.partner_id, 1, 15, &forbidden)?;
    let our_isa_id = c.text("interchange.our_id", &ic.our_id, 1, 15, &forbidden)?;
    let partner_application_id = c.text(
        "interchange.partner_application_id",
        ic.partner_application_id
            .as_deref()
            .unwrap_or(&partner_isa_id),
        2,
        15,
        &forbidden,
    )?;
    let our_application_id = c.text(
        "interchange.our_application_id",
        ic.our_application_id.as_deref().unwrap_or(&our_isa_id),
        2,
        15,
        &forbidden,
    )?;

    let kinds = |field: &str, v: &Option<Vec<String>>, default: &[DocKind], allowed: &[DocKind]| {
        let Some(list) = v else {
            return Ok(default.iter().copied().collect::<BTreeSet<_>>());
        };
        let mut out = BTreeSet::new();
        for (i, s) in list.iter().enumerate() {
            match DocKind::parse(s.trim()) {
                Some(k) if allowed.contains(&k) => {
                    out.insert(k);
                }
                _ => {
                    return Err(c.err(
                        format!("{field}[{i}]"),
                        format!("{s:?} is not supported here ({})", names(allowed)),
                    ))
                }
            }
        }
        Ok(out)
    };
    let receive = kinds(
        "documents.receive",
        &raw.documents.receive,
        &[DocKind::PurchaseOrder, DocKind::FunctionalAck],
        &[DocKind::PurchaseOrder, DocKind::FunctionalAck],
    )?;
    let send = kinds(
        "documents.send",
        &raw.documents.send,
        &[DocKind::FunctionalAck, DocKind::Ta1, DocKind::PoAck],
        &[DocKind::FunctionalAck, DocKind::Ta1, DocKind::PoAck],
    )?;

    let duration =
        |field: &str, v: &Option<String>, default: &str| -> Result<Duration, GatewayError> {
            let d = parse_duration(v.as_deref().unwrap_or(default)).map_err(|e| c.err(field, e))?;
            if d.is_zero() {
                return Err(c.err(field, "must be positive"));
            }
            Ok(d)
        };
    let duplicate_window = duration(
        "timing.duplicate_window",
        &raw.timing.duplicate_window,
        "90d",
    )?;
    let ack_deadline = duration("timing.ack_deadline", &raw.timing.ack_deadline, "24h")?;

    let first_control_number = raw.control_numbers.first.unwrap_or(1);
    if !(1..=999_999_999).contains(&first_control_number) {
        return Err(c.err(
            "control_numbers.first",
            format!("{first_control_number} must be 1 to 999999999"),
        ));
    }

    let mut units = BTreeMap::new();
    for (k, v) in &raw.units {
        let field = format!("units.{k}");
        let from = c.text(&field, k, 2, 2, &forbidden)?;
        let to = c.text(&field, v, 1, 10, &[])?;
        units.insert(from, to);
    }

    let mut items = ItemXref::default();
    for (i, it) in raw.items.iter().enumerate() {
        let sku = c.text(&format!("items[{i}].sku"), &it.sku, 1, 64, &[])?;
        if it.buyer_part.is_none() && it.vendor_part.is_none() && it.gtin.is_none() {
            return Err(c.err(
                format!("items[{i}]"),
                "needs at least one of buyer_part, vendor_part, gtin",
            ));
        }
        for (name, v, map) in [
            ("buyer_part", &it.buyer_part, &mut items.by_buyer_part),
            ("vendor_part", &it.vendor_part, &mut items.by_vendor_part),
            ("gtin", &it.gtin, &mut items.by_gtin),
        ] {
            let Some(v) = v else { continue };
            let field = format!("items[{i}].{name}");
            let v = c.text(&field, v, 1, 48, &[])?;
            if name == "gtin" && !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(c.err(field, format!("{v:?} must be digits")));
            }
            if let Some(prev) = map.insert(v.clone(), sku.clone()) {
                if prev != sku {
                    return Err(c.err(field, format!("{v:?} is already mapped to SKU {prev:?}")));
                }
            }
        }
    }

    let cu = &raw.customers;
    let currency = cu.currency.clone().unwrap_or_else(|| "USD".into());
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(c.err(
            "customers.currency",
            format!("{currency:?} must be an ISO 4217 code (3 upper-case letters)"),
        ));
    }
    let default_customer_id = cu
        .default_customer_id
        .as_deref()
        .map(|v| c.text("customers.default_customer_id", v, 1, 64, &[]))
        .transpose()?;
    let parties = |field: &str, list: &[RawParty], ship_to: bool| {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, p) in list.iter().enumerate() {
            let f = |n: &str| format!("{field}[{i}].{n}");
            let qualifier = p
                .qualifier
                .as_deref()
                .map(|q| c.text(&f("qualifier"), q, 1, 2, &[]))
                .transpose()?;
            let id = c.text(&f("id"), &p.id, 2, 80, &[])?;
            let customer_id = c.text(&f("customer_id"), &p.customer_id, 1, 64, &[])?;
            if !ship_to && p.ship_to_id.is_some() {
                return Err(c.err(f("ship_to_id"), "only ship_to entries have a ship_to_id"));
            }
            let ship_to_id = p
                .ship_to_id
                .as_deref()
                .map(|s| c.text(&f("ship_to_id"), s, 1, 64, &[]))
                .transpose()?;
            if !seen.insert((qualifier.clone(), id.clone())) {
                return Err(c.err(f("id"), format!("{id:?} is listed twice")));
            }
            out.push(PartyMapping {
                qualifier,
                id,
                customer_id,
                ship_to_id,
            });
        }
        Ok::<_, GatewayError>(out)
    };
    let bill_to = parties("customers.bill_to", &cu.bill_to, false)?;
    let ship_to = parties("customers.ship_to", &cu.ship_to, true)?;
    if receive.contains(&DocKind::PurchaseOrder)
        && default_customer_id.is_none()
        && bill_to.is_empty()
        && ship_to.is_empty()
    {
        return Err(c.err(
            "customers",
            "the partner sends 850s but no customer mapping is given (default_customer_id, bill_to or ship_to)",
        ));
    }

    let resolve = |p: &Option<PathBuf>, default: &str| {
        let p = p
            .clone()
            .unwrap_or_else(|| PathBuf::from("partners").join(&id).join(default));
        if p.is_absolute() {
            p
        } else {
            data_dir.join(p)
        }
    };
    let inbox = resolve(&raw.paths.inbox, "inbox");
    let outbox = resolve(&raw.paths.outbox, "outbox");
    let processed = resolve(&raw.paths.processed, "processed");
    if inbox == outbox || inbox == processed || outbox == processed {
        return Err(c.err(
            "paths",
            "inbox, outbox and processed must be three different folders",
        ));
    }

    let mut upload_key_hashes = Vec::new();
    for (i, h) in raw.upload.api_key_sha256.iter().enumerate() {
        upload_key_hashes.push(files::parse_sha256_hex(&h.to_ascii_lowercase()).ok_or_else(
            || {
                c.err(
                    format!("upload.api_key_sha256[{i}]"),
                    "must be 64 hex digits (SHA-256 of the key)",
                )
            },
        )?);
    }

    Ok(PartnerProfile {
        id,
        name: raw.name,
        file: file.to_owned(),
        partner_qualifier,
        partner_isa_id,
        our_qualifier,
        our_isa_id,
        partner_application_id,
        our_application_id,
        version,
        isa_version,
        request_ta1: ic.request_ta1,
        separators,
        line_ending,
        receive,
        send,
        duplicate_window,
        ack_deadline,
        first_control_number,
        units,
        items,
        default_customer_id,
        currency,
        bill_to,
        ship_to,
        inbox,
        outbox,
        processed,
        upload_key_hashes,
    })
}

fn names(kinds: &[DocKind]) -> String {
    kinds
        .iter()
        .map(|k| match k {
            DocKind::PurchaseOrder => "850",
            DocKind::PoAck => "855",
            DocKind::FunctionalAck => "997",
            DocKind::Ta1 => "TA1",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "ACME"
[interchange]
partner_qualifier = "ZZ"
partner_id = "BUYERCO"
our_qualifier = "ZZ"
our_id = "DISTSYNC"
[customers]
default_customer_id = "C-1"
[[items]]
buyer_part = "ACM-1001"
sku = "WID-4410"
[units]
CA = "CS"
"#;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("edi-prof-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    fn load_text(name: &str, text: &str) -> Result<PartnerProfile, GatewayError> {
        let d = dir();
        let p = d.join(name);
        std::fs::write(&p, text).expect("write");
        let r = load_profile(&p, Path::new("/data"));
        let _ = std::fs::remove_dir_all(d);
        r
    }

    fn field_of(e: GatewayError) -> (String, String) {
        match e {
            GatewayError::Profile { field, message, .. } => (field, message),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn a_minimal_profile_gets_defaults() {
        let p = load_text("acme.toml", GOOD).expect("valid");
        assert_eq!(p.id, "ACME");
        assert_eq!(p.partner_application_id, "BUYERCO");
        assert_eq!(p.separators, Separators::STANDARD_00401);
        assert_eq!(p.isa_version, IsaVersion::V00401);
        assert_eq!(p.inbox, PathBuf::from("/data/partners/ACME/inbox"));
        assert_eq!(p.unit("CA"), "CS");
        assert_eq!(p.unit("EA"), "EA");
        assert_eq!(p.items.sku(Some("ACM-1001"), None, None), Some("WID-4410"));
        assert!(p.sends(DocKind::PoAck) && p.receives(DocKind::PurchaseOrder));
        assert_eq!(p.duplicate_window, Duration::from_secs(90 * 86_400));
    }

    #[test]
    fn errors_name_the_field() {
        let cases: Vec<(String, &str)> = vec![
            (
                GOOD.replace("our_id = \"DISTSYNC\"", "our_id = \"DIST*SYNC\""),
                "interchange.our_id",
            ),
            (
                GOOD.replace(
                    "our_id = \"DISTSYNC\"",
                    "our_id = \"DISTSYNC\"\nversion = \"003040\"",
                ),
                "interchange.version",
            ),
            (
                format!("{GOOD}\n[separators]\nelement = \"**\"\n"),
                "separators.element",
            ),
            (
                format!("{GOOD}\n[separators]\ncomponent = \"*\"\n"),
                "separators",
            ),
            (
                format!("{GOOD}\n[separators]\nrepetition = \"^\"\n"),
                "separators.repetition",
            ),
            (
                format!("{GOOD}\n[timing]\nack_deadline = \"soon\"\n"),
                "timing.ack_deadline",
            ),
            (
                format!("{GOOD}\n[documents]\nsend = [\"997\", \"810\"]\n"),
                "documents.send[1]",
            ),
            (
                format!("{GOOD}\n[[items]]\nbuyer_part = \"ACM-1001\"\nsku = \"OTHER\"\n"),
                "items[1].buyer_part",
            ),
            (
                format!("{GOOD}\n[upload]\napi_key_sha256 = [\"abc\"]\n"),
                "upload.api_key_sha256[0]",
            ),
            (
                GOOD.replace("default_customer_id = \"C-1\"", ""),
                "customers",
            ),
            (
                GOOD.replace("partner_qualifier = \"ZZ\"", "partner_qualifier = 12"),
                "interchange.partner_qualifier",
            ),
            (
                GOOD.replace(
                    "sku = \"WID-4410\"",
                    "sku = \"WID-4410\"\ncolour = \"blue\"",
                ),
                "items[0]",
            ),
        ];
        for (text, field) in cases {
            let (f, m) = field_of(load_text("acme.toml", &text).expect_err(field));
            assert!(f.starts_with(field), "expected {field}, got {f}: {m}");
        }
    }

    #[test]
    fn json_profiles_and_duplicates_across_files() {
        let d = dir();
        std::fs::write(d.join("a.toml"), GOOD).expect("write");
        let json = r#"{"id": "GLOBEX", "interchange": {"partner_qualifier": "01", "partner_id": "123456789",
            "our_qualifier": "ZZ", "our_id": "DISTSYNC", "version": "005010"},
            "separators": {"element": "|", "component": ">", "line_ending": "crlf"},
            "customers": {"ship_to": [{"qualifier": "92", "id": "0042", "customer_id": "C-9", "ship_to_id": "S1"}]}}"#;
        std::fs::write(d.join("b.json"), json).expect("write");
        let ps = load_profiles(&d, &d).expect("valid");
        assert_eq!(ps.len(), 2);
        let g = ps.get("GLOBEX").expect("globex");
        assert_eq!(g.separators.repetition, Some(b'^'));
        assert_eq!(g.line_ending, LineEnding::CrLf);
        std::fs::write(
            d.join("c.toml"),
            GOOD.replace("id = \"ACME\"", "id = \"ACME2\""),
        )
        .expect("write");
        let (f, m) = field_of(load_profiles(&d, &d).expect_err("dup isa"));
        assert_eq!(f, "interchange.partner_id", "{m}");
        std::fs::write(d.join("c.toml"), "id = \"X\"\n[interchange\n").expect("write");
        let e = load_profiles(&d, &d).expect_err("syntax");
        assert!(e.to_string().contains("c.toml"), "{e}");
        let _ = std::fs::remove_dir_all(d);
    }
}

#[cfg(test)]
pub(crate) use crate::testkit::{test_profile, ACME_PROFILE as TEST_PROFILE};

#[cfg(test)]
mod sample_tests {
    use super::*;

    #[test]
    fn the_sample_profiles_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("partners");
        let ps = load_profiles(&dir, Path::new("/var/lib/edi")).expect("samples");
        assert_eq!(ps.len(), 2);
        let acme = ps.get("ACME").expect("acme");
        assert_eq!(
            acme.inbox,
            PathBuf::from("/var/lib/edi/partners/ACME/inbox")
        );
        let globex = ps.get("GLOBEX").expect("globex");
        assert_eq!(globex.isa_version, IsaVersion::V00501);
        assert_eq!(globex.first_control_number, 5000);
        assert_eq!(
            globex.processed,
            PathBuf::from("/var/lib/edi/partners/GLOBEX/processed")
        );
    }
}

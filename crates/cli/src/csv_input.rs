//! CSV rows to events: the column mapping.
//!
//! One file holds one event type. The header row names the columns, each the path of a field
//! of the event (`customer_id`, `bill_to.city`, `metadata.occurred_at`); the metadata columns
//! are optional like the rest of the metadata block. A cell is written by the field's type:
//!
//! | field type | cell |
//! |---|---|
//! | string | the text (surrounding spaces removed) |
//! | boolean | `true`/`false`, `Y`/`N`, `yes`/`no`, `1`/`0` |
//! | int, long, double | a number |
//! | enum | a symbol, any case (`backorder`) |
//! | date | `YYYY-MM-DD` |
//! | timestamp | RFC 3339 (`2026-03-01T06:00:00Z`), `YYYY-MM-DD` (midnight UTC) or epoch ms |
//! | `Money` | a decimal amount with an optional currency: `1250.00`, `1250.00 USD`, `USD 1250`; without one, the row's `currency` column applies (the record's own field, or a column only for this when the record has none) |
//! | other record | its fields as separate columns (`bill_to.line1`, `bill_to.city`, ...), or the record as JSON |
//! | list | entries separated by `;`; a list of records gives each entry's fields in schema order separated by `:` (nested records flattened in place, trailing fields may be left out): units of measure `EA:1;CS:12;PL:960` (`unit:factor_to_base:gtin:orderable`); or the list as JSON (`[...]`) |
//! | map | JSON |
//!
//! `\;`, `\:` and `\\` escape the separators inside list entries. An empty cell leaves the
//! field out (so an optional field is null and a field with a schema default takes it; an
//! empty list cell is an empty list). A CSV export also gets these defaults, where the schema
//! has none: `ItemUnit.orderable` true, `CustomerShipTo.is_default` false,
//! `CustomerShipTo.active` true, `CustomerUpserted.active` true, `CustomerUpserted.on_hold`
//! false, `ItemUpserted.status` ACTIVE, `ItemUpserted.sellable` true,
//! `WarehouseLocationUpserted.active` true.

use serde_json::{Map, Number, Value};

use crate::avro::{FieldError, Model, Ty};

/// Defaults a CSV export gets for fields the schema gives none: (record, field, JSON value).
const CSV_DEFAULTS: &[(&str, &str, &str)] = &[
    ("ItemUnit", "orderable", "true"),
    ("CustomerShipTo", "is_default", "false"),
    ("CustomerShipTo", "active", "true"),
    ("CustomerUpserted", "active", "true"),
    ("CustomerUpserted", "on_hold", "false"),
    ("ItemUpserted", "status", "\"ACTIVE\""),
    ("ItemUpserted", "sellable", "true"),
    ("WarehouseLocationUpserted", "active", "true"),
];

/// One column: the field path it fills and the field's type.
#[derive(Debug, Clone)]
struct Column {
    path: Vec<String>,
    ty: Option<Ty>,
}

/// The mapping of a header row onto an event type's fields.
#[derive(Debug, Clone)]
pub struct CsvMapping {
    columns: Vec<Column>,
    /// Index of the `currency` column, if any.
    currency: Option<usize>,
}

impl CsvMapping {
    /// Maps a header row; an unknown column is an error naming it.
    pub fn new(model: &Model, headers: &[&str]) -> Result<Self, String> {
        let root = model.root();
        let mut columns = Vec::with_capacity(headers.len());
        let mut currency = None;
        for (i, h) in headers.iter().enumerate() {
            let h = h.trim();
            if h == "currency" {
                currency = Some(i);
                if root.field("currency").is_none() {
                    // Only the currency of amounts written without one.
                    columns.push(Column {
                        path: vec![],
                        ty: None,
                    });
                    continue;
                }
            }
            let path: Vec<String> = h.split('.').map(str::to_owned).collect();
            let mut record = root;
            let mut ty = None;
            for (depth, seg) in path.iter().enumerate() {
                let f = record.field(seg).ok_or_else(|| {
                    format!(
                        "unknown column {h:?}: {} has no field {seg:?} (fields: {})",
                        record.simple_name(),
                        record
                            .fields
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
                if depth + 1 < path.len() {
                    record = model
                        .record_of(&f.ty)
                        .ok_or_else(|| format!("unknown column {h:?}: {seg:?} is not a record"))?;
                } else {
                    ty = Some(f.ty.clone());
                }
            }
            if columns.iter().any(|c: &Column| c.path == path) {
                return Err(format!("column {h:?} appears twice"));
            }
            columns.push(Column { path, ty });
        }
        Ok(Self { columns, currency })
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the header row was empty.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The event (Avro-shaped JSON, before normalization) of one row.
    pub fn row(&self, model: &Model, cells: &[&str]) -> Result<Value, FieldError> {
        if cells.len() != self.columns.len() {
            return Err(FieldError::new(
                "",
                format!(
                    "{} cells, the header has {} columns",
                    cells.len(),
                    self.columns.len()
                ),
            ));
        }
        let currency = self
            .currency
            .and_then(|i| cells.get(i))
            .map(|c| c.trim())
            .filter(|c| !c.is_empty());
        let mut out = Value::Object(Map::new());
        for (col, cell) in self.columns.iter().zip(cells) {
            let Some(ty) = &col.ty else { continue };
            let path = col.path.join(".");
            let v = if cell.trim().is_empty() {
                match model.non_null(ty) {
                    Ty::Array(_) => Value::Array(vec![]),
                    _ => continue,
                }
            } else {
                cell_value(model, ty, cell, &path, currency)?
            };
            set_path(&mut out, &col.path, v).map_err(|m| FieldError::new(&path, m))?;
        }
        apply_defaults(model, &Ty::Record(model.root), &mut out);
        Ok(out)
    }
}

/// Puts `v` at `path` in `root`, creating the objects on the way.
fn set_path(root: &mut Value, path: &[String], v: Value) -> Result<(), String> {
    let mut cur = root;
    for (i, seg) in path.iter().enumerate() {
        let Value::Object(o) = cur else {
            return Err("conflicts with another column giving the whole record".into());
        };
        if i + 1 == path.len() {
            if o.contains_key(seg) {
                return Err("given twice".into());
            }
            o.insert(seg.clone(), v);
            return Ok(());
        }
        cur = o
            .entry(seg.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

/// Adds the CSV defaults to every record object in `v`.
fn apply_defaults(model: &Model, ty: &Ty, v: &mut Value) {
    match (model.non_null(ty), v) {
        (Ty::Record(i), Value::Object(o)) => {
            let r = &model.records[*i];
            for (rec, field, json) in CSV_DEFAULTS {
                if *rec == r.simple_name() && !o.contains_key(*field) {
                    if let Ok(d) = serde_json::from_str(json) {
                        o.insert((*field).to_owned(), d);
                    }
                }
            }
            for f in &r.fields {
                if let Some(x) = o.get_mut(&f.name) {
                    apply_defaults(model, &f.ty, x);
                }
            }
        }
        (Ty::Array(items), Value::Array(a)) => {
            for x in a {
                apply_defaults(model, items, x);
            }
        }
        _ => {}
    }
}

fn is_money(model: &Model, ty: &Ty) -> bool {
    model
        .record_of(ty)
        .is_some_and(|r| r.simple_name() == "Money" && r.field("amount_minor").is_some())
}

/// The value of one cell of type `ty`.
fn cell_value(
    model: &Model,
    ty: &Ty,
    cell: &str,
    path: &str,
    currency: Option<&str>,
) -> Result<Value, FieldError> {
    let s = cell.trim();
    let err = |m: String| FieldError::new(path, m);
    match model.non_null(ty) {
        Ty::String | Ty::Bytes | Ty::Enum(_) | Ty::Date => Ok(Value::String(s.to_owned())),
        Ty::TimestampMillis => Ok(match s.parse::<i64>() {
            Ok(n) => Value::Number(n.into()),
            Err(_) => Value::String(s.to_owned()),
        }),
        Ty::Boolean => parse_bool(s).map(Value::Bool).ok_or_else(|| {
            err(format!(
                "expected true/false (or Y/N, yes/no, 1/0), found {s:?}"
            ))
        }),
        Ty::Int | Ty::Long => s
            .parse::<i64>()
            .map(|n| Value::Number(n.into()))
            .map_err(|_| err(format!("expected a whole number, found {s:?}"))),
        Ty::Float | Ty::Double => s
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| err(format!("expected a number, found {s:?}"))),
        Ty::Map(_) => serde_json::from_str(s).map_err(|e| err(format!("expected JSON: {e}"))),
        t @ Ty::Record(_) => {
            if s.starts_with('{') {
                serde_json::from_str(s).map_err(|e| err(format!("expected JSON: {e}")))
            } else if is_money(model, t) {
                parse_money(s, currency).map_err(err)
            } else {
                Err(err(
                    "write the record's fields as separate columns (path.field) or the record as JSON"
                        .into(),
                ))
            }
        }
        Ty::Array(items) => {
            if s.starts_with('[') {
                return serde_json::from_str(s).map_err(|e| err(format!("expected JSON: {e}")));
            }
            let mut out = Vec::new();
            for (i, entry) in split_escaped(s, ';').iter().enumerate() {
                let entry = entry.trim();
                if entry.is_empty() {
                    continue;
                }
                let p = format!("{path}[{i}]");
                out.push(entry_value(model, items, entry, &p, currency)?);
            }
            Ok(Value::Array(out))
        }
        Ty::Null | Ty::Union(_) => Err(err("this field cannot be written in CSV".into())),
    }
}

/// The leaf fields of a record in schema order, nested records (other than money) flattened.
fn leaves(model: &Model, ty: &Ty, prefix: &[String], out: &mut Vec<(Vec<String>, Ty)>) {
    match model.record_of(ty) {
        Some(r) if !is_money(model, ty) => {
            for f in &r.fields {
                let mut p = prefix.to_vec();
                p.push(f.name.clone());
                if model.record_of(&f.ty).is_some() && !is_money(model, &f.ty) {
                    leaves(model, &f.ty, &p, out);
                } else {
                    out.push((p, f.ty.clone()));
                }
            }
        }
        _ => out.push((prefix.to_vec(), ty.clone())),
    }
}

/// One list entry: a record's fields separated by `:`, or a single value.
fn entry_value(
    model: &Model,
    items: &Ty,
    entry: &str,
    path: &str,
    currency: Option<&str>,
) -> Result<Value, FieldError> {
    if model.record_of(items).is_none() || is_money(model, items) {
        return cell_value(model, items, &unescape(entry), path, currency);
    }
    if entry.starts_with('{') {
        return serde_json::from_str(entry)
            .map_err(|e| FieldError::new(path, format!("expected JSON: {e}")));
    }
    let mut fields = Vec::new();
    leaves(model, items, &[], &mut fields);
    let parts = split_escaped(entry, ':');
    if parts.len() > fields.len() {
        return Err(FieldError::new(
            path,
            format!(
                "{} parts, at most {} expected ({})",
                parts.len(),
                fields.len(),
                fields
                    .iter()
                    .map(|(p, _)| p.join("."))
                    .collect::<Vec<_>>()
                    .join(":")
            ),
        ));
    }
    let mut out = Value::Object(Map::new());
    for ((sub, ty), part) in fields.iter().zip(&parts) {
        if part.trim().is_empty() {
            continue;
        }
        let p = format!("{path}.{}", sub.join("."));
        let v = cell_value(model, ty, &unescape(part), &p, currency)?;
        set_path(&mut out, sub, v).map_err(|m| FieldError::new(&p, m))?;
    }
    Ok(out)
}

/// Splits on `sep` where it is not escaped by `\`; the escapes stay (see [`unescape`]).
pub fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == sep {
            out.push(String::new());
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        cur.push(c);
        if c == '\\' {
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        }
    }
    out
}

/// Removes the `\` escapes (`\;`, `\:`, `\\`) of a list value.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `true`/`false`, `Y`/`N`, `yes`/`no`, `1`/`0`, `t`/`f`, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "y" | "yes" | "1" => Some(true),
        "false" | "f" | "n" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// Digits after the decimal point of a currency's minor unit (ISO 4217).
pub fn currency_exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `1250.00`, `1250.00 USD` or `USD 1250.00` as `{amount_minor, currency}`; exact (no
/// floating point), and more decimals than the currency has is an error.
pub fn parse_money(s: &str, default_currency: Option<&str>) -> Result<Value, String> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let is_code = |p: &str| p.len() == 3 && p.chars().all(|c| c.is_ascii_alphabetic());
    let (amount, currency) = match parts.as_slice() {
        [a] => (*a, default_currency.map(str::to_owned)),
        [a, c] if is_code(c) => (*a, Some(c.to_uppercase())),
        [c, a] if is_code(c) => (*a, Some(c.to_uppercase())),
        _ => {
            return Err(format!(
                "expected an amount like 1250.00 or 1250.00 USD, found {s:?}"
            ))
        }
    };
    let currency = currency.ok_or_else(|| {
        format!("no currency for {s:?}: write it as {s} USD or add a currency column")
    })?;
    let minor = decimal_to_minor(amount, currency_exponent(&currency))?;
    Ok(serde_json::json!({ "amount_minor": minor, "currency": currency }))
}

/// A decimal string as a whole number of `10^-exponent` units.
pub fn decimal_to_minor(s: &str, exponent: u32) -> Result<i64, String> {
    let bad = || format!("expected a decimal amount, found {s:?}");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    if frac.len() > exponent as usize {
        let extra = &frac[exponent as usize..];
        if extra.chars().any(|c| c != '0') {
            return Err(format!(
                "{s:?} has more than {exponent} decimals (the currency's minor unit)"
            ));
        }
    }
    let mut frac_digits: String = frac.chars().take(exponent as usize).collect();
    while frac_digits.len() < exponent as usize {
        frac_digits.push('0');
    }
    let whole = format!("{}{frac_digits}", if int.is_empty() { "0" } else { int });
    let n: i64 = whole.parse().map_err(|_| bad())?;
    Ok(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(record: &str) -> Model {
        let full = format!("com.distsync.events.{record}");
        let (_, json, _) = dsync_events::schemas::ALL
            .iter()
            .find(|(n, _, _)| *n == full)
            .copied()
            .expect("schema");
        Model::parse(json).expect("parse")
    }

    #[test]
    fn money_is_exact_and_takes_the_row_currency() {
        assert_eq!(decimal_to_minor("1250", 2), Ok(125_000));
        assert_eq!(decimal_to_minor("12.5", 2), Ok(1_250));
        assert_eq!(decimal_to_minor("-0.07", 2), Ok(-7));
        assert_eq!(decimal_to_minor("3.10", 0).ok(), None);
        assert_eq!(decimal_to_minor("3.00", 0), Ok(3));
        assert!(decimal_to_minor("12,50", 2).is_err());
        assert_eq!(
            parse_money("99.95 usd", None),
            Ok(json!({"amount_minor": 9995, "currency": "USD"}))
        );
        assert_eq!(
            parse_money("JPY 1200", Some("USD")),
            Ok(json!({"amount_minor": 1200, "currency": "JPY"}))
        );
        assert!(parse_money("10", None).is_err());
    }

    #[test]
    fn items_with_units_of_measure() {
        let m = model("ItemUpserted");
        let map = CsvMapping::new(
            &m,
            &["sku", "description", "base_unit", "units", "category"],
        )
        .expect("mapping");
        let v = map
            .row(
                &m,
                &[
                    "JS-1001",
                    "Cleaner 32 oz",
                    "EA",
                    "EA:1:012345678905;CS:12;PL:720::N",
                    "",
                ],
            )
            .expect("row");
        assert_eq!(
            v["units"],
            json!([
                {"unit": "EA", "factor_to_base": 1, "gtin": "012345678905", "orderable": true},
                {"unit": "CS", "factor_to_base": 12, "orderable": true},
                {"unit": "PL", "factor_to_base": 720, "orderable": false}
            ])
        );
        assert_eq!(v["status"], "ACTIVE");
        assert!(v.get("category").is_none());
        let e = map
            .row(&m, &["JS-1", "x", "EA", "EA:1;CS:twelve", ""])
            .expect_err("bad factor");
        assert_eq!(e.path, "units[1].factor_to_base");
        assert!(CsvMapping::new(&m, &["sku", "colour"]).is_err());
    }

    #[test]
    fn customers_with_nested_columns_and_ship_tos() {
        let m = model("CustomerUpserted");
        let map = CsvMapping::new(
            &m,
            &[
                "customer_id",
                "currency",
                "credit_limit",
                "bill_to.city",
                "ship_tos",
            ],
        )
        .expect("mapping");
        let v = map
            .row(
                &m,
                &[
                    "C1",
                    "USD",
                    "25000",
                    "Dallas",
                    "ST1:Main:1 Elm St::Dallas:TX:75201:US:0071:DAL:Y;ST2:Annex\\: rear:2 Oak::Plano:TX::US",
                ],
            )
            .expect("row");
        assert_eq!(
            v["credit_limit"],
            json!({"amount_minor": 2_500_000, "currency": "USD"})
        );
        assert_eq!(v["bill_to"], json!({"city": "Dallas"}));
        assert_eq!(v["ship_tos"][0]["address"]["region"], "TX");
        assert_eq!(v["ship_tos"][0]["is_default"], true);
        assert_eq!(v["ship_tos"][1]["name"], "Annex: rear");
        assert_eq!(v["ship_tos"][1]["is_default"], false);
        assert_eq!(v["ship_tos"][1]["active"], true);
        assert!(v["ship_tos"][1]["address"].get("postal_code").is_none());
    }
}

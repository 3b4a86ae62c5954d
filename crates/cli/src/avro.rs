//! A small model of an event's Avro schema (parsed from its JSON), used to turn input into the
//! Avro-shaped JSON the generated types deserialize: defaults for omitted fields, dates and
//! timestamps written as text, enum symbols in any case, unions in plain or Avro JSON form,
//! unknown fields and wrong types reported with the field's path.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Number, Value};

/// A type of the schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// `null`
    Null,
    /// `boolean`
    Boolean,
    /// `int`
    Int,
    /// `long`
    Long,
    /// `float`
    Float,
    /// `double`
    Double,
    /// `string`
    String,
    /// `bytes` or `fixed` (passed through)
    Bytes,
    /// `int` with logical type `date` (days since the epoch)
    Date,
    /// `long` with logical type `timestamp-millis`
    TimestampMillis,
    /// A record, by index into [`Model::records`].
    Record(usize),
    /// An enum, by index into [`Model::enums`].
    Enum(usize),
    /// An array.
    Array(Box<Ty>),
    /// A map with string keys.
    Map(Box<Ty>),
    /// A union.
    Union(Vec<Ty>),
}

/// A record type.
#[derive(Debug, Clone)]
pub struct RecordDef {
    /// Full name.
    pub name: String,
    /// Fields in schema order.
    pub fields: Vec<FieldDef>,
}

impl RecordDef {
    /// The simple name (without namespace).
    pub fn simple_name(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A field of a record.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// Field name.
    pub name: String,
    /// Its type.
    pub ty: Ty,
    /// Its default, if the schema gives one.
    pub default: Option<Value>,
}

/// An enum type.
#[derive(Debug, Clone)]
pub struct EnumDef {
    /// Full name.
    pub name: String,
    /// Symbols in schema order.
    pub symbols: Vec<String>,
}

/// A parsed schema: its named types and the root record.
#[derive(Debug, Clone)]
pub struct Model {
    /// Every record type.
    pub records: Vec<RecordDef>,
    /// Every enum type.
    pub enums: Vec<EnumDef>,
    /// The root record.
    pub root: usize,
    names: HashMap<String, Ty>,
}

/// A value that does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field (`lines[0].quantity`); empty for the whole record.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// Joins a field name to a path.
pub(crate) fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

impl Model {
    /// Parses a record schema.
    pub fn parse(schema_json: &str) -> Result<Self, String> {
        let json: Value =
            serde_json::from_str(schema_json).map_err(|e| format!("schema is not JSON: {e}"))?;
        let mut m = Model {
            records: Vec::new(),
            enums: Vec::new(),
            root: 0,
            names: HashMap::new(),
        };
        match m.parse_ty(&json, "")? {
            Ty::Record(i) => m.root = i,
            _ => return Err("schema is not a record".into()),
        }
        Ok(m)
    }

    /// The root record.
    pub fn root(&self) -> &RecordDef {
        &self.records[self.root]
    }

    fn full_name(name: &str, namespace: Option<&str>, enclosing: &str) -> String {
        if name.contains('.') {
            return name.to_owned();
        }
        match namespace.or((!enclosing.is_empty()).then_some(enclosing)) {
            Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
            _ => name.to_owned(),
        }
    }

    fn lookup(&self, name: &str, enclosing: &str) -> Option<Ty> {
        let full = Self::full_name(name, None, enclosing);
        self.names
            .get(&full)
            .or_else(|| self.names.get(name))
            .cloned()
    }

    fn parse_ty(&mut self, v: &Value, ns: &str) -> Result<Ty, String> {
        match v {
            Value::String(s) => self.parse_name(s, ns),
            Value::Array(branches) => branches
                .iter()
                .map(|b| self.parse_ty(b, ns))
                .collect::<Result<Vec<_>, _>>()
                .map(Ty::Union),
            Value::Object(o) => {
                let ty = o
                    .get("type")
                    .ok_or_else(|| "type without \"type\"".to_owned())?;
                let logical = o.get("logicalType").and_then(Value::as_str);
                match ty.as_str() {
                    Some("record") | Some("error") => self.parse_record(o, ns),
                    Some("enum") => {
                        let name = o
                            .get("name")
                            .and_then(Value::as_str)
                            .ok_or("enum without name")?;
                        let full =
                            Self::full_name(name, o.get("namespace").and_then(Value::as_str), ns);
                        let symbols = o
                            .get("symbols")
                            .and_then(Value::as_array)
                            .ok_or("enum without symbols")?
                            .iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect();
                        self.enums.push(EnumDef {
                            name: full.clone(),
                            symbols,
                        });
                        let t = Ty::Enum(self.enums.len() - 1);
                        self.names.insert(full, t.clone());
                        Ok(t)
                    }
                    Some("array") => {
                        let items = o.get("items").ok_or("array without items")?;
                        Ok(Ty::Array(Box::new(self.parse_ty(items, ns)?)))
                    }
                    Some("map") => {
                        let values = o.get("values").ok_or("map without values")?;
                        Ok(Ty::Map(Box::new(self.parse_ty(values, ns)?)))
                    }
                    Some("fixed") => {
                        if let Some(name) = o.get("name").and_then(Value::as_str) {
                            let full = Self::full_name(
                                name,
                                o.get("namespace").and_then(Value::as_str),
                                ns,
                            );
                            self.names.insert(full, Ty::Bytes);
                        }
                        Ok(Ty::Bytes)
                    }
                    Some("int") if logical == Some("date") => Ok(Ty::Date),
                    Some("long") if logical == Some("timestamp-millis") => Ok(Ty::TimestampMillis),
                    _ => self.parse_ty(ty, ns),
                }
            }
            other => Err(format!("unexpected type {other}")),
        }
    }

    fn parse_name(&mut self, s: &str, ns: &str) -> Result<Ty, String> {
        Ok(match s {
            "null" => Ty::Null,
            "boolean" => Ty::Boolean,
            "int" => Ty::Int,
            "long" => Ty::Long,
            "float" => Ty::Float,
            "double" => Ty::Double,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            name => self
                .lookup(name, ns)
                .ok_or_else(|| format!("unknown type {name}"))?,
        })
    }

    fn parse_record(&mut self, o: &Map<String, Value>, ns: &str) -> Result<Ty, String> {
        let name = o
            .get("name")
            .and_then(Value::as_str)
            .ok_or("record without name")?;
        let full = Self::full_name(name, o.get("namespace").and_then(Value::as_str), ns);
        let own_ns = full
            .rsplit_once('.')
            .map(|(n, _)| n.to_owned())
            .unwrap_or_default();
        let index = self.records.len();
        self.records.push(RecordDef {
            name: full.clone(),
            fields: Vec::new(),
        });
        self.names.insert(full, Ty::Record(index));
        let mut fields = Vec::new();
        for f in o
            .get("fields")
            .and_then(Value::as_array)
            .ok_or("record without fields")?
        {
            let fname = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or("field without name")?;
            let fty = f.get("type").ok_or("field without type")?;
            fields.push(FieldDef {
                name: fname.to_owned(),
                ty: self.parse_ty(fty, &own_ns)?,
                default: f.get("default").cloned(),
            });
        }
        self.records[index].fields = fields;
        Ok(Ty::Record(index))
    }

    /// The record a type is, looking through a `["null", record]` union.
    pub fn record_of(&self, ty: &Ty) -> Option<&RecordDef> {
        match ty {
            Ty::Record(i) => self.records.get(*i),
            Ty::Union(bs) => {
                let non_null: Vec<&Ty> = bs.iter().filter(|b| **b != Ty::Null).collect();
                match non_null.as_slice() {
                    [one] => self.record_of(one),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The type of a union's single non-null branch (the type itself when not a union).
    pub fn non_null<'a>(&self, ty: &'a Ty) -> &'a Ty {
        match ty {
            Ty::Union(bs) => {
                let non_null: Vec<&Ty> = bs.iter().filter(|b| **b != Ty::Null).collect();
                match non_null.as_slice() {
                    [one] => one,
                    _ => ty,
                }
            }
            _ => ty,
        }
    }

    /// The name a union branch is tagged with in Avro's JSON encoding.
    fn branch_names(&self, ty: &Ty) -> Vec<String> {
        match ty {
            Ty::Null => vec!["null".into()],
            Ty::Boolean => vec!["boolean".into()],
            Ty::Int | Ty::Date => vec!["int".into()],
            Ty::Long | Ty::TimestampMillis => vec!["long".into()],
            Ty::Float => vec!["float".into()],
            Ty::Double => vec!["double".into()],
            Ty::String => vec!["string".into()],
            Ty::Bytes => vec!["bytes".into()],
            Ty::Array(_) => vec!["array".into()],
            Ty::Map(_) => vec!["map".into()],
            Ty::Union(_) => vec![],
            Ty::Record(i) => self
                .records
                .get(*i)
                .map(|r| vec![r.name.clone(), r.simple_name().to_owned()])
                .unwrap_or_default(),
            Ty::Enum(i) => self
                .enums
                .get(*i)
                .map(|e| {
                    let simple = e.name.rsplit('.').next().unwrap_or(&e.name).to_owned();
                    vec![e.name.clone(), simple]
                })
                .unwrap_or_default(),
        }
    }

    /// Normalizes a value of the root record (see the module docs).
    pub fn normalize_root(&self, v: Value) -> Result<Value, FieldError> {
        self.normalize(&Ty::Record(self.root), v, "")
    }

    /// Normalizes `v` as a value of `ty` at `path`.
    pub fn normalize(&self, ty: &Ty, v: Value, path: &str) -> Result<Value, FieldError> {
        let found = |v: &Value| -> String {
            let s = v.to_string();
            if s.len() > 40 {
                format!(
                    "{}...",
                    &s[..s.char_indices().nth(37).map_or(s.len(), |(i, _)| i)]
                )
            } else {
                s
            }
        };
        match ty {
            Ty::Null => match v {
                Value::Null => Ok(v),
                other => Err(FieldError::new(
                    path,
                    format!("expected null, found {}", found(&other)),
                )),
            },
            Ty::Boolean => match v {
                Value::Bool(_) => Ok(v),
                other => Err(FieldError::new(
                    path,
                    format!("expected true or false, found {}", found(&other)),
                )),
            },
            Ty::Int | Ty::Long => {
                let (lo, hi, what) = if *ty == Ty::Int {
                    (i64::from(i32::MIN), i64::from(i32::MAX), "a 32-bit integer")
                } else {
                    (i64::MIN, i64::MAX, "a 64-bit integer")
                };
                match v.as_i64() {
                    Some(n) if n >= lo && n <= hi => Ok(v),
                    _ => Err(FieldError::new(
                        path,
                        format!("expected {what}, found {}", found(&v)),
                    )),
                }
            }
            Ty::Float | Ty::Double => match v {
                Value::Number(_) => Ok(v),
                other => Err(FieldError::new(
                    path,
                    format!("expected a number, found {}", found(&other)),
                )),
            },
            Ty::String => match v {
                Value::String(_) => Ok(v),
                other => Err(FieldError::new(
                    path,
                    format!("expected a string, found {}", found(&other)),
                )),
            },
            Ty::Bytes => Ok(v),
            Ty::Date => match &v {
                Value::Number(n) if n.as_i64().is_some_and(|d| i32::try_from(d).is_ok()) => Ok(v),
                Value::String(s) => parse_date(s)
                    .map(|d| Value::Number(Number::from(dsync_events::serde_util::date_to_days(d))))
                    .ok_or_else(|| {
                        FieldError::new(path, format!("expected a date YYYY-MM-DD, found {s:?}"))
                    }),
                other => Err(FieldError::new(
                    path,
                    format!("expected a date YYYY-MM-DD, found {}", found(other)),
                )),
            },
            Ty::TimestampMillis => match &v {
                Value::Number(n) if n.as_i64().is_some() => Ok(v),
                Value::String(s) => parse_timestamp(s)
                    .map(|t| Value::Number(Number::from(t.timestamp_millis())))
                    .ok_or_else(|| {
                        FieldError::new(
                            path,
                            format!(
                                "expected a timestamp (RFC 3339, e.g. 2026-03-01T08:00:00Z, or epoch milliseconds), found {s:?}"
                            ),
                        )
                    }),
                other => Err(FieldError::new(
                    path,
                    format!("expected a timestamp, found {}", found(other)),
                )),
            },
            Ty::Enum(i) => {
                let e = &self.enums[*i];
                let symbol = v.as_str().map(str::to_owned);
                match symbol {
                    Some(s) if e.symbols.contains(&s) => Ok(Value::String(s)),
                    Some(s) if e.symbols.contains(&s.to_uppercase()) => {
                        Ok(Value::String(s.to_uppercase()))
                    }
                    _ => Err(FieldError::new(
                        path,
                        format!(
                            "expected one of {}, found {}",
                            e.symbols
                                .iter()
                                .filter(|s| *s != "UNKNOWN")
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", "),
                            found(&v)
                        ),
                    )),
                }
            }
            Ty::Array(items) => match v {
                Value::Array(a) => a
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| self.normalize(items, x, &format!("{path}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array),
                other => Err(FieldError::new(
                    path,
                    format!("expected a list, found {}", found(&other)),
                )),
            },
            Ty::Map(values) => match v {
                Value::Object(o) => {
                    let mut out = Map::new();
                    for (k, x) in o {
                        let p = join(path, &k);
                        out.insert(k, self.normalize(values, x, &p)?);
                    }
                    Ok(Value::Object(out))
                }
                other => Err(FieldError::new(
                    path,
                    format!("expected an object, found {}", found(&other)),
                )),
            },
            Ty::Union(branches) => {
                if v.is_null() {
                    return if branches.contains(&Ty::Null) {
                        Ok(Value::Null)
                    } else {
                        Err(FieldError::new(path, "must not be null"))
                    };
                }
                // Avro JSON encoding: {"<branch type name>": value}.
                if let Value::Object(o) = &v {
                    if o.len() == 1 {
                        if let Some((tag, inner)) = o.iter().next() {
                            if let Some(b) =
                                branches.iter().find(|b| self.branch_names(b).contains(tag))
                            {
                                return self.normalize(b, inner.clone(), path);
                            }
                        }
                    }
                }
                let mut first_err = None;
                for b in branches.iter().filter(|b| **b != Ty::Null) {
                    match self.normalize(b, v.clone(), path) {
                        Ok(x) => return Ok(x),
                        Err(e) => {
                            first_err.get_or_insert(e);
                        }
                    }
                }
                Err(first_err.unwrap_or_else(|| FieldError::new(path, "no branch of the union fits")))
            }
            Ty::Record(i) => {
                let r = &self.records[*i];
                let Value::Object(mut o) = v else {
                    return Err(FieldError::new(
                        path,
                        format!("expected an object ({}), found {}", r.simple_name(), found(&v)),
                    ));
                };
                if let Some(unknown) = o.keys().find(|k| r.field(k).is_none()) {
                    return Err(FieldError::new(
                        &join(path, unknown),
                        format!("unknown field (not in {})", r.simple_name()),
                    ));
                }
                let mut out = Map::new();
                for f in &r.fields {
                    let p = join(path, &f.name);
                    match o.remove(&f.name) {
                        Some(x) => {
                            out.insert(f.name.clone(), self.normalize(&f.ty, x, &p)?);
                        }
                        None => match &f.default {
                            Some(d) => {
                                out.insert(f.name.clone(), d.clone());
                            }
                            None => return Err(FieldError::new(&p, "missing required field")),
                        },
                    }
                }
                Ok(Value::Object(out))
            }
        }
    }
}

impl Model {
    /// The readable form of a value of the root record in the Avro JSON shape (what the
    /// generated types serialize to), which [`Model::normalize_root`] reads back to the same
    /// value: fields that are null left out, dates as `YYYY-MM-DD`, timestamps as RFC 3339.
    pub fn readable_root(&self, v: Value) -> Value {
        self.readable(&Ty::Record(self.root), v)
    }

    /// The readable form of `v` as a value of `ty` (see [`Model::readable_root`]); what does not
    /// fit `ty` is left as it is.
    pub fn readable(&self, ty: &Ty, v: Value) -> Value {
        match (ty, v) {
            (Ty::Date, Value::Number(n)) => match n
                .as_i64()
                .and_then(|d| i32::try_from(d).ok())
                .and_then(dsync_events::serde_util::days_to_date)
            {
                Some(d) => Value::String(d.format("%Y-%m-%d").to_string()),
                None => Value::Number(n),
            },
            (Ty::TimestampMillis, Value::Number(n)) => {
                match n.as_i64().and_then(DateTime::<Utc>::from_timestamp_millis) {
                    Some(t) => Value::String(format_timestamp(t)),
                    None => Value::Number(n),
                }
            }
            (Ty::Array(items), Value::Array(a)) => {
                Value::Array(a.into_iter().map(|x| self.readable(items, x)).collect())
            }
            (Ty::Map(values), Value::Object(o)) => Value::Object(
                o.into_iter()
                    .map(|(k, x)| (k, self.readable(values, x)))
                    .collect(),
            ),
            (Ty::Union(_), Value::Null) => Value::Null,
            (Ty::Union(_), v) => self.readable(self.non_null(ty), v),
            (Ty::Record(i), Value::Object(mut o)) => {
                let mut out = Map::new();
                for f in &self.records[*i].fields {
                    if let Some(x) = o.remove(&f.name) {
                        let x = self.readable(&f.ty, x);
                        if !x.is_null() {
                            out.insert(f.name.clone(), x);
                        }
                    }
                }
                out.extend(o);
                Value::Object(out)
            }
            (_, v) => v,
        }
    }
}

/// RFC 3339 in UTC, with fractional seconds only when there are any
/// (`2026-11-21T15:04:05Z`).
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// RFC 3339, `YYYY-MM-DD` (midnight UTC) or epoch milliseconds.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Some(d) = parse_date(s) {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    s.parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model() -> Model {
        let (_, json, _) = dsync_events::schemas::ALL
            .iter()
            .find(|(n, _, _)| *n == "com.distsync.events.OrderSubmitted")
            .copied()
            .expect("OrderSubmitted");
        Model::parse(json).expect("parse")
    }

    #[test]
    fn parses_shared_named_types_once() {
        let m = model();
        assert_eq!(m.root().simple_name(), "OrderSubmitted");
        assert!(m
            .records
            .iter()
            .any(|r| r.name == "com.distsync.events.Money"));
        assert_eq!(
            m.records
                .iter()
                .filter(|r| r.name == "com.distsync.events.Address")
                .count(),
            1
        );
    }

    #[test]
    fn fills_defaults_converts_dates_and_reports_paths() {
        let m = model();
        let v = json!({
            "metadata": {"event_id": "e", "event_type": "OrderSubmitted",
                "occurred_at": "2026-03-01T08:00:00Z", "correlation_id": "e",
                "source_system": "crm", "schema_version": 1},
            "order_id": "o", "idempotency_key": "k", "channel": "crm", "customer_id": "C1",
            "ship_to": {"ship_to_id": {"string": "ST1"}},
            "requested_ship_date": "2026-03-05",
            "currency": "USD",
            "lines": [{"line_number": 1, "sku": "A", "quantity": 2, "unit": "CS"}]
        });
        let out = m.normalize_root(v).expect("valid");
        assert_eq!(out["channel"], "CRM");
        assert_eq!(out["metadata"]["occurred_at"], 1_772_352_000_000_i64);
        assert_eq!(out["metadata"]["causation_id"], Value::Null);
        assert_eq!(out["ship_to"]["ship_to_id"], "ST1");
        assert_eq!(out["requested_ship_date"], 20_517);
        assert_eq!(out["lines"][0]["submitted_unit_price"], Value::Null);

        let bad = json!({"metadata": {}, "lines": [{"quantity": "x"}]});
        let e = m.normalize_root(bad).expect_err("invalid");
        assert_eq!(e.path, "metadata.event_id");
        let mut v = out.clone();
        v["lines"][0]["quantity"] = json!("two");
        let e = m.normalize_root(v).expect_err("invalid");
        assert_eq!(e.path, "lines[0].quantity");
        let mut v = out.clone();
        v["lines"][0]["colour"] = json!("red");
        let e = m.normalize_root(v).expect_err("invalid");
        assert_eq!(e.path, "lines[0].colour");
        assert!(e.message.contains("unknown field"));
        let mut v = out.clone();
        v["channel"] = json!("FAX");
        let e = m.normalize_root(v).expect_err("invalid");
        assert_eq!(e.path, "channel");
        assert!(e.message.contains("HTTP, EDI"), "{}", e.message);

        // The readable form leaves nulls out, writes dates and timestamps as text, and reads
        // back to the same value.
        let readable = m.readable_root(out.clone());
        assert_eq!(readable["metadata"]["occurred_at"], "2026-03-01T08:00:00Z");
        assert_eq!(readable["requested_ship_date"], "2026-03-05");
        assert_eq!(readable["ship_to"], json!({"ship_to_id": "ST1"}));
        assert!(readable["metadata"].get("causation_id").is_none());
        assert!(readable["lines"][0].get("submitted_unit_price").is_none());
        assert_eq!(m.normalize_root(readable).expect("reads back"), out);
    }

    #[test]
    fn the_readable_form_of_a_generated_event_reads_back_to_it() {
        let m = model();
        let event = dsync_events::OrderSubmitted {
            order_id: "o".into(),
            partner_po: Some(dsync_events::PartnerPoReference {
                partner_id: "ACME".into(),
                po_number: "4500012345".into(),
                po_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 20),
                ..Default::default()
            }),
            lines: vec![dsync_events::SubmittedOrderLine {
                line_number: 1,
                gtin: Some("10061234100013".into()),
                quantity: 0.5,
                unit: "CS".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let avro = serde_json::to_value(&event).expect("serializes");
        let readable = m.readable_root(avro.clone());
        assert_eq!(readable["partner_po"]["po_date"], "2026-11-20");
        assert_eq!(readable["metadata"]["occurred_at"], "1970-01-01T00:00:00Z");
        assert!(readable["partner_po"].get("release_number").is_none());
        assert_eq!(m.normalize_root(readable).expect("reads back"), avro);
    }
}

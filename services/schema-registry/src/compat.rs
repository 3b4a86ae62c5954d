//! Compatibility levels and Avro's schema resolution rules.
//!
//! [`can_read`] decides whether data written with one schema can be read with another, following
//! the resolution rules of the Avro specification exactly as the Java implementation's
//! `SchemaCompatibility` (which Confluent Schema Registry uses) applies them:
//!
//! * same primitive types match; the promotions `int -> long, float, double`,
//!   `long -> float, double`, `float -> double` and `string <-> bytes` are allowed;
//! * logical types resolve as their underlying types;
//! * records, enums and fixed must have the same (unqualified) name, or the reader must list the
//!   writer's full name among its aliases; fixed sizes must be equal;
//! * every reader field is read from the writer field with its name (or one of its aliases) or
//!   else must have a default; writer fields the reader lacks are skipped;
//! * every writer enum symbol must exist in the reader, unless the reader declares a default;
//! * every branch of a writer union must be readable by the reader; a reader union reads a
//!   non-union writer when one of its branches can;
//! * recursive types are assumed compatible while being compared (as in Java).
//!
//! Every incompatibility found is reported, with the path where it was found.
//!
//! The apache-avro crate's own `SchemaCompatibility` is not used: it calls a writer union that
//! the reader can read only partly "partially compatible" (Confluent rejects it), it cannot see
//! named types defined in referenced schemas, and it gives no location for an incompatibility.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use apache_avro::schema::{
    DecimalSchema, EnumSchema, FixedSchema, InnerDecimalSchema, Name, RecordSchema, Schema,
    UuidSchema,
};
use serde::{Deserialize, Serialize};

use crate::avro::ParsedSchema;
use crate::RegistryError;

/// A subject's (or the global) compatibility level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    /// No check.
    None,
    /// The new schema reads data written with the latest one.
    Backward,
    /// The new schema reads data written with every earlier one.
    BackwardTransitive,
    /// The latest schema reads data written with the new one.
    Forward,
    /// Every earlier schema reads data written with the new one.
    ForwardTransitive,
    /// Backward and forward with the latest schema.
    Full,
    /// Backward and forward with every earlier schema.
    FullTransitive,
}

impl CompatibilityLevel {
    /// The name used in the REST API (`BACKWARD`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Whether the new schema is checked against every earlier version, not only the latest.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CompatibilityLevel {
    type Err = RegistryError;

    /// Case-insensitive, as Confluent accepts it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "NONE" => CompatibilityLevel::None,
            "BACKWARD" => CompatibilityLevel::Backward,
            "BACKWARD_TRANSITIVE" => CompatibilityLevel::BackwardTransitive,
            "FORWARD" => CompatibilityLevel::Forward,
            "FORWARD_TRANSITIVE" => CompatibilityLevel::ForwardTransitive,
            "FULL" => CompatibilityLevel::Full,
            "FULL_TRANSITIVE" => CompatibilityLevel::FullTransitive,
            _ => return Err(RegistryError::InvalidCompatibilityLevel(s.to_owned())),
        })
    }
}

/// One reason a reader cannot read a writer's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatibility {
    /// Confluent's / Avro's error type, e.g. `READER_FIELD_MISSING_DEFAULT_VALUE`.
    pub kind: &'static str,
    /// Where, as a path into the reader schema (`/fields/1/type`).
    pub path: String,
    /// What, in words.
    pub description: String,
    /// Detail (the field name, the missing symbols, the two types).
    pub info: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{errorType:'{}', description:'{}', additionalInfo:'{}'}}",
            self.kind, self.description, self.info
        )
    }
}

/// Checks whether data written with `writer` can be read with `reader`; an empty list means it
/// can. `reader_role` / `writer_role` ("new" / "old") only word the messages.
pub fn can_read(
    reader: &ParsedSchema,
    writer: &ParsedSchema,
    reader_role: &'static str,
    writer_role: &'static str,
) -> Vec<Incompatibility> {
    let mut c = Checker {
        rnames: reader.names(),
        wnames: writer.names(),
        in_progress: HashSet::new(),
        reader_role,
        writer_role,
        location: Vec::new(),
    };
    let mut out = Vec::new();
    c.check(&reader.root, &writer.root, &mut out);
    out
}

/// An earlier version the new schema is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Previous<'a> {
    /// Its version number.
    pub version: i32,
    /// Its text, quoted in messages.
    pub text: &'a str,
    /// It, parsed.
    pub schema: &'a ParsedSchema,
}

/// Checks `new` against the earlier versions of a subject (`previous`, latest first) under
/// `level`; `Err` carries Confluent-style messages about the first incompatible version.
pub fn check_level(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    previous: &[Previous<'_>],
) -> Result<(), Vec<String>> {
    if level == CompatibilityLevel::None {
        return Ok(());
    }
    let against = if level.transitive() {
        previous
    } else {
        &previous[..previous.len().min(1)]
    };
    for p in against {
        let mut problems = Vec::new();
        if level.backward() {
            problems.extend(can_read(new, p.schema, "new", "old"));
        }
        if level.forward() {
            problems.extend(can_read(p.schema, new, "old", "new"));
        }
        if !problems.is_empty() {
            let mut messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
            messages.push(format!("{{oldSchemaVersion: {}}}", p.version));
            messages.push(format!("{{oldSchema: '{}'}}", p.text));
            messages.push(format!(
                "{{validateFields: 'false', compatibility: '{}'}}",
                level.as_str()
            ));
            return Err(messages);
        }
    }
    Ok(())
}

/// A schema seen through resolution: logical types as their underlying types, references
/// resolved.
enum View<'a> {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(&'a Schema),
    Map(&'a Schema),
    Union(&'a [Schema]),
    Record(&'a RecordSchema),
    Enum(&'a EnumSchema),
    Fixed(&'a FixedSchema),
    /// A reference to a name nobody defines (cannot happen for parsed schemas).
    Unknown(&'a Name),
}

impl View<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            View::Null => "NULL",
            View::Boolean => "BOOLEAN",
            View::Int => "INT",
            View::Long => "LONG",
            View::Float => "FLOAT",
            View::Double => "DOUBLE",
            View::Bytes => "BYTES",
            View::String => "STRING",
            View::Array(_) => "ARRAY",
            View::Map(_) => "MAP",
            View::Union(_) => "UNION",
            View::Record(_) => "RECORD",
            View::Enum(_) => "ENUM",
            View::Fixed(_) => "FIXED",
            View::Unknown(_) => "UNKNOWN",
        }
    }
}

fn view<'a>(s: &'a Schema, names: &HashMap<Name, &'a Schema>) -> View<'a> {
    match s {
        Schema::Null => View::Null,
        Schema::Boolean => View::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => View::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => View::Long,
        Schema::Float => View::Float,
        Schema::Double => View::Double,
        Schema::Bytes
        | Schema::BigDecimal
        | Schema::Uuid(UuidSchema::Bytes)
        | Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Bytes,
            ..
        }) => View::Bytes,
        Schema::String | Schema::Uuid(UuidSchema::String) => View::String,
        Schema::Array(a) => View::Array(&a.items),
        Schema::Map(m) => View::Map(&m.types),
        Schema::Union(u) => View::Union(u.variants()),
        Schema::Record(r) => View::Record(r),
        Schema::Enum(e) => View::Enum(e),
        Schema::Fixed(f)
        | Schema::Duration(f)
        | Schema::Uuid(UuidSchema::Fixed(f))
        | Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Fixed(f),
            ..
        }) => View::Fixed(f),
        Schema::Ref { name } => match names.get(name) {
            Some(target) if !matches!(target, Schema::Ref { .. }) => view(target, names),
            _ => View::Unknown(name),
        },
    }
}

struct Checker<'a> {
    rnames: HashMap<Name, &'a Schema>,
    wnames: HashMap<Name, &'a Schema>,
    /// Named pairs being compared (recursion guard).
    in_progress: HashSet<(String, String)>,
    reader_role: &'static str,
    writer_role: &'static str,
    location: Vec<String>,
}

impl<'a> Checker<'a> {
    fn path(&self) -> String {
        format!("/{}", self.location.join("/"))
    }

    fn push(&mut self, out: &mut Vec<Incompatibility>, kind: &'static str, info: String) {
        let path = self.path();
        let (r, w) = (self.reader_role, self.writer_role);
        let description = match kind {
            "READER_FIELD_MISSING_DEFAULT_VALUE" => format!(
                "The field '{info}' at path '{path}' in the {r} schema has no default value and is missing in the {w} schema"
            ),
            "MISSING_UNION_BRANCH" => format!(
                "The {r} schema is missing a type inside a union field at path '{path}' in the {w} schema"
            ),
            "MISSING_ENUM_SYMBOLS" => format!(
                "The {r} schema is missing enum symbols '{info}' at path '{path}' in the {w} schema"
            ),
            "NAME_MISMATCH" => format!("The name of the schema has changed (path '{path}')"),
            "FIXED_SIZE_MISMATCH" => format!(
                "The size of FIXED type field at path '{path}' in the {r} schema does not match with the {w} schema"
            ),
            _ => format!(
                "The type (path '{path}') of a field in the {r} schema does not match with the {w} schema"
            ),
        };
        out.push(Incompatibility {
            kind,
            path,
            description,
            info,
        });
    }

    /// Whether `reader` reads `writer` (no incompatibility), without reporting anything.
    fn compatible(&mut self, reader: &'a Schema, writer: &'a Schema) -> bool {
        let mut scratch = Vec::new();
        self.check(reader, writer, &mut scratch);
        scratch.is_empty()
    }

    fn check(&mut self, reader: &'a Schema, writer: &'a Schema, out: &mut Vec<Incompatibility>) {
        let r = view(reader, &self.rnames);
        let w = view(writer, &self.wnames);
        match (&r, &w) {
            (View::Unknown(n), _) | (_, View::Unknown(n)) => {
                let info = format!("unknown named type {}", n.fullname(None));
                self.push(out, "TYPE_MISMATCH", info);
            }
            // A writer union: every branch must be readable.
            (View::Union(rb), View::Union(wb)) => {
                let (rb, wb) = (*rb, *wb);
                for (i, branch) in wb.iter().enumerate() {
                    self.location.push(i.to_string());
                    if !rb.iter().any(|r| self.compatible(r, branch)) {
                        let info = format!(
                            "reader union lacking writer type: {}",
                            view(branch, &self.wnames).type_name()
                        );
                        self.push(out, "MISSING_UNION_BRANCH", info);
                    }
                    self.location.pop();
                }
            }
            (_, View::Union(wb)) => {
                for branch in *wb {
                    self.check(reader, branch, out);
                }
            }
            (View::Union(rb), _) => {
                if !rb.iter().any(|r| self.compatible(r, writer)) {
                    let info = format!("reader union lacking writer type: {}", w.type_name());
                    self.push(out, "MISSING_UNION_BRANCH", info);
                }
            }
            (View::Null, View::Null)
            | (View::Boolean, View::Boolean)
            | (View::Int, View::Int)
            | (View::Long, View::Long | View::Int)
            | (View::Float, View::Float | View::Long | View::Int)
            | (View::Double, View::Double | View::Float | View::Long | View::Int)
            | (View::Bytes, View::Bytes | View::String)
            | (View::String, View::String | View::Bytes) => {}
            (View::Array(ri), View::Array(wi)) => {
                let (ri, wi) = (*ri, *wi);
                self.location.push("items".into());
                self.check(ri, wi, out);
                self.location.pop();
            }
            (View::Map(rv), View::Map(wv)) => {
                let (rv, wv) = (*rv, *wv);
                self.location.push("values".into());
                self.check(rv, wv, out);
                self.location.pop();
            }
            (View::Fixed(rf), View::Fixed(wf)) => {
                let (rf, wf) = (*rf, *wf);
                if !names_match(&rf.name, rf.aliases.as_deref(), &wf.name) {
                    self.location.push("name".into());
                    let info = format!("expected: {}", wf.name.fullname(None));
                    self.push(out, "NAME_MISMATCH", info);
                    self.location.pop();
                }
                if rf.size != wf.size {
                    self.location.push("size".into());
                    let info = format!("expected: {}, found: {}", wf.size, rf.size);
                    self.push(out, "FIXED_SIZE_MISMATCH", info);
                    self.location.pop();
                }
            }
            (View::Enum(re), View::Enum(we)) => {
                let (re, we) = (*re, *we);
                if !names_match(&re.name, re.aliases.as_deref(), &we.name) {
                    self.location.push("name".into());
                    let info = format!("expected: {}", we.name.fullname(None));
                    self.push(out, "NAME_MISMATCH", info);
                    self.location.pop();
                }
                let has_default = re.default.as_ref().is_some_and(|d| re.symbols.contains(d));
                if !has_default {
                    let missing: Vec<&str> = we
                        .symbols
                        .iter()
                        .filter(|s| !re.symbols.contains(s))
                        .map(String::as_str)
                        .collect();
                    if !missing.is_empty() {
                        self.location.push("symbols".into());
                        let info = format!("[{}]", missing.join(", "));
                        self.push(out, "MISSING_ENUM_SYMBOLS", info);
                        self.location.pop();
                    }
                }
            }
            (View::Record(rr), View::Record(wr)) => {
                let (rr, wr) = (*rr, *wr);
                self.check_records(rr, wr, out);
            }
            _ => {
                let info = format!(
                    "reader type: {} not compatible with writer type: {}",
                    r.type_name(),
                    w.type_name()
                );
                self.push(out, "TYPE_MISMATCH", info);
            }
        }
    }

    fn check_records(
        &mut self,
        rr: &'a RecordSchema,
        wr: &'a RecordSchema,
        out: &mut Vec<Incompatibility>,
    ) {
        let key = (rr.name.fullname(None), wr.name.fullname(None));
        if self.in_progress.contains(&key) {
            return;
        }
        if !names_match(&rr.name, rr.aliases.as_deref(), &wr.name) {
            self.location.push("name".into());
            let info = format!("expected: {}", wr.name.fullname(None));
            self.push(out, "NAME_MISMATCH", info);
            self.location.pop();
        }
        self.in_progress.insert(key.clone());
        self.location.push("fields".into());
        for (i, rf) in rr.fields.iter().enumerate() {
            self.location.push(i.to_string());
            let wf = wr.fields.iter().find(|wf| wf.name == rf.name).or_else(|| {
                rf.aliases
                    .iter()
                    .find_map(|a| wr.fields.iter().find(|wf| &wf.name == a))
            });
            match wf {
                Some(wf) => {
                    self.location.push("type".into());
                    self.check(&rf.schema, &wf.schema, out);
                    self.location.pop();
                }
                None if rf.default.is_none() => {
                    self.push(out, "READER_FIELD_MISSING_DEFAULT_VALUE", rf.name.clone());
                }
                None => {}
            }
            self.location.pop();
        }
        self.location.pop();
        self.in_progress.remove(&key);
    }
}

/// Java's rule: equal unqualified names, or the reader lists the writer's full name as an alias.
fn names_match(
    reader: &Name,
    reader_aliases: Option<&[apache_avro::schema::Alias]>,
    writer: &Name,
) -> bool {
    if reader.name() == writer.name() {
        return true;
    }
    let wfull = writer.fullname(None);
    reader_aliases.is_some_and(|aliases| {
        aliases
            .iter()
            .any(|a| a.fully_qualified_name(reader.namespace()).fullname(None) == wfull)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avro::parse;

    fn p(s: &str) -> ParsedSchema {
        parse(s, &[], &[]).expect("valid schema")
    }

    fn rec(fields: &str) -> ParsedSchema {
        p(&format!(
            r#"{{"type":"record","name":"R","namespace":"t","fields":[{fields}]}}"#
        ))
    }

    fn reads(reader: &ParsedSchema, writer: &ParsedSchema) -> bool {
        can_read(reader, writer, "new", "old").is_empty()
    }

    #[test]
    fn primitives_and_promotions() {
        let types = [
            "int", "long", "float", "double", "string", "bytes", "boolean", "null",
        ];
        let ok = [
            ("long", "int"),
            ("float", "int"),
            ("float", "long"),
            ("double", "int"),
            ("double", "long"),
            ("double", "float"),
            ("string", "bytes"),
            ("bytes", "string"),
        ];
        for r in types {
            for w in types {
                let expected = r == w || ok.contains(&(r, w));
                assert_eq!(
                    reads(&p(&format!("\"{r}\"")), &p(&format!("\"{w}\""))),
                    expected,
                    "reader {r} writer {w}"
                );
            }
        }
    }

    #[test]
    fn fields_added_and_removed() {
        let v1 = rec(r#"{"name":"a","type":"int"}"#);
        let with_default =
            rec(r#"{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}"#);
        let without_default = rec(r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#);
        assert!(reads(&with_default, &v1));
        let errs = can_read(&without_default, &v1, "new", "old");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].kind, "READER_FIELD_MISSING_DEFAULT_VALUE");
        assert_eq!(errs[0].path, "/fields/1");
        assert!(
            errs[0].description.contains("'b'"),
            "{}",
            errs[0].description
        );
        // Removing a field: old readers need a default for it.
        assert!(
            reads(&v1, &without_default),
            "new reader ignores the extra writer field"
        );
        assert!(!reads(&without_default, &v1));
        assert!(reads(&with_default, &v1));
    }

    #[test]
    fn field_aliases_and_record_renames() {
        let w = rec(r#"{"name":"old_name","type":"int"}"#);
        let r = rec(r#"{"name":"new_name","aliases":["old_name"],"type":"int"}"#);
        assert!(reads(&r, &w));
        let renamed = p(
            r#"{"type":"record","name":"S","namespace":"t","fields":[{"name":"old_name","type":"int"}]}"#,
        );
        let errs = can_read(&renamed, &w, "new", "old");
        assert_eq!(errs[0].kind, "NAME_MISMATCH");
        let aliased = p(
            r#"{"type":"record","name":"S","namespace":"t","aliases":["t.R"],"fields":[{"name":"old_name","type":"int"}]}"#,
        );
        assert!(reads(&aliased, &w));
    }

    #[test]
    fn enums() {
        let e = |syms: &str, default: &str| {
            p(&format!(
                r#"{{"type":"enum","name":"E","symbols":[{syms}]{default}}}"#
            ))
        };
        let ab = e(r#""A","B""#, "");
        let abc = e(r#""A","B","C""#, "");
        assert!(reads(&abc, &ab), "symbol added: new reader reads old data");
        let errs = can_read(&ab, &abc, "new", "old");
        assert_eq!(errs[0].kind, "MISSING_ENUM_SYMBOLS");
        assert_eq!(errs[0].info, "[C]");
        let ab_default = e(r#""A","B""#, r#","default":"A""#);
        assert!(
            reads(&ab_default, &abc),
            "a reader default absorbs unknown symbols"
        );
    }

    #[test]
    fn unions() {
        let int = p(r#""int""#);
        let opt_int = p(r#"["null","int"]"#);
        let opt_long = p(r#"["null","long"]"#);
        let int_string = p(r#"["int","string"]"#);
        assert!(reads(&opt_int, &int), "reader union takes the writer type");
        assert!(!reads(&int, &opt_int), "writer null branch unreadable");
        assert!(reads(&opt_long, &opt_int), "branch-wise promotion");
        assert!(!reads(&opt_int, &opt_long));
        let errs = can_read(&int, &int_string, "new", "old");
        assert!(errs.iter().all(|e| e.kind == "TYPE_MISMATCH"), "{errs:?}");
        let errs = can_read(&opt_int, &int_string, "new", "old");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].kind, "MISSING_UNION_BRANCH");
        assert_eq!(errs[0].path, "/1");
    }

    #[test]
    fn fixed_arrays_maps_and_logical_types() {
        let f =
            |n: &str, size: u32| p(&format!(r#"{{"type":"fixed","name":"{n}","size":{size}}}"#));
        assert!(reads(&f("F", 4), &f("F", 4)));
        assert_eq!(
            can_read(&f("F", 4), &f("F", 8), "new", "old")[0].kind,
            "FIXED_SIZE_MISMATCH"
        );
        assert_eq!(
            can_read(&f("G", 4), &f("F", 4), "new", "old")[0].kind,
            "NAME_MISMATCH"
        );
        assert!(reads(
            &p(r#"{"type":"array","items":"long"}"#),
            &p(r#"{"type":"array","items":"int"}"#)
        ));
        assert!(!reads(
            &p(r#"{"type":"map","values":"int"}"#),
            &p(r#"{"type":"map","values":"long"}"#)
        ));
        assert!(reads(
            &p(r#"{"type":"long","logicalType":"timestamp-millis"}"#),
            &p(r#""long""#)
        ));
        assert!(reads(
            &p(r#""long""#),
            &p(r#"{"type":"int","logicalType":"date"}"#)
        ));
    }

    #[test]
    fn recursive_types_terminate() {
        let list = p(
            r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}"#,
        );
        let list2 = p(
            r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]},{"name":"w","type":"int","default":0}]}"#,
        );
        assert!(reads(&list2, &list));
        assert!(!reads(&list, &list2));
    }

    #[test]
    fn levels() {
        let v1 = rec(r#"{"name":"a","type":"int"}"#);
        let v2 = rec(r#"{"name":"a","type":"int"},{"name":"b","type":"int","default":0}"#);
        // v3 drops a (no default in v1/v2) and keeps b.
        let v3 = rec(r#"{"name":"b","type":"int","default":0}"#);
        let prev = |v: &[(i32, &ParsedSchema)]| -> Vec<(i32, ParsedSchema)> {
            v.iter().map(|(n, s)| (*n, (*s).clone())).collect()
        };
        let history = prev(&[(2, &v2), (1, &v1)]);
        let previous: Vec<Previous<'_>> = history
            .iter()
            .map(|(n, s)| Previous {
                version: *n,
                text: "x",
                schema: s,
            })
            .collect();
        use CompatibilityLevel as L;
        assert!(check_level(L::Backward, &v3, &previous).is_ok());
        assert!(check_level(L::BackwardTransitive, &v3, &previous).is_ok());
        assert!(
            check_level(L::Forward, &v3, &previous).is_err(),
            "v2 cannot read v3 data (a missing)"
        );
        assert!(check_level(L::None, &v3, &previous).is_ok());
        let msgs = check_level(L::Full, &v3, &previous).expect_err("not full");
        assert!(
            msgs.iter()
                .any(|m| m.contains("READER_FIELD_MISSING_DEFAULT_VALUE")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m == "{oldSchemaVersion: 2}"),
            "{msgs:?}"
        );
        assert_eq!(
            "backward_transitive".parse::<L>().ok(),
            Some(L::BackwardTransitive)
        );
        assert!("sideways".parse::<L>().is_err());
    }
}

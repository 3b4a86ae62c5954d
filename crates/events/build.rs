//! Generates the Rust types of every event from `schemas/**/*.avsc` (and the topic of each event
//! from `schemas/topics.json`) into `$OUT_DIR/events.rs`, included by `src/types.rs`, and the
//! topic catalog of `schemas/topics.json` as the `topics` module (`build/topics.rs`).
//!
//! Reads nothing but `schemas/`. The newest version of each event (`<Record>.avsc` is version 1,
//! `<Record>.vN.avsc` version N) gives its Rust type; every version is listed in `schemas::ALL`.
//! Named types used by several files (`Money`, `Address`, `EventMetadata`, enums...) are generated
//! once: the generator fails the build when two files define one name with different shapes.
//!
//! Mapping: `string` -> `compact_str::CompactString` (inline up to 24 bytes, so most ids,
//! codes and units decode without allocating), `int` -> `i32`, `long` -> `i64`, `float` -> `f32`, `double`
//! -> `f64`, `boolean` -> `bool`, `["null", T]` -> `Option<T>`, array ->
//! `Vec<T>`, map -> `BTreeMap<String, T>` (deterministic bytes), record -> struct, enum -> enum
//! (`#[default]` on the schema's default symbol), `long`/`timestamp-millis` ->
//! `chrono::DateTime<Utc>`, `int`/`date` -> `chrono::NaiveDate`. Anything else (other unions,
//! bytes, fixed, logical types inside arrays or maps) fails the build with the file and field
//! named.
//!
//! Each type gets serde derives (Avro-compatible: timestamps as epoch milliseconds, dates as
//! epoch days, so `apache-avro`'s serde works with them too) and an `AvroDatum` implementation:
//! the binary codec as straight-line code in schema order (`avro_record!` for records).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

#[path = "build/topics.rs"]
mod topics;

const NAMESPACE: &str = "com.distsync.events";

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let schemas_dir = manifest.join("../../schemas");
    let schemas_dir = schemas_dir
        .canonicalize()
        .unwrap_or_else(|e| panic!("schemas directory {}: {e}", schemas_dir.display()));
    println!("cargo:rerun-if-changed={}", schemas_dir.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("events.rs");
    let code = match generate(&schemas_dir) {
        Ok(code) => code,
        Err(e) => panic!("dsync-events code generation failed: {e}"),
    };
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

/// One schema file.
struct SchemaFile {
    /// Path relative to the repository root (`schemas/orders/OrderAccepted.avsc`).
    rel_path: String,
    abs_path: PathBuf,
    record: String,
    version: u32,
    json: Value,
}

/// A named type as generated, with the file that defined it first.
struct Generated {
    shape: String,
    code: String,
    first_file: String,
    /// Whether the type implements `Default`.
    has_default: bool,
}

struct Generator {
    /// Full name -> generated type.
    types: BTreeMap<String, Generated>,
    /// Order of first definition (for stable output).
    order: Vec<String>,
    /// Rust simple name -> full name (to detect two namespaces with one simple name).
    simple_names: BTreeMap<String, String>,
}

/// A field's Rust type and the serde adapter it needs, if any.
struct FieldType {
    rust: String,
    with: Option<&'static str>,
    /// Whether the type implements `Default`.
    has_default: bool,
}

fn generate(dir: &Path) -> Result<String, String> {
    let files = read_schema_files(dir)?;
    let catalog = topics::read(&dir.join("topics.json"))?;

    // Latest version of every event.
    let mut latest: BTreeMap<String, &SchemaFile> = BTreeMap::new();
    let mut metadata_file = None;
    for f in &files {
        if f.record == "EventMetadata" {
            metadata_file = Some(f);
            continue;
        }
        match latest.get(&f.record) {
            Some(prev) if prev.version >= f.version => {}
            _ => {
                latest.insert(f.record.clone(), f);
            }
        }
    }
    let metadata_file = metadata_file.ok_or("schemas/common/EventMetadata.avsc is missing")?;

    // Versions must have no gaps.
    let mut versions: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for f in &files {
        versions.entry(&f.record).or_default().insert(f.version);
    }
    for (record, vs) in &versions {
        let expected: BTreeSet<u32> = (1..=vs.len() as u32).collect();
        if *vs != expected {
            return Err(format!("{record}: schema versions {vs:?} have a gap"));
        }
    }

    let mut gen = Generator {
        types: BTreeMap::new(),
        order: Vec::new(),
        simple_names: BTreeMap::new(),
    };
    gen.named_type(&metadata_file.json, NAMESPACE, &metadata_file.rel_path)?;
    for f in latest.values() {
        let top = &f.json;
        if top.get("type").and_then(Value::as_str) != Some("record") {
            return Err(format!("{}: top level is not a record", f.rel_path));
        }
        let first_field = top
            .get("fields")
            .and_then(Value::as_array)
            .and_then(|fs| fs.first())
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str);
        if first_field != Some("metadata") {
            return Err(format!("{}: first field is not `metadata`", f.rel_path));
        }
        gen.named_type(top, NAMESPACE, &f.rel_path)?;
    }

    let mut code = String::new();
    code.push_str("// @generated by crates/events/build.rs from schemas/. Do not edit.\n\n");
    for full in &gen.order {
        code.push_str(&gen.types[full].code);
        code.push('\n');
    }

    // Event trait impls.
    let mut events: Vec<(&SchemaFile, String, &str)> = Vec::new();
    for f in latest.values() {
        let full = full_name_of(&f.json, NAMESPACE)?;
        let topic = catalog
            .topic_of
            .get(&f.record)
            .ok_or_else(|| format!("{}: event type not in any topic of topics.json", f.rel_path))?;
        events.push((f, full, topic));
    }
    for (f, full, topic) in &events {
        writeln!(
            code,
            "crate::impl_event!({ty}, record = {rec:?}, full_name = {full:?}, topic = {topic:?}, \
             path = {path:?}, version = {ver}, schema = include_str!({abs:?}));",
            ty = f.record,
            rec = f.record,
            path = f.rel_path,
            ver = f.version,
            abs = f.abs_path.display().to_string(),
        )
        .map_err(|e| e.to_string())?;
    }

    // AnyEvent.
    code.push_str(
        "\n/// Any event of the catalog, as decoded by [`EventCodec::decode_any`](crate::EventCodec::decode_any).\n\
         #[derive(Debug, Clone, PartialEq)]\n\
         #[allow(clippy::large_enum_variant)]\n\
         pub enum AnyEvent {\n",
    );
    for (f, full, _) in &events {
        writeln!(
            code,
            "    #[doc = {doc:?}]\n    {r}({r}),",
            doc = format!("`{full}`"),
            r = f.record
        )
        .map_err(|e| e.to_string())?;
    }
    code.push_str("}\n\n");
    let arms = |body: &str| -> String {
        events
            .iter()
            .map(|(f, _, _)| format!("            AnyEvent::{r}(e) => {body},\n", r = f.record))
            .collect()
    };
    write!(
        code,
        "impl AnyEvent {{\n\
         \x20   /// The record name, e.g. `OrderAccepted` (the `event_type` header).\n\
         \x20   pub fn record_name(&self) -> &'static str {{\n        match self {{\n{a1}        }}\n    }}\n\n\
         \x20   /// The full record name, e.g. `com.distsync.events.OrderAccepted`.\n\
         \x20   pub fn full_name(&self) -> &'static str {{\n        match self {{\n{a2}        }}\n    }}\n\n\
         \x20   /// The topic the event type travels on.\n\
         \x20   pub fn topic(&self) -> &'static str {{\n        match self {{\n{a3}        }}\n    }}\n\n\
         \x20   /// The event's metadata block.\n\
         \x20   pub fn metadata(&self) -> &EventMetadata {{\n        match self {{\n{a4}        }}\n    }}\n\n\
         \x20   /// Encodes the Avro body (no wire header) with the event type's current schema.\n\
         \x20   pub fn encode_body(&self) -> ::std::result::Result<::std::vec::Vec<u8>, crate::EventsError> {{\n        match self {{\n{a5}        }}\n    }}\n\
         }}\n\n",
        a1 = arms("crate::event::record_name_of(e)"),
        a2 = arms("crate::event::full_name_of(e)"),
        a3 = arms("crate::event::topic_of(e)"),
        a4 = arms("crate::Event::metadata(e)"),
        a5 = arms("crate::codec::encode_body(e)"),
    )
    .map_err(|e| e.to_string())?;

    for (f, _, _) in &events {
        writeln!(
            code,
            "impl ::std::convert::From<{r}> for AnyEvent {{\n    fn from(e: {r}) -> Self {{\n        AnyEvent::{r}(e)\n    }}\n}}\n",
            r = f.record
        )
        .map_err(|e| e.to_string())?;
    }

    // Dispatch by full name.
    code.push_str(
        "/// Calls `visitor.visit::<E>()` with the event type whose full record name is `full_name`;\n\
         /// `None` when no event type of the catalog has that name.\n\
         pub fn visit_event_type<V: crate::EventTypeVisitor>(full_name: &str, visitor: V) -> ::std::option::Option<V::Output> {\n\
         \x20   match full_name {\n",
    );
    for (f, full, _) in &events {
        writeln!(
            code,
            "        {full:?} => Some(visitor.visit::<{r}>()),",
            r = f.record
        )
        .map_err(|e| e.to_string())?;
    }
    code.push_str("        _ => None,\n    }\n}\n\n");

    code.push_str("/// Full record names of every event type of the catalog.\npub const EVENT_TYPES: &[&str] = &[\n");
    for (_, full, _) in &events {
        writeln!(code, "    {full:?},").map_err(|e| e.to_string())?;
    }
    code.push_str("];\n\n");

    // schemas::ALL
    code.push_str(
        "/// The schema files, for tools (registration, catalogs, compatibility checks).\n\
         pub mod schemas {\n\
         \x20   /// Every event schema file, every version: `(full record name, file content, path\n\
         \x20   /// relative to the repository root)`, by directory and record name, versions in order.\n\
         \x20   pub const ALL: &[(&str, &str, &str)] = &[\n",
    );
    for f in &files {
        if f.record == "EventMetadata" {
            continue;
        }
        let full = full_name_of(&f.json, NAMESPACE)?;
        writeln!(
            code,
            "        ({full:?}, include_str!({abs:?}), {rel:?}),",
            abs = f.abs_path.display().to_string(),
            rel = f.rel_path
        )
        .map_err(|e| e.to_string())?;
    }
    writeln!(
        code,
        "    ];\n\n    /// `schemas/common/EventMetadata.avsc`, the metadata block every event inlines.\n    pub const EVENT_METADATA: &str = include_str!({abs:?});\n}}\n",
        abs = metadata_file.abs_path.display().to_string()
    )
    .map_err(|e| e.to_string())?;

    code.push_str(&topics::generate(&catalog)?);
    Ok(code)
}

fn read_schema_files(dir: &Path) -> Result<Vec<SchemaFile>, String> {
    let mut files = Vec::new();
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for sub in subdirs {
        println!("cargo:rerun-if-changed={}", sub.display());
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&sub)
            .map_err(|e| format!("{}: {e}", sub.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("avsc"))
            .collect();
        paths.sort();
        for p in paths {
            println!("cargo:rerun-if-changed={}", p.display());
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let json: Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
            let stem = p
                .file_name()
                .and_then(|s| s.to_str())
                .and_then(|s| s.strip_suffix(".avsc"))
                .ok_or_else(|| format!("{}: bad file name", p.display()))?;
            let (record, version) = match stem.rsplit_once(".v") {
                Some((r, v)) => (
                    r.to_owned(),
                    v.parse::<u32>()
                        .map_err(|_| format!("{}: bad version suffix", p.display()))?,
                ),
                None => (stem.to_owned(), 1),
            };
            if version < 2 && stem.contains(".v") {
                return Err(format!("{}: version 1 is <Record>.avsc", p.display()));
            }
            let name = json.get("name").and_then(Value::as_str);
            if name != Some(record.as_str()) {
                return Err(format!(
                    "{}: record name {name:?} does not match the file name",
                    p.display()
                ));
            }
            let rel = p
                .strip_prefix(dir)
                .map_err(|e| e.to_string())?
                .to_str()
                .ok_or("non-UTF-8 path")?
                .replace('\\', "/");
            files.push(SchemaFile {
                rel_path: format!("schemas/{rel}"),
                abs_path: p.clone(),
                record,
                version,
                json,
            });
        }
    }
    // Versions of one record together and in order (a plain path sort puts v10 before v2).
    files.sort_by(|a, b| {
        let da = a.rel_path.rsplit_once('/').map(|x| x.0).unwrap_or("");
        let db = b.rel_path.rsplit_once('/').map(|x| x.0).unwrap_or("");
        (da, &a.record, a.version).cmp(&(db, &b.record, b.version))
    });
    Ok(files)
}

fn full_name_of(schema: &Value, enclosing_ns: &str) -> Result<String, String> {
    let name = schema
        .get("name")
        .and_then(Value::as_str)
        .ok_or("named type without name")?;
    if name.contains('.') {
        return Ok(name.to_owned());
    }
    let ns = schema
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(enclosing_ns);
    Ok(if ns.is_empty() {
        name.to_owned()
    } else {
        format!("{ns}.{name}")
    })
}

fn namespace_of(full: &str) -> &str {
    full.rsplit_once('.').map(|x| x.0).unwrap_or("")
}

fn simple_name(full: &str) -> &str {
    full.rsplit_once('.').map(|x| x.1).unwrap_or(full)
}

fn resolve_ref(name: &str, ns: &str) -> String {
    if name.contains('.') || ns.is_empty() {
        name.to_owned()
    } else {
        format!("{ns}.{name}")
    }
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

fn field_ident(name: &str, file: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(format!(
            "{file}: field name {name:?} is not a valid identifier"
        ));
    }
    Ok(if RUST_KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    })
}

/// `UPPER_SNAKE` -> `UpperSnake`; `X12_850` -> `X12850`.
fn variant_ident(symbol: &str) -> String {
    let mut out = String::new();
    for part in symbol.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

fn doc_attr(indent: &str, doc: Option<&str>) -> String {
    match doc {
        Some(d) if !d.trim().is_empty() => {
            format!("{indent}#[doc = {:?}]\n", markdown_escape(d))
        }
        _ => String::new(),
    }
}

/// Schema docs are plain text: escape what Markdown would interpret (`<Record>`, `lines[3]`).
fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Generator {
    /// Generates a named type (record or enum) and everything it defines; returns its full name.
    fn named_type(&mut self, schema: &Value, ns: &str, file: &str) -> Result<String, String> {
        let obj = schema
            .as_object()
            .ok_or_else(|| format!("{file}: named type is not an object"))?;
        let full = full_name_of(schema, ns)?;
        let own_ns = namespace_of(&full).to_owned();
        let simple = simple_name(&full).to_owned();
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
        let (shape, code, has_default) = match kind {
            "record" => self.record(obj, &full, &own_ns, &simple, file)?,
            "enum" => Self::enumeration(obj, &full, &simple, file)?,
            other => return Err(format!("{file}: {full}: unsupported named type {other:?}")),
        };
        if let Some(prev_full) = self.simple_names.get(&simple) {
            if *prev_full != full {
                return Err(format!(
                    "{file}: {full} and {prev_full} would both be the Rust type {simple}"
                ));
            }
        }
        match self.types.get(&full) {
            Some(prev) if prev.shape != shape => Err(format!(
                "{full} is defined differently in {} and {file}: a different shape needs a different name",
                prev.first_file
            )),
            Some(_) => Ok(full),
            None => {
                self.simple_names.insert(simple, full.clone());
                self.types.insert(
                    full.clone(),
                    Generated {
                        shape,
                        code,
                        first_file: file.to_owned(),
                        has_default,
                    },
                );
                self.order.push(full.clone());
                Ok(full)
            }
        }
    }

    fn record(
        &mut self,
        obj: &Map<String, Value>,
        full: &str,
        ns: &str,
        simple: &str,
        file: &str,
    ) -> Result<(String, String, bool), String> {
        let fields = obj
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{file}: {full} has no fields"))?;
        let mut shape = format!("record {full} {{");
        let mut body = String::new();
        let mut idents = Vec::new();
        let mut all_default = true;
        for f in fields {
            let fname = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{file}: {full}: field without name"))?;
            let ident = field_ident(fname, file)?;
            let ftype = f
                .get("type")
                .ok_or_else(|| format!("{file}: {full}.{fname}: no type"))?;
            let ft = self
                .field_type(ftype, ns, file, Position::Field)
                .map_err(|e| format!("{e} (field {full}.{fname})"))?;
            all_default &= ft.has_default;
            write!(shape, " {fname}: {};", ft.rust).map_err(|e| e.to_string())?;
            body.push_str(&doc_attr("    ", f.get("doc").and_then(Value::as_str)));
            if let Some(with) = ft.with {
                writeln!(body, "    #[serde(with = {with:?})]").map_err(|e| e.to_string())?;
            }
            writeln!(body, "    pub {ident}: {},", ft.rust).map_err(|e| e.to_string())?;
            idents.push(ident);
        }
        shape.push_str(" }");
        let mut code = doc_attr("", obj.get("doc").and_then(Value::as_str));
        writeln!(code, "#[doc = \"\\n\\nAvro record `{full}`.\"]").map_err(|e| e.to_string())?;
        code.push_str("#[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize");
        if all_default {
            code.push_str(", Default");
        }
        code.push_str(")]\n");
        writeln!(code, "pub struct {simple} {{\n{body}}}").map_err(|e| e.to_string())?;
        writeln!(
            code,
            "\ncrate::avro_record!({simple} {{ {} }});",
            idents.join(", ")
        )
        .map_err(|e| e.to_string())?;
        Ok((shape, code, all_default))
    }

    fn enumeration(
        obj: &Map<String, Value>,
        full: &str,
        simple: &str,
        file: &str,
    ) -> Result<(String, String, bool), String> {
        let symbols: Vec<&str> = obj
            .get("symbols")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{file}: {full} has no symbols"))?
            .iter()
            .map(|s| {
                s.as_str()
                    .ok_or_else(|| format!("{file}: {full}: symbol is not a string"))
            })
            .collect::<Result<_, _>>()?;
        let default = obj.get("default").and_then(Value::as_str);
        if let Some(d) = default {
            if !symbols.contains(&d) {
                return Err(format!("{file}: {full}: default {d:?} is not a symbol"));
            }
        }
        let variants: Vec<String> = symbols.iter().map(|s| variant_ident(s)).collect();
        let unique: BTreeSet<&String> = variants.iter().collect();
        if unique.len() != variants.len() {
            return Err(format!("{file}: {full}: symbols collide as Rust variants"));
        }
        let shape = format!("enum {full} {symbols:?} default {default:?}");
        let mut code = doc_attr("", obj.get("doc").and_then(Value::as_str));
        writeln!(code, "#[doc = \"\\n\\nAvro enum `{full}`.\"]").map_err(|e| e.to_string())?;
        code.push_str(
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize",
        );
        if default.is_some() {
            code.push_str(", Default");
        }
        code.push_str(")]\n");
        writeln!(code, "pub enum {simple} {{").map_err(|e| e.to_string())?;
        for (sym, var) in symbols.iter().zip(&variants) {
            writeln!(code, "    #[doc = \"`{sym}`\"]").map_err(|e| e.to_string())?;
            if Some(*sym) == default {
                code.push_str("    #[default]\n");
            }
            writeln!(code, "    #[serde(rename = {sym:?})]\n    {var},")
                .map_err(|e| e.to_string())?;
        }
        code.push_str("}\n\n");
        writeln!(code, "impl {simple} {{").map_err(|e| e.to_string())?;
        code.push_str(
            "    /// Every symbol, in schema order.\n    pub const ALL: &'static [Self] = &[",
        );
        for var in &variants {
            write!(code, "Self::{var}, ").map_err(|e| e.to_string())?;
        }
        code.push_str("];\n\n");
        code.push_str("    /// The Avro symbol.\n    pub fn as_str(self) -> &'static str {\n        match self {\n");
        for (sym, var) in symbols.iter().zip(&variants) {
            writeln!(code, "            Self::{var} => {sym:?},").map_err(|e| e.to_string())?;
        }
        code.push_str("        }\n    }\n\n");
        code.push_str(
            "    /// The variant of an Avro symbol, `None` for a symbol this version does not know.\n    pub fn from_symbol(symbol: &str) -> ::std::option::Option<Self> {\n        match symbol {\n",
        );
        for (sym, var) in symbols.iter().zip(&variants) {
            writeln!(code, "            {sym:?} => Some(Self::{var}),")
                .map_err(|e| e.to_string())?;
        }
        code.push_str("            _ => None,\n        }\n    }\n}\n\n");
        writeln!(
            code,
            "impl crate::datum::AvroDatum for {simple} {{\n    #[inline]\n    fn write_avro(&self, out: &mut ::std::vec::Vec<u8>) {{\n        crate::datum::write_long(out, *self as i64);\n    }}\n\n    #[inline]\n    fn read_avro(input: &mut &[u8]) -> ::std::result::Result<Self, crate::datum::DatumError> {{\n        match crate::datum::read_long(input)? {{"
        )
        .map_err(|e| e.to_string())?;
        for (i, var) in variants.iter().enumerate() {
            writeln!(code, "            {i} => Ok(Self::{var}),").map_err(|e| e.to_string())?;
        }
        code.push_str("            _ => Err(crate::datum::DatumError::Invalid(\"enum index out of range\")),\n        }\n    }\n}\n\n");
        writeln!(
            code,
            "impl ::std::fmt::Display for {simple} {{\n    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n        f.write_str(self.as_str())\n    }}\n}}"
        )
        .map_err(|e| e.to_string())?;
        Ok((shape, code, default.is_some()))
    }

    fn field_type(
        &mut self,
        t: &Value,
        ns: &str,
        file: &str,
        pos: Position,
    ) -> Result<FieldType, String> {
        let plain = |rust: &str| FieldType {
            rust: rust.to_owned(),
            with: None,
            has_default: true,
        };
        match t {
            Value::String(name) => match name.as_str() {
                "null" => Err(format!("{file}: `null` outside a union")),
                "boolean" => Ok(plain("bool")),
                "int" => Ok(plain("i32")),
                "long" => Ok(plain("i64")),
                "float" => Ok(plain("f32")),
                "double" => Ok(plain("f64")),
                "string" => Ok(plain("::compact_str::CompactString")),
                "bytes" => Err(format!("{file}: bytes is not supported yet")),
                other => {
                    let full = resolve_ref(other, ns);
                    let g = self.types.get(&full).ok_or_else(|| {
                        format!("{file}: {full} is used before it is defined in this file")
                    })?;
                    Ok(FieldType {
                        rust: simple_name(&full).to_owned(),
                        with: None,
                        has_default: g.has_default,
                    })
                }
            },
            Value::Array(branches) => {
                if pos != Position::Field {
                    return Err(format!("{file}: union inside a union, array or map"));
                }
                let null_first = branches.len() == 2 && branches[0] == Value::String("null".into());
                if !null_first {
                    return Err(format!(
                        "{file}: only [\"null\", T] unions are supported, found {t}"
                    ));
                }
                let inner = self.field_type(&branches[1], ns, file, Position::Optional)?;
                Ok(FieldType {
                    rust: format!("::std::option::Option<{}>", inner.rust),
                    with: inner.with,
                    has_default: true,
                })
            }
            Value::Object(obj) => {
                let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
                let logical = obj.get("logicalType").and_then(Value::as_str);
                match (ty, logical) {
                    ("long", Some("timestamp-millis")) => Ok(FieldType {
                        rust: "::chrono::DateTime<::chrono::Utc>".into(),
                        with: Some(match pos {
                            Position::Field => "::chrono::serde::ts_milliseconds",
                            Position::Optional => "::chrono::serde::ts_milliseconds_option",
                            Position::Nested => {
                                return Err(format!(
                                    "{file}: timestamp-millis inside an array or map"
                                ))
                            }
                        }),
                        has_default: true,
                    }),
                    ("int", Some("date")) => Ok(FieldType {
                        rust: "::chrono::NaiveDate".into(),
                        with: Some(match pos {
                            Position::Field => "crate::serde_util::date",
                            Position::Optional => "crate::serde_util::date_option",
                            Position::Nested => {
                                return Err(format!("{file}: date inside an array or map"))
                            }
                        }),
                        has_default: true,
                    }),
                    ("record" | "enum", _) => {
                        let full = self.named_type(t, ns, file)?;
                        let has_default = self.types[&full].has_default;
                        Ok(FieldType {
                            rust: simple_name(&full).to_owned(),
                            with: None,
                            has_default,
                        })
                    }
                    ("array", _) => {
                        let items = obj
                            .get("items")
                            .ok_or_else(|| format!("{file}: array without items"))?;
                        let inner = self.field_type(items, ns, file, Position::Nested)?;
                        Ok(FieldType {
                            rust: format!("::std::vec::Vec<{}>", inner.rust),
                            with: None,
                            has_default: true,
                        })
                    }
                    ("map", _) => {
                        let values = obj
                            .get("values")
                            .ok_or_else(|| format!("{file}: map without values"))?;
                        let inner = self.field_type(values, ns, file, Position::Nested)?;
                        Ok(FieldType {
                            rust: format!(
                                "::std::collections::BTreeMap<::std::string::String, {}>",
                                inner.rust
                            ),
                            with: None,
                            has_default: true,
                        })
                    }
                    ("fixed", _) => Err(format!("{file}: fixed is not supported")),
                    // Primitive written as an object; unknown logical types are ignored (spec).
                    (prim, _) => self.field_type(&Value::String(prim.to_owned()), ns, file, pos),
                }
            }
            other => Err(format!("{file}: unexpected type {other}")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// A field's type.
    Field,
    /// The `T` of a `["null", T]` field.
    Optional,
    /// Items of an array or values of a map.
    Nested,
}

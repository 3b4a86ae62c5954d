//! Avro schema handling: parsing a schema together with the schemas it references, its identity
//! (what "the same schema" means for ids and versions), and the named types it can refer to.

use std::collections::HashMap;

use apache_avro::schema::{
    DecimalSchema, InnerDecimalSchema, Name, RecordSchema, Schema, UuidSchema,
};
use serde::{Deserialize, Serialize};

/// A reference from a schema to a named type registered under another subject and version
/// (`name` is the fully qualified Avro name the schema uses).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reference {
    /// The fully qualified name of the referenced type.
    pub name: String,
    /// The subject it is registered under.
    pub subject: String,
    /// Its version there.
    pub version: i32,
}

/// A parsed schema with the parsed schemas it references (transitively, dependencies first).
#[derive(Debug, Clone)]
pub struct ParsedSchema {
    /// The schema itself.
    pub root: Schema,
    /// Referenced schemas, dependencies first.
    pub deps: Vec<Schema>,
    /// The identity of the schema: two registrations are "the same schema" exactly when their
    /// identities are equal (see [`identity`]).
    pub identity: String,
}

/// Parses `text` given the texts of the schemas it references (transitively, dependencies
/// first). The error is the parser's message.
pub fn parse(
    text: &str,
    dep_texts: &[String],
    references: &[Reference],
) -> Result<ParsedSchema, String> {
    let (root, deps) = if dep_texts.is_empty() {
        (
            Schema::parse_str(text).map_err(|e| e.to_string())?,
            Vec::new(),
        )
    } else {
        Schema::parse_str_with_list(text, dep_texts).map_err(|e| e.to_string())?
    };
    // Every reference must name a type its schema actually defines.
    if !references.is_empty() {
        let mut defined = HashMap::new();
        for d in &deps {
            collect_names(d, &mut defined);
        }
        for r in references {
            let wanted = Name::new(&r.name).map_err(|e| e.to_string())?;
            if !defined.contains_key(&wanted) {
                return Err(format!(
                    "reference {:?} (subject {:?} version {}) does not define a type named {:?}",
                    r.name, r.subject, r.version, r.name
                ));
            }
        }
    }
    let identity = identity(&root, references).map_err(|e| e.to_string())?;
    Ok(ParsedSchema {
        root,
        deps,
        identity,
    })
}

/// The identity of a schema: its full normalized JSON form (the parsed schema written back out:
/// whitespace, attribute order, `"int"` vs `{"type":"int"}` and short vs. full names no longer
/// matter) plus its references.
///
/// This is what Confluent does by default (the schema as Avro's Java `Schema.toString()` writes
/// it). Parsing Canonical Form would not do: it strips `default`, `doc`, `aliases`,
/// `logicalType` and `order`, so two schemas differing only in a field's default (which changes
/// how readers resolve data, and so compatibility) would share an id and the second would be
/// answered with the first one's text.
pub fn identity(root: &Schema, references: &[Reference]) -> Result<String, serde_json::Error> {
    let mut refs = references.to_vec();
    refs.sort();
    let full = serde_json::to_string(root)?;
    if refs.is_empty() {
        Ok(full)
    } else {
        Ok(format!("{full}|refs={}", serde_json::to_string(&refs)?))
    }
}

/// Every named type defined in `schema` (records, enums, fixed, and logical types over fixed),
/// by full name.
pub fn collect_names<'a>(schema: &'a Schema, out: &mut HashMap<Name, &'a Schema>) {
    match schema {
        Schema::Record(RecordSchema { name, fields, .. }) => {
            let first_time = out.insert(name.clone(), schema).is_none();
            for f in fields.iter().filter(|_| first_time) {
                collect_names(&f.schema, out);
            }
        }
        Schema::Enum(e) => {
            out.insert(e.name.clone(), schema);
        }
        Schema::Fixed(f) | Schema::Duration(f) => {
            out.insert(f.name.clone(), schema);
        }
        Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Fixed(f),
            ..
        })
        | Schema::Uuid(UuidSchema::Fixed(f)) => {
            out.insert(f.name.clone(), schema);
        }
        Schema::Array(a) => collect_names(&a.items, out),
        Schema::Map(m) => collect_names(&m.types, out),
        Schema::Union(u) => {
            for v in u.variants() {
                collect_names(v, out);
            }
        }
        _ => {}
    }
}

impl ParsedSchema {
    /// The named types this schema can refer to: its own and its references'.
    pub fn names(&self) -> HashMap<Name, &Schema> {
        let mut out = HashMap::new();
        for d in &self.deps {
            collect_names(d, &mut out);
        }
        collect_names(&self.root, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_ignores_layout_but_not_defaults() {
        let a = parse(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#,
            &[],
            &[],
        )
        .expect("a");
        let b = parse(
            r#"{ "fields" : [ { "type" : {"type":"int"}, "name" : "a" } ], "name":"R", "type":"record" }"#,
            &[],
            &[],
        )
        .expect("b");
        assert_eq!(a.identity, b.identity);
        let c = parse(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1}]}"#,
            &[],
            &[],
        )
        .expect("c");
        assert_ne!(a.identity, c.identity);
        assert_eq!(
            a.root.canonical_form(),
            c.root.canonical_form(),
            "the parsing canonical form would have merged them"
        );
    }

    #[test]
    fn references_resolve_and_must_define_the_name() {
        let dep = r#"{"type":"record","name":"Money","namespace":"x","fields":[{"name":"cents","type":"long"}]}"#.to_owned();
        let refs = vec![Reference {
            name: "x.Money".into(),
            subject: "money".into(),
            version: 1,
        }];
        let p = parse(
            r#"{"type":"record","name":"Order","namespace":"x","fields":[{"name":"total","type":"Money"}]}"#,
            std::slice::from_ref(&dep),
            &refs,
        )
        .expect("parses with the reference");
        assert!(p.names().contains_key(&Name::new("x.Money").expect("name")));
        let err = parse(
            r#"{"type":"record","name":"Order","fields":[{"name":"total","type":"x.Other"}]}"#,
            &[dep],
            &refs,
        )
        .expect_err("unknown type");
        assert!(!err.is_empty());
    }
}

//! The registry's state and the deterministic state machine that builds it from the log.
//!
//! [`State::apply`] is a pure function of the state and the operation: every instance applies
//! the same operations in the same (log) order and so reaches the same state, assigning the same
//! ids and versions and accepting or rejecting the same registrations.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::avro::{self, ParsedSchema, Reference};
use crate::compat::{self, CompatibilityLevel, Previous};
use crate::log::{Op, VersionRef};
use crate::RegistryError;

/// A schema known to the registry under an id. Never forgotten: an id always denotes the same
/// schema, and registering that schema again (even after it was hard-deleted everywhere) gives
/// back the same id.
#[derive(Debug)]
pub struct StoredSchema {
    /// Its global id.
    pub id: i32,
    /// Its text as first registered.
    pub text: String,
    /// Its references.
    pub references: Vec<Reference>,
    /// It, parsed.
    pub parsed: ParsedSchema,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct VersionEntry {
    id: i32,
    deleted: bool,
}

#[derive(Debug, Default)]
struct Subject {
    versions: BTreeMap<i32, VersionEntry>,
    level: Option<CompatibilityLevel>,
}

impl Subject {
    fn live(&self) -> impl DoubleEndedIterator<Item = (i32, VersionEntry)> + '_ {
        self.versions
            .iter()
            .filter(|(_, v)| !v.deleted)
            .map(|(n, v)| (*n, *v))
    }

    fn has_live(&self) -> bool {
        self.versions.values().any(|v| !v.deleted)
    }
}

/// One version of a subject, as the API shows it.
#[derive(Debug, Clone)]
pub struct VersionView {
    /// Subject.
    pub subject: String,
    /// Version.
    pub version: i32,
    /// Schema id.
    pub id: i32,
    /// The schema.
    pub schema: Arc<StoredSchema>,
}

/// What an applied operation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutput {
    /// The schema's id and version under the subject.
    Registered {
        /// Id.
        id: i32,
        /// Version.
        version: i32,
    },
    /// The versions a subject delete removed.
    Versions(Vec<i32>),
    /// The version a version delete removed.
    Version(i32),
    /// The level now set.
    Config(CompatibilityLevel),
    /// The level that was removed.
    ConfigDeleted(CompatibilityLevel),
}

/// The whole registry, in memory.
#[derive(Debug)]
pub struct State {
    default_level: CompatibilityLevel,
    global: Option<CompatibilityLevel>,
    subjects: BTreeMap<String, Subject>,
    schemas: BTreeMap<i32, Arc<StoredSchema>>,
    by_identity: HashMap<String, i32>,
    /// The subject-versions (soft-deleted included, hard-deleted not) using each id; an id
    /// without any is not served.
    usages: BTreeMap<i32, BTreeSet<(String, i32)>>,
    max_id: i32,
}

impl State {
    /// An empty registry whose global level, until one is set, is `default_level`.
    pub fn new(default_level: CompatibilityLevel) -> Self {
        Self {
            default_level,
            global: None,
            subjects: BTreeMap::new(),
            schemas: BTreeMap::new(),
            by_identity: HashMap::new(),
            usages: BTreeMap::new(),
            max_id: 0,
        }
    }

    /// Applies one operation of the log. Deterministic: depends only on `self` and `op`.
    pub fn apply(&mut self, op: &Op) -> Result<OpOutput, RegistryError> {
        match op {
            Op::Register {
                subject,
                schema,
                schema_type,
                references,
            } => self.register(subject, schema, schema_type, references),
            Op::DeleteSubject { subject, permanent } => self.delete_subject(subject, *permanent),
            Op::DeleteVersion {
                subject,
                version,
                permanent,
            } => self.delete_version(subject, *version, *permanent),
            Op::SetConfig {
                subject,
                compatibility_level,
            } => {
                match subject {
                    None => self.global = Some(*compatibility_level),
                    Some(s) => {
                        self.subjects.entry(s.clone()).or_default().level =
                            Some(*compatibility_level)
                    }
                }
                Ok(OpOutput::Config(*compatibility_level))
            }
            Op::DeleteConfig { subject } => match subject {
                None => {
                    let previous = self.global_level();
                    self.global = None;
                    Ok(OpOutput::ConfigDeleted(previous))
                }
                Some(s) => {
                    let Some(entry) = self.subjects.get_mut(s) else {
                        return Err(RegistryError::SubjectNotFound(s.clone()));
                    };
                    let Some(previous) = entry.level.take() else {
                        return Err(RegistryError::SubjectCompatibilityNotConfigured(s.clone()));
                    };
                    if entry.versions.is_empty() {
                        self.subjects.remove(s);
                    }
                    Ok(OpOutput::ConfigDeleted(previous))
                }
            },
        }
    }

    fn register(
        &mut self,
        subject: &str,
        text: &str,
        schema_type: &str,
        references: &[Reference],
    ) -> Result<OpOutput, RegistryError> {
        check_schema_type(schema_type)?;
        let parsed = self.parse_candidate(text, references)?;
        if let Some(found) = self.find_in_subject(subject, &parsed.identity, false) {
            return Ok(OpOutput::Registered {
                id: found.id,
                version: found.version,
            });
        }
        self.check_compatible(subject, &parsed)
            .map_err(|messages| incompatible(subject, &messages))?;
        let id = match self.by_identity.get(&parsed.identity) {
            Some(id) => *id,
            None => {
                let id = self.max_id.checked_add(1).ok_or_else(|| {
                    RegistryError::Store("schema ids are exhausted (2^31-1 reached)".into())
                })?;
                self.max_id = id;
                self.by_identity.insert(parsed.identity.clone(), id);
                self.schemas.insert(
                    id,
                    Arc::new(StoredSchema {
                        id,
                        text: text.to_owned(),
                        references: references.to_vec(),
                        parsed,
                    }),
                );
                id
            }
        };
        let entry = self.subjects.entry(subject.to_owned()).or_default();
        let version = entry.versions.keys().next_back().map_or(1, |v| v + 1);
        entry
            .versions
            .insert(version, VersionEntry { id, deleted: false });
        self.usages
            .entry(id)
            .or_default()
            .insert((subject.to_owned(), version));
        Ok(OpOutput::Registered { id, version })
    }

    fn delete_subject(
        &mut self,
        subject: &str,
        permanent: bool,
    ) -> Result<OpOutput, RegistryError> {
        let Some(entry) = self
            .subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty())
        else {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        };
        let targets: Vec<i32> = if permanent {
            if entry.has_live() {
                return Err(RegistryError::SubjectNotSoftDeleted(subject.to_owned()));
            }
            entry.versions.keys().copied().collect()
        } else {
            let live: Vec<i32> = entry.live().map(|(n, _)| n).collect();
            if live.is_empty() {
                return Err(RegistryError::SubjectSoftDeleted(subject.to_owned()));
            }
            live
        };
        for v in &targets {
            self.refuse_if_referenced(subject, *v)?;
        }
        let Some(entry) = self.subjects.get_mut(subject) else {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        };
        entry.level = None;
        for v in &targets {
            if permanent {
                if let Some(e) = entry.versions.remove(v) {
                    remove_usage(&mut self.usages, e.id, subject, *v);
                }
            } else if let Some(e) = entry.versions.get_mut(v) {
                e.deleted = true;
            }
        }
        if entry.versions.is_empty() {
            self.subjects.remove(subject);
        }
        Ok(OpOutput::Versions(targets))
    }

    fn delete_version(
        &mut self,
        subject: &str,
        version: VersionRef,
        permanent: bool,
    ) -> Result<OpOutput, RegistryError> {
        let Some(entry) = self
            .subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty())
        else {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        };
        let n = match version {
            VersionRef::Number(n) => n,
            VersionRef::Latest(_) if permanent => *entry.versions.keys().next_back().unwrap_or(&0),
            VersionRef::Latest(_) => match entry.live().next_back() {
                Some((n, _)) => n,
                None => return Err(RegistryError::SubjectNotFound(subject.to_owned())),
            },
        };
        let Some(found) = entry.versions.get(&n).copied() else {
            return Err(RegistryError::VersionNotFound(n.to_string()));
        };
        match (permanent, found.deleted) {
            (false, true) => {
                return Err(RegistryError::VersionSoftDeleted {
                    subject: subject.to_owned(),
                    version: n,
                })
            }
            (true, false) => {
                return Err(RegistryError::VersionNotSoftDeleted {
                    subject: subject.to_owned(),
                    version: n,
                })
            }
            _ => {}
        }
        self.refuse_if_referenced(subject, n)?;
        let Some(entry) = self.subjects.get_mut(subject) else {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        };
        if permanent {
            entry.versions.remove(&n);
            remove_usage(&mut self.usages, found.id, subject, n);
            if entry.versions.is_empty() && entry.level.is_none() {
                self.subjects.remove(subject);
            }
        } else if let Some(e) = entry.versions.get_mut(&n) {
            e.deleted = true;
        }
        Ok(OpOutput::Version(n))
    }

    fn refuse_if_referenced(&self, subject: &str, version: i32) -> Result<(), RegistryError> {
        if self.referrers(subject, version).is_empty() {
            Ok(())
        } else {
            Err(RegistryError::ReferenceExists {
                subject: subject.to_owned(),
                version,
            })
        }
    }

    /// Ids of the schemas (registered and not hard-deleted) that reference `subject`/`version`.
    pub fn referrers(&self, subject: &str, version: i32) -> Vec<i32> {
        self.usages
            .keys()
            .filter_map(|id| self.schemas.get(id))
            .filter(|s| {
                s.references
                    .iter()
                    .any(|r| r.subject == subject && r.version == version)
            })
            .map(|s| s.id)
            .collect()
    }

    /// The texts of the schemas `references` point to, transitively, dependencies first.
    fn dependency_texts(&self, references: &[Reference]) -> Result<Vec<String>, RegistryError> {
        fn walk(
            state: &State,
            references: &[Reference],
            seen: &mut BTreeSet<i32>,
            out: &mut Vec<String>,
            depth: usize,
        ) -> Result<(), RegistryError> {
            if depth > 64 {
                return Err(RegistryError::InvalidSchema(
                    "references nest deeper than 64 levels".into(),
                ));
            }
            for r in references {
                let target = state
                    .subjects
                    .get(&r.subject)
                    .and_then(|s| s.versions.get(&r.version))
                    .and_then(|v| state.schemas.get(&v.id))
                    .ok_or_else(|| {
                        RegistryError::InvalidSchema(format!(
                            "reference {:?} points to subject {:?} version {}, which does not exist",
                            r.name, r.subject, r.version
                        ))
                    })?;
                if seen.insert(target.id) {
                    walk(state, &target.references, seen, out, depth + 1)?;
                    out.push(target.text.clone());
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        walk(self, references, &mut BTreeSet::new(), &mut out, 0)?;
        Ok(out)
    }

    /// Parses a schema submitted with `references`, resolving them against this state.
    pub fn parse_candidate(
        &self,
        text: &str,
        references: &[Reference],
    ) -> Result<ParsedSchema, RegistryError> {
        for r in references {
            if r.version < 1 || r.name.is_empty() || r.subject.is_empty() {
                return Err(RegistryError::InvalidSchema(format!(
                    "invalid reference {r:?}: name, subject and a version >= 1 are required"
                )));
            }
        }
        let deps = self.dependency_texts(references)?;
        avro::parse(text, &deps, references).map_err(RegistryError::InvalidSchema)
    }

    /// The level that applies to `subject`: its own, else the global one.
    pub fn effective_level(&self, subject: &str) -> CompatibilityLevel {
        self.subject_level(subject)
            .unwrap_or_else(|| self.global_level())
    }

    /// The subject's own level, if set.
    pub fn subject_level(&self, subject: &str) -> Option<CompatibilityLevel> {
        self.subjects.get(subject).and_then(|s| s.level)
    }

    /// The global level.
    pub fn global_level(&self) -> CompatibilityLevel {
        self.global.unwrap_or(self.default_level)
    }

    /// The subject's versions that are not deleted, latest first, with their schemas.
    fn previous(&self, subject: &str) -> Vec<(i32, Arc<StoredSchema>)> {
        self.subjects
            .get(subject)
            .map(|s| {
                s.live()
                    .rev()
                    .filter_map(|(n, v)| self.schemas.get(&v.id).map(|x| (n, Arc::clone(x))))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Checks `candidate` against the subject's versions under its level.
    pub fn check_compatible(
        &self,
        subject: &str,
        candidate: &ParsedSchema,
    ) -> Result<(), Vec<String>> {
        let previous = self.previous(subject);
        check_against(self.effective_level(subject), candidate, &previous)
    }

    /// Checks `candidate` against one version of the subject under its level (the compatibility
    /// test endpoint).
    pub fn check_compatible_with_version(
        &self,
        subject: &str,
        version: VersionRef,
        candidate: &ParsedSchema,
    ) -> Result<Result<(), Vec<String>>, RegistryError> {
        let v = self.version(subject, version, false)?;
        let level = self.effective_level(subject);
        Ok(check_against(level, candidate, &[(v.version, v.schema)]))
    }

    /// The version of `subject` holding a schema with this identity (latest first).
    pub fn find_in_subject(
        &self,
        subject: &str,
        identity: &str,
        include_deleted: bool,
    ) -> Option<VersionView> {
        let s = self.subjects.get(subject)?;
        s.versions
            .iter()
            .rev()
            .filter(|(_, v)| include_deleted || !v.deleted)
            .find_map(|(n, v)| {
                let schema = self.schemas.get(&v.id)?;
                (schema.parsed.identity == identity).then(|| VersionView {
                    subject: subject.to_owned(),
                    version: *n,
                    id: v.id,
                    schema: Arc::clone(schema),
                })
            })
    }

    /// `POST /subjects/{s}`: the version of the subject holding this schema.
    pub fn lookup(
        &self,
        subject: &str,
        candidate: &ParsedSchema,
        include_deleted: bool,
    ) -> Result<VersionView, RegistryError> {
        self.require_subject(subject, include_deleted)?;
        self.find_in_subject(subject, &candidate.identity, include_deleted)
            .ok_or(RegistryError::SchemaNotFound(None))
    }

    fn require_subject(
        &self,
        subject: &str,
        include_deleted: bool,
    ) -> Result<&Subject, RegistryError> {
        self.subjects
            .get(subject)
            .filter(|s| {
                if include_deleted {
                    !s.versions.is_empty()
                } else {
                    s.has_live()
                }
            })
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_owned()))
    }

    /// Subject names, sorted: those with a version not deleted (`deleted`: also those whose
    /// versions are all soft-deleted; `deleted_only`: only those).
    pub fn subjects(&self, deleted: bool, deleted_only: bool, prefix: &str) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(name, s)| {
                if s.versions.is_empty() || !name.starts_with(prefix) {
                    return false;
                }
                let live = s.has_live();
                if deleted_only {
                    !live
                } else {
                    deleted || live
                }
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// A subject's version numbers.
    pub fn versions(
        &self,
        subject: &str,
        deleted: bool,
        deleted_only: bool,
    ) -> Result<Vec<i32>, RegistryError> {
        let s = self.require_subject(subject, deleted || deleted_only)?;
        Ok(s.versions
            .iter()
            .filter(|(_, v)| {
                if deleted_only {
                    v.deleted
                } else {
                    deleted || !v.deleted
                }
            })
            .map(|(n, _)| *n)
            .collect())
    }

    /// One version of a subject.
    pub fn version(
        &self,
        subject: &str,
        version: VersionRef,
        include_deleted: bool,
    ) -> Result<VersionView, RegistryError> {
        let s = self.require_subject(subject, include_deleted)?;
        let visible = |v: &VersionEntry| include_deleted || !v.deleted;
        let (n, entry) = match version {
            VersionRef::Latest(_) => s
                .versions
                .iter()
                .rev()
                .find(|(_, v)| visible(v))
                .map(|(n, v)| (*n, *v))
                .ok_or_else(|| RegistryError::VersionNotFound("latest".into()))?,
            VersionRef::Number(n) => s
                .versions
                .get(&n)
                .filter(|v| visible(v))
                .map(|v| (n, *v))
                .ok_or_else(|| RegistryError::VersionNotFound(n.to_string()))?,
        };
        let schema = self
            .schemas
            .get(&entry.id)
            .ok_or(RegistryError::SchemaNotFound(Some(entry.id.into())))?;
        Ok(VersionView {
            subject: subject.to_owned(),
            version: n,
            id: entry.id,
            schema: Arc::clone(schema),
        })
    }

    /// A schema by id, if some subject-version (soft-deleted ones included) still uses it.
    pub fn schema_by_id(&self, id: i64) -> Result<Arc<StoredSchema>, RegistryError> {
        i32::try_from(id)
            .ok()
            .filter(|id| self.usages.contains_key(id))
            .and_then(|id| self.schemas.get(&id))
            .cloned()
            .ok_or(RegistryError::SchemaNotFound(Some(id)))
    }

    /// The subject-versions using schema `id` (soft-deleted ones only when `deleted`).
    pub fn id_usages(&self, id: i64, deleted: bool) -> Result<Vec<(String, i32)>, RegistryError> {
        let schema = self.schema_by_id(id)?;
        Ok(self
            .usages
            .get(&schema.id)
            .into_iter()
            .flatten()
            .filter(|(s, v)| {
                deleted
                    || self
                        .subjects
                        .get(s)
                        .and_then(|x| x.versions.get(v))
                        .is_some_and(|e| !e.deleted)
            })
            .cloned()
            .collect())
    }

    /// The highest id assigned so far.
    pub fn max_id(&self) -> i32 {
        self.max_id
    }

    /// Number of ids in use and of subjects with a live version (for gauges).
    pub fn counts(&self) -> (usize, usize) {
        (
            self.usages.len(),
            self.subjects.values().filter(|s| s.has_live()).count(),
        )
    }
}

fn check_against(
    level: CompatibilityLevel,
    candidate: &ParsedSchema,
    previous: &[(i32, Arc<StoredSchema>)],
) -> Result<(), Vec<String>> {
    let previous: Vec<Previous<'_>> = previous
        .iter()
        .map(|(n, s)| Previous {
            version: *n,
            text: &s.text,
            schema: &s.parsed,
        })
        .collect();
    compat::check_level(level, candidate, &previous)
}

/// The 409 for a schema that breaks the subject's level, with the checker's messages.
pub fn incompatible(subject: &str, messages: &[String]) -> RegistryError {
    RegistryError::Incompatible(format!(
        "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
        messages.join(", ")
    ))
}

/// Only Avro is supported (absent means Avro, as in Confluent).
pub fn check_schema_type(schema_type: &str) -> Result<(), RegistryError> {
    if schema_type.eq_ignore_ascii_case("AVRO") {
        Ok(())
    } else {
        Err(RegistryError::UnsupportedSchemaType(schema_type.to_owned()))
    }
}

fn remove_usage(
    usages: &mut BTreeMap<i32, BTreeSet<(String, i32)>>,
    id: i32,
    subject: &str,
    version: i32,
) {
    if let Some(set) = usages.get_mut(&id) {
        set.remove(&(subject.to_owned(), version));
        if set.is_empty() {
            usages.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(subject: &str, schema: &str) -> Op {
        Op::Register {
            subject: subject.into(),
            schema: schema.into(),
            schema_type: "AVRO".into(),
            references: vec![],
        }
    }

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
    const V2: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int","default":0}]}"#;
    const BAD: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"int"}]}"#;

    #[test]
    fn ids_versions_and_dedupe() {
        let mut s = State::new(CompatibilityLevel::Backward);
        assert_eq!(
            s.apply(&reg("a", V1)).ok(),
            Some(OpOutput::Registered { id: 1, version: 1 })
        );
        assert_eq!(
            s.apply(&reg("a", V1)).ok(),
            Some(OpOutput::Registered { id: 1, version: 1 })
        );
        assert_eq!(
            s.apply(&reg("b", V1)).ok(),
            Some(OpOutput::Registered { id: 1, version: 1 })
        );
        assert_eq!(
            s.apply(&reg("a", V2)).ok(),
            Some(OpOutput::Registered { id: 2, version: 2 })
        );
        let err = s.apply(&reg("a", BAD)).expect_err("incompatible");
        assert_eq!(err.error_code(), 409);
        assert!(
            err.to_string()
                .contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
            "{err}"
        );
        assert_eq!(s.max_id(), 2, "a rejected schema takes no id");
    }

    #[test]
    fn hard_delete_never_reuses_ids() {
        let mut s = State::new(CompatibilityLevel::None);
        s.apply(&reg("a", V1)).expect("v1");
        s.apply(&reg("a", V2)).expect("v2");
        let hard = Op::DeleteVersion {
            subject: "a".into(),
            version: VersionRef::Number(2),
            permanent: true,
        };
        assert_eq!(s.apply(&hard).expect_err("soft first").error_code(), 40407);
        let soft = Op::DeleteVersion {
            subject: "a".into(),
            version: VersionRef::Number(2),
            permanent: false,
        };
        assert_eq!(s.apply(&soft).ok(), Some(OpOutput::Version(2)));
        assert_eq!(s.apply(&soft).expect_err("twice").error_code(), 40406);
        assert_eq!(s.apply(&hard).ok(), Some(OpOutput::Version(2)));
        assert_eq!(s.schema_by_id(2).expect_err("gone").error_code(), 40403);
        assert_eq!(
            s.apply(&reg("a", BAD)).ok(),
            Some(OpOutput::Registered { id: 3, version: 2 })
        );
        // The same schema again keeps its old id: an id always means one schema.
        assert_eq!(
            s.apply(&reg("c", V2)).ok(),
            Some(OpOutput::Registered { id: 2, version: 1 })
        );
    }
}
